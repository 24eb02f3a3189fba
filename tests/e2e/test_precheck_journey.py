"""In Chromium, as an accounting approver: an invoice Sage would refuse (its vendor made
inactive in Sage) shows the "Sage would refuse" badge on its row before anyone accepts it; its
Accept form explains why with Export disabled, and keeps it disabled as the approver types; the
row's "Reject with this reason" opens the reject form with Sage's reason filled in, and rejects."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from portal.exporters.sage300.simulator import VENDOR_INACTIVE
from portal.exporters.sage300.troubleshooting import explain
from tests import factories as f, items as it
from tests.e2e.helpers import erp_of, open_tab, search, tab_row

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("precheck_on")]


def test_a_row_sage_would_refuse_shows_the_badge_and_its_accept_form_explains_why(session, sim, open_as):
    admin, approver = f.make_user(session), f.approver(session)
    home = it.make_home(session, sim, {admin.id: ToolLevel.ADMIN}, vendor_status="Inactive")
    invoice = it.make_item(session, sim, "subcontractor_invoice", State.READY, home=home, sender=admin)
    session.commit()
    why = explain(VENDOR_INACTIVE)

    page = open_as(approver)
    open_tab(page, "Subcontractor Invoices", "subcontractor_invoice")
    search(page, invoice.number)
    row = tab_row(page, invoice.erp)
    expect(row.locator(".precheck-badge")).to_have_text("Sage would refuse")
    expect(row.locator(".status")).to_contain_text(VENDOR_INACTIVE)
    row.get_by_text("Cause and solution").click()
    expect(row.locator(".status")).to_contain_text(why.cause)

    row.get_by_role("link", name="Accept").click()
    form = row.get_by_role("form", name=f"Accept invoice {invoice.title}")
    expect(form).to_contain_text("Sage 300 CRE would refuse this export")
    expect(form).to_contain_text(VENDOR_INACTIVE)
    export = form.get_by_role("button", name="Export to ERP")
    expect(export).to_be_disabled()
    # typing another ERP ID checks again (htmx, on change; the checked part replaces itself): the
    # vendor is still inactive
    form.locator(".precheck-form").evaluate("el => el.dataset.e2eOld = 'yes'")
    form.get_by_label("ERP ID").fill(f"X-{f.suffix(4)}")
    form.get_by_label("Description").fill("Pay app")
    expect(form.locator(".precheck-form[data-e2e-old]")).to_have_count(0)
    expect(form.locator(".precheck-form")).to_contain_text(VENDOR_INACTIVE)
    expect(form.get_by_role("button", name="Export to ERP")).to_be_disabled()
    row.get_by_role("link", name="Cancel").click()

    row.get_by_role("link", name="Reject with this reason").click()
    reason = row.get_by_label("Reason for rejection")
    expect(reason).to_have_value(f"Sage 300 CRE would refuse this item: {VENDOR_INACTIVE} "
                                 f"Cause: {why.cause} Solution: {why.solution}")
    row.get_by_role("button", name="Reject").click()
    expect(row.locator(".status .badge").first).to_contain_text("Rejected")
    erp = erp_of(session, "subcontractor_invoice", invoice.id)
    assert erp.state == State.REJECTED and VENDOR_INACTIVE in erp.reject_reason
