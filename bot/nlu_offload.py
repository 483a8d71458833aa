"""The NLU pipeline on a second process: the NLU server (bot/nlu_server.py) beside the Rasa server.

Why: a Rasa server runs everything of a message on one event loop, so it uses one core, and the NLU pipeline
is a third of its work (bench/README.md). On the 2-core machine Nära runs on, that core was the bottleneck
while the other one was half idle. With `NARA_NLU_SOCKET` set (scripts/run sets it), the Rasa server sends
each message's text to an NLU server holding the same model and goes on with other conversations; the NLU
server parses on the other core.

It is an accelerator, never a dependency. Crisis detection is part of the NLU pipeline, so a message must
never go without it: whenever the NLU server cannot answer (not started yet, stopped, too slow, an error, an
answer that is not a parse of this text) or holds another model than this server's, the message is parsed
here, in process, exactly as without an NLU server, and the NLU server is asked again only after `RETRY_S`.
(Rasa's own `nlu:` endpoint is not used: its client sends the token where Rasa's server does not read it, so
every request fails with 401, and it answers a failure with an empty intent, which would skip crisis
detection.)

The wire: a Unix socket (only this machine, only the user the servers run as: the socket file is 0600) and
frames of a 4-byte length and a JSON body, over connections kept open. Rasa's HTTP API with aiohttp was the
first version: it cost the Rasa server 0.72 ms of CPU per message, against 1.85 ms for parsing in process;
a frame costs ~0.08 ms (bench/README.md, fifth round).

The parse is the same: the NLU server runs the same graph on the same text (no component of Nära's pipeline
reads the message's id, metadata or conversation; Rasa adds the id and metadata to the event itself), and
tests/bot/test_nlu_offload_model.py compares both parses on messages of every kind.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import struct
import threading
import time
import weakref
from typing import Any

import orjson

from bot import rasa_speedups

logger = logging.getLogger(__name__)

SOCKET_ENV = "NARA_NLU_SOCKET"
TIMEOUT_S = 2.0  # a parse takes ~2-5 ms; past this the NLU server is stuck, and the message is parsed here
RETRY_S = 5.0  # after a failure, messages are parsed here for this long before the NLU server is asked again
MAX_FRAME = 4 * 1024 * 1024  # far above any parse: the channel passes on no message over 1,500 characters

_LENGTH = struct.Struct("!I")
_install_lock = threading.Lock()


class Unusable(Exception):
    """The NLU server's answer cannot be used for this message."""


# --- frames: both ends ------------------------------------------------------------------------------------


def frame(value: Any) -> bytes:
    body = rasa_speedups.json_bytes(value)
    return _LENGTH.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> Any:
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_FRAME:
        raise Unusable(f"a frame of {length} bytes")
    return orjson.loads(await reader.readexactly(length))


def answers(path: str, timeout_s: float = 2.0) -> str | None:
    """The model id of the NLU server listening on `path`, or None: for start-up scripts and tests."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            s.connect(path)
            s.sendall(frame({"op": "status"}))
            with s.makefile("rb") as stream:
                (length,) = _LENGTH.unpack(stream.read(_LENGTH.size))
                return orjson.loads(stream.read(length)).get("model_id")
    except (OSError, ValueError, AttributeError, struct.error):
        return None


# --- the Rasa server's end --------------------------------------------------------------------------------


class NluServer:
    """The NLU server of one Rasa server: where it is, whether it is usable now, and the parse it gives."""

    def __init__(self, path: str):
        self.path = path
        self.down_until = 0.0  # time.monotonic() before which messages are parsed in process
        self.checked_model: str | None = None  # the model id the NLU server was found to hold
        self.warned = False
        # Idle connections, per event loop (a connection belongs to the loop that opened it).
        self._idle: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def usable(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, why: str) -> None:
        self.down_until = time.monotonic() + RETRY_S
        self.checked_model = None  # after an outage the NLU server may have been restarted with another model
        for _, writer in self._idle.pop(asyncio.get_running_loop(), []):  # likely dead too
            writer.close()
        if not self.warned:  # once per outage: under load a stopped NLU server would otherwise log every message
            logger.warning(
                "NLU server %s not used for %.0f s (%s): messages are parsed in this process", self.path, RETRY_S, why
            )
            self.warned = True

    async def parse(self, text: str, model_id: str | None) -> dict[str, Any]:
        if self.checked_model is None or self.checked_model != model_id:
            status = await self._call({"op": "status"})
            held = status.get("model_id") if isinstance(status, dict) else None
            if held != model_id:
                raise Unusable(f"it holds model {held!r}, not {model_id!r}")
            self.checked_model = model_id
        answer = await self._call({"op": "parse", "text": text})
        parse_data = answer.get("parse") if isinstance(answer, dict) else None
        if not (
            isinstance(parse_data, dict)
            and parse_data.get("text") == text
            and isinstance(parse_data.get("intent"), dict)
            and isinstance(parse_data.get("entities"), list)
        ):
            raise Unusable(f"its answer is not a parse of this message: {str(answer)[:200]!r}")
        if self.warned:
            # At the outage's level, so that wherever its start is logged its end is too.
            logger.warning("NLU server %s answers again: messages are parsed there again", self.path)
            self.warned = False
        return parse_data

    async def _call(self, request: dict[str, Any]) -> Any:
        idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        if idle:
            reader, writer = idle.pop()
        else:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(self.path), TIMEOUT_S)
        try:
            writer.write(frame(request))
            answer = await asyncio.wait_for(read_frame(reader), TIMEOUT_S)
        except BaseException:
            writer.close()  # a connection with a request in flight is never used again
            raise
        idle.append((reader, writer))
        return answer


def configured() -> NluServer | None:
    path = os.environ.get(SOCKET_ENV, "").strip()
    return NluServer(path) if path else None


def install() -> None:
    """Idempotent. With `NARA_NLU_SOCKET` set, the processor parses through the NLU server (and falls back to
    parsing in process); without it, nothing changes."""
    from rasa.core.processor import MessageProcessor

    with _install_lock:
        if getattr(MessageProcessor.parse_message, "nara_offload", False):
            return
        rasa_parse_message = MessageProcessor.parse_message

        @functools.wraps(rasa_parse_message)
        async def parse_message(
            self: MessageProcessor, message: Any, tracker: Any = None, only_output_properties: bool = True
        ) -> dict[str, Any]:
            server = self.__dict__.get("_nara_nlu_server", False)
            if server is False:
                server = self.__dict__["_nara_nlu_server"] = configured()
            if server is None or self.http_interpreter or not only_output_properties or not server.usable():
                return await rasa_parse_message(self, message, tracker, only_output_properties)
            try:
                parse_data = await server.parse(message.text, self.model_metadata.model_id)
            except Exception as error:  # noqa: BLE001 - any failure: parse here; the message is never lost
                server.failed(str(error) if isinstance(error, Unusable) else repr(error))
                return await rasa_parse_message(self, message, tracker, only_output_properties)
            # Rasa's own steps after a parse (its http_interpreter branch does the same).
            self._update_full_retrieval_intent(parse_data)
            self._check_for_unseen_features(parse_data)
            return parse_data

        parse_message.nara_offload = True  # type: ignore[attr-defined]
        MessageProcessor.parse_message = parse_message
