"""End-to-end journeys in Chromium for the prime contract item types: a prime contract change
order (PCCO) that adds a contract item, and an owner invoice rejected, mailed, edited, resent
and accepted.

Like tests/e2e/test_financial_journeys.py: every test makes its own data (random suffixes),
signs in through the real login form of the live portal (CSRF on), and lets the real RQ worker
export to the Sage simulator and send mail to the aiosmtpd inbox.
"""
from __future__ import annotations

import email
import email.policy
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.domain.lifecycle import State
from portal.domain.models import (
    OutboxMail,
    OwnerInvoice,
    OwnerInvoiceLine,
    PrimeChangeOrder,
    PrimeChangeOrderLine,
    PrimeContract,
    PrimeContractItem,
)
from tests import factories as f, items as it
from tests.e2e.helpers import (
    accept_on_tab,
    confirm_click,
    erp_of,
    fresh,
    header_select,
    line,
    navigate,
    open_project_tool,
    open_tab,
    project_admin_on_synced_project,
    search,
    send_row,
    tab_row,
    wait_for_mail,
)

pytestmark = pytest.mark.e2e

INVOICE_SUBJECT = "Test Builders: ERP Owner Invoice Rejection Notification"


def project_with_prime_contract(session, sim):
    """factories.Setup, an Admin on it, and a synced prime contract (100 Sitework, 200 Building)
    mirrored in the simulator with its AR customer."""
    setup, admin = project_admin_on_synced_project(session, sim)
    pc = session.get(PrimeContract, it.with_contract(session, sim, it.home_of(setup)).contract)
    session.refresh(pc, ["items"])
    return setup, admin, pc


# ---- 1. a PCCO that adds a contract item ------------------------------------------------------

def test_project_admin_creates_a_pcco_adding_a_contract_item_and_approver_exports_it(session, sim, open_as):
    setup, admin, pc = project_with_prime_contract(session, sim)
    project_name, job = setup.project.name, setup.project.sage_job_id
    contract_pk, contract_number, item100 = pc.id, pc.sage_contract_id, pc.items[0].id
    sub, mat = setup.sub.id, setup.mat.id
    s = f.suffix()
    number, title, code = f"PCO-{s}", f"Owner canopy {s}", f"C{f.suffix(5)}"

    page = open_as(admin)
    open_project_tool(page, project_name, "Prime Contract Change Orders")
    navigate(page, page.get_by_role("link", name="New prime contract change order"))
    expect(page.get_by_role("heading", name="New prime contract change order")).to_be_visible()
    header_select(page, "Prime Contract").select_option(str(contract_pk))
    page.get_by_label("#", exact=True).fill(number)
    page.get_by_label("Title", exact=True).fill(title)
    header_select(page, "Status").select_option("Pending - In Review")
    line(page, "Contract item (empty: a new item)", 1).select_option(str(item100))
    line(page, "Cost Code / Category (estimate)", 1).select_option(str(sub))
    line(page, "Amount", 1).fill("12,000")
    line(page, "Description", 2).fill("Canopy")
    line(page, "Cost Code / Category (estimate)", 2).select_option(str(mat))
    line(page, "Amount", 2).fill("8000")
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Prime Contract Change Order saved.")).to_be_visible()
    fresh(session)
    pcco_pk = session.scalars(select(PrimeChangeOrder.id).where(PrimeChangeOrder.number == number)).one()
    row = page.locator(f"#pcco-{pcco_pk}")
    expect(row).to_contain_text("$20,000.00")
    erp_id = send_row(page, session, "pcco", pcco_pk)

    approver_page = accept_on_tab(open_as, session, "Prime Contract Change Orders", "pcco", number, erp_id)
    form = approver_page.get_by_role("form", name=f"Accept PCCO {number}")
    expect(form.get_by_label("Transaction Date")).to_have_value(date.today().isoformat())
    form.get_by_label("Transaction Date").fill("2026-11-20")
    new_code = form.get_by_label("New Contract Item Code")
    expect(new_code).to_have_value("")
    new_code.fill(code)
    form.get_by_role("button", name="Export to ERP").click()
    expect(tab_row(approver_page, erp_id).locator(".status")).to_contain_text("Synced")

    assert code in {i["Item"] for i in sim.list_contract_items(contract_number)}
    estimate = sim.list_transactions(job, "Approved est chng")
    assert sorted((t["Category"], Decimal(str(t["Amount"])), t["Ref_1"]) for t in estimate) == [
        ("MAT", Decimal("8000"), number), ("SUB", Decimal("12000"), number)]
    assert {t["Ref_1"] for t in sim.list_transactions(job, "Approved Schedule Value Change")} == {number}
    fresh(session)
    assert session.get(PrimeChangeOrder, pcco_pk).status == "Approved"
    new_item = session.scalars(select(PrimeContractItem).where(PrimeContractItem.contract_id == contract_pk,
                                                               PrimeContractItem.code == code)).one()
    assert new_item.description == "Canopy"
    assert session.scalars(select(PrimeChangeOrderLine.contract_item_id).where(
        PrimeChangeOrderLine.pcco_id == pcco_pk).order_by(PrimeChangeOrderLine.id)).all() == [item100, new_item.id]

    page.reload()
    row = page.locator(f"#pcco-{pcco_pk}")
    expect(row.locator(".status .badge")).to_have_text("Synced")
    expect(row).to_contain_text("Approved")


# ---- 2. an owner invoice rejected, mailed, edited, resent and accepted --------------------------

def test_owner_invoice_rejected_mailed_edited_resent_and_accepted(session, sim, smtp, open_as):
    setup, admin, pc = project_with_prime_contract(session, sim)
    project_name, contract_pk, item100 = setup.project.name, pc.id, pc.items[0].id
    admin_email = admin.email.lower()
    number = f"OI{f.suffix(6)}"

    page = open_as(admin)
    open_project_tool(page, project_name, "Owner Invoices")
    navigate(page, page.get_by_role("link", name="New owner invoice"))
    expect(page.get_by_role("heading", name="New owner invoice")).to_be_visible()
    header_select(page, "Prime Contract").select_option(str(contract_pk))
    page.get_by_label("Invoice #", exact=True).fill(number)
    page.get_by_label("Billing period start", exact=True).fill("2026-10-01")
    page.get_by_label("Billing period end", exact=True).fill("2026-10-31")
    page.get_by_label("Billing date", exact=True).fill("2026-10-31")
    header_select(page, "Status").select_option("Approved")
    line(page, "Contract item", 1).select_option(str(item100))
    line(page, "Work completed this period", 1).fill("50,000")
    line(page, "Retainage", 1).fill("5000")
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Owner Invoice saved.")).to_be_visible()
    fresh(session)
    invoice_pk = session.scalars(select(OwnerInvoice.id).where(OwnerInvoice.number == number)).one()
    row = page.locator(f"#owner_invoice-{invoice_pk}")
    expect(row).to_contain_text("$50,000.00")
    erp_id = send_row(page, session, "owner_invoice", invoice_pk)

    approver_page = open_as(f.approver(session))
    open_tab(approver_page, "Owner Invoices", "owner_invoice")
    search(approver_page, number)
    tab_row(approver_page, erp_id).get_by_role("link", name="Reject").click()
    form = approver_page.get_by_role("form", name=f"Reject owner invoice {number}")
    form.get_by_label("Reason for rejection").fill("Retainage is 10% e2e")
    form.get_by_role("button", name="Reject").click()
    expect(tab_row(approver_page, erp_id).locator(".status")).to_have_text(
        "Rejected: returned to the project team and emailed.")

    got = wait_for_mail(smtp, admin_email)
    assert len(got) == 1, f"expected one mail to the creator, got {len(got)}"
    message = email.message_from_bytes(got[0].content, policy=email.policy.default)
    assert f.subject(message).startswith(f"{INVOICE_SUBJECT} — {number}, ")
    body = message.get_body(("plain",)).get_content()
    assert "Retainage is 10% e2e" in body
    fresh(session)
    assert session.query(OutboxMail).filter_by(erp_item_id=erp_id).count() == 1

    # The creator fixes the retainage and resends it.
    page.reload()
    row = page.locator(f"#owner_invoice-{invoice_pk}")
    expect(row.locator(".status .badge")).to_have_text("Rejected")
    navigate(page, row.get_by_role("link", name="Edit"))
    expect(page.get_by_role("heading", name="Edit owner invoice")).to_be_visible()
    expect(page.get_by_text("Rejected by accounting: Retainage is 10% e2e")).to_be_visible()
    retainage = line(page, "Retainage", 1)
    expect(retainage).to_have_value("5000.00")
    retainage.fill("10000")
    navigate(page, page.get_by_role("button", name="Save"))
    expect(page.get_by_text("Owner Invoice saved.")).to_be_visible()
    row = page.locator(f"#owner_invoice-{invoice_pk}")
    confirm_click(page, row.get_by_role("button", name="Resend to ERP"))
    expect(row.locator(".status .badge")).to_have_text("Ready to Export")

    approver_page.reload()
    item = tab_row(approver_page, erp_id)
    expect(item.locator(".status .badge.ready")).to_have_text("Ready to Export")
    expect(item.locator(".status .badge.resent")).to_have_text("Resent")  # with what changed
    item.get_by_role("link", name="Accept").click()
    form = approver_page.get_by_role("form", name=f"Accept owner invoice {number}")
    expect(form.get_by_label("Invoice (ERP ID)")).to_have_value(number)
    expect(form.get_by_label("Accounting Date")).to_have_value("2026-10-31")
    form.get_by_label("Description", exact=True).fill("October pay app")
    form.get_by_role("button", name="Export to ERP").click()
    status = tab_row(approver_page, erp_id).locator(".status")
    expect(status).to_contain_text("Synced")
    expect(status).to_contain_text(f"ERP ID {number}")

    assert sim.get_ar_invoice(number) is not None
    erp = erp_of(session, "owner_invoice", invoice_pk)
    assert erp.state == State.SYNCED and erp.attempt == 1
    assert session.scalars(select(OwnerInvoiceLine.retainage).where(
        OwnerInvoiceLine.invoice_id == invoice_pk)).all() == [Decimal("10000.00")]
