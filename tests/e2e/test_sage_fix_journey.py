"""In Chromium, two tabs: an accounting approver's and a Sage user's (an ERP Admin on the Sage 300
CRE simulator page). Sage refuses an invoice because its job is closed (or its GL period, or its
vendor inactive); the Sage user fixes that on the Sage page and Retry on the approver's tab syncs
it. Unlink is refused while Sage holds the invoice; the Sage user deletes it on the Sage page and
Unlink succeeds."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from tests import factories as f
from tests.e2e.helpers import main_nav, navigate, tab_row as row
from tests.e2e.test_journeys import Sent, erp_state, open_tab, search

pytestmark = pytest.mark.e2e


def sage_form(page: Page, section: str, values: dict[str, str], choices: dict[str, str]):
    """Fill one of the Sage page's forms (#sage-<section>) and apply it; the section, swapped in place."""
    form = page.locator(f"#sage-{section}")
    for label, value in values.items():
        form.get_by_label(label).fill(value)
    for label, value in choices.items():
        form.get_by_label(label).select_option(value)
    form.get_by_role("button", name="Apply").click()
    return page.locator(f"#sage-{section}")


def test_a_refused_export_is_fixed_in_sage_then_retried_and_unlinked_after_deleting_it_in_sage(
        session, sim, open_as):
    data = Sent(session, sim)
    number, erp_id, vendor = data.number, data.erp_id, data.vendor_erp_id
    job = data.setup.project.sage_job_id
    approver, sage_user = f.approver(session), f.make_user(session, erp_level=ToolLevel.ADMIN)
    session.commit()

    # the approver exports; Sage refuses: the job is closed
    page = open_as(approver)
    confirms: list[str] = []
    page.on("dialog", lambda dialog: (confirms.append(dialog.message), dialog.accept()))
    open_tab(page)
    search(page, number)
    row(page, erp_id).get_by_role("link", name="Accept").click()
    form = page.get_by_role("form", name=f"Accept invoice {number}")
    expect(form.get_by_role("button", name="Export to ERP")).to_be_enabled()
    # closed in Sage while the approver has the Accept form open (the pre-check found it open)
    sim.set_job_status(job, "Closed")
    form.get_by_role("button", name="Export to ERP").click()
    status = row(page, erp_id).locator(".status")
    expect(status.locator(".badge")).to_have_text("Failed to Export")
    expect(status.locator(".sage-message")).to_contain_text("Job has been closed.")

    # the Sage user reopens the job on the Sage page
    sage = open_as(sage_user)
    navigate(sage, main_nav(sage, "Sage 300 CRE (simulator)"))
    expect(sage.get_by_role("heading", name="Fix in Sage")).to_be_visible()
    section = sage_form(sage, "job_status", {"Job": job}, {"Status": "Open"})
    expect(section.get_by_role("status")).to_have_text(f"Job {job} reopened.")
    expect(sage.locator("#sage-holdings")).to_be_visible()
    assert sim.get_job(job)["Status"] == "Open"

    # Retry on the approver's tab: synced
    row(page, erp_id).get_by_role("link", name="Retry").click()
    form = page.get_by_role("form", name=f"Accept invoice {number}")
    expect(form.get_by_label("ERP ID")).to_have_value(number)
    form.get_by_role("button", name="Export to ERP").click()
    expect(status.locator(".badge")).to_have_text("Synced")
    assert erp_state(session, erp_id).state == State.SYNCED

    # the Sage page lists what the portal exported, amounts as Sage prints them
    navigate(sage, main_nav(sage, "Sage 300 CRE (simulator)"))
    listed = sage.locator("#sage-exported-ap-invoices tbody tr", has_text=number)
    expect(listed).to_have_count(1)
    expect(listed.locator("td").nth(5)).to_have_text(re.compile(r"^\d{1,3}(,\d{3})*\.\d{2}$"))
    expect(listed.locator("td").nth(7)).to_have_text("Open")

    # Unlink is refused while Sage holds the invoice
    navigate(page, page.locator('#tab-body a[data-filter="synced"]'))
    search(page, number)
    row(page, erp_id).get_by_role("button", name="Unlink").click()
    expect(page.locator("#messages")).to_contain_text(
        f"Sage 300 CRE still holds AP invoice {number} of vendor {vendor}: delete it in Sage first.")
    assert confirms
    assert erp_state(session, erp_id).state == State.SYNCED

    # the Sage user deletes it in Sage; Unlink goes through
    section = sage_form(sage, "ap_invoice", {"Vendor": vendor, "Invoice": number}, {"Action": "Delete"})
    expect(section.get_by_role("status")).to_have_text(f"AP invoice {number} of vendor {vendor} deleted.")
    expect(sage.locator("#sage-exported-ap-invoices tbody tr", has_text=number)).to_have_count(0)
    assert sim.get_invoice(vendor, number) is None
    row(page, erp_id).get_by_role("button", name="Unlink").click()
    expect(row(page, erp_id).locator(".status")).to_have_text("Unlinked – back in draft")
    erp = erp_state(session, erp_id)
    assert (erp.state, erp.erp_ref) == (State.DRAFT, None)


def _period_of(form) -> str:
    """The GL period (YYYY-MM) of the Accept form's accounting date."""
    return form.get_by_label("Accounting Date").input_value()[:7]


# what breaks in Sage before the export, Sage's refusal, and the Sage page's fix:
# (break(sim, data, form), refusal, fix section, fix(data, form) -> form values, status, confirmation)
FIXES = {
    "GL period closed": (
        lambda sim, data, form: sim.change_gl_period(_period_of(form), "Closed"),
        "GL period closed.",
        "gl_period", lambda data, period: {"Period": period}, "Open", re.compile(r"^GL period \d\d/\d{4} reopened\.$")),
    "vendor inactive": (
        lambda sim, data, form: sim.change_vendor_status(data.vendor_erp_id, "Inactive"),
        "Vendor is inactive/has been archived.",
        "vendor_status", lambda data, period: {"Vendor": data.vendor_erp_id}, "Active",
        re.compile(r"^Vendor \S+ activated\.$")),
}


@pytest.mark.parametrize("what", FIXES)
def test_a_closed_period_or_an_inactive_vendor_is_fixed_in_sage_then_retried(session, sim, open_as, what):
    breaks, refusal, section_key, values, status_choice, confirmation = FIXES[what]
    data = Sent(session, sim)
    number, erp_id = data.number, data.erp_id
    approver, sage_user = f.approver(session), f.make_user(session, erp_level=ToolLevel.ADMIN)
    session.commit()

    page = open_as(approver)
    open_tab(page)
    search(page, number)
    row(page, erp_id).get_by_role("link", name="Accept").click()
    form = page.get_by_role("form", name=f"Accept invoice {number}")
    period = _period_of(form)
    breaks(sim, data, form)  # changed in Sage while the approver has the form open
    try:
        form.get_by_role("button", name="Export to ERP").click()
        status = row(page, erp_id).locator(".status")
        expect(status.locator(".badge")).to_have_text("Failed to Export")
        expect(status.locator(".sage-message")).to_contain_text(refusal)

        sage = open_as(sage_user)
        navigate(sage, main_nav(sage, "Sage 300 CRE (simulator)"))
        section = sage_form(sage, section_key, values(data, period), {"Status": status_choice})
        expect(section.get_by_role("status")).to_have_text(confirmation)

        row(page, erp_id).get_by_role("link", name="Retry").click()
        page.get_by_role("form", name=f"Accept invoice {number}").get_by_role("button", name="Export to ERP").click()
        expect(status.locator(".badge")).to_have_text("Synced")
        assert erp_state(session, erp_id).state == State.SYNCED
    finally:  # the simulator is the session's: never leave a period closed for the tests after this one
        if period in sim.settings()["closed_periods"]:
            sim.change_gl_period(period, "Open")
