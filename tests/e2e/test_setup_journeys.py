"""End-to-end journeys in Chromium for the setup item types: vendors (companies), jobs
(projects), sub jobs (extras), project cost codes, and the ERP Integrations settings.

Like tests/e2e/test_journeys.py: every test makes its own data (random suffixes), signs in
through the real login form of the live portal (CSRF on), and lets the real RQ worker
export to the Sage simulator and send mail to the aiosmtpd inbox.
"""
from __future__ import annotations

import email
import email.policy
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal.domain import services, settings as settings_service
from portal.domain.lifecycle import State
from portal.domain.models import (
    Category,
    CostCode,
    OutboxMail,
    Project,
    StandardCategory,
    StandardCostCode,
    SubJob,
    ToolLevel,
    Vendor,
)
from portal.domain.types import direct_export_keys
from tests import factories as f, items as it
from tests.e2e.helpers import (
    accept_on_tab,
    confirm_click,
    erp_of,
    fresh,
    main_nav,
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

JOB_SUBJECT = "Test Builders: ERP Job Rejection Notification"


# ---- data ------------------------------------------------------------------------------

free_job_id = it.fresh_job_id


def unsynced_project(session, admin, *, created_by=None, with_codes: bool = True) -> Project:
    """A project not in Sage yet, `admin` Admin on it, with a cost code (categories LAB and MAT)."""
    pid = it.unsynced_project(session, created_by or admin, members={admin.id: ToolLevel.ADMIN},
                              codes=1 if with_codes else 0)
    return session.get(Project, pid)


def new_category_code(session) -> str:
    """A StandardCategory code (3 characters, Sage's limit) not used yet."""
    while True:
        code = "Q" + f.suffix(2)
        if not session.scalar(select(func.count()).select_from(StandardCategory)
                              .where(StandardCategory.code == code)):
            return code


# ---- 1. vendors (companies) ----------------------------------------------------------

def test_directory_admin_creates_and_sends_a_company_and_approver_exports_it_as_a_vendor(
        session, sim, open_as):
    s = f.suffix()
    name, vendor_id = f"E2E Co {s}", f"V{s}"
    site_admin = f.make_user(session, site_admin=True)
    approver = f.approver(session)

    page = open_as(site_admin)
    navigate(page, main_nav(page, "Directory"))
    expect(page.get_by_role("heading", name="Company Directory")).to_be_visible()
    navigate(page, page.get_by_role("link", name="New company"))
    expect(page.get_by_role("heading", name="New company")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Address", exact=True).fill("12 Steel Way")
    page.get_by_label("City", exact=True).fill("Peoria")
    page.get_by_label("State", exact=True).fill("IL")
    page.get_by_label("ZIP", exact=True).fill("61602")
    page.get_by_label("Business Phone", exact=True).fill("309-555-0100")
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Company saved.")).to_be_visible()
    fresh(session)
    vendor = session.scalars(select(Vendor).where(Vendor.name == name)).one()
    vendor_pk = vendor.id
    assert vendor.created_by_id == site_admin.id and vendor.erp_vendor_id is None
    company = page.locator(f"#vendor-{vendor_pk}")
    expect(company).to_contain_text("Peoria")
    expect(company.locator(".status .badge")).to_have_text("Not sent")
    company.get_by_role("button", name="Send to ERP").click()
    expect(company.locator(".status .badge")).to_have_text("Ready to Export")
    expect(company.get_by_role("button", name="Send to ERP")).to_have_count(0)
    expect(company.get_by_role("button", name="Retrieve")).to_be_visible()
    erp = erp_of(session, "vendor", vendor_pk)
    assert erp.state == State.READY and erp.sent_by_id == site_admin.id
    erp_id = erp.id

    approver_page = open_as(approver)
    open_tab(approver_page, "Vendors", "vendor")
    search(approver_page, name)
    item = tab_row(approver_page, erp_id)
    expect(item.locator(".status")).to_have_text("Ready to Export")
    item.get_by_role("link", name="Accept").click()
    form = approver_page.get_by_role("form", name=f"Accept company {name}")
    expect(form.get_by_label("ERP Vendor ID")).to_have_value("")
    expect(form.get_by_label("Vendor Type")).to_have_value("Subcontractor")
    form.get_by_label("ERP Vendor ID").fill(vendor_id)
    form.get_by_label("Vendor Type").select_option("Supplier")
    form.get_by_role("button", name="Export to ERP").click()

    status = tab_row(approver_page, erp_id).locator(".status")
    expect(status).to_contain_text("Synced")
    expect(status).to_contain_text(f"ERP ID {vendor_id}")
    expect(approver_page.get_by_role("form", name=f"Accept company {name}")).to_have_count(0)

    sage = sim.get_vendor(vendor_id)
    assert sage is not None and sage["Name"] == name and sage["City"] == "Peoria"
    assert sage["Telephone"] == "309-555-0100" and sage["Status"] == "Active"
    fresh(session)
    vendor = session.get(Vendor, vendor_pk)
    assert vendor.erp_vendor_id == vendor_id and vendor.vendor_type == "Supplier"

    # The directory admin sees the Sage vendor ID written back.
    navigate(page, main_nav(page, "Directory"))
    company = page.locator(f"#vendor-{vendor_pk}")
    expect(company.locator("td").nth(6)).to_have_text(vendor_id)  # the ERP Vendor ID column
    expect(company.locator(".status .badge")).to_have_text("Synced")
    expect(company.locator(".status")).to_contain_text(f"ERP ID {vendor_id}")
    expect(company.get_by_role("button", name="Send to ERP")).to_have_count(0)


def test_vendor_id_that_exists_only_in_sage_fails_to_export_with_sages_message(session, sim, open_as, precheck_off):
    """What Sage says on Export (the pre-check would disable Export once the taken ID is typed)."""
    s = f.suffix()
    name, taken_id = f"E2E Dup {s}", f"D{s}"
    sim.add_vendor(taken_id, f"Sage Only {s}")
    site_admin = f.make_user(session, site_admin=True)
    vendor = Vendor(name=name, city="Joliet", state="IL", created_by_id=site_admin.id)
    session.add(vendor)
    session.commit()
    vendor_pk = vendor.id
    erp_id = services.send(session, site_admin, "vendor", vendor_pk).id

    page = open_as(f.approver(session))
    open_tab(page, "Vendors", "vendor")
    search(page, name)
    tab_row(page, erp_id).get_by_role("link", name="Accept").click()
    form = page.get_by_role("form", name=f"Accept company {name}")
    form.get_by_label("ERP Vendor ID").fill(taken_id)
    form.get_by_role("button", name="Export to ERP").click()

    status = tab_row(page, erp_id).locator(".status")
    expect(status.locator(".badge")).to_have_text("Failed to Export")
    expect(status.locator(".sage-message")).to_have_text(
        "Sage: A vendor already exists with the specified id.")
    expect(tab_row(page, erp_id).get_by_role("link", name="Retry")).to_be_visible()

    erp = erp_of(session, "vendor", vendor_pk)
    assert erp.state == State.FAILED
    assert session.get(Vendor, vendor_pk).erp_vendor_id is None  # nothing written back
    assert sim.get_vendor(taken_id)["Name"] == f"Sage Only {s}"  # Sage's vendor untouched


# ---- 2. jobs (projects) ----------------------------------------------------------------

def test_project_admin_sends_a_project_and_approver_creates_the_sage_job_with_its_cost_codes(
        session, sim, open_as):
    admin = f.make_user(session)
    project = unsynced_project(session, admin)
    project_pk, number, name = project.id, project.number, project.name
    job_id = free_job_id(session, sim)

    page = open_as(admin)
    navigate(page, main_nav(page, "Projects"))
    navigate(page, page.get_by_role("link", name="Send projects to Sage as jobs"))
    expect(page).to_have_url(re.compile(r"/company/job$"))
    job = page.locator(f"#job-{project_pk}")
    expect(job).to_contain_text(name)
    expect(job.locator(".status .badge")).to_have_text("Not sent")
    job.get_by_role("button", name="Send to ERP").click()
    expect(job.locator(".status .badge")).to_have_text("Ready to Export")
    expect(job.get_by_role("button", name="Retrieve")).to_be_visible()
    erp = erp_of(session, "job", project_pk)
    assert erp.state == State.READY and erp.sent_by_id == admin.id
    erp_id = erp.id

    approver_page = accept_on_tab(open_as, session, "Jobs", "job", number, erp_id)
    form = approver_page.get_by_role("form", name=f"Accept project {number}")
    sage_job = form.get_by_label("Sage Job ID")
    expect(sage_job).to_have_value("")

    # Not the company's job-number mask (##-###): a field error, nothing exported.
    sage_job.fill("7X-12")
    form.get_by_role("button", name="Export to ERP").click()
    form = approver_page.get_by_role("form", name=f"Accept project {number}")
    expect(form.locator(".field-error")).to_have_text(
        "Sage Job ID must match the job-number mask ##-### (# a digit, A a letter).")
    expect(form.get_by_label("Sage Job ID")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Sage Job ID")).to_have_value("7X-12")
    expect(tab_row(approver_page, erp_id).locator(".status")).to_have_text("Ready to Export")
    assert erp_of(session, "job", project_pk).state == State.READY
    assert sim.get_job("7X-12") is None

    form.get_by_label("Sage Job ID").fill(job_id)
    form.get_by_role("button", name="Export to ERP").click()
    status = tab_row(approver_page, erp_id).locator(".status")
    expect(status).to_contain_text("Synced")
    expect(status).to_contain_text(f"ERP ID {job_id}")

    sage = sim.get_job(job_id)
    assert sage is not None and sage["Description"] == name and sage["City"] == "Springfield"
    assert sage["Status"] == "Open"
    assert [(c["Cost_Code"], c["Description"]) for c in sim.list_cost_codes(job_id)] == [
        ("01-100", "General Conditions")]
    assert [(c["Cost_Code"], c["Category"]) for c in sim.list_categories(job_id)] == [
        ("01-100", "LAB"), ("01-100", "MAT")]
    fresh(session)
    assert session.get(Project, project_pk).sage_job_id == job_id

    # The project admin sees the project synced with its Sage job.
    navigate(page, main_nav(page, "Projects"))
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text(job_id)
    navigate(page, page.get_by_role("link", name="Send projects to Sage as jobs"))
    job = page.locator(f"#job-{project_pk}")
    expect(job.locator(".status .badge")).to_have_text("Synced")
    expect(job.get_by_role("button", name="Send to ERP")).to_have_count(0)


def test_rejected_project_mails_its_admin_who_edits_and_resends_it(session, sim, smtp, open_as):
    admin = f.make_user(session)
    project = unsynced_project(session, admin, created_by=admin)
    project_pk, number = project.id, project.number
    admin_email = admin.email.lower()
    erp_id = services.send(session, admin, "job", project_pk).id

    page = open_as(f.approver(session))
    open_tab(page, "Jobs", "job")
    search(page, number)
    tab_row(page, erp_id).get_by_role("link", name="Reject").click()
    form = page.get_by_role("form", name=f"Reject project {number}")
    form.get_by_label("Reason for rejection").fill("Use the street address e2e")
    form.get_by_role("button", name="Reject").click()
    expect(tab_row(page, erp_id).locator(".status")).to_have_text(
        "Rejected: returned to the project team and emailed.")

    got = wait_for_mail(smtp, admin_email)
    assert len(got) == 1, f"expected one mail to the project admin, got {len(got)}"
    assert [a.lower() for a in got[0].rcpt_tos] == [admin_email]
    message = email.message_from_bytes(got[0].content, policy=email.policy.default)
    assert f.subject(message) == f"{JOB_SUBJECT} — {number}, {project.name}"
    text = message.get_body(("plain",)).get_content()
    assert "Use the street address e2e" in text and f"Project {number}" in text
    assert "http://portal.test/company/job" in text
    fresh(session)
    assert session.query(OutboxMail).filter_by(erp_item_id=erp_id).count() == 1

    admin_page = open_as(admin)
    navigate(admin_page, main_nav(admin_page, "Projects"))
    navigate(admin_page, admin_page.get_by_role("link", name="Send projects to Sage as jobs"))
    job = admin_page.locator(f"#job-{project_pk}")
    expect(job.locator(".status .badge")).to_have_text("Rejected")
    expect(job.locator(".reason")).to_have_text("Rejected: Use the street address e2e")
    expect(job.get_by_role("button", name="Resend to ERP")).to_be_visible()

    navigate(admin_page, job.get_by_role("link", name="Edit"))
    expect(admin_page.get_by_role("heading", name="Edit job")).to_be_visible()
    expect(admin_page.get_by_text("Rejected by accounting: Use the street address e2e")).to_be_visible()
    address = admin_page.get_by_label("Address", exact=True)
    expect(address).to_have_value("400 Civic Plaza")
    address.fill("100 Main Street")
    navigate(admin_page, admin_page.get_by_role("button", name="Save"))

    expect(admin_page.get_by_text("Job saved.")).to_be_visible()
    job = admin_page.locator(f"#job-{project_pk}")
    expect(job).to_contain_text("100 Main Street")
    confirm_click(admin_page, job.get_by_role("button", name="Resend to ERP"))
    expect(job.locator(".status .badge")).to_have_text("Ready to Export")
    expect(job.get_by_role("button", name="Resend to ERP")).to_have_count(0)

    erp = erp_of(session, "job", project_pk)
    assert erp.state == State.READY and erp.sent_by_id == admin.id
    assert session.get(Project, project_pk).address == "100 Main Street"
    page.reload()
    item = tab_row(page, erp_id)
    expect(item.locator(".status .badge.ready")).to_have_text("Ready to Export")
    expect(item.locator(".status .badge.resent")).to_have_text("Resent")  # with what changed
    expect(item).to_contain_text("100 Main Street")


# ---- 3. sub jobs (extras) ------------------------------------------------------------

def test_project_admin_adds_and_sends_a_sub_job_and_approver_exports_it_as_an_extra(
        session, sim, open_as):
    setup, admin = project_admin_on_synced_project(session, sim)
    job_id = setup.project.sage_job_id
    code, description = f"SJ{f.suffix(6)}", f"East wing {f.suffix()}"

    page = open_as(admin)
    open_project_tool(page, setup.project.name, "Sub Jobs")
    expect(page.get_by_text(f"Sage Job ID: {job_id}")).to_be_visible()
    navigate(page, page.get_by_role("link", name="New sub job"))
    expect(page.get_by_role("heading", name="New sub job")).to_be_visible()
    page.get_by_label("Sub Job Code").fill(code)
    page.get_by_label("Description").fill(description)
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Sub Job saved.")).to_be_visible()
    fresh(session)
    sub_job = session.scalars(select(SubJob).where(SubJob.project_id == setup.project.id,
                                                   SubJob.code == code)).one()
    sub_job_pk = sub_job.id
    row = page.locator(f"#sub_job-{sub_job_pk}")
    expect(row).to_contain_text(description)
    expect(row.locator(".status .badge")).to_have_text("Not sent")
    erp_id = send_row(page, session, "sub_job", sub_job_pk)

    approver_page = accept_on_tab(open_as, session, "Sub Jobs", "sub_job", code, erp_id)
    form = approver_page.get_by_role("form", name=f"Accept sub job {description}")
    expect(form.get_by_label("Extra ID")).to_have_value(code)  # prefilled from the code
    form.get_by_role("button", name="Export to ERP").click()
    status = tab_row(approver_page, erp_id).locator(".status")
    expect(status).to_contain_text("Synced")
    expect(status).to_contain_text(f"ERP ID {code}")

    extra = sim.get_extra(job_id, code)
    assert extra is not None and extra["Description"] == description and extra["Status"] == "Open"
    fresh(session)
    assert session.get(SubJob, sub_job_pk).sage_extra_id == code
    navigate(page, page.get_by_role("navigation", name="Project tools").get_by_role(
        "link", name="Sub Jobs", exact=True))
    row = page.locator(f"#sub_job-{sub_job_pk}")
    expect(row.locator(".status .badge")).to_have_text("Synced")
    expect(row).to_contain_text(f"ERP ID {code}")


def test_sub_job_of_an_unsynced_project_cannot_be_sent_and_says_why(session, sim, open_as):
    admin = f.make_user(session)
    project = unsynced_project(session, admin, with_codes=False)
    sub_job = SubJob(project_id=project.id, code=f"SJ{f.suffix(6)}", name="West wing",
                     created_by_id=admin.id)
    session.add(sub_job)
    session.commit()
    sub_job_pk = sub_job.id

    page = open_as(admin)
    open_project_tool(page, project.name, "Sub Jobs")
    expect(page.get_by_text("Sage Job ID: not synced")).to_be_visible()
    row = page.locator(f"#sub_job-{sub_job_pk}")
    expect(row.locator(".status .badge")).to_have_text("Not sent")
    send = row.get_by_role("button", name="Send to ERP")
    expect(send).to_be_disabled()
    expect(row.locator(f"#why-sub_job-{sub_job_pk} li")).to_have_text([
        "Sub jobs are exported only under a synced job: export the project first."])
    expect(send).to_have_accessible_description(re.compile("exported only under a synced job"))
    assert erp_of(session, "sub_job", sub_job_pk) is None


# ---- 4. project cost codes ------------------------------------------------------------

def test_project_admin_adds_a_standard_cost_code_with_two_categories_and_it_reaches_sage(
        session, sim, open_as):
    s = f.suffix()
    code, description = f"CC-{s}", f"Drywall {s}"
    cat1 = new_category_code(session)
    session.add(StandardCategory(code=cat1, description=f"Cat one {s}"))
    session.flush()
    cat2 = new_category_code(session)
    session.add_all([StandardCategory(code=cat2, description=f"Cat two {s}"),
                     StandardCostCode(code=code, description=description, active=True)])
    session.commit()
    setup, admin = project_admin_on_synced_project(session, sim)
    job_id, project_pk = setup.project.sage_job_id, setup.project.id

    page = open_as(admin)
    open_project_tool(page, setup.project.name, "Cost Codes")
    navigate(page, page.get_by_role("link", name="New cost code"))
    expect(page.get_by_role("heading", name="New cost code")).to_be_visible()
    page.get_by_label("Cost Code (from the standard list)").select_option(code)
    page.get_by_label(f"{cat1} Cat one {s}").check()
    page.get_by_label(f"{cat2} Cat two {s}").check()
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Cost Code saved.")).to_be_visible()
    fresh(session)
    cost_code = session.scalars(select(CostCode).where(CostCode.project_id == project_pk,
                                                       CostCode.code == code)).one()
    cost_code_pk = cost_code.id
    assert cost_code.description == description
    assert sorted(session.scalars(select(Category.code).where(Category.cost_code_id == cost_code_pk))) \
        == sorted([cat1, cat2])
    row = page.locator(f"#cost_code-{cost_code_pk}")
    expect(row).to_contain_text(description)
    expect(row).to_contain_text(", ".join(sorted([cat1, cat2])))
    erp_id = send_row(page, session, "cost_code", cost_code_pk)

    approver_page = open_as(f.approver(session))
    open_tab(approver_page, "Cost Codes", "cost_code")
    search(approver_page, code)
    item = tab_row(approver_page, erp_id)
    expect(item).to_contain_text(description)
    item.get_by_role("link", name="Accept").click()
    # Named by the row's database id today (see test_cost_code_rows_are_named_by_their_code).
    form = item.get_by_role("form", name=re.compile(r"^Accept cost code "))
    form.get_by_role("button", name="Export to ERP").click()
    expect(tab_row(approver_page, erp_id).locator(".status")).to_contain_text("Synced")

    assert (code, description) in [(c["Cost_Code"], c["Description"])
                                   for c in sim.list_cost_codes(job_id)]
    assert sorted(c["Category"] for c in sim.list_categories(job_id) if c["Cost_Code"] == code) \
        == sorted([cat1, cat2])
    assert erp_of(session, "cost_code", cost_code_pk).state == State.SYNCED
    page.reload()
    expect(page.locator(f"#cost_code-{cost_code_pk} .status .badge")).to_have_text("Synced")


def test_cost_code_rows_are_named_by_their_code(session, sim, open_as):
    setup, admin = project_admin_on_synced_project(session, sim)
    cost_code_pk = setup.cost_code.id  # 03-300 with categories SUB and MAT
    erp_id = services.send(session, admin, "cost_code", cost_code_pk).id

    page = open_as(f.approver(session))
    open_tab(page, "Cost Codes", "cost_code")
    search(page, setup.project.number)
    item = tab_row(page, erp_id)
    expect(item.get_by_role("checkbox", name="Tick cost code 03-300")).to_have_count(1, timeout=2000)
    item.get_by_role("link", name="Accept").click()
    expect(page.get_by_role("form", name="Accept cost code 03-300")).to_be_visible(timeout=2000)


# ---- 5. settings -----------------------------------------------------------------------

def test_erp_admin_changes_the_job_mask_and_direct_export_and_sees_the_history(session, sim, open_as):
    erp_admin = f.make_user(session, erp_level=ToolLevel.ADMIN)
    standard = f.make_user(session, erp_level=ToolLevel.STANDARD)
    fresh(session)
    before = settings_service.load(session)
    assert not before.direct_export["invoices"], "Direct Export for invoices is on before the test"
    new_mask = "###-AA" if before.job_number_mask != "###-AA" else "##-####"
    try:
        page = open_as(erp_admin)
        navigate(page, main_nav(page, "Settings"))
        expect(page).to_have_url(re.compile(r"/erp/settings$"))
        expect(page.get_by_role("heading", name="ERP Integrations settings")).to_be_visible()
        mask = page.get_by_label("Job-number mask")
        expect(mask).to_have_value(before.job_number_mask)
        invoices = page.get_by_label("Subcontractor Invoices", exact=True)
        expect(invoices).not_to_be_checked()
        mask.fill(new_mask)
        invoices.check()
        navigate(page, page.get_by_role("button", name="Save settings"))

        expect(page.get_by_text("Settings saved.")).to_be_visible()
        expect(page.get_by_label("Job-number mask")).to_have_value(new_mask)
        expect(page.get_by_label("Subcontractor Invoices", exact=True)).to_be_checked()
        expect(page.get_by_label("Commitments", exact=True)).not_to_be_checked()
        changes = page.get_by_role("row").filter(has_text=erp_admin.name)
        expect(changes).to_have_count(2)
        settings_cells = [changes.nth(i).locator("td").nth(2).inner_text() for i in range(2)]
        assert sorted(settings_cells) == ["direct export", "job number mask"]
        mask_row = changes.filter(has_text="job number mask")
        expect(mask_row.locator("td").nth(3)).to_have_text(before.job_number_mask)
        expect(mask_row.locator("td").nth(4)).to_have_text(new_mask)
        export_row = changes.filter(has_text="direct export")
        expect(export_row.locator("td").nth(4)).to_contain_text("invoices")

        fresh(session)
        now = settings_service.load(session)
        assert now.job_number_mask == new_mask and now.direct_export["invoices"] is True
        assert now.direct_export["commitments"] == before.direct_export["commitments"]

        # A Standard user of the tool: no Settings link, and the server refuses the page.
        other = open_as(standard)
        expect(main_nav(other, "ERP Integrations")).to_be_visible()
        expect(main_nav(other, "Settings")).to_have_count(0)
        response = other.goto("/erp/settings")
        assert response.status == 403
        token = other.evaluate(
            "JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || ''")
        posted = other.request.post("/erp/settings", form={"csrf_token": token, "job_number_mask": ""})
        assert posted.status == 403
        fresh(session)
        assert settings_service.load(session).job_number_mask == new_mask
    finally:
        fresh(session)
        if settings_service.load(session) != before:
            settings_service.update(session, erp_admin, f.settings_form(before), direct_export_keys())
        assert settings_service.load(session) == before
