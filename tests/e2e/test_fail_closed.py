"""Fail closed, for real: a second Rasa server keeps its conversations in the PostgreSQL cluster that
scripts/test started; the test stops PostgreSQL in the middle of a conversation and starts it again.

While the database is down the resident gets the apology with the numbers that work without Nära and the
message is kept nowhere; when it is back, the same conversation goes on by itself, without a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid

import pytest
from sqlalchemy import create_engine, text

from bot.store import db
from tests.e2e.conftest import ROOT, payloads, texts

pytestmark = pytest.mark.e2e
PORT = 5006
URL = f"http://127.0.0.1:{PORT}"


def postgres(command: str) -> str:
    done = subprocess.run([str(ROOT / "scripts" / "postgres"), command], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def say(sender: str, message: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(
        f"{URL}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        return json.loads(response.read())


def stored_texts(url: str, sender: str) -> list[str]:
    engine = create_engine(url, future=True)
    with engine.connect() as c:
        rows = c.execute(
            text("SELECT data FROM conversation_events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
            {"s": sender},
        ).all()
    engine.dispose()
    return [json.loads(row[0])["text"] for row in rows]


@pytest.fixture(scope="module")
def rasa_on_postgres(server, tmp_path_factory):
    """A Rasa server (beside the one `make run` started, sharing its action server) on PostgreSQL."""
    base = os.environ.get("NARA_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("needs the PostgreSQL cluster scripts/test starts (NARA_TEST_POSTGRES_URL)")
    name = f"nara_failclosed_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base.rsplit("/", 1)[0] + "/" + name
    db.upgrade(url)
    db.engine(url).dispose()
    model = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "nara"), "model-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    log = (ROOT / "build" / "e2e-failclosed.log").open("w")
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "rasa"),
            "run",
            "--model",
            model,
            "--port",
            str(PORT),
            "--interface",
            "127.0.0.1",
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            "credentials.yml",
        ],
        cwd=ROOT,
        env={**os.environ, "NARA_DATABASE_URL": url},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(URL + "/", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGTERM)
                pytest.fail("the Rasa server on PostgreSQL did not come up; see build/e2e-failclosed.log")
            time.sleep(1)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    log.close()
    postgres("start")  # whatever happened, leave the cluster running for the rest of the suite


def test_a_conversation_survives_postgresql_going_away_and_coming_back(rasa_on_postgres):
    url, sender = rasa_on_postgres, uuid.uuid4().hex
    first = say(sender, "min son vill inte gå till skolan")
    assert any("article" in p for p in payloads(first))
    assert "Ryd" in texts(say(sender, "jag bor i Ryd"))

    postgres("stop")
    try:
        down = say(sender, "vad gör jag nu?")
        assert [p.get("notice") for p in payloads(down)] == ["channel_store_unavailable"]
        apology = texts(down)
        assert "112" in apology and "90101" in apology and "inte sparats" in apology
        assert texts(down).startswith("Förlåt")  # the apology alone, nothing half-answered
    finally:
        postgres("start")

    # Back by itself: the same conversation, remembering the place from before the outage.
    deadline = time.monotonic() + 30
    while True:
        replies = say(sender, "när har ni öppet?")
        if (
            not any(p.get("notice") == "channel_store_unavailable" for p in payloads(replies))
            or time.monotonic() > deadline
        ):
            break
        time.sleep(1)
    assert not any(p.get("notice") for p in payloads(replies))
    assert "Ryd" in texts(replies)
    # What was written while the database was down was kept nowhere.
    assert stored_texts(url, sender) == ["min son vill inte gå till skolan", "jag bor i Ryd", "när har ni öppet?"]
