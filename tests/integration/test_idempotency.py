"""Exactly one AP invoice in Sage, whatever happens to the worker."""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from portal import jobs
from portal.domain import outbox, services
from portal.domain.lifecycle import State
from portal.domain.models import ErpAudit, ErpItem, ToolLevel, utcnow
from portal.queue import RQJobQueue, default_queue, redis_job_id
from tests import factories as f
from tests.types import get_type

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def accepted(session, sim):
    creator = f.make_user(session)
    setup = f.Setup(session, sim)
    f.member(session, creator, setup.project, ToolLevel.ADMIN)
    approver = f.approver(session)
    inv = setup.invoice(session, creator)
    erp = services.send(session, creator, "subcontractor_invoice", inv.id)

    class NoQueue:
        def export_many(self, items):
            pass
    services.accept(session, approver, erp.id, get_type("subcontractor_invoice").export_defaults(inv), NoQueue())
    return setup, inv, erp, approver


def invoices_in_sage(sim, setup, inv) -> int:
    return sum(1 for row in sim.list_invoices()
               if row["Vendor"] == setup.vendor.erp_vendor_id and row["Invoice"] == inv.number)


def test_running_the_export_twice_yields_one_invoice(app, session, sim, accepted):
    setup, inv, erp, _ = accepted
    with app.app_context():
        assert jobs.export_item(erp.id, erp.attempt) == State.SYNCED
        assert jobs.export_item(erp.id, erp.attempt) == "skipped"
    assert invoices_in_sage(sim, setup, inv) == 1


def test_a_killed_worker_then_a_rerun_yields_one_invoice(app, session, sim, accepted, tmp_path, drain,
                                                         monkeypatch):
    """Killed after Sage's commit, before the portal's: once its heartbeats stop, the reaper queues
    the export again, with no one pressing Retry, and the rerun replays Sage's answer."""
    setup, inv, erp, approver = accepted
    marker = tmp_path / "sage-committed"
    with app.app_context():
        default_queue().enqueue("tests.crashjobs.export_then_hang", erp.id, erp.attempt, str(marker),
                         job_id=redis_job_id(erp.job_id))
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--burst"],
                              cwd=ROOT, env={**os.environ, "WORKER_HEARTBEAT_SECONDS": "2"})
    try:
        deadline = time.time() + 30
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the worker never reached Sage"
        worker.send_signal(signal.SIGKILL)  # killed after Sage's commit, before the portal's
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    session.expire_all()
    assert services.get_erp_item(session, erp.id).state == State.EXPORTING
    assert invoices_in_sage(sim, setup, inv) == 1
    monkeypatch.setitem(app.config, "EXPORT_REAP_SECONDS", 0)
    with app.app_context():
        jobs.reap()
        assert audit_of(session, erp)[-1].action == "accept"   # its job still counts as running
        time.sleep(2.5)   # its heartbeats have stopped: abandoned
        assert jobs.reap().exports >= 1
    assert audit_of(session, erp)[-1].detail["reason"] == "its export job was failed; queued again automatically"
    drain()
    session.expire_all()
    erp = services.get_erp_item(session, erp.id)
    assert erp.state == State.SYNCED
    assert invoices_in_sage(sim, setup, inv) == 1
    last = session.query(ErpAudit).filter_by(erp_item_id=erp.id).order_by(ErpAudit.id.desc()).first()
    assert last.action == "export_ok" and last.detail["replayed"] is True


def test_the_reaper_queues_again_an_export_whose_job_is_gone_and_only_once(app, session, sim, accepted, drain):
    """Redis lost the job (or was down when it was queued): no one has to press Retry."""
    setup, inv, erp, _ = accepted   # accepted with a queue that dropped the job
    with app.app_context():
        jobs.reap()
    session.expire_all()
    assert audit_of(session, erp)[-1].action == "accept"   # too recent to tell from a slow start
    session.execute(update(ErpItem).where(ErpItem.id == erp.id).values(
        queued_at=utcnow() - timedelta(minutes=5)).execution_options(synchronize_session=False))
    session.commit()
    with app.app_context():
        assert jobs.reap().exports >= 1
        jobs.reap()   # its job is queued now: not again
    requeues = [a for a in audit_of(session, erp) if a.action == "requeue"]
    assert len(requeues) == 1 and requeues[0].actor_id is None and requeues[0].detail["reaped"] is True
    assert requeues[0].detail["reason"] == "its export job was lost; queued again automatically"
    drain()
    session.expire_all()
    assert services.get_erp_item(session, erp.id).state == State.SYNCED
    assert invoices_in_sage(sim, setup, inv) == 1


def audit_of(session, erp) -> list[ErpAudit]:
    session.expire_all()
    return session.query(ErpAudit).filter_by(erp_item_id=erp.id).order_by(ErpAudit.id).all()


def test_smtp_failure_keeps_the_mail_until_its_next_try_and_the_reaper_sends_it_then(app, session, smtp, drain):
    from portal.domain.models import MailStatus, OutboxMail
    creator = f.make_user(session)
    mail = OutboxMail(recipients=creator.email, subject="Test", text_body="t", html_body="<p>t</p>")
    session.add(mail)
    session.commit()
    smtp.fail_next = 1
    with app.app_context():
        assert jobs.send_mail(mail.id).startswith("retry at ")
    session.expire_all()
    mail = session.get(OutboxMail, mail.id)
    assert mail.status == MailStatus.PENDING and mail.attempts == 1 and "451" in mail.last_error
    assert timedelta(seconds=8) < mail.next_attempt_at - utcnow() <= timedelta(seconds=10)   # MAIL_RETRY: 10 s
    with app.app_context():
        assert jobs.reap().mails == 0   # not due yet
    mail.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.commit()
    with app.app_context():
        assert jobs.reap().mails == 1
        assert jobs.reap().mails == 0   # its job is queued: not twice
    drain()
    session.expire_all()
    mail = session.get(OutboxMail, mail.id)
    assert mail.status == MailStatus.SENT and mail.attempts == 2 and mail.next_attempt_at is None
    assert len(smtp.to(creator.email)) == 1


def test_an_admin_retry_sends_a_failed_mail(app, session, smtp, drain):
    from portal.domain.models import MailStatus, OutboxMail
    creator = f.make_user(session)
    mail = OutboxMail(recipients=creator.email, subject="Failed", text_body="t", html_body="t",
                      status=MailStatus.FAILED, attempts=5)
    session.add(mail)
    session.commit()
    admin = f.make_user(session, site_admin=True)
    outbox.retry_mail(session, admin, mail.id, RQJobQueue())
    drain()
    session.expire_all()
    assert session.get(OutboxMail, mail.id).status == MailStatus.SENT
    assert len(smtp.to(creator.email)) == 1


def test_without_smtp_mail_is_kept_for_the_admin(app, session):
    from portal.domain.models import MailStatus, OutboxMail
    mail = OutboxMail(recipients="x@example.com", subject="Kept", text_body="t", html_body="t")
    session.add(mail)
    session.commit()
    saved = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = ""
    try:
        with app.app_context():
            assert jobs.send_mail(mail.id) == MailStatus.KEPT
    finally:
        app.config["MAIL_SERVER"] = saved
