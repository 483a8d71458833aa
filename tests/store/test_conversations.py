"""The conversation store (bot/tracker_store.py) and retention (bot/retention.py), on SQLite and on
PostgreSQL: redaction before storage, erasure, retention with anonymous counts, failing closed."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import func, select

from bot.retention import purge_conversations
from bot.store import db, drafts
from bot.store.models import ArticleCount, ContactDraft, ConversationCount, ConversationEvent
from bot.tracker_store import ERASE_ACTION, NaraTrackerStore, StoreUnavailable
from tests.store.statements import recorded

PNR = "19900101-0017"  # a valid personnummer used only in tests
PHONE = "070-123 45 67"
EMAIL = "anna.svensson@exempel.se"
ADDRESS = "Storgatan 12"


def run(coroutine):
    return asyncio.run(coroutine)


RANKING = [{"name": "parenting", "confidence": 0.9}, {"name": "school_absence", "confidence": 0.1}]


def conversation(domain: Domain, sender: str, at: float | None = None) -> DialogueStateTracker:
    """A short conversation with personal data in every place it can hide."""
    at = time.time() if at is None else at
    text = f"Jag heter Anna, bor på {ADDRESS}, ring {PHONE} eller mejla {EMAIL}. Mitt personnummer är {PNR}."
    events = [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at + 0.1),
        ActionExecuted("action_listen", timestamp=at + 0.2),
        UserUttered(
            text,
            intent={"name": "parenting", "confidence": 0.9},
            parse_data={
                "text": text,
                "intent": {"name": "parenting", "confidence": 0.9},
                "entities": [{"entity": "place", "value": ADDRESS, "start": 28, "end": 28 + len(ADDRESS)}],
                "metadata": {"note": f"ring {PHONE}"},
                "intent_ranking": RANKING,
                "article_ranking": [{"article": "foraldraskap-tonaring", "confidence": 0.8}],
                "text_tokens": [[0, 3], [4, 9]],
                "something_new": {"excerpt": f"{EMAIL} {PNR}"},  # a key added later is redacted too
            },
            timestamp=at + 1,
        ),
        SlotSet("topic", "parenting", timestamp=at + 1.1),
        SlotSet("team", "berga", timestamp=at + 1.2),
        SlotSet("handover_about", f"ring {PHONE}", timestamp=at + 1.3),
        ActionExecuted("action_answer_article", timestamp=at + 1.4),
        BotUttered(f"Vi ringer {PHONE}. Om någon är i fara: ring 112.", timestamp=at + 1.5),
        BotUttered(None, data={"custom": {"article": "foraldraskap-tonaring"}}, timestamp=at + 1.6),
        ActionExecuted("action_listen", timestamp=at + 1.7),
    ]
    return DialogueStateTracker.from_events(sender, events, domain.slots)


def raw_rows(db_url: str, sender: str) -> list[str]:
    with db.session(db_url) as s:
        return list(
            s.scalars(
                select(ConversationEvent.data)
                .where(ConversationEvent.sender_id == sender)
                .order_by(ConversationEvent.id)
            )
        )


def test_nothing_personal_reaches_the_database_and_public_numbers_stay(store, db_url, domain):
    run(store.save(conversation(domain, "s1")))
    stored = "\n".join(raw_rows(db_url, "s1"))
    for secret in (PNR, "19900101", PHONE, "0701234567", "701234567", EMAIL, ADDRESS):
        assert secret not in stored
    for placeholder in ("[personnummer]", "[telefon]", "[e-post]", "[adress]"):
        assert placeholder in stored
    assert "ring 112" in stored  # a public emergency number is not personal data

    tracker = run(store.retrieve("s1"))
    user = [e for e in tracker.events if isinstance(e, UserUttered)][0]
    assert "[telefon]" in user.text and "[personnummer]" in user.text and user.intent_name == "parenting"
    assert tracker.get_slot("handover_about") == "ring [telefon]" and tracker.get_slot("team") == "berga"


def test_what_the_nlu_pipeline_adds_is_stored_as_it_is_and_the_residents_words_are_redacted(store, db_url, domain):
    run(store.save(conversation(domain, "s1")))
    user = [json.loads(row) for row in raw_rows(db_url, "s1") if json.loads(row)["event"] == "user"][0]
    parse_data = user["parse_data"]
    assert parse_data["intent_ranking"] == RANKING and parse_data["text_tokens"] == [[0, 3], [4, 9]]
    assert parse_data["article_ranking"] == [{"article": "foraldraskap-tonaring", "confidence": 0.8}]
    assert parse_data["entities"][0]["value"] == "[adress]" and parse_data["metadata"] == {"note": "ring [telefon]"}
    assert parse_data["something_new"] == {"excerpt": "[e-post] [personnummer]"}
    assert "[personnummer]" in parse_data["text"] and "[personnummer]" in user["text"]


def test_each_save_appends_only_the_new_events_and_sessions_are_respected(store, db_url, domain):
    tracker = conversation(domain, "s2")
    run(store.save(tracker))
    first = len(raw_rows(db_url, "s2"))
    run(store.save(tracker))
    assert len(raw_rows(db_url, "s2")) == first  # nothing new, nothing written

    tracker = run(store.retrieve("s2"))
    tracker.update(UserUttered("hej igen", intent={"name": "greet", "confidence": 1.0}))
    run(store.save(tracker))
    assert len(raw_rows(db_url, "s2")) == first + 1

    tracker = run(store.retrieve("s2"))
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        tracker.update(event)
    run(store.save(tracker))
    latest = run(store.retrieve("s2"))
    assert [e.type_name for e in latest.events] == ["session_started", "action"]
    full = run(store.retrieve_full_tracker("s2"))
    assert len(full.events) == first + 4
    assert set(run(store.keys())) == {"s2"}


def _selects_during(db_url: str, work) -> list[str]:
    """The SELECT statements the database saw while `work` ran."""
    # One engine on PostgreSQL; the log's own on SQLite.
    engines = {"main": db.engine(db_url), "log": db.log_engine(db_url)}
    if engines["log"] is engines["main"]:
        del engines["log"]
    with recorded(engines) as seen:
        work()
    return [s for statements in seen.values() for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_saving_a_retrieved_tracker_writes_its_new_events_without_counting_the_stored_ones(store, db_url, domain):
    run(store.save(conversation(domain, "s7")))
    first = raw_rows(db_url, "s7")
    for turn in range(3):
        tracker = run(store.retrieve("s7"))
        tracker.update(UserUttered(f"fråga {turn}", intent={"name": "greet", "confidence": 1.0}))
        tracker.update(ActionExecuted("action_listen"))
        # No counting: the one SELECT is of the sender's newest row, for keeping the tracker (below).
        selects = _selects_during(db_url, lambda t=tracker: run(store.save(t)))
        assert len(selects) == 1 and selects[0].startswith("SELECT id, timestamp FROM conversation_events WHERE")
        assert selects[0].endswith("ORDER BY id DESC LIMIT 1")
        run(store.save(tracker))  # saved twice in one turn: nothing is written twice
    rows = [json.loads(r) for r in raw_rows(db_url, "s7")]
    assert len(rows) == len(first) + 6
    assert [r.get("text") for r in rows if r["event"] == "user"][1:] == ["fråga 0", "fråga 1", "fråga 2"]
    # The full tracker is counted the same way: its index covers every session.
    full = run(store.retrieve_full_tracker("s7"))
    full.update(ActionExecuted("action_listen"))
    run(store.save(full))
    assert len(raw_rows(db_url, "s7")) == len(first) + 7


def erased(store, sender: str) -> DialogueStateTracker:
    """The sender's conversation after a turn in which the resident asked to erase it, saved."""
    tracker = run(store.retrieve(sender))
    tracker.update(ActionExecuted(ERASE_ACTION))
    tracker.update(BotUttered("Klart.", data={"custom": {"erased": True}}))
    run(store.save(tracker))
    return tracker


def test_a_tracker_saved_again_after_erasure_does_not_bring_the_conversation_back(store, db_url, domain):
    run(store.save(conversation(domain, "s8")))
    tracker = erased(store, "s8")
    assert raw_rows(db_url, "s8") == []
    run(store.save(tracker))
    assert raw_rows(db_url, "s8") == []
    tracker.update(ActionExecuted("action_listen"))
    run(store.save(tracker))
    assert [json.loads(r)["event"] for r in raw_rows(db_url, "s8")] == ["action"]


def test_erasing_deletes_the_conversation_and_leaves_only_anonymous_counts(store, db_url, domain):
    run(store.save(conversation(domain, "s3")))
    run(store.save(conversation(domain, "other")))
    erased(store, "s3")

    assert raw_rows(db_url, "s3") == []
    assert raw_rows(db_url, "other")  # only that conversation
    assert run(store.retrieve("s3")) is None  # the next message starts afresh
    with db.session(db_url) as s:
        counts = [(c.team, c.topic, c.handover, c.conversations) for c in s.scalars(select(ConversationCount))]
        articles = [(a.team, a.article, a.conversations) for a in s.scalars(select(ArticleCount))]
    assert counts == [("berga", "parenting", False, 1)]
    assert articles == [("berga", "foraldraskap-tonaring", 1)]


def test_delete_removes_a_conversation_once(store, db_url, domain):
    run(store.save(conversation(domain, "s4")))
    assert run(store.delete("s4")) > 0
    assert run(store.delete("s4")) == 0
    with db.session(db_url) as s:
        assert s.scalar(select(func.sum(ConversationCount.conversations))) == 1


def test_retention_deletes_quiet_conversations_counts_them_and_is_idempotent(store, db_url, domain):
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)
    old = (now - dt.timedelta(days=30)).timestamp()
    run(store.save(conversation(domain, "old", at=old)))
    run(store.save(conversation(domain, "recent", at=(now - dt.timedelta(days=3)).timestamp())))
    # A conversation that started long ago and is still going on keeps only its recent events.
    long_running = conversation(domain, "long", at=old)
    run(store.save(long_running))
    long_running.update(UserUttered("och en sak till", timestamp=(now - dt.timedelta(days=1)).timestamp()))
    run(store.save(long_running))
    with db.session(db_url) as s:
        fresh = drafts.save(s, "+46701234567")
        stale = drafts.save(s, "+46709876543")
        s.get(ContactDraft, stale.removeprefix(drafts.PREFIX)).created_at = now - dt.timedelta(hours=3)
        s.get(ContactDraft, fresh.removeprefix(drafts.PREFIX)).created_at = now - dt.timedelta(minutes=10)

    with db.session(db_url) as s:
        report = purge_conversations(s, days=21, now=now)
    assert (report.conversations_deleted, report.drafts_deleted) == (1, 1)
    assert report.events_deleted == 11 + 11  # the old conversation, and the old part of the long one
    assert raw_rows(db_url, "old") == []
    assert len(raw_rows(db_url, "recent")) == 11
    assert [json.loads(r)["text"] for r in raw_rows(db_url, "long")] == ["och en sak till"]
    with db.session(db_url) as s:
        assert drafts.read(s, fresh) == "+46701234567" and drafts.read(s, stale) is None
        counts = [(c.day, c.team, c.topic, c.conversations) for c in s.scalars(select(ConversationCount))]
    assert counts == [((now - dt.timedelta(days=30)).date(), "berga", "parenting", 1)]

    with db.session(db_url) as s:
        again = purge_conversations(s, days=21, now=now)
    assert (again.conversations_deleted, again.events_deleted, again.drafts_deleted) == (0, 0, 0)
    with db.session(db_url) as s:
        assert s.scalar(select(func.sum(ConversationCount.conversations))) == 1


def test_a_handover_in_the_conversation_is_counted_as_one(store, db_url, domain):
    tracker = conversation(domain, "s5")
    tracker.update(BotUttered("Tack!", data={"custom": {"handover": {"code": "K7M-2QX", "team": "berga"}}}))
    run(store.save(tracker))
    run(store.delete("s5"))
    with db.session(db_url) as s:
        assert [(c.handover, c.conversations) for c in s.scalars(select(ConversationCount))] == [(True, 1)]


def test_an_unreachable_database_fails_closed_through_rasas_fail_safe_wrapper(domain, tmp_path):
    url = "postgresql://nara@127.0.0.1:1/nowhere"  # nothing listens on port 1
    store = NaraTrackerStore(domain=domain, url=url)
    wrapped = FailSafeTrackerStore(store)  # what Rasa's Agent puts around every tracker store
    with pytest.raises(StoreUnavailable):
        run(wrapped.retrieve("s6"))
    with pytest.raises(StoreUnavailable):
        run(wrapped.save(conversation(domain, "s6")))
    # Rasa's in-memory fallback was never used: nothing is kept in the process.
    assert wrapped._fallback_tracker_store is None
    db.engine(url).dispose()


def test_an_event_broker_is_refused(domain, db_url):
    with pytest.raises(ValueError, match="event broker"):
        NaraTrackerStore(domain=domain, url=db_url, event_broker=object())


def test_sqlite_keeps_a_write_ahead_log_and_writers_of_one_process_take_turns(tmp_path):
    """WAL: readers do not wait for a writer. And the tracker store's saves in one process queue on a lock
    instead of in SQLite's busy handler, which sleeps up to 100 ms at a time (the benchmark's long tail)."""
    import contextlib

    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'wal.db'}"
    db.upgrade(url)
    with db.engine(url).connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.writer(url) is db.writer(url) and db.writer(url) is not db.writer(f"sqlite:///{tmp_path / 'x.db'}")
    assert isinstance(db.writer("postgresql://nara@127.0.0.1/nara"), contextlib.nullcontext)
    db.engine(url).dispose()
    db.remove_sqlite_database(tmp_path / "wal.db")
    assert not list(tmp_path.glob("wal.db*"))


REPLIES = [
    "Ring 112 om någon är i fara. Vårdguiden 1177 svarar dygnet runt.",  # public numbers: kept, and remembered
    "Vi ringer dig på 070-123 45 67 i morgon.",  # a resident's number echoed: redacted, never remembered
    "Skriv till anna.andersson@example.com så hör vi av oss.",
    "Ingen siffra alls här.",
]


def test_a_reply_is_redacted_the_same_way_the_second_time_and_personal_data_is_never_remembered(monkeypatch):
    from bot import tracker_store

    monkeypatch.setattr(tracker_store, "_CLEAN_REPLIES", tracker_store.collections.OrderedDict())
    for _ in range(3):
        for text in REPLIES:
            event = BotUttered(text, {"buttons": [{"title": "Ring 070-123 45 67", "payload": "/affirm"}]})
            expected = tracker_store.redact_value(event.as_dict())
            assert tracker_store.serialise(event) == expected
    assert list(tracker_store._CLEAN_REPLIES) == [REPLIES[0], REPLIES[3]]
    assert "070" not in json.dumps(tracker_store.serialise(BotUttered(REPLIES[1])))


def test_the_remembered_replies_are_bounded(monkeypatch):
    from bot import tracker_store

    monkeypatch.setattr(tracker_store, "_CLEAN_REPLIES", tracker_store.collections.OrderedDict())
    monkeypatch.setattr(tracker_store, "_CLEAN_REPLIES_MAX", 5)
    for i in range(20):
        tracker_store.serialise(BotUttered(f"Svar nummer {i}, ring 112"))
    assert list(tracker_store._CLEAN_REPLIES) == [f"Svar nummer {i}, ring 112" for i in range(15, 20)]


def test_sqlite_work_runs_on_the_event_loop_and_a_database_server_in_a_thread(store, db_url, domain, monkeypatch):
    import threading

    threads = []
    real = NaraTrackerStore._retrieve

    def recording(self, sender_id, full):
        threads.append(threading.get_ident())
        return real(self, sender_id, full)

    monkeypatch.setattr(NaraTrackerStore, "_retrieve", recording)

    async def go():
        await store.save(conversation(domain, "thread-check"))
        return threading.get_ident(), await store.retrieve("thread-check")

    loop_thread, tracker = run(go())
    assert tracker is not None and tracker.sender_id == "thread-check"
    assert (threads == [loop_thread]) is db_url.startswith("sqlite")


def test_a_failing_sqlite_database_still_fails_closed_on_the_event_loop(domain, tmp_path):
    store = NaraTrackerStore(domain=domain, url=f"sqlite:///{tmp_path / 'never-migrated.db'}")
    with pytest.raises(StoreUnavailable):
        run(store.retrieve("nobody"))
