"""Crisis first, end to end: the rules win over the classifiers in the running bot, the reply carries
{"crisis": kind}, a crisis interrupts the handover, and the call-back it offers is an urgent handover."""

from __future__ import annotations

import pytest

from bot.store import db
from bot.store.models import Handover
from knowledge.loader import cached_knowledge
from knowledge.phones import unknown_numbers
from tests.e2e.conftest import DATABASE_URL, payloads, texts

pytestmark = pytest.mark.e2e
ALLOWED = [line.number for line in cached_knowledge().lines]


@pytest.mark.parametrize(
    ("message", "kind", "number"),
    [
        ("ingen skulle sakna mig om jag var borta", "suicide_self_harm", "90101"),
        ("jag har tagit en massa tabletter", "suicide_self_harm", "90101"),
        ("han står utanför dörren och hotar att döda mig", "acute_violence", "020-50 50 50"),
        ("jag är 13 och pappa slår mig när han druckit", "acute_violence", "116 111"),
        ("grannens barn är ensamma hemma hela helgen utan mat", "child_harm", "112"),
        ("de ska gifta bort mig i sommar", "honour_oppression", "020-50 50 50"),
    ],
)
def test_a_crisis_gets_the_crisis_reply_first_and_nothing_else(chat, message, kind, number):
    replies = chat.say(message)
    assert payloads(replies) == [{"crisis": kind}]
    said = texts(replies)
    assert said.index("112") < 200 and number in said
    assert unknown_numbers(said, ALLOWED) == []
    assert chat.tracker()["slots"]["in_crisis"] == kind


@pytest.mark.parametrize(
    "message", ["skolan dödar mig av tristess", "jag dör av skratt", "vi har mördarsniglar i trädgården"]
)
def test_figurative_words_get_no_crisis_reply(chat, message):
    assert not any("crisis" in p for p in payloads(chat.say(message)))


def test_a_crisis_interrupts_the_handover_and_the_call_back_is_urgent(chat):
    chat.say("kan någon ringa mig?")
    chat.say("oro för min son")
    interrupted = chat.say("jag orkar inte leva längre")
    assert payloads(interrupted) == [{"crisis": "suicide_self_harm"}]
    assert not chat.tracker()["active_loop"].get("name")
    asked = chat.say("/request_contact")
    assert "Var bor du?" in texts(asked)  # after a crisis it does not ask what it is about again
    chat.say("Berga")
    chat.say("Ring mig")
    chat.say("0701234567")
    chat.say("Så fort som möjligt")
    done = chat.say("/affirm")
    [code] = [p["handover"]["code"] for p in payloads(done) if "handover" in p]
    with db.session(DATABASE_URL) as s:
        row = s.query(Handover).filter_by(code=code).one()
    assert row.urgent is True and row.summary.startswith("Brådskande")
