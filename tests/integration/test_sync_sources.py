"""Syncs from Sage of prime contracts and job costs, and every sync against the simulator's own
readers (idempotence, no duplicates, races between processes)."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain import ready_to_import as rti, sync
from portal.domain.errors import Conflict, Invalid, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import (
    Budget,
    BudgetLine,
    ErpItem,
    PrimeContract,
    PrimeContractItem,
    Project,
    ToolLevel,
    Vendor,
)
from portal.domain.sage_models import (
    DirectCost,
    JobCostLine,
    SyncRun,
    SyncStatus,
)
from tests.factories import approver, erp_admin, make_user, suffix
from tests.fake_sage import FakeSage, RecordingQueue
from tests.sync_runs import paid_invoice, record, run, synced_project

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
