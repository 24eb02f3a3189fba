"""Web plumbing shared by every blueprint: page-or-fragment rendering, errors, login."""
from __future__ import annotations

from collections.abc import Iterable
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, flash, make_response, redirect, render_template, request, url_for
from flask_htmx.responses import HTMXResponseClientRedirect
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block

from portal.domain import health, policy
from portal.domain.errors import DomainError, Invalid
from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel, User
from portal.domain.types import REGISTRY
from portal.domain.values import mmddyyyy, money
from portal.exporters.sage300.records import ConnectorUnavailable
from portal.extensions import db, htmx, login_manager
from portal.health_probe import RQHealthProbe


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

    @login_manager.unauthorized_handler
    def unauthorized():
        if htmx:
            # Back to the page the user was on, never to the fragment URL htmx asked for.
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            same_site = current.netloc in ("", request.host)
            back = (current.path + (f"?{current.query}" if current.query else "")) if same_site else ""
            target = url_for("auth.login", next=back or None)
            # Never swap a login form into a table cell: send the whole page to the login.
            return HTMXResponseClientRedirect(target)
        target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        flash("Please sign in to continue.", "info")
        return redirect(target)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        text = exc.message or "That could not be done."
        if htmx:
            return message_fragment(text, exc.status)
        return make_response(render_template("error.html", status=exc.status, text=text),
                             exc.status)

    @app.errorhandler(ConnectorUnavailable)
    def sage_unavailable(exc: ConnectorUnavailable):
        """Sage (the simulator's database, the drop folder) cannot be reached: say so, change nothing."""
        text = f"Sage 300 CRE cannot be reached right now ({exc}). Nothing was changed; try again later."
        if htmx:
            return message_fragment(text, 503)
        return make_response(render_template("error.html", status=503, text=text), 503)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        text = "The form had expired. Reload the page and try again."
        if htmx:
            return message_fragment(text, 400)
        return make_response(render_template("error.html", status=400, text=text), 400)

    @app.errorhandler(404)
    def not_found(_exc):
        if htmx:
            return message_fragment("Not found.", 404)
        return make_response(render_template("error.html", status=404, text="Not found."), 404)

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
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["setting_value"] = setting_value
    app.jinja_env.filters["mmddyyyy"] = mmddyyyy
    app.jinja_env.filters["datetime"] = lambda d: d.strftime("%m/%d/%Y %H:%M") if d else ""


def setting_value(value) -> str:
    """A setting as people read it: on/off, and one entry per item of a group."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {setting_value(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def form_errors(exc: Invalid) -> dict:
    return exc.fields or {"_": exc.message}

