"""Subcontractor invoices made in the portal: an invoice contact bills a commitment they are a
contact on, or the invoice administrator (Admin on the project) bills it on a contact's behalf;
they submit it; the administrator reviews it line by line (portal.domain.invoice_review).

Who may reach what: a contact only the commitments they are a contact on (any other is a 404,
contacts.contact_commitment); the administrator needs policy.SEND on the project, a project
member below Admin reads. Every step is an InvoiceEvent (the invoice's review history).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload, undefer

from portal.domain import contacts, invoice_lines, payments, periods, policy
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.invoice_lines import CONFIRM, Line, Previous, Totals
from portal.domain.invoice_models import InvoiceAttachment, InvoiceEvent
from portal.domain.models import (
    Category,
    CCOLine,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLine,
    InvoiceLine,
    InvoiceStatus,
    SubcontractorInvoice,
    ToolLevel,
    User,
)
from portal.domain.services import project_level
from portal.domain.types.subcontractor_invoice import invoice_load_options
from portal.domain.uow import commit, transactional
from portal.domain.values import as_id, parse_period, refuse_unstorable, text_problem

NUMBER_MAX = 40          # SubcontractorInvoice.number
FILENAME_MAX = 120       # InvoiceAttachment.filename
PDF_MAX_MB = 4           # under the request limit (MAX_CONTENT_LENGTH_MB, 5) so the message is ours
PDF_MAX_BYTES = PDF_MAX_MB * 1024 * 1024
PDF_MAGIC = b"%PDF-"
EDITABLE = (InvoiceStatus.DRAFT, InvoiceStatus.REVISE_AND_RESUBMIT)
TRUE = ("on", "true", "1", "yes", "y")


@dataclass(frozen=True)
class Upload:
    """A file as the browser or the API sent it."""
    filename: str
    data: bytes


@dataclass
class Sheet:
    """An invoice (or a new one) as its form and pages show it."""
    commitment: Commitment
    invoice: SubcontractorInvoice | None
    lines: list[Line]
    header: dict
    as_contact: bool
    contacts: list[User] = field(default_factory=list)
    attachment: InvoiceAttachment | None = None
    history: list[InvoiceEvent] = field(default_factory=list)

    @property
    def totals(self) -> Totals:
        return invoice_lines.totals(self.lines)

    @property
    def unit_based(self) -> bool:
        return self.commitment.accounting_method == "unit"

    @property
    def editable(self) -> bool:
        return self.invoice is None or self.invoice.status in EDITABLE

    @property
    def revising(self) -> bool:
        return any(ln.locked for ln in self.lines)

    @property
    def sent_back(self) -> bool:
        """Revise and Resubmit: the contact changes the lines marked and resubmits."""
        return self.invoice is not None and self.invoice.status == InvoiceStatus.REVISE_AND_RESUBMIT

    @property
    def under_review(self) -> bool:
        """Submitted and waiting for the administrator's line review."""
        return self.invoice is not None and self.invoice.status == InvoiceStatus.UNDER_REVIEW


# ---- loading and access ----------------------------------------------------------------

def load_commitment(session: Session, commitment_id: int) -> Commitment:
    commitment = session.scalars(select(Commitment).where(Commitment.id == commitment_id).options(
        joinedload(Commitment.vendor), joinedload(Commitment.project),
        joinedload(Commitment.lines).joinedload(CommitmentLine.category).joinedload(Category.cost_code))
    ).unique().first()
    if commitment is None:
        raise NotFound("No such commitment.")
    return commitment


def load_invoice(session: Session, invoice_id: int) -> SubcontractorInvoice:
    invoice = session.scalars(select(SubcontractorInvoice).where(SubcontractorInvoice.id == invoice_id)
                              .options(*invoice_load_options())).unique().first()
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def admin_level(session: Session, actor: User, project_id: int) -> str:
    """The actor's level on the project; PermissionDenied below Read Only."""
    level = ToolLevel.ADMIN if actor.is_site_admin else project_level(session, actor, project_id)
    if not policy.can(actor, policy.VIEW_PROJECT, project_level=level):
        raise PermissionDenied("You do not have access to this project.")
    return level


def require_admin(session: Session, actor: User, project_id: int) -> None:
    level = admin_level(session, actor, project_id)
    if not policy.can(actor, policy.REVIEW_INVOICES, project_level=level):
        raise PermissionDenied("Creating and reviewing invoices needs Admin on the project's tool.")


def commitment_for(session: Session, actor: User, commitment_id: int, project_id: int | None) -> Commitment:
    """The commitment to bill: a contact's own (project_id None), or one of the project's for
    its invoice administrator."""
    if project_id is None:
        contacts.contact_commitment(session, actor, commitment_id)
        return load_commitment(session, commitment_id)
    payments.load_commitment(session, project_id, commitment_id)   # NotFound when not on the project
    require_admin(session, actor, project_id)
    return load_commitment(session, commitment_id)


def invoice_for(session: Session, actor: User, invoice_id: int, project_id: int | None,
                admin: bool = True) -> SubcontractorInvoice:
    """The invoice for its contact (project_id None) or for the project's members (`admin`: for
    its administrator); NotFound for a contact who does not bill its commitment."""
    invoice = load_invoice(session, invoice_id)
    if project_id is None:
        if not contacts.is_contact(session, actor, invoice.commitment_id):
            raise NotFound("No such invoice.")
        return invoice
    if invoice.project_id != project_id:
        raise NotFound("That invoice is not on this project.")
    if admin:
        require_admin(session, actor, project_id)
    else:
        admin_level(session, actor, project_id)
    return invoice


# ---- figures ----------------------------------------------------------------------------

def previous_of(session: Session, commitment_id: int, before_id: int | None) -> dict[int, Previous]:
    """What earlier submitted invoices (not drafts) billed per commitment line, in one query."""
    query = (select(InvoiceLine.commitment_line_id, func.sum(InvoiceLine.work_completed),
                    func.sum(InvoiceLine.materials_stored), func.sum(InvoiceLine.retainage))
             .join(SubcontractorInvoice, SubcontractorInvoice.id == InvoiceLine.invoice_id)
             .where(SubcontractorInvoice.commitment_id == commitment_id,
                    SubcontractorInvoice.status.not_in(payments.NOT_BILLED))
             .group_by(InvoiceLine.commitment_line_id))
    if before_id is not None:
        query = query.where(SubcontractorInvoice.id < before_id)
    return {cl: Previous(Decimal(work or 0), Decimal(stored or 0), Decimal(ret or 0))
            for cl, work, stored, ret in session.execute(query)}


def approved_changes(session: Session, commitment_id: int) -> dict[int, Decimal]:
    """What approved change orders add to each commitment line (its revised scheduled value)."""
    rows = session.execute(
        select(CCOLine.commitment_line_id, func.sum(CCOLine.amount))
        .join(CommitmentChangeOrder, CommitmentChangeOrder.id == CCOLine.cco_id)
        .where(CommitmentChangeOrder.commitment_id == commitment_id, CommitmentChangeOrder.status == "Approved",
               CCOLine.commitment_line_id.is_not(None))
        .group_by(CCOLine.commitment_line_id))
    return {line_id: Decimal(total or 0) for line_id, total in rows if line_id is not None}


def sheet_lines(session: Session, commitment: Commitment, invoice: SubcontractorInvoice | None) -> list[Line]:
    """One line per SOV line; on an invoice sent back for revision only the lines marked for
    revision may change."""
    previous = previous_of(session, commitment.id, invoice.id if invoice else None)
    changes = approved_changes(session, commitment.id)
    saved = {ln.commitment_line_id: ln for ln in invoice.lines} if invoice else {}
    lines = [invoice_lines.from_saved(cl, previous.get(cl.id, Previous()), saved.get(cl.id),
                                      changes.get(cl.id, Decimal("0")))
             for cl in commitment.lines]
    if invoice is not None and invoice.status == InvoiceStatus.REVISE_AND_RESUBMIT \
            and any(ln.review == "revise" for ln in lines):
        for ln in lines:
            ln.locked = ln.review != "revise"
    return lines


def month_of(today: date) -> tuple[date, date]:
    start = today.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start, end


def period_dates(session: Session, project_id: int, period_id: int | None) -> tuple[date, date, date] | None:
    """(start, end, billing date) of the billing period a new invoice bills for: the one named (an
    accepted invitation names it), else the project's open period; None when there is none."""
    period = (periods.get_period(session, project_id, period_id) if period_id is not None
              else periods.open_period(session, project_id))
    return (period.start_date, period.end_date, period.billing_date) if period else None


def new_header(session: Session, commitment: Commitment, period_id: int | None, today: date) -> dict:
    found = period_dates(session, commitment.project_id, period_id)
    if found:
        start, end, billing = found
    else:
        start, end = month_of(today)
        billing = min(today, end)
    return {"number": "", "billing_date": billing.isoformat(), "period_start": start.isoformat(),
            "period_end": end.isoformat(), "retainage_release": "", "contact_id": ""}


def header_of(invoice: SubcontractorInvoice) -> dict:
    return {"number": invoice.number, "billing_date": invoice.billing_date.isoformat(),
            "period_start": invoice.period_start.isoformat(), "period_end": invoice.period_end.isoformat(),
            "retainage_release": "on" if invoice.retainage_release else "",
            "contact_id": str(invoice.contact_id or "")}


def history(session: Session, invoice_id: int) -> list[InvoiceEvent]:
    return list(session.scalars(select(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice_id)
                                .options(selectinload(InvoiceEvent.actor)).order_by(InvoiceEvent.id)))


def attachment_of(session: Session, invoice_id: int) -> InvoiceAttachment | None:
    return session.scalar(select(InvoiceAttachment).where(InvoiceAttachment.invoice_id == invoice_id))


def sheet(session: Session, actor: User, *, commitment_id: int | None = None, invoice_id: int | None = None,
          project_id: int | None = None, period_id: int | None = None, today: date | None = None,
          admin: bool = True) -> Sheet:
    """A new invoice's form (commitment_id) or an invoice with its lines, PDF and history."""
    invoice = None
    if invoice_id is not None:
        invoice = invoice_for(session, actor, invoice_id, project_id, admin)
        commitment = load_commitment(session, invoice.commitment_id)
    else:
        assert commitment_id is not None
        commitment = commitment_for(session, actor, commitment_id, project_id)
    header = header_of(invoice) if invoice else new_header(session, commitment, period_id, today or date.today())
    people = contacts.contacts_of(session, commitment.id)
    if invoice is None and len(people) == 1:
        header["contact_id"] = str(people[0].id)   # the one contact a new invoice can be made for
    return Sheet(commitment, invoice, sheet_lines(session, commitment, invoice), header, project_id is None, people,
                 attachment_of(session, invoice.id) if invoice else None,
                 history(session, invoice.id) if invoice else [])


# ---- checks -----------------------------------------------------------------------------

def check_pdf(upload: Upload | None, errors: dict) -> Upload | None:
    """The upload if it is a PDF within the limit; else None with the error on `pdf`."""
    if upload is None or (not upload.filename and not upload.data):
        return None
    name = re.split(r"[\\/]", upload.filename or "")[-1].strip() or "invoice.pdf"
    if len(upload.data) > PDF_MAX_BYTES:
        errors["pdf"] = (f"The PDF is {len(upload.data) / 1024 / 1024:.1f} MB; the portal keeps PDFs of up "
                         f"to {PDF_MAX_MB} MB. Send a smaller file (a lower scan resolution).")
    elif not upload.data:
        errors["pdf"] = "The file is empty: attach the subcontractor's invoice as a PDF."
    elif not upload.data.startswith(PDF_MAGIC):
        errors["pdf"] = "That file is not a PDF: attach the subcontractor's invoice as a PDF."
    elif problem := text_problem(name, "File name", FILENAME_MAX, sage=False):
        errors["pdf"] = problem
    else:
        return Upload(name, upload.data)
    return None


def parse_header(session: Session, form: dict, commitment: Commitment, invoice: SubcontractorInvoice | None,
                 as_contact: bool, actor: User, errors: dict) -> dict:
    number = str(form.get("number") or "").strip()
    if not number:
        errors["number"] = "Invoice # is required."
    elif problem := text_problem(number, "Invoice #", NUMBER_MAX, sage=False):
        errors["number"] = problem
    elif session.scalar(select(SubcontractorInvoice.id).where(
            SubcontractorInvoice.commitment_id == commitment.id, SubcontractorInvoice.number == number,
            SubcontractorInvoice.id != (invoice.id if invoice else 0))) is not None:
        errors["number"] = f"Invoice # {number} is already used on commitment {commitment.number}."
    dates = parse_period(form, errors)
    contact_id = actor.id if as_contact else _contact_choice(session, form, commitment, invoice, errors)
    return {"number": number, **dates, "contact_id": contact_id,
            "retainage_release": str(form.get("retainage_release") or "").strip().lower() in TRUE}


def _contact_choice(session: Session, form: dict, commitment: Commitment, invoice: SubcontractorInvoice | None,
                    errors: dict) -> int | None:
    """The contact an administrator bills for: one of the commitment's contacts (none to choose
    when it has none)."""
    ids = [u.id for u in contacts.contacts_of(session, commitment.id)]
    raw = str(form.get("contact_id") or "").strip()
    if not raw:
        if invoice is not None and invoice.contact_id in ids:
            return invoice.contact_id
        if ids:
            errors["contact_id"] = "Choose the invoice contact this invoice is made for."
        return None
    chosen = as_id(raw)
    if chosen is None or chosen not in ids:
        errors["contact_id"] = f"Choose one of the invoice contacts of commitment {commitment.number}."
        return None
    return chosen


def confirmed(form: dict) -> bool:
    return str(form.get(CONFIRM) or "").strip().lower() in TRUE


# ---- saving -----------------------------------------------------------------------------

def event(session: Session, invoice: SubcontractorInvoice, actor: User | None, action: str, before: str,
          detail: dict | None = None) -> InvoiceEvent:
    row = InvoiceEvent(invoice_id=invoice.id, actor_id=actor.id if actor else None, action=action,
                       from_status=before, to_status=invoice.status, detail=detail)
    session.add(row)
    return row


SUBMIT_FROM = {InvoiceStatus.DRAFT: "submit", InvoiceStatus.REVISE_AND_RESUBMIT: "resubmit"}


def _submit(session: Session, actor: User, invoice: SubcontractorInvoice) -> None:
    """Draft -> Under Review (submit), Revise and Resubmit -> Under Review (resubmit); the lines
    sent back lose their mark (their comments stay in the history)."""
    action = SUBMIT_FROM.get(invoice.status)
    if action is None:
        raise Conflict(f"The invoice is {invoice.status}: only a draft or an invoice sent back for "
                       "revision can be submitted.")
    if not any(ln.amount or ln.retainage for ln in invoice.lines):
        raise Invalid("The invoice bills nothing: fill at least one line before submitting.",
                      fields={"lines": "Fill at least one line."})
    before = invoice.status
    invoice.status = InvoiceStatus.UNDER_REVIEW
    for line in invoice.lines:
        if line.review == "revise":
            line.review = None
    event(session, invoice, actor, action, before)


@transactional
def save(session: Session, actor: User, form: dict, upload: Upload | None = None, *,
         commitment_id: int | None = None, invoice_id: int | None = None, project_id: int | None = None,
         submit: bool = False) -> SubcontractorInvoice:
    """Create (commitment_id) or change (invoice_id) an invoice with its lines and PDF, all or
    nothing, and with `submit` send it for review. Errors name their field; a line over its
    remaining balance is refused with a warning unless the form confirms it."""
    refuse_unstorable({k: v for k, v in form.items() if isinstance(v, str)})
    invoice = None
    if invoice_id is not None:
        invoice = invoice_for(session, actor, invoice_id, project_id)
        if invoice.status not in EDITABLE:
            raise Conflict(f"The invoice is {invoice.status}: it can be changed while it is a draft or "
                           "sent back for revision.")
        commitment = load_commitment(session, invoice.commitment_id)
    else:
        assert commitment_id is not None
        commitment = commitment_for(session, actor, commitment_id, project_id)
    errors: dict[str, str] = {}
    head = parse_header(session, form, commitment, invoice, project_id is None, actor, errors)
    pdf = check_pdf(upload, errors)
    parsed = invoice_lines.parse_lines(sheet_lines(session, commitment, invoice), form, commitment.retainage_pct,
                                       commitment.accounting_method == "unit", head["retainage_release"])
    errors.update(parsed.errors)
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    if parsed.warnings and not confirmed(form):
        raise Invalid("Some lines bill more than their remaining balance: check them, and tick 'Bill over "
                      "the remaining balance' to save anyway.",
                      fields={**parsed.warnings, CONFIRM: "Tick to bill over the remaining balance."})
    if invoice is None:
        invoice = SubcontractorInvoice(project_id=commitment.project_id, commitment_id=commitment.id,
                                       status=InvoiceStatus.DRAFT, created_by_id=actor.id, lines=[])
        session.add(invoice)
        action = "create"
    else:
        action = "save"
    invoice.number, invoice.contact_id = head["number"], head["contact_id"]
    invoice.billing_date, invoice.retainage_release = head["billing_date"], head["retainage_release"]
    invoice.period_start, invoice.period_end = head["period_start"], head["period_end"]
    rows = {ln.commitment_line_id: ln for ln in invoice.lines}
    for line in parsed.lines:
        row = rows.get(line.id)
        if row is None:
            row = InvoiceLine(commitment_line_id=line.id)
            invoice.lines.append(row)
        invoice_lines.store(line, row)
    invoice.recompute_totals()
    session.flush()
    if pdf is not None:
        _attach(session, actor, invoice, pdf)
    event(session, invoice, actor, action, invoice.status if action == "save" else "",
          {"over_balance": list(parsed.warnings.values())} if parsed.warnings else None)
    if submit:
        _submit(session, actor, invoice)
    commit(session)
    return invoice


def _attach(session: Session, actor: User, invoice: SubcontractorInvoice, pdf: Upload) -> None:
    row = attachment_of(session, invoice.id) or InvoiceAttachment(invoice_id=invoice.id)
    row.filename, row.size, row.data = pdf.filename, len(pdf.data), pdf.data
    row.uploaded_by_id = actor.id
    session.add(row)


@transactional
def submit(session: Session, actor: User, invoice_id: int, project_id: int | None = None) -> SubcontractorInvoice:
    """Send a draft (or an invoice revised after review) to the administrator's review."""
    invoice = invoice_for(session, actor, invoice_id, project_id)
    _submit(session, actor, invoice)
    commit(session)
    return invoice


def download(session: Session, actor: User, invoice_id: int) -> tuple[str, bytes]:
    """The invoice's PDF for its contacts, the project's members and ERP Integrations' users
    (the approver's item page links it); NotFound for anyone else, and when there is none."""
    invoice = session.get(SubcontractorInvoice, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.")
    allowed = (policy.can(actor, policy.VIEW_ERP)
               or policy.can(actor, policy.VIEW_PROJECT,
                             project_level=project_level(session, actor, invoice.project_id))
               or contacts.is_contact(session, actor, invoice.commitment_id))
    row = session.scalars(select(InvoiceAttachment).where(InvoiceAttachment.invoice_id == invoice_id)
                          .options(undefer(InvoiceAttachment.data))).first() if allowed else None
    if row is None:
        raise NotFound("This invoice has no PDF.")
    return row.filename, row.data


def preview(session: Session, actor: User, form: dict, *, commitment_id: int | None = None,
            invoice_id: int | None = None, project_id: int | None = None) -> tuple[Sheet, dict, dict]:
    """The form's figures recalculated without saving: (sheet, errors, warnings)."""
    shown = sheet(session, actor, commitment_id=commitment_id, invoice_id=invoice_id, project_id=project_id)
    release = str(form.get("retainage_release") or "").strip().lower() in TRUE
    parsed = invoice_lines.parse_lines(shown.lines, form, shown.commitment.retainage_pct, shown.unit_based, release)
    shown.lines = parsed.lines
    shown.header = {name: str(form.get(name, value) or "") for name, value in shown.header.items()}
    shown.header["retainage_release"] = "on" if release else ""
    return shown, parsed.errors, parsed.warnings
