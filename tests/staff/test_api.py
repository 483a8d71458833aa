"""The JSON API, through its contract: every answer is checked against openapi.yaml (tests/staff/api_fixtures.py)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import yaml

from bot.staff.api import MAX_NOTE_LENGTH
from bot.store import db
from bot.store.handovers import access_log
from bot.store.models import Handover, Status
from bot.store.staff import disable_staff, find_staff, issue_api_token
from tests.staff.api_fixtures import (  # noqa: F401 - fixtures
    PREFIX,
    T0,
    SpecClient,
    api_app,
    client,
    db_url,
    make_handover,
    people,
    resolve,
    spec,
    teams,
    validator,
)

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ONE = "/handovers/{code}"
STATUS = "/handovers/{code}/status"
LIST = "/handovers"


def api_log(db_url):  # noqa: F811 - a parameter, not the fixture
    with db.session(db_url) as s:
        return [(row.username, row.handover_code, row.via) for row in reversed(access_log(s))]


# --- the contract ----------------------------------------------------------------------------------------------


def test_every_route_is_documented_and_every_documented_operation_is_served(api_app, spec):  # noqa: F811
    routes = set()
    for route in api_app.router.routes:
        if not route.name.startswith(f"{api_app.name}.api."):
            continue
        path = "/" + route.path
        assert path.startswith(PREFIX + "/")
        template = re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", path.removeprefix(PREFIX))
        routes |= {(method.lower(), template) for method in route.methods}
    documented = {(method, path) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}
    assert routes == documented
    assert spec["servers"] == [{"url": PREFIX}]


def test_the_spec_hangs_together(spec):  # noqa: F811
    assert spec["openapi"] == "3.0.3"
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert {"Handover", "Error", "StatusChange"} <= set(spec["components"]["schemas"])
    text = yaml.safe_dump(spec)
    for ref in set(re.findall(r"\$ref: '?(#/[^'\s]+)", text)):
        assert resolve(spec, {"$ref": ref}) is not None, ref
    operation_ids = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            operation_ids.append(operation["operationId"])
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status), (path, method, status)
                assert resolve(spec, response)["description"], (path, method, status)
            needs_token = operation.get("security", spec["security"]) != []
            if needs_token:
                assert "401" in operation["responses"], (path, method)
    assert len(operation_ids) == len(set(operation_ids))
    # Every error code the API can send is in the Error schema (and nothing else is).
    assert set(spec["components"]["schemas"]["Error"]["properties"]["error"]["enum"]) == {
        "unauthorized",
        "forbidden",
        "not_found",
        "invalid_status",
        "invalid_body",
        "note_required",
        "transition_not_allowed",
        "server_error",
    }


async def test_the_spec_is_served_as_json_and_yaml_without_a_token(client, spec):  # noqa: F811
    as_json = await client.get("/openapi.json")
    assert as_json.json == json.loads(json.dumps(spec))
    as_yaml = await client.get("/openapi.yaml")
    assert yaml.safe_load(as_yaml.text) == spec


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"status": "claimed"}, True),
        ({"status": "new", "note": None}, True),
        ({"status": "closed", "note": "Ringde upp, bokade samtal."}, True),
        ({"status": "withdrawn", "note": "Invånaren hörde av sig och drog tillbaka"}, True),
        ({"status": "closed"}, False),
        ({"status": "closed", "note": "   "}, False),
        ({"status": "closed", "note": None}, False),
        ({"status": "done"}, False),
        ({"status": None}, False),
        ({"note": "bara en anteckning"}, False),
        ({"status": "claimed", "note": 5}, False),
        ({"status": "claimed", "owner": "anna"}, False),
        ({"status": "contacted", "note": "x" * (MAX_NOTE_LENGTH + 1)}, False),
        (["claimed"], False),
        ("claimed", False),
    ],
)
async def test_the_api_accepts_exactly_the_bodies_the_spec_allows(client, people, db_url, spec, body, valid):  # noqa: F811
    """A body the StatusChange schema rejects gets 400; one it accepts never does."""
    schema_errors = list(validator(spec, {"$ref": "#/components/schemas/StatusChange"}).iter_errors(body))
    assert (not schema_errors) is valid
    code = make_handover(db_url)
    response = await client.post(STATUS, code=code, token=people["anna"].token, json=body)
    if valid:
        assert response.status in (200, 409)
    else:
        assert response.status == 400
        assert response.json["error"] in {"invalid_body", "invalid_status", "note_required"}


# --- authentication --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "template"), [("get", LIST), ("get", ONE), ("post", STATUS)], ids=["list", "one", "status"]
)
async def test_401_without_a_token_or_with_a_bad_one(client, people, db_url, method, template):  # noqa: F811
    code = make_handover(db_url)
    body = {"status": "claimed"} if method == "post" else None
    missing = await client.call(method, template, code=code, json=body)
    assert missing.status == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="nara"'
    assert missing.json["error"] == "unauthorized"
    for header in (f"Bearer {people['anna'].token}x", f"Basic {people['anna'].token}", "Bearer ", "Bearer"):
        bad = await client.call(method, template, code=code, json=body, headers={"Authorization": header})
        assert bad.status == 401, header
        assert bad.headers["www-authenticate"].startswith("Bearer ")


async def test_401_comes_before_400_so_nothing_is_told_without_a_token(client, db_url, teams):  # noqa: F811
    code = make_handover(db_url)
    response = await client.post(STATUS, code=code, json={"status": "done"})
    assert response.status == 401
    response = await client.get(LIST, params={"status": "done"})
    assert response.status == 401


async def test_a_new_token_replaces_the_old_and_disabling_revokes_it(client, people, db_url):  # noqa: F811
    old = people["anna"].token
    with db.session(db_url) as s:
        new = issue_api_token(s, find_staff(s, "anna"))
    assert (await client.get(LIST, token=old)).status == 401
    assert (await client.get(LIST, token=new)).status == 200
    with db.session(db_url) as s:
        disable_staff(s, "anna")
    assert (await client.get(LIST, token=new)).status == 401


@pytest.mark.parametrize(
    ("method", "template"), [("get", LIST), ("get", ONE), ("post", STATUS)], ids=["list", "one", "status"]
)
async def test_403_for_an_admin_token(client, people, db_url, method, template):  # noqa: F811
    code = make_handover(db_url)
    body = {"status": "claimed"} if method == "post" else None
    response = await client.call(method, template, code=code, json=body, token=people["admin"].token)
    assert response.status == 403
    assert response.json["error"] == "forbidden"
    assert "www-authenticate" not in response.headers
    with db.session(db_url) as s:
        assert s.query(Handover).filter_by(code=code).one().status == Status.new.value
    assert api_log(db_url) == []


# --- scope -----------------------------------------------------------------------------------------------------


async def test_another_teams_handover_is_not_found_and_not_listed(client, people, db_url):  # noqa: F811
    lambohov = make_handover(db_url, team="lambohov")
    berga = make_handover(db_url)
    listed = await client.get(LIST, token=people["anna"].token)
    assert [item["code"] for item in listed.json["items"]] == [berga]
    other = await client.get(ONE, code=lambohov, token=people["anna"].token)
    unknown = await client.get(ONE, code="ZZZ-ZZZ", token=people["anna"].token)
    assert other.status == unknown.status == 404
    assert other.json == unknown.json  # the API does not confirm that a code exists elsewhere
    assert other.json["error"] == "not_found"
    change = await client.post(STATUS, code=lambohov, json={"status": "claimed"}, token=people["anna"].token)
    assert change.status == 404
    assert change.json == unknown.json
    assert (await client.get(ONE, code=lambohov, token=people["lisa"].token)).status == 200
    assert api_log(db_url) == [("lisa", lambohov, "api")]  # nothing logged for the 404s


async def test_a_colleagues_claimed_handover_leaves_my_queue_but_not_the_team_leads(client, people, db_url):  # noqa: F811
    code = make_handover(db_url)
    claimed = await client.post(STATUS, code=code, json={"status": "claimed"}, token=people["anna"].token)
    assert claimed.status == 200
    assert (await client.get(LIST, token=people["bo"].token)).json["items"] == []
    assert (await client.get(ONE, code=code, token=people["bo"].token)).status == 404
    assert [i["code"] for i in (await client.get(LIST, token=people["lead"].token)).json["items"]] == [code]
    assert (await client.get(ONE, code=code, token=people["lead"].token)).json["status"] == "claimed"


# --- listing ---------------------------------------------------------------------------------------------------


async def test_status_filter_and_queue_order(client, people, db_url):  # noqa: F811
    old = make_handover(db_url, now=T0)
    new = make_handover(db_url, now=T0 + dt.timedelta(hours=1))
    urgent = make_handover(db_url, now=T0 + dt.timedelta(hours=2), urgent=True)
    lead = people["lead"].token
    for to in ("claimed", "contacted"):
        assert (await client.post(STATUS, code=new, json={"status": to}, token=lead)).status == 200
    closed = make_handover(db_url)
    await client.post(STATUS, code=closed, json={"status": "claimed"}, token=lead)
    await client.post(STATUS, code=closed, json={"status": "closed", "note": "Klart"}, token=lead)

    def codes(response):
        return [item["code"] for item in response.json["items"]]

    assert codes(await client.get(LIST, token=lead)) == [urgent, old, new]  # open ones, urgent first
    assert codes(await client.get(LIST, token=lead, params={"status": "new"})) == [urgent, old]
    assert codes(await client.get(LIST, token=lead, params={"status": "contacted"})) == [new]
    assert codes(await client.get(LIST, token=lead, params={"status": "closed"})) == [closed]
    assert codes(await client.get(LIST, token=lead, params={"status": "withdrawn"})) == []
    assert api_log(db_url)[-1:] == [("lead", closed, "api")]  # the status changes were logged, the lists not
    assert all(code != old for _, code, _ in api_log(db_url))


@pytest.mark.parametrize("status", ["open", "NEW", "closed,new", "1"])
async def test_400_for_an_unknown_status_filter(client, people, status):  # noqa: F811
    response = await client.get(LIST, token=people["anna"].token, params={"status": status})
    assert response.status == 400
    assert response.json["error"] == "invalid_status"
    assert "new" in response.json["message"]


# --- one handover and its life cycle ---------------------------------------------------------------------------


async def test_an_item_has_every_field_and_its_read_is_logged(client, people, db_url):  # noqa: F811
    code = make_handover(db_url)
    response = await client.get(ONE, code=code, token=people["anna"].token)
    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json == {
        "code": code,
        "team": "berga",
        "district": "Berga",
        "topic": "school_absence",
        "summary": "Oro för sonen som inte går till skolan",
        "contact": {"method": "phone", "value": "+46701234567"},
        "preferred_time": "förmiddag",
        "status": "new",
        "urgent": False,
        "created_at": "2026-11-23T09:00:00Z",
    }
    # the code as a resident might read it out: lower case, no dash
    again = await client.get(ONE, code=code.lower().replace("-", ""), token=people["anna"].token)
    assert again.json["code"] == code
    assert api_log(db_url) == [("anna", code, "api"), ("anna", code, "api")]


async def test_a_dropin_handover_has_no_contact_value(client, people, db_url):  # noqa: F811
    code = make_handover(db_url, contact_method="dropin", contact_value=None, district=None, preferred_time=None)
    item = (await client.get(ONE, code=code, token=people["anna"].token)).json
    assert item["contact"] == {"method": "dropin", "value": None}
    assert item["district"] is None and item["preferred_time"] is None


async def test_life_cycle_claim_contacted_closed_erases_the_contact(client, people, db_url):  # noqa: F811
    code = make_handover(db_url)
    anna = people["anna"].token
    claimed = await client.post(STATUS, code=code, json={"status": "claimed", "note": "Jag tar den"}, token=anna)
    assert claimed.json["status"] == "claimed"
    assert claimed.json["contact"]["value"] == "+46701234567"
    contacted = await client.post(STATUS, code=code, json={"status": "contacted"}, token=anna)
    assert contacted.json["status"] == "contacted"
    closed = await client.post(
        STATUS, code=code, json={"status": "closed", "note": "  Bokade ett samtal på drop-in.  "}, token=anna
    )
    assert closed.status == 200
    assert closed.json["status"] == "closed"
    assert closed.json["contact"] == {"method": "phone", "value": None}
    assert (await client.get(ONE, code=code, token=anna)).json["contact"]["value"] is None
    with db.session(db_url) as s:
        handover = s.query(Handover).filter_by(code=code).one()
        assert handover.outcome == "Bokade ett samtal på drop-in."
        assert handover.claimer.username == "anna"
        assert [(e.actor, e.action) for e in handover.events] == [
            ("invånare", "created"),
            ("anna", "claimed"),
            ("anna", "contacted"),
            ("anna", "closed"),
            ("system", "erased"),
        ]
    assert api_log(db_url) == [("anna", code, "api")] * 4


async def test_release_puts_a_claimed_handover_back_in_the_queue(client, people, db_url):  # noqa: F811
    code = make_handover(db_url)
    anna, bo = people["anna"].token, people["bo"].token
    await client.post(STATUS, code=code, json={"status": "claimed"}, token=anna)
    released = await client.post(STATUS, code=code, json={"status": "new", "note": "Är sjuk i veckan"}, token=anna)
    assert released.json["status"] == "new"
    assert (await client.post(STATUS, code=code, json={"status": "claimed"}, token=bo)).status == 200


@pytest.mark.parametrize(
    ("before", "to"),
    [
        ([], "contacted"),
        ([], "closed"),
        ([], "new"),
        (["claimed"], "claimed"),
        (["claimed", "contacted"], "new"),
        (["withdrawn"], "claimed"),
    ],
)
async def test_409_for_a_move_the_life_cycle_does_not_allow(client, people, db_url, before, to):  # noqa: F811
    code = make_handover(db_url)
    lead = people["lead"].token
    for step in before:
        assert (await client.post(STATUS, code=code, json={"status": step}, token=lead)).status == 200
    response = await client.post(STATUS, code=code, json={"status": to, "note": "Utfall"}, token=lead)
    assert response.status == 409
    assert response.json["error"] == "transition_not_allowed"
    assert f"'{before[-1] if before else 'new'}'" in response.json["message"]
    with db.session(db_url) as s:
        handover = s.query(Handover).filter_by(code=code).one()
        assert handover.status == (before[-1] if before else "new")
        assert [e.action for e in handover.events if e.actor == "lead"] == before  # the refused move left no trace


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"status=claimed", "application/x-www-form-urlencoded"),
        (b'{"status": "claimed"', "application/json"),
        (b"", "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
async def test_400_for_a_body_that_is_not_json(client, people, db_url, content, content_type):  # noqa: F811
    code = make_handover(db_url)
    response = await client.post(
        STATUS, code=code, content=content, headers={"Content-Type": content_type}, token=people["anna"].token
    )
    assert response.status == 400
    assert response.json["error"] == "invalid_body"


async def test_400_comes_before_404(client, people, db_url):  # noqa: F811
    response = await client.post(STATUS, code="ZZZ-ZZZ", json={"status": "done"}, token=people["anna"].token)
    assert response.status == 400


async def test_an_unexpected_error_answers_500_in_the_apis_json_and_is_logged(client, people, monkeypatch, caplog):  # noqa: F811
    from sqlalchemy.exc import OperationalError

    import bot.staff.api

    def database_away(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("could not connect to server"))

    monkeypatch.setattr(bot.staff.api, "list_handovers", database_away)
    with caplog.at_level("ERROR", logger="bot.staff.api"):
        response = await client.get(LIST, token=people["lead"].token)
    assert response.status == 500
    assert response.json["error"] == "server_error"
    assert "could not connect" not in response.text  # no internals in the answer
    assert "could not connect" in caplog.text


async def test_the_api_answers_the_same_inside_the_staff_app(db_url, people, spec):  # noqa: F811
    """bot.staff.app registers the blueprint: its middleware and error pages leave the API's answers alone."""
    from bot.staff.app import create_app

    staff_app = SpecClient(create_app(db_url), spec)
    code = make_handover(db_url)
    assert (await staff_app.get(LIST, token=people["anna"].token)).json["items"][0]["code"] == code
    assert (await staff_app.get(ONE, code=code)).status == 401
    claimed = await staff_app.post(STATUS, code=code, json={"status": "claimed"}, token=people["anna"].token)
    assert claimed.status == 200
    assert claimed.headers["x-content-type-options"] == "nosniff"
    assert (await staff_app.post(STATUS, code=code, json={"status": "claimed"}, token=people["bo"].token)).status == 404
    assert (await staff_app.get("/openapi.json")).json["openapi"] == "3.0.3"
