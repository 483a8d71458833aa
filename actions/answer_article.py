"""Answers a topic question with the curated article the response selector chose, or asks which one."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import ask_which_article
from actions.common import entity_value, knowledge, send_article

# Below this the selector is guessing between articles: ask instead of answering confidently wrong.
MIN_ARTICLE_CONFIDENCE = 0.45


def selected_article(parse_data: dict[str, Any]) -> tuple[str | None, float]:
    """(article id, confidence) of the response selector's best guess for the message."""
    selector = (parse_data.get("response_selector") or {}).get("default") or {}
    response = selector.get("response") or {}
    key = response.get("intent_response_key")
    if not key or "/" not in key:
        return None, 0.0
    return key.split("/", 1)[1], float(response.get("confidence") or 0.0)


class ActionAnswerArticle(Action):
    def name(self) -> str:
        return "action_answer_article"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        chosen = entity_value(tracker, "article")  # a button the user pressed names the article
        if chosen in knowledge().articles:
            return send_article(chosen, dispatcher, tracker)
        article_id, confidence = selected_article(tracker.latest_message)
        if article_id in knowledge().articles and confidence >= MIN_ARTICLE_CONFIDENCE:
            return send_article(article_id, dispatcher, tracker)
        return ask_which_article(dispatcher, tracker)
