"""Handovers: created by the bot with the resident's consent, worked by the area team.

Team scope is enforced here, in the data layer: every read and write for staff goes through a
`Viewer`, and a handover outside the viewer's scope is simply not found (the pages and the API
answer 404, never 403, so they do not even confirm that a code exists).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.store.models import AccessLog, ContactMethod, Handover, HandoverEvent, Role, Staff, Status, Team, utcnow
from bot.text import without_control

# Easy to read aloud and to type from a phone: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RESIDENT = "invånare"
SYSTEM = "system"
DEFAULT_RETENTION_DAYS = 30

# Which status may follow which. Closing needs a claim first (someone owns the outcome).
TRANSITIONS: dict[Status, set[Status]] = {
    Status.new: {Status.claimed, Status.withdrawn},
    Status.claimed: {Status.contacted, Status.closed, Status.withdrawn, Status.new},  # new = release
    Status.contacted: {Status.closed, Status.withdrawn},
    Status.closed: set(),
    Status.withdrawn: set(),
}
FINAL = {Status.closed, Status.withdrawn}


class TransitionError(ValueError):
    """The handover cannot move to that status from where it is."""


def new_code() -> str:
    letters = [secrets.choice(CODE_ALPHABET) for _ in range(6)]
    return "".join(letters[:3]) + "-" + "".join(letters[3:])


def normalise_code(text: str) -> str:
    """'k7m2qx', 'K7M 2QX' and 'k7m-2qx' are the same code."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{raw[:3]}-{raw[3:]}" if len(raw) == 6 else without_control(text).strip().upper()


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a staff member as the pages and the API see them."""

    staff_id: int
    username: str
    role: Role
    team_id: str | None

    @classmethod
    def of(cls, staff: Staff) -> Viewer:
        return cls(staff.id, staff.username, Role(staff.role), staff.team_id)

    @property
    def reads_handovers(self) -> bool:
        return self.role in (Role.social_worker, Role.team_lead) and self.team_id is not None


def _scoped(viewer: Viewer):
    """The handovers this viewer may see: a team lead the whole team's, a social worker the team's
    unclaimed ones and their own; an admin none (admins manage accounts, they read no handovers)."""
    query = select(Handover)
    if not viewer.reads_handovers:
        return query.where(False)
    query = query.where(Handover.team_id == viewer.team_id)
    if viewer.role is Role.social_worker:
        query = query.where(or_(Handover.status == Status.new.value, Handover.claimed_by == viewer.staff_id))
    return query


def create_handover(
    s: Session,
    *,
    team_id: str,
    summary: str,
    contact_method: ContactMethod | str,
    contact_value: str | None = None,
    district: str | None = None,
    topic: str | None = None,
    excerpt: str | None = None,
    preferred_time: str | None = None,
    urgent: bool = False,
    now: dt.datetime | None = None,
) -> Handover:
    method = ContactMethod(contact_method)
    if method is ContactMethod.dropin:
        contact_value = None  # drop-in with a code: no personal data at all
    elif not contact_value:
        raise ValueError(f"contact method {method.value} needs a value")
    if s.get(Team, team_id) is None:
        raise ValueError(f"unknown team {team_id!r}")
    now = now or utcnow()
    code = new_code()
    while s.scalar(select(Handover.id).where(Handover.code == code)) is not None:
        code = new_code()
    handover = Handover(
        code=code,
        team_id=team_id,
        district=district,
        topic=topic,
        summary=summary,
        excerpt=excerpt,
        contact_method=method.value,
        contact_value=contact_value,
        preferred_time=preferred_time,
        urgent=urgent,
        status=Status.new.value,
        created_at=now,
        updated_at=now,
    )
    handover.events.append(HandoverEvent(at=now, actor=RESIDENT, action="created"))
    s.add(handover)
    s.flush()
    return handover


def list_handovers(s: Session, viewer: Viewer, status: Status | None = None) -> list[Handover]:
    """Urgent first, then oldest first: the order a queue is worked in."""
    query = _scoped(viewer)
    if status is not None:
        query = query.where(Handover.status == status.value)
    else:
        query = query.where(Handover.status.not_in([Status.closed.value, Status.withdrawn.value]))
    query = query.order_by(Handover.urgent.desc(), Handover.created_at, Handover.id)
    return list(s.scalars(query.options(selectinload(Handover.claimer))))


def get_handover(s: Session, viewer: Viewer, code: str) -> Handover | None:
    return s.scalar(_scoped(viewer).where(Handover.code == normalise_code(code)))


def log_access(s: Session, viewer: Viewer, code: str, via: str, now: dt.datetime | None = None) -> None:
    s.add(
        AccessLog(at=now or utcnow(), staff_id=viewer.staff_id, username=viewer.username, handover_code=code, via=via)
    )


def read_handover(s: Session, viewer: Viewer, code: str, via: str) -> Handover | None:
    """Opens a handover for reading and writes the view to the access log."""
    handover = get_handover(s, viewer, code)
    if handover is not None:
        log_access(s, viewer, handover.code, via)
    return handover


def access_log(s: Session, limit: int = 500) -> list[AccessLog]:
    return list(s.scalars(select(AccessLog).order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit)))


def _erase_contact(handover: Handover, now: dt.datetime) -> None:
    if handover.contact_value is not None:
        handover.contact_value = None
        handover.events.append(HandoverEvent(at=now, actor=SYSTEM, action="erased", note="Kontaktuppgifter raderade"))


def transition(
    s: Session,
    viewer: Viewer,
    code: str,
    to: Status | str,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> Handover | None:
    """Moves a handover on (claim, contacted, close with an outcome, withdraw, release).

    None when the viewer cannot see it; TransitionError when the move is not allowed.
    """
    handover = get_handover(s, viewer, code)
    if handover is None:
        return None
    to = Status(to)
    current = Status(handover.status)
    if to not in TRANSITIONS[current]:
        raise TransitionError(f"{current.value} → {to.value} is not allowed")
    note = without_control(note).strip() or None if note is not None else None
    if to is Status.closed and note is None:
        raise TransitionError("closing needs an outcome")
    now = now or utcnow()
    handover.status = to.value
    handover.updated_at = now
    if to is Status.claimed:
        handover.claimed_by = viewer.staff_id
    elif to is Status.new:
        handover.claimed_by = None
    action = {Status.new: "released"}.get(to, to.value)
    handover.events.append(HandoverEvent(at=now, actor=viewer.username, action=action, note=note))
    if to in FINAL:
        handover.closed_at = now
        if to is Status.closed:
            handover.outcome = note
        _erase_contact(handover, now)
    return handover


def purge(s: Session, retention_days: int = DEFAULT_RETENTION_DAYS, now: dt.datetime | None = None) -> dict[str, int]:
    """Retention: erases contact details left on closed handovers and deletes closed or withdrawn
    handovers older than `retention_days` (with their history). Idempotent; safe to run from cron."""
    now = now or utcnow()
    erased = 0
    for handover in s.scalars(
        select(Handover).where(
            Handover.status.in_([Status.closed.value, Status.withdrawn.value]), Handover.contact_value.is_not(None)
        )
    ):
        _erase_contact(handover, now)
        erased += 1
    cutoff = now - dt.timedelta(days=retention_days)
    old = select(Handover.id).where(
        Handover.status.in_([Status.closed.value, Status.withdrawn.value]), Handover.closed_at < cutoff
    )
    ids = list(s.scalars(old))
    if ids:
        s.execute(delete(HandoverEvent).where(HandoverEvent.handover_id.in_(ids)))
        s.execute(delete(Handover).where(Handover.id.in_(ids)))
    return {"contact_details_erased": erased, "handovers_deleted": len(ids)}
