"""Web plumbing shared by every blueprint: page-or-fragment rendering, errors, login, the ids and
pages a URL may name, where a `next` may send the browser."""
from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, datetime
from functools import wraps
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.json.provider import DefaultJSONProvider
from flask_htmx.responses import HTMXResponseClientRedirect
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from portal.domain import health, policy, settings
from portal.domain.errors import DomainError, Invalid
from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel, User
from portal.domain.notifications import Notices
from portal.domain.signed import Links
from portal.domain.types import REGISTRY
from portal.domain.values import local_time, mmddyyyy, money, parse_search, refuse_unstorable, setting_value
from portal.exporters.sage300.records import ConnectorUnavailable
from portal.extensions import db, htmx, login_manager
from portal.health_probe import RQHealthProbe

# The largest id or page number a URL may name: PostgreSQL's integer (SQLite's is 2^63-1; one
# bound for both, so both stacks answer the same 404).
MAX_ID = 2**31 - 1
API_PREFIX = "/api/"
# the session's sign-in time and last request (seconds since the epoch)
SESSION_STARTED = "started"
SESSION_SEEN = "seen"
# where an invoice contact may go (contacts_stay_in_billing)
CONTACT_BLUEPRINTS = frozenset({"billing", "auth", "account"})
# ... and the contact's own pages of the invoicing blueprint (the rest of it is the administrator's)
CONTACT_ENDPOINTS = frozenset({"invoicing.contact_new_invoice", "invoicing.contact_edit_invoice",
                               "invoicing.contact_invoice", "invoicing.contact_submit", "invoicing.pdf", "static"})


class BoundedInt(IntegerConverter):
    """Flask's `int` for every route: ASCII digits only, at most MAX_ID, so an id the database
    cannot hold is a 404 rather than an overflow (500) in the query. A 404 straight away: a
    ValidationError would let Werkzeug answer 405 where a sibling rule takes another method."""

    regex = r"[0-9]+"

    def to_python(self, value: str) -> int:
        digits = value.lstrip("0")
        if len(digits) > len(str(MAX_ID)) or int(digits or "0") > MAX_ID:  # int() refuses 4,300+ digits
            raise NotFound()
        return super().to_python(value)


def page_arg() -> int:
    """The `page` query parameter: 1 when absent, not a number or below 1; a page beyond MAX_ID
    is a 404, like an id beyond it (it must not reach SQL as an OFFSET that overflows)."""
    page = request.args.get("page", 1, type=int)
    if page > MAX_ID:
        abort(404)
    return max(1, page)


def search_arg(name: str = "q") -> str:
    """A search query parameter (values.parse_search: at most SEARCH_MAX characters and no control
    character, else a 422 naming it)."""
    return parse_search(request.args.get(name), name)


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site ("/x?y"), else None: no scheme or host, no
    "//" or backslash (browsers read "/\\host" as "//host"), no control character (browsers drop a
    tab or newline, so "/<tab>/host" is "//host"; a CR LF would break the Location header)."""
    if not target or not target.startswith("/") or "\\" in target:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in target) or target.startswith("//"):
        return None
    parts = split_url(target)
    if parts is None or parts.scheme or parts.netloc:
        return None
    return target


def split_url(url: str) -> SplitResult | None:
    """urlsplit, or None for a URL it cannot read ("http://[" raises ValueError: a bracket opens
    an IPv6 host that never closes)."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def json_error(status: int, message: str, fields: dict | None = None):
    """The JSON API's error body: {"error": ..., "fields": {field: what is wrong}}."""
    body: dict[str, object] = {"error": message}
    if fields:
        body["fields"] = fields
    return jsonify(body), status


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def error_answer(status: int, text: str, fields: dict | None = None):
    """An error as the client reads it: JSON under /api/, a message for htmx, else the error page."""
    if is_api_request():
        return json_error(status, text, fields)
    if htmx:
        return message_fragment(text, status)
    return make_response(render_template("error.html", status=status, text=text), status)


def wants_fragment() -> bool:
    """An htmx request that is neither boosted nor a history restore gets only the block."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(template: str, block: str | None = None, status: int = 200, **context):
    """One template per page: the named block for htmx, the whole page otherwise."""
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    return make_response(body, status)


def worker_notice(states: Iterable[str]) -> str | None:
    """What a page whose rows are in `states` says when no worker would export them: one call
    to Redis, made only when a row is Exporting (templates/_worker_notice.html shows it)."""
    return health.worker_notice(states, RQHealthProbe())


def csv_download(text: str, filename: str):
    """A CSV text as a download named `filename`."""
    response = make_response(text)
    response.mimetype = "text/csv"
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response


def message_fragment(text: str, status: int, level: str = "error"):
    """A message swapped into the page's #messages area, whatever element made the request."""
    response = make_response(render_template("_message.html", text=text, level=level), status)
    response.headers["HX-Retarget"] = "#messages"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


def see_other(endpoint: str, **values):
    """303 after a non-GET, as a client redirect for htmx requests."""
    url = url_for(endpoint, **values)
    if htmx:
        return HTMXResponseClientRedirect(url)
    return redirect(url, code=303)


def require(action: str):
    """Decorator: the current user must be allowed `action` (no project context)."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not policy.can(current_user, action):
                return forbidden()
            return view(*args, **kwargs)
        return wrapped
    return decorator


def forbidden(text: str = "You do not have permission to do that."):
    if htmx:
        return message_fragment(text, 403)
    return make_response(render_template("error.html", status=403, text=text), 403)


def init_app(app: Flask) -> None:
    # before any blueprint adds its rules: every <int:...> of the app is bounded
    app.url_map.converters["int"] = BoundedInt
    app.json = JSONProvider(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."

    @login_manager.user_loader
    def load_user(token: str):
        user_id, _, session_token = token.partition(":")
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.active or user.session_token != session_token:
            return None
        return user

    @app.before_request
    def session_expiry():
        """Sign out a session idle longer than SESSION_IDLE_MINUTES or older than
        PERMANENT_SESSION_LIFETIME; the request then goes on as anonymous."""
        if "_user_id" not in session:
            return
        now = int(time.time())
        idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
        lifetime = current_app.permanent_session_lifetime.total_seconds()
        seen, started = session.get(SESSION_SEEN), session.get(SESSION_STARTED)
        if (not isinstance(seen, int) or not isinstance(started, int)
                or now - seen > idle or now - started > lifetime):
            logout_user()
            session.clear()
            flash("Your session has ended; please sign in again.", "info")
            return
        if now - seen >= 30:  # not every request rewrites the cookie
            session[SESSION_SEEN] = now

    @login_manager.unauthorized_handler
    def unauthorized():
        if htmx:
            # Back to the page the user was on, never to the fragment URL htmx asked for.
            current = split_url(request.headers.get("HX-Current-URL", ""))
            same_site = current is not None and current.netloc in ("", request.host)
            back = (current.path + (f"?{current.query}" if current.query else "")) if current and same_site else ""
            target = url_for("auth.login", next=back or None)
            # Never swap a login form into a table cell: send the whole page to the login.
            return HTMXResponseClientRedirect(target)
        target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        flash("Please sign in to continue.", "info")
        return redirect(target)

    @app.before_request
    def contacts_stay_in_billing():
        """An invoice contact (a subcontractor's billing person) reaches their billing pages, their
        account and signing in and out; every other page is refused, whatever the page itself checks."""
        if (current_user.is_authenticated and current_user.is_invoice_contact
                and (request.blueprint or "") not in CONTACT_BLUEPRINTS and request.endpoint not in CONTACT_ENDPOINTS):
            return forbidden("Invoice contacts see their billing pages only.")

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return error_answer(exc.status, exc.message or "That could not be done.", exc.fields)

    @app.errorhandler(ConnectorUnavailable)
    def sage_unavailable(exc: ConnectorUnavailable):
        """Sage (the simulator's database, the drop folder) cannot be reached: say so, change nothing."""
        return error_answer(503, f"Sage 300 CRE cannot be reached right now ({exc}). Nothing was changed; "
                                 "try again later.")

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_answer(400, "The form had expired. Reload the page and try again.")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        size = f" (at most {limit / (1024 * 1024):g} MB)" if limit else ""
        return error_answer(413, f"That request is too large{size}. Nothing was changed.")

    @app.before_request
    def refuse_control_characters():
        """One discipline for every text a client posts (form fields, JSON strings): a control
        character (a NUL byte...) is a 422 naming the field, before any view reads it."""
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if request.is_json:
            refuse_unstorable(_json_texts(request.get_json(silent=True)))
        else:
            refuse_unstorable({key: "".join(values) for key, values in request.form.lists()})

    @app.errorhandler(404)
    def not_found(_exc):
        return error_answer(404, "Not found.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        """Any other HTTP error, and an unexpected exception (a 500): JSON under /api/, Werkzeug's page elsewhere."""
        if is_api_request():
            return json_error(exc.code or 500, exc.description or exc.name)
        return exc

    @app.after_request
    def vary(response):
        for header in ("HX-Request", "HX-Boosted", "HX-History-Restore-Request"):
            response.vary.add(header)  # pages and fragments share URLs
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.context_processor
    def helpers():
        return {"can": policy.can, "policy": policy, "State": State, "ToolLevel": ToolLevel,
                "item_types": REGISTRY, "money": money, "mmddyyyy": mmddyyyy}

    from portal.exporters.sage300.troubleshooting import explain
    app.jinja_env.globals["explain"] = explain
    # The shared macros (POST buttons with their CSRF token) in every template and fragment.
    app.jinja_env.globals["ui"] = app.jinja_env.get_template("_macros.html").module
    # Sage's words on a failed export (its text, cause and solution), wherever one is shown.
    app.jinja_env.globals["sage"] = app.jinja_env.get_template("_sage.html").module
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["setting_value"] = setting_value
    app.jinja_env.filters["mmddyyyy"] = mmddyyyy
    # every time on the company's clock with its zone's name ("12/07/2026 3:04 PM EST")
    app.jinja_env.filters["datetime"] = lambda d: local_time(d, company_zone()) if d else ""
    app.jinja_env.globals["company_zone_name"] = lambda: str(company_zone())


def company_zone() -> ZoneInfo:
    """The company's time zone (the Settings page's, else COMPANY_TIME_ZONE), read once a request."""
    if "company_zone" not in g:
        g.company_zone = settings.company_zone(db.session(), current_app.config.get("COMPANY_TIME_ZONE"))
    return g.company_zone


def _json_texts(body) -> dict[str, str]:
    """Every string of a JSON body by where it sits ("lines.0.description"); walked with a list, not
    by recursion, so a body nested as deep as the parser allows cannot exhaust the stack."""
    texts: dict[str, str] = {}
    pending = [("", body)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            texts[path or "body"] = value
            continue
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        pending.extend((f"{path}.{key}" if path else str(key), inner) for key, inner in items)
    return texts


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a body nested deeper than Python's parser can follow (RecursionError) is
    invalid JSON like any other: a 400, or None from get_json(silent=True), never a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None


def notices() -> Notices:
    """What the approvers' notices need from this request: the company, the portal's address, the queue."""
    from portal.queue import RQJobQueue
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return Notices(company=current_app.config["COMPANY_NAME"], base_url=base.rstrip("/"), queue=RQJobQueue())


def links() -> Links:
    """How mailed links are made here: the portal's public address and the key that signs them."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return Links(base_url=base.rstrip("/"), secret=current_app.config["SECRET_KEY"])


def company_today() -> date:
    """Today on the company's clock (company_zone): billing periods start and fall due by it."""
    return datetime.now(company_zone()).date()


def start_session(user: User) -> None:
    """Sign `user` in on a fresh session, for PERMANENT_SESSION_LIFETIME at most."""
    session.clear()
    login_user(user)
    session.permanent = True  # the cookie lasts PERMANENT_SESSION_LIFETIME, no longer
    session[SESSION_STARTED] = session[SESSION_SEEN] = int(time.time())


def form_errors(exc: Invalid) -> dict:
    return exc.fields or {"_": exc.message}

