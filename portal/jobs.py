"""RQ entry points: take ids, load state from the database, call the same services as the views.

The queue enqueues them by name ("portal.jobs.export_item"); the worker pushes the app
context around each job (portal.worker); nothing here does work at import time.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import Session

from portal.domain import notifications, outbox, periods, recovery, services, sync
from portal.domain.exports import ExportWatch
from portal.domain.models import utcnow
from portal.domain.settings import company_zone
from portal.exporters.sage300.connectors import make_connector
from portal.extensions import db, mail
from portal.health_probe import RQHealthProbe
from portal.queue import RQJobQueue


def export_item(erp_item_id: int, attempt: int) -> str:
    """Export one accepted item to Sage 300 CRE; safe to run twice."""
    connector = make_connector(current_app.config)
    try:
        return services.run_export(db.session(), erp_item_id, attempt, connector, current_app.config["EXPORT_RETRY"])
    finally:
        db.session.remove()


def export_items(items: list[list[int]]) -> str:
    """Export several accepted items ([erp item id, attempt] each), read and recorded together,
    submitted to Sage one by one; safe to run twice. One that hits a bug fails on its own."""
    connector = make_connector(current_app.config)
    # one connection to each database for the whole job
    with connector.held(), db.engine.connect() as conn:
        session = Session(bind=conn)
        try:
            outcomes = services.run_exports(session, [(erp_item_id, attempt) for erp_item_id, attempt in items],
                                            connector, current_app.config["EXPORT_RETRY"])
        finally:
            session.close()
    counts = Counter(outcomes.values())
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))


def send_mail(mail_id: int) -> str:
    """Deliver one outbox mail over SMTP, or keep it in the portal when SMTP is not configured."""
    transport = _smtp_transport if current_app.config.get("MAIL_SERVER") else None
    try:
        return outbox.deliver_mail(db.session(), mail_id, transport, current_app.config["MAIL_RETRY"])
    finally:
        db.session.remove()


def _smtp_transport(message_row) -> None:
    from flask_mail import Message
    message = Message(subject=message_row.subject, recipients=message_row.recipients.split(","),
                      body=message_row.text_body, html=message_row.html_body, reply_to=message_row.reply_to)
    mail.send(message)


def run_sync(run_id: int) -> str:
    """Run one queued sync from Sage (vendors, jobs, job costs...); safe to run twice."""
    try:
        config = current_app.config
        run = sync.execute(db.session(), run_id, make_connector(config).reader, notifications.Notices(
            company=config["COMPANY_NAME"], base_url=config.get("PUBLIC_BASE_URL") or "", queue=RQJobQueue()))
        return run.status if run is not None else "missing"
    finally:
        db.session.remove()


def schedule_tick() -> int:
    """The sync schedule's tick (run by RQ's cron scheduler): start the syncs that are due."""
    try:
        return len(sync.run_due(db.session(), RQJobQueue()))
    finally:
        db.session.remove()


def daily_summary() -> str:
    """The approvers' daily summary (the scheduler asks every tick): sent once the company's clock
    reaches DAILY_SUMMARY_HOUR, once a day however many schedulers and workers ask."""
    config = current_app.config
    base = config.get("PUBLIC_BASE_URL") or ""
    try:
        sent = notifications.send_daily_summary(
            db.session(), utcnow(), config["DAILY_SUMMARY_HOUR"],
            company_zone(db.session(), config["COMPANY_TIME_ZONE"]),
            notifications.Notices(company=config["COMPANY_NAME"], base_url=base, queue=RQJobQueue()))
    finally:
        db.session.remove()
    return "not due" if sent is None else f"{sent} mail(s)"


def billing_periods() -> str:
    """The billing periods' tick (the scheduler asks every tick): close the open periods past their
    due date, create the automatic ones ahead, open those that have started (company's clock)."""
    try:
        today = datetime.now(company_zone(db.session(), current_app.config["COMPANY_TIME_ZONE"])).date()
        return str(periods.tick(db.session(), today))
    finally:
        db.session.remove()


def reap(scheduled: bool = True) -> recovery.Reaped:
    """The reaper's tick (the scheduler runs it every REAPER_TICK_SECONDS, and the health page
    is told of it; a worker when it starts, with scheduled=False): queue again the exports a
    fault left behind, the retries, mails and syncs that are due."""
    if scheduled:
        RQHealthProbe().record_tick()
    queue = RQJobQueue()
    queue.sweep_abandoned()
    config = current_app.config
    watch = ExportWatch(queue, timedelta(seconds=config["EXPORT_STALL_SECONDS"]))
    try:
        return recovery.reap(db.session(), watch, timedelta(seconds=config["EXPORT_REAP_SECONDS"]), queue)
    finally:
        db.session.remove()


def noop() -> None:
    """A job that does nothing: the benchmark's yardstick for RQ's own round trip."""
