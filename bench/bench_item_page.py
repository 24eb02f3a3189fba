"""Benchmark: the approver's item page (/erp/subcontractor_invoice/<id>) with a short and a long history.

    .venv/bin/python bench/bench_item_page.py [--requests 50] [--history 200]

Builds a throwaway stack (bench/_stack.py), seeds 100 invoices in Ready to Export, signs in as
an accounting approver and times one invoice's page after one rejection (its mail), edit and
resend, then after `--history` of them. The
page reads the history, its actors, the mails and the rejections in a fixed number of
statements, so both figures should show the same count. Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import Seeder, Stack, machine, make_users, table  # noqa: E402
from bench.bench_tab import RedisCounter, instrumented, measure  # noqa: E402


def grow_history(app, erp_id: int, approver_id: int, sender_id: int, n: int) -> None:
    """n rejections (with their mails), edits and resends on the item, as the services write them."""
    from portal.domain.models import ErpAudit, ErpEdit, OutboxMail, utcnow
    from portal.extensions import db
    at = utcnow()
    with app.app_context():
        rows: list = []
        for i in range(n):
            t = at + timedelta(seconds=3 * i)
            rows += [ErpAudit(erp_item_id=erp_id, actor_id=approver_id, at=t, action="reject", from_state="ready",
                              to_state="rejected", detail={"reason": f"Reason {i}"}),
                     OutboxMail(recipients="someone@example.com", subject=f"Rejection Notification {i}",
                                text_body="-", html_body="-", status="sent", erp_item_id=erp_id, created_at=t),
                     ErpEdit(erp_item_id=erp_id, actor_id=sender_id, at=t + timedelta(seconds=1),
                             changes=[{"key": "line:1:retainage", "label": "Retainage", "old": f"${i}.00",
                                       "new": f"${i + 1}.00", "line": "line 2"}]),
                     ErpAudit(erp_item_id=erp_id, actor_id=sender_id, at=t + timedelta(seconds=2), action="resend",
                              from_state="rejected", to_state="ready", detail={"changes": "Retainage"})]
        db.session.add_all(rows)
        db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--history", type=int, default=200)
    args = parser.parse_args()

    with Stack("item_page") as stack:
        app = stack.make_app()
        from portal.exporters.sage300.connectors import make_connector
        print("bench_item_page:", stack.describe())
        print("machine at start:", machine())
        approver_id, approver_name, sender_id = make_users(app)
        seeder = Seeder(app, make_connector(app.config).sim, sender_id=sender_id, erp_id_base=None)
        seeder.base()
        erp_id = seeder.invoices(100)[0]
        timed, sql, client = instrumented(app, approver_name)
        redis_counter = RedisCounter()
        url = f"/erp/subcontractor_invoice/{erp_id}"
        grow_history(app, erp_id, approver_id, sender_id, 1)
        short = measure(client, timed, sql, redis_counter, url, {}, args.requests)
        grow_history(app, erp_id, approver_id, sender_id, args.history - 1)
        long = measure(client, timed, sql, redis_counter, url, {}, args.requests)
        rows = [[label, f"{r['median']:.1f}", f"{r['p95']:.1f}", f"{r['queries']:.0f}", f"{r['kb']:.0f}"]
                for label, r in (("4 history rows + 1 mail", short),
                                 (f"{4 * args.history + 1} history rows + {args.history} mails", long))]
        print(table(["history", "median ms", "p95 ms", "statements", "KiB"], rows))
        print("same statement count:", "yes" if short["queries"] == long["queries"] else "NO")
    return 0


if __name__ == "__main__":
    sys.exit(main())
