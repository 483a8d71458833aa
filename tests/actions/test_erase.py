"""'Radera min konversation' (actions/erase.py), offline."""

from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.erase import ActionAskErase, ActionEraseConversation, ActionKeepConversation


def tracker(events=None, loop=None, slots=None) -> Tracker:
    return Tracker("t", slots or {}, {}, events or [], False, None, {"name": loop} if loop else {}, "action_listen")


def run(action, t: Tracker):
    d = CollectingDispatcher()
    return asyncio.run(action.run(d, t, {})), d


def test_asking_first_with_yes_and_no_buttons():
    events, d = run(ActionAskErase(), tracker())
    assert events == [] and "går inte att ångra" in d.messages[0]["text"]
    assert [b["payload"] for b in d.messages[0]["buttons"]] == ["/affirm", "/deny"]


def test_asking_in_the_middle_of_the_handover_stops_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NARA_DATABASE_URL", f"sqlite:///{tmp_path}/nara.db")
    events, d = run(ActionAskErase(), tracker(loop="handover_form", slots={"contact_value": "draft:abc"}))
    assert ActiveLoop(None) in events and SlotSet("contact_value", None) in events
    assert "Ingenting har skickats" in d.messages[0]["text"]


def test_erasing_says_so_and_marks_the_reply():
    _, d = run(ActionEraseConversation(), tracker())
    assert "raderat" in d.messages[0]["text"] and d.messages[0]["custom"] == {"erased": True}
    assert "Förfrågan" not in d.messages[0]["text"]


def test_a_handover_already_sent_stays_and_the_reply_says_so():
    sent = {"event": "bot", "text": "Tack", "data": {"custom": {"handover": {"code": "K7M-2QX"}}}}
    _, d = run(ActionEraseConversation(), tracker(events=[sent]))
    assert "finns kvar hos dem" in d.messages[0]["text"]


def test_no_keeps_everything():
    events, d = run(ActionKeepConversation(), tracker())
    assert events == [] and "raderar ingenting" in d.messages[0]["text"]
