"""Staff accounts: argon2 password hashes, lockout, login sessions and API tokens."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.store.models import Role, Staff, StaffSession, Team, utcnow
from bot.text import has_control, without_control

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=8)  # one working day
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()
# Verified against when the username does not exist, so that a wrong username takes as long as a
# wrong password: the login page does not tell which accounts exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters


def add_staff(
    s: Session,
    username: str,
    *,
    team_id: str | None,
    role: Role | str = Role.social_worker,
    display_name: str | None = None,
    password: str | None = None,
) -> tuple[Staff, str]:
    """Creates an account; returns it and its (one-time, shown once) password."""
    role = Role(role)
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise ValueError("a username is letters, digits, '.', '-' or '_'")
    if s.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        raise ValueError(f"{username} already exists")
    if role is Role.admin:
        team_id = None
    elif team_id is None or has_control(team_id) or s.get(Team, team_id) is None:
        raise ValueError(f"a {role.value} needs a known team, not {team_id!r}")
    password = password or generate_password()
    staff = Staff(
        username=username,
        display_name=without_control(display_name or "").strip() or username,
        team_id=team_id,
        role=role.value,
        password_hash=hash_password(password),
    )
    s.add(staff)
    s.flush()
    return staff, password


def find_staff(s: Session, username: str) -> Staff | None:
    """The account with this username (any case, spaces around it ignored); None for a name that no
    account can have (one with control characters, which PostgreSQL would not even compare)."""
    name = username.strip().lower()
    if has_control(name):
        return None
    return s.scalar(select(Staff).where(Staff.username == name))


def list_staff(s: Session) -> list[Staff]:
    return list(s.scalars(select(Staff).order_by(Staff.team_id, Staff.username)))


def disable_staff(s: Session, username: str) -> Staff | None:
    staff = find_staff(s, username)
    if staff is not None:
        staff.disabled = True
        staff.api_token_hash = None
        s.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
    return staff


def set_password(s: Session, staff: Staff, password: str) -> None:
    staff.password_hash = hash_password(password)
    staff.failed_logins = 0
    staff.locked_until = None


def authenticate(s: Session, username: str, password: str, now: dt.datetime | None = None) -> Staff | None:
    """The account if the password is right and the account is usable; None otherwise, for every reason
    alike (unknown user, wrong password, locked, disabled). Five failures lock it for 15 minutes."""
    now = now or utcnow()
    staff = find_staff(s, username)
    if staff is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    locked = staff.locked_until is not None and staff.locked_until > now
    try:
        _hasher.verify(staff.password_hash, password)
        right = True
    except (VerificationError, InvalidHashError):
        right = False
    if locked or staff.disabled:
        return None
    if not right:
        staff.failed_logins += 1
        if staff.failed_logins >= MAX_FAILED_LOGINS:
            staff.locked_until = now + LOCKOUT
            staff.failed_logins = 0
        return None
    staff.failed_logins = 0
    staff.locked_until = None
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    return staff


def start_session(s: Session, staff: Staff, now: dt.datetime | None = None) -> tuple[str, StaffSession]:
    """A new login session; returns the cookie value (only its hash is stored) and the session."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        token_hash=_sha256(token),
        staff_id=staff.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    s.add(row)
    s.flush()
    return token, row


def session_for(s: Session, token: str | None, now: dt.datetime | None = None) -> StaffSession | None:
    if not token:
        return None
    row = s.get(StaffSession, _sha256(token))
    if row is None or row.expires_at <= (now or utcnow()) or row.staff.disabled:
        return None
    return row


def end_session(s: Session, token: str | None) -> None:
    if token:
        s.execute(delete(StaffSession).where(StaffSession.token_hash == _sha256(token)))


def purge_sessions(s: Session, now: dt.datetime | None = None) -> int:
    result = s.execute(delete(StaffSession).where(StaffSession.expires_at <= (now or utcnow())))
    return result.rowcount or 0


def issue_api_token(s: Session, staff: Staff) -> str:
    """A new bearer token for the API (replaces the old one); shown once, only its hash is kept."""
    if staff.disabled:
        raise ValueError(f"{staff.username} is disabled")
    token = "nara_" + secrets.token_urlsafe(32)
    staff.api_token_hash = _sha256(token)
    return token


def staff_for_token(s: Session, token: str | None) -> Staff | None:
    if not token:
        return None
    staff = s.scalar(select(Staff).where(Staff.api_token_hash == _sha256(token)))
    return staff if staff is not None and not staff.disabled else None
