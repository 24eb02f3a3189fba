"""Payments back from Sage: a Sage user pays an AP invoice by check (in part, never over its open
balance); the Paid Invoices sync marks the portal's invoice Partly Paid, then Paid, applies each
check once however often it runs, writes the check into its history and mails "Payment issued"
(over the real SMTP server); the commitment page's figures; the Sage page's form and the CLI."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain import payments, sync
from portal.domain.billing_models import InvoiceContact
from portal.domain.lifecycle import Action, State
from portal.domain.models import Commitment, ErpAudit, ErpItem, ProjectMember, SubcontractorInvoice, ToolLevel
from portal.domain.payment_models import InvoicePayment
from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector
from portal.exporters.sage300.records import SageUnreadable
from portal.exporters.sage300.simulator import SageInputError
from portal.queue import RQJobQueue
from tests import factories as f, items as it
from tests.conftest import login

# tests/items.py's invoice: 1,000 + 600 billed, 150 retainage: 1,450 payable
PAYABLE = Decimal("1450.00")


@pytest.fixture
def paid_case(session, sim):
    """A synced subcontractor invoice (exported to the simulator), its creator and the project's admin."""
    creator, admin = f.make_user(session), f.make_user(session)
    home = it.make_home(session, sim, {creator.id: ToolLevel.STANDARD, admin.id: ToolLevel.ADMIN})
    item = it.make_item(session, sim, "subcontractor_invoice", State.SYNCED, home=home, sender=admin,
                        creator=creator, approver=f.approver(session))
    return item, home, creator, admin


def sage_ref(item, home) -> tuple[str, str]:
    return home.vendor_erp, item.fields["erp_id"]


class _Queue(f.NullQueue):
    def sync(self, run_id, job_id):
        pass


def synced(session, sim, notices=None):
    """One Paid Invoices run against the simulator, as the worker runs it."""
    run = sync.start(session, f.approver(session), "paid_invoices", _Queue())
    done = sync.execute(session, run.id, sim, notices)
    session.expire_all()
    assert done.status == "done", done.message
    return done


def invoice_of(session, item) -> SubcontractorInvoice:
    session.expire_all()
    return session.get(SubcontractorInvoice, item.id)


# ---- the simulator ---------------------------------------------------------------------------------

def test_a_partial_payment_then_the_rest_and_never_over_the_open_balance(session, sim, paid_case):
    item, home, *_ = paid_case
    vendor, invoice = sage_ref(item, home)
    said = sim.pay_ap_invoice(vendor, invoice, "1001", date(2026, 11, 5), "1000")
    assert said.endswith("450.00 still open.")
    with pytest.raises(SageInputError) as refused:
        sim.pay_ap_invoice(vendor, invoice, "1002", date(2026, 11, 6), "450.01")
    assert refused.value.field == "amount"
    assert "exceeds the open balance" in str(refused.value) and "(450.00)" in str(refused.value)
    assert [p["Amount"] for p in sim.list_ap_payments(vendor, invoice)] == [Decimal("1000.00")]  # nothing added
    assert sim.pay_ap_invoice(vendor, invoice, "1002", date(2026, 11, 6), "450").endswith("paid in full.")
    with pytest.raises(SageInputError, match="exceeds the open balance"):
        sim.pay_ap_invoice(vendor, invoice, "1003", date(2026, 11, 7), "0.01")


@pytest.mark.parametrize(("field", "args", "text"), [
    ("check_number", ("12a", date(2026, 11, 5), "10"), "Check number must be 1 to 10 digits."),
    ("check_date", ("1001", None, "10"), "Check date can't be blank."),
    ("amount", ("1001", date(2026, 11, 5), "0"), "Payment amount must be greater than zero."),
    ("amount", ("1001", date(2026, 11, 5), "ten"), None),
])
def test_a_payment_sage_would_refuse_names_the_field_and_changes_nothing(session, sim, paid_case, field, args,
                                                                         text):
    item, home, *_ = paid_case
    vendor, invoice = sage_ref(item, home)
    with pytest.raises(SageInputError) as refused:
        sim.pay_ap_invoice(vendor, invoice, *args)
    assert refused.value.field == field
    assert text is None or str(refused.value) == text
    assert sim.list_ap_payments(vendor, invoice) == []


def test_a_missing_or_void_invoice_takes_no_payment(session, sim, paid_case):
    item, home, *_ = paid_case
    vendor, invoice = sage_ref(item, home)
    with pytest.raises(SageInputError, match="No AP invoice NOPE"):
        sim.pay_ap_invoice(vendor, "NOPE", "1001", date(2026, 11, 5), "10")
    sim.void_or_delete_ap_invoice(vendor, invoice, "Void")
    with pytest.raises(SageInputError, match="is void"):
        sim.pay_ap_invoice(vendor, invoice, "1001", date(2026, 11, 5), "10")


def test_a_paid_invoice_is_not_voided_and_the_connector_reads_its_payments(session, sim, paid_case, tmp_path):
    item, home, *_ = paid_case
    vendor, invoice = sage_ref(item, home)
    sim.pay_ap_invoice(vendor, invoice, "2001", date(2026, 11, 5), "400")
    sim.pay_ap_invoice(vendor, invoice, "2002", date(2026, 11, 9), "100.50")
    with pytest.raises(SageInputError, match="has payments of 500.50"):
        sim.void_or_delete_ap_invoice(vendor, invoice, "Void")
    read = SimulatorConnector(sim).invoice_payments(vendor, invoice)
    assert read[(vendor, invoice)]["paid"] == Decimal("500.50")
    assert [p["check_number"] for p in read[(vendor, invoice)]["payments"]] == ["2001", "2002"]
    with pytest.raises(SageUnreadable):
        FileDropConnector(str(tmp_path)).invoice_payments(vendor, invoice)


# ---- the sync --------------------------------------------------------------------------------------

def test_the_sync_marks_partly_paid_then_paid_and_applies_each_check_once(session, sim, paid_case):
    item, home, *_ = paid_case
    vendor, invoice = sage_ref(item, home)
    sim.pay_ap_invoice(vendor, invoice, "3001", date(2026, 11, 5), "1000")
    synced(session, sim)
    inv = invoice_of(session, item)
    assert (inv.payment_status, inv.amount_paid) == (payments.PARTLY_PAID, Decimal("1000.00"))
    again = synced(session, sim)   # nothing new: the check is not applied twice
    assert again.added == 0 and again.unchanged >= 1
    inv = invoice_of(session, item)
    assert inv.amount_paid == Decimal("1000.00")
    sim.pay_ap_invoice(vendor, invoice, "3002", date(2026, 11, 20), "450")
    synced(session, sim)
    inv = invoice_of(session, item)
    assert (inv.payment_status, inv.amount_paid) == (payments.PAID, PAYABLE)
    checks = payments.payments_of(session, item.id)
    assert [(p.check_number, p.check_date, p.amount) for p in checks] == [
        ("3001", date(2026, 11, 5), Decimal("1000.00")), ("3002", date(2026, 11, 20), Decimal("450.00"))]
    erp = session.get(ErpItem, item.erp)
    assert erp.state == State.SYNCED
    history = session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp.id,
                                                     ErpAudit.action == Action.PAYMENT).order_by(ErpAudit.id)).all()
    assert [(a.detail["check_number"], a.detail["payment_status"]) for a in history] == [
        ("3001", payments.PARTLY_PAID), ("3002", payments.PAID)]


def test_a_payment_on_an_invoice_not_from_the_portal_is_left_alone(session, sim, paid_case):
    item, home, *_ = paid_case
    vendor, invoice = sage_ref(item, home)
    # the portal's invoice unlinked in between would be Draft again: a Draft one takes no payment
    session.get(ErpItem, item.erp).state = State.DRAFT
    session.commit()
    sim.pay_ap_invoice(vendor, invoice, "4001", date(2026, 11, 5), "10")
    synced(session, sim)
    assert invoice_of(session, item).payment_status is None
    assert session.scalar(select(func.count()).select_from(InvoicePayment).where(
        InvoicePayment.invoice_id == item.id)) == 0


def test_payment_issued_reaches_the_creator_the_project_admins_and_the_contacts_over_smtp(app, session, sim, smtp,
                                                                                          drain, paid_case):
    item, home, creator, admin = paid_case
    viewer = f.make_user(session)
    session.add(ProjectMember(user_id=viewer.id, project_id=home.pid, level=ToolLevel.READ_ONLY))
    commitment_id = session.get(SubcontractorInvoice, item.id).commitment_id
    contact = f.make_user(session)
    contact.vendor_id = session.get(Commitment, commitment_id).vendor_id
    session.add(InvoiceContact(commitment_id=commitment_id, user_id=contact.id))
    session.commit()
    vendor, invoice = sage_ref(item, home)
    sim.pay_ap_invoice(vendor, invoice, "5001", date(2026, 11, 5), "1450")
    run = sync.start(session, f.approver(session), "paid_invoices", RQJobQueue())
    drain()   # the sync job, then the mail job it queued
    session.expire_all()
    assert sync.get_run(session, run.id).status == "done"
    for user in (creator, admin):
        got = [m for m in smtp.to(user.email) if b"5001" in m.content]
        assert len(got) == 1, user.email
        assert b"Payment issued" in got[0].content and item.number.encode() in got[0].content
    assert not [m for m in smtp.to(viewer.email) if b"5001" in m.content]   # not an invoice administrator
    # the contact's own mail links to their side of the portal, never to the project's pages
    got = [m for m in smtp.to(contact.email) if b"5001" in m.content]
    assert len(got) == 1 and b"Payment issued" in got[0].content
    assert f"/billing/commitments/{commitment_id}".encode() in got[0].content
    assert f"/projects/{home.pid}/".encode() not in got[0].content
    assert contact.email not in smtp.to(creator.email)[0].content.decode()   # two mails, not one shared


# ---- the pages -------------------------------------------------------------------------------------

def test_the_commitment_page_shows_billed_retainage_paid_and_balance(app, session, sim, paid_case):
    item, home, creator, admin = paid_case
    vendor, invoice = sage_ref(item, home)
    sim.pay_ap_invoice(vendor, invoice, "6001", date(2026, 11, 5), "700")
    synced(session, sim)
    figures = payments.commitment_figures(session, payments.load_commitment(session, home.pid, home.commitment))
    client = login(app.test_client(), admin)
    page = client.get(f"/projects/{home.pid}/commitments/{home.commitment}").get_data(as_text=True)
    billed = figures.billed
    assert billed >= Decimal("1600.00")  # this invoice (the home's commitment may carry others of this test)
    for name, value in (("billed", billed), ("retainage_held", figures.retainage_held),
                        ("paid", figures.paid), ("balance_to_finish", figures.revised - billed)):
        assert f'data-figure="{name}">{value:,.2f}' in page.replace("$", ""), name
    assert figures.paid == Decimal("700.00") and figures.retainage_held == Decimal("150.00")
    invoice_page = client.get(f"/projects/{home.pid}/invoices/{item.id}").get_data(as_text=True)
    assert "6001" in invoice_page and payments.PARTLY_PAID in invoice_page
    other = login(app.test_client(), f.make_user(session))
    assert other.get(f"/projects/{home.pid}/commitments/{home.commitment}").status_code == 403


def test_the_sage_page_form_pays_and_refuses_over_the_balance(app, session, sim, paid_case):
    item, home, *_ = paid_case
    vendor, invoice = sage_ref(item, home)
    client = login(app.test_client(), f.erp_admin(session))
    form = {"vendor": vendor, "invoice": invoice, "check_number": "7001", "check_date": "2026-11-05",
            "amount": "1450.01"}
    refused = client.post("/sage/payment", data=form)
    assert refused.status_code == 422
    assert "exceeds the open balance" in refused.get_data(as_text=True)
    assert sim.list_ap_payments(vendor, invoice) == []
    bad_date = client.post("/sage/payment", data={**form, "check_date": "11/05"})
    assert bad_date.status_code == 422 and "Check date must be a date" in bad_date.get_data(as_text=True)
    done = client.post("/sage/payment", data={**form, "amount": "1,450.00"})
    assert done.status_code == 303
    assert [p["Check_Number"] for p in sim.list_ap_payments(vendor, invoice)] == ["7001"]


def test_the_cli_pays_an_invoice_and_lists_payments(app, session, sim, paid_case):
    item, home, *_ = paid_case
    vendor, invoice = sage_ref(item, home)
    runner = app.test_cli_runner()
    over = runner.invoke(args=["sage", "pay-invoice", vendor, invoice, "8001", "2000", "--date", "2026-11-05"])
    assert over.exit_code != 0 and "amount: Payment amount 2,000.00 exceeds" in over.output
    ok = runner.invoke(args=["sage", "pay-invoice", vendor, invoice, "8001", "500", "--date", "2026-11-05"])
    assert ok.exit_code == 0 and "950.00 still open." in ok.output
    listed = runner.invoke(args=["sage", "list", "payments"])
    assert "8001" in listed.output and invoice in listed.output


def test_a_check_is_dollars_paid_on_the_invoices_ap_cost_in_job_costs(session, sim, paid_case):
    item, home, *_ = paid_case
    vendor, invoice = sage_ref(item, home)
    for category, amount in (("SUB", "1000"), ("MAT", "600")):   # Job Cost's AP cost of the posted invoice
        sim.add_cost(home.job, "03-300", category, "AP cost", amount, vendor=vendor, invoice=invoice,
                     commitment=home.commitment_erp, date=sim.clock().date())
    sim.pay_ap_invoice(vendor, invoice, "9001", date(2026, 11, 5), "1200")
    paid = {row["Category"]: (row["JTD_Dollars_Paid"], row["MTD_Dollars_Paid"]) for row in sim.job_costs(home.job)}
    assert paid["SUB"] == (Decimal("1000.00"), Decimal("1000.00"))   # in order, each up to its amount
    assert paid["MAT"] == (Decimal("200.00"), Decimal("200.00"))
