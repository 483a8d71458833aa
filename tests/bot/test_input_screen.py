"""InputScreen and the language guess: which messages no classifier should interpret."""

from __future__ import annotations

import pytest

from bot.language import guess
from bot.rasa_components.input_screen import (
    EMPTY,
    NO_WORDS,
    OTHER_LANGUAGE,
    OTHER_LANGUAGE_URGENT,
    TOO_LONG,
    screen,
)

MAX = 1500


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", EMPTY),
        ("   \n\t", EMPTY),
        ("😀😀😀", NO_WORDS),
        ("👍", NO_WORDS),
        ("???!!!", NO_WORDS),
        ("123 456", NO_WORDS),
        ("x" * 10_000, TOO_LONG),
        ("hej " * 2_500, TOO_LONG),
        ("hello, I need some help with my son", OTHER_LANGUAGE),
        ("my daughter does not want to go to school", OTHER_LANGUAGE),
        ("أحتاج مساعدة مع ابني", OTHER_LANGUAGE),
        ("please help, I want to kill myself", OTHER_LANGUAGE_URGENT),
        ("my husband hits me", OTHER_LANGUAGE_URGENT),
        ("زوجي يضربني", OTHER_LANGUAGE_URGENT),
    ],
)
def test_problem_input_is_recognised(text, problem):
    assert screen(text, MAX) == problem


@pytest.mark.parametrize(
    "text",
    [
        "hej",
        "ensam",
        "skolfrånvaro",
        "skolfranvaro",
        "hemmasittare",
        "tack",
        "ok",
        "help",
        "min son vill inte ga till skolan",
        "jag behover hjalp med min son",
        "kan jag prata med nagon",
        "hur funkar det",
        "jag kanner mig sa ensam",
        "min tonåring skriker hela tiden",
        "vi bor i skaggetorp",
        "min dotter gamear hela natten",
        "jag har ingen kompis i skolan",
        "Mitt barn blir mobbat, vad gör jag?",
        "socialjouren",
        "är du en bot",
        "orosanmälan",
        "förlåt att jag skriver så sent men jag vet inte vad jag ska göra, min dotter har inte gått "
        "till skolan på tre veckor och jag har inte pratat med skolan än",
    ],
)
def test_swedish_in_every_shape_passes(text):
    assert screen(text, MAX) is None


def test_a_long_swedish_message_under_the_limit_passes():
    text = "jag vet inte vad jag ska göra med min son som inte vill gå till skolan. " * 15
    assert len(text) < MAX and screen(text, MAX) is None


def test_the_guess_names_the_language():
    assert guess("hello I need help with my son").language == "english"
    assert guess("أحتاج مساعدة مع ابني").language == "arabic"
    assert guess("jag behöver hjälp").swedish


def test_the_language_models_are_loaded_when_the_component_starts_not_on_a_message() -> None:
    """Loading them takes seconds: a resident's first message in another language must not wait for it."""
    from bot import language
    from bot.rasa_components.input_screen import InputScreen

    language._detector.cache_clear()
    InputScreen(InputScreen.get_default_config())
    assert language._detector.cache_info().currsize == 1
