"""Invoice contacts, changed: adding and removing them (the invoice administrator), and the
account invitation a new contact sets a password with."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from portal.domain import outbox, policy, signed, users
from portal.domain.billing_models import AccountInvitation, InvoiceContact
from portal.domain.contacts import is_contact
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.models import Commitment, OutboxMail, Project, User, utcnow
from portal.domain.notifications import Notices, company_name
from portal.domain.projects import project_for
from portal.domain.signed import Links
from portal.domain.uow import commit, transactional
from portal.domain.values import mmddyyyy

ACCOUNT_INVITATION_DAYS = 7
RENEW_PAUSE = timedelta(minutes=1)   # at most one new link a minute per account
MAX_USERNAME = 80


def admin_project(session: Session, actor: User, project_id: int) -> Project:
    """The project, if `actor` is its invoice administrator (Admin on the project: policy.SEND)."""
    project, level = project_for(session, actor, project_id)
    if not policy.can(actor, policy.SEND, project_level=level):
        raise PermissionDenied("Managing invoice contacts and billing needs Admin on the project's tools.")
    return project


def _project_commitment(session: Session, actor: User, project_id: int, commitment_id: int) -> Commitment:
    admin_project(session, actor, project_id)
    commitment = session.scalars(select(Commitment).where(Commitment.id == commitment_id)
                                 .options(joinedload(Commitment.vendor), joinedload(Commitment.project))).first()
    if commitment is None or commitment.project_id != project_id:
        raise NotFound("That commitment is not on this project.")
    return commitment


def candidates(session: Session, commitment: Commitment) -> list[User]:
    """Users of the commitment's vendor who are not contacts on it yet (the Add list)."""
    already = select(InvoiceContact.user_id).where(InvoiceContact.commitment_id == commitment.id)
    return list(session.scalars(select(User).where(User.vendor_id == commitment.vendor_id, User.active.is_(True),
                                                   User.id.not_in(already)).order_by(User.name)))


def _username_for(session: Session, email: str) -> str:
    """A free username from the email's local part ("ana.ruiz", then "ana.ruiz-2"...)."""
    base = re.sub(r"[^a-z0-9_.-]", "", email.partition("@")[0].lower())[:MAX_USERNAME - 4] or "contact"
    base = base if len(base) >= 2 else f"{base}-c"
    taken = set(session.scalars(select(User.username).where(User.username.like(f"{base}%"))))
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def _new_contact_fields(name: str, email: str) -> tuple[str, str]:
    name, email = (name or "").strip(), (email or "").strip()
    errors = {}
    if not name:
        errors["name"] = "Name is required (or choose an existing user)."
    elif len(name) > users.NAME_MAX:
        errors["name"] = f"Name must be {users.NAME_MAX} characters or less."
    if not email:
        errors["email"] = "Email is required for a new contact."
    elif len(email) > users.EMAIL_MAX:
        errors["email"] = f"Email must be {users.EMAIL_MAX} characters or less."
    elif not users.EMAIL_RE.match(email):
        errors["email"] = "Enter an email address."
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    return name, email


@dataclass(frozen=True)
class Added:
    user: User
    invited: bool          # a new account: an invitation to set a password was mailed
    mails: list[OutboxMail]


@transactional
def add_contact(session: Session, actor: User, project_id: int, commitment_id: int, *, user_id: int | None,
                name: str, email: str, links: Links, notices: Notices) -> Added:
    """Add an invoice contact to a commitment: an existing user of its vendor (`user_id`), or a new
    person by name and email, who gets an account of the vendor and an emailed invitation to set a
    password. A person already known by that email is taken as is when they belong to the vendor."""
    commitment = _project_commitment(session, actor, project_id, commitment_id)
    invited, mails = False, []
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or user.vendor_id != commitment.vendor_id or not user.active:
            raise Invalid("Please correct the highlighted fields.",
                          fields={"user_id": f"Choose a user of {commitment.vendor.name}."})
    else:
        name, email = _new_contact_fields(name, email)
        user = session.scalars(select(User).where(func.lower(User.email) == email.lower())
                               .order_by(User.id)).first()
        if user is not None and user.vendor_id != commitment.vendor_id:
            raise Invalid("Please correct the highlighted fields.", fields={
                "email": f"{email} belongs to a user who is not of {commitment.vendor.name}."})
        if user is None:
            user = User(username=_username_for(session, email), name=name, email=email,
                        password_hash=users.hash_password(secrets.token_urlsafe(24)), active=True,
                        vendor_id=commitment.vendor_id, session_token=users.new_session_token())
            session.add(user)
            session.flush()
            mails.append(_account_mail(session, user, commitment, links, notices))
            invited = True
    if is_contact(session, user, commitment.id):
        raise Conflict(f"{user.name} is already an invoice contact on {commitment.number}.")
    session.add(InvoiceContact(commitment_id=commitment.id, user_id=user.id, added_by_id=actor.id))
    commit(session, f"{user.name} was added to {commitment.number} at the same moment.")
    outbox.deliver_all(mails, notices.queue)
    return Added(user, invited, mails)


@transactional
def remove_contact(session: Session, actor: User, project_id: int, commitment_id: int, user_id: int) -> User:
    """Remove an invoice contact from a commitment (their account and past invitations stay)."""
    commitment = _project_commitment(session, actor, project_id, commitment_id)
    row = session.scalars(select(InvoiceContact).where(InvoiceContact.commitment_id == commitment.id,
                                                       InvoiceContact.user_id == user_id)
                          .options(joinedload(InvoiceContact.user))).first()
    if row is None:
        raise NotFound("That person is not an invoice contact on this commitment.")
    user = row.user
    session.delete(row)
    session.commit()
    return user


# ---- account invitations: a new contact sets a password -----------------------------------------

def _account_mail(session: Session, user: User, commitment: Commitment | None, links: Links,
                  notices: Notices) -> OutboxMail:
    """A new account invitation (older unused ones replaced) and its mail, added to the session."""
    for old in session.scalars(select(AccountInvitation).where(AccountInvitation.user_id == user.id,
                                                               AccountInvitation.used_at.is_(None))):
        old.replaced = True
    invitation = AccountInvitation(user_id=user.id, created_at=utcnow(),
                                   expires_at=utcnow() + timedelta(days=ACCOUNT_INVITATION_DAYS))
    session.add(invitation)
    session.flush()
    company = company_name(session, notices)
    link = links.url(f"/billing/welcome/{signed.sign(links.secret, signed.ACCOUNT, invitation.id)}")
    return outbox.write(session, [user.email.strip().lower()], f"{company}: Set up your account to bill",
                        "account_invitation", company=company, person=user.name, username=user.username,
                        vendor=commitment.vendor.name if commitment else "",
                        commitment=f"{commitment.number} {commitment.title}" if commitment else "",
                        project=f"{commitment.project.number} {commitment.project.name}" if commitment else "",
                        link=link, expires=mmddyyyy(invitation.expires_at.date()))


class LinkState:
    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    REPLACED = "replaced"


def account_invitation(session: Session, secret: str, token: str) -> tuple[AccountInvitation, str]:
    """The invitation a link names and what it is now (LinkState); NotFound for a forged link."""
    invitation = session.scalars(select(AccountInvitation).where(
        AccountInvitation.id == signed.unsign(secret, signed.ACCOUNT, token))
        .options(joinedload(AccountInvitation.user))).first()
    if invitation is None:
        raise NotFound("This link is not valid: check that it was copied whole from the email.")
    if invitation.used_at is not None:
        return invitation, LinkState.USED
    if invitation.replaced:
        return invitation, LinkState.REPLACED
    if invitation.expires_at <= utcnow():
        return invitation, LinkState.EXPIRED
    return invitation, LinkState.VALID


LINK_REFUSED = {LinkState.USED: "This link was already used to set your password. Sign in, or ask for a new link.",
                LinkState.REPLACED: "A newer link was sent to you since; use the newest one, or ask for a new link.",
                LinkState.EXPIRED: "This link has expired. Ask for a new one and we will email it to you."}


@transactional
def set_password(session: Session, secret: str, token: str, password: str, confirm: str) -> User:
    """Set a new contact's password through their invitation link: once, before it expires."""
    invitation, state = account_invitation(session, secret, token)
    if state != LinkState.VALID:
        raise Conflict(LINK_REFUSED[state])
    user = invitation.user
    password, confirm = password or "", confirm or ""
    errors = {}
    if len(password) > users.PASSWORD_MAX:
        errors["password"] = f"At most {users.PASSWORD_MAX} characters."
    elif problem := users.password_problem(password, user.username):
        errors["password"] = problem
    elif confirm != password:
        errors["confirm_password"] = "The two passwords differ."
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    claimed = session.execute(update(AccountInvitation).where(  # type: ignore[attr-defined]
        AccountInvitation.id == invitation.id, AccountInvitation.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise Conflict(LINK_REFUSED[LinkState.USED])
    user.password_hash = users.hash_password(password)
    user.session_token = users.new_session_token()
    session.commit()
    return user


@transactional
def renew_invitation(session: Session, token: str, links: Links, notices: Notices) -> User:
    """Mail a new link to the user an old (expired, used, replaced) link was for, at their own address."""
    invitation, _state = account_invitation(session, links.secret, token)
    user = invitation.user
    if not user.active or not user.is_invoice_contact:
        raise NotFound("This link is not valid any more.")
    _not_just_sent(session, user)
    mail = _account_mail(session, user, None, links, notices)
    session.commit()
    outbox.deliver_all([mail], notices.queue)
    return user


def _not_just_sent(session: Session, user: User) -> None:
    latest = session.scalar(select(func.max(AccountInvitation.created_at)).where(AccountInvitation.user_id == user.id))
    if latest is not None and utcnow() - latest < RENEW_PAUSE:  # a link cannot flood the mailbox
        raise Conflict("A new link was emailed a moment ago: check the mailbox (and its spam folder).")


def pending_ids(session: Session, user_ids: list[int]) -> set[int]:
    """Of `user_ids`, those invited to set a password who have not yet done so."""
    if not user_ids:
        return set()
    invited = set(session.scalars(select(AccountInvitation.user_id).where(AccountInvitation.user_id.in_(user_ids))))
    done = set(session.scalars(select(AccountInvitation.user_id).where(AccountInvitation.user_id.in_(user_ids),
                                                                     AccountInvitation.used_at.is_not(None))))
    return invited - done


@transactional
def resend_account_invitation(session: Session, actor: User, project_id: int, commitment_id: int, user_id: int,
                              links: Links, notices: Notices) -> User:
    """The invoice administrator mails a contact who has not set a password yet a new link."""
    commitment = _project_commitment(session, actor, project_id, commitment_id)
    user = session.get(User, user_id)
    if user is None or not is_contact(session, user, commitment.id):
        raise NotFound("That person is not an invoice contact on this commitment.")
    if user.id not in pending_ids(session, [user.id]):
        raise Conflict(f"{user.name} has already set a password: they sign in as {user.username}.")
    _not_just_sent(session, user)
    mail = _account_mail(session, user, commitment, links, notices)
    session.commit()
    outbox.deliver_all([mail], notices.queue)
    return user
