"""The NLU pipeline on a second process (bot/nlu_offload.py): the processor uses the NLU server's parse when
it is a parse of this message by this model, and parses in process in every other case, without losing the
message. Offline: a small Unix socket server plays the NLU server and a processor without a model asks it."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor

from bot import nlu_offload

MODEL_ID = "model-1"


def _local_parse(text: str) -> dict[str, Any]:
    return {"text": text, "intent": {"name": "local", "confidence": 1.0}, "entities": [], "intent_ranking": []}


def _remote_parse(text: str) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": "parenting", "confidence": 0.9},
        "entities": [],
        "intent_ranking": [{"name": "parenting", "confidence": 0.9}],
    }


def _processor(monkeypatch: pytest.MonkeyPatch, path: str | None) -> MessageProcessor:
    """A processor without a model: its in-process parse is `_local_parse`, counted."""
    if path:
        monkeypatch.setenv(nlu_offload.SOCKET_ENV, path)
    else:
        monkeypatch.delenv(nlu_offload.SOCKET_ENV, raising=False)
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
    """The NLU server's two requests on a Unix socket, and ways to misbehave."""

    def __init__(self) -> None:
        self.model_id = MODEL_ID
        self.mode = "ok"  # ok | error | wrong_text | not_json | slow | hang_up
        self.parses = 0
        self.statuses = 0
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request = await nlu_offload.read_frame(reader)
                if request["op"] == "status":
                    self.statuses += 1
                    writer.write(nlu_offload.frame({"model_id": self.model_id}))
                    continue
                self.parses += 1
                text = request["text"]
                if self.mode == "hang_up":
                    break
                if self.mode == "not_json":
                    writer.write(struct.pack("!I", 9) + b"<html>no!")
                    continue
                if self.mode == "slow":
                    await asyncio.sleep(1.0)
                if self.mode == "error":
                    writer.write(nlu_offload.frame({"error": "ValueError"}))
                    continue
                answer = _remote_parse("something else" if self.mode == "wrong_text" else text)
                writer.write(nlu_offload.frame({"parse": answer}))
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


def run_with_server(test: Any, tmp_path: Path) -> Any:
    """Runs `test(fake, path)` in an event loop with the fake NLU server listening on `path`."""

    async def go() -> Any:
        fake = FakeNluServer()
        path = str(tmp_path / "nlu.sock")
        server = await asyncio.start_unix_server(fake.handle, path)
        try:
            return await test(fake, path)
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(go())


def test_without_the_setting_the_processor_parses_in_process(monkeypatch):
    processor = _processor(monkeypatch, None)
    parse = asyncio.run(processor.parse_message(UserMessage("hej", sender_id="s")))
    assert parse == _local_parse("hej")
    assert processor.local_parses == 1


def test_the_nlu_servers_parse_is_used(monkeypatch, tmp_path):
    async def test(fake: FakeNluServer, path: str) -> None:
        processor = _processor(monkeypatch, path)
        parse = await processor.parse_message(UserMessage("min son skriker", sender_id="s"))
        assert parse == _remote_parse("min son skriker")
        assert processor.local_parses == 0
        await processor.parse_message(UserMessage("och nu?", sender_id="s"))
        assert (fake.parses, fake.statuses) == (2, 1)  # the model is checked once, not per message

    run_with_server(test, tmp_path)


@pytest.mark.parametrize("mode", ["error", "wrong_text", "not_json", "hang_up"])
def test_an_unusable_answer_means_the_message_is_parsed_here(monkeypatch, caplog, mode, tmp_path):
    async def test(fake: FakeNluServer, path: str) -> None:
        processor = _processor(monkeypatch, path)
        fake.mode = mode
        with caplog.at_level(logging.WARNING, logger="bot.nlu_offload"):
            parse = await processor.parse_message(UserMessage("jag vill inte leva", sender_id="s"))
            assert parse == _local_parse("jag vill inte leva")
            # Within RETRY_S the NLU server is not asked again, and the warning is not repeated.
            assert await processor.parse_message(UserMessage("hallå", sender_id="s")) == _local_parse("hallå")
        assert (fake.parses, processor.local_parses) == (1, 2)
        assert len([r for r in caplog.records if "not used" in r.getMessage()]) == 1

    run_with_server(test, tmp_path)


def test_a_server_with_another_model_is_not_used(monkeypatch, tmp_path):
    async def test(fake: FakeNluServer, path: str) -> None:
        processor = _processor(monkeypatch, path)
        fake.model_id = "an-older-model"
        assert await processor.parse_message(UserMessage("hej", sender_id="s")) == _local_parse("hej")
        assert (fake.statuses, fake.parses, processor.local_parses) == (1, 0, 1)

    run_with_server(test, tmp_path)


def test_a_slow_server_is_given_up_on_after_the_timeout(monkeypatch, tmp_path):
    monkeypatch.setattr(nlu_offload, "TIMEOUT_S", 0.2)

    async def test(fake: FakeNluServer, path: str) -> None:
        processor = _processor(monkeypatch, path)
        fake.mode = "slow"
        started = time.monotonic()
        assert await processor.parse_message(UserMessage("hej", sender_id="s")) == _local_parse("hej")
        assert time.monotonic() - started < 0.9  # the server would have answered after 1 s

    run_with_server(test, tmp_path)


def test_connections_are_kept_but_never_one_with_an_answer_still_coming(monkeypatch, tmp_path):
    monkeypatch.setattr(nlu_offload, "TIMEOUT_S", 0.2)
    monkeypatch.setattr(nlu_offload, "RETRY_S", 0.1)

    async def test(fake: FakeNluServer, path: str) -> None:
        processor = _processor(monkeypatch, path)
        for text in ("ett", "två", "tre"):
            assert (await processor.parse_message(UserMessage(text, sender_id="s")))["text"] == text
        assert fake.connections == 1  # one connection for the status and three parses
        fake.mode = "slow"
        assert await processor.parse_message(UserMessage("fyra", sender_id="s")) == _local_parse("fyra")
        fake.mode = "ok"
        await asyncio.sleep(1.0)  # the slow answer to "fyra" has been sent on the old connection by now
        assert await processor.parse_message(UserMessage("fem", sender_id="s")) == _remote_parse("fem")
        assert fake.connections == 2

    run_with_server(test, tmp_path)


def test_a_stopped_server_is_asked_again_after_the_retry_time(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(nlu_offload, "RETRY_S", 0.3)

    async def test(fake: FakeNluServer, path: str) -> None:
        processor = _processor(monkeypatch, str(tmp_path / "nothing-listens-here.sock"))
        with caplog.at_level(logging.WARNING, logger="bot.nlu_offload"):
            assert await processor.parse_message(UserMessage("hej", sender_id="s")) == _local_parse("hej")
            await asyncio.sleep(0.35)
            assert await processor.parse_message(UserMessage("hej", sender_id="s")) == _local_parse("hej")
            # The NLU server comes up (here: the fake one's socket); until RETRY_S has passed it is not asked.
            processor.__dict__["_nara_nlu_server"].path = path
            assert (await processor.parse_message(UserMessage("igen", sender_id="s")))["intent"]["name"] == "local"
            await asyncio.sleep(0.35)
            assert (await processor.parse_message(UserMessage("igen", sender_id="s")))["intent"]["name"] == "parenting"
        logged = [r.getMessage() for r in caplog.records]
        assert len([m for m in logged if "not used" in m]) == 1  # one warning for the whole outage
        assert len([m for m in logged if "answers again" in m]) == 1

    run_with_server(test, tmp_path)


def test_after_an_outage_the_model_is_checked_again(monkeypatch, tmp_path):
    monkeypatch.setattr(nlu_offload, "RETRY_S", 0.1)

    async def test(fake: FakeNluServer, path: str) -> None:
        processor = _processor(monkeypatch, path)
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "parenting"
        fake.mode = "error"  # e.g. restarted, and while it restarts it fails
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "local"
        fake.mode, fake.model_id = "ok", "a-newer-model"  # it came back with another model
        await asyncio.sleep(0.15)
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "local"
        assert fake.statuses == 2

    run_with_server(test, tmp_path)


def test_when_this_servers_model_changes_the_nlu_servers_is_checked_again(monkeypatch, tmp_path):
    async def test(fake: FakeNluServer, path: str) -> None:
        processor = _processor(monkeypatch, path)
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "parenting"
        processor.model_metadata = SimpleNamespace(model_id="replaced-through-the-http-api")
        assert (await processor.parse_message(UserMessage("hej", sender_id="s")))["intent"]["name"] == "local"
        assert fake.statuses == 2

    run_with_server(test, tmp_path)


def test_the_nlu_server_answers_on_a_socket_only_its_owner_may_use(tmp_path):
    from bot import nlu_server

    class Processor:
        async def parse_message(self, message: UserMessage) -> dict[str, Any]:
            if message.text == "boom":
                raise ValueError("a component failed")
            return _remote_parse(message.text)

    agent = SimpleNamespace(model_id=MODEL_ID, processor=Processor())
    path = tmp_path / "run" / "nlu.sock"
    path.parent.mkdir()
    path.write_text("left by a server that was killed")

    async def go() -> None:
        async with await nlu_server.listen(agent, path):
            assert path.stat().st_mode & 0o777 == 0o600
            assert await asyncio.to_thread(nlu_offload.answers, str(path)) == MODEL_ID
            reader, writer = await asyncio.open_unix_connection(str(path))
            for request, answer in [
                ({"op": "parse", "text": "hej"}, {"parse": _remote_parse("hej")}),
                ({"op": "parse", "text": "¤ "}, {"parse": _remote_parse("¤ ")}),  # not stripped: the text as sent
                ({"op": "parse", "text": "boom"}, {"error": "ValueError"}),
                ({"op": "parse"}, {"error": "unknown request"}),
                ({"op": "drop tables"}, {"error": "unknown request"}),
                (b'{"op": "parse", "text": "\\ud83d"}', {"error": "unknown request"}),  # orjson reads no lone surrogate
                ({"op": "parse", "text": "igen"}, {"parse": _remote_parse("igen")}),  # the same connection
            ]:
                if isinstance(request, bytes):  # a frame as json.dumps writes what orjson cannot
                    writer.write(len(request).to_bytes(4, "big") + request)
                else:
                    writer.write(nlu_offload.frame(request))
                assert await nlu_offload.read_frame(reader) == answer
            writer.close()

    asyncio.run(go())


def test_install_is_idempotent():
    nlu_offload.install()
    first = MessageProcessor.parse_message
    nlu_offload.install()
    assert MessageProcessor.parse_message is first
