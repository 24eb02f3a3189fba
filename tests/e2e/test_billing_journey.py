"""In Chromium, issue 11 whole, as new users would try it: the invoice administrator adds a new
invoice contact on a commitment, opens a billing period and invites them; the contact follows the
emailed account link, sets a password, follows the invitation and accepts, bills the SOV lines with
a PDF and submits; the administrator sends one line back; the contact revises and resubmits; the
administrator approves and sends it to ERP; the accounting approver accepts it on the ERP tab and it
is Synced in Sage with its amounts and retainage; a check entered on the Sage page is synced back
(Paid Invoices, on demand) and the contact receives "Payment issued" over SMTP."""
from __future__ import annotations

import secrets
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.domain.lifecycle import State
from portal.domain.models import SubcontractorInvoice, ToolLevel
from tests import factories as f
from tests.e2e.billing_steps import (
    approve_and_send,
    fill_and_submit,
    mails_holding,
    new_contact_accepts,
    open_invoice,
    pay_in_full,
    revise_and_resubmit,
    send_line_back,
    sync_paid_invoices,
)
from tests.e2e.helpers import (
    accept_on_tab,
    erp_of,
    fresh,
    main_nav,
    navigate,
    project_admin_on_synced_project,
    tab_row,
)

pytestmark = pytest.mark.e2e
PASSWORD = "lee-bills-monthly-42"
COMMENT = "Rebar is only partly in place: bill 1,500 this period"


def test_a_new_contact_bills_through_review_and_sage_and_hears_of_the_payment(
        session, sim, smtp, open_as, new_context):
    setup, admin = project_admin_on_synced_project(session, sim)
    project, commitment, pid, cid = setup.project.name, setup.commitment.number, setup.project.id, setup.commitment.id
    vendor = setup.vendor.erp_vendor_id
    sage_user = f.make_user(session, erp_level=ToolLevel.ADMIN)   # the Sage page: an ERP Admin
    address, number = f"lee.{f.suffix().lower()}@sub.example", f"LP-{f.suffix(8)}"
    check = str(100000 + secrets.randbelow(900000))
    session.commit()

    # the invoice administrator: a new contact, a billing period, the invitation; the contact: the
    # account link, a password, the invitation accepted, the invoice with its PDF
    page = open_as(admin)
    contact = new_contact_accepts(page, new_context, smtp, project, commitment, "Lee Park", address, PASSWORD)
    fill_and_submit(contact, number, [("4000", "$4,000.00"), ("2000", "$6,000.00")], "$600.00", "lee-park.pdf")

    # the administrator sends line 2 back; the contact (mailed the comment) revises it and resubmits
    open_invoice(page, pid, cid, number, "lee-park.pdf")
    send_line_back(page, 2, COMMENT)
    [mail] = mails_holding(smtp, address, COMMENT)
    assert b"Revise and resubmit" in mail.content
    revise_and_resubmit(contact, 2, COMMENT, "1500", "$5,500.00")
    approve_and_send(page)
    fresh(session)
    invoice_id = session.scalars(select(SubcontractorInvoice.id).where(SubcontractorInvoice.number == number)).one()
    erp_id = erp_of(session, "subcontractor_invoice", invoice_id).id

    # the accounting approver accepts it on the ERP tab: Synced, in Sage with amounts and retainage
    approving = accept_on_tab(open_as, session, "Subcontractor Invoices", "subcontractor_invoice", number, erp_id)
    form = approving.get_by_role("form", name=f"Accept invoice {number}")
    expect(form.get_by_label("ERP ID")).to_have_value(number)
    expect(form.get_by_label("Accounting Date")).to_have_value("2026-12-31")
    form.get_by_label("Description").fill("Lee Park December")
    form.get_by_role("button", name="Export to ERP").click()
    status = tab_row(approving, erp_id).locator(".status")
    expect(status).to_contain_text("Synced")
    expect(status).to_contain_text(f"ERP ID {number}")
    header = sim.get_invoice(vendor, number)
    assert (header["Description"], Decimal(header["Amount"]), Decimal(header["Retainage"])) == (
        "Lee Park December", Decimal("5500.00"), Decimal("550.00"))
    assert sorted((Decimal(d["Amount"]), Decimal(d["Retainage"]), d["Commitment"])
                  for d in sim.list_distributions(vendor, number)) == [
        (Decimal("1500.00"), Decimal("150.00"), setup.commitment.erp_commitment_id),
        (Decimal("4000.00"), Decimal("400.00"), setup.commitment.erp_commitment_id)]
    assert erp_of(session, "subcontractor_invoice", invoice_id).state == State.SYNCED

    # a Sage user pays it by check on the Sage page; the approver syncs Paid Invoices on demand
    sage = open_as(sage_user)
    navigate(sage, main_nav(sage, "Sage 300 CRE (simulator)"))
    pay_in_full(sage, {"Vendor": vendor, "Invoice": number, "Check number": check, "Check date": "2026-12-28",
                       "Amount": "4,950.00"})
    sync_paid_invoices(approving)

    # the contact receives "Payment issued", and sees it on their own pages
    [paid] = mails_holding(smtp, address, check)
    assert b"Payment issued" in paid.content
    contact.goto(f"/billing/commitments/{cid}")
    expect(contact.locator("body")).to_contain_text(number)
    contact.goto("/billing/mail")
    expect(contact.get_by_text("Payment issued", exact=False).first).to_be_visible()
