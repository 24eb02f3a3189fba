"""An embedded Sage 300 CRE simulator with its own database (never the portal's).

Tables and columns follow Sage's ODBC names (APM_MASTER__VENDOR, JCM_MASTER__JOB, ...) so
an accountant reading them recognises Sage; HH2_* tables stand in for the hh2 cloud
service (import log = idempotency, request log = hourly rate limit), SIM_SETTING holds
the settings that can change at run time.

Works with SQLite (WAL + busy timeout, BEGIN IMMEDIATE so several processes serialise their
writes) and PostgreSQL (optional schema via schema_translate_map; submits serialise on a
transaction-level advisory lock per schema). Error texts are the guide's, exactly, where
the guide has one; the few it lacks (a vendor or an extra that already exists) follow its
wording and are marked below.

Batch kinds: "ap_invoice" (AP invoice + distributions), "ap_vendor" (AP vendor), "jc_job"
(JC job + cost codes + categories), "jc_extra" (extra of a job + its cost codes and
categories), "jc_cost_codes" (cost codes and categories added to a job or an extra). Every
kind goes through one path: batch log (idempotency), hourly limit, one transaction, drop file.
Tables are created by create_all on first use (new tables included; no migrations), so a
new table may be added here but never a column to an existing one.
"""
from __future__ import annotations

import zlib
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import (
    Boolean, Column, Date, DateTime, ForeignKey, ForeignKeyConstraint, Integer, MetaData,
    Numeric, String, Table, Text, create_engine, event, func, insert, select, text, update,
)
from sqlalchemy.exc import IntegrityError

from .connectors import write_import_file
from .fileformat import import_file
from .records import (
    APDistribution, APInvoice, APVendor, Batch, JCCategory, JCCostCode, JCExtra, JCJob, SageResult,
)

metadata = MetaData()
Money = Numeric(12, 2, asdecimal=True)

vendor_t = Table(
    "APM_MASTER__VENDOR", metadata,
    Column("Vendor", String(10), primary_key=True),
    Column("Name", String(30), nullable=False, default=""),
    Column("Address_1", String(33), nullable=False, default=""),
    Column("Address_2", String(33), nullable=False, default=""),
    Column("City", String(30), nullable=False, default=""),
    Column("State", String(4), nullable=False, default=""),
    Column("ZIP", String(10), nullable=False, default=""),
    Column("Telephone", String(15), nullable=False, default=""),
    Column("Fax", String(15), nullable=False, default=""),
    Column("Status", String(10), nullable=False, default="Active"),  # Active / Inactive
)
job_t = Table(
    "JCM_MASTER__JOB", metadata,
    Column("Job", String(10), primary_key=True),
    Column("Description", String(30), nullable=False, default=""),
    Column("Address_1", String(30), nullable=False, default=""),
    Column("Address_2", String(30), nullable=False, default=""),
    Column("City", String(15), nullable=False, default=""),
    Column("State", String(4), nullable=False, default=""),
    Column("ZIP", String(10), nullable=False, default=""),
    Column("Status", String(10), nullable=False, default="Open"),  # Open / Closed
)
cost_code_t = Table(
    "JCM_MASTER__COST_CODE", metadata,
    Column("Job", String(10), ForeignKey("JCM_MASTER__JOB.Job"), primary_key=True),
    Column("Extra", String(10), primary_key=True, default=""),
    Column("Cost_Code", String(12), primary_key=True),
    Column("Description", String(30), nullable=False, default=""),
)
category_t = Table(
    "JCM_MASTER__CATEGORY", metadata,
    Column("Job", String(10), primary_key=True),
    Column("Extra", String(10), primary_key=True, default=""),
    Column("Cost_Code", String(12), primary_key=True),
    Column("Category", String(3), primary_key=True),
    Column("Description", String(30), nullable=False, default=""),
    ForeignKeyConstraint(["Job", "Extra", "Cost_Code"], ["JCM_MASTER__COST_CODE.Job",
                         "JCM_MASTER__COST_CODE.Extra", "JCM_MASTER__COST_CODE.Cost_Code"]),
)
extra_t = Table(
    "JCM_MASTER__EXTRA", metadata,
    Column("Job", String(10), ForeignKey("JCM_MASTER__JOB.Job"), primary_key=True),
    Column("Extra", String(10), primary_key=True),
    Column("Description", String(30), nullable=False, default=""),
    Column("Status", String(10), nullable=False, default="Open"),  # Open / Closed
)
commitment_t = Table(
    "JCM_MASTER__COMMITMENT", metadata,
    Column("Commitment", String(12), primary_key=True),
    Column("Vendor", String(10), ForeignKey("APM_MASTER__VENDOR.Vendor"), nullable=False),
    Column("Job", String(10), ForeignKey("JCM_MASTER__JOB.Job"), nullable=False),
    Column("Description", String(30), nullable=False, default=""),
    Column("Commitment_Type", String(20), nullable=False, default="Subcontract"),
    Column("Amount", Money, nullable=False),  # approved amount, approved changes included
    Column("Status", String(10), nullable=False, default="Open"),
)
invoice_t = Table(
    "APM_MASTER__INVOICE", metadata,
    Column("Vendor", String(10), ForeignKey("APM_MASTER__VENDOR.Vendor"), primary_key=True),
    Column("Invoice", String(15), primary_key=True),  # (Vendor, Invoice) is unique
    Column("Description", String(30), nullable=False, default=""),
    Column("Invoice_Date", Date, nullable=False),
    Column("Accounting_Date", Date, nullable=False),
    Column("Amount", Money, nullable=False),
    Column("Retainage", Money, nullable=False),
    Column("Batch_ID", String, nullable=False),
    Column("Created_At", DateTime, nullable=False),
)
distribution_t = Table(
    "APM_MASTER__DISTRIBUTION", metadata,
    Column("Vendor", String(10), primary_key=True),
    Column("Invoice", String(15), primary_key=True),
    Column("Distribution_Seq", Integer, primary_key=True, autoincrement=False),
    Column("Commitment", String(12), nullable=False, default="", index=True),
    Column("Commitment_Item", String, nullable=False, default=""),
    Column("Job", String(10), nullable=False),
    Column("Extra", String(10), nullable=False, default=""),
    Column("Cost_Code", String(12), nullable=False),
    Column("Category", String(3), nullable=False),
    Column("Description", String(30), nullable=False, default=""),
    Column("Amount", Money, nullable=False),
    Column("Retainage", Money, nullable=False),
    ForeignKeyConstraint(["Vendor", "Invoice"],
                         ["APM_MASTER__INVOICE.Vendor", "APM_MASTER__INVOICE.Invoice"]),
)
import_log_t = Table(
    "HH2_IMPORT_LOG", metadata,
    Column("Batch_ID", String, primary_key=True),  # the idempotency key
    Column("Kind", String(30), nullable=False),
    Column("Ok", Boolean, nullable=False),
    Column("Message", Text, nullable=False, default=""),
    Column("Reference", String(40), nullable=False, default=""),
    Column("Created_At", DateTime, nullable=False),
)
request_log_t = Table(
    "HH2_REQUEST_LOG", metadata,
    Column("Request_ID", Integer, primary_key=True, autoincrement=True),
    Column("Batch_ID", String, nullable=False),
    Column("Requested_At", DateTime, nullable=False, index=True),
)
setting_t = Table(
    "SIM_SETTING", metadata,
    Column("Key", String(40), primary_key=True),
    Column("Value", Text, nullable=False),
)

# Field lengths from sage300-facts.md, by the hh2 field name used in the error text.
INVOICE_LIMITS = (("Vendor", "vendor", 10), ("Invoice", "invoice", 15), ("Description", "description", 30))
DISTRIBUTION_LIMITS = (("Commitment", "commitment", 12), ("Job", "job", 10), ("Extra", "extra", 10),
                       ("CostCode", "cost_code", 12), ("Category", "category", 3),
                       ("Description", "description", 30))
INVOICE_REQUIRED = ("vendor", "invoice")
DISTRIBUTION_REQUIRED = ("job", "cost_code", "category")
# Setup records: (hh2 field name in the error text, record attribute, max length).
VENDOR_LIMITS = (("Vendor", "vendor", 10), ("Name", "name", 30), ("Address1", "address_1", 33),
                 ("AddressCity", "city", 30), ("AddressState", "state", 4), ("AddressZip", "zip", 10),
                 ("Telephone", "telephone", 15), ("Fax", "fax", 15))
JOB_LIMITS = (("Job", "job", 10), ("Name", "description", 30), ("Address1", "address_1", 30),
              ("AddressCity", "city", 15), ("AddressState", "state", 4), ("AddressZip", "zip", 10))
EXTRA_LIMITS = (("Job", "job", 10), ("Extra", "extra", 10), ("Description", "description", 30))
COST_CODE_LIMITS = (("Job", "job", 10), ("Extra", "extra", 10), ("CostCode", "cost_code", 12),
                    ("Description", "description", 30))
CATEGORY_LIMITS = (("Job", "job", 10), ("Extra", "extra", 10), ("CostCode", "cost_code", 12),
                   ("Category", "category", 3), ("Description", "description", 30))
VENDOR_REQUIRED = ("vendor", "name")
JOB_REQUIRED = ("job", "description")
EXTRA_REQUIRED = ("job", "extra")
COST_CODE_REQUIRED = ("job", "cost_code")
CATEGORY_REQUIRED = ("job", "cost_code", "category")

NOT_FOUND = "Entity with this ID not found."
BLANK = "Can't be blank."
RATE_LIMITED = ("Unknown Error => You have surpassed the max number of requests for an hour. "
                "Please wait until your limit resets.")
VENDOR_INACTIVE = "Vendor is inactive/has been archived."
NO_DISTRIBUTIONS = "The document's codings are incomplete: The document has no distributions."
JOB_CLOSED = "Job has been closed."
NO_CATEGORY = "No entities could be found of type [Category] with given where clause."
AP_FAILED = "Ap Invoice Api import failed with error message: "
JOB_EXISTS = "A job with that code already exists."
# not in the guide: worded like its "A job already exists with the specified id."
VENDOR_EXISTS = "A vendor already exists with the specified id."
# not in the guide: worded like its "A change order with code XXX already exists on this contract."
EXTRA_EXISTS = "An extra with that code already exists on this job."

SETTING_KEYS = ("closed_periods", "tolerance_pct", "hourly_limit")


class _Refused(Exception):
    """A Sage refusal: the batch is logged with this message and creates nothing."""


def too_long(field: str, limit: int) -> str:
    return f"[{field}] is too long, maximum length is {limit} characters."


def duplicate_invoice(invoice: str) -> str:
    return ("There are errors in the document's codings. Errors: "
            f"Document already exists for specified vendor and code [{invoice}].")


def period_closed(accounting_date: date) -> str:
    d = accounting_date
    return f"{AP_FAILED}GL period closed.  Entry not allowed. ({d:%m}\\{d:%d}\\{d:%Y})."


def over_tolerance(commitment: str) -> str:
    return f"{AP_FAILED}Commitment {commitment} - amount invoiced exceeds approved amount plus tolerance."


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _naive_utc(value: datetime) -> datetime:
    # stored naive UTC: SQLite has no time zones and both backends must compare alike
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _encode(key: str, value) -> str:
    if key == "closed_periods":
        items = value.split(",") if isinstance(value, str) else value
        return ",".join(sorted({p.strip() for p in items if p.strip()}))
    if key == "tolerance_pct":
        return str(Decimal(str(value)))
    if key == "hourly_limit":
        return str(int(value))
    raise KeyError(key)


def _decode(key: str, raw: str):
    if key == "closed_periods":
        return frozenset(p for p in raw.split(",") if p)
    return Decimal(raw) if key == "tolerance_pct" else int(raw)


def make_engine(url: str, schema: str | None = None):
    """An engine for the simulator's database (SQLite pragmas or PostgreSQL schema)."""
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # IMMEDIATE takes the write lock up front: check-then-insert cannot interleave
            # between processes, and waiting uses busy_timeout instead of failing mid-way.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif schema:
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


class Sage300Simulator:
    """Sage 300 CRE as seen through the hh2 connection, in a database of its own."""

    def __init__(self, url: str, schema: str | None = None, drop_folder: str | None = None,
                 closed_periods=(), tolerance_pct=Decimal("0"), hourly_limit: int = 0, clock=None,
                 engine=None):
        self.url = url
        self.schema = schema
        self.drop_folder = drop_folder
        self.defaults = {"closed_periods": _encode("closed_periods", closed_periods),
                         "tolerance_pct": _encode("tolerance_pct", tolerance_pct),
                         "hourly_limit": _encode("hourly_limit", hourly_limit)}
        self.clock = clock or _utcnow
        # engine: a shared engine for this url/schema (see connectors.make_connector)
        self.engine = engine if engine is not None else make_engine(url, schema)
        self._pg = self.engine.dialect.name == "postgresql"
        self._lock_key = zlib.crc32(f"sage300-sim:{schema or ''}".encode())

    # ---- schema ------------------------------------------------------------------

    def _serialise(self, conn) -> None:
        # PostgreSQL: one submit (or DDL) at a time per schema; SQLite has BEGIN IMMEDIATE.
        if self._pg:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._lock_key})

    def create_all(self) -> None:
        """Create the schema (PostgreSQL), the tables and missing settings rows."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            if self._pg and self.schema:
                quoted = conn.dialect.identifier_preparer.quote(self.schema)
                conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
            metadata.create_all(conn)
            have = set(conn.scalars(select(setting_t.c.Key)))
            for key, value in self.defaults.items():
                if key not in have:
                    conn.execute(insert(setting_t).values(Key=key, Value=value))

    def drop_all(self) -> None:
        """Drop the simulator's tables (not the schema)."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            metadata.drop_all(conn)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    # ---- settings ----------------------------------------------------------------

    def settings(self) -> dict:
        """closed_periods (frozenset of YYYY-MM), tolerance_pct (Decimal), hourly_limit (int)."""
        with self.engine.connect() as conn:
            return self._settings(conn)

    def _settings(self, conn) -> dict:
        stored = dict(conn.execute(select(setting_t.c.Key, setting_t.c.Value)).all())
        return {k: _decode(k, stored.get(k, self.defaults[k])) for k in SETTING_KEYS}

    def set_setting(self, key: str, value) -> None:
        """Change a setting at run time; every process sharing the database sees it."""
        raw = _encode(key, value)
        with self.engine.begin() as conn:
            if conn.execute(update(setting_t).where(setting_t.c.Key == key).values(Value=raw)).rowcount == 0:
                conn.execute(insert(setting_t).values(Key=key, Value=raw))

    # ---- seeding -----------------------------------------------------------------

    def _insert(self, table, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(table).values(**values))

    def add_vendor(self, vendor: str, name: str = "", address_1: str = "", address_2: str = "",
                   city: str = "", state: str = "", zip: str = "", telephone: str = "", fax: str = "",
                   status: str = "Active") -> None:
        self._insert(vendor_t, Vendor=vendor, Name=name, Address_1=address_1, Address_2=address_2,
                     City=city, State=state, ZIP=zip, Telephone=telephone, Fax=fax, Status=status)

    def add_job(self, job: str, description: str = "", address_1: str = "", address_2: str = "",
                city: str = "", state: str = "", zip: str = "", status: str = "Open") -> None:
        self._insert(job_t, Job=job, Description=description, Address_1=address_1, Address_2=address_2,
                     City=city, State=state, ZIP=zip, Status=status)

    def add_cost_code(self, job: str, cost_code: str, description: str, extra: str = "") -> None:
        self._insert(cost_code_t, Job=job, Extra=extra, Cost_Code=cost_code, Description=description)

    def add_category(self, job: str, cost_code: str, category: str, description: str, extra: str = "") -> None:
        self._insert(category_t, Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                     Description=description)

    def add_extra(self, job: str, extra: str, description: str = "", status: str = "Open") -> None:
        self._insert(extra_t, Job=job, Extra=extra, Description=description, Status=status)

    def set_extra_status(self, job: str, extra: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(extra_t).where(extra_t.c.Job == job, extra_t.c.Extra == extra)
                         .values(Status=status))

    def add_commitment(self, commitment: str, vendor: str, job: str, amount, description: str = "",
                       commitment_type: str = "Subcontract", status: str = "Open") -> None:
        self._insert(commitment_t, Commitment=commitment, Vendor=vendor, Job=job, Description=description,
                     Commitment_Type=commitment_type, Amount=Decimal(str(amount)), Status=status)

    def set_commitment_amount(self, commitment: str, amount) -> None:
        """Approved amount incl. approved changes (e.g. after a commitment CO)."""
        with self.engine.begin() as conn:
            conn.execute(update(commitment_t).where(commitment_t.c.Commitment == commitment)
                         .values(Amount=Decimal(str(amount))))

    def set_vendor_status(self, vendor: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(vendor_t).where(vendor_t.c.Vendor == vendor).values(Status=status))

    def set_job_status(self, job: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(job_t).where(job_t.c.Job == job).values(Status=status))

    # ---- readers -----------------------------------------------------------------

    def get_invoice(self, vendor: str, invoice: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(invoice_t).where(invoice_t.c.Vendor == vendor,
                                                       invoice_t.c.Invoice == invoice)).mappings().first()
        return dict(row) if row else None

    def list_invoices(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(invoice_t).order_by(invoice_t.c.Created_At, invoice_t.c.Vendor,
                                                           invoice_t.c.Invoice)).mappings().all()
        return [dict(r) for r in rows]

    def list_distributions(self, vendor: str, invoice: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(distribution_t).where(
                distribution_t.c.Vendor == vendor, distribution_t.c.Invoice == invoice,
            ).order_by(distribution_t.c.Distribution_Seq)).mappings().all()
        return [dict(r) for r in rows]

    def count_invoices(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(invoice_t))

    def _one(self, table, **where) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(*(table.c[k] == v for k, v in where.items()))
                               ).mappings().first()
        return dict(row) if row else None

    def get_vendor(self, vendor: str) -> dict | None:
        """The APM_MASTER__VENDOR row (Vendor, Name, Address_1, ..., Status) or None."""
        return self._one(vendor_t, Vendor=vendor)

    def get_job(self, job: str) -> dict | None:
        """The JCM_MASTER__JOB row (Job, Description, Address_1, ..., Status) or None."""
        return self._one(job_t, Job=job)

    def get_extra(self, job: str, extra: str) -> dict | None:
        """The JCM_MASTER__EXTRA row (Job, Extra, Description, Status) or None."""
        return self._one(extra_t, Job=job, Extra=extra)

    def list_cost_codes(self, job: str, extra: str = "") -> list[dict]:
        """The job's (extra "") or the extra's cost codes, by Cost_Code."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(cost_code_t).where(
                cost_code_t.c.Job == job, cost_code_t.c.Extra == extra,
            ).order_by(cost_code_t.c.Cost_Code)).mappings().all()
        return [dict(r) for r in rows]

    def list_categories(self, job: str, extra: str = "") -> list[dict]:
        """The job's (extra "") or the extra's categories, by Cost_Code then Category."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(category_t).where(
                category_t.c.Job == job, category_t.c.Extra == extra,
            ).order_by(category_t.c.Cost_Code, category_t.c.Category)).mappings().all()
        return [dict(r) for r in rows]

    def import_log(self, batch_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(import_log_t).where(import_log_t.c.Batch_ID == batch_id)).mappings().first()
        return dict(row) if row else None

    # ---- submit ------------------------------------------------------------------

    def submit(self, batch: Batch) -> SageResult:
        """Import one batch, all or nothing; a batch_id seen before replays its stored result.

        A Sage refusal is a SageResult(ok=False, message=Sage's text), logged like a success;
        a malformed batch (wrong records for its kind) is a ValueError and imports nothing."""
        importer = self._IMPORTERS.get(batch.kind)
        if importer is None:
            raise ValueError(f"unknown batch kind {batch.kind!r}")
        try:
            with self.engine.begin() as conn:
                self._serialise(conn)
                logged = self._logged(conn, batch.batch_id, batch.kind)
                if logged:
                    return logged
                now = _naive_utc(self.clock())
                settings = self._settings(conn)
                if settings["hourly_limit"] > 0:
                    used = conn.scalar(select(func.count()).select_from(request_log_t)
                                       .where(request_log_t.c.Requested_At > now - timedelta(hours=1)))
                    conn.execute(insert(request_log_t).values(Batch_ID=batch.batch_id, Requested_At=now))
                    if used >= settings["hourly_limit"]:
                        # not logged as the batch's result: the limit resets, the batch must then go through
                        return SageResult(ok=False, message=RATE_LIMITED)
                try:
                    reference = importer(self, conn, batch, settings, now)
                    result = SageResult(ok=True, reference=reference)
                except _Refused as refusal:
                    result = SageResult(ok=False, message=str(refusal))
                conn.execute(insert(import_log_t).values(
                    Batch_ID=batch.batch_id, Kind=batch.kind, Ok=result.ok, Message=result.message,
                    Reference=result.reference, Created_At=now))
                if result.ok and self.drop_folder:
                    # before commit: if the commit fails, the retry rewrites the same file
                    write_import_file(self.drop_folder, batch.batch_id, import_file(batch))
                return result
        except IntegrityError:
            # the import log's primary key decided a race: return the winner's result
            with self.engine.connect() as conn:
                logged = self._logged(conn, batch.batch_id, batch.kind)
            if logged:
                return logged
            raise

    def _logged(self, conn, batch_id: str, kind: str) -> SageResult | None:
        row = conn.execute(select(import_log_t).where(import_log_t.c.Batch_ID == batch_id)).mappings().first()
        if row is None:
            return None
        if row["Kind"] != kind:
            # batch ids are global: replaying another kind's result would report a wrong import
            raise ValueError(f"batch {batch_id!r} was imported as {row['Kind']}, not {kind}")
        return SageResult(ok=row["Ok"], message=row["Message"], reference=row["Reference"], replayed=True)

    def _import_invoice(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        headers = [r for r in batch.records if isinstance(r, APInvoice)]
        dists = [r for r in batch.records if isinstance(r, APDistribution)]
        if len(headers) != 1 or len(headers) + len(dists) != len(batch.records):
            raise ValueError("an ap_invoice batch holds one APInvoice and APDistribution records")
        inv = headers[0]

        for record, required, limits in [(inv, INVOICE_REQUIRED, INVOICE_LIMITS)] + \
                [(d, DISTRIBUTION_REQUIRED, DISTRIBUTION_LIMITS) for d in dists]:
            for attr in required:
                if not (getattr(record, attr) or "").strip():
                    raise _Refused(BLANK)
            for field, attr, limit in limits:
                if len(getattr(record, attr) or "") > limit:
                    raise _Refused(too_long(field, limit))

        vendor = conn.execute(select(vendor_t.c.Status).where(vendor_t.c.Vendor == inv.vendor)).first()
        if vendor is None:
            raise _Refused(NOT_FOUND)
        if vendor.Status != "Active":
            raise _Refused(VENDOR_INACTIVE)
        if not dists:
            raise _Refused(NO_DISTRIBUTIONS)

        for d in dists:
            job = conn.execute(select(job_t.c.Status).where(job_t.c.Job == d.job)).first()
            if job is None:
                raise _Refused(NOT_FOUND)
            if job.Status == "Closed":
                raise _Refused(JOB_CLOSED)
            category = conn.execute(select(category_t.c.Category).where(
                category_t.c.Job == d.job, category_t.c.Extra == (d.extra or ""),
                category_t.c.Cost_Code == d.cost_code, category_t.c.Category == d.category)).first()
            if category is None:
                raise _Refused(NO_CATEGORY)

        if conn.execute(select(invoice_t.c.Invoice).where(invoice_t.c.Vendor == inv.vendor,
                                                          invoice_t.c.Invoice == inv.invoice)).first():
            raise _Refused(duplicate_invoice(inv.invoice))

        if f"{inv.accounting_date:%Y-%m}" in settings["closed_periods"]:
            raise _Refused(period_closed(inv.accounting_date))

        this_batch = defaultdict(Decimal)
        for d in dists:
            if d.commitment:
                this_batch[d.commitment] += Decimal(d.amount)
        factor = 1 + settings["tolerance_pct"] / 100
        for commitment, amount in this_batch.items():
            approved = conn.scalar(select(commitment_t.c.Amount).where(commitment_t.c.Commitment == commitment))
            if approved is None:
                raise _Refused(NOT_FOUND)
            invoiced = conn.scalar(select(func.coalesce(func.sum(distribution_t.c.Amount), 0))
                                   .where(distribution_t.c.Commitment == commitment))
            if Decimal(invoiced) + amount > approved * factor:
                raise _Refused(over_tolerance(commitment))

        conn.execute(insert(invoice_t).values(
            Vendor=inv.vendor, Invoice=inv.invoice, Description=inv.description or "",
            Invoice_Date=inv.invoice_date, Accounting_Date=inv.accounting_date,
            Amount=inv.amount, Retainage=inv.retainage, Batch_ID=batch.batch_id, Created_At=now))
        conn.execute(insert(distribution_t), [dict(
            Vendor=inv.vendor, Invoice=inv.invoice, Distribution_Seq=n, Commitment=d.commitment or "",
            Commitment_Item=d.commitment_item or "", Job=d.job, Extra=d.extra or "", Cost_Code=d.cost_code,
            Category=d.category, Description=d.description or "", Amount=d.amount, Retainage=d.retainage,
        ) for n, d in enumerate(dists, start=1)])
        return f"{inv.vendor}/{inv.invoice}"

    # ---- setup kinds -------------------------------------------------------------

    def _import_vendor(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        vendor = _single(batch, APVendor, ())
        _check_fields(vendor, VENDOR_REQUIRED, VENDOR_LIMITS)
        if conn.execute(select(vendor_t.c.Vendor).where(vendor_t.c.Vendor == vendor.vendor)).first():
            raise _Refused(VENDOR_EXISTS)
        # Vendor_Type is carried by the import file only (no column in the simulator's table)
        conn.execute(insert(vendor_t).values(
            Vendor=vendor.vendor, Name=vendor.name, Address_1=vendor.address_1 or "", Address_2="",
            City=vendor.city or "", State=vendor.state or "", ZIP=vendor.zip or "",
            Telephone=vendor.telephone or "", Fax=vendor.fax or "", Status="Active"))
        return vendor.vendor

    def _import_job(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        job = _single(batch, JCJob, (JCCostCode, JCCategory))
        codes, categories = _codes_of(batch, job.job, "")
        _check_fields(job, JOB_REQUIRED, JOB_LIMITS)
        _check_codes(codes, categories)
        if conn.execute(select(job_t.c.Job).where(job_t.c.Job == job.job)).first():
            raise _Refused(JOB_EXISTS)
        _check_category_codes(conn, codes, categories)
        conn.execute(insert(job_t).values(
            Job=job.job, Description=job.description, Address_1=job.address_1 or "", Address_2="",
            City=job.city or "", State=job.state or "", ZIP=job.zip or "", Status="Open"))
        _add_codes(conn, codes, categories)
        return job.job

    def _import_extra(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        extra = _single(batch, JCExtra, (JCCostCode, JCCategory))
        codes, categories = _codes_of(batch, extra.job, extra.extra)
        _check_fields(extra, EXTRA_REQUIRED, EXTRA_LIMITS)
        _check_codes(codes, categories)
        _open_job(conn, extra.job)
        if conn.execute(select(extra_t.c.Extra).where(extra_t.c.Job == extra.job,
                                                      extra_t.c.Extra == extra.extra)).first():
            raise _Refused(EXTRA_EXISTS)
        _check_category_codes(conn, codes, categories)
        conn.execute(insert(extra_t).values(Job=extra.job, Extra=extra.extra,
                                            Description=extra.description or "", Status="Open"))
        _add_codes(conn, codes, categories)
        return f"{extra.job}/{extra.extra}"

    def _import_cost_codes(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        if not batch.records or not all(isinstance(r, (JCCostCode, JCCategory)) for r in batch.records):
            raise ValueError("a jc_cost_codes batch holds JCCostCode and JCCategory records, at least one")
        first = batch.records[0]
        codes, categories = _codes_of(batch, first.job, first.extra or "")
        _check_codes(codes, categories)
        _open_job(conn, first.job)
        if first.extra:
            extra = conn.execute(select(extra_t.c.Status).where(extra_t.c.Job == first.job,
                                                                extra_t.c.Extra == first.extra)).first()
            if extra is None:
                raise _Refused(NOT_FOUND)
            if extra.Status == "Closed":
                raise _Refused(JOB_CLOSED)
        _check_category_codes(conn, codes, categories)
        return f"{_add_codes(conn, codes, categories)} added"

    _IMPORTERS = {
        "ap_invoice": _import_invoice,
        "ap_vendor": _import_vendor,
        "jc_job": _import_job,
        "jc_extra": _import_extra,
        "jc_cost_codes": _import_cost_codes,
    }


def _single(batch: Batch, header_type, other_types: tuple):
    """The batch's one header record (first), checking every other record's type."""
    records = batch.records
    if not records or not isinstance(records[0], header_type) or \
            not all(isinstance(r, other_types) for r in records[1:]):
        names = ", ".join(t.__name__ for t in other_types)
        raise ValueError(f"a {batch.kind} batch holds one {header_type.__name__} first"
                         + (f", then {names} records" if names else ""))
    return records[0]


def _codes_of(batch: Batch, job: str, extra: str) -> tuple[list, list]:
    """The batch's cost codes and categories, which must all be on this job and extra."""
    codes = [r for r in batch.records if isinstance(r, JCCostCode)]
    categories = [r for r in batch.records if isinstance(r, JCCategory)]
    for r in codes + categories:
        if r.job != job or (r.extra or "") != extra:
            raise ValueError(f"a {batch.kind} batch's cost codes and categories are all on "
                             f"job {job!r}, extra {extra!r}")
    return codes, categories


def _check_fields(record, required, limits) -> None:
    for attr in required:
        if not (getattr(record, attr) or "").strip():
            raise _Refused(BLANK)
    for field, attr, limit in limits:
        if len(getattr(record, attr) or "") > limit:
            raise _Refused(too_long(field, limit))


def _check_codes(codes, categories) -> None:
    for record in codes:
        _check_fields(record, COST_CODE_REQUIRED, COST_CODE_LIMITS)
    for record in categories:
        _check_fields(record, CATEGORY_REQUIRED, CATEGORY_LIMITS)


def _open_job(conn, job: str) -> None:
    row = conn.execute(select(job_t.c.Status).where(job_t.c.Job == job)).first()
    if row is None:
        raise _Refused(NOT_FOUND)
    if row.Status == "Closed":
        raise _Refused(JOB_CLOSED)


def _exists(conn, table, **key) -> bool:
    return conn.execute(select(*table.primary_key.columns).where(
        *(table.c[k] == v for k, v in key.items()))).first() is not None


def _check_category_codes(conn, codes, categories) -> None:
    """Each category's cost code must come in the batch or already be in Sage (checked before
    anything is inserted: a refusal creates nothing)."""
    in_batch = {(r.job, r.extra or "", r.cost_code) for r in codes}
    for r in categories:
        key = (r.job, r.extra or "", r.cost_code)
        if key not in in_batch and not _exists(conn, cost_code_t, Job=key[0], Extra=key[1], Cost_Code=key[2]):
            raise _Refused(NOT_FOUND)


def _add_codes(conn, codes, categories) -> int:
    """Insert the cost codes and categories not there yet; those that exist (or repeat in the
    batch) are left as they are. Returns how many rows were added (cost codes + categories)."""
    added = 0
    for r in codes:
        key = dict(Job=r.job, Extra=r.extra or "", Cost_Code=r.cost_code)
        if not _exists(conn, cost_code_t, **key):
            conn.execute(insert(cost_code_t).values(**key, Description=r.description or ""))
            added += 1
    for r in categories:
        key = dict(Job=r.job, Extra=r.extra or "", Cost_Code=r.cost_code, Category=r.category)
        if not _exists(conn, category_t, **key):
            conn.execute(insert(category_t).values(**key, Description=r.description or ""))
            added += 1
    return added
