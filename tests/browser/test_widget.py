"""The chat widget in a real browser, against everything `make run` starts (scripts/run: Rasa with the trained model,
the action server, the staff app and the web app on :8000), driven by Playwright in Debian's Chromium.

A resident opens the demo page, asks a question and gets an article with its source and review date, goes through a
handover to the reference code, sees a crisis reply with tap-to-call links, and leaves with the quick exit; axe-core
finds no serious or critical violation on any page or state; the widget works by keyboard alone, on a 360 px phone,
at 200% zoom and with reduced motion; it sets no cookie, makes no third-party request and keeps nothing after the
tab closes. Screenshots go to build/artifacts/widget/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from actions.messages import message
from knowledge.loader import cached_knowledge
from tests.browser.conftest import ROOT
from tests.e2e.conftest import RASA_URL, WEB_URL, running_nara

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "build" / "artifacts" / "widget"
ANSWER_TIMEOUT_MS = 30_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def nara() -> Iterator[str]:
    with running_nara({}, log_name="widget-run.log"):
        yield WEB_URL


class Visit:
    """One browser context (a tab's world): its pages, every request it made, and every console error."""

    def __init__(self, browser, **options):
        self.context = browser.new_context(base_url=WEB_URL, locale="sv-SE", timezone_id="Europe/Stockholm", **options)
        self.context.set_default_timeout(10_000)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture
def visit(chromium, nara) -> Iterator[callable]:
    visits: list[Visit] = []

    def make(**options) -> Visit:
        visits.append(Visit(chromium, **options))
        return visits[-1]

    yield make
    for v in visits:
        hosts = {urlsplit(url).hostname for url in v.requests if not url.startswith(("data:", "about:"))}
        v.context.close()
        assert hosts <= LOCAL_HOSTS, f"third-party requests: {hosts - LOCAL_HOSTS}"
        assert v.errors == [], v.errors  # CSP violations are console errors


# --- helpers -----------------------------------------------------------------------------------------------------


def open_chat(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Chatta med socialarbetarna").click()
    expect(page.get_by_role("textbox", name="Skriv ditt meddelande")).to_be_focused()
    connected(page)


def connected(page: Page) -> None:
    """Waits until the socket has its session (the widget asks for it as soon as it connects)."""
    expect(page.locator('.nara-root[data-connected="true"]')).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(".nara-offline")).to_be_hidden()


def bot_messages(page: Page):
    return page.locator(".nara-log .nara-bot")


def say(page: Page, text: str) -> None:
    """Types and sends with Enter, then waits for the answer to this message."""
    before = bot_messages(page).count()
    box = page.get_by_role("textbox", name="Skriv ditt meddelande")
    box.fill(text)
    box.press("Enter")
    expect(bot_messages(page)).not_to_have_count(before, timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_timeout(300)  # a turn may bring several messages and a payload right after


def click_reply(page: Page, title: str) -> None:
    before = bot_messages(page).count()
    page.locator(".nara-buttons").last.get_by_role("button", name=title).click()
    expect(bot_messages(page)).not_to_have_count(before, timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_timeout(300)


def serious_violations(page: Page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]})
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def stored(page: Page) -> str | None:
    return page.evaluate("() => sessionStorage.getItem('nara.conversation')")


# --- the resident's paths --------------------------------------------------------------------------------------------


def test_the_opening_then_an_article_with_its_source_and_review_date(visit):
    v = visit()
    page = v.page
    open_chat(page)
    opening = page.locator(".nara-log").inner_text()
    for promise in ("ingen ansökan", "anonym", "sparas i 21 dagar", "radera min konversation"):
        assert promise in opening
    log = page.get_by_role("log")
    expect(log).to_have_attribute("aria-live", "polite")

    say(page, "min son vill inte gå till skolan, han har ont i magen varje morgon")
    article = cached_knowledge().articles["skolfranvaro-forsta-steg"]
    answer = bot_messages(page).last
    expect(answer).to_contain_text(article.answer[:60])
    source = answer.locator(".nara-source")
    expect(source).to_contain_text(f"Källa: {article.source.title}")
    expect(source).to_contain_text("Granskad")
    expect(source.get_by_role("link", name=article.source.title)).to_have_attribute("href", article.source.url)
    # The answer's own buttons, under it: the way to a person is always there.
    expect(answer.get_by_role("button", name="Prata med en socialarbetare")).to_be_visible()
    v.shot("1-article")
    assert serious_violations(page) == []

    # A reload in the same tab keeps the conversation (sessionStorage); a new tab starts afresh.
    page.reload()
    expect(page.locator(".nara-panel")).to_be_visible()
    expect(page.locator(".nara-source")).to_contain_text(article.source.title)
    other = visit().page
    other.goto("/")
    expect(other.get_by_role("button", name="Chatta med socialarbetarna")).to_be_visible()
    assert "skolan" not in (stored(other) or "")


def test_a_handover_through_the_quick_replies_ends_with_the_reference_code(visit):
    v = visit()
    page = v.page
    open_chat(page)
    say(page, "min dotter på 14 är så ensam, hon har inga kompisar")
    click_reply(page, "Prata med en socialarbetare")
    click_reply(page, message("handover_yes_right"))
    say(page, "Skäggetorp")
    click_reply(page, message("handover_method_dropin"))
    expect(bot_messages(page).last.get_by_role("button", name=message("handover_send_button"))).to_be_visible()
    v.shot("2-summary")
    click_reply(page, message("handover_send_button"))
    done = page.locator(".nara-handover")
    expect(done).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    code = re.search(r"\b[A-HJ-NP-Z2-9]{3}-[A-HJ-NP-Z2-9]{3}\b", done.inner_text())
    assert code, done.inner_text()
    v.shot("3-handover-code")
    assert serious_violations(page) == []


def test_a_crisis_reply_comes_first_prominent_and_with_tap_to_call_numbers(visit):
    v = visit()
    page = v.page
    open_chat(page)
    say(page, "jag orkar inte leva längre, jag vill dö")
    crisis = page.locator(".nara-crisis").first
    expect(crisis).to_be_visible()
    expect(crisis).to_contain_text("Om det är akut")
    expect(crisis.locator('a[href="tel:112"]').first).to_be_visible()
    expect(crisis.locator('a[href="tel:90101"]').first).to_be_visible()
    # Only numbers of lines.yml are links.
    numbers = {line.number for line in cached_knowledge().lines}
    for link in page.locator(".nara-log a[href^='tel:']").all():
        assert link.inner_text() in numbers
    v.shot("4-crisis")
    assert serious_violations(page) == []


def test_the_quick_exit_button_replaces_the_page_and_clears_the_chat(visit):
    v = visit()
    page = v.page
    open_chat(page)
    say(page, "hur pratar jag med min tonåring som skriker hela tiden?")
    assert stored(page) and "tonåring" in stored(page)
    page.get_by_role("button", name="Lämna sidan snabbt").click()
    page.wait_for_url(f"{WEB_URL}/lamna")
    assert stored(page) is None
    assert page.title() == "Sök" and page.locator(".nara-root").count() == 0
    v.shot("5-after-quick-exit")
    # The chat page is not in the tab's history any more: Back does not lead back to it.
    page.go_back()
    assert page.url != f"{WEB_URL}/"
    assert v.context.cookies() == []


def test_escape_twice_leaves_too_and_once_does_not(visit):
    page = visit().page
    open_chat(page)
    say(page, "jag känner mig ensam på kvällarna")
    page.keyboard.press("Escape")
    page.wait_for_timeout(1700)  # longer than the double-press window
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    assert page.url == f"{WEB_URL}/"
    page.keyboard.press("Escape")
    page.wait_for_url(f"{WEB_URL}/lamna")
    assert stored(page) is None


# --- accessibility and the ways people read ------------------------------------------------------------------------


def test_the_widget_works_by_keyboard_alone_with_visible_focus(visit):
    page = visit().page
    page.goto("/")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.className") == "nara-launcher":
            break
    assert page.evaluate("() => document.activeElement.textContent") == "Chatta med socialarbetarna"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "the focused launcher has no visible outline"
    page.keyboard.press("Enter")
    expect(page.get_by_role("textbox", name="Skriv ditt meddelande")).to_be_focused()
    connected(page)
    page.keyboard.type("min dotter vägrar gå till skolan")
    before = bot_messages(page).count()
    page.keyboard.press("Enter")
    expect(bot_messages(page)).not_to_have_count(before, timeout=ANSWER_TIMEOUT_MS)
    # The panel's controls are all reachable with Tab, and Shift+Tab goes back to them.
    seen = set()
    for _ in range(30):
        page.keyboard.press("Tab")
        seen.add(page.evaluate("() => document.activeElement.className || document.activeElement.tagName"))
    assert {"nara-exit", "nara-close", "nara-log", "nara-input", "nara-send"} <= seen
    assert "nara-button" in seen  # the quick replies
    page.get_by_role("button", name="Stäng chatten").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".nara-panel")).to_be_hidden()
    expect(page.get_by_role("button", name="Chatta med socialarbetarna")).to_be_focused()


@pytest.mark.parametrize(
    "name, options",
    [
        ("phone-360", {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}),
        # 200% zoom of a 1280x800 window is a 640x400 CSS viewport at twice the pixel density.
        ("zoom-200", {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2}),
    ],
)
def test_small_screens_and_zoom_lose_nothing(visit, name, options):
    v = visit(**options)
    page = v.page
    open_chat(page)
    width = options["viewport"]["width"]
    panel = page.locator(".nara-panel").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width + 0.5
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    for control in ("Lämna sidan snabbt", "Skicka", "Stäng chatten"):
        expect(page.get_by_role("button", name=control)).to_be_in_viewport()
    say(page, "min son umgås med äldre killar som säljer knark")
    expect(bot_messages(page).last).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    v.shot(f"6-{name}")
    assert serious_violations(page) == []


def test_reduced_motion_is_respected(visit):
    page = visit(reduced_motion="reduce").page
    open_chat(page)
    assert page.evaluate("() => getComputedStyle(document.querySelector('.nara-log')).scrollBehavior") == "auto"
    normal = visit().page
    open_chat(normal)
    assert normal.evaluate("() => getComputedStyle(document.querySelector('.nara-log')).scrollBehavior") == "smooth"


def test_every_page_has_no_serious_accessibility_violation(visit):
    page = visit().page
    for path in ("/", "/tillganglighet", "/lamna"):
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", "sv")
        assert serious_violations(page) == [], path
    page.goto("/")
    page.get_by_role("button", name="Chatta med socialarbetarna").click()
    assert serious_violations(page) == [], "the open widget"


def test_nothing_is_kept_after_the_tab_closes_and_no_cookie_is_set(visit):
    v = visit()
    open_chat(v.page)
    say(v.page, "min man och jag bråkar hela tiden")
    assert v.context.cookies() == []
    assert v.page.evaluate("() => localStorage.length") == 0
    assert v.page.evaluate("() => document.cookie") == ""
    keys = v.page.evaluate("() => Object.keys(sessionStorage)")
    assert keys == ["nara.conversation"]
    # The chat server was reached only through the web page's socket (no other origin).
    assert any(url.startswith(RASA_URL + "/socket.io/") for url in v.requests)
