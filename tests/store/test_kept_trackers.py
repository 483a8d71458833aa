"""The tracker kept from a conversation's last save (bot/tracker_store.py), on SQLite and PostgreSQL: it is
what reading the database gives, and it is not used once the database says otherwise."""

from __future__ import annotations

import asyncio
import time

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import tracker_store
from bot.paths import ROOT
from bot.retention import erase_conversation
from bot.store import db
from bot.tracker_store import NaraTrackerStore
from tests.store.statements import recorded


def run(coroutine):
    return asyncio.run(coroutine)


def from_database(db_url: str, domain: Domain, sender: str) -> DialogueStateTracker | None:
    """What a fresh process reads: another store, nothing kept."""
    return run(NaraTrackerStore(domain=domain, url=db_url).retrieve(sender))


def events_of(tracker: DialogueStateTracker) -> list[dict]:
    return [event.as_dict() for event in tracker.events]


def turn(tracker: DialogueStateTracker, text: str, intent: str = "greet") -> None:
    at = time.time()
    tracker.update(ActionExecuted("action_listen", timestamp=at))
    tracker.update(UserUttered(text, intent={"name": intent, "confidence": 0.9}, timestamp=at + 0.1))
    tracker.update(SlotSet("topic", "parenting", timestamp=at + 0.2))
    tracker.update(ActionExecuted("utter_greet", timestamp=at + 0.3))
    tracker.update(BotUttered("Hej! Om någon är i fara: ring 112.", timestamp=at + 0.4))


def new_conversation(store: NaraTrackerStore, sender: str) -> DialogueStateTracker:
    """As Rasa starts one: created and saved with action_listen, then the session start, then a turn."""
    tracker = run(store.get_or_create_tracker(sender))
    at = time.time()
    tracker.update(ActionExecuted("action_session_start", timestamp=at))
    tracker.update(SessionStarted(timestamp=at + 0.01))
    turn(tracker, "hej")
    run(store.save(tracker))
    return tracker


def test_the_next_turn_gets_the_saved_tracker_as_reading_the_database_gives_it(store, db_url, domain):
    saved = new_conversation(store, "k1")
    # Trimmed to its session start, as the database reads it: the events before it are stored, not kept.
    assert isinstance(saved.events[0], SessionStarted)
    assert events_of(saved) == events_of(from_database(db_url, domain, "k1"))
    again = run(store.retrieve("k1"))
    assert again is saved
    assert again.current_state() == from_database(db_url, domain, "k1").current_state()
    turn(again, "hur gör jag?")
    run(store.save(again))
    third = run(store.retrieve("k1"))
    assert third is saved
    assert events_of(third) == events_of(from_database(db_url, domain, "k1"))


def test_a_kept_tracker_is_handed_out_once(store, db_url, domain):
    saved = new_conversation(store, "k2")
    assert run(store.retrieve("k2")) is saved
    # Nothing saved since: the next retrieve reads the database (a turn that failed leaves nothing behind).
    fresh = run(store.retrieve("k2"))
    assert fresh is not saved and events_of(fresh) == events_of(saved)


def test_events_added_after_the_save_are_not_handed_out(store, db_url, domain):
    saved = new_conversation(store, "k3")
    saved.update(ActionExecuted("action_listen"))  # not saved
    got = run(store.retrieve("k3"))
    assert got is not saved and len(got.events) == len(saved.events) - 1


def test_another_instance_writing_to_the_conversation_makes_it_read_again(store, db_url, domain):
    saved = new_conversation(store, "k4")
    other = NaraTrackerStore(domain=domain, url=db_url)
    theirs = run(other.retrieve("k4"))
    turn(theirs, "från den andra servern")
    run(other.save(theirs))
    got = run(store.retrieve("k4"))
    assert got is not saved
    assert [e.text for e in got.events if isinstance(e, UserUttered)] == ["hej", "från den andra servern"]


def test_an_erasure_elsewhere_is_never_undone_by_a_kept_tracker(store, db_url, domain):
    new_conversation(store, "k5")
    with db.session(db_url) as s:  # as `nara purge` or another instance erases it
        erase_conversation(s, "k5")
    assert run(store.retrieve("k5")) is None


def test_an_erasure_elsewhere_followed_by_a_new_conversation_is_read_again(store, db_url, domain):
    saved = new_conversation(store, "k6")
    with db.session(db_url) as s:
        erase_conversation(s, "k6")
    other = NaraTrackerStore(domain=domain, url=db_url)
    new_conversation(other, "k6")
    got = run(store.retrieve("k6"))
    assert got is not saved and events_of(got) == events_of(from_database(db_url, domain, "k6"))


def test_delete_forgets_the_kept_tracker(store, db_url, domain):
    new_conversation(store, "k7")
    run(store.delete("k7"))
    assert run(store.retrieve("k7")) is None


def test_a_turn_with_personal_data_is_not_kept_the_stored_redacted_text_is_read(store, db_url, domain):
    saved = new_conversation(store, "k8")
    again = run(store.retrieve("k8"))
    turn(again, "mitt nummer är 070-123 45 67")
    run(store.save(again))
    got = run(store.retrieve("k8"))
    assert got is not saved
    assert "070-123 45 67" not in str(events_of(got))
    assert events_of(got) == events_of(from_database(db_url, domain, "k8"))


def test_kept_trackers_are_dropped_after_keep_seconds_and_beyond_keep_max(store, db_url, domain, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(tracker_store.time, "monotonic", lambda: now[0])
    saved = new_conversation(store, "k9")
    now[0] += tracker_store.KEEP_SECONDS + 1
    assert run(store.retrieve("k9")) is not saved  # too old: read again
    saved = new_conversation(store, "k10")
    now[0] += tracker_store.KEEP_SECONDS + 1
    new_conversation(store, "k11")  # a later save drops the old one from memory too
    assert "k10" not in store._kept and "k11" in store._kept
    monkeypatch.setattr(tracker_store, "KEEP_MAX", 2)
    for sender in ("k12", "k13", "k14"):
        new_conversation(store, sender)
    assert list(store._kept) == ["k13", "k14"]


def test_a_new_domain_reads_again(store, db_url, domain):
    saved = new_conversation(store, "k15")
    store.domain = Domain.load(str(ROOT / "domain.yml"))  # a new model was loaded
    got = run(store.retrieve("k15"))
    assert got is not saved and events_of(got) == events_of(saved)


def _synchronous(connection) -> int:
    return connection.exec_driver_sql("PRAGMA synchronous").scalar()


def test_sqlite_commits_of_the_conversation_log_skip_the_fsync_and_nothing_else_does(tmp_path):
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    db.upgrade(url)
    with db.log_engine(url).connect() as connection:
        assert _synchronous(connection) == 1  # NORMAL: the conversation log
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with db.engine(url).connect() as connection:
        assert _synchronous(connection) == 2  # FULL: handovers and everything else
    with db.session(url) as s:
        assert s.connection().exec_driver_sql("PRAGMA synchronous").scalar() == 2
    assert db.log_engine(url) is db.log_engine(url) is not db.engine(url)
    assert db.log_engine("postgresql://nara@127.0.0.1/nara") is db.engine("postgresql://nara@127.0.0.1/nara")


def test_the_store_writes_turns_through_the_log_engine(store, db_url, domain):
    engines = {"log": db.log_engine(db_url), "main": db.engine(db_url)}
    if engines["log"] is engines["main"]:  # PostgreSQL: one engine for both
        engines = {"log": engines["log"]}
    saved = new_conversation(store, "k16")
    with recorded(engines) as seen:
        turn(saved, "en fråga till")
        run(store.save(saved))
    seen.setdefault("main", [])
    assert any(s.startswith("INSERT INTO conversation_events") for s in seen["log"])
    if db_url.startswith("sqlite"):  # PostgreSQL: one engine for both
        assert not any(s.startswith("INSERT") for s in seen["main"])
    assert not any(s.startswith("PRAGMA") for s in seen["log"] + seen["main"])  # set once per connection
    assert events_of(from_database(db_url, domain, "k16")) == events_of(saved)


def test_a_tracker_saved_again_after_its_erasure_is_never_kept(store, db_url, domain):
    saved = new_conversation(store, "k17")
    erasing = run(store.retrieve("k17"))
    assert erasing is saved
    erasing.update(ActionExecuted(tracker_store.ERASE_ACTION))
    run(store.save(erasing))
    turn(erasing, "något nytt")  # the same object again: it still holds the erased turn in memory
    run(store.save(erasing))
    got = run(store.retrieve("k17"))
    assert got is not erasing
    assert [e.text for e in got.events if isinstance(e, UserUttered)] == ["något nytt"]


def test_a_tracker_made_here_with_personal_data_is_not_kept(store, db_url, domain):
    tracker = DialogueStateTracker.from_events("k18", [], domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("ring mig på 070-123 45 67", intent={"name": "greet", "confidence": 0.9}))
    run(store.save(tracker))  # made here: counted and saved, redacted in the database only
    turn(tracker, "hej")  # a turn with nothing to redact
    run(store.save(tracker))
    got = run(store.retrieve("k18"))
    assert got is not tracker
    assert "070-123 45 67" not in str(events_of(got))


def _count_forbidden(store: NaraTrackerStore, monkeypatch) -> None:
    def counted(*_):
        raise AssertionError("counted what is stored")

    monkeypatch.setattr(store, "_count_and_save", counted)


def all_rows(db_url: str, domain: Domain, sender: str) -> list[dict]:
    tracker = run(NaraTrackerStore(domain=domain, url=db_url).retrieve_full_tracker(sender))
    return [] if tracker is None else events_of(tracker)


def test_a_new_conversation_is_written_without_counting_what_is_stored(store, db_url, domain, monkeypatch):
    # Rasa's get_or_create_tracker: a read that finds nothing, then the first save of the tracker it makes.
    _count_forbidden(store, monkeypatch)
    saved = new_conversation(store, "n1")
    stored = all_rows(db_url, domain, "n1")
    # Every event once: the initial action_listen and the session start's action, then what the tracker
    # holds from its session start on (it is trimmed there, as reading it back gives it).
    assert [(e["event"], e.get("name")) for e in stored[:2]] == [
        ("action", "action_listen"),
        ("action", "action_session_start"),
    ]
    assert stored[2:] == events_of(saved) and len(saved.events) == 6
    assert run(store.retrieve("n1")) is saved  # and kept, as a counted one was


def test_an_empty_new_tracker_writes_nothing_and_its_turn_writes_everything(store, db_url, domain, monkeypatch):
    # The processor asks without the initial action_listen: the first save has no event at all.
    _count_forbidden(store, monkeypatch)
    tracker = run(store.get_or_create_tracker("n2", append_action_listen=False))
    assert list(tracker.events) == [] and all_rows(db_url, domain, "n2") == []
    turn(tracker, "hej")
    run(store.save(tracker))
    assert all_rows(db_url, domain, "n2") == events_of(tracker)


def test_only_a_read_that_found_nothing_lets_a_save_skip_the_count(store, db_url, domain, monkeypatch):
    # Another store wrote the conversation after this one found nothing (no lock held between them): a tracker
    # made here with a session start, or saved long after the read, is counted as before.
    assert run(store.retrieve("n3")) is None
    other = NaraTrackerStore(domain=domain, url=db_url)
    first = new_conversation(other, "n3")
    again = DialogueStateTracker.from_dict("n3", [e.as_dict() for e in first.events], domain.slots)
    run(store.save(again))  # a session start in it: counted, nothing written twice
    assert all_rows(db_url, domain, "n3")[-len(first.events) :] == events_of(first)
    assert len(all_rows(db_url, domain, "n3")) == 2 + len(first.events)  # the action_listen, session start
    assert run(store.retrieve("n4")) is None
    later = time.monotonic() + tracker_store.KEEP_SECONDS + 1
    monkeypatch.setattr(tracker_store.time, "monotonic", lambda: later)
    calls = []
    monkeypatch.setattr(store, "_count_and_save", lambda *a: calls.append(a) or True)
    run(store.save(DialogueStateTracker.from_events("n4", [ActionExecuted("action_listen")], domain.slots)))
    assert len(calls) == 1  # the read was too long ago


def test_the_marks_of_conversations_found_empty_are_bounded(store, monkeypatch):
    monkeypatch.setattr(tracker_store, "KEEP_MAX", 3)
    for i in range(10):
        assert run(store.retrieve(f"e{i}")) is None
    assert list(store._absent) == ["e7", "e8", "e9"]
    run(store.delete("e8"))
    assert list(store._absent) == ["e7", "e9"]
