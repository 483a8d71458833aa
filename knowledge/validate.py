"""Checks the knowledge base against the rules in knowledge/README.md; returns every problem found."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.loader import article_files, load_lines, load_municipality, read_yaml
from knowledge.model import TOPICS
from knowledge.phones import unknown_numbers

REQUIRED_FIELDS = ("id", "title", "topic", "answer", "examples", "related", "sources", "owner", "reviewed_at")
MIN_EXAMPLES = 10
MIN_WORDS, MAX_WORDS = 60, 180
MAX_REVIEW_AGE = dt.timedelta(days=365)
TEAM_PLACEHOLDERS = {"name", "office", "drop_in"}
PLACEHOLDER = re.compile(r"\{([a-z_]+)\.([a-z_]+)\}")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    # A stale review fails `nara knowledge validate` (and so CI) but does not stop a running bot.
    stale: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def word_count(text: str) -> int:
    return len(str(text).split())


def check_placeholders(text: str, municipality_keys: set[str]) -> list[str]:
    """Messages for every placeholder in `text` that the bot could not fill."""
    messages = []
    for scope, key in PLACEHOLDER.findall(text):
        known = TEAM_PLACEHOLDERS if scope == "team" else municipality_keys if scope == "municipality" else set()
        if key not in known:
            messages.append(f"unknown placeholder {{{scope}.{key}}}")
    leftover = re.sub(PLACEHOLDER, "", text)
    if "{" in leftover or "}" in leftover:
        messages.append("a brace that is not a known placeholder")
    return messages


def validate_article(
    raw: Any,
    *,
    path: Path,
    known_ids: set[str],
    allowed_numbers: set[str],
    municipality_keys: set[str],
    today: dt.date,
) -> list[Problem]:
    """Every problem with one article's mapping."""
    where = str(path)
    if not isinstance(raw, dict):
        return [Problem(where, "not a mapping of fields")]
    problems = [Problem(where, f"missing field '{f}'") for f in REQUIRED_FIELDS if raw.get(f) in (None, "", [])]
    if problems:
        return problems
    if raw["id"] != path.stem:
        problems.append(Problem(where, f"id '{raw['id']}' does not match the file name"))
    if raw["topic"] not in TOPICS:
        problems.append(Problem(where, f"unknown topic '{raw['topic']}' (known: {', '.join(TOPICS)})"))
    elif path.parent.name != raw["topic"]:
        problems.append(Problem(where, f"topic '{raw['topic']}' but the file is in articles/{path.parent.name}/"))
    for related in raw["related"]:
        if related not in known_ids:
            problems.append(Problem(where, f"unknown related id '{related}'"))
        elif related == raw["id"]:
            problems.append(Problem(where, "relates to itself"))
    examples = [str(e).strip() for e in raw["examples"]]
    if len({e.lower() for e in examples if e}) < MIN_EXAMPLES:
        problems.append(Problem(where, f"fewer than {MIN_EXAMPLES} distinct examples"))
    answer = str(raw["answer"])
    words = word_count(answer)
    if not MIN_WORDS <= words <= MAX_WORDS:
        problems.append(Problem(where, f"answer has {words} words; keep it between {MIN_WORDS} and {MAX_WORDS}"))
    for number in unknown_numbers(answer, allowed_numbers):
        problems.append(Problem(where, f"phone number '{number}' is not in lines.yml"))
    for example in examples:
        for number in unknown_numbers(example, allowed_numbers):
            problems.append(Problem(where, f"example has a phone number '{number}'"))
    for message in check_placeholders(answer, municipality_keys):
        problems.append(Problem(where, message))
    for source in raw["sources"]:
        title = source if isinstance(source, str) else (source or {}).get("title")
        url = None if isinstance(source, str) else (source or {}).get("url")
        if not title:
            problems.append(Problem(where, "a source without a title"))
        if url is not None and not str(url).startswith("https://"):
            problems.append(Problem(where, f"source url '{url}' is not https"))
    try:
        reviewed = raw["reviewed_at"]
        reviewed = reviewed if isinstance(reviewed, dt.date) else dt.date.fromisoformat(str(reviewed))
    except ValueError:
        problems.append(Problem(where, f"reviewed_at '{raw['reviewed_at']}' is not a date (YYYY-MM-DD)"))
    else:
        if reviewed > today:
            problems.append(Problem(where, f"reviewed_at {reviewed} is in the future"))
        elif today - reviewed > MAX_REVIEW_AGE:
            problems.append(
                Problem(where, f"reviewed_at {reviewed} is older than 12 months: review it again", stale=True)
            )
    return problems


def validate(root: Path, *, today: dt.date | None = None) -> list[Problem]:
    """Every problem in the knowledge base at `root`; an empty list means it is fit to answer from."""
    today = today or dt.date.today()
    problems: list[Problem] = []
    try:
        allowed = {line.number for line in load_lines(root)}
        municipality_keys = set(load_municipality(root).placeholders)
    except (OSError, KeyError, TypeError, yaml.YAMLError) as error:
        return [Problem(str(root), f"lines.yml or municipality.yml cannot be read: {error!r}")]
    files = article_files(root)
    if not files:
        return [Problem(str(root / "articles"), "no articles")]
    raws: dict[Path, Any] = {}
    for path in files:
        try:
            raws[path] = read_yaml(path)
        except yaml.YAMLError as error:
            problems.append(Problem(str(path), f"not valid YAML: {error}"))
    ids = [raw.get("id") for raw in raws.values() if isinstance(raw, dict)]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(Problem(str(root / "articles"), f"id '{duplicate}' is used twice"))
    known_ids = {i for i in ids if i}
    for path, raw in raws.items():
        problems += validate_article(
            raw,
            path=path,
            known_ids=known_ids,
            allowed_numbers=allowed,
            municipality_keys=municipality_keys,
            today=today,
        )
    return problems
