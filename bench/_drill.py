"""Helpers of the fault drills (bench/faults.py): the real `flask serve` process set of one
drill, its processes found in /proc, an SMTP server that records what it receives, a Redis
of the drill's own, and the figures read back from the databases.

Only processes this drill started are ever signalled: a process is the drill's when its
environment carries the drill's PORTAL_INSTANCE_PATH (a temp dir of its own).
"""
from __future__ import annotations

import email
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime

from bench._stack import ROOT, Clock, Seeder, Stack, machine, make_users

COMPANY = "Bench Builders"

INVOICE_NO = re.compile(r"INV-\d{7}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_utc() -> datetime:
    """Naive UTC, like the portal's timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


# ---- the drill's processes ------------------------------------------------------------------

def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def drill_processes(instance_path: str) -> dict[int, list[str]]:
    """pid -> argv of every process whose environment has this PORTAL_INSTANCE_PATH."""
    marker = f"PORTAL_INSTANCE_PATH={instance_path}".encode()
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        if marker not in _read(f"/proc/{name}/environ").split(b"\0"):
            continue
        argv = [a.decode(errors="replace") for a in _read(f"/proc/{name}/cmdline").split(b"\0") if a]
        if argv:
            found[int(name)] = argv
    return found


def role(argv: list[str]) -> str:
    if any("supervisord" in a for a in argv):
        return "supervisord"
    if "gunicorn" in argv:
        return "web"
    if any("flask" in a for a in argv):
        for r in ("worker", "scheduler"):
            if r in argv:
                return r
    return "other"


class Serve:
    """`python -m flask --app app serve` (supervisord: gunicorn, workers, the scheduler) in
    its own session, with the drill's environment; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, tmp: str, env: dict[str, str]):
        self.env = env
        self.instance = env["PORTAL_INSTANCE_PATH"]
        self.port = int(env["PORT"])
        self.log_path = os.path.join(tmp, "serve.log")
        self.proc: subprocess.Popen | None = None

    def start(self, workers: int, timeout: float = 120) -> float:
        """Start and wait until gunicorn answers and every worker has registered with RQ;
        returns the start-up time."""
        t0 = time.perf_counter()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "serve"],
                                         cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline, web = time.perf_counter() + timeout, False
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"flask serve exited ({self.proc.returncode}):\n{self.tail()}")
            web = web or self.http_ok()
            if web and self.pids("scheduler") and len(self.registered_workers()) >= workers:
                return time.perf_counter() - t0
            time.sleep(0.5)
        self.stop()   # never leave a half-started process set behind
        raise RuntimeError(f"flask serve not ready within {timeout}s:\n{self.tail()}")

    def http_ok(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/login", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def registered_workers(self) -> list:
        """RQ's workers on the drill's queue whose process is one of the drill's (alive)."""
        import redis
        from rq import Queue, Worker
        try:
            conn = redis.Redis.from_url(self.env["REDIS_URL"], socket_timeout=5)
            queue = Queue(self.env["RQ_QUEUE"], connection=conn)
            ours = set(self.pids("worker"))
            return [w for w in Worker.all(connection=conn, queue=queue) if w.pid in ours]
        except Exception:  # noqa: BLE001 - Redis down: none known
            return []

    def busy_workers(self) -> list[int]:
        """Pids of the drill's workers RQ shows busy (running a job)."""
        return [w.pid for w in self.registered_workers() if w.get_state() == "busy"]

    def processes(self) -> dict[int, str]:
        return {pid: role(argv) for pid, argv in drill_processes(self.instance).items()}

    def pids(self, which: str) -> list[int]:
        return sorted(pid for pid, r in self.processes().items() if r == which)

    def stop(self) -> str:
        """SIGTERM to supervisord; after 10 s SIGKILL whatever of the drill is left."""
        if self.proc is None:
            return "not started"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
            how = "stopped on SIGTERM"
        except subprocess.TimeoutExpired:
            how = "SIGKILL after 10 s"
            self.proc.kill()
            self.proc.wait()
        time.sleep(0.5)
        left = drill_processes(self.instance)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if left:
            how += f"; {len(left)} leftover process(es) killed"
        return how

    def tail(self, n: int = 40) -> str:
        return "\n".join(_read(self.log_path).decode(errors="replace").splitlines()[-n:])


# ---- SMTP -------------------------------------------------------------------------------------

class Inbox:
    """An aiosmtpd handler that records each message: (time, recipients, subject, invoice numbers)."""

    def __init__(self):
        self.messages: list[tuple[datetime, tuple[str, ...], str, tuple[str, ...]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        text = []
        for part in msg.walk():
            if not part.is_multipart():
                payload = part.get_payload(decode=True) or b""
                text.append(payload.decode(errors="replace"))
        numbers = tuple(sorted(set(INVOICE_NO.findall("\n".join(text)))))
        with self.lock:
            self.messages.append((now_utc(), tuple(sorted(envelope.rcpt_tos)), str(msg["Subject"]), numbers))
        return "250 OK"

    def by_invoice(self) -> Counter:
        with self.lock:
            return Counter(n for m in self.messages for n in m[3])

    def by_recipient_subject(self) -> Counter:
        with self.lock:
            return Counter((",".join(m[1]), m[2]) for m in self.messages)


class Smtp:
    """aiosmtpd on a fixed port that can be stopped (connection refused) and started again."""

    def __init__(self, inbox: Inbox, port: int | None = None):
        self.inbox, self.port = inbox, port or free_port()
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        for _ in range(20):
            try:
                self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
                self.controller.start()
                return
            except Exception:  # noqa: BLE001 - the port may linger a moment after a stop
                time.sleep(0.5)
        raise RuntimeError(f"SMTP server could not start on port {self.port}")

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


# ---- a Redis of the drill's own ----------------------------------------------------------------

class OwnRedis:
    """redis-server on a free TCP port with an append-only file in a dir of its own; killed and
    started again on the same port and data."""

    def __init__(self, tmp: str):
        self.dir = os.path.join(tmp, "own-redis")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.binary = "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
        if self.binary is None:
            from portal.embedded_redis import server_binary
            self.binary = server_binary()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> None:
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", self.dir, "--appendonly", "yes", "--save", "",
                                      "--daemonize", "no"], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        import redis
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=1).ping():
                    return
            except redis.exceptions.RedisError:
                time.sleep(0.1)
        raise RuntimeError("own redis-server did not start")

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ---- figures from the databases --------------------------------------------------------------

def states(app, erp_ids) -> Counter:
    from sqlalchemy import func, select

    from portal.domain.models import ErpItem
    from portal.extensions import db
    ids = list(erp_ids)
    out: Counter = Counter()
    with app.app_context():
        with db.engine.connect() as conn:
            for i in range(0, len(ids), 900):
                for state, n in conn.execute(select(ErpItem.state, func.count()).where(
                        ErpItem.id.in_(ids[i:i + 900])).group_by(ErpItem.state)):
                    out[state] += n
    return out


def last_synced_at(app, erp_ids) -> datetime | None:
    from sqlalchemy import func, select

    from portal.domain.models import ErpItem
    from portal.extensions import db
    ids, last = list(erp_ids), None
    with app.app_context():
        with db.engine.connect() as conn:
            for i in range(0, len(ids), 900):
                t = conn.scalar(select(func.max(ErpItem.synced_at)).where(ErpItem.id.in_(ids[i:i + 900])))
                if t and (last is None or t > last):
                    last = t
    return last


def system_requeues(app) -> int:
    """Requeues the reaper audited (actor: the system)."""
    from sqlalchemy import func, select

    from portal.domain.models import ErpAudit
    from portal.extensions import db
    with app.app_context():
        with db.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(ErpAudit).where(
                ErpAudit.action == "requeue", ErpAudit.actor_id.is_(None))) or 0


def sage_duplicates(app, sim) -> dict:
    """Sage's AP invoices: how many, how many (vendor, invoice) pairs more than once, how many
    invoice numbers more than once (any vendor), and how many portal items failed because
    Sage already held the invoice (what a second import of one item would look like)."""
    from sqlalchemy import func, select

    from portal.domain.models import ErpItem
    from portal.exporters.sage300.simulator.schema import invoice_t
    from portal.extensions import db
    with sim.engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(invoice_t)) or 0
        pairs = select(invoice_t.c.Vendor, invoice_t.c.Invoice).group_by(
            invoice_t.c.Vendor, invoice_t.c.Invoice).having(func.count() > 1).subquery()
        dup_pairs = conn.scalar(select(func.count()).select_from(pairs)) or 0
        numbers = select(invoice_t.c.Invoice).group_by(invoice_t.c.Invoice).having(func.count() > 1).subquery()
        dup_numbers = conn.scalar(select(func.count()).select_from(numbers)) or 0
    with app.app_context():
        with db.engine.connect() as conn:
            already = conn.scalar(select(func.count()).select_from(ErpItem).where(
                ErpItem.state == "failed", func.lower(ErpItem.sage_message).like("%already%"))) or 0
    return dict(total=total, pairs=dup_pairs, numbers=dup_numbers, already=already)


def stuck_jobs(app, erp_ids) -> Counter:
    """Where the job of each still-Exporting item is, by RQ's status: in the queue's list, in
    its intermediate list (a worker took it with BLMOVE and died before starting it), in the
    started registry (with seconds until that entry expires), or nowhere."""
    from rq.registry import StartedJobRegistry
    from sqlalchemy import select

    from portal.domain.models import ErpItem
    from portal.extensions import db
    from portal.queue import RQJobQueue, default_queue, redis_job_id
    ids = list(erp_ids)
    out: Counter = Counter()
    with app.app_context():
        rows = []
        for i in range(0, len(ids), 900):
            rows += db.session.execute(select(ErpItem.job_id, ErpItem.retry_at).where(
                ErpItem.id.in_(ids[i:i + 900]), ErpItem.state == "exporting")).all()
        statuses = RQJobQueue().statuses([r.job_id or "" for r in rows])
        queue = default_queue()
        conn = queue.connection
        listed = {j.decode() for j in conn.lrange(queue.key, 0, -1)}
        middle = {j.decode() for j in conn.lrange(queue.intermediate_queue_key, 0, -1)}
        wip = {}
        for member, score in conn.zrange(StartedJobRegistry(queue=queue).key, 0, -1, withscores=True):
            wip[member.decode().split(":")[0]] = score
        expiring: dict[str, list[float]] = {}
        for job_id in dict.fromkeys(r.job_id or "" for r in rows if not r.retry_at):
            rid = redis_job_id(job_id)
            where = " and ".join(name for name, keys in (("queue list", listed), ("intermediate list", middle),
                                                         ("started registry", wip)) if rid in keys) or "nowhere"
            key = f"job {statuses.get(job_id)} ({where})"
            out[key] += 1
            if rid in wip:
                expiring.setdefault(key, []).append(wip[rid] - time.time())
        for key, left in expiring.items():   # when RQ's cleanup would first see them abandoned
            out[f"{key[:-1]}, entry expires in {min(left):.0f}-{max(left):.0f} s)"] = out.pop(key)
        db.session.remove()
    n_retry = sum(1 for r in rows if r.retry_at)
    if n_retry:
        out["items waiting for a retry"] = n_retry
    return out


# ---- a drill: stack, app, users, invoices, the serve process set ----------------------------

@contextmanager
def environment(extra: dict[str, str]):
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Drill:
    """A stack, its app (this process), users, seeded invoices and the serve process set."""

    def __init__(self, stack: Stack, n_invoices: int, workers: int):
        import logging

        from portal.exporters.sage300.connectors import make_connector
        # this process's own "could not queue" tracebacks (the fault drills cause them on purpose)
        logging.getLogger("portal").setLevel(logging.CRITICAL)
        self.stack, self.workers = stack, workers
        self.app = stack.make_app()
        self.sim = make_connector(self.app.config).reader
        self.approver_id, _, self.sender_id = make_users(self.app)
        erp_base = random.randrange(10**6, 10**9) if stack.external_redis else None
        self.seeder = Seeder(self.app, self.sim, sender_id=self.sender_id, erp_id_base=erp_base)
        self.seeder.base()
        self.reserve = self.seeder.invoices(n_invoices)
        self.seeder.analyze()
        self.schedule(enabled=())
        self.serve = Serve(stack.tmp, dict(os.environ))

    def take(self, n: int) -> list[int]:
        ids, self.reserve = self.reserve[:n], self.reserve[n:]
        return ids

    def schedule(self, enabled=(), due_at=None) -> None:
        """Only the named syncs scheduled (due at `due_at`); the rest off, so the scheduler's
        first tick does not start every sync of a new portal."""
        from sqlalchemy import update

        from portal.domain import sync
        from portal.domain.sage_models import SyncSchedule
        from portal.extensions import db
        with self.app.app_context():
            sync.schedules(db.session)
            db.session.execute(update(SyncSchedule).values(enabled=False))
            for key in enabled:
                db.session.execute(update(SyncSchedule).where(SyncSchedule.kind == key)
                                   .values(enabled=True, interval_minutes=15, next_run_at=due_at))
            db.session.commit()
            db.session.remove()

    def accept(self, ids: list[int]) -> tuple[int, float]:
        from portal.domain import services
        from portal.domain.models import User
        from portal.extensions import db
        from portal.queue import RQJobQueue
        with self.app.app_context():
            t0 = time.perf_counter()
            accepted, _errors = services.accept_many(db.session, db.session.get(User, self.approver_id),
                                                     "subcontractor_invoice", ids, RQJobQueue())
            elapsed = time.perf_counter() - t0
            db.session.remove()
        return len(accepted), elapsed

    def reject(self, erp_id: int) -> tuple[str, float]:
        from portal.domain import services
        from portal.domain.models import User
        from portal.extensions import db
        from portal.queue import RQJobQueue
        with self.app.app_context():
            t0 = time.perf_counter()
            rejected = services.reject(db.session, db.session.get(User, self.approver_id), erp_id,
                                       "Fault drill: wrong amount", RQJobQueue(), COMPANY,
                                       lambda erp: f"http://portal.bench/erp/{erp.id}")
            elapsed = time.perf_counter() - t0
            db.session.remove()
        return rejected.mail, elapsed

    def start(self) -> float:
        return self.serve.start(self.workers)


def base_env(port: int, workers: int) -> dict[str, str]:
    return {"PORT": str(port), "WORKERS": str(workers), "WEB_WORKERS": "1", "WEB_THREADS": "2"}


def footer(clock: Clock, serve: Serve, stopped: str) -> None:
    print(f"\nserve: {stopped}; total run time {clock():.0f}s; machine at end: {machine()}")


def sync_after(app, kind: str, since) -> tuple[int, object]:
    """Scheduled runs of `kind` created after `since`, and the first finish time among them."""
    from sqlalchemy import func, select

    from portal.domain.sage_models import SyncRun
    from portal.extensions import db
    with app.app_context():
        with db.engine.connect() as conn:
            row = conn.execute(select(func.count(), func.min(SyncRun.finished_at)).where(
                SyncRun.kind == kind, SyncRun.trigger == "schedule", SyncRun.created_at >= since,
                SyncRun.status == "done")).one()
    return row[0], row[1]


def outbox_rows(app):
    from sqlalchemy import select

    from portal.domain.models import OutboxMail
    from portal.extensions import db
    with app.app_context():
        with db.engine.connect() as conn:
            return conn.execute(select(OutboxMail.id, OutboxMail.status, OutboxMail.attempts,
                                       OutboxMail.next_attempt_at, OutboxMail.created_at, OutboxMail.sent_at,
                                       OutboxMail.text_body, OutboxMail.subject, OutboxMail.recipients)
                                .order_by(OutboxMail.id)).all()


def mail_check(app, inbox: Inbox) -> dict:
    """Outbox rows against what the SMTP server received, per invoice number."""
    from bench._drill import INVOICE_NO
    rows = outbox_rows(app)
    got = inbox.by_invoice()
    numbers = [tuple(sorted(set(INVOICE_NO.findall(r.text_body)))) for r in rows]
    once = sum(1 for ns in numbers if ns and all(got[n] == 1 for n in ns))
    twice = sum(1 for ns in numbers if any(got[n] > 1 for n in ns))
    missing = sum(1 for ns in numbers if not ns or any(got[n] == 0 for n in ns))
    return dict(rows=len(rows), sent=sum(r.status == "sent" for r in rows), once=once, twice=twice,
                missing=missing, received=len(inbox.messages),
                statuses=", ".join(f"{k} {v}" for k, v in sorted(Counter(r.status for r in rows).items())))
