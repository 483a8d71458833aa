"""The "there is a new handover" e-mail to a team's mailbox.

The e-mail carries no personal data at all: not the summary, not the contact details, not even
the district or the topic. It says that the team has a new handover and links to it; the social
worker logs in to read it (and that view is in the access log). Ordinary e-mail is not a channel
for anything a resident told the bot.

Independent of Sanic: the bot's action server calls it right after creating a handover. It never
raises: a notification that cannot be sent is logged and reported as False, and the handover is
in the queue all the same.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from bot.store.handovers import CODE_ALPHABET

logger = logging.getLogger(__name__)

SUBJECT = "Nytt ärende i Nära"
DEFAULT_SENDER = "Nära <noreply@localhost>"
DEFAULT_BASE_URL = "http://localhost:8001"
SMTP_TIMEOUT_SECONDS = 10
# A handover code as bot.store.handovers.new_code makes them: nothing else goes into the link.
_CODE = re.compile(f"[{CODE_ALPHABET}]{{3}}-[{CODE_ALPHABET}]{{3}}")

BODY = """\
Hej!

Ert team har fått ett nytt ärende i Nära.

Öppna ärendet här. Du behöver logga in.
{link}

Av sekretesskäl står inget om ärendet i det här mejlet.
Det går inte att svara på mejlet.
"""


def smtp_from_env() -> tuple[str, int] | None:
    """(host, port) from NARA_SMTP_HOST and NARA_SMTP_PORT (default 25); None when no host is set."""
    host = os.environ.get("NARA_SMTP_HOST", "").strip()
    if not host:
        return None
    port = os.environ.get("NARA_SMTP_PORT", "").strip()
    return host, int(port) if port else 25


def base_url_from_env() -> str:
    """The staff web pages' address, for links in e-mails (NARA_STAFF_BASE_URL)."""
    return (os.environ.get("NARA_STAFF_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def sender_from_env() -> str:
    return os.environ.get("NARA_SMTP_FROM") or DEFAULT_SENDER


def new_handover_message(team_mailbox: str, code: str, base_url: str, sender: str | None = None) -> EmailMessage:
    """The e-mail itself: that there is a new handover, and the link to it. Nothing else."""
    message = EmailMessage()
    message["Subject"] = SUBJECT
    message["From"] = sender or sender_from_env()
    message["To"] = team_mailbox
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="nara.local")
    message.set_content(BODY.format(link=f"{base_url.rstrip('/')}/handovers/{code}"))
    return message


def notify_new_handover(team_mailbox: str | None, code: str, base_url: str, smtp: tuple[str, int] | None) -> bool:
    """Sends "Nytt ärende i Nära" to the team's mailbox; True when the SMTP server accepted it.

    Never raises: without a mailbox or an SMTP server, or on any error, it logs and returns False.
    """
    try:
        if not team_mailbox:
            logger.info("No notification for handover %s: the team has no mailbox", code)
            return False
        if not _CODE.fullmatch(code or ""):
            logger.warning("No notification: %r is not a handover code", code)
            return False
        if smtp is None:
            logger.info("No SMTP server configured: not e-mailing %s about handover %s", team_mailbox, code)
            return False
        message = new_handover_message(team_mailbox, code, base_url)
        host, port = smtp
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS) as client:
            refused = client.send_message(message)
        if refused:
            logger.warning("The SMTP server refused %s for handover %s: %s", team_mailbox, code, refused)
            return False
        logger.info("Notified %s about handover %s", team_mailbox, code)
        return True
    except Exception:  # a notification must never break the caller
        logger.exception("Could not send the notification for handover %s", code)
        return False


def notify_team(db_url: str | None, team_id: str, code: str, base_url: str, smtp: tuple[str, int] | None) -> bool:
    """Looks up the team's mailbox in the database and notifies it. Never raises either."""
    try:
        from bot.store import db
        from bot.store.models import Team

        with db.session(db_url) as s:
            team = s.get(Team, team_id)
            mailbox = team.mailbox if team is not None else None
    except Exception:
        logger.exception("Could not look up the mailbox of team %s", team_id)
        return False
    return notify_new_handover(mailbox, code, base_url, smtp)
