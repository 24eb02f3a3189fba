"""Invite to Bill: for a project's open billing period the invoice administrator invites one,
several or all invoice contacts of its commitments; each gets an email with a signed link, opens
it, and accepts (starts an invoice) or declines (with an optional note). The administrator sees
each invitation's way (invited, opened, accepted, declined, submitted) and sends reminders.
An invitation expires with its period.

"Submitted" is read from the invoices, not stored: an invoice of the commitment for the period
(its period starting within the billing period) in any status but Draft.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.domain import outbox, signed
from portal.domain.billing_models import BillingPeriod, BillInvitation, InvoiceContact, PeriodStatus
from portal.domain.contact_accounts import admin_project
from portal.domain.errors import Conflict, Invalid, NotFound
from portal.domain.models import Commitment, InvoiceStatus, OutboxMail, SubcontractorInvoice, User, utcnow
from portal.domain.notifications import Notices, company_name
from portal.domain.search import like
from portal.domain.signed import Links
from portal.domain.uow import commit, transactional
from portal.domain.values import mmddyyyy

NOTE_MAX = 500   # the column's length (billing_models.BillInvitation.decline_note)


class InviteStatus:
    INVITED = "Invited"
    OPENED = "Opened"
    ACCEPTED = "Accepted"
    DECLINED = "Declined"
    SUBMITTED = "Submitted"
    EXPIRED = "Expired"


@dataclass(frozen=True)
class InvitationRow:
    invitation: BillInvitation
    submitted: bool

    @property
    def period(self) -> BillingPeriod:
        return self.invitation.period

    @property
    def expired(self) -> bool:
        return self.period.status != PeriodStatus.OPEN

    @property
    def status(self) -> str:
        """Where the invitation is: what the contact did last, Submitted once they billed."""
        inv = self.invitation
        if self.submitted:
            return InviteStatus.SUBMITTED
        if inv.declined_at:
            return InviteStatus.DECLINED
        if self.expired:
            return InviteStatus.EXPIRED
        if inv.accepted_at:
            return InviteStatus.ACCEPTED
        return InviteStatus.OPENED if inv.opened_at else InviteStatus.INVITED

    @property
    def live(self) -> bool:
        """The contact may still act on it (answer, or go on to the invoice): it may be reminded."""
        return self.status in (InviteStatus.INVITED, InviteStatus.OPENED, InviteStatus.ACCEPTED)


def _load():
    return (joinedload(BillInvitation.period).joinedload(BillingPeriod.project),
            joinedload(BillInvitation.commitment).joinedload(Commitment.vendor), joinedload(BillInvitation.user))


def _rows(session: Session, invitations: list[BillInvitation]) -> list[InvitationRow]:
    """The invitations with "submitted" read from the invoices in one query."""
    if not invitations:
        return []
    found = session.execute(
        select(SubcontractorInvoice.commitment_id, SubcontractorInvoice.period_start)
        .where(SubcontractorInvoice.commitment_id.in_({i.commitment_id for i in invitations}),
               SubcontractorInvoice.status != InvoiceStatus.DRAFT)).all()
    return [InvitationRow(i, any(cid == i.commitment_id and i.period.start_date <= start <= i.period.end_date
                                 for cid, start in found)) for i in invitations]


def project_contacts(session: Session, project_id: int) -> list[tuple[Commitment, User]]:
    """Every invoice contact of the project's commitments, by commitment then name."""
    rows = session.execute(
        select(Commitment, User).join(InvoiceContact, InvoiceContact.commitment_id == Commitment.id)
        .join(User, User.id == InvoiceContact.user_id)
        .where(Commitment.project_id == project_id, User.active.is_(True))
        .options(joinedload(Commitment.vendor)).order_by(Commitment.number, User.name)).all()
    return [(c, u) for c, u in rows]


def invitations_of(session: Session, period_id: int) -> list[InvitationRow]:
    """A period's invitations, by commitment and contact, with where each is."""
    return _rows(session, list(session.scalars(
        select(BillInvitation).where(BillInvitation.period_id == period_id).options(*_load())
        .join(Commitment, Commitment.id == BillInvitation.commitment_id).join(User, User.id == BillInvitation.user_id)
        .order_by(Commitment.number, User.name)).unique()))


def pick(commitment_id: int, user_id: int) -> str:
    """How the invite form names one contact of one commitment."""
    return f"{commitment_id}:{user_id}"


def _bill_mail(session: Session, invitation: BillInvitation, links: Links, notices: Notices,
               reminder: bool = False) -> OutboxMail:
    period, commitment, user = invitation.period, invitation.commitment, invitation.user
    company = company_name(session, notices)
    subject = f"{company}: Invitation to bill {period.project.name} for {period.label}"
    link = links.url(f"/billing/invitations/{signed.sign(links.secret, signed.BILL, invitation.id)}")
    return outbox.write(session, [user.email.strip().lower()], subject + (" (reminder)" if reminder else ""),
                        "bill_invitation", company=company, person=user.name, reminder=reminder,
                        project=f"{period.project.number} {period.project.name}", period=period.label,
                        commitment=f"{commitment.number} {commitment.title}", vendor=commitment.vendor.name,
                        billing_date=mmddyyyy(period.billing_date), due_date=mmddyyyy(period.due_date), link=link)


def _admin_period(session: Session, actor: User, project_id: int, period_id: int) -> BillingPeriod:
    admin_project(session, actor, project_id)
    period = session.scalars(select(BillingPeriod).where(BillingPeriod.id == period_id)
                             .options(joinedload(BillingPeriod.project))).first()
    if period is None or period.project_id != project_id:
        raise NotFound("No such billing period on this project.")
    return period


@dataclass(frozen=True)
class Invited:
    sent: int
    already: int


@transactional
def invite(session: Session, actor: User, project_id: int, period_id: int, picks: list[str], everyone: bool,
           links: Links, notices: Notices) -> Invited:
    """Invite the chosen contacts (or all of the project's) to bill the open period: one
    invitation and one email each; a contact already invited for the period is left alone."""
    period = _admin_period(session, actor, project_id, period_id)
    if period.status != PeriodStatus.OPEN:
        raise Conflict(f"The period {period.label} is not open: invitations go out for the open period only.")
    contacts = {pick(c.id, u.id): (c, u) for c, u in project_contacts(session, project_id)}
    chosen = list(contacts) if everyone else list(dict.fromkeys(picks))
    unknown = [p for p in chosen if p not in contacts]
    if not contacts:
        raise Invalid("Please correct the highlighted fields.", fields={"contacts": (
            "No invoice contacts on this project's commitments yet: add them on each commitment's page.")})
    if unknown or not chosen:
        raise Invalid("Please correct the highlighted fields.", fields={"contacts": (
            "Choose at least one invoice contact, or Invite all." if not chosen else
            "Choose invoice contacts of this project's commitments.")})
    done = {pick(c, u) for c, u in session.execute(select(BillInvitation.commitment_id, BillInvitation.user_id)
                                                   .where(BillInvitation.period_id == period.id))}
    mails = []
    for key in chosen:
        if key in done:
            continue
        commitment, user = contacts[key]
        invitation = BillInvitation(period_id=period.id, commitment_id=commitment.id, user_id=user.id,
                                    invited_by_id=actor.id, invited_at=utcnow())
        session.add(invitation)
        session.flush()
        invitation.period, invitation.commitment, invitation.user = period, commitment, user
        mails.append(_bill_mail(session, invitation, links, notices))
    commit(session, "Someone else invited these contacts at the same moment; reload to see the invitations.")
    outbox.deliver_all(mails, notices.queue)
    return Invited(len(mails), len(chosen) - len(mails))


def _one(session: Session, invitation_id: int) -> BillInvitation | None:
    return session.scalars(select(BillInvitation).where(BillInvitation.id == invitation_id)
                           .options(*_load())).first()


@transactional
def remind(session: Session, actor: User, project_id: int, invitation_id: int, links: Links,
           notices: Notices) -> InvitationRow:
    """Email the invitation again, while the contact may still bill."""
    admin_project(session, actor, project_id)
    invitation = _one(session, invitation_id)
    if invitation is None or invitation.period.project_id != project_id:
        raise NotFound("No such invitation on this project.")
    row = _rows(session, [invitation])[0]
    if not row.live:
        raise Conflict(f"{invitation.user.name}'s invitation is {row.status.lower()}: there is nothing to remind.")
    mail = _bill_mail(session, invitation, links, notices, reminder=True)
    invitation.reminded_at, invitation.reminders = utcnow(), invitation.reminders + 1
    session.commit()
    outbox.deliver_all([mail], notices.queue)
    return _rows(session, [_one(session, invitation_id)])[0]  # type: ignore[list-item]


# ---- the contact's side ------------------------------------------------------------------------

def contact_invitation(session: Session, user: User, secret: str, token: str) -> InvitationRow:
    """The invitation a link names, if it is `user`'s; NotFound otherwise (never a hint it exists)."""
    invitation = _one(session, signed.unsign(secret, signed.BILL, token))
    if invitation is None or invitation.user_id != user.id:
        raise NotFound("No such invitation.")
    return _rows(session, [invitation])[0]


@transactional
def open_invitation(session: Session, user: User, secret: str, token: str) -> InvitationRow:
    """The contact opened the link: the first time is recorded (while it may still be answered)."""
    row = contact_invitation(session, user, secret, token)
    if row.invitation.opened_at is None and not row.expired:
        row.invitation.opened_at = utcnow()
        session.commit()
        return contact_invitation(session, user, secret, token)  # as committed (a commit expires the rows)
    return row


def _answerable(row: InvitationRow) -> None:
    inv = row.invitation
    if row.status == InviteStatus.SUBMITTED:
        raise Conflict("An invoice for this period was already submitted on this commitment.")
    if inv.declined_at:
        raise Conflict(f"You declined this invitation on {_when(inv.declined_at)}.")
    if row.expired:
        raise Conflict(f"This invitation expired with the billing period {row.period.label}. "
                       "Ask the invoice administrator for a new one.")


def _when(at: datetime) -> str:
    return f"{at:%m/%d/%Y}"


@transactional
def accept(session: Session, user: User, secret: str, token: str) -> InvitationRow:
    """Accept: the contact will bill the period (accepting again changes nothing)."""
    row = contact_invitation(session, user, secret, token)
    _answerable(row)
    inv = row.invitation
    if inv.accepted_at is None:
        inv.accepted_at = utcnow()
        inv.opened_at = inv.opened_at or inv.accepted_at
        session.commit()
        return contact_invitation(session, user, secret, token)
    return row


@transactional
def decline(session: Session, user: User, secret: str, token: str, note: str) -> InvitationRow:
    """Decline, with an optional note to the invoice administrator."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid("Please correct the highlighted fields.",
                      fields={"note": f"Note must be {NOTE_MAX} characters or less."})
    row = contact_invitation(session, user, secret, token)
    _answerable(row)
    inv = row.invitation
    if inv.accepted_at is not None:
        raise Conflict(f"You accepted this invitation on {_when(inv.accepted_at)}.")
    inv.declined_at, inv.decline_note = utcnow(), note
    inv.opened_at = inv.opened_at or inv.declined_at
    session.commit()
    return contact_invitation(session, user, secret, token)


@dataclass(frozen=True)
class ContactHome:
    commitments: list[Commitment]
    invitations: list[InvitationRow]
    invoices: list[SubcontractorInvoice]


def contact_home(session: Session, user: User) -> ContactHome:
    """What a contact sees first: their commitments, their invitations, their commitments' invoices."""
    mine = select(InvoiceContact.commitment_id).where(InvoiceContact.user_id == user.id)
    commitments = list(session.scalars(select(Commitment).where(Commitment.id.in_(mine)).options(
        joinedload(Commitment.project), joinedload(Commitment.vendor)).order_by(Commitment.number)).unique())
    invitations = _rows(session, list(session.scalars(
        select(BillInvitation).where(BillInvitation.user_id == user.id).options(*_load())
        .order_by(BillInvitation.invited_at.desc(), BillInvitation.id.desc())).unique()))
    invoices = list(session.scalars(
        select(SubcontractorInvoice).where(SubcontractorInvoice.commitment_id.in_(mine))
        .options(joinedload(SubcontractorInvoice.commitment))
        .order_by(SubcontractorInvoice.billing_date.desc(), SubcontractorInvoice.id.desc())))
    return ContactHome(commitments, invitations, invoices)


def commitment_invoices(session: Session, commitment_id: int) -> list[SubcontractorInvoice]:
    return list(session.scalars(select(SubcontractorInvoice).where(SubcontractorInvoice.commitment_id == commitment_id)
                                .order_by(SubcontractorInvoice.billing_date.desc(), SubcontractorInvoice.id.desc())))


def _addressed_to(mail: OutboxMail, email: str) -> bool:
    return email in {r.strip().lower() for r in mail.recipients.split(",")}


def my_mail(session: Session, user: User, limit: int = 200) -> list[OutboxMail]:
    """The mail the portal wrote to the user's address, newest first."""
    email = (user.email or "").strip().lower()
    if not email:
        return []
    rows = session.scalars(select(OutboxMail).where(like(OutboxMail.recipients, email))
                           .order_by(OutboxMail.id.desc()).limit(limit))
    return [m for m in rows if _addressed_to(m, email)]


def my_mail_one(session: Session, user: User, mail_id: int) -> OutboxMail:
    mail = session.get(OutboxMail, mail_id)
    if mail is None or not _addressed_to(mail, (user.email or "").strip().lower()):
        raise NotFound("No such mail.")
    return mail
