"""When Nära is unsure what a message means: a clarifying question, never a confident wrong answer.

Also the kind answers to input no model should guess at (the InputScreen component's `input_problem`).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import article_button, contact_button, entity_value, knowledge, send_article
from actions.messages import message
from actions.selection import article_ranking, article_to_answer

# Articles this likely (per the response selector) are offered as "Menar du …?" buttons.
MIN_SUGGESTION_CONFIDENCE = 0.1
MAX_SUGGESTIONS = 3

INPUT_PROBLEMS = {"empty", "no_words", "too_long", "other_language", "other_language_urgent"}


def _is_arabic(text: str) -> bool:
    return any("ARABIC" in unicodedata.name(c, "") for c in text if c.isalpha())


def ask_which_article(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Offers the likeliest articles as buttons, or asks the user to say it again."""
    kb = knowledge()
    suggestions = [
        kb.articles[article_id]
        for article_id, confidence in article_ranking(tracker.latest_message)
        if article_id in kb.articles and confidence >= MIN_SUGGESTION_CONFIDENCE
    ][:MAX_SUGGESTIONS]
    if suggestions:
        buttons = [article_button(a) for a in suggestions] + [contact_button()]
        dispatcher.utter_message(text=message("clarify"), buttons=buttons)
    else:
        dispatcher.utter_message(text=message("clarify_nothing"), buttons=[contact_button()])
    return []


class ActionClarify(Action):
    def name(self) -> str:
        return "action_clarify"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        problem = entity_value(tracker, "input_problem")
        if problem in INPUT_PROBLEMS:
            text = tracker.latest_message.get("text") or ""
            if problem.startswith("other_language") and _is_arabic(text):
                dispatcher.utter_message(text=message("only_swedish_arabic"))
            dispatcher.utter_message(text=message(f"input_{problem}"))
            return []
        if tracker.get_slot("in_crisis"):
            # After a crisis reply: presence and the way to a person, not a list of unrelated articles.
            from actions.crisis import stay_with_person

            return stay_with_person(dispatcher, tracker)
        # The intent classifier was unsure, but the article selector may be sure on its own.
        article_id = article_to_answer(tracker.latest_message)
        if article_id in knowledge().articles:
            return send_article(article_id, dispatcher, tracker)
        return ask_which_article(dispatcher, tracker)
