"""A resident's conversations, end to end: REST channel -> Rasa -> action server -> SQLite tracker store."""

from __future__ import annotations

import sqlite3

import pytest

from knowledge.loader import cached_knowledge
from knowledge.phones import unknown_numbers
from tests.e2e.conftest import DATABASE_URL, TOKEN, _get, payloads, texts

pytestmark = pytest.mark.e2e
KB = cached_knowledge()
ALLOWED = [line.number for line in KB.lines]


def test_a_topic_question_gets_its_article_with_source_and_sets_the_topic(chat):
    replies = chat.say("min son vill inte gå till skolan, han har ont i magen varje morgon")
    article = KB.articles["skolfranvaro-forsta-steg"]
    assert texts(replies).startswith(article.answer[:80])
    assert payloads(replies) == [
        {
            "article": article.id,
            "title": article.title,
            "topic": "school_absence",
            "source": article.source.as_dict(),
            "reviewed_at": article.reviewed_at.isoformat(),
        }
    ]
    slots = chat.tracker()["slots"]
    assert slots["topic"] == "school_absence" and slots["article"] == article.id


def test_when_and_where_asks_for_the_place_then_gives_the_teams_drop_in(chat):
    first = chat.say("när och var kan jag träffa någon?")
    assert "Var bor du?" in texts(first) and payloads(first) == []
    second = chat.say("på Ryd")
    team = KB.teams["ryd"]
    said = texts(second)
    assert "Du bor i Ryd" in said and team.name in said and f"{team.drop_in} (exempel)" in said
    assert payloads(second)[0]["article"] == "kontakt-och-oppettider"
    slots = chat.tracker()["slots"]
    assert (slots["district"], slots["team"], slots["pending_article"]) == ("Ryd", "ryd", None)


def test_a_district_without_a_team_gets_the_nearest_one(chat):
    said = texts(chat.say("jag bor i vasastaden"))
    assert "Du bor i Vasastaden" in said and "Områdesteam Skäggetorp" in said
    assert chat.tracker()["slots"]["team"] == "skaggetorp"


def test_a_place_outside_the_municipality_gets_an_honest_answer(chat):
    said = texts(chat.say("jag bor i Norrköping"))
    assert "Norrköping" in said and "socialtjänsten i din egen kommun" in said
    assert chat.tracker()["slots"]["team"] is None


def test_unclear_input_gets_a_question_not_an_article(chat):
    replies = chat.say("asdfgh qwerty")
    assert payloads(replies) == []
    assert "?" in texts(replies)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", "Jag fick inget meddelande"),
        ("   ", "Jag fick inget meddelande"),
        ("😀😀😀", "emojier"),
        ("x" * 10_000, "för långt"),
        ("hej " * 2_500, "för långt"),
        ("hello, I need some help with my son", "Jag förstår bara svenska än så länge"),
        ("أحتاج مساعدة مع ابني", "Jag förstår bara svenska än så länge"),
    ],
)
def test_bad_input_gets_a_clear_kind_answer(chat, message, expected):
    replies = chat.say(message)
    assert expected in texts(replies)
    # Too long is answered by the channel's guard before Rasa reads it (bot/channels.py), with its notice.
    assert payloads(replies) == ([{"notice": "input_too_long"}] if len(message) > 1500 else [])


def test_an_urgent_message_in_another_language_gets_the_numbers(chat):
    said = texts(chat.say("please help, I want to kill myself"))
    assert "Jag förstår bara svenska än så länge" in said and "112" in said and "90101" in said


def test_the_conversation_goes_on_after_bad_input(chat):
    chat.say("")
    chat.say("😀")
    assert payloads(chat.say("jag känner mig så ensam"))[0]["topic"] == "loneliness"


def test_the_http_api_needs_the_token(chat):
    chat.say("hej")
    status, _ = _get(f"{chat.base}/conversations/{chat.sender}/tracker")
    assert status == 401
    status, _ = _get(f"{chat.base}/conversations/{chat.sender}/tracker?token=wrong-{TOKEN}")
    assert status == 401


def test_conversations_are_kept_in_naras_tracker_store(chat):
    chat.say("hej")
    with sqlite3.connect(DATABASE_URL.removeprefix("sqlite:///")) as db:
        rows = db.execute("SELECT count(*) FROM conversation_events WHERE sender_id = ?", (chat.sender,)).fetchone()[0]
    assert rows > 0


@pytest.mark.parametrize(
    "message",
    [
        "min man slår mig",
        "jag har tankar på att ta mitt liv",
        "jag vill göra en orosanmälan",
        "vem kan jag ringa i natt",
        "min mamma är 85 och ensam",
        "hej",
        "är du en robot?",
        "tack",
    ],
)
def test_every_number_the_bot_gives_is_in_lines(chat, message):
    assert unknown_numbers(texts(chat.say(message)), ALLOWED) == []
