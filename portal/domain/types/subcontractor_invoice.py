"""Subcontractor invoices: AP invoices with their distributions, from the project's invoice pages."""
from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from portal.domain import settings
from portal.domain.errors import Invalid
from portal.domain.models import (
    Category,
    Commitment,
    CommitmentLine,
    InvoiceLine,
    InvoiceStatus,
    Project,
    SubcontractorInvoice,
    Vendor,
)
from portal.domain.search import like
from portal.domain.types.base import Column, Field, ItemSummary, ItemType
from portal.domain.values import mmddyyyy, money, parse_date
from portal.exporters.sage300.mapping import map_subcontractor_invoice
from portal.exporters.sage300.records import Batch, InvoiceLineData, SubcontractorInvoiceData

ERP_ID_MAX = 15          # Sage AP invoice "Invoice" field
DESCRIPTION_MAX = 30     # Sage AP invoice "Description" field


def invoice_load_options():
    """An invoice with everything its pages and its export read, in one query (its lines joined)."""
    return (
        joinedload(SubcontractorInvoice.project),
        joinedload(SubcontractorInvoice.sub_job),
        joinedload(SubcontractorInvoice.commitment).joinedload(Commitment.vendor),
        joinedload(SubcontractorInvoice.lines).joinedload(InvoiceLine.commitment_line)
        .joinedload(CommitmentLine.category).joinedload(Category.cost_code),
    )


class SubcontractorInvoiceType(ItemType):
    key = "subcontractor_invoice"
    label = "Subcontractor Invoice"
    plural = "Subcontractor Invoices"
    noun = "invoice"
    model = SubcontractorInvoice
    direct_export_setting = "invoices"
    erp_id_field = "erp_id"
    sage_record_kind = "ap_invoice"
    generic_pages = False  # the project's invoice pages are richer (lines, edit, history)
    bulk_note = ("Ticked invoices are exported with their defaults: ERP ID = invoice #, "
                 "Accounting Date = billing date.")
    columns = (Column("Project", "project"), Column("Commitment", "commitment"),
               Column("Vendor", "vendor"), Column("Invoice #", "number"),
               Column("Billing Period", "period"), Column("Billing Date", "billing_date"),
               Column("Current Payment Due", "payment_due", "num"),
               Column("Retainage", "retainage", "num"))

    def load_options(self):
        return invoice_load_options()

    def tab_options(self):
        return (joinedload(SubcontractorInvoice.project),
                joinedload(SubcontractorInvoice.commitment).joinedload(Commitment.vendor))

    def list_items(self, session, project_id):
        return list(session.scalars(select(SubcontractorInvoice).where(
            SubcontractorInvoice.project_id == project_id).options(*self.load_options())
            .order_by(SubcontractorInvoice.billing_date.desc(), SubcontractorInvoice.id.desc())).unique())

    def row_values(self, item: SubcontractorInvoice) -> dict:
        return {"project": f"{item.project.number} {item.project.name}",
                "commitment": item.commitment.number, "vendor": item.commitment.vendor.name,
                "number": item.number,
                "period": f"{mmddyyyy(item.period_start)} – {mmddyyyy(item.period_end)}",
                "billing_date": mmddyyyy(item.billing_date),
                "payment_due": money(item.payment_due), "retainage": money(item.total_retainage)}

    def search_ids(self, q: str):
        vendors = select(Vendor.id).where(like(Vendor.name, q))
        commitments = select(Commitment.id).where(or_(like(Commitment.number, q),
                                                      Commitment.vendor_id.in_(vendors)))
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(SubcontractorInvoice.id).where(or_(
            like(SubcontractorInvoice.number, q), SubcontractorInvoice.commitment_id.in_(commitments),
            SubcontractorInvoice.project_id.in_(projects)))

    def accept_fields(self, item) -> list[Field]:
        return [Field("erp_id", "ERP ID", maxlength=ERP_ID_MAX, required=True,
                      help="The Invoice in Sage; prefilled with the invoice #."),
                Field("description", "Description", maxlength=DESCRIPTION_MAX,
                      help="Optional, 30 characters."),
                Field("accounting_date", "Accounting Date", widget="date", required=True)]

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

    def clean_export_fields(self, session: Session, item: SubcontractorInvoice, raw: dict) -> dict:
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
        assert accounting_date is not None  # parse_date() recorded an error otherwise
        return {"erp_id": erp_id, "description": description,
                "accounting_date": accounting_date.isoformat()}

    def build_batch(self, session: Session, item: SubcontractorInvoice, fields: dict,
                    batch_id: str) -> Batch:
        consolidate = settings.load(session).consolidate_invoice_lines
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

    def project_page(self, project_id: int) -> tuple[str, dict]:
        return "projects.invoices", {"project_id": project_id}

    def link(self, erp) -> tuple[str, dict]:
        return "projects.invoice", {"project_id": erp.project_id, "invoice_id": erp.item_id}

    def unlink_reference(self, erp, item: SubcontractorInvoice) -> dict:
        return {"vendor": item.commitment.vendor.erp_vendor_id or "",
                "invoice": (erp.export_fields or {}).get("erp_id") or erp.erp_ref or ""}

    def summary(self, item: SubcontractorInvoice) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Invoice #{item.number} on {item.commitment.number}",
                           vendor=item.commitment.vendor.name,
                           amount=f"${item.total_amount:,.2f}",
                           creator_id=item.created_by_id)
