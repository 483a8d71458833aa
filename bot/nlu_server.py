"""The NLU server beside a Rasa server (bot/nlu_offload.py): Rasa's own HTTP API, loaded with the same model,
answering `POST /model/parse` on loopback, behind the same token.

    python -m bot.nlu_server --model models/nara-….tar.gz --port 5007

Rasa's `rasa run --enable-api` would read endpoints.yml from the working directory and with it Nära's
conversation store and action server, which a parser needs neither of; and with no channel it would open
the command-line channel. Here it has no channels, no endpoints (nothing is stored: a parse touches no
conversation), Nära's speedups (bot/rasa_speedups.py) and the garbage collector's freeze once the model is
loaded, as the Rasa server has them. It never hands a parse on to another NLU server.
"""

from __future__ import annotations

import argparse
import logging
import os
from functools import partial

DEFAULT_PORT = 5007


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.nlu_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the model the Rasa server runs")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--interface", default="127.0.0.1")
    args = parser.parse_args(argv)
    token = os.environ.get("NARA_NLU_TOKEN") or os.environ.get("RASA_AUTH_TOKEN")
    if not token:
        parser.error("set NARA_NLU_TOKEN or RASA_AUTH_TOKEN: the NLU server answers only requests with it")
    os.environ.pop("NARA_NLU_URL", None)  # this process parses; it never forwards to an NLU server

    from rasa.core.run import close_resources, configure_app, load_agent_on_start
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bot import rasa_speedups
    from bot.privacy import install_log_redaction

    configure_logging_and_warnings(logging.INFO)
    configure_structlog(logging.INFO)  # as `rasa run` does: Rasa's debug events (with the text) are dropped
    install_log_redaction()
    rasa_speedups.install()
    endpoints = AvailableEndpoints()
    app = configure_app(
        [],
        auth_token=token,
        enable_api=True,
        port=args.port,
        endpoints=endpoints,
        server_listeners=[(rasa_speedups.freeze_loaded_objects, "after_server_start")],
    )
    app.register_listener(partial(load_agent_on_start, args.model, endpoints, None), "before_server_start")
    app.register_listener(close_resources, "after_server_stop")
    app.run(host=args.interface, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
