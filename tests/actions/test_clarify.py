"""action_clarify: kind answers to bad input, and a question rather than a guess."""

from __future__ import annotations

import pytest

from actions.clarify import ActionClarify
from actions.messages import message
from tests.conftest import make_tracker


async def run(tracker, dispatcher):
    return await ActionClarify().run(dispatcher, tracker, {})


@pytest.mark.parametrize("problem", ["empty", "no_words", "too_long", "other_language", "other_language_urgent"])
async def test_each_input_problem_gets_its_answer(dispatcher, problem):
    tracker = make_tracker(
        "x",
        intent="nlu_fallback",
        entities=[{"entity": "input_problem", "value": problem}],
        ranking=[("foraldraskap-tonaring", 0.99)],
    )
    await run(tracker, dispatcher)
    assert [m["text"] for m in dispatcher.messages] == [message(f"input_{problem}")]


async def test_an_urgent_message_in_another_language_gets_the_numbers(dispatcher):
    tracker = make_tracker(
        "help me", intent="nlu_fallback", entities=[{"entity": "input_problem", "value": "other_language_urgent"}]
    )
    await run(tracker, dispatcher)
    assert all(n in dispatcher.messages[0]["text"] for n in ("112", "90101", "020-50 50 50"))


async def test_arabic_gets_a_line_in_arabic_first(dispatcher):
    tracker = make_tracker(
        "أحتاج مساعدة", intent="nlu_fallback", entities=[{"entity": "input_problem", "value": "other_language"}]
    )
    await run(tracker, dispatcher)
    assert [m["text"] for m in dispatcher.messages] == [message("only_swedish_arabic"), message("input_other_language")]


async def test_likely_articles_are_offered(dispatcher):
    tracker = make_tracker(
        "hmm barnen",
        intent="nlu_fallback",
        ranking=[
            ("foraldraskap-sma-barn", 0.4),
            ("foraldraskap-tonaring", 0.3),
            ("orosanmalan", 0.12),
            ("ensamhet-ung", 0.05),
        ],
    )
    await run(tracker, dispatcher)
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == [
        '/parenting{"article": "foraldraskap-sma-barn"}',
        '/parenting{"article": "foraldraskap-tonaring"}',
        '/crisis{"article": "orosanmalan"}',
        "/request_contact",
    ]


async def test_nothing_likely_asks_to_rephrase_and_offers_a_person(dispatcher):
    tracker = make_tracker("blablabla", intent="nlu_fallback", ranking=[("ensamhet-ung", 0.05)])
    await run(tracker, dispatcher)
    assert dispatcher.messages[0]["text"] == message("clarify_nothing")
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "Prata med en socialarbetare", "payload": "/request_contact"}
    ]


async def test_a_sure_article_is_answered_even_when_the_intent_was_unsure(dispatcher):
    tracker = make_tracker("är det anonymt", intent="nlu_fallback", ranking=[("sekretess-och-anonymitet", 0.95)])
    await run(tracker, dispatcher)
    assert dispatcher.messages[0]["custom"]["article"] == "sekretess-och-anonymitet"
