"""How long Nära keeps a conversation, and what is left of it afterwards.

A conversation is deleted when the resident asks ("radera min konversation") or when nothing has
happened in it for the retention period (`NARA_CONVERSATION_RETENTION_DAYS`, default 21). What stays is
anonymous counts: per day, team, topic and whether a handover was made, how many conversations; and per
day, team and article, how many conversations were answered with it. No sender, no text, no time of day.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.store.models import ArticleCount, ContactDraft, ConversationCount, ConversationEvent, utcnow

DEFAULT_CONVERSATION_DAYS = 21
DRAFT_HOURS = 2  # a contact detail typed into a handover form that was neither sent nor cancelled
TIMEZONE = ZoneInfo("Europe/Stockholm")


def conversation_days() -> int:
    return int(os.environ.get("NARA_CONVERSATION_RETENTION_DAYS") or DEFAULT_CONVERSATION_DAYS)


@dataclass
class Summary:
    """What may be counted about one conversation."""

    day: dt.date
    team: str = ""
    topic: str = ""
    handover: bool = False
    articles: set[str] = field(default_factory=set)


def summarise(events: Iterable[dict[str, Any]]) -> Summary | None:
    """The countable facts of a conversation from its (serialised) events; None if it has none."""
    summary: Summary | None = None
    for event in events:
        if summary is None:
            moment = dt.datetime.fromtimestamp(event.get("timestamp") or 0, dt.timezone.utc)
            summary = Summary(day=moment.astimezone(TIMEZONE).date())
        kind = event.get("event")
        if kind == "slot" and event.get("value") and event.get("name") in ("team", "topic"):
            setattr(summary, event["name"], str(event["value"])[:64])
        elif kind == "bot":
            custom = (event.get("data") or {}).get("custom") or {}
            if isinstance(custom, dict):
                if custom.get("article"):
                    summary.articles.add(str(custom["article"])[:128])
                if custom.get("handover"):
                    summary.handover = True
    return summary


def _increment(s: Session, model, key: dict[str, Any]) -> None:
    row = s.scalars(select(model).filter_by(**key).with_for_update()).first()
    if row is None:
        s.add(model(**key, conversations=1))
        s.flush()
    else:
        row.conversations += 1


def count(s: Session, summary: Summary) -> None:
    _increment(
        s,
        ConversationCount,
        {"day": summary.day, "team": summary.team, "topic": summary.topic, "handover": summary.handover},
    )
    for article in sorted(summary.articles):
        _increment(s, ArticleCount, {"day": summary.day, "team": summary.team, "article": article})


def _stored_events(s: Session, sender_id: str) -> tuple[list[dict[str, Any]], int | None]:
    rows = s.execute(
        select(ConversationEvent.id, ConversationEvent.data)
        .where(ConversationEvent.sender_id == sender_id)
        .order_by(ConversationEvent.id)
    ).all()
    return [json.loads(data) for _, data in rows], (rows[-1][0] if rows else None)


def erase_conversation(s: Session, sender_id: str, unsaved: list[dict[str, Any]] | None = None) -> int:
    """Deletes every stored event of the conversation, after counting it; the number deleted.
    `unsaved` are events of the current turn that were never written. Idempotent."""
    events, last_id = _stored_events(s, sender_id)
    deleted = 0
    if last_id is not None:
        deleted = s.execute(
            delete(ConversationEvent).where(ConversationEvent.sender_id == sender_id, ConversationEvent.id <= last_id)
        ).rowcount
        if deleted != len(events):  # another process deleted it meanwhile: it has counted it
            return deleted
    summary = summarise(events + list(unsaved or []))
    if summary is not None:
        count(s, summary)
    return deleted


@dataclass
class PurgeReport:
    conversations_deleted: int = 0
    events_deleted: int = 0
    drafts_deleted: int = 0


def purge_conversations(s: Session, days: int | None = None, now: dt.datetime | None = None) -> PurgeReport:
    """Deletes conversations quiet for `days` (counting each first), events older than `days` in
    conversations still going on, and abandoned contact drafts. Idempotent; safe to run from cron."""
    days = conversation_days() if days is None else days
    now = now or utcnow()
    cutoff = (now - dt.timedelta(days=days)).timestamp()
    report = PurgeReport()
    quiet = (
        select(ConversationEvent.sender_id)
        .group_by(ConversationEvent.sender_id)
        .having(func.max(ConversationEvent.timestamp) < cutoff)
    )
    for sender_id in s.scalars(quiet).all():
        removed = erase_conversation(s, sender_id)
        report.conversations_deleted += 1 if removed else 0
        report.events_deleted += removed
    report.events_deleted += s.execute(delete(ConversationEvent).where(ConversationEvent.timestamp < cutoff)).rowcount
    report.drafts_deleted = s.execute(
        delete(ContactDraft).where(ContactDraft.created_at < now - dt.timedelta(hours=DRAFT_HOURS))
    ).rowcount
    return report
