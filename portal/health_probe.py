"""The job queue as the health page sees it (portal.domain.health's QueueProbe and LiveWorkers):
Redis's ping, RQ's workers and their jobs, the queue's depth and oldest job, and the
scheduler's last tick, which the reaper records when the scheduler's tick runs it."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from rq import Queue, Worker, worker_registration
from rq.job import Job
from rq.registry import StartedJobRegistry

from portal.domain.health import QueueFacts, WorkerInfo
from portal.queue import default_queue

# Workers registered on the queue whose registration has not expired: RQ removes a killed
# worker from the queue's set only in another worker's maintenance, but its key expires with
# its heartbeats. One round trip, so a page with Exporting rows can afford to ask.
LIVE_WORKERS = """
local alive = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', key) == 1 and redis.call('HEXISTS', key, 'death') == 0 then alive = alive + 1 end
end
return alive
"""
TICK_KEEP = 7 * 86400   # seconds: a portal gone for a week leaves nothing behind


def tick_key(queue: Queue) -> str:
    """Where the scheduler's last tick is kept: prefixed by the queue name, as two portals sharing
    a Redis have queues of their own."""
    return f"{queue.name}:scheduler:last_tick"


def _utc(at: datetime | None) -> datetime | None:
    """RQ's aware UTC times as the models' naive UTC."""
    return at.astimezone(UTC).replace(tzinfo=None) if at is not None and at.tzinfo else at


class RQHealthProbe:
    """The app's default queue (or `queue`), through its own Redis connection."""

    def __init__(self, queue: Queue | None = None):
        self.queue = queue if queue is not None else default_queue()

    def ping(self) -> None:
        self.queue.connection.ping()

    def live_workers(self) -> int:
        return int(self.queue.connection.eval(LIVE_WORKERS, 1,
                                              worker_registration.WORKERS_BY_QUEUE_KEY % self.queue.name))

    def workers(self) -> list[WorkerInfo]:
        found = Worker.all(queue=self.queue)
        return sorted((WorkerInfo(name=w.name, state=w.get_state(), job_id=w.get_current_job_id(),
                                  last_heartbeat=_utc(w.last_heartbeat), born=_utc(w.birth_date))
                       for w in found), key=lambda w: w.name)

    def queue_facts(self) -> QueueFacts:
        connection = self.queue.connection
        first = self.queue.get_job_ids(0, 1)   # jobs are taken from the head: the oldest
        job = Job.fetch_many(first, connection=connection)[0] if first else None
        return QueueFacts(depth=self.queue.count, oldest_enqueued_at=_utc(job.enqueued_at) if job else None,
                          started=StartedJobRegistry(queue=self.queue).get_job_count(cleanup=False))

    def last_tick(self) -> datetime | None:
        value = self.queue.connection.get(tick_key(self.queue))
        return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None) if value else None

    def record_tick(self) -> None:
        """The scheduler ticked (the reaper it queues is running now)."""
        self.queue.connection.set(tick_key(self.queue), repr(time.time()), ex=TICK_KEEP)
