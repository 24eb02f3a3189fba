"""The reaper: what a fault left behind is queued again by the system, never by a human.

It runs on the scheduler's tick (every REAPER_TICK_SECONDS) and when a worker starts:
- exports whose job will never run (a worker killed mid-job, Redis lost the job or was down
  when it was queued), once they have waited `older_than`;
- exports waiting for their next try after a passing Sage fault, once it is due;
- mails whose try is due (new, or after an SMTP refusal) with no job that will run.
Each export keeps its attempt, so Sage imports it at most once; each requeue is audited
with the system as the actor and the reason. Several reapers (a scheduler per machine) may
run at once: a row two of them change is decided by its version, and a mail is claimed
before it is sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from portal.domain import outbox
from portal.domain.exports import ExportWatch, due_retries, stalled_exports
from portal.domain.lifecycle import Action, transition
from portal.domain.models import ErpItem, utcnow
from portal.domain.ports import ExportQueue, JobStatuses, MailQueue
from portal.domain.services import enqueue_exports, share_export_jobs
from portal.domain.uow import commit, transactional


@dataclass(frozen=True)
class Reaped:
    exports: int = 0     # whose job was lost
    retries: int = 0     # whose next try was due
    mails: int = 0

    def __str__(self) -> str:
        return f"{self.exports} lost export(s), {self.retries} retry(ies), {self.mails} mail(s) queued"


def reap(session: Session, watch: ExportWatch, older_than: timedelta, exports: ExportQueue,
         mails: MailQueue, statuses: JobStatuses, now: datetime | None = None) -> Reaped:
    """One tick of the reaper: lost exports, due retries, due mails."""
    return Reaped(exports=reap_exports(session, watch, older_than, exports),
                  retries=retry_due(session, exports, now),
                  mails=outbox.reap_mails(session, mails, statuses, now))


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
