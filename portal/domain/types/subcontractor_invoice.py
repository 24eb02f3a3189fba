"""Subcontractor invoices: AP invoices with their distributions, from the project's invoice pages."""
from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session, joinedload

from portal.domain import invoice_mail, settings
from portal.domain.errors import Invalid, NotFound
from portal.domain.invoice_models import InvoiceAttachment
from portal.domain.models import (
    Category,
    Commitment,
    CommitmentLine,
    CostCode,
    InvoiceLine,
    InvoiceStatus,
    Project,
    SubcontractorInvoice,
    SubJob,
    Vendor,
)
from portal.domain.search import like
from portal.domain.types.base import (
    Attachment,
    Column,
    Detail,
    EditedValues,
    Field,
    Filters,
    ItemSummary,
    ItemType,
    Mapped,
)
from portal.domain.types.common import vendor_through_commitment
from portal.domain.values import mmddyyyy, money, parse_date
from portal.exporters.sage300.mapping import map_subcontractor_invoice
from portal.exporters.sage300.records import (
    DATE_RECEIVED_USAGE,
    PAYMENT_DATE_USAGE,
    TAX_GROUPS,
    Batch,
    InvoiceLineData,
    SubcontractorInvoiceData,
)

CONSOLIDATE = "consolidate_invoice_lines"   # the setting: one distribution per commitment item
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


# The export's two queries, for one invoice or a job's worth, built once (SQLAlchemy then
# reuses their compiled form as is).
_EXPORT_HEAD = (
    select(SubcontractorInvoice.id, SubcontractorInvoice.billing_date, Vendor.erp_vendor_id,
           Commitment.erp_commitment_id, Project.sage_job_id, SubJob.sage_extra_id, settings.stored(CONSOLIDATE),
           Commitment.accounting_method)
    .join(Commitment, Commitment.id == SubcontractorInvoice.commitment_id)
    .join(Vendor, Vendor.id == Commitment.vendor_id)
    .join(Project, Project.id == SubcontractorInvoice.project_id)
    .outerjoin(SubJob, SubJob.id == SubcontractorInvoice.sub_job_id)
    .where(SubcontractorInvoice.id.in_(bindparam("item_ids", expanding=True))))
_EXPORT_LINES = (
    select(InvoiceLine.invoice_id, CommitmentLine.line_no, CostCode.code, Category.code, InvoiceLine.description,
           CommitmentLine.description, InvoiceLine.work_completed, InvoiceLine.materials_stored, InvoiceLine.retainage,
           InvoiceLine.quantity)
    .join(CommitmentLine, CommitmentLine.id == InvoiceLine.commitment_line_id)
    .join(Category, Category.id == CommitmentLine.category_id)
    .join(CostCode, CostCode.id == Category.cost_code_id)
    .where(InvoiceLine.invoice_id.in_(bindparam("item_ids", expanding=True))).order_by(InvoiceLine.id))


# what an invoice asks paid now (the model's payment_due, in SQL): the tab sorts and totals by it
PAYMENT_DUE = SubcontractorInvoice.total_amount - SubcontractorInvoice.total_retainage


class SubcontractorInvoiceType(ItemType):
    key = "subcontractor_invoice"
    label = "Subcontractor Invoice"
    plural = "Subcontractor Invoices"
    noun = "invoice"
    model = SubcontractorInvoice
    direct_export_setting = "invoices"
    erp_id_field = "erp_id"
    sage_record_kind = "ap_invoice"
    sync_key = "paid_invoices"   # Sage's payments back: Partly Paid / Paid (portal.domain.payments)
    generic_pages = False  # the project's invoice pages are richer (lines, edit, history)
    # setup-subcontractor-invoice-export.txt: AP Settings' date usages, and no tax groups imported
    setup_prerequisites = (DATE_RECEIVED_USAGE, PAYMENT_DATE_USAGE, TAX_GROUPS)
    holds_in_ap = True
    bulk_note = ("Ticked invoices are exported with their defaults: ERP ID = invoice #, "
                 "Accounting Date = billing date.")
    filters = Filters(project=SubcontractorInvoice.project_id,
                      vendor=vendor_through_commitment(SubcontractorInvoice.commitment_id),
                      period=SubcontractorInvoice.period_start,
                      dates=("Billing Date", SubcontractorInvoice.billing_date),
                      amount=("Current Payment Due", PAYMENT_DUE),
                      amounts=(PAYMENT_DUE, SubcontractorInvoice.total_retainage, SubcontractorInvoice.total_amount))
    columns = (Column("Project", "project"), Column("Commitment", "commitment"),
               Column("Vendor", "vendor"), Column("Invoice #", "number", sort=SubcontractorInvoice.number),
               Column("Billing Period", "period", sort=SubcontractorInvoice.period_start),
               Column("Billing Date", "billing_date", sort=SubcontractorInvoice.billing_date),
               Column("Current Payment Due", "payment_due", "num", sort=PAYMENT_DUE, total=PAYMENT_DUE),
               Column("Retainage", "retainage", "num", sort=SubcontractorInvoice.total_retainage,
                      total=SubcontractorInvoice.total_retainage))

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

    def detail(self, item: SubcontractorInvoice, values: dict) -> Detail:
        """Its header, status and sub job, and its schedule of values billed this period, totalled."""
        head = super().detail(item, values).fields + (
            ("Status", item.status), ("Sub Job", item.sub_job.code if item.sub_job else ""))
        rows: list[tuple[str, ...]] = [("Item", "Cost Code", "Category", "Description", "Qty", "Work Completed",
                                        "Materials Stored", "Amount", "Retainage")]
        for ln in item.lines:
            cl = ln.commitment_line
            rows.append((str(cl.line_no), cl.category.cost_code.code, cl.category.code,
                         ln.description or cl.description, "" if ln.quantity is None else str(ln.quantity),
                         money(ln.work_completed), money(ln.materials_stored), money(ln.amount), money(ln.retainage)))
        rows.append(("Total", "", "", "", "", "", "", money(item.total_amount), money(item.total_retainage)))
        return Detail(head, tuple(rows), "Schedule of values billed")

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

    def insurance_subject(self, item: SubcontractorInvoice) -> tuple[str, int] | None:
        return item.commitment.commitment_type, item.commitment.vendor_id

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
        if item.commitment.accounting_method == "unit":
            missing = [str(ln.commitment_line.line_no) for ln in item.lines if ln.quantity is None and ln.amount]
            if missing:
                reasons.append(f"Commitment {item.commitment.number} is unit-based: line(s) {', '.join(missing)} "
                               "need the quantity billed this period.")
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

    def export_batches(self, session: Session, item_id: int, fields: dict, batch_id: str) -> list[Batch]:
        [batches] = self.export_batches_many(session, [(item_id, fields, batch_id)])
        if isinstance(batches, Exception):
            raise batches
        return batches

    def export_batches_many(self, session: Session, items: list[tuple[int, dict, str]]) -> list[Mapped]:
        """Invoices are exported by the thousand: what the AP imports of a job's invoices need,
        read in two queries (the invoices with their Sage IDs and the consolidation setting,
        then their lines)."""
        ids = sorted({item_id for item_id, _, _ in items})
        heads = {row[0]: row[1:] for row in session.execute(_EXPORT_HEAD, {"item_ids": ids})}
        lines: dict[int, list[InvoiceLineData]] = {}
        for invoice_id, line_no, cost_code, category, description, item_description, work, stored, retainage, \
                quantity in session.execute(_EXPORT_LINES, {"item_ids": ids}):
            # the quantity goes to Sage only on a Unit/Qty commitment (the guide's Accounting Method)
            unit_based = invoice_id in heads and heads[invoice_id][-1] == "unit"
            lines.setdefault(invoice_id, []).append(InvoiceLineData(
                commitment_item=str(line_no), cost_code=cost_code, category=category,
                description=description or item_description, work_completed=work, materials_stored=stored,
                retainage=retainage, commitment_description=item_description,
                quantity=quantity if unit_based else None))
        out: list[Mapped] = []
        for item_id, fields, batch_id in items:
            if item_id not in heads:
                out.append(NotFound(f"That {self.label.lower()} does not exist."))
                continue
            billing_date, vendor, commitment, job, extra, consolidate, _method = heads[item_id]
            try:
                data = SubcontractorInvoiceData(
                    vendor=vendor or "", commitment=commitment or "", job=job or "", extra=extra or "",
                    erp_id=fields["erp_id"], description=fields.get("description", ""), invoice_date=billing_date,
                    accounting_date=date.fromisoformat(fields["accounting_date"]),
                    lines=tuple(lines.get(item_id, ())), consolidate=bool(settings.value_of(CONSOLIDATE, consolidate)),
                    hold=bool(fields.get("hold")))
                out.append([map_subcontractor_invoice(data, batch_id)])
            except Exception as exc:  # noqa: BLE001 - this invoice's; the caller decides what it means
                out.append(exc)
        return out

    def edited_values(self, session: Session, item: SubcontractorInvoice) -> EditedValues:
        """The invoice page's edit form: its head and each line's amounts (a line named by its
        commitment item's number, as the page shows it)."""
        return EditedValues(
            {"number": ("Invoice #", item.number), "status": ("Status", item.status),
             "period_start": ("Billing period start", mmddyyyy(item.period_start)),
             "period_end": ("Billing period end", mmddyyyy(item.period_end)),
             "billing_date": ("Billing date", mmddyyyy(item.billing_date))},
            {str(line.id): (f"line {line.commitment_line.line_no}",
                            {"work_completed": ("Work completed", money(line.work_completed)),
                             "materials_stored": ("Materials stored", money(line.materials_stored)),
                             "retainage": ("Retainage", money(line.retainage)),
                             **({} if line.quantity is None else {"quantity": ("Quantity", f"{line.quantity:,}")})})
             for line in item.lines})

    def project_page(self, project_id: int) -> tuple[str, dict]:
        return "projects.invoices", {"project_id": project_id}

    def on_rejected(self, session: Session, item: SubcontractorInvoice, erp, company: str, base_url: str) -> list:
        """Its contact is told the invoice is being corrected (the approver's reason stays inside)."""
        mail = invoice_mail.being_corrected(session, item, erp.id, company, base_url)
        return [mail] if mail else []

    def attachments(self, session: Session, item: SubcontractorInvoice) -> list[Attachment]:
        """The subcontractor's own invoice (a PDF), as the contact or the administrator attached it."""
        row = session.execute(select(InvoiceAttachment.filename, InvoiceAttachment.size)
                              .where(InvoiceAttachment.invoice_id == item.id)).first()
        return [Attachment(row.filename, row.size, "invoicing.pdf", {"invoice_id": item.id})] if row else []

    def link(self, erp) -> tuple[str, dict]:
        return "projects.invoice", {"project_id": erp.project_id, "invoice_id": erp.item_id}

    def edit_page(self, erp) -> tuple[str, dict]:
        return "projects.edit", {"project_id": erp.project_id, "invoice_id": erp.item_id}

    def unlink_reference(self, erp, item: SubcontractorInvoice) -> dict:
        return {"vendor": item.commitment.vendor.erp_vendor_id or "",
                "invoice": (erp.export_fields or {}).get("erp_id") or erp.erp_ref or ""}

    def summary(self, item: SubcontractorInvoice) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Invoice #{item.number} on {item.commitment.number}",
                           vendor=item.commitment.vendor.name,
                           amount=f"${item.total_amount:,.2f}",
                           creator_id=item.created_by_id, number=item.number,
                           project_name=item.project.name)
