"""Contact details typed during the handover form, kept out of the conversation.

The form's slot holds only a reference (`draft:<24 letters>`); the phone number or e-mail address itself
waits here until the handover is sent (then it moves into the handover) or cancelled, and
`nara purge` removes drafts older than two hours. The reference has no digits, so redaction leaves it be.
"""

from __future__ import annotations

import secrets
import string

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.store.models import ContactDraft

PREFIX = "draft:"


def is_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def save(s: Session, value: str) -> str:
    """Keeps `value`; returns the reference to put in the conversation instead."""
    token = "".join(secrets.choice(string.ascii_lowercase) for _ in range(24))
    s.add(ContactDraft(token=token, value=value))
    return PREFIX + token


def read(s: Session, reference: object) -> str | None:
    if not is_reference(reference):
        return None
    draft = s.get(ContactDraft, reference.removeprefix(PREFIX))
    return draft.value if draft else None


def drop(s: Session, reference: object) -> None:
    if is_reference(reference):
        s.execute(delete(ContactDraft).where(ContactDraft.token == reference.removeprefix(PREFIX)))
