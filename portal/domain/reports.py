"""The guide's two ERP reports: the Accountant report (every item in ERP Integrations, where it
stands and who moved it; ERP Admins) and the Unsyncable Direct Costs report (Sage cost
transactions that match no cost code and category of their project, or no company; Admin on
the project). Filters come from the URL; each report is a page at a time or a CSV of all of it.

A page costs the same few queries at 10 rows and at 10,000: the counts (1), the page's rows (1)
and, for the Accountant report, each item type's items on the page (1-2 per type shown).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased, joinedload

from portal.domain import policy
from portal.domain.errors import Invalid, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import Category, CostCode, ErpItem, Project, ProjectMember, SubJob, ToolLevel, User, Vendor
from portal.domain.sage_models import DirectCost
from portal.domain.search import like
from portal.domain.services import project_level
from portal.domain.tabs import TabRow
from portal.domain.types import REGISTRY
from portal.domain.values import as_id, csv_cell, mmddyyyy, parse_date, parse_search

CSV_CHUNK = 1000   # rows fetched at a time while writing a CSV


def _csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """CSV text: the header, then the rows, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _date_arg(args: dict, name: str, label: str) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return parse_date(raw, name)
    except Invalid:
        raise Invalid(f"{label}: enter a date as MM/DD/YYYY.", fields={name: "Enter a date as MM/DD/YYYY."}) \
            from None


def _id_arg(args: dict, name: str, label: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    value = as_id(raw)
    if value is None:
        raise Invalid(f"{label}: choose one from the list.", fields={name: "Choose one from the list."})
    return value


def _choice_arg(args: dict, name: str, label: str, choices: Iterable[str]) -> str:
    raw = (args.get(name) or "").strip()
    if raw and raw not in choices:
        raise Invalid(f"{label}: choose one from the list.", fields={name: "Choose one from the list."})
    return raw


def _range(args: dict) -> tuple[date | None, date | None]:
    start, end = _date_arg(args, "from", "From"), _date_arg(args, "to", "To")
    if start and end and end < start:
        raise Invalid("To: the end date is before the start date.", fields={"to": "Before the start date."})
    return start, end


# ---- the Accountant report -----------------------------------------------------------------------

ACCOUNTANT_HEADER = ("Type", "Project", "Item", "Status", "Sent By", "Sent At", "Decided By", "Decided At",
                     "Sage ID", "Synced At", "Sage's message / reason")


@dataclass(frozen=True)
class AccountantFilters:
    type_key: str = ""
    state: str = ""
    project_id: int | None = None
    start: date | None = None       # sent on or after
    end: date | None = None         # sent on or before

    @classmethod
    def parse(cls, args: dict) -> AccountantFilters:
        """The URL's filters (type, status, project, from, to); Invalid naming the field on bad input."""
        start, end = _range(args)
        return cls(type_key=_choice_arg(args, "type", "Type", REGISTRY),
                   state=_choice_arg(args, "status", "Status", State.LABELS),
                   project_id=_id_arg(args, "project", "Project"), start=start, end=end)

    def args(self) -> dict[str, str]:
        """The filters as URL arguments (pages and the CSV link keep them)."""
        values = {"type": self.type_key, "status": self.state,
                  "project": str(self.project_id or ""),
                  "from": self.start.isoformat() if self.start else "",
                  "to": self.end.isoformat() if self.end else ""}
        return {k: v for k, v in values.items() if v}


@dataclass
class AccountantRow:
    erp: ErpItem
    type_label: str
    project: str
    title: str

    @property
    def status(self) -> str:
        return State.LABELS.get(self.erp.state, self.erp.state)

    @property
    def message(self) -> str:
        if self.erp.state == State.REJECTED:
            return self.erp.reject_reason or ""
        return self.erp.sage_message or ""

    def cells(self) -> list[str]:
        erp = self.erp
        return [csv_cell(v) for v in (
            self.type_label, self.project, self.title, self.status, erp.sent_by.name if erp.sent_by else "",
            _stamp(erp.sent_at), erp.decided_by.name if erp.decided_by else "", _stamp(erp.decided_at),
            erp.erp_ref or "", _stamp(erp.synced_at), self.message)]


def _stamp(value: datetime | None) -> str:
    return f"{mmddyyyy(value.date())} {value:%H:%M}" if value else ""


@dataclass
class AccountantReport:
    filters: AccountantFilters
    rows: list[AccountantRow]
    counts: dict[str, int]           # items per state, under the filters but the status
    total: int
    page: int
    pages: int
    projects: list[tuple[int, str]] = field(default_factory=list)


def _require_accountant(actor: User) -> None:
    if not policy.can(actor, policy.ACCOUNTANT_REPORT):
        raise PermissionDenied("The Accountant report is for Admins of the ERP Integrations tool.")


def _accountant_where(filters: AccountantFilters, with_state: bool = True) -> list:
    where = []
    if filters.type_key:
        where.append(ErpItem.item_type == filters.type_key)
    else:  # a type no longer registered has no title to show
        where.append(ErpItem.item_type.in_(list(REGISTRY)))
    if filters.state and with_state:
        where.append(ErpItem.state == filters.state)
    if filters.project_id is not None:
        where.append(ErpItem.project_id == filters.project_id)
    if filters.start:
        where.append(ErpItem.sent_at >= datetime.combine(filters.start, time.min))
    if filters.end:
        where.append(ErpItem.sent_at < datetime.combine(filters.end + timedelta(days=1), time.min))
    return where


def _accountant_select(filters: AccountantFilters) -> Select:
    return (select(ErpItem).where(*_accountant_where(filters))
            .options(joinedload(ErpItem.sent_by), joinedload(ErpItem.decided_by))
            .order_by(ErpItem.sent_at.desc().nulls_last(), ErpItem.id.desc()))


def _accountant_rows(session: Session, erps: list[ErpItem]) -> list[AccountantRow]:
    """Rows for these erp items: each type's items in one load, the projects in one query."""
    by_type: dict[str, list[ErpItem]] = {}
    for erp in erps:
        by_type.setdefault(erp.item_type, []).append(erp)
    titles: dict[int, str] = {}
    for key, group in by_type.items():
        item_type = REGISTRY[key]
        items = item_type.load_many(session, [e.item_id for e in group], item_type.tab_options())
        values = item_type.row_values_many(session, list(items.values()))
        for erp in group:
            item: Any = items.get(erp.item_id)
            titles[erp.id] = TabRow(erp, item, values[erp.item_id]).title if item is not None else \
                f"{item_type.label} #{erp.item_id} (deleted)"
    project_ids = {e.project_id for e in erps if e.project_id is not None}
    projects = {pid: f"{number} {name}" for pid, number, name in session.execute(
        select(Project.id, Project.number, Project.name).where(Project.id.in_(project_ids)))} if project_ids else {}
    return [AccountantRow(erp, REGISTRY[erp.item_type].label,
                          projects.get(erp.project_id, "") if erp.project_id else "Company",
                          titles[erp.id]) for erp in erps]


def accountant_report(session: Session, actor: User, filters: AccountantFilters, page: int,
                      page_size: int = 50) -> AccountantReport:
    """One page of the Accountant report, newest sent first, with the count of each status."""
    _require_accountant(actor)
    counts = {state: n for state, n in session.execute(
        select(ErpItem.state, func.count()).where(*_accountant_where(filters, with_state=False))
        .group_by(ErpItem.state))}
    total = counts.get(filters.state, 0) if filters.state else sum(counts.values())
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    erps = list(session.scalars(_accountant_select(filters).offset((page - 1) * page_size).limit(page_size)))
    projects = [(pid, f"{number} {name}") for pid, number, name in session.execute(
        select(Project.id, Project.number, Project.name).order_by(Project.number).limit(1000))]
    return AccountantReport(filters, _accountant_rows(session, erps), counts, total, page, pages, projects)


def accountant_csv(session: Session, actor: User, filters: AccountantFilters) -> str:
    """The whole Accountant report under the filters as CSV, read a chunk of rows at a time."""
    _require_accountant(actor)

    def rows() -> Iterator[list[str]]:
        # one query read a chunk at a time (not OFFSET pages: each would sort every row again)
        for erps in session.scalars(_accountant_select(filters).execution_options(yield_per=CSV_CHUNK)).partitions():
            for row in _accountant_rows(session, list(erps)):
                yield row.cells()
    return _csv(ACCOUNTANT_HEADER, rows())


# ---- the Unsyncable Direct Costs report -----------------------------------------------------------

CODE, VENDOR = "cost_code", "vendor"
REASONS = {CODE: "Cost code and category not on the project", VENDOR: "Vendor not linked to a company"}
COST_TYPES = ("Invoice", "Subcontractor Invoice", "Payroll", "Expense")
UNSYNCABLE_HEADER = ("Project", "Sage Job ID", "Date", "Type", "Sage type", "Description", "Vendor", "Invoice #",
                     "Extra", "Cost Code", "Cat.", "Amount", "Why it cannot sync")


@dataclass(frozen=True)
class UnsyncableFilters:
    project_id: int | None = None
    reason: str = ""
    cost_type: str = ""
    start: date | None = None
    end: date | None = None
    q: str = ""

    @classmethod
    def parse(cls, args: dict) -> UnsyncableFilters:
        """The URL's filters (project, reason, type, from, to, q); Invalid naming the field on bad input."""
        start, end = _range(args)
        return cls(project_id=_id_arg(args, "project", "Project"),
                   reason=_choice_arg(args, "reason", "Reason", REASONS),
                   cost_type=_choice_arg(args, "type", "Type", COST_TYPES), start=start, end=end,
                   q=parse_search(args.get("q")))

    def args(self) -> dict[str, str]:
        values = {"project": str(self.project_id or ""), "reason": self.reason, "type": self.cost_type,
                  "from": self.start.isoformat() if self.start else "",
                  "to": self.end.isoformat() if self.end else "", "q": self.q}
        return {k: v for k, v in values.items() if v}


@dataclass
class UnsyncableRow:
    cost: DirectCost
    project: str
    job: str
    code_missing: bool
    vendor_missing: bool

    @property
    def reasons(self) -> list[str]:
        out = []
        if self.code_missing:
            out.append(f"{self.cost.cost_code} {self.cost.category}".strip() + " is not on the project"
                       + (f" (extra {self.cost.extra})" if self.cost.extra else ""))
        if self.vendor_missing:
            out.append(f"Vendor {self.cost.vendor} is not linked to a company")
        return out

    def cells(self) -> list[str]:
        c = self.cost
        return [csv_cell(v) for v in (self.project, self.job, mmddyyyy(c.item_date), c.cost_type, c.sage_type,
                                      c.description, c.vendor, c.invoice, c.extra, c.cost_code, c.category)] \
            + [f"{c.amount:.2f}", csv_cell("; ".join(self.reasons))]


@dataclass
class UnsyncableReport:
    filters: UnsyncableFilters
    rows: list[UnsyncableRow]
    total: int
    amount: Decimal
    page: int
    pages: int
    projects: list[tuple[int, str]]   # the projects the user may see the report of


def _visible_projects(session: Session, actor: User) -> Select:
    """The ids of the projects whose Unsyncable Direct Costs the actor may see (Admin on the project)."""
    if policy.can(actor, policy.UNSYNCABLE_REPORT, project_level=ToolLevel.NONE):  # site administrators
        return select(Project.id)
    return select(ProjectMember.project_id).where(ProjectMember.user_id == actor.id,
                                                  ProjectMember.level == ToolLevel.ADMIN)


def may_see_unsyncable(session: Session, actor: User) -> bool:
    """The actor may see the report of at least one project (the navigation shows its link)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    return bool(session.scalar(select(exists(_visible_projects(session, actor)))))


def _require_unsyncable(session: Session, actor: User, project_id: int | None) -> None:
    if project_id is not None:
        if not policy.can(actor, policy.UNSYNCABLE_REPORT, project_level=project_level(session, actor, project_id)):
            raise PermissionDenied("The Unsyncable Direct Costs report of a project needs Admin on that project.")
    elif not may_see_unsyncable(session, actor):
        raise PermissionDenied("The Unsyncable Direct Costs report needs Admin on a project.")


def _code_missing():
    """No category of a cost code of the cost's project (of its sub job, by Sage extra) matches it."""
    sub_job = aliased(SubJob)
    on_job = and_(DirectCost.extra == "", CostCode.sub_job_id.is_(None))
    on_extra = and_(DirectCost.extra != "", CostCode.sub_job_id.in_(
        select(sub_job.id).where(sub_job.project_id == DirectCost.project_id,
                                 sub_job.sage_extra_id == DirectCost.extra)))
    return ~exists(select(literal(1)).select_from(Category).join(CostCode, CostCode.id == Category.cost_code_id)
                   .where(CostCode.project_id == DirectCost.project_id, CostCode.code == DirectCost.cost_code,
                          Category.code == DirectCost.category, or_(on_job, on_extra)))


def _vendor_missing():
    """An Accounts Payable cost whose Sage vendor is linked to no company of the directory."""
    return and_(DirectCost.vendor != "",
                ~exists(select(literal(1)).where(Vendor.erp_vendor_id == DirectCost.vendor)))


def _unsyncable_where(session: Session, actor: User, filters: UnsyncableFilters) -> list:
    code, vendor = _code_missing(), _vendor_missing()
    reason = {CODE: code, VENDOR: vendor}.get(filters.reason, or_(code, vendor))
    where = [DirectCost.project_id.in_(_visible_projects(session, actor)), reason]
    if filters.project_id is not None:
        where.append(DirectCost.project_id == filters.project_id)
    if filters.cost_type:
        where.append(DirectCost.cost_type == filters.cost_type)
    if filters.start:
        where.append(DirectCost.item_date >= filters.start)
    if filters.end:
        where.append(DirectCost.item_date <= filters.end)
    if filters.q:
        where.append(or_(like(DirectCost.description, filters.q), like(DirectCost.vendor, filters.q),
                         like(DirectCost.invoice, filters.q), like(DirectCost.cost_code, filters.q)))
    return where


def _unsyncable_select(session: Session, actor: User, filters: UnsyncableFilters) -> Select:
    code, vendor = _code_missing(), _vendor_missing()
    return (select(DirectCost, Project.number, Project.name, Project.sage_job_id,
                   case((code, True), else_=False), case((vendor, True), else_=False))
            .join(Project, Project.id == DirectCost.project_id)
            .where(*_unsyncable_where(session, actor, filters))
            .order_by(DirectCost.item_date.desc(), DirectCost.id.desc()))


def _unsyncable_rows(result) -> list[UnsyncableRow]:
    return [UnsyncableRow(cost, f"{number} {name}", job or "", bool(code), bool(vendor))
            for cost, number, name, job, code, vendor in result]


def unsyncable_report(session: Session, actor: User, filters: UnsyncableFilters, page: int,
                      page_size: int = 50) -> UnsyncableReport:
    """One page of the Sage cost transactions that cannot sync, newest first, with their count and sum."""
    _require_unsyncable(session, actor, filters.project_id)
    total, amount = session.execute(select(func.count(), func.coalesce(func.sum(DirectCost.amount), 0))
                                    .where(*_unsyncable_where(session, actor, filters))).one()
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    rows = _unsyncable_rows(session.execute(_unsyncable_select(session, actor, filters)
                                            .offset((page - 1) * page_size).limit(page_size)))
    projects = [(pid, f"{number} {name}") for pid, number, name in session.execute(
        select(Project.id, Project.number, Project.name)
        .where(Project.id.in_(_visible_projects(session, actor)), Project.sage_job_id.is_not(None))
        .order_by(Project.number).limit(1000))]
    return UnsyncableReport(filters, rows, total, Decimal(amount), page, pages, projects)


def unsyncable_csv(session: Session, actor: User, filters: UnsyncableFilters) -> str:
    """The whole report under the filters as CSV, read a chunk of rows at a time."""
    _require_unsyncable(session, actor, filters.project_id)

    def rows() -> Iterator[list[str]]:
        result = session.execute(_unsyncable_select(session, actor, filters).execution_options(yield_per=CSV_CHUNK))
        for chunk in result.partitions():
            for row in _unsyncable_rows(chunk):
                yield row.cells()
    return _csv(UNSYNCABLE_HEADER, rows())

