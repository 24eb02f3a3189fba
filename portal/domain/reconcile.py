"""Reconciliation: the portal's figures beside Sage's, per synced commitment (committed with
approved changes, invoiced, retainage held, paid) and per synced job (budget, approved
changes, prime contract), with the records behind each difference (which CCO, AP invoice, budget line or
change differs) and the items synced in the portal that Sage no longer holds.

Efficient at a company's size: the portal side is read in one query per kind (commitments,
their lines, CCOs, invoices, jobs, budget lines, changes), and Sage's through the connector in
one call per kind (commitments, jobs), never one per item."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from portal.domain.errors import NotFound
from portal.domain.lifecycle import State
from portal.domain.models import (
    Budget,
    BudgetChange,
    BudgetChangeLine,
    BudgetLine,
    Category,
    CCOLine,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLine,
    CostCode,
    ErpItem,
    PrimeChangeOrder,
    PrimeChangeOrderLine,
    PrimeContract,
    PrimeContractItem,
    Project,
    SubcontractorInvoice,
    Vendor,
)
from portal.domain.ports import Connector
from portal.domain.values import csv_cell
from portal.exporters.sage300.records import ConnectorUnavailable, SageUnreadable

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
VOID = "Void"
MISSING = "missing in Sage (deleted there?)"
VOIDED = "void in Sage"
SAGE_ONLY = "in Sage only"
NOT_SYNCED = "not synced yet"   # payments: the portal does not sync them yet


def _cents(value: Decimal | None) -> Decimal:
    return (value or ZERO).quantize(CENT)


@dataclass(frozen=True)
class Figure:
    """One figure of a commitment or job: the portal's beside Sage's (None: no figure; `note` says why)."""
    label: str
    portal: Decimal | None
    sage: Decimal | None
    note: str = ""
    compared: bool = True   # False: shown, never a difference (payments until they sync)

    @property
    def difference(self) -> Decimal | None:
        if not self.compared:
            return None
        return _cents(self.sage) - _cents(self.portal)

    @property
    def differs(self) -> bool:
        return bool(self.difference)


@dataclass(frozen=True)
class Record:
    """A record behind a figure (a CCO, an AP invoice, a budget line or change), on both sides."""
    kind: str
    ref: str                 # its Sage key (CCO ID, vendor/invoice, cost code and category, Ref 1)
    name: str                # how the portal names it ("" when only Sage has it)
    portal: Decimal | None
    sage: Decimal | None
    note: str = ""           # MISSING, VOIDED, SAGE_ONLY or ""
    portal_retainage: Decimal | None = None
    sage_retainage: Decimal | None = None

    @property
    def differs(self) -> bool:
        return bool(self.note) or _cents(self.portal) != _cents(self.sage) \
            or _cents(self.portal_retainage) != _cents(self.sage_retainage)


@dataclass
class Row:
    """One synced commitment or job."""
    kind: str                # "Commitment" or "Job"
    project_id: int
    project: str
    ref: str                 # its Sage ID
    name: str
    figures: list[Figure]
    records: list[Record] = field(default_factory=list)
    note: str = ""           # MISSING, VOIDED or ""

    @property
    def differences(self) -> list[Record]:
        return [r for r in self.records if r.differs]

    @property
    def differs(self) -> bool:
        return bool(self.note) or any(f.differs for f in self.figures) or bool(self.differences)


@dataclass
class Reconciliation:
    """The page: its rows (every one, or those that differ), how many there are, or why Sage
    could not be read (`error`)."""
    project: Project | None
    rows: list[Row]
    error: str = ""
    total: int = 0
    differing: int = 0
    missing: int = 0
    only_differences: bool = False


def _synced(key: str, item_id_column):
    """The join condition of an item's ErpItem, Synced."""
    return (ErpItem.item_type == key) & (ErpItem.item_id == item_id_column) & (ErpItem.state == State.SYNCED)


def _sum_by(session: Session, key_column, amount_column, where) -> dict:
    return {k: Decimal(v or 0) for k, v in session.execute(
        select(key_column, func.sum(amount_column)).where(where).group_by(key_column))}


def reconcile(session: Session, connect: Callable[[], Connector], project_id: int | None = None,
              only_differences: bool = False) -> Reconciliation:
    """The portal's figures beside Sage's for every synced commitment and job of the project (of
    the company when project_id is None), or only those that differ; `connect` makes the
    connector Sage is read through."""
    project = None
    if project_id is not None:
        project = session.get(Project, project_id)
        if project is None:
            raise NotFound("That project does not exist.")
    portal_commitments = _portal_commitments(session, project_id)
    portal_jobs = _portal_jobs(session, project_id)
    try:
        connector = connect()
        sage_commitments = connector.commitment_figures([c["ref"] for c in portal_commitments]) \
            if portal_commitments else {}
        sage_jobs = connector.job_figures([j["ref"] for j in portal_jobs]) if portal_jobs else {}
    except (SageUnreadable, ConnectorUnavailable) as exc:
        return Reconciliation(project, [], str(exc))
    rows = [_job_row(j, sage_jobs.get(j["ref"])) for j in portal_jobs]
    rows += [_commitment_row(c, sage_commitments.get(c["ref"])) for c in portal_commitments]
    rows.sort(key=lambda r: (r.project, r.kind != "Job", r.ref))
    differing = [r for r in rows if r.differs]
    return Reconciliation(project, differing if only_differences else rows, total=len(rows),
                          differing=len(differing), missing=sum(1 for r in differing if r.note == MISSING),
                          only_differences=only_differences)


# ---- commitments -------------------------------------------------------------------------------

def _portal_commitments(session: Session, project_id: int | None) -> list[dict]:
    """Every commitment linked to Sage, with its synced CCOs and invoices, in one query per kind."""
    where: ColumnElement[bool] = Commitment.erp_commitment_id.is_not(None)
    if project_id is not None:
        where = where & (Commitment.project_id == project_id)
    ids = select(Commitment.id).where(where).scalar_subquery()
    heads = session.execute(
        select(Commitment.id, Commitment.number, Commitment.title, Commitment.erp_commitment_id,
               Commitment.project_id, Project.number, Project.name, Vendor.erp_vendor_id)
        .join(Project, Project.id == Commitment.project_id).join(Vendor, Vendor.id == Commitment.vendor_id)
        .where(where)).all()
    lines = _sum_by(session, CommitmentLine.commitment_id, CommitmentLine.amount,
                    CommitmentLine.commitment_id.in_(ids))
    ccos: dict[int, list] = defaultdict(list)
    cco_rows = session.execute(
        select(CommitmentChangeOrder.id, CommitmentChangeOrder.commitment_id, CommitmentChangeOrder.number,
               ErpItem.export_fields, ErpItem.erp_ref)
        .join(ErpItem, _synced("cco", CommitmentChangeOrder.id))
        .where(CommitmentChangeOrder.commitment_id.in_(ids))).all()
    cco_ids = select(CommitmentChangeOrder.id).join(ErpItem, _synced("cco", CommitmentChangeOrder.id)) \
        .where(CommitmentChangeOrder.commitment_id.in_(ids)).scalar_subquery()
    cco_amounts = {cco_id: (Decimal(total or 0), Decimal(existing or 0)) for cco_id, total, existing in session.execute(
        select(CCOLine.cco_id, func.sum(CCOLine.amount),
               func.sum(case((CCOLine.commitment_line_id.is_not(None), CCOLine.amount), else_=0)))
        .where(CCOLine.cco_id.in_(cco_ids)).group_by(CCOLine.cco_id))}
    for cco_id, commitment_id, number, fields, erp_ref in cco_rows:
        total, existing = cco_amounts.get(cco_id, (ZERO, ZERO))
        ccos[commitment_id].append({"ref": (fields or {}).get("cco_id") or erp_ref or number, "name": number,
                                    "amount": total, "existing": existing})
    invoices: dict[int, list] = defaultdict(list)
    for commitment_id, number, amount, retainage, fields, erp_ref in session.execute(
            select(SubcontractorInvoice.commitment_id, SubcontractorInvoice.number, SubcontractorInvoice.total_amount,
                   SubcontractorInvoice.total_retainage, ErpItem.export_fields, ErpItem.erp_ref)
            .join(ErpItem, _synced("subcontractor_invoice", SubcontractorInvoice.id))
            .where(SubcontractorInvoice.commitment_id.in_(ids))):
        invoices[commitment_id].append({"ref": (fields or {}).get("erp_id") or erp_ref or number, "name": number,
                                        "amount": Decimal(amount or 0), "retainage": Decimal(retainage or 0)})
    out = []
    for cid, number, title, ref, pid, p_number, p_name, vendor in heads:
        # a synced CCO's new lines became commitment lines; its changes to existing lines did not
        changes = ccos.get(cid, [])
        committed = lines.get(cid, ZERO) + sum((c["existing"] for c in changes), ZERO)
        out.append({"id": cid, "ref": ref, "name": f"{number} {title}", "project_id": pid,
                    "project": f"{p_number} {p_name}", "vendor": vendor or "", "committed": committed,
                    "ccos": changes, "invoices": invoices.get(cid, [])})
    return out


def _commitment_row(c: dict, sage: dict | None) -> Row:
    invoiced = sum((i["amount"] for i in c["invoices"]), ZERO)
    retainage = sum((i["retainage"] for i in c["invoices"]), ZERO)
    if sage is None:
        figures = [Figure("Committed (with approved changes)", c["committed"], None, MISSING),
                   Figure("Invoiced", invoiced, None, MISSING), Figure("Retainage held", retainage, None, MISSING),
                   Figure("Paid", None, None, NOT_SYNCED, compared=False)]
        return Row("Commitment", c["project_id"], c["project"], c["ref"], c["name"], figures, note=MISSING)
    records = []
    sage_ccos = dict(sage["ccos"])
    for cco in c["ccos"]:
        found = sage_ccos.pop(cco["ref"], None)
        note = MISSING if found is None else VOIDED if found["status"] == VOID else ""
        records.append(Record("CCO", cco["ref"], cco["name"], cco["amount"],
                              None if found is None else found["amount"], note))
    records += [Record("CCO", ref, "", None, s["amount"], SAGE_ONLY) for ref, s in sorted(sage_ccos.items())
                if s["status"] != VOID]
    sage_invoices = dict(sage["invoices"])
    for inv in c["invoices"]:
        found = sage_invoices.pop((c["vendor"], inv["ref"]), None)
        note = MISSING if found is None else VOIDED if found["status"] == VOID else ""
        records.append(Record("AP invoice", f"{c['vendor']}/{inv['ref']}", inv["name"], inv["amount"],
                              None if found is None else found["amount"], note, inv["retainage"],
                              None if found is None else found["retainage"]))
    records += [Record("AP invoice", f"{vendor}/{invoice}", "", None, s["amount"], SAGE_ONLY, None, s["retainage"])
                for (vendor, invoice), s in sorted(sage_invoices.items()) if s["status"] != VOID]
    open_invoices = [s for s in sage["invoices"].values() if s["status"] != VOID]
    figures = [Figure("Committed (with approved changes)", c["committed"], sage["amount"]),
               Figure("Invoiced", invoiced, sum((s["amount"] for s in open_invoices), ZERO)),
               Figure("Retainage held", retainage, sum((s["retainage"] for s in open_invoices), ZERO)),
               Figure("Paid", None, sage["paid"], NOT_SYNCED, compared=False)]
    return Row("Commitment", c["project_id"], c["project"], c["ref"], c["name"], figures, records,
               VOIDED if sage["status"] == VOID else "")


# ---- jobs --------------------------------------------------------------------------------------

def _portal_jobs(session: Session, project_id: int | None) -> list[dict]:
    """Every project synced with a Sage job: its exported budget's lines and its synced changes."""
    where: ColumnElement[bool] = Project.sage_job_id.is_not(None)
    if project_id is not None:
        where = where & (Project.id == project_id)
    ids = select(Project.id).where(where).scalar_subquery()
    budgets: dict[int, dict] = defaultdict(dict)
    for pid, code, category, amount in session.execute(
            select(Budget.project_id, CostCode.code, Category.code, func.sum(BudgetLine.original))
            .join(BudgetLine, BudgetLine.budget_id == Budget.id).join(Category, Category.id == BudgetLine.category_id)
            .join(CostCode, CostCode.id == Category.cost_code_id)
            .where(Budget.project_id.in_(ids), Budget.locked.is_(True))
            .group_by(Budget.project_id, CostCode.code, Category.code)):
        budgets[pid][("", code, category)] = Decimal(amount or 0)
    changes: dict[int, list] = defaultdict(list)
    for kind, model, line, parent in (("Budget change", BudgetChange, BudgetChangeLine, BudgetChangeLine.change_id),
                                      ("PCCO", PrimeChangeOrder, PrimeChangeOrderLine, PrimeChangeOrderLine.pcco_id)):
        key = "budget_change" if model is BudgetChange else "pcco"
        for pid, number, amount in session.execute(
                select(model.project_id, model.number, func.sum(line.amount))
                .join(ErpItem, _synced(key, model.id)).join(line, parent == model.id)
                .where(model.project_id.in_(ids)).group_by(model.id, model.project_id, model.number)):
            changes[pid].append({"kind": kind, "ref": number, "amount": Decimal(amount or 0)})
    # the prime contracts imported from Sage contracts (Use Quickbill jobs have none), with the
    # synced PCCOs' lines, each a change of one contract item
    contracts = _sum_by(session, PrimeContract.project_id, PrimeContractItem.amount,
                        PrimeContract.project_id.in_(ids) & PrimeContract.sage_contract_id.is_not(None)
                        & (PrimeContractItem.contract_id == PrimeContract.id))
    for pid, amount in _sum_by(session, PrimeChangeOrder.project_id, PrimeChangeOrderLine.amount,
                               PrimeChangeOrder.project_id.in_(ids)
                               & (PrimeChangeOrderLine.pcco_id == PrimeChangeOrder.id)
                               & PrimeChangeOrder.id.in_(select(ErpItem.item_id).where(
                                   ErpItem.item_type == "pcco", ErpItem.state == State.SYNCED))).items():
        if pid in contracts:
            contracts[pid] += amount
    return [{"project_id": pid, "ref": job, "name": f"{number} {name}", "project": f"{number} {name}",
             "budget": budgets.get(pid), "changes": changes.get(pid, []), "contract": contracts.get(pid)}
            for pid, job, number, name in session.execute(
                select(Project.id, Project.sage_job_id, Project.number, Project.name).where(where))]


def _code(key: tuple) -> str:
    extra, cost_code, category = key
    return " ".join(p for p in (extra, cost_code, category) if p)


def _job_row(j: dict, sage: dict | None) -> Row:
    budget = j["budget"]
    portal_budget = None if budget is None else sum(budget.values(), ZERO)
    portal_changes = sum((c["amount"] for c in j["changes"]), ZERO)
    no_budget = "" if budget is not None else "no budget exported from the portal"
    if sage is None:
        return Row("Job", j["project_id"], j["project"], j["ref"], j["name"],
                   [Figure("Budget (original estimate)", portal_budget, None, MISSING),
                    Figure("Approved changes", portal_changes, None, MISSING),
                    Figure("Prime contract (with approved changes)", j["contract"], None, MISSING)], note=MISSING)
    records = []
    estimates = dict(sage["estimates"])
    for key, amount in sorted((budget or {}).items()):
        found = estimates.pop(key, None)
        records.append(Record("Budget line", _code(key), _code(key), amount, found, MISSING if found is None else ""))
    if budget is not None:  # without an exported budget Sage's estimates are not the portal's to explain
        records += [Record("Budget line", _code(key), "", None, amount, SAGE_ONLY)
                    for key, amount in sorted(estimates.items()) if amount]
    sage_changes = {"Budget change": dict(sage["changes"]), "PCCO": dict(sage["pcco_changes"])}
    for change in j["changes"]:
        found = sage_changes[change["kind"]].pop(change["ref"], None)
        records.append(Record(change["kind"], change["ref"], change["ref"], change["amount"], found,
                              MISSING if found is None else ""))
    for kind, left in sage_changes.items():
        records += [Record(kind, ref, "", None, amount, SAGE_ONLY) for ref, amount in sorted(left.items()) if amount]
    sage_total_changes = sum(sage["changes"].values(), ZERO) + sum(sage["pcco_changes"].values(), ZERO)
    contract = j["contract"]
    figures = [Figure("Budget (original estimate)", portal_budget, sum(sage["estimates"].values(), ZERO), no_budget,
                      compared=budget is not None),
               Figure("Approved changes", portal_changes, sage_total_changes),
               Figure("Prime contract (with approved changes)", contract, sage["contract"],
                      "" if contract is not None else "no prime contract imported from Sage contracts",
                      compared=contract is not None)]
    return Row("Job", j["project_id"], j["project"], j["ref"], j["name"], figures, records)


# ---- CSV ---------------------------------------------------------------------------------------

CSV_HEADER = ("Type", "Project", "Sage ID", "Name", "Figure or record", "Portal", "Sage", "Difference", "Note")


def _amount(value: Decimal | None) -> str:
    return "" if value is None else str(_cents(value))


def csv_text(rec: Reconciliation) -> str:
    """The reconciliation as CSV: a line per figure, then one per record that differs (texts formula-safe)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    if rec.error:
        writer.writerow(("", "", "", "", "", "", "", "", csv_cell(rec.error)))
    for row in rec.rows:
        head = (row.kind, csv_cell(row.project), csv_cell(row.ref), csv_cell(row.name))
        for f in row.figures:
            writer.writerow((*head, f.label, _amount(f.portal), _amount(f.sage), _amount(f.difference),
                             csv_cell(f.note or row.note)))
        for r in row.differences:
            portal_sage = (_amount(r.portal), _amount(r.sage),
                           _amount(None if r.portal is None or r.sage is None else _cents(r.sage) - _cents(r.portal)))
            writer.writerow((*head, csv_cell(f"{r.kind} {r.ref}"), *portal_sage, csv_cell(r.note)))
    return out.getvalue()
