"""A subcontractor invoice's PDF and its review history (kept apart from models.py, which is at
its size limit). The PDF is stored in the database: the web processes share nothing else."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from portal.domain.models import Base, User, utcnow


class InvoiceAttachment(Base):
    """The subcontractor's own invoice as a PDF: one per invoice (a new upload replaces it)."""
    __tablename__ = "invoice_attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("subcontractor_invoice.id", ondelete="CASCADE"),
                                            unique=True)
    filename: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    # read only when the file is downloaded: a page lists the attachment without its bytes
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class InvoiceEvent(Base):
    """One step of an invoice's review: created, saved, submitted, reviewed, resubmitted, told
    it is being corrected; who, when, the status before and after, and the line comments."""
    __tablename__ = "invoice_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("subcontractor_invoice.id", ondelete="CASCADE"),
                                            index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str] = mapped_column(String(30), default="")
    to_status: Mapped[str] = mapped_column(String(30), default="")
    detail: Mapped[dict | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship(lazy="raise")
