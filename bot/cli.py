"""The `nara` command: knowledge checks, training data, models and evaluation; the database, teams and
staff accounts of the staff app."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot import paths


def cmd_spacy_model(args: argparse.Namespace) -> int:
    from bot.spacy_model import build

    built = build(Path(args.out))
    print(f"{'Built' if built else 'Up to date:'} {args.out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from knowledge.loader import knowledge_dir
    from knowledge.validate import validate

    root = Path(args.dir) if args.dir else knowledge_dir()
    problems = validate(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    count = len(list((root / "articles").glob("*/*.yml")))
    print(f"{count} articles checked, {len(problems)} problems")
    return 1 if problems else 0


def cmd_export(args: argparse.Namespace) -> int:
    from knowledge.export import export_training_data
    from knowledge.loader import load_knowledge

    path = export_training_data(load_knowledge(), Path(args.out))
    print(f"Wrote {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bot.training import train

    train(force=args.force)
    return 0


def cmd_model_path(args: argparse.Namespace) -> int:
    from bot.training import generate_training_data, model_path

    generate_training_data()
    path = model_path()
    if not path.exists():
        print(f"No model at {path}: run `make train`", file=sys.stderr)
        return 1
    print(path)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from bot.evaluation import evaluate

    return 0 if evaluate(min_macro_f1=args.min_macro_f1, config=Path(args.config)) else 1


class CommandError(Exception):
    """A problem the user can fix: printed as one line on stderr, exit code 1."""


def _store_command(func: Callable[[argparse.Namespace, str], int]) -> Callable[[argparse.Namespace], int]:
    """A command on the database: the schema is brought up to date first, and an error is one line on
    stderr with exit code 1, never a traceback (these commands run from cron and `make run`)."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from bot.store import db
        from knowledge.loader import KnowledgeError

        url = db.database_url()  # resolved once: db.engine() caches by the URL it is given
        try:
            db.upgrade(url)
            return func(args, url)
        except (CommandError, ValueError) as error:
            print(f"nara: {error}", file=sys.stderr)
        except KnowledgeError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            print(f"nara: the knowledge base does not validate (`nara knowledge validate`): {first}", file=sys.stderr)
        except SQLAlchemyError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__
            print(f"nara: database error at {_safe_url(url)}: {first}", file=sys.stderr)
        return 1

    return wrapper


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@_store_command
def cmd_db_upgrade(args: argparse.Namespace, url: str) -> int:
    from bot.store import db

    print(f"Database {_safe_url(url)} is at revision {db.current_revision(url)}")
    return 0


@_store_command
def cmd_teams(args: argparse.Namespace, url: str) -> int:
    from bot.store import db
    from bot.store.teams import sync_teams
    from knowledge.loader import load_knowledge

    knowledge = load_knowledge()
    with db.session(url) as s:
        teams = sync_teams(s, knowledge)
        rows = [
            (t.id, t.name + ("" if t.id in knowledge.teams else " (not in areas.yml)"), t.mailbox or "-") for t in teams
        ]
    _print_table(("id", "name", "mailbox"), rows)
    return 0


@_store_command
def cmd_staff_add(args: argparse.Namespace, url: str) -> int:
    from sqlalchemy import select

    from bot.store import db
    from bot.store.models import Role, Team
    from bot.store.staff import add_staff

    role = Role(args.role)
    with db.session(url) as s:
        if role is Role.admin:
            if args.team:
                raise CommandError("an admin belongs to no team: leave out --team")
        elif not args.team:
            raise CommandError(f"a {role.value} needs --team TEAM")
        elif s.get(Team, args.team) is None:
            known = ", ".join(s.scalars(select(Team.id).order_by(Team.id))) or "none yet"
            raise CommandError(f"unknown team {args.team!r} (known: {known}; `nara teams` loads them from areas.yml)")
        staff, password = add_staff(s, args.username, team_id=args.team, role=role, display_name=args.name)
    # Printed only after the commit, as every secret below: a password that is shown must work.
    where = f"team {staff.team_id}" if staff.team_id else "no team"
    print(f"Created {staff.username} ({staff.display_name}, {staff.role}, {where}).")
    print(f"Password, shown only this once: {password}")
    return 0


@_store_command
def cmd_staff_list(args: argparse.Namespace, url: str) -> int:
    from bot.store import db
    from bot.store.models import utcnow
    from bot.store.staff import list_staff

    now = utcnow()
    with db.session(url) as s:
        rows = []
        for staff in list_staff(s):
            if staff.disabled:
                state = "disabled"
            elif staff.locked_until is not None and staff.locked_until > now:
                state = f"locked until {staff.locked_until:%Y-%m-%d %H:%M} UTC"
            else:
                state = "active"
            token = "yes" if staff.api_token_hash else "-"
            rows.append((staff.username, staff.display_name, staff.team_id or "-", staff.role, state, token))
    if not rows:
        print("No staff accounts (`nara staff add` or `nara demo-staff` creates some).")
        return 0
    _print_table(("username", "name", "team", "role", "state", "api token"), rows)
    return 0


@_store_command
def cmd_staff_disable(args: argparse.Namespace, url: str) -> int:
    from bot.store import db
    from bot.store.staff import disable_staff

    with db.session(url) as s:
        staff = disable_staff(s, args.username)
        if staff is None:
            raise CommandError(f"unknown user {args.username!r}")
    print(f"Disabled {staff.username}: logged out everywhere, API token revoked.")
    return 0


@_store_command
def cmd_staff_token(args: argparse.Namespace, url: str) -> int:
    from bot.store import db
    from bot.store.staff import find_staff, issue_api_token

    with db.session(url) as s:
        staff = find_staff(s, args.username)
        if staff is None:
            raise CommandError(f"unknown user {args.username!r}")
        token = issue_api_token(s, staff)
    print(f"New API token for {staff.username}, shown only this once (the previous token no longer works):")
    print(token)
    return 0


def _days(given: int | None, variable: str, option: str, default: int) -> int:
    """A retention period from its option, else its environment variable, else the default."""
    if given is not None:
        days, source = given, option
    else:
        raw = os.environ.get(variable, "").strip()
        source = variable
        try:
            days = int(raw) if raw else default
        except ValueError:
            raise CommandError(f"{source} must be a whole number of days, not {raw!r}") from None
    if days < 0:
        raise CommandError(f"{source} must be 0 or more days, not {days}")
    return days


@_store_command
def cmd_purge(args: argparse.Namespace, url: str) -> int:
    from bot.retention import DEFAULT_CONVERSATION_DAYS, purge_conversations
    from bot.store import db
    from bot.store.handovers import DEFAULT_RETENTION_DAYS, purge
    from bot.store.staff import purge_sessions

    days = _days(args.retention_days, "NARA_HANDOVER_RETENTION_DAYS", "--retention-days", DEFAULT_RETENTION_DAYS)
    chat_days = _days(
        args.conversation_days,
        "NARA_CONVERSATION_RETENTION_DAYS",
        "--conversation-days",
        DEFAULT_CONVERSATION_DAYS,
    )
    with db.session(url) as s:
        done = purge(s, retention_days=days)
        sessions = purge_sessions(s)
    with db.session(url) as s:
        chats = purge_conversations(s, days=chat_days)
    print(
        f"Purged conversations (retention {chat_days} days): {chats.conversations_deleted} conversations and "
        f"{chats.events_deleted} events deleted (anonymous counts kept), {chats.drafts_deleted} contact drafts "
        f"removed.\n"
        f"Purged handovers (retention {days} days): contact details erased on {done['contact_details_erased']} "
        f"handovers, {done['handovers_deleted']} handovers deleted, {sessions} expired sessions removed."
    )
    return 0


@_store_command
def cmd_demo_staff(args: argparse.Namespace, url: str) -> int:
    from sqlalchemy import func, select

    from bot.store import db
    from bot.store.models import Role, Staff
    from bot.store.staff import add_staff
    from bot.store.teams import sync_teams
    from knowledge.loader import load_knowledge

    knowledge = load_knowledge()
    with db.session(url) as s:
        if s.scalar(select(func.count()).select_from(Staff)):
            print("Staff accounts exist already: nothing done (`nara staff list` shows them).")
            return 0
        created = []
        for team in sync_teams(s, knowledge):
            staff, password = add_staff(
                s, f"lead-{team.id}", team_id=team.id, role=Role.team_lead, display_name=f"Teamledare {team.name}"
            )
            created.append((staff.username, staff.display_name, staff.team_id, password))
        staff, password = add_staff(s, "admin", team_id=None, role=Role.admin, display_name="Administratör")
        created.append((staff.username, staff.display_name, "-", password))
    print("Demo staff accounts; the passwords are shown only this once:")
    _print_table(("username", "name", "team", "password"), created)
    return 0


def cmd_safety_evaluate(args: argparse.Namespace) -> int:
    from bot.safety_evaluation import EVALUATION_FILE, evaluate, passes, write_report

    chosen = Path(args.set).resolve() if args.set else EVALUATION_FILE
    name = "safety" if chosen == EVALUATION_FILE else f"safety-{chosen.stem}"
    if args.model:
        from bot.safety_evaluation import model_detect

        result = evaluate(path=chosen, detect=model_detect())
        result["measured"] = "the trained model's whole NLU pipeline (rules, then the classifiers' crisis intent)"
        name += "-model"
    else:
        result = evaluate(path=chosen)
    path = write_report(result, name=name)
    print(
        f"crisis rules: recall {result['recall']:.3f} on {result['crisis_messages']}, precision "
        f"{result['precision']:.3f} with {result['not_crisis_messages']} non-crisis messages; report in {path}"
    )
    return 0 if passes(result) else 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="nara", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("spacy-model", help="build the blank Swedish spaCy pipeline with lookup lemmas")
    p.add_argument("--out", default=str(paths.SPACY_MODEL))
    p.set_defaults(func=cmd_spacy_model)

    kb = sub.add_parser("knowledge", help="check the knowledge base or generate training data from it")
    kb_sub = kb.add_subparsers(dest="knowledge_command", required=True)
    p = kb_sub.add_parser("validate", help="check every article, line and placeholder; exit 1 on a problem")
    p.add_argument("--dir", help="a knowledge folder (default: $NARA_KNOWLEDGE_DIR or knowledge/)")
    p.set_defaults(func=cmd_validate)
    p = kb_sub.add_parser("export-nlu", help="write the generated Rasa training data")
    p.add_argument("--out", default=str(paths.GENERATED_NLU))
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("train", help="train a model if data, knowledge or config changed")
    p.add_argument("--force", action="store_true", help="train even when a model for these inputs exists")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("model-path", help="print the path of the model for the current inputs")
    p.set_defaults(func=cmd_model_path)

    p = sub.add_parser("evaluate", help="NLU and retrieval evaluation on held-out examples -> reports/")
    p.add_argument("--min-macro-f1", type=float, default=0.90)
    p.add_argument(
        "--config", default=str(paths.ROOT / "config.yml"), help="a pipeline to compare (default: config.yml)"
    )
    p.set_defaults(func=cmd_evaluate)

    safety = sub.add_parser("safety", help="the crisis rules in knowledge/safety/")
    safety_sub = safety.add_subparsers(dest="safety_command", required=True)
    p = safety_sub.add_parser("evaluate", help="recall and precision on the evaluation set -> reports/safety.md")
    p.add_argument("--set", help="another set in the same format (e.g. knowledge/safety/fresh_check.yml)")
    p.add_argument("--model", action="store_true", help="measure the trained model (rules + NLU), not the rules alone")
    p.set_defaults(func=cmd_safety_evaluate)

    database = sub.add_parser("db", help="the database of handovers and staff accounts ($NARA_DATABASE_URL)")
    db_sub = database.add_subparsers(dest="db_command", required=True)
    p = db_sub.add_parser("upgrade", help="migrate the database to the newest schema (safe to repeat)")
    p.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("teams", help="add and rename teams from knowledge/areas.yml (never deletes) and list them")
    p.set_defaults(func=cmd_teams)

    staff = sub.add_parser("staff", help="staff accounts of the staff app")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    p = staff_sub.add_parser("add", help="create an account and print its password once")
    p.add_argument("username")
    p.add_argument("--team", help="the team id (see `nara teams`); not for an admin")
    p.add_argument("--role", choices=["social_worker", "team_lead", "admin"], default="social_worker")
    p.add_argument("--name", help="the display name (default: the username)")
    p.set_defaults(func=cmd_staff_add)
    p = staff_sub.add_parser("list", help="every account: team, role, and whether disabled or locked")
    p.set_defaults(func=cmd_staff_list)
    p = staff_sub.add_parser("disable", help="disable an account: ends its sessions and revokes its API token")
    p.add_argument("username")
    p.set_defaults(func=cmd_staff_disable)
    p = staff_sub.add_parser("token", help="print a new API token once (the old one stops working)")
    p.add_argument("username")
    p.set_defaults(func=cmd_staff_token)

    p = sub.add_parser(
        "purge",
        help="retention (safe from cron): delete old conversations (keeping anonymous counts), erase contact "
        "details of finished handovers, delete old ones",
    )
    p.add_argument(
        "--conversation-days",
        type=int,
        help="delete conversations quiet for this many days (default: $NARA_CONVERSATION_RETENTION_DAYS or 21)",
    )
    p.add_argument(
        "--retention-days",
        type=int,
        help="delete closed and withdrawn handovers older than this (default: $NARA_HANDOVER_RETENTION_DAYS or 30)",
    )
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("demo-staff", help="on an empty staff table: one team lead per team and an admin")
    p.set_defaults(func=cmd_demo_staff)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
