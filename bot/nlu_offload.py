"""The NLU pipeline on a second process: Rasa's own server for it (`POST /model/parse`, bot/nlu_server.py).

Why: a Rasa server runs everything of a message on one event loop, so it uses one core, and the NLU pipeline
is a third of its work (bench/README.md). On the 2-core machine Nära runs on, that core was the bottleneck
while the other one was half idle. With `NARA_NLU_URL` set (scripts/run sets it), the Rasa server sends each
message's text to an NLU server holding the same model and goes on with the answer; the NLU server parses
on the other core, in parallel with the Rasa server's dialogue work on other conversations.

It is an accelerator, never a dependency. Crisis detection is part of the NLU pipeline, so a message must
never go without it: whenever the NLU server cannot answer (not started yet, stopped, too slow, an error, an
answer that does not look like a parse of this text) or holds another model than this server's, the message
is parsed here, in process, exactly as without an NLU server, and the NLU server is asked again only after
`RETRY_S`. Rasa's own `nlu:` endpoint is not used: its client sends the token where Rasa's server does not
read it (every request fails with 401) and answers a failure with an empty intent, which would silently
skip crisis detection.

The parse is the same: the NLU server runs the same graph on the same text (no component of Nära's pipeline
reads the message's id, metadata or conversation; Rasa adds the id and metadata to the event itself), and
tests/bot/test_nlu_offload_model.py compares both parses on messages of every kind.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from typing import Any

import orjson

from bot import rasa_speedups

logger = logging.getLogger(__name__)

URL_ENV = "NARA_NLU_URL"
TOKEN_ENV = "NARA_NLU_TOKEN"  # defaults to RASA_AUTH_TOKEN: scripts/run starts both servers with it
TIMEOUT_S = 2.0  # a parse takes ~2-5 ms; past this the NLU server is stuck, and the message is parsed here
RETRY_S = 5.0  # after a failure, messages are parsed here for this long before the NLU server is asked again

_install_lock = threading.Lock()


class Unusable(Exception):
    """The NLU server's answer cannot be used for this message."""


class NluServer:
    """The NLU server of one Rasa server: where it is, whether it is usable now, and the parse it gives."""

    def __init__(self, url: str, token: str | None):
        import aiohttp
        from rasa.utils.endpoints import EndpointConfig
        from yarl import URL

        self.url = url.rstrip("/")
        self.endpoint = EndpointConfig(self.url)  # the key of the kept HTTP session (bot/rasa_speedups.py)
        query = {"token": token} if token else {}
        self.parse_url = URL(f"{self.url}/model/parse").with_query(query)  # built once, not per message
        self.status_url = URL(f"{self.url}/status").with_query(query)
        self.timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        self.down_until = 0.0  # time.monotonic() before which messages are parsed in process
        self.checked_model: str | None = None  # the model id the NLU server was found to hold
        self.warned = False

    def usable(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, why: str) -> None:
        self.down_until = time.monotonic() + RETRY_S
        self.checked_model = None  # after an outage the NLU server may have been restarted with another model
        if not self.warned:  # once per outage: under load a stopped NLU server would otherwise log every message
            logger.warning(
                "NLU server %s not used for %.0f s (%s): messages are parsed in this process", self.url, RETRY_S, why
            )
            self.warned = True

    async def parse(self, text: str, model_id: str | None) -> dict[str, Any]:
        if self.checked_model is None or self.checked_model != model_id:
            status = await self._request("GET", self.status_url)
            held = status.get("model_id") if isinstance(status, dict) else None
            if held != model_id:
                raise Unusable(f"it holds model {held!r}, not {model_id!r}")
            self.checked_model = model_id
        parse_data = await self._request("POST", self.parse_url, orjson.dumps({"text": text}))
        if not (
            isinstance(parse_data, dict)
            and parse_data.get("text") == text
            and isinstance(parse_data.get("intent"), dict)
            and isinstance(parse_data.get("entities"), list)
        ):
            raise Unusable("its answer is not a parse of this message")
        if self.warned:
            # At the outage's level, so that wherever its start is logged its end is too.
            logger.warning("NLU server %s answers again: messages are parsed there again", self.url)
            self.warned = False
        return parse_data

    async def _request(self, method: str, url: Any, body: bytes | None = None) -> Any:
        session = rasa_speedups.kept_session(self.endpoint).session
        async with session.request(method, url, data=body, headers=_JSON, timeout=self.timeout) as response:
            if response.status != 200:
                raise Unusable(f"HTTP {response.status}")
            return orjson.loads(await response.read())


_JSON = {"Content-Type": "application/json"}


def configured() -> NluServer | None:
    url = os.environ.get(URL_ENV, "").strip()
    if not url:
        return None
    return NluServer(url, os.environ.get(TOKEN_ENV) or os.environ.get("RASA_AUTH_TOKEN"))


def install() -> None:
    """Idempotent. With `NARA_NLU_URL` set, the processor parses through the NLU server (and falls back to
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
                server.failed(repr(error) if not isinstance(error, Unusable) else str(error))
                return await rasa_parse_message(self, message, tracker, only_output_properties)
            # Rasa's own steps after a parse (its http_interpreter branch does the same).
            self._update_full_retrieval_intent(parse_data)
            self._check_for_unseen_features(parse_data)
            return parse_data

        parse_message.nara_offload = True  # type: ignore[attr-defined]
        MessageProcessor.parse_message = parse_message
