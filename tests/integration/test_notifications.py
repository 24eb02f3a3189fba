"""Notices for accounting approvers, against the real database, RQ worker (drain) and SMTP server:
the daily summary (content, recipients, opt-out, once a day however many schedulers ask, the
company's hour and time zone) and the notice of a rejected item sent again (email or digest line).

The database is shared by the session's tests: every summary here is for a day of its own (a
random far date), and assertions look at this test's people and items only."""
from __future__ import annotations

import email
import email.policy
import random
import re
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import notifications, services, settings
from portal.domain.lifecycle import State
from portal.domain.models import DailySummaryRun, DigestNote, OutboxMail, ToolLevel
from portal.domain.notifications import DIGEST, EMAIL, Notices
from portal.queue import RQJobQueue
from tests import factories as f, items as it

COMPANY = it.COMPANY
BASE = "http://portal.test"
UTC = ZoneInfo("UTC")


def a_day() -> datetime:
    """Noon UTC of a day no other test uses."""
    return datetime(2100 + random.randrange(7000), 1 + random.randrange(12), 1 + random.randrange(28), 12, 0)


def approver(session, *, summary: bool = True, resent: str = EMAIL):
    user = f.make_user(session, erp_level=ToolLevel.STANDARD, push=True)
    user.daily_summary, user.resent_notice = summary, resent
    session.commit()
    return user


def readable(envelope) -> str:
    """A received mail's subject and text body, decoded (a body with a non-ASCII character travels
    encoded), with runs of white space as one space."""
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    return " ".join(f"{message['Subject']} {body.get_content() if body else ''}".split())


def mails_to(smtp, user, *parts: str) -> list:
    """What the SMTP server received for the user with every one of `parts` in it (subject or body)."""
    return [m for m in smtp.to(user.email) if all(p in readable(m) for p in parts)]


@pytest.fixture
def people(session):
    return dict(sender=f.make_user(session, site_admin=True), decider=approver(session),
                emailed=approver(session, resent=EMAIL), digest=approver(session, resent=DIGEST),
                digest_no_summary=approver(session, summary=False, resent=DIGEST),
                opted_out=approver(session, summary=False), plain=f.make_user(session, erp_level=ToolLevel.STANDARD),
                admin_no_push=f.make_user(session, erp_level=ToolLevel.ADMIN))


LONG_REASON = "Wrong retainage " + "on every line of the schedule of values " * 40   # 1,615 characters


def rejected_item(session, sim, people, key: str = "commitment") -> it.Item:
    home = it.make_home(session, sim)
    return it.make_item(session, sim, key, State.REJECTED, home=home, sender=people["sender"],
                        approver=people["decider"], reason=LONG_REASON)


def test_a_resent_item_is_emailed_or_noted_as_each_approver_chose(session, sim, people, drain, smtp):
    item = rejected_item(session, sim, people)
    erp = services.send(session, people["sender"], item.key, item.id, RQJobQueue(),
                        Notices(company=COMPANY, base_url=BASE, queue=RQJobQueue()))
    assert erp.state == State.READY
    mail = session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id,
                                                    OutboxMail.subject.like("%Resent%"))).one()
    title = mail.subject.split("Resent: ", 1)[1]
    assert mail.subject == f"{COMPANY}: ERP Commitment Resent: {title}" and item.number in title
    drain()
    # by email: who chose it, and who chose the digest but has no summary to carry it
    for who in ("emailed", "digest_no_summary", "decider", "opted_out"):
        got = mails_to(smtp, people[who], "ERP Commitment Resent:", "has been sent to ERP again", item.number)
        assert len(got) == 1, who
        body = readable(got[0])
        assert "Wrong retainage" in body and f"Review it: {BASE}/erp/commitment/{erp.id}" in body  # its item page
    for who in ("digest", "plain", "admin_no_push", "sender"):
        assert mails_to(smtp, people[who], "has been sent to ERP again", item.number) == [], who
    notes = session.scalars(select(DigestNote).where(DigestNote.erp_item_id == erp.id)).all()
    assert [(n.user_id, n.link) for n in notes] == [(people["digest"].id, f"{BASE}/erp/commitment/{erp.id}")]
    assert "sent to ERP again" in notes[0].text and "Wrong retainage" in notes[0].text


def test_a_first_send_tells_no_one(session, sim, people):
    home = it.make_home(session, sim)
    item = it.make_item(session, sim, "commitment", State.READY, home=home, sender=people["sender"])
    assert session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == item.erp)).all() == []
    assert session.scalars(select(DigestNote).where(DigestNote.erp_item_id == item.erp)).all() == []


def test_the_daily_summary_goes_to_approvers_who_want_it(session, sim, people, drain, smtp):
    """Items waiting per type, failed exports, the oldest waiting with links, and the digest lines."""
    item = rejected_item(session, sim, people)
    services.send(session, people["sender"], item.key, item.id, None, Notices(company=COMPANY, base_url=BASE))
    home = it.make_home(session, sim)
    it.make_item(session, sim, "commitment", State.FAILED, home=home, sender=people["sender"],
                 approver=people["decider"])
    now = a_day()
    sent = notifications.send_daily_summary(session, now, 7, UTC, Notices(company=COMPANY, base_url=BASE,
                                                                          queue=RQJobQueue()))
    assert sent and sent >= 3
    drain()
    subject = f"{COMPANY}: ERP Integrations Daily Summary for {now:%m/%d/%Y}"
    for who in ("digest", "emailed", "decider"):
        got = mails_to(smtp, people[who], subject)
        assert len(got) == 1, who
        body = readable(got[0])
        assert "Commitments:" in body and "waiting" in body and "failed to export" in body
        assert f"{BASE}/erp/commitment?filter=ready" in body and "Oldest waiting:" in body
        assert re.search(rf"{BASE}/erp/[a-z_]+/[0-9]+\b", body), "the oldest waiting item links to its page"
        assert ("Sent to ERP again since your last summary" in body) is (who == "digest"), who
    for who in ("opted_out", "digest_no_summary", "plain", "admin_no_push", "sender"):
        assert mails_to(smtp, people[who], subject) == [], who
    mail = session.scalars(select(OutboxMail).where(OutboxMail.subject == subject,
                                                    OutboxMail.recipients == people["digest"].email.lower())).one()
    # SMTP refuses a line over 1,000 characters: every row and line of the summary has its own
    assert max(len(line) for line in (mail.text_body + mail.html_body).splitlines()) < 500
    note = session.scalars(select(DigestNote).where(DigestNote.user_id == people["digest"].id)).one()
    assert note.summary_day == now.date()   # carried once: the next summary does not repeat it


def test_the_summary_waits_for_the_hour_in_the_company_time_zone(session):
    now = a_day()   # 12:00 UTC
    assert notifications.due_day(now, 13, UTC) is None
    assert notifications.due_day(now, 12, UTC) == now.date()
    assert notifications.due_day(now, 7, ZoneInfo("America/Los_Angeles")) is None   # 04:00 there
    assert notifications.due_day(now.replace(hour=23), 7, ZoneInfo("Asia/Tokyo")).toordinal() == now.toordinal() + 1
    assert settings.company_zone(session, "Not/A_Zone") == UTC and settings.company_zone(session, None) == UTC
    assert notifications.send_daily_summary(session, now, 13, UTC, Notices(company=COMPANY)) is None
    assert session.get(DailySummaryRun, now.date()) is None


def test_two_schedulers_send_the_summary_once(app, session, people):
    """Two processes asking at the same moment (and again later): one summary that day."""
    from portal.extensions import db
    now = a_day()
    barrier = threading.Barrier(2)
    outcomes: list = []

    def scheduler():
        with app.app_context(), Session(db.engine) as own:
            barrier.wait()
            outcomes.append(notifications.send_daily_summary(own, now, 7, UTC, Notices(company=COMPANY)))

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    sent = [o for o in outcomes if o is not None]
    assert len(outcomes) == 2 and len(sent) == 1 and isinstance(sent[0], int), outcomes
    assert notifications.send_daily_summary(session, now.replace(hour=20), 7, UTC, Notices(company=COMPANY)) is None
    run = session.get(DailySummaryRun, now.date())
    assert run is not None and run.sent == sent[0]
    subject = f"ERP Integrations Daily Summary for {now:%m/%d/%Y}"
    mine = session.scalars(select(OutboxMail).where(OutboxMail.subject.like(f"%{subject}"),
                                                    OutboxMail.recipients == people["emailed"].email.lower())).all()
    assert len(mine) == 1


def test_preferences_are_checked(session, people):
    user = notifications.set_preferences(session, people["emailed"].id, False, DIGEST)
    assert (user.daily_summary, user.resent_notice) == (False, DIGEST)
    from portal.domain.errors import Invalid
    with pytest.raises(Invalid) as caught:
        notifications.set_preferences(session, people["emailed"].id, True, "pigeon")
    assert "resent_notice" in caught.value.fields
    session.expire_all()
    assert session.get(type(user), user.id).resent_notice == DIGEST


def test_the_scheduler_asks_for_the_summary_every_tick(app):
    """The summary is one of the scheduler's cron jobs (each run sends at most once a day)."""
    from portal import jobs, schedule
    cron = schedule.cron_scheduler(app, 45)
    names = {job.func_name: job for job in cron.get_jobs()}
    assert f"{jobs.daily_summary.__module__}.daily_summary" in names
    assert names["portal.jobs.daily_summary"].interval == 45


def test_the_summary_job_reads_the_hour_and_zone_from_the_config(app, monkeypatch):
    from portal import jobs
    asked = {}

    def fake(session, now, hour, tz, notices):
        asked.update(hour=hour, tz=str(tz), company=notices.company)
        return None

    monkeypatch.setattr(notifications, "send_daily_summary", fake)
    monkeypatch.setitem(app.config, "DAILY_SUMMARY_HOUR", 9)
    monkeypatch.setitem(app.config, "COMPANY_TIME_ZONE", "America/Chicago")
    with app.app_context():
        assert jobs.daily_summary() == "not due"
    assert asked == {"hour": 9, "tz": "America/Chicago", "company": app.config["COMPANY_NAME"]}


def test_the_daily_summary_lists_insurance_certificates_expiring_within_30_days(session, sim, people, drain, smtp):
    from datetime import timedelta

    from portal.domain.models import Vendor, VendorInsurance
    now = a_day()
    vendor = Vendor(name=f"Insured {f.suffix()} Inc.")
    session.add(vendor)
    session.flush()
    session.add_all([VendorInsurance(vendor_id=vendor.id, insurance_type="umbrella", policy_number="UM-5",
                                     expiration_date=now.date() + timedelta(days=9)),
                     VendorInsurance(vendor_id=vendor.id, insurance_type="automobile", policy_number="AU-5",
                                     expiration_date=now.date() + timedelta(days=31))])
    session.commit()
    assert notifications.send_daily_summary(session, now, 7, UTC, Notices(company=COMPANY, base_url=BASE,
                                                                          queue=RQJobQueue()))
    drain()
    [got] = mails_to(smtp, people["decider"], f"Daily Summary for {now:%m/%d/%Y}")
    body = readable(got)
    assert "Insurance certificates expiring within 30 days:" in body
    assert (f"- {vendor.name}: Umbrella (UM-5) expires {now.date() + timedelta(days=9):%m/%d/%Y}. "
            f"{BASE}/erp/companies/{vendor.id}") in body
    assert "AU-5" not in body
