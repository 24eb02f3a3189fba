"""End-to-end journeys in Chromium for the financial item types: commitments (a purchase order
with units), commitment change orders (CCOs), budgets and budget changes, and one commitment
rejected, mailed, edited and resent.

Like tests/e2e/test_setup_journeys.py: every test makes its own data (random suffixes), signs
in through the real login form of the live portal (CSRF on), and lets the real RQ worker
export to the Sage simulator and send mail to the aiosmtpd inbox. The project admin creates
each item in its form (header fields and the line table) and sends it; the approver accepts
it on its tab and sees it Synced; then the simulator is read.
"""
from __future__ import annotations

import email
import email.policy
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.domain import items
from portal.domain.lifecycle import State
from portal.domain.models import (
    Budget,
    BudgetChange,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLine,
    OutboxMail,
    ToolLevel,
)
from tests import factories as f, items as it
from tests.e2e.helpers import (
    accept_on_tab,
    confirm_click,
    erp_of,
    fresh,
    header_select,
    line,
    navigate,
    open_project_tool,
    open_tab,
    project_admin_on_synced_project,
    search,
    send_row,
    tab_row,
    wait_for_mail,
)

pytestmark = pytest.mark.e2e

COMMITMENT_SUBJECT = "Test Builders: ERP Commitment Rejection Notification"


# ---- data ------------------------------------------------------------------------------

def exported_budget(session, sim, setup) -> int:
    """The project's budget as if exported: locked, its original estimates (SUB 50,000, MAT 10,000) in Sage."""
    return it.with_budget(session, sim, it.home_of(setup)).budget


def amounts(rows, *keys) -> list[tuple]:
    return [tuple(Decimal(str(r[k])) if k in ("Amount", "Units", "Unit_Cost") and r[k] is not None else r[k]
                  for k in keys) for r in rows]


# ---- page helpers --------------------------------------------------------------------

def details(row) -> list[list[str]]:
    """The Accept form's details table, as text, header first."""
    table = row.locator("table.details")
    expect(table).to_be_visible()
    return [[c.strip() for c in r.locator("th, td").all_inner_texts()] for r in table.locator("tr").all()]


# ---- 1. commitments: a purchase order with units ----------------------------------------------

def test_project_admin_creates_a_purchase_order_and_approver_exports_it_with_units(session, sim, open_as):
    setup, admin = project_admin_on_synced_project(session, sim)
    project_name, project_pk, vendor_pk = setup.project.name, setup.project.id, setup.vendor.id
    vendor_erp, job = setup.vendor.erp_vendor_id, setup.project.sage_job_id
    sub, mat = setup.sub.id, setup.mat.id
    s = f.suffix()
    number, title, sage_id = f"PO-{s}", f"Ready-mix {s}", f"P{f.suffix(8)}"

    page = open_as(admin)
    open_project_tool(page, project_name, "Commitments")
    expect(page.get_by_text(f"Sage Job ID: {job}")).to_be_visible()
    navigate(page, page.get_by_role("link", name="New commitment"))
    expect(page.get_by_role("heading", name="New commitment")).to_be_visible()
    page.get_by_label("Contract #", exact=True).fill(number)
    page.get_by_label("Title", exact=True).fill(title)
    header_select(page, "Type").select_option("purchase_order")
    header_select(page, "Contract Company").select_option(str(vendor_pk))
    header_select(page, "Status").select_option("Approved")
    page.get_by_label("Default Retainage %", exact=True).fill("5")
    line(page, "Description", 1).fill("Ready-mix concrete")
    line(page, "Cost Code / Category", 1).select_option(str(mat))
    line(page, "Amount", 1).fill("12,000")
    line(page, "Qty", 1).fill("100")
    line(page, "Unit Cost", 1).fill("120")
    line(page, "Units (UOM)", 1).fill("CY")
    line(page, "Description", 2).fill("Pump truck")
    line(page, "Cost Code / Category", 2).select_option(str(sub))
    line(page, "Amount", 2).fill("800")
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Commitment saved.")).to_be_visible()
    fresh(session)
    commitment = session.scalars(select(Commitment).where(Commitment.number == number)).one()
    commitment_pk = commitment.id
    assert (getattr(commitment, it.COMMITMENT_TYPE), commitment.created_by_id, commitment.project_id) == (
        "purchase_order", admin.id, project_pk)
    row = page.locator(f"#commitment-{commitment_pk}")
    expect(row).to_contain_text(title)
    expect(row).to_contain_text("Purchase Order")
    expect(row).to_contain_text("$12,800.00")
    expect(row.locator(".status .badge")).to_have_text("Not sent")
    row.get_by_role("button", name="Send to ERP").click()
    expect(row.locator(".status .badge")).to_have_text("Ready to Export")
    expect(row.get_by_role("button", name="Retrieve")).to_be_visible()
    erp = erp_of(session, "commitment", commitment_pk)
    assert erp.state == State.READY and erp.sent_by_id == admin.id
    erp_id = erp.id

    approver_page = open_as(f.approver(session))
    open_tab(approver_page, "Commitments", "commitment")
    search(approver_page, number)
    item = tab_row(approver_page, erp_id)
    expect(item).to_contain_text(title)
    expect(item).to_contain_text("$12,800.00")
    expect(item.locator(".status")).to_have_text("Ready to Export")
    item.get_by_role("link", name="Accept").click()
    form = approver_page.get_by_role("form", name=f"Accept commitment {number}")
    sage = form.get_by_label("Sage 300 CRE ID")
    expect(sage).to_have_value("")  # the "contract number as Sage ID" setting is off
    sage.fill(sage_id)
    form.get_by_role("button", name="Export to ERP").click()
    status = tab_row(approver_page, erp_id).locator(".status")
    expect(status).to_contain_text("Synced")
    expect(status).to_contain_text(f"ERP ID {sage_id}")

    head = sim.get_commitment(sage_id)
    assert head is not None and head["Commitment_Type"] == "Purchase Order"
    assert (head["Vendor"], head["Job"], head["Description"]) == (vendor_erp, job, title)
    assert Decimal(str(head["Amount"])) == Decimal("12800")
    assert amounts(sim.list_commitment_items(sage_id), "Item", "Description", "Category", "Amount", "Units",
                   "Unit_Cost", "Unit_Description") == [
        ("1", "Ready-mix concrete", "MAT", Decimal("12000"), Decimal("100"), Decimal("120"), "CY"),
        ("2", "Pump truck", "SUB", Decimal("800"), None, None, "")]
    fresh(session)
    assert session.get(Commitment, commitment_pk).erp_commitment_id == sage_id

    # The project admin sees it synced, with its Sage ID.
    page.reload()
    row = page.locator(f"#commitment-{commitment_pk}")
    expect(row.locator(".status .badge")).to_have_text("Synced")
    expect(row).to_contain_text(f"ERP ID {sage_id}")
    expect(row.get_by_role("button", name="Send to ERP")).to_have_count(0)
    expect(row.get_by_role("link", name="Edit")).to_have_count(0)


# ---- 2. commitment change orders ---------------------------------------------------------------

def test_project_admin_creates_a_cco_on_a_synced_commitment_and_approver_exports_it(session, sim, open_as):
    setup, admin = project_admin_on_synced_project(session, sim)
    project_name, commitment_pk = setup.project.name, setup.commitment.id
    commitment_erp, line1, mat = setup.commitment.erp_commitment_id, setup.line1.id, setup.mat.id
    s = f.suffix()
    number, title = f"CO-{s}", f"Added scope {s}"
    unsynced = Commitment(project_id=setup.project.id, vendor_id=setup.vendor.id, number=f"SC-{f.suffix()}",
                          title="Not in Sage", status="Approved")
    session.add(unsynced)
    session.commit()
    unsynced_pk = unsynced.id

    page = open_as(admin)
    open_project_tool(page, project_name, "Commitment Change Orders")
    navigate(page, page.get_by_role("link", name="New commitment change order"))
    expect(page.get_by_role("heading", name="New commitment change order")).to_be_visible()
    commitment = header_select(page, "Commitment (synced commitments only)")
    expect(commitment.locator(f'option[value="{unsynced_pk}"]')).to_have_count(0)  # only synced ones
    commitment.select_option(str(commitment_pk))
    page.get_by_label("CCO #", exact=True).fill(number)
    page.get_by_label("Title", exact=True).fill(title)
    header_select(page, "Status").select_option("Approved")
    # two changes to line 1 (summed in Sage), and a new line
    line(page, "Existing commitment line", 1).select_option(str(line1))
    line(page, "Amount", 1).fill("1000")
    line(page, "Existing commitment line", 2).select_option(str(line1))
    line(page, "Amount", 2).fill("500")
    line(page, "or New line: description", 3).fill("Sealant")
    line(page, "New line: cost code / category", 3).select_option(str(mat))
    line(page, "Amount", 3).fill("750")
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Commitment Change Order saved.")).to_be_visible()
    fresh(session)
    cco_pk = session.scalars(select(CommitmentChangeOrder.id).where(CommitmentChangeOrder.number == number)).one()
    row = page.locator(f"#cco-{cco_pk}")
    expect(row).to_contain_text("$2,250.00")
    erp_id = send_row(page, session, "cco", cco_pk)

    approver_page = accept_on_tab(open_as, session, "Commitment Change Orders", "cco", number, erp_id)
    form = approver_page.get_by_role("form", name=f"Accept CCO {number}")
    expect(form.get_by_label("CCO ID")).to_have_value(number[:10])
    description = form.get_by_label("Description")
    expect(description).to_have_value(title[:30])  # the title by default
    description.fill("Owner added sealant")
    form.get_by_role("button", name="Export to ERP").click()
    status = tab_row(approver_page, erp_id).locator(".status")
    expect(status).to_contain_text("Synced")
    expect(status).to_contain_text(f"ERP ID {number[:10]}")

    cco = sim.get_cco(commitment_erp, number[:10])
    assert cco is not None and (cco["Description"], cco["Status"]) == ("Owner added sealant", "Approved")
    assert amounts(sim.list_cco_items(commitment_erp, number[:10]), "Item", "Amount") == [
        ("1", Decimal("1500")), ("3", Decimal("750"))]
    assert amounts(sim.list_commitment_items(commitment_erp), "Item", "Description", "Category") == [
        ("1", "Footings", "SUB"), ("2", "Rebar", "MAT"), ("3", "Sealant", "MAT")]
    assert Decimal(str(sim.get_commitment(commitment_erp)["Amount"])) == Decimal("102250")
    fresh(session)
    assert [(ln.line_no, ln.description) for ln in session.scalars(
        select(CommitmentLine).where(CommitmentLine.commitment_id == commitment_pk)
        .order_by(CommitmentLine.line_no))] == [(1, "Footings"), (2, "Rebar"), (3, "Sealant")]

    page.reload()
    expect(page.locator(f"#cco-{cco_pk} .status .badge")).to_have_text("Synced")


# ---- 3. budgets --------------------------------------------------------------------------------

def test_project_admin_creates_a_budget_and_approver_exports_it_with_the_cost_forecast(session, sim, open_as):
    setup, admin = project_admin_on_synced_project(session, sim)
    project_name, project_number, project_pk = setup.project.name, setup.project.number, setup.project.id
    job, sub, mat = setup.project.sage_job_id, setup.sub.id, setup.mat.id

    page = open_as(admin)
    open_project_tool(page, project_name, "Budgets")
    navigate(page, page.get_by_role("link", name="New budget"))
    expect(page.get_by_role("heading", name="New budget")).to_be_visible()
    line(page, "Cost Code / Category", 1).select_option(str(sub))
    line(page, "Original Budget", 1).fill("50,000")
    line(page, "Estimated Cost at Completion", 1).fill("52000")
    line(page, "Forecast to Complete", 1).fill("30000")
    line(page, "Cost Code / Category", 2).select_option(str(mat))
    line(page, "Original Budget", 2).fill("10000")
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Budget saved.")).to_be_visible()
    fresh(session)
    budget_pk = session.scalars(select(Budget.id).where(Budget.project_id == project_pk)).one()
    row = page.locator(f"#budget-{budget_pk}")
    expect(row).to_contain_text("$60,000.00")
    expect(page.get_by_role("link", name="New budget")).to_be_visible()
    erp_id = send_row(page, session, "budget", budget_pk)

    approver_page = open_as(f.approver(session))
    open_tab(approver_page, "Budgets", "budget")
    search(approver_page, project_number)
    item = tab_row(approver_page, erp_id)
    item.get_by_role("link", name="Accept").click()
    assert details(item) == [["Cost Code", "Category", "Original", "Changes", "Revised"],
                             ["03-300", "SUB", "$50,000.00", "$0.00", "$50,000.00"],
                             ["03-300", "MAT", "$10,000.00", "$0.00", "$10,000.00"]]
    form = approver_page.get_by_role("form", name=f"Accept budget {project_number}")
    forecast = form.get_by_role("checkbox", name=re.compile(r"^Export cost forecast\?"))
    expect(forecast).not_to_be_checked()  # the company's "export forecast amounts" setting is off
    forecast.check()
    form.get_by_role("button", name="Export to ERP").click()
    status = tab_row(approver_page, erp_id).locator(".status")
    expect(status).to_contain_text("Synced")

    assert sorted(amounts(sim.list_transactions(job), "Transaction_Type", "Category", "Amount")) == sorted([
        ("Original estimate", "SUB", Decimal("50000")), ("Original estimate", "MAT", Decimal("10000")),
        ("Misc worksheet 1", "SUB", Decimal("52000")), ("Misc worksheet 2", "SUB", Decimal("30000"))])
    fresh(session)
    assert session.get(Budget, budget_pk).locked

    # Exported, the budget is locked: no send, no edit.
    page.reload()
    row = page.locator(f"#budget-{budget_pk}")
    expect(row.locator(".status .badge")).to_have_text("Synced")
    expect(row.locator("td").nth(4)).to_have_text("Yes")  # the Locked column
    expect(row.get_by_role("button", name="Send to ERP")).to_have_count(0)
    expect(row.get_by_role("link", name="Edit")).to_have_count(0)


# ---- 4. budget changes -------------------------------------------------------------------------

def test_project_admin_creates_a_budget_change_and_approver_exports_it_as_approved_estimate_changes(
        session, sim, open_as):
    setup, admin = project_admin_on_synced_project(session, sim)
    budget_pk = exported_budget(session, sim, setup)
    project_name, project_pk = setup.project.name, setup.project.id
    job, sub, mat = setup.project.sage_job_id, setup.sub.id, setup.mat.id
    number, description = f"BC-{f.suffix()}", f"Move to material {f.suffix()}"

    page = open_as(admin)
    open_project_tool(page, project_name, "Budget Changes")
    navigate(page, page.get_by_role("link", name="New budget change"))
    expect(page.get_by_role("heading", name="New budget change")).to_be_visible()
    page.get_by_label("Budget Change #", exact=True).fill(number)
    page.get_by_label("Description", exact=True).fill(description)
    line(page, "From / To Cost Code and Category", 1).select_option(str(sub))
    line(page, "Amount (negative: from)", 1).fill("-2,000")
    line(page, "From / To Cost Code and Category", 2).select_option(str(mat))
    line(page, "Amount (negative: from)", 2).fill("2500")
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Budget Change saved.")).to_be_visible()
    fresh(session)
    change_pk = session.scalars(select(BudgetChange.id).where(BudgetChange.project_id == project_pk,
                                                              BudgetChange.number == number)).one()
    row = page.locator(f"#budget_change-{change_pk}")
    expect(row).to_contain_text(description)
    expect(row).to_contain_text("$500.00")
    expect(row.get_by_role("link", name="Edit")).to_have_count(0)  # never edited once created
    erp_id = send_row(page, session, "budget_change", change_pk)

    approver_page = open_as(f.approver(session))
    open_tab(approver_page, "Budget Changes", "budget_change")
    search(approver_page, number)
    item = tab_row(approver_page, erp_id)
    item.get_by_role("link", name="Accept").click()
    assert details(item) == [["Cost Code", "Category", "Amount"], ["03-300", "SUB", "-$2,000.00"],
                             ["03-300", "MAT", "$2,500.00"]]
    approver_page.get_by_role("form", name=f"Accept budget change {number}").get_by_role(
        "button", name="Export to ERP").click()
    expect(tab_row(approver_page, erp_id).locator(".status")).to_contain_text("Synced")

    changes = sim.list_transactions(job, "Approved est chng")
    assert sorted((c["Category"], Decimal(str(c["Amount"])), c["Ref_1"]) for c in changes) == [
        ("MAT", Decimal("2500"), number), ("SUB", Decimal("-2000"), number)]
    assert erp_of(session, "budget_change", change_pk).state == State.SYNCED

    # The budget shows the approved change.
    navigate(page, page.get_by_role("navigation", name="Project tools").get_by_role(
        "link", name="Budgets", exact=True))
    budget = page.locator(f"#budget-{budget_pk}")
    expect(budget).to_contain_text("$60,000.00")
    expect(budget).to_contain_text("$500.00")
    expect(budget).to_contain_text("$60,500.00")


# ---- 5. a commitment rejected, mailed, edited and resent -----------------------------------------

def test_rejected_commitment_mails_creator_and_sender_who_fix_and_resend_it(session, sim, smtp, open_as):
    setup, creator = project_admin_on_synced_project(session, sim)
    sender = f.make_user(session)
    f.member(session, sender, setup.project, ToolLevel.ADMIN)
    project_name, project_pk = setup.project.name, setup.project.id
    number = f"SC-{f.suffix()}"
    commitment = items.save_item(session, creator, "commitment", project_pk, None, {
        "number": number, "title": "Waterproofing", it.COMMITMENT_TYPE: "subcontract",
        "vendor_id": str(setup.vendor.id),
        "status": "Approved", "retainage_pct": "10",
        "line-0-description": "Membrane", "line-0-category_id": str(setup.sub.id), "line-0-amount": "24000"})
    commitment_pk = commitment.id
    creator_email, sender_email = creator.email.lower(), sender.email.lower()

    # The second project admin sends it.
    sender_page = open_as(sender)
    open_project_tool(sender_page, project_name, "Commitments")
    row = sender_page.locator(f"#commitment-{commitment_pk}")
    erp_id = send_row(sender_page, session, "commitment", commitment_pk)

    page = open_as(f.approver(session))
    open_tab(page, "Commitments", "commitment")
    search(page, number)
    tab_row(page, erp_id).get_by_role("link", name="Reject").click()
    form = page.get_by_role("form", name=f"Reject commitment {number}")
    form.get_by_label("Reason for rejection").fill("Retainage is 5% on this job e2e")
    form.get_by_role("button", name="Reject").click()
    expect(tab_row(page, erp_id).locator(".status")).to_have_text(
        "Rejected: returned to the project team and emailed.")

    got = wait_for_mail(smtp, creator_email)
    assert len(got) == 1, f"expected one mail to the creator, got {len(got)}"
    assert sorted(a.lower() for a in got[0].rcpt_tos) == sorted([creator_email, sender_email])
    message = email.message_from_bytes(got[0].content, policy=email.policy.default)
    assert f.subject(message) == f"{COMMITMENT_SUBJECT} — {number}, {project_name}"
    body = message.get_body(("plain",)).get_content()
    assert "Retainage is 5% on this job e2e" in body and number in body
    assert f"http://portal.test/projects/{project_pk}/items/commitment" in body
    fresh(session)
    assert session.query(OutboxMail).filter_by(erp_item_id=erp_id).count() == 1

    # The creator sees the reason, fixes the commitment and resends it.
    admin_page = open_as(creator)
    open_project_tool(admin_page, project_name, "Commitments")
    row = admin_page.locator(f"#commitment-{commitment_pk}")
    expect(row.locator(".status .badge")).to_have_text("Rejected")
    expect(row.locator(".reason")).to_have_text("Rejected: Retainage is 5% on this job e2e")
    expect(row.get_by_role("button", name="Resend to ERP")).to_be_visible()
    navigate(admin_page, row.get_by_role("link", name="Edit"))
    expect(admin_page.get_by_role("heading", name="Edit commitment")).to_be_visible()
    expect(admin_page.get_by_text("Rejected by accounting: Retainage is 5% on this job e2e")).to_be_visible()
    expect(line(admin_page, "Description", 1)).to_have_value("Membrane")
    retainage = admin_page.get_by_label("Default Retainage %", exact=True)
    expect(retainage).to_have_value("10.00")
    retainage.fill("5")
    navigate(admin_page, admin_page.get_by_role("button", name="Save"))

    expect(admin_page.get_by_text("Commitment saved.")).to_be_visible()
    row = admin_page.locator(f"#commitment-{commitment_pk}")
    confirm_click(admin_page, row.get_by_role("button", name="Resend to ERP"))
    expect(row.locator(".status .badge")).to_have_text("Ready to Export")
    expect(row.get_by_role("button", name="Resend to ERP")).to_have_count(0)

    erp = erp_of(session, "commitment", commitment_pk)
    assert erp.state == State.READY and erp.sent_by_id == creator.id
    assert session.get(Commitment, commitment_pk).retainage_pct == Decimal("5")
    page.reload()
    expect(tab_row(page, erp_id).locator(".status .badge.ready")).to_have_text("Ready to Export")
    expect(tab_row(page, erp_id).locator(".status .badge.resent")).to_have_text("Resent")  # with what changed
