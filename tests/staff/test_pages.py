"""The staff web pages, through the ASGI test client against a fresh SQLite database per test."""

from __future__ import annotations

import datetime as dt
import re
from itertools import pairwise

import pytest
from sqlalchemy import select

from bot.staff import pages
from bot.staff.app import CONTENT_SECURITY_POLICY, create_app
from bot.store import db
from bot.store.handovers import access_log
from bot.store.models import AccessLog, Handover, Staff, StaffSession, Team
from bot.store.staff import find_staff, staff_for_token
from tests.staff.conftest import PASSWORD, Client, csrf_of, make_handover, minutes_ago

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning")


def set_cookie(response, name: str) -> str:
    """The Set-Cookie header for one cookie."""
    headers = [value for key, value in response.headers.multi_items() if key == "set-cookie"]
    found = [header for header in headers if header.startswith(f"{name}=")]
    assert found, f"no Set-Cookie for {name}: {headers}"
    return found[-1]


def headings(html: str) -> list[int]:
    return [int(level) for level in re.findall(r"<h([1-6])[\s>]", html)]


def assert_headings_in_order(html: str) -> None:
    levels = headings(html)
    assert levels and levels[0] == 1 and levels.count(1) == 1, levels
    for before, after in pairwise(levels):
        assert after <= before + 1, levels


def handover_row(db_url: str, code: str) -> Handover:
    with db.session(db_url) as s:
        return s.scalar(select(Handover).where(Handover.code == code))


def log_rows(db_url: str) -> list[tuple[str, str, str]]:
    with db.session(db_url) as s:
        return [(row.username, row.handover_code, row.via) for row in access_log(s)]


# --- formatting -------------------------------------------------------------------------------


def test_local_time_is_swedish_time_short_month_and_year_only_when_not_this_year():
    utc = dt.timezone.utc
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=utc)
    assert pages.local_time(dt.datetime(2026, 11, 22, 13, 5, tzinfo=utc), now=now) == "22 nov 14:05"  # CET
    assert pages.local_time(dt.datetime(2026, 7, 1, 12, 0, tzinfo=utc), now=now) == "1 juli 14:00"  # CEST
    assert pages.local_time(dt.datetime(2025, 3, 9, 8, 30, tzinfo=utc), now=now) == "9 mars 2025 09:30"
    assert pages.local_time(None) == ""


def test_every_topic_method_and_status_has_a_swedish_label():
    assert pages.topic_label(None) == pages.topic_label("service") == "Övrigt"
    assert pages.topic_label("crime_worry") == "Oro för kriminalitet"
    assert set(pages.STATUSES) == {"new", "claimed", "contacted", "closed", "withdrawn"}
    assert pages.METHODS["dropin"] == "Kommer till drop-in"


# --- login, logout, cookies and CSRF -------------------------------------------------------------


async def test_login_page_is_swedish_keyboard_friendly_and_sets_a_strict_form_token(client):
    browser = await client()
    page = await browser.get("/login")
    assert page.status == 200
    html = page.text
    assert '<html lang="sv">' in html
    assert '<a class="skip-link" href="#innehall">Hoppa till innehållet</a>' in html
    assert '<main id="innehall" tabindex="-1"' in html
    assert '<label for="username">Användarnamn</label>' in html and '<label for="password">Lösenord</label>' in html
    assert '<button type="submit">Logga in</button>' in html
    assert 'role="status" aria-live="polite"' in html
    assert "<script" not in html and "style=" not in html
    assert_headings_in_order(html)
    cookie = set_cookie(page, pages.LOGIN_COOKIE)
    assert f"{pages.LOGIN_COOKIE}={csrf_of(html)}" in cookie
    for flag in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/login"):
        assert flag in cookie


async def test_login_sets_a_strict_secure_session_cookie_and_redirects_to_the_queue(client, db_url):
    browser = await client()
    response = await browser.try_login("anna")
    assert response.status == 303
    assert response.headers["location"] == "/"
    cookie = set_cookie(response, pages.SESSION_COOKIE)
    for flag in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/"):
        assert flag in cookie
    assert "Max-Age=0" in set_cookie(response, pages.LOGIN_COOKIE)  # the form token is spent
    queue = await browser.get("/")
    assert queue.status == 200
    assert "Inloggad som Anna Berg, Områdesteam Berga" in queue.text
    with db.session(db_url) as s:
        assert len(list(s.scalars(select(StaffSession)))) == 1


async def test_cookies_without_secure_only_when_turned_off(db_url):
    app = create_app(db_url, secure_cookies=False)
    browser = Client(app)
    response = await browser.try_login("anna")
    cookie = set_cookie(response, pages.SESSION_COOKIE)
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def test_wrong_password_unknown_user_and_empty_form_get_the_very_same_page(client):
    browser = await client()
    wrong = await browser.try_login("anna", "fel-lösenord-456")
    unknown = await browser.try_login("nobody", "fel-lösenord-456")
    empty = await browser.try_login("", "")
    assert wrong.status == unknown.status == empty.status == 200
    assert wrong.text == unknown.text == empty.text  # nothing tells which accounts exist
    assert pages.LOGIN_FAILED in wrong.text
    assert 'role="alert"' in wrong.text and "<title>Fel: Logga in" in wrong.text
    assert not [v for k, v in wrong.headers.multi_items() if k == "set-cookie" and v.startswith("nara_staff=")]
    assert (await browser.get("/")).status == 303  # still not logged in


async def test_five_failures_lock_the_account_with_the_same_message(client, db_url):
    browser = await client()
    for _ in range(5):
        response = await browser.try_login("anna", "fel-lösenord-456")
        assert pages.LOGIN_FAILED in response.text
    locked = await browser.try_login("anna", PASSWORD)  # the right password, but locked
    assert locked.status == 200
    assert pages.LOGIN_FAILED in locked.text
    with db.session(db_url) as s:
        assert find_staff(s, "anna").locked_until is not None
    other = await browser.try_login("bo", PASSWORD)  # only that account is locked
    assert other.status == 303


async def test_login_form_without_the_right_token_is_expired(client, app):
    browser = await client()
    page = await browser.get("/login")
    token = csrf_of(page.text)
    missing = await browser.post("/login", {"username": "anna", "password": PASSWORD})
    wrong = await browser.post("/login", {"username": "anna", "password": PASSWORD, "csrf": "x" * 43})
    assert missing.status == wrong.status == 403
    assert pages.EXPIRED in missing.text
    # the right value, but not from this browser (no cookie): a cross-site form cannot log anyone in
    stranger = Client(app)
    forged = await stranger.post("/login", {"username": "anna", "password": PASSWORD, "csrf": token})
    assert forged.status == 403
    assert (await browser.post("/login", {"username": "anna", "password": PASSWORD, "csrf": token})).status == 303


async def test_posts_without_the_session_token_are_refused(client, db_url):
    code = make_handover(db_url)
    anna = await client("anna")
    for data in ({"to": "claimed"}, {"to": "claimed", "csrf": "not-the-token"}):
        response = await anna.post(f"/handovers/{code}/status", data, csrf=False)
        assert response.status == 403
        assert pages.EXPIRED in response.text
    assert handover_row(db_url, code).status == "new"
    assert (await anna.post("/logout", csrf=False)).status == 403
    assert (await anna.get("/")).status == 200  # still logged in
    ada = await client("ada")
    refused = await ada.post(
        "/admin/staff", {"username": "eva", "role": "social_worker", "team_id": "berga"}, csrf=False
    )
    assert refused.status == 403
    with db.session(db_url) as s:
        assert find_staff(s, "eva") is None


async def test_logout_ends_the_session(client, db_url):
    anna = await client("anna")
    response = await anna.post("/logout")
    assert response.status == 303
    assert response.headers["location"] == "/login?done=logout"
    assert "Max-Age=0" in set_cookie(response, pages.SESSION_COOKIE)
    with db.session(db_url) as s:
        assert list(s.scalars(select(StaffSession))) == []
    assert (await anna.get("/")).status == 303
    login = await anna.get("/login?done=logout")
    assert "Du är utloggad." in login.text


async def test_pages_need_a_login(client, db_url):
    code = make_handover(db_url)
    browser = await client()
    home = await browser.get("/")
    assert home.status == 303 and home.headers["location"] == "/login"
    page = await browser.get(f"/handovers/{code}")
    assert page.status == 303 and page.headers["location"] == f"/login?next=%2Fhandovers%2F{code}"
    assert (await browser.get("/admin")).status == 303
    assert (await browser.get("/queue/fragment")).status == 401
    assert log_rows(db_url) == []


async def test_after_login_the_e_mail_link_leads_to_the_handover_but_never_off_site(client, db_url):
    code = make_handover(db_url)
    browser = await client()
    page = await browser.get(f"/login?next=/handovers/{code}")
    assert f'name="next" value="/handovers/{code}"' in page.text
    response = await browser.try_login("anna", next=f"/handovers/{code}")
    assert response.headers["location"] == f"/handovers/{code}"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        elsewhere = await (await client()).try_login("bo", next=target)
        assert elsewhere.headers["location"] == "/"


# --- the queue --------------------------------------------------------------------------------


async def test_queue_shows_the_team_in_swedish_with_urgent_ones_first(client, db_url):
    received = minutes_ago(90)
    older = make_handover(db_url, now=received, topic="parenting", contact_method="sms")
    urgent = make_handover(db_url, now=minutes_ago(5), urgent=True, topic="violence", contact_method="dropin")
    email = make_handover(db_url, now=minutes_ago(30), topic=None, contact_method="email", contact_value="a@b.se")
    anna = await client("anna")
    html = (await anna.get("/")).text
    assert html.index(urgent) < html.index(older) < html.index(email)
    urgent_row = html[html.index(f'data-code="{urgent}"') : html.index(f'data-code="{older}"')]
    assert "Brådskande" in urgent_row and "Våld" in urgent_row and "Kommer till drop-in" in urgent_row
    older_row = html[html.index(f'data-code="{older}"') : html.index(f'data-code="{email}"')]
    assert "Föräldraskap" in older_row and "SMS" in older_row and "Ny" in older_row
    assert pages.local_time(received) in older_row
    assert re.search(r"\d{1,2} (jan|feb|mars|apr|maj|juni|juli|aug|sep|okt|nov|dec)( \d{4})? \d\d:\d\d", older_row)
    email_row = html[html.index(f'data-code="{email}"') :]
    assert "Övrigt" in email_row and "E-post" in email_row
    for header in ("Kod", "Inkom", "Område", "Ämne", "Kontakt", "Status"):
        assert f'<th scope="col">{header}</th>' in html
    assert '<th scope="row">' in html
    assert '<script src="/static/queue.js" defer></script>' in html
    assert 'data-fragment-url="/queue/fragment"' in html
    assert "+46701234567" not in html and "a@b.se" not in html  # contact details only on the handover
    assert_headings_in_order(html)


async def test_the_queue_and_its_fragment_show_only_the_viewers_team(client, db_url):
    berga = make_handover(db_url, "berga")
    lambohov = make_handover(db_url, "lambohov")
    anna = await client("anna")
    queue = await anna.get("/")
    fragment = await anna.get("/queue/fragment")
    assert fragment.status == 200
    for html in (queue.text, fragment.text):
        assert berga in html and lambohov not in html
    assert "<html" not in fragment.text and f'<tr data-code="{berga}" data-status="new">' in fragment.text
    assert fragment.headers["cache-control"] == "no-store"
    other = await anna.get(f"/handovers/{lambohov}")
    assert other.status == 404
    assert pages.NO_HANDOVER in other.text
    lisa = await client("lisa")
    assert lambohov in (await lisa.get("/")).text and berga not in (await lisa.get("/queue/fragment")).text


async def test_a_colleagues_claimed_handover_leaves_a_social_workers_queue_but_not_the_team_leads(client, db_url):
    code = make_handover(db_url)
    anna, bo, lena = await client("anna"), await client("bo"), await client("lena")
    assert (await anna.post(f"/handovers/{code}/status", {"to": "claimed"})).status == 303
    assert code not in (await bo.get("/")).text
    assert code not in (await bo.get("/queue/fragment")).text
    assert (await bo.get(f"/handovers/{code}")).status == 404
    assert (await bo.post(f"/handovers/{code}/status", {"to": "closed", "note": "x"})).status == 404
    lead_queue = (await lena.get("/")).text
    assert code in lead_queue and "Tagen av Anna Berg" in lead_queue
    assert (await lena.get(f"/handovers/{code}")).status == 200


async def test_status_filter(client, db_url):
    fresh = make_handover(db_url)
    taken = make_handover(db_url)
    done = make_handover(db_url)
    anna = await client("anna")
    await anna.post(f"/handovers/{taken}/status", {"to": "claimed"})
    await anna.post(f"/handovers/{done}/status", {"to": "claimed"})
    await anna.post(f"/handovers/{done}/status", {"to": "closed", "note": "Fick tid hos oss"})
    open_ = (await anna.get("/")).text
    assert fresh in open_ and taken in open_ and done not in open_
    new = (await anna.get("/?status=new")).text
    assert fresh in new and taken not in new and 'href="/?status=new" aria-current="page"' in new
    assert 'data-fragment-url="/queue/fragment?status=new"' in new
    closed = (await anna.get("/queue/fragment?status=closed")).text
    assert done in closed and fresh not in closed
    assert fresh in (await anna.get("/?status=nonsense")).text  # an unknown filter shows the open ones
    empty = (await anna.get("/?status=withdrawn")).text
    assert "Inga ärenden med den statusen." in empty


# --- one handover -----------------------------------------------------------------------------


async def test_the_handover_page_shows_everything_the_social_worker_needs(client, db_url):
    code = make_handover(db_url, urgent=True)
    anna = await client("anna")
    page = await anna.get(f"/handovers/{code}")
    assert page.status == 200
    html = page.text
    assert f'<h1>Ärende {code} <strong class="urgent-label">Brådskande</strong></h1>' in html
    for text in (
        "Oro för sonen som inte har gått till skolan på tre veckor.",
        "Berga",
        "Skolfrånvaro",
        "Samtal",
        '<a href="tel:+46701234567">+46701234567</a>',
        "Förmiddag",
        "Min son vill inte gå till skolan.",
        "Ny",
        "Ärendet kom in",
        "Invånaren",
    ):
        assert text in html, text
    assert ">Ta ärendet</button>" in html and ">Återkallad</button>" in html
    assert ">Avsluta</button>" not in html  # a new handover is claimed before it is closed
    assert html.count(f'name="csrf" value="{anna.csrf}"') >= 3  # logout, claim, withdraw
    assert page.headers["cache-control"] == "no-store"
    assert_headings_in_order(html)


async def test_claim_contacted_close_with_outcome_erases_the_contact_details(client, db_url):
    code = make_handover(db_url)
    anna = await client("anna")
    claimed = await anna.post(f"/handovers/{code}/status", {"to": "claimed"})
    assert claimed.status == 303 and claimed.headers["location"] == f"/handovers/{code}?done=claimed"
    page = (await anna.get(claimed.headers["location"])).text
    assert "Du har tagit ärendet." in page and "Tagen, Anna Berg" in page
    assert ">Kontakt tagen</button>" in page and ">Avsluta</button>" in page and ">Släpp ärendet</button>" in page
    contacted = await anna.post(f"/handovers/{code}/status", {"to": "contacted", "note": "Ringde, bokade tid"})
    assert contacted.status == 303
    no_outcome = await anna.post(f"/handovers/{code}/status", {"to": "closed", "note": "   "})
    assert no_outcome.status == 409
    assert pages.OUTCOME_NEEDED in no_outcome.text
    assert handover_row(db_url, code).status == "contacted"
    closed = await anna.post(f"/handovers/{code}/status", {"to": "closed", "note": "Samtal bokat 25 nov"})
    assert closed.status == 303
    row = handover_row(db_url, code)
    assert row.status == "closed" and row.contact_value is None and row.outcome == "Samtal bokat 25 nov"
    html = (await anna.get(f"/handovers/{code}")).text
    assert "+46701234567" not in html
    assert "Raderade när ärendet avslutades." in html and "Samtal bokat 25 nov" in html
    for text in (
        "Tog ärendet",
        "Kontakt tagen",
        "Ringde, bokade tid",
        "Avslutade ärendet",
        "Kontaktuppgifterna raderades",
    ):
        assert text in html, text
    assert "Anna Berg" in html and "Gör något med ärendet" not in html  # a closed handover has no buttons


async def test_a_move_that_is_no_longer_possible_gets_a_kind_409(client, db_url):
    code = make_handover(db_url)
    anna = await client("anna")
    await anna.post(f"/handovers/{code}/status", {"to": "claimed"})
    again = await anna.post(f"/handovers/{code}/status", {"to": "claimed"})
    assert again.status == 409
    assert pages.ALREADY_CHANGED in again.text and 'role="alert"' in again.text
    unknown = await anna.post(f"/handovers/{code}/status", {"to": "flying"})
    assert unknown.status == 400 and pages.UNKNOWN_ACTION in unknown.text
    too_long = await anna.post(f"/handovers/{code}/status", {"to": "contacted", "note": "x" * (pages.MAX_NOTE + 1)})
    assert too_long.status == 400 and pages.NOTE_TOO_LONG in too_long.text
    assert handover_row(db_url, code).status == "claimed"


async def test_release_and_withdraw(client, db_url):
    code = make_handover(db_url)
    anna = await client("anna")
    await anna.post(f"/handovers/{code}/status", {"to": "claimed"})
    released = await anna.post(f"/handovers/{code}/status", {"to": "new"})
    assert released.headers["location"] == f"/handovers/{code}?done=new"
    assert handover_row(db_url, code).claimed_by is None
    assert code in (await (await client("bo")).get("/")).text
    withdrawn = await anna.post(f"/handovers/{code}/status", {"to": "withdrawn"})
    # an unclaimed, withdrawn handover is out of a social worker's scope: back to the queue
    assert withdrawn.headers["location"] == "/?done=withdrawn"
    queue = (await anna.get("/?done=withdrawn")).text
    assert "Ärendet är markerat som återkallat." in queue and code not in queue
    assert handover_row(db_url, code).contact_value is None


async def test_codes_in_the_address_may_be_typed_loosely(client, db_url):
    code = make_handover(db_url)
    anna = await client("anna")
    assert (await anna.get(f"/handovers/{code.lower().replace('-', '')}")).status == 200


async def test_every_view_is_in_the_access_log_and_only_views(client, db_url):
    berga = make_handover(db_url)
    lambohov = make_handover(db_url, "lambohov")
    anna = await client("anna")
    await anna.get("/")
    await anna.get("/queue/fragment")
    assert log_rows(db_url) == []  # the queue lists, it does not open handovers
    await anna.get(f"/handovers/{berga}")
    await anna.get(f"/handovers/{berga}")
    await anna.get(f"/handovers/{lambohov}")  # not found: nothing was seen
    assert log_rows(db_url) == [("anna", berga, "page"), ("anna", berga, "page")]


async def test_user_controlled_text_is_escaped_everywhere(client, db_url):
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    code = make_handover(
        db_url,
        summary=attack,
        excerpt=attack,
        district=attack,
        preferred_time=attack,
        contact_method="email",
        contact_value='"><script>alert(2)</script>@x.se',
    )
    anna = await client("anna")
    for html in ((await anna.get("/")).text, (await anna.get("/queue/fragment")).text):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    await anna.post(f"/handovers/{code}/status", {"to": "claimed"})
    await anna.post(f"/handovers/{code}/status", {"to": "contacted", "note": attack})
    html = (await anna.get(f"/handovers/{code}")).text
    assert "<script>alert" not in html and "<img src=x" not in html and '"><script>' not in html
    assert html.count("&lt;script&gt;") >= 5
    ada = await client("ada")
    added = await ada.post(
        "/admin/staff", {"username": "eva", "display_name": attack, "team_id": "berga", "role": "social_worker"}
    )
    assert added.status == 200 and "<script>alert" not in added.text and "&lt;script&gt;" in added.text


async def test_security_headers_on_every_response(client, db_url):
    code = make_handover(db_url)
    anna = await client("anna")
    responses = [
        await anna.get("/"),
        await anna.get(f"/handovers/{code}"),
        await anna.get("/queue/fragment"),
        await anna.get("/no/such/page"),
        await anna.post(f"/handovers/{code}/status", {"to": "claimed"}, csrf=False),
        await (await client()).get("/login"),
    ]
    for response in responses:
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    assert [r.status for r in responses] == [200, 200, 200, 404, 403, 200]
    assert "Sidan finns inte." in responses[3].text
    static = await anna.get("/static/queue.js")
    assert static.status == 200 and "javascript" in static.headers["content-type"]
    assert static.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "no-store" not in static.headers.get("cache-control", "")
    assert (await anna.get("/static/style.css")).status == 200
    assert (await anna.get("/static/favicon.svg")).status == 200


async def test_no_inline_scripts_or_styles_on_any_page(client, db_url):
    code = make_handover(db_url)
    anna, ada = await client("anna"), await client("ada")
    for browser, path in ((anna, "/"), (anna, f"/handovers/{code}"), (ada, "/admin"), (ada, "/admin/access-log")):
        html = (await browser.get(path)).text
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), path
        assert "<style" not in html and "style=" not in html and " on" + "click=" not in html, path
        assert '<html lang="sv">' in html and "Hoppa till innehållet" in html, path
        assert_headings_in_order(html)


# --- admin ------------------------------------------------------------------------------------


async def test_admins_see_no_handovers_anywhere(client, db_url):
    code = make_handover(db_url)
    ada = await client("ada")
    home = await ada.get("/")
    assert home.status == 303 and home.headers["location"] == "/admin"
    assert (await ada.get("/queue/fragment")).status == 404
    page = await ada.get(f"/handovers/{code}")
    assert page.status == 404 and pages.NO_HANDOVER in page.text
    assert "Oro för sonen" not in page.text
    assert (await ada.post(f"/handovers/{code}/status", {"to": "claimed"})).status == 404
    assert handover_row(db_url, code).status == "new"
    admin_html = (await ada.get("/admin")).text
    assert code not in admin_html and "Oro för sonen" not in admin_html
    assert log_rows(db_url) == []


async def test_only_admins_reach_the_admin_pages(client):
    anna = await client("anna")
    for path in ("/admin", "/admin/access-log"):
        response = await anna.get(path)
        assert response.status == 404 and "Sidan finns inte." in response.text
    refused = await anna.post("/admin/staff", {"username": "eva", "team_id": "berga", "role": "admin"})
    assert refused.status == 404
    assert (await anna.post("/admin/staff/bo/disable")).status == 404
    assert (await anna.post("/admin/teams/berga/mailbox", {"mailbox": "x@y.se"})).status == 404


async def test_admin_lists_accounts_and_teams(client, db_url):
    with db.session(db_url) as s:
        s.get(Team, "berga").mailbox = "berga@kommun.example"
        find_staff(s, "bo").disabled = True
        find_staff(s, "lisa").locked_until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)
    ada = await client("ada")
    html = (await ada.get("/admin")).text
    for header in ("Användarnamn", "Namn", "Team", "Roll", "Avstängt", "Låst"):
        assert f'<th scope="col">{header}</th>' in html
    assert '<th scope="row">anna</th>' in html and "Socialsekreterare" in html and "Teamledare" in html
    assert "Administratör" in html
    bo_row = html[html.index('<th scope="row">bo</th>') : html.index('<th scope="row">lena</th>')]
    assert "<td>Ja</td>" in bo_row  # disabled
    lisa_row = html[html.index('<th scope="row">lisa</th>') :].split("</tr>")[0]
    assert "Ja, till" in lisa_row
    assert 'value="berga@kommun.example"' in html
    assert "Områdesteam Skäggetorp" in html  # the knowledge base's teams were added at start
    assert "/admin/staff/ada/disable" not in html  # no way to lock yourself out


async def test_adding_an_account_shows_the_one_time_password_once_and_it_works(client, app, db_url):
    ada = await client("ada")
    response = await ada.post(
        "/admin/staff", {"username": "Eva.Ström", "display_name": "Eva Ström", "team_id": "berga", "role": "team_lead"}
    )
    assert response.status == 200
    password = re.search(r'id="secret-value">([^<]+)</code>', response.text).group(1)
    assert "Lösenordet visas bara nu." in response.text
    assert response.headers["cache-control"] == "no-store"
    assert password not in (await ada.get("/admin")).text
    with db.session(db_url) as s:
        eva = find_staff(s, "eva.ström")
        assert eva.role == "team_lead" and eva.team_id == "berga" and eva.display_name == "Eva Ström"
        assert password not in eva.password_hash
    eva_browser = Client(app)
    assert (await eva_browser.try_login("eva.ström", password)).status == 303
    duplicate = await ada.post("/admin/staff", {"username": "eva.ström", "team_id": "berga", "role": "social_worker"})
    assert duplicate.status == 400 and "Användarnamnet finns redan." in duplicate.text
    no_team = await ada.post("/admin/staff", {"username": "frida", "team_id": "", "role": "social_worker"})
    assert no_team.status == 400 and "Välj ett team." in no_team.text
    bad_name = await ada.post("/admin/staff", {"username": "a b", "team_id": "berga", "role": "social_worker"})
    assert bad_name.status == 400 and 'value="a b"' in bad_name.text  # the form keeps what was typed
    admin = await ada.post("/admin/staff", {"username": "gustav", "team_id": "berga", "role": "admin"})
    assert admin.status == 200
    with db.session(db_url) as s:
        assert find_staff(s, "gustav").team_id is None


async def test_disabling_an_account_ends_its_sessions(client, db_url):
    bo = await client("bo")
    ada = await client("ada")
    response = await ada.post("/admin/staff/bo/disable")
    assert response.status == 303 and response.headers["location"] == "/admin?done=disabled"
    assert "Kontot är avstängt." in (await ada.get("/admin?done=disabled")).text
    assert (await bo.get("/")).status == 303  # logged out
    assert (await (await client()).try_login("bo")).status == 200  # cannot log in again
    assert (await ada.post("/admin/staff/nobody/disable")).status == 404
    myself = await ada.post("/admin/staff/ada/disable")
    assert myself.status == 400 and "Du kan inte stänga av ditt eget konto." in myself.text
    with db.session(db_url) as s:
        assert find_staff(s, "ada").disabled is False


async def test_an_api_token_is_shown_once_and_works(client, db_url):
    ada = await client("ada")
    response = await ada.post("/admin/staff/anna/token")
    assert response.status == 200 and "Nyckeln visas bara nu." in response.text
    token = re.search(r'id="secret-value">([^<]+)</code>', response.text).group(1)
    with db.session(db_url) as s:
        assert staff_for_token(s, token).username == "anna"
    html = (await ada.get("/admin")).text
    assert token not in html and "Ny API-nyckel" in html
    await ada.post("/admin/staff/bo/disable")
    refused = await ada.post("/admin/staff/bo/token")
    assert refused.status == 400 and "avstängt" in refused.text


async def test_editing_a_teams_mailbox(client, db_url):
    ada = await client("ada")
    saved = await ada.post("/admin/teams/berga/mailbox", {"mailbox": " Berga.Team@Kommun.example "})
    assert saved.status == 303 and saved.headers["location"] == "/admin?done=mailbox"
    with db.session(db_url) as s:
        assert s.get(Team, "berga").mailbox == "Berga.Team@kommun.example"
    invalid = await ada.post("/admin/teams/berga/mailbox", {"mailbox": "inte en adress"})
    assert invalid.status == 400 and "Skriv en giltig e-postadress" in invalid.text
    cleared = await ada.post("/admin/teams/berga/mailbox", {"mailbox": ""})
    assert cleared.status == 303
    with db.session(db_url) as s:
        assert s.get(Team, "berga").mailbox is None
    assert (await ada.post("/admin/teams/nowhere/mailbox", {"mailbox": "a@b.se"})).status == 404


async def test_the_access_log_page_lists_every_view(client, db_url):
    code = make_handover(db_url)
    anna = await client("anna")
    await anna.get(f"/handovers/{code}")
    with db.session(db_url) as s:
        anna_id = find_staff(s, "anna").id
        s.add(AccessLog(staff_id=anna_id, username="anna", handover_code=code, via="api"))
    ada = await client("ada")
    page = await ada.get("/admin/access-log")
    assert page.status == 200
    html = page.text
    for header in ("När", "Vem", "Ärende", "Var"):
        assert f'<th scope="col">{header}</th>' in html
    rows = re.findall(
        r"<tr>\s*<td><time[^>]*>[^<]+</time></td>\s*<td>(\w+)</td>\s*<td>([\w-]+)</td>\s*<td>(\w+)</td>", html
    )
    assert rows == [("anna", code, "API"), ("anna", code, "Webbsidan")]  # newest first
    assert "Oro för sonen" not in html


# --- the app ----------------------------------------------------------------------------------


def test_create_app_reads_the_database_url_from_the_environment(monkeypatch, db_url):
    monkeypatch.setenv("NARA_DATABASE_URL", db_url)
    app = create_app(smtp=("mail.example", 25), base_url="https://nara.example/")
    assert app.ctx.db_url == db_url
    assert app.ctx.smtp == ("mail.example", 25) and app.ctx.base_url == "https://nara.example"


def test_the_api_blueprint_is_registered_when_it_exists(app):
    try:
        import bot.staff.api  # noqa: F401
    except ModuleNotFoundError:
        pytest.skip("bot/staff/api.py is not there yet")
    assert "api" in app.blueprints
    assert any(route.path.startswith("api/v1") for route in app.router.routes)


async def test_the_schema_is_brought_up_to_date_on_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app(url)
    browser = Client(app)
    assert (await browser.get("/login")).status == 200
    with db.session(url) as s:
        assert s.scalar(select(Staff.id)) is None
        assert s.get(Team, "berga") is not None


async def test_accounts_with_swedish_letters_can_be_managed(client, db_url):
    ada = await client("ada")
    added = await ada.post("/admin/staff", {"username": "åsa.öberg", "team_id": "berga", "role": "social_worker"})
    assert added.status == 200
    assert 'action="/admin/staff/%C3%A5sa.%C3%B6berg/disable"' in added.text
    token = await ada.post("/admin/staff/%C3%A5sa.%C3%B6berg/token")
    assert token.status == 200 and "Ny API-nyckel för åsa.öberg" in token.text
    assert (await ada.post("/admin/staff/%C3%A5sa.%C3%B6berg/disable")).status == 303
    with db.session(db_url) as s:
        assert find_staff(s, "åsa.öberg").disabled is True
