"""A Rasa entity extractor for where the resident lives, driven by knowledge/areas.yml.

Deterministic on purpose: a district must be recognised however it is written ("skaggetorp", "på Ryd",
"vid Skäggetorps centrum", typos), and the team is a fact of the areas data, not a guess of a model.
It emits `district` (canonical name) and `team` (team id) for a place in the municipality, and `place`
(as written) for a place outside it or unknown to us. A message that is only a place ("skaggetorp",
"på Ryd", "jag bor i Berga") is also classified as `inform_place` here: the classifier cannot know
every place name, the areas data does.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_components.stateless import StatelessComponent
from knowledge.areas import Place, PlaceResolver
from knowledge.export import PLACE_INTENT
from knowledge.loader import cached_knowledge


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class PlaceExtractor(StatelessComponent, EntityExtractorMixin):
    """Finds a district, locality or outside place in a message."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._resolver = PlaceResolver(cached_knowledge(config.get("knowledge_dir")))

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"knowledge_dir": None}

    @staticmethod
    def _entities(text: str, place: Place) -> list[dict[str, Any]]:
        start = max(0, text.lower().find(place.name.lower()))
        span = {"start": start, "end": start + len(place.name), "confidence_entity": 1.0}
        if place.kind == "district" and place.team is not None:
            return [
                {"entity": "district", "value": place.name, **span},
                {"entity": "team", "value": place.team.id, **span},
            ]
        return [{"entity": "place", "value": place.name, **span}]

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            place = self._resolver.resolve(text)
            if place is None:
                continue
            found = self.add_extractor_name(self._entities(text, place))
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
            if self._resolver.says_only_where(text, place):
                intent = {"name": PLACE_INTENT, "confidence": 1.0}
                ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != PLACE_INTENT]
                message.set(INTENT, intent, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [intent, *ranking], add_to_output=True)
        return messages
