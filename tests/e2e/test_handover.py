"""The warm handover end to end: chat (REST) -> form -> action server -> database -> the team's mailbox,
the staff API and the staff pages, for every contact method; cancelling stores nothing."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest

from bot.store import db
from bot.store.handovers import Viewer, get_handover
from bot.store.models import Handover, Role
from bot.store.staff import add_staff, issue_api_token
from tests.e2e.conftest import DATABASE_URL, STAFF_URL, payloads, texts

pytestmark = pytest.mark.e2e
CODE = re.compile(r"\b[A-HJKMNP-Z2-9]{3}-[A-HJKMNP-Z2-9]{3}\b")
PNR = "19900101-0017"  # a valid personnummer used only in tests


def handover_code(replies) -> str:
    [payload] = [p["handover"] for p in payloads(replies) if "handover" in p]
    assert CODE.fullmatch(payload["code"]) and payload["code"] in texts(replies)
    return payload["code"]


def stored(code: str) -> Handover:
    with db.session(DATABASE_URL) as s:
        return s.query(Handover).filter_by(code=code).one()


def api(path: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(STAFF_URL + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def tokens(server):
    with db.session(DATABASE_URL) as s:
        out = {}
        for name, team in (("e2e-skaggetorp", "skaggetorp"), ("e2e-lambohov", "lambohov"), ("e2e-berga", "berga")):
            staff, _ = add_staff(s, name, team_id=team, role=Role.team_lead)
            out[team] = issue_api_token(s, staff)
    return out


def test_sms_handover_after_an_article_reaches_the_team_inbox_api_and_mailbox(chat, tokens, mailbox):
    chat.say("min dotter på 14 är så ensam, hon har inga kompisar")
    first = chat.say("/request_contact")
    assert "Stämmer det?" in texts(first) and "personnummer" in texts(first)
    assert "Var bor du?" in texts(chat.say("/affirm"))
    assert "Hur vill du att vi når dig?" in texts(chat.say("skaggetorp"))
    assert "telefonnummer" in texts(chat.say("SMS"))
    assert "När passar" in texts(chat.say("070-123 45 67"))
    summary = texts(chat.say("Eftermiddag"))
    assert "Skäggetorp" in summary and "070-123 45 67" in summary and "Inget skickas" in summary
    done = chat.say("/affirm")
    code = handover_code(done)
    row = stored(code)
    assert (row.team_id, row.district, row.contact_method, row.contact_value, row.preferred_time) == (
        "skaggetorp",
        "Skäggetorp",
        "sms",
        "+46701234567",
        "Eftermiddag",
    )
    assert "ensam" in row.excerpt and row.status == "new"
    # the team's API sees it with the contact wish; another team's token does not
    status, item = api(f"/api/v1/handovers/{code}", tokens["skaggetorp"])
    assert status == 200 and item["contact"] == {"method": "sms", "value": "+46701234567"}
    assert api(f"/api/v1/handovers/{code}", tokens["lambohov"])[0] == 404
    # the mailbox heard about it, with a link and nothing personal
    deadline = time.monotonic() + 10
    while not any(code in m.content.decode(errors="replace") for m in mailbox.messages) and time.monotonic() < deadline:
        time.sleep(0.2)
    [mail] = [
        m.content.decode(errors="replace") for m in mailbox.messages if code in m.content.decode(errors="replace")
    ]
    for personal in ("701234567", "70-123", "ensam", "Skäggetorp", "Eftermiddag"):
        assert personal not in mail


@pytest.mark.parametrize(
    ("method", "answers", "value"),
    [
        ("phone", ["Ring mig", "0701234567", "Förmiddag"], "+46701234567"),
        ("email", ["E-post", "anna@exempel.se"], "anna@exempel.se"),
        ("dropin", ["Jag kommer till drop-in"], None),
    ],
)
def test_every_contact_method_reaches_the_teams_inbox_in_the_api(chat, tokens, method, answers, value):
    chat.say("jag bor i Berga")
    chat.say("kan någon ringa mig?")
    chat.say("oro för min son som inte går till skolan")
    for answer in answers:
        chat.say(answer)
    code = handover_code(chat.say("/affirm"))
    row = stored(code)
    assert (row.team_id, row.contact_method, row.contact_value) == ("berga", method, value)
    assert row.summary == "oro för min son som inte går till skolan"
    status, inbox = api("/api/v1/handovers?status=new", tokens["berga"])
    assert status == 200
    [item] = [i for i in inbox["items"] if i["code"] == code]
    assert item["contact"] == {"method": method, "value": value} and item["team"] == "berga"
    assert item["summary"] == row.summary and item["status"] == "new"
    assert code not in {i["code"] for i in api("/api/v1/handovers?status=new", tokens["lambohov"])[1]["items"]}


def test_cancel_at_any_step_stores_nothing(chat):
    with db.session(DATABASE_URL) as s:
        before = s.query(Handover).count()
    chat.say("jag vill prata med en socialarbetare")
    chat.say("min man och jag bråkar hela tiden")
    chat.say("Ryd")
    chat.say("Ring mig")
    assert "Ingenting har sparats" in texts(chat.say("avbryt"))
    assert chat.tracker()["active_loop"] in ({}, None) or not chat.tracker()["active_loop"].get("name")
    with db.session(DATABASE_URL) as s:
        assert s.query(Handover).count() == before


def test_a_personnummer_typed_by_mistake_is_never_stored(chat):
    chat.say("jag vill prata med någon")
    refused = chat.say(f"det gäller mig, {PNR}")
    assert "personnummer" in texts(refused)
    chat.say("oro för ekonomin och barnen")
    chat.say("Lambohov")
    chat.say("Jag kommer till drop-in")
    code = handover_code(chat.say("/affirm"))
    row = stored(code)
    for field in (row.summary, row.excerpt or "", row.contact_value or ""):
        assert "0101-0017" not in field and "199001010017" not in field
    with db.session(DATABASE_URL) as s:
        lead, _ = add_staff(s, "e2e-lambohov-reader", team_id="lambohov", role=Role.team_lead)
        assert get_handover(s, Viewer.of(lead), code) is not None
