"""The lifecycle services called the way the design promises: no Flask app, a plain SQLAlchemy
Session on an in-memory SQLite database, a fake job queue and a fake Sage connector."""
from __future__ import annotations

import ast
import pathlib
import re
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import flask
import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import exports, services, tabs
from portal.domain.backoff import Backoff
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import (
    ErpAudit,
    ErpItem,
    InvoiceStatus,
    MailStatus,
    OutboxMail,
    ProjectMember,
    ToolLevel,
    User,
    utcnow,
)
from portal.domain.values import local_time
from portal.exporters.sage300.records import Batch, ConnectorUnavailable, SageResult
from tests import factories as f
from tests.rows import check_rows
from tests.types import get_type

KEY = "subcontractor_invoice"
INVOICE = get_type(KEY)
DOMAIN = pathlib.Path(__file__).resolve().parents[2] / "portal" / "domain"


# ---- fakes --------------------------------------------------------------------------------

class FakeQueue:
    """The JobQueue port, recording every call; `fail` makes enqueueing raise like a dead Redis."""

    def __init__(self, fail: bool = False):
        self.fail = fail
        self.exports: list[tuple] = []
        self.mails: list[tuple] = []

    def export_many(self, items):
        self.exports.extend(items)
        if self.fail:
            raise ConnectionError("Redis is down")

    def mail(self, mail_id, job_id):
        self.mails.append((mail_id, job_id))
        if self.fail:
            raise ConnectionError("Redis is down")


class FakeConnector:
    """A Sage connector answering with a fixed result (or raising), recording each batch."""

    def __init__(self, session: Session, result: SageResult | Exception | None = None):
        self.session, self.result = session, result or SageResult(ok=True, reference="V/INV")
        self.batches: list[Batch] = []
        self.in_transaction: list[bool] = []

    def setup_checks(self) -> list:
        return []  # Sage's setup is met (tests/integration/test_setup_checks.py checks it)

    def submit(self, batch: Batch) -> SageResult:
        self.batches.append(batch)
        self.in_transaction.append(self.session.in_transaction())
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


# ---- a database without an app (tests/unit/conftest.py's session) ---------------------------

def person(session, *, erp=ToolLevel.NONE, push=False, email=None, site_admin=False) -> User:
    """A user without the password hash's cost (these tests never sign in)."""
    s = f.suffix()
    u = User(username=f"u{s.lower()}", name=f"User {s}", email=email or f"u{s.lower()}@example.com",
             password_hash="!", erp_level=erp, can_push_to_accounting=push, is_site_admin=site_admin,
             active=True, session_token="t")
    session.add(u)
    session.commit()
    return u


class Road:
    """A project, its admin (who creates and sends), and an accounting approver."""

    def __init__(self, session, **setup_kw):
        self.session = session
        self.setup = f.Setup(session, None, **setup_kw)
        self.admin = person(session)
        f.member(session, self.admin, self.setup.project, ToolLevel.ADMIN)
        self.approver = person(session, erp=ToolLevel.STANDARD, push=True)

    def invoice(self, creator=None, **kw):
        return self.setup.invoice(self.session, creator or self.admin, **kw)

    def sent(self, **kw):
        inv = self.invoice(**kw)
        return inv, services.send(self.session, self.admin, KEY, inv.id)

    def accepted(self, queue=None, **kw):
        inv, erp = self.sent(**kw)
        services.accept(self.session, self.approver, erp.id, INVOICE.export_defaults(inv), queue or FakeQueue())
        return inv, erp


@pytest.fixture
def road(session):
    return Road(session)


def audits(session, erp) -> list[tuple]:
    return [(a.action, a.from_state, a.to_state) for a in session.scalars(
        select(ErpAudit).where(ErpAudit.erp_item_id == erp.id).order_by(ErpAudit.id))]


def fresh(session, erp) -> ErpItem:
    """The row as the database has it now."""
    session.expire_all()
    return session.get(ErpItem, erp.id)


# ---- no Flask ------------------------------------------------------------------------------

def test_domain_modules_import_no_flask():
    """Every module of portal/domain, its subpackages too (the item types' own modules): no Flask,
    and no RQ or Redis (the queue is a port)."""
    def check(path):
        tree = ast.parse(path.read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        assert not {m for m in imported if m.split(".")[0].startswith("flask") or m.split(".")[0] in ("rq", "redis")}, \
            imported
        assert not {m for m in imported if m in ("portal.extensions", "portal.web", "portal.queue",
                                                 "portal.health_probe")}, imported
    modules = sorted(DOMAIN.rglob("*.py"))
    assert len(modules) > 10
    check_rows({str(path.relative_to(DOMAIN)): path for path in modules}, check)


def test_the_services_run_without_an_app(session, road):
    inv, erp = road.accepted()
    assert not flask.has_app_context() and not flask.has_request_context()
    assert fresh(session, erp).state == State.EXPORTING


# ---- send -----------------------------------------------------------------------------------

def test_send_puts_a_draft_in_ready_to_export_with_an_audit_row(session, road):
    inv, erp = road.sent()
    erp = fresh(session, erp)
    assert (erp.state, erp.sent_by_id, erp.project_id, erp.attempt) == (State.READY, road.admin.id,
                                                                       road.setup.project.id, 0)
    assert erp.sent_at is not None
    assert audits(session, erp) == [("send", State.DRAFT, State.READY)]


def test_send_refuses_with_every_reason_and_creates_nothing(session):
    road = Road(session, vendor_erp=False)
    road.setup.commitment.erp_commitment_id = None
    road.setup.project.sage_job_id = None
    session.commit()
    inv = road.invoice(status=InvoiceStatus.UNDER_REVIEW)
    with pytest.raises(Invalid) as info:
        services.send(session, road.admin, KEY, inv.id)
    reasons = info.value.fields["prerequisites"]
    assert info.value.status == 422
    for expected in ("The invoice is Under Review", "The project is not synced with a Sage 300 CRE job.",
                     f"Commitment {road.setup.commitment.number} is not synced with Sage 300 CRE.",
                     f"The contract company {road.setup.vendor.name} has no ERP vendor ID"):
        assert expected in reasons and expected in info.value.message
    session.rollback()
    assert services.find_erp_item(session, KEY, inv.id) is None


@pytest.mark.parametrize("status", sorted(InvoiceStatus.SENDABLE))
def test_sendable_statuses(session, road, status):
    inv = road.invoice(status=status)
    assert services.send(session, road.admin, KEY, inv.id).state == State.READY


@pytest.mark.parametrize("level", [None, ToolLevel.READ_ONLY, ToolLevel.STANDARD])
def test_send_needs_admin_on_the_project(session, road, level):
    other = person(session, erp=ToolLevel.ADMIN, push=True)
    if level:
        f.member(session, other, road.setup.project, level)
    inv = road.invoice()
    with pytest.raises(PermissionDenied):
        services.send(session, other, KEY, inv.id)
    session.rollback()
    assert services.find_erp_item(session, KEY, inv.id) is None


def test_site_admin_may_send_without_membership(session, road):
    inv = road.invoice()
    admin = person(session, site_admin=True)
    assert services.send(session, admin, KEY, inv.id).state == State.READY


def test_sending_twice_is_a_conflict(session, road):
    inv, erp = road.sent()
    with pytest.raises(Conflict):
        services.send(session, road.admin, KEY, inv.id)
    assert fresh(session, erp).state == State.READY and len(audits(session, erp)) == 1


def test_send_of_a_missing_invoice_is_not_found(session, road):
    with pytest.raises(NotFound):
        services.send(session, road.admin, KEY, 999999)


def test_resend_after_a_rejection_checks_prerequisites_again(session, road):
    inv, erp = road.sent()
    services.reject(session, road.approver, erp.id, "Wrong period", FakeQueue(), "TB", lambda e: "x")
    inv.status = InvoiceStatus.REVISE_AND_RESUBMIT
    session.commit()
    with pytest.raises(Invalid):
        services.send(session, road.admin, KEY, inv.id)
    session.rollback()
    inv.status = InvoiceStatus.APPROVED
    session.commit()
    services.send(session, road.admin, KEY, inv.id)
    assert fresh(session, erp).state == State.READY
    assert [a[0] for a in audits(session, erp)] == ["send", "reject", "resend"]


# ---- retrieve ---------------------------------------------------------------------------------

def test_the_sender_retrieves(session, road):
    inv, erp = road.sent()
    services.retrieve(session, road.admin, erp.id)
    assert fresh(session, erp).state == State.DRAFT
    assert audits(session, erp)[-1] == ("retrieve", State.READY, State.DRAFT)


def test_another_project_admin_retrieves(session, road):
    inv, erp = road.sent()
    other = person(session)
    f.member(session, other, road.setup.project, ToolLevel.ADMIN)
    services.retrieve(session, other, erp.id)
    assert fresh(session, erp).state == State.DRAFT


def test_the_sender_still_retrieves_after_being_lowered_to_read_only(session, road):
    inv, erp = road.sent()
    member = session.scalars(select(ProjectMember).where(ProjectMember.user_id == road.admin.id)).one()
    member.level = ToolLevel.READ_ONLY
    session.commit()
    services.retrieve(session, road.admin, erp.id)
    assert fresh(session, erp).state == State.DRAFT


@pytest.mark.parametrize("who", ["read only member", "standard member", "approver", "stranger"])
def test_nobody_else_retrieves(session, road, who):
    inv, erp = road.sent()
    if who == "approver":
        other = road.approver
    else:
        other = person(session)
        level = {"read only member": ToolLevel.READ_ONLY, "standard member": ToolLevel.STANDARD}.get(who)
        if level:
            f.member(session, other, road.setup.project, level)
    with pytest.raises(PermissionDenied):
        services.retrieve(session, other, erp.id)
    session.rollback()
    assert fresh(session, erp).state == State.READY and len(audits(session, erp)) == 1


def test_retrieve_after_acceptance_is_a_conflict(session, road):
    inv, erp = road.accepted()
    with pytest.raises(Conflict):
        services.retrieve(session, road.admin, erp.id)
    session.rollback()
    assert fresh(session, erp).state == State.EXPORTING


# ---- accept ------------------------------------------------------------------------------------

def test_accept_validates_records_and_queues_one_export_with_its_job_id(session, road):
    inv, erp = road.sent()
    queue = FakeQueue()
    result = services.accept(session, road.approver, erp.id,
                             {"erp_id": "  AP-1001 ", "description": " Oct pay app ",
                              "accounting_date": "10/31/2026", "ignored": "x"}, queue)
    erp = fresh(session, erp)
    assert result.id == erp.id
    assert erp.state == State.EXPORTING and erp.attempt == 1
    assert erp.export_fields == {"erp_id": "AP-1001", "description": "Oct pay app",
                                 "accounting_date": "2026-10-31"}
    assert erp.job_id == f"export-{erp.id}-1" and erp.decided_by_id == road.approver.id
    assert erp.queued_at is not None
    assert queue.exports == [(erp.id, 1, f"export-{erp.id}-1")]
    assert audits(session, erp)[-1] == ("accept", State.READY, State.EXPORTING)


@pytest.mark.parametrize("raw, field, message", [
    ({"erp_id": "X" * 16}, "erp_id", "ERP ID must be 15 characters or less"),
    ({"erp_id": ""}, "erp_id", "ERP ID is required."),
    ({"accounting_date": "2026-13-01"}, "accounting_date", "Enter a date as MM/DD/YYYY."),
    ({"accounting_date": None}, "accounting_date", "This field is required."),
    ({"description": "D" * 31}, "description", "Description must be 30 characters or less."),
])
def test_accept_with_bad_fields_changes_nothing_and_queues_nothing(session, road, raw, field, message):
    inv, erp = road.sent()
    queue = FakeQueue()
    with pytest.raises(Invalid) as info:
        services.accept(session, road.approver, erp.id,
                        {"erp_id": "OK-1", "accounting_date": "2026-10-31", **raw}, queue)
    assert message in info.value.fields[field]
    session.rollback()
    erp = fresh(session, erp)
    assert (erp.state, erp.attempt, erp.export_fields, erp.job_id) == (State.READY, 0, None, None)
    assert queue.exports == [] and len(audits(session, erp)) == 1


def test_every_bad_field_is_reported_at_once(session, road):
    inv, erp = road.sent()
    with pytest.raises(Invalid) as info:
        services.accept(session, road.approver, erp.id,
                        {"erp_id": "", "description": "D" * 31, "accounting_date": "x"}, FakeQueue())
    assert set(info.value.fields) == {"erp_id", "description", "accounting_date"}


@pytest.mark.parametrize("who", [dict(erp=ToolLevel.STANDARD), dict(erp=ToolLevel.ADMIN),
                                 dict(erp=ToolLevel.READ_ONLY, push=True), dict(push=True)],
                         ids=["standard", "erp admin without push", "read only with push", "push only"])
def test_only_accounting_approvers_accept(session, road, who):
    inv, erp = road.sent()
    queue = FakeQueue()
    with pytest.raises(PermissionDenied):
        services.accept(session, person(session, **who), erp.id, INVOICE.export_defaults(inv), queue)
    assert fresh(session, erp).state == State.READY and queue.exports == []


def test_accept_again_after_failure_is_a_new_attempt_with_a_new_job_id(session, road):
    inv, erp = road.accepted()
    services.record_export_result(session, erp.id, 1, SageResult(ok=False, message="Job has been closed."))
    queue = FakeQueue()
    services.accept(session, road.approver, erp.id, {"erp_id": inv.number, "accounting_date": "2026-11-01"}, queue)
    erp = fresh(session, erp)
    assert (erp.state, erp.attempt, erp.sage_message) == (State.EXPORTING, 2, None)
    assert queue.exports == [(erp.id, 2, f"export-{erp.id}-2")]
    assert services.batch_id(erp) == f"{KEY}-{inv.id}-a2"


@pytest.mark.parametrize("state", [State.EXPORTING, State.SYNCED, State.REJECTED, State.DRAFT])
def test_accept_outside_ready_or_failed_is_a_conflict_before_field_errors(session, road, state):
    inv, erp = road.sent()
    if state == State.DRAFT:
        services.retrieve(session, road.admin, erp.id)
    elif state == State.REJECTED:
        services.reject(session, road.approver, erp.id, "no", FakeQueue(), "TB", lambda e: "x")
    else:
        services.accept(session, road.approver, erp.id, INVOICE.export_defaults(inv), FakeQueue())
        if state == State.SYNCED:
            services.record_export_result(session, erp.id, 1, SageResult(ok=True, reference="R"))
    queue = FakeQueue()
    with pytest.raises(Conflict):
        services.accept(session, road.approver, erp.id, {"erp_id": ""}, queue)
    session.rollback()
    assert fresh(session, erp).state == state and queue.exports == []


def test_a_concurrent_decision_is_a_conflict_not_a_second_export(session, road):
    """Optimistic locking: the row changed under us (another approver) between load and commit."""
    inv, erp = road.sent()
    erp = services.get_erp_item(session, erp.id)
    session.execute(update(ErpItem).where(ErpItem.id == erp.id).values(version=ErpItem.version + 1)
                    .execution_options(synchronize_session=False))
    queue = FakeQueue()
    with pytest.raises(Conflict):
        services.accept(session, road.approver, erp.id, INVOICE.export_defaults(inv), queue)
    assert queue.exports == []
    assert fresh(session, erp).state == State.READY


def test_a_race_lost_in_a_flush_before_the_commit_is_a_conflict_too(session, road):
    """Reject reads the mail's recipients after the transition: that query's autoflush is where
    the stale version shows, before any commit. Still a Conflict (409), never a server error."""
    _inv, erp = road.sent()
    erp = services.get_erp_item(session, erp.id)
    session.execute(update(ErpItem).where(ErpItem.id == erp.id).values(version=ErpItem.version + 1)
                    .execution_options(synchronize_session=False))
    queue = FakeQueue()
    with pytest.raises(Conflict):
        services.reject(session, road.approver, erp.id, "no", queue, "TB", lambda e: "x")
    assert queue.mails == []
    assert fresh(session, erp).state == State.READY
    assert session.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp.id)) == 0


def clock(at) -> str:
    """A time as a message says it, in UTC (no company zone given): "3:04 PM UTC"."""
    return local_time(at, UTC).split(" ", 1)[1]


def test_what_happened_names_the_decision_who_made_it_and_when(session, road):
    """What the loser of a race is told: the item's latest move into where it now is."""
    def told(inv, erp):
        return tabs.what_happened(session, tabs.TabRow(fresh(session, erp), inv, {"number": inv.number}))

    inv, erp = road.accepted()
    at = session.scalars(select(ErpAudit.at).where(ErpAudit.erp_item_id == erp.id, ErpAudit.action == "accept")).one()
    assert told(inv, erp) == (f"{inv.number} is already Exporting "
                              f"(accepted by {road.approver.name} at {clock(at)}).")
    # on the company's clock, with its zone's name
    chicago = tabs.what_happened(session, tabs.TabRow(fresh(session, erp), inv, {"number": inv.number}),
                                 ZoneInfo("America/Chicago"))
    assert re.search(r"\(accepted by .* (at|on \d\d/\d\d/\d{4} at) \d{1,2}:\d\d [AP]M C[SD]T\)\.$", chicago)
    services.record_export_result(session, erp.id, 1, SageResult(ok=True, reference="R"))
    assert told(inv, erp).startswith(f"{inv.number} is already Synced (synced at ")

    inv, erp = road.sent()
    services.reject(session, road.approver, erp.id, "no", FakeQueue(), "TB", lambda e: "x")
    session.execute(update(ErpAudit).where(ErpAudit.erp_item_id == erp.id, ErpAudit.action == "reject")
                    .values(at=utcnow() - timedelta(days=2)))
    at = session.scalars(select(ErpAudit.at).where(ErpAudit.erp_item_id == erp.id, ErpAudit.action == "reject")).one()
    assert told(inv, erp) == f"{inv.number} was rejected by {road.approver.name} on {at:%m/%d/%Y} at {clock(at)}."


def test_a_queue_that_raises_leaves_the_item_exporting_and_accept_still_returns(session, road):
    inv, erp = road.sent()
    queue = FakeQueue(fail=True)
    result = services.accept(session, road.approver, erp.id, INVOICE.export_defaults(inv), queue)
    assert result.id == erp.id
    assert len(queue.exports) == 1  # it was tried
    erp = fresh(session, erp)
    assert (erp.state, erp.attempt, erp.job_id) == (State.EXPORTING, 1, f"export-{erp.id}-1")
    # recoverable: shows as stalled and requeue puts the same attempt back on a working queue
    assert erp.id in {e.id for e in exports.stalled_exports(session, timedelta(0))}
    working = FakeQueue()
    services.requeue(session, road.approver, erp.id, working)
    assert working.exports == [(erp.id, 1, f"export-{erp.id}-1")]
    assert fresh(session, erp).attempt == 1


def test_requeue_with_the_queue_still_down_is_a_conflict_and_keeps_the_export(session, road):
    inv, erp = road.accepted(queue=FakeQueue(fail=True))
    with pytest.raises(Conflict):
        services.requeue(session, road.approver, erp.id, FakeQueue(fail=True))
    assert fresh(session, erp).state == State.EXPORTING


def test_requeue_needs_an_approver_and_an_exporting_item(session, road):
    inv, erp = road.sent()
    with pytest.raises(PermissionDenied):
        services.requeue(session, road.admin, erp.id, FakeQueue())
    with pytest.raises(Conflict):
        services.requeue(session, road.approver, erp.id, FakeQueue())


def test_accept_many_takes_the_defaults_and_reports_the_rest(session, road):
    (one, e1), (_two, e2) = road.sent(), road.sent()
    _, e3 = road.accepted()
    queue = FakeQueue()
    accepted, errors = services.accept_many(session, road.approver, KEY, [e1.id, e2.id, e3.id, 999999], queue)
    assert sorted(e.id for e in accepted) == sorted([e1.id, e2.id])
    assert errors == {e3.id: "It is Exporting.", 999999: "That item is not in ERP Integrations."}
    # accepted together, exported by one job: the id of the first one's
    job_id = f"export-{accepted[0].id}-1"
    assert sorted(queue.exports) == sorted([(e1.id, 1, job_id), (e2.id, 1, job_id)])
    assert fresh(session, e1).export_fields == INVOICE.export_defaults(one)


def test_accept_many_groups_the_exports_in_jobs_of_a_bounded_size(session, road, monkeypatch):
    monkeypatch.setattr(services, "EXPORT_JOB_SIZE", 2)
    ids = [road.sent()[1].id for _ in range(5)]
    queue = FakeQueue()
    accepted, _ = services.accept_many(session, road.approver, KEY, ids, queue)
    jobs = [job_id for _, _, job_id in queue.exports]
    assert [jobs.count(j) for j in dict.fromkeys(jobs)] == [2, 2, 1]
    assert jobs[0] == f"export-{accepted[0].id}-1" and jobs[4] == f"export-{accepted[4].id}-1"


def test_accept_many_accepts_only_the_items_of_its_own_tab(session, road):
    """A bulk accept on another type's tab (ids=15 posted to the vendor tab) exports nothing of
    this type: each such item is reported, and stays where it was."""
    (_one, e1), (_two, e2) = road.sent(), road.sent()
    queue = FakeQueue()
    accepted, errors = services.accept_many(session, road.approver, "vendor", [e1.id, e2.id], queue)
    assert accepted == [] and queue.exports == []
    assert errors == {e1.id: "That item is not in this tab.", e2.id: "That item is not in this tab."}
    assert fresh(session, e1).state == fresh(session, e2).state == State.READY
    with pytest.raises(NotFound):
        services.accept_many(session, road.approver, "no_such_type", [e1.id], queue)


def test_accept_many_with_nothing_ticked_is_invalid(session, road):
    with pytest.raises(Invalid):
        services.accept_many(session, road.approver, KEY, [], FakeQueue())


# ---- reject ------------------------------------------------------------------------------------

def test_reject_writes_the_outbox_mail_in_the_same_commit_as_the_decision(session, road):
    inv, erp = road.sent()
    seen = []

    @event.listens_for(session, "before_commit")
    def watch(s):
        s.flush()
        seen.append(([type(o).__name__ for o in s.identity_map.values() if isinstance(o, OutboxMail)
                      and o.erp_item_id == erp.id], s.get(ErpItem, erp.id).state))

    queue = FakeQueue()
    try:
        services.reject(session, road.approver, erp.id, "  Retainage should be 10%  ", queue, "Test Builders",
                        lambda e: f"http://portal.test/items/{e.id}")
    finally:
        event.remove(session, "before_commit", watch)
    assert seen == [(["OutboxMail"], State.REJECTED)]  # one commit holding both
    erp = fresh(session, erp)
    mail = session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id)).one()
    assert (erp.state, erp.reject_reason, erp.decided_by_id) == (State.REJECTED, "Retainage should be 10%",
                                                                 road.approver.id)
    assert mail.status == MailStatus.PENDING and mail.attempts == 0
    assert mail.subject.startswith("Test Builders: ERP Subcontractor Invoice Rejection Notification — ")
    assert mail.reply_to == road.approver.email
    assert "Retainage should be 10%" in mail.text_body and f"http://portal.test/items/{erp.id}" in mail.text_body
    assert queue.mails == [(mail.id, f"mail-{mail.id}-0")]
    assert audits(session, erp)[-1] == ("reject", State.READY, State.REJECTED)


def test_a_failed_commit_loses_the_decision_and_the_mail_together(session, road):
    inv, erp = road.sent()

    def boom(s):
        raise IntegrityError("INSERT", {}, Exception("simulated"))

    event.listen(session, "before_commit", boom)
    queue = FakeQueue()
    try:
        with pytest.raises(Conflict):
            services.reject(session, road.approver, erp.id, "No", queue, "TB", lambda e: "x")
    finally:
        event.remove(session, "before_commit", boom)
    assert fresh(session, erp).state == State.READY
    assert session.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp.id)) == 0
    assert queue.mails == []


def test_reject_mails_creator_and_sender_once_each(session, road):
    creator = person(session, email="Creator@Example.com")
    inv = road.invoice(creator=creator)
    erp = services.send(session, road.admin, KEY, inv.id)
    services.reject(session, road.approver, erp.id, "No", FakeQueue(), "TB", lambda e: "x")
    mail = session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id)).one()
    assert mail.recipients == ",".join(sorted(["creator@example.com", road.admin.email.lower()]))


def test_reject_mails_once_when_creator_is_the_sender(session, road):
    inv, erp = road.sent()  # road.admin created and sent it
    services.reject(session, road.approver, erp.id, "No", FakeQueue(), "TB", lambda e: "x")
    mail = session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id)).one()
    assert mail.recipients == road.admin.email.lower()


def test_reject_mails_once_when_two_people_share_an_address_in_different_case(session, road):
    creator = person(session, email=road.admin.email.upper())
    inv = road.invoice(creator=creator)
    erp = services.send(session, road.admin, KEY, inv.id)
    services.reject(session, road.approver, erp.id, "No", FakeQueue(), "TB", lambda e: "x")
    mail = session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id)).one()
    assert mail.recipients == road.admin.email.lower()


@pytest.mark.parametrize("reason, message", [("", "A reason is required."), ("  \n ", "A reason is required."),
                                             ("x" * 2001, "Keep the reason under 2000 characters.")])
def test_reject_needs_a_reason_and_then_changes_nothing(session, road, reason, message):
    inv, erp = road.sent()
    queue = FakeQueue()
    with pytest.raises(Invalid) as info:
        services.reject(session, road.approver, erp.id, reason, queue, "TB", lambda e: "x")
    assert info.value.fields["reason"] == message
    session.rollback()
    assert fresh(session, erp).state == State.READY and queue.mails == []
    assert session.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp.id)) == 0


def test_only_approvers_reject(session, road):
    inv, erp = road.sent()
    with pytest.raises(PermissionDenied):
        services.reject(session, person(session, erp=ToolLevel.ADMIN), erp.id, "No", FakeQueue(), "TB", lambda e: "x")
    assert fresh(session, erp).state == State.READY


def test_a_queue_that_raises_keeps_the_rejection_and_its_pending_mail(session, road):
    inv, erp = road.sent()
    services.reject(session, road.approver, erp.id, "No", FakeQueue(fail=True), "TB", lambda e: "x")
    assert fresh(session, erp).state == State.REJECTED
    mail = session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id)).one()
    assert mail.status == MailStatus.PENDING


def test_a_failed_export_can_be_rejected(session, road):
    inv, erp = road.accepted()
    services.record_export_result(session, erp.id, 1, SageResult(ok=False, message="Job has been closed."))
    services.reject(session, road.approver, erp.id, "Job is closed", FakeQueue(), "TB", lambda e: "x")
    assert fresh(session, erp).state == State.REJECTED


# ---- run_export (the worker's side) -----------------------------------------------------------

def test_run_export_ok_marks_synced_with_the_erp_id(session, road):
    inv, erp = road.accepted()
    connector = FakeConnector(session, SageResult(ok=True, reference=f"V/{inv.number}"))
    assert services.run_export(session, erp.id, 1, connector) == State.SYNCED
    erp = fresh(session, erp)
    assert (erp.state, erp.erp_ref) == (State.SYNCED, inv.number) and erp.synced_at is not None
    [batch] = connector.batches
    assert batch.batch_id == f"{KEY}-{inv.id}-a1" and batch.kind == "ap_invoice"
    assert connector.in_transaction == [False]  # the database is not held while Sage works
    assert audits(session, erp)[-1] == ("export_ok", State.EXPORTING, State.SYNCED)


def test_run_export_refusal_marks_failed_with_sages_message(session, road):
    inv, erp = road.accepted()
    message = "Vendor is inactive/has been archived."
    assert services.run_export(session, erp.id, 1, FakeConnector(session, SageResult(ok=False, message=message))) \
        == State.FAILED
    erp = fresh(session, erp)
    assert (erp.state, erp.sage_message) == (State.FAILED, message)
    last = session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp.id).order_by(ErpAudit.id.desc())).first()
    assert (last.action, last.detail) == ("export_failed", {"message": message})


def test_run_export_twice_with_the_same_attempt_submits_once(session, road):
    inv, erp = road.accepted()
    connector = FakeConnector(session)
    assert services.run_export(session, erp.id, 1, connector) == State.SYNCED
    assert services.run_export(session, erp.id, 1, connector) == "skipped"
    assert len(connector.batches) == 1
    assert [a[0] for a in audits(session, erp)].count("export_ok") == 1


def test_run_export_of_an_old_attempt_is_skipped(session, road):
    inv, erp = road.accepted()
    services.record_export_result(session, erp.id, 1, SageResult(ok=False, message="Job has been closed."))
    services.accept(session, road.approver, erp.id, INVOICE.export_defaults(inv), FakeQueue())
    connector = FakeConnector(session)
    assert services.run_export(session, erp.id, 1, connector) == "skipped"
    assert connector.batches == [] and fresh(session, erp).state == State.EXPORTING
    assert services.run_export(session, erp.id, 2, connector) == State.SYNCED


def test_run_exports_decides_each_item_of_a_group_on_its_own(session, road):
    """Read together, recorded together: an old attempt is skipped, one that cannot be mapped
    fails without reaching Sage, a refusal fails with Sage's text, the rest are Synced."""
    (_, ok), (old_inv, old), (_, unmappable) = road.accepted(), road.accepted(), road.accepted()
    services.record_export_result(session, old.id, 1, SageResult(ok=False, message="Job has been closed."))
    services.accept(session, road.approver, old.id, INVOICE.export_defaults(old_inv), FakeQueue())  # attempt 2
    bad = fresh(session, unmappable)
    bad.export_fields = {**bad.export_fields, "accounting_date": "not a date"}
    session.commit()
    connector = FakeConnector(session)
    outcomes = services.run_exports(session, [(ok.id, 1), (old.id, 1), (unmappable.id, 1)], connector)
    assert outcomes == {ok.id: State.SYNCED, old.id: "skipped", unmappable.id: State.FAILED}
    assert len(connector.batches) == 1
    assert fresh(session, old).state == State.EXPORTING


def test_items_whose_type_writes_back_on_sync_are_exported_one_at_a_time(session, road, monkeypatch):
    """A later item may be mapped from what an earlier one writes back when it is synced."""
    items = [(road.accepted()[1].id, 1) for _ in range(3)]
    assert services.export_segments(session, items) == [items]
    monkeypatch.setattr(INVOICE, "writes_back_on_sync", True)
    assert services.export_segments(session, items) == [[item] for item in items]


def test_run_exports_records_each_afresh_when_one_changed_while_sage_worked(session, road):
    """A Retry that re-queued one item meanwhile (its version moved): the group's commit loses
    the race, and each result is then recorded against the row as it is now, once."""
    (_, first), (_, second) = road.accepted(), road.accepted()

    class Meddling(FakeConnector):
        def submit(self, batch):
            if not self.batches:
                session.execute(update(ErpItem).where(ErpItem.id == first.id)
                                .values(version=ErpItem.version + 1).execution_options(synchronize_session=False))
                session.commit()
            return super().submit(batch)
    outcomes = services.run_exports(session, [(first.id, 1), (second.id, 1)], Meddling(session))
    assert outcomes == {first.id: State.SYNCED, second.id: State.SYNCED}
    for erp in (first, second):
        assert [a[0] for a in audits(session, erp)].count("export_ok") == 1
        assert fresh(session, erp).state == State.SYNCED


def test_run_export_of_an_item_that_is_not_exporting_or_missing_is_skipped(session, road):
    inv, erp = road.sent()
    connector = FakeConnector(session)
    assert services.run_export(session, erp.id, 0, connector) == "skipped"
    assert services.run_export(session, 999999, 1, connector) == "skipped"
    assert connector.batches == []


def test_sage_unreachable_is_tried_again_later_then_fails_with_a_clear_message(session, road):
    inv, erp = road.accepted()
    connector = FakeConnector(session, ConnectorUnavailable("connection refused"))
    backoff = Backoff((30,))   # two tries
    assert services.run_export(session, erp.id, 1, connector, backoff) == State.EXPORTING
    erp = fresh(session, erp)
    assert (erp.retries, erp.job_id) == (1, f"export-{erp.id}-1")
    assert timedelta(seconds=28) < erp.retry_at - utcnow() <= timedelta(seconds=30)
    assert erp.sage_message == (f"Retrying at {erp.retry_at:%H:%M} (attempt 2 of 2): "
                                "Sage 300 CRE could not be reached: connection refused")
    assert services.run_export(session, erp.id, 1, connector, backoff) == State.FAILED
    erp = fresh(session, erp)
    assert (erp.state, erp.retry_at) == (State.FAILED, None)
    assert erp.sage_message == "Sage 300 CRE could not be reached: connection refused"
    failed = session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp.id)
                             .order_by(ErpAudit.id.desc())).first()
    assert (failed.action, failed.detail["tries"]) == ("export_failed", 2)


def test_an_item_that_cannot_be_mapped_fails_without_reaching_sage(session, road):
    inv, erp = road.accepted()
    erp.export_fields = {**erp.export_fields, "accounting_date": "not a date"}
    session.commit()
    connector = FakeConnector(session)
    assert services.run_export(session, erp.id, 1, connector) == State.FAILED
    assert connector.batches == []
    assert fresh(session, erp).sage_message.startswith("The item could not be mapped for Sage:")


def test_an_unexpected_connector_error_fails_the_item_with_a_plain_message(session, road, caplog):
    """A bug is not Sage's answer: Failed to Export (so Retry and Reject are there), never a
    permanent Exporting; the message names the log entry that has the traceback."""
    inv, erp = road.accepted()
    assert services.run_export(session, erp.id, 1, FakeConnector(session, RuntimeError("bug\x00 here"))) \
        == State.FAILED
    message = fresh(session, erp).sage_message
    assert re.fullmatch(r"The portal could not export this item: RuntimeError: bug here; "
                        r"it was logged as #([0-9a-f]{8})\.", message)
    ref = re.search(r"#([0-9a-f]{8})", message).group(1)
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)
    services.reject(session, road.approver, erp.id, "not this month", FakeQueue(), "TB", lambda e: "x")
    assert fresh(session, erp).state == State.REJECTED


def test_a_result_the_database_refuses_is_recorded_as_a_plain_failure(session, road, monkeypatch):
    """A value the database will not store (PostgreSQL refuses NUL bytes) must not leave the
    item Exporting: it fails with the plain message instead."""
    from sqlalchemy.exc import DataError
    inv, erp = road.accepted()
    real = services.commit

    def refusing(session, *args, **kw):  # the database refuses to store the Synced row
        if any(isinstance(o, ErpItem) and o.state == State.SYNCED for o in session.dirty):
            raise DataError("UPDATE erp_item ...", {}, ValueError("A string literal cannot contain NUL"))
        return real(session, *args, **kw)
    monkeypatch.setattr(services, "commit", refusing)
    assert services.run_export(session, erp.id, 1, FakeConnector(session)) == State.FAILED
    assert fresh(session, erp).sage_message.startswith("The portal could not export this item: DataError:")


def test_export_result_recorded_once_even_if_the_worker_reports_twice(session, road):
    inv, erp = road.accepted()
    assert services.record_export_result(session, erp.id, 1, SageResult(ok=True, reference="R")) == State.SYNCED
    assert services.record_export_result(session, erp.id, 1, SageResult(ok=False, message="late")) == "skipped"
    erp = fresh(session, erp)
    assert (erp.state, erp.sage_message) == (State.SYNCED, None)


def test_state_counts_group_by_state(session, road):
    road.sent(), road.sent()
    road.accepted()
    assert tabs.state_counts(session, KEY) == {State.READY: 2, State.EXPORTING: 1}


def test_a_control_character_in_an_export_field_is_refused_at_accept_with_the_field_named(session, road):
    inv, erp = road.sent()
    fields = {**INVOICE.export_defaults(inv), "description": "Concrete\x00pour"}
    with pytest.raises(Invalid) as refused:
        services.accept(session, road.approver, erp.id, fields, FakeQueue())
    assert set(refused.value.fields) == {"description"}
    assert fresh(session, erp).state == State.READY
