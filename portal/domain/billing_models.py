"""The billing side of commitments: who bills a commitment (its invoice contacts). Kept apart
from models.py, which is at its size limit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.models import Base, Commitment, User, utcnow


class InvoiceContact(Base):
    """A user of the commitment's vendor who bills it: invited to bill each period, submits its
    invoices, is told when they are paid."""
    __tablename__ = "invoice_contact"
    __table_args__ = (UniqueConstraint("commitment_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitment.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    commitment: Mapped[Commitment] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise", foreign_keys=[user_id])
