"""The guard in front of the chat channels (bot/channels.py), offline: length and rate limits,
client metadata, long sender ids, and failing closed when the conversation database is down."""

from __future__ import annotations

import asyncio
import re

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels import MAX_MESSAGE_CHARS, Guard, NaraSocketIOInput, RateLimiter, allowed_origins
from bot.tracker_store import StoreUnavailable


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Bot:
    """Stands in for Rasa: records what reached it and answers."""

    def __init__(self, fail: bool = False):
        self.seen: list[UserMessage] = []
        self.fail = fail

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message)
        await message.output_channel.send_text_message(message.sender_id, "SVAR")
        if self.fail:
            raise StoreUnavailable("OperationalError")


def say(guard: Guard, bot: Bot, text: str, sender: str = "s", metadata=None) -> list[dict]:
    output = CollectingOutputChannel()
    asyncio.run(guard.wrap(bot)(UserMessage(text, output, sender, metadata=metadata)))
    return output.messages


def notice(replies: list[dict]) -> str | None:
    return next((r["custom"]["notice"] for r in replies if r.get("custom")), None)


def test_a_normal_message_reaches_the_bot_without_client_metadata():
    bot = Bot()
    replies = say(Guard(RateLimiter(10, 20)), bot, "hej", metadata={"tracking": "x" * 10_000})
    assert [r["text"] for r in replies] == ["SVAR"] and bot.seen[0].metadata is None


def test_control_characters_never_reach_the_bot():
    bot = Bot()
    say(Guard(RateLimiter(10, 20)), bot, "hej\x00 jag\x1b mår dåligt\n\tidag", sender="ab\x00c")
    assert bot.seen[0].text == "hej jag mår dåligt\n\tidag" and bot.seen[0].sender_id == "abc"
    say(Guard(RateLimiter(10, 20)), bot, "¤ \x01")  # stripped as Rasa strips a message, after the control character
    assert bot.seen[1].text == "¤"
    say(Guard(RateLimiter(10, 20)), bot, "hej \ud83d", sender="x\udc00")  # half an emoji: a lone surrogate
    assert bot.seen[2].text == "hej" and bot.seen[2].sender_id == "x"


def test_too_long_is_answered_kindly_and_never_read():
    bot = Bot()
    replies = say(Guard(RateLimiter(10, 20)), bot, "x" * (MAX_MESSAGE_CHARS + 1))
    assert notice(replies) == "input_too_long" and "för långt" in replies[0]["text"] and bot.seen == []
    assert say(Guard(RateLimiter(10, 20)), bot, "x" * MAX_MESSAGE_CHARS)[0]["text"] == "SVAR"


def test_the_rate_limit_is_per_conversation_and_recovers():
    clock, bot = Clock(), Bot()
    guard = Guard(RateLimiter(3, 20, clock=clock))
    assert [notice(say(guard, bot, f"m{i}")) for i in range(3)] == [None, None, None]
    limited = say(guard, bot, "m3")
    assert notice(limited) == "channel_rate_limited" and "112" in limited[0]["text"]
    assert len(bot.seen) == 3  # the fourth was not read
    assert notice(say(guard, bot, "annan", sender="other")) is None  # another conversation is not slowed
    clock.now += 21
    assert notice(say(guard, bot, "m4")) is None


def test_the_limiter_forgets_quiet_conversations():
    clock = Clock()
    limiter = RateLimiter(2, 10, clock=clock, max_keys=3)
    for key in "abc":
        limiter.allow(key)
    clock.now += 11
    limiter.allow("d")
    assert set(limiter._hits) == {"d"}


def test_a_database_that_is_down_gets_an_apology_with_numbers_and_nothing_else():
    replies = say(Guard(RateLimiter(10, 20)), Bot(fail=True), "hej")
    assert notice(replies) == "channel_store_unavailable"
    text = "\n".join(r.get("text", "") for r in replies)
    assert "SVAR" not in text  # the half-made answer is dropped
    assert "inte sparats" in text and "112" in text and "90101" in text and "socialjouren" in text.lower()


def test_a_very_long_sender_id_is_replaced_by_its_hash():
    bot = Bot()
    say(Guard(RateLimiter(10, 20)), bot, "hej", sender="x" * 5000)
    assert bot.seen[0].sender_id.startswith("h-") and len(bot.seen[0].sender_id) == 42
    say(Guard(RateLimiter(10, 20)), bot, "hej", sender="vanlig")
    assert bot.seen[1].sender_id == "vanlig"


def test_socketio_accepts_only_the_configured_origins(monkeypatch):
    monkeypatch.setenv("NARA_CORS_ORIGINS", "https://www.linkoping.se, https://test.example")
    assert allowed_origins() == ["https://www.linkoping.se", "https://test.example"]
    channel = NaraSocketIOInput()
    channel.blueprint(Bot())
    assert channel.sio.eio.cors_allowed_origins == ["https://www.linkoping.se", "https://test.example"]
    monkeypatch.delenv("NARA_CORS_ORIGINS")
    assert allowed_origins() == ["http://localhost:8000", "http://127.0.0.1:8000"]


@pytest.mark.parametrize("limit", [1, 5])
def test_limit_counts_exactly(limit):
    limiter = RateLimiter(limit, 60, clock=Clock())
    assert [limiter.allow("k") for _ in range(limit + 1)] == [True] * limit + [False]


class FakeSio:
    def __init__(self):
        self.emitted: list[tuple[str, object, str]] = []

    async def emit(self, event, data=None, room=None, **kwargs):
        assert not kwargs, f"unexpected keyword arguments to emit: {kwargs}"
        self.emitted.append((event, data, room))


def test_the_widget_gets_one_event_per_message_and_custom_payloads_intact():
    from bot.channels import NaraSocketIOOutput

    sio = FakeSio()
    out = NaraSocketIOOutput(sio, "bot_uttered")
    article = {"article": "a", "title": "T", "source": {"title": "S", "url": "https://x"}, "reviewed_at": "2026-05-01"}

    async def send() -> None:
        await out.send_response("room1", {"text": "Första stycket.\n\nAndra stycket."})
        await out.send_response("room1", {"text": "Välj", "buttons": [{"title": "Ja", "payload": "/affirm"}]})
        await out.send_response("room1", {"custom": dict(article)})

    asyncio.run(send())
    assert sio.emitted == [
        ("bot_uttered", {"text": "Första stycket.\n\nAndra stycket."}, "room1"),
        (
            "bot_uttered",
            {"text": "Välj", "quick_replies": [{"content_type": "text", "title": "Ja", "payload": "/affirm"}]},
            "room1",
        ),
        ("bot_uttered", {"custom": article}, "room1"),
    ]


@pytest.mark.parametrize(
    "data, kept",
    [
        ({"session_id": "f026fa171b0b269a156bd23245c5add1"}, True),
        ({"session_id": "x" * 65}, False),
        ({"session_id": "../a b"}, False),
        ({}, False),
        ("not a dict", False),
        (None, False),
    ],
)
def test_a_session_request_joins_the_sessions_room_and_confirms_it(data, kept):
    channel = NaraSocketIOInput(session_persistence=True)
    channel.blueprint(Bot())
    calls: list[tuple] = []

    async def enter_room(sid, room, namespace=None):  # a coroutine, as in the python-socketio Rasa installs
        calls.append(("enter_room", sid, room))

    async def emit(event, data=None, room=None, namespace=None):
        calls.append(("emit", event, data, room))

    channel.sio.enter_room, channel.sio.emit = enter_room, emit
    asyncio.run(channel.sio.handlers["/"]["session_request"]("sid1", data))
    (_, _, room), (_, event, confirmed, to) = calls
    assert event == "session_confirm" and to == "sid1" and confirmed == room
    if kept:
        assert room == data["session_id"]
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", room)  # a new random one
