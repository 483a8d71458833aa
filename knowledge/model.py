"""Plain data types for the knowledge base; loading and validation live in loader.py and validate.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# One slug per topic everywhere: nlu/, tests/, knowledge/ and the `topic` slot use these names.
TOPICS: tuple[str, ...] = (
    "service",
    "parenting",
    "school_absence",
    "loneliness",
    "relationships",
    "violence",
    "crime_worry",
    "crisis",
)
# `service` articles are about Nära and the area social workers themselves, not a life topic,
# so they do not set the `topic` slot.
USER_TOPICS: tuple[str, ...] = tuple(t for t in TOPICS if t != "service")


@dataclass(frozen=True)
class Source:
    title: str
    url: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"title": self.title, "url": self.url}


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    topic: str
    answer: str
    examples: tuple[str, ...]
    related: tuple[str, ...]
    sources: tuple[Source, ...]
    owner: str
    reviewed_at: dt.date

    @property
    def label(self) -> str:
        """The training label of the article's examples: intent (the topic slug) and article id."""
        return f"{self.topic}/{self.id}"

    @property
    def source(self) -> Source:
        """The source shown as "Källa" next to the answer: the first one listed."""
        return self.sources[0]


@dataclass(frozen=True)
class Line:
    id: str
    name: str
    number: str
    for_: str
    hours: str
    source: Source
    verified_at: dt.date
    chat: str | None = None


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    office: str
    lat: float
    lon: float
    drop_in: str
    sample: bool = False
    mailbox: str | None = None  # where "there is a new handover" notifications go (no personal data)


@dataclass(frozen=True)
class District:
    name: str
    lat: float
    lon: float
    team: str | None = None  # the id of the district's own team, if it has one
    aliases: tuple[str, ...] = ()
    kind: str = "district"  # or "locality" (a village or small town in the municipality)


@dataclass(frozen=True)
class Setting:
    text: str
    sample: bool = False


@dataclass(frozen=True)
class Schedule:
    """Office hours: open on `days` (1 = Monday) from `opens` to `closes`, local time."""

    days: tuple[int, ...]
    opens: dt.time
    closes: dt.time
    sample: bool = False


@dataclass(frozen=True)
class Municipality:
    name: str
    short_name: str
    timezone: str
    website: Source
    placeholders: dict[str, Setting] = field(default_factory=dict)
    office_hours: Schedule = Schedule((1, 2, 3, 4, 5), dt.time(8, 0), dt.time(16, 30), sample=True)


@dataclass(frozen=True)
class Knowledge:
    articles: dict[str, Article]
    lines: tuple[Line, ...]
    teams: dict[str, Team]
    districts: tuple[District, ...]
    outside: tuple[str, ...]
    place_phrasing: tuple[str, ...]
    municipality: Municipality

    def article(self, article_id: str) -> Article | None:
        return self.articles.get(article_id)

    def district(self, name: str) -> District | None:
        return next((d for d in self.districts if d.name == name), None)
