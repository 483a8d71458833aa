"""The REST and socket.io channels, with a guard in front of the bot.

Every message, before Rasa sees it:
- **Length**: longer than `MAX_MESSAGE_CHARS` gets the kind "too long" reply and is neither read nor kept
  (the same limit and wording as `InputScreen`, which still guards `rasa shell` and the tests).
- **Rate**: more than `NARA_RATE_LIMIT_MESSAGES` (10) in `NARA_RATE_LIMIT_SECONDS` (20) in one
  conversation gets a kind "slow down" reply (with 112) and is not read. Counted per server process.
- **Control characters** (NUL, escape, …; not tab or line breaks) are taken out of the text and the sender
  id: nobody types them, and PostgreSQL refuses a NUL.
- **Metadata** from the client is dropped, and a sender id longer than 128 characters is replaced by
  its hash: nothing the client makes up grows the store.
- **Fail closed**: when the conversation database cannot be used (`StoreUnavailable`), the resident gets
  a short apology with the numbers that work without Nära; what they wrote is not kept anywhere.

The origins the socket.io server accepts are `NARA_CORS_ORIGINS` (space or comma separated; the REST
channel's CORS comes from `rasa run --cors`, which scripts/run fills from the same variable).

In credentials.yml: `bot.channels.NaraRestInput:` and `bot.channels.NaraSocketIOInput:`.
"""

from __future__ import annotations

import collections
import hashlib
import inspect
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from sanic.request import Request

from bot import rasa_speedups
from bot.privacy import install_log_redaction
from bot.text import without_control
from bot.tracker_store import StoreUnavailable

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1500
MAX_SENDER_CHARS = 128
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
DEFAULT_ORIGINS = ("http://localhost:8000", "http://127.0.0.1:8000")
Handler = Callable[[UserMessage], Awaitable[Any]]


def allowed_origins() -> list[str]:
    configured = os.environ.get("NARA_CORS_ORIGINS", "").replace(",", " ").split()
    return configured or list(DEFAULT_ORIGINS)


class RateLimiter:
    """At most `limit` messages per `window` seconds per key (a sliding window), with bounded memory."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000):
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._hits: dict[str, collections.deque[float]] = {}

    @classmethod
    def from_env(cls) -> RateLimiter:
        return cls(
            int(os.environ.get("NARA_RATE_LIMIT_MESSAGES") or 10),
            float(os.environ.get("NARA_RATE_LIMIT_SECONDS") or 20),
        )

    def allow(self, key: str) -> bool:
        now = self.clock()
        if len(self._hits) >= self.max_keys:
            self._forget_before(now - self.window)
        hits = self._hits.setdefault(key, collections.deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def _forget_before(self, moment: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= moment]:
            del self._hits[key]


def _notice(kind: str) -> str:
    """A channel notice in Swedish (actions/messages.yml), with the municipality's socialjour line."""
    from actions.common import knowledge
    from actions.messages import message
    from knowledge.render import marked

    socialjour = knowledge().municipality.placeholders["socialjour"]
    return message(kind, socialjour=marked(socialjour.text, socialjour.sample))


class Guard:
    """Wraps a channel's `on_new_message` with the checks above."""

    def __init__(self, limiter: RateLimiter | None = None):
        install_log_redaction()
        self.limiter = limiter or RateLimiter.from_env()

    @staticmethod
    def sender(sender_id: str | None) -> str | None:
        sender_id = without_control(sender_id) if sender_id else sender_id
        if sender_id and len(sender_id) > MAX_SENDER_CHARS:
            return "h-" + hashlib.sha256(sender_id.encode()).hexdigest()[:40]
        return sender_id

    async def _reply(self, message: UserMessage, kind: str) -> None:
        await message.output_channel.send_response(
            message.sender_id, {"text": _notice(kind), "custom": {"notice": kind}}
        )

    def wrap(self, on_new_message: Handler) -> Handler:
        async def guarded(message: UserMessage) -> None:
            message.sender_id = self.sender(message.sender_id)
            message.metadata = None
            if message.text:
                # A NUL is never typed, and PostgreSQL refuses it; stripped again, as Rasa's UserMessage strips
                # what it is given ("¤ \x01" would otherwise be "¤ ").
                message.text = without_control(message.text).strip()
            if len(message.text or "") > MAX_MESSAGE_CHARS:
                await self._reply(message, "input_too_long")
                return
            key = hashlib.sha256((message.sender_id or "").encode()).hexdigest()[:32]
            if not self.limiter.allow(key):
                await self._reply(message, "channel_rate_limited")
                return
            try:
                await on_new_message(message)
            except StoreUnavailable:
                # Nothing of this turn is kept: drop replies not yet sent, and say why.
                if isinstance(message.output_channel, CollectingOutputChannel):
                    message.output_channel.messages.clear()
                await self._reply(message, "channel_store_unavailable")

        return guarded


def _with_server_hooks(blueprint: Blueprint) -> Blueprint:
    """The server that serves this channel, once started, hides what it loaded from the garbage collector, and
    when it stops, closes its kept action-server sessions (bot/rasa_speedups.py)."""
    blueprint.listener("after_server_start")(rasa_speedups.freeze_loaded_objects)
    blueprint.listener("before_server_stop")(rasa_speedups.close_sessions)
    return blueprint


class NaraRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def __init__(self) -> None:
        self.guard = Guard()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        return None

    # A body that is JSON but not an object, or fields of the wrong type, are read as an empty message
    # (which gets its kind answer) rather than crashing Rasa's handler.
    @staticmethod
    def _field(request: Request, name: str) -> Any:
        body = request.json
        return body.get(name) if isinstance(body, dict) else None

    async def _extract_sender(self, req: Request) -> str | None:
        sender = self._field(req, "sender")
        return str(sender) if sender is not None else None

    def _extract_message(self, req: Request) -> str | None:
        message = self._field(req, "message")
        return message if isinstance(message, str) else ""

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        return _with_server_hooks(super().blueprint(self.guard.wrap(on_new_message)))


class NaraSocketIOOutput(SocketIOOutput):
    """What the web widget receives: one `bot_uttered` event per bot message.

    Rasa's own socket.io output splits a text at every blank line into separate events (the widget would show
    one answer as several bubbles and a screen reader announce it in pieces), and its `send_custom_json` passes
    the payload's keys to `emit` as keyword arguments, so `{"article": ...}` raises a TypeError and the article's
    source never arrives. Here a text is one event (the widget makes the paragraphs) and a custom payload is
    `{"custom": {...}}`, as in the REST channel's output.
    """

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"text": text.strip()})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        replies = [{"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in buttons]
        await self._send_message(recipient_id, {"text": text.strip(), "quick_replies": replies})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


class NaraSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = Guard()

    def get_output_channel(self) -> OutputChannel | None:
        return NaraSocketIOOutput(self.sio, self.bot_message_evt) if self.sio is not None else None

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        guarded = self.guard.wrap(on_new_message)

        async def with_our_output(message: UserMessage) -> None:
            # Rasa's handler builds a stock SocketIOOutput for every message; ours replaces it (same server, room).
            if type(message.output_channel) is SocketIOOutput:
                message.output_channel = NaraSocketIOOutput(self.sio, self.bot_message_evt)
            await guarded(message)

        blueprint = super().blueprint(with_our_output)
        # Rasa creates the engine.io server with CORS handling off. Turned on, engine.io refuses every other origin,
        # which matters for websockets (browsers apply no CORS to them). Its CORS *headers* stay off: Rasa's
        # `--cors` (Sanic-Cors, from the same NARA_CORS_ORIGINS in scripts/run) already writes them, and a header
        # sent twice makes a browser refuse every polling answer (seen in Chromium: "contains multiple values").
        self.sio.eio.cors_allowed_origins = allowed_origins()
        self._replace_session_request()
        self.sio.eio._cors_headers = lambda environ: []  # noqa: SLF001 - engine.io has no public switch for this
        return _with_server_hooks(blueprint)

    def _replace_session_request(self) -> None:
        """Rasa 3.6 calls `sio.enter_room` without awaiting it, and in the python-socketio that Rasa installs it is
        a coroutine: the socket never joins its session's room, so with `session_persistence` no answer ever
        reaches the browser. This handler replaces Rasa's and awaits it; a session id that is not the widget's
        kind (letters, digits, '-' and '_', at most 64) is replaced by a new random one."""
        sio = self.sio

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            ok = isinstance(requested, str) and SESSION_ID.fullmatch(requested)
            session_id = requested if ok else uuid.uuid4().hex
            if self.session_persistence:
                joined = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(joined):
                    await joined
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
