"""The whole road through real services, a real RQ worker, the simulator and SMTP."""
import email.policy
from decimal import Decimal

import pytest

from portal.domain import services
from portal.domain.errors import Conflict, Invalid, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import ErpAudit, ErpItem, MailStatus, OutboxMail, ToolLevel
from portal.queue import RQJobQueue
from tests import factories as f
from tests.types import get_type


def sent(session, road, **kw):
    setup, creator, _ = road
    inv = setup.invoice(session, creator, **kw)
    erp = services.send(session, creator, "subcontractor_invoice", inv.id)
    return inv, erp


def test_accept_exports_one_ap_invoice_and_marks_synced(session, sim, road, drain):
    setup, creator, approver = road
    inv, erp = sent(session, road)
    services.accept(session, approver, erp.id, {"erp_id": inv.number, "description": "Oct pay app",
                                                "accounting_date": "2026-10-31"}, RQJobQueue())
    assert session.get(type(erp), erp.id).state == State.EXPORTING
    drain()
    session.expire_all()
    erp = services.get_erp_item(session, erp.id)
    assert erp.state == State.SYNCED and erp.erp_ref == inv.number
    header = sim.get_invoice(setup.vendor.erp_vendor_id, inv.number)
    assert Decimal(header["Amount"]) == Decimal("1600.00")
    assert Decimal(header["Retainage"]) == Decimal("150.00")
    assert header["Description"] == "Oct pay app"
    actions = [a.action for a in session.query(ErpAudit).filter_by(erp_item_id=erp.id).order_by(ErpAudit.id)]
    assert actions == ["send", "accept", "export_ok"]


def test_sage_refusal_lands_in_failed_with_its_text_and_can_be_retried(session, sim, road, drain):
    setup, creator, approver = road
    inv, erp = sent(session, road, billing=__import__("datetime").date(2026, 1, 31))
    sim.set_setting("closed_periods", "2026-01")
    try:
        services.accept(session, approver, erp.id, get_type("subcontractor_invoice").export_defaults(inv), RQJobQueue())
        drain()
        session.expire_all()
        erp = services.get_erp_item(session, erp.id)
        assert erp.state == State.FAILED
        assert "GL period closed.  Entry not allowed. (01\\31\\2026)" in erp.sage_message
        # Retry with another accounting date: a new attempt, accepted by Sage.
        services.accept(session, approver, erp.id, {"erp_id": inv.number,
                                                    "accounting_date": "2026-02-01"}, RQJobQueue())
        drain()
        session.expire_all()
        assert services.get_erp_item(session, erp.id).state == State.SYNCED
    finally:
        sim.set_setting("closed_periods", "")


def test_a_bulk_accept_exports_in_one_job_and_a_bug_in_one_item_fails_that_item_alone(
        app, session, sim, road, drain, monkeypatch):
    from portal.domain.types import subcontractor_invoice as module
    _, _, approver = road
    erps = [sent(session, road)[1] for _ in range(3)]
    real = module.map_subcontractor_invoice
    broken = erps[1].id
    broken_batch = f"subcontractor_invoice-{erps[1].item_id}-a1"

    def mapping(data, batch_id):
        if batch_id == broken_batch:
            raise RuntimeError("a bug in the mapping")
        return real(data, batch_id)
    monkeypatch.setattr(module, "map_subcontractor_invoice", mapping)
    accepted, _ = services.accept_many(session, approver, "subcontractor_invoice", [e.id for e in erps], RQJobQueue())
    assert len({e.job_id for e in accepted}) == 1
    drain()
    session.expire_all()
    rows = {e.id: session.get(ErpItem, e.id) for e in erps}
    assert {i: r.state for i, r in rows.items()} == {
        erps[0].id: State.SYNCED, broken: State.FAILED, erps[2].id: State.SYNCED}
    assert rows[broken].sage_message.startswith(
        "The portal could not export this item: RuntimeError: a bug in the mapping; it was logged as #")
    # fixed, then accepted again: a new attempt that Sage takes
    monkeypatch.undo()
    invoices = get_type("subcontractor_invoice")
    services.accept(session, approver, broken,
                    invoices.export_defaults(invoices.load(session, erps[1].item_id)), RQJobQueue())
    drain()
    session.expire_all()
    assert session.get(ErpItem, broken).state == State.SYNCED


def test_reject_writes_mail_in_same_transaction_and_smtp_receives_it(session, road, smtp, drain):
    setup, creator, approver = road
    sender = f.make_user(session)
    f.member(session, sender, setup.project, ToolLevel.ADMIN)
    inv = setup.invoice(session, creator)
    erp = services.send(session, sender, "subcontractor_invoice", inv.id)
    services.reject(session, approver, erp.id, "Wrong billing period", RQJobQueue(),
                    "Test Builders", lambda e: f"http://portal.test/p/{e.item_id}")
    mail = session.query(OutboxMail).filter_by(erp_item_id=erp.id).one()
    assert mail.status == MailStatus.PENDING
    assert sorted(mail.recipients.split(",")) == sorted([creator.email, sender.email])
    drain()
    session.expire_all()
    assert session.get(OutboxMail, mail.id).status == MailStatus.SENT
    got = smtp.to(creator.email)
    assert len(got) == 1 and sender.email in got[0].rcpt_tos
    body = got[0].content.decode()
    message = email.message_from_bytes(got[0].content, policy=email.policy.default)
    assert f.subject(message) == ("Test Builders: ERP Subcontractor Invoice Rejection Notification — "
                                  f"{inv.number}, {setup.project.name}")
    assert message["Reply-To"] == approver.email
    assert "Wrong billing period" in body and inv.number in body


def test_reject_needs_a_reason_and_changes_nothing(session, road):
    setup, creator, approver = road
    inv, erp = sent(session, road)
    with pytest.raises(Invalid):
        services.reject(session, approver, erp.id, "   ", RQJobQueue(), "X", lambda e: "")
    session.expire_all()
    assert services.get_erp_item(session, erp.id).state == State.READY
    assert session.query(OutboxMail).filter_by(erp_item_id=erp.id).count() == 0


def test_plain_standard_user_cannot_accept(session, road):
    setup, creator, _ = road
    inv, erp = sent(session, road)
    standard = f.make_user(session, erp_level=ToolLevel.STANDARD)
    with pytest.raises(PermissionDenied):
        services.accept(session, standard, erp.id, get_type("subcontractor_invoice").export_defaults(inv), RQJobQueue())


def test_accepting_twice_is_a_conflict(session, road, drain):
    setup, creator, approver = road
    inv, erp = sent(session, road)
    services.accept(session, approver, erp.id, get_type("subcontractor_invoice").export_defaults(inv), RQJobQueue())
    with pytest.raises(Conflict):
        services.accept(session, approver, erp.id, get_type("subcontractor_invoice").export_defaults(inv), RQJobQueue())
    drain()
