"""Shared fixtures: the real knowledge base, and rasa-sdk trackers named after the scenario they set up."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from knowledge.loader import cached_knowledge
from knowledge.model import Knowledge


@pytest.fixture(scope="session")
def kb() -> Knowledge:
    return cached_knowledge()


def make_tracker(
    text: str = "",
    *,
    intent: str = "parenting",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    ranking: list[tuple[str, float]] | None = None,
) -> Tracker:
    """A tracker whose latest message was parsed as given (what Rasa would send the action server).

    `ranking` is the ArticleSelector's output: (article id, confidence), best first.
    """
    latest: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
    }
    if ranking:
        latest["article_ranking"] = [{"article": a, "confidence": c} for a, c in ranking]
    return Tracker("test-user", slots or {}, latest, [], False, None, {}, "action_listen")


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()
