"""The NLU server (bot/nlu_server.py) with the trained model gives the Rasa server the same parse as parsing
in process, for messages of every kind: crisis, places, buttons, emoji, other languages, a personnummer."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage

from bot import nlu_offload, rasa_speedups
from bot.training import model_path
from tests.bot.test_rasa_speedups_model import MESSAGES

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "model-test-token"


@pytest.fixture(scope="module")
def nlu_server_url():
    path = model_path()
    if not path.exists():
        pytest.fail(f"no trained model at {path}: run scripts/train first")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (ROOT / "build" / "test-nlu-server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.nlu_server", "--model", str(path), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "NARA_NLU_TOKEN": TOKEN, "NARA_NLU_URL": "http://127.0.0.1:1"},  # it must not forward
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the NLU server did not start; see build/test-nlu-server.log")
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def agent() -> Agent:
    rasa_speedups.install()
    nlu_offload.install()
    return Agent.load(str(model_path()))


def test_the_nlu_server_parses_as_the_rasa_server_would(agent, nlu_server_url):
    processor = agent.processor

    async def both(text: str) -> tuple[dict, dict]:
        message = UserMessage(text, sender_id="offload", message_id="m-1", metadata={"k": "v"})
        processor.__dict__["_nara_nlu_server"] = None
        local = await processor.parse_message(message)
        server = processor.__dict__["_nara_nlu_server"] = nlu_offload.NluServer(nlu_server_url, TOKEN)
        remote = await processor.parse_message(message)
        assert server.usable() and server.checked_model == processor.model_metadata.model_id, text
        await rasa_speedups.close_sessions()
        return local, remote

    for text in MESSAGES + ["jag vill inte leva längre, jag har tabletter hemma", "x" * 1400]:
        local, remote = asyncio.run(both(text))
        # What the Rasa server keeps is JSON: the NLU server's answer is the local parse, as JSON.
        assert remote == json.loads(json.dumps(local)), text


def test_the_nlu_server_answers_only_with_the_token(nlu_server_url):
    def post(query: str) -> int:
        url = f"{nlu_server_url}/model/parse{query}"
        request = urllib.request.Request(url, data=b'{"text": "hej"}', headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    assert post("") == 401
    assert post("?token=guess") == 401
    assert post(f"?token={TOKEN}") == 200
