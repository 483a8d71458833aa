"""Privacy and the hardened chat interface end to end, through the bot `make run` starts: what reaches
the conversation store, "radera min konversation", the length and rate limits, and CORS."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select

from bot.store import db
from bot.store.models import ConversationCount, ConversationEvent, Handover
from tests.e2e.conftest import DATABASE_URL, ROOT, TOKEN, payloads, texts

pytestmark = pytest.mark.e2e
PNR = "19900101-0017"  # a valid personnummer used only in tests
SECRETS = (PNR, "19900101", "070-123 45 67", "0701234567", "701234567", "anna.svensson@exempel.se", "Storgatan 12")


def stored_events(sender: str) -> list[str]:
    with db.session(DATABASE_URL) as s:
        return list(
            s.scalars(
                select(ConversationEvent.data)
                .where(ConversationEvent.sender_id == sender)
                .order_by(ConversationEvent.id)
            )
        )


def notices(replies) -> list[str]:
    return [p["notice"] for p in payloads(replies) if "notice" in p]


def test_personal_data_never_reaches_the_conversation_store_the_api_or_the_log(chat):
    chat.say("min dotter på 14 är så ensam. Vi bor på Storgatan 12, mejla anna.svensson@exempel.se")
    chat.say(f"mitt personnummer är {PNR}")
    chat.say("/request_contact")
    chat.say("/affirm")
    chat.say("Berga")
    chat.say("SMS")
    chat.say("070-123 45 67")
    summary = texts(chat.say("Eftermiddag"))
    assert "070-123 45 67" in summary  # the resident sees their number before they say yes
    code = next(p["handover"]["code"] for p in payloads(chat.say("/affirm")) if "handover" in p)

    with db.session(DATABASE_URL) as s:
        handover = s.query(Handover).filter_by(code=code).one()
        assert handover.contact_value == "+46701234567"  # the number went into the handover ...
        excerpt = handover.excerpt
    stored = "\n".join(stored_events(chat.sender))
    tracker = json.dumps(chat.tracker(), ensure_ascii=False)
    log = (ROOT / "build" / "e2e-run.log").read_text(errors="replace")
    for secret in SECRETS:
        assert secret not in stored and secret not in tracker and secret not in excerpt  # ... and nowhere else
        assert secret not in log
    for placeholder in ("[personnummer]", "[telefon]", "[e-post]", "[adress]"):
        assert placeholder in stored
    assert "[adress]" in excerpt and "ensam" in excerpt


def test_radera_min_konversation_asks_then_deletes_everything_but_a_count(chat):
    chat.say("min son vill inte gå till skolan")
    chat.say("jag bor i Ryd")
    assert stored_events(chat.sender)
    with db.session(DATABASE_URL) as s:
        before = s.scalar(select(func.coalesce(func.sum(ConversationCount.conversations), 0)))
    asked = chat.say("radera min konversation")
    assert "går inte att ångra" in texts(asked)
    assert [b["payload"] for b in asked[0]["buttons"]] == ["/affirm", "/deny"]
    done = chat.say("/affirm")
    assert "raderat" in texts(done) and {"erased": True} in payloads(done)
    assert stored_events(chat.sender) == []
    with db.session(DATABASE_URL) as s:
        rows = s.scalars(select(ConversationCount).where(ConversationCount.team == "ryd")).all()
        after = s.scalar(select(func.sum(ConversationCount.conversations)))
    assert after == before + 1 and any(r.topic == "school_absence" for r in rows)
    # The next message starts a new conversation that remembers nothing.
    chat.say("hej")
    assert "Ryd" not in json.dumps(chat.tracker(), ensure_ascii=False)


def test_no_keeps_the_conversation(chat):
    chat.say("min son vill inte gå till skolan")
    chat.say("kan du ta bort allt jag skrivit?")
    kept = chat.say("/deny")
    assert "raderar ingenting" in texts(kept) and stored_events(chat.sender)


def test_erasing_in_the_middle_of_the_handover_stops_it_and_sends_nothing(chat):
    chat.say("/request_contact")
    chat.say("Berga")
    asked = texts(chat.say("radera min konversation"))
    assert "avbrutit" in asked and "Ingenting har skickats" in asked
    chat.say("/affirm")
    assert stored_events(chat.sender) == []


def test_too_long_a_message_is_answered_and_not_kept(chat):
    replies = chat.say("hjälp " * 2000)
    assert notices(replies) == ["input_too_long"] and "för långt" in texts(replies)
    assert stored_events(chat.sender) == []
    assert texts(chat.say("min son vill inte gå till skolan"))  # and the conversation goes on


def test_the_rate_limit_slows_one_conversation_kindly(chat, server):
    from tests.e2e.conftest import Chat

    replies = [chat.say("hej") for _ in range(11)]
    assert [notices(r) for r in replies[:10]] == [[]] * 10
    assert notices(replies[10]) == ["channel_rate_limited"] and "112" in texts(replies[10])
    assert texts(Chat(server).say("hej"))  # someone else is not slowed down


def _request(url: str, method: str = "GET", headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers  # not a dict: a header sent twice must show as twice
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def test_cors_only_for_the_configured_origins(server):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    _, ok = _request(f"{server}/webhooks/rest/webhook", "OPTIONS", {"Origin": "http://localhost:8000", **preflight})
    assert ok.get_all("Access-Control-Allow-Origin") == ["http://localhost:8000"]
    _, evil = _request(f"{server}/webhooks/rest/webhook", "OPTIONS", {"Origin": "https://evil.example", **preflight})
    assert "Access-Control-Allow-Origin" not in evil
    status, _ = _request(f"{server}/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://evil.example"})
    assert status == 400
    status, headers = _request(
        f"{server}/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://localhost:8000"}
    )
    # Exactly once: two values (engine.io's and Sanic-Cors's) make a browser refuse every answer.
    assert status == 200 and headers.get_all("Access-Control-Allow-Origin") == ["http://localhost:8000"]


def test_the_http_api_needs_the_token(server):
    assert _request(f"{server}/conversations/x/tracker")[0] == 401
    assert _request(f"{server}/conversations/x/tracker?token=wrong")[0] == 401
    assert _request(f"{server}/conversations/x/tracker?token={TOKEN}")[0] == 200
