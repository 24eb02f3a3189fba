"""Syncs from Sage and Ready to Import decisions, against the real database: vendors, jobs, sub
jobs and cost codes (each import mapping row, idempotence, no duplicates), the run lifecycle and
the schedule. Prime contracts, job costs and the simulator's own readers: test_sync_sources.py."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.domain import ready_to_import as rti, sync
from portal.domain.errors import Conflict, Invalid, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import (
    Budget,
    BudgetLine,
    Category,
    CostCode,
    ErpAudit,
    ErpItem,
    Project,
    SettingChange,
    StandardCategory,
    StandardCostCode,
    SubJob,
    ToolLevel,
    Vendor,
    utcnow,
)
from portal.domain.sage_models import (
    ImportStatus,
    SageRecord,
    SyncSchedule,
    SyncStatus,
)
from tests.factories import approver, erp_admin, make_user, suffix
from tests.fake_sage import FakeSage, RecordingQueue
from tests.sync_runs import counts, record, run, set_setting, synced_project

# ---- vendors --------------------------------------------------------------------------------

def test_vendor_sync_stages_new_vendors_and_a_second_run_changes_nothing(session):
    sage = FakeSage()
    a = sage.vendor(name="Harbor Electric", Address_1="1 Dock St", City="Portland", State="OR",
                    ZIP="97201", Telephone="503-555-0100", Fax="503-555-0101")
    first = run(session, sage, "vendors")
    assert first.status == SyncStatus.DONE and first.added >= 1 and first.errors == 0
    rec = record(session, "vendor", a["Vendor"])
    assert rec.status == ImportStatus.PENDING and rec.name == "Harbor Electric" and rec.in_sage
    second = run(session, sage, "vendors")
    assert counts(second) == (0, 0, 0) and second.unchanged == len(sage.vendors)
    assert "0 added, 0 updated" in second.message


def test_vendor_changed_in_sage_is_updated_and_one_gone_is_marked(session):
    sage = FakeSage()
    a, b = sage.vendor(), sage.vendor()
    run(session, sage, "vendors")
    a["City"] = "Salem"
    sage.vendors.remove(b)
    again = run(session, sage, "vendors")
    assert again.updated == 2 and again.added == 0
    assert record(session, "vendor", a["Vendor"]).data["City"] == "Salem"
    assert record(session, "vendor", b["Vendor"]).in_sage is False


def test_vendor_already_linked_in_the_portal_is_not_ready_to_import(session):
    sage = FakeSage()
    row = sage.vendor()
    session.add(Vendor(name="Linked Co", erp_vendor_id=row["Vendor"]))
    session.commit()
    run(session, sage, "vendors")
    assert record(session, "vendor", row["Vendor"]).status == ImportStatus.LINKED


def test_add_vendor_maps_the_companies_table_and_links_through_the_gate(session):
    sage = FakeSage()
    row = sage.vendor(name="Cedar Roofing", Address_1="9 Elm", Address_2="Suite 2", City="Bend",
                      State="OR", ZIP="97701", Telephone="541-555-0199", Fax="541-555-0198")
    run(session, sage, "vendors")
    actor = approver(session)
    vendor = rti.add_vendor(session, actor, record(session, "vendor", row["Vendor"]).id)
    # ERP Company ID <== Vendor, Name, Address, City, State, ZIP <== Zip, Phone <== Telephone, Fax
    assert (vendor.erp_vendor_id, vendor.name, vendor.address, vendor.city, vendor.state, vendor.zip,
            vendor.phone, vendor.fax) == (row["Vendor"], "Cedar Roofing", "9 Elm, Suite 2", "Bend", "OR",
                                          "97701", "541-555-0199", "541-555-0198")
    erp = session.scalars(select(ErpItem).where(ErpItem.item_type == "vendor", ErpItem.item_id == vendor.id)).one()
    assert erp.state == State.SYNCED and erp.erp_ref == row["Vendor"]
    audit = session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp.id)).one()
    assert audit.action == "link" and audit.detail["sage_id"] == row["Vendor"]
    assert record(session, "vendor", row["Vendor"]).status == ImportStatus.ADDED
    with pytest.raises(Conflict):  # never twice
        rti.add_vendor(session, actor, record(session, "vendor", row["Vendor"]).id)
    assert run(session, sage, "vendors").added == 0  # re-sync: still added, nothing new


def test_suggestions_say_what_matched(session):
    s = suffix()
    exact = Vendor(name=f"Summit Steel {s} LLC")
    similar = Vendor(name=f"Sumit Steel {s}")
    phone = Vendor(name=f"Other {s}", phone="(503) 555-7788")
    session.add_all([exact, similar, phone])
    session.commit()
    sage = FakeSage()
    row = sage.vendor(name=f"Summit Steel {s}", Telephone="503-555-7788")
    run(session, sage, "vendors")
    rec = record(session, "vendor", row["Vendor"])
    found = {x.target_id: x for x in rti.vendor_suggestions(session, [rec])[rec.id]}
    assert found[exact.id].why == "same name" and found[exact.id].exact
    assert found[similar.id].why.startswith("similar name (") and not found[similar.id].exact
    assert found[phone.id].why == "same phone"


def test_link_vendor_and_refusals(session):
    sage = FakeSage()
    row, other = sage.vendor(), sage.vendor()
    run(session, sage, "vendors")
    actor = erp_admin(session)
    company = Vendor(name=f"Target {suffix()}")
    taken = Vendor(name=f"Taken {suffix()}", erp_vendor_id=f"T{suffix()}"[:10])
    session.add_all([company, taken])
    session.commit()
    with pytest.raises(Conflict, match="already linked"):
        rti.link_vendor(session, actor, record(session, "vendor", row["Vendor"]).id, taken.id)
    with pytest.raises(Invalid):
        rti.link_vendor(session, actor, record(session, "vendor", row["Vendor"]).id, 0)
    with pytest.raises(PermissionDenied):
        rti.link_vendor(session, make_user(session, erp_level=ToolLevel.READ_ONLY),
                        record(session, "vendor", row["Vendor"]).id, company.id)
    with pytest.raises(PermissionDenied, match="Admin on the ERP Integrations tool"):  # the guide: Admin only
        rti.link_vendor(session, approver(session), record(session, "vendor", row["Vendor"]).id, company.id)
    rti.link_vendor(session, actor, record(session, "vendor", row["Vendor"]).id, company.id)
    session.refresh(company)
    assert company.erp_vendor_id == row["Vendor"]
    with pytest.raises(Conflict):  # the company is linked now
        rti.link_vendor(session, actor, record(session, "vendor", other["Vendor"]).id, company.id)


def test_a_company_waiting_in_ready_to_export_cannot_be_linked(session):
    sage = FakeSage()
    row = sage.vendor()
    run(session, sage, "vendors")
    company = Vendor(name=f"Waiting {suffix()}")
    session.add(company)
    session.flush()
    session.add(ErpItem(item_type="vendor", item_id=company.id, state=State.READY, attempt=0))
    session.commit()
    with pytest.raises(Conflict, match="Ready to Export"):
        rti.link_vendor(session, erp_admin(session), record(session, "vendor", row["Vendor"]).id, company.id)
    session.refresh(company)
    assert company.erp_vendor_id is None


def test_link_all_exact_matches_links_unique_matches_only(session):
    s = suffix()
    one = Vendor(name=f"Unique Paving {s}")
    twin_a, twin_b = Vendor(name=f"Twin Glass {s}"), Vendor(name=f"Twin Glass {s} Inc.")
    session.add_all([one, twin_a, twin_b])
    session.commit()
    sage = FakeSage()
    unique = sage.vendor(name=f"UNIQUE PAVING {s}")
    twin = sage.vendor(name=f"Twin Glass {s}")
    run(session, sage, "vendors")
    with pytest.raises(PermissionDenied):
        rti.link_exact_vendors(session, approver(session))
    linked, ambiguous = rti.link_exact_vendors(session, erp_admin(session))
    assert linked >= 1 and ambiguous >= 1
    session.refresh(one)
    assert one.erp_vendor_id == unique["Vendor"]
    assert record(session, "vendor", twin["Vendor"]).status == ImportStatus.PENDING


def test_archive_and_back(session):
    sage = FakeSage()
    row = sage.vendor()
    run(session, sage, "vendors")
    actor = approver(session)
    rec = record(session, "vendor", row["Vendor"])
    rti.archive(session, actor, rec.id, True)
    assert record(session, "vendor", row["Vendor"]).status == ImportStatus.ARCHIVED
    assert rec.id in [r.id for r in rti.records_page(session, "vendor", "archived", row["Vendor"]).records]
    assert run(session, sage, "vendors").updated == 0  # archived stays archived
    with pytest.raises(Conflict):
        rti.add_vendor(session, actor, rec.id)
    rti.archive(session, actor, rec.id, False)
    assert record(session, "vendor", row["Vendor"]).status == ImportStatus.PENDING


def test_vendor_auto_update_setting_keeps_linked_companies_equal_to_sage(session):
    sage = FakeSage()
    row = sage.vendor(Address_1="1 Old Rd", City="Old Town", Telephone="111")
    company = Vendor(name="Auto Co", erp_vendor_id=row["Vendor"], address="mailing address", city="Elsewhere")
    session.add(company)
    session.commit()
    try:
        set_setting(session, "vendor_auto_update", False)
        run(session, sage, "vendors")
        session.refresh(company)
        assert company.address == "mailing address"  # off: the project team's address stays
        set_setting(session, "vendor_auto_update", True)
        first = run(session, sage, "vendors")
        session.refresh(company)
        assert (company.address, company.city, company.phone) == ("1 Old Rd", "Old Town", "111")
        assert first.updated >= 1
        assert run(session, sage, "vendors").updated == 0
    finally:
        set_setting(session, "vendor_auto_update", False)


# ---- jobs, sub jobs, cost codes ------------------------------------------------------------------

def test_add_job_as_project_with_its_cost_codes(session):
    sage = FakeSage()
    row = sage.job(description="Harbor Tower", Address_1="5 Pier", City="Astoria", State="OR", ZIP="97103")
    sage.code(row["Job"], "01-100", "General Conditions")
    run(session, sage, "jobs")
    with pytest.raises(PermissionDenied):  # the guide's "Add an ERP Job to Procore": Admin only
        rti.add_job(session, approver(session), record(session, "job", row["Job"]).id, sage)
    actor = erp_admin(session)
    project = rti.add_job(session, actor, record(session, "job", row["Job"]).id, sage)
    # Sage Job ID and project number <== Job ID, Project Name <== Job Name, Address, City, State, ZIP
    assert (project.sage_job_id, project.number, project.name, project.address, project.city, project.state,
            project.zip) == (row["Job"], row["Job"], "Harbor Tower", "5 Pier", "Astoria", "OR", "97103")
    code = session.scalars(select(CostCode).where(CostCode.project_id == project.id)).one()
    assert (code.code, code.description) == ("01-100", "General Conditions")
    cats = session.scalars(select(Category.code).where(Category.cost_code_id == code.id).order_by(Category.code)).all()
    assert cats == ["L", "M"]
    with pytest.raises(Conflict):
        rti.add_job(session, actor, record(session, "job", row["Job"]).id, sage)
    assert record(session, "job", row["Job"]).status == ImportStatus.ADDED


def test_link_job_only_to_a_project_never_exported(session):
    sage = FakeSage()
    row = sage.job()
    run(session, sage, "jobs")
    fresh = Project(name="Fresh", number=row["Job"])
    exported = Project(name="Exported", number="X")
    session.add_all([fresh, exported])
    session.flush()
    erp = ErpItem(item_type="job", item_id=exported.id, project_id=exported.id, state=State.READY, attempt=0)
    session.add(erp)
    session.commit()
    actor = erp_admin(session)
    rec = record(session, "job", row["Job"])
    suggestions = rti.job_suggestions(session, [rec])[rec.id]
    assert suggestions[0].target_id == fresh.id and suggestions[0].why == "same project number"
    with pytest.raises(Conflict, match="both systems"):
        rti.link_job(session, actor, rec.id, exported.id, sage)
    rti.link_job(session, actor, rec.id, fresh.id, sage)
    session.refresh(fresh)
    assert fresh.sage_job_id == row["Job"]
    assert fresh.id not in [p.id for p in rti.linkable_projects(session)]


def test_sub_jobs_of_synced_jobs_only(session):
    sage = FakeSage()
    project = synced_project(session, sage)
    unsynced_job = sage.job()
    sage.extras += [{"Job": project.sage_job_id, "Extra": "E1", "Description": "Lobby", "Status": "Open"},
                    {"Job": unsynced_job["Job"], "Extra": "E9", "Description": "Other", "Status": "Open"}]
    sage.code(project.sage_job_id, "02-200", "Sitework", extra="E1")
    run(session, sage, "sub_jobs")
    rec = record(session, "extra", f"{project.sage_job_id}/E1")
    assert not session.scalars(select(SageRecord).where(SageRecord.kind == "extra",
                                                        SageRecord.sage_key == f"{unsynced_job['Job']}/E9")).first()
    sub_job = rti.add_sub_job(session, approver(session), rec.id, sage)
    # Code <== Extra, Sub Job <== Description; the extra's cost codes come along
    assert (sub_job.code, sub_job.name, sub_job.sage_extra_id) == ("E1", "Lobby", "E1")
    assert session.scalars(select(CostCode.code).where(CostCode.sub_job_id == sub_job.id)).all() == ["02-200"]
    assert run(session, sage, "sub_jobs").added == 0


def test_sub_job_with_the_same_code_is_linked_not_duplicated(session):
    sage = FakeSage()
    project = synced_project(session, sage)
    existing = SubJob(project_id=project.id, code="E2", name="Mine")
    session.add(existing)
    session.commit()
    sage.extras.append({"Job": project.sage_job_id, "Extra": "E2", "Description": "Theirs", "Status": "Open"})
    run(session, sage, "sub_jobs")
    extra = record(session, "extra", f"{project.sage_job_id}/E2")
    sub_job = rti.add_sub_job(session, approver(session), extra.id, sage)
    assert sub_job.id == existing.id
    assert session.scalars(select(SubJob).where(SubJob.project_id == project.id)).all() == [existing]


def test_cost_code_sync_fills_the_standard_lists_and_projects(session):
    sage = FakeSage()
    code = f"9{suffix(2)}-{suffix(3)}"[:12]
    sage.standard_codes = [{"Cost_Code": code, "Description": "Temporary Facilities", "Status": "Active"}]
    sage.standard_categories = [{"Category": "Z9", "Description": "Other"}]
    project = synced_project(session, sage)
    sage.code(project.sage_job_id, "05-500", "Metals", categories=("M",))
    first = run(session, sage, "cost_codes")
    std = session.scalars(select(StandardCostCode).where(StandardCostCode.code == code)).one()
    assert (std.description, std.active) == ("Temporary Facilities", True)
    assert session.scalars(select(StandardCategory).where(StandardCategory.code == "Z9")).one().description == "Other"
    assert session.scalars(select(CostCode.code).where(CostCode.project_id == project.id)).all() == ["05-500"]
    assert first.added >= 4
    again = run(session, sage, "cost_codes")
    assert (again.added, again.updated) == (0, 0)
    sage.standard_codes[0]["Status"] = "Inactive"
    assert run(session, sage, "cost_codes").updated == 1
    session.refresh(std)
    assert std.active is False


@pytest.mark.parametrize("locked", [False, True])
def test_auto_add_budget_lines_imports_the_estimate_only_while_unlocked(session, locked):
    sage = FakeSage()
    project = synced_project(session, sage)
    budget = Budget(project_id=project.id, locked=locked)
    session.add(budget)
    session.commit()
    sage.code(project.sage_job_id, "06-100", "Carpentry", categories=("L",))
    sage.cost_line(project.sage_job_id, "06-100", "L", Original_Estimate="2500")
    try:
        set_setting(session, "auto_add_budget_lines", True)
        run(session, sage, "cost_codes")
    finally:
        set_setting(session, "auto_add_budget_lines", False)
    line = session.scalars(select(BudgetLine).where(BudgetLine.budget_id == budget.id)).one()
    assert line.original == (Decimal("0") if locked else Decimal("2500"))


def test_without_the_setting_no_budget_line_is_added(session):
    sage = FakeSage()
    project = synced_project(session, sage)
    budget = Budget(project_id=project.id, locked=False)
    session.add(budget)
    session.commit()
    sage.code(project.sage_job_id, "06-200", "Millwork", categories=("L",))
    run(session, sage, "cost_codes")
    assert session.scalars(select(BudgetLine).where(BudgetLine.budget_id == budget.id)).all() == []


# ---- runs ----------------------------------------------------------------------------------------------

def test_the_same_sync_is_never_queued_twice_at_once(session):
    actor = approver(session)
    queue = RecordingQueue()
    first = sync.start(session, actor, "jobs", queue)
    second = sync.start(session, actor, "jobs", queue)
    assert second.id == first.id and queue.queued == [first.id]
    assert sync.execute(session, first.id, FakeSage()).status == SyncStatus.DONE
    assert sync.execute(session, first.id, FakeSage()).status == SyncStatus.DONE  # a re-run is a no-op
    third = sync.start(session, actor, "jobs", queue)
    assert third.id != first.id
    sync.execute(session, third.id, FakeSage())


def test_a_stalled_run_is_replaced(session):
    actor = approver(session)
    queue = RecordingQueue()
    stuck = sync.start(session, actor, "sub_jobs", queue)
    stuck.status, stuck.started_at = SyncStatus.RUNNING, utcnow() - timedelta(hours=1)
    stuck.heartbeat_at = stuck.started_at
    session.commit()
    fresh = sync.start(session, actor, "sub_jobs", queue, stall_after=timedelta(minutes=5))
    session.refresh(stuck)
    assert fresh.id != stuck.id and stuck.status == SyncStatus.FAILED and "Stalled" in stuck.message
    sync.execute(session, fresh.id, FakeSage())


def test_a_failing_read_leaves_a_failed_run_with_the_reason(session):
    class Broken(FakeSage):
        def list_jobs(self):
            raise ConnectionError("Sage server offline")
    done = run(session, Broken(), "jobs")
    assert done.status == SyncStatus.FAILED and "Sage server offline" in done.message
    assert sync.active_run(session, "jobs") is None


def test_the_file_drop_connector_cannot_import(session):
    started = sync.start(session, approver(session), "vendors", RecordingQueue())
    done = sync.execute(session, started.id, None)
    assert done.status == SyncStatus.FAILED and "file-drop" in done.message


def test_permissions_and_scope_checks(session):
    with pytest.raises(PermissionDenied):
        sync.start(session, make_user(session, erp_level=ToolLevel.STANDARD), "vendors", RecordingQueue())
    with pytest.raises(Invalid, match="company-wide"):
        sync.start(session, approver(session), "vendors", RecordingQueue(), project_id=1)
    unsynced = Project(name="Not synced", number="N1")
    session.add(unsynced)
    session.commit()
    with pytest.raises(Invalid, match="not synced"):
        sync.start(session, approver(session), "job_costs", RecordingQueue(), project_id=unsynced.id)


# ---- the schedule -------------------------------------------------------------------------------------

def test_schedule_defaults_and_due_runs_start_once(session):
    rows = {r.kind: r for r in sync.schedules(session)}
    assert rows["vendors"].interval_minutes == 60 and rows["job_costs"].interval_minutes == 120
    for row in rows.values():
        row.enabled = row.kind == "sub_jobs"
        row.next_run_at = utcnow() - timedelta(minutes=1)
    session.commit()
    queue = RecordingQueue()
    now = utcnow()
    started = sync.run_due(session, queue, now)
    again = sync.run_due(session, queue, now)   # a second scheduler ticking at the same moment
    assert [r.kind for r in started] == ["sub_jobs"] and again == []
    assert started[0].trigger == "schedule" and queue.queued == [started[0].id]
    row = session.get(SyncSchedule, "sub_jobs")
    session.refresh(row)
    assert row.last_run_id == started[0].id and row.next_run_at > now
    sync.execute(session, started[0].id, FakeSage())
    for row in sync.schedules(session):
        row.enabled = True
    session.commit()


def test_schedule_form_is_validated_audited_and_admin_only(session):
    admin = make_user(session, erp_level=ToolLevel.ADMIN)
    with pytest.raises(PermissionDenied):
        sync.update_schedule(session, approver(session), {})
    form = {f"enabled_{r.kind}": "on" for r in sync.schedules(session)}
    form.update({f"interval_{r.kind}": str(r.interval_minutes) for r in sync.schedules(session)})
    with pytest.raises(Invalid) as bad:
        sync.update_schedule(session, admin, {**form, "interval_vendors": "7"})
    assert "interval_vendors" in bad.value.fields
    assert session.get(SyncSchedule, "vendors").interval_minutes == 60
    sync.update_schedule(session, admin, {**form, "interval_vendors": "30"})
    assert session.get(SyncSchedule, "vendors").interval_minutes == 30
    change = session.scalars(select(SettingChange).where(SettingChange.key == "sync_schedule:vendors")
                             .order_by(SettingChange.id.desc())).first()
    assert change.old["interval_minutes"] == 60 and change.new["interval_minutes"] == 30
    sync.update_schedule(session, admin, form | {"interval_vendors": "60"})
