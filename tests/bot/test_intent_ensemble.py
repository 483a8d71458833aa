"""Averaging DIET's intent distribution with the TF-IDF classifier's."""

from __future__ import annotations

import pytest

from bot.rasa_components.intent_classifier import average


def test_equal_weights_average_and_rank():
    diet = [{"name": "parenting", "confidence": 0.9}, {"name": "crime_worry", "confidence": 0.1}]
    own = [("crime_worry", 0.7), ("parenting", 0.3)]
    assert average(diet, own, 0.5) == [("parenting", pytest.approx(0.6)), ("crime_worry", pytest.approx(0.4))]


def test_an_intent_one_side_lacks_counts_as_zero():
    diet = [{"name": "greet", "confidence": 1.0}]
    own = [("thank", 0.8), ("greet", 0.2)]
    assert dict(average(diet, own, 0.5)) == {"greet": pytest.approx(0.6), "thank": pytest.approx(0.4)}


def test_without_an_earlier_classifier_the_own_ranking_stands():
    assert average([], [("greet", 0.9), ("thank", 0.1)], 0.5) == [("greet", 0.9), ("thank", 0.1)]
