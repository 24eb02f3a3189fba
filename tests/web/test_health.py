"""The health page, /healthz, and the notice beside Exporting rows while no worker runs, on the real
stack (the session's database and Redis). Who may open which is in test_access.py's matrix; the
checks' thresholds are in tests/unit/test_health_checks.py.

The queue's facts are the session's own, which other tests change (a worker another test killed
looks alive until its registration expires): a test that needs them known gets a queue of its own
(`quiet`), a real one on the same Redis; `unreachable` swaps in a Redis that is not there. A live
worker is a real RQ worker registration (`alive`), removed after.
"""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue, Worker

from portal import health_probe, jobs
from portal.domain import health, recovery
from portal.domain.lifecycle import State
from portal.domain.models import utcnow
from portal.health_probe import RQHealthProbe
from portal.queue import default_queue
from tests import factories as f, items as it
from tests.types import REGISTRY, get_type
from tests.web.pages import HX, World, is_fragment, is_page, text

KEY = "subcontractor_invoice"
NOTICE_URL = "/health/worker-notice"
RED_WITHOUT_REDIS = {"redis", "workers", "queue", "scheduler"}


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


@contextmanager
def alive(queue: Queue):
    """A worker registered on the queue (as `flask worker` registers itself) for the block."""
    worker = Worker([queue], connection=queue.connection, name=f"health-{f.suffix(8)}")
    worker.register_birth()
    try:
        yield worker
    finally:
        worker.register_death()


@pytest.fixture
def quiet(app, monkeypatch):
    """The health probe (the page, /healthz, the notice, the reaper's tick) on a queue of its own."""
    with app.app_context():
        connection = default_queue().connection
    queue = Queue(f"health-{f.suffix(8)}", connection=connection)
    monkeypatch.setattr(health_probe, "default_queue", lambda: queue)
    yield queue
    queue.connection.delete(health_probe.tick_key(queue))


@pytest.fixture
def unreachable(app, monkeypatch, tmp_path):
    """The health probe on a Redis that is not there (a socket no server listens on), failing at once."""
    gone = Redis(unix_socket_path=str(tmp_path / "no-redis.sock"), retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(health_probe, "default_queue", lambda: Queue("gone", connection=gone))


def healthz(client) -> tuple[int, dict, dict]:
    response = client.get("/healthz")
    body = response.get_json()
    assert set(body["checks"]) == set(health.CHECKS), body
    return response.status_code, body, response.headers


# ---- /healthz ---------------------------------------------------------------------------------

def test_healthz_says_red_while_no_worker_runs_yet_keeps_the_web_in_with_200(app, quiet):
    """No sign-in; the fault shows while it lasts: no worker (red), a worker, gone again (red).
    The web still serves pages meanwhile: 200, so a load balancer keeps it."""
    client = app.test_client()
    with app.app_context():
        RQHealthProbe().record_tick()
    status, body, headers = healthz(client)
    assert (status, body["status"], body["checks"]["workers"]) == (200, health.RED, health.RED)
    with alive(quiet):
        status, body, headers = healthz(client)
        assert status == 200 and body["status"] != health.RED, body
        must_be_green = ("database", "redis", "sage", "workers", "queue", "scheduler")
        assert {name: body["checks"][name] for name in must_be_green} == dict.fromkeys(must_be_green, health.GREEN)
        assert headers["Cache-Control"] == "no-store"
    assert healthz(client)[1]["checks"]["workers"] == health.RED


def test_healthz_is_503_with_redis_red_when_redis_cannot_be_reached(app, unreachable):
    status, body, _ = healthz(app.test_client())
    assert (status, body["status"]) == (503, health.RED)
    assert {name for name, s in body["checks"].items() if s == health.RED} == RED_WITHOUT_REDIS
    assert body["checks"]["database"] == health.GREEN


@pytest.fixture
def no_database(stack_env, tmp_path):
    """The portal on a database that cannot be opened (the session's Redis and Sage)."""
    from portal import create_app
    from portal.extensions import db
    broken = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'gone' / 'portal.db'}"})
    yield broken
    with broken.app_context():
        db.engine.dispose()


def test_healthz_is_503_not_500_when_the_database_cannot_be_reached(no_database):
    status, body, _ = healthz(no_database.test_client())
    assert (status, body["status"]) == (503, health.RED)
    assert {"database", "exports", "mails", "syncs"} <= {n for n, s in body["checks"].items() if s == health.RED}
    assert body["checks"]["redis"] == health.GREEN


# ---- the page ---------------------------------------------------------------------------------

def test_the_page_shows_each_check_with_its_status_in_words_and_refreshes_itself(clients, quiet):
    with alive(quiet) as worker:
        body = text(clients["site_admin"].get("/admin/health"))
        assert is_page(body)
        for name, label in health.CHECKS.items():
            assert f'id="check-{name}"' in body and f">{label} <span class=\"badge health-" in body, name
        assert '<section class="check health-green" id="check-workers"' in body
        assert f"<td>{worker.name}</td>" in body                               # the workers table
        assert '<span class="badge health-amber">Warning</span>' in body       # the scheduler never ticked
        assert "The scheduler has not ticked yet." in body
        fragment = text(clients["erp_admin_no_push"].get("/admin/health", headers=HX))
    assert is_fragment(fragment) and fragment.strip().startswith('<div id="health"')
    assert 'hx-trigger="every 5s"' in fragment
    after = text(clients["site_admin"].get("/admin/health", headers=HX))
    assert '<section class="check health-red" id="check-workers"' in after and health.NO_WORKER in after


def test_the_page_says_why_when_redis_cannot_be_reached(clients, unreachable):
    body = text(clients["site_admin"].get("/admin/health"))
    assert "Redis cannot be reached: Error " in body and health.QUEUE_DOWN in body
    assert '<span class="badge health-red">Fault</span>' in body


def test_the_health_link_is_in_the_menu_of_site_admins_and_erp_admins_only(clients):
    shown = {role for role, client in clients.items()
             if role != "anonymous" and 'href="/admin/health"' in text(client.get("/projects/"))}
    assert shown == {"site_admin", "erp_admin_no_push"}


# ---- the notice beside Exporting rows -----------------------------------------------------------

def generic_project_type() -> str:
    return next(k for k in REGISTRY if get_type(k).scope == "project" and not it.builder(k).own_pages)


def exporting_pages(world) -> dict[str, tuple[str, str, dict | None]]:
    """Every page that shows the world's Exporting items: (role, url, headers)."""
    invoice, other = world.item(KEY, State.EXPORTING), world.item(generic_project_type(), State.EXPORTING)
    return {
        "tab": ("approver", f"/erp/{KEY}?q={invoice.number}", None),
        "tab (htmx)": ("standard", f"/erp/{KEY}?q={invoice.number}", HX),
        "project invoices": ("project_admin", it.list_url(KEY, invoice.pid), None),
        "invoice page": ("project_readonly", it.item_url(invoice), None),
        f"project {other.key} list": ("project_admin", it.list_url(other.key, other.pid), None),
    }


def notices(clients, pages) -> dict[str, str | None]:
    """The notice each page shows (None: none)."""
    found = {}
    for name, (role, url, headers) in pages.items():
        response = clients[role].get(url, headers=headers)
        assert response.status_code == 200, (name, response.status_code)
        body = text(response)
        shown = [n for n in (health.NO_WORKER, health.QUEUE_DOWN) if n in body]
        assert len(shown) <= 1 and (not shown or f'role="status" hx-get="{NOTICE_URL}"' in body), name
        found[name] = shown[0] if shown else None
    return found


def test_pages_with_exporting_rows_say_no_worker_is_running_until_one_is(clients, world, quiet):
    """On a queue of its own: a worker another test killed looks alive on the session's queue until
    its registration expires (minutes)."""
    pages = exporting_pages(world)
    assert notices(clients, pages) == dict.fromkeys(pages, health.NO_WORKER)
    poll = clients["project_admin"].get(NOTICE_URL, headers=HX)
    assert poll.status_code == 200 and health.NO_WORKER in text(poll) and 'hx-trigger="every 5s"' in text(poll)
    with alive(quiet):
        assert notices(clients, pages) == dict.fromkeys(pages)
        gone = clients["project_admin"].get(NOTICE_URL, headers=HX)
        assert (gone.status_code, gone.get_data()) == (286, b"")   # the notice removes itself, polling stops
    assert clients["approver"].get(NOTICE_URL, headers=HX).status_code == 200


def test_the_notice_says_the_queue_is_down_and_only_pages_with_exporting_rows_ask(clients, world, unreachable):
    pages = exporting_pages(world)
    assert notices(clients, pages) == dict.fromkeys(pages, health.QUEUE_DOWN)
    quiet_pages = {"synced tab": ("approver", f"/erp/{KEY}?filter=synced&q={world.token}", None),
                   "empty list": ("project_admin", it.list_url(KEY, world.another_home().pid), None)}
    assert notices(clients, quiet_pages) == dict.fromkeys(quiet_pages)   # Redis was not asked


# ---- the scheduler's tick ------------------------------------------------------------------------

def test_the_reaper_records_the_schedulers_tick_but_not_when_a_worker_starts(app, quiet, monkeypatch):
    monkeypatch.setattr(recovery, "reap", lambda *args, **kwargs: recovery.Reaped())  # the reaper's work: its own tests
    with app.app_context():
        probe = RQHealthProbe()
        assert probe.last_tick() is None
        jobs.reap(scheduled=False)   # a worker starting
        assert probe.last_tick() is None
        jobs.reap()                  # the scheduler's tick
        tick = probe.last_tick()
        check = health.scheduler_check(tick, utcnow(), health.Limits.from_config(app.config).reap_every)
    assert check.status == health.GREEN and check.reason.startswith("The scheduler ticked "), check


def test_a_killed_worker_stops_counting_once_its_registration_expires(app, quiet):
    """Killed, a worker stays in the queue's set of workers (RQ prunes it only in another worker's
    maintenance) but its key expires with its heartbeats: neither the notice nor the page count it."""
    with app.app_context():
        probe = RQHealthProbe()
        worker = Worker([quiet], connection=quiet.connection, name=f"health-{f.suffix(8)}")
        worker.register_birth()
        try:
            assert (probe.live_workers(), [w.name for w in probe.workers()]) == (1, [worker.name])
            quiet.connection.delete(worker.key)   # what the key's expiry does to a killed worker
            assert quiet.connection.sismember(f"rq:workers:{quiet.name}", worker.key)
            assert (probe.live_workers(), probe.workers()) == (0, [])
        finally:
            worker.register_death()
