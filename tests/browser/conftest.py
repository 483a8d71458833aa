"""Browser tests of the staff pages: the real app (`python -m bot.staff`) in a subprocess on a free
port, over a seeded temporary SQLite database, driven by Playwright through Debian's Chromium.

Never `playwright install`: the tests use /usr/bin/chromium (apt-get install chromium).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.store import db
from bot.store.handovers import create_handover
from bot.store.models import Role, Team
from bot.store.staff import add_staff

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "ett-långt-lösenord-123"
START_TIMEOUT_S = 30


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    if os.environ.get("NARA_REQUIRE_BROWSER") == "1":  # scripts/test installs Chromium: a skip would hide a gap
        raise pytest.UsageError(f"{CHROMIUM} is missing although NARA_REQUIRE_BROWSER=1")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install -y chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    db_url: str
    process: subprocess.Popen
    log: Path
    codes: dict[str, str] = field(default_factory=dict)

    def add_handover(self, team: str = "berga", **fields) -> str:
        values = {
            "summary": "Oro för dottern som inte vill gå till skolan.",
            "contact_method": "phone",
            "contact_value": "+46701112233",
            "district": "Berga",
            "topic": "school_absence",
            "preferred_time": "Efter lunch",
            "excerpt": "Invånare: Hon har varit hemma i två veckor.",
        }
        values.update(fields)
        with db.session(self.db_url) as s:
            return create_handover(s, team_id=team, **values).code


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("staff-browser")
    db_url = f"sqlite:///{folder / 'nara.db'}"
    db.upgrade(db_url)
    with db.session(db_url) as s:
        s.add_all([Team(id="berga", name="Områdesteam Berga"), Team(id="lambohov", name="Områdesteam Lambohov")])
    with db.session(db_url) as s:
        add_staff(s, "anna", team_id="berga", role=Role.social_worker, display_name="Anna Berg", password=PASSWORD)
        add_staff(s, "ada", team_id=None, role=Role.admin, display_name="Ada Admin", password=PASSWORD)
    port = free_port()
    env = {
        **os.environ,
        "NARA_DATABASE_URL": db_url,
        "NARA_STAFF_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("NARA_SMTP_HOST", None)
    env.pop("NARA_STAFF_INSECURE_COOKIES", None)  # Chromium keeps Secure cookies from http://127.0.0.1
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.staff", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _up(f"{url}/login"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the staff app did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    try:
        yield Server(url=url, db_url=db_url, process=process, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(chromium, server):
    """A factory for pages, each in its own browser context (its own cookies). Fails the test on any
    console error, which is where Chromium reports Content-Security-Policy violations."""
    contexts = []
    errors: list[str] = []

    def make():
        context = chromium.new_context(base_url=server.url, locale="sv-SE", timezone_id="Europe/Stockholm")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [], errors


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Logs in with the keyboard (no mouse): fill the fields and press Enter."""
    page.goto("/login")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_label("Lösenord").press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
