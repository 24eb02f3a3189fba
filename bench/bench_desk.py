"""Benchmark: the Needs attention desk (GET /attention/) at 100 and 10,000 items.

    .venv/bin/python bench/bench_desk.py [--requests 30] [--small 100] [--large 10000]

Builds a throwaway stack (bench/_stack.py), bulk-seeds subcontractor invoices and puts them
in the states the desk reads: of every 20, 2 Rejected (with a reason and the approver), 1
Failed to Export (Sage's "Job has been closed."), 1 Ready to Export for 5 days (stuck), the
rest Ready to Export just now (not listed). An invoice administrator, Admin on half of the
20 projects, signs in through the Flask test client; the desk is timed as a page, as the
filter's htmx fragment, filtered by a project, and the navigation's count on another page
(the projects list). Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import PASSWORD, Seeder, Stack, machine, make_users, table, verdict  # noqa: E402
from bench.bench_job_costs import measure  # noqa: E402
from bench.bench_tab import SqlCounter, Timed, analyze  # noqa: E402

QUERY_TARGET = 10          # SQL statements per desk request, whatever the number of items
MS_TARGET = 150.0          # median server time of the desk page at the large size


def shape(app, erp_ids: list[int], approver_id: int) -> None:
    """Put the seeded items in the desk's states (see the module)."""
    from sqlalchemy import update

    from portal.domain.models import ErpItem, utcnow
    from portal.extensions import db
    E, now = ErpItem.__table__, utcnow()
    by_state: dict[str, list[int]] = {"rejected": [], "failed": [], "stuck": [], "fresh": []}
    kinds = ["rejected", "rejected", "failed", "stuck"] + ["fresh"] * 16   # of every 20
    for n, erp_id in enumerate(erp_ids):
        by_state[kinds[n % 20]].append(erp_id)
    with app.app_context(), db.engine.begin() as conn:
        for kind, values in (
                ("rejected", dict(state="rejected", reject_reason="Retainage should be 10%", decided_by_id=approver_id,
                                  decided_at=now - timedelta(hours=1))),
                ("failed", dict(state="failed", sage_message="Job has been closed.", decided_by_id=approver_id,
                                decided_at=now - timedelta(hours=2), attempt=1)),
                ("stuck", dict(sent_at=now - timedelta(days=5))),
                ("fresh", dict(sent_at=now))):
            ids = by_state[kind]
            for start in range(0, len(ids), 900):
                conn.execute(update(E).where(E.c.id.in_(ids[start:start + 900])).values(**values))


def invoice_admin(app) -> tuple[str, list[int]]:
    """A user who is Admin on every other project (the other half only Read Only)."""
    from sqlalchemy import select

    from portal.domain.models import Project, ProjectMember, ToolLevel
    from portal.extensions import db
    from tests.factories import make_user
    with app.app_context():
        user = make_user(db.session, name="Ivy Invoiceadmin")
        projects = list(db.session.scalars(select(Project.id).order_by(Project.id)))
        admin_on = projects[::2]
        for pid in projects:
            db.session.add(ProjectMember(user_id=user.id, project_id=pid,
                                         level=ToolLevel.ADMIN if pid in admin_on else ToolLevel.READ_ONLY))
        db.session.commit()
        name = user.username
        db.session.remove()
    return name, admin_on


def run(client, timed, sql, n_requests, project_id):
    variants = [("desk page", "/attention/", {}), ("desk fragment", "/attention/", {"HX-Request": "true"}),
                ("one project", f"/attention/?project={project_id}", {"HX-Request": "true"}),
                ("projects page (nav count)", "/projects/", {})]
    return {name: measure(client, timed, sql, url, headers, n_requests) for name, url, headers in variants}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    args = parser.parse_args()

    with Stack("desk") as stack:
        app = stack.make_app()
        from sqlalchemy import event

        from portal.exporters.sage300.connectors import make_connector
        from portal.extensions import db
        print("bench_desk:", stack.describe())
        print("machine at start:", machine())
        approver_id, _, sender_id = make_users(app)
        seeder = Seeder(app, make_connector(app.config).sim, sender_id=sender_id)
        seeder.base()
        username, admin_on = invoice_admin(app)

        timed = Timed(app.wsgi_app)
        app.wsgi_app = timed
        sql = SqlCounter()
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", sql.before)
            event.listen(db.engine, "after_cursor_execute", sql.after)
        client = app.test_client()
        r = client.post("/login", data={"username": username, "password": PASSWORD})
        assert r.status_code == 303 and r.location.endswith("/"), r.status_code
        assert client.get("/").location.endswith("/attention/"), "the invoice administrator lands on the desk"

        results = {}
        t = time.perf_counter()
        ids = seeder.invoices(args.small)
        shape(app, ids, approver_id)
        analyze(app)
        print(f"seeded {args.small} items in {time.perf_counter() - t:.1f}s")
        results[args.small] = run(client, timed, sql, args.requests, admin_on[0])
        t = time.perf_counter()
        more = seeder.invoices(args.large - args.small)
        shape(app, more, approver_id)
        analyze(app)
        print(f"seeded {args.large - args.small} more items in {time.perf_counter() - t:.1f}s")
        results[args.large] = run(client, timed, sql, args.requests, admin_on[0])

    print()
    print(f"As an invoice administrator (Admin on {len(admin_on)} of the projects), {args.requests} requests "
          "after 3 warm-up; about a tenth of the items need attention, half of them on the user's projects")
    rows = [[f"{n:,}", name, f"{m['median']:.1f}", f"{m['p95']:.1f}", f"{m['sql']:.1f}",
             f"{m['queries']:g}" + ("" if m["qmax"] == m["queries"] else f" (max {m['qmax']})"), f"{m['kb']:.0f}"]
            for n, res in results.items() for name, m in res.items()]
    print(table(["items", "request", "median ms", "p95 ms", "in SQL ms", "SQL/req", "KB"], rows))
    print()
    print(f"SQL statements of one desk page at {args.large:,}:")
    for s in results[args.large]["desk page"]["statements"]:
        print("   ", " ".join(s.split())[:120])
    small, large = results[args.small]["desk page"], results[args.large]["desk page"]
    print()
    print("Targets")
    print(table(["target", "figure", "verdict"], [
        [f"same SQL/req at {args.small:,} and {args.large:,}", f"{small['queries']:g} / {large['queries']:g}",
         verdict(small["queries"] == large["queries"])],
        [f"SQL/req <= {QUERY_TARGET}", f"{large['queries']:g}", verdict(large["queries"] <= QUERY_TARGET)],
        [f"desk page median <= {MS_TARGET:g} ms at {args.large:,}", f"{large['median']:.1f} ms",
         verdict(large["median"] <= MS_TARGET)],
    ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
