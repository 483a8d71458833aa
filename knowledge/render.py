"""Fills an article's placeholders from the user's team and the municipality settings."""

from __future__ import annotations

import os
import re

from knowledge.model import Knowledge, Team

PLACEHOLDER = re.compile(r"\{(team|municipality)\.([a-z_]+)\}")
SAMPLE_MARK = " (exempel)"


class NeedsTeam(Exception):
    """The text speaks of the user's own area team, and we do not know where the user lives yet."""


def show_sample_marks() -> bool:
    """In demo mode (the default while the data holds samples) local sample facts say "(exempel)"."""
    return os.environ.get("NARA_DEMO_MODE", "1") != "0"


def marked(text: str, sample: bool) -> str:
    """`text`, with " (exempel)" after it when it is sample data and demo mode shows marks."""
    return text + (SAMPLE_MARK if sample and show_sample_marks() else "")


def render(text: str, *, knowledge: Knowledge, team: Team | None, mark_samples: bool | None = None) -> str:
    """`text` with every placeholder filled; raises NeedsTeam when it needs a team and there is none."""
    mark = show_sample_marks() if mark_samples is None else mark_samples

    def fill(match: re.Match[str]) -> str:
        scope, key = match.groups()
        if scope == "team":
            if team is None:
                raise NeedsTeam(key)
            # The team's name is real; its office place and drop-in hours are the sample facts.
            sample = team.sample and key != "name"
            return str(getattr(team, key)) + (SAMPLE_MARK if mark and sample else "")
        setting = knowledge.municipality.placeholders[key]
        return setting.text + (SAMPLE_MARK if mark and setting.sample else "")

    return PLACEHOLDER.sub(fill, text)
