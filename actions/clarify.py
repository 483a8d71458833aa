"""When Nära is unsure what a message means: a clarifying question, never a confident wrong answer.

Also the kind answers to input no model should guess at (the InputScreen component's `input_problem`).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CONTACT_BUTTON, article_button, entity_value, knowledge

# Articles this likely (per the response selector) are offered as "Menar du …?" buttons.
MIN_SUGGESTION_CONFIDENCE = 0.1
MAX_SUGGESTIONS = 3

INPUT_PROBLEM_RESPONSES = {
    "empty": "utter_input_empty",
    "no_words": "utter_input_no_words",
    "too_long": "utter_input_too_long",
    "other_language": "utter_other_language",
    "other_language_urgent": "utter_other_language_urgent",
}


def _is_arabic(text: str) -> bool:
    return any("ARABIC" in unicodedata.name(c, "") for c in text if c.isalpha())


def ask_which_article(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Offers the likeliest articles as buttons, or asks the user to say it again."""
    kb = knowledge()
    selector = (tracker.latest_message.get("response_selector") or {}).get("default") or {}
    suggestions = []
    for candidate in selector.get("ranking") or []:
        article_id = str(candidate.get("intent_response_key", "")).partition("/")[2]
        if article_id in kb.articles and candidate.get("confidence", 0) >= MIN_SUGGESTION_CONFIDENCE:
            suggestions.append(kb.articles[article_id])
        if len(suggestions) == MAX_SUGGESTIONS:
            break
    if suggestions:
        buttons = [article_button(a) for a in suggestions] + [CONTACT_BUTTON]
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
    else:
        dispatcher.utter_message(response="utter_clarify_nothing", buttons=[CONTACT_BUTTON])
    return []


class ActionClarify(Action):
    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        problem = entity_value(tracker, "input_problem")
        if problem in INPUT_PROBLEM_RESPONSES:
            text = tracker.latest_message.get("text") or ""
            if problem.startswith("other_language") and _is_arabic(text):
                dispatcher.utter_message(response="utter_only_swedish_arabic")
            dispatcher.utter_message(response=INPUT_PROBLEM_RESPONSES[problem])
            return []
        return ask_which_article(dispatcher, tracker)
