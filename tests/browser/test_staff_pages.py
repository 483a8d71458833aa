"""Every staff page in a real browser: keyboard login, the queue that updates itself, a handover
from claim to close, logout, and the admin pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, log_in

pytestmark = pytest.mark.browser

FOCUSED = "document.activeElement"


def focused(page, expression: str):
    return page.evaluate(f"() => {FOCUSED}.{expression}")


def test_login_with_the_keyboard_only(new_page, server):
    page = new_page()
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "sv")

    page.keyboard.press("Tab")  # first stop: the skip link, visible when focused
    assert focused(page, "textContent") == "Hoppa till innehållet"
    expect(page.get_by_role("link", name="Hoppa till innehållet")).to_be_visible()
    page.keyboard.press("Enter")
    assert focused(page, "id") == "innehall"

    for _ in range(10):
        page.keyboard.press("Tab")
        if focused(page, "id") == "username":
            break
    assert focused(page, "id") == "username"
    outline = page.evaluate(f"() => getComputedStyle({FOCUSED}).outlineStyle")
    assert outline not in ("none", ""), "the focused field has no visible outline"
    page.keyboard.type("anna")
    page.keyboard.press("Tab")
    assert focused(page, "id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    page.wait_for_url(f"{server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ärenden för Områdesteam Berga")
    expect(page.get_by_text("Inloggad som Anna Berg, Områdesteam Berga")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "nara_staff")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"


def test_a_wrong_password_gets_the_generic_message(new_page):
    page = new_page()
    page.goto("/login")
    page.get_by_label("Användarnamn").fill("nobody")
    page.get_by_label("Lösenord").fill("fel-lösenord-456")
    page.get_by_label("Lösenord").press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Fel användarnamn eller lösenord, eller så är kontot låst en stund.")
    expect(page).to_have_title(re.compile("^Fel: Logga in"))


def test_the_queue_shows_new_handovers_without_a_reload(new_page, server):
    first = server.add_handover(topic="loneliness", contact_method="sms")
    page = new_page()
    page.clock.install()  # the queue polls every 10 s: let the test move the page's clock instead
    log_in(page, "anna")
    row = page.locator(f'tr[data-code="{first}"]')
    expect(row).to_contain_text("Ensamhet")
    expect(row).to_contain_text("SMS")
    expect(row).to_contain_text("Ny")
    expect(page.get_by_role("columnheader", name="Kod")).to_be_visible()
    page.evaluate("() => { window.notReloaded = true; }")

    urgent = server.add_handover(topic="crisis", urgent=True)
    page.clock.run_for(10_500)
    arrived = page.locator(f'tr[data-code="{urgent}"]')
    expect(arrived).to_contain_text("Brådskande")
    expect(arrived).to_contain_text("Kris")
    page.clock.run_for(500)  # the announcement is written a moment later, so it is read out
    expect(page.get_by_role("status")).to_have_text("1 nytt ärende")
    assert page.evaluate("() => window.notReloaded") is True
    codes = page.locator("#queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert codes.index(urgent) < codes.index(first)  # urgent first


def test_open_claim_close_with_outcome_and_log_out(new_page, server):
    code = server.add_handover(summary="Behöver prata om ensamhet efter flytten.", topic="loneliness")
    page = new_page()
    log_in(page, "anna")
    page.get_by_role("link", name=code, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ärende {code}")
    expect(page.get_by_text("Behöver prata om ensamhet efter flytten.")).to_be_visible()
    expect(page.get_by_role("link", name="+46701112233")).to_have_attribute("href", "tel:+46701112233")
    expect(page.get_by_text("Hon har varit hemma i två veckor.")).to_be_visible()

    page.get_by_role("button", name="Ta ärendet").click()
    expect(page.get_by_role("status")).to_have_text("Du har tagit ärendet.")
    page.get_by_label("Anteckning (om du vill)").fill("Ringde, inget svar")
    page.get_by_role("button", name="Kontakt tagen").click()
    expect(page.get_by_role("status")).to_have_text("Ärendet är markerat som kontaktat.")

    page.get_by_label("Resultat (måste fyllas i)").fill("Bokade samtal på kontoret")
    page.get_by_role("button", name="Avsluta").click()
    expect(page.get_by_role("status")).to_have_text("Ärendet är avslutat. Kontaktuppgifterna är raderade.")
    expect(page.get_by_text("Raderade när ärendet avslutades.")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("+46701112233")
    history = page.get_by_role("table").last
    for text in ("Tog ärendet", "Ringde, inget svar", "Avslutade ärendet", "Kontaktuppgifterna raderades"):
        expect(history).to_contain_text(text)

    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url(re.compile(r"/login\?done=logout$"))
    expect(page.get_by_role("status")).to_have_text("Du är utloggad.")
    page.goto(f"/handovers/{code}")
    page.wait_for_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Logga in")


def test_admin_adds_an_account_and_reads_the_access_log(new_page, server):
    code = server.add_handover()
    anna = new_page()
    log_in(anna, "anna")
    anna.goto(f"/handovers/{code}")  # a view, so it is in the access log

    page = new_page()
    log_in(page, "ada")
    page.wait_for_url(f"{server.url}/admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Konton och team")
    expect(page.get_by_role("rowheader", name="anna", exact=True)).to_be_visible()

    page.get_by_label("Användarnamn").fill("eva")
    page.get_by_label("Namn", exact=True).fill("Eva Ström")
    page.get_by_label("Team", exact=True).select_option(label="Områdesteam Berga")
    page.get_by_label("Roll").select_option(label="Teamledare")
    page.get_by_role("button", name="Lägg till konto").click()
    expect(page.get_by_role("heading", name="Kontot eva är skapat")).to_be_visible()
    password = page.locator("#secret-value").inner_text()
    assert len(password) >= 12
    expect(page.get_by_role("rowheader", name="eva", exact=True)).to_be_visible()

    page.get_by_label("E-postadress för Områdesteam Berga").fill("berga@kommun.example")
    page.get_by_role("button", name="Spara e-postadressen för Områdesteam Berga").click()
    expect(page.get_by_role("status")).to_have_text("Teamets e-postadress är sparad.")
    expect(page.get_by_label("E-postadress för Områdesteam Berga")).to_have_value("berga@kommun.example")

    page.get_by_role("link", name="Åtkomstlogg", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Åtkomstlogg")
    first_row = page.locator("tbody tr").first
    expect(first_row).to_contain_text("anna")
    expect(first_row).to_contain_text(code)
    expect(first_row).to_contain_text("Webbsidan")

    eva = new_page()
    log_in(eva, "eva", password)  # the one-time password works
    expect(eva.get_by_role("heading", level=1)).to_have_text("Ärenden för Områdesteam Berga")
