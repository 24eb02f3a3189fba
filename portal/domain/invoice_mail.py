"""The mails an invoice contact receives about their invoice: Revise and Resubmit (the lines to
revise with the administrator's comments) and, after accounting rejects it, that it is being
corrected (never the approver's internal reason). Written to the outbox in the caller's
transaction; the caller commits, then queues them."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import contacts, outbox
from portal.domain.invoice_models import InvoiceEvent
from portal.domain.models import MailStatus, OutboxMail, SubcontractorInvoice, User, utcnow
from portal.domain.values import money


def contact_emails(session: Session, invoice: SubcontractorInvoice) -> list[str]:
    """Who bills the invoice: its contact, or (made without one) every contact of its commitment."""
    if invoice.contact_id:
        users = list(session.scalars(select(User).where(User.id == invoice.contact_id)))
    else:
        users = contacts.contacts_of(session, invoice.commitment_id)
    return sorted({u.email.strip().lower() for u in users if u.active and u.email and u.email.strip()})


def contact_link(base_url: str, invoice: SubcontractorInvoice) -> str:
    """The contact's page of the invoice."""
    return f"{base_url.rstrip('/')}/billing/invoices/{invoice.id}"


def title_of(invoice: SubcontractorInvoice) -> str:
    return f"Invoice #{invoice.number} on {invoice.commitment.number}"


def to_contact(session: Session, invoice: SubcontractorInvoice, company: str, base_url: str, subject: str,
               template: str, erp_item_id: int | None = None, **context) -> OutboxMail | None:
    """A mail to the invoice's contact(s), added to the session (None: nobody with an address)."""
    to = contact_emails(session, invoice)
    if not to:
        return None
    text, html = outbox.render(template, link=contact_link(base_url, invoice), title=title_of(invoice),
                               project=invoice.project.name, **context)
    mail = OutboxMail(recipients=",".join(to), subject=f"{company}: {subject}"[:255], text_body=text,
                      html_body=html, status=MailStatus.PENDING, erp_item_id=erp_item_id, next_attempt_at=utcnow())
    session.add(mail)
    return mail


def being_corrected(session: Session, invoice: SubcontractorInvoice, erp_item_id: int, company: str,
                    base_url: str) -> OutboxMail | None:
    """Accounting rejected the invoice: its history says so and its contact is told it is being
    corrected."""
    session.add(InvoiceEvent(invoice_id=invoice.id, action="returned_by_accounting",
                             from_status=invoice.status, to_status=invoice.status))
    return to_contact(session, invoice, company, base_url, f"{title_of(invoice)} is being corrected",
                      "invoice_correcting", erp_item_id, amount=money(invoice.total_amount))
