"""Notices for accounting approvers: the "ERP Integrations Daily Summary" email, and the notice
that a rejected item was sent to ERP again (a mail at once, or a line in the next summary,
as each approver chose on My account).

Mail goes through the outbox (written in the transaction that causes it, delivered by a job).
The daily summary is claimed by inserting the day's row of daily_summary_run: however many
schedulers or workers ask at once, the one whose insert commits sends it, the others find the
day taken, so it goes out once a day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import compliance, outbox
from portal.domain.errors import Invalid, NotFound
from portal.domain.lifecycle import State
from portal.domain.models import (
    Company,
    DailySummaryRun,
    DigestNote,
    ErpItem,
    OutboxMail,
    ToolLevel,
    User,
    utcnow,
)
from portal.domain.ports import MailQueue
from portal.domain.types import REGISTRY
from portal.domain.types.base import ItemSummary
from portal.domain.uow import transactional

EMAIL, DIGEST = "email", "digest"
RESENT_CHOICES = {EMAIL: "An email at once", DIGEST: "A line in the daily summary"}
EXPIRING_LISTED = 50   # insurance certificates expiring soon listed in a summary (then "and N more")


@dataclass(frozen=True)
class Notices:
    """What a mail needs from the web side: the company's name, the portal's address for links,
    and the queue that delivers (None: the reaper queues the mail)."""
    company: str = ""
    base_url: str = ""
    queue: MailQueue | None = None


def company_name(session: Session, notices: Notices) -> str:
    return notices.company or session.scalar(select(Company.name).order_by(Company.id).limit(1)) or "ERP Integrations"


def tab_link(base_url: str, type_key: str, state: str = "ready") -> str:
    return f"{base_url.rstrip('/')}/erp/{type_key}?filter={state}"


def item_link(base_url: str, erp: ErpItem) -> str:
    """The approver's page of one item (its lines, Sage records, history; Accept and Reject)."""
    return f"{base_url.rstrip('/')}/erp/{erp.item_type}/{erp.id}"


def approvers(session: Session) -> list[User]:
    """Every accounting approver (Standard or Admin on ERP Integrations with Can Push to
    Accounting) who is active and has an email address."""
    return list(session.scalars(select(User).where(
        User.active.is_(True), User.can_push_to_accounting.is_(True),
        User.erp_level.in_((ToolLevel.STANDARD, ToolLevel.ADMIN)), User.email != "").order_by(User.id)))


def _mail(session: Session, recipients: list[str], subject: str, template: str, erp_item_id: int | None = None,
          **context) -> OutboxMail:
    return outbox.write(session, recipients, subject, template, erp_item_id, **context)


# ---- a rejected item sent again ---------------------------------------------------------------

def resent(session: Session, erp: ErpItem, type_label: str, summary: ItemSummary, actor: User,
           reason: str | None, notices: Notices) -> list[OutboxMail]:
    """Tell every approver that a rejected item is back in Ready to Export: one mail to those who
    chose email (and those without a daily summary), a digest line for each of the others.
    Added to the session; the caller commits, then queues the mails (deliver_after_commit)."""
    company = company_name(session, notices)
    link = item_link(notices.base_url, erp)
    line = (f"{type_label} {summary.title} ({summary.project}) was sent to ERP again by {actor.name}"
            + (f"; it had been rejected: {reason}" if reason else "."))
    by_mail: list[str] = []
    for user in approvers(session):
        if user.resent_notice == DIGEST and user.daily_summary:
            session.add(DigestNote(user_id=user.id, erp_item_id=erp.id, text=line, link=link))
        else:
            by_mail.append(user.email.strip().lower())
    if not by_mail:
        return []
    facts = [("Project", summary.project), (type_label, summary.title), ("Vendor", summary.vendor),
             ("Amount", summary.amount), ("Sent again by", actor.name), ("Earlier rejection reason", reason or "")]
    return [_mail(session, sorted(set(by_mail)), f"{company}: ERP {type_label} Resent: {summary.title}", "resent",
                  erp_item_id=erp.id, type_label=type_label, facts=[f for f in facts if f[1]], link=link)]


def deliver_after_commit(mails: list[OutboxMail], notices: Notices | None) -> None:
    outbox.deliver_all(mails, notices.queue if notices else None)


# ---- the daily summary ------------------------------------------------------------------------

def due_day(now: datetime, hour: int, tz: ZoneInfo) -> date | None:
    """The company's date when its clock has reached the summary hour (now is naive UTC), else None."""
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    return local.date() if local.hour >= hour else None


@dataclass(frozen=True)
class Waiting:
    key: str
    label: str
    ready: int
    failed: int
    link: str


def _figures(session: Session, base_url: str) -> tuple[list[Waiting], tuple[str, str, datetime, str] | None]:
    """Items waiting (Ready to Export) and failed exports per type, and the oldest waiting item."""
    counts: dict[tuple[str, str], int] = {
        (k, s): n for k, s, n in session.execute(
            select(ErpItem.item_type, ErpItem.state, func.count()).where(
                ErpItem.state.in_((State.READY, State.FAILED))).group_by(ErpItem.item_type, ErpItem.state))}
    waiting = [Waiting(key, t.plural, counts.get((key, State.READY), 0), counts.get((key, State.FAILED), 0),
                       tab_link(base_url, key)) for key, t in REGISTRY.items()]
    oldest_erp = session.scalars(select(ErpItem).where(ErpItem.state == State.READY, ErpItem.sent_at.is_not(None))
                                 .order_by(ErpItem.sent_at, ErpItem.id).limit(1)).first()
    oldest = None
    if oldest_erp is not None and oldest_erp.item_type in REGISTRY:
        item_type = REGISTRY[oldest_erp.item_type]
        try:
            title = item_type.summary(item_type.load(session, oldest_erp.item_id)).title
        except NotFound:
            title = item_type.label
        oldest = (item_type.label, title, oldest_erp.sent_at or utcnow(), item_link(base_url, oldest_erp))
    return [w for w in waiting if w.ready or w.failed], oldest


def send_daily_summary(session: Session, now: datetime, hour: int, tz: ZoneInfo, notices: Notices) -> int | None:
    """Send the day's summary to every approver who has not opted out, once a day: None when it
    is not yet the hour or the day was already claimed, else how many mails were written."""
    day = due_day(now, hour, tz)
    taken = day is None or session.get(DailySummaryRun, day) is not None
    session.rollback()   # the claim below starts a transaction of its own
    if day is None or taken:
        return None
    try:
        session.add(DailySummaryRun(day=day, claimed_at=utcnow(), sent=0))
        session.flush()  # the claim: a second scheduler's insert of the same day fails here or at commit
        mails = _write_summaries(session, day, now, tz, notices)
        session.get_one(DailySummaryRun, day).sent = len(mails)
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    except BaseException:
        session.rollback()
        raise
    outbox.deliver_all(mails, notices.queue)
    return len(mails)


def _write_summaries(session: Session, day: date, now: datetime, tz: ZoneInfo, notices: Notices) -> list[OutboxMail]:
    company = company_name(session, notices)
    waiting, oldest = _figures(session, notices.base_url)
    notes: dict[int, list[DigestNote]] = {}
    for note in session.scalars(select(DigestNote).where(DigestNote.summary_day.is_(None)).order_by(DigestNote.id)):
        notes.setdefault(note.user_id, []).append(note)
    oldest_age = None
    if oldest is not None:
        age = now - oldest[2]
        oldest_age = f"{age.days} day(s)" if age >= timedelta(days=1) else f"{int(age.total_seconds() // 3600)} hour(s)"
    # the certificates expiring within 30 days (compliance.expiring), each with its company's page
    certificates = compliance.expiring(session, today=day)
    expiring = [(c, f"{notices.base_url}/erp/companies/{c.vendor_id}") for c in certificates[:EXPIRING_LISTED]]
    mails = []
    for user in approvers(session):
        mine = notes.get(user.id, [])
        for note in mine:
            note.summary_day = day
        if not user.daily_summary:
            continue
        mails.append(_mail(session, [user.email.strip().lower()],
                           f"{company}: ERP Integrations Daily Summary for {day:%m/%d/%Y}", "daily_summary",
                           company=company, day=day, person=user.name, waiting=waiting, oldest=oldest,
                           oldest_age=oldest_age, notes=mine, tz=str(tz), expiring=expiring,
                           more_expiring=len(certificates) - len(expiring),
                           total_ready=sum(w.ready for w in waiting), total_failed=sum(w.failed for w in waiting)))
    return mails


# ---- each approver's choices ------------------------------------------------------------------

@transactional
def set_preferences(session: Session, user_id: int, daily_summary: bool, resent_notice: str) -> User:
    """A user's own choices: the daily summary on or off, and how a resent item is told."""
    if resent_notice not in RESENT_CHOICES:
        raise Invalid("Choose how you are told of a resent item.",
                      fields={"resent_notice": "Choose one of the options."})
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    user.daily_summary, user.resent_notice = daily_summary, resent_notice
    session.commit()
    return user
