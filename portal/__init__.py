"""ERP Integrations portal for Sage 300 CRE."""
from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine


def create_app(config: dict | None = None) -> Flask:
    """config -> extensions -> blueprints -> errors -> CLI."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(__name__, instance_path=os.environ.get("PORTAL_INSTANCE_PATH") or None,
                instance_relative_config=True,
                template_folder=os.path.join(root, "templates"),
                static_folder=os.path.join(root, "static"))
    os.makedirs(app.instance_path, exist_ok=True)

    from portal.config import from_env, limiter_storage_uri
    app.config.update(from_env(app.instance_path))
    if config:
        app.config.update(config)
        if "REDIS_URL" in config and "RQ_CONNECTION" not in config:
            app.config["RQ_CONNECTION"] = config["REDIS_URL"]
        if "REDIS_URL" in config and "RATELIMIT_STORAGE_URI" not in config:
            app.config["RATELIMIT_STORAGE_URI"] = limiter_storage_uri(config["REDIS_URL"])
    from portal.domain.backoff import EXPORT_RETRY, MAIL_RETRY, Backoff
    # bad waits stop the start with the variable named, not every export later
    for key, default in (("EXPORT_RETRY_DELAYS", EXPORT_RETRY), ("MAIL_RETRY_DELAYS", MAIL_RETRY)):
        try:
            app.config[key.removesuffix("_DELAYS")] = Backoff.parse(app.config[key], default)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("DATABASE_SCHEMA")))

    from portal.extensions import (
        CONTENT_SECURITY_POLICY,
        csrf,
        db,
        htmx,
        limiter,
        login_manager,
        mail,
        migrate,
        rq,
        talisman,
    )
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(root, "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    htmx.init_app(app)
    csrf.init_app(app)
    mail.init_app(app)
    rq.init_app(app)
    limiter.init_app(app)
    # Security headers on every response; HTTPS itself is the proxy's (or gunicorn's) to do:
    # HSTS is sent on HTTPS requests only, and the session cookie is Secure when configured.
    talisman.init_app(app, force_https=False, content_security_policy=CONTENT_SECURITY_POLICY,
                      frame_options="DENY", referrer_policy="strict-origin-when-cross-origin",
                      session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
                      session_cookie_http_only=True)

    if app.config["TRUSTED_PROXIES"]:
        # behind that many reverse proxies: the client's address (sign-in limits) and the
        # scheme (HSTS, secure cookies) come from their X-Forwarded-* headers
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    from portal import web
    web.init_app(app)

    from portal.blueprints.account.routes import bp as account_bp
    from portal.blueprints.admin.routes import bp as admin_bp
    from portal.blueprints.api.routes import bp as api_bp
    from portal.blueprints.audit.routes import bp as audit_bp
    from portal.blueprints.auth.routes import bp as auth_bp
    from portal.blueprints.billing.admin import bp as billing_admin_bp
    from portal.blueprints.billing.routes import bp as billing_bp
    from portal.blueprints.desk.routes import bp as desk_bp
    from portal.blueprints.erp.routes import bp as erp_bp
    from portal.blueprints.health.routes import bp as health_bp
    from portal.blueprints.imports.routes import bp as imports_bp
    from portal.blueprints.invoicing.routes import bp as invoicing_bp
    from portal.blueprints.items.routes import bp as items_bp
    from portal.blueprints.jobcosts.routes import bp as jobcosts_bp
    from portal.blueprints.projects.routes import bp as projects_bp
    from portal.blueprints.reconcile.routes import bp as reconcile_bp
    from portal.blueprints.reports.routes import bp as reports_bp
    from portal.blueprints.sage.routes import bp as sage_bp
    for bp in (auth_bp, erp_bp, projects_bp, admin_bp, items_bp, api_bp, jobcosts_bp, imports_bp, sage_bp,
               health_bp, account_bp, desk_bp, reports_bp, audit_bp, reconcile_bp, billing_bp, billing_admin_bp,
               invoicing_bp):
        app.register_blueprint(bp)

    from portal import cli
    cli.init_app(app)
    return app


def _engine_options(url: str, schema: str | None = None) -> dict:
    if url.startswith("sqlite"):
        # Several web threads and worker processes share one SQLite file.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    options: dict[str, object] = {"pool_pre_ping": True}
    if schema:  # the portal's tables in their own PostgreSQL schema
        options["connect_args"] = {"options": f"-csearch_path={schema}"}
    return options


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets readers run beside the worker's writes; foreign keys as on PostgreSQL."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
