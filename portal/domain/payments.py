"""Payments back from Sage: the Paid Invoices sync ("Sync Paid Invoice Notifications from ERP")
marks synced subcontractor invoices Partly Paid or Paid with each check Sage applied (number,
date, amount), writes the check into the invoice's history (a Payment transition, Synced to
Synced) and mails "Payment issued"; and a commitment's billed, retainage held, paid and balance
to finish.

A Sage payment is applied once however often the sync runs: its Sage key is unique in
invoice_payment, and the sync skips the keys it already holds.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from portal.domain import outbox
from portal.domain.billing_models import InvoiceContact
from portal.domain.errors import NotFound
from portal.domain.lifecycle import Action, State, transition
from portal.domain.models import (
    CCOLine,
    Commitment,
    CommitmentChangeOrder,
    ErpItem,
    InvoiceStatus,
    OutboxMail,
    ProjectMember,
    SubcontractorInvoice,
    ToolLevel,
    User,
    Vendor,
    utcnow,
)
from portal.domain.notifications import Notices, company_name
from portal.domain.payment_models import InvoicePayment
from portal.domain.values import mmddyyyy, money

PARTLY_PAID, PAID = "Partly Paid", "Paid"
INVOICE_TYPE = "subcontractor_invoice"
SAGE_KEY_MAX = 40


def sage_key(row: dict) -> str:
    """A Sage payment's key in the portal: vendor, invoice and Sage's payment id."""
    return f"{row['Vendor']}/{row['Invoice']}/{row['Payment_ID']}"[:SAGE_KEY_MAX]


def status_for(invoice: SubcontractorInvoice) -> str | None:
    """Paid once the checks cover the current payment due (retainage is held), else Partly Paid."""
    paid = invoice.amount_paid or Decimal("0")
    if paid <= 0:
        return None
    return PAID if paid >= invoice.payment_due else PARTLY_PAID


def recipients(session: Session, invoice: SubcontractorInvoice, erp: ErpItem) -> list[str]:
    """Who in the company is told "Payment issued": the invoice's creator and its sender, and the
    project's invoice administrators (Admin on the project). The commitment's invoice contacts get
    a mail of their own (contact_recipients), linking to their side of the portal."""
    ids = {i for i in (invoice.created_by_id, erp.sent_by_id) if i}
    admins = select(ProjectMember.user_id).where(ProjectMember.project_id == invoice.project_id,
                                                 ProjectMember.level == ToolLevel.ADMIN)
    emails = session.scalars(select(User.email).where(User.active.is_(True), User.email != "",
                                                      (User.id.in_(ids)) | User.id.in_(admins),
                                                      User.vendor_id.is_(None)))
    return _addresses(emails)


def contact_recipients(session: Session, invoice: SubcontractorInvoice) -> list[str]:
    """The subcontractor's billing people: the contact who billed the invoice and the commitment's
    other active invoice contacts."""
    contacts = select(InvoiceContact.user_id).where(InvoiceContact.commitment_id == invoice.commitment_id)
    return _addresses(session.scalars(select(User.email).where(
        User.active.is_(True), User.email != "", User.vendor_id.is_not(None),
        User.id.in_(contacts) | (User.id == invoice.contact_id))))


def _addresses(emails) -> list[str]:
    return sorted({e.strip().lower() for e in emails if e and e.strip()})


def invoice_link(base_url: str, invoice: SubcontractorInvoice) -> str:
    return f"{base_url.rstrip('/')}/projects/{invoice.project_id}/invoices/{invoice.id}"


def payment_mails(session: Session, invoice: SubcontractorInvoice, erp: ErpItem, payment: InvoicePayment,
                  notices: Notices) -> list[OutboxMail]:
    """The "Payment issued" mails of one check, added to the session: one to the company's people
    (linking to the project's invoice page), one to the commitment's invoice contacts (linking to
    their commitment on /billing); none to nobody."""
    company = company_name(session, notices)
    title = f"Invoice #{invoice.number} on {invoice.commitment.number}"
    facts = [("Project", f"{invoice.project.number} {invoice.project.name}"), ("Invoice", title),
             ("Vendor", invoice.commitment.vendor.name), ("Check number", payment.check_number),
             ("Check date", mmddyyyy(payment.check_date)), ("Amount of this check", money(payment.amount)),
             ("Paid to date", money(invoice.amount_paid)),
             ("Current payment due", money(invoice.payment_due)), ("Status", invoice.payment_status or "")]
    base = notices.base_url.rstrip("/")
    mails = []
    for to, link in ((recipients(session, invoice, erp), invoice_link(base, invoice)),
                     (contact_recipients(session, invoice), f"{base}/billing/commitments/{invoice.commitment_id}")):
        if not to:
            continue
        text, html = outbox.render("payment_issued", facts=facts, status=invoice.payment_status, title=title,
                                   link=link)
        mail = OutboxMail(recipients=",".join(to),
                          subject=f"{company}: Payment issued — {title}, {invoice.project.name}"[:255],
                          text_body=text, html_body=html, erp_item_id=erp.id, next_attempt_at=utcnow())
        session.add(mail)
        mails.append(mail)
    return mails


def _synced_invoices(session: Session, refs: set[tuple[str, str]]) -> dict[tuple[str, str], tuple]:
    """The synced portal invoices behind Sage's (vendor, invoice) pairs, with their ErpItem."""
    if not refs:
        return {}
    rows = session.execute(
        select(SubcontractorInvoice, ErpItem, Vendor.erp_vendor_id)
        .join(ErpItem, (ErpItem.item_type == INVOICE_TYPE) & (ErpItem.item_id == SubcontractorInvoice.id))
        .join(Commitment, Commitment.id == SubcontractorInvoice.commitment_id)
        .join(Vendor, Vendor.id == Commitment.vendor_id)
        .where(ErpItem.state == State.SYNCED, ErpItem.erp_ref.in_(sorted({i for _, i in refs})))
        .options(joinedload(SubcontractorInvoice.project),
                 joinedload(SubcontractorInvoice.commitment).joinedload(Commitment.vendor))).unique().all()
    return {(vendor or "", erp.erp_ref or ""): (invoice, erp) for invoice, erp, vendor in rows
            if (vendor, erp.erp_ref) in refs}


def apply_payments(session: Session, sage_rows: list[dict], tally, notices: Notices | None) -> list[OutboxMail]:
    """Apply Sage's payments (simulator list_ap_payments rows) that the portal does not hold yet
    to their synced invoices; returns the mails written (the caller commits, then queues them)."""
    notices = notices or Notices()
    keys = {sage_key(r): r for r in sage_rows}
    held = set(session.scalars(select(InvoicePayment.sage_key).where(
        InvoicePayment.sage_key.in_(list(keys))))) if keys else set()
    new = [r for k, r in keys.items() if k not in held]
    tally.total(len(keys))
    tally.add("unchanged", len(keys) - len(new))
    invoices = _synced_invoices(session, {(r["Vendor"], r["Invoice"]) for r in new})
    mails = []
    for row in sorted(new, key=lambda r: (r["Check_Date"], r["Payment_ID"])):
        found = invoices.get((row["Vendor"], row["Invoice"]))
        tally.step()
        if found is None:
            continue  # a Sage invoice the portal did not export (or since unlinked): not ours
        invoice, erp = found
        payment = InvoicePayment(invoice_id=invoice.id, sage_key=sage_key(row), check_number=row["Check_Number"],
                                 check_date=row["Check_Date"], amount=Decimal(row["Amount"]), synced_at=utcnow())
        session.add(payment)
        invoice.amount_paid = (invoice.amount_paid or Decimal("0")) + payment.amount
        invoice.payment_status = status_for(invoice)
        transition(session, erp, Action.PAYMENT, None, detail={
            "check_number": payment.check_number, "check_date": mmddyyyy(payment.check_date),
            "amount": money(payment.amount), "amount_paid": money(invoice.amount_paid),
            "payment_status": invoice.payment_status})
        mails.extend(payment_mails(session, invoice, erp, payment, notices))
        tally.add("added")
    return mails


def payments_of(session: Session, invoice_id: int) -> list[InvoicePayment]:
    """An invoice's checks, oldest first (its page)."""
    return list(session.scalars(select(InvoicePayment).where(InvoicePayment.invoice_id == invoice_id)
                                .order_by(InvoicePayment.check_date, InvoicePayment.id)))


# ---- a commitment's figures ------------------------------------------------------------------

@dataclass(frozen=True)
class CommitmentFigures:
    original: Decimal
    approved_changes: Decimal
    billed: Decimal
    retainage_held: Decimal
    paid: Decimal

    @property
    def revised(self) -> Decimal:
        return self.original + self.approved_changes

    @property
    def balance_to_finish(self) -> Decimal:
        return self.revised - self.billed


# what counts as billed: every invoice the subcontractor submitted (a Draft is not billed yet)
NOT_BILLED = (InvoiceStatus.DRAFT,)


def commitment_figures(session: Session, commitment: Commitment) -> CommitmentFigures:
    """Billed (invoices submitted), retainage held, paid (the checks Sage applied) and the balance
    to finish (revised commitment - billed), in two queries."""
    billed, retainage, paid = session.execute(
        select(func.coalesce(func.sum(SubcontractorInvoice.total_amount), 0),
               func.coalesce(func.sum(SubcontractorInvoice.total_retainage), 0),
               func.coalesce(func.sum(SubcontractorInvoice.amount_paid), 0))
        .where(SubcontractorInvoice.commitment_id == commitment.id,
               SubcontractorInvoice.status.not_in(NOT_BILLED))).one()
    changes = session.scalar(
        select(func.coalesce(func.sum(CCOLine.amount), 0)).join(CommitmentChangeOrder,
                                                                CommitmentChangeOrder.id == CCOLine.cco_id)
        .where(CommitmentChangeOrder.commitment_id == commitment.id, CommitmentChangeOrder.status == "Approved"))
    return CommitmentFigures(original=commitment.total, approved_changes=Decimal(changes or 0),
                             billed=Decimal(billed), retainage_held=Decimal(retainage), paid=Decimal(paid))


def load_commitment(session: Session, project_id: int, commitment_id: int) -> Commitment:
    commitment = session.scalars(select(Commitment).where(Commitment.id == commitment_id).options(
        joinedload(Commitment.vendor), joinedload(Commitment.lines))).unique().first()
    if commitment is None or commitment.project_id != project_id:
        raise NotFound("That commitment is not on this project.")
    return commitment


def commitment_invoices(session: Session, commitment_id: int) -> list[SubcontractorInvoice]:
    return list(session.scalars(select(SubcontractorInvoice).where(
        SubcontractorInvoice.commitment_id == commitment_id).order_by(SubcontractorInvoice.billing_date,
                                                                      SubcontractorInvoice.id)))
