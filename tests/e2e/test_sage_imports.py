"""End-to-end in Chromium: data back from Sage (issue 4). An ERP Admin (the guide: Admin links ERP
companies and adds ERP jobs) pulls vendors and jobs from Sage, links or adds them without
duplicates, syncs job costs and reads the report with its chart; an ERP Admin re-enables a
scheduled sync and watches it run by itself. Every re-run of a sync changes nothing.

Like the other e2e modules: each test makes its own data (random suffixes), signs in through the
real login form (CSRF on), and the syncs run in the real RQ worker against the Sage simulator.
The database and the simulator are shared with the other modules, so nothing assumes they are
empty: counts are compared before and after, lists are narrowed with the search box.
"""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from portal.domain.models import CostCode, ErpItem, Project, ToolLevel, Vendor, utcnow
from portal.domain.sage_models import SyncRun, SyncSchedule
from portal.exporters.sage300.simulator import AP_COST, ORIGINAL_ESTIMATE, PR_COST
from tests import factories as f
from tests.e2e.helpers import erp_tab, flask_command, fresh, main_nav, navigate

pytestmark = pytest.mark.e2e

SUMMARY = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) errors?")
SYNC_TIMEOUT_MS = 30_000
SCHEDULE_WAIT_S = 20


# ---- the scheduler (this module only) -------------------------------------------------------

@pytest.fixture(scope="module")
def scheduler(app, stack_env, rq_worker, tmp_path_factory):
    """`flask --app app scheduler --tick 2` as a subprocess for this module only.

    Before it starts, every sync's schedule is turned off except Vendors, which is pushed a day
    ahead: the scheduler then starts nothing until the test re-enables Vendors (and never
    touches the other modules' data). At module end the schedule rows get their previous
    enabled flag, interval and next run back.
    """
    from portal.domain import sync
    from portal.extensions import db
    from portal.queue import default_queue

    with app.app_context():
        rows = sync.schedules(db.session)
        saved = {r.kind: (r.enabled, r.interval_minutes, r.next_run_at) for r in rows}
        for row in rows:
            row.enabled = row.kind == "vendors"
            if row.kind == "vendors":
                row.next_run_at = utcnow() + timedelta(days=1)
        db.session.commit()
        db.session.remove()

    try:
        with flask_command(["scheduler", "--tick", "2"], tmp_path_factory.mktemp("scheduler")) as proc:
            yield proc
    finally:
        with app.app_context():
            # Let the worker finish the ticks already queued while the schedule is still off,
            # so none of them starts a sync in a later module once the rows are restored.
            from rq.registry import StartedJobRegistry
            queue = default_queue()
            deadline = time.monotonic() + 30
            while (queue.count or StartedJobRegistry(queue=queue).count) and time.monotonic() < deadline:
                time.sleep(0.1)
            for row in sync.schedules(db.session):
                if row.kind in saved:
                    row.enabled, row.interval_minutes, row.next_run_at = saved[row.kind]
            db.session.commit()
            db.session.remove()


# ---- helpers --------------------------------------------------------------------------------

def flash(page: Page, text: str) -> None:
    expect(page.locator(".msg", has_text=text)).to_be_visible()


def sync_now(page: Page, label: str) -> tuple[int, int, int, int]:
    """Press "Sync from Sage now", watch the progress fragment until it settles; its summary."""
    slot = page.locator(".sync-slot")
    run = slot.locator(".sync-run")
    before = run.get_attribute("id") if run.count() else None
    page.get_by_role("button", name="Sync from Sage now").click()
    if before:
        expect(run).not_to_have_id(before)  # the new run's fragment, not the last one's
    expect(run).to_have_attribute("data-status", re.compile(r"^(done|failed)$"), timeout=SYNC_TIMEOUT_MS)
    expect(run).to_have_attribute("data-status", "done")  # on failure: the run's message below
    expect(run).to_contain_text(f"{label} sync done")
    expect(run).not_to_have_attribute("hx-get", re.compile(".*"))  # settled: it stopped polling
    found = SUMMARY.search(run.locator(".sync-summary").inner_text())
    assert found, run.inner_text()
    return tuple(int(n) for n in found.groups())


def search_list(page: Page, q: str) -> None:
    box = page.locator("form.search").get_by_role("searchbox")
    box.fill(q)
    navigate(page, page.get_by_role("button", name="Search", exact=True))
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(q)))


def decide(page: Page, row, button: str, message: str) -> None:
    """Press an action of a Ready to Import row; the row leaves the list, the page stays whole
    and the flash says what happened."""
    key = row.get_attribute("data-key")
    row.get_by_role("button", name=button, exact=True).click()
    expect(page.locator(f'tr[data-key="{key}"]')).to_have_count(0)  # decided: no second click
    expect(page.locator("main")).to_have_count(1)
    flash(page, message)
    expect(page.locator(f'tr[data-key="{key}"]')).to_have_count(0)


def pending_count(page: Page) -> int:
    """The Ready to Import count of the list's status filter."""
    link = page.get_by_role("navigation", name="Import status").get_by_role("link", name=re.compile("Ready to Import"))
    return int(link.locator(".count").inner_text())


# ---- 1. vendors --------------------------------------------------------------------------------

def test_erp_admin_pulls_vendors_links_the_same_name_company_adds_another_and_a_resync_changes_nothing(
        session, sim, open_as):
    s = f.suffix()
    same_name, same_id = f"Harbor Steel {s} Inc.", f"HS{s}"
    new_name, new_id = f"Lakeside Glass {s}", f"LG{s}"
    company = Vendor(name=same_name, city="Peoria", state="IL")  # in the directory, not linked yet
    session.add(company)
    session.commit()
    company_pk = company.id
    sim.add_vendor(new_id, new_name, city="Joliet", state="IL", telephone="815-555-0142")
    sage_user = f.make_user(session, site_admin=True)
    erp_admin = f.erp_admin(session)

    # Accounting enters the other vendor in Sage through the simulator's Sage page.
    sage_page = open_as(sage_user)
    navigate(sage_page, main_nav(sage_page, "Sage 300 CRE (simulator)"))
    form = sage_page.locator("#sage-vendor")
    form.get_by_label("Vendor").fill(same_id)
    form.get_by_label("Name").fill(same_name)
    form.get_by_label("City").fill("Peoria")
    form.get_by_label("State").fill("IL")
    form.get_by_role("button", name="Add").click()
    expect(sage_page.locator("#sage-vendor")).to_contain_text(f"Vendor {same_id} added to Sage 300 CRE.")
    assert sim.get_vendor(same_id)["Name"] == same_name

    # The ERP Admin: Vendors tab -> Ready to Import -> Sync from Sage now.
    page = open_as(erp_admin)
    erp_tab(page, "Vendors")
    ready = page.locator("#sync-bar").get_by_role("link", name=re.compile("Ready to Import"))
    navigate(page, ready)
    expect(page.get_by_role("heading", name="Vendors only in Sage")).to_be_visible()
    added, _updated, _unchanged, errors = sync_now(page, "Vendors")
    assert added >= 2 and errors == 0  # at least the two new Sage vendors
    navigate(page, page.get_by_role("navigation", name="Import status").get_by_role(
        "link", name=re.compile("Ready to Import")))
    pending_before = pending_count(page)

    search_list(page, s)
    rows = page.locator("#import-list tbody tr[data-key]")
    expect(rows).to_have_count(2)
    same_row = page.locator(f'tr[data-key="{same_id}"]')
    suggestion = same_row.locator(".suggestion.exact")
    expect(suggestion).to_contain_text(same_name)
    expect(suggestion).to_contain_text("(same name)")
    expect(same_row.get_by_label("Company", exact=True)).to_have_value(str(company_pk))
    decide(page, same_row, "Link", f"{same_name} linked to vendor {same_id}.")

    new_row = page.locator(f'tr[data-key="{new_id}"]')
    expect(new_row).to_contain_text("No match")
    decide(page, new_row, "Add to directory", f"{new_name} added to the directory, linked to vendor {new_id}.")
    expect(rows).to_have_count(0)
    expect(page.locator("#import-list")).to_contain_text(f"Nothing Ready to Import matching “{s}”")

    # Sync again: nothing new, nothing changed, and the two decided vendors stay out of the list.
    assert sync_now(page, "Vendors")[:2] == (0, 0)
    erp_tab(page, "Vendors")
    expect(page.locator("#sync-bar .ready-to-import .count")).to_have_text(str(pending_before - 2))
    navigate(page, page.locator("#sync-bar").get_by_role("link", name=re.compile("Ready to Import")))
    search_list(page, s)
    expect(rows).to_have_count(0)
    navigate(page, page.get_by_role("navigation", name="Import status").get_by_role(
        "link", name=re.compile("Linked or added")))
    expect(page.locator(f'tr[data-key="{same_id}"] .badge')).to_have_text("Linked")
    expect(page.locator(f'tr[data-key="{new_id}"] .badge')).to_have_text("Added")

    # No duplicate company: one per name, each carrying its Sage vendor ID.
    fresh(session)
    linked = session.scalars(select(Vendor).where(Vendor.name == same_name)).all()
    assert [(v.id, v.erp_vendor_id) for v in linked] == [(company_pk, same_id)]
    added_vendors = session.scalars(select(Vendor).where(Vendor.name == new_name)).all()
    assert [(v.erp_vendor_id, v.city, v.phone) for v in added_vendors] == [(new_id, "Joliet", "815-555-0142")]
    assert session.scalar(select(func.count()).select_from(Vendor)
                          .where(Vendor.erp_vendor_id.in_([same_id, new_id]))) == 2
    states = {e.item_id: (e.state, e.erp_ref) for e in session.scalars(
        select(ErpItem).where(ErpItem.item_type == "vendor", ErpItem.item_id.in_([company_pk, added_vendors[0].id])))}
    assert states == {company_pk: ("synced", same_id), added_vendors[0].id: ("synced", new_id)}


def test_an_action_keeps_the_ready_to_import_page(session, sim, open_as):
    s = f.suffix()
    vendor_id = f"AR{s}"
    sim.add_vendor(vendor_id, f"Archive Me {s}")
    page = open_as(f.approver(session))
    erp_tab(page, "Vendors")
    navigate(page, page.locator("#sync-bar").get_by_role("link", name=re.compile("Ready to Import")))
    sync_now(page, "Vendors")
    search_list(page, s)
    row = page.locator(f'tr[data-key="{vendor_id}"]')
    row.get_by_role("button", name="Archive", exact=True).click()
    expect(row).to_have_count(0)
    expect(page.get_by_role("heading", name="Vendors only in Sage")).to_be_visible()
    expect(main_nav(page, "ERP Integrations")).to_be_visible()
    flash(page, f"Vendor {vendor_id} archived.")


# ---- 2. jobs ------------------------------------------------------------------------------------

def test_erp_admin_adds_a_sage_only_job_as_a_project_once(session, sim, open_as):
    s = f.suffix()
    job_id, name = f"J{s}", f"Harbor Point {s}"
    sim.add_job(job_id, name, address_1="400 Dock St", city="Peoria", state="IL", zip="61602")
    sim.add_cost_code(job_id, "01-100", "General Conditions")
    sim.add_category(job_id, "01-100", "LAB", "Labor")

    page = open_as(f.erp_admin(session))
    erp_tab(page, "Jobs")
    navigate(page, page.locator("#sync-bar").get_by_role("link", name=re.compile("Ready to Import")))
    expect(page.get_by_role("heading", name="Jobs only in Sage")).to_be_visible()
    added, _updated, _unchanged, errors = sync_now(page, "Jobs")
    assert added >= 1 and errors == 0

    search_list(page, job_id)
    row = page.locator(f'tr[data-key="{job_id}"]')
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("Peoria")
    decide(page, row, "Add as project", f"Project {job_id} {name} added, synced with job {job_id}.")
    expect(page.locator("#import-list")).to_contain_text(f"Nothing Ready to Import matching “{job_id}”")

    assert sync_now(page, "Jobs")[:2] == (0, 0)
    search_list(page, job_id)
    expect(page.locator(f'tr[data-key="{job_id}"]')).to_have_count(0)
    navigate(page, page.get_by_role("navigation", name="Import status").get_by_role(
        "link", name=re.compile("Linked or added")))
    done_row = page.locator(f'tr[data-key="{job_id}"]')
    expect(done_row.locator(".badge")).to_have_text("Added")
    expect(done_row.get_by_role("button")).to_have_count(0)

    fresh(session)
    projects = session.scalars(select(Project).where(Project.sage_job_id == job_id)).all()
    assert [(p.number, p.name, p.city) for p in projects] == [(job_id, name, "Peoria")]
    assert session.scalar(select(func.count()).select_from(Project).where(Project.number == job_id)) == 1
    codes = session.scalars(select(CostCode.code).where(CostCode.project_id == projects[0].id)).all()
    assert codes == ["01-100"]  # the job's Sage cost codes came with it

    # The new project is on the Projects page, once.
    navigate(page, main_nav(page, "Projects"))
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(1)


# ---- 3. job costs -------------------------------------------------------------------------------

def test_erp_admin_syncs_job_costs_and_reads_the_report_with_its_chart(session, sim, open_as):
    s = f.suffix()
    job_id, name = f"C{s}", f"Job cost journey {s}"
    project = Project(name=name, number=f"JC-{s}", sage_job_id=job_id)
    session.add(project)
    session.commit()
    project_pk = project.id
    sim.add_job(job_id, name[:30])
    sim.add_cost_code(job_id, "01-100", "General Conditions")
    sim.add_category(job_id, "01-100", "LAB", "Labor")
    sim.add_cost_code(job_id, "02-200", "Sitework")
    sim.add_category(job_id, "02-200", "MAT", "Material")
    sim.add_category(job_id, "02-200", "SUB", "Subcontract")
    sim.add_transaction(job_id, "01-100", "LAB", ORIGINAL_ESTIMATE, "5000")
    sim.add_transaction(job_id, "02-200", "MAT", ORIGINAL_ESTIMATE, "3000")
    sim.add_cost(job_id, "01-100", "LAB", PR_COST, "1200.50")
    sim.add_cost(job_id, "02-200", "MAT", AP_COST, "800")
    sim.add_cost(job_id, "02-200", "SUB", AP_COST, "999", posted=False)  # not posted: not a job cost yet
    admin = f.make_user(session, erp_level=ToolLevel.ADMIN, push=True)  # the company Job Costs tab: ERP Admins

    page = open_as(admin)
    erp_tab(page, "Job Costs")
    expect(page.get_by_role("heading", name="Job Costs", exact=True)).to_be_visible()
    added, _updated, _unchanged, errors = sync_now(page, "Job Costs")
    assert added >= 3 and errors == 0  # at least this job's three categories

    erp_tab(page, "Job Costs")  # the list as it is now
    listed = page.locator("#job-cost-projects tbody tr", has_text=job_id)
    expect(listed.locator("td").nth(2)).to_have_text("3")
    expect(listed.locator("td").nth(3)).to_have_text("$2,000.50")
    navigate(page, listed.get_by_role("link", name="Job Costs report"))
    expect(page).to_have_url(re.compile(rf"/projects/{project_pk}/job-costs$"))
    expect(page.get_by_role("heading", name="Job Costs", exact=True)).to_be_visible()
    expect(page.locator("#last-synced")).to_contain_text("Last synced")

    chart = page.locator("svg#job-cost-chart")
    expect(chart).to_be_visible()
    groups = chart.locator("g.bar-group")
    expect(groups).to_have_count(2)
    assert [groups.nth(i).get_attribute("data-cost-code") for i in range(2)] == ["01-100", "02-200"]
    expect(chart.locator("rect.bar")).to_have_count(6)  # budget, commitment, cost to date per code
    totals = page.locator("#job-cost-totals")
    expect(totals.locator('[data-column="jtd_cost"]')).to_have_text("$2,000.50")
    expect(totals.locator('[data-column="revised_budget"]')).to_have_text("$8,000.00")
    expect(page.get_by_role("table", name="Job Costs per cost code and category")
           .locator("tbody tr")).to_have_count(3)

    # The report's own Sync (this project only): nothing changed in Sage, nothing changes here.
    assert sync_now(page, "Job Costs") == (0, 0, 3, 0)
    expect(totals.locator('[data-column="jtd_cost"]')).to_have_text("$2,000.50")


# ---- 4. the schedule ----------------------------------------------------------------------------

def test_a_re_enabled_sync_runs_by_itself(session, open_as, scheduler):
    erp_admin = f.make_user(session, erp_level=ToolLevel.ADMIN)
    last_before = session.scalar(select(func.max(SyncRun.id)).where(SyncRun.kind == "vendors")) or 0

    page = open_as(erp_admin)
    erp_tab(page, "Sync Schedule")
    expect(page.get_by_role("heading", name="Sync schedule")).to_be_visible()
    vendors = page.locator('#schedule tr[data-kind="vendors"]')
    box = vendors.get_by_label("Vendors runs by itself")
    expect(box).to_be_checked()
    expect(vendors.locator(".next-run")).not_to_have_text("off")  # due tomorrow (the fixture)

    box.uncheck()
    navigate(page, page.get_by_role("button", name="Save schedule"))
    flash(page, "Sync schedule saved.")
    expect(box).not_to_be_checked()
    expect(vendors.locator(".next-run")).to_have_text("off")
    fresh(session)
    assert session.get(SyncSchedule, "vendors").enabled is False

    box.check()
    navigate(page, page.get_by_role("button", name="Save schedule"))
    flash(page, "Sync schedule saved.")
    expect(box).to_be_checked()
    fresh(session)
    row = session.get(SyncSchedule, "vendors")
    started = session.scalar(select(func.max(SyncRun.id)).where(SyncRun.kind == "vendors")) or 0
    # due at once: either still due, or the scheduler (ticking every 2 s) has already started it
    assert row.enabled is True and (row.next_run_at <= utcnow() or started > last_before)

    # Poll the page (as a user would reload it) until the schedule has started a new run.
    outcome = vendors.locator(".outcome .sync-run")
    deadline = time.monotonic() + SCHEDULE_WAIT_S
    run_id = 0
    while True:
        if outcome.count():
            run_id = int(outcome.get_attribute("id").rsplit("-", 1)[1])
            if run_id > last_before:
                break
        assert time.monotonic() < deadline, (
            f"no scheduled Vendors run within {SCHEDULE_WAIT_S} s; scheduler log:\n"
            + scheduler.log_path.read_text(errors="replace")[-2000:])
        page.wait_for_timeout(1000)
        erp_tab(page, "Sync Schedule")
    # The fragment polls itself until the run settles.
    expect(outcome).to_have_attribute("data-status", "done", timeout=SYNC_TIMEOUT_MS)
    expect(outcome).to_contain_text("Vendors sync done")
    expect(outcome).to_contain_text("by the schedule")
    expect(vendors.locator(".last-run")).not_to_have_text("never")
    erp_tab(page, "Sync Schedule")
    recent = page.locator("#recent-runs tbody tr", has=page.locator(f"#sync-run-{run_id}"))
    expect(recent.locator("td").nth(3)).to_have_text("schedule")

    fresh(session)
    run = session.get(SyncRun, run_id)
    assert (run.kind, run.trigger, run.status, run.requested_by_id) == ("vendors", "schedule", "done", None)
    assert session.get(SyncSchedule, "vendors").last_run_id == run_id
