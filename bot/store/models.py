"""The tables. Times are stored as UTC; the pages show them in Europe/Stockholm."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

# Named constraints, so that Alembic migrations can refer to them on every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Base = declarative_base(metadata=metadata)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every database (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC times only")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=dt.timezone.utc) if value is not None else None


class Role(str, enum.Enum):
    social_worker = "social_worker"
    team_lead = "team_lead"
    admin = "admin"


class Status(str, enum.Enum):
    new = "new"
    claimed = "claimed"
    contacted = "contacted"
    closed = "closed"
    withdrawn = "withdrawn"


class ContactMethod(str, enum.Enum):
    phone = "phone"
    sms = "sms"
    email = "email"
    dropin = "dropin"  # comes to drop-in and gives the code: no personal data at all


class Team(Base):
    __tablename__ = "teams"
    id = Column(String(64), primary_key=True)  # the team id of knowledge/areas.yml
    name = Column(String(200), nullable=False)
    mailbox = Column(String(320))  # where "there is a new handover" notifications go
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Staff(Base):
    __tablename__ = "staff"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(200), nullable=False)
    team_id = Column(String(64), ForeignKey("teams.id"))  # None for an admin
    role = Column(String(32), nullable=False, default=Role.social_worker.value)
    password_hash = Column(String(255), nullable=False)  # argon2id
    disabled = Column(Boolean, nullable=False, default=False)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime)
    api_token_hash = Column(String(64), unique=True)  # sha256 of the bearer token; the token is shown once
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    team = relationship(Team)


class StaffSession(Base):
    __tablename__ = "staff_sessions"
    token_hash = Column(String(64), primary_key=True)  # sha256 of the cookie value
    staff_id = Column(Integer, ForeignKey("staff.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)

    staff = relationship(Staff)


class Handover(Base):
    __tablename__ = "handovers"
    id = Column(Integer, primary_key=True)
    code = Column(String(7), nullable=False, unique=True)  # e.g. "K7M-2QX"
    team_id = Column(String(64), ForeignKey("teams.id"), nullable=False, index=True)
    district = Column(String(100))
    topic = Column(String(32))
    summary = Column(Text, nullable=False)  # what it is about, as the resident confirmed it
    excerpt = Column(Text)  # the conversation excerpt the resident consented to share
    contact_method = Column(String(16), nullable=False)
    contact_value = Column(String(320))  # phone or e-mail; erased when the handover is closed
    preferred_time = Column(String(200))
    urgent = Column(Boolean, nullable=False, default=False)
    status = Column(String(16), nullable=False, default=Status.new.value, index=True)
    outcome = Column(Text)
    claimed_by = Column(Integer, ForeignKey("staff.id", ondelete="SET NULL"))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    closed_at = Column(UTCDateTime)

    team = relationship(Team)
    claimer = relationship(Staff)
    events = relationship(
        "HandoverEvent", order_by="HandoverEvent.id", cascade="all, delete-orphan", back_populates="handover"
    )


class HandoverEvent(Base):
    """The history of a handover: who did what, when."""

    __tablename__ = "handover_events"
    id = Column(Integer, primary_key=True)
    handover_id = Column(Integer, ForeignKey("handovers.id", ondelete="CASCADE"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    actor = Column(String(64), nullable=False)  # a staff username, "invånare" or "system"
    action = Column(String(32), nullable=False)  # created, claimed, contacted, closed, withdrawn, erased, ...
    note = Column(Text)

    handover = relationship(Handover, back_populates="events")


class AccessLog(Base):
    """Every view of a handover, by page or API; an admin reads it. Kept after the handover is deleted."""

    __tablename__ = "access_log"
    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    staff_id = Column(Integer, ForeignKey("staff.id", ondelete="SET NULL"))
    username = Column(String(64), nullable=False)
    handover_code = Column(String(7), nullable=False)
    via = Column(String(16), nullable=False)  # "page" or "api"


class ConversationEvent(Base):
    """One event of a chat conversation (Rasa's tracker), redacted before it is written
    (`bot.tracker_store`). Deleted after the retention period or when the resident asks."""

    __tablename__ = "conversation_events"
    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    type_name = Column(String(64), nullable=False)
    timestamp = Column(Float, nullable=False, index=True)  # Rasa's event time, seconds since the epoch
    intent_name = Column(String(255))
    action_name = Column(String(255))
    data = Column(Text, nullable=False)  # the event as Rasa serialises it (JSON), redacted


class ConversationCount(Base):
    """What is left of deleted conversations: how many there were, per day, team, topic and whether
    a handover was made. No sender, no text, no time of day."""

    __tablename__ = "conversation_counts"
    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    team = Column(String(64), nullable=False, default="")  # "" when the conversation named no area
    topic = Column(String(64), nullable=False, default="")
    handover = Column(Boolean, nullable=False)
    conversations = Column(Integer, nullable=False, default=0)
    __table_args__ = (UniqueConstraint("day", "team", "topic", "handover", name="uq_conversation_counts_key"),)


class ArticleCount(Base):
    """How many deleted conversations were answered with each article, per day and team."""

    __tablename__ = "article_counts"
    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    team = Column(String(64), nullable=False, default="")
    article = Column(String(128), nullable=False)
    conversations = Column(Integer, nullable=False, default=0)
    __table_args__ = (UniqueConstraint("day", "team", "article", name="uq_article_counts_key"),)


class ContactDraft(Base):
    """A phone number or e-mail address typed during the handover form, kept here (not in the
    conversation) until the handover is sent or cancelled; `nara purge` removes abandoned ones."""

    __tablename__ = "contact_drafts"
    token = Column(String(32), primary_key=True)
    value = Column(String(320), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
