"""`python -m bot.web [--host 127.0.0.1] [--port 8000]`: the chat widget and the pages around it.

Environment: NARA_CHAT_URL (the Rasa server the widget talks to, default http://127.0.0.1:5005),
NARA_EXIT_URL (where the quick exit goes, default this app's neutral /lamna page) and
NARA_CONVERSATION_RETENTION_DAYS (what the opening message promises, default 21).
"""

from __future__ import annotations

import argparse

from bot.web.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.web", description="Nära's chat widget and demo page")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    args = parser.parse_args(argv)
    create_app().run(host=args.host, port=args.port, workers=1, auto_reload=False, access_log=False, debug=False)


if __name__ == "__main__":
    main()
