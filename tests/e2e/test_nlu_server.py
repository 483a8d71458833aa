"""The NLU server that scripts/run starts beside the Rasa server (bot/nlu_offload.py) is an accelerator, never a
dependency: stopped in the middle of a conversation, the next message, a crisis, is parsed by the Rasa server
itself and gets the crisis reply; started again, it is used again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import nlu_offload
from bot.training import model_path
from tests.e2e.conftest import NLU_SOCKET, ROOT, payloads, texts

pytestmark = pytest.mark.e2e
RUN_LOG = ROOT / "build" / "e2e-run.log"


def nlu_server_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"bot.nlu_server" in argv and str(NLU_SOCKET).encode() in argv:
            pids.append(int(proc.name))
    return pids


def wait_for(condition, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


class NluServerControl:
    """Stops the NLU server scripts/run started, and starts a new one on its port (stopped after the test)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def stop(self) -> None:
        [pid] = nlu_server_pids()
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: nlu_offload.answers(str(NLU_SOCKET)) is None, "the NLU server to stop", timeout=30)

    def start(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.nlu_server", "--model", str(model_path()), "--socket", str(NLU_SOCKET)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.started.append(process)
        wait_for(lambda: nlu_offload.answers(str(NLU_SOCKET)) is not None, "the NLU server to start")


@pytest.fixture
def nlu_server(server):
    control = NluServerControl()
    yield control
    for process in control.started:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def logged_since(start: int) -> str:
    return RUN_LOG.read_text(errors="replace")[start:]


def test_a_crisis_is_recognised_while_the_nlu_server_is_down_and_it_is_used_again_after(chat, nlu_server):
    assert texts(chat.say("min son vill inte gå till skolan"))
    start = len(RUN_LOG.read_text(errors="replace"))
    nlu_server.stop()
    replies = chat.say("jag vill inte leva längre")
    assert payloads(replies) == [{"crisis": "suicide_self_harm"}]  # parsed by the Rasa server itself
    assert "90101" in texts(replies)
    assert "not used" in logged_since(start)
    assert chat.tracker()["slots"]["in_crisis"] == "suicide_self_harm"

    nlu_server.start()
    deadline = time.monotonic() + 60  # the Rasa server asks it again RETRY_S (5 s) after the failure
    while "answers again" not in logged_since(start):
        if time.monotonic() > deadline:
            pytest.fail("the Rasa server did not use the restarted NLU server; see build/e2e-run.log")
        assert texts(chat.say("hur kan jag prata med en socialarbetare?"))
        time.sleep(1)
    events = [e for e in chat.tracker()["events"] if e["event"] == "user"]
    assert [e["text"] for e in events][:2] == ["min son vill inte gå till skolan", "jag vill inte leva längre"]
