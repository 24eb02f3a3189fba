"""Exports that stall: a worker died, or Redis was down when the export was queued.

An item stays Exporting until its job records the result; the portal tells a stalled one
from a slow one by asking the queue about its job, so the approver gets a Retry button.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, utcnow
from portal.domain.ports import JobStatuses

# RQ states in which a job will never record its export
DEAD = frozenset({None, "failed", "stopped", "canceled", "unreachable"})
GONE = DEAD - {"unreachable"}   # ... known for certain (the queue answered)


@dataclass(frozen=True)
class ExportWatch:
    """How long an export may take before it counts as stalled, and the queue to ask."""
    queue: JobStatuses
    stall_after: timedelta
    settle: timedelta = timedelta(seconds=5)   # a job just queued is not asked about yet

    def stalled(self, erps: Iterable[ErpItem], now: datetime | None = None) -> set[int]:
        """The ids of the Exporting items whose job is gone, or has not run long after it was
        queued; one round trip to the queue for all of them."""
        now = now or utcnow()
        waiting = [erp for erp in erps if erp.state == State.EXPORTING and erp.queued_at
                   and now - erp.queued_at >= self.settle and not self.retrying(erp, now)]
        if not waiting:
            return set()
        statuses = self.queue.statuses([erp.job_id or "" for erp in waiting])
        stalled = set()
        for erp in waiting:
            status = statuses.get(erp.job_id or "")
            assert erp.queued_at is not None  # waiting holds only queued items
            if status in DEAD or (now - erp.queued_at > self.stall_after and status != "queued"):
                stalled.add(erp.id)
        return stalled

    def retrying(self, erp: ErpItem, now: datetime) -> bool:
        """Waiting for its next try after a passing Sage fault (and not long overdue)."""
        return erp.retry_at is not None and now < erp.retry_at + self.stall_after

    def abandoned(self, erps: Iterable[ErpItem]) -> dict[int, str | None]:
        """The Exporting items whose job will never run, with its status: gone from the queue
        (None), failed, stopped or canceled. Nothing when the queue cannot be reached; nothing
        for an item waiting for its next try (its last job ended as it should)."""
        waiting = [erp for erp in erps if erp.state == State.EXPORTING and erp.retry_at is None]
        statuses = self.queue.statuses([erp.job_id or "" for erp in waiting]) if waiting else {}
        of_job = {erp.id: statuses.get(erp.job_id or "") for erp in waiting}
        return {erp_id: status for erp_id, status in of_job.items() if status in GONE}


def due_retries(session: Session, now: datetime | None = None) -> list[ErpItem]:
    """The items waiting in Exporting whose next try after a passing Sage fault is due."""
    return list(session.scalars(select(ErpItem).where(ErpItem.state == State.EXPORTING,
                                                      ErpItem.retry_at <= (now or utcnow()))
                                .order_by(ErpItem.retry_at, ErpItem.id)))


def stalled_exports(session: Session, older_than: timedelta) -> list[ErpItem]:
    """Every item still Exporting that was queued longer ago than `older_than`."""
    cutoff = utcnow() - older_than
    return list(session.scalars(select(ErpItem).where(ErpItem.state == State.EXPORTING,
                                                      ErpItem.queued_at < cutoff)))
