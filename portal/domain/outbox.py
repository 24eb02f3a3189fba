"""The outbox: mail written in the same transaction as the decision that causes it, and
delivered by a job (over SMTP, or kept in the portal when no SMTP server is configured).

Bodies are templates (templates/email/*.txt|html) rendered by a plain Jinja environment, so
the domain needs no Flask.
"""
from __future__ import annotations

import logging
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import policy
from portal.domain.errors import Conflict, NotFound, PermissionDenied
from portal.domain.models import ErpItem, MailStatus, OutboxMail, User, utcnow
from portal.domain.ports import MailQueue
from portal.domain.types.base import ItemSummary
from portal.domain.uow import transactional

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, keep_trailing_newline=True)


def render(name: str, **context) -> tuple[str, str]:
    """The text and HTML bodies of templates/email/<name>.txt and .html."""
    return (_env.get_template(f"{name}.txt").render(**context),
            _env.get_template(f"{name}.html").render(**context))


def rejection(session: Session, type_label: str, summary: ItemSummary, erp: ErpItem, approver: str,
              reason: str, company: str, link: str) -> OutboxMail | None:
    """"<Company>: ERP <Type> Rejection Notification" to the item's creator and sender, added
    to the session (None when neither has an email address)."""
    ids = {i for i in (summary.creator_id, erp.sent_by_id) if i}
    emails = session.scalars(select(User.email).where(User.id.in_(ids))).all() if ids else []
    recipients = sorted({e.strip().lower() for e in emails if e and e.strip()})
    if not recipients:
        return None
    facts = [("Project", summary.project), (type_label, summary.title), ("Vendor", summary.vendor),
             ("Amount", summary.amount), ("Rejected by", approver), ("Reason", reason)]
    text, html = render("rejection", type_label=type_label, facts=facts, link=link)
    mail = OutboxMail(recipients=",".join(recipients), subject=f"{company}: ERP {type_label} Rejection Notification",
                      text_body=text, html_body=html, status=MailStatus.PENDING, erp_item_id=erp.id)
    session.add(mail)
    return mail


def enqueue(mail: OutboxMail, queue: MailQueue) -> bool:
    """Queue the mail's delivery; when the queue is down it stays pending, to be retried."""
    try:
        queue.mail(mail.id, f"mail-{mail.id}-{mail.attempts}")
        return True
    except Exception:  # noqa: BLE001 - the mail stays pending and can be retried from the Mail page
        log.exception("could not queue mail %s", mail.id)
        return False


PAGE = 50


def mail_page(session: Session, page: int) -> tuple[list[OutboxMail], bool]:
    """One page of the Mail page, newest first, and whether there is another."""
    rows = session.scalars(select(OutboxMail).order_by(OutboxMail.id.desc())
                           .offset((max(1, page) - 1) * PAGE).limit(PAGE + 1)).all()
    return list(rows[:PAGE]), len(rows) > PAGE


def get_mail(session: Session, mail_id: int) -> OutboxMail:
    mail = session.get(OutboxMail, mail_id)
    if mail is None:
        raise NotFound("No such mail.")
    return mail


@transactional
def deliver_mail(session: Session, mail_id: int, transport, max_attempts: int) -> str:
    """Send one outbox mail; transport None keeps it in the portal (no SMTP configured)."""
    mail = session.get(OutboxMail, mail_id)
    if mail is None or mail.status in (MailStatus.SENT, MailStatus.KEPT):
        session.rollback()
        return mail.status if mail else "missing"
    if transport is None:
        mail.status = MailStatus.KEPT
        session.commit()
        return mail.status
    mail.attempts += 1
    try:
        transport(mail)
    except Exception as exc:  # noqa: BLE001 - every SMTP failure is recorded and retried
        mail.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        mail.status = MailStatus.FAILED if mail.attempts >= max_attempts else MailStatus.PENDING
        session.commit()
        raise
    mail.status, mail.sent_at, mail.last_error = MailStatus.SENT, utcnow(), None
    session.commit()
    return mail.status


@transactional
def retry_mail(session: Session, actor: User, mail_id: int, queue: MailQueue) -> OutboxMail:
    """Put a failed or pending mail back on the queue (site admins, from the Mail page)."""
    if not policy.can(actor, policy.READ_MAIL):
        raise PermissionDenied("Only site administrators can manage mail.")
    mail = get_mail(session, mail_id)
    if mail.status == MailStatus.SENT:
        raise Conflict("That mail was already sent.")
    mail.status = MailStatus.PENDING
    session.commit()
    if not enqueue(mail, queue):
        raise Conflict("The job queue cannot be reached right now; the mail is kept as pending.")
    return mail
