"""Benchmark: the guide's reports (Accountant, Unsyncable Direct Costs), small and large.

    .venv/bin/python bench/bench_reports.py [--requests 20] [--small 100] [--large 10000]

Builds a throwaway stack (bench/_stack.py), seeds --small invoices in ERP Integrations
(bench/_stack.Seeder) and --small direct costs on a project whose cost codes have no categories
(so every one is unsyncable), signs in as an ERP Admin who is Admin on that project and times:

  accountant      GET /erp/reports/accountant                 (page 1, every type)
  accountant/typ  GET /erp/reports/accountant?type=subcontractor_invoice&status=ready
  accountant.csv  GET /erp/reports/accountant.csv?status=ready (every matching row)
  unsyncable      GET /erp/reports/unsyncable-direct-costs?project=<id>
  unsync/filter   the same with reason, type, dates and a search
  unsyncable.csv  GET /erp/reports/unsyncable-direct-costs.csv?project=<id>

then again after adding rows up to --large of each. Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import PASSWORD, Clock, Seeder, Stack, machine, median, pct, table, verdict  # noqa: E402
from bench.bench_job_costs import JobCostSeeder  # noqa: E402
from bench.bench_tab import SqlCounter, Timed  # noqa: E402


def measure(client, timed, sql, url, n, warmup=2):
    for _ in range(warmup):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
    server, queries, sizes = [], [], []
    for _ in range(n):
        sql.clear()
        r = client.get(url)
        server.append(timed.last)
        queries.append(len(sql.statements))
        sizes.append(len(r.get_data()))
    return dict(median=median(server) * 1000, p95=pct(server, 95) * 1000, queries=median(queries),
                kb=median(sizes) / 1024)


def admin_user(app, pid: int) -> str:
    """An ERP Admin who is Admin on the project: both reports."""
    from portal.domain.models import ProjectMember, ToolLevel
    from portal.extensions import db
    from tests.factories import make_user
    with app.app_context():
        user = make_user(db.session, erp_level=ToolLevel.ADMIN)
        db.session.add(ProjectMember(user_id=user.id, project_id=pid, level=ToolLevel.ADMIN))
        db.session.commit()
        name = user.username
        db.session.remove()
    return name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    args = parser.parse_args()

    clock = Clock()
    with Stack("reports") as stack:
        app = stack.make_app()
        from sqlalchemy import event

        from portal.exporters.sage300.connectors import make_connector
        from portal.extensions import db
        print("bench_reports:", stack.describe())
        print("machine at start:", machine())
        from bench._stack import make_users
        _a, _n, sender_id = make_users(app)
        seeder = Seeder(app, make_connector(app.config).sim, sender_id=sender_id)
        seeder.base()
        costs = JobCostSeeder(app)
        pid = costs.project("R")
        costs.job_cost_lines(pid, 40)  # cost codes without categories: every direct cost is unsyncable
        username = admin_user(app, pid)

        timed = Timed(app.wsgi_app)
        app.wsgi_app = timed
        sql = SqlCounter()
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", sql.before)
            event.listen(db.engine, "after_cursor_execute", sql.after)
        client = app.test_client()
        r = client.post("/login", data={"username": username, "password": PASSWORD})
        assert r.status_code == 303, r.get_data(as_text=True)[:300]
        urls = {
            "accountant": "/erp/reports/accountant",
            "accountant/typ": "/erp/reports/accountant?type=subcontractor_invoice&status=ready",
            "accountant.csv": "/erp/reports/accountant.csv?status=ready",
            "unsyncable": f"/erp/reports/unsyncable-direct-costs?project={pid}",
            "unsync/filter": f"/erp/reports/unsyncable-direct-costs?project={pid}&reason=cost_code&type=Invoice"
                             "&from=2025-02-01&to=2026-06-30&q=Transaction",
            "unsyncable.csv": f"/erp/reports/unsyncable-direct-costs.csv?project={pid}",
        }
        results = {}
        seeded = 0
        for label, n in (("small", args.small), ("large", args.large)):
            t = time.perf_counter()
            seeder.invoices(n - seeded)
            costs.direct_costs(pid, n)
            seeded = n
            seeder.analyze()
            print(f"seeded {n:,} items and {n:,} direct costs in {time.perf_counter() - t:.1f}s")
            results[label] = {name: measure(client, timed, sql, url, args.requests) for name, url in urls.items()}

    print()
    print(f"{args.requests} requests per variant after 2 warm-up (server time inside the app's WSGI callable)")
    rows = []
    for label, n in (("small", args.small), ("large", args.large)):
        for name, m in results[label].items():
            rows.append([f"{n:,}", name, f"{m['median']:.1f}", f"{m['p95']:.1f}", f"{m['queries']:g}",
                         f"{m['kb']:.0f}"])
    print(table(["rows", "request", "median ms", "p95 ms", "SQL/req", "KB"], rows))
    print()
    print("Targets")
    small, large = results["small"], results["large"]
    target_rows = []
    for name in urls:
        if name.endswith(".csv"):
            target_rows.append([name, f"median at {args.large:,} < 2000 ms", f"{large[name]['median']:.1f} ms",
                                verdict(large[name]["median"] < 2000)])
            continue
        target_rows.append([name, "same SQL statements per page", f"{small[name]['queries']:g} -> "
                            f"{large[name]['queries']:g}", verdict(small[name]["queries"] == large[name]["queries"])])
        target_rows.append([name, f"median at {args.large:,} < 150 ms", f"{large[name]['median']:.1f} ms",
                            verdict(large[name]["median"] < 150)])
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
