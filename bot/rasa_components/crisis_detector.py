"""Crisis first: the last NLU step, so that nothing after it can undo what it decides.

The rules in knowledge/safety/rules.yml (bot/crisis.py) run on every message. A match makes the intent
`crisis` with full confidence and puts `{"kind", "kinds", "rules", "child_writer", "source"}` on the
parse result as `crisis`, whatever the classifiers or the input screen thought (a message too long to
read as a question still gets a crisis reply when it holds one). Working together with the NLU: when
no rule matches but the classifiers are sure it is a crisis and the article they would answer with is
about suicidal thoughts, that counts too (source "nlu").
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.crisis import default_detector
from bot.rasa_components.stateless import StatelessComponent

CRISIS_INTENT = "crisis"
CRISIS_KEY = "crisis"
# The NLU alone counts only when it is sure of both the intent and this article.
NLU_ARTICLES = {"akut-sjalvmordstankar": "suicide_self_harm"}


def _nlu_kind(message: Message, min_confidence: float) -> str | None:
    intent = message.get(INTENT) or {}
    ranking = message.get("article_ranking") or []
    if intent.get("name") != CRISIS_INTENT or float(intent.get("confidence") or 0) < min_confidence or not ranking:
        return None
    top = ranking[0]
    if float(top.get("confidence") or 0) < min_confidence:
        return None
    return NLU_ARTICLES.get(top.get("article"))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CrisisDetector(StatelessComponent, IntentClassifier):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.detector = default_detector()  # loads the rules now: a broken rule fails at start-up, not at 2 a.m.

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"nlu_min_confidence": 0.6}

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            found = self.detector.detect(message.get(TEXT) or "")
            if found is not None:
                crisis = {**found.as_dict(), "source": "rules"}
            elif kind := _nlu_kind(message, self.component_config["nlu_min_confidence"]):
                crisis = {"kind": kind, "kinds": [kind], "rules": [], "child_writer": False, "source": "nlu"}
            else:
                continue
            # What the classifiers said, kept for the NLU evaluation (which measures them, not this override).
            own = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != "nlu_fallback"]
            crisis["nlu_intent"] = {"name": own[0]["name"], "confidence": own[0]["confidence"]} if own else None
            top = {"name": CRISIS_INTENT, "confidence": 1.0}
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != CRISIS_INTENT]
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)
            message.set(CRISIS_KEY, crisis, add_to_output=True)
            # An input problem (too long, other language) is no reason to miss a crisis.
            entities = [e for e in message.get(ENTITIES) or [] if e.get("entity") != "input_problem"]
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
