"""The approver's grid in Chromium at 1024 x 768 (issue 12, part 4).

The approver filters the Subcontractor Invoices tab by project and by an amount range (the URL
follows, the back button undoes), downloads the CSV of what is filtered, and works a row with the
keyboard: Reject opens its form with the focus in it, Escape closes it and the focus is back on
the row. The Status and Actions cells stay inside the window, on a failed row too (its cause and
solution collapsed).
"""
from __future__ import annotations

import csv
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.domain import services
from portal.domain.models import ToolLevel
from portal.exporters.sage300.connectors import SimulatorConnector
from tests import factories as f
from tests.e2e.helpers import navigate, open_tab, tab_row

pytestmark = pytest.mark.e2e

KEY = "subcontractor_invoice"
NOTHING = (Decimal("0"), Decimal("0"))
LARGE = {"work": (Decimal("10000"), Decimal("2500")), "stored": NOTHING, "retainage": NOTHING}  # due 12,500.00
CLOSED = date(2026, 1, 31)   # billed in a GL period Sage has closed: its export fails


def in_view_across(page, row) -> None:
    """The row's Status and Actions cells are inside the window's width, and nothing is wider."""
    for cell in (row.locator("td.status"), row.locator("td.actions")):
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1024, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024


def test_filter_download_and_keyboard_at_1024(session, sim, open_as):
    here, elsewhere = f.Setup(session, sim), f.Setup(session, sim)
    admin = f.make_user(session)
    for setup in (here, elsewhere):
        f.member(session, admin, setup.project, ToolLevel.ADMIN)
    # payment due 12,500.00 (two here, one in the other project) and 1,450.00 (here); one here failed
    large = [here.invoice(session, admin, **LARGE) for _ in range(2)]
    small = here.invoice(session, admin)
    other = elsewhere.invoice(session, admin, **LARGE)
    refused = here.invoice(session, admin, billing=CLOSED, **LARGE)
    erp = {inv.id: services.send(session, admin, KEY, inv.id).id for inv in (*large, small, other, refused)}
    approver = f.approver(session)
    sim.set_setting("closed_periods", f"{CLOSED:%Y-%m}")
    try:
        accepted = services.accept(session, approver, erp[refused.id], {"erp_id": refused.number,
                                   "accounting_date": CLOSED.isoformat()}, f.NullQueue())
        assert services.run_export(session, accepted.id, accepted.attempt, SimulatorConnector(sim)) == "failed"
    finally:
        sim.set_setting("closed_periods", "")

    page = open_as(approver)
    page.set_viewport_size({"width": 1024, "height": 768})
    open_tab(page, "Subcontractor Invoices", KEY)

    page.get_by_label("Project").select_option(str(here.project.id))
    expect(page).to_have_url(re.compile(rf"[?&]project={here.project.id}(&|$)"))
    expect(page.locator("#tab-body tbody.item")).to_have_count(3)
    page.get_by_label("Current Payment Due from").fill("10000")
    page.get_by_label("Current Payment Due from").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]min=10000$"))
    page.get_by_label("Current Payment Due to").fill("20000")
    page.get_by_label("Current Payment Due to").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]min=10000&max=20000(&|$)"))
    expect(page).not_to_have_url(re.compile(r"[?&](q|vendor|period|from|to)="))   # empty fields left out
    expect(page.locator("#tab-body tbody.item")).to_have_count(2)
    for inv in large:
        expect(tab_row(page, erp[inv.id])).to_be_visible()

    # at 1024 px the Status and Actions cells are inside the window, not cut off
    page.wait_for_load_state("networkidle")   # Enter is a change and a submit: both answered
    row = tab_row(page, erp[large[0].id])
    in_view_across(page, row)

    # the CSV holds exactly the filtered rows
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV", exact=True).click()
    with Path(download.value.path()).open(newline="") as handle:
        rows = list(csv.reader(handle))
    number, due = rows[0].index("Invoice #"), rows[0].index("Current Payment Due")
    assert sorted((r[number], r[due]) for r in rows[1:]) == sorted((inv.number, "12500.00") for inv in large)

    # Reject with the keyboard: the focus goes into its form; Escape closes it, the focus back on the row
    row.get_by_role("link", name="Reject").focus()
    page.keyboard.press("Enter")
    reason = row.get_by_label("Reason for rejection")
    expect(reason).to_be_focused()
    page.keyboard.press("Escape")
    expect(row.locator("form.inline-form")).to_have_count(0)
    expect(row.locator("tr.item-row")).to_be_focused()

    # the back button steps back through the filters: the upper bound gone, then the lower
    page.go_back()
    expect(page).to_have_url(re.compile(r"[?&]min=10000$"))
    expect(page.get_by_label("Current Payment Due to")).to_have_value("")
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"[?&]min="))
    expect(page.locator("#tab-body tbody.item")).to_have_count(3)
    expect(page.get_by_label("Project")).to_have_value(str(here.project.id))

    # the failed row: Sage's message, its cause and solution collapsed, Retry and Reject in view
    navigate(page, page.locator('#tab-counts a[data-filter="failed"]'))
    expect(page).to_have_url(re.compile(rf"filter=failed&project={here.project.id}(&|$)"))
    failed = tab_row(page, erp[refused.id])
    expect(failed.locator(".sage-message")).to_contain_text("period")
    expect(failed.locator("details")).to_have_count(1)
    expect(failed.locator("details")).not_to_have_attribute("open", "")
    in_view_across(page, failed)


def test_the_focus_never_moves_out_from_under_a_user_already_typing(session, sim, open_as):
    """The focus moves into a row's new form once it settles; a user already in one of its fields
    by then (a click, typing begun) keeps their place: their text never lands in another field."""
    setup = f.Setup(session, sim)
    admin = f.make_user(session)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    invoice = setup.invoice(session, admin)
    erp_id = services.send(session, admin, KEY, invoice.id).id
    page = open_as(f.approver(session))
    open_tab(page, "Subcontractor Invoices", KEY)
    page.evaluate("htmx.config.defaultSettleDelay = 600")   # a slow settle, for a user quicker than it
    tab_row(page, erp_id).get_by_role("link", name="Accept").click()
    form = page.get_by_role("form", name=f"Accept invoice {invoice.number}")
    form.get_by_label("Description").fill("October pay app")
    page.wait_for_timeout(900)   # past the settle
    expect(form.get_by_label("Description")).to_be_focused()
    expect(form.get_by_label("ERP ID")).to_have_value(invoice.number)
    expect(form.get_by_label("Description")).to_have_value("October pay app")
