"""Fuzzing the staff API with schemathesis against its own contract (bot/staff/openapi.yaml).

Every operation of the spec gets generated requests, valid ones (positive) and ones the spec forbids (negative),
once with a Berga social worker's real API token and once without a token, through the staff app itself
(bot.staff.app, over ASGI). Every answer goes through all of schemathesis's default checks (not_a_server_error,
status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance,
negative_data_rejection, positive_data_acceptance, ignored_auth, ...), and through this file's own: the token
never reaches another team's or a colleague's handover, no request without a token sees or changes anything,
and the API never logs an unexpected error.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sanic import Sanic
from sanic.asgi import ASGIApp
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from sqlalchemy import select

from bot.staff.api import SPEC_PATH
from bot.store import db
from bot.store.handovers import FINAL, transition
from bot.store.models import AccessLog, Handover, Status
from bot.store.staff import find_staff, issue_api_token
from tests.staff.conftest import make_handover

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning")

# Modest by default, so that the file runs in seconds; NARA_FUZZ_EXAMPLES=500 for a longer search.
MAX_EXAMPLES = int(os.environ.get("NARA_FUZZ_EXAMPLES", "40"))
OPERATIONS = {
    result.ok().label: result.ok() for result in schemathesis.openapi.from_path(SPEC_PATH).get_all_operations()
}
HANDOVER_OPERATIONS = {label for label in OPERATIONS if "/handovers" in label}


class SanicASGI:
    """The staff app as schemathesis's ASGI transport calls it.

    Sanic 21.12 answers the ASGI lifespan protocol and then goes on to handle the lifespan scope as if it were a
    request ("'ASGIApp' object has no attribute 'request'"), which fails the lifespan's shutdown at the end of every
    test. Here the lifespan runs exactly as Sanic runs it, without that last step; requests go to the app untouched.
    (Production runs Sanic's own server, bot/staff/__main__.py, which has no lifespan scope.)
    """

    def __init__(self, app: Sanic):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] == "lifespan":
            self.app.asgi = True
            await ASGIApp.create(self.app, scope, receive, send)  # runs the startup and shutdown listeners
            return
        await self.app(scope, receive, send)


class ApiErrors(logging.Handler):
    """Collects what bot.staff.api logs at ERROR: its handler for unexpected exceptions (a 500)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def api_errors():
    handler = ApiErrors()
    logger = logging.getLogger("bot.staff")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


@pytest.fixture
def world(db_url) -> dict[str, Any]:
    """Berga's queue (three new handovers and one that Bo has claimed), one of Lambohov's, and Anna's token."""
    with db.session(db_url) as s:
        token = issue_api_token(s, find_staff(s, "anna"))
    mine = [make_handover(db_url, urgent=i == 0) for i in range(3)]
    bos = make_handover(db_url, contact_value="+46709999999")
    with db.session(db_url) as s:
        from bot.store.handovers import Viewer

        transition(s, Viewer.of(find_staff(s, "bo")), bos, Status.claimed)
    lambohov = make_handover(db_url, "lambohov", contact_value="+46708888888")
    return {"token": token, "berga": mine, "bos": bos, "lambohov": lambohov, "hidden": {bos, lambohov}}


def load_schema(app: Sanic, token: str | None):
    """The spec from the file, sent to the app over ASGI; with the token as the `bearer` scheme's credentials, so
    that schemathesis knows which requests are authenticated (and negative cases may leave the token out)."""
    config = SchemathesisConfig.from_dict({"auth": {"openapi": {"bearer": {"bearer": token}}}} if token else {})
    schema = schemathesis.openapi.from_path(SPEC_PATH, config=config)
    schema.app = SanicASGI(app)
    return schema


def code_variants(codes: list[str]) -> st.SearchStrategy[str]:
    """Real codes as a client may send them: as printed, in lower case, without the dash."""
    return st.sampled_from(codes).flatmap(lambda code: st.sampled_from([code, code.lower(), code.replace("-", "")]))


def handover_state(db_url: str) -> dict[str, tuple]:
    with db.session(db_url) as s:
        return {
            h.code: (h.status, h.claimed_by, h.contact_value, h.outcome, len(h.events))
            for h in s.scalars(select(Handover))
        }


def access_log_size(db_url: str) -> int:
    with db.session(db_url) as s:
        return len(list(s.scalars(select(AccessLog))))


def cases():
    for label, operation in OPERATIONS.items():
        # An operation without parameters or body has nothing a negative case could break.
        modes = [GenerationMode.POSITIVE]
        if operation.path_parameters or operation.query or operation.body:
            modes.append(GenerationMode.NEGATIVE)
        for who in ("anna", "anonymous"):
            for mode in modes:
                yield pytest.param(label, who, mode, id=f"{label}-{who}-{mode.value}")


@pytest.mark.parametrize(("label", "who", "mode"), list(cases()))
def test_fuzz_the_api(app, db_url, world, api_errors, label, who, mode):
    token = world["token"] if who == "anna" else None
    operation = load_schema(app, token).find_operation_by_label(label)
    codes = world["berga"] + sorted(world["hidden"])
    before = handover_state(db_url)
    seen: set[int] = set()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("NARA_FUZZ_RANDOM"),  # the same examples in every CI run
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=operation.as_strategy(generation_mode=mode), real_code=st.none() | code_variants(codes))
    def fuzz(case, real_code):
        # Valid requests mostly name a code that exists, so that they get past "not found" to the handover.
        if mode is GenerationMode.POSITIVE and real_code is not None and "code" in (case.path_parameters or {}):
            case.path_parameters["code"] = real_code
        response = case.call()
        seen.add(response.status_code)
        case.validate_response(response)
        if label in HANDOVER_OPERATIONS and token is None:
            assert response.status_code != 200, "a request without a token got an answer"
        if response.status_code == 200 and label in HANDOVER_OPERATIONS:
            body = response.json()
            for item in body.get("items", [body]):
                assert item["team"] == "berga", item
                assert item["code"] not in world["hidden"], f"Anna's token reached {item['code']}"
        assert not api_errors, api_errors[0].getMessage()

    fuzz()
    assert 500 not in seen
    after = handover_state(db_url)
    if token is None:
        assert after == before, "a request without a token changed a handover"
        assert access_log_size(db_url) == 0
    for code in world["hidden"]:
        assert after[code] == before[code], f"Anna's token changed {code}"
    for code, (status, claimed_by, contact, outcome, _) in after.items():
        if Status(status) in FINAL:
            assert contact is None, f"{code} is {status} but still has its contact details"
        if status == Status.closed.value:
            assert outcome and outcome.strip(), f"{code} was closed without an outcome"
        if status in (Status.claimed.value, Status.contacted.value):
            assert claimed_by is not None, f"{code} is {status} without an owner"


def test_fuzzing_reaches_the_handovers(app, db_url, world):
    """The positive cases are not all 404s: with real codes they read and move Anna's handovers."""
    operation = load_schema(app, world["token"]).find_operation_by_label("GET /handovers/{code}")
    statuses = []

    @settings(max_examples=15, deadline=None, database=None, derandomize=not os.environ.get("NARA_FUZZ_RANDOM"))
    @given(case=operation.as_strategy(), real_code=code_variants(world["berga"]))
    def read(case, real_code):
        case.path_parameters["code"] = real_code
        response = case.call()
        case.validate_response(response)
        statuses.append(response.status_code)

    read()
    assert set(statuses) == {200}
    assert access_log_size(db_url) == len(statuses)


def test_the_served_spec_is_the_file_and_loads(app):
    served = schemathesis.openapi.from_asgi("/api/v1/openapi.json", SanicASGI(app))
    assert served.raw_schema == yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    # (schemathesis leaves out the operation it loaded the spec from)
    assert {result.ok().label for result in served.get_all_operations()} == set(OPERATIONS) - {"GET /openapi.json"}


@pytest.mark.parametrize("query", ["status=", "status", "status=new&status=", "status=&status=new"])
async def test_a_blank_status_filter_is_refused_not_ignored(app, world, query):
    """Found by the negative fuzzing: Sanic drops blank query values, so "?status=" used to answer 200 with the
    open handovers, as if there were no filter, although the spec allows only a status there."""
    _, response = await app.asgi_client.get(
        f"/api/v1/handovers?{query}", headers={"Authorization": f"Bearer {world['token']}"}
    )
    assert response.status == 400
    assert response.json["error"] == "invalid_status"
