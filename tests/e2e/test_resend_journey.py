"""In Chromium, as the invoice administrator: a rejected invoice has a line's retainage changed, its
history shows the change, Resend asks to confirm and answers with a message (the old "Invoice
saved." gone) while the row moves to Ready to Export without a reload; the approver's row then
says "Resent" with what changed."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from tests import factories as f, items as it
from tests.e2e.helpers import confirm_click, navigate, open_tab, search, tab_row

pytestmark = pytest.mark.e2e

CHANGE = "Retainage $50.00 → $55.00 on line 2"


def test_a_fixed_rejection_is_resent_with_what_changed(session, sim, open_as):
    admin, approver = f.make_user(session), f.approver(session)
    home = it.make_home(session, sim, {admin.id: ToolLevel.ADMIN})
    invoice = it.make_item(session, sim, "subcontractor_invoice", State.REJECTED, home=home, sender=admin,
                           approver=approver, reason="Retainage on the rebar is 10%")
    session.commit()

    page = open_as(admin)
    page.goto(it.item_url(invoice))
    row = page.locator(f"#invoice-{invoice.id}")
    expect(row.locator(".status")).to_contain_text("Retainage on the rebar is 10%")

    navigate(page, row.get_by_role("link", name="Edit"))
    page.get_by_label("retainage line 2", exact=True).fill("55")
    navigate(page, page.get_by_role("button", name="Save"))
    expect(page.locator("#messages")).to_have_text("Invoice saved.")
    history = page.locator("#erp-history")
    expect(history.locator("tr.edit")).to_contain_text(CHANGE)

    page.evaluate("document.querySelector('main').dataset.e2eSamePage = 'yes'")  # gone if the page reloads
    confirms = confirm_click(page, row.get_by_role("button", name="Resend to ERP"))
    expect(page.locator("#messages")).to_have_text(
        f"Invoice {invoice.number} sent again to accounting, with what changed since the rejection.")
    expect(row.locator(".status .badge")).to_have_text("Ready to Export")
    expect(row.get_by_role("button", name="Retrieve")).to_be_visible()
    expect(history).to_contain_text(f"Changed since the rejection: {CHANGE}")
    expect(page.locator("main[data-e2e-same-page]")).to_have_count(1)
    assert confirms and confirms[0].startswith(f"Resend invoice {invoice.number} to accounting?")

    desk = open_as(approver)
    open_tab(desk, "Subcontractor Invoices", "subcontractor_invoice")
    search(desk, invoice.number)
    resent = tab_row(desk, invoice.erp)
    expect(resent.locator(".badge.resent")).to_have_text("Resent")
    expect(resent.locator(".status")).to_contain_text(f"Changed since the rejection: {CHANGE}")
