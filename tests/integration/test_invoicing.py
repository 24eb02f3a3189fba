"""Subcontractor invoices made in the portal (portal.domain.invoicing, invoice_lines, invoice_review):
a contact or the administrator fills the SOV lines (amount, percent complete, quantity), retainage on
work and materials, retainage released, warnings over the balance, negatives, the PDF; access; the
review line by line with Revise & Resubmit mailed; the history; and the export reaching Sage."""
from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select

from portal.domain import invoice_review, invoicing, payments, projects, services
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.invoice_lines import CONFIRM
from portal.domain.models import (
    CCOLine,
    CommitmentChangeOrder,
    CommitmentLine,
    InvoiceStatus,
    OutboxMail,
    SubcontractorInvoice,
    ToolLevel,
)
from portal.queue import RQJobQueue
from tests import factories as f

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def home(session, sim):
    """A synced project and commitment (lines 1 Footings 50,000 / 2 Rebar 50,000, retainage 10%),
    its invoice administrator, and an invoice contact of its vendor."""
    setup = f.Setup(session, sim)
    admin = f.make_user(session)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    contact = f.invoice_contact(session, setup.commitment)
    return setup, admin, contact


def form(setup, number="INV-1", **lines) -> dict:
    """A filled form: `lines` as line1_work_completed="1000" -> line-<id>-work_completed."""
    data = {"number": number, "billing_date": "2026-11-30", "period_start": "2026-11-01",
            "period_end": "2026-11-30"}
    for name, value in lines.items():
        which, _, part = name.partition("_")
        line = setup.line1 if which == "line1" else setup.line2
        data[f"line-{line.id}-{part}"] = value
    return data


def fresh(session, invoice_id: int) -> SubcontractorInvoice:
    session.expire_all()
    return invoicing.load_invoice(session, invoice_id)


def refused(call, *fields) -> Invalid:
    with pytest.raises(Invalid) as caught:
        call()
    for name in fields:
        assert name in caught.value.fields, caught.value.fields
    return caught.value


def test_a_contact_creates_an_invoice_with_default_retainage_and_submits_it(session, home):
    setup, _, contact = home
    inv = invoicing.save(session, contact, form(setup, line1_work_completed="1,000.00", line2_materials_stored="500"),
                         invoicing.Upload("sub-invoice.pdf", PDF), commitment_id=setup.commitment.id)
    inv = fresh(session, inv.id)
    assert inv.status == InvoiceStatus.DRAFT and inv.contact_id == contact.id and inv.created_by_id == contact.id
    one, two = sorted(inv.lines, key=lambda ln: ln.commitment_line_id)
    assert (one.work_completed, one.work_retainage, one.retainage) == (D("1000.00"), D("100.00"), D("100.00"))
    assert (two.materials_stored, two.materials_retainage, two.retainage) == (D("500.00"), D("50.00"), D("50.00"))
    assert (inv.total_amount, inv.total_retainage, inv.payment_due) == (D("1500.00"), D("150.00"), D("1350.00"))
    assert invoicing.download(session, contact, inv.id) == ("sub-invoice.pdf", PDF)
    invoicing.submit(session, contact, inv.id)
    assert fresh(session, inv.id).status == InvoiceStatus.UNDER_REVIEW
    assert [(e.action, e.from_status, e.to_status, e.actor_id) for e in invoicing.history(session, inv.id)] == [
        ("create", "", "Draft", contact.id), ("submit", "Draft", "Under Review", contact.id)]


def test_previous_work_is_carried_over_and_percent_complete_bills_the_difference(session, home):
    setup, _, contact = home
    first = invoicing.save(session, contact, form(setup, "INV-1", line1_work_completed="5000"),
                           commitment_id=setup.commitment.id, submit=True)
    draft = invoicing.save(session, contact, form(setup, "INV-DRAFT", line1_work_completed="99"),
                           commitment_id=setup.commitment.id)   # a draft is not billed yet
    second = invoicing.save(session, contact, form(setup, "INV-2", line1_percent_complete="30"),
                            commitment_id=setup.commitment.id)
    shown = invoicing.sheet(session, contact, invoice_id=second.id)
    line = next(ln for ln in shown.lines if ln.id == setup.line1.id)
    assert line.previous.work == D("5000.00") and line.work == D("10000.00")   # 30% of 50,000 less 5,000
    assert line.to_date == D("15000.00") and line.percent == D("30.00") and line.balance == D("35000.00")
    assert first.id < draft.id < second.id


def test_a_unit_based_commitment_bills_quantity_at_the_unit_cost(session, home):
    setup, _, contact = home
    setup.commitment.accounting_method = "unit"
    line = session.get(CommitmentLine, setup.line1.id)
    line.units, line.unit_cost = D("4000"), D("12.5")
    session.commit()
    inv = invoicing.save(session, contact, form(setup, line1_quantity="3.5", line1_work_completed="1"),
                         commitment_id=setup.commitment.id)
    saved = next(ln for ln in fresh(session, inv.id).lines if ln.commitment_line_id == setup.line1.id)
    assert (saved.quantity, saved.work_completed, saved.retainage) == (D("3.5000"), D("43.75"), D("4.38"))


def test_retainage_on_work_and_materials_apart_typed_or_by_default(session, home):
    setup, _, contact = home
    inv = invoicing.save(session, contact, form(setup, line1_work_completed="1000", line1_materials_stored="400",
                                                line1_work_retainage="50", line1_materials_retainage=""),
                         commitment_id=setup.commitment.id)
    saved = next(ln for ln in fresh(session, inv.id).lines if ln.commitment_line_id == setup.line1.id)
    assert (saved.work_retainage, saved.materials_retainage, saved.retainage) == (D("50.00"), D("40.00"), D("90.00"))
    err = refused(lambda: invoicing.save(session, contact, form(setup, "INV-2", line1_work_completed="100",
                                                                 line1_work_retainage="-5"),
                                         commitment_id=setup.commitment.id), f"line-{setup.line1.id}-work_retainage")
    assert "cannot be negative" in err.fields[f"line-{setup.line1.id}-work_retainage"]
    refused(lambda: invoicing.save(session, contact, form(setup, "INV-3", line1_materials_stored="10",
                                                          line1_materials_retainage="11"),
                                   commitment_id=setup.commitment.id), f"line-{setup.line1.id}-materials_retainage")


def test_a_release_invoice_releases_retainage_held_and_only_it(session, home):
    setup, _, contact = home
    invoicing.save(session, contact, form(setup, "INV-1", line1_work_completed="1000"),
                   commitment_id=setup.commitment.id, submit=True)   # 100 held
    key = f"line-{setup.line1.id}-retainage_released"
    err = refused(lambda: invoicing.save(session, contact, form(setup, "INV-2", line1_retainage_released="50"),
                                         commitment_id=setup.commitment.id), key)
    assert "retainage release invoice" in err.fields[key]
    err = refused(lambda: invoicing.save(session, contact, {**form(setup, "INV-2", line1_retainage_released="150"),
                                                            "retainage_release": "on"},
                                         commitment_id=setup.commitment.id), key)
    assert "$100.00" in err.fields[key]
    negative = {**form(setup, "INV-2", line1_retainage_released="-1"), "retainage_release": "on"}
    refused(lambda: invoicing.save(session, contact, negative, commitment_id=setup.commitment.id), key)
    inv = invoicing.save(session, contact, {**form(setup, "INV-2", line1_retainage_released="100"),
                                            "retainage_release": "on"}, commitment_id=setup.commitment.id)
    inv = fresh(session, inv.id)
    assert inv.retainage_release and (inv.total_amount, inv.total_retainage, inv.payment_due) == (
        D("0"), D("-100.00"), D("100.00"))


def test_billing_over_the_remaining_balance_warns_and_needs_a_confirmation(session, home):
    setup, _, contact = home
    data = form(setup, line1_work_completed="50,000.01")
    err = refused(lambda: invoicing.save(session, contact, data, commitment_id=setup.commitment.id),
                  CONFIRM, f"line-{setup.line1.id}-work_completed")
    assert "$0.01 over the remaining balance of $50,000.00" in err.fields[f"line-{setup.line1.id}-work_completed"]
    assert session.scalar(select(SubcontractorInvoice.id).where(
        SubcontractorInvoice.commitment_id == setup.commitment.id)) is None   # nothing half-saved
    inv = invoicing.save(session, contact, {**data, CONFIRM: "on"}, commitment_id=setup.commitment.id)
    assert fresh(session, inv.id).total_amount == D("50000.01")
    assert invoicing.history(session, inv.id)[0].detail["over_balance"]


def test_negative_amounts_only_as_corrections(session, home):
    setup, _, contact = home
    invoicing.save(session, contact, form(setup, "INV-1", line1_work_completed="1000"),
                   commitment_id=setup.commitment.id, submit=True)
    inv = invoicing.save(session, contact, form(setup, "INV-2", line1_work_completed="-200"),
                         commitment_id=setup.commitment.id)   # a correction of what was billed before
    saved = next(ln for ln in fresh(session, inv.id).lines if ln.commitment_line_id == setup.line1.id)
    assert (saved.work_completed, saved.retainage) == (D("-200.00"), D("-20.00"))
    err = refused(lambda: invoicing.save(session, contact, form(setup, "INV-3", line2_work_completed="-1"),
                                         commitment_id=setup.commitment.id), f"line-{setup.line2.id}-work_completed")
    assert "below zero" in err.fields[f"line-{setup.line2.id}-work_completed"]
    refused(lambda: invoicing.save(session, contact, form(setup, "INV-3", line2_materials_stored="-1"),
                                   commitment_id=setup.commitment.id), f"line-{setup.line2.id}-materials_stored")
    refused(lambda: invoicing.save(session, contact, form(setup, "INV-3", line2_percent_complete="-5"),
                                   commitment_id=setup.commitment.id), f"line-{setup.line2.id}-percent_complete")


@pytest.mark.parametrize("upload, message", [
    (invoicing.Upload("scan.png", b"\x89PNG\r\n\x1a\n"), "not a PDF"),
    (invoicing.Upload("big.pdf", PDF + b"0" * invoicing.PDF_MAX_BYTES), "up to 4 MB"),
    (invoicing.Upload("empty.pdf", b""), "empty"),
])
def test_the_attachment_must_be_a_pdf_within_the_limit(session, home, upload, message):
    setup, _, contact = home
    err = refused(lambda: invoicing.save(session, contact, form(setup, line1_work_completed="10"), upload,
                                         commitment_id=setup.commitment.id), "pdf")
    assert message in err.fields["pdf"]


def test_header_fields_are_checked_and_named(session, home):
    setup, _, contact = home
    invoicing.save(session, contact, form(setup, "INV-1", line1_work_completed="10"), commitment_id=setup.commitment.id)
    data = {**form(setup, "INV-1"), "period_start": "2026-12-01", "billing_date": "soon"}
    err = refused(lambda: invoicing.save(session, contact, data, commitment_id=setup.commitment.id),
                  "number", "period_end", "billing_date")
    assert "already used" in err.fields["number"]
    refused(lambda: invoicing.save(session, contact, form(setup, "x" * 41), commitment_id=setup.commitment.id),
            "number")


def test_access_a_contact_sees_only_its_commitments_and_read_only_cannot_create(session, sim, home):
    setup, admin, contact = home
    other = f.Setup(session, sim)
    stranger = f.invoice_contact(session, other.commitment)
    with pytest.raises(NotFound):
        invoicing.sheet(session, stranger, commitment_id=setup.commitment.id)
    with pytest.raises(NotFound):
        invoicing.save(session, stranger, form(setup), commitment_id=setup.commitment.id)
    inv = invoicing.save(session, contact, form(setup, line1_work_completed="10"), commitment_id=setup.commitment.id)
    with pytest.raises(NotFound):
        invoicing.sheet(session, stranger, invoice_id=inv.id)
    with pytest.raises(NotFound):
        invoicing.download(session, stranger, inv.id)
    reader = f.make_user(session)
    f.member(session, reader, setup.project, ToolLevel.READ_ONLY)
    with pytest.raises(PermissionDenied):
        invoicing.save(session, reader, form(setup, "INV-R"), commitment_id=setup.commitment.id,
                       project_id=setup.project.id)
    assert invoicing.sheet(session, reader, invoice_id=inv.id, project_id=setup.project.id, admin=False).invoice
    with pytest.raises(PermissionDenied):
        invoice_review.review(session, reader, setup.project.id, inv.id, {})


def test_the_administrator_creates_on_behalf_of_one_of_the_contacts(session, home):
    setup, admin, contact = home
    err = refused(lambda: invoicing.save(session, admin, form(setup, line1_work_completed="10"),
                                         commitment_id=setup.commitment.id, project_id=setup.project.id), "contact_id")
    assert "Choose the invoice contact" in err.fields["contact_id"]
    refused(lambda: invoicing.save(session, admin, {**form(setup), "contact_id": str(admin.id)},
                                   commitment_id=setup.commitment.id, project_id=setup.project.id), "contact_id")
    inv = invoicing.save(session, admin, {**form(setup, line1_work_completed="10"), "contact_id": str(contact.id)},
                         invoicing.Upload("a.pdf", PDF), commitment_id=setup.commitment.id,
                         project_id=setup.project.id, submit=True)
    inv = fresh(session, inv.id)
    assert (inv.contact_id, inv.created_by_id, inv.status) == (contact.id, admin.id, InvoiceStatus.UNDER_REVIEW)


def test_review_line_by_line_revise_and_resubmit_mails_the_contact(session, home):
    setup, admin, contact = home
    inv = invoicing.save(session, contact, form(setup, line1_work_completed="1000", line2_work_completed="2000"),
                         commitment_id=setup.commitment.id, submit=True)
    l1, l2 = f"line-{setup.line1.id}-", f"line-{setup.line2.id}-"
    refused(lambda: invoice_review.review(session, admin, setup.project.id, inv.id, {l2 + "review": "revise"}),
            l2 + "comment")
    invoice_review.review(session, admin, setup.project.id, inv.id,
                          {l1 + "review": "approved", l2 + "review": "revise", l2 + "comment": "Rebar is 40% in place"})
    inv = fresh(session, inv.id)
    assert inv.status == InvoiceStatus.REVISE_AND_RESUBMIT
    mail = session.scalars(select(OutboxMail).where(OutboxMail.recipients == contact.email.lower())
                           .order_by(OutboxMail.id.desc())).first()
    assert mail is not None and "Revise and resubmit Invoice #INV-1" in mail.subject
    assert "Rebar is 40% in place" in mail.text_body and "Line 2" in mail.text_body and "Line 1 " not in mail.text_body
    assert "Rebar is 40% in place" in mail.html_body and f"/billing/invoices/{inv.id}" in mail.text_body
    # the contact changes the line sent back; the approved line stays as it was
    invoicing.save(session, contact, form(setup, line1_work_completed="9999", line2_work_completed="1500"),
                   invoice_id=inv.id)
    inv = fresh(session, inv.id)
    amounts = {ln.commitment_line_id: ln.work_completed for ln in inv.lines}
    assert amounts == {setup.line1.id: D("1000.00"), setup.line2.id: D("1500.00")}
    with pytest.raises(Conflict):
        invoice_review.review(session, admin, setup.project.id, inv.id, {})
    invoicing.submit(session, contact, inv.id)
    invoice_review.review(session, admin, setup.project.id, inv.id, {"decision": "Approved as Noted", "note": "ok"})
    assert fresh(session, inv.id).status == InvoiceStatus.APPROVED_AS_NOTED
    steps = [(e.action, e.to_status) for e in invoicing.history(session, inv.id)]
    assert steps == [("create", "Draft"), ("submit", "Under Review"), ("revise", "Revise and Resubmit"),
                     ("save", "Revise and Resubmit"), ("resubmit", "Under Review"), ("review", "Approved as Noted")]
    with pytest.raises(Conflict):
        invoicing.save(session, contact, form(setup), invoice_id=inv.id)


def test_a_contact_made_invoice_reaches_sage_with_its_amount_and_retainage(session, sim, home, drain):
    setup, admin, contact = home
    inv = invoicing.save(session, contact, form(setup, "SUBINV-7", line1_work_completed="1000",
                                                line1_materials_stored="300", line2_materials_stored="200",
                                                line2_materials_retainage="0"),
                         commitment_id=setup.commitment.id, submit=True)
    invoice_review.review(session, admin, setup.project.id, inv.id, {})
    erp = services.send(session, admin, "subcontractor_invoice", inv.id)
    services.accept(session, f.approver(session), erp.id, {"erp_id": "SUBINV-7", "description": "",
                                                           "accounting_date": "2026-11-30"}, RQJobQueue())
    drain()
    inv = fresh(session, inv.id)
    header = sim.get_invoice(setup.vendor.erp_vendor_id, "SUBINV-7")
    assert (inv.total_amount, inv.total_retainage) == (D("1500.00"), D("130.00"))   # 100 work + 30 materials
    assert (D(header["Amount"]), D(header["Retainage"])) == (inv.total_amount, inv.total_retainage)


def test_rejected_by_accounting_the_contact_is_told_it_is_being_corrected(session, home):
    setup, admin, contact = home
    inv = invoicing.save(session, contact, form(setup, line1_work_completed="1000"),
                         commitment_id=setup.commitment.id, submit=True)
    invoice_review.review(session, admin, setup.project.id, inv.id, {})
    erp = services.send(session, admin, "subcontractor_invoice", inv.id)
    services.reject(session, f.approver(session), erp.id, "Internal: wrong GL period", f.NullQueue(), "Acme",
                    lambda e: "http://portal/x", base_url="http://portal")
    mails = session.scalars(select(OutboxMail).where(OutboxMail.recipients == contact.email.lower())).all()
    assert len(mails) == 1 and "is being corrected" in mails[0].subject
    assert "wrong GL period" not in mails[0].text_body + mails[0].html_body
    assert f"http://portal/billing/invoices/{inv.id}" in mails[0].text_body
    assert invoicing.history(session, inv.id)[-1].action == "returned_by_accounting"


def test_a_retainage_release_invoice_reaches_sage_releasing_what_was_held(session, sim, home, drain):
    setup, admin, contact = home
    approver = f.approver(session)
    release = {**form(setup, "REL-1", line1_retainage_released="100"), "retainage_release": "on"}
    for number, data in (("HOLD-1", form(setup, "HOLD-1", line1_work_completed="1000")), ("REL-1", release)):
        inv = invoicing.save(session, contact, data, commitment_id=setup.commitment.id, submit=True)
        invoice_review.review(session, admin, setup.project.id, inv.id, {})
        erp = services.send(session, admin, "subcontractor_invoice", inv.id)
        services.accept(session, approver, erp.id, {"erp_id": number, "description": "",
                                                    "accounting_date": "2026-11-30"}, RQJobQueue())
        drain()
        session.expire_all()
        erp = services.get_erp_item(session, erp.id)
        assert erp.state == "synced", erp.sage_message
    header = sim.get_invoice(setup.vendor.erp_vendor_id, "REL-1")
    assert (D(header["Amount"]), D(header["Retainage"])) == (D("0"), D("-100.00"))


def test_a_status_set_by_hand_on_the_edit_page_is_in_the_history(session, home):
    setup, admin, contact = home
    inv = invoicing.save(session, contact, form(setup, line1_work_completed="10"), commitment_id=setup.commitment.id)
    data = {**form(setup, inv.number), "status": "Approved"}
    for line in fresh(session, inv.id).lines:
        for part in ("work_completed", "materials_stored", "retainage"):
            data[f"line-{line.id}-{part}"] = str(getattr(line, part))
    projects.update_invoice(session, admin, setup.project.id, inv.id, data)
    last = invoicing.history(session, inv.id)[-1]
    assert (last.action, last.from_status, last.to_status) == ("status_set", "Draft", "Approved")
    assert last.actor_id == admin.id


def test_payment_issued_goes_to_the_contact_who_billed_it_too(session, home):
    setup, admin, contact = home
    inv = invoicing.save(session, admin, {**form(setup, line1_work_completed="10"), "contact_id": str(contact.id)},
                         commitment_id=setup.commitment.id, project_id=setup.project.id, submit=True)
    invoice_review.review(session, admin, setup.project.id, inv.id, {})
    erp = services.send(session, admin, "subcontractor_invoice", inv.id)
    invoice = fresh(session, inv.id)
    # in a mail of their own (linking to /billing), not among the company's people
    assert contact.email.lower() in payments.contact_recipients(session, invoice)
    assert contact.email.lower() not in payments.recipients(session, invoice, erp)


def test_a_line_written_with_its_net_retainage_alone_shows_it_on_the_work(session, home):
    setup, admin, _ = home
    inv = setup.invoice(session, admin)   # the factory (as the demo) writes retainage only: 100 and 50
    lines = invoicing.sheet(session, admin, invoice_id=inv.id, project_id=setup.project.id).lines
    assert [(ln.work_retainage, ln.retainage) for ln in lines] == [(D("100"), D("100")), (D("50"), D("50"))]


def test_the_balance_is_the_revised_scheduled_value_with_approved_change_orders(session, home):
    setup, _, contact = home
    for status, amount in (("Approved", D("2000")), ("Draft", D("9000"))):
        cco = CommitmentChangeOrder(project_id=setup.project.id, commitment_id=setup.commitment.id,
                                    number=f"CCO-{f.suffix()}", title="More footings", status=status)
        cco.lines.append(CCOLine(commitment_line_id=setup.line1.id, amount=amount))
        session.add(cco)
    session.commit()
    inv = invoicing.save(session, contact, form(setup, line1_work_completed="52000"), commitment_id=setup.commitment.id,
                         submit=True)
    line = next(ln for ln in invoicing.sheet(session, contact, invoice_id=inv.id).lines if ln.id == setup.line1.id)
    assert (line.scheduled, line.balance, line.percent) == (D("52000.00"), D("0"), D("100.00"))
    refused(lambda: invoicing.save(session, contact, form(setup, "INV-2", line1_work_completed="1"),
                                   commitment_id=setup.commitment.id, submit=True), CONFIRM)
