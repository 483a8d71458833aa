"""The NLU server (bot/nlu_server.py) with the trained model gives the Rasa server the same parse as parsing
in process, for messages of every kind: crisis, places, buttons, emoji, other languages, a personnummer."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage

from bot import nlu_offload, rasa_speedups
from bot.training import model_path
from tests.bot.test_rasa_speedups_model import MESSAGES

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nlu_socket(tmp_path_factory):
    path = model_path()
    if not path.exists():
        pytest.fail(f"no trained model at {path}: run scripts/train first")
    sock = tmp_path_factory.mktemp("nlu") / "nlu.sock"
    log = (ROOT / "build" / "test-nlu-server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.nlu_server", "--model", str(path), "--socket", str(sock)],
        cwd=ROOT,
        env={**os.environ, "NARA_NLU_SOCKET": str(sock)},  # it must not forward to itself
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 240
    while nlu_offload.answers(str(sock)) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail("the NLU server did not start; see build/test-nlu-server.log")
        time.sleep(0.5)
    yield str(sock)
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def agent() -> Agent:
    rasa_speedups.install()
    nlu_offload.install()
    return Agent.load(str(model_path()))


def test_the_nlu_server_parses_as_the_rasa_server_would(agent, nlu_socket):
    processor = agent.processor

    async def both(text: str) -> tuple[dict, dict]:
        message = UserMessage(text, sender_id="offload", message_id="m-1", metadata={"k": "v"})
        processor.__dict__["_nara_nlu_server"] = None
        local = await processor.parse_message(message)
        server = processor.__dict__["_nara_nlu_server"] = nlu_offload.NluServer(nlu_socket)
        remote = await processor.parse_message(message)
        assert server.usable() and server.checked_model == processor.model_metadata.model_id, text
        return local, remote

    for text in MESSAGES + ["jag vill inte leva längre, jag har tabletter hemma", "x" * 1400]:
        local, remote = asyncio.run(both(text))
        # What the Rasa server keeps is JSON: the NLU server's answer is the local parse, as JSON.
        assert remote == json.loads(json.dumps(local)), text


def test_the_nlu_server_holds_the_model_of_the_rasa_server(agent, nlu_socket):
    assert nlu_offload.answers(nlu_socket) == agent.processor.model_metadata.model_id
