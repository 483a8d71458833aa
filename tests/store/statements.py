"""The SQL statements the conversation store runs, per engine: those SQLAlchemy executes (its
`before_cursor_execute` event) and those it runs on the driver's cursor itself (`tracker_store._cursor`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event

from bot import tracker_store


class _RecordingCursor:
    def __init__(self, cursor: Any, seen: list[str]):
        self._cursor, self._seen = cursor, seen

    def execute(self, statement: str, *args: Any) -> Any:
        self._seen.append(statement)
        return self._cursor.execute(statement, *args)

    def executemany(self, statement: str, *args: Any) -> Any:
        self._seen.append(statement)
        return self._cursor.executemany(statement, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


@contextlib.contextmanager
def recorded(engines: dict[str, Any]) -> Iterator[dict[str, list[str]]]:
    """{name: [statement, ...]} for each named engine, filled while the block runs."""
    seen: dict[str, list[str]] = {name: [] for name in engines}
    by_engine = {id(engine): seen[name] for name, engine in engines.items()}
    recorders = {name: (lambda _c, _cur, statement, *_a, name=name: seen[name].append(statement)) for name in engines}
    driver_cursor = tracker_store._cursor

    @contextlib.contextmanager
    def recording_cursor(engine: Any) -> Iterator[tuple[Any, Any]]:
        with driver_cursor(engine) as (connection, cursor):
            statements = by_engine.get(id(engine))
            yield connection, cursor if statements is None else _RecordingCursor(cursor, statements)

    for name, engine in engines.items():
        event.listen(engine, "before_cursor_execute", recorders[name])
    tracker_store._cursor = recording_cursor
    try:
        yield seen
    finally:
        tracker_store._cursor = driver_cursor
        for name, engine in engines.items():
            event.remove(engine, "before_cursor_execute", recorders[name])
