"""Starts Nära exactly as `make run` does (scripts/run) and talks to it over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_URL = "http://127.0.0.1:5005"
ACTIONS_URL = "http://127.0.0.1:5055"
TOKEN = "e2e-" + uuid.uuid4().hex
START_TIMEOUT_S = 240


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _up(url: str) -> bool:
    try:
        return _get(url, timeout=2)[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def server():
    """The running bot: started by scripts/run, stopped (whole process group) after the session."""
    if _up(RASA_URL) or _up(ACTIONS_URL + "/health"):
        pytest.fail("ports 5005/5055 are busy: stop the running bot (make run) before the end-to-end tests")
    log = (ROOT / "build" / "e2e-run.log").open("w")
    env = {**os.environ, "RASA_AUTH_TOKEN": TOKEN, "NARA_DEMO_MODE": "1"}
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (_up(RASA_URL) and _up(ACTIONS_URL + "/health")):
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGTERM)
            pytest.fail(f"scripts/run did not come up; see {log.name}")
        time.sleep(1)
    yield RASA_URL
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


class Chat:
    """One anonymous conversation through the REST channel."""

    def __init__(self, base: str):
        self.base = base
        self.sender = uuid.uuid4().hex

    def say(self, text: str) -> list[dict[str, Any]]:
        body = json.dumps({"sender": self.sender, "message": text}).encode()
        request = urllib.request.Request(
            f"{self.base}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200
            return json.loads(response.read())

    def tracker(self) -> dict[str, Any]:
        status, body = _get(f"{self.base}/conversations/{self.sender}/tracker?token={TOKEN}")
        assert status == 200
        return json.loads(body)


@pytest.fixture
def chat(server) -> Chat:
    return Chat(server)


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies if r.get("text"))


def payloads(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r["custom"] for r in replies if r.get("custom")]
