"""The production shape on one machine (`make cluster`, scripts/cluster): what it writes and how it sizes things.

- `endpoints.yml` for every Rasa server: Nära's tracker store on PostgreSQL (`NARA_DATABASE_URL`), Redis as the
  lock store (so that one conversation is handled by one server at a time, whichever gets the message), and the
  action servers behind nginx.
- `nginx.conf`: the chat (REST and socket.io) and the web app on one port, the staff app on the next, the action
  servers on the one after (loopback only). REST turns go to the least busy Rasa server and on to the next one
  when a server is down; socket.io sticks to one server per client address (its polling transport needs that).
- The connection pools: every process that talks to PostgreSQL (each Rasa server, each action server, the staff
  app) gets an equal share of `max_connections`, less the superuser reserve and headroom for `nara purge`, psql
  and migrations. docs/scaling.md has the formula.

`python -m bot.cluster write --dir DIR ...` writes both files and prints the pool sizes as shell assignments.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

RESERVED_CONNECTIONS = 3  # PostgreSQL's superuser_reserved_connections default
HEADROOM_CONNECTIONS = 5  # nara purge from cron, nara db upgrade, a psql session, monitoring
MAX_PER_PROCESS = 20  # a Sanic worker with one event loop and a thread pool gains nothing from more


@dataclass(frozen=True)
class Pool:
    size: int
    overflow: int

    @property
    def per_process(self) -> int:
        return self.size + self.overflow


def pool_for(max_connections: int, processes: int) -> Pool:
    """Each process's pool, so that processes × (size + overflow) + reserve + headroom <= max_connections."""
    if processes < 1:
        raise ValueError("at least one process")
    budget = max_connections - RESERVED_CONNECTIONS - HEADROOM_CONNECTIONS
    per_process = min(budget // processes, MAX_PER_PROCESS)
    if per_process < 2:
        raise ValueError(
            f"{processes} processes cannot share {max_connections} connections "
            f"({RESERVED_CONNECTIONS} reserved, {HEADROOM_CONNECTIONS} headroom): raise max_connections or use "
            "PgBouncer in front of PostgreSQL"
        )
    size = max(1, per_process // 2)
    return Pool(size=size, overflow=per_process - size)


def database_processes(instances: int) -> int:
    """The processes that hold a pool: a Rasa server and an action server per instance, and the staff app."""
    return 2 * instances + 1


@dataclass(frozen=True)
class Ports:
    public: int  # the chat and the web app
    staff: int
    actions: int  # internal: the action servers behind nginx
    web: int  # the web app itself
    staff_app: int  # the staff app itself
    redis: int
    rasa: tuple[int, ...]
    action_servers: tuple[int, ...]


def endpoints_yml(ports: Ports) -> str:
    return f"""# Written by scripts/cluster (bot/cluster.py): every Rasa server of the cluster uses this file.
action_endpoint:
  url: "http://127.0.0.1:{ports.actions}/webhook"
  enable_selective_domain: true  # as in endpoints.yml

tracker_store:
  type: bot.tracker_store.NaraTrackerStore  # NARA_DATABASE_URL: PostgreSQL

lock_store:
  type: bot.lock_store.NaraRedisLockStore  # Rasa's redis lock store with atomic tickets (bot/lock_store.py)
  url: 127.0.0.1
  port: {ports.redis}
  db: 0
  key_prefix: nara
"""


def nginx_conf(folder: Path, ports: Ports) -> str:
    rasa = "\n".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in ports.rasa)
    actions = "\n".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in ports.action_servers)
    temp = folder / "nginx-temp"
    return f"""# Written by scripts/cluster (bot/cluster.py). Loopback only.
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "nginx-error.log"} warn;
events {{ worker_connections 1024; }}

http {{
  access_log off;
  client_body_temp_path {temp / "body"};
  proxy_temp_path {temp / "proxy"};
  fastcgi_temp_path {temp / "fastcgi"};
  uwsgi_temp_path {temp / "uwsgi"};
  scgi_temp_path {temp / "scgi"};
  client_max_body_size 64k;  # a chat message is at most 1 500 characters
  server_tokens off;

  # REST turns: to the least busy server; a server that refuses the connection or has gone is skipped and
  # the turn goes to the next one (Redis's lock keeps the conversation's turns in order wherever they run).
  upstream rasa_rest {{
    least_conn;
{rasa}
    keepalive 16;
  }}
  # socket.io: its polling transport needs every request of a client on the same server.
  upstream rasa_socketio {{
    ip_hash;
{rasa}
  }}
  upstream nara_actions {{
    least_conn;
{actions}
    keepalive 16;
  }}

  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}

  server {{
    listen 127.0.0.1:{ports.public};
    location /webhooks/ {{
      proxy_pass http://rasa_rest;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 2s;
      proxy_read_timeout 90s;
    }}
    location /socket.io/ {{
      proxy_pass http://rasa_socketio;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 3600s;
    }}
    location / {{
      proxy_pass http://127.0.0.1:{ports.web};
    }}
  }}

  server {{
    listen 127.0.0.1:{ports.staff};
    location / {{
      proxy_pass http://127.0.0.1:{ports.staff_app};
      proxy_set_header Host $host;
    }}
  }}

  server {{
    listen 127.0.0.1:{ports.actions};
    location / {{
      proxy_pass http://nara_actions;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 2s;
    }}
  }}
}}
"""


def write(folder: Path, ports: Ports, max_connections: int) -> Pool:
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "nginx-temp" / sub).mkdir(parents=True, exist_ok=True)
    (folder / "endpoints.yml").write_text(endpoints_yml(ports), encoding="utf-8")
    (folder / "nginx.conf").write_text(nginx_conf(folder, ports), encoding="utf-8")
    return pool_for(max_connections, database_processes(len(ports.rasa)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.cluster")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="write endpoints.yml and nginx.conf; print the pool sizes")
    w.add_argument("--dir", type=Path, required=True)
    w.add_argument("--public-port", type=int, required=True)
    w.add_argument("--redis-port", type=int, required=True)
    w.add_argument("--rasa-ports", type=int, nargs="+", required=True)
    w.add_argument("--action-ports", type=int, nargs="+", required=True)
    w.add_argument("--web-port", type=int, required=True)
    w.add_argument("--staff-app-port", type=int, required=True)
    w.add_argument("--max-connections", type=int, required=True)
    args = parser.parse_args(argv)
    ports = Ports(
        public=args.public_port,
        staff=args.public_port + 1,
        actions=args.public_port + 2,
        web=args.web_port,
        staff_app=args.staff_app_port,
        redis=args.redis_port,
        rasa=tuple(args.rasa_ports),
        action_servers=tuple(args.action_ports),
    )
    pool = write(args.dir, ports, args.max_connections)
    print(f"NARA_DB_POOL_SIZE={pool.size}")
    print(f"NARA_DB_MAX_OVERFLOW={pool.overflow}")


if __name__ == "__main__":
    main()
