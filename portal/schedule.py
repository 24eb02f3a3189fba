"""`flask scheduler`: RQ's cron scheduler queues a look at the sync schedule every tick, and
the reaper (portal.domain.recovery) runs in this process every REAPER_TICK_SECONDS, so
what is due is queued on time even when the queue is long; it also asks for the approvers'
daily summary every tick (portal.domain.notifications sends it once a day) and
for a look at the billing periods (portal.domain.periods.tick). Several schedulers may run (one
per machine): each due sync still starts once, and reapers running together queue nothing
twice that matters (exports keep their attempt; a mail is claimed before it is sent).

A Redis outage is waited out, not fatal: the cron scheduler is started again with a pause
that doubles up to 30 s, and the reaper's ticks fail quietly until Redis is back.
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from flask import Flask
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

log = logging.getLogger(__name__)
MAX_PAUSE = 30.0


def run(app: Flask, tick: int | None = None) -> None:
    """Run until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    every = app.config["REAPER_TICK_SECONDS"]
    threading.Thread(target=reap_forever, args=(app, stop, every), daemon=True, name="reaper").start()
    pause = 1.0
    try:
        while True:
            started = time.monotonic()
            try:
                cron_scheduler(app, tick).start()   # returns when asked to stop
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                if time.monotonic() - started > 60:
                    pause = 1.0   # it ran for a while: a new outage starts with a short pause
                log.warning("scheduler: Redis cannot be reached (%s); trying again in %.0f s", exc, pause)
                time.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)
    except (StopRequested, KeyboardInterrupt):
        return
    finally:
        stop.set()


def cron_scheduler(app: Flask, tick: int | None) -> CronScheduler:
    from portal import jobs
    from portal.queue import default_queue
    with app.app_context():
        queue = default_queue()
        cron = CronScheduler(connection=queue.connection, logging_level="WARNING")
        cron.register(jobs.schedule_tick, queue.name, interval=tick or app.config["SYNC_TICK_SECONDS"],
                      job_timeout=300, result_ttl=600)
        # the approvers' daily summary: asked every tick, sent once a day (its day's row is claimed)
        cron.register(jobs.daily_summary, queue.name, interval=tick or app.config["SYNC_TICK_SECONDS"],
                      job_timeout=300, result_ttl=600)
        # billing periods: close those past due, create the automatic ones ahead, open those that started
        cron.register(jobs.billing_periods, queue.name, interval=tick or app.config["SYNC_TICK_SECONDS"],
                      job_timeout=300, result_ttl=600)
    return cron


def reap_forever(app: Flask, stop: threading.Event, every: float) -> None:
    """The reaper's tick, until `stop`; a tick that fails (Redis or the database down) is logged
    and the next one tries again."""
    from portal import jobs
    while True:
        try:
            with app.app_context():
                outcome = jobs.reap()
            log.info("reaper: %s", outcome)
        except Exception as exc:  # noqa: BLE001 - the next tick tries again
            log.warning("reaper: %s: %s", type(exc).__name__, exc)
        if stop.wait(every):
            return
