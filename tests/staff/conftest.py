"""Fixtures for the staff web pages: a fresh migrated SQLite database per test (copied from one
seeded template, so that the argon2 hashing of the accounts happens once per run), the app, and
`Client`, a browser-like test client with its own cookies."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from html import unescape

import pytest
from sanic_testing.testing import SanicASGITestClient, TestingResponse

from bot.staff.app import create_app
from bot.store import db
from bot.store.handovers import create_handover
from bot.store.models import Role, Team
from bot.store.staff import add_staff

PASSWORD = "ett-långt-lösenord-123"
# username: (team, role, display name)
PEOPLE = {
    "anna": ("berga", Role.social_worker, "Anna Berg"),
    "bo": ("berga", Role.social_worker, "Bo Ek"),
    "lena": ("berga", Role.team_lead, "Lena Lind"),
    "lisa": ("lambohov", Role.social_worker, "Lisa Holm"),
    "ada": (None, Role.admin, "Ada Admin"),
}
BASE_URL = "https://nara.example"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("staff-template") / "nara.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    with db.session(url) as s:
        s.add_all([Team(id="berga", name="Områdesteam Berga"), Team(id="lambohov", name="Områdesteam Lambohov")])
    with db.session(url) as s:
        for username, (team, role, name) in PEOPLE.items():
            add_staff(s, username, team_id=team, role=role, display_name=name, password=PASSWORD)
    db.engine(url).dispose()
    return path


@pytest.fixture
def db_url(template_db, tmp_path):
    path = tmp_path / "nara.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(db_url):
    return create_app(db_url, base_url=BASE_URL, secure_cookies=True)


def make_handover(db_url: str, team: str = "berga", **fields) -> str:
    """A handover as the bot would create it; returns its code."""
    values = {
        "summary": "Oro för sonen som inte har gått till skolan på tre veckor.",
        "contact_method": "phone",
        "contact_value": "+46701234567",
        "district": "Berga" if team == "berga" else "Lambohov",
        "topic": "school_absence",
        "excerpt": "Invånare: Min son vill inte gå till skolan.\nNära: Vill du att någon ringer upp?",
        "preferred_time": "Förmiddag",
    }
    values.update(fields)
    with db.session(db_url) as s:
        return create_handover(s, team_id=team, **values).code


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return unescape(found.group(1))


class Client:
    """One browser: its own cookie jar, talking https so that Secure cookies come back."""

    BASE = "https://mockserver:1234"

    def __init__(self, app):
        self.http = SanicASGITestClient(app, base_url=self.BASE)
        self.csrf: str | None = None

    async def get(self, path: str, **kwargs) -> TestingResponse:
        kwargs.setdefault("allow_redirects", False)
        _, response = await self.http.get(self.BASE + path, **kwargs)
        return response

    async def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kwargs):
        form = dict(data or {})
        if csrf and "csrf" not in form and self.csrf:
            form["csrf"] = self.csrf
        kwargs.setdefault("allow_redirects", False)
        _, response = await self.http.post(self.BASE + path, data=form, **kwargs)
        return response

    async def try_login(self, username: str, password: str = PASSWORD, **extra: str) -> TestingResponse:
        page = await self.get("/login")
        assert page.status == 200
        return await self.post(
            "/login", {"username": username, "password": password, "csrf": csrf_of(page.text), **extra}
        )

    async def login(self, username: str, password: str = PASSWORD) -> TestingResponse:
        response = await self.try_login(username, password)
        assert response.status == 303, response.text
        landing = await self.get("/", allow_redirects=True)
        assert landing.status == 200
        self.csrf = csrf_of(landing.text)
        return response


@pytest.fixture
def client(app):
    """A factory: `await client("anna")` is a browser logged in as anna; `client()` is logged out."""

    async def make(username: str | None = None) -> Client:
        browser = Client(app)
        if username is not None:
            await browser.login(username)
        return browser

    return make


def minutes_ago(minutes: int) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)
