"""In Chromium: an invoice contact (a user of the commitment's vendor) fills the schedule of values
with a PDF of their own invoice and submits it; the invoice administrator reviews it line by line
and sends one line back; the contact (mailed the comment) revises that line and resubmits; the
administrator approves it and sends it to ERP Integrations, where it waits Ready to Export."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.domain.lifecycle import State
from portal.domain.models import SubcontractorInvoice
from tests import factories as f
from tests.e2e.helpers import erp_of, fresh, navigate, project_admin_on_synced_project, wait_for_mail

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def bill(page: Page, line_no: int, amount: str, total: str) -> None:
    """Type this period's work on a line and leave it: the lines recalculate in place."""
    field = page.get_by_label(f"Work completed line {line_no}", exact=True)
    field.fill(amount)
    field.press("Tab")
    expect(page.locator('#invoice-totals [data-total="amount"]')).to_have_text(total)


def test_contact_submits_admin_sends_a_line_back_contact_resubmits_admin_approves_and_sends(
        session, sim, smtp, open_as):
    setup, admin = project_admin_on_synced_project(session, sim)
    contact = f.invoice_contact(session, setup.commitment)
    pid, cid, number = setup.project.id, setup.commitment.id, f"SUB-{f.suffix()}"
    session.commit()

    # the contact fills the lines with the PDF of their own invoice and submits
    page = open_as(contact)
    page.goto(f"/billing/commitments/{cid}/invoices/new")
    page.wait_for_function("() => window.htmx !== undefined")
    page.get_by_label("Invoice #").fill(number)
    bill(page, 1, "1000", "$1,000.00")
    bill(page, 2, "2000", "$3,000.00")
    expect(page.locator('#invoice-totals [data-total="retainage"]')).to_have_text("$300.00")
    page.get_by_label(re.compile("The subcontractor's invoice")).set_input_files(
        {"name": "our-invoice.pdf", "mimeType": "application/pdf", "buffer": PDF})
    navigate(page, page.get_by_role("button", name="Submit for review"))
    expect(page.locator("#invoice-status")).to_have_text("Under Review")
    expect(page.get_by_role("link", name="our-invoice.pdf")).to_be_visible()

    # the administrator opens it from the commitment, looks at the PDF, sends line 2 back
    review = open_as(admin)
    review.goto(f"/projects/{pid}/commitments/{cid}")
    navigate(review, review.get_by_role("link", name=number))
    expect(review.get_by_role("link", name="our-invoice.pdf")).to_have_attribute("href", re.compile(r"/pdf$"))
    navigate(review, review.get_by_role("link", name="Review lines"))
    row = review.locator('#review-lines tr[data-line="2"]')
    row.get_by_label("Revise").check()
    row.get_by_label("Comment line 2").fill("Rebar is only half in place: bill 1,500")
    navigate(review, review.get_by_role("button", name="Save review"))
    expect(review.locator("#invoice-status")).to_have_text("Revise and Resubmit")

    mails = [m for m in wait_for_mail(smtp, contact.email, timeout=20) if number.encode() in m.content]
    assert len(mails) == 1 and b"Rebar is only half in place" in mails[0].content

    # the contact revises line 2 (line 1 stays as approved) and resubmits
    page.reload()
    expect(page.locator("#invoice-status")).to_have_text("Revise and Resubmit")
    expect(page.locator('#invoice-sov tr[data-line="2"] .review')).to_contain_text("Rebar is only half in place")
    navigate(page, page.get_by_role("link", name="Revise lines"))
    expect(page.get_by_label("Work completed line 1", exact=True)).to_have_count(0)
    bill(page, 2, "1500", "$2,500.00")
    navigate(page, page.get_by_role("button", name="Submit for review"))
    expect(page.locator("#invoice-status")).to_have_text("Under Review")
    expect(page.locator("#invoice-history")).to_contain_text("resubmit")

    # the administrator approves every line and sends it to ERP Integrations
    review.reload()
    navigate(review, review.get_by_role("link", name="Review lines"))
    review.get_by_label("Decision when every line is approved").select_option("Approved")
    navigate(review, review.get_by_role("button", name="Save review"))
    expect(review.locator("#invoice-status")).to_have_text("Approved")
    history = review.locator("#invoice-history")
    for step in ("create", "submit", "revise", "resubmit", "review"):
        expect(history.locator("td", has_text=re.compile(rf"^{step}$"))).not_to_have_count(0)
    review.locator("#invoice-summary").get_by_role("button", name=re.compile("Send to ERP")).click()
    expect(review.locator("#invoice-summary")).to_contain_text("Ready to Export")
    fresh(session)
    inv = session.scalars(select(SubcontractorInvoice).where(SubcontractorInvoice.number == number)).one()
    assert (inv.status, inv.total_amount, inv.total_retainage, inv.contact_id) == (
        "Approved", Decimal("2500.00"), Decimal("250.00"), contact.id)
    assert erp_of(session, "subcontractor_invoice", inv.id).state == State.READY
