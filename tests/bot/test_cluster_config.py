"""The cluster's sizing and configuration (bot/cluster.py) and the turn limits (bot/limits.py), offline."""

from __future__ import annotations

import pytest

from bot import cluster, limits
from bot.cluster import HEADROOM_CONNECTIONS, RESERVED_CONNECTIONS, Ports, database_processes, pool_for

PORTS = Ports(
    public=8080,
    staff=8081,
    actions=8082,
    web=9000,
    staff_app=9001,
    redis=6390,
    rasa=(5101, 5102),
    action_servers=(5151, 5152),
)


@pytest.mark.parametrize("max_connections", [20, 50, 100, 200, 1000])
@pytest.mark.parametrize("instances", [1, 2, 4, 8])
def test_the_pools_of_every_process_fit_under_max_connections(max_connections, instances):
    processes = database_processes(instances)
    try:
        pool = pool_for(max_connections, processes)
    except ValueError as error:
        assert "PgBouncer" in str(error)
        assert (max_connections - RESERVED_CONNECTIONS - HEADROOM_CONNECTIONS) // processes < 2
        return
    assert pool.size >= 1 and pool.overflow >= 0
    assert processes * pool.per_process + RESERVED_CONNECTIONS + HEADROOM_CONNECTIONS <= max_connections


def test_postgresqls_default_gives_two_instances_their_share():
    assert database_processes(2) == 5
    assert pool_for(100, 5).per_process == 18  # (100 - 3 - 5) // 5


def test_the_endpoints_share_postgresql_and_lock_in_redis():
    text = cluster.endpoints_yml(PORTS)
    assert "type: bot.lock_store.NaraRedisLockStore" in text and "port: 6390" in text and "key_prefix: nara" in text
    assert "bot.tracker_store.NaraTrackerStore" in text and "http://127.0.0.1:8082/webhook" in text


def test_nginx_balances_rest_sticks_socketio_and_fails_over(tmp_path):
    conf = cluster.nginx_conf(tmp_path, PORTS)
    assert conf.count("server 127.0.0.1:5101") == 2 and conf.count("server 127.0.0.1:5102") == 2
    assert "least_conn" in conf and "ip_hash" in conf
    assert "proxy_next_upstream error timeout http_502 http_503" in conf
    assert "listen 127.0.0.1:8080" in conf and "listen 127.0.0.1:8081" in conf and "0.0.0.0" not in conf


def test_the_action_timeout_bounds_a_turn_below_the_lock(monkeypatch):
    import rasa.core.actions.action as rasa_action
    import rasa.core.lock_store as lock_store

    monkeypatch.setattr(rasa_action, "DEFAULT_REQUEST_TIMEOUT", 300)
    monkeypatch.setattr(lock_store, "LOCK_LIFETIME", 60)
    monkeypatch.delenv("NARA_ACTION_TIMEOUT_SECONDS", raising=False)
    limits.apply_turn_limits()
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 5  # 5 s × 10 actions = 50 s < 60 s

    monkeypatch.setenv("NARA_ACTION_TIMEOUT_SECONDS", "6")  # 60 s: not shorter than the lock
    with pytest.raises(ValueError, match="two turns of one conversation could run at once"):
        limits.apply_turn_limits()
    monkeypatch.setattr(lock_store, "LOCK_LIFETIME", 61)
    limits.apply_turn_limits()
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 6


def test_rasa_refuses_to_start_rather_than_fall_back_to_memory(monkeypatch, tmp_path):
    """Rasa falls back to an in-memory tracker store when a custom store cannot be *imported*; an unsafe lock is
    a ValueError, which goes through to `rasa run` and stops it before it takes a message."""
    import rasa.core.lock_store as lock_store
    from rasa.core.tracker_store import create_tracker_store
    from rasa.utils.endpoints import EndpointConfig

    monkeypatch.setattr(lock_store, "LOCK_LIFETIME", 4)
    monkeypatch.setenv("NARA_ACTION_TIMEOUT_SECONDS", "5")
    config = EndpointConfig(type="bot.tracker_store.NaraTrackerStore", url=f"sqlite:///{tmp_path / 'nara.db'}")
    with pytest.raises(ValueError, match="two turns of one conversation could run at once"):
        create_tracker_store(config)
    monkeypatch.setenv("NARA_ACTION_TIMEOUT_SECONDS", "0.3")
    assert type(create_tracker_store(config)).__name__ == "NaraTrackerStore"


@pytest.mark.parametrize("source", ["endpoints.yml", "cluster"])
def test_the_domain_goes_only_to_the_actions_that_validate_a_form(source, tmp_path):
    from rasa.core.actions.action import RemoteAction
    from rasa.core.utils import read_endpoints_from_path
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.paths import ROOT

    path = ROOT / "endpoints.yml"
    if source == "cluster":
        path = tmp_path / "endpoints.yml"
        path.write_text(cluster.endpoints_yml(PORTS))
    endpoint = read_endpoints_from_path(path).action
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = DialogueStateTracker("s", domain.slots)
    for name in domain.user_actions:
        body = RemoteAction(name, endpoint)._action_call_format(tracker, domain)
        assert ("domain" in body) == name.startswith("validate_"), name
