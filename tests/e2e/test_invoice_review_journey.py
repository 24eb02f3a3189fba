"""In Chromium: an invoice contact (a user of the commitment's vendor) fills the schedule of values
with a PDF of their own invoice and submits it; the invoice administrator reviews it line by line
and sends one line back; the contact (mailed the comment) revises that line and resubmits; the
administrator approves it and sends it to ERP Integrations, where it waits Ready to Export."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.domain.lifecycle import State
from portal.domain.models import SubcontractorInvoice
from tests import factories as f
from tests.e2e.billing_steps import (
    approve_and_send,
    fill_and_submit,
    mails_holding,
    open_invoice,
    revise_and_resubmit,
    send_line_back,
)
from tests.e2e.helpers import erp_of, fresh, project_admin_on_synced_project

pytestmark = pytest.mark.e2e
COMMENT = "Rebar is only half in place: bill 1,500"


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
    fill_and_submit(page, number, [("1000", "$1,000.00"), ("2000", "$3,000.00")], "$300.00", "our-invoice.pdf")

    # the administrator opens it from the commitment, looks at the PDF, sends line 2 back
    review = open_as(admin)
    open_invoice(review, pid, cid, number, "our-invoice.pdf")
    send_line_back(review, 2, COMMENT)
    mails = mails_holding(smtp, contact.email, number)
    assert len(mails) == 1 and COMMENT.encode() in mails[0].content

    # the contact revises line 2 (line 1 stays as approved) and resubmits; the administrator
    # approves every line and sends it to ERP Integrations
    revise_and_resubmit(page, 2, COMMENT, "1500", "$2,500.00")
    approve_and_send(review)
    fresh(session)
    inv = session.scalars(select(SubcontractorInvoice).where(SubcontractorInvoice.number == number)).one()
    assert (inv.status, inv.total_amount, inv.total_retainage, inv.contact_id) == (
        "Approved", Decimal("2500.00"), Decimal("250.00"), contact.id)
    assert erp_of(session, "subcontractor_invoice", inv.id).state == State.READY
