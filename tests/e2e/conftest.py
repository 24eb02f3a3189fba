"""Browser tests: Debian's Chromium against a live portal (CSRF on) and a real RQ worker.

The stack is the session's (tests/conftest.py `stack_env`): the same database, Redis queue
and SMTP inbox as the `app` fixture, so tests create their data with the factories through
`session` / `sim` and watch it move in the browser. Exports and mail really go through
Redis -> `flask worker` (a subprocess) -> the Sage simulator / the aiosmtpd inbox.
"""
from __future__ import annotations

import os
import re
import secrets
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.e2e.helpers import flask_command
from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
HERE = Path(__file__).resolve().parent
SKIP_REASON = "browser tests skipped: install Debian's chromium (apt-get install chromium) to run them"
TIMEOUT_MS = 10_000


def _chromium_missing() -> bool:
    return not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK))


def pytest_collection_modifyitems(config, items):
    """Skip every test of this folder (with the reason in the -ra summary) without Chromium."""
    if not _chromium_missing():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--headless", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def live_server(live_portal):
    """The live portal's address."""
    return live_portal.url


@pytest.fixture
def precheck_on(live_portal):
    """The live portal with the pre-check before Accept (SAGE_PRECHECK: on in the portal, off in the tests)."""
    was = live_portal.app.config["SAGE_PRECHECK"]
    live_portal.app.config["SAGE_PRECHECK"] = True
    yield
    live_portal.app.config["SAGE_PRECHECK"] = was


@pytest.fixture
def precheck_off(live_portal):
    """The live portal without the pre-check before Accept (SAGE_PRECHECK), for a test about
    what Sage answers on Export to an item it refuses (the pre-check would disable Export)."""
    was = live_portal.app.config["SAGE_PRECHECK"]
    live_portal.app.config["SAGE_PRECHECK"] = False
    yield
    live_portal.app.config["SAGE_PRECHECK"] = was


@pytest.fixture(scope="session")
def live_portal(app, stack_env):
    """A second portal instance with CSRF on, served by werkzeug in a daemon thread: its url and app.

    Created after `stack_env` (and after `app` migrated the database), so it reads the same
    database, Redis queue and SMTP settings from os.environ.
    """
    from werkzeug.serving import WSGIRequestHandler, make_server

    from portal import create_app
    from portal.extensions import db

    live = create_app({"RQ_ASYNC": True})
    assert live.config.get("WTF_CSRF_ENABLED", True), "the browser must meet CSRF protection"
    assert not live.config.get("TESTING")

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # one line per request drowns failures
            pass

    server = make_server("127.0.0.1", 0, live, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-portal", daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", app=live)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    with live.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def rq_worker(app, stack_env, tmp_path_factory):
    """`flask --app app worker` as a subprocess on this run's queue, for one test module.

    Module scope, not session: in a whole-suite run this folder is collected before
    tests/integration, whose `drain` fixture must be the only worker on the queue.
    """
    from rq import Worker

    from portal.extensions import rq

    name = f"e2e-{os.getpid()}-{secrets.token_hex(3)}"
    with app.app_context():
        connection = next(iter(rq.queues.values())).connection
    # The worker stops first (on exit): it holds a connection to the (possibly embedded) Redis.
    with flask_command(["worker", "--name", name], tmp_path_factory.mktemp("worker")) as proc:
        deadline = time.monotonic() + 30
        while not any(w.name == name for w in Worker.all(connection=connection)):
            if proc.poll() is not None:
                raise RuntimeError(f"the RQ worker exited with {proc.returncode}:\n"
                                   + proc.log_path.read_text(errors="replace")[-4000:])
            if time.monotonic() > deadline:
                raise RuntimeError("the RQ worker did not register within 30 s:\n"
                                   + proc.log_path.read_text(errors="replace")[-4000:])
            time.sleep(0.1)
        yield proc


@pytest.fixture(scope="session")
def base_url(live_server):
    """pytest-playwright's base_url: every page.goto("/...") goes to the live portal."""
    return live_server


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on its test (item.rep_call...), for fixtures that explain a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _refusal(response) -> str:
    """A 4xx/5xx answer the page received, with what it said (its messages and field errors)."""
    said = ""
    try:
        said = " | ".join(re.findall(r'class="(?:field-error|msg [a-z]+)"[^>]*>([^<]{1,200})', response.text()))
    except Exception:   # noqa: BLE001 - a body already gone (a navigation) explains nothing
        pass
    return f"{response.status} {response.request.method} {response.url} {said}".strip()


@pytest.fixture
def open_as(new_context, base_url, request):
    """open_as(user) -> a Page in a fresh browser context, signed in through the login form.
    Anything the Content-Security-Policy blocks on the way (an inline script or style, a
    foreign source) fails the test at its end. When the test fails, the error answers its pages
    received are printed with it (what the portal refused, and why), and the requests that were
    never answered."""
    from playwright.sync_api import expect
    blocked: list[str] = []
    refused: list = []
    asked: dict = {}        # POSTs sent and not answered yet
    failed: list[str] = []  # requests that never got an answer (aborted, connection lost)

    def open_(user, password: str = PASSWORD):
        context = new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.on("response", lambda response: refused.append(response) if response.status >= 400 else None)
        page.on("request", lambda r: asked.__setitem__(id(r), r) if r.method == "POST" else None)
        page.on("requestfinished", lambda r: asked.pop(id(r), None))
        page.on("requestfailed", lambda r: failed.append(f"{r.method} {r.url}: {r.failure}"))
        page.goto("/login")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.get_by_text(user.name, exact=False).first).to_be_visible()
        page.wait_for_load_state("load")
        page.wait_for_function("() => window.htmx !== undefined")  # clicks are htmx's from here
        return page
    yield open_
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:
        if refused:
            print("error answers the pages received:", *(_refusal(r) for r in refused), sep="\n  ")
        if asked or failed:
            print("requests never answered:", *(f"{r.method} {r.url}" for r in asked.values()), *failed, sep="\n  ")
    assert not blocked, f"blocked by the Content-Security-Policy: {blocked}"


@pytest.fixture(autouse=True, scope="session")
def _expect_timeout():
    from playwright.sync_api import expect
    expect.set_options(timeout=TIMEOUT_MS)
