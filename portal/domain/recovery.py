"""The reaper: what a fault left behind is queued again by the system, never by a human.

It runs on the scheduler's tick (every REAPER_TICK_SECONDS) and when a worker starts:
- exports whose job will never run (a worker killed mid-job, Redis lost the job or was down
  when it was queued), once they have waited `older_than`;
- exports waiting for their next try after a passing Sage fault, once it is due;
- mails whose try is due (new, or after an SMTP refusal) with no job that will run;
- syncs queued or running whose job will never run (Redis was down, a worker was killed):
  queued again as the same run (a sync is safe to run twice).
Each export keeps its attempt, so Sage imports it at most once; each requeue is audited
with the system as the actor and the reason. Several reapers (a scheduler per machine) may
run at once: a row two of them change is decided by its version, and a mail is claimed
before it is sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import outbox, sync
from portal.domain.exports import GONE, ExportWatch, due_retries, stalled_exports
from portal.domain.lifecycle import Action, transition
from portal.domain.models import ErpItem, utcnow
from portal.domain.ports import ExportQueue, JobStatuses, MailQueue, SyncQueue
from portal.domain.sage_models import SyncRun, SyncStatus
from portal.domain.services import enqueue_exports, share_export_jobs
from portal.domain.uow import commit, transactional


@dataclass(frozen=True)
class Reaped:
    exports: int = 0     # whose job was lost
    retries: int = 0     # whose next try was due
    mails: int = 0
    syncs: int = 0

    def __str__(self) -> str:
        return (f"{self.exports} lost export(s), {self.retries} retry(ies), {self.mails} mail(s), "
                f"{self.syncs} sync(s) queued")


class Queues(ExportQueue, MailQueue, SyncQueue, JobStatuses, Protocol):
    """The queue the reaper puts work on and asks about (RQ in the app)."""


def reap(session: Session, watch: ExportWatch, older_than: timedelta, queue: Queues,
         now: datetime | None = None) -> Reaped:
    """One tick of the reaper: lost exports, due retries, due mails, lost syncs."""
    return Reaped(exports=reap_exports(session, watch, older_than, queue),
                  retries=retry_due(session, queue, now),
                  mails=outbox.reap_mails(session, queue, queue, now),
                  syncs=reap_syncs(session, queue, older_than, now))


@transactional
def reap_exports(session: Session, watch: ExportWatch, older_than: timedelta, queue: ExportQueue) -> int:
    """Queue again, as the system, every export queued longer ago than `older_than` whose job
    will never run. Same attempt, so Sage imports each at most once; audited as a requeue
    with the reason."""
    waiting = stalled_exports(session, older_than)
    gone = watch.abandoned(waiting)
    requeued = [erp for erp in waiting if erp.id in gone]
    for erp in requeued:
        transition(session, erp, Action.REQUEUE, None, detail={
            "attempt": erp.attempt, "reaped": True,
            "reason": f"its export job was {gone[erp.id] or 'lost'}; queued again automatically"})
        erp.queued_at = utcnow()
    share_export_jobs(requeued)
    commit(session)
    enqueue_exports(requeued, queue)
    return len(requeued)


@transactional
def retry_due(session: Session, queue: ExportQueue, now: datetime | None = None) -> int:
    """Queue the exports whose next try after a passing Sage fault (rate limit, out of reach)
    is due, in jobs of up to EXPORT_JOB_SIZE; audited as a requeue."""
    due: list[ErpItem] = due_retries(session, now)
    for erp in due:
        transition(session, erp, Action.REQUEUE, None, detail={
            "attempt": erp.attempt, "try": erp.retries + 1,
            "reason": "its next try after a passing Sage fault was due"})
        erp.queued_at, erp.retry_at = utcnow(), None
    share_export_jobs(due)   # job ids carry the try: export-<id>-<attempt>-r<n>
    commit(session)
    enqueue_exports(due, queue)
    return len(due)


@transactional
def reap_syncs(session: Session, queue: Queues, older_than: timedelta, now: datetime | None = None) -> int:
    """Queue again the syncs queued or running for longer than `older_than` whose job will
    never run (never queued, lost, or failed with its worker): the same run, queued again."""
    cutoff = (now or utcnow()) - older_than
    runs = list(session.scalars(select(SyncRun).where(SyncRun.status.in_(SyncStatus.ACTIVE),
                                                      SyncRun.created_at < cutoff)))
    if not runs:
        return 0
    known = queue.statuses([sync.job_id(run) for run in runs])
    lost = [run for run in runs if known.get(sync.job_id(run), "unreachable") in GONE]
    for run in lost:
        run.status, run.message, run.job_id = SyncStatus.QUEUED, None, sync.job_id(run)
    commit(session)
    for run in lost:
        try:
            queue.sync(run.id, sync.job_id(run))
        except Exception:  # noqa: BLE001 - still down: the next tick tries again
            return 0
    return len(lost)
