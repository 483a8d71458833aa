"""The production shape, for real: `scripts/cluster` (what `make cluster` runs) with PostgreSQL, Redis, two Rasa
servers and two action servers behind nginx, all from Debian's packages on loopback.

- Turns of one conversation that alternate between the two Rasa servers keep its state and its order.
- Killing one Rasa server in the middle of a conversation loses no message: nginx sends the next turns to the other.
- Two messages of one conversation sent at the same moment to the two servers are handled one after the other
  (Redis's lock), both kept, each turn whole.
- A slow action cannot let two turns of one conversation run at once: a third Rasa server whose action server
  answers slowly finishes (or gives up on) one turn before the next one starts (bot/limits.py); that an unsafe
  lock stops Rasa from starting is tests/bot/test_cluster_config.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import running

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
DIR = ROOT / "build" / "cluster-test"
PUBLIC = 8080
RASA_PORTS = (5101, 5102)
START_TIMEOUT_S = 300


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def post(base: str, sender: str, message: str, timeout: float = 60) -> list[dict[str, Any]]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(
        f"{base}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        assert response.status == 200
        return json.loads(response.read())


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies if r.get("text"))


def events(db_url: str, sender: str) -> list[dict[str, Any]]:
    engine = create_engine(db_url, future=True)
    with engine.connect() as c:
        rows = c.execute(
            text("SELECT data FROM conversation_events WHERE sender_id = :s ORDER BY id"), {"s": sender}
        ).all()
    engine.dispose()
    return [json.loads(row[0]) for row in rows]


def user_texts(db_url: str, sender: str) -> list[str]:
    return [e["text"] for e in events(db_url, sender) if e["event"] == "user"]


def assert_whole_turns(db_url: str, sender: str) -> None:
    """Every user message is followed by its turn, ending in action_listen, before the next user message."""
    kinds = [(e["event"], e.get("name")) for e in events(db_url, sender) if e["event"] in ("user", "action")]
    listening = True
    for kind, name in kinds:
        if kind == "user":
            assert listening, f"a user message arrived in the middle of a turn: {kinds}"
            listening = False
        elif name == "action_listen":
            listening = True
    assert listening, f"the last turn never ended: {kinds}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, Any]]:
    ready = [f"http://127.0.0.1:{port}/" for port in (*RASA_PORTS, PUBLIC)]
    if any(_up(url) for url in ready):
        pytest.fail(f"ports {PUBLIC}/{RASA_PORTS} are busy: stop the running cluster first")
    DIR.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "NARA_CLUSTER_DIR": str(DIR),
        "NARA_RASA_INSTANCES": "2",
        "NARA_CLUSTER_PORT": str(PUBLIC),
        "RASA_AUTH_TOKEN": "-cluster-" + uuid.uuid4().hex,  # a leading "-", as in tests/e2e/conftest.py
    }
    with running(
        [str(ROOT / "scripts" / "cluster")], env, ready, DIR / "cluster.log", "scripts/cluster", START_TIMEOUT_S
    ):
        base = (
            os.environ.get("NARA_TEST_POSTGRES_URL")
            or subprocess.run(
                [str(ROOT / "scripts" / "postgres"), "start"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        yield {"db": base.rsplit("/", 1)[0] + "/nara", "public": f"http://127.0.0.1:{PUBLIC}"}


def rasa(i: int) -> str:
    return f"http://127.0.0.1:{RASA_PORTS[i]}"


def test_the_cluster_serves_the_chat_the_web_page_and_the_staff_app_through_nginx(cluster):
    public = cluster["public"]
    assert "article" in json.dumps(post(public, uuid.uuid4().hex, "min son vill inte gå till skolan"))
    with urllib.request.urlopen(public + "/widget/config.json", timeout=5) as response:
        assert json.loads(response.read())["chat_url"] == public
    assert _up(f"http://127.0.0.1:{PUBLIC + 1}/login")
    config = (DIR / "endpoints.yml").read_text()
    assert "bot.lock_store.NaraRedisLockStore" in config and "bot.tracker_store.NaraTrackerStore" in config


def test_turns_alternating_between_two_servers_keep_state_and_order(cluster):
    sender = uuid.uuid4().hex
    turns = [
        "min dotter på 14 är så ensam, hon har inga kompisar",
        "/request_contact",
        "/affirm",
        "Skäggetorp",
        "Jag kommer till drop-in",
        "/affirm",
    ]
    replies = [post(rasa(i % 2), sender, message) for i, message in enumerate(turns)]
    # The form went on across servers: each step saw what the other server had stored.
    assert "Var bor du?" in texts(replies[2])
    assert "Hur vill du att vi når dig?" in texts(replies[3])
    done = [r["custom"]["handover"] for r in replies[5] if "handover" in r.get("custom", {})]
    assert len(done) == 1 and done[0]["team"]
    assert user_texts(cluster["db"], sender) == turns
    assert_whole_turns(cluster["db"], sender)


def send_together(targets: list[str], sender: str, messages: list[str]) -> list[list[dict[str, Any]]]:
    """Sends each message to its server at the same moment (a barrier releases both threads together)."""
    start = threading.Barrier(len(messages))

    def send(i: int) -> list[dict[str, Any]]:
        start.wait()
        return post(targets[i], sender, messages[i])

    with ThreadPoolExecutor(len(messages)) as pool:
        return list(pool.map(send, range(len(messages))))


def test_two_messages_at_once_to_two_servers_are_handled_one_after_the_other(cluster):
    for _ in range(3):
        sender = uuid.uuid4().hex
        post(rasa(0), sender, "hej")
        messages = ["min son skolkar från skolan", "jag bor i Ryd"]
        answers = send_together([rasa(0), rasa(1)], sender, messages)
        assert all(texts(a) for a in answers)
        stored = user_texts(cluster["db"], sender)
        assert stored[0] == "hej" and sorted(stored[1:]) == sorted(messages)
        assert_whole_turns(cluster["db"], sender)


def test_killing_a_server_mid_conversation_loses_no_message(cluster):
    sender, public = uuid.uuid4().hex, cluster["public"]
    said = ["jag känner mig ensam på kvällarna", "jag bor i Berga"]
    for message in said:
        assert texts(post(public, sender, message))
    pid = int((DIR / "rasa-1.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _up(rasa(0) + "/") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _up(rasa(0) + "/")
    more = ["när har ni öppet?", "kan någon ringa mig?", "avbryt", "tack"]
    for message in more:  # every one answered, by the server that is left
        assert texts(post(public, sender, message)), message
    said += more
    assert user_texts(cluster["db"], sender) == said
    assert_whole_turns(cluster["db"], sender)


# --- a slow action ---------------------------------------------------------------------------------------------------


class SlowActions:
    """An action server that takes its time: every call is recorded with the message it belongs to."""

    def __init__(self, delay: float):
        self.calls: list[tuple[str, str, float]] = []  # (message, action, when the call came)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server hook's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                action = body.get("next_action", "")
                message = (body.get("tracker", {}).get("latest_message") or {}).get("text", "")
                outer.calls.append((message, action, time.monotonic()))  # when the call came, before the wait
                if action != "action_session_start":
                    time.sleep(delay)
                answer = json.dumps({"events": [], "responses": [{"text": "svar"}]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # Rasa gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_rasa(endpoints: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    model = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "nara"), "model-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "rasa"),
            "run",
            "--model",
            model,
            "--port",
            str(port),
            "--interface",
            "127.0.0.1",
            "--endpoints",
            str(endpoints),
            "--credentials",
            "credentials.yml",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


LONELY = "jag känner mig ensam på kvällarna"  # a topic question: the article comes from the (slow) action server


def test_a_slow_action_cannot_let_two_turns_of_one_conversation_run_at_once(cluster):
    slow = SlowActions(delay=3.0)
    endpoints = DIR / "endpoints-slow.yml"
    endpoints.write_text(
        (DIR / "endpoints.yml")
        .read_text()
        .replace(
            next(line for line in (DIR / "endpoints.yml").read_text().splitlines() if 'url: "http' in line),
            f'  url: "http://127.0.0.1:{slow.port}/webhook"',
        )
    )
    port = _free_port()
    # The lock lasts 4 s; each action may take 0.3 s, at most 10 actions a turn: 3 s < 4 s.
    env = {"NARA_DATABASE_URL": cluster["db"], "TICKET_LOCK_LIFETIME": "4", "NARA_ACTION_TIMEOUT_SECONDS": "0.3"}
    process = _start_rasa(endpoints, port, env, DIR / "rasa-slow.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not _up(base + "/"):
            assert process.poll() is None and time.monotonic() < deadline, "the slow Rasa server did not start"
            time.sleep(1)
        sender = uuid.uuid4().hex
        finished: dict[str, float] = {}

        def send(message: str, after: float) -> None:
            time.sleep(after)
            post(base, sender, message, timeout=60)
            finished[message] = time.monotonic()

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda args: send(*args), [("min son vill inte gå till skolan", 0), (LONELY, 0.2)]))
        first, second = "min son vill inte gå till skolan", LONELY
        first_calls = [started for message, _, started in slow.calls if message == first]
        second_calls = [started for message, _, started in slow.calls if message == second]
        assert first_calls, "the first turn never reached the action server"
        assert finished[first] < finished[second]
        # Every call the server made for the second message came after the first turn was over.
        assert second_calls and min(second_calls) >= finished[first] - 0.05
        assert user_texts(cluster["db"], sender) == [first, second]
        assert_whole_turns(cluster["db"], sender)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        slow.server.shutdown()
