"""Who may do what in the staff app: every route, for every kind of caller, as one table (EXPECTED below).

Each cell of the table is a test of its own, on a fresh copy of one seeded database: the caller sends one request
with their credentials (a POST also carries the caller's own CSRF token, so that a cell tests authorisation, not
CSRF), and the test checks the status, what the answer shows and what changed in the database: an allowed cell
made exactly its change, a refused one changed nothing at all. No answer ever shows a handover that the caller
may not see; an admin sees none. The CSRF table (CSRF_REFUSED) proves that every form POST without the right token
is refused, and the route check fails when the app registers a route that the tables do not cover.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sanic_testing.testing import TestingResponse
from sqlalchemy import select

from bot.staff import pages
from bot.staff.app import create_app, prepare_database
from bot.store import db
from bot.store.handovers import Viewer, access_log, create_handover, transition
from bot.store.models import Handover, Role, Staff, StaffSession, Status, Team, utcnow
from bot.store.staff import find_staff, issue_api_token, session_for, staff_for_token, start_session
from tests.staff.conftest import PASSWORD

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning")

# --- the callers ----------------------------------------------------------------------------------------------------

# The columns of the table. Staff send their session cookie (with its CSRF token in forms) and their API token.
WHO = (
    "anonymous",  # nothing at all
    "anna",  # social worker, team A (Berga)
    "bo",  # another social worker of team A
    "lena",  # team lead of team A
    "lisa",  # social worker of team B (Lambohov)
    "ada",  # admin
    "disabled",  # dora, a team A social worker whose account is disabled (her old session and token left in place)
    "expired",  # anna's session cookie, eight hours and more after login
    "forged",  # a made-up session cookie and CSRF token
    "bad_token",  # a made-up API token, nothing else
    "token_only",  # anna's real API token and no cookie: a token does not open the pages
)

# --- the policy -----------------------------------------------------------------------------------------------------

# ok       200, and the answer shows what the row is for          done     303 to the row's result, the change made
# login    303 to the login page                                  home     303 to the queue (already logged in)
# admin    303 to /admin (an admin's start page)                  expired  403 "the page has expired" (no session)
# 401      not logged in / no valid token                         403      the API: an admin token reads no handovers
# 404      not found: out of scope looks exactly like unknown
#
# {new_a}: a new handover of team A; {bos_a}: team A's, claimed by bo; {new_b}: team B's; {unknown}: no such code.
EXPECTED = {
    #                                          anonym anna   bo     lena   lisa   ada    disabl expird forged badtok tokonl
    "GET /":                                  "login  ok     ok     ok     ok     admin  login  login  login  login  login",
    "GET /queue/fragment":                    "401    ok     ok     ok     ok     404    401    401    401    401    401",
    "GET /handovers/{new_a}":                 "login  ok     ok     ok     404    404    login  login  login  login  login",
    "GET /handovers/{bos_a}":                 "login  404    ok     ok     404    404    login  login  login  login  login",
    "GET /handovers/{new_b}":                 "login  404    404    404    ok     404    login  login  login  login  login",
    "GET /handovers/{unknown}":               "login  404    404    404    404    404    login  login  login  login  login",
    "POST /handovers/{new_a}/status":         "expired done  done   done   404    404    expired expired expired expired expired",
    "POST /handovers/{bos_a}/status":         "expired 404   done   done   404    404    expired expired expired expired expired",
    "POST /handovers/{new_b}/status":         "expired 404   404    404    done   404    expired expired expired expired expired",
    "POST /handovers/{unknown}/status":       "expired 404   404    404    404    404    expired expired expired expired expired",
    "GET /admin":                             "login  404    404    404    404    ok     login  login  login  login  login",
    "GET /admin/access-log":                  "login  404    404    404    404    ok     login  login  login  login  login",
    "POST /admin/staff":                      "expired 404   404    404    404    ok     expired expired expired expired expired",
    "POST /admin/staff/bo/disable":           "expired 404   404    404    404    done   expired expired expired expired expired",
    "POST /admin/staff/anna/token":           "expired 404   404    404    404    ok     expired expired expired expired expired",
    "POST /admin/teams/berga/mailbox":        "expired 404   404    404    404    done   expired expired expired expired expired",
    "GET /login":                             "ok     home   home   home   home   home   ok     ok     ok     ok     ok",
    "POST /login":                            "done   done   done   done   done   done   done   done   done   done   done",
    "POST /logout":                           "done   done   done   done   done   done   done   done   done   done   done",
    "GET /static/style.css":                  "ok     ok     ok     ok     ok     ok     ok     ok     ok     ok     ok",
    "HEAD /static/style.css":                 "ok     ok     ok     ok     ok     ok     ok     ok     ok     ok     ok",
    "GET /api/v1/openapi.json":               "ok     ok     ok     ok     ok     ok     ok     ok     ok     ok     ok",
    "GET /api/v1/openapi.yaml":               "ok     ok     ok     ok     ok     ok     ok     ok     ok     ok     ok",
    "GET /api/v1/handovers":                  "401    ok     ok     ok     ok     403    401    401    401    401    ok",
    "GET /api/v1/handovers/{new_a}":          "401    ok     ok     ok     404    403    401    401    401    401    ok",
    "GET /api/v1/handovers/{bos_a}":          "401    404    ok     ok     404    403    401    401    401    401    404",
    "GET /api/v1/handovers/{new_b}":          "401    404    404    404    ok     403    401    401    401    401    404",
    "GET /api/v1/handovers/{unknown}":        "401    404    404    404    404    403    401    401    401    401    404",
    "POST /api/v1/handovers/{new_a}/status":  "401    ok     ok     ok     404    403    401    401    401    401    ok",
    "POST /api/v1/handovers/{bos_a}/status":  "401    404    ok     ok     404    403    401    401    401    401    404",
    "POST /api/v1/handovers/{new_b}/status":  "401    404    404    404    ok     403    401    401    401    401    404",
    "POST /api/v1/handovers/{unknown}/status": "401   404    404    404    404    403    401    401    401    401    404",
}  # fmt: skip
ALLOWED = {"ok", "done"}

# Which handovers each caller may see: on the pages (by session) and in the API (by token).
PAGE_SCOPE = {"anna": {"new_a"}, "bo": {"new_a", "bos_a"}, "lena": {"new_a", "bos_a"}, "lisa": {"new_b"}}
API_SCOPE = {**PAGE_SCOPE, "token_only": PAGE_SCOPE["anna"]}
# Whose account a caller acts as, when it is let in at all.
ACTS_AS = {"anna": "anna", "bo": "bo", "lena": "lena", "lisa": "lisa", "ada": "ada", "token_only": "anna"}

# --- the world ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    cookie: str | None = None
    csrf: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class World:
    """The seeded database (a file to copy for each cell) and what the callers hold."""

    path: Path
    codes: dict[str, str]  # new_a, bos_a, new_b, unknown
    markers: dict[str, tuple[str, ...]]  # what only someone who may see a handover can see: code, summary, contact
    credentials: dict[str, Credentials]
    staff_ids: dict[str, int]


@pytest.fixture(scope="session")
def world(template_db, tmp_path_factory) -> World:
    path = tmp_path_factory.mktemp("authz") / "nara.db"
    shutil.copy(template_db, path)
    url = f"sqlite:///{path}"
    prepare_database(url)  # what the app does when it starts: done once here, for every cell's copy
    credentials: dict[str, Credentials] = {}
    with db.session(url) as s:
        dora = Staff(username="dora", display_name="Dora Dahl", team_id="berga", role=Role.social_worker.value)
        dora.password_hash = "-"  # never logs in here; only her old session and token matter
        s.add(dora)
        s.flush()
        for who in ("anna", "bo", "lena", "lisa", "ada", "dora"):
            staff = find_staff(s, who)
            cookie, row = start_session(s, staff)
            credentials["disabled" if who == "dora" else who] = Credentials(cookie, row.csrf_token, issue_api_token(s, staff))
        cookie, row = start_session(s, find_staff(s, "anna"), now=utcnow() - dt.timedelta(hours=9))
        credentials["expired"] = Credentials(cookie, row.csrf_token)
        # Disabled directly, as if disabling had left her session and token behind: they must not work anyway.
        dora.disabled = True
        credentials["anonymous"] = Credentials()
        credentials["forged"] = Credentials(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        credentials["bad_token"] = Credentials(token="nara_" + secrets.token_urlsafe(32))
        credentials["token_only"] = Credentials(token=credentials["anna"].token)
        staff_ids = {staff.username: staff.id for staff in s.scalars(select(Staff))}

        markers = {}
        codes = {}
        for key, team, phone in (("new_a", "berga", "+46701110001"), ("bos_a", "berga", "+46701110002"),
                                 ("new_b", "lambohov", "+46701110003")):  # fmt: skip
            summary = f"Sammanfattning {key}: oro för ett barn"
            handover = create_handover(
                s, team_id=team, summary=summary, contact_method="phone", contact_value=phone, topic="parenting"
            )
            codes[key] = handover.code
            markers[key] = (handover.code, summary, phone)
        transition(s, Viewer.of(find_staff(s, "bo")), codes["bos_a"], Status.claimed)
    codes["unknown"] = next(
        code for code in ("ZZZ-ZZZ", "YYY-YYY", "XXX-XXX") if code not in codes.values()
    )  # a code in the right form that no handover has
    db.engine(url).dispose()
    return World(path, codes, markers, credentials, staff_ids)


@pytest.fixture
def cell_db(world, tmp_path) -> str:
    path = tmp_path / "nara.db"
    shutil.copy(world.path, path)
    return f"sqlite:///{path}"


@pytest.fixture
def cell_app(cell_db):
    app = create_app(cell_db, secure_cookies=True)
    app.ctx.database_ready = True  # the world fixture prepared the database already
    return app


def snapshot(url: str) -> dict[str, Any]:
    """Everything a request could change, by part."""
    with db.session(url) as s:
        return {
            "handovers": {
                h.code: (h.status, h.claimed_by, h.contact_value, h.outcome, len(h.events))
                for h in s.scalars(select(Handover))
            },
            "staff": {
                m.username: (m.disabled, m.api_token_hash, m.role, m.team_id, m.failed_logins, m.locked_until)
                for m in s.scalars(select(Staff))
            },
            "teams": {t.id: (t.name, t.mailbox) for t in s.scalars(select(Team))},
            "access_log": [(row.username, row.handover_code, row.via) for row in reversed(access_log(s))],
            "sessions": {row.token_hash: row.staff_id for row in s.scalars(select(StaffSession))},
        }


# --- the requests ---------------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One request of the table, as sent, with what the test needs to judge the answer."""

    world: World
    who: str
    url: str
    row: str
    response: TestingResponse
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def code(self) -> dict[str, str]:
        return self.world.codes

    @property
    def username(self) -> str:
        return ACTS_AS[self.who]

    def log_added(self) -> list[tuple[str, str, str]]:
        return self.after["access_log"][len(self.before["access_log"]) :]


Check = Callable[[Cell], None]


@dataclass(frozen=True)
class Request:
    path: str  # the row's path with {new_a}-style placeholders
    form: dict[str, str] | None = None  # a form POST (with the caller's CSRF token)
    json: dict[str, Any] | None = None  # an API POST
    login_form: bool = False  # the login form: a double-submit token (cookie and field) instead of the session's
    changes: frozenset[str] = field(default_factory=frozenset)  # the snapshot parts an allowed request may change
    allowed: Check | None = None  # what an allowed answer must show and change
    done: Callable[[Cell], str] | None = None  # where "done" redirects to


def _queue_shows_the_scope(cell: Cell) -> None:
    scope = PAGE_SCOPE[cell.who]
    for key in ("new_a", "bos_a", "new_b"):
        assert (cell.code[key] in cell.response.text) == (key in scope), key


def _shows_handover(key: str, via: str) -> Check:
    def check(cell: Cell) -> None:
        code, summary, phone = cell.world.markers[key]
        if via == "api":
            assert cell.response.json["code"] == code and cell.response.json["contact"]["value"] == phone
        else:
            assert f"<h1>Ärende {code}" in cell.response.text and phone in cell.response.text
        assert cell.log_added() == [(cell.username, code, via)]

    return check


def _moved(key: str, to: Status, via: str) -> Check:
    def check(cell: Cell) -> None:
        code = cell.code[key]
        status, claimed_by, *_ = cell.after["handovers"][code]
        assert status == to.value
        if to is Status.claimed:
            assert claimed_by == cell.world.staff_ids[cell.username]
        if via == "api":
            assert cell.response.json["status"] == to.value
            assert cell.log_added() == [(cell.username, code, "api")]

    return check


def _api_list_shows_the_scope(cell: Cell) -> None:
    listed = {item["code"] for item in cell.response.json["items"]}
    assert listed == {cell.code[key] for key in API_SCOPE[cell.who]}


def _page(heading: str) -> Check:
    def check(cell: Cell) -> None:
        assert f"<h1>{heading}</h1>" in cell.response.text

    return check


def _account_added(cell: Cell) -> None:
    assert "Lösenordet visas bara nu." in cell.response.text
    assert cell.after["staff"]["eva"][2:4] == ("social_worker", "berga")


def _disabled_bo(cell: Cell) -> None:
    assert cell.after["staff"]["bo"][0] is True and cell.after["staff"]["bo"][1] is None
    assert cell.world.staff_ids["bo"] not in cell.after["sessions"].values()


def _new_token_for_anna(cell: Cell) -> None:
    token = cell.response.text.split('id="secret-value">')[1].split("</code>")[0]
    with db.session(cell.url) as s:
        assert staff_for_token(s, token).username == "anna"
        assert staff_for_token(s, cell.world.credentials["anna"].token) is None  # the old one is replaced


def _mailbox_saved(cell: Cell) -> None:
    assert cell.after["teams"]["berga"][1] == "berga@kommun.example"


def _login_form(cell: Cell) -> None:
    assert '<h1>Logga in</h1>' in cell.response.text and 'name="csrf"' in cell.response.text


def _logged_in_as_anna(cell: Cell) -> None:
    new = set(cell.after["sessions"]) - set(cell.before["sessions"])
    assert [cell.after["sessions"][token_hash] for token_hash in new] == [cell.world.staff_ids["anna"]]
    cookie = cell.response.cookies.get(pages.SESSION_COOKIE)
    with db.session(cell.url) as s:
        assert session_for(s, cookie).staff.username == "anna"


def _logged_out(cell: Cell) -> None:
    cookie = cell.world.credentials[cell.who].cookie
    gone = set(cell.before["sessions"]) - set(cell.after["sessions"])
    with db.session(cell.url) as s:
        assert cookie is None or session_for(s, cookie) is None
    # Only the caller's own session ends (a disabled or expired one included); nobody else's.
    assert len(gone) <= 1 and set(cell.after["sessions"]) <= set(cell.before["sessions"])
    if cell.who in ACTS_AS and cell.who != "token_only":
        assert len(gone) == 1


def _stylesheet(cell: Cell) -> None:
    assert "text/css" in cell.response.headers["content-type"]


def _spec(cell: Cell) -> None:
    body = cell.response.json if cell.row.endswith(".json") else yaml.safe_load(cell.response.text)
    assert body["openapi"] == "3.0.3"


HANDOVERS = frozenset({"handovers"})
VIEWS = frozenset({"access_log"})
REQUESTS: dict[str, Request] = {
    "GET /": Request("/", allowed=_queue_shows_the_scope),
    "GET /queue/fragment": Request("/queue/fragment", allowed=_queue_shows_the_scope),
    "GET /handovers/{new_a}": Request("/handovers/{new_a}", changes=VIEWS, allowed=_shows_handover("new_a", "page")),
    "GET /handovers/{bos_a}": Request("/handovers/{bos_a}", changes=VIEWS, allowed=_shows_handover("bos_a", "page")),
    "GET /handovers/{new_b}": Request("/handovers/{new_b}", changes=VIEWS, allowed=_shows_handover("new_b", "page")),
    "GET /handovers/{unknown}": Request("/handovers/{unknown}"),
    "POST /handovers/{new_a}/status": Request(
        "/handovers/{new_a}/status",
        form={"to": "claimed"},
        changes=HANDOVERS,
        allowed=_moved("new_a", Status.claimed, "page"),
        done=lambda cell: f"/handovers/{cell.code['new_a']}?done=claimed",
    ),
    "POST /handovers/{bos_a}/status": Request(
        "/handovers/{bos_a}/status",
        form={"to": "contacted", "note": "Ringde upp"},
        changes=HANDOVERS,
        allowed=_moved("bos_a", Status.contacted, "page"),
        done=lambda cell: f"/handovers/{cell.code['bos_a']}?done=contacted",
    ),
    "POST /handovers/{new_b}/status": Request(
        "/handovers/{new_b}/status",
        form={"to": "claimed"},
        changes=HANDOVERS,
        allowed=_moved("new_b", Status.claimed, "page"),
        done=lambda cell: f"/handovers/{cell.code['new_b']}?done=claimed",
    ),
    "POST /handovers/{unknown}/status": Request("/handovers/{unknown}/status", form={"to": "claimed"}),
    "GET /admin": Request("/admin", allowed=_page("Konton och team")),
    "GET /admin/access-log": Request("/admin/access-log", allowed=_page("Åtkomstlogg")),
    "POST /admin/staff": Request(
        "/admin/staff",
        form={"username": "eva", "display_name": "Eva Ek", "team_id": "berga", "role": "social_worker"},
        changes=frozenset({"staff"}),
        allowed=_account_added,
    ),
    "POST /admin/staff/bo/disable": Request(
        "/admin/staff/bo/disable",
        form={},
        changes=frozenset({"staff", "sessions"}),
        allowed=_disabled_bo,
        done=lambda cell: "/admin?done=disabled",
    ),
    "POST /admin/staff/anna/token": Request(
        "/admin/staff/anna/token", form={}, changes=frozenset({"staff"}), allowed=_new_token_for_anna
    ),
    "POST /admin/teams/berga/mailbox": Request(
        "/admin/teams/berga/mailbox",
        form={"mailbox": "berga@kommun.example"},
        changes=frozenset({"teams"}),
        allowed=_mailbox_saved,
        done=lambda cell: "/admin?done=mailbox",
    ),
    "GET /login": Request("/login", allowed=_login_form),
    "POST /login": Request(
        "/login",
        form={"username": "anna", "password": PASSWORD},
        login_form=True,
        changes=frozenset({"sessions"}),  # a new session, and expired ones purged
        allowed=_logged_in_as_anna,
        done=lambda cell: "/",
    ),
    "POST /logout": Request(
        "/logout", form={}, changes=frozenset({"sessions"}), allowed=_logged_out, done=lambda cell: "/login?done=logout"
    ),
    "GET /static/style.css": Request("/static/style.css", allowed=_stylesheet),
    "HEAD /static/style.css": Request("/static/style.css", allowed=_stylesheet),
    "GET /api/v1/openapi.json": Request("/api/v1/openapi.json", allowed=_spec),
    "GET /api/v1/openapi.yaml": Request("/api/v1/openapi.yaml", allowed=_spec),
    "GET /api/v1/handovers": Request("/api/v1/handovers", allowed=_api_list_shows_the_scope),
    **{
        f"GET /api/v1/handovers/{{{key}}}": Request(
            f"/api/v1/handovers/{{{key}}}", changes=VIEWS, allowed=_shows_handover(key, "api")
        )
        for key in ("new_a", "bos_a", "new_b")
    },
    "GET /api/v1/handovers/{unknown}": Request("/api/v1/handovers/{unknown}"),
    "POST /api/v1/handovers/{new_a}/status": Request(
        "/api/v1/handovers/{new_a}/status",
        json={"status": "claimed"},
        changes=HANDOVERS | VIEWS,
        allowed=_moved("new_a", Status.claimed, "api"),
    ),
    "POST /api/v1/handovers/{bos_a}/status": Request(
        "/api/v1/handovers/{bos_a}/status",
        json={"status": "contacted", "note": "Ringde upp"},
        changes=HANDOVERS | VIEWS,
        allowed=_moved("bos_a", Status.contacted, "api"),
    ),
    "POST /api/v1/handovers/{new_b}/status": Request(
        "/api/v1/handovers/{new_b}/status",
        json={"status": "claimed"},
        changes=HANDOVERS | VIEWS,
        allowed=_moved("new_b", Status.claimed, "api"),
    ),
    "POST /api/v1/handovers/{unknown}/status": Request("/api/v1/handovers/{unknown}/status", json={"status": "claimed"}),
}


async def send(
    app, world: World, method: str, request: Request, credentials: Credentials, *, csrf: str | None = "own"
) -> TestingResponse:
    """Sends one request with the credentials; `csrf` is "own" (the caller's token), a given value, or None."""
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    kwargs: dict[str, Any] = {"allow_redirects": False}
    if credentials.cookie:
        cookies[pages.SESSION_COOKIE] = credentials.cookie
    if credentials.token:
        headers["Authorization"] = f"Bearer {credentials.token}"
    if request.form is not None:
        form = dict(request.form)
        token = credentials.csrf if csrf == "own" else csrf
        if request.login_form:
            login_token = secrets.token_urlsafe(32)  # what GET /login would have set as a cookie and a field
            cookies[pages.LOGIN_COOKIE] = login_token
            token = login_token if csrf == "own" else csrf
        if token is not None:
            form["csrf"] = token
        kwargs["data"] = form
    if request.json is not None:
        kwargs["json"] = request.json
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    path = request.path.format(**world.codes)
    _, response = await app.asgi_client.request(method, path, headers=headers, **kwargs)
    return response


def _cells():
    for row, line in EXPECTED.items():
        for who, outcome in zip(WHO, line.split(), strict=True):
            yield pytest.param(row, who, outcome, id=f"{row} | {who} -> {outcome}")


@pytest.mark.parametrize(("row", "who", "outcome"), list(_cells()))
async def test_cell(world, cell_app, cell_db, row, who, outcome):
    request = REQUESTS[row]
    method = row.split()[0]
    before = snapshot(cell_db)
    response = await send(cell_app, world, method, request, world.credentials[who])
    cell = Cell(world, who, cell_db, row, response, before, snapshot(cell_db))

    expected_status = {"ok": 200, "done": 303, "login": 303, "home": 303, "admin": 303, "expired": 403}
    assert response.status == expected_status.get(outcome, int(outcome) if outcome.isdigit() else None), (
        response.status,
        response.text[:300],
    )
    location = response.headers.get("location", "")
    if outcome == "login":
        assert location == "/login" or location.startswith("/login?next=")
    elif outcome == "home":
        assert location == "/"
    elif outcome == "admin":
        assert location == "/admin"
    elif outcome == "done":
        assert request.done is not None and location == request.done(cell)
    elif outcome == "expired":
        assert pages.EXPIRED in response.text
    elif outcome == "404":
        if row.startswith(("GET /api/", "POST /api/")):
            assert response.json["error"] == "not_found"
        elif "/handovers/" in row:
            assert pages.NO_HANDOVER in response.text
        else:
            assert pages.NO_PAGE in response.text
    elif outcome in ("401", "403") and "/api/" in row:
        assert response.json["error"] == {"401": "unauthorized", "403": "forbidden"}[outcome]

    # What changed: an allowed request its own parts, and only those; a refused one nothing at all.
    may_change = request.changes if outcome in ALLOWED else frozenset()
    for part, value in cell.before.items():
        if part not in may_change:
            assert cell.after[part] == value, f"{part} changed"
    if outcome in ALLOWED and request.allowed is not None:
        request.allowed(cell)

    # Nothing shows a handover the caller may not see (an admin sees none, ever).
    scope = (API_SCOPE if "/api/" in row else PAGE_SCOPE).get(who, set())
    if outcome in ALLOWED and row.startswith("POST /api/") and who in API_SCOPE:
        scope = scope | {key for key in ("new_a", "bos_a", "new_b") if f"{{{key}}}" in row}
    body = response.body.decode("utf-8", "replace")
    for key, markers in world.markers.items():
        if key not in scope:
            for marker in markers:
                assert marker not in body, f"{who} was shown {key} ({marker})"


# --- CSRF -----------------------------------------------------------------------------------------------------------

# Every form POST, by a caller who would be allowed (see EXPECTED), without the right token: refused, nothing changed.
# "missing": no token; "empty": an empty one; "other": a real token of another session (bo's, or anna's for ada).
CSRF_REFUSED = [
    (row, who, variant)
    for row, who in (
        ("POST /handovers/{new_a}/status", "anna"),
        ("POST /admin/staff", "ada"),
        ("POST /admin/staff/bo/disable", "ada"),
        ("POST /admin/staff/anna/token", "ada"),
        ("POST /admin/teams/berga/mailbox", "ada"),
        ("POST /logout", "anna"),
        ("POST /login", "anonymous"),
    )
    for variant in ("missing", "empty", "other")
]


@pytest.mark.parametrize(("row", "who", "variant"), CSRF_REFUSED, ids=[f"{r} | {w} | {v}" for r, w, v in CSRF_REFUSED])
async def test_a_form_post_without_the_right_csrf_token_is_refused(world, cell_app, cell_db, row, who, variant):
    request = REQUESTS[row]
    assert EXPECTED[row].split()[WHO.index(who)] in ALLOWED  # with the right token, this caller would get in
    other = world.credentials["anna" if who == "ada" else "bo"].csrf
    csrf = {"missing": None, "empty": "", "other": other}[variant]
    before = snapshot(cell_db)
    response = await send(cell_app, world, "POST", request, world.credentials[who], csrf=csrf)
    assert response.status == 403
    assert pages.EXPIRED in response.text
    assert snapshot(cell_db) == before
    assert pages.SESSION_COOKIE not in response.cookies


async def test_the_login_form_needs_its_cookie_too(world, cell_app, cell_db):
    """The field alone (a cross-site form cannot set the /login cookie) does not log anyone in."""
    before = snapshot(cell_db)
    token = secrets.token_urlsafe(32)
    _, response = await cell_app.asgi_client.post(
        "/login", data={"username": "anna", "password": PASSWORD, "csrf": token}, allow_redirects=False
    )
    assert response.status == 403
    assert snapshot(cell_db) == before


@pytest.mark.parametrize("row", [row for row in EXPECTED if row.startswith("POST /api/")])
async def test_the_api_needs_no_csrf_token_because_cookies_do_not_open_it(world, cell_app, cell_db, row):
    """A cross-site POST can only carry cookies; the API does not read them, so without the token it is 401."""
    anna = world.credentials["anna"]
    before = snapshot(cell_db)
    response = await send(cell_app, world, "POST", REQUESTS[row], Credentials(cookie=anna.cookie, csrf=anna.csrf))
    assert response.status == 401
    assert snapshot(cell_db) == before


# --- the table covers the app ---------------------------------------------------------------------------------------


def _route(app, method: str, path: str) -> str:
    route, _, _ = app.router.get(path, method, None)
    return route.name.removeprefix(f"{app.name}.")


def test_the_table_covers_every_route_and_method_the_app_registers(world, cell_app):
    assert set(EXPECTED) == set(REQUESTS)
    for row, line in EXPECTED.items():
        assert len(line.split()) == len(WHO), row
    cell_app.router.finalize()
    registered = {
        (route.name.removeprefix(f"{cell_app.name}."), method)
        for route in cell_app.router.routes
        for method in route.methods
    }
    covered = {
        (_route(cell_app, row.split()[0], request.path.format(**world.codes)), row.split()[0])
        for row, request in REQUESTS.items()
    }
    assert covered <= registered
    assert registered - covered == set(), "routes that the authorisation table does not cover"
    # every form POST has its CSRF rows, and every API POST its "cookies do not open the API" row
    posts = {name for name, method in registered if method == "POST"}
    csrf_covered = {_route(cell_app, "POST", REQUESTS[row].path.format(**world.codes)) for row, _, _ in CSRF_REFUSED}
    api_posts = {name for name in posts if name.startswith("api.")}
    assert posts - api_posts == csrf_covered


@pytest.mark.parametrize("who", ["anna", "bo", "lena", "lisa", "ada"])
async def test_out_of_scope_and_unknown_codes_get_the_very_same_answer(world, cell_app, who):
    """So that nobody can probe which codes exist: another team's handover and no handover look alike."""
    credentials = world.credentials[who]
    answers = {}
    for kind in ("page", "api"):
        path = "/handovers/{code}" if kind == "page" else "/api/v1/handovers/{code}"
        for key in ("new_a", "bos_a", "new_b", "unknown"):
            response = await send(cell_app, world, "GET", Request(path.replace("{code}", f"{{{key}}}")), credentials)
            if response.status == 404:
                answers.setdefault(kind, set()).add(response.body)
    assert all(len(bodies) == 1 for bodies in answers.values()), answers
