"""Nothing waits for a human after a fault: Sage's rate limit and an unreachable Sage are
tried again by the reaper, a reject made while the queue is down mails later, the
scheduler waits out a Redis outage. Real stack: the simulator, RQ, the SMTP server."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from portal import jobs, schedule
from portal.domain import recovery, services, sync
from portal.domain.backoff import Backoff
from portal.domain.lifecycle import Action, State
from portal.domain.models import ErpAudit, ErpItem, MailStatus, OutboxMail, utcnow
from portal.domain.sage_models import SyncStatus
from portal.exporters.sage300.simulator import RATE_LIMITED
from portal.queue import RQJobQueue, default_queue, redis_job_id
from tests import factories as f
from tests.conftest import login
from tests.fake_sage import FakeSage, RecordingQueue
from tests.types import get_type

INVOICE = "subcontractor_invoice"


def sent_invoices(session, road, n: int) -> list[tuple]:
    setup, creator, _ = road
    invoices = [setup.invoice(session, creator) for _ in range(n)]
    return [(inv, services.send(session, creator, INVOICE, inv.id)) for inv in invoices]


def states(session, erps) -> list[str]:
    session.expire_all()
    return [session.get(ErpItem, erp.id).state for _, erp in erps]


@pytest.fixture
def rate_limited(app, sim, monkeypatch):
    """Sage allows 5 requests a second (its hourly limit on a short window); exports are tried
    5 times a second apart."""
    monkeypatch.setitem(app.config, "SAGE_SIM_RATE_WINDOW_SECONDS", 1)
    monkeypatch.setitem(app.config, "EXPORT_RETRY", Backoff((1, 1, 1, 1)))
    sim.set_setting("hourly_limit", 5)
    yield
    sim.set_setting("hourly_limit", 0)


def test_fifteen_accepts_under_a_limit_of_five_all_sync_once_without_anyone(
        app, session, sim, road, rate_limited, drain):
    setup, _, approver = road
    erps = sent_invoices(session, road, 15)
    accepted, errors = services.accept_many(session, approver, "subcontractor_invoice",
                                            [erp.id for _, erp in erps], RQJobQueue())
    assert len(accepted) == 15 and not errors
    drain()
    assert states(session, erps).count(State.SYNCED) == 5
    waiting = [session.get(ErpItem, erp.id) for _, erp in erps if session.get(ErpItem, erp.id).state != State.SYNCED]
    assert {(e.state, e.retries) for e in waiting} == {(State.EXPORTING, 1)}
    assert all(e.sage_message == f"Retrying at {e.retry_at:%H:%M} (attempt 2 of 5): {RATE_LIMITED}" for e in waiting)
    rounds = 0
    while State.EXPORTING in states(session, erps) and rounds < 6:
        time.sleep(1.1)   # the window and the wait
        with app.app_context():
            jobs.reap()
        drain()
        rounds += 1
    assert states(session, erps) == [State.SYNCED] * 15
    assert rounds == 2   # 5 a window: 10 more need two
    invoices = [(r["Vendor"], r["Invoice"]) for r in sim.list_invoices() if r["Vendor"] == setup.vendor.erp_vendor_id]
    assert sorted(invoices) == sorted((setup.vendor.erp_vendor_id, inv.number) for inv, _ in erps)   # once each
    audit = session.scalars(select(ErpAudit.action).where(ErpAudit.erp_item_id == waiting[0].id)
                            .order_by(ErpAudit.id)).all()
    assert audit[:4] == [Action.SEND, Action.ACCEPT, Action.RETRY_LATER, Action.REQUEUE]


def test_a_retrying_row_says_when_and_which_try_and_is_not_stalled(app, session, client, road):
    (inv, erp), = sent_invoices(session, road, 1)

    class Dropped:
        def export_many(self, items):
            pass
    services.accept(session, road[2], erp.id, get_type(INVOICE).export_defaults(inv), Dropped())
    erp = session.get(ErpItem, erp.id)
    erp.queued_at = utcnow() - timedelta(minutes=5)   # long enough to count as stalled, were it not waiting
    erp.retries, erp.retry_at = 1, utcnow() + timedelta(minutes=2)
    erp.sage_message = f"Retrying at {erp.retry_at:%H:%M} (attempt 2 of 5): {RATE_LIMITED}"
    session.commit()
    login(client, road[2])
    page = client.get(f"/erp/{INVOICE}/{erp.id}/row").get_data(as_text=True)
    assert f"Retrying at {erp.retry_at:%H:%M} (attempt 2 of 5): Unknown Error" in page
    assert "Export stalled" not in page and "Retry export" not in page
    assert 'hx-trigger="every 5s"' in page


def test_a_reject_while_the_queue_is_down_says_the_mail_will_follow_and_it_does(
        app, session, client, road, smtp, drain, monkeypatch):
    setup, creator, approver = road
    (inv, erp), = sent_invoices(session, road, 1)

    def down(self, mail_id, job_id):
        raise redis.exceptions.ConnectionError("Redis is down")
    monkeypatch.setattr(RQJobQueue, "mail", down)
    login(client, approver)
    page = client.post(f"/erp/{INVOICE}/{erp.id}/reject", data={"reason": "Wrong period"},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "the email will follow as soon as it is back" in page
    assert "and emailed" not in page
    mail = session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id)).one()
    assert mail.status == MailStatus.PENDING
    with app.app_context():
        jobs.reap()   # still down: it waits
    assert session.get(OutboxMail, mail.id).status == MailStatus.PENDING
    monkeypatch.undo()
    with app.app_context():
        assert jobs.reap().mails >= 1
    drain()
    session.expire_all()
    assert session.get(OutboxMail, mail.id).status == MailStatus.SENT
    assert len(smtp.to(creator.email)) == 1


def test_a_mail_whose_worker_was_killed_while_sending_is_sent_after_its_hold(app, session, road, smtp, drain):
    creator = road[1]
    mail = OutboxMail(recipients=creator.email, subject="Held", text_body="t", html_body="t",
                      status=MailStatus.SENDING, attempts=1, next_attempt_at=utcnow() - timedelta(seconds=1))
    session.add(mail)
    session.commit()
    with app.app_context():
        assert jobs.reap().mails >= 1
    drain()
    session.expire_all()
    assert (session.get(OutboxMail, mail.id).status, session.get(OutboxMail, mail.id).attempts) == (MailStatus.SENT, 2)


def test_two_jobs_for_one_mail_send_it_once(app, session, road, smtp):
    creator = road[1]
    mail = OutboxMail(recipients=creator.email, subject="Twice queued", text_body="t", html_body="t",
                      status=MailStatus.PENDING, next_attempt_at=utcnow())
    session.add(mail)
    session.commit()
    with app.app_context():
        assert jobs.send_mail(mail.id) == MailStatus.SENT
        assert jobs.send_mail(mail.id) == MailStatus.SENT   # the second finds it sent
    assert len(smtp.to(creator.email)) == 1


def test_the_scheduler_waits_out_a_redis_outage_and_reaps_meanwhile(app, monkeypatch):
    pauses: list[float] = []
    ticks: list[str] = []

    class Cron:
        runs = 0

        def start(self):
            Cron.runs += 1
            if Cron.runs <= 3:
                raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(schedule, "cron_scheduler", lambda app, tick: Cron())
    monkeypatch.setattr(schedule.time, "sleep", pauses.append)
    monkeypatch.setattr(jobs, "reap", lambda: ticks.append("tick") or "reaped")
    schedule.run(app)
    assert Cron.runs == 4 and pauses == [1.0, 2.0, 4.0]
    assert ticks   # the reaper ticked in its own thread


def test_an_export_job_taken_by_a_worker_that_died_before_starting_it_is_reaped(app, session, road, drain,
                                                                              monkeypatch):
    """RQ moves a job to its intermediate list and registers it as started before it marks it so:
    a worker killed in between leaves it "queued" there for good. Once its registration lapses,
    the sweep fails it and the reaper queues the export again."""
    (inv, erp), = sent_invoices(session, road, 1)

    class Dropped:
        def export_many(self, items):
            pass
    services.accept(session, road[2], erp.id, get_type(INVOICE).export_defaults(inv), Dropped())
    with app.app_context():
        queue = default_queue()
        job = queue.enqueue("portal.jobs.export_item", erp.id, 1, job_id=redis_job_id(erp.job_id))
        queue.connection.lmove(queue.key, queue.intermediate_queue_key)   # taken by a worker...
        queue.connection.zadd(StartedJobRegistry(queue=queue).key, {f"{job.id}:gone": 1})   # ...that died
        monkeypatch.setitem(app.config, "EXPORT_REAP_SECONDS", 0)
        assert jobs.reap().exports >= 1
        assert job.id not in queue.intermediate_queue.get_job_ids()
    drain()
    session.expire_all()
    assert session.get(ErpItem, erp.id).state == State.SYNCED


def test_a_sync_started_while_the_queue_is_down_waits_queued_and_the_reaper_queues_it_once_it_is_back(session):
    waiting = sync.start(session, f.approver(session), "cost_codes", RecordingQueue(fail=True))
    assert waiting.status == SyncStatus.QUEUED and "cannot be reached" in waiting.message
    assert sync.active_run(session, "cost_codes").id == waiting.id

    class Back(RecordingQueue):
        def statuses(self, job_ids):
            return dict.fromkeys(job_ids)   # Redis has no such job
    back = Back()
    recovery.reap_syncs(session, back, timedelta(minutes=1))
    assert waiting.id not in back.queued   # too recent to tell
    assert recovery.reap_syncs(session, back, timedelta(0), now=utcnow() + timedelta(seconds=1)) >= 1
    assert back.queued.count(waiting.id) == 1
    done = sync.execute(session, waiting.id, FakeSage())
    assert done.status == SyncStatus.DONE
