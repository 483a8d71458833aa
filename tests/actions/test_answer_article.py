"""action_answer_article: the right article with its source, the team filled in, or a question."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.answer_article import ActionAnswerArticle
from actions.messages import message
from tests.conftest import make_tracker


async def run(tracker, dispatcher):
    return await ActionAnswerArticle().run(dispatcher, tracker, {})


@pytest.fixture
def teenager_question():
    return make_tracker("min tonåring skriker på mig", intent="parenting", ranking=[("foraldraskap-tonaring", 0.93)])


async def test_a_confident_match_answers_with_the_article_and_its_source(teenager_question, dispatcher, kb):
    events = await run(teenager_question, dispatcher)
    article = kb.articles["foraldraskap-tonaring"]
    text, payload = dispatcher.messages[0], dispatcher.messages[0]["custom"]
    assert text["text"] == article.answer
    assert payload == {
        "article": "foraldraskap-tonaring",
        "title": article.title,
        "topic": "parenting",
        "source": article.source.as_dict(),
        "reviewed_at": article.reviewed_at.isoformat(),
    }
    assert {"title": "Prata med en socialarbetare", "payload": "/request_contact"} in text["buttons"]
    assert SlotSet("article", "foraldraskap-tonaring") in events
    assert SlotSet("topic", "parenting") in events


async def test_related_articles_are_offered_as_buttons_that_name_them(teenager_question, dispatcher, kb):
    await run(teenager_question, dispatcher)
    related = kb.articles["foraldraskap-tonaring"].related[0]
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert f'/{kb.articles[related].topic}{{"article": "{related}"}}' in payloads


async def test_a_button_choice_wins_over_the_selector(dispatcher):
    tracker = make_tracker(
        "",
        intent="school_absence",
        entities=[{"entity": "article", "value": "skolfranvaro-mobbning"}],
        ranking=[("skolfranvaro-forsta-steg", 0.9)],
    )
    events = await run(tracker, dispatcher)
    assert dispatcher.messages[0]["custom"]["article"] == "skolfranvaro-mobbning"
    assert SlotSet("topic", "school_absence") in events


async def test_an_unsure_match_asks_which_article_instead_of_guessing(dispatcher):
    tracker = make_tracker(
        "det är jobbigt hemma",
        intent="parenting",
        ranking=[("foraldraskap-tonaring", 0.25), ("relationer-familjeradgivning", 0.2), ("ensamhet-vuxen", 0.02)],
    )
    events = await run(tracker, dispatcher)
    message = dispatcher.messages[0]
    assert message["text"] == "Jag är inte säker på att jag förstod rätt. Handlar det om något av det här?"
    assert [b["payload"] for b in message["buttons"]] == [
        '/parenting{"article": "foraldraskap-tonaring"}',
        '/relationships{"article": "relationer-familjeradgivning"}',
        "/request_contact",
    ]
    assert not message["custom"] and events == []


async def test_a_service_article_does_not_set_a_topic(dispatcher):
    tracker = make_tracker("kostar det något", intent="service", ranking=[("ingen-ansokan", 0.9)])
    events = await run(tracker, dispatcher)
    assert dispatcher.messages[0]["custom"]["article"] == "ingen-ansokan"
    assert not any(isinstance(e, dict) and e.get("name") == "topic" for e in events)


async def test_the_contact_article_asks_where_you_live_first(dispatcher):
    tracker = make_tracker(
        "när och var kan jag träffa någon?", intent="service", ranking=[("kontakt-och-oppettider", 0.9)]
    )
    events = await run(tracker, dispatcher)
    assert [m["text"] for m in dispatcher.messages] == [message("ask_place")]
    assert events == [SlotSet("pending_article", "kontakt-och-oppettider")]


async def test_the_contact_article_names_the_users_team_and_drop_in(dispatcher, kb, monkeypatch):
    monkeypatch.setenv("NARA_DEMO_MODE", "1")
    tracker = make_tracker(
        "när har ni öppet",
        intent="service",
        ranking=[("kontakt-och-oppettider", 0.9)],
        slots={"team": "berga", "district": "Berga"},
    )
    await run(tracker, dispatcher)
    text = dispatcher.messages[0]["text"]
    team = kb.teams["berga"]
    assert team.name in text and f"{team.drop_in} (exempel)" in text and f"{team.office} (exempel)" in text
    assert f"{team.name} (exempel)" not in text  # the name is real; office and hours are samples
    assert "{" not in text
