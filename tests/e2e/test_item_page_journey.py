"""In Chromium, as an accounting approver: an invoice opened from its tab row shows its lines, what
Sage would get and its history, and is accepted there (the row and the history follow the export
without a reload), with the subcontractor's PDF linked; a resent invoice's page shows the earlier
rejection reason and what changed."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.domain import services
from portal.domain.invoice_models import InvoiceAttachment
from portal.domain.lifecycle import State
from portal.domain.models import InvoiceLine, ToolLevel
from tests import factories as f, items as it
from tests.e2e.helpers import erp_of, open_tab, search, tab_row

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def test_the_approver_opens_an_invoice_from_the_tab_and_accepts_it_there(session, sim, open_as):
    admin, approver = f.make_user(session), f.approver(session)
    home = it.make_home(session, sim, {admin.id: ToolLevel.ADMIN})
    invoice = it.make_item(session, sim, "subcontractor_invoice", State.READY, home=home, sender=admin)
    session.add(InvoiceAttachment(invoice_id=invoice.id, filename="sub-invoice-7.pdf", size=len(PDF), data=PDF))
    session.commit()

    page = open_as(approver)
    open_tab(page, "Subcontractor Invoices", "subcontractor_invoice")
    search(page, invoice.number)
    tab_row(page, invoice.erp).get_by_role("link", name=invoice.number, exact=True).click()
    expect(page).to_have_url(f"{page.url.split('/erp/')[0]}/erp/subcontractor_invoice/{invoice.erp}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Subcontractor Invoice {invoice.number}")

    lines = page.locator("table.lines")
    expect(lines.locator("tbody tr")).to_have_count(3)  # two lines and their total
    expect(lines).to_contain_text("Footings")
    expect(lines).to_contain_text("Rebar")
    expect(lines.locator("tr.total")).to_contain_text("$1,600.00")
    preview = page.locator("section.sage-records")
    expect(preview.get_by_role("heading", level=2)).to_have_text("Sage records it would produce")
    expect(preview.locator("table.records")).to_have_count(2)  # the AP invoice and its distributions
    history = page.locator("#erp-history")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history).to_contain_text("Ready to Export")
    pdf = page.locator("#attachments").get_by_role("link", name="sub-invoice-7.pdf")
    expect(pdf).to_be_visible()
    answer = page.request.get(pdf.get_attribute("href") or "")
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf" and answer.body() == PDF

    page.evaluate("document.querySelector('main').dataset.e2eSamePage = 'yes'")  # gone if the page reloads
    row = tab_row(page, invoice.erp)
    row.get_by_role("link", name="Accept").click()
    form = page.get_by_role("form", name=f"Accept invoice {invoice.number}")
    expect(form.get_by_label("ERP ID")).to_have_value(invoice.number)
    form.get_by_role("button", name="Export to ERP").click()
    expect(row.locator(".status .badge")).to_have_text("Synced", timeout=20_000)
    expect(history).to_contain_text("accept")
    expect(history).to_contain_text("export ok")
    expect(page.locator("main[data-e2e-same-page]")).to_have_count(1)
    assert erp_of(session, "subcontractor_invoice", invoice.id).state == State.SYNCED

    page.reload()
    expect(page.locator("section.sage-records h2")).to_have_text("Sage records it produced")
    expect(page.locator("section.sage-records .import-log")).to_contain_text("Imported")


def test_a_resent_invoice_shows_the_earlier_reason_and_what_changed(session, sim, open_as):
    admin, approver = f.make_user(session), f.approver(session)
    home = it.make_home(session, sim, {admin.id: ToolLevel.ADMIN})
    invoice = it.make_item(session, sim, "subcontractor_invoice", State.REJECTED, home=home, sender=admin,
                           approver=approver, reason="Retainage on the rebar is 10%")
    second = session.scalars(select(InvoiceLine.id).where(InvoiceLine.invoice_id == invoice.id)
                             .order_by(InvoiceLine.id)).all()[1]
    it.save_edit(session, admin, invoice, it.invoice_form(session, invoice, **{f"line-{second}-retainage": "60"}))
    services.send(session, admin, invoice.key, invoice.id)
    session.commit()

    page = open_as(approver)
    open_tab(page, "Subcontractor Invoices", "subcontractor_invoice")
    search(page, invoice.number)
    expect(tab_row(page, invoice.erp).locator(".badge.resent")).to_have_text("Resent")
    tab_row(page, invoice.erp).get_by_role("link", name=invoice.number, exact=True).click()

    rejections = page.locator("section.rejections")
    expect(rejections).to_contain_text("Retainage on the rebar is 10%")
    diff = rejections.locator("table.diff")
    expect(diff.locator("tbody tr")).to_have_count(1)
    expect(diff.locator("tbody tr")).to_contain_text("Retainage")
    expect(diff.locator("tbody tr")).to_contain_text("line 2")
    expect(diff.locator("tbody tr td").nth(2)).to_have_text("$50.00")
    expect(diff.locator("tbody tr td").nth(3)).to_have_text("$60.00")
    expect(page.locator("#erp-history tr.edit")).to_contain_text("Retainage $50.00 → $60.00 on line 2")
    expect(page.locator("section.mails")).to_contain_text("Rejection Notification")
