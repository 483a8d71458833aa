"""The JSON API for staff systems: the team's handover queue, one handover, and status changes.

Every request carries a staff member's API token (`Authorization: Bearer <token>`, issued with
`nara staff token`), and sees exactly what that person sees on the pages: the team scope is the data
layer's (bot.store.handovers), so a handover outside it is "not found", never "forbidden". Opening a
handover, or changing its status, writes the access log. The contract is openapi.yaml next to this file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from sanic import Blueprint
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sqlalchemy.orm import Session

from bot.store import db
from bot.store.handovers import (
    TransitionError,
    Viewer,
    get_handover,
    list_handovers,
    log_access,
    read_handover,
    transition,
)
from bot.store.models import Handover, Status
from bot.store.staff import staff_for_token

api = Blueprint("api", url_prefix="/api/v1")
logger = logging.getLogger(__name__)

SPEC_PATH = Path(__file__).with_name("openapi.yaml")
MAX_NOTE_LENGTH = 4000
STATUS_CHANGE_FIELDS = {"status", "note"}
# Responses carry personal data (contact details): no cache anywhere may keep them.
NO_STORE = {"Cache-Control": "no-store"}
T = TypeVar("T")


class ApiError(Exception):
    """An error answer: HTTP status, a machine-readable code and a plain Swedish message for staff."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}

    def response(self) -> HTTPResponse:
        return json_response(
            {"error": self.error, "message": self.message}, status=self.status, headers={**NO_STORE, **self.headers}
        )


def _unauthorized(invalid_token: bool) -> ApiError:
    # RFC 6750: a request without credentials gets only the challenge, a bad token also the error code.
    challenge = 'Bearer realm="nara"' + (', error="invalid_token"' if invalid_token else "")
    return ApiError(
        401,
        "unauthorized",
        "API-nyckeln saknas eller gäller inte. Skicka den som 'Authorization: Bearer <nyckel>'.",
        {"WWW-Authenticate": challenge},
    )


def _forbidden() -> ApiError:
    return ApiError(403, "forbidden", "Det här kontot kan inte läsa ärenden (administratörer ser inga).")


def _not_found() -> ApiError:
    # The same answer for an unknown code and another team's: the API does not confirm that a code exists.
    return ApiError(404, "not_found", "Det finns inget ärende med den koden som du har tillgång till.")


def _bad_request(error: str, message: str) -> ApiError:
    return ApiError(400, error, message)


def _isoformat(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def handover_item(handover: Handover) -> dict[str, Any]:
    """A handover as the API shows it (the Handover schema of openapi.yaml)."""
    return {
        "code": handover.code,
        "team": handover.team_id,
        "district": handover.district,
        "topic": handover.topic,
        "summary": handover.summary,
        "contact": {"method": handover.contact_method, "value": handover.contact_value},
        "preferred_time": handover.preferred_time,
        "status": handover.status,
        "urgent": bool(handover.urgent),
        "created_at": _isoformat(handover.created_at),
    }


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _as_viewer(db_url: str, token: str | None, work: Callable[[Session, Viewer], T]) -> T:
    """One unit of work for the token's owner; raises ApiError for a missing token or an admin."""
    if token is None:
        raise _unauthorized(invalid_token=False)
    with db.session(db_url) as s:
        staff = staff_for_token(s, token)
        if staff is None:
            raise _unauthorized(invalid_token=True)
        viewer = Viewer.of(staff)
        if not viewer.reads_handovers:
            raise _forbidden()
        return work(s, viewer)


async def _answer(request: Request, work: Callable[[Session, Viewer], Any]) -> HTTPResponse:
    """Runs the database work off the event loop (SQLite may wait for a lock) and answers in JSON."""
    call = functools.partial(_as_viewer, request.app.ctx.db_url, _bearer_token(request), work)
    try:
        body = await asyncio.get_running_loop().run_in_executor(None, call)
    except ApiError as error:
        return error.response()
    return json_response(body, headers=NO_STORE)


def _status_filter(request: Request) -> Status | None:
    # With blank values kept: "?status=" is an unknown status (400), not the same as no filter at all.
    values = request.get_args(keep_blank_values=True).getlist("status") or []
    if not values:
        return None
    if len(values) > 1 or values[0] not in Status.__members__:
        raise _bad_request(
            "invalid_status", f"Okänd status. Använd en av: {', '.join(s.value for s in Status)}, eller ingen alls."
        )
    return Status(values[0])


def _status_change(request: Request) -> tuple[Status, str | None]:
    """The body of a status change, checked as strictly as the StatusChange schema."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise _bad_request("invalid_body", "Skicka ett JSON-objekt med 'status' och vid behov 'note'.") from None
    if not isinstance(body, dict):
        raise _bad_request("invalid_body", "Skicka ett JSON-objekt med 'status' och vid behov 'note'.")
    unknown = set(body) - STATUS_CHANGE_FIELDS
    if unknown:
        raise _bad_request("invalid_body", f"Okända fält: {', '.join(sorted(unknown))}. Bara 'status' och 'note'.")
    status = body.get("status")
    if not isinstance(status, str) or status not in Status.__members__:
        raise _bad_request("invalid_status", f"'status' ska vara en av: {', '.join(s.value for s in Status)}.")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise _bad_request("invalid_body", "'note' ska vara text.")
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise _bad_request("invalid_body", f"'note' får vara högst {MAX_NOTE_LENGTH} tecken.")
    note = (note or "").strip() or None
    if status == Status.closed.value and note is None:
        raise _bad_request("note_required", "Skriv i 'note' hur det gick (utfallet) när du avslutar ett ärende.")
    return Status(status), note


@api.get("/handovers")
async def list_items(request: Request) -> HTTPResponse:
    """The viewer's queue: urgent first, then oldest first; without a status filter the open ones."""

    def work(s: Session, viewer: Viewer) -> dict[str, Any]:
        status = _status_filter(request)
        return {"items": [handover_item(h) for h in list_handovers(s, viewer, status)]}

    return await _answer(request, work)


@api.get("/handovers/<code:str>")
async def get_item(request: Request, code: str) -> HTTPResponse:
    """One handover, by its code; the read is written to the access log."""

    def work(s: Session, viewer: Viewer) -> dict[str, Any]:
        handover = read_handover(s, viewer, code, via="api")
        if handover is None:
            raise _not_found()
        return handover_item(handover)

    return await _answer(request, work)


@api.post("/handovers/<code:str>/status")
async def change_status(request: Request, code: str) -> HTTPResponse:
    """Claims, releases, marks contacted, closes (with the outcome in `note`) or withdraws a handover."""

    def work(s: Session, viewer: Viewer) -> dict[str, Any]:
        status, note = _status_change(request)  # after the token check: 401 comes before 400
        try:
            handover = transition(s, viewer, code, status, note)
        except TransitionError:
            current = get_handover(s, viewer, code).status
            raise ApiError(
                409,
                "transition_not_allowed",
                f"Ärendet har status '{current}' och kan inte få status '{status.value}'.",
            ) from None
        if handover is None:
            raise _not_found()
        # The answer shows the handover (and its contact details until it is closed): that is a view.
        log_access(s, viewer, handover.code, via="api")
        return handover_item(handover)

    return await _answer(request, work)


@api.exception(Exception)
async def unexpected_error(request: Request, exception: Exception) -> HTTPResponse:
    """Anything else on these routes (the database away, a bug) answers in the API's JSON, not a page."""
    if isinstance(exception, SanicException) and exception.status_code < 500:
        return request.app.error_handler.default(request, exception)
    logger.error("API error on %s %s", request.method, request.path, exc_info=exception)
    return ApiError(500, "server_error", "Något gick fel hos oss. Försök igen om en stund.").response()


@functools.lru_cache(maxsize=1)
def _spec_text() -> str:
    return SPEC_PATH.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def openapi_spec() -> dict[str, Any]:
    """The API description (openapi.yaml), parsed."""
    return yaml.safe_load(_spec_text())


@api.get("/openapi.json")
async def spec_json(request: Request) -> HTTPResponse:
    """The API description as JSON, for tools; no token needed."""
    return json_response(openapi_spec())


@api.get("/openapi.yaml")
async def spec_yaml(request: Request) -> HTTPResponse:
    """The API description as written; no token needed."""
    return HTTPResponse(_spec_text(), content_type="application/yaml; charset=utf-8")
