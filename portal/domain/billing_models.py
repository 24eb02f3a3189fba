"""The billing side of commitments: who bills a commitment (its invoice contacts), how they get
an account (account invitations), a project's billing periods and the 'Invite to Bill' of each
period. Kept apart from models.py, which is at its size limit."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.models import Base, Commitment, Project, User, utcnow


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


class AccountInvitation(Base):
    """A new invoice contact's way in: the emailed, signed link to set a password. Used once; it
    expires at `expires_at` (a newer invitation of the same user replaces it)."""
    __tablename__ = "account_invitation"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    replaced: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(lazy="raise")


class BillingMode:
    AUTOMATIC = "automatic"
    MANUAL = "manual"
    ALL = (AUTOMATIC, MANUAL)


class PeriodStatus:
    SCHEDULED = "scheduled"   # an automatic period created ahead, not started yet
    OPEN = "open"
    CLOSED = "closed"


class BillingSetup(Base):
    """How a project's billing periods come: automatic (monthly, from `start_day`, due on
    `due_day`, created ahead by the scheduler) or manual (the invoice administrator enters each)."""
    __tablename__ = "billing_setup"
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), default=BillingMode.MANUAL)
    start_day: Mapped[int] = mapped_column(Integer, default=1)
    due_day: Mapped[int] = mapped_column(Integer, default=25)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


OPEN_ONLY = text("status = 'open'")


class BillingPeriod(Base):
    """One billing period of a project; at most one is open at a time (the partial unique index)."""
    __tablename__ = "billing_period"
    __table_args__ = (
        Index("uq_billing_period_one_open", "project_id", unique=True,
              sqlite_where=OPEN_ONLY, postgresql_where=OPEN_ONLY),
        UniqueConstraint("project_id", "start_date"),
        CheckConstraint("end_date >= start_date", name="period_ends_after_start"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    billing_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=PeriodStatus.OPEN, index=True)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    project: Mapped[Project] = relationship(lazy="raise")

    @property
    def label(self) -> str:
        """"10/01/2026 – 10/31/2026": how mails and pages name the period."""
        return f"{self.start_date:%m/%d/%Y} – {self.end_date:%m/%d/%Y}"


class BillInvitation(Base):
    """An 'Invite to Bill': one invoice contact of one commitment, for one billing period."""
    __tablename__ = "bill_invitation"
    __table_args__ = (UniqueConstraint("period_id", "commitment_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("billing_period.id", ondelete="CASCADE"), index=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitment.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    invited_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime)
    declined_at: Mapped[datetime | None] = mapped_column(DateTime)
    decline_note: Mapped[str] = mapped_column(String(500), default="")
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminders: Mapped[int] = mapped_column(Integer, default=0)

    period: Mapped[BillingPeriod] = relationship(lazy="raise")
    commitment: Mapped[Commitment] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise", foreign_keys=[user_id])
