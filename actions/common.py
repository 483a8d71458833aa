"""What several actions share: the knowledge base, the user's team, and article replies with their source."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.messages import message
from knowledge.areas import PlaceResolver
from knowledge.hours import moment
from knowledge.loader import cached_knowledge
from knowledge.model import USER_TOPICS, Article, Knowledge, Team
from knowledge.render import NeedsTeam, marked, render

CONTACT_ARTICLE = "kontakt-och-oppettider"


def contact_button() -> dict[str, str]:
    return {"title": message("contact_button"), "payload": "/request_contact"}


def knowledge() -> Knowledge:
    """The validated knowledge base, loaded on first use (never at import time) and then kept."""
    return cached_knowledge()


def user_team(tracker: Tracker, kb: Knowledge) -> Team | None:
    team_id = tracker.get_slot("team")
    return kb.teams.get(team_id) if team_id else None


def article_button(article: Article) -> dict[str, str]:
    """A button that asks for one article by id, through its topic's retrieval intent."""
    return {"title": article.title, "payload": f'/{article.topic}{{"article": "{article.id}"}}'}


def article_payload(article: Article) -> dict[str, Any]:
    """The machine-readable part of an answer: the web page shows "Källa", statistics count articles."""
    return {
        "article": article.id,
        "title": article.title,
        "topic": article.topic,
        "source": article.source.as_dict(),
        "reviewed_at": article.reviewed_at.isoformat(),
    }


def send_article(article_id: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Answers with one article, or asks where the user lives first when the answer needs their team."""
    kb = knowledge()
    article = kb.articles[article_id]
    try:
        text = render(article.answer, knowledge=kb, team=user_team(tracker, kb))
    except NeedsTeam:
        dispatcher.utter_message(text=message("ask_place"))
        return [SlotSet("pending_article", article.id)]
    if _promises_opening_hours(article):
        text = "\n\n".join(part for part in (text, closed_now_note(kb)) if part)
    related = [kb.articles[r] for r in article.related if r in kb.articles][:2]
    buttons = [article_button(r) for r in related]
    if article.id != CONTACT_ARTICLE:
        buttons.append(contact_button())
    dispatcher.utter_message(text=text, buttons=buttons, json_message=article_payload(article))
    events: list[EventType] = [SlotSet("article", article.id), SlotSet("pending_article", None)]
    if article.topic in USER_TOPICS:
        events.append(SlotSet("topic", article.topic))
    return events


def _promises_opening_hours(article: Article) -> bool:
    if article.topic == "crisis":  # crisis articles name what is open at night themselves
        return False
    return any(p in article.answer for p in ("{team.drop_in}", "{team.office}", "{municipality.office_hours}"))


def closed_now_note(kb: Knowledge, now: dt.datetime | None = None) -> str:
    """What is open right now, for an answer that points to the team's hours: '' while the team is open."""
    current = moment(kb.municipality, now)
    if current.open_now:
        return ""
    socialjour = kb.municipality.placeholders["socialjour"]
    return message(
        "closed_now",
        when=current.reply_promise().removeprefix("nästa vardag, "),
        opens=kb.municipality.office_hours.opens.strftime("%H.%M"),
        socialjour=marked(socialjour.text, socialjour.sample),
    )


@functools.lru_cache(maxsize=1)
def place_resolver() -> PlaceResolver:
    """Built once from the cached knowledge base (as PlaceExtractor builds its own once)."""
    return PlaceResolver(knowledge())


def entity_value(tracker: Tracker, entity: str) -> str | None:
    return next(tracker.get_latest_entity_values(entity), None)
