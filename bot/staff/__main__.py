"""`python -m bot.staff [--host 127.0.0.1] [--port 8001]`: the staff web pages, one worker.

Environment: NARA_DATABASE_URL (the database), NARA_STAFF_BASE_URL (the pages' public address, for
links in e-mails), NARA_SMTP_HOST / NARA_SMTP_PORT (no host: notifications are only logged), and
NARA_STAFF_INSECURE_COOKIES=1 to drop the Secure flag from cookies (tests over plain http only).
"""

from __future__ import annotations

import argparse
import logging
import os

from bot.staff.app import create_app
from bot.staff.notify import base_url_from_env, smtp_from_env
from bot.store.db import database_url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.staff", description="Nära's staff web pages")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on (default 8001)")
    args = parser.parse_args(argv)
    # Our own messages (e.g. "could not send a notification"); Sanic configures its own loggers.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("bot").addHandler(handler)
    logging.getLogger("bot").setLevel(logging.INFO)
    app = create_app(
        database_url(),
        base_url=base_url_from_env(),
        smtp=smtp_from_env(),
        secure_cookies=os.environ.get("NARA_STAFF_INSECURE_COOKIES") != "1",
    )
    app.run(host=args.host, port=args.port, workers=1, auto_reload=False, access_log=False, debug=False)


if __name__ == "__main__":
    main()
