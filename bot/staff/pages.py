"""The staff web pages: log in, the team's queue, one handover, and the admin pages.

Server-rendered HTML (Jinja2, autoescaped), no inline scripts or styles: the Content-Security-Policy
in bot/staff/app.py forbids them. Team scope comes from the data layer (`Viewer`): a handover outside
the viewer's scope is "not found", whoever asks. Everything a social worker reads is plain Swedish.

CSRF: a logged-in user's forms carry the session's CSRF token; the login form uses a double-submit
token (a cookie scoped to /login and the same value in a hidden field), since there is no session yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial, wraps
from pathlib import Path
from urllib.parse import unquote, urlencode
from zoneinfo import ZoneInfo

import jinja2
from email_validator import EmailNotValidError, validate_email
from sanic import Blueprint, Request
from sanic.exceptions import NotFound
from sanic.response import HTTPResponse, html, redirect, text
from sqlalchemy import select

from bot.store import db
from bot.store import staff as accounts
from bot.store.handovers import (
    RESIDENT,
    SYSTEM,
    TRANSITIONS,
    TransitionError,
    Viewer,
    access_log,
    get_handover,
    list_handovers,
    read_handover,
    transition,
)
from bot.store.models import Role, Staff, Status, Team, utcnow
from bot.text import has_control, without_control

TEMPLATES = Path(__file__).parent / "templates"
TZ = ZoneInfo("Europe/Stockholm")
SESSION_COOKIE = "nara_staff"
LOGIN_COOKIE = "nara_login"  # the login form's double-submit CSRF token
POLL_SECONDS = 10  # how often static/queue.js asks for the queue
ACCESS_LOG_LIMIT = 500
MAX_NOTE = 4000
MAX_USERNAME = 64
MAX_PASSWORD = 1024
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")
# Where the login page may send you on: a local path (no "//host", no scheme), e.g. an e-mail's link.
_SAFE_NEXT = re.compile(r"/(?![/\\])[A-Za-z0-9/_.-]*(\?[A-Za-z0-9=&_.-]*)?")

MONTHS = ("jan", "feb", "mars", "apr", "maj", "juni", "juli", "aug", "sep", "okt", "nov", "dec")
TOPICS = {
    "parenting": "Föräldraskap",
    "school_absence": "Skolfrånvaro",
    "loneliness": "Ensamhet",
    "relationships": "Relationer",
    "crime_worry": "Oro för kriminalitet",
    "violence": "Våld",
    "crisis": "Kris",
    "service": "Övrigt",
}
METHODS = {"phone": "Samtal", "sms": "SMS", "email": "E-post", "dropin": "Kommer till drop-in"}
STATUSES = {
    "new": "Ny",
    "claimed": "Tagen",
    "contacted": "Kontaktad",
    "closed": "Avslutad",
    "withdrawn": "Återkallad",
}
ROLES = {"social_worker": "Socialsekreterare", "team_lead": "Teamledare", "admin": "Administratör"}
EVENTS = {
    "created": "Ärendet kom in",
    "claimed": "Tog ärendet",
    "released": "Släppte ärendet",
    "contacted": "Kontakt tagen",
    "closed": "Avslutade ärendet",
    "withdrawn": "Markerade som återkallat",
    "erased": "Kontaktuppgifterna raderades",
}
VIA = {"page": "Webbsidan", "api": "API"}

# The buttons on a handover, in the order they are shown; each only where TRANSITIONS allows it.
BUTTONS = {
    Status.claimed: "Ta ärendet",
    Status.contacted: "Kontakt tagen",
    Status.closed: "Avsluta",
    Status.new: "Släpp ärendet",
    Status.withdrawn: "Återkallad",
}
DONE = {
    "claimed": "Du har tagit ärendet.",
    "new": "Du har släppt ärendet. Det ligger i kön igen.",
    "contacted": "Ärendet är markerat som kontaktat.",
    "closed": "Ärendet är avslutat. Kontaktuppgifterna är raderade.",
    "withdrawn": "Ärendet är markerat som återkallat. Kontaktuppgifterna är raderade.",
    "logout": "Du är utloggad.",
    "disabled": "Kontot är avstängt. Personen kan inte logga in längre.",
    "mailbox": "Teamets e-postadress är sparad.",
}

LOGIN_FAILED = "Fel användarnamn eller lösenord, eller så är kontot låst en stund."
EXPIRED = "Sidan har gått ut. Ladda om och försök igen."
NO_HANDOVER = "Ärendet finns inte eller så har du inte tillgång till det."
NO_PAGE = "Sidan finns inte."
OUTCOME_NEEDED = "Skriv vad som blev resultatet innan du avslutar ärendet."
ALREADY_CHANGED = (
    "Det gick inte, eftersom ärendet redan har ändrats. Kanske hann en kollega före. Här är ärendet som det ser ut nu."
)
UNKNOWN_ACTION = "Det går inte att göra så med ett ärende. Ladda om sidan och försök igen."
NOTE_TOO_LONG = f"Texten är för lång. Skriv högst {MAX_NOTE} tecken."


# --- formatting ---------------------------------------------------------------------------------


def local_time(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'22 nov 14:05' in Swedish time; with the year when it is not this year."""
    if value is None:
        return ""
    local = value.astimezone(TZ)
    this_year = (now or utcnow()).astimezone(TZ).year
    day = f"{local.day} {MONTHS[local.month - 1]}"
    if local.year != this_year:
        day += f" {local.year}"
    return f"{day} {local:%H:%M}"


def iso_time(value: dt.datetime | None) -> str:
    return value.astimezone(TZ).isoformat(timespec="minutes") if value is not None else ""


def topic_label(topic: str | None) -> str:
    return TOPICS.get(topic or "", "Övrigt")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        auto_reload=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        local_time=local_time,
        iso_time=iso_time,
        topic=topic_label,
        method=lambda value: METHODS.get(value, value),
        status=lambda value: STATUSES.get(value, value),
        role=lambda value: ROLES.get(value, value),
        event=lambda value: EVENTS.get(value, value),
        via=lambda value: VIA.get(value, value),
    )
    env.globals.update(STATUSES=STATUSES, ROLES=ROLES, POLL_SECONDS=POLL_SECONDS, MAX_NOTE=MAX_NOTE)
    return env


# --- who is asking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentUser:
    viewer: Viewer
    display_name: str
    team_name: str | None
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.viewer.role is Role.admin


async def load_user(request: Request) -> None:
    """Request middleware: request.ctx.user is the logged-in staff member, or None."""
    if hasattr(request.ctx, "user"):
        return  # already loaded (Sanic runs request middleware again when it handles an error)
    request.ctx.user = None
    if request.path.startswith(("/static/", "/api/")):
        return
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return
    with db.session(request.app.ctx.db_url) as s:
        row = accounts.session_for(s, token)
        if row is not None:
            staff = row.staff
            request.ctx.user = CurrentUser(
                viewer=Viewer.of(staff),
                display_name=staff.display_name,
                team_name=staff.team.name if staff.team is not None else None,
                csrf=row.csrf_token,
            )


def path_value(raw: str) -> str:
    """A name from the path (Sanic leaves path parameters percent-encoded). One with a control character
    is no one's name: it becomes "", which matches no account or team ("not found")."""
    value = unquote(raw)
    return "" if has_control(value) else value


def _same(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(given.encode(), expected.encode())


def _safe_next(value: str | None) -> str | None:
    return value if value and len(value) <= 200 and _SAFE_NEXT.fullmatch(value) else None


def _login_url(request: Request) -> str:
    target = request.path + (f"?{request.query_string}" if request.query_string else "")
    if target == "/" or not _safe_next(target):
        return "/login"
    return "/login?" + urlencode({"next": target})


Handler = Callable[..., Awaitable[HTTPResponse]]


def staff_only(*, admin: bool = False) -> Callable[[Handler], Handler]:
    """Logged-in staff only. GET without a session goes to the login page; a POST needs the
    session's CSRF token (403 otherwise, checked before anything else). With admin=True the page is
    "not found" for everyone but admins. (Handovers need no check here: the data layer's scope
    already hides every handover from an admin.)"""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: Request, *args, **kwargs) -> HTTPResponse:
            user: CurrentUser | None = request.ctx.user
            if request.method == "POST":
                if user is None or not _same(request.form.get("csrf"), user.csrf):
                    return expired_page(request)
            elif user is None:
                return redirect(_login_url(request), status=303)
            if admin and not user.is_admin:
                raise NotFound(NO_PAGE)
            return await handler(request, user, *args, **kwargs)

        return wrapper

    return decorate


# --- rendering ----------------------------------------------------------------------------------


def render(request: Request, template: str, *, status: int = 200, **context) -> HTTPResponse:
    context.setdefault("message", DONE.get(request.args.get("done", "")))
    context.setdefault("error", None)
    body = request.app.ctx.templates.get_template(template).render(user=getattr(request.ctx, "user", None), **context)
    return html(body, status=status)


def error_page(request: Request, status: int, message: str, *, title: str | None = None) -> HTTPResponse:
    titles = {403: "Sidan har gått ut", 404: "Sidan finns inte", 409: "Det gick inte"}
    return render(
        request,
        "error.html",
        status=status,
        title=title or titles.get(status, "Något gick fel"),
        text=message,
        message=None,
    )


def expired_page(request: Request) -> HTTPResponse:
    return error_page(request, 403, EXPIRED)


def _set_cookie(
    response: HTTPResponse, name: str, value: str, *, secure: bool, path: str = "/", max_age: int | None = None
) -> None:
    response.cookies[name] = value
    cookie = response.cookies[name]
    cookie["path"] = path
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    if secure:
        cookie["secure"] = True
    if max_age is not None:
        cookie["max-age"] = max_age


async def _in_thread(function, *args):
    """Blocking work (argon2 hashing) off the event loop, so that the queue keeps polling."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args))


def blueprint() -> Blueprint:
    """The pages, as a new blueprint for each app (the tests make many apps)."""
    bp = Blueprint("pages")

    # --- login and logout ---------------------------------------------------------------------

    def login_page(request: Request, token: str, *, error: str | None = None, status: int = 200) -> HTTPResponse:
        response = render(
            request,
            "login.html",
            status=status,
            csrf=token,
            next=_safe_next(request.form.get("next") if request.method == "POST" else request.args.get("next")),
            error=error,
        )
        _set_cookie(response, LOGIN_COOKIE, token, secure=request.app.ctx.secure_cookies, path="/login")
        return response

    @bp.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        if request.ctx.user is not None:
            return redirect(_safe_next(request.args.get("next")) or "/", status=303)
        token = request.cookies.get(LOGIN_COOKIE, "")
        return login_page(request, token if _TOKEN.fullmatch(token) else secrets.token_urlsafe(32))

    def log_in(db_url: str, username: str, password: str) -> str | None:
        with db.session(db_url) as s:
            staff = accounts.authenticate(s, username, password)
            if staff is None:
                return None
            accounts.purge_sessions(s)
            token, _ = accounts.start_session(s, staff)
            return token

    @bp.post("/login")
    async def login_submit(request: Request) -> HTTPResponse:
        token = request.cookies.get(LOGIN_COOKIE, "")
        if not _TOKEN.fullmatch(token) or not _same(request.form.get("csrf"), token):
            return expired_page(request)
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        session_token = None
        if len(username) <= MAX_USERNAME and len(password) <= MAX_PASSWORD:
            session_token = await _in_thread(log_in, request.app.ctx.db_url, username, password)
        if session_token is None:
            return login_page(request, token, error=LOGIN_FAILED)
        response = redirect(_safe_next(request.form.get("next")) or "/", status=303)
        secure = request.app.ctx.secure_cookies
        _set_cookie(response, SESSION_COOKIE, session_token, secure=secure)
        _set_cookie(response, LOGIN_COOKIE, "", secure=secure, path="/login", max_age=0)
        return response

    @bp.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        user: CurrentUser | None = request.ctx.user
        if user is not None and not _same(request.form.get("csrf"), user.csrf):
            return expired_page(request)
        with db.session(request.app.ctx.db_url) as s:
            accounts.end_session(s, request.cookies.get(SESSION_COOKIE))
        response = redirect("/login?done=logout", status=303)
        _set_cookie(response, SESSION_COOKIE, "", secure=request.app.ctx.secure_cookies, max_age=0)
        return response

    # --- the queue ----------------------------------------------------------------------------

    def status_filter(request: Request) -> Status | None:
        value = request.args.get("status", "")
        return Status(value) if value in STATUSES else None

    @bp.get("/")
    @staff_only()
    async def queue(request: Request, user: CurrentUser) -> HTTPResponse:
        if user.is_admin:
            return redirect("/admin", status=303)
        status = status_filter(request)
        with db.session(request.app.ctx.db_url) as s:
            return render(
                request,
                "queue.html",
                handovers=list_handovers(s, user.viewer, status),
                status_filter=status.value if status else "",
                fragment_url="/queue/fragment" + (f"?status={status.value}" if status else ""),
            )

    @bp.get("/queue/fragment")
    async def queue_fragment(request: Request) -> HTTPResponse:
        """The queue's table body, for static/queue.js: the same scope and filter as the page."""
        user: CurrentUser | None = request.ctx.user
        if user is None:
            return text("Du är inte inloggad.", status=401)
        if user.is_admin:
            raise NotFound(NO_PAGE)
        status = status_filter(request)
        with db.session(request.app.ctx.db_url) as s:
            body = request.app.ctx.templates.get_template("_queue_rows.html").render(
                handovers=list_handovers(s, user.viewer, status), status_filter=status.value if status else ""
            )
        return html(body)

    # --- one handover -------------------------------------------------------------------------

    def handover_page(
        request: Request, user: CurrentUser, code: str, *, status: int = 200, error: str | None = None
    ) -> HTTPResponse:
        with db.session(request.app.ctx.db_url) as s:
            handover = read_handover(s, user.viewer, code, via="page")
            if handover is None:
                return error_page(request, 404, NO_HANDOVER, title="Ärendet finns inte")
            actors = {event.actor for event in handover.events} - {RESIDENT, SYSTEM}
            names = dict(s.execute(select(Staff.username, Staff.display_name).where(Staff.username.in_(actors))).all())
            names.update({RESIDENT: "Invånaren", SYSTEM: "Nära"})
            allowed = TRANSITIONS[Status(handover.status)]
            buttons = [(to.value, label) for to, label in BUTTONS.items() if to in allowed]
            return render(
                request,
                "handover.html",
                status=status,
                handover=handover,
                names=names,
                buttons=buttons,
                error=error,
                message=None if error else DONE.get(request.args.get("done", "")),
            )

    @bp.get("/handovers/<code>")
    @staff_only()
    async def handover(request: Request, user: CurrentUser, code: str) -> HTTPResponse:
        return handover_page(request, user, code)

    @bp.post("/handovers/<code>/status")
    @staff_only()
    async def handover_status(request: Request, user: CurrentUser, code: str) -> HTTPResponse:
        wanted = request.form.get("to", "")
        note = without_control(request.form.get("note") or "").strip() or None  # as the store keeps it
        if wanted not in STATUSES:
            return handover_page(request, user, code, status=400, error=UNKNOWN_ACTION)
        to = Status(wanted)
        if note is not None and len(note) > MAX_NOTE:
            return handover_page(request, user, code, status=400, error=NOTE_TOO_LONG)
        try:
            with db.session(request.app.ctx.db_url) as s:
                moved = transition(s, user.viewer, code, to, note)
                if moved is None:
                    return error_page(request, 404, NO_HANDOVER, title="Ärendet finns inte")
                code = moved.code
                still_visible = get_handover(s, user.viewer, code) is not None
        except TransitionError:
            error = OUTCOME_NEEDED if to is Status.closed and note is None else ALREADY_CHANGED
            return handover_page(request, user, code, status=409, error=error)
        target = f"/handovers/{code}" if still_visible else "/"
        return redirect(f"{target}?done={to.value}", status=303)

    # --- admin ----------------------------------------------------------------------------------

    def admin_page(
        request: Request,
        user: CurrentUser,
        *,
        status: int = 200,
        error: str | None = None,
        secret: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> HTTPResponse:
        now = utcnow()
        with db.session(request.app.ctx.db_url) as s:
            staff = [
                {
                    "username": member.username,
                    "display_name": member.display_name,
                    "team": member.team.name if member.team is not None else None,
                    "role": member.role,
                    "disabled": member.disabled,
                    "locked_until": member.locked_until
                    if member.locked_until is not None and member.locked_until > now
                    else None,
                    "has_token": member.api_token_hash is not None,
                    "is_me": member.id == user.viewer.staff_id,
                }
                for member in accounts.list_staff(s)
            ]
            teams = list(s.scalars(select(Team).order_by(Team.name)))
        return render(
            request,
            "admin.html",
            status=status,
            staff=staff,
            teams=teams,
            error=error,
            secret=secret,
            form=form or {},
            message=None if (error or secret) else DONE.get(request.args.get("done", "")),
        )

    @bp.get("/admin")
    @staff_only(admin=True)
    async def admin(request: Request, user: CurrentUser) -> HTTPResponse:
        return admin_page(request, user)

    def add_account(db_url: str, form: dict[str, str]) -> str:
        with db.session(db_url) as s:
            _, password = accounts.add_staff(
                s,
                form["username"],
                team_id=form["team_id"] or None,
                role=form["role"],
                display_name=form["display_name"] or None,
            )
            return password

    @bp.post("/admin/staff")
    @staff_only(admin=True)
    async def admin_add_staff(request: Request, user: CurrentUser) -> HTTPResponse:
        form = {key: (request.form.get(key) or "").strip() for key in ("username", "display_name", "team_id", "role")}
        form["username"] = form["username"].lower()
        error = None
        if not form["username"] or len(form["username"]) > MAX_USERNAME:
            error = f"Skriv ett användarnamn på högst {MAX_USERNAME} tecken."
        elif not form["username"].replace(".", "").replace("-", "").replace("_", "").isalnum():
            error = "Användarnamnet får bara innehålla bokstäver, siffror, punkt, bindestreck och understreck."
        elif len(form["display_name"]) > 200:
            error = "Namnet är för långt. Skriv högst 200 tecken."
        elif form["role"] not in ROLES:
            error = "Välj en roll."
        elif form["role"] != Role.admin.value and not form["team_id"]:
            error = "Välj ett team. Socialsekreterare och teamledare hör till ett team."
        if error is None:
            try:
                password = await _in_thread(add_account, request.app.ctx.db_url, form)
            except ValueError:
                with db.session(request.app.ctx.db_url) as s:
                    taken = accounts.find_staff(s, form["username"]) is not None
                error = "Användarnamnet finns redan. Välj ett annat." if taken else "Välj ett team som finns."
        if error is not None:
            return admin_page(request, user, status=400, error=error, form=form)
        secret = {"kind": "password", "username": form["username"], "value": password}
        return admin_page(request, user, secret=secret)

    @bp.post("/admin/staff/<username>/disable")
    @staff_only(admin=True)
    async def admin_disable(request: Request, user: CurrentUser, username: str) -> HTTPResponse:
        username = path_value(username)
        if username.strip().lower() == user.viewer.username:
            return admin_page(request, user, status=400, error="Du kan inte stänga av ditt eget konto.")
        with db.session(request.app.ctx.db_url) as s:
            disabled = accounts.disable_staff(s, username)
        if disabled is None:
            raise NotFound(NO_PAGE)
        return redirect("/admin?done=disabled", status=303)

    @bp.post("/admin/staff/<username>/token")
    @staff_only(admin=True)
    async def admin_token(request: Request, user: CurrentUser, username: str) -> HTTPResponse:
        username = path_value(username)
        with db.session(request.app.ctx.db_url) as s:
            member = accounts.find_staff(s, username)
            if member is None:
                raise NotFound(NO_PAGE)
            token = None if member.disabled else accounts.issue_api_token(s, member)
            name = member.username
        if token is None:
            return admin_page(request, user, status=400, error="Kontot är avstängt och kan inte få en API-nyckel.")
        return admin_page(request, user, secret={"kind": "token", "username": name, "value": token})

    @bp.post("/admin/teams/<team_id>/mailbox")
    @staff_only(admin=True)
    async def admin_mailbox(request: Request, user: CurrentUser, team_id: str) -> HTTPResponse:
        team_id = path_value(team_id)
        mailbox = (request.form.get("mailbox") or "").strip()
        if mailbox:
            try:
                mailbox = validate_email(mailbox, check_deliverability=False).normalized
            except EmailNotValidError:
                return admin_page(
                    request, user, status=400, error="Skriv en giltig e-postadress, till exempel team@kommun.se."
                )
        with db.session(request.app.ctx.db_url) as s:
            team = s.get(Team, team_id)
            if team is None:
                raise NotFound(NO_PAGE)
            team.mailbox = mailbox or None
        return redirect("/admin?done=mailbox", status=303)

    @bp.get("/admin/access-log")
    @staff_only(admin=True)
    async def admin_access_log(request: Request, user: CurrentUser) -> HTTPResponse:
        with db.session(request.app.ctx.db_url) as s:
            rows = access_log(s, limit=ACCESS_LOG_LIMIT)
        return render(request, "access_log.html", rows=rows, limit=ACCESS_LOG_LIMIT)

    return bp
