"""In Chromium, an ERP Admin who also plays the Sage user, and an accounting approver. Sage's AP
setting Date Received Usage is Required: the Setup page shows it failing with what to do, and the
invoice's Accept says why and is refused; the ERP Admin sets it to Not Required on the Sage page and
the export goes through. Then a vendor whose General Liability certificate has expired (synced from
Sage's AP Vendor Insurance): with the Subcontracts gate on Warn the approver's row and Accept form
list it; on Block, Accept is refused with the list."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.domain import settings, sync
from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from tests import factories as f
from tests.e2e.helpers import main_nav, navigate, tab_row as row
from tests.e2e.test_journeys import Sent, erp_state, open_tab, search
from tests.fake_sage import RecordingQueue
from tests.types import direct_export_keys

pytestmark = pytest.mark.e2e
REQUIRED = "Sage AP setting Date Received Usage is Required: set it to Not Required in Sage AP Settings"


def accept_form(page: Page, erp_id: int, number: str):
    row(page, erp_id).get_by_role("link", name="Accept").click()
    return page.get_by_role("form", name=f"Accept invoice {number}")


def set_gate(page: Page, mode: str) -> None:
    """The ERP Admin sets the Subcontracts gate on the Settings page (General Liability required)."""
    navigate(page, main_nav(page, "Settings"))
    gate = page.locator("#insurance-gate")
    gate.get_by_label("Subcontracts", exact=True).select_option(label=mode)
    gate.get_by_label("General Liability").check()
    navigate(page, page.get_by_role("button", name="Save settings"))
    expect(page.locator("#messages")).to_contain_text("Settings saved.")


def test_setup_refusal_fixed_on_the_sage_page_then_an_expired_certificate_warned_and_blocked(session, sim, open_as):
    data = Sent(session, sim, count=2)
    (_, first), (_, second) = data.invoices
    first_erp, second_erp = data.erp_ids
    admin, approver = f.make_user(session, erp_level=ToolLevel.ADMIN), f.approver(session)
    session.commit()
    before_ap, before_settings = sim.settings()["date_received_usage"], settings.load(session)
    sim.set_setting("date_received_usage", "Required")
    try:
        # the Setup page says what fails and what to do
        boss = open_as(admin)
        navigate(boss, main_nav(boss, "Setup"))
        failing = boss.locator('#setup-checks tr[data-status="fails"]')
        expect(failing).to_have_count(1)
        expect(failing).to_contain_text(REQUIRED)

        # the approver's Accept says why, and Export is refused
        page = open_as(approver)
        open_tab(page)
        search(page, first)
        form = accept_form(page, first_erp, first)
        expect(form).to_contain_text(REQUIRED)
        form.get_by_role("button", name="Export to ERP").click()
        expect(page.get_by_role("form", name=f"Accept invoice {first}").locator(".field-error")).to_contain_text(
            REQUIRED)
        assert erp_state(session, first_erp).state == State.READY

        # fixed on the Sage page: the export goes through
        navigate(boss, main_nav(boss, "Sage 300 CRE (simulator)"))
        section = boss.locator("#sage-ap_settings")
        section.get_by_label("Date Received Usage").select_option("Not Required")
        section.get_by_role("button", name="Save").click()
        expect(boss.locator("#sage-ap_settings").get_by_role("status")).to_contain_text(
            "AP Settings saved: Date Received Usage Not Required")
        navigate(boss, main_nav(boss, "Setup"))
        expect(boss.locator('#setup-checks tr[data-status="fails"]')).to_have_count(0)
        page.get_by_role("form", name=f"Accept invoice {first}").get_by_role("button", name="Export to ERP").click()
        expect(row(page, first_erp).locator(".status .badge")).to_have_text("Synced")

        # the vendor's General Liability expired 3 days ago in Sage; the insurance sync brings it in
        expired = date.today() - timedelta(days=3)
        sim.set_vendor_insurance(data.vendor_erp_id, "General Liability", "GL-3", "Fidelity", None, None, expired)
        run = sync.start(session, admin, "insurance", RecordingQueue())
        sync.execute(session, run.id, sim)
        listed = f"General Liability expired {expired:%m/%d/%Y}"

        # Warn: the row and the Accept form list it
        set_gate(boss, "Warn")
        open_tab(page)
        search(page, second)
        expect(row(page, second_erp).locator(".insurance")).to_contain_text(listed)
        form = accept_form(page, second_erp, second)
        expect(form.locator("xpath=..").locator(".insurance")).to_contain_text("Insurance (warning)")

        # Block: Accept is refused with the list
        set_gate(boss, "Block")
        open_tab(page)
        search(page, second)
        form = accept_form(page, second_erp, second)
        expect(form.locator("xpath=..").locator(".insurance")).to_contain_text("Accept is refused")
        form.get_by_role("button", name="Export to ERP").click()
        refused = page.get_by_role("form", name=f"Accept invoice {second}").locator(".field-error")
        expect(refused).to_contain_text(f"Accept refused: {data.setup.vendor.name}'s insurance: {listed}")
        assert erp_state(session, second_erp).state == State.READY
    finally:
        sim.set_setting("date_received_usage", before_ap)
        settings.update(session, admin, f.settings_form(before_settings), direct_export_keys())
