"""Answers a topic question with the curated article the response selector chose, or asks which one."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import ask_which_article
from actions.common import entity_value, knowledge, send_article
from actions.selection import article_to_answer


class ActionAnswerArticle(Action):
    def name(self) -> str:
        return "action_answer_article"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        chosen = entity_value(tracker, "article")  # a button the user pressed names the article
        if chosen in knowledge().articles:
            return send_article(chosen, dispatcher, tracker)
        article_id = article_to_answer(tracker.latest_message)
        if article_id in knowledge().articles:
            return send_article(article_id, dispatcher, tracker)
        return ask_which_article(dispatcher, tracker)
