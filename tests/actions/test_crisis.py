"""The crisis reply with frozen clocks: office hours, night, weekend and a holiday, for every kind."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

import actions.common as common
import actions.crisis as crisis_module
from actions.clarify import ActionClarify
from actions.common import closed_now_note
from actions.crisis import ActionCrisis
from knowledge import hours
from knowledge.phones import unknown_numbers

OFFICE = "2026-11-23T10:00:00+01:00"  # Monday morning
NIGHT = "2026-11-24T02:00:00+01:00"  # a weekday night
WEEKEND = "2026-11-21T15:00:00+01:00"  # Saturday afternoon
HOLIDAY = "2026-12-25T11:00:00+01:00"  # juldagen


def frozen(at: str):
    real = hours.moment
    return lambda municipality, now=None: real(municipality, dt.datetime.fromisoformat(at))


def crisis(kind: str, *, kinds=None, child_writer=False) -> dict[str, Any]:
    return {"kind": kind, "kinds": kinds or [kind], "rules": ["r"], "child_writer": child_writer, "source": "rules"}


def run(monkeypatch, at: str, detected: dict | None, *, slots=None, loop=None, intent="crisis", action=None):
    monkeypatch.setattr(crisis_module, "moment", frozen(at))
    monkeypatch.setattr(common, "moment", frozen(at))
    latest: dict[str, Any] = {"text": "…", "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    if detected:
        latest["crisis"] = detected
    tracker = Tracker("t", slots or {}, latest, [], False, None, {"name": loop} if loop else {}, "action_listen")
    d = CollectingDispatcher()
    events = asyncio.run((action or ActionCrisis()).run(d, tracker, {}))
    return d, events


def text_of(d: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in d.messages)


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("suicide_self_harm", "90101"),
        ("acute_violence", "020-50 50 50"),
        ("honour_oppression", "020-50 50 50"),
        ("child_harm", "112"),
    ],
)
@pytest.mark.parametrize("at", [OFFICE, NIGHT, WEEKEND, HOLIDAY])
def test_every_kind_at_every_hour_leads_with_112_and_its_line_and_carries_the_payload(monkeypatch, kb, kind, line, at):
    d, events = run(monkeypatch, at, crisis(kind))
    [reply] = d.messages
    text = reply["text"]
    assert text.index("112") < 200 and line in text
    assert reply["custom"] == {"crisis": kind}
    assert unknown_numbers(text, [x.number for x in kb.lines]) == []
    assert SlotSet("in_crisis", kind) in events and SlotSet("handover_urgent", True) in events
    open_now = at == OFFICE
    assert ("socialjouren" in text) is not open_now
    payloads = [b["payload"] for b in reply["buttons"]]
    assert "/request_contact" in payloads  # Nära stays and offers a person
    if open_now:
        assert "i dag" in text and reply["buttons"][0]["payload"] == "/request_contact"
    else:
        assert "har stängt just nu" in text and "nästa vardag" in text


def test_night_names_the_next_working_day_after_a_holiday(monkeypatch):
    d, _ = run(monkeypatch, HOLIDAY, crisis("suicide_self_harm"))
    assert "måndag 28 december" in text_of(d)


def test_a_child_writer_hears_bris_first_and_what_telling_us_means(monkeypatch):
    d, _ = run(monkeypatch, NIGHT, crisis("acute_violence", child_writer=True))
    text = text_of(d)
    assert text.index("116 111") < text.index("020-50 50 50")
    assert "hjälp och skydd" in text and "orosanmälan" not in text


def test_a_child_at_risk_gets_the_duty_to_report_notice_before_any_details(monkeypatch):
    d, _ = run(monkeypatch, OFFICE, crisis("child_harm"))
    text = text_of(d)
    assert "anmälningsskyldighet" in text and "orosanmälan" in text and "anonym" in text
    assert '/crisis{"article": "orosanmalan"}' in [b["payload"] for b in d.messages[0]["buttons"]]


def test_without_a_detected_crisis_the_crisis_intent_gets_its_article(monkeypatch):
    d, events = run(monkeypatch, NIGHT, None, slots={})
    assert not any(isinstance(e, dict) and e.get("name") == "in_crisis" for e in events)
    assert all("crisis" not in (m.get("custom") or {}) for m in d.messages)


def test_a_crisis_interrupts_the_handover_form(monkeypatch):
    _, events = run(
        monkeypatch, OFFICE, crisis("suicide_self_harm"), loop="handover_form", slots={"contact_value": "x"}
    )
    assert ActiveLoop(None) in events and SlotSet("contact_value", None) in events
    # and the call-back it offers will be urgent
    assert events.index(SlotSet("handover_urgent", True)) > events.index(SlotSet("handover_urgent", None))


def test_after_a_crisis_an_unclear_message_gets_presence_not_articles(monkeypatch):
    d, _ = run(
        monkeypatch,
        NIGHT,
        None,
        slots={"in_crisis": "suicide_self_harm"},
        intent="nlu_fallback",
        action=ActionClarify(),
    )
    [reply] = d.messages
    assert "Jag finns kvar här" in reply["text"] and "90101" in reply["text"]
    assert [b["payload"] for b in reply["buttons"]] == ["/request_contact"]


def test_an_answer_that_points_to_the_teams_hours_says_what_is_open_at_night(kb):
    assert closed_now_note(kb, dt.datetime.fromisoformat(OFFICE)) == ""
    note = closed_now_note(kb, dt.datetime.fromisoformat(NIGHT))
    assert "stängt" in note and "tisdag 24 november" in note and "socialjouren" in note and "112" in note
