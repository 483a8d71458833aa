"""Fuzzing the staff pages with hypothesis: the login form, a handover's status form and the admin forms get
arbitrary text (any unicode, NUL bytes, very long values, SQL and HTML metacharacters), and arbitrary codes and
names in their paths.

Whatever comes in: never a server error; a failed login is always the very same page, whether the account
exists or not, and five failures still lock the account; a status change happens exactly when it is valid and
nothing changes otherwise; an admin form either adds a well-formed account or nothing.

On SQLite always, and on PostgreSQL too when NARA_TEST_POSTGRES_URL is set (scripts/test does that), since the
two databases do not accept the same text (PostgreSQL refuses NUL characters).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text

from bot.staff import pages
from bot.staff.app import create_app
from bot.store import db
from bot.store.handovers import TRANSITIONS, Viewer, create_handover, get_handover, transition
from bot.store.models import AccessLog, Handover, HandoverEvent, Staff, StaffSession, Status, Team
from bot.store.staff import MAX_FAILED_LOGINS, find_staff, start_session
from bot.text import has_control, without_control
from tests.scratch_db import scratch_postgres
from tests.staff.conftest import BASE_URL, PASSWORD, Client, csrf_of

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning")

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("NARA_TEST_POSTGRES_URL") else [])
# Derandomised, so that CI runs the same examples every time (a failure is reproducible, never flaky);
# NARA_FUZZ_RANDOM=1 searches new ground.
FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=not os.environ.get("NARA_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# --- text that tends to break things ----------------------------------------------------------------------------------

NASTY = [
    "",
    " ",
    "\x00",
    "anna\x00",
    "\x00anna",
    "' OR '1'='1",
    "anna'--",
    '"; DROP TABLE staff; --',
    'anna" OR ""="',
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}",
    "{% raw %}",
    "${7*7}",
    "%00",
    "%2e%2e%2f",
    "../../etc/passwd",
    "\r\nSet-Cookie: nara_staff=x",
    "\u202eanna",
    "anna\u200b",
    "ＡＮＮＡ",
    "İ",
    "ß",
    "𝔞𝔫𝔫𝔞",
    "🙂" * 20,
    "\ud7ff\ue000\uffff",
]


def nasty_text(max_size: int = 80) -> st.SearchStrategy[str]:
    """Any text: arbitrary unicode (with control characters and NUL), metacharacters, and very long values."""
    return st.one_of(
        st.text(max_size=max_size),
        st.text(st.characters(codec="utf-8"), max_size=max_size),
        st.sampled_from(NASTY),
        st.builds(lambda piece, n: piece * n, st.sampled_from(["a", "ä", "𝔞", "\x00", "'", "<"]), st.integers(1, 5000)),
    )


# --- the database, on each backend ------------------------------------------------------------------------------------


def _postgres_copy(template_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database with the template's teams and accounts (their argon2 hashes copied, not redone)."""
    with scratch_postgres("nara_fuzz") as url:
        with db.engine(template_url).connect() as source, db.engine(url).begin() as target:
            for table in (Team.__table__, Staff.__table__):
                target.execute(table.insert(), [dict(row._mapping) for row in source.execute(table.select())])
            target.execute(text("SELECT setval(pg_get_serial_sequence('staff', 'id'), (SELECT max(id) FROM staff))"))
        yield url


@pytest.fixture(params=BACKENDS)
def fuzz_db(request, template_db, tmp_path) -> Iterator[str]:
    path = tmp_path / "nara.db"
    shutil.copy(template_db, path)
    if request.param == "sqlite":
        yield f"sqlite:///{path}"
    else:
        yield from _postgres_copy(f"sqlite:///{path}")


@pytest.fixture
def sqlite_db(template_db, tmp_path) -> str:
    """For the tests whose logic does not depend on the database (and that are slow: argon2 on every login)."""
    path = tmp_path / "nara.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def run() -> Iterator[Callable[[Any], Any]]:
    """Runs a coroutine to its end: hypothesis tests are not coroutines, so each test has an event loop of its own."""
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()


def logged_in(app, db_url: str, username: str) -> Client:
    """A browser with a session for the account, made directly (no argon2 hashing)."""
    with db.session(db_url) as s:
        cookie, row = start_session(s, find_staff(s, username))
        csrf = row.csrf_token
    browser = Client(app)
    browser.http.cookies.set(pages.SESSION_COOKIE, cookie)
    browser.csrf = csrf
    return browser


def count(db_url: str, model) -> int:
    with db.session(db_url) as s:
        return s.scalar(select(func.count()).select_from(model))


def assert_no_server_error(response) -> None:
    assert response.status < 500, response.text[:500]
    assert "Något gick fel hos oss" not in response.text


# --- login ----------------------------------------------------------------------------------------------------------

USERNAMES = st.one_of(
    nasty_text(),
    st.sampled_from(["anna", "bo", "lena", "lisa", "ada", "ANNA", " Bo ", "lena\t", "Lisa\u00a0"]),  # real accounts
    st.sampled_from(["nobody", "anna2", "admin", "root", "an na"]),  # none
)


def test_every_failed_login_is_the_very_same_page(fuzz_db, run):
    """No server error, and no way to tell which accounts exist: the answer to a wrong password for a real account
    is byte for byte the answer to an unknown name (one browser, so that the form token is the same too)."""
    app = create_app(fuzz_db, base_url=BASE_URL)
    browser = Client(app)
    token = csrf_of(run(browser.get("/login")).text)
    reference = run(browser.post("/login", {"username": "nobody", "password": "fel-lösenord", "csrf": token}))
    assert reference.status == 200 and pages.LOGIN_FAILED in reference.text

    @FUZZ
    @given(username=USERNAMES, password=nasty_text(1500))
    def attempt(username, password):
        assume(password != PASSWORD)
        response = run(browser.post("/login", {"username": username, "password": password, "csrf": token}))
        assert_no_server_error(response)
        assert response.status == 200
        assert response.body == reference.body
        assert response.headers.get("set-cookie") == reference.headers.get("set-cookie")

    attempt()
    assert count(fuzz_db, StaffSession) == 0


def test_five_failures_lock_an_account_whatever_the_passwords(sqlite_db, run):
    """A wrong password of any kind counts (one too long to be anyone's is refused untried, and does not count);
    five that count lock the account, with the same page as any failure, and then even the right one is refused."""
    app = create_app(sqlite_db, base_url=BASE_URL)

    def reset() -> None:
        with db.session(sqlite_db) as s:
            bo = find_staff(s, "bo")
            bo.failed_logins, bo.locked_until = 0, None

    @settings(FUZZ, max_examples=5)
    @given(
        attempts=st.lists(
            st.tuples(st.sampled_from(["bo", "BO", " bo ", "Bo\t"]), nasty_text(1100)), min_size=5, max_size=6
        )
    )
    def lockout(attempts):
        assume(all(password != PASSWORD for _, password in attempts))
        reset()
        browser = Client(app)
        token = csrf_of(run(browser.get("/login")).text)
        for username, password in attempts:
            response = run(browser.post("/login", {"username": username, "password": password, "csrf": token}))
            assert response.status == 200 and pages.LOGIN_FAILED in response.text
        tried = sum(1 for username, password in attempts if len(password) <= pages.MAX_PASSWORD)
        right = run(browser.post("/login", {"username": "bo", "password": PASSWORD, "csrf": token}))
        with db.session(sqlite_db) as s:
            locked = find_staff(s, "bo").locked_until is not None
        assert locked == (tried >= MAX_FAILED_LOGINS)
        assert right.status == (200 if locked else 303)
        if locked:
            assert pages.LOGIN_FAILED in right.text

    lockout()


def test_after_login_the_next_address_never_leaves_the_site(sqlite_db, run):
    """Whatever `next` a link carries, the login sends you to a local page: never another host, never a header."""
    app = create_app(sqlite_db, base_url=BASE_URL)

    @settings(FUZZ, max_examples=20)
    @given(
        target=st.one_of(
            nasty_text(300),
            st.sampled_from(["//evil.example", "/\\evil.example", "https://evil.example", "/%2F%2Fevil", "\t//x"]),
            st.builds(lambda a, b: a + b, st.sampled_from(["/", "//", "/\\", "/./", "\\"]), nasty_text(40)),
        )
    )
    def login(target):
        browser = Client(app)
        response = run(browser.try_login("anna", next=target))
        assert_no_server_error(response)
        assert response.status == 303
        location = response.headers["location"]
        assert location == "/" or (location == target and re.fullmatch(r"/(?![/\\])[A-Za-z0-9/_.?=&-]*", location))

    login()


# --- a handover's status ------------------------------------------------------------------------------------------

KEYS = ("new", "claimed_by_anna", "contacted_by_anna", "bos", "lambohov")


def reset_handovers(db_url: str) -> dict[str, str]:
    """The same handovers before every example: Anna's team's new one, one she has claimed, one she has contacted,
    one Bo has claimed, and one of Lambohov's."""
    with db.session(db_url) as s:
        s.execute(delete(HandoverEvent))
        s.execute(delete(Handover))
        s.execute(delete(AccessLog))
    codes = {}
    with db.session(db_url) as s:
        anna, bo = Viewer.of(find_staff(s, "anna")), Viewer.of(find_staff(s, "bo"))
        for key in KEYS:
            team = "lambohov" if key == "lambohov" else "berga"
            codes[key] = code = create_handover(
                s, team_id=team, summary=f"Om {key}", contact_method="phone", contact_value="+46701234567"
            ).code
            if key in ("claimed_by_anna", "contacted_by_anna"):
                transition(s, anna, code, Status.claimed)
            if key == "contacted_by_anna":
                transition(s, anna, code, Status.contacted)
            if key == "bos":
                transition(s, bo, code, Status.claimed)
    return codes


def handovers(db_url: str) -> dict[str, tuple]:
    with db.session(db_url) as s:
        return {
            h.code: (
                h.status,
                h.claimed_by,
                h.contact_value,
                h.outcome,
                [(e.actor, e.action, e.note) for e in h.events],
            )
            for h in s.scalars(select(Handover))
        }


@st.composite
def status_posts(draw) -> dict[str, Any]:
    """One status form: a code (a real one as it may be typed, or anything), `to`, `note` and stray fields."""
    code = draw(
        st.one_of(
            st.sampled_from(KEYS).flatmap(
                lambda key: st.sampled_from(["{}", "{lower}", "{nodash}", "{dotted}"]).map(lambda form: (key, form))
            ),
            nasty_text(40).map(lambda raw: (None, raw)),
        )
    )
    to = draw(
        st.one_of(st.sampled_from(list(pages.STATUSES)), st.sampled_from(["", "open", "CLAIMED", " new"]), nasty_text())
    )
    note = draw(
        st.one_of(st.none(), st.sampled_from(["", "   ", "Ringde upp", "x" * pages.MAX_NOTE]), nasty_text(4100))
    )
    extra = draw(st.dictionaries(st.sampled_from(["status", "outcome", "claimed_by", "team_id"]), nasty_text(20)))
    return {"code": code, "to": to, "note": note, "extra": extra}


def typed(code: str, form: str) -> str:
    return {"{}": code, "{lower}": code.lower(), "{nodash}": code.replace("-", ""), "{dotted}": code.replace("-", ".")}[
        form
    ]


def test_a_status_changes_exactly_when_the_form_is_valid(fuzz_db, run):
    """Arbitrary forms, a few in a row: each valid one makes exactly its change, any other changes nothing and
    gets a plain answer (400 unknown action or too long a note, 404 no such handover for Anna, 409 not allowed now)."""
    app = create_app(fuzz_db, base_url=BASE_URL)
    anna = logged_in(app, fuzz_db, "anna")
    with db.session(fuzz_db) as s:
        viewer = Viewer.of(find_staff(s, "anna"))

    @FUZZ
    @given(posts=st.lists(status_posts(), min_size=1, max_size=4))
    def fuzz(posts):
        codes = reset_handovers(fuzz_db)
        for post in posts:
            key, raw = post["code"]
            segment = quote(typed(codes[key], raw) if key else raw, safe="")
            before = handovers(fuzz_db)
            with db.session(fuzz_db) as s:  # what the page will find: the same lookup, for the same viewer
                found = get_handover(s, viewer, segment) if segment not in ("", ".", "..") else None
                target = found.code if found is not None else None
            form = {**post["extra"], "to": post["to"]}
            if post["note"] is not None:
                form["note"] = post["note"]
            response = run(anna.post(f"/handovers/{segment}/status", form))
            assert_no_server_error(response)
            after = handovers(fuzz_db)

            note = without_control(post["note"] or "").strip() or None  # what a social worker could have typed
            valid_to = post["to"] in pages.STATUSES
            if target is None:
                expected = 404
            elif not valid_to or (note is not None and len(note) > pages.MAX_NOTE):
                expected = 400
            else:
                to = Status(post["to"])
                current = Status(before[target][0])
                allowed = to in TRANSITIONS[current] and not (to is Status.closed and note is None)
                expected = 303 if allowed else 409
            assert response.status == expected, (post, response.text[:300])
            if expected != 303:
                assert after == before, "a refused status form changed a handover"
                continue
            assert {code for code in after if after[code] != before[code]} == {target}
            status, claimed_by, contact, outcome, events = after[target]
            assert status == post["to"]
            assert events[len(before[target][4])][:2] == ("anna", {"new": "released"}.get(status, status))
            if status == "closed":
                assert outcome == note and contact is None
            if status == "withdrawn":
                assert contact is None
            assert response.headers["location"].endswith(f"?done={status}")
        with db.session(fuzz_db) as s:  # every view that was logged is Anna's, of a handover she may see
            for row in s.scalars(select(AccessLog)):
                assert row.username == "anna" and row.handover_code in {codes[k] for k in KEYS[:3]} | {codes["bos"]}

    fuzz()


# --- admin ----------------------------------------------------------------------------------------------------------


def test_the_add_account_form_adds_a_well_formed_account_or_nothing(fuzz_db, run):
    app = create_app(fuzz_db, base_url=BASE_URL)
    ada = logged_in(app, fuzz_db, "ada")

    @settings(FUZZ, max_examples=25)
    @given(
        username=st.one_of(nasty_text(), st.sampled_from(["eva", "Eva.Ström", "åsa-ö_1", "anna", "x" * 64, "x" * 65])),
        display_name=st.one_of(nasty_text(300), st.just("")),
        team_id=st.one_of(st.sampled_from(["berga", "lambohov", "", "nowhere", "BERGA"]), nasty_text()),
        role=st.one_of(st.sampled_from(["social_worker", "team_lead", "admin", "", "root"]), nasty_text()),
    )
    def add(username, display_name, team_id, role):
        before = count(fuzz_db, Staff)
        form = {"username": username, "display_name": display_name, "team_id": team_id, "role": role}
        response = run(ada.post("/admin/staff", form))
        assert_no_server_error(response)
        assert response.status in (200, 400)
        assert "<script>alert(1)" not in response.text and "<img src=x" not in response.text
        if response.status == 400:
            assert count(fuzz_db, Staff) == before
            return
        assert count(fuzz_db, Staff) == before + 1
        with db.session(fuzz_db) as s:
            added = find_staff(s, username)
            assert added is not None and added.username == username.strip().lower()
            assert re.fullmatch(r"[\w.-]{1,64}", added.username) and "\x00" not in added.display_name
            assert added.role == role.strip()
            assert (added.team_id is None) == (added.role == "admin")
            if added.team_id is not None:
                assert s.get(Team, added.team_id) is not None
        assert "Lösenordet visas bara nu." in response.text

    add()


def test_the_admin_forms_take_any_name_or_team_in_the_path(fuzz_db, run):
    """Disable, new API key and team mailbox, for any name: the account or team, or "not found"; never an error."""
    app = create_app(fuzz_db, base_url=BASE_URL)
    ada = logged_in(app, fuzz_db, "ada")

    @FUZZ
    @given(
        action=st.sampled_from(["disable", "token", "mailbox"]),
        name=st.one_of(nasty_text(100), st.sampled_from(["lisa", "LISA", "nobody", "ada", "berga", "%00", "li%73a"])),
        mailbox=st.one_of(st.sampled_from(["", "team@kommun.example"]), nasty_text()),
    )
    def admin(action, name, mailbox):
        segment = quote(name, safe="%") if "%" in name else quote(name, safe="")
        assume(segment not in ("", ".", ".."))
        path = f"/admin/teams/{segment}/mailbox" if action == "mailbox" else f"/admin/staff/{segment}/{action}"
        response = run(ada.post(path, {"mailbox": mailbox}))
        assert_no_server_error(response)
        assert response.status in (200, 303, 400, 404)
        with db.session(fuzz_db) as s:
            assert find_staff(s, "ada").disabled is False  # an admin never locks themself out

    admin()


# --- control characters: what the fuzzing found on PostgreSQL, kept as fixed cases ---------------------------------


def test_control_characters_are_never_a_server_error_and_never_stored(fuzz_db, run):
    """PostgreSQL refuses NUL in text, SQLite keeps it: on both, a NUL in a form or a path is taken out or
    is "not found", the same answer on both databases, and nothing with a control character is stored."""
    app = create_app(fuzz_db, base_url=BASE_URL)
    anna, ada = logged_in(app, fuzz_db, "anna"), logged_in(app, fuzz_db, "ada")
    codes = reset_handovers(fuzz_db)

    claimed = run(anna.post(f"/handovers/{codes['new']}/status", {"to": "claimed", "note": "ring\x00de\x07"}))
    assert claimed.status == 303
    closed = run(anna.post(f"/handovers/{codes['new']}/status", {"to": "closed", "note": "\x00 \x1b"}))
    assert closed.status == 409 and pages.OUTCOME_NEEDED in closed.text  # a NUL is no outcome
    for path in (f"/handovers/{codes['new'][:3]}%00", "/handovers/%00"):
        assert run(anna.get(path)).status == 404

    added = run(
        ada.post(
            "/admin/staff",
            {"username": "eva", "display_name": "Eva\x00 S", "team_id": "berga", "role": "social_worker"},
        )
    )
    assert added.status == 200
    for form in (
        {"username": "ev\x00e", "display_name": "E", "team_id": "berga", "role": "social_worker"},
        {"username": "eve", "display_name": "E", "team_id": "ber\x00ga", "role": "social_worker"},
        {"username": "eve", "display_name": "E", "team_id": "berga", "role": "social\x00_worker"},
    ):
        assert run(ada.post("/admin/staff", form)).status == 400
    for path in ("/admin/staff/%00/disable", "/admin/staff/an%00na/token", "/admin/teams/%00/mailbox"):
        assert run(ada.post(path, {"mailbox": ""})).status == 404
    assert run(anna.get("/?status=%00")).status == 200

    with db.session(fuzz_db) as s:
        assert find_staff(s, "eva").display_name == "Eva S"
        assert find_staff(s, "eve") is None and find_staff(s, "an\x00na") is None
        assert find_staff(s, "anna").disabled is False
        notes = [e.note for h in s.scalars(select(Handover)) for e in h.events if e.note]
        assert "ringde" in notes and not any(has_control(note) for note in notes)
