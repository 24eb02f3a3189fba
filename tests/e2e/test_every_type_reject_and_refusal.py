"""Every item type in Chromium: Send -> Reject -> email -> Resend, and a Sage refusal that lands
in Failed to Export with Sage's text and the guide's cause and solution.

Each type's item is built at service level (factories, items.save_item, services.send) by its
creator, who is also its sender; the approver then decides in the live portal (CSRF on), the
real RQ worker exports to the Sage simulator and sends mail to the aiosmtpd inbox.
"""
from __future__ import annotations

import email
import email.policy
import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from portal.domain import items, services
from portal.domain.types import REGISTRY
from portal.domain.lifecycle import State
from portal.domain.models import Budget, BudgetLine, Category, CostCode, Vendor
from tests import factories as f
from tests.e2e.helpers import erp_of, project_admin_on_synced_project, tab_row, wait_for_mail
from tests.e2e.test_financial_journeys import exported_budget
from tests.e2e.test_prime_journeys import project_with_prime_contract
from tests.e2e.test_setup_journeys import free_job_id, unsynced_project

pytestmark = pytest.mark.e2e

TYPES = ["subcontractor_invoice", "vendor", "job", "sub_job", "cost_code", "budget", "budget_change",
         "commitment", "cco", "pcco", "owner_invoice"]


# ---- data: one item per type, made and sent by its creator ---------------------------------

def build(session, sim, key: str, refusal: bool = False) -> SimpleNamespace:
    """The item of type `key`, sent by its creator. With refusal, a Sage-side condition is
    planted so its export fails: `accept` fills the Accept form, `sage` is Sage's text and
    `cleanup` undoes a simulator-wide setting."""
    s = f.suffix()
    data = SimpleNamespace(accept=lambda form: None, cleanup=lambda: None, sage=None)
    if key == "subcontractor_invoice":
        setup, creator = project_admin_on_synced_project(session, sim)
        billing = date(2026, 1, 31) if refusal else date(2026, 10, 31)
        inv = setup.invoice(session, creator, billing=billing)
        item_id, project_id, q = inv.id, setup.project.id, inv.number
        page_path, row_id = f"/projects/{project_id}/invoices", f"invoice-{item_id}"
        if refusal:
            sim.set_setting("closed_periods", "2026-01")
            data.cleanup = lambda: sim.set_setting("closed_periods", "")
            data.sage = "GL period closed."
    elif key == "vendor":
        creator = f.make_user(session, site_admin=True)
        name = f"E2E Every {s}"
        vendor = Vendor(name=name, city="Joliet", state="IL", created_by_id=creator.id)
        session.add(vendor)
        session.commit()
        item_id, project_id, q = vendor.id, None, name
        page_path, row_id = "/company/vendor", f"vendor-{item_id}"
        if refusal:
            taken = f"D{f.suffix(8)}"
            sim.add_vendor(taken, f"Sage Only {s}")
            data.accept = lambda form: form.get_by_label("ERP Vendor ID").fill(taken)
            data.sage = "A vendor already exists with the specified id."
    elif key == "job":
        creator = f.make_user(session)
        project = unsynced_project(session, creator, created_by=creator)
        if refusal:
            project.name = f"A project name well over thirty characters {s}"
            session.commit()
        item_id, project_id, q = project.id, project.id, project.number
        page_path, row_id = "/company/job", f"job-{item_id}"
        if refusal:
            job_id = free_job_id(session, sim)
            data.accept = lambda form: form.get_by_label("Sage Job ID").fill(job_id)
            data.sage = "[Name] is too long, maximum length is 30 characters."
    elif key == "sub_job":
        setup, creator = project_admin_on_synced_project(session, sim)
        sub = items.save_item(session, creator, "sub_job", setup.project.id, None,
                              {"code": f"PH-{s}", "name": f"Phase {s}"})
        item_id, project_id, q = sub.id, setup.project.id, f"PH-{s}"
        page_path, row_id = f"/projects/{project_id}/items/sub_job", f"sub_job-{item_id}"
        if refusal:
            sim.set_job_status(setup.project.sage_job_id, "Closed")
            data.sage = "Job has been closed."
    elif key == "cost_code":
        setup, creator = project_admin_on_synced_project(session, sim)
        code = CostCode(project_id=setup.project.id, code="05-500", description=f"Metals {s}",
                        created_by_id=creator.id)
        session.add(code)
        session.flush()
        session.add(Category(cost_code_id=code.id, code="LAB", description="Labor"))
        session.commit()
        item_id, project_id, q = code.id, setup.project.id, setup.project.number
        page_path, row_id = f"/projects/{project_id}/items/cost_code", f"cost_code-{item_id}"
        if refusal:
            sim.set_job_status(setup.project.sage_job_id, "Closed")
            data.sage = "Job has been closed."
    elif key == "budget":
        setup, creator = project_admin_on_synced_project(session, sim)
        budget = Budget(project_id=setup.project.id, created_by_id=creator.id)
        session.add(budget)
        session.flush()
        session.add_all([BudgetLine(budget_id=budget.id, category_id=setup.sub.id, original=Decimal("50000")),
                         BudgetLine(budget_id=budget.id, category_id=setup.mat.id, original=Decimal("10000"))])
        session.commit()
        item_id, project_id, q = budget.id, setup.project.id, setup.project.number
        page_path, row_id = f"/projects/{project_id}/items/budget", f"budget-{item_id}"
        if refusal:
            sim.add_transaction(setup.project.sage_job_id, "03-300", "SUB", "Original estimate", 1000)
            data.sage = "An estimate already exists for cost code 03-300 category SUB."
    elif key == "budget_change":
        setup, creator = project_admin_on_synced_project(session, sim)
        exported_budget(session, sim, setup)
        change = items.save_item(session, creator, "budget_change", setup.project.id, None, {
            "number": f"BC-{s}", "description": f"Move {s}",
            "line-0-category_id": str(setup.sub.id), "line-0-amount": "-2000",
            "line-1-category_id": str(setup.mat.id), "line-1-amount": "2000"})
        item_id, project_id, q = change.id, setup.project.id, f"BC-{s}"
        page_path, row_id = f"/projects/{project_id}/items/budget_change", f"budget_change-{item_id}"
        if refusal:
            sim.set_job_status(setup.project.sage_job_id, "Closed")
            data.sage = "Job has been closed."
    elif key == "commitment":
        setup, creator = project_admin_on_synced_project(session, sim)
        number = f"SC-{s}"
        c = items.save_item(session, creator, "commitment", setup.project.id, None, {
            "number": number, "title": "Waterproofing", "commitment_type": "subcontract",
            "vendor_id": str(setup.vendor.id), "status": "Approved", "retainage_pct": "10",
            "line-0-description": "Membrane", "line-0-category_id": str(setup.sub.id), "line-0-amount": "24000"})
        item_id, project_id, q = c.id, setup.project.id, number
        page_path, row_id = f"/projects/{project_id}/items/commitment", f"commitment-{item_id}"
        if refusal:
            sim.set_vendor_status(setup.vendor.erp_vendor_id, "Inactive")
            sage_id = f"P{f.suffix(8)}"
            data.accept = lambda form: form.get_by_label("Sage 300 CRE ID").fill(sage_id)
            data.sage = "Vendor is inactive/has been archived."
    elif key == "cco":
        setup, creator = project_admin_on_synced_project(session, sim)
        number = f"CO{f.suffix(6)}"
        cco = items.save_item(session, creator, "cco", setup.project.id, None, {
            "commitment_id": str(setup.commitment.id), "number": number, "title": f"Added {s}",
            "status": "Approved", "line-0-commitment_line_id": str(setup.line1.id), "line-0-amount": "1000"})
        item_id, project_id, q = cco.id, setup.project.id, number
        page_path, row_id = f"/projects/{project_id}/items/cco", f"cco-{item_id}"
        if refusal:
            sim.set_commitment_status(setup.commitment.erp_commitment_id, "Closed")
            data.sage = "Commitment has been archived."
    elif key == "pcco":
        setup, creator, pc = project_with_prime_contract(session, sim)
        number = f"PCO-{s}"
        pcco = items.save_item(session, creator, "pcco", setup.project.id, None, {
            "contract_id": str(pc.id), "number": number, "title": f"Canopy {s}",
            "status": "Pending - In Review",
            "line-0-contract_item_id": str(pc.items[0].id), "line-0-category_id": str(setup.sub.id),
            "line-0-amount": "12000",
            "line-1-description": "Canopy", "line-1-category_id": str(setup.mat.id), "line-1-amount": "8000"})
        item_id, project_id, q = pcco.id, setup.project.id, number
        page_path, row_id = f"/projects/{project_id}/items/pcco", f"pcco-{item_id}"
        if refusal:
            code = f"C{f.suffix(5)}"
            sim.add_contract_item(pc.sage_contract_id, code, "Already in Sage")
            data.accept = lambda form: form.get_by_label("New Contract Item Code").fill(code)
            data.sage = "A contract item already exists on this contract with the specified code."
    elif key == "owner_invoice":
        setup, creator, pc = project_with_prime_contract(session, sim)
        number = f"OI{f.suffix(6)}"
        month = "2026-01" if refusal else "2026-10"
        oi = items.save_item(session, creator, "owner_invoice", setup.project.id, None, {
            "contract_id": str(pc.id), "number": number, "period_start": f"{month}-01",
            "period_end": f"{month}-31", "billing_date": f"{month}-31", "status": "Approved",
            "line-0-contract_item_id": str(pc.items[0].id), "line-0-amount": "50000",
            "line-0-retainage": "5000"})
        item_id, project_id, q = oi.id, setup.project.id, number
        page_path, row_id = f"/projects/{project_id}/items/owner_invoice", f"owner_invoice-{item_id}"
        if refusal:
            sim.set_setting("closed_periods", "2026-01")
            data.cleanup = lambda: sim.set_setting("closed_periods", "")
            data.sage = "GL period closed."
    else:  # pragma: no cover
        raise AssertionError(key)
    erp = services.send(session, creator, key, item_id)
    data.__dict__.update(key=key, creator=creator, creator_email=creator.email.lower(), item_id=item_id,
                         project_id=project_id, q=q, page_path=page_path, row_id=row_id, erp_id=erp.id)
    return data


# ---- page helpers ------------------------------------------------------------------------

def goto(page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined")


def open_item_on_tab(page, data) -> None:
    goto(page, f"/erp/{data.key}?q={quote(data.q)}")
    expect(tab_row(page, data.erp_id)).to_be_visible()


# ---- 1. Send -> Reject -> email -> Resend ------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_reject_mails_and_resend(session, sim, smtp, open_as, key):
    data = build(session, sim, key)
    reason = f"Fix the {key} please e2e {f.suffix()}"
    label = REGISTRY[key].label

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
    assert message["Subject"] == f"Test Builders: ERP {label} Rejection Notification"
    assert reason in message.get_body(("plain",)).get_content()
    erp = erp_of(session, key, data.item_id)
    assert erp.state == State.REJECTED and erp.reject_reason == reason

    creator_page = open_as(data.creator)
    goto(creator_page, data.page_path)
    item = creator_page.locator(f"#{data.row_id}")
    expect(item).to_contain_text(reason)
    expect(item).to_contain_text("Rejected")
    item.get_by_role("button", name="Resend to ERP").click()
    item = creator_page.locator(f"#{data.row_id}")
    expect(item).to_contain_text("Ready to Export")
    expect(item.get_by_role("button", name="Resend to ERP")).to_have_count(0)

    erp = erp_of(session, key, data.item_id)
    assert erp.state == State.READY and erp.sent_by_id == data.creator.id
    assert len(smtp.to(data.creator_email)) == 1  # resending mails nobody


# ---- 2. a Sage refusal: its text, cause and solution ------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_sage_refusal_shows_text_cause_and_solution(session, sim, open_as, key):
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
        expect(status.locator("p").filter(has_text=re.compile(r"^Cause: \S"))).to_be_visible()
        expect(status.locator("p").filter(has_text=re.compile(r"^Solution: \S"))).to_be_visible()
        expect(tab_row(page, data.erp_id).get_by_role("link", name="Retry")).to_be_visible()
    finally:
        data.cleanup()

    erp = erp_of(session, key, data.item_id)
    assert erp.state == State.FAILED and data.sage in (erp.sage_message or "")
