"""The database: its URL, engine, sessions and schema upgrades (Alembic)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
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
    cursor.close()


@lru_cache(maxsize=8)
def engine(url: str | None = None) -> Engine:
    url = url or database_url()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite:///"):
        # A pool of open connections to the file (SQLAlchemy 1.4 opens a new one for every session, and the
        # PRAGMAs with it: 15% of the Rasa server's time under load, bench/README.md). Sessions run in
        # threads (the tracker store's), hence check_same_thread=False; SQLite serialises the writes.
        created = create_engine(
            url,
            future=True,
            poolclass=QueuePool,
            pool_size=10,  # at least the server's worker threads: an overflow connection is closed after use
            max_overflow=10,
            pool_timeout=10,
            connect_args={"check_same_thread": False},
        )
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
