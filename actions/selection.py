"""Which article answers a parsed message, if any: one decision shared by the actions and `nara evaluate`.

The ArticleSelector's probability is the signal that separates right from wrong answers on held-out
examples; the intent confidence does not separate them as well. Agreement between the two is extra
evidence: an article of the topic the intent classifier chose needs less confidence than one of another
topic. The thresholds were chosen on the held-out split (reports/evaluation.md shows what
the bot does with those questions: answers right, answers wrong, or asks).
"""

from __future__ import annotations

from typing import Any

from knowledge.loader import cached_knowledge

FALLBACK_INTENT = "nlu_fallback"
# An article of the topic the intent classifier chose needs this much to be answered...
MIN_CONFIDENCE_SAME_TOPIC = 0.3
# ...and any other article (or any article when the intent was unsure) this much.
MIN_CONFIDENCE_ALONE = 0.6


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
    article = cached_knowledge().articles.get(article_id or "")
    if article is None:
        return None
    intent = (parse_data.get("intent") or {}).get("name")
    same_topic = intent == article.topic
    needed = MIN_CONFIDENCE_SAME_TOPIC if same_topic else MIN_CONFIDENCE_ALONE
    return article.id if confidence >= needed else None
