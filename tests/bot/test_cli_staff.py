"""The `nara` commands for the database, teams, staff accounts and retention, run through `bot.cli.main`."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from bot.cli import main, parser
from bot.store import db
from bot.store.handovers import create_handover
from bot.store.models import ConversationEvent, Handover, Staff, StaffSession, Status, Team, utcnow
from bot.store.staff import authenticate, find_staff, staff_for_token, start_session
from bot.store.teams import sync_teams

PASSWORD = re.compile(r"Password, shown only this once: (\S+)")


@pytest.fixture
def url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'nara.db'}"
    monkeypatch.setenv("NARA_DATABASE_URL", url)
    monkeypatch.delenv("NARA_HANDOVER_RETENTION_DAYS", raising=False)
    return url


@pytest.fixture
def nara(url, capsys):
    """Runs `nara ARGS...`; returns the exit code, stdout and stderr."""

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_one_line_error(result: tuple[int, str, str], *words: str) -> None:
    code, out, err = result
    assert code == 1
    assert out == ""
    assert err.startswith("nara: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err


def test_main_takes_argv_and_the_knowledge_commands_are_still_there():
    args = parser().parse_args(["knowledge", "validate"])
    assert args.func.__name__ == "cmd_validate"
    with pytest.raises(SystemExit):
        main(["no-such-command"])


# --- db upgrade and teams --------------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_and_is_safe_to_repeat(nara, url):
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(db.MIGRATIONS)).get_current_head()
    for _ in range(2):
        code, out, err = nara("db", "upgrade")
        assert (code, err) == (0, "")
        assert out.strip().endswith(f"is at revision {head}")
    assert db.current_revision(url) == head


def test_teams_syncs_areas_yml_and_never_deletes(nara, url, kb):
    code, out, _ = nara("teams")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["id", "name", "mailbox"]
    assert [line.split()[0] for line in lines[1:]] == sorted(kb.teams)
    with db.session(url) as s:
        s.get(Team, "berga").name = "Gammalt namn"
        s.get(Team, "berga").mailbox = "berga@example.org"
        s.add(Team(id="gamla", name="Nedlagt team"))
    code, out, _ = nara("teams")
    assert code == 0
    with db.session(url) as s:
        berga = s.get(Team, "berga")
        assert (berga.name, berga.mailbox) == (kb.teams["berga"].name, "berga@example.org")
        assert s.get(Team, "gamla") is not None
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert rows["berga"].endswith("berga@example.org")
    assert "Nedlagt team (not in areas.yml)" in rows["gamla"]


def test_sync_teams_inserts_missing_updates_names_and_returns_every_team(url):
    db.upgrade(url)
    knowledge = SimpleNamespace(
        teams={
            "b": SimpleNamespace(name="Team B", mailbox="b@example.org"),
            "a": SimpleNamespace(name="Team A, nytt namn", mailbox=None),
            "z": SimpleNamespace(name="Team Z", mailbox="from-areas@example.org"),
        }
    )
    with db.session(url) as s:
        s.add_all([Team(id="a", name="Team A"), Team(id="z", name="Team Z", mailbox="z@example.org")])
    with db.session(url) as s:
        teams = sync_teams(s, knowledge)
        # a new team takes its mailbox from areas.yml; one an admin set is kept
        assert [(t.id, t.name, t.mailbox) for t in teams] == [
            ("a", "Team A, nytt namn", None),
            ("b", "Team B", "b@example.org"),
            ("z", "Team Z", "z@example.org"),
        ]
    with db.session(url) as s:  # a second run changes nothing
        assert [t.name for t in sync_teams(s, knowledge)] == ["Team A, nytt namn", "Team B", "Team Z"]


# --- staff -----------------------------------------------------------------------------------------------------


def test_staff_add_prints_a_password_that_logs_in(nara, url):
    nara("teams")
    code, out, err = nara("staff", "add", "Anna", "--team", "berga", "--name", "Anna Andersson")
    assert (code, err) == (0, "")
    password = PASSWORD.search(out).group(1)
    assert out.count(password) == 1
    code, out, _ = nara("staff", "add", "lead", "--team", "berga", "--role", "team_lead")
    assert code == 0
    code, out, _ = nara("staff", "add", "root", "--role", "admin")
    assert code == 0
    with db.session(url) as s:
        anna = authenticate(s, "anna", password)
        assert (anna.username, anna.display_name, anna.team_id, anna.role) == (
            "anna",
            "Anna Andersson",
            "berga",
            "social_worker",
        )
        assert (find_staff(s, "lead").role, find_staff(s, "lead").display_name) == ("team_lead", "lead")
        assert (find_staff(s, "root").role, find_staff(s, "root").team_id) == ("admin", None)


def test_staff_add_errors_are_one_line_and_exit_1(nara, url):
    nara("teams")
    assert nara("staff", "add", "anna", "--team", "berga")[0] == 0
    assert_one_line_error(nara("staff", "add", "anna", "--team", "lambohov"), "anna", "exists")
    assert_one_line_error(nara("staff", "add", "bo", "--team", "atlantis"), "unknown team 'atlantis'", "berga")
    assert_one_line_error(nara("staff", "add", "bo"), "--team")
    assert_one_line_error(nara("staff", "add", "root", "--role", "admin", "--team", "berga"), "admin")
    assert_one_line_error(nara("staff", "add", "bo bo", "--team", "berga"), "username")
    with db.session(url) as s:
        assert [staff.username for staff in s.scalars(select(Staff))] == ["anna"]


def test_staff_add_before_the_teams_are_loaded_says_how_to_load_them(nara):
    assert_one_line_error(nara("staff", "add", "anna", "--team", "berga"), "nara teams")


def test_staff_list_shows_team_role_and_state(nara, url):
    assert nara("staff", "list")[1].startswith("No staff accounts")
    nara("teams")
    for name in ("anna", "bo", "cia"):
        nara("staff", "add", name, "--team", "berga", "--name", f"{name.title()} Test")
    nara("staff", "add", "root", "--role", "admin")
    nara("staff", "disable", "bo")
    nara("staff", "token", "cia")
    with db.session(url) as s:
        find_staff(s, "cia").locked_until = utcnow() + dt.timedelta(minutes=10)
    code, out, _ = nara("staff", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["username", "name", "team", "role", "state", "api", "token"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["anna"] == ["anna", "Anna", "Test", "berga", "social_worker", "active", "-"]
    assert rows["bo"][5] == "disabled"
    assert rows["cia"][5:7] == ["locked", "until"] and rows["cia"][-1] == "yes"
    assert rows["root"][3:5] == ["admin", "active"]


def test_staff_token_prints_a_working_token_that_replaces_the_old(nara, url):
    nara("teams")
    nara("staff", "add", "anna", "--team", "berga")
    code, out, err = nara("staff", "token", "anna")
    assert (code, err) == (0, "")
    first = out.splitlines()[-1]
    assert first.startswith("nara_")
    _, out, _ = nara("staff", "token", "ANNA")
    second = out.splitlines()[-1]
    with db.session(url) as s:
        assert staff_for_token(s, first) is None
        assert staff_for_token(s, second).username == "anna"
    assert_one_line_error(nara("staff", "token", "nobody"), "unknown user 'nobody'")


def test_staff_disable_ends_sessions_and_revokes_the_token(nara, url):
    nara("teams")
    _, out, _ = nara("staff", "add", "anna", "--team", "berga")
    password = PASSWORD.search(out).group(1)
    token = nara("staff", "token", "anna")[1].splitlines()[-1]
    with db.session(url) as s:
        start_session(s, find_staff(s, "anna"))
    code, out, err = nara("staff", "disable", "anna")
    assert (code, err) == (0, "")
    assert "anna" in out
    with db.session(url) as s:
        assert find_staff(s, "anna").disabled
        assert staff_for_token(s, token) is None
        assert authenticate(s, "anna", password) is None
        assert s.scalars(select(StaffSession)).all() == []
    assert_one_line_error(nara("staff", "token", "anna"), "disabled")
    assert_one_line_error(nara("staff", "disable", "nobody"), "unknown user 'nobody'")


# --- purge -----------------------------------------------------------------------------------------------------


def _finished(s, closed_days_ago: int, *, keep_contact: bool = False) -> str:
    now = utcnow()
    handover = create_handover(
        s, team_id="berga", summary="Oro", contact_method="phone", contact_value="+46701234567", now=now
    )
    handover.status = Status.closed.value
    handover.closed_at = now - dt.timedelta(days=closed_days_ago)
    if not keep_contact:
        handover.contact_value = None
    return handover.code


def test_purge_applies_the_retention_and_is_idempotent(nara, url, monkeypatch):
    nara("teams")
    nara("staff", "add", "anna", "--team", "berga")
    with db.session(url) as s:
        old = _finished(s, 40)
        recent = _finished(s, 20)
        leftover = _finished(s, 1, keep_contact=True)  # e.g. closed by an older version: contact still there
        open_code = create_handover(
            s, team_id="berga", summary="Oro", contact_method="sms", contact_value="+46701234567"
        ).code
        session = start_session(s, find_staff(s, "anna"), now=utcnow() - dt.timedelta(days=2))[1]
        session.expires_at = utcnow() - dt.timedelta(days=1)

        for sender, days_ago in (("quiet", 30), ("active", 2)):
            at = (utcnow() - dt.timedelta(days=days_ago)).timestamp()
            s.add(ConversationEvent(sender_id=sender, type_name="user", timestamp=at, data='{"event": "user"}'))

    code, out, err = nara("purge")
    assert (code, err) == (0, "")
    assert out == (
        "Purged conversations (retention 21 days): 1 conversations and 1 events deleted (anonymous counts kept), "
        "0 contact drafts removed.\n"
        "Purged handovers (retention 30 days): contact details erased on 1 handovers, 1 handovers deleted, "
        "1 expired sessions removed.\n"
    )
    with db.session(url) as s:
        handovers = {h.code: h for h in s.scalars(select(Handover))}
        assert set(handovers) == {recent, leftover, open_code}
        assert old not in handovers
        assert handovers[leftover].contact_value is None
        assert handovers[open_code].contact_value == "+46701234567"
        assert list(s.scalars(select(ConversationEvent.sender_id))) == ["active"]

    assert nara("purge")[1] == (  # again: nothing left to do
        "Purged conversations (retention 21 days): 0 conversations and 0 events deleted (anonymous counts kept), "
        "0 contact drafts removed.\n"
        "Purged handovers (retention 30 days): contact details erased on 0 handovers, 0 handovers deleted, "
        "0 expired sessions removed.\n"
    )
    monkeypatch.setenv("NARA_CONVERSATION_RETENTION_DAYS", "1")
    assert "1 conversations" in nara("purge")[1]
    assert "--conversation-days" in nara("purge", "--conversation-days", "-1")[2]
    monkeypatch.setenv("NARA_HANDOVER_RETENTION_DAYS", "10")
    assert "retention 10 days" in nara("purge")[1]
    with db.session(url) as s:
        assert {h.code for h in s.scalars(select(Handover))} == {leftover, open_code}
    assert "retention 0 days" in nara("purge", "--retention-days", "0")[1]  # the flag wins over the variable
    with db.session(url) as s:
        assert {h.code for h in s.scalars(select(Handover))} == {open_code}


def test_purge_on_a_new_database_creates_the_schema_and_does_nothing(nara, url):
    code, out, _ = nara("purge")
    assert code == 0
    assert "0 handovers deleted" in out
    assert db.current_revision(url) is not None


@pytest.mark.parametrize(("env", "flag"), [("abc", None), ("-5", None), ("30", "-1")])
def test_purge_refuses_a_bad_retention(nara, monkeypatch, env, flag):
    monkeypatch.setenv("NARA_HANDOVER_RETENTION_DAYS", env)
    argv = ["purge"] + (["--retention-days", flag] if flag else [])
    assert_one_line_error(nara(*argv), "days")


# --- demo-staff ------------------------------------------------------------------------------------------------


def test_demo_staff_creates_a_lead_per_team_and_an_admin_once(nara, url, kb):
    code, out, err = nara("demo-staff")
    assert (code, err) == (0, "")
    passwords = {line.split()[0]: line.split()[-1] for line in out.splitlines()[2:]}
    assert set(passwords) == {f"lead-{team}" for team in kb.teams} | {"admin"}
    with db.session(url) as s:
        for team_id, team in kb.teams.items():
            lead = authenticate(s, f"lead-{team_id}", passwords[f"lead-{team_id}"])
            assert (lead.role, lead.team_id, lead.display_name) == ("team_lead", team_id, f"Teamledare {team.name}")
        admin = authenticate(s, "admin", passwords["admin"])
        assert (admin.role, admin.team_id) == ("admin", None)
        assert {t.id for t in s.scalars(select(Team))} == set(kb.teams)

    code, out, err = nara("demo-staff")
    assert (code, err) == (0, "")
    assert "nothing done" in out
    assert not any(password in out for password in passwords.values())
    with db.session(url) as s:
        assert len(s.scalars(select(Staff)).all()) == len(kb.teams) + 1


def test_demo_staff_does_nothing_when_any_account_exists(nara, url):
    nara("teams")
    nara("staff", "add", "anna", "--team", "berga")
    code, out, _ = nara("demo-staff")
    assert code == 0 and "nothing done" in out
    with db.session(url) as s:
        assert [staff.username for staff in s.scalars(select(Staff))] == ["anna"]
