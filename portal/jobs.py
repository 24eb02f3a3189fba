"""RQ entry points: take ids, load state from the database, call the same services as the views.

The worker pushes the app context around each job (portal.worker); nothing here does
work at import time.
"""
from __future__ import annotations

from flask import current_app

from portal.domain import services
from portal.extensions import db, mail


def export_item(erp_item_id: int, attempt: int) -> str:
    """Export one accepted item to Sage 300 CRE; safe to run twice."""
    from portal.exporters.sage300.connectors import make_connector
    connector = make_connector(current_app.config)
    try:
        return services.run_export(db.session, erp_item_id, attempt, connector)
    finally:
        db.session.remove()


def send_mail(mail_id: int) -> str:
    """Deliver one outbox mail over SMTP, or keep it in the portal when SMTP is not configured."""
    transport = _smtp_transport if current_app.config.get("MAIL_SERVER") else None
    try:
        return services.deliver_mail(db.session, mail_id, transport,
                                     current_app.config["MAIL_MAX_ATTEMPTS"])
    finally:
        db.session.remove()


def _smtp_transport(outbox) -> None:
    from flask_mail import Message
    message = Message(subject=outbox.subject, recipients=outbox.recipients.split(","),
                      body=outbox.text_body, html=outbox.html_body)
    mail.send(message)


def run_sync(run_id: int) -> str:
    """Run one queued sync from Sage (vendors, jobs, job costs...); safe to run twice."""
    from portal.domain import sync
    from portal.exporters.sage300.connectors import make_connector
    try:
        connector = make_connector(current_app.config)
        run = sync.execute(db.session, run_id, getattr(connector, "sim", None))
        return run.status if run is not None else "missing"
    finally:
        db.session.remove()


def schedule_tick() -> int:
    """The sync schedule's tick (run by RQ's cron scheduler): start the syncs that are due."""
    from portal.domain import sync
    from portal.queue import RQJobQueue
    try:
        return len(sync.run_due(db.session, RQJobQueue()))
    finally:
        db.session.remove()


def noop() -> None:
    """A job that does nothing: the benchmark's yardstick for RQ's own round trip."""
