"""The answer-or-ask decision: agreement between topic and article lowers the bar, nothing else does."""

from __future__ import annotations

import pytest

from actions.selection import MIN_CONFIDENCE_ALONE, MIN_CONFIDENCE_SAME_TOPIC, article_to_answer


def parsed(intent: str, article: str, confidence: float, entities=None) -> dict:
    return {
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "article_ranking": [
            {"article": article, "confidence": confidence},
            {"article": "ensamhet-ung", "confidence": 0.01},
        ],
    }


@pytest.mark.parametrize(
    ("intent", "article", "confidence", "answered"),
    [
        ("parenting", "foraldraskap-tonaring", MIN_CONFIDENCE_SAME_TOPIC, "foraldraskap-tonaring"),
        ("parenting", "foraldraskap-tonaring", MIN_CONFIDENCE_SAME_TOPIC - 0.01, None),
        ("school_absence", "foraldraskap-tonaring", MIN_CONFIDENCE_SAME_TOPIC + 0.1, None),
        ("school_absence", "foraldraskap-tonaring", MIN_CONFIDENCE_ALONE, "foraldraskap-tonaring"),
        ("nlu_fallback", "sekretess-och-anonymitet", MIN_CONFIDENCE_ALONE - 0.01, None),
        ("nlu_fallback", "sekretess-och-anonymitet", 0.95, "sekretess-och-anonymitet"),
        ("greet", "ensamhet-aldre", 0.2, None),
        ("parenting", "finns-inte", 0.99, None),
    ],
)
def test_answer_or_ask(intent, article, confidence, answered):
    assert article_to_answer(parsed(intent, article, confidence)) == answered


def test_input_problems_are_never_answered_with_an_article():
    problem = [{"entity": "input_problem", "value": "too_long"}]
    assert article_to_answer(parsed("nlu_fallback", "foraldraskap-tonaring", 0.99, problem)) is None


def test_no_ranking_means_no_answer():
    assert article_to_answer({"intent": {"name": "parenting"}, "entities": []}) is None
