"""The NLU pipeline on a second process (bot/nlu_offload.py): the processor uses the NLU server's parse when
it is a parse of this message by this model, and parses in process in every other case, without losing the
message. Offline: a small aiohttp server plays the NLU server and a processor without a model asks it."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor

from bot import nlu_offload

MODEL_ID = "model-1"
TOKEN = "secret-token"


def _local_parse(text: str) -> dict[str, Any]:
    return {"text": text, "intent": {"name": "local", "confidence": 1.0}, "entities": [], "intent_ranking": []}


def _remote_parse(text: str) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": "parenting", "confidence": 0.9},
        "entities": [],
        "intent_ranking": [{"name": "parenting", "confidence": 0.9}],
    }


def _processor(monkeypatch: pytest.MonkeyPatch, url: str | None) -> MessageProcessor:
    """A processor without a model: its in-process parse is `_local_parse`, counted."""
    if url:
        monkeypatch.setenv(nlu_offload.URL_ENV, url)
    else:
        monkeypatch.delenv(nlu_offload.URL_ENV, raising=False)
    monkeypatch.setenv(nlu_offload.TOKEN_ENV, TOKEN)
    nlu_offload.install()
    processor = MessageProcessor.__new__(MessageProcessor)
    processor.http_interpreter = None
    processor.domain = None
    processor.model_metadata = SimpleNamespace(model_id=MODEL_ID)
    processor.local_parses = 0

    def parse_with_graph(message: UserMessage, tracker: Any, only_output_properties: bool = True) -> dict:
        processor.local_parses += 1
        return _local_parse(message.text)

    processor._parse_message_with_graph = parse_with_graph
    return processor


class FakeNluServer:
    """Rasa's /status and /model/parse, with the token check, and a way to misbehave."""

    def __init__(self) -> None:
        self.model_id = MODEL_ID
        self.mode = "ok"  # ok | error | wrong_text | not_json | slow
        self.parses = 0
        self.statuses = 0

    def _authorised(self, request: web.Request) -> None:
        if request.query.get("token") != TOKEN:
            raise web.HTTPUnauthorized()

    async def status(self, request: web.Request) -> web.Response:
        self._authorised(request)
        self.statuses += 1
        return web.json_response({"model_id": self.model_id, "model_file": "m.tar.gz"})

    async def parse(self, request: web.Request) -> web.Response:
        self._authorised(request)
        self.parses += 1
        text = (await request.json())["text"]
        if self.mode == "error":
            return web.json_response({"status": "failure"}, status=500)
        if self.mode == "not_json":
            return web.Response(text="<html>proxy error</html>")
        if self.mode == "slow":
            await asyncio.sleep(1.0)
        if self.mode == "wrong_text":
            text = "something else"
        return web.json_response(_remote_parse(text))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_with_server(test: Any) -> Any:
    """Runs `test(fake, url)` in an event loop with the fake NLU server listening."""

    async def go() -> Any:
        fake = FakeNluServer()
        app = web.Application()
        app.router.add_get("/status", fake.status)
        app.router.add_post("/model/parse", fake.parse)
        runner = web.AppRunner(app)
        await runner.setup()
        port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            return await test(fake, f"http://127.0.0.1:{port}")
        finally:
            from bot import rasa_speedups

            await rasa_speedups.close_sessions()
            await runner.cleanup()

    return asyncio.run(go())


def test_without_the_setting_the_processor_parses_in_process(monkeypatch):
    processor = _processor(monkeypatch, None)
    parse = asyncio.run(processor.parse_message(UserMessage("hej", sender_id="s")))
    assert parse == _local_parse("hej")
    assert processor.local_parses == 1


def test_the_nlu_servers_parse_is_used(monkeypatch):
    async def test(fake: FakeNluServer, url: str) -> None:
        processor = _processor(monkeypatch, url)
        parse = await processor.parse_message(UserMessage("min son skriker", sender_id="s"))
        assert parse == _remote_parse("min son skriker")
        assert processor.local_parses == 0
        await processor.parse_message(UserMessage("och nu?", sender_id="s"))
        assert (fake.parses, fake.statuses) == (2, 1)  # the model is checked once, not per message

    run_with_server(test)


@pytest.mark.parametrize("mode", ["error", "wrong_text", "not_json"])
def test_an_unusable_answer_means_the_message_is_parsed_here(monkeypatch, caplog, mode):
    async def test(fake: FakeNluServer, url: str) -> None:
        processor = _processor(monkeypatch, url)
        fake.mode = mode
        with caplog.at_level(logging.WARNING, logger="bot.nlu_offload"):
            parse = await processor.parse_message(UserMessage("jag vill inte leva", sender_id="s"))
            assert parse == _local_parse("jag vill inte leva")
            # Within RETRY_S the NLU server is not asked again, and the warning is not repeated.
            assert await processor.parse_message(UserMessage("hallå", sender_id="s")) == _local_parse("hallå")
        assert (fake.parses, processor.local_parses) == (1, 2)
        assert len([r for r in caplog.records if "not used" in r.getMessage()]) == 1

    run_with_server(test)


def test_a_server_with_another_model_is_not_used(monkeypatch):
    async def test(fake: FakeNluServer, url: str) -> None:
        processor = _processor(monkeypatch, url)
        fake.model_id = "an-older-model"
        assert await processor.parse_message(UserMessage("hej", sender_id="s")) == _local_parse("hej")
        assert (fake.statuses, fake.parses, processor.local_parses) == (1, 0, 1)

    run_with_server(test)


def test_a_slow_server_is_given_up_on_after_the_timeout(monkeypatch):
    monkeypatch.setattr(nlu_offload, "TIMEOUT_S", 0.2)

    async def test(fake: FakeNluServer, url: str) -> None:
        processor = _processor(monkeypatch, url)
        fake.mode = "slow"
        started = time.monotonic()
        assert await processor.parse_message(UserMessage("hej", sender_id="s")) == _local_parse("hej")
        assert time.monotonic() - started < 0.9  # the server would have answered after 1 s

    run_with_server(test)


def test_a_stopped_server_is_asked_again_after_the_retry_time(monkeypatch, caplog):
    monkeypatch.setattr(nlu_offload, "RETRY_S", 0.3)

    async def test(fake: FakeNluServer, url: str) -> None:
        processor = _processor(monkeypatch, f"http://127.0.0.1:{_free_port()}")  # nothing listens there
        with caplog.at_level(logging.WARNING, logger="bot.nlu_offload"):
            assert await processor.parse_message(UserMessage("hej", sender_id="s")) == _local_parse("hej")
            await asyncio.sleep(0.35)
            assert await processor.parse_message(UserMessage("hej", sender_id="s")) == _local_parse("hej")
            # The NLU server comes up (here: the fake one's address); until RETRY_S has passed it is not asked.
            server = processor.__dict__["_nara_nlu_server"]
            fresh = nlu_offload.NluServer(url, TOKEN)
            server.parse_url, server.status_url = fresh.parse_url, fresh.status_url
            assert (await processor.parse_message(UserMessage("igen", sender_id="s")))["intent"]["name"] == "local"
            await asyncio.sleep(0.35)
            assert (await processor.parse_message(UserMessage("igen", sender_id="s")))["intent"]["name"] == "parenting"
        logged = [r.getMessage() for r in caplog.records]
        assert len([m for m in logged if "not used" in m]) == 1  # one warning for the whole outage
        assert len([m for m in logged if "answers again" in m]) == 1

    run_with_server(test)


def test_after_an_outage_the_model_is_checked_again(monkeypatch):
    monkeypatch.setattr(nlu_offload, "RETRY_S", 0.1)

    async def test(fake: FakeNluServer, url: str) -> None:
        processor = _processor(monkeypatch, url)
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "parenting"
        fake.mode = "error"  # e.g. restarted, and while it restarts it fails
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "local"
        fake.mode, fake.model_id = "ok", "a-newer-model"  # it came back with another model
        await asyncio.sleep(0.15)
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "local"
        assert fake.statuses == 2

    run_with_server(test)


def test_when_this_servers_model_changes_the_nlu_servers_is_checked_again(monkeypatch):
    async def test(fake: FakeNluServer, url: str) -> None:
        processor = _processor(monkeypatch, url)
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "parenting"
        processor.model_metadata = SimpleNamespace(model_id="replaced-through-the-http-api")
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "local"
        assert fake.statuses == 2

    run_with_server(test)


def test_the_token_is_sent(monkeypatch):
    async def test(fake: FakeNluServer, url: str) -> None:
        processor = _processor(monkeypatch, url)
        processor.__dict__["_nara_nlu_server"] = nlu_offload.NluServer(url, "wrong")
        assert await processor.parse_message(UserMessage("hej", sender_id="s")) == _local_parse("hej")  # 401
        processor.__dict__["_nara_nlu_server"] = nlu_offload.NluServer(url, TOKEN)
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "parenting"

    run_with_server(test)


def test_install_is_idempotent():
    nlu_offload.install()
    first = MessageProcessor.parse_message
    nlu_offload.install()
    assert MessageProcessor.parse_message is first
