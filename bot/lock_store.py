"""Rasa's Redis lock store, made safe for more than one server.

Rasa 3.6's `RedisLockStore` issues a ticket by reading the conversation's lock from Redis, adding a ticket and
writing it back: three steps, not one. Two servers that get a message of the same conversation at the same
moment both read the lock with no ticket, both write ticket 0, and both think it is their turn: the two turns
run at once and one of them is lost when the tracker is saved (found by tests/cluster/test_cluster.py; Rasa
issue #9213; the fix, a "concurrent" lock store, is not in Rasa Open Source). Releasing a ticket and clearing
expired ones have the same read-modify-write.

`NaraRedisLockStore` does each of these as one Redis transaction (WATCH the key, read, MULTI, write, EXEC;
redis-py retries when another server changed the key in between), so tickets are unique and served in order
across any number of servers. Configured in endpoints.yml as `type: bot.lock_store.NaraRedisLockStore` with the
same fields as Rasa's `redis` lock store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

Change = Callable[[TicketLock | None], tuple[Any, TicketLock | None]]


class NaraRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a custom lock store from its endpoint config alone; the fields are those of `redis`.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _atomically(self, conversation_id: str, change: Change) -> Any:
        """Applies `change` to the stored lock in one transaction; it returns (result, lock to keep or None)."""
        key = self.key_prefix + conversation_id

        def apply(pipe) -> Any:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            result, kept = change(lock)
            pipe.multi()
            if kept is None:
                pipe.delete(key)
            else:
                pipe.set(key, kept.dumps())
            return result

        return self.red.transaction(apply, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[int, TicketLock]:
            lock = lock or self.create_lock(conversation_id)
            return lock.issue_ticket(lock_lifetime), lock

        try:
            return self._atomically(conversation_id, issue)
        except Exception as error:  # noqa: BLE001 - Rasa's own contract: any failure is a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return None, lock

        self._atomically(conversation_id, drop_expired)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        def release(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return None, lock if lock.is_someone_waiting() else None

        self._atomically(conversation_id, release)
