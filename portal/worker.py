"""An RQ worker that runs each job inside the Flask app context, in the worker process.

Flask-RQ 1.0's own worker starts a new Python process (`flask rq work-horse`) for every
job, which re-imports Flask and the app each time; RQ's SimpleWorker runs the job in the
worker process, so one worker does many times more exports per second. Several of these
workers, on one machine or many, share the queue through Redis.
"""
from __future__ import annotations

from flask import Flask
from rq import SimpleWorker

from portal.extensions import rq

# Seconds a worker's registration lives without a heartbeat: an idle worker renews it every
# WORKER_TTL - 15 s (RQ), a busy one for its job's time, so the health page and the notice
# beside Exporting rows see a killed worker gone within a minute (RQ's default is 7 minutes).
WORKER_TTL = 60


class AppContextWorker(SimpleWorker):
    """SimpleWorker with the app context pushed around every job."""

    flask_app: Flask | None = None

    def execute_job(self, job, queue):
        if self.flask_app is None:
            raise RuntimeError("AppContextWorker needs its flask_app: build it with make_worker()")
        with self.flask_app.app_context():
            return super().execute_job(job, queue)


def make_worker(app: Flask, name: str | None = None) -> AppContextWorker:
    with app.app_context():
        queues = list(rq.queues.values())
    worker = AppContextWorker(queues, connection=queues[0].connection,
                              job_class=queues[0].job_class, name=name, worker_ttl=WORKER_TTL)
    worker.flask_app = app
    return worker
