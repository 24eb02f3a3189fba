"""The outbox: mail written in the same transaction as the decision that causes it, and
delivered by a job (over SMTP, or kept in the portal when no SMTP server is configured).

Bodies are templates (templates/email/*.txt|html) rendered by a plain Jinja environment, so
the domain needs no Flask.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from portal.domain import policy
from portal.domain.backoff import MAIL_RETRY, Backoff
from portal.domain.errors import Conflict, NotFound, PermissionDenied
from portal.domain.models import ErpItem, MailStatus, OutboxMail, User, utcnow
from portal.domain.ports import JobStatuses, MailQueue
from portal.domain.search import like
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


def write(session: Session, recipients: list[str], subject: str, template: str, erp_item_id: int | None = None,
          **context) -> OutboxMail:
    """A mail of templates/email/<template>.txt|html to `recipients`, added to the session (the
    caller commits, then queues it)."""
    text, html = render(template, **context)
    mail = OutboxMail(recipients=",".join(recipients), subject=subject[:255], text_body=text, html_body=html,
                      status=MailStatus.PENDING, erp_item_id=erp_item_id, next_attempt_at=utcnow())
    session.add(mail)
    return mail


def rejection_subject(company: str, type_label: str, summary: ItemSummary) -> str:
    """"<Company>: ERP <Type> Rejection Notification — DD-4001, Oak Street Lofts": the item's
    number and project in the subject, so a mailbox's rejections tell themselves apart."""
    names = ", ".join(part for part in (summary.number, summary.project_name) if part)
    return f"{company}: ERP {type_label} Rejection Notification" + (f" — {names}" if names else "")


def rejection(session: Session, type_label: str, summary: ItemSummary, erp: ErpItem, approver: User,
              reason: str, company: str, link: str) -> OutboxMail | None:
    """The rejection notification to the item's creator and sender, answered to the approver who
    rejected it, added to the session (None when neither has an email address). `link` opens
    the item ready to edit."""
    ids = {i for i in (summary.creator_id, erp.sent_by_id) if i}
    emails = session.scalars(select(User.email).where(User.id.in_(ids))).all() if ids else []
    recipients = sorted({e.strip().lower() for e in emails if e and e.strip()})
    if not recipients:
        return None
    facts = [("Project", summary.project), (type_label, summary.title), ("Vendor", summary.vendor),
             ("Amount", summary.amount), ("Rejected by", approver.name), ("Reason", reason)]
    text, html = render("rejection", type_label=type_label, facts=facts, link=link)
    mail = OutboxMail(recipients=",".join(recipients), subject=rejection_subject(company, type_label, summary)[:255],
                      reply_to=(approver.email or "").strip() or None,
                      text_body=text, html_body=html, status=MailStatus.PENDING, erp_item_id=erp.id,
                      next_attempt_at=utcnow())
    session.add(mail)
    return mail


def mail_job_id(mail_id: int, attempts: int) -> str:
    """One job id per try: the reaper asks the queue about the one the mail waits for."""
    return f"mail-{mail_id}-{attempts}"


def enqueue(mail: OutboxMail, queue: MailQueue) -> bool:
    """Queue the mail's delivery; when the queue is down it stays pending, and the reaper
    queues it once the queue is back."""
    try:
        queue.mail(mail.id, mail_job_id(mail.id, mail.attempts))
        return True
    except Exception:  # noqa: BLE001 - the mail stays pending and can be retried from the Mail page
        log.exception("could not queue mail %s", mail.id)
        return False


def deliver_all(mails: list[OutboxMail], queue: MailQueue | None) -> None:
    """Queue the committed mails; a mail not queued now waits, pending, for the reaper."""
    if queue is None:
        return
    for mail in mails:
        if not enqueue(mail, queue):
            return


PAGE = 50


def mail_page(session: Session, page: int, q: str = "") -> tuple[list[OutboxMail], bool]:
    """One page of the Mail page, newest first, and whether there is another; q searches the
    subject, the recipients and the text body."""
    query = select(OutboxMail)
    q = " ".join((q or "").split())
    if q:
        query = query.where(or_(like(OutboxMail.subject, q), like(OutboxMail.recipients, q),
                                like(OutboxMail.text_body, q)))
    rows = session.scalars(query.order_by(OutboxMail.id.desc())
                           .offset((max(1, page) - 1) * PAGE).limit(PAGE + 1)).all()
    return list(rows[:PAGE]), len(rows) > PAGE


def get_mail(session: Session, mail_id: int) -> OutboxMail:
    mail = session.get(OutboxMail, mail_id)
    if mail is None:
        raise NotFound("No such mail.")
    return mail


# A worker holds a mail this long while it talks to the SMTP server (the mail job's timeout
# is shorter); a worker killed meanwhile leaves it to the reaper after that.
SENDING_HOLD = timedelta(minutes=3)


@transactional
def deliver_mail(session: Session, mail_id: int, transport: Callable[[OutboxMail], None] | None,
                 backoff: Backoff = MAIL_RETRY) -> str:
    """Send one outbox mail; transport None keeps it in the portal (no SMTP configured).

    The try is claimed first (pending -> sending, attempts + 1, in one conditional update), so
    two jobs for one mail (a reaper on each of two machines) send it once. A refusal is kept
    as the mail's last error and the mail waits, pending, for its next try `backoff` later;
    the reaper queues it then. Returns the outcome."""
    mail = session.get(OutboxMail, mail_id)
    if mail is None or mail.status != MailStatus.PENDING:
        session.rollback()
        return mail.status if mail else "missing"
    if transport is None:
        mail.status, mail.next_attempt_at = MailStatus.KEPT, None
        session.commit()
        return mail.status
    tried = mail.attempts
    claimed = session.execute(  # type: ignore[attr-defined]  # an UPDATE's CursorResult has rowcount
        update(OutboxMail).where(OutboxMail.id == mail_id, OutboxMail.status == MailStatus.PENDING,
                                 OutboxMail.attempts == tried)
        .values(status=MailStatus.SENDING, attempts=tried + 1, next_attempt_at=utcnow() + SENDING_HOLD)
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    if not claimed:
        return "skipped"
    session.refresh(mail)
    try:
        transport(mail)
    except Exception as exc:  # noqa: BLE001 - every SMTP failure is recorded and tried again
        wait = backoff.after(tried + 1)
        mail.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        mail.status = MailStatus.FAILED if wait is None else MailStatus.PENDING
        mail.next_attempt_at = None if wait is None else utcnow() + wait
        session.commit()
        log.warning("mail %s, try %d of %d: %s", mail_id, tried + 1, backoff.attempts, mail.last_error)
        return mail.status if wait is None else f"retry at {mail.next_attempt_at:%H:%M:%S}"
    mail.status, mail.sent_at, mail.last_error, mail.next_attempt_at = MailStatus.SENT, utcnow(), None, None
    session.commit()
    return mail.status


def due_mails(session: Session, now: datetime | None = None) -> list[OutboxMail]:
    """Mails whose try is due: pending past their time, or held by a worker that has not
    finished within the hold (it was killed)."""
    now = now or utcnow()
    return list(session.scalars(select(OutboxMail).where(
        OutboxMail.status.in_((MailStatus.PENDING, MailStatus.SENDING)),
        or_(OutboxMail.next_attempt_at <= now, OutboxMail.next_attempt_at.is_(None)))
        .order_by(OutboxMail.id)))


# RQ states in which the job will still run: the reaper leaves such a mail alone
WILL_RUN = frozenset({"queued", "started", "scheduled", "deferred", "unreachable"})


@transactional
def reap_mails(session: Session, queue: MailQueue, statuses: JobStatuses, now: datetime | None = None) -> int:
    """Queue every mail whose try is due and whose job will not run (it was never queued, the
    queue lost it, or it is the next try after a refusal); a mail a killed worker was
    sending is pending again first. Returns how many were queued."""
    due = due_mails(session, now)
    for mail in due:
        if mail.status == MailStatus.SENDING:
            log.warning("mail %s: its worker stopped while sending; trying again", mail.id)
            mail.status = MailStatus.PENDING
    session.commit()
    if not due:
        return 0
    known = statuses.statuses([mail_job_id(m.id, m.attempts) for m in due])
    queued = 0
    for mail in due:
        if known.get(mail_job_id(mail.id, mail.attempts)) in WILL_RUN:
            continue
        if not enqueue(mail, queue):
            break  # the queue is down: every mail waits for the next tick
        queued += 1
    return queued


@transactional
def retry_mail(session: Session, actor: User, mail_id: int, queue: MailQueue) -> OutboxMail:
    """Put a failed or pending mail back on the queue (site admins, from the Mail page)."""
    if not policy.can(actor, policy.READ_MAIL):
        raise PermissionDenied("Only site administrators can manage mail.")
    mail = get_mail(session, mail_id)
    if mail.status == MailStatus.SENT:
        raise Conflict("That mail was already sent.")
    mail.status, mail.next_attempt_at = MailStatus.PENDING, utcnow()
    session.commit()
    if not enqueue(mail, queue):
        raise Conflict("The job queue cannot be reached right now; the mail is kept as pending.")
    return mail
