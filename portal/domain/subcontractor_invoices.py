"""Subcontractor invoices: the first item type through the ERP gate."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select, union_all
from sqlalchemy.orm import Session, selectinload

from portal.domain.errors import Invalid, NotFound
from portal.domain.itemtypes import ItemSummary, ItemType, register
from portal.domain.models import (Category, Commitment, CommitmentLine, Company, ErpItem,
                                  InvoiceLine, InvoiceStatus, Project, SubcontractorInvoice,
                                  User, Vendor)
from portal.domain.services import state_counts
from portal.exporters.sage300.mapping import map_subcontractor_invoice
from portal.exporters.sage300.records import Batch, InvoiceLineData, SubcontractorInvoiceData

ERP_ID_MAX = 15          # Sage AP invoice "Invoice" field
DESCRIPTION_MAX = 30     # Sage AP invoice "Description" field


def parse_date(value: str | date | None, field: str) -> date:
    """Dates from forms: ISO (input type=date) or MM/DD/YYYY as accountants type them."""
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise Invalid("Please correct the highlighted fields.",
                  fields={field: "Enter a date as MM/DD/YYYY." if text else "This field is required."})


def parse_money(value, field: str) -> Decimal:
    text = str(value if value is not None else "").replace(",", "").replace("$", "").strip() or "0"
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise Invalid("Please correct the highlighted fields.",
                      fields={field: f"'{value}' is not an amount."}) from None
    if abs(amount) >= Decimal("1000000000"):
        raise Invalid("Please correct the highlighted fields.", fields={field: "Amount is too large."})
    return amount


def invoice_load_options():
    return (
        selectinload(SubcontractorInvoice.project),
        selectinload(SubcontractorInvoice.sub_job),
        selectinload(SubcontractorInvoice.commitment).selectinload(Commitment.vendor),
        selectinload(SubcontractorInvoice.lines).selectinload(InvoiceLine.commitment_line)
        .selectinload(CommitmentLine.category).selectinload(Category.cost_code),
    )


class SubcontractorInvoiceType(ItemType):
    key = "subcontractor_invoice"
    label = "Subcontractor Invoice"
    plural = "Subcontractor Invoices"
    direct_export_setting = "invoices"
    tab_template = "erp/subcontractor_invoices.html"
    row_template = "erp/_invoice_row.html"
    link_endpoint = ("projects.invoice", "invoice_id")

    def tab_page(self, session, states, q, offset, limit):
        return tab_page(session, states, q, offset, limit)

    def tab_counts(self, session, q):
        return tab_search_counts(session, q) if q else state_counts(session, self.key)

    def tab_row(self, session, erp_item_id):
        return tab_row(session, erp_item_id)

    def load(self, session: Session, item_id: int) -> SubcontractorInvoice:
        item = session.scalars(select(SubcontractorInvoice).where(SubcontractorInvoice.id == item_id)
                               .options(*invoice_load_options())).first()
        if item is None:
            raise NotFound("That invoice does not exist.")
        return item

    def load_many(self, session: Session, item_ids: list[int]) -> dict[int, SubcontractorInvoice]:
        items = session.scalars(select(SubcontractorInvoice)
                                .where(SubcontractorInvoice.id.in_(item_ids))
                                .options(*invoice_load_options())).all()
        return {item.id: item for item in items}

    def prerequisites(self, session: Session, item: SubcontractorInvoice) -> list[str]:
        reasons = []
        if item.status not in InvoiceStatus.SENDABLE:
            reasons.append(f"The invoice is {item.status}: only Approved, Approved as Noted or "
                           "Pending Owner Approval invoices can be sent to ERP.")
        if not item.project.sage_job_id:
            reasons.append("The project is not synced with a Sage 300 CRE job.")
        if not item.commitment.erp_commitment_id:
            reasons.append(f"Commitment {item.commitment.number} is not synced with Sage 300 CRE.")
        if not item.commitment.vendor.erp_vendor_id:
            reasons.append(f"The contract company {item.commitment.vendor.name} has no ERP vendor ID: "
                           "link it to a Sage vendor first.")
        if not item.lines:
            reasons.append("The invoice has no lines.")
        return reasons

    def export_defaults(self, item: SubcontractorInvoice) -> dict:
        return {"erp_id": item.number, "description": "",
                "accounting_date": item.billing_date.isoformat()}

    def clean_export_fields(self, item: SubcontractorInvoice, raw: dict) -> dict:
        errors = {}
        erp_id = (raw.get("erp_id") or "").strip()
        description = (raw.get("description") or "").strip()
        if not erp_id:
            errors["erp_id"] = "ERP ID is required."
        elif len(erp_id) > ERP_ID_MAX:
            errors["erp_id"] = f"ERP ID must be {ERP_ID_MAX} characters or less (Sage's Invoice field)."
        if len(description) > DESCRIPTION_MAX:
            errors["description"] = f"Description must be {DESCRIPTION_MAX} characters or less."
        accounting_date = None
        try:
            accounting_date = parse_date(raw.get("accounting_date"), "accounting_date")
        except Invalid as exc:
            errors.update(exc.fields)
        if errors:
            raise Invalid("Please correct the highlighted fields.", fields=errors)
        return {"erp_id": erp_id, "description": description,
                "accounting_date": accounting_date.isoformat()}

    def build_batch(self, session: Session, item: SubcontractorInvoice, fields: dict,
                    batch_id: str) -> Batch:
        company = session.scalars(select(Company).limit(1)).first()
        consolidate = company.consolidate_invoice_lines if company else True
        lines = tuple(
            InvoiceLineData(
                commitment_item=str(line.commitment_line.line_no),
                cost_code=line.commitment_line.category.cost_code.code,
                category=line.commitment_line.category.code,
                description=(line.description or line.commitment_line.description),
                work_completed=line.work_completed, materials_stored=line.materials_stored,
                retainage=line.retainage)
            for line in item.lines)
        data = SubcontractorInvoiceData(
            vendor=item.commitment.vendor.erp_vendor_id or "",
            commitment=item.commitment.erp_commitment_id or "",
            job=item.project.sage_job_id or "",
            extra=(item.sub_job.sage_extra_id or "") if item.sub_job else "",
            erp_id=fields["erp_id"], description=fields.get("description", ""),
            invoice_date=item.billing_date,
            accounting_date=date.fromisoformat(fields["accounting_date"]),
            lines=lines, consolidate=consolidate)
        return map_subcontractor_invoice(data, batch_id)

    def summary(self, item: SubcontractorInvoice) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Invoice #{item.number} on {item.commitment.number}",
                           vendor=item.commitment.vendor.name,
                           amount=f"${item.total_amount:,.2f}",
                           creator_id=item.created_by_id)


INVOICES = register(SubcontractorInvoiceType())


# ---- the tab ------------------------------------------------------------------------

def _tab_select():
    """Everything a tab row shows, in one joined select."""
    return (select(ErpItem, SubcontractorInvoice, Commitment.number, Commitment.erp_commitment_id,
                   Vendor.name, Project.number, Project.name, User.name)
            .join(SubcontractorInvoice, SubcontractorInvoice.id == ErpItem.item_id)
            .join(Commitment, Commitment.id == SubcontractorInvoice.commitment_id)
            .join(Vendor, Vendor.id == Commitment.vendor_id)
            .join(Project, Project.id == SubcontractorInvoice.project_id)
            .outerjoin(User, User.id == ErpItem.sent_by_id)
            .where(ErpItem.item_type == INVOICES.key))


def tab_page(session: Session, states: tuple[str, ...], q: str, offset: int, limit: int):
    """One page of the tab in one query: the page's ids are chosen from erp_item alone (its
    index, no joins), then only those rows are joined, so the cost follows the page size and
    not the number of invoices."""
    order = (ErpItem.sent_at.desc(), ErpItem.id.desc())
    # One ordered index range per state, merged: no sort over every row of the tab.
    parts = [_matching(select(ErpItem.id, ErpItem.sent_at).where(
                 ErpItem.item_type == INVOICES.key, ErpItem.state == state), q)
             .order_by(*order).limit(offset + limit).subquery() for state in states]
    merged = union_all(*(select(p.c.id, p.c.sent_at) for p in parts)).subquery()
    page_ids = (select(merged.c.id).order_by(merged.c.sent_at.desc(), merged.c.id.desc())
                .offset(offset).limit(limit))
    stmt = _tab_select().where(ErpItem.id.in_(page_ids.scalar_subquery())).order_by(*order)
    return session.execute(stmt).all()


def tab_search_counts(session: Session, q: str) -> dict[str, int]:
    """Items per state among those matching the search (one grouped query)."""
    stmt = _matching(select(ErpItem.state, func.count()).where(
        ErpItem.item_type == INVOICES.key), q).group_by(ErpItem.state)
    return {state: n for state, n in session.execute(stmt).all()}


def _matching(stmt, q: str):
    """Narrow an erp_item select to invoices matching q: the small tables (vendors,
    commitments, projects) are searched first, then invoices by number or by those ids."""
    if not q:
        return stmt
    # % and _ typed in the search box are literal characters, not wildcards.
    text = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    def like(column):
        return func.lower(column).like(f"%{text}%", escape="\\")
    vendors = select(Vendor.id).where(like(Vendor.name))
    commitments = select(Commitment.id).where(or_(like(Commitment.number),
                                                  Commitment.vendor_id.in_(vendors)))
    projects = select(Project.id).where(or_(like(Project.name), like(Project.number)))
    invoices = select(SubcontractorInvoice.id).where(or_(
        like(SubcontractorInvoice.number), SubcontractorInvoice.commitment_id.in_(commitments),
        SubcontractorInvoice.project_id.in_(projects)))
    return stmt.where(ErpItem.item_id.in_(invoices))


def tab_row(session: Session, erp_item_id: int):
    """One row of the tab, for the fragments that replace a single row."""
    stmt = _tab_select().where(ErpItem.id == erp_item_id)
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound("That item is not in ERP Integrations.")
    return row
