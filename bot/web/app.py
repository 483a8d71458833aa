"""The public web app (Sanic, port 8000): the chat widget a municipality embeds with one script tag, and the
pages around it.

- `/widget/nara.js`, `/widget/nara.css`, `/widget/vendor/socket.io.min.js` (the socket.io client, MIT): the
  widget. It talks to Rasa's socket.io channel (`NARA_CHAT_URL`, default http://127.0.0.1:5005) and reads
  `/widget/config.json`.
- `/widget/config.json`: what the widget says by itself (bot/web/widget.yml: the honest opening, with the
  real retention period), the phone numbers it may turn into tap-to-call links (knowledge/lines.yml only),
  the quick-exit address and the message length limit. Public, cacheable, no personal data.
- `/`: a demo of a municipal page with the widget on it. `/tillganglighet`: the accessibility statement
  (tillgänglighetsredogörelse). `/lamna`: the neutral page the quick exit goes to (`NARA_EXIT_URL` overrides).

No cookies, no third-party requests: every file comes from here and the chat from the Rasa server, which the
Content-Security-Policy names.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import yaml
from sanic import Request, Sanic
from sanic.response import HTTPResponse, html

from bot.channels import MAX_MESSAGE_CHARS
from bot.privacy import install_log_redaction
from bot.retention import conversation_days
from knowledge.render import marked

HERE = Path(__file__).parent
STATIC = HERE / "static"
WIDGET_TEXTS = HERE / "widget.yml"
DEFAULT_CHAT_URL = "http://127.0.0.1:5005"
EXIT_PATH = "/lamna"
# When the accessibility statement was last checked against the widget (WCAG 2.1 AA with axe-core and by hand).
STATEMENT_REVIEWED = dt.date(2026, 12, 6)


def chat_url() -> str:
    return (os.environ.get("NARA_CHAT_URL") or DEFAULT_CHAT_URL).rstrip("/")


def exit_url() -> str:
    return os.environ.get("NARA_EXIT_URL") or EXIT_PATH


def content_security_policy(chat: str) -> str:
    """Scripts, styles and images from here only; connections to the Rasa server (http and websocket)."""
    parts = urlsplit(chat)
    socket = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src 'self' {parts.scheme}://{parts.netloc} {socket}; "
        "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )


def tel_uri(number: str) -> str:
    """'020-50 50 50' -> 'tel:020505050'."""
    return "tel:" + re.sub(r"[^\d+]", "", number)


@functools.lru_cache(maxsize=1)
def _widget_texts() -> dict[str, Any]:
    return yaml.safe_load(WIDGET_TEXTS.read_text(encoding="utf-8"))


def widget_config() -> dict[str, Any]:
    """Everything the widget needs from the server, in one document."""
    from knowledge.loader import cached_knowledge

    knowledge = cached_knowledge()
    texts = _widget_texts()
    values = {"days": conversation_days(), "municipality": knowledge.municipality.name}
    return {
        "chat_url": chat_url(),
        "exit_url": exit_url(),
        "max_chars": MAX_MESSAGE_CHARS,
        "opening": [paragraph.format(**values) for paragraph in texts["opening"]],
        "opening_buttons": texts["opening_buttons"],
        "labels": {key: value.replace("{max}", str(MAX_MESSAGE_CHARS)) for key, value in texts["labels"].items()},
        # Only the lines of knowledge/lines.yml become tap-to-call links.
        "phones": sorted(
            ({"text": line.number, "tel": tel_uri(line.number), "name": line.name} for line in knowledge.lines),
            key=lambda phone: -len(phone["text"]),  # the longest first, so "116 111" wins over "111"
        ),
    }


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def create_app() -> Sanic:
    install_log_redaction()
    app = Sanic("nara_web")
    app.config.REQUEST_MAX_SIZE = 10_000  # nothing is posted here
    app.ctx.templates = environment()
    csp = content_security_policy(chat_url())

    def page(template: str, **context: Any) -> HTTPResponse:
        from knowledge.loader import cached_knowledge

        knowledge = cached_knowledge()
        body = app.ctx.templates.get_template(template).render(
            municipality=knowledge.municipality,
            lines={line.id: line for line in knowledge.lines},
            tel=tel_uri,
            marked=marked,
            reviewed=STATEMENT_REVIEWED,
            days=conversation_days(),
            **context,
        )
        return html(body)

    @app.get("/")
    async def demo(request: Request) -> HTTPResponse:
        return page("demo.html")

    @app.get("/tillganglighet")
    async def statement(request: Request) -> HTTPResponse:
        return page("tillganglighet.html")

    @app.get(EXIT_PATH)
    async def neutral(request: Request) -> HTTPResponse:
        return page("lamna.html")

    @app.get("/widget/config.json")
    async def config(request: Request) -> HTTPResponse:
        body = json.dumps(widget_config(), ensure_ascii=False)
        return HTTPResponse(
            body,
            content_type="application/json; charset=utf-8",
            headers={"Access-Control-Allow-Origin": "*"},  # public, the same for everyone, read by any embedding page
        )

    @app.on_response
    async def _headers(request: Request, response: HTTPResponse) -> None:
        response.headers.update(
            {
                "Content-Security-Policy": csp,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
            }
        )
        if request.path.startswith("/widget/"):
            response.headers["Access-Control-Allow-Origin"] = "*"  # the widget's files are embedded elsewhere
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        else:
            response.headers["Cache-Control"] = "no-store"

    app.static("/widget", str(STATIC / "widget"), name="widget")
    app.static("/static", str(STATIC / "site"), name="site")
    return app
