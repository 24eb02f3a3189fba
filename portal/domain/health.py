"""The health page's checks: what the portal depends on and whether its work is moving, each
red, amber or green with the reason.

The facts come through ports: the database session, a probe of the job queue (Redis and RQ,
portal.health_probe) and the Sage connector. Every check is guarded, so a check that cannot be
made is a red line on the page, never an error. Nothing here imports Flask or RQ.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal.domain import setup, sync
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, MailStatus, OutboxMail, utcnow
from portal.domain.sage_models import SyncRun, SyncStatus

log = logging.getLogger(__name__)

GREEN, AMBER, RED = "green", "amber", "red"
ORDER = (GREEN, AMBER, RED)           # worst last
LABELS = {GREEN: "OK", AMBER: "Warning", RED: "Fault"}

# The oldest queued job has waited this long: the workers are behind (amber), or none takes jobs (red).
QUEUE_AMBER = timedelta(seconds=60)
QUEUE_RED = timedelta(minutes=10)
# Mail retries take about 21 minutes (10 s, 1, 5 and 15 min): a mail pending longer is stuck.
MAIL_PENDING_AMBER = timedelta(minutes=30)
MAIL_FAILED_WINDOW = timedelta(hours=24)
# The scheduler's reaper ticks every REAPER_TICK_SECONDS: this many ticks missed is amber, red.
SCHEDULER_AMBER_TICKS = 3
SCHEDULER_RED_TICKS = 10

# What a web process needs to serve pages: /healthz answers 503 when one of these is red.
SERVING = ("database", "redis")

NO_WORKER = "No worker is running; exports will start when one is."
QUEUE_DOWN = "The job queue cannot be reached; exports will start when it is back."

# name -> label, in the page's order
CHECKS = {
    "database": "Database",
    "redis": "Redis",
    "sage": "Sage 300 CRE connector",
    "setup": "Setup prerequisites",
    "workers": "Workers",
    "queue": "Job queue",
    "scheduler": "Scheduler",
    "exports": "Exports",
    "mails": "Mail",
    "syncs": "Syncs from Sage",
}


# ---- what a check says ----------------------------------------------------------------------

@dataclass(frozen=True)
class Table:
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Check:
    name: str
    status: str                                  # green, amber or red
    reason: str
    facts: tuple[tuple[str, str], ...] = ()      # (what, value) pairs
    table: Table | None = None                   # the workers, the syncs' last runs

    @property
    def label(self) -> str:
        return CHECKS[self.name]


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    at: datetime

    @property
    def status(self) -> str:
        """The worst of the checks."""
        return worst(c.status for c in self.checks)


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=ORDER.index, default=GREEN)


# ---- the ports ------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str
    job_id: str | None
    last_heartbeat: datetime | None    # naive UTC, like the models' times
    born: datetime | None


@dataclass(frozen=True)
class QueueFacts:
    depth: int
    oldest_enqueued_at: datetime | None
    started: int                       # jobs a worker is running


class QueueProbe(Protocol):
    """The job queue as the health page sees it; any call may raise when Redis is down."""

    def ping(self) -> None: ...

    def workers(self) -> list[WorkerInfo]: ...

    def queue_facts(self) -> QueueFacts: ...

    def last_tick(self) -> datetime | None: ...


class LiveWorkers(Protocol):
    def live_workers(self) -> int:
        """How many workers take this queue's jobs now, in one cheap call; raises when Redis is down."""


class Reachable(Protocol):
    def ping(self) -> str:
        """What answered ("the simulator's database answers"); raises when Sage cannot be reached."""

    def setup_checks(self) -> list:
        """Sage's setup prerequisites (see portal.domain.setup); raises when Sage cannot be reached."""


@dataclass(frozen=True)
class Limits:
    """The thresholds that come from the configuration."""
    export_stall: timedelta
    reap_every: timedelta
    sync_stall: timedelta

    @classmethod
    def from_config(cls, config: Mapping) -> Limits:
        return cls(export_stall=timedelta(seconds=config["EXPORT_STALL_SECONDS"]),
                   reap_every=timedelta(seconds=config["REAPER_TICK_SECONDS"]),
                   sync_stall=timedelta(seconds=config["SYNC_STALL_SECONDS"]))


# ---- the report -----------------------------------------------------------------------------

def report(session: Session, queue: QueueProbe, sage: Callable[[], Reachable], limits: Limits,
           now: datetime | None = None) -> Report:
    """Every check, in the page's order. Redis is asked once more only if it answered its ping,
    so a Redis that is down costs one timeout, not four."""
    now = now or utcnow()
    database = guarded("database", lambda: database_check(session), session)
    redis = guarded("redis", lambda: redis_check(queue))
    checks = [database, redis, guarded("sage", lambda: sage_check(sage)), guarded("setup", lambda: setup_check(sage))]
    if redis.status == RED:
        checks += [Check("workers", RED, QUEUE_DOWN),
                   Check("queue", RED, "Redis cannot be reached, so nothing queued can run."),
                   Check("scheduler", RED, "Redis cannot be reached, so the scheduler cannot queue its ticks.")]
    else:
        checks += [guarded("workers", lambda: workers_check(queue.workers(), now)),
                   guarded("queue", lambda: queue_check(queue.queue_facts(), now)),
                   guarded("scheduler", lambda: scheduler_check(queue.last_tick(), now, limits.reap_every))]
    checks += [guarded("exports", lambda: exports_check(session, now, limits.export_stall), session),
               guarded("mails", lambda: mails_check(session, now), session),
               guarded("syncs", lambda: syncs_check(session, limits.sync_stall), session)]
    return Report(tuple(checks), now)


def guarded(name: str, run: Callable[[], Check], session: Session | None = None) -> Check:
    """The check, or a red line saying why it could not be made (and the session usable again)."""
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 - the page shows the fault; it never fails itself
        log.warning("health check %s could not be made: %s", name, exc)
        if session is not None:
            try:
                session.rollback()
            except Exception:  # noqa: BLE001 - the database is down: the line says so already
                pass
        return Check(name, RED, f"{CHECKS[name]} could not be checked: {error_text(exc)}")


def error_text(exc: BaseException) -> str:
    """An exception in one short line (a driver's own message rather than SQLAlchemy's wrapper)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return (lines[0] if lines else type(cause).__name__)[:300]


def ago(delta: timedelta) -> str:
    """A duration as people read it: 45 s, 12 min, 3 h 5 min, 2 days."""
    seconds = max(0, int(delta.total_seconds()))   # another host's clock may run a little ahead
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def _since(at: datetime | None, now: datetime) -> str:
    return f"{ago(now - at)} ago" if at else "–"


# ---- the checks -----------------------------------------------------------------------------

def database_check(session: Session) -> Check:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - the reason is the check's answer
        session.rollback()
        return Check("database", RED, f"The database cannot be reached: {error_text(exc)}")
    return Check("database", GREEN, "The database answers.")


def redis_check(queue: QueueProbe) -> Check:
    try:
        queue.ping()
    except Exception as exc:  # noqa: BLE001
        return Check("redis", RED, f"Redis cannot be reached: {error_text(exc)}")
    return Check("redis", GREEN, "Redis answers.")


def sage_check(sage: Callable[[], Reachable]) -> Check:
    try:
        what = sage().ping()
    except Exception as exc:  # noqa: BLE001
        return Check("sage", RED, f"Sage 300 CRE cannot be reached: {error_text(exc)}")
    return Check("sage", GREEN, f"Sage 300 CRE can be reached: {what}.")


def setup_check(sage: Callable[[], Reachable]) -> Check:
    """Each item type's Sage setup prerequisites (the Setup page's table): amber while one fails,
    since that type's exports are refused until it is fixed in Sage."""
    try:
        checks, unreachable = setup.read_checks(sage())
    except Exception as exc:  # noqa: BLE001 - making the connector failed: Sage is out of reach
        checks, unreachable = {}, error_text(exc)
    rows = setup.rows(checks, unreachable)
    table = Table(("Item type", "Prerequisite", "State", "What to do"),
                  tuple((r.item_type.plural, r.label, f"{r.status}: {r.state}", r.todo) for r in rows))
    failing = [r for r in rows if r.status == setup.FAILS]
    if failing:
        return Check("setup", AMBER, f"{len(failing)} setup prerequisite(s) fail, so those exports are refused: "
                     + " ".join(f"{r.label} is {r.state}: {r.todo}." for r in failing), table=table)
    if unreachable:
        return Check("setup", AMBER, f"Sage's setup cannot be read: {unreachable}.", table=table)
    unchecked = sum(1 for r in rows if r.status == setup.UNCHECKED)
    if unchecked:
        return Check("setup", GREEN, f"{unchecked} prerequisite(s) this connector cannot check: make sure of "
                                     "them in Sage (the table says how).", table=table)
    return Check("setup", GREEN, "Every setup prerequisite is met.", table=table)


def workers_check(workers: list[WorkerInfo], now: datetime) -> Check:
    if not workers:
        return Check("workers", RED, NO_WORKER)
    busy = sum(1 for w in workers if w.job_id)
    table = Table(("Worker", "State", "Current job", "Last heartbeat", "Running for"),
                  tuple((w.name, w.state, w.job_id or "–", _since(w.last_heartbeat, now),
                         ago(now - w.born) if w.born else "–") for w in workers))
    return Check("workers", GREEN, f"{len(workers)} worker{'s' if len(workers) != 1 else ''} running, "
                                   f"{busy} busy.", table=table)


def queue_check(facts: QueueFacts, now: datetime) -> Check:
    waited = now - facts.oldest_enqueued_at if facts.oldest_enqueued_at else None
    shown = (("Queued jobs", str(facts.depth)), ("Oldest queued job", _since(facts.oldest_enqueued_at, now)),
             ("Jobs running", str(facts.started)))
    if waited is not None and waited > QUEUE_RED:
        return Check("queue", RED, f"The oldest queued job has waited {ago(waited)}: no worker is taking jobs "
                                   f"(red after {ago(QUEUE_RED)}).", shown)
    if waited is not None and waited > QUEUE_AMBER:
        return Check("queue", AMBER, f"The oldest queued job has waited {ago(waited)}: the workers are behind "
                                     f"(amber after {ago(QUEUE_AMBER)}).", shown)
    if not facts.depth:
        return Check("queue", GREEN, f"Nothing is waiting; {facts.started} job(s) running.", shown)
    return Check("queue", GREEN, f"{facts.depth} job(s) queued, the oldest for {ago(waited or timedelta())}.", shown)


def scheduler_check(last_tick: datetime | None, now: datetime, every: timedelta) -> Check:
    """The tick is recorded by the reaper the scheduler runs every REAPER_TICK_SECONDS: no tick
    means no scheduler (or one that cannot reach Redis)."""
    shown = (("Last tick", _since(last_tick, now)), ("Expected every", ago(every)))
    if last_tick is None:
        return Check("scheduler", AMBER, "The scheduler has not ticked yet.", shown)
    waited = now - last_tick
    if waited > every * SCHEDULER_RED_TICKS:
        return Check("scheduler", RED, f"The scheduler last ticked {ago(waited)} ago ({SCHEDULER_RED_TICKS} ticks "
                                       "missed): is `flask scheduler` running?", shown)
    if waited > every * SCHEDULER_AMBER_TICKS:
        return Check("scheduler", AMBER, f"The scheduler last ticked {ago(waited)} ago "
                                         f"({SCHEDULER_AMBER_TICKS} ticks missed).", shown)
    return Check("scheduler", GREEN, f"The scheduler ticked {ago(waited)} ago.", shown)


def exports_check(session: Session, now: datetime, stall: timedelta) -> Check:
    count, oldest = session.execute(select(func.count(), func.min(ErpItem.queued_at))
                                    .where(ErpItem.state == State.EXPORTING)).one()
    shown = (("Exporting", str(count)), ("Oldest queued", _since(oldest, now)))
    if not count:
        return Check("exports", GREEN, "Nothing is Exporting.", shown)
    waited = now - oldest if oldest else timedelta()
    if waited > stall:
        return Check("exports", AMBER, f"{count} item(s) Exporting, the oldest for {ago(waited)} (stalled after "
                                       f"{ago(stall)}): the reaper queues a lost export again; see the workers.",
                     shown)
    return Check("exports", GREEN, f"{count} item(s) Exporting, the oldest for {ago(waited)}.", shown)


def mails_check(session: Session, now: datetime) -> Check:
    pending, oldest = session.execute(select(func.count(), func.min(OutboxMail.created_at))
                                      .where(OutboxMail.status == MailStatus.PENDING)).one()
    failed = session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.status == MailStatus.FAILED, OutboxMail.created_at >= now - MAIL_FAILED_WINDOW))
    shown = (("Pending", str(pending)), ("Oldest pending", _since(oldest, now)),
             ("Failed in the last 24 h", str(failed)))
    problems = []
    if pending and oldest and now - oldest > MAIL_PENDING_AMBER:
        problems.append(f"{pending} mail(s) pending, the oldest for {ago(now - oldest)}: can the SMTP server be "
                        "reached?")
    if failed:
        problems.append(f"{failed} mail(s) failed in the last 24 hours: retry them on the Mail page.")
    if problems:
        return Check("mails", AMBER, " ".join(problems), shown)
    return Check("mails", GREEN, f"{pending} mail(s) pending." if pending else "No mail is waiting.", shown)


def syncs_check(session: Session, stall: timedelta) -> Check:
    """The last run of each sync (any project): amber when it failed or stopped moving."""
    latest = select(func.max(SyncRun.id)).group_by(SyncRun.kind)
    runs = {r.kind: r for r in session.scalars(select(SyncRun).where(SyncRun.id.in_(latest)))}
    ordered = [runs[k] for k in sync.KINDS if k in runs] + [r for k, r in runs.items() if k not in sync.KINDS]

    def label(run: SyncRun) -> str:
        return sync.KINDS[run.kind].label if run.kind in sync.KINDS else run.kind

    problems = []
    for run in ordered:
        if run.status == SyncStatus.FAILED:
            problems.append(f"The last {label(run)} sync failed: {run.message or 'no message'}")
        elif run.status in SyncStatus.ACTIVE and sync.is_stalled(run, stall):
            problems.append(f"The {label(run)} sync has shown no progress for over {ago(stall)}.")
    table = Table(("Sync", "Status", "Started by", "Finished", "Outcome"),
                  tuple((label(r), r.status, r.trigger, f"{r.finished_at:%m/%d/%Y %H:%M}" if r.finished_at else "–",
                         r.message or "") for r in ordered))
    if problems:
        return Check("syncs", AMBER, " ".join(problems), table=table)
    if not ordered:
        return Check("syncs", GREEN, "No sync has run yet.")
    return Check("syncs", GREEN, "The last run of every sync succeeded (or is running).", table=table)


# ---- the notice beside Exporting rows -------------------------------------------------------

def worker_notice(states: Iterable[str], workers: LiveWorkers) -> str | None:
    """What a page with these rows' states says instead of a silent "Exporting…": nothing (and no
    call to the queue) when none is Exporting, else whether a worker will take the exports."""
    if not any(state == State.EXPORTING for state in states):
        return None
    return queue_notice(workers)


def queue_notice(workers: LiveWorkers) -> str | None:
    """NO_WORKER, QUEUE_DOWN, or None while a worker is alive: one call to the queue."""
    try:
        alive = workers.live_workers()
    except Exception as exc:  # noqa: BLE001 - the page renders while Redis is down, and says so
        log.warning("cannot count the workers: %s", exc)
        return QUEUE_DOWN
    return None if alive else NO_WORKER
