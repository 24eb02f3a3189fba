"""The API token upgrade (72d88b7bd591: names, expiry, revocation time, an audit table) on a database
built by the migrations as it was before (8e2b4d6f1a07), with tokens made the old way: they keep
working (or stay revoked) after the upgrade, are listed with sensible defaults, and the downgrade
and the upgrade again keep them so.

The database is the test's own: a new SQLite file, or on PostgreSQL (DATABASE_URL) a new schema,
dropped afterwards; the session's app and its database are not touched.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import flask_migrate
import pytest
from sqlalchemy import MetaData, create_engine, insert, inspect, select, text

from portal.domain import api_tokens
from portal.domain.models import utcnow
from tests.conftest import PG_URL, USE_PG

BEFORE, UPGRADE = "8e2b4d6f1a07", "72d88b7bd591"
UNNAMED = "token made before names"   # the name the upgrade gives a token that had none
EXISTING_TOKEN_DAYS = 90              # how long a token made before the upgrade keeps working


@pytest.fixture
def old_app(stack_env, tmp_path):
    """A portal app on a database of its own, migrated up to BEFORE (not further)."""
    from portal import create_app
    from portal.extensions import db
    schema = None
    if USE_PG:
        schema = f"migrations_{secrets.token_hex(4)}"
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path / 'before.db'}"
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SQLALCHEMY_DATABASE_URI": url,
                      "DATABASE_SCHEMA": schema})
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if schema:
            engine = create_engine(PG_URL)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()


def _revision(app) -> str | None:
    from portal.extensions import db
    with app.app_context(), db.engine.connect() as conn:
        return conn.scalar(text("SELECT version_num FROM alembic_version"))


def _head(app) -> str:
    from alembic.script import ScriptDirectory
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        return ScriptDirectory.from_config(config).get_current_head()


def _old_tokens(app) -> tuple[int, dict[str, tuple[int, str]]]:
    """A user and three tokens as the portal made them before the upgrade (no expiry, a `revoked`
    flag): named and in use, unnamed, revoked. Written with the tables as the database has them."""
    from portal.extensions import db
    with app.app_context(), db.engine.begin() as conn:
        tables = MetaData()
        tables.reflect(bind=conn, only=["user_account", "api_token"])
        assert "expires_at" not in tables.tables["api_token"].c  # the old shape indeed
        user_id = conn.execute(insert(tables.tables["user_account"]).values(
            username=f"u{secrets.token_hex(6)}", name="Pat Integrator", email="pat@example.com",
            password_hash="!", is_site_admin=False, erp_level="standard", can_push_to_accounting=False,
            active=True, session_token=secrets.token_hex(16))).inserted_primary_key[0]
        made = {}
        for key, name, revoked in (("named", "pm-system", False), ("unnamed", "", False),
                                   ("revoked", "old-system", True)):
            secret = api_tokens.PREFIX + secrets.token_urlsafe(32)
            token_id = conn.execute(insert(tables.tables["api_token"]).values(
                user_id=user_id, name=name, token_hash=hashlib.sha256(secret.encode()).hexdigest(),
                created_at=utcnow() - timedelta(days=400), last_used_at=None, revoked=revoked)
            ).inserted_primary_key[0]
            made[key] = (token_id, secret)
    return user_id, made


def _api(app, secret: str):
    return app.test_client().get("/api/v1/types", headers={"Authorization": f"Bearer {secret}"})


def _check_upgraded(app, user_id: int, made, upgraded_at: datetime) -> None:
    """Each old token as the new code reads it: listed, working or not as before."""
    from portal.extensions import db
    with app.app_context():
        rows = {row.id: row for row in api_tokens.tokens_of(db.session(), user_id)}
        db.session.remove()
    named, unnamed, revoked = (rows[made[key][0]] for key in ("named", "unnamed", "revoked"))
    assert (named.name, unnamed.name, revoked.name) == ("pm-system", UNNAMED, "old-system")
    assert (named.status, unnamed.status, revoked.status) == ("active", "active", "revoked")
    for row in (named, unnamed):
        # the old tokens keep working for a while, then expire like any other: not forever
        due = upgraded_at + timedelta(days=EXISTING_TOKEN_DAYS)
        assert due - timedelta(minutes=5) <= row.expires_at <= due + timedelta(minutes=5), row.expires_at
        assert row.revoked_at is None
    assert revoked.revoked_at is not None
    assert _api(app, made["named"][1]).status_code == 200
    refused = _api(app, made["revoked"][1])
    assert refused.status_code == 401 and "revoked" in refused.get_json()["error"]


def test_old_api_tokens_survive_the_upgrade_and_the_round_trip(old_app):
    user_id, made = _old_tokens(old_app)
    upgraded_at = utcnow()
    with old_app.app_context():
        flask_migrate.upgrade()
    assert _revision(old_app) == _head(old_app)
    _check_upgraded(old_app, user_id, made, upgraded_at)
    from portal.extensions import db
    with old_app.app_context():
        assert "api_token_audit" in inspect(db.engine).get_table_names()

    with old_app.app_context():
        flask_migrate.downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            inspector = inspect(conn)
            assert "api_token_audit" not in inspector.get_table_names()
            columns = {c["name"] for c in inspector.get_columns("api_token")}
            flags = dict(conn.execute(select(text("id"), text("revoked")).select_from(text("api_token"))).all())
        db.engine.dispose()  # SQLite's batch operations copied the table: no cached statement
    assert _revision(old_app) == BEFORE
    assert {"expires_at", "revoked_at"}.isdisjoint(columns) and "revoked" in columns
    assert {made[k][0]: bool(flags[made[k][0]]) for k in ("named", "unnamed", "revoked")} == {
        made["named"][0]: False, made["unnamed"][0]: False, made["revoked"][0]: True}

    again = utcnow()
    with old_app.app_context():
        flask_migrate.upgrade()
    assert _revision(old_app) == _head(old_app)
    _check_upgraded(old_app, user_id, made, again)
