"""The "new handover" e-mail, sent to a local aiosmtpd server: it carries no personal data."""

from __future__ import annotations

import logging
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from bot.staff import notify
from bot.store import db
from bot.store.models import Team
from tests.staff.conftest import make_handover

MAILBOX = "team7@kommun.example"
BASE_URL = "https://nara.kommun.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps what it receives; refuses recipients at refused.example."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, ("127.0.0.1", port)
    finally:
        controller.stop()


def test_the_e_mail_says_there_is_a_new_handover_and_links_to_it_and_nothing_else(smtp_server, db_url):
    inbox, smtp = smtp_server
    summary = "Min dotter Elin, 14 år, blir slagen av sin pappa. Ring mig på 070-123 45 67 efter skolan."
    code = make_handover(
        db_url,
        summary=summary,
        excerpt="Invånare: Jag heter Maria Karlsson och bor på Bergavägen 12.",
        contact_method="email",
        contact_value="maria.karlsson@example.se",
        district="Berga",
        topic="violence",
        preferred_time="Efter 15",
        urgent=True,
    )
    with db.session(db_url) as s:
        s.get(Team, "berga").mailbox = MAILBOX

    assert notify.notify_team(db_url, "berga", code, BASE_URL + "/", smtp) is True

    assert len(inbox.messages) == 1
    sender, recipients, raw = inbox.messages[0]
    assert recipients == [MAILBOX]
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Nytt ärende i Nära"
    assert message["To"] == MAILBOX
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert f"{BASE_URL}/handovers/{code}\r\n" in body
    assert "Ert team har fått ett nytt ärende i Nära." in body
    assert not message.is_multipart()  # one plain text part: no attachments, no HTML copy
    # Nothing about the resident or the handover, however it was encoded:
    everything = body + "\n" + "\n".join(f"{key}: {value}" for key, value in message.items())
    raw_text = raw.decode("utf-8", errors="replace")
    for secret in (
        summary,
        "Elin",
        "070-123 45 67",
        "0701234567",
        "maria.karlsson@example.se",
        "Maria Karlsson",
        "Bergavägen",
        "Berga",
        "violence",
        "Våld",
        "Efter 15",
        "Brådskande",
    ):
        assert secret not in everything, secret
        assert secret not in raw_text, secret


def test_notify_new_handover_directly(smtp_server):
    inbox, smtp = smtp_server
    assert notify.notify_new_handover(MAILBOX, "K7M-2QX", "http://localhost:8000", smtp) is True
    message = message_from_bytes(inbox.messages[0][2], policy=policy.default)
    assert "http://localhost:8000/handovers/K7M-2QX" in message.get_content()
    assert message["From"] == notify.DEFAULT_SENDER


def test_without_an_smtp_server_it_only_logs(caplog, db_url):
    caplog.set_level(logging.INFO, logger="bot.staff.notify")
    assert notify.notify_new_handover(MAILBOX, "K7M-2QX", BASE_URL, None) is False
    assert "No SMTP server configured" in caplog.text


def test_it_never_raises(smtp_server, caplog, db_url):
    inbox, smtp = smtp_server
    assert notify.notify_new_handover(None, "K7M-2QX", BASE_URL, smtp) is False  # the team has no mailbox
    assert notify.notify_new_handover("", "K7M-2QX", BASE_URL, smtp) is False
    assert notify.notify_new_handover(MAILBOX, "../../evil", BASE_URL, smtp) is False  # not a code
    assert notify.notify_new_handover(MAILBOX, "K7M-2QX", BASE_URL, ("127.0.0.1", free_port())) is False  # down
    assert notify.notify_new_handover("nobody@refused.example", "K7M-2QX", BASE_URL, smtp) is False
    assert notify.notify_new_handover(MAILBOX, "K7M-2QX", BASE_URL, ("127.0.0.1", "not a port")) is False
    assert notify.notify_team("nosuchdialect://x", "berga", "K7M-2QX", BASE_URL, smtp) is False
    assert notify.notify_team(db_url, "nowhere", "K7M-2QX", BASE_URL, smtp) is False  # unknown team
    assert inbox.messages == []
    assert "Could not send the notification" in caplog.text


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.delenv("NARA_SMTP_HOST", raising=False)
    monkeypatch.delenv("NARA_SMTP_PORT", raising=False)
    monkeypatch.delenv("NARA_STAFF_BASE_URL", raising=False)
    assert notify.smtp_from_env() is None
    assert notify.base_url_from_env() == "http://localhost:8001"
    monkeypatch.setenv("NARA_SMTP_HOST", "smtp.kommun.example")
    assert notify.smtp_from_env() == ("smtp.kommun.example", 25)
    monkeypatch.setenv("NARA_SMTP_PORT", "2525")
    assert notify.smtp_from_env() == ("smtp.kommun.example", 2525)
    monkeypatch.setenv("NARA_STAFF_BASE_URL", "https://nara.kommun.example/")
    assert notify.base_url_from_env() == "https://nara.kommun.example"
