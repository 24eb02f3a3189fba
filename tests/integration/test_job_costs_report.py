"""The Job Costs report service against a real database: lines in order with their cost code
descriptions, totals of every column, the chart's sums per cost code, the CSV, the direct costs
pages (a constant number of queries), who may read, and the audited transaction sync switch.

The job cost sync (the lead's RQ job) fills job_cost_line and direct_cost; here rows are
inserted directly, as that sync would leave them.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain import job_costs
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.models import CostCode, Project, SettingChange, SubJob, ToolLevel
from portal.domain.sage_models import DirectCost, JobCostLine
from tests import factories as f

D = Decimal
T0 = datetime(2026, 11, 2, 8, 30)

MONEY_FIELDS = ("original_budget", "approved_budget_changes", "revised_budget", "original_commitment",
                "approved_commitment_changes", "revised_commitment", "commitment_invoiced", "jtd_cost",
                "jtd_dollars_paid", "mtd_cost", "mtd_dollars_paid")
UNIT_FIELDS = ("original_budget_units", "approved_budget_unit_changes", "revised_budget_units",
               "jtd_units", "mtd_units")

# The guide's Job Costs report columns, written out here so a renamed column fails a test.
GUIDE_HEADER = ["Cost Code", "Cat.", "Description", "Original Budget", "Original Budget Units",
                "Approved Budget Changes", "Approved Budget Unit Changes", "Revised Budget",
                "Revised Budget Units", "Original Commitment", "Approved Commitment Changes",
                "Revised Commitment", "Commitment Invoiced", "Job to Date Cost", "Job to Date Actual Units",
                "Job to Date Dollars Paid", "Month to Date Cost", "Month to Date Dollars Paid",
                "Month to Date Actual Units", "Direct Costs"]


def line_values(seed: int, **over) -> dict:
    """Distinct values in every column, derived from seed, so a column summed wrong shows."""
    values = {name: D(seed * 1000 + i * 7) + D("0.25") for i, name in enumerate(MONEY_FIELDS)}
    values.update({name: D(seed * 10 + i) + D("0.5") for i, name in enumerate(UNIT_FIELDS)})
    values.update(over)
    return values


# (extra, cost code, category, description stored on the line, values), inserted out of order.
LINES = [
    ("E1", "03-300", "SUB", "Sage text E1", line_values(4, revised_budget=D("9000"), revised_commitment=D("8000"),
                                                        jtd_cost=D("2500.50"))),
    ("", "02-200", "SUB", "Sitework (from Sage)", line_values(3, revised_budget=D("5000"),
                                                              revised_commitment=D("4500"), jtd_cost=D("2000"),
                                                              commitment_invoiced=D("2000"))),
    ("", "01-100", "MAT", "Sage text MAT", line_values(2, revised_budget=D("300"), revised_commitment=D("0"),
                                                       jtd_cost=D("100"), commitment_invoiced=D("0"))),
    ("", "01-100", "LAB", "Sage text LAB", line_values(1, revised_budget=D("1200"), revised_commitment=D("800"),
                                                       jtd_cost=D("500"), commitment_invoiced=D("300"))),
]


def synced_project(session, *, sage=True) -> Project:
    s = f.suffix()
    project = Project(name=f"Job cost project {s}", number=f"JC-{s}", sage_job_id=f"J{s}"[:10] if sage else None)
    session.add(project)
    session.commit()
    return project


def add_lines(session, project, lines=LINES, synced_at=T0) -> list[JobCostLine]:
    rows = []
    for i, (extra, code, cat, description, values) in enumerate(lines):
        rows.append(JobCostLine(project_id=project.id, extra=extra, cost_code=code, category=cat,
                                description=description, synced_at=synced_at + timedelta(minutes=i),
                                **values))
    session.add_all(rows)
    session.commit()
    return rows


def add_cost_codes(session, project) -> None:
    """The project's own cost codes: 01-100 on the job, 03-300 on its sub job (Sage extra E1),
    02-200 on a sub job not yet in Sage (no extra: it must not name the job's 02-200)."""
    sub_job = SubJob(project_id=project.id, code="PH1", name="Phase 1", sage_extra_id="E1")
    not_in_sage = SubJob(project_id=project.id, code="PH2", name="Phase 2")
    session.add_all([sub_job, not_in_sage])
    session.flush()
    session.add_all([CostCode(project_id=project.id, code="01-100", description="General Conditions"),
                     CostCode(project_id=project.id, sub_job_id=sub_job.id, code="03-300",
                              description="Concrete - Phase 1"),
                     CostCode(project_id=project.id, sub_job_id=not_in_sage.id, code="02-200",
                              description="Not the job's 02-200")])
    session.commit()


def add_direct_costs(session, project, n: int, start_id: int = 1) -> None:
    session.add_all([DirectCost(project_id=project.id, sage_transaction_id=start_id + i, cost_type="Invoice",
                                sage_type="AP cost", item_date=date(2026, 1, 1) + timedelta(days=i % 300),
                                description=f"Transaction {i}", vendor="V1", invoice=f"I-{i}",
                                cost_code="01-100", category="MAT", qty=D("2"), unit_cost=D("5.5"),
                                amount=D(i) + D("0.10"))
                     for i in range(n)])
    session.commit()


@pytest.fixture
def world(session):
    project = synced_project(session)
    add_cost_codes(session, project)
    add_lines(session, project)
    member = f.make_user(session)
    f.member(session, member, project, ToolLevel.READ_ONLY)
    return project, member


def count_statements(session):
    return f.statements(session.get_bind())


# ---- the report ------------------------------------------------------------------------------

def test_lines_in_order_with_the_projects_cost_code_descriptions(session, world):
    project, member = world
    report = job_costs.report(session, member, project.id)
    assert report.synced and report.line_count == 4
    assert [(r.line.extra, r.line.cost_code, r.line.category) for r in report.lines] == [
        ("", "01-100", "LAB"), ("", "01-100", "MAT"), ("", "02-200", "SUB"), ("E1", "03-300", "SUB")]
    assert [r.label for r in report.lines] == ["01-100", "01-100", "02-200", "E1/03-300"]
    # the project's CostCode rows win; a cost code the project lacks keeps Sage's text
    assert [r.description for r in report.lines] == ["General Conditions", "General Conditions",
                                                     "Sitework (from Sage)", "Concrete - Phase 1"]
    assert report.last_synced_at == T0 + timedelta(minutes=3)


def test_totals_of_every_money_and_unit_column_and_direct_costs(session, world):
    project, member = world
    report = job_costs.report(session, member, project.id)
    for name in MONEY_FIELDS + UNIT_FIELDS:
        assert report.totals[name] == sum(values[name] for *_, values in LINES), name
    expected_direct = sum(v["jtd_cost"] - v["commitment_invoiced"] for *_, v in LINES)
    assert report.totals["direct_costs"] == expected_direct
    assert [r.value("direct_costs") for r in report.lines][:2] == [D("200"), D("100")]
    assert set(report.totals) == set(MONEY_FIELDS + UNIT_FIELDS) | {"direct_costs"}


def test_chart_sums_the_categories_of_each_cost_code(session, world):
    project, member = world
    chart = job_costs.report(session, member, project.id).chart
    assert [g.label for g in chart.groups] == ["01-100", "02-200", "E1/03-300"]
    first = chart.groups[0]
    assert first.description == "General Conditions"
    assert first.values == {"revised_budget": D("1500"), "revised_commitment": D("800"), "jtd_cost": D("600")}
    assert chart.groups[2].values == {"revised_budget": D("9000"), "revised_commitment": D("8000"),
                                      "jtd_cost": D("2500.50")}
    assert chart.top >= D("9000") and chart.ticks[0] == 0 and chart.ticks[-1] == chart.top
    assert chart.ratio(D("9000")) <= 1 and chart.ratio(D("-5")) == 0.0


def test_search_narrows_lines_totals_and_chart(session, world):
    project, member = world
    report = job_costs.report(session, member, project.id, "  concrete ")
    assert report.search == "concrete"
    assert [r.label for r in report.lines] == ["E1/03-300"]
    assert report.totals["revised_budget"] == D("9000") and report.line_count == 4
    assert [g.label for g in report.chart.groups] == ["E1/03-300"]
    assert [r.line.category for r in job_costs.report(session, member, project.id, "mat").lines] == ["MAT"]
    assert job_costs.report(session, member, project.id, "no such code").lines == []


def fresh(session, user):
    """A new request's state: nothing cached but the signed-in user."""
    session.expire_all()
    session.refresh(user)


def test_report_costs_four_statements_whatever_the_number_of_lines(session, world):
    project, member = world
    fresh(session, member)
    with count_statements(session) as small:
        job_costs.report(session, member, project.id)
    bigger = synced_project(session)
    add_lines(session, bigger, [("", f"{i:02d}-{i:03d}", "LAB", "", line_values(i)) for i in range(60)])
    f.member(session, member, bigger, ToolLevel.READ_ONLY)
    fresh(session, member)
    with count_statements(session) as large:
        report = job_costs.report(session, member, bigger.id)
    assert len(report.lines) == 60
    assert len(small) == len(large) == 4, large


def test_a_project_that_is_not_a_sage_job_says_so_and_has_no_csv(session):
    project = synced_project(session, sage=False)
    admin = f.make_user(session, site_admin=True)
    report = job_costs.report(session, admin, project.id)
    assert not report.synced and report.lines == [] and report.last_synced_at is None
    with pytest.raises(Conflict, match="not synced with a Sage job"):
        job_costs.csv_text(report)


# ---- CSV -------------------------------------------------------------------------------------

def test_csv_has_the_guides_columns_one_row_per_line_and_totals(session, world):
    project, member = world
    report = job_costs.report(session, member, project.id)
    rows = list(csv.reader(io.StringIO(job_costs.csv_text(report))))
    assert rows[0] == GUIDE_HEADER
    assert len(rows) == 1 + 4 + 1
    lab = dict(zip(GUIDE_HEADER, rows[1], strict=False))
    values = LINES[3][4]
    assert (lab["Cost Code"], lab["Cat."], lab["Description"]) == ("01-100", "LAB", "General Conditions")
    assert lab["Original Budget"] == f"{values['original_budget']:.2f}"
    assert lab["Original Budget Units"] == "10.5"
    assert lab["Revised Budget"] == "1200.00" and lab["Job to Date Cost"] == "500.00"
    assert lab["Direct Costs"] == "200.00"
    assert rows[4][0] == "E1/03-300"
    totals = dict(zip(GUIDE_HEADER, rows[-1], strict=False))
    assert totals["Cost Code"] == "Totals" and totals["Cat."] == "" and totals["Description"] == ""
    assert totals["Revised Budget"] == "15500.00"
    assert D(totals["Job to Date Actual Units"]) == sum(v["jtd_units"] for *_, v in LINES)
    assert totals["Direct Costs"] == f"{report.totals['direct_costs']:.2f}"
    assert job_costs.csv_filename(report) == f"job-costs-{project.sage_job_id}.csv"


def test_csv_never_hands_a_spreadsheet_a_formula(session):
    project = synced_project(session)
    add_lines(session, project, [("", "01-100", "LAB", "=HYPERLINK(\"x\")", line_values(1))])
    report = job_costs.report(session, f.make_user(session, erp_level=ToolLevel.READ_ONLY), project.id)
    row = list(csv.reader(io.StringIO(job_costs.csv_text(report))))[1]
    assert row[2] == "'=HYPERLINK(\"x\")"


# ---- direct costs ----------------------------------------------------------------------------

def test_direct_costs_pages_newest_first_with_the_total_of_all(session, world):
    project, member = world
    add_direct_costs(session, project, 120)
    other = synced_project(session)
    add_direct_costs(session, other, 5)
    first = job_costs.direct_costs(session, member, project.id, 1, page_size=50)
    assert (first.page, first.pages, first.total, len(first.rows)) == (1, 3, 120, 50)
    assert first.amount == sum(D(i) + D("0.10") for i in range(120))
    dates = [(r.item_date, r.id) for r in first.rows]
    assert dates == sorted(dates, reverse=True)
    last = job_costs.direct_costs(session, member, project.id, 3, page_size=50)
    assert len(last.rows) == 20
    seen = {r.id for p in (1, 2, 3) for r in job_costs.direct_costs(session, member, project.id, p, 50).rows}
    assert len(seen) == 120
    assert job_costs.direct_costs(session, member, project.id, 99, 50).page == 3
    assert job_costs.direct_costs(session, member, project.id, 0, 50).page == 1


def test_direct_costs_page_costs_the_same_statements_at_10_and_300_rows(session, world):
    project, member = world
    add_direct_costs(session, project, 10)
    fresh(session, member)
    with count_statements(session) as small:
        job_costs.direct_costs(session, member, project.id, 1, 50)
    add_direct_costs(session, project, 290, start_id=1000)
    fresh(session, member)
    with count_statements(session) as large:
        page = job_costs.direct_costs(session, member, project.id, 2, 50)
    assert len(page.rows) == 50
    assert len(small) == len(large) == 4, large


def test_an_empty_direct_cost_list_is_one_page(session, world):
    project, member = world
    view = job_costs.direct_costs(session, member, project.id, 1, 50)
    assert (view.rows, view.pages, view.total, view.amount) == ([], 1, 0, D(0))


# ---- who may read ----------------------------------------------------------------------------

READERS = {
    "erp_readonly": dict(erp_level=ToolLevel.READ_ONLY),
    "erp_standard": dict(erp_level=ToolLevel.STANDARD),
    "erp_admin": dict(erp_level=ToolLevel.ADMIN),
    "site_admin": dict(site_admin=True),
}


@pytest.mark.parametrize("who", [*READERS, "project_readonly", "project_admin", "nobody",
                                 "project_none"])
def test_who_may_read_the_report_and_direct_costs(session, who):
    project = synced_project(session)
    add_lines(session, project)
    user = f.make_user(session, **READERS.get(who, {}))
    if who in ("project_readonly", "project_admin", "project_none"):
        level = {"project_readonly": ToolLevel.READ_ONLY, "project_admin": ToolLevel.ADMIN,
                 "project_none": ToolLevel.NONE}[who]
        f.member(session, user, project, level)
    if who in ("nobody", "project_none"):
        with pytest.raises(PermissionDenied):
            job_costs.report(session, user, project.id)
        with pytest.raises(PermissionDenied):
            job_costs.direct_costs(session, user, project.id, 1)
    else:
        assert len(job_costs.report(session, user, project.id).lines) == 4
        assert job_costs.direct_costs(session, user, project.id, 1).total == 0


def test_an_unknown_project_is_not_found(session):
    user = f.make_user(session, site_admin=True)
    missing = (session.scalar(select(func.max(Project.id))) or 0) + 1000
    with pytest.raises(NotFound):
        job_costs.report(session, user, missing)
    with pytest.raises(NotFound):
        job_costs.direct_costs(session, user, missing, 1)
    with pytest.raises(NotFound):
        job_costs.set_transaction_sync(session, user, missing, True)


# ---- transaction sync ------------------------------------------------------------------------

def audits(session, project) -> list[tuple]:
    return [(a.old, a.new, a.actor_id) for a in session.scalars(
        select(SettingChange).where(SettingChange.key == f"transaction_sync:project:{project.id}")
        .order_by(SettingChange.id))]


@pytest.mark.parametrize("who", ["project_admin", "erp_admin", "site_admin"])
def test_project_and_erp_admins_turn_transaction_sync_on_and_off_audited(session, who):
    project = synced_project(session)
    user = f.make_user(session, erp_level=ToolLevel.ADMIN if who == "erp_admin" else ToolLevel.NONE,
                       site_admin=who == "site_admin")
    if who == "project_admin":
        f.member(session, user, project, ToolLevel.ADMIN)
    assert job_costs.report(session, user, project.id).can_set_transaction_sync
    assert job_costs.set_transaction_sync(session, user, project.id, True).transaction_sync is True
    job_costs.set_transaction_sync(session, user, project.id, "on")      # unchanged: no audit row
    job_costs.set_transaction_sync(session, user, project.id, "off")
    session.expire_all()
    assert session.get(Project, project.id).transaction_sync is False
    assert audits(session, project) == [(False, True, user.id), (True, False, user.id)]


@pytest.mark.parametrize("who", ["project_readonly", "project_standard", "erp_standard", "approver"])
def test_others_cannot_change_transaction_sync(session, who):
    project = synced_project(session)
    if who == "approver":
        user = f.approver(session)
    else:
        user = f.make_user(session, erp_level=ToolLevel.STANDARD if who == "erp_standard" else ToolLevel.NONE)
    if who.startswith("project_"):
        f.member(session, user, project, ToolLevel.READ_ONLY if who == "project_readonly" else ToolLevel.STANDARD)
    assert not job_costs.report(session, user, project.id).can_set_transaction_sync
    with pytest.raises(PermissionDenied):
        job_costs.set_transaction_sync(session, user, project.id, True)
    session.expire_all()
    assert session.get(Project, project.id).transaction_sync is False
    assert audits(session, project) == []


@pytest.mark.parametrize("value", ["", "maybe", None, "2"])
def test_a_value_that_is_not_on_or_off_names_the_field_and_changes_nothing(session, value):
    project = synced_project(session)
    user = f.make_user(session, erp_level=ToolLevel.ADMIN)
    with pytest.raises(Invalid) as exc:
        job_costs.set_transaction_sync(session, user, project.id, value)
    assert "transaction_sync" in exc.value.fields
    session.expire_all()
    assert session.get(Project, project.id).transaction_sync is False
    assert audits(session, project) == []


# ---- formatting ------------------------------------------------------------------------------

@pytest.mark.parametrize("largest, top", [(D("0"), D("1000")), (D("7"), D("8")), (D("999"), D("1000")),
                                          (D("1234.56"), D("1250")), (D("9000"), D("10000")),
                                          (D("123456789.12"), D("125000000"))])
def test_the_chart_axis_ends_on_a_round_number(largest, top):
    got, step = job_costs.nice_scale(largest)
    assert got == top and got >= largest and (got / step) == (got / step).to_integral_value()


def test_units_and_axis_labels_read_like_numbers():
    assert job_costs.format_units(D("12.5000")) == "12.50"
    assert job_costs.format_units(D("1234567.1234")) == "1,234,567.1234"
    assert job_costs.format_units(None) == ""
    assert [job_costs.axis_label(D(v)) for v in ("0", "250", "1250", "1500000")] == ["$0", "$250", "$1.25K", "$1.5M"]
