"""A synced project's Job Costs report (the rows the job cost sync reads from Sage), its chart,
its CSV, the posted transactions imported as direct costs, and the transaction sync switch."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain import policy
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.models import CostCode, Project, SettingChange, SubJob, User, utcnow
from portal.domain.sage_models import DirectCost, JobCostLine
from portal.domain.services import project_level
from portal.domain.uow import transactional
from portal.domain.values import csv_cell

MONEY, UNITS = "money", "units"


@dataclass(frozen=True)
class Column:
    label: str      # the guide's name of the Job Costs report column
    attr: str       # JobCostLine attribute
    measure: str    # MONEY or UNITS


# The amount columns of the guide's "Job Costs Report" mapping table, in its order, then the
# budget's calculated Direct Costs column (JTD Cost - Commitment Invoiced).
COLUMNS = (
    Column("Original Budget", "original_budget", MONEY),
    Column("Original Budget Units", "original_budget_units", UNITS),
    Column("Approved Budget Changes", "approved_budget_changes", MONEY),
    Column("Approved Budget Unit Changes", "approved_budget_unit_changes", UNITS),
    Column("Revised Budget", "revised_budget", MONEY),
    Column("Revised Budget Units", "revised_budget_units", UNITS),
    Column("Original Commitment", "original_commitment", MONEY),
    Column("Approved Commitment Changes", "approved_commitment_changes", MONEY),
    Column("Revised Commitment", "revised_commitment", MONEY),
    Column("Commitment Invoiced", "commitment_invoiced", MONEY),
    Column("Job to Date Cost", "jtd_cost", MONEY),
    Column("Job to Date Actual Units", "jtd_units", UNITS),
    Column("Job to Date Dollars Paid", "jtd_dollars_paid", MONEY),
    Column("Month to Date Cost", "mtd_cost", MONEY),
    Column("Month to Date Dollars Paid", "mtd_dollars_paid", MONEY),
    Column("Month to Date Actual Units", "mtd_units", UNITS),
    Column("Direct Costs", "direct_costs", MONEY),
)
KEY_HEADERS = ("Cost Code", "Cat.", "Description")
CSV_HEADER = KEY_HEADERS + tuple(c.label for c in COLUMNS)

# The chart's series: (attribute, legend label).
SERIES = (("revised_budget", "Budget"), ("revised_commitment", "Committed"),
          ("jtd_cost", "Cost to date"))
NICE_STEPS = tuple(Decimal(m) for m in ("1", "2", "2.5", "5", "10"))

NOT_SYNCED = ("This project is not synced with a Sage job, so Sage holds no job costs for it. "
              "Once it has been sent to Sage as a job and accepted by accounting, its job costs "
              "appear here after the next job cost sync.")


def cost_code_label(extra: str, cost_code: str) -> str:
    """A cost code as the report shows it: prefixed by its Sage extra when it has one."""
    return f"{extra}/{cost_code}" if extra else cost_code


@dataclass
class ReportLine:
    line: JobCostLine
    description: str

    @property
    def label(self) -> str:
        return cost_code_label(self.line.extra, self.line.cost_code)

    def value(self, attr: str) -> Decimal:
        return getattr(self.line, attr) or Decimal(0)


@dataclass
class ChartGroup:
    """One cost code (its categories summed): revised budget, revised commitment, JTD cost."""
    label: str
    description: str
    values: dict[str, Decimal]


@dataclass
class Chart:
    groups: list[ChartGroup]
    top: Decimal                 # the value axis runs from 0 to top
    ticks: list[Decimal]         # value axis gridlines, 0 .. top

    def ratio(self, value: Decimal) -> float:
        """A value's share of the axis (0..1; negative amounts draw no bar)."""
        return min(1.0, max(0.0, float(value / self.top)))


@dataclass
class Report:
    project: Project
    search: str
    lines: list[ReportLine]
    totals: dict[str, Decimal]
    last_synced_at: datetime | None
    chart: Chart
    line_count: int              # lines of the project before the search
    level: str                   # the actor's level on the project's tools
    can_set_transaction_sync: bool = False

    @property
    def synced(self) -> bool:
        """The project is a Sage job: its job costs can come from Sage."""
        return bool(self.project.sage_job_id)


@dataclass
class DirectCostPage:
    project: Project
    rows: list[DirectCost]
    page: int
    pages: int
    total: int
    amount: Decimal              # of every direct cost of the project, not only this page
    level: str
    can_set_transaction_sync: bool
    page_size: int = 50

    @property
    def synced(self) -> bool:
        """The project is a Sage job."""
        return bool(self.project.sage_job_id)


def _project_for(session: Session, actor: User, project_id: int) -> tuple[Project, str]:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("No such project.")
    level = project_level(session, actor, project_id)
    if not policy.can(actor, policy.VIEW_JOB_COSTS, project_level=level):
        raise PermissionDenied("The Job Costs report needs access to the ERP Integrations tool "
                               "or to this project.")
    return project, level


def _descriptions(session: Session, project_id: int) -> dict[tuple[str, str], str]:
    """(extra, cost code) -> the description of the project's cost code, in one query."""
    rows = session.execute(select(CostCode.sub_job_id, SubJob.sage_extra_id, CostCode.code,
                                  CostCode.description)
                           .outerjoin(SubJob, SubJob.id == CostCode.sub_job_id)
                           .where(CostCode.project_id == project_id)).all()
    # A sub job not yet in Sage has no extra: its cost codes match no line.
    return {(extra or "", code): description for sub_job_id, extra, code, description in rows
            if description and (sub_job_id is None or extra)}


def report(session: Session, actor: User, project_id: int, search: str = "") -> Report:
    """The Job Costs report of a project, narrowed by search (cost code, category, description)."""
    project, level = _project_for(session, actor, project_id)
    lines = session.scalars(select(JobCostLine).where(JobCostLine.project_id == project.id)
                            .order_by(JobCostLine.extra, JobCostLine.cost_code,
                                      JobCostLine.category)).all()
    names = _descriptions(session, project.id) if lines else {}
    rows = [ReportLine(line, names.get((line.extra, line.cost_code)) or line.description)
            for line in lines]
    search = (search or "").strip()[:100]
    if search:
        needle = search.lower()
        rows = [r for r in rows if needle in r.label.lower() or needle in r.line.category.lower()
                or needle in r.description.lower()]
    totals = {c.attr: sum((r.value(c.attr) for r in rows), Decimal(0)) for c in COLUMNS}
    return Report(project=project, search=search, lines=rows, totals=totals,
                  last_synced_at=max((line.synced_at for line in lines), default=None),
                  chart=chart(rows), line_count=len(lines), level=level,
                  can_set_transaction_sync=policy.can(actor, policy.SET_TRANSACTION_SYNC,
                                                      project_level=level))


def chart(rows: list[ReportLine]) -> Chart:
    """Per cost code (summing its categories): revised budget, revised commitment, JTD cost."""
    groups: dict[str, ChartGroup] = {}
    for row in rows:
        group = groups.get(row.label)
        if group is None:
            group = groups[row.label] = ChartGroup(row.label, row.description,
                                                   {attr: Decimal(0) for attr, _ in SERIES})
        for attr, _ in SERIES:
            group.values[attr] += row.value(attr)
    largest = max((v for g in groups.values() for v in g.values.values()), default=Decimal(0))
    top, step = nice_scale(largest)
    return Chart(list(groups.values()), top, [step * i for i in range(int(top / step) + 1)])


def nice_scale(largest: Decimal, ticks: int = 5) -> tuple[Decimal, Decimal]:
    """(top, step): a round axis maximum >= largest, cut in about `ticks` round steps."""
    if largest <= 0:
        return Decimal(1000), Decimal(250)
    raw = largest / ticks
    magnitude = Decimal(10) ** raw.adjusted()
    step = next(m * magnitude for m in NICE_STEPS if m * magnitude >= raw)
    return step * (largest / step).to_integral_value(rounding=ROUND_CEILING), step


def axis_label(value: Decimal) -> str:
    """An axis tick as people read it: $0, $250K, $1.5M."""
    for size, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K")):
        if abs(value) >= size:
            return f"${_trim(value / size)}{suffix}"
    return f"${_trim(value)}"


def _trim(value: Decimal) -> str:
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_units(value: Decimal | None) -> str:
    """Units with thousands separators, 2 decimals, more only when Sage recorded them."""
    if value is None:
        return ""
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:,.{places}f}"


def _csv_number(value: Decimal, measure: str) -> str:
    if measure == MONEY:
        return f"{value:.2f}"
    return format(value.normalize(), "f") if value else "0"


def csv_text(report: Report) -> str:
    """The report as CSV: the guide's column names, one row per line, then a Totals row."""
    if not report.synced:
        raise Conflict(NOT_SYNCED)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in report.lines:
        writer.writerow([csv_cell(row.label), csv_cell(row.line.category),
                         csv_cell(row.description)]
                        + [_csv_number(row.value(c.attr), c.measure) for c in COLUMNS])
    writer.writerow(["Totals", "", ""] + [_csv_number(report.totals[c.attr], c.measure) for c in COLUMNS])
    return out.getvalue()


def csv_filename(report: Report) -> str:
    """job-costs-<Sage Job ID>.csv, with only filename-safe characters."""
    if not report.synced:
        raise Conflict(NOT_SYNCED)
    return f"job-costs-{re.sub(r'[^A-Za-z0-9._-]', '_', report.project.sage_job_id or '')}.csv"


def direct_costs(session: Session, actor: User, project_id: int, page: int,
                 page_size: int = 50) -> DirectCostPage:
    """One page of the project's direct costs, newest first: 4 queries whatever their number."""
    project, level = _project_for(session, actor, project_id)
    where = DirectCost.project_id == project.id
    total, amount = session.execute(select(func.count(), func.coalesce(func.sum(DirectCost.amount), 0))
                                    .where(where)).one()
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    rows = session.scalars(select(DirectCost).where(where)
                           .order_by(DirectCost.item_date.desc(), DirectCost.id.desc())
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return DirectCostPage(project=project, rows=list(rows), page=page, pages=pages, total=total,
                          amount=Decimal(amount), page_size=page_size, level=level,
                          can_set_transaction_sync=policy.can(actor, policy.SET_TRANSACTION_SYNC,
                                                              project_level=level))


def parse_switch(value, name: str = "transaction_sync") -> bool:
    """A form's on/off value as a bool; anything else is Invalid naming the field."""
    if isinstance(value, bool):
        return value
    text = (value or "").strip().lower() if isinstance(value, str) else None
    if text in ("on", "1", "true", "yes"):
        return True
    if text in ("off", "0", "false", "no"):
        return False
    raise Invalid("Transaction sync must be on or off.",
                  fields={name: "Transaction sync must be on or off."})


@transactional
def set_transaction_sync(session: Session, actor: User, project_id: int, on: bool | str) -> Project:
    """Turn a project's transaction sync on or off (project / ERP Admins), audited."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("No such project.")
    level = project_level(session, actor, project_id)
    if not policy.can(actor, policy.SET_TRANSACTION_SYNC, project_level=level):
        raise PermissionDenied("Only the project's Admins and ERP Integrations admins can change "
                               "its transaction sync.")
    on = parse_switch(on)
    old = bool(project.transaction_sync)
    if old != on:
        project.transaction_sync = on
        session.add(SettingChange(key=f"transaction_sync:project:{project.id}", old=old, new=on,
                                  actor_id=actor.id, at=utcnow()))
    session.commit()
    return project
