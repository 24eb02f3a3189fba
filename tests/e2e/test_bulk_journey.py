"""A bulk export in Chromium whose counts and tally tell the truth without a reload (issue 12, part 3).

Seven invoices of one project are ticked and exported at once; Sage refuses three (their GL
period is closed in the simulator). The result panel follows the group until every export
settled and says the tally; the filter counts follow each row as it settles (out-of-band
swaps), all on the page the approver clicked on.
"""
from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from portal.domain import services
from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from tests import factories as f
from tests.e2e.helpers import erp_of, open_tab, search, tab_row

pytestmark = pytest.mark.e2e

KEY = "subcontractor_invoice"
CLOSED = date(2026, 1, 31)   # billed (and so, by default, accounted) in a period Sage has closed


def count(page, filter_key: str):
    return page.locator(f'#tab-counts a[data-filter="{filter_key}"] .count')


def test_bulk_export_with_some_refused_shows_the_tally_and_the_counts_without_a_reload(session, sim, open_as):
    setup = f.Setup(session, sim)
    admin = f.make_user(session)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    invoices = [setup.invoice(session, admin) for _ in range(4)] + \
               [setup.invoice(session, admin, billing=CLOSED) for _ in range(3)]
    erp_ids = [services.send(session, admin, KEY, inv.id).id for inv in invoices]
    sim.set_setting("closed_periods", f"{CLOSED:%Y-%m}")
    try:
        page = open_as(f.approver(session))
        open_tab(page, "Subcontractor Invoices", KEY)
        search(page, setup.project.number, rows=7)
        expect(count(page, "ready")).to_have_text("7")
        expect(page.locator("#tab-totals th")).to_contain_text("Total of 7")
        page.evaluate("window.e2eSamePage = 'yes'")   # gone if the page were reloaded

        page.get_by_role("checkbox", name="Tick all").check()
        page.get_by_role("button", name="Export selected to ERP").click()

        expect(page.locator("#bulk-result")).to_have_text(
            re.compile(r"^\s*4 Synced, 3 Failed to Export \(see below\)"))
        for erp_id, inv in zip(erp_ids, invoices, strict=True):
            expected = "Synced" if inv.billing_date != CLOSED else "Failed to Export"
            expect(tab_row(page, erp_id).locator(".status .badge").first).to_have_text(expected)
        expect(count(page, "ready")).to_have_text("0")
        expect(count(page, "synced")).to_have_text("4")
        expect(count(page, "failed")).to_have_text("3")
        # the totals row of Ready to Export follows too: nothing left to export
        expect(page.locator("#tab-totals th")).to_have_text(re.compile(r"^\s*Total of 0\s*$"))
        expect(page.locator('#tab-totals [data-total="payment_due"]')).to_have_text("$0.00")
        expect(page.locator("#tab-body table.grid > tfoot")).to_have_count(1)
        assert page.evaluate("window.e2eSamePage") == "yes"
        expect(tab_row(page, erp_ids[-1]).locator(".sage-message")).to_contain_text("GL period")
        states = [erp_of(session, KEY, inv.id).state for inv in invoices]
        assert states == [State.SYNCED] * 4 + [State.FAILED] * 3
    finally:
        sim.set_setting("closed_periods", "")
