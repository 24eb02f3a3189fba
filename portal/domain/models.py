"""The portal's tables: plain SQLAlchemy, no Flask, so services and unit tests run without an app."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(14, 2)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# ---- people -----------------------------------------------------------------------

class ToolLevel:
    """Permission levels on a tool, lowest first."""
    NONE, READ_ONLY, STANDARD, ADMIN = "none", "read_only", "standard", "admin"
    ORDER = [NONE, READ_ONLY, STANDARD, ADMIN]
    LABELS = {NONE: "None", READ_ONLY: "Read Only", STANDARD: "Standard", ADMIN: "Admin"}

    @classmethod
    def at_least(cls, level: str | None, minimum: str) -> bool:
        return cls.ORDER.index(level or cls.NONE) >= cls.ORDER.index(minimum)


class Company(Base):
    __tablename__ = "company"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    consolidate_invoice_lines: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_site_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    erp_level: Mapped[str] = mapped_column(String(12), default=ToolLevel.NONE)
    can_push_to_accounting: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change or deactivation so old sessions stop working.
    session_token: Mapped[str] = mapped_column(String(64), default="")
    # Approvers' notices (My account): the daily summary email, and how a rejected item sent
    # again is told: "email" (a mail at once) or "digest" (a line in the next daily summary).
    daily_summary: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    resent_notice: Mapped[str] = mapped_column(String(10), default="email", server_default="email")
    # An invoice contact (a subcontractor's billing person) belongs to its vendor's company and
    # sees only the commitments it is a contact on (billing_models.InvoiceContact); no ERP tool.
    # use_alter: vendor.created_by_id points back here, and the cycle keeps metadata.sorted_tables
    # from ordering the two (a warning, an error under the tests' filterwarnings)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendor.id", use_alter=True), index=True)

    memberships: Mapped[list[ProjectMember]] = relationship(back_populates="user", lazy="raise")

    # Flask-Login's user protocol, written out so this module needs no Flask.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_invoice_contact(self) -> bool:
        return self.vendor_id is not None

    @property
    def is_accounting_approver(self) -> bool:
        return self.active and self.can_push_to_accounting and self.erp_level in (
            ToolLevel.STANDARD, ToolLevel.ADMIN)


class ApiToken(Base):
    """A user's token for the JSON API; only its SHA-256 is stored. It works until `expires_at`
    or until it is revoked (`revoked_at`); portal.domain.api_tokens holds the rules."""
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(lazy="raise")


class ApiTokenAudit(Base):
    """Who created or revoked which API token, and when (no actor: the command line)."""
    __tablename__ = "api_token_audit"
    __table_args__ = (Index("ix_api_token_audit_at_id", "at", "id"),)   # the audit log, newest first
    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(20))   # "create" | "revoke"
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="raise")


class Project(Base):
    __tablename__ = "project"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    number: Mapped[str] = mapped_column(String(40))
    sage_job_id: Mapped[str | None] = mapped_column(String(10), unique=True)
    address: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(60), default="")
    state: Mapped[str] = mapped_column(String(20), default="")
    zip: Mapped[str] = mapped_column(String(20), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Sync Sage's posted cost transactions into direct costs (project level setting).
    transaction_sync: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    cost_codes: Mapped[list[CostCode]] = relationship(
        lazy="raise", order_by="CostCode.code", viewonly=True)


class Setting(Base):
    """A company setting of the ERP Integrations tool (ERP Admin), as JSON."""
    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict | list | str | bool | None] = mapped_column(JSON)


class SettingChange(Base):
    """The audit of settings: who changed what, from what, to what."""
    __tablename__ = "setting_change"
    __table_args__ = (Index("ix_setting_change_at_id", "at", "id"),)   # the audit log, newest first
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60))
    old: Mapped[dict | list | str | bool | None] = mapped_column(JSON)
    new: Mapped[dict | list | str | bool | None] = mapped_column(JSON)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="raise")


class StandardCostCode(Base):
    """The company's standard cost code list (from Sage); project cost codes are picked from it."""
    __tablename__ = "standard_cost_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    description: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The cost type (a StandardCategory code) a project cost code made from this one gets when it is
    # created without one; set in the portal (the guide's "Assign Default Cost Types"), kept by syncs.
    default_category: Mapped[str | None] = mapped_column(String(3))


class StandardCategory(Base):
    """The company's standard categories (cost types): LAB, MAT, SUB..."""
    __tablename__ = "standard_category"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)
    description: Mapped[str] = mapped_column(String(60))


class ProjectMember(Base):
    """A user's level on a project's financial tools (commitments, invoicing)."""
    __tablename__ = "project_member"
    __table_args__ = (UniqueConstraint("user_id", "project_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(12), default=ToolLevel.READ_ONLY)

    user: Mapped[User] = relationship(back_populates="memberships", lazy="raise")
    project: Mapped[Project] = relationship(lazy="raise")


class SubJob(Base):
    __tablename__ = "sub_job"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(120))
    sage_extra_id: Mapped[str | None] = mapped_column(String(10))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    project: Mapped[Project] = relationship(lazy="raise")
    cost_codes: Mapped[list[CostCode]] = relationship(
        lazy="raise", order_by="CostCode.code", viewonly=True)


class CostCode(Base):
    __tablename__ = "cost_code"
    __table_args__ = (UniqueConstraint("project_id", "sub_job_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    sub_job_id: Mapped[int | None] = mapped_column(ForeignKey("sub_job.id"))
    code: Mapped[str] = mapped_column(String(12))
    description: Mapped[str] = mapped_column(String(60))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    project: Mapped[Project] = relationship(lazy="raise")
    sub_job: Mapped[SubJob | None] = relationship(lazy="raise")
    categories: Mapped[list[Category]] = relationship(
        lazy="raise", order_by="Category.code", back_populates="cost_code")


class Category(Base):
    """A cost type on a project cost code (Sage's Category)."""
    __tablename__ = "category"
    __table_args__ = (UniqueConstraint("cost_code_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cost_code_id: Mapped[int] = mapped_column(ForeignKey("cost_code.id"))
    code: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(60))

    cost_code: Mapped[CostCode] = relationship(lazy="raise", back_populates="categories")


class Vendor(Base):
    """A company in the company directory; erp_vendor_id links it to a Sage vendor."""
    __tablename__ = "vendor"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    erp_vendor_id: Mapped[str | None] = mapped_column(String(10), unique=True)
    address: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(60), default="")
    state: Mapped[str] = mapped_column(String(20), default="")
    zip: Mapped[str] = mapped_column(String(20), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    fax: Mapped[str] = mapped_column(String(30), default="")
    vendor_type: Mapped[str] = mapped_column(String(30), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class VendorInsurance(Base):
    """A vendor's insurance certificate as last synced from Sage's AP Vendor Insurance (one per type)."""
    __tablename__ = "vendor_insurance"
    __table_args__ = (UniqueConstraint("vendor_id", "insurance_type"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id", ondelete="CASCADE"), index=True)
    insurance_type: Mapped[str] = mapped_column(String(30))   # compliance.INSURANCE_TYPES' keys
    policy_number: Mapped[str] = mapped_column(String(20), default="")
    carrier: Mapped[str] = mapped_column(String(30), default="")
    limit_amount: Mapped[Decimal | None] = mapped_column(Money)
    effective_date: Mapped[date | None] = mapped_column(Date)
    expiration_date: Mapped[date | None] = mapped_column(Date, index=True)
    synced_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Commitment(Base):
    __tablename__ = "commitment"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    number: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120))
    commitment_type: Mapped[str] = mapped_column(String(20), default="subcontract")  # or purchase_order
    # "amount": invoices bill dollars per line; "unit": lines have units and a unit cost, and
    # invoices send the quantity billed (the guide's Accounting Method)
    accounting_method: Mapped[str] = mapped_column(String(10), default="amount", server_default="amount")
    status: Mapped[str] = mapped_column(String(30), default="Approved")
    erp_commitment_id: Mapped[str | None] = mapped_column(String(12))
    retainage_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("10"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow)

    project: Mapped[Project] = relationship(lazy="raise")
    vendor: Mapped[Vendor] = relationship(lazy="raise")
    lines: Mapped[list[CommitmentLine]] = relationship(
        lazy="raise", order_by="CommitmentLine.line_no", back_populates="commitment",
        cascade="all, delete-orphan")

    @property
    def total(self) -> Decimal:
        return sum((line.amount or Decimal("0") for line in self.lines), Decimal("0"))


class CommitmentLine(Base):
    __tablename__ = "commitment_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitment.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(120))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    units: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))       # purchase orders
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    unit_description: Mapped[str] = mapped_column(String(20), default="")

    commitment: Mapped[Commitment] = relationship(back_populates="lines", lazy="raise")
    category: Mapped[Category] = relationship(lazy="raise")


class InvoiceStatus:
    DRAFT = "Draft"
    UNDER_REVIEW = "Under Review"
    REVISE_AND_RESUBMIT = "Revise and Resubmit"
    APPROVED = "Approved"
    APPROVED_AS_NOTED = "Approved as Noted"
    PENDING_OWNER_APPROVAL = "Pending Owner Approval"
    ALL = [DRAFT, UNDER_REVIEW, REVISE_AND_RESUBMIT, APPROVED, APPROVED_AS_NOTED,
           PENDING_OWNER_APPROVAL]
    SENDABLE = {APPROVED, APPROVED_AS_NOTED, PENDING_OWNER_APPROVAL}


class SubcontractorInvoice(Base):
    __tablename__ = "subcontractor_invoice"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitment.id"), index=True)
    sub_job_id: Mapped[int | None] = mapped_column(ForeignKey("sub_job.id"))
    number: Mapped[str] = mapped_column(String(40), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    billing_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(30), default=InvoiceStatus.DRAFT)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Denormalised totals, recomputed whenever lines change, so list pages need no line loads.
    total_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total_retainage: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # Paid in Sage (the Paid Invoices sync, portal.domain.payments): the checks' total and
    # None / "Partly Paid" / "Paid"
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), server_default="0")
    payment_status: Mapped[str | None] = mapped_column(String(20))
    # who bills it (an invoice contact; the administrator may create it on their behalf), and
    # whether it releases retainage held on earlier invoices (portal.domain.invoicing)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    retainage_release: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    project: Mapped[Project] = relationship(lazy="raise")
    commitment: Mapped[Commitment] = relationship(lazy="raise")
    sub_job: Mapped[SubJob | None] = relationship(lazy="raise")
    created_by: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[created_by_id])
    contact: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[contact_id])
    lines: Mapped[list[InvoiceLine]] = relationship(
        lazy="raise", order_by="InvoiceLine.id", back_populates="invoice",
        cascade="all, delete-orphan")

    @property
    def payment_due(self) -> Decimal:
        """Current payment due as the ERP tab shows it: without retainage."""
        return (self.total_amount or Decimal("0")) - (self.total_retainage or Decimal("0"))

    def recompute_totals(self) -> None:
        self.total_amount = sum((ln.amount for ln in self.lines), Decimal("0"))
        self.total_retainage = sum((ln.retainage or Decimal("0") for ln in self.lines), Decimal("0"))


class InvoiceLine(Base):
    __tablename__ = "invoice_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("subcontractor_invoice.id", ondelete="CASCADE"), index=True)
    commitment_line_id: Mapped[int] = mapped_column(ForeignKey("commitment_line.id"))
    description: Mapped[str] = mapped_column(String(120), default="")
    work_completed: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    materials_stored: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # what Sage receives: work + materials retainage - retainage released (invoicing.line_retainage)
    retainage: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))   # this period; unit-based commitments
    work_retainage: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), server_default="0")
    materials_retainage: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), server_default="0")
    retainage_released: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), server_default="0")
    # the administrator's review of the line: None, "approved" or "revise" (with a comment)
    review: Mapped[str | None] = mapped_column(String(10))
    review_comment: Mapped[str] = mapped_column(String(500), default="", server_default="")

    invoice: Mapped[SubcontractorInvoice] = relationship(back_populates="lines", lazy="raise")
    commitment_line: Mapped[CommitmentLine] = relationship(lazy="raise")

    @property
    def amount(self) -> Decimal:
        return (self.work_completed or Decimal("0")) + (self.materials_stored or Decimal("0"))


# ---- the ERP gate ------------------------------------------------------------------

class ErpItem(Base):
    """One item's place in the ERP lifecycle; one row per (item_type, item_id)."""
    __tablename__ = "erp_item"
    __table_args__ = (
        UniqueConstraint("item_type", "item_id"),
        # A tab page reads (type, state) newest first straight from this index.
        Index("ix_erp_item_tab_order", "item_type", "state", "sent_at", "id"),
        # The Needs attention desk reads (state, project) across every type.
        Index("ix_erp_item_attention", "state", "project_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"))
    state: Mapped[str] = mapped_column(String(20))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    export_fields: Mapped[dict | None] = mapped_column(JSON)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(String(64))
    queued_at: Mapped[datetime | None] = mapped_column(DateTime)
    erp_ref: Mapped[str | None] = mapped_column(String(64))
    synced_at: Mapped[datetime | None] = mapped_column(DateTime)
    sage_message: Mapped[str | None] = mapped_column(Text)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    # Transient Sage faults (rate limit, unreachable) retried for the current attempt, and when
    # the next try is due (None: not waiting to retry); the reaper queues it then.
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Sent again after a rejection: what was edited since (None: never rejected before), so
    # the tab row shows it without a query of its own.
    resend_note: Mapped[str | None] = mapped_column(Text)
    # Optimistic locking: two approvers deciding the same item cannot both win.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    sent_by: Mapped[User | None] = relationship(foreign_keys=[sent_by_id], lazy="raise")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="raise")


class ErpAudit(Base):
    """One row per lifecycle transition: who, when, from, to, reason or fields."""
    __tablename__ = "erp_audit"
    __table_args__ = (
        # the audit log reads newest first straight from these (all, or one user's)
        Index("ix_erp_audit_at_id", "at", "id"),
        Index("ix_erp_audit_actor_at_id", "actor_id", "at", "id"),
        # one action's rows newest first; `note` in the index lets a search of the reasons and
        # Sage's messages test each row from the index alone (SQLite reads the table only for matches)
        Index("ix_erp_audit_action_at_id_note", "action", "at", "id", "note"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    erp_item_id: Mapped[int] = mapped_column(ForeignKey("erp_item.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict | None] = mapped_column(JSON)
    # the words of the detail a search of the audit log looks through, lowercased (a rejection's
    # reason, Sage's message of a failed export; lifecycle.search_note), else None
    note: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[User | None] = relationship(lazy="raise")


class ErpEdit(Base):
    """One edit of an item after it was first sent: who, when, and each field or line it
    changed (old -> new), as portal.domain.edits records them."""
    __tablename__ = "erp_edit"
    id: Mapped[int] = mapped_column(primary_key=True)
    erp_item_id: Mapped[int] = mapped_column(ForeignKey("erp_item.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    changes: Mapped[list] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship(lazy="raise")


class MailStatus:
    PENDING, SENT, FAILED, KEPT = "pending", "sent", "failed", "kept"
    SENDING = "sending"   # a worker holds it until next_attempt_at (its lease)


class OutboxMail(Base):
    """Mail written in the same transaction as the decision that causes it."""
    __tablename__ = "outbox_mail"
    __table_args__ = (Index("ix_outbox_mail_due", "status", "next_attempt_at"),
                      Index("ix_outbox_mail_created_id", "created_at", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    recipients: Mapped[str] = mapped_column(Text)  # comma separated
    subject: Mapped[str] = mapped_column(String(255))
    # who a reply goes to: the approver who rejected the item (None: the sender address)
    reply_to: Mapped[str | None] = mapped_column(String(254))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=MailStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    erp_item_id: Mapped[int | None] = mapped_column(ForeignKey("erp_item.id"))
    # pending: when it is due (the reaper queues it then); sending: when the worker's hold ends
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)


class DailySummaryRun(Base):
    """The daily summary of one day: the scheduler that inserts this row first sends it, so
    however many schedulers and workers run, it goes out once a day."""
    __tablename__ = "daily_summary_run"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent: Mapped[int] = mapped_column(Integer, default=0)


class DigestNote(Base):
    """A line for a user's next daily summary (a rejected item sent again, for a user who
    chose the digest); summary_day is set once a summary carried it."""
    __tablename__ = "digest_note"
    __table_args__ = (Index("ix_digest_note_pending", "user_id", "summary_day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    erp_item_id: Mapped[int | None] = mapped_column(ForeignKey("erp_item.id"))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    summary_day: Mapped[date | None] = mapped_column(Date)


class Budget(Base):
    """A project's budget: original estimates per cost code and category."""
    __tablename__ = "budget"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), unique=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    project: Mapped[Project] = relationship(lazy="raise")
    lines: Mapped[list[BudgetLine]] = relationship(
        lazy="raise", order_by="BudgetLine.id", cascade="all, delete-orphan")


class BudgetLine(Base):
    __tablename__ = "budget_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budget.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    original: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    estimated_cost_at_completion: Mapped[Decimal | None] = mapped_column(Money)
    forecast_to_complete: Mapped[Decimal | None] = mapped_column(Money)

    category: Mapped[Category] = relationship(lazy="raise")


class BudgetChange(Base):
    """A budget change (modification): moves money between budget lines; never edited."""
    __tablename__ = "budget_change"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    number: Mapped[str] = mapped_column(String(36))
    description: Mapped[str] = mapped_column(String(120), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    project: Mapped[Project] = relationship(lazy="raise")
    lines: Mapped[list[BudgetChangeLine]] = relationship(
        lazy="raise", order_by="BudgetChangeLine.id", cascade="all, delete-orphan")


class BudgetChangeLine(Base):
    __tablename__ = "budget_change_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("budget_change.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    amount: Mapped[Decimal] = mapped_column(Money)

    category: Mapped[Category] = relationship(lazy="raise")


class CommitmentChangeOrder(Base):
    """A commitment change order (CCO) on a synced commitment."""
    __tablename__ = "commitment_change_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitment.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(30), default="Draft")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    project: Mapped[Project] = relationship(lazy="raise")
    commitment: Mapped[Commitment] = relationship(lazy="raise")
    lines: Mapped[list[CCOLine]] = relationship(
        lazy="raise", order_by="CCOLine.id", cascade="all, delete-orphan")


class CCOLine(Base):
    """A CCO line: a change to an existing commitment line, or a new line (category set)."""
    __tablename__ = "cco_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    cco_id: Mapped[int] = mapped_column(ForeignKey("commitment_change_order.id", ondelete="CASCADE"), index=True)
    commitment_line_id: Mapped[int | None] = mapped_column(ForeignKey("commitment_line.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    description: Mapped[str] = mapped_column(String(120), default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    # a unit-based commitment's change: its Qty, and for a new line its Unit Cost (an existing
    # line keeps its own)
    units: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))

    commitment_line: Mapped[CommitmentLine | None] = relationship(lazy="raise")
    category: Mapped[Category | None] = relationship(lazy="raise")


class PrimeContract(Base):
    """The owner's contract on a project; imported from Sage (contracts or quickbill)."""
    __tablename__ = "prime_contract"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(30), default="Approved")
    sage_contract_id: Mapped[str | None] = mapped_column(String(20))
    customer: Mapped[str] = mapped_column(String(10), default="")   # Sage AR customer
    # Set by the import from Sage (the guide's Prime Contract mapping table).
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    start_date: Mapped[date | None] = mapped_column(Date)          # <== Work Started
    completion_date: Mapped[date | None] = mapped_column(Date)     # <== Work Completed
    billing_method: Mapped[str] = mapped_column(String(20), default="", server_default="")
    billing_level: Mapped[str] = mapped_column(String(10), default="", server_default="")
    imported_at: Mapped[datetime | None] = mapped_column(DateTime)  # Date Created
    # "amount" or "unit": chosen by an ERP Admin before import (the guide's prime contract notes)
    accounting_method: Mapped[str] = mapped_column(String(10), default="amount", server_default="amount")

    project: Mapped[Project] = relationship(lazy="raise")
    items: Mapped[list[PrimeContractItem]] = relationship(
        lazy="raise", order_by="PrimeContractItem.id", cascade="all, delete-orphan")


class PrimeContractItem(Base):
    """A schedule of values line of the prime contract (a Sage contract item)."""
    __tablename__ = "prime_contract_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("prime_contract.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # the Sage contract the item is on (None: the prime contract's own): several Sage contracts
    # of a job can be imported into one prime contract
    sage_contract_id: Mapped[str | None] = mapped_column(String(20))
    units: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))       # unit-based prime contracts
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))


class PrimeChangeOrder(Base):
    """A prime contract change order (PCCO)."""
    __tablename__ = "prime_change_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("prime_contract.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(30), default="Draft")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    project: Mapped[Project] = relationship(lazy="raise")
    contract: Mapped[PrimeContract] = relationship(lazy="raise")
    lines: Mapped[list[PrimeChangeOrderLine]] = relationship(
        lazy="raise", order_by="PrimeChangeOrderLine.id", cascade="all, delete-orphan")


class PrimeChangeOrderLine(Base):
    """A PCCO line: changes a contract item (or adds one) and the estimate of a category."""
    __tablename__ = "prime_change_order_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    pcco_id: Mapped[int] = mapped_column(ForeignKey("prime_change_order.id", ondelete="CASCADE"), index=True)
    contract_item_id: Mapped[int | None] = mapped_column(ForeignKey("prime_contract_item.id"))
    description: Mapped[str] = mapped_column(String(120), default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    amount: Mapped[Decimal] = mapped_column(Money)

    contract_item: Mapped[PrimeContractItem | None] = relationship(lazy="raise")
    category: Mapped[Category] = relationship(lazy="raise")


class OwnerInvoice(Base):
    """An owner invoice (pay application) on the prime contract."""
    __tablename__ = "owner_invoice"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("prime_contract.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    billing_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(30), default="Draft")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    project: Mapped[Project] = relationship(lazy="raise")
    contract: Mapped[PrimeContract] = relationship(lazy="raise")
    lines: Mapped[list[OwnerInvoiceLine]] = relationship(
        lazy="raise", order_by="OwnerInvoiceLine.id", cascade="all, delete-orphan")


class OwnerInvoiceLine(Base):
    __tablename__ = "owner_invoice_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("owner_invoice.id", ondelete="CASCADE"), index=True)
    contract_item_id: Mapped[int] = mapped_column(ForeignKey("prime_contract_item.id"))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    retainage: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))

    contract_item: Mapped[PrimeContractItem] = relationship(lazy="raise")
