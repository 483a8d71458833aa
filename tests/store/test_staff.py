import datetime as dt

import pytest

from bot.store import db
from bot.store.models import Role
from bot.store.staff import (
    MAX_FAILED_LOGINS,
    add_staff,
    authenticate,
    disable_staff,
    end_session,
    find_staff,
    issue_api_token,
    session_for,
    staff_for_token,
    start_session,
)

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
PASSWORD = "rätt häst batteri häftklammer"


def test_passwords_are_argon2_and_never_stored_plain(db_url, teams):
    with db.session(db_url) as s:
        staff, one_time = add_staff(s, "Anna", team_id="berga")
        assert staff.username == "anna" and staff.password_hash.startswith("$argon2id$")
        assert one_time not in staff.password_hash and len(one_time) >= 12
        with pytest.raises(ValueError):
            add_staff(s, "anna", team_id="berga")
        with pytest.raises(ValueError):
            add_staff(s, "nobody", team_id="nowhere")
        with pytest.raises(ValueError):
            add_staff(s, "short", team_id="berga", password="kort")
        admin, _ = add_staff(s, "root", team_id="berga", role=Role.admin)
        assert admin.team_id is None  # admins belong to no team: they read no handovers


def test_lockout_after_repeated_failures_and_same_answer_for_everything(db_url, teams):
    with db.session(db_url) as s:
        add_staff(s, "anna", team_id="berga", password=PASSWORD)
    with db.session(db_url) as s:
        assert authenticate(s, "anna", PASSWORD, now=T0).username == "anna"
        assert authenticate(s, "nobody", PASSWORD, now=T0) is None
        for _ in range(MAX_FAILED_LOGINS):
            assert authenticate(s, "anna", "fel lösenord igen", now=T0) is None
        # locked: even the right password is refused, and it looks the same as a wrong one
        assert authenticate(s, "anna", PASSWORD, now=T0 + dt.timedelta(minutes=14)) is None
        assert authenticate(s, "anna", PASSWORD, now=T0 + dt.timedelta(minutes=16)).username == "anna"
        disable_staff(s, "anna")
        assert authenticate(s, "anna", PASSWORD, now=T0 + dt.timedelta(minutes=20)) is None


def test_sessions_expire_and_end(db_url, teams):
    with db.session(db_url) as s:
        staff, _ = add_staff(s, "anna", team_id="berga")
        token, row = start_session(s, staff, now=T0)
        assert token not in row.token_hash and len(row.csrf_token) >= 32
    with db.session(db_url) as s:
        assert session_for(s, token, now=T0 + dt.timedelta(hours=1)).staff.username == "anna"
        assert session_for(s, token, now=T0 + dt.timedelta(hours=9)) is None
        assert session_for(s, "forged", now=T0) is None
        end_session(s, token)
        assert session_for(s, token, now=T0) is None


def test_api_tokens_are_shown_once_and_die_with_the_account(db_url, teams):
    with db.session(db_url) as s:
        staff, _ = add_staff(s, "anna", team_id="berga")
        first = issue_api_token(s, staff)
        second = issue_api_token(s, staff)
        assert staff_for_token(s, first) is None  # a new token replaces the old one
        assert staff_for_token(s, second).username == "anna"
        assert second not in (find_staff(s, "anna").api_token_hash or "")
        disable_staff(s, "anna")
        assert staff_for_token(s, second) is None
