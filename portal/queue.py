"""The RQ side of the job-queue ports: jobs are enqueued by their dotted name, so this module
never imports the job module (and the job module may use this one)."""
from __future__ import annotations

import re

from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from portal.extensions import rq

JOBS = "portal.jobs."   # the module whose functions the worker runs
KEEP_RESULT, KEEP_FAILURE = 3600, 7 * 86400


def default_queue() -> Queue:
    """The first configured queue (RQ_QUEUE names it; tests use one of their own)."""
    return next(iter(rq.queues.values()))


def redis_job_id(job_id: str) -> str:
    """Job ids are global in Redis: prefix the queue name so two portals sharing one Redis
    (or a test run after another) never read each other's jobs."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', default_queue().name)}-{job_id}"


class RQJobQueue:
    """Enqueue jobs by id on the app's default queue (Flask-RQ owns the connection)."""

    def export_many(self, items: list[tuple[int, int, str]]) -> None:
        """Many exports in one Redis round trip (bulk accept of a thousand invoices): one job
        per job id, export_item for one item, export_items for a group."""
        groups: dict[str, list[tuple[int, int]]] = {}
        for erp_item_id, attempt, job_id in items:
            groups.setdefault(job_id, []).append((erp_item_id, attempt))
        default_queue().enqueue_many([
            Queue.prepare_data(JOBS + "export_item", group[0], job_id=redis_job_id(job_id),
                               result_ttl=KEEP_RESULT, failure_ttl=KEEP_FAILURE, timeout=300)
            if len(group) == 1 else
            Queue.prepare_data(JOBS + "export_items", ([list(pair) for pair in group],),
                               job_id=redis_job_id(job_id), result_ttl=KEEP_RESULT,
                               failure_ttl=KEEP_FAILURE, timeout=300 + 60 * len(group))
            for job_id, group in groups.items()])

    def mail(self, mail_id: int, job_id: str) -> None:
        # no RQ retry: a refused mail waits for its next try in the outbox (the reaper queues it)
        default_queue().enqueue(JOBS + "send_mail", mail_id, job_id=redis_job_id(job_id),
                                result_ttl=KEEP_RESULT, failure_ttl=KEEP_FAILURE, job_timeout=120)

    def sync(self, run_id: int, job_id: str) -> None:
        default_queue().enqueue(JOBS + "run_sync", run_id, job_id=redis_job_id(job_id), result_ttl=KEEP_RESULT,
                         failure_ttl=KEEP_FAILURE, job_timeout=3600)

    def sweep_abandoned(self) -> None:
        """Mark failed the jobs whose worker stopped its heartbeats (it was killed): RQ does it
        in a worker's maintenance, every ten minutes; the reaper cannot wait that long. That
        covers the jobs the worker had started; one it had taken from the queue but not yet
        started RQ leaves "queued" in its intermediate list, so it is failed here too."""
        queue = default_queue()
        registry = StartedJobRegistry(queue=queue)
        expired = sorted(set(registry.get_expired_job_ids()))
        registry.cleanup()
        if not expired:
            return
        waiting = set(queue.get_job_ids())   # queued again meanwhile (the reaper): not lost
        for job in Job.fetch_many(expired, connection=queue.connection):
            if job is None or job.id in waiting or job.get_status(refresh=False) != JobStatus.QUEUED:
                continue
            job.set_status(JobStatus.FAILED)
            registry.remove_executions(job)
            queue.intermediate_queue.remove(job.id)

    def statuses(self, job_ids: list[str]) -> dict[str, str | None]:
        """RQ's status per job id in one round trip: None when Redis has no such job,
        'unreachable' for all when Redis is down."""
        if not job_ids:
            return {}
        try:
            jobs = Job.fetch_many([redis_job_id(j) for j in job_ids], connection=default_queue().connection)
        except Exception:  # noqa: BLE001 - the page must render while Redis is down
            return {j: "unreachable" for j in job_ids}
        result: dict[str, str | None] = {}
        for job_id, job in zip(job_ids, jobs, strict=True):
            status = job.get_status(refresh=False) if job is not None else None
            result[job_id] = status.value if status is not None else None
        return result
