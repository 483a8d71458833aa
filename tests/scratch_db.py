"""A throwaway PostgreSQL database in the cluster scripts/test starts (NARA_TEST_POSTGRES_URL), migrated to the
newest schema, dropped afterwards whatever happened."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text

from bot.store import db


@contextlib.contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    base = os.environ["NARA_TEST_POSTGRES_URL"]
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        db.upgrade(url)
        yield url
    finally:
        db.engine(url).dispose()
        db.engine.cache_clear()
        db._sessions.cache_clear()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
