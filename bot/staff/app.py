"""The staff web app (Sanic): the pages of bot/staff/pages.py, the JSON API of bot/staff/api.py
when it is there, static files, security headers on every response and Swedish error pages."""

from __future__ import annotations

import logging
from pathlib import Path

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse

from bot.privacy import install_log_redaction
from bot.staff import pages
from bot.store import db

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
ERROR_TEXTS = {
    400: "Något i förfrågan var fel. Gå tillbaka och försök igen.",
    404: pages.NO_PAGE,
    405: "Det går inte att göra så på den här sidan.",
    413: "Det du skickade var för stort.",
}
SERVER_ERROR = "Något gick fel hos oss. Försök igen om en stund."


def prepare_database(db_url: str) -> None:
    """Upgrades the schema and brings in the knowledge base's teams (bot.store.teams.sync_teams: adds,
    renames, never deletes), so that an admin can put staff in them and the bot can hand over to them."""
    from bot.store.teams import sync_teams
    from knowledge.loader import cached_knowledge

    db.upgrade(db_url)
    try:
        knowledge = cached_knowledge()
    except Exception:  # the pages work without it; the teams can come from `nara teams`
        logger.exception("Could not read the teams from the knowledge base")
        return
    with db.session(db_url) as s:
        sync_teams(s, knowledge)


def create_app(
    db_url: str | None = None,
    *,
    base_url: str = "http://localhost:8001",
    smtp: tuple[str, int] | None = None,
    secure_cookies: bool = True,
) -> Sanic:
    install_log_redaction()
    app = Sanic("nara_staff")
    app.config.REQUEST_MAX_SIZE = 1_000_000  # forms only; nothing here uploads files
    app.config.KEEP_ALIVE_TIMEOUT = 15
    app.ctx.db_url = db_url or db.database_url()
    app.ctx.base_url = base_url.rstrip("/")
    app.ctx.smtp = smtp
    app.ctx.secure_cookies = secure_cookies
    app.ctx.templates = pages.environment()
    app.ctx.database_ready = False

    @app.before_server_start
    async def _prepare(app: Sanic, _loop) -> None:
        # Once per app (the ASGI test client runs this event before every request).
        if not app.ctx.database_ready:
            prepare_database(app.ctx.db_url)
            app.ctx.database_ready = True

    app.register_middleware(pages.load_user, "request")

    @app.on_response
    async def _security_headers(request: Request, response: HTTPResponse) -> None:
        response.headers.update(SECURITY_HEADERS)
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"  # the pages show personal data

    @app.exception(Exception)
    async def _error(request: Request, exception: Exception) -> HTTPResponse:
        if request is not None and request.path.startswith("/api/"):
            return app.error_handler.default(request, exception)  # the API answers in JSON
        status = exception.status_code if isinstance(exception, SanicException) else 500
        if status >= 500:
            logger.exception("Error on %s", request.path if request is not None else "?", exc_info=exception)
            return pages.error_page(request, 500, SERVER_ERROR, title="Något gick fel")
        return pages.error_page(request, status, ERROR_TEXTS.get(status, ERROR_TEXTS[400]))

    app.static("/static", str(STATIC), name="static")
    app.blueprint(pages.blueprint())
    try:
        from bot.staff.api import api
    except ModuleNotFoundError as missing:
        if missing.name != "bot.staff.api":
            raise
    else:
        app.blueprint(api)
    return app
