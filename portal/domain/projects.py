"""Project-side reads and edits: a project's invoices, their ERP state and why Send is unavailable."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import edits, payments, policy
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.invoice_models import InvoiceEvent
from portal.domain.lifecycle import EDITABLE, State
from portal.domain.models import (
    ErpItem,
    InvoiceStatus,
    Project,
    ProjectMember,
    SubcontractorInvoice,
    ToolLevel,
    User,
)
from portal.domain.services import find_erp_item, project_level
from portal.domain.types import get_type
from portal.domain.types.subcontractor_invoice import invoice_load_options
from portal.domain.uow import commit, transactional
from portal.domain.values import parse_money, parse_period

INVOICE_TYPE = "subcontractor_invoice"   # the item type these pages are for


def _invoices():
    return get_type(INVOICE_TYPE)


@dataclass
class InvoiceRow:
    invoice: SubcontractorInvoice
    erp: ErpItem | None
    reasons: list[str]

    @property
    def state(self) -> str:
        return self.erp.state if self.erp else State.DRAFT


def visible_projects(session: Session, user: User) -> list[tuple[Project, str]]:
    """Projects with the user's level on their financial tools."""
    if user.is_site_admin:
        return [(p, ToolLevel.ADMIN) for p in session.scalars(select(Project).order_by(Project.number))]
    rows = session.execute(select(Project, ProjectMember.level).join(
        ProjectMember, ProjectMember.project_id == Project.id).where(
        ProjectMember.user_id == user.id, ProjectMember.level != ToolLevel.NONE)
        .order_by(Project.number)).all()
    return [(p, level) for p, level in rows]


def project_for(session: Session, user: User, project_id: int) -> tuple[Project, str]:
    """The project and `user`'s level on it (Admin for site administrators), if they may see it."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("No such project.")
    level = project_level(session, user, project_id)
    if not policy.can(user, policy.VIEW_PROJECT, project_level=level):
        raise PermissionDenied("You do not have access to this project.")
    return project, (ToolLevel.ADMIN if user.is_site_admin else level)


def project_invoices(session: Session, user: User, project_id: int):
    """(project, level, rows): every invoice of the project with its ERP state, in 3 queries."""
    project, level = project_for(session, user, project_id)
    invoices = session.scalars(select(SubcontractorInvoice).where(
        SubcontractorInvoice.project_id == project_id).options(*invoice_load_options())
        .order_by(SubcontractorInvoice.billing_date.desc(), SubcontractorInvoice.id.desc())).unique().all()
    erps = {e.item_id: e for e in session.scalars(select(ErpItem).where(
        ErpItem.item_type == _invoices().key,
        ErpItem.item_id.in_([i.id for i in invoices]))).all()} if invoices else {}
    rows = [InvoiceRow(i, erps.get(i.id), _invoices().prerequisites(session, i)) for i in invoices]
    return project, level, rows


def commitment_page(session: Session, user: User, project_id: int, commitment_id: int):
    """(project, level, commitment, figures, invoices): a commitment with billed, retainage held,
    paid and balance to finish, and its invoices."""
    project, level = project_for(session, user, project_id)
    commitment = payments.load_commitment(session, project.id, commitment_id)
    return (project, level, commitment, payments.commitment_figures(session, commitment),
            payments.commitment_invoices(session, commitment.id))


def invoice_row(session: Session, user: User, project_id: int, invoice_id: int):
    project, level = project_for(session, user, project_id)
    invoice = _invoices().load(session, invoice_id)
    if invoice.project_id != project.id:
        raise NotFound("That invoice is not on this project.")
    erp = find_erp_item(session, _invoices().key, invoice.id)
    return project, level, InvoiceRow(invoice, erp, _invoices().prerequisites(session, invoice))


@transactional
def update_invoice(session: Session, actor: User, project_id: int, invoice_id: int,
                   form: dict) -> SubcontractorInvoice:
    """Edit a draft or rejected invoice (invoice admin), all or nothing."""
    project, level, row = invoice_row(session, actor, project_id, invoice_id)
    if not policy.can(actor, policy.SEND, project_level=level):
        raise PermissionDenied("Editing invoices needs Admin on the project's tool.")
    if row.state not in EDITABLE:
        raise Conflict(f"The invoice is {State.LABELS[row.state]} in ERP Integrations and cannot "
                       "be edited; retrieve it first.")
    invoice = row.invoice
    errors: dict[str, str] = {}
    number = (form.get("number") or "").strip()
    if not number:
        errors["number"] = "Invoice # is required."
    elif len(number) > 40:
        errors["number"] = "Invoice # must be 40 characters or less."
    status = form.get("status") or invoice.status
    if status not in InvoiceStatus.ALL:
        errors["status"] = "Choose a status from the list."
    dates = parse_period(form, errors)
    amounts = {}
    unit_based = invoice.commitment.accounting_method == "unit"
    for line in invoice.lines:
        for part in ("work_completed", "materials_stored", "retainage"):
            key = f"line-{line.id}-{part}"
            try:
                amounts[key] = parse_money(form.get(key, getattr(line, part)), key)
            except Invalid as exc:
                errors.update(exc.fields)
        if unit_based:
            quantity_of(errors, amounts, form, line)
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    if status != invoice.status:   # set by hand: the review history says so
        session.add(InvoiceEvent(invoice_id=invoice.id, actor_id=actor.id, action="status_set",
                                 from_status=invoice.status, to_status=status))
    with edits.recording(session, actor, _invoices(), invoice, row.erp):
        invoice.number, invoice.status = number, status
        invoice.billing_date = dates["billing_date"]
        invoice.period_start, invoice.period_end = dates["period_start"], dates["period_end"]
        for line in invoice.lines:
            for part in ("work_completed", "materials_stored", "retainage"):
                setattr(line, part, amounts[f"line-{line.id}-{part}"])
            # the retainage typed here is the net Sage receives: the work's share takes the change
            line.work_retainage = line.retainage - line.materials_retainage + line.retainage_released
            if unit_based:
                line.quantity = amounts[f"line-{line.id}-quantity"]
        invoice.recompute_totals()
    commit(session)
    return invoice




def quantity_of(errors: dict, amounts: dict, form: dict, line) -> None:
    """The quantity a line of a unit-based commitment bills this period (blank: none); the work
    completed must then be that quantity at the line's unit cost, within a cent (Sage checks it)."""
    key = f"line-{line.id}-quantity"
    raw = form.get(key, "" if line.quantity is None else str(line.quantity))
    try:
        amounts[key] = parse_money(raw, key, "0.0001") if str(raw or "").strip() else None
    except Invalid as exc:
        errors.update(exc.fields)
        return
    cost, work = line.commitment_line.unit_cost, amounts.get(f"line-{line.id}-work_completed")
    if amounts[key] is None or cost is None or work is None:
        return
    product = (amounts[key] * cost).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if abs(product - work) > Decimal("0.01"):
        errors[f"line-{line.id}-work_completed"] = \
            f"Work completed must be the quantity × the unit cost ({product:,.2f})."
