"""Reads the YAML files of knowledge/ into the types of model.py; reports, does not judge (see validate.py)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from pathlib import Path
from typing import Any

import yaml

from knowledge.model import (
    Article,
    District,
    Knowledge,
    Line,
    Municipality,
    Schedule,
    Setting,
    Source,
    Team,
)

KNOWLEDGE_DIR = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)


class KnowledgeError(Exception):
    """The knowledge base cannot be used as it is; the message lists every problem."""


def knowledge_dir() -> Path:
    """The folder to read: $NARA_KNOWLEDGE_DIR lets a municipality keep its own content elsewhere."""
    return Path(os.environ.get("NARA_KNOWLEDGE_DIR") or KNOWLEDGE_DIR)


def read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def article_files(root: Path) -> list[Path]:
    return sorted((root / "articles").glob("*/*.yml"))


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _source(raw: Any) -> Source:
    if isinstance(raw, str):
        return Source(title=raw)
    return Source(title=str(raw.get("title", "")), url=raw.get("url"))


def article_from_raw(raw: dict[str, Any]) -> Article:
    """Builds an Article from a validated mapping (validate.py checks the fields first)."""
    return Article(
        id=str(raw["id"]),
        title=str(raw["title"]).strip(),
        topic=str(raw["topic"]),
        answer=_paragraphs(raw["answer"]),
        examples=tuple(str(e).strip() for e in raw["examples"]),
        related=tuple(str(r) for r in raw.get("related") or ()),
        sources=tuple(_source(s) for s in raw["sources"]),
        owner=str(raw["owner"]),
        reviewed_at=_date(raw["reviewed_at"]),
    )


def _paragraphs(text: str) -> str:
    """Keeps paragraphs and list items ("- ...") on their own lines; folds the other line breaks."""
    paragraphs = []
    for paragraph in str(text).strip().split("\n\n"):
        lines: list[str] = []
        for line in (raw.strip() for raw in paragraph.splitlines()):
            if not line:
                continue
            if lines and not line.startswith("- "):
                lines[-1] = f"{lines[-1]} {line}"
            else:
                lines.append(line)
        if lines:
            paragraphs.append("\n".join(" ".join(line.split()) for line in lines))
    return "\n\n".join(paragraphs)


def load_areas(root: Path) -> tuple[dict[str, Team], tuple[District, ...], tuple[str, ...], tuple[str, ...]]:
    raw = read_yaml(root / "areas.yml")
    teams = {
        t["id"]: Team(
            id=t["id"],
            name=t["name"],
            office=t["office"],
            lat=float(t["lat"]),
            lon=float(t["lon"]),
            drop_in=t["drop_in"],
            sample=bool(t.get("sample", False)),
            mailbox=t.get("mailbox"),
        )
        for t in raw["teams"]
    }
    districts = tuple(
        District(
            name=d["name"],
            lat=float(d["lat"]),
            lon=float(d["lon"]),
            team=d.get("team"),
            aliases=tuple(d.get("aliases") or ()),
            kind=d.get("kind", "district"),
        )
        for d in raw["districts"]
    )
    return teams, districts, tuple(raw.get("outside") or ()), tuple(raw.get("phrasing") or ())


def load_lines(root: Path) -> tuple[Line, ...]:
    raw = read_yaml(root / "lines.yml")
    return tuple(
        Line(
            id=line["id"],
            name=line["name"],
            number=str(line["number"]),
            for_=line["for"],
            hours=line["hours"],
            chat=line.get("chat"),
            source=_source(line["source"]),
            verified_at=_date(line["verified_at"]),
        )
        for line in raw["lines"]
    )


def load_municipality(root: Path) -> Municipality:
    raw = read_yaml(root / "municipality.yml")["municipality"]
    return Municipality(
        name=raw["name"],
        short_name=raw["short_name"],
        timezone=raw["timezone"],
        website=_source(raw["website"]),
        placeholders={
            key: Setting(text=value["text"], sample=bool(value.get("sample", False)))
            for key, value in (raw.get("placeholders") or {}).items()
        },
        office_hours=_schedule(raw["office_hours_schedule"]),
    )


def _schedule(raw: dict) -> Schedule:
    days = tuple(int(d) for d in raw["days"])
    if not days or any(d not in range(1, 8) for d in days):
        raise ValueError(f"office_hours_schedule.days must be weekdays 1-7, not {raw['days']}")
    opens, closes = (dt.time.fromisoformat(str(raw[key])) for key in ("opens", "closes"))
    if opens >= closes:
        raise ValueError("office_hours_schedule: opens must be before closes")
    return Schedule(days=days, opens=opens, closes=closes, sample=bool(raw.get("sample", False)))


def load_knowledge(root: Path | None = None, *, check: bool = True) -> Knowledge:
    """Loads the whole knowledge base; with `check`, refuses one that does not validate.

    Articles overdue for review are only logged: the bot keeps answering at night while the owners
    catch up (`nara knowledge validate`, and so CI, fails on them).
    """
    root = root or knowledge_dir()
    if check:
        from knowledge.validate import validate

        problems = validate(root)
        for problem in (p for p in problems if p.stale):
            logger.warning("Knowledge base: %s", problem)
        if any(not p.stale for p in problems):
            raise KnowledgeError("\n".join(str(p) for p in problems if not p.stale))
    teams, districts, outside, phrasing = load_areas(root)
    articles = [article_from_raw(read_yaml(path)) for path in article_files(root)]
    return Knowledge(
        articles={a.id: a for a in articles},
        lines=load_lines(root),
        teams=teams,
        districts=districts,
        outside=outside,
        place_phrasing=phrasing,
        municipality=load_municipality(root),
    )


@functools.lru_cache(maxsize=4)
def cached_knowledge(root: str | None = None) -> Knowledge:
    """One validated load per process and folder: the action server and NLU components share it."""
    return load_knowledge(Path(root) if root else None)
