"""The API under test and its contract: a minimal Sanic app with the API blueprint, staff with tokens, and a
client that checks every answer against openapi.yaml (the schema documented for that status code)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from jsonschema import Draft4Validator, FormatChecker
from sanic import Sanic

from bot.staff.api import SPEC_PATH, api
from bot.store import db
from bot.store.handovers import create_handover
from bot.store.models import Staff
from bot.store.staff import issue_api_token
from tests.store.conftest import ROSTER, db_url, teams  # noqa: F401 - fixtures re-exported for the API tests

PREFIX = api.url_prefix
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


def load_spec() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follows a local `$ref` ("#/components/...") to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def to_json_schema(spec: dict[str, Any], schema: Any) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema (draft 4): refs inlined, `nullable: true` as a null type."""
    schema = resolve(spec, schema)
    if isinstance(schema, list):
        return [to_json_schema(spec, item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: to_json_schema(spec, value) for key, value in schema.items() if key not in ("nullable", "example")}
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _is_utc_datetime(value: object) -> bool:
    """ISO 8601 with an explicit UTC offset (Z or +00:00), as the spec promises for created_at."""
    if not isinstance(value, str):
        return True
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.utcoffset() == dt.timedelta(0)


def validator(spec: dict[str, Any], schema: Any) -> Draft4Validator:
    return Draft4Validator(to_json_schema(spec, schema), format_checker=_formats)


def operation(spec: dict[str, Any], method: str, template: str) -> dict[str, Any]:
    path = spec["paths"][template]
    assert method in path, f"{method.upper()} {template} is not in openapi.yaml"
    return path[method]


def check_against_spec(spec: dict[str, Any], method: str, template: str, response: Any) -> None:
    """Fails unless the status is documented for the operation and the body and headers match it."""
    responses = operation(spec, method, template)["responses"]
    documented = resolve(spec, responses.get(str(response.status)))
    assert documented is not None, f"{method.upper()} {template} answered {response.status}, which is undocumented"
    media_type = response.headers["content-type"].split(";")[0].strip()
    content = documented.get("content") or {}
    assert media_type in content, f"{method.upper()} {template} {response.status}: {media_type} is undocumented"
    body = response.json if media_type == "application/json" else response.text
    errors = sorted(validator(spec, content[media_type]["schema"]).iter_errors(body), key=str)
    assert not errors, f"{method.upper()} {template} {response.status}: {errors[0].message} in {body!r}"
    for name, header in (documented.get("headers") or {}).items():
        value = response.headers.get(name)
        assert value is not None, f"{method.upper()} {template} {response.status}: no {name} header"
        header_errors = list(validator(spec, resolve(spec, header)["schema"]).iter_errors(value))
        assert not header_errors, f"{name}: {header_errors[0].message}"


@dataclass
class SpecClient:
    """Calls the API by the spec's path templates and checks every answer against the spec."""

    app: Sanic
    spec: dict[str, Any]
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    async def call(
        self,
        method: str,
        template: str,
        *,
        token: str | None = None,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **path: str,
    ) -> Any:
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": headers, "params": params or {}}
        if json is not None:
            kwargs["json"] = json
        if content is not None:
            kwargs["content"] = content
        _, response = await self.app.asgi_client.request(method.upper(), PREFIX + template.format(**path), **kwargs)
        check_against_spec(self.spec, method, template, response)
        self.seen.add((method, template, response.status))
        return response

    async def get(self, template: str, **kwargs: Any) -> Any:
        return await self.call("get", template, **kwargs)

    async def post(self, template: str, **kwargs: Any) -> Any:
        return await self.call("post", template, **kwargs)


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    return load_spec()


@pytest.fixture
def api_app(db_url):  # noqa: F811 - the fixture imported above
    app = Sanic(f"nara_api_test_{uuid.uuid4().hex[:12]}")
    app.ctx.db_url = db_url
    app.blueprint(api)
    return app


@pytest.fixture
def client(api_app, spec) -> SpecClient:
    return SpecClient(api_app, spec)


@dataclass(frozen=True)
class Person:
    username: str
    staff_id: int
    token: str


@pytest.fixture
def people(db_url, teams) -> dict[str, Person]:  # noqa: F811 - the fixtures imported above
    """Two Berga social workers, a Berga team lead, a Lambohov social worker and an admin, each with a token.

    The rows are made directly, without add_staff: the API never looks at passwords, and five argon2 hashes
    per test would make these tests several times slower."""
    out = {}
    with db.session(db_url) as s:
        for name, team, role in ROSTER:
            staff = Staff(username=name, display_name=name.title(), team_id=team, role=role.value, password_hash="-")
            s.add(staff)
            s.flush()
            out[name] = Person(name, staff.id, issue_api_token(s, staff))
    return out


def make_handover(db_url: str, team: str = "berga", **kw: Any) -> str:  # noqa: F811 - a parameter, not the fixture
    """A handover as the bot would create it; returns its code."""
    fields: dict[str, Any] = {
        "summary": "Oro för sonen som inte går till skolan",
        "contact_method": "phone",
        "contact_value": "+46701234567",
        "district": "Berga" if team == "berga" else "Lambohov",
        "topic": "school_absence",
        "preferred_time": "förmiddag",
        "now": T0,
    }
    fields.update(kw)
    with db.session(db_url) as s:
        return create_handover(s, team_id=team, **fields).code
