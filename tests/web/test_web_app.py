"""The public web app (bot/web/app.py), offline through sanic-testing: the widget's config says what the
issue asks for, every page is Swedish and sets no cookie, and the Content-Security-Policy names the chat server."""

from __future__ import annotations

import re

import pytest
from sanic_testing.testing import SanicASGITestClient

from bot.web import app as web
from knowledge.loader import cached_knowledge

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning")

PAGES = ("/", "/tillganglighet", "/lamna")
WIDGET_FILES = ("/widget/nara.js", "/widget/nara.css", "/widget/vendor/socket.io.min.js", "/widget/config.json")


@pytest.fixture
def client(monkeypatch) -> SanicASGITestClient:
    monkeypatch.delenv("NARA_CHAT_URL", raising=False)
    monkeypatch.delenv("NARA_EXIT_URL", raising=False)
    monkeypatch.delenv("NARA_CONVERSATION_RETENTION_DAYS", raising=False)
    web.Sanic._app_registry.pop("nara_web", None)
    return SanicASGITestClient(web.create_app())


async def get(client: SanicASGITestClient, path: str):
    _, response = await client.get(path)
    return response


async def test_every_page_and_file_is_served_without_a_cookie(client):
    for path in PAGES + WIDGET_FILES:
        response = await get(client, path)
        assert response.status == 200, path
        assert "set-cookie" not in response.headers, path
        assert "Content-Security-Policy" in response.headers


async def test_the_pages_are_swedish_and_carry_the_widget_with_one_tag(client):
    for path in ("/", "/tillganglighet"):
        body = (await get(client, path)).text
        assert '<html lang="sv">' in body
        assert body.count('<script src="/widget/nara.js" defer></script>') == 1
        assert re.search(r"<script(?![^>]*\bsrc=)", body) is None, "no inline script (the CSP forbids it)"
    neutral = (await get(client, "/lamna")).text
    assert "nara.js" not in neutral and "Nära" not in neutral and "social" not in neutral.lower()


async def test_the_policy_allows_only_this_server_and_the_chat_server(client, monkeypatch):
    csp = (await get(client, "/")).headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self' http://127.0.0.1:5005 ws://127.0.0.1:5005;" in csp
    assert web.content_security_policy("https://chatt.kommun.se/").count("wss://chatt.kommun.se") == 1


async def test_the_opening_is_honest_about_what_the_chat_is_and_what_is_kept(client, monkeypatch):
    config = (await get(client, "/widget/config.json")).json
    opening = " ".join(config["opening"])
    for promise in ("ingen ansökan", "anonym", "sparas i 21 dagar", "radera min konversation", "112"):
        assert promise in opening
    monkeypatch.setenv("NARA_CONVERSATION_RETENTION_DAYS", "7")
    assert "sparas i 7 dagar" in " ".join((await get(client, "/widget/config.json")).json["opening"])
    assert [b["payload"] for b in config["opening_buttons"]][-1] == "/request_contact"
    assert config["chat_url"] == "http://127.0.0.1:5005" and config["exit_url"] == "/lamna"
    assert config["max_chars"] == 1500


async def test_only_the_numbers_of_lines_yml_become_links(client):
    phones = (await get(client, "/widget/config.json")).json["phones"]
    lines = {line.number for line in cached_knowledge().lines}
    assert {p["text"] for p in phones} == lines
    assert {"text": "112", "tel": "tel:112", "name": "SOS Alarm"} in phones
    assert all(re.fullmatch(r"tel:\+?\d+", p["tel"]) for p in phones)
    lengths = [len(p["text"]) for p in phones]
    assert lengths == sorted(lengths, reverse=True), "longest first, so that '116 111' is not read as '111'"


async def test_the_accessibility_statement_says_what_the_law_asks(client):
    body = (await get(client, "/tillganglighet")).text
    for part in (
        "lagen (2018:1937) om tillgänglighet till digital offentlig service",
        "delvis förenlig",
        "WCAG 2.1",
        "Digg",
        "Berätta om brister",
        "uppdaterades senast",
    ):
        assert part in body


async def test_the_exit_address_and_chat_server_come_from_the_environment(client, monkeypatch):
    monkeypatch.setenv("NARA_EXIT_URL", "https://www.example.org/")
    monkeypatch.setenv("NARA_CHAT_URL", "https://chatt.kommun.example/")
    config = (await get(client, "/widget/config.json")).json
    assert config["exit_url"] == "https://www.example.org/" and config["chat_url"] == "https://chatt.kommun.example"
