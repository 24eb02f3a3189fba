"""In Chromium: a Sage user pays a synced subcontractor invoice by check on the Sage page (a first
try over the open balance is refused, naming the amount); an accounting approver syncs Paid
Invoices from the Subcontractor Invoices tab; the project's invoice page shows it Paid with the
check, its commitment page the paid figure, and "Payment issued" reaches the invoice's creator."""
from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from tests import factories as f, items as it
from tests.e2e.billing_steps import mails_holding, pay, pay_in_full, sync_paid_invoices
from tests.e2e.helpers import main_nav, navigate

pytestmark = pytest.mark.e2e


def test_a_check_entered_on_the_sage_page_is_synced_back_and_mailed(session, sim, smtp, open_as):
    creator, admin = f.make_user(session), f.make_user(session)
    home = it.make_home(session, sim, {creator.id: ToolLevel.STANDARD, admin.id: ToolLevel.ADMIN})
    item = it.make_item(session, sim, "subcontractor_invoice", State.SYNCED, home=home, sender=admin,
                        creator=creator, approver=f.approver(session))
    vendor, number = home.vendor_erp, item.fields["erp_id"]
    check = str(100000 + secrets.randbelow(900000))
    approver, sage_user = f.approver(session), f.make_user(session, erp_level=ToolLevel.ADMIN)
    session.commit()

    # the Sage user pays the invoice: over its open balance first (refused), then in full
    sage = open_as(sage_user)
    navigate(sage, main_nav(sage, "Sage 300 CRE (simulator)"))
    values = {"Vendor": vendor, "Invoice": number, "Check number": check, "Check date": "2026-11-05",
              "Amount": "1450.01"}
    section = pay(sage, values)
    expect(section.get_by_role("alert")).to_contain_text("exceeds the open balance")
    expect(section.get_by_label(re.compile(r"^Amount \*"))).to_have_attribute("aria-invalid", "true")
    pay_in_full(sage, {**values, "Amount": "1,450.00"})

    # the approver syncs Paid Invoices from the Subcontractor Invoices tab
    sync_paid_invoices(open_as(approver))

    # the invoice administrator sees it Paid with the check, and the commitment's paid figure
    admin_page = open_as(admin)
    admin_page.goto(f"/projects/{home.pid}/invoices/{item.id}")
    expect(admin_page.locator("#invoice-summary .payment-status")).to_have_text("Paid")
    payments = admin_page.locator("#invoice-payments")
    expect(payments.locator("tbody tr")).to_have_text(re.compile(rf"{check}\s*11/05/2026\s*\$?1,450\.00"))
    history = admin_page.locator("#erp-history tbody tr", has_text=f"Check {check} of 11/05/2026")
    expect(history).to_contain_text("Sage 300 CRE (Paid Invoices sync)")
    navigate(admin_page, admin_page.locator("#invoice-summary").get_by_role("link", name=home.commitment_number))
    expect(admin_page.locator('[data-figure="paid"]')).to_have_text(re.compile(r"1,450\.00"))

    # "Payment issued" reaches the invoice's creator over SMTP
    mails = mails_holding(smtp, creator.email, check)
    assert len(mails) == 1 and b"Payment issued" in mails[0].content
