"""Which article answers a parsed message, if any: one decision shared by the actions and `nara evaluate`."""

from __future__ import annotations

from typing import Any

FALLBACK_INTENT = "nlu_fallback"
# When the intent classifier says "a topic question", the article selector needs this much to answer.
MIN_ARTICLE_CONFIDENCE = 0.45
# When the intent classifier is unsure (nlu_fallback) the selector must be this sure on its own.
SURE_ARTICLE_CONFIDENCE = 0.9


def article_ranking(parse_data: dict[str, Any]) -> list[tuple[str, float]]:
    """(article id, confidence) pairs from the ArticleSelector, best first."""
    return [(r["article"], float(r["confidence"])) for r in parse_data.get("article_ranking") or []]


def selected_article(parse_data: dict[str, Any]) -> tuple[str | None, float]:
    """(article id, confidence) of the ArticleSelector's best guess for the message."""
    ranking = article_ranking(parse_data)
    return ranking[0] if ranking else (None, 0.0)


def article_to_answer(parse_data: dict[str, Any]) -> str | None:
    """The article Nära answers with, or None when it should ask a clarifying question instead."""
    if any(e.get("entity") == "input_problem" for e in parse_data.get("entities") or []):
        return None
    article_id, confidence = selected_article(parse_data)
    unsure_intent = (parse_data.get("intent") or {}).get("name") == FALLBACK_INTENT
    needed = SURE_ARTICLE_CONFIDENCE if unsure_intent else MIN_ARTICLE_CONFIDENCE
    return article_id if confidence >= needed else None
