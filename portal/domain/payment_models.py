"""The payments Sage made against subcontractor invoices, as the Paid Invoices sync read them
(kept apart from models.py, which is at its size limit)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.models import Base, Money, utcnow


class InvoicePayment(Base):
    """One Sage AP payment (a check) applied to a subcontractor invoice; sage_key (Sage's
    payment id) is unique, so a payment is applied once however often the sync runs."""
    __tablename__ = "invoice_payment"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("subcontractor_invoice.id", ondelete="CASCADE"), index=True)
    sage_key: Mapped[str] = mapped_column(String(40), unique=True)
    check_number: Mapped[str] = mapped_column(String(10))
    check_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    synced_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
