"""Invoice contacts, read: which commitments a contact may see and bill (every page a contact
reaches asks here; a commitment they are not a contact on is a 404 to them), a commitment's
contacts and lines. Adding and removing contacts and their account invitations:
contact_accounts.py."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.domain.billing_models import InvoiceContact
from portal.domain.errors import NotFound
from portal.domain.models import Commitment, CommitmentLine, User


def commitment_ids_of(session: Session, user: User) -> list[int]:
    """The commitments `user` is an invoice contact on."""
    return list(session.scalars(select(InvoiceContact.commitment_id).where(InvoiceContact.user_id == user.id)))


def is_contact(session: Session, user: User, commitment_id: int) -> bool:
    return session.scalar(select(InvoiceContact.id).where(
        InvoiceContact.user_id == user.id, InvoiceContact.commitment_id == commitment_id)) is not None


def contact_commitment(session: Session, user: User, commitment_id: int) -> Commitment:
    """The commitment, if `user` is a contact on it; else NotFound (never a hint that it exists)."""
    commitment = session.scalars(select(Commitment).where(Commitment.id == commitment_id).options(
        joinedload(Commitment.project), joinedload(Commitment.vendor))).first()
    if commitment is None or not is_contact(session, user, commitment_id):
        raise NotFound("No such commitment.")
    return commitment


def contacts_of(session: Session, commitment_id: int) -> list[User]:
    """The commitment's invoice contacts, by name."""
    return list(session.scalars(select(User).join(InvoiceContact, InvoiceContact.user_id == User.id)
                                .where(InvoiceContact.commitment_id == commitment_id).order_by(User.name)))


# ---- the invoice administrator's side: adding and removing contacts -----------------------------


def project_commitments(session: Session, project_id: int) -> list[Commitment]:
    """A project's commitments with their vendors, by number (where contacts are added)."""
    return list(session.scalars(select(Commitment).where(Commitment.project_id == project_id)
                                .options(joinedload(Commitment.vendor)).order_by(Commitment.number)))


def commitment_lines(session: Session, commitment_id: int) -> list[CommitmentLine]:
    """A commitment's schedule of values, in order."""
    return list(session.scalars(select(CommitmentLine).where(CommitmentLine.commitment_id == commitment_id)
                                .order_by(CommitmentLine.line_no)))
