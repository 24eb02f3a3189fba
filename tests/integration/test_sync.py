"""Syncs from Sage and Ready to Import decisions, against the real database: each import
mapping row, idempotence (a second run changes nothing), no duplicates, the run lifecycle
and the schedule."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain import ready_to_import as rti, settings, sync
from portal.domain.errors import Conflict, Invalid, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import (
    Budget,
    BudgetLine,
    Category,
    CostCode,
    ErpAudit,
    ErpItem,
    PrimeContract,
    PrimeContractItem,
    Project,
    SettingChange,
    StandardCategory,
    StandardCostCode,
    SubcontractorInvoice,
    SubJob,
    ToolLevel,
    Vendor,
    utcnow,
)
from portal.domain.sage_models import (
    DirectCost,
    ImportStatus,
    JobCostLine,
    SageRecord,
    SyncRun,
    SyncSchedule,
    SyncStatus,
)
from portal.domain.types import direct_export_keys
from tests.factories import Setup, approver, erp_admin, make_user, suffix
from tests.fake_sage import FakeSage, RecordingQueue


def run(session, sage, key, project_id=None, actor=None):
    """Start and execute one sync; returns its finished run."""
    queue = RecordingQueue()
    started = sync.start(session, actor or approver(session), key, queue, project_id=project_id)
    assert queue.queued == [started.id]
    return sync.execute(session, started.id, sage)


def record(session, kind, key) -> SageRecord:
    return session.scalars(select(SageRecord).where(SageRecord.kind == kind, SageRecord.sage_key == key)).one()


def counts(r: SyncRun):
    return (r.added, r.updated, r.errors)


def synced_project(session, sage: FakeSage, **job_fields) -> Project:
    row = sage.job(**job_fields)
    project = Project(name=row["Description"], number=row["Job"], sage_job_id=row["Job"])
    session.add(project)
    session.commit()
    return project


def paid_invoice(session) -> dict:
    """A synced subcontractor invoice and a Sage check against it (the Paid Invoices sync's row)."""
    setup = Setup(session, None)
    number = f"INV-{suffix()}"
    invoice = SubcontractorInvoice(project_id=setup.project.id, commitment_id=setup.commitment.id, number=number,
                                   period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                                   billing_date=date(2026, 10, 31), status="Approved", total_amount=Decimal("100"))
    session.add(invoice)
    session.flush()
    session.add(ErpItem(item_type="subcontractor_invoice", item_id=invoice.id, project_id=setup.project.id,
                        state=State.SYNCED, attempt=1, erp_ref=number))
    session.commit()
    return {"Payment_ID": invoice.id, "Vendor": setup.vendor.erp_vendor_id, "Invoice": number, "Check_Number": "1",
            "Check_Date": date(2026, 11, 5), "Amount": Decimal("10.00")}


def set_setting(session, key, value):
    user = make_user(session, erp_level=ToolLevel.ADMIN)
    current = settings.load(session)
    form = {"job_number_mask": current.job_number_mask,
            "consolidate_invoice_lines": "on" if current.consolidate_invoice_lines else "",
            "vendor_auto_update": "on" if current.vendor_auto_update else "",
            "auto_add_budget_lines": "on" if current.auto_add_budget_lines else "",
            key: "on" if value else ""}
    settings.update(session, user, form, direct_export_keys())


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


# ---- prime contracts ------------------------------------------------------------------------------

def test_use_contracts_prime_contract_import_and_reimport(session):
    sage = FakeSage()
    project = synced_project(session, sage)
    number = f"CN{suffix()}"
    sage.contracts.append({"Contract": number, "Job": project.sage_job_id, "Description": "Main contract",
                           "Status": "Open", "Billing_Method": "Use Contracts"})
    sage.contract_items[number] = [{"Item": "1", "Description": "Foundations", "Original_Amount": Decimal("100000")},
                                   {"Item": "2", "Description": "Frame", "Original_Amount": Decimal("250000")}]
    run(session, sage, "prime_contracts")
    rec = record(session, "contract", f"contract:{number}")
    actor = approver(session)
    contract = rti.import_contract(session, actor, rec.id)
    session.refresh(contract)
    # Contract # <== Contract, Title / Description <== Description, Status <== Status, SOV per item
    assert (contract.number, contract.title, contract.description, contract.status, contract.sage_contract_id,
            contract.billing_method) == (number, "Main contract", "Main contract", "Approved", number, "Use Contracts")
    assert contract.imported_at is not None
    items = session.scalars(select(PrimeContractItem).where(PrimeContractItem.contract_id == contract.id)
                            .order_by(PrimeContractItem.code)).all()
    assert [(i.code, i.description, i.amount) for i in items] == [
        ("1", "Foundations", Decimal("100000.00")), ("2", "Frame", Decimal("250000.00"))]
    with pytest.raises(Conflict):
        rti.import_contract(session, actor, rec.id)
    # nothing new in Sage: Re-Import unavailable, with the guide's reason
    rec = record(session, "contract", f"contract:{number}")
    assert any("no new un-synced line items" in r for r in rti.reimport_blockers(session, rec))
    with pytest.raises(Conflict):
        rti.reimport_contract(session, actor, rec.id)
    sage.contract_items[number].append({"Item": "3", "Description": "Roof", "Original_Amount": Decimal("5000")})
    assert run(session, sage, "prime_contracts").updated >= 1
    rec = record(session, "contract", f"contract:{number}")
    assert rti.reimport_blockers(session, rec) == []
    assert rti.reimport_contract(session, actor, rec.id) == 1
    items = session.scalars(select(PrimeContractItem).where(PrimeContractItem.contract_id == contract.id)).all()
    assert len(items) == 3


@pytest.mark.parametrize("level, expected", [
    ("Job", [(None, None, Decimal("900000"))]),
    ("Division", [("03", "03, Concrete", Decimal("400000")), ("05", "05, Metals", Decimal("500000"))]),
    ("Section", [("03-300", "03-300, Cast in place", Decimal("400000"))]),
])
def test_quickbill_prime_contract_lines_follow_the_billing_level(session, level, expected):
    sage = FakeSage()
    project = synced_project(session, sage, billing_method="Use Quickbill", billing_level=level)
    job = project.sage_job_id
    values = {"Job": [("", "Whole job", "900000")],
              "Division": [("03", "Concrete", "400000"), ("05", "Metals", "500000")],
              "Section": [("03-300", "Cast in place", "400000")]}[level]
    sage.schedule_values[job] = [{"Job": job, "Level_Code": c, "Description": d,
                                  "Original_Contract_Amount": Decimal(a)} for c, d, a in values]
    run(session, sage, "prime_contracts")
    contract = rti.import_contract(session, approver(session), record(session, "contract", f"quickbill:{job}").id)
    items = session.scalars(select(PrimeContractItem).where(PrimeContractItem.contract_id == contract.id)
                            .order_by(PrimeContractItem.code)).all()
    # Quickbill: Contract # <== Job, Status Approved; one line (Job) or one per division / cost code
    assert (contract.number, contract.status, contract.billing_level) == (job, "Approved", level)
    got = [(i.code, i.description, i.amount) for i in items]
    if level == "Job":
        assert len(got) == 1 and got[0][0] == job and got[0][2] == Decimal("900000.00")
    else:
        assert got == expected


def test_reimport_unavailable_when_the_contract_is_in_two_projects(session):
    sage = FakeSage()
    project = synced_project(session, sage)
    other = synced_project(session, sage)
    number = f"CN{suffix()}"
    sage.contracts.append({"Contract": number, "Job": project.sage_job_id, "Description": "Twice",
                           "Status": "Open", "Billing_Method": "Use Contracts"})
    sage.contract_items[number] = [{"Item": "1", "Description": "A", "Original_Amount": Decimal("1")}]
    run(session, sage, "prime_contracts")
    rec = record(session, "contract", f"contract:{number}")
    rti.import_contract(session, approver(session), rec.id)
    session.add(PrimeContract(project_id=other.id, number=number, title="copy", sage_contract_id=number,
                              billing_method="Use Contracts"))
    session.commit()
    sage.contract_items[number].append({"Item": "2", "Description": "B", "Original_Amount": Decimal("2")})
    run(session, sage, "prime_contracts")
    reasons = rti.reimport_blockers(session, record(session, "contract", f"contract:{number}"))
    assert "The prime contract has been added to two projects." in reasons


# ---- job costs -------------------------------------------------------------------------------------

def test_job_costs_lines_map_every_report_column_and_rerun_changes_nothing(session):
    sage = FakeSage()
    project = synced_project(session, sage)
    job = project.sage_job_id
    sage.cost_line(job, "01-100", "L", Original_Estimate="1000", Original_Estimate_Units="10",
                   Approved_Estimate_Changes="200", Approved_Estimate_Unit_Changes="2", Total_Estimate="1200",
                   Total_Estimate_Units="12", Original_Commitment="800", Approved_Commitment_Changes="50",
                   Revised_Commitment="850", Commitment_Invoiced="300", JTD_Cost="450", JTD_Units="4",
                   JTD_Dollars_Paid="250", MTD_Cost="120", MTD_Dollars_Paid="60", MTD_Units="1")
    first = run(session, sage, "job_costs", project_id=project.id)
    line = session.scalars(select(JobCostLine).where(JobCostLine.project_id == project.id)).one()
    assert first.added == 1
    assert (line.cost_code, line.category, line.original_budget, line.original_budget_units,
            line.approved_budget_changes, line.approved_budget_unit_changes, line.revised_budget,
            line.revised_budget_units, line.original_commitment, line.approved_commitment_changes,
            line.revised_commitment, line.commitment_invoiced, line.jtd_cost, line.jtd_units,
            line.jtd_dollars_paid, line.mtd_cost, line.mtd_dollars_paid, line.mtd_units) == (
        "01-100", "L", 1000, 10, 200, 2, 1200, 12, 800, 50, 850, 300, 450, 4, 250, 120, 60, 1)
    assert line.direct_costs == Decimal("150")  # Direct Costs <== JTD Cost - Commitment Invoiced
    again = run(session, sage, "job_costs", project_id=project.id)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    sage.costs[job][0]["JTD_Cost"] = Decimal("500")
    assert run(session, sage, "job_costs", project_id=project.id).updated == 1
    sage.costs[job].clear()
    run(session, sage, "job_costs", project_id=project.id)
    assert session.scalars(select(JobCostLine).where(JobCostLine.project_id == project.id)).all() == []


def test_transaction_sync_imports_posted_costs_as_direct_costs(session):
    sage = FakeSage()
    project = synced_project(session, sage)
    job = project.sage_job_id
    sage.transaction(job, 1, "AP cost", "500", Vendor="V1", Invoice="INV-1", Commitment="SC-1")
    sage.transaction(job, 2, "AP cost", "40", Vendor="V2", Invoice="INV-2")
    sage.transaction(job, 3, "PR cost", "900", Units=Decimal("10"), Unit_Cost=Decimal("90"), Vendor="ignored")
    sage.transaction(job, 4, "EQ cost", "75")
    run(session, sage, "job_costs", project_id=project.id)
    assert session.scalars(select(DirectCost).where(DirectCost.project_id == project.id)).all() == []  # off
    project.transaction_sync = True
    session.commit()
    first = run(session, sage, "job_costs", project_id=project.id)
    costs = {c.sage_transaction_id: c
             for c in session.scalars(select(DirectCost).where(DirectCost.project_id == project.id))}
    assert first.added == 4
    assert (costs[1].cost_type, costs[1].vendor, costs[1].invoice) == ("Subcontractor Invoice", "V1", "INV-1")
    assert costs[2].cost_type == "Invoice"
    assert (costs[3].cost_type, costs[3].qty, costs[3].unit_cost, costs[3].vendor) == ("Payroll", 10, 90, "")
    assert costs[4].cost_type == "Expense" and costs[4].status == "Approved"
    assert run(session, sage, "job_costs", project_id=project.id).added == 0


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


# ---- against the simulator's own readers ----------------------------------------------------------

def test_job_costs_and_direct_costs_from_the_simulator(session, sim):
    from datetime import date

    from tests.factories import Setup
    setup = Setup(session, sim)
    job = setup.project.sage_job_id
    sim.add_transaction(job, "03-300", "SUB", "Original estimate", "60000")
    sim.add_transaction(job, "03-300", "SUB", "Committed cost", "50000", commitment=setup.commitment.erp_commitment_id)
    sim.add_cost(job, "03-300", "SUB", "AP cost", "12000", vendor=setup.vendor.erp_vendor_id, invoice="A-1",
                 commitment=setup.commitment.erp_commitment_id, amount_paid="10000")
    sim.add_cost(job, "03-300", "MAT", "PR cost", "800", units="16", unit_cost="50", date=date(2020, 1, 15))
    setup.project.transaction_sync = True
    session.commit()
    first = run(session, sim, "job_costs", project_id=setup.project.id)
    lines = {(ln.cost_code, ln.category): ln for ln in
             session.scalars(select(JobCostLine).where(JobCostLine.project_id == setup.project.id))}
    sub, mat = lines[("03-300", "SUB")], lines[("03-300", "MAT")]
    assert sub.original_budget == 60000 and sub.revised_commitment == 50000
    assert (sub.jtd_cost, sub.commitment_invoiced, sub.jtd_dollars_paid, sub.direct_costs) == (12000, 12000, 10000, 0)
    assert (mat.jtd_cost, mat.jtd_units, mat.mtd_cost) == (800, 16, 0)  # posted in 2020: not this month
    costs = session.scalars(select(DirectCost).where(DirectCost.project_id == setup.project.id)
                            .order_by(DirectCost.sage_transaction_id)).all()
    assert [(c.cost_type, c.amount) for c in costs] == [("Subcontractor Invoice", 12000), ("Payroll", 800)]
    assert first.errors == 0
    again = run(session, sim, "job_costs", project_id=setup.project.id)
    assert (again.added, again.updated) == (0, 0)


def test_vendors_and_jobs_from_the_simulator_never_duplicate(session, sim):
    vendor_id, job = f"S{suffix(8)}"[:10], f"{suffix(2)}-{suffix(3)}"
    sim.add_vendor(vendor_id, "Simulated Supply", city="Eugene")
    sim.add_job(job, "Simulated Job", city="Eugene")
    run(session, sim, "vendors")
    run(session, sim, "jobs")
    actor = erp_admin(session)
    rti.add_vendor(session, actor, record(session, "vendor", vendor_id).id)
    rti.add_job(session, actor, record(session, "job", job).id, sim)
    for key in ("vendors", "jobs"):
        assert run(session, sim, key).added == 0
    assert session.scalar(select(func.count()).select_from(Vendor).where(Vendor.erp_vendor_id == vendor_id)) == 1
    assert session.scalar(select(func.count()).select_from(Project).where(Project.sage_job_id == job)) == 1


def test_refresh_project_imports_the_budget_only_while_unlocked(session):
    sage = FakeSage()
    project = synced_project(session, sage)
    job = project.sage_job_id
    sage.code(job, "07-100", "Roofing", categories=("L", "M"))
    sage.cost_line(job, "07-100", "L", Original_Estimate="4000")
    sage.cost_line(job, "07-100", "M", Original_Estimate="6000")
    actor = erp_admin(session)
    for refused in (make_user(session, erp_level=ToolLevel.READ_ONLY), approver(session)):
        with pytest.raises(PermissionDenied):  # the guide: Admin on ERP Integrations only
            rti.refresh_project(session, refused, project.id, sage)
    result = rti.refresh_project(session, actor, project.id, sage)
    assert (result.codes_added, result.budget_lines) == (2, 2)
    budget = session.scalars(select(Budget).where(Budget.project_id == project.id)).one()
    lines = session.scalars(select(BudgetLine).where(BudgetLine.budget_id == budget.id))
    originals = sorted(line.original for line in lines)
    assert originals == [Decimal("4000"), Decimal("6000")]
    assert rti.refresh_project(session, actor, project.id, sage).budget_lines == 0  # nothing new
    budget.locked = True
    session.commit()
    sage.costs[job][0]["Original_Estimate"] = Decimal("9999")
    sage.code(job, "07-200", "Flashing", categories=("M",))
    locked = rti.refresh_project(session, actor, project.id, sage)
    assert locked.codes_added == 1 and locked.budget_lines == 0 and "no longer permitted" in locked.budget_message
    assert sorted(line.original for line in session.scalars(
        select(BudgetLine).where(BudgetLine.budget_id == budget.id))) == [Decimal("4000"), Decimal("6000")]
    unsynced = Project(name="Never synced", number="NS")
    session.add(unsynced)
    session.commit()
    with pytest.raises(Invalid, match="not synced"):
        rti.refresh_project(session, actor, unsynced.id, sage)


def test_prime_contract_dates_from_the_simulator(session, sim):
    from datetime import date
    project = Project(name="Dated", number=f"{suffix(2)}-{suffix(3)}")
    project.sage_job_id = project.number
    session.add(project)
    session.commit()
    sim.add_job(project.sage_job_id, "Dated")
    number = f"D{suffix()}"
    sim.add_contract(number, project.sage_job_id, "Dated contract", items=[("1", "All", "10")],
                     work_started=date(2026, 2, 1), work_completed=date(2027, 6, 30))
    run(session, sim, "prime_contracts")
    contract = rti.import_contract(session, approver(session), record(session, "contract", f"contract:{number}").id)
    # Contract Start Date <== Work Started; Actual Completion Date <== Work Completed
    assert (contract.start_date, contract.completion_date) == (date(2026, 2, 1), date(2027, 6, 30))


def test_a_matching_company_that_cannot_be_linked_is_shown_with_why(session):
    s = suffix()
    linked = Vendor(name=f"Duplicate Glass {s} LLC", erp_vendor_id=f"D{suffix(8)}"[:10])
    waiting = Vendor(name=f"Duplicate Glass {s}")
    free = Vendor(name=f"Duplicate  Glass {s} Inc")
    session.add_all([linked, waiting, free])
    session.flush()
    session.add(ErpItem(item_type="vendor", item_id=waiting.id, state=State.READY, attempt=0))
    session.commit()
    sage = FakeSage()
    row = sage.vendor(name=f"Duplicate Glass {s}")
    run(session, sage, "vendors")
    rec = record(session, "vendor", row["Vendor"])
    found = rti.vendor_suggestions(session, [rec])[rec.id]
    assert found[0].target_id == free.id  # the linkable one first
    by_id = {x.target_id: x for x in found}
    assert by_id[free.id].blocked is None
    assert by_id[linked.id].blocked == f"already linked to Sage vendor {linked.erp_vendor_id}"
    assert "Ready to Export in ERP Integrations" in by_id[waiting.id].blocked


@pytest.mark.parametrize("key", sorted(sync.KINDS))
def test_every_sync_run_again_changes_nothing(session, key):
    sage = FakeSage()
    project = synced_project(session, sage, billing_method="Use Quickbill", billing_level="Division")
    job = project.sage_job_id
    sage.vendor()
    sage.job()
    sage.extras.append({"Job": job, "Extra": "X1", "Description": "Extra", "Status": "Open"})
    sage.code(job, "01-100", "General")
    sage.standard_codes = [{"Cost_Code": f"8{suffix(2)}-{suffix(3)}", "Description": "Std", "Status": "Active"}]
    sage.schedule_values[job] = [{"Job": job, "Level_Code": "01", "Description": "General",
                                  "Original_Contract_Amount": Decimal("10")}]
    sage.cost_line(job, "01-100", "L", JTD_Cost="5")
    project.transaction_sync = True
    session.commit()
    sage.transaction(job, 99)
    insured = Vendor(name=f"Insured {suffix()}", erp_vendor_id=f"I{suffix(8)}"[:10])
    session.add(insured)
    session.commit()
    sage.insure(insured.erp_vendor_id)
    sage.payments.append(paid_invoice(session))
    scope = project.id if sync.KINDS[key].per_project else None
    first = run(session, sage, key, project_id=scope)
    second = run(session, sage, key, project_id=scope)
    assert first.status == second.status == SyncStatus.DONE
    assert first.added >= 1
    assert (second.added, second.updated, second.errors) == (0, 0, 0) and second.unchanged >= 1


def test_two_processes_starting_the_same_sync_at_once_get_one_run(app):
    """Two web processes (threads with sessions of their own) press Sync at the same moment:
    the partial unique index lets one run in; the other gets that run back."""
    import threading

    from portal.extensions import db
    with app.app_context():
        actor_id = approver(db.session).id
        db.session.remove()
    barrier = threading.Barrier(4)
    got, errors = [], []

    def press():
        try:
            with app.app_context():
                from portal.domain.models import User
                session = db.session
                actor = session.get(User, actor_id)
                barrier.wait(timeout=10)
                got.append(sync.start(session, actor, "sub_jobs", RecordingQueue()).id)
                session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and len(got) == 4
    assert len(set(got)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SyncRun).where(
            SyncRun.kind == "sub_jobs", SyncRun.status.in_(SyncStatus.ACTIVE))) == 1
        sync.execute(db.session, got[0], FakeSage())
        db.session.remove()


def test_a_synced_project_with_the_same_name_is_shown_as_the_likely_duplicate(session):
    sage = FakeSage()
    name = f"Harbor Point {suffix()}"
    row = sage.job(description=name)
    twin = Project(name=name, number="X-1", sage_job_id=f"Z{suffix(8)}"[:10])
    session.add(twin)
    session.commit()
    run(session, sage, "jobs")
    rec = record(session, "job", row["Job"])
    found = {x.target_id: x for x in rti.job_suggestions(session, [rec])[rec.id]}
    assert found[twin.id].blocked == f"already synced with Sage job {twin.sage_job_id}"
