"""The data synced back from Sage: sync runs and schedules, records read from Sage (Ready to
Import), job cost lines and direct costs (kept apart from models.py, at its size limit)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.models import Base, Money, User, utcnow

# ---- data back from Sage ----------------------------------------------------------

class SyncStatus:
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    ACTIVE = (QUEUED, RUNNING)


class SyncRun(Base):
    """One run of a sync from Sage (on demand or scheduled): its progress and summary.

    At most one queued or running run per (kind, scope), enforced by a partial unique index,
    so two schedulers, web processes or workers never run the same sync twice at once."""
    __tablename__ = "sync_run"
    __table_args__ = (
        Index("ux_sync_run_active", "kind", "scope", unique=True,
              sqlite_where=text("status IN ('queued', 'running')"),
              postgresql_where=text("status IN ('queued', 'running')")),
        Index("ix_sync_run_kind_id", "kind", "id"),
        Index("ix_sync_run_created_id", "created_at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    scope: Mapped[str] = mapped_column(String(40), default="")   # "" company, "project:<id>"
    trigger: Mapped[str] = mapped_column(String(12), default="manual")  # manual / schedule
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(12), default=SyncStatus.QUEUED)
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    details: Mapped[list | None] = mapped_column(JSON)     # error lines, capped
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    job_id: Mapped[str | None] = mapped_column(String(64))

    requested_by: Mapped[User | None] = relationship(lazy="raise")


class SyncSchedule(Base):
    """Which syncs run by themselves and how often (ERP Admin); next_run_at is claimed with a
    compare-and-set so each due slot is enqueued once whatever the number of schedulers."""
    __tablename__ = "sync_schedule"
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_run.id"))

    last_run: Mapped[SyncRun | None] = relationship(lazy="raise")


class ImportStatus:
    PENDING, LINKED, ADDED, ARCHIVED = "pending", "linked", "added", "archived"
    LABELS = {PENDING: "Ready to Import", LINKED: "Linked", ADDED: "Added", ARCHIVED: "Archived"}


class SageRecord(Base):
    """A record as last read from Sage (vendor, job, extra, contract), and what the portal did
    with it: still Ready to Import, linked to / added as a portal record, or archived."""
    __tablename__ = "sage_record"
    __table_args__ = (
        UniqueConstraint("kind", "sage_key"),
        Index("ix_sage_record_list", "kind", "status", "sage_key"),
        Index("ix_sage_record_decided_id", "decided_at", "id"),   # the audit log, newest first
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))          # vendor, job, extra, contract
    sage_key: Mapped[str] = mapped_column(String(60))      # e.g. "HARBOR01", "24-001/E1"
    name: Mapped[str] = mapped_column(String(120), default="")   # for search and sorting
    data: Mapped[dict] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default=ImportStatus.PENDING)
    portal_id: Mapped[int | None] = mapped_column(Integer)   # the vendor/project/sub job/contract
    in_sage: Mapped[bool] = mapped_column(Boolean, default=True)  # false: gone from Sage
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def contract_amount(self) -> Decimal:
        """A prime contract record's amount: the sum of its schedule of values lines."""
        return sum((Decimal(line["amount"]) for line in (self.data or {}).get("items", [])), Decimal("0"))


class JobCostLine(Base):
    """Job cost per cost code and category of a synced project, as read from Sage (Job Costs
    report columns of the guide's mapping table)."""
    __tablename__ = "job_cost_line"
    __table_args__ = (UniqueConstraint("project_id", "extra", "cost_code", "category"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    extra: Mapped[str] = mapped_column(String(10), default="")
    cost_code: Mapped[str] = mapped_column(String(12))
    category: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(60), default="")
    original_budget: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    original_budget_units: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))
    approved_budget_changes: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    approved_budget_unit_changes: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))
    revised_budget: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    revised_budget_units: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))
    original_commitment: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    approved_commitment_changes: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    revised_commitment: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    commitment_invoiced: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    jtd_cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    jtd_units: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))
    jtd_dollars_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    mtd_cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    mtd_dollars_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    mtd_units: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))
    synced_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def direct_costs(self) -> Decimal:
        """The budget's Direct Costs column: JTD Cost - Commitment Invoiced."""
        return (self.jtd_cost or Decimal(0)) - (self.commitment_invoiced or Decimal(0))


class DirectCost(Base):
    """A posted Sage Job Cost transaction imported as a direct cost (transaction sync on)."""
    __tablename__ = "direct_cost"
    __table_args__ = (UniqueConstraint("project_id", "sage_transaction_id"),
                      Index("ix_direct_cost_list", "project_id", "item_date", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    sage_transaction_id: Mapped[int] = mapped_column(Integer)
    cost_type: Mapped[str] = mapped_column(String(30))      # Invoice, Subcontractor Invoice, Payroll, Expense
    sage_type: Mapped[str] = mapped_column(String(30))      # AP cost, PR cost, ...
    item_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="Approved")
    description: Mapped[str] = mapped_column(String(60), default="")
    vendor: Mapped[str] = mapped_column(String(10), default="")
    invoice: Mapped[str] = mapped_column(String(15), default="")
    extra: Mapped[str] = mapped_column(String(10), default="")
    cost_code: Mapped[str] = mapped_column(String(12), default="")
    category: Mapped[str] = mapped_column(String(3), default="")
    qty: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    synced_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
