"""Nära's Redis lock store against a real Redis (Debian's redis-server): two "servers" (threads, each with its
own event loop and its own Redis connection) handling turns of one conversation never run two at once."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from rasa.core.lock_store import LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import NaraRedisLockStore

pytestmark = pytest.mark.cluster
TURNS_PER_SERVER = 25


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory) -> Iterator[int]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is missing: scripts/test installs Debian's redis-server before the cluster tests")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.StrictRedis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=10)


def most_at_once(make_store, conversation: str, lifetime: float = 30) -> tuple[int, int]:
    """Two threads take turns of one conversation; returns (the most turns that ran at once, turns done).
    A thread that cannot get the lock (Rasa's LockError after the lifetime) stops, so fewer turns are done."""
    inside = 0
    most = 0
    done = 0
    guard = threading.Lock()

    async def server() -> None:
        nonlocal inside, most, done
        store = make_store()
        for _ in range(TURNS_PER_SERVER):
            try:
                async with store.lock(conversation, lock_lifetime=lifetime, wait_time_in_seconds=0.005):
                    with guard:
                        inside += 1
                        most = max(most, inside)
                    time.sleep(0.002)  # a turn's work, holding the lock
                    with guard:
                        inside -= 1
                        done += 1
            except LockError:
                return

    threads = [threading.Thread(target=asyncio.run, args=(server(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return most, done


def test_two_servers_never_run_two_turns_of_one_conversation_at_once(redis_port):
    config = EndpointConfig(url="127.0.0.1", port=redis_port, db=0, key_prefix="test")
    for round_ in range(3):
        most, done = most_at_once(lambda: NaraRedisLockStore(endpoint_config=config), f"nara-{round_}")
        assert (most, done) == (1, 2 * TURNS_PER_SERVER)
    assert redis.StrictRedis(port=redis_port).keys("test:*") == []  # every lock released and deleted


def test_rasas_own_store_gives_two_servers_the_same_ticket_when_they_interleave(redis_port):
    """Why Nära has its own: Rasa 3.6's issue_ticket is read, change, write. Two servers that read before either
    writes both get ticket 0, and both are "now serving". (The steps of RedisLockStore.issue_ticket, interleaved
    by hand, so the test is deterministic; if a Rasa upgrade changes this, the test says so.)"""
    a, b = (RedisLockStore(host="127.0.0.1", port=redis_port, db=1, key_prefix="stock") for _ in range(2))
    lock_a, lock_b = a.get_or_create_lock("c"), b.get_or_create_lock("c")
    ticket_a, ticket_b = lock_a.issue_ticket(30), lock_b.issue_ticket(30)
    a.save_lock(lock_a)
    b.save_lock(lock_b)
    assert ticket_a == ticket_b == 0
    assert not a.get_lock("c").is_locked(ticket_a) and not b.get_lock("c").is_locked(ticket_b)
    a.delete_lock("c")


def test_naras_store_sees_the_other_servers_write_and_tries_again(redis_port):
    """The same interleaving against Nära's store: another server writes between the read and the write, the
    transaction notices (WATCH) and runs again on what the other server wrote, so the tickets differ."""
    config = EndpointConfig(url="127.0.0.1", port=redis_port, db=2, key_prefix="nara")
    ours, other = NaraRedisLockStore(endpoint_config=config), NaraRedisLockStore(endpoint_config=config)
    attempts = []

    def issue_while_the_other_server_issues(lock):
        attempts.append(lock)
        if len(attempts) == 1:
            other.issue_ticket("c", 30)  # the other server, right between our read and our write
        lock = lock or ours.create_lock("c")
        return lock.issue_ticket(30), lock

    ticket = ours._atomically("c", issue_while_the_other_server_issues)
    assert len(attempts) == 2 and attempts[0] is None and attempts[1] is not None
    assert ticket == 1  # after the other server's ticket 0
    stored = ours.get_lock("c")
    assert stored.last_issued == 1 and stored.is_locked(1) and not stored.is_locked(0)
    ours.cleanup("c", 0)
    ours.cleanup("c", 1)
    assert ours.get_lock("c") is None
