"""The database: its URL, engine, sessions and schema upgrades (Alembic)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.paths import ROOT

DEFAULT_URL = f"sqlite:///{ROOT / 'data' / 'nara.db'}"
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url() -> str:
    return os.environ.get("NARA_DATABASE_URL") or DEFAULT_URL


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # SQLite ignores ON DELETE CASCADE without it
    cursor.execute("PRAGMA busy_timeout=5000")  # the bot and the staff app write to the same file
    # Write-ahead log: readers no longer wait for a writer, and a writer waits only for another writer.
    # Without it, concurrent conversations waited for each other's commits in SQLite's busy handler, which
    # sleeps in steps of up to 100 ms: the long tail of the benchmark (bench/README.md).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@lru_cache(maxsize=8)
def engine(url: str | None = None) -> Engine:
    url = url or database_url()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite:///"):
        # A pool of open connections to the file (SQLAlchemy 1.4 opens a new one for every session, and the
        # PRAGMAs with it: 15% of the Rasa server's time under load, bench/README.md). The tracker store uses
        # them on the event loop, the staff app and the CLI in threads of their own, hence
        # check_same_thread=False; SQLite serialises the writes.
        created = _sqlite_file_engine(url, 10)  # the staff app's and the CLI's threads (+10 closed after use)
    elif url.startswith("sqlite"):
        created = create_engine(url, future=True)
    else:
        # Sized so that every process of every instance together stays under PostgreSQL's max_connections
        # (docs/scaling.md; scripts/cluster sets these from the formula).
        created = create_engine(
            url,
            future=True,
            pool_pre_ping=True,
            pool_size=int(os.environ.get("NARA_DB_POOL_SIZE") or 5),
            max_overflow=int(os.environ.get("NARA_DB_MAX_OVERFLOW") or 5),
            pool_timeout=10,
        )
    if created.dialect.name == "sqlite":
        event.listen(created, "connect", _sqlite_pragmas)
    return created


def _relaxed_sync(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def log_engine(url: str | None = None) -> Engine:
    """The engine the conversation log is written with. On a SQLite file, connections of its own whose commits
    wait for the operating system, not for the disk (`PRAGMA synchronous=NORMAL`; every other connection keeps
    FULL): in write-ahead-log mode such a commit is durable across a crash of the process but not of the
    machine, where a power cut can undo the last commits before a checkpoint; the file stays consistent. The
    Rasa server writes the log on its event loop, where the fsync of every commit held up every conversation
    (N=20: faster in five of six alternating runs, -4% to +25% as the host's disk allowed, bench/README.md).
    Handovers and contact drafts go through `engine()`, with FULL. Setting the PRAGMA around each commit
    instead cost two more statements a turn. Other databases: `engine()` itself."""
    url = url or database_url()
    return _sqlite_log_engine(url) if url.startswith("sqlite:///") else engine(url)


@lru_cache(maxsize=8)
def _sqlite_log_engine(url: str) -> Engine:
    engine(url)  # the file's directory, made as engine() makes it
    created = _sqlite_file_engine(url, 2)  # the store writes on the event loop, one turn at a time
    event.listen(created, "connect", _sqlite_pragmas)
    event.listen(created, "connect", _relaxed_sync)
    return created


def _sqlite_file_engine(url: str, pool_size: int) -> Engine:
    """A pool of open connections to a SQLite file, usable from any thread (SQLite serialises the writes);
    as many overflow connections again, each closed after use."""
    return create_engine(
        url,
        future=True,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        connect_args={"check_same_thread": False},
    )


def remove_sqlite_database(path: Path) -> None:
    """Deletes a SQLite database with its write-ahead log: a stale `-wal` file next to a new database of the
    same name would be replayed into it."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        file.unlink(missing_ok=True)


_no_wait = contextlib.nullcontext()


@cache  # never evicted: two locks for one file would let two writers through again
def _sqlite_write_lock(url: str) -> threading.Lock:
    return threading.Lock()


def writer(url: str | None = None) -> contextlib.AbstractContextManager:
    """Held around a write that several threads of one process may make at once (the tracker store's saves;
    on SQLite they now run on the event loop, so it is rarely contended, but any thread that saves takes it).

    SQLite lets one writer in at a time and makes the others wait in its busy handler, which sleeps in
    steps of up to 100 ms; threads that queue here are woken as soon as the writer is done instead. Other
    databases take concurrent writers themselves: nothing to wait for here.
    """
    url = url or database_url()
    return _sqlite_write_lock(url) if url.startswith("sqlite") else _no_wait


@lru_cache(maxsize=8)
def _sessions(url: str) -> sessionmaker:
    return sessionmaker(engine(url), future=True, expire_on_commit=False)


@contextmanager
def session(url: str | None = None) -> Iterator[Session]:
    """A unit of work: committed at the end, rolled back on any error."""
    with _sessions(url or database_url())() as s, s.begin():
        yield s


def upgrade(url: str | None = None) -> None:
    """Brings the schema to the newest migration (safe to repeat)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
