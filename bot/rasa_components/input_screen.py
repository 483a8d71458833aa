"""A last NLU step that catches messages no classifier should guess at.

An empty message, one without a single letter (emoji only), one far too long to read as one
question, or one in another language becomes `nlu_fallback` with an `input_problem` entity, so
action_clarify can give the right kind answer instead of a confident guess.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot import language
from bot.rasa_components.stateless import StatelessComponent

# The kinds of problem, as the entity value action_clarify dispatches on.
EMPTY, NO_WORDS, TOO_LONG, OTHER_LANGUAGE, OTHER_LANGUAGE_URGENT = (
    "empty",
    "no_words",
    "too_long",
    "other_language",
    "other_language_urgent",
)


def screen(text: str, max_chars: int) -> str | None:
    """The problem with `text`, or None when it can go to the classifiers' verdict."""
    if not text.strip():
        return EMPTY
    if not any(c.isalpha() for c in text):
        return NO_WORDS
    if len(text) > max_chars:
        return TOO_LONG
    guess = language.guess(text)
    if not guess.swedish:
        return OTHER_LANGUAGE_URGENT if guess.urgent else OTHER_LANGUAGE
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class InputScreen(StatelessComponent, IntentClassifier):
    """Overrides the intent with nlu_fallback for input that no model should interpret."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        language.warm_up()  # load the language models now, not on a resident's first message

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_chars": 1500}

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            problem = screen(text, self.component_config["max_chars"])
            if problem is None:
                continue
            fallback = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, "confidence": 1.0}
            message.set(INTENT, fallback, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [fallback, *(message.get(INTENT_RANKING_KEY) or [])], add_to_output=True)
            entity = {
                "entity": "input_problem",
                "value": problem,
                "start": 0,
                "end": 0,
                "extractor": type(self).__name__,
            }
            # Entities a model guessed from such a message are not to be trusted either.
            message.set(ENTITIES, [entity], add_to_output=True)
        return messages
