"""Intent classification with TF-IDF and logistic regression (tfidf_logreg.py).

Alone in config.yml. Placed after another intent classifier that reports every intent (DIETClassifier
with `ranking_length: 0`, as Nära had until issue 7), it averages the two distributions, the other's with
`diet_weight`; README.md says what each choice measured.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_components.tfidf_logreg import TfidfLogisticRegression


def average(
    earlier: list[dict[str, Any]], own: list[tuple[str, float]], earlier_weight: float
) -> list[tuple[str, float]]:
    """Weighted average of two intent distributions (an intent one of them lacks counts as 0), best first."""
    if not earlier:
        return own
    scores: dict[str, float] = {}
    for entry in earlier:
        scores[entry["name"]] = earlier_weight * float(entry["confidence"])
    for name, confidence in own:
        scores[name] = scores.get(name, 0.0) + (1 - earlier_weight) * confidence
    return sorted(scores.items(), key=lambda pair: -pair[1])


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class TfidfIntentClassifier(TfidfLogisticRegression, IntentClassifier):
    """Ranks the intents for a message, together with the intent classifier before it, if there is one."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**TfidfLogisticRegression.get_default_config(), "ranking_length": 0, "diet_weight": 0.5}

    @staticmethod
    def label_of(message: Message) -> str | None:
        return message.get(INTENT)

    def write_nothing(self, message: Message) -> None:
        # What Rasa's own classifiers give a message they cannot rank; FallbackClassifier, next in the
        # pipeline, needs an intent on every message (it failed on an empty one without this).
        if message.get(INTENT) is None:
            message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [], add_to_output=True)

    def write(self, message: Message, ranking: list[tuple[str, float]]) -> None:
        combined = average(message.get(INTENT_RANKING_KEY) or [], ranking, self.config["diet_weight"])
        value = [{"name": name, "confidence": p} for name, p in combined]
        message.set(INTENT, value[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, value, add_to_output=True)
