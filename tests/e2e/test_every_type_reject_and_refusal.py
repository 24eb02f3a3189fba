"""Every item type in Chromium: Send -> Reject -> email -> Resend, and a Sage refusal that lands
in Failed to Export with Sage's text and the guide's cause and solution.

Each type's item is built at service level (tests/items.py) by its creator, who is also its sender;
the approver then decides in the live portal (CSRF on), the
real RQ worker exports to the Sage simulator and sends mail to the aiosmtpd inbox.
"""
from __future__ import annotations

import email
import email.policy
import re
from datetime import date
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from tests import factories as f, items as it
from tests.e2e.helpers import confirm_click, erp_of, tab_row, wait_for_mail
from tests.types import get_type, type_keys

pytestmark = pytest.mark.e2e

# ---- data: one item per type (tests/items.py), made and sent by its creator ------------------

def closed_period(session, sim, item):
    sim.set_setting("closed_periods", "2026-01")
    return "GL period closed.", None, lambda: sim.set_setting("closed_periods", "")


def job_closed(session, sim, item):
    sim.set_job_status(item.home.job, "Closed")
    return "Job has been closed.", None, None


def vendor_id_in_sage(session, sim, item):
    taken = f"D{f.suffix(8)}"
    sim.add_vendor(taken, f"Sage Only {f.suffix()}")
    return ("A vendor already exists with the specified id.",
            lambda form: form.get_by_label("ERP Vendor ID").fill(taken), None)


def job_name_too_long(session, sim, item):
    job_id = it.fresh_job_id(session, sim)
    return ("[Name] is too long, maximum length is 30 characters.",
            lambda form: form.get_by_label("Sage Job ID").fill(job_id), None)


def estimate_in_sage(session, sim, item):
    sim.add_transaction(item.home.job, "03-300", "SUB", "Original estimate", 1000)
    return "An estimate already exists for cost code 03-300 category SUB.", None, None


def vendor_inactive(session, sim, item):
    sim.set_vendor_status(item.home.vendor_erp, "Inactive")
    sage_id = f"P{f.suffix(8)}"
    return ("Vendor is inactive/has been archived.",
            lambda form: form.get_by_label("Sage 300 CRE ID").fill(sage_id), None)


def commitment_archived(session, sim, item):
    sim.set_commitment_status(item.home.commitment_erp, "Closed")
    return "Commitment has been archived.", None, None


def item_code_in_sage(session, sim, item):
    code = f"C{f.suffix(5)}"
    sim.add_contract_item(item.home.contract_number, code, "Already in Sage")
    return ("A contract item already exists on this contract with the specified code.",
            lambda form: form.get_by_label("New Contract Item Code").fill(code), None)


JANUARY = {"period_start": "2026-01-01", "period_end": "2026-01-31", "billing_date": "2026-01-31"}
# type -> (what its item is made with so that Sage refuses it, how the refusal is planted in Sage)
REFUSALS = {
    "subcontractor_invoice": (dict(billing=date(2026, 1, 31)), closed_period),
    "vendor": ({}, vendor_id_in_sage),
    "job": (dict(name=f"A project name well over thirty characters {f.suffix()}"), job_name_too_long),
    "sub_job": ({}, job_closed),
    "cost_code": ({}, job_closed),
    "budget": ({}, estimate_in_sage),
    "budget_change": ({}, job_closed),
    "commitment": ({}, vendor_inactive),
    "cco": ({}, commitment_archived),
    "pcco": (dict(new_item=True, status="Pending - In Review"), item_code_in_sage),
    "owner_invoice": (JANUARY, closed_period),
}


def build(session, sim, key: str, refusal: bool = False) -> SimpleNamespace:
    """The item of type `key` on a project of its own, sent by its creator (a project admin; a site
    admin for a company). With refusal, a Sage-side condition is planted so its export fails:
    `accept` fills the Accept form, `sage` is Sage's text and `cleanup` undoes a simulator-wide setting."""
    assert key in REFUSALS, f"{key}: say in REFUSALS how Sage refuses its export"
    over, plant = REFUSALS[key] if refusal else ({}, None)
    creator = f.make_user(session, site_admin=it.builder(key).admin == "site_admin")
    home = it.make_home(session, sim, {creator.id: ToolLevel.ADMIN})
    item = it.make_item(session, sim, key, State.READY, home=home, sender=creator, **over)
    sage, accept, cleanup = plant(session, sim, item) if plant else (None, None, None)
    return SimpleNamespace(key=key, creator=creator, creator_email=creator.email.lower(), item_id=item.id,
                           project_id=item.pid, q=item.title if get_type(key).scope == "company" else item.home.number,
                           page_path=it.list_url(key, item.pid), row_id=it.row_id(item), erp_id=item.erp,
                           sage=sage, accept=accept or (lambda form: None), cleanup=cleanup or (lambda: None))


# ---- page helpers ------------------------------------------------------------------------

def goto(page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined")


def open_item_on_tab(page, data) -> None:
    goto(page, f"/erp/{data.key}?q={quote(data.q)}")
    expect(tab_row(page, data.erp_id)).to_be_visible()


# ---- 1. Send -> Reject -> email -> Resend ------------------------------------------------------

@pytest.mark.parametrize("key", type_keys())
def test_reject_mails_and_resend(session, sim, smtp, open_as, key):
    data = build(session, sim, key)
    reason = f"Fix the {key} please e2e {f.suffix()}"
    label = it.builder(key).label

    page = open_as(f.approver(session))
    open_item_on_tab(page, data)
    row = tab_row(page, data.erp_id)
    expect(row.locator(".status")).to_have_text("Ready to Export")
    row.get_by_role("link", name="Reject").click()
    form = page.get_by_role("form", name=re.compile(r"^Reject "))
    form.get_by_label("Reason for rejection").fill(reason)
    form.get_by_role("button", name="Reject").click()
    expect(tab_row(page, data.erp_id).locator(".status")).to_have_text(
        "Rejected: returned to the project team and emailed.")

    got = wait_for_mail(smtp, data.creator_email)
    assert len(got) == 1, f"expected one mail to the creator, got {len(got)}"
    message = email.message_from_bytes(got[0].content, policy=email.policy.default)
    # the item named after the dash (its number, and its project: tests/web/test_desk.py checks each)
    assert f.subject(message).startswith(f"Test Builders: ERP {label} Rejection Notification — ")
    assert reason in message.get_body(("plain",)).get_content()
    erp = erp_of(session, key, data.item_id)
    assert erp.state == State.REJECTED and erp.reject_reason == reason

    creator_page = open_as(data.creator)
    goto(creator_page, data.page_path)
    item = creator_page.locator(f"#{data.row_id}")
    expect(item).to_contain_text(reason)
    expect(item).to_contain_text("Rejected")
    confirm_click(creator_page, item.get_by_role("button", name="Resend to ERP"))
    item = creator_page.locator(f"#{data.row_id}")
    expect(item).to_contain_text("Ready to Export")
    expect(item.get_by_role("button", name="Resend to ERP")).to_have_count(0)

    erp = erp_of(session, key, data.item_id)
    assert erp.state == State.READY and erp.sent_by_id == data.creator.id
    assert len(smtp.to(data.creator_email)) == 1  # resending mails nobody


# ---- 2. a Sage refusal: its text, cause and solution ------------------------------------------

@pytest.mark.parametrize("key", type_keys())
def test_sage_refusal_shows_text_cause_and_solution(session, sim, open_as, key, precheck_off):
    """What Sage says on Export (the pre-check before Accept, which would disable Export for these
    items, is off here: tests/e2e/test_precheck_journey.py shows it)."""
    data = build(session, sim, key, refusal=True)
    try:
        page = open_as(f.approver(session))
        open_item_on_tab(page, data)
        tab_row(page, data.erp_id).get_by_role("link", name="Accept").click()
        form = page.get_by_role("form", name=re.compile(r"^Accept "))
        expect(form).to_be_visible()
        data.accept(form)
        form.get_by_role("button", name="Export to ERP").click()

        status = tab_row(page, data.erp_id).locator(".status")
        expect(status.locator(".badge")).to_have_text("Failed to Export")
        expect(status.locator(".sage-message")).to_be_visible()
        expect(status.locator(".sage-message")).to_contain_text(data.sage)
        expect(status.get_by_text("Cause and solution")).to_be_visible()
        cause = status.locator("p").filter(has_text=re.compile(r"^Cause: \S"))
        expect(cause).to_be_hidden()   # collapsed, so a failed row is not a screen tall
        status.get_by_text("Cause and solution").click()
        expect(cause).to_be_visible()
        expect(status.locator("p").filter(has_text=re.compile(r"^Solution: \S"))).to_be_visible()
        expect(tab_row(page, data.erp_id).get_by_role("link", name="Retry")).to_be_visible()
    finally:
        data.cleanup()

    erp = erp_of(session, key, data.item_id)
    assert erp.state == State.FAILED and data.sage in (erp.sage_message or "")
