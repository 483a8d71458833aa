"""A migrated database per test: SQLite always, and PostgreSQL too when scripts/test started one
(NARA_TEST_POSTGRES_URL). Each PostgreSQL test gets its own fresh schema."""

from __future__ import annotations

import os

import pytest
from rasa.shared.core.domain import Domain

from bot.paths import ROOT
from bot.store import db
from bot.store.models import Role, Team
from bot.tracker_store import NaraTrackerStore
from tests.scratch_db import scratch_postgres

# The people the scope tests use: two Berga social workers, a Berga team lead, a Lambohov social worker
# and an admin (username, team, role).
ROSTER = [
    ("anna", "berga", Role.social_worker),
    ("bo", "berga", Role.social_worker),
    ("lead", "berga", Role.team_lead),
    ("lisa", "lambohov", Role.social_worker),
    ("admin", None, Role.admin),
]
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("NARA_TEST_POSTGRES_URL") else [])


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'nara.db'}"
        db.upgrade(url)
        yield url
        return
    with scratch_postgres("nara_test") as url:
        yield url


@pytest.fixture
def teams(db_url):
    with db.session(db_url) as s:
        s.add_all([Team(id="berga", name="Områdesteam Berga"), Team(id="lambohov", name="Områdesteam Lambohov")])
    return ["berga", "lambohov"]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def store(db_url, domain) -> NaraTrackerStore:
    """The conversation store on the test's database."""
    return NaraTrackerStore(domain=domain, url=db_url)
