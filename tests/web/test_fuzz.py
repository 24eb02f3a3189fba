"""No input gives a server error: a Hypothesis fuzz of every route of the app (tests/fuzzing.py enumerates
app.url_map), as each role that may reach it, with path ids, query strings and the route's own form
fields (crawled from the portal's pages) filled with hostile values. Every answer must be below 500,
and every error under /api/ JSON.

The test config turns CSRF off (tests/conftest.py); the fuzz turns it on and posts every form with
the CSRF token of its client's session, as a browser does. A few examples per route, each route with
a fixed seed of its own and without Hypothesis' database, so the run is the same on every machine and
bounded in time; bench/fuzz.py sends 10,000 and more.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from portal.domain import api_tokens
from tests import factories as f, fuzzing
from tests.web import roles
from tests.web.access_world import World
from tests.web.pages import changed_settings
from tests.web.test_access import ROLE_USERS as ACCESS_ROLE_USERS, restore_schedule, schedule_rows

ROLE_USERS = ACCESS_ROLE_USERS  # test_access's World sends its items as "sender"
EXAMPLES = 10   # per route: ~100 routes, ~1,000 requests
# @given sits on a function inside the test (one per route, with the route's own fixed seed), not on
# the test: no fixture is reset between examples; the requests are slow and large by design. No
# shrinking: a failure names its request as drawn, and a failing run stays bounded in time.
FUZZ = settings(max_examples=EXAMPLES, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# the fuzz's clients sign in from an address of their own: its refused sign-ins count against it only
FUZZ_ADDRESS = "198.51.100.77"


@pytest.fixture(scope="module")
def fuzz_tokens(app, people) -> dict:
    with f.app_session(app) as s:
        return {role: api_tokens.create_token(s, people[role].id, "fuzz") for role in roles.LOGGED_IN}


@pytest.fixture(scope="module")
def table(app, people, clients, fuzz_tokens):
    """The routes, crawled (tests/fuzzing.prepare)."""
    from portal.exporters.sage300.connectors import make_connector
    return fuzzing.prepare(app, make_connector(app.config).sim, people, clients, FUZZ_ADDRESS)


def test_the_fuzz_covers_every_route_but_static(app, table):
    """Every rule and method of the url_map is fuzzed but the skipped ones (each with its reason), and
    the crawl found the real form fields of the forms the portal shows."""
    found, skipped = table
    served = {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    assert {(r.rule, r.method) for r in found} | set(skipped) == served
    assert set(skipped) == {("/static/<path:filename>", "GET")}
    by_name = {r.name: r for r in found}
    assert {"reason"} <= set(by_name["POST /erp/<type_key>/<int:erp_item_id>/reject"].fields)
    assert {"username", "password"} <= set(by_name["POST /login"].fields)
    assert {"ids"} <= set(by_name["POST /erp/<type_key>/bulk-accept"].fields)
    assert by_name["GET /erp/<type_key>/<int:erp_item_id>/row"].seen


def test_no_input_gives_a_server_error(app, table, clients, fuzz_tokens, people, drain, monkeypatch):
    """EXAMPLES hostile requests per route, as the roles that may reach it, with CSRF on and the session's
    token in every form: no answer >= 500, every API error JSON. Company-wide settings and the sync
    schedule are put back afterwards."""
    found, _ = table
    fields = fuzzing.api_fields(found)
    failures: list[str] = []
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    csrf = {role: fuzzing.csrf_token(client) for role, client in clients.items() if role != roles.ANON}
    assert all(csrf.values()), csrf

    def fuzz(route):
        @seed(route.seed())
        @FUZZ
        @given(fuzzing.requests(route, fields))
        def one(request):
            try:
                response = fuzzing.answer(app, clients, csrf, fuzz_tokens, request, FUZZ_ADDRESS)
            except Exception as exc:  # the app let it out (TESTING propagates it): a 500, named with its request
                raise AssertionError(f"{type(exc).__name__}: {str(exc)[:200]} for {request}") from exc
            wrong = fuzzing.problem(request, response)
            assert wrong is None, wrong
        try:
            one()
        except Exception as exc:  # noqa: BLE001 - an exception the app let out is a 500 too: noted with its example
            notes = " ".join(getattr(exc, "__notes__", []))
            failures.append(f"{route.name}: {type(exc).__name__}: {str(exc)[:300]} {notes[:600]}")

    world = World(app, None, people)
    with f.app_session(app) as s:
        schedule = schedule_rows(s, world)
    try:
        with changed_settings(app, people["erp_admin_no_push"].id):
            for route in found:
                fuzz(route)
    finally:
        restore_schedule(world, schedule)
        drain()
    assert not failures, f"{len(failures)} routes answered >= 500 or non-JSON:\n  " + "\n  ".join(failures)
