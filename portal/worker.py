"""An RQ worker that runs each job inside the Flask app context, in the worker process.

Flask-RQ 1.0's own worker starts a new Python process (`flask rq work-horse`) for every
job, which re-imports Flask and the app each time; RQ's SimpleWorker runs the job in the
worker process, so one worker does many times more exports per second. Several of these
workers, on one machine or many, share the queue through Redis.

Heartbeats: RQ's SimpleWorker sends none while a job runs and registers the job as started
for the job's whole timeout (25 minutes for a group of 20 exports), so a worker killed
mid-job left its exports Exporting that long. This worker registers itself and its job for
WORKER_HEARTBEAT_SECONDS and renews both from a thread every quarter of that while the job
runs: a killed worker's job is abandoned (and reaped) within that time.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask
from rq import SimpleWorker
from rq.job import Job
from rq.worker import WorkerStatus

from portal.extensions import rq

log = logging.getLogger(__name__)


class AppContextWorker(SimpleWorker):
    """SimpleWorker with the app context pushed around every job, and heartbeats while it runs."""

    flask_app: Flask | None = None
    heartbeat_seconds: int = 60

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.heartbeat_seconds

    def execute_job(self, job, queue):
        if self.flask_app is None:
            raise RuntimeError("AppContextWorker needs its flask_app: build it with make_worker()")
        with self.flask_app.app_context():
            execution = self.prepare_execution(job)
            stop = threading.Event()
            beats = threading.Thread(target=self._beat, args=(job, execution, stop), daemon=True,
                                     name="heartbeat")
            beats.start()
            try:
                self.perform_job(job, queue, execution)
            finally:
                stop.set()
                beats.join()
            self.set_state(WorkerStatus.IDLE)

    def _beat(self, job, execution, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_seconds / 4):
            try:
                self.maintain_heartbeats(job, execution)
            except Exception as exc:  # noqa: BLE001 - Redis away for a moment: the next beat tries again
                log.warning("heartbeat of job %s: %s", job.id, exc)


def make_worker(app: Flask, name: str | None = None) -> AppContextWorker:
    with app.app_context():
        queues = list(rq.queues.values())
    seconds = int(app.config["WORKER_HEARTBEAT_SECONDS"])
    # an idle worker renews its registration every worker_ttl - 15 s (RQ)
    worker = AppContextWorker(queues, connection=queues[0].connection, job_class=queues[0].job_class, name=name,
                              worker_ttl=max(seconds, 20))
    worker.flask_app = app
    worker.heartbeat_seconds = seconds
    worker.job_monitoring_interval = max(1, seconds // 4)   # maintain_heartbeats: the worker's own TTL
    return worker
