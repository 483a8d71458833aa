"""Where Rasa keeps conversations: the `conversation_events` table of Nära's own database
(`NARA_DATABASE_URL`, migrated by `nara db upgrade`), with what stock Rasa does not do.

- **Redaction before storage.** Every string in every event (the resident's text, the bot's replies,
  slot values, entities, metadata) goes through `bot.privacy.redact` before it is written: personnummer,
  phone numbers, e-mail addresses and street addresses become placeholders. A contact detail given for a
  handover lives in `contact_drafts`, not here (see actions/handover.py).
- **Erasure.** When a turn ran `action_erase_conversation` ("radera min konversation"), the whole
  conversation is deleted instead of saved, leaving only anonymous counts (`bot.retention`).
- **Failing closed.** Rasa wraps every tracker store in `FailSafeTrackerStore`, which catches `Exception`
  and carries on with an in-memory store. Any failure here raises `StoreUnavailable`, a `BaseException`,
  which passes through that wrapper to `bot.channels`: the resident gets an apology with the numbers that
  work without Nära, and nothing is kept in the process. The engine pings connections before use, so the
  store works again by itself as soon as the database is back.
- **The last turn's tracker, kept for the next.** After a save the tracker is kept in this process (at most
  `KEEP_MAX` conversations, for `KEEP_SECONDS`), and the next message of the conversation gets it back
  instead of reading and rebuilding every event of the session, if the database still ends with the row this
  process wrote last (another instance, an erasure or `nara purge` changes that). Only a tracker that is what
  reading the database would give is kept: redaction changed none of its events (so nothing in memory differs
  from the stored, redacted text), none of it was erased, it starts at its session start, every event of it is
  stored.
  Rebuilding the tracker was ~9% of the Rasa server's time under load (bench/README.md).
- **A new conversation is written, not counted.** Rasa makes a conversation's tracker when a read finds no
  event of it, and saves it at once. A tracker made in the process is otherwise saved by first counting what
  the database holds of it (`_count_and_save`); after a read that found nothing (within `KEEP_SECONDS`, and
  without a session start in the tracker) its events are all new, and are written as a turn's are: ~8% less
  of the Rasa server's time a message in the benchmark's mix of short conversations (bench/README.md).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import insert, select, text

from bot import nlu_offload, rasa_speedups
from bot.limits import apply_turn_limits
from bot.privacy import install_log_redaction, redact
from bot.store import db
from bot.store.models import ConversationEvent

logger = logging.getLogger(__name__)

ERASE_ACTION = "action_erase_conversation"
# On a tracker this store retrieved: how many of its events are stored already. Rasa saves the tracker it
# retrieved, within the conversation's lock, so a save needs no query to find the new events (two count
# queries per save were 20% of the server's time under load, bench/README.md). Other trackers are counted.
_STORED = "_nara_stored_events"
# On a tracker: whether every event it holds is what the database holds (redaction changed none of them, and
# none was erased). Only such a tracker is kept for the next turn. Unset means no.
_CLEAN = "_nara_clean"


# The sender's events since the latest session start (all of them if none), written out once: retrieving
# runs on every message, and building an expression and its cache key each time was most of SQLAlchemy's
# share of the server's time under load (bench/README.md).
_SINCE_LATEST_SESSION = (
    "FROM conversation_events WHERE sender_id = :sender AND id >= COALESCE("
    "(SELECT MAX(id) FROM conversation_events WHERE sender_id = :sender AND type_name = 'session_started'), 0)"
)
_LATEST_SESSION = text(f"SELECT data {_SINCE_LATEST_SESSION} ORDER BY id")
_LATEST_SESSION_COUNT = text(f"SELECT count(*) {_SINCE_LATEST_SESSION}")
# The sender's newest row: what a kept tracker is checked against.
_NEWEST_ROW = text("SELECT id, timestamp FROM conversation_events WHERE sender_id = :sender ORDER BY id DESC LIMIT 1")
_ROW_COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")


class _OnCursor:
    """The two statements of every turn (writing its rows, the newest row), compiled by SQLAlchemy once for the
    engine's dialect and run on the driver's own cursor: SQLAlchemy's execution of them (a result object for an
    executemany, the compiled cache's lookup, the parameters processed again) was ~8% of the Rasa server's
    time under load (bench/README.md, sixth round). The columns take their values as given: no Python-side
    defaults or type processing (none of them has any)."""

    def __init__(self, dialect: Any):
        self.insert = insert(ConversationEvent.__table__).compile(dialect=dialect, column_keys=list(_ROW_COLUMNS))
        self.newest = _NEWEST_ROW.compile(dialect=dialect)

    @staticmethod
    def parameters(compiled: Any, values: dict[str, Any]) -> Any:
        return tuple(values[key] for key in compiled.positiontup) if compiled.positional else values

    def write(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        cursor.executemany(self.insert.string, [self.parameters(self.insert, row) for row in rows])

    def newest_row(self, cursor: Any, sender_id: str) -> tuple[int, float] | None:
        cursor.execute(self.newest.string, self.parameters(self.newest, {"sender": sender_id}))
        row = cursor.fetchone()
        return None if row is None else (row[0], row[1])


@functools.lru_cache(maxsize=8)
def _on_cursor(engine: Any) -> _OnCursor:
    return _OnCursor(engine.dialect)


@contextlib.contextmanager
def _cursor(engine: Any):
    """A cursor on a pooled connection of the engine (its checks on checkout included); the connection goes back
    to the pool afterwards, rolled back if it was not committed."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            yield connection, cursor
        finally:
            cursor.close()
    finally:
        connection.close()


KEEP_MAX = 1000  # conversations whose last tracker is kept (least recently saved ones go first)
KEEP_SECONDS = 300.0  # a tracker not asked for again within this is dropped, with the text in it


@dataclass
class _Kept:
    tracker: DialogueStateTracker
    newest_row: tuple[int, float]  # (id, timestamp) of the last row this save wrote
    domain: Domain  # the trackers' slots are the domain's: a new model's domain means reading again
    saved_at: float  # time.monotonic()


class StoreUnavailable(BaseException):  # noqa: N818 - the name says what the channel answers to
    """The conversation database cannot be used right now.

    A BaseException on purpose: Rasa's FailSafeTrackerStore catches Exception and falls back to process
    memory, which Nära must not do. `bot.channels` catches this and answers the resident.
    """


def redact_value(value: Any) -> Any:
    """Every string in a JSON-like value, redacted (keys are Rasa's own and are left alone)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


# The bot's replies that redaction leaves as they are: mostly the knowledge base's articles and the domain's
# responses, the same few hundred texts again and again, many with the public phone numbers that make every
# detector look (~0.35 ms a reply). A reply in which redaction finds anything is never kept here.
_CLEAN_REPLIES: collections.OrderedDict[str, None] = collections.OrderedDict()
_CLEAN_REPLIES_MAX = 2048
_clean_replies_lock = threading.Lock()


def _redact_reply(text: Any) -> Any:
    if not isinstance(text, str):
        return redact_value(text)
    with _clean_replies_lock:
        if text in _CLEAN_REPLIES:
            _CLEAN_REPLIES.move_to_end(text)
            return text
    redacted = redact(text)
    if redacted == text:
        with _clean_replies_lock:
            _CLEAN_REPLIES[text] = None
            if len(_CLEAN_REPLIES) > _CLEAN_REPLIES_MAX:
                _CLEAN_REPLIES.popitem(last=False)
    return redacted


def serialise(event: Event) -> dict[str, Any]:
    """The event as Rasa serialises it, with personal data replaced by placeholders."""
    return _serialise(event)[0]


# What the NLU pipeline adds to a resident's message, none of it their words: intent and article names with
# scores, and token offsets. An intent name is one of the domain's (Rasa's "/intent" shortcut ignores any
# other name), an article id one of the knowledge base's. Walking these lists (19 intents, 10 articles) was
# most of redaction's work under load (bench/README.md, sixth round); the text, the entities, the metadata
# and anything else in the parse data are still redacted.
_MODEL_OUTPUT_KEYS = frozenset({"intent", "intent_ranking", "article_ranking", "text_tokens"})


def _redact_parse_data(parse_data: Any) -> Any:
    if not isinstance(parse_data, dict):
        return redact_value(parse_data)
    return {key: item if key in _MODEL_OUTPUT_KEYS else redact_value(item) for key, item in parse_data.items()}


def _serialise(event: Event) -> tuple[dict[str, Any], bool]:
    """`serialise(event)`, and whether redaction changed nothing in it."""
    data = event.as_dict()
    if isinstance(event, BotUttered):
        redacted = {key: _redact_reply(value) if key == "text" else redact_value(value) for key, value in data.items()}
    elif isinstance(event, UserUttered):
        redacted = {
            key: _redact_parse_data(value) if key == "parse_data" else redact_value(value)
            for key, value in data.items()
        }
    else:
        redacted = redact_value(data)
    return redacted, redacted == data


class NaraTrackerStore(TrackerStore):
    """Configured in endpoints.yml as `type: bot.tracker_store.NaraTrackerStore`; `url` (optional)
    overrides `NARA_DATABASE_URL`."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: Any = None,
        url: str | None = None,
        **kwargs: Any,
    ) -> None:
        if event_broker is not None:
            # A broker would publish every event unredacted to another system.
            raise ValueError("Nära's tracker store publishes to no event broker: remove event_broker from endpoints")
        install_log_redaction()
        apply_turn_limits()  # the Rasa server that keeps conversations here runs one turn at a time (bot/limits.py)
        rasa_speedups.install()  # two hot spots of Rasa 3.6 replaced by faster equivalents (bot/rasa_speedups.py)
        nlu_offload.install()  # with NARA_NLU_SOCKET: the NLU pipeline on a second process (bot/nlu_offload.py)
        self.url = url or (host if host and "://" in host else None) or db.database_url()
        self._kept: collections.OrderedDict[str, _Kept] = collections.OrderedDict()
        self._kept_lock = threading.Lock()  # PostgreSQL's work runs in threads
        # Conversations the database had no event of when last asked (`_retrieve`), until their first save.
        self._absent: collections.OrderedDict[str, float] = collections.OrderedDict()
        super().__init__(domain, None, **kwargs)

    # --- Rasa's interface -------------------------------------------------------------------------

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._run(self._retrieve, sender_id, False)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        return await self._run(self._retrieve, conversation_id, True)

    async def keys(self) -> Iterable[str]:
        return await self._run(self._keys)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._run(self._save, tracker)

    async def delete(self, sender_id: str) -> int:
        """Deletes the conversation (counted first); the number of events removed."""
        from bot.retention import erase_conversation

        def work() -> int:
            self._forget(sender_id)
            with db.session(self.url) as s:
                return erase_conversation(s, sender_id)

        return await self._run(work)

    # --- the work: on the event loop for SQLite, in a thread for a database server ------------------
    #
    # A database server (PostgreSQL) answers over the network, so the work runs in a thread and the event
    # loop serves other conversations meanwhile. SQLite is a local file whose statements take well under a
    # millisecond, and the work is mostly Python (JSON, redaction) that holds the GIL either way: handing it
    # to a thread and back cost more than it did. On the event loop Nära served ~28% more messages a second
    # at 10 conversations, p95 ~213 -> ~155 ms (bench/README.md). The price: a commit's fsync, and a wait for
    # another process's write lock (the staff app's, `nara purge`'s; at most busy_timeout), hold up every
    # conversation of this server meanwhile. Production runs on PostgreSQL (docs/scaling.md).

    async def _run(self, function, *args):
        try:
            if self.url.startswith("sqlite"):
                return function(*args)
            return await asyncio.to_thread(function, *args)
        except Exception as error:  # noqa: BLE001 - any failure here must fail closed, not fall back to memory
            logger.error("Conversation database unavailable: %s", type(error).__name__)
            raise StoreUnavailable(type(error).__name__) from error

    def _first_unsaved(self, s, sender_id: str, events: list[Event]) -> int:
        """Where the tracker's unsaved events begin. A retrieved tracker starts at the stored session
        start, so it is the number stored since then; a tracker created in this process may hold events
        from before its session start, which are skipped when that session start is already stored."""
        stored = s.scalar(_LATEST_SESSION_COUNT, {"sender": sender_id})
        stored_start = s.scalar(
            select(ConversationEvent.timestamp)
            .where(ConversationEvent.sender_id == sender_id, ConversationEvent.type_name == "session_started")
            .order_by(ConversationEvent.id.desc())
            .limit(1)
        )
        starts = [i for i, event in enumerate(events) if event.type_name == "session_started"]
        if starts and stored_start is not None and abs(events[starts[-1]].timestamp - stored_start) < 1e-6:
            return starts[-1] + stored
        return stored

    def _forget(self, sender_id: str) -> _Kept | None:
        with self._kept_lock:
            self._absent.pop(sender_id, None)
            return self._kept.pop(sender_id, None)

    def _mark_absent(self, sender_id: str) -> None:
        with self._kept_lock:
            self._absent.pop(sender_id, None)
            self._absent[sender_id] = time.monotonic()
            while len(self._absent) > KEEP_MAX:
                self._absent.popitem(last=False)

    def _was_absent(self, sender_id: str) -> bool:
        """Whether the last read found no event of the conversation, within KEEP_SECONDS (asked once)."""
        with self._kept_lock:
            asked_at = self._absent.pop(sender_id, None)
        return asked_at is not None and time.monotonic() - asked_at <= KEEP_SECONDS

    def _keep(self, tracker: DialogueStateTracker, newest_row: tuple[int, float]) -> None:
        now = time.monotonic()
        with self._kept_lock:
            self._kept.pop(tracker.sender_id, None)
            self._kept[tracker.sender_id] = _Kept(tracker, newest_row, self.domain, now)
            # The oldest saves go first: too many, or kept too long.
            while self._kept and (
                len(self._kept) > KEEP_MAX or next(iter(self._kept.values())).saved_at < now - KEEP_SECONDS
            ):
                self._kept.popitem(last=False)

    def _kept_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker kept from this conversation's last save, if it is still what the database holds. Taken
        out: one turn at a time has it, and a turn that fails leaves nothing behind."""
        kept = self._forget(sender_id)
        if kept is None or kept.domain is not self.domain or time.monotonic() - kept.saved_at > KEEP_SECONDS:
            return None
        if getattr(kept.tracker, _STORED, None) != len(kept.tracker.events):
            return None  # events were added after the save: not what the database holds
        engine = db.engine(self.url)
        with _cursor(engine) as (_, cursor):
            newest = _on_cursor(engine).newest_row(cursor, sender_id)
        return kept.tracker if newest is not None and newest == kept.newest_row else None

    def _retrieve(self, sender_id: str, full: bool) -> DialogueStateTracker | None:
        # A Core connection, not an ORM session: nothing here needs the ORM, and its layers were half of a
        # retrieve's time (bench/README.md).
        kept = None if full else self._kept_tracker(sender_id)
        if kept is not None:
            return kept
        with db.engine(self.url).connect() as connection:
            if full:
                query = select(ConversationEvent.data).where(ConversationEvent.sender_id == sender_id)
                rows = connection.execute(query.order_by(ConversationEvent.id)).scalars().all()
            else:
                rows = connection.execute(_LATEST_SESSION, {"sender": sender_id}).scalars().all()
        if not rows:
            self._mark_absent(sender_id)
        if not rows or self.domain is None:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(row) for row in rows], self.domain.slots)
        setattr(tracker, _STORED, len(rows))
        setattr(tracker, _CLEAN, True)  # read back: the stored, redacted events
        return tracker

    def _keys(self) -> list[str]:
        with db.session(self.url) as s:
            return list(s.scalars(select(ConversationEvent.sender_id).distinct()))

    def _save(self, tracker: DialogueStateTracker) -> None:
        sender_id = tracker.sender_id
        new_conversation = self._was_absent(sender_id)
        self._forget(sender_id)  # whatever was kept is older than this
        events = list(tracker.events)
        stored = getattr(tracker, _STORED, None)
        if stored is None and new_conversation and not any(isinstance(event, SessionStarted) for event in events):
            # What Rasa's `get_or_create_tracker` saves after a read found nothing (the turn holds the
            # conversation's lock): all of its events are new, so none needs counting (`_count_and_save`).
            stored = 0
            setattr(tracker, _CLEAN, True)  # nothing before them: clean if they are
        new = events[stored:] if stored is not None and stored <= len(events) else None
        if new is None or any(getattr(event, "action_name", None) == ERASE_ACTION for event in new):
            # A tracker made here, or an erasure: the ORM session. An erased conversation's tracker still holds
            # it in memory: never kept.
            clean = self._count_and_save(sender_id, events)
            setattr(tracker, _STORED, len(events))  # committed: all of them are stored (or erased)
            setattr(tracker, _CLEAN, clean)
            return
        rows, unchanged = self._rows_and_unchanged(sender_id, new)
        clean = getattr(tracker, _CLEAN, False) and unchanged
        # The usual turn: a Core connection, one INSERT; and the newest row, if the tracker is to be kept.
        newest_row = self._insert(sender_id, rows, newest=clean and bool(events))  # an empty one: nothing to keep
        setattr(tracker, _STORED, len(events))
        setattr(tracker, _CLEAN, clean)
        if newest_row is not None:
            _drop_events_before_session(tracker)
            self._keep(tracker, newest_row)

    def _count_and_save(self, sender_id: str, events: list[Event]) -> bool:
        """Saves what is not stored yet; whether the tracker is then clean (see `_CLEAN`)."""
        from bot.retention import erase_conversation

        with db.writer(self.url), db.session(self.url) as s:
            new = events[self._first_unsaved(s, sender_id, events) :]
            if any(getattr(event, "action_name", None) == ERASE_ACTION for event in new):
                erase_conversation(s, sender_id, [serialise(event) for event in new])
                return False  # and a later save of this tracker must not bring the erased events back
            rows, unchanged = self._rows_and_unchanged(sender_id, new)
            if rows:
                s.execute(insert(ConversationEvent), rows)
        # The events stored before are in memory too: the tracker is clean if none of them is redacted either.
        return unchanged and all(_serialise(event)[1] for event in events[: len(events) - len(new)])

    def _insert(self, sender_id: str, rows: list[dict[str, Any]], newest: bool) -> tuple[int, float] | None:
        """Writes the rows (redacted before the write lock is taken); with `newest`, the sender's newest row
        as of this write (the turn holds the conversation's lock: nobody else writes to it meanwhile)."""
        if not rows and not newest:
            return None
        engine = db.log_engine(self.url)
        statements = _on_cursor(engine)
        with db.writer(self.url), _cursor(engine) as (connection, cursor):
            if rows:
                statements.write(cursor, rows)
            row = statements.newest_row(cursor, sender_id) if newest else None
            connection.commit()
        return row

    @staticmethod
    def _rows_and_unchanged(sender_id: str, new: list[Event]) -> tuple[list[dict[str, Any]], bool]:
        """The rows to write, and whether redaction left every event as it was."""
        rows = []
        unchanged = True
        for event in new:
            data, same = _serialise(event)
            unchanged = unchanged and same
            rows.append(
                {
                    "sender_id": sender_id,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp") or 0.0,
                    "intent_name": ((data.get("parse_data") or {}).get("intent") or {}).get("name"),
                    "action_name": data.get("name") if data.get("event") == "action" else None,
                    "data": rasa_speedups.json_bytes(data).decode(),  # a user event: 4 µs against 32 with json.dumps
                }
            )
        return rows, unchanged


def _drop_events_before_session(tracker: DialogueStateTracker) -> None:
    """Makes a saved tracker what reading it back gives: the events from its latest session start on (all,
    if it has none). The events before it are stored, and change nothing after it: a session start resets
    the conversation's state (a new conversation's first events, or a session that expired this turn)."""
    events = tracker.events
    starts = [i for i, event in enumerate(events) if isinstance(event, SessionStarted)]
    for _ in range(starts[-1] if starts else 0):
        events.popleft()
    setattr(tracker, _STORED, len(events))
