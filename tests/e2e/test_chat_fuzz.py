"""Fuzzing the chat input through the real REST channel (hypothesis): whatever arrives — any Unicode,
control characters, very long text, JSON that is not what the channel expects — the bot answers in
Swedish, never fails, gives no number outside knowledge/lines.yml, and stores no personal data."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.store import db
from bot.store.models import ConversationEvent
from tests.e2e.conftest import DATABASE_URL, RASA_URL

pytestmark = pytest.mark.e2e
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
PHONE = st.sampled_from(["070-123 45 67", "0701234567", "+46 70 123 45 67", "0046701234567"])
PNR = st.sampled_from(["19900101-0017", "900101-0017", "199001010017"])


def post(body: bytes) -> tuple[int, object]:
    request = urllib.request.Request(
        f"{RASA_URL}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def known_numbers(kb) -> set[str]:
    return {re.sub(r"\D", "", line.number) for line in kb.lines}


def numbers_in(text: str) -> set[str]:
    return {re.sub(r"\D", "", n) for n in re.findall(r"\+?\d[\d -]{3,}\d", text)}


@given(text=st.text(max_size=300))
@FUZZ
def test_any_text_gets_an_answer_and_no_made_up_number(server, kb, text):
    status, replies = post(json.dumps({"sender": uuid.uuid4().hex, "message": text}).encode())
    assert status == 200 and isinstance(replies, list) and replies
    said = "\n".join(r.get("text") or "" for r in replies)
    assert said.strip()
    assert numbers_in(said) <= known_numbers(kb) | {"112"} | numbers_in(text)


@given(before=st.text(max_size=80), phone=PHONE, pnr=PNR, after=st.text(max_size=80))
@FUZZ
def test_personal_data_anywhere_in_a_message_is_never_stored(server, before, phone, pnr, after):
    sender = uuid.uuid4().hex
    status, _ = post(json.dumps({"sender": sender, "message": f"{before} {phone} {pnr} {after}"}).encode())
    assert status == 200
    with db.session(DATABASE_URL) as s:
        stored = "\n".join(s.scalars(select(ConversationEvent.data).where(ConversationEvent.sender_id == sender)))
    digits = re.sub(r"\D", "", stored)
    assert "701234567" not in digits and "9001010017" not in digits


@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
            max_leaves=10,
        ).map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries(
            {"sender": st.one_of(st.none(), st.integers(), st.text(max_size=300)), "message": st.text(max_size=50)}
        ).map(lambda value: json.dumps(value).encode()),
    )
)
@FUZZ
def test_malformed_requests_never_break_the_server(server, body):
    status, _ = post(body)
    assert status < 500, status
    assert post(json.dumps({"sender": uuid.uuid4().hex, "message": "hej"}).encode())[0] == 200


def test_half_an_emoji_gets_an_answer_and_the_conversation_goes_on(server):
    """A widget that cuts a message at a length can cut an emoji in half; JSON.stringify then sends a lone
    surrogate ("\\ud83d"), which is valid JSON but not text any pipeline can encode."""
    sender = uuid.uuid4().hex
    for body in (b'{"sender": "%s", "message": "hej \\ud83d"}', b'{"sender": "%s", "message": "\\udc00"}'):
        status, replies = post(body.replace(b"%s", sender.encode()))
        assert status == 200 and isinstance(replies, list) and replies, (body, status, replies)
        assert "\n".join(r.get("text") or "" for r in replies).strip()
    status, replies = post(json.dumps({"sender": sender, "message": "min son vill inte gå till skolan"}).encode())
    assert status == 200 and replies and "skol" in json.dumps(replies, ensure_ascii=False).lower()
