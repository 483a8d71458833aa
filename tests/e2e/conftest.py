"""Starts Nära exactly as `make run` does (scripts/run) and talks to it over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import nlu_offload
from bot.store import db

ROOT = Path(__file__).resolve().parents[2]
RASA_URL = "http://127.0.0.1:5005"
ACTIONS_URL = "http://127.0.0.1:5055"
STAFF_URL = "http://127.0.0.1:8001"
WEB_URL = "http://127.0.0.1:8000"
E2E_DIR = ROOT / "build" / "e2e"
DATABASE_URL = f"sqlite:///{E2E_DIR / 'nara.db'}"
NLU_SOCKET = E2E_DIR / "nlu.sock"
# A leading "-", as secrets.token_urlsafe gives one run in 64: the scripts must pass it as --auth-token=…
# (CI once failed because `--auth-token "$TOKEN"` read it as an option).
TOKEN = "-e2e-" + uuid.uuid4().hex
START_TIMEOUT_S = 240


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _up(url: str | Path) -> bool:
    """A URL answers 200, or (a path) the NLU server answers on that socket."""
    if isinstance(url, Path):
        return nlu_offload.answers(str(url)) is not None
    try:
        return _get(url, timeout=2)[0] == 200
    except OSError:
        return False


class Mailbox:
    """A local debugging SMTP server (aiosmtpd): the team notifications the bot sends."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
                outer.messages.append(envelope)
                return "250 OK"

        with socket.socket() as probe:  # a free port (aiosmtpd's start-up check cannot use port 0)
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


@pytest.fixture(scope="session")
def mailbox():
    box = Mailbox()
    yield box
    box.controller.stop()


@contextlib.contextmanager
def running(
    command: list[str], env: dict[str, str], ready: list[str | Path], log_path: Path, what: str, timeout: float = 0
) -> Iterator[None]:
    """Starts `command` in its own process group, waits until every URL in `ready` answers 200, and stops the
    whole group afterwards (SIGTERM, then SIGKILL after 30 s)."""
    log = log_path.open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + (timeout or START_TIMEOUT_S)
        while not all(_up(url) for url in ready):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not come up; see {log_path}")
            time.sleep(1)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@contextlib.contextmanager
def running_nara(extra_env: dict[str, str], log_name: str = "e2e-run.log") -> Iterator[None]:
    """Nära as `make run` starts it (scripts/run: Rasa, actions, staff app, web app), on a fresh database."""
    # The NLU server too, so that the tests go through it (bot/nlu_offload.py), as residents' messages do.
    ready = [RASA_URL, ACTIONS_URL + "/health", NLU_SOCKET, STAFF_URL + "/login", WEB_URL + "/"]
    if any(_up(url) for url in ready):
        pytest.fail("ports 5005/5055/8000/8001 are busy: stop the running bot (make run) before the e2e tests")
    E2E_DIR.mkdir(parents=True, exist_ok=True)
    db.remove_sqlite_database(E2E_DIR / "nara.db")
    env = {
        **os.environ,
        "RASA_AUTH_TOKEN": TOKEN,
        "NARA_DEMO_MODE": "1",
        "NARA_DATABASE_URL": DATABASE_URL,
        "NARA_STAFF_BASE_URL": STAFF_URL,
        "NARA_NLU_SOCKET": str(NLU_SOCKET),
        **extra_env,
    }
    with running([str(ROOT / "scripts" / "run")], env, ready, ROOT / "build" / log_name, "scripts/run"):
        yield


@pytest.fixture(scope="session")
def server(mailbox):
    """The running bot, staff app and web app: started by scripts/run, stopped after the session."""
    with running_nara({"NARA_SMTP_HOST": "127.0.0.1", "NARA_SMTP_PORT": str(mailbox.port)}):
        yield RASA_URL


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
