"""The simulator's database: Sage's tables (ODBC names), the hh2 stand-ins, its settings, and
the base every part of the simulator builds on (engine, locking, create_all, settings).

Tables are created by create_all on first use (no migrations): it creates new tables and
adds to an existing table every column it lacks (ALTER TABLE ... ADD COLUMN). So a column
may be added to a table here if it is nullable or has a server default; never rename,
retype or drop one (an existing database keeps the old column).

SQLite: WAL + busy timeout, BEGIN IMMEDIATE so several processes serialise their writes.
PostgreSQL: optional schema via schema_translate_map; submits serialise on a
transaction-level advisory lock per schema.

SIM_CHANGE counts the transactions that wrote to Sage's side: the first write statement of a
transaction bumps it in that transaction (an engine listener, whoever writes: an import, the
Sage user's page, the CLI, a test), so it commits or rolls back with the change. change_mark()
reads it: the pre-check caches Sage's dry-run answers under it (connectors.DryRunAnswers).
"""
from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    event,
    false,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateColumn

from ..mapping import PCCO_REF_2
from .rules import PCCO_TYPES, SETTING_KEYS, TAX_GROUP_SYNC

metadata = MetaData()
KIND_LENGTH = 30        # a batch kind, in the import log and SIM_GENERIC_RECORD
REFERENCE_LENGTH = 40   # an import's reference (e.g. "VENDOR/INVOICE") in the import log
Money = Numeric(12, 2, asdecimal=True)
Quantity = Numeric(16, 4, asdecimal=True)  # units and unit costs

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
    # "Use Contracts" (CN contracts) or "Use Quickbill" (schedule of values in Misc Worksheets)
    Column("Billing_Method", String(20), nullable=False, default="Use Contracts",
           server_default="Use Contracts"),
    # "" for Use Contracts; Job, Division or Section for Use Quickbill
    Column("Billing_Level", String(10), nullable=False, default="", server_default=""),
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
    Column("Status", String(10), nullable=False, default="Open", server_default="Open"),  # Open / Void
    # Hold for payment: exported "on hold" (the portal's insurance gate); a Sage user releases it
    Column("Hold", Boolean, nullable=False, default=False, server_default=false()),
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
    Column("Units", Quantity, nullable=True),  # the quantity invoiced on a Unit/Qty commitment item
    ForeignKeyConstraint(["Vendor", "Invoice"],
                         ["APM_MASTER__INVOICE.Vendor", "APM_MASTER__INVOICE.Invoice"]),
)
# AP payments (checks) against an AP invoice, as the hh2 mappings "Payment (AP)" and "Invoice
# Payment (AP)" read them: one row per check applied to one invoice; partial payments allowed.
payment_t = Table(
    "APM_MASTER__PAYMENT", metadata,
    Column("Payment_ID", Integer, primary_key=True, autoincrement=True),
    Column("Vendor", String(10), nullable=False, index=True),
    Column("Invoice", String(15), nullable=False),
    Column("Check_Number", String(10), nullable=False),
    Column("Check_Date", Date, nullable=False),
    Column("Amount", Money, nullable=False),
    Column("Created_At", DateTime, nullable=False),
    ForeignKeyConstraint(["Vendor", "Invoice"], ["APM_MASTER__INVOICE.Vendor", "APM_MASTER__INVOICE.Invoice"]),
)
# ---- commitments, Job Cost transactions, contracts, AR (tables added with the financial kinds) ----
# Item, contract and contract item codes have no length in sage300-facts.md: unbounded here.
commitment_item_t = Table(
    "JCM_MASTER__COMMITMENT_ITEM", metadata,
    Column("Commitment", String(12), ForeignKey("JCM_MASTER__COMMITMENT.Commitment"), primary_key=True),
    Column("Item", String, primary_key=True),
    Column("Description", String(30), nullable=False, default=""),
    Column("Job", String(10), nullable=False),
    Column("Extra", String(10), nullable=False, default=""),
    Column("Cost_Code", String(12), nullable=False),
    Column("Category", String(3), nullable=False),
    Column("Units", Quantity, nullable=True),
    Column("Unit_Cost", Quantity, nullable=True),
    Column("Unit_Description", String, nullable=False, default=""),
    Column("Amount", Money, nullable=False),  # original amount (approved changes: the CO items)
)
commitment_co_t = Table(
    "JCM_MASTER__COMMITMENT_CO", metadata,
    Column("Commitment", String(12), ForeignKey("JCM_MASTER__COMMITMENT.Commitment"), primary_key=True),
    Column("CCO", String(10), primary_key=True, index=True),  # unique overall (checked on import)
    Column("Description", String(30), nullable=False, default=""),
    Column("Date", Date, nullable=False),
    Column("Status", String(10), nullable=False, default="Approved"),
)
commitment_co_item_t = Table(
    "JCM_MASTER__COMMITMENT_CO_ITEM", metadata,
    Column("Commitment", String(12), primary_key=True),
    Column("CCO", String(10), primary_key=True),
    Column("Item", String, primary_key=True),
    Column("Description", String(30), nullable=False, default=""),
    Column("Units", Quantity, nullable=True),
    Column("Unit_Cost", Quantity, nullable=True),
    Column("Amount", Money, nullable=False),
    ForeignKeyConstraint(["Commitment", "CCO"],
                         ["JCM_MASTER__COMMITMENT_CO.Commitment", "JCM_MASTER__COMMITMENT_CO.CCO"]),
)
transaction_t = Table(
    "JCT_CURRENT__TRANSACTION", metadata,
    Column("Transaction_ID", Integer, primary_key=True, autoincrement=True),
    Column("Job", String(10), ForeignKey("JCM_MASTER__JOB.Job"), nullable=False, index=True),
    Column("Extra", String(10), nullable=False, default=""),
    Column("Cost_Code", String(12), nullable=False, default=""),
    Column("Category", String(3), nullable=False, default=""),
    # 30: "Approved Schedule Value Change" is longer than the facts page's 20
    Column("Transaction_Type", String(30), nullable=False),
    Column("Date", Date, nullable=False),
    Column("Description", String(30), nullable=False, default=""),
    Column("Amount", Money, nullable=False),
    Column("Ref_1", String(36), nullable=False, default=""),   # Chg Mgmt Ref 1
    Column("Ref_2", String(36), nullable=False, default=""),   # Chg Mgmt Ref 2
    Column("Commitment", String(12), nullable=False, default=""),
    Column("Commitment_Item", String, nullable=False, default=""),
    Column("Commitment_CO", String(10), nullable=False, default=""),
    Column("Contract", String, nullable=False, default=""),
    Column("Contract_Item", String, nullable=False, default=""),
    Column("Posted", Boolean, nullable=False, default=False),  # false: new.jct, true: current.jct
    Column("Batch_ID", String, nullable=False, default=""),
    Column("Created_At", DateTime, nullable=True),
    # cost transactions (AP/PR/EQ/IV/JC cost): quantity, unit cost, and for AP its vendor,
    # invoice and what has been paid on it
    Column("Units", Quantity, nullable=True),
    Column("Unit_Cost", Quantity, nullable=True),
    Column("Vendor", String(10), nullable=False, default="", server_default=""),
    Column("Invoice", String(15), nullable=False, default="", server_default=""),
    Column("Amount_Paid", Money, nullable=False, default=0, server_default="0"),
)
contract_t = Table(
    "CN_MASTER__CONTRACT", metadata,
    Column("Contract", String, primary_key=True),
    Column("Job", String(10), ForeignKey("JCM_MASTER__JOB.Job"), nullable=False),
    Column("Description", String(30), nullable=False, default=""),
    Column("Status", String(10), nullable=False, default="Open"),
    Column("Billing_Method", String(20), nullable=False, default="Use Contracts"),
    Column("Work_Started", Date, nullable=True),     # the prime contract's start date
    Column("Work_Completed", Date, nullable=True),   # its actual completion date
)
contract_item_t = Table(
    "CN_MASTER__CONTRACT_ITEM", metadata,
    Column("Contract", String, ForeignKey("CN_MASTER__CONTRACT.Contract"), primary_key=True),
    Column("Item", String, primary_key=True),
    Column("Description", String(30), nullable=False, default=""),
    Column("Original_Amount", Money, nullable=False, default=0),
    Column("Approved_Changes", Money, nullable=False, default=0),
    # a unit-priced contract item: its original units and unit price (None: priced by amount)
    Column("Units", Quantity, nullable=True),
    Column("Unit_Cost", Quantity, nullable=True),
)
# ---- data back from Sage: company standards and the Quickbill schedule of values ----
standard_cost_code_t = Table(
    "JCM_MASTER__STANDARD_COST_CODE", metadata,
    Column("Cost_Code", String(12), primary_key=True),
    Column("Description", String(30), nullable=False, default=""),
    Column("Status", String(10), nullable=False, default="Active"),  # Active / Inactive
)
standard_category_t = Table(
    "JCM_MASTER__STANDARD_CATEGORY", metadata,
    Column("Category", String(3), primary_key=True),
    Column("Description", String(30), nullable=False, default=""),
)
# Miscellaneous Worksheets: a Use Quickbill job's schedule of values, one row per billing level code
schedule_value_t = Table(
    "JCM_MASTER__SCHEDULE_VALUE", metadata,
    Column("Job", String(10), ForeignKey("JCM_MASTER__JOB.Job"), primary_key=True),
    # "" at Job level, the division code at Division level, the cost code at Section level
    Column("Level_Code", String(12), primary_key=True, default=""),
    Column("Description", String(30), nullable=False, default=""),
    Column("Original_Contract_Amount", Money, nullable=False, default=0),
)
customer_t = Table(
    "ARM_MASTER__CUSTOMER", metadata,
    Column("Customer", String(10), primary_key=True),
    Column("Name", String(30), nullable=False, default=""),
    Column("Status", String(10), nullable=False, default="Active"),
)
ar_invoice_t = Table(
    "ART_INVOICE", metadata,
    Column("Invoice", String(15), primary_key=True),  # unique overall: "Invoice # must be unique."
    Column("Customer", String(10), ForeignKey("ARM_MASTER__CUSTOMER.Customer"), nullable=False),
    Column("Contract", String, ForeignKey("CN_MASTER__CONTRACT.Contract"), nullable=False),
    Column("Job", String(10), nullable=False, default=""),
    Column("Description", String(30), nullable=False, default=""),
    Column("Invoice_Date", Date, nullable=False),
    Column("Accounting_Date", Date, nullable=False),
    Column("Amount", Money, nullable=False),
    Column("Retainage", Money, nullable=False),
    Column("Batch_ID", String, nullable=False),
    Column("Created_At", DateTime, nullable=False),
    Column("Status", String(10), nullable=False, default="Open", server_default="Open"),  # Open / Void
)
ar_distribution_t = Table(
    "ART_DISTRIBUTION", metadata,
    Column("Invoice", String(15), ForeignKey("ART_INVOICE.Invoice"), primary_key=True),
    Column("Distribution_Seq", Integer, primary_key=True, autoincrement=False),
    Column("Contract", String, nullable=False),
    Column("Contract_Item", String, nullable=False),
    Column("Description", String(30), nullable=False, default=""),
    Column("Amount", Money, nullable=False),
    Column("Retainage", Money, nullable=False),
)
import_log_t = Table(
    "HH2_IMPORT_LOG", metadata,
    Column("Batch_ID", String, primary_key=True),  # the idempotency key
    Column("Kind", String(KIND_LENGTH), nullable=False),
    Column("Ok", Boolean, nullable=False),
    Column("Message", Text, nullable=False, default=""),
    Column("Reference", String(REFERENCE_LENGTH), nullable=False, default=""),
    Column("Created_At", DateTime, nullable=False),
)
request_log_t = Table(
    "HH2_REQUEST_LOG", metadata,
    Column("Request_ID", Integer, primary_key=True, autoincrement=True),
    Column("Batch_ID", String, nullable=False),
    Column("Requested_At", DateTime, nullable=False, index=True),
)
# One row: bumped by every transaction that writes to the simulator (see the module's docstring).
# It starts at a random number, so a database made anew never repeats an old one's marks.
change_t = Table(
    "SIM_CHANGE", metadata,
    Column("Id", Integer, primary_key=True, autoincrement=False),
    Column("Counter", BigInteger, nullable=False),
)
WRITES = ("INSERT", "UPDATE", "DELETE")
# AP Vendor Insurance (global level): one row per vendor and default insurance type
vendor_insurance_t = Table(
    "APM_MASTER__VENDOR_INSURANCE", metadata,
    Column("Vendor", String(10), ForeignKey("APM_MASTER__VENDOR.Vendor"), primary_key=True),
    Column("Insurance_Type", String(20), primary_key=True),  # rules.INSURANCE_TYPES
    Column("Policy_Number", String(20), nullable=False, default=""),
    Column("Insurance_Company", String(30), nullable=False, default=""),
    Column("Limit_Amount", Money, nullable=True),
    Column("Effective_Date", Date, nullable=True),
    Column("Expiration_Date", Date, nullable=True),
)
setting_t = Table(
    "SIM_SETTING", metadata,
    Column("Key", String(40), primary_key=True),
    Column("Value", Text, nullable=False),
)
# ---- records of batch kinds with no importer of their own (generic.py) ----
generic_record_t = Table(
    "SIM_GENERIC_RECORD", metadata,
    Column("Kind", String(KIND_LENGTH), primary_key=True),  # the batch kind, e.g. "ar_customer"
    Column("Record", String, primary_key=True),           # the record's SAGE_TABLE (or class name)
    Column("Record_Key", String, primary_key=True),       # its SAGE_KEY values, a JSON list
    Column("Fields", JSON, nullable=False),               # {attribute: text} of its SAGE_FIELDS
    Column("Batch_ID", String, nullable=False),
    Column("Created_At", DateTime, nullable=False),
)


def exists(conn: Connection, table: Table, **key) -> bool:
    """Whether the table has a row with this primary key (or these column values)."""
    return conn.execute(select(*table.primary_key.columns).where(
        *(table.c[k] == v for k, v in key.items()))).first() is not None


def pcco_change_rows(job: str, ref_1: str) -> tuple:
    """Where-clauses of a PCCO's transactions (Ref 2 tells them from a budget change's)."""
    return (transaction_t.c.Job == job, transaction_t.c.Ref_1 == ref_1, transaction_t.c.Ref_2 == PCCO_REF_2,
            transaction_t.c.Transaction_Type.in_(PCCO_TYPES))


def utcnow() -> datetime:
    """Now, as the naive UTC the simulator stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(value: datetime) -> datetime:
    # stored naive UTC: SQLite has no time zones and both backends must compare alike
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _encode(key: str, value) -> str:
    if key == "closed_periods":
        items = value.split(",") if isinstance(value, str) else value
        return ",".join(sorted({p.strip() for p in items if p.strip()}))
    if key == "tolerance_pct":
        return str(Decimal(str(value)))
    if key == "hourly_limit":
        return str(int(value))
    if key in ("date_received_usage", "payment_date_usage", "tax_group_sync"):
        return str(value)
    raise KeyError(key)


def _decode(key: str, raw: str):
    if key == "closed_periods":
        return frozenset(p for p in raw.split(",") if p)
    if key in ("date_received_usage", "payment_date_usage", "tax_group_sync"):
        return raw
    return Decimal(raw) if key == "tolerance_pct" else int(raw)


def make_engine(url: str, schema: str | None = None) -> Engine:
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


def count_changes(engine: Engine, schema: str | None) -> None:
    """Make every transaction on the engine that writes bump SIM_CHANGE, in that transaction
    (once; a rolled-back savepoint that held the bump lets the next write bump again). Called by
    create_all once the table is there (every process's connector runs it on its new engine)."""
    if getattr(engine, "_sim_counts_changes", False):
        return
    setattr(engine, "_sim_counts_changes", True)  # noqa: B010 - Engine declares no such attribute
    preparer = engine.dialect.identifier_preparer
    table = (f"{preparer.quote_schema(schema)}." if schema else "") + preparer.quote(change_t.name)
    bump = f"UPDATE {table} SET {preparer.quote('Counter')} = {preparer.quote('Counter')} + 1"

    def _clear(conn, *args) -> None:
        conn.info.pop("sim_change_bumped", None)

    def _bump(conn, cursor, statement, parameters, context, executemany) -> None:
        if conn.info.get("sim_change_bumped") or not statement.lstrip()[:6].upper().startswith(WRITES):
            return
        if change_t.name in statement:  # the bump itself, or create_all's first row
            return
        conn.info["sim_change_bumped"] = True
        cursor.execute(bump)  # the statement's own cursor: same connection, same transaction

    for name in ("begin", "commit", "rollback", "rollback_savepoint"):
        event.listen(engine, name, _clear)
    event.listen(engine, "before_cursor_execute", _bump)


class SimulatorBase:
    """The engine, the lock, the schema and the settings: what the simulator's parts share."""

    def __init__(self, url: str, schema: str | None = None, drop_folder: str | None = None,
                 closed_periods: str | Iterable[str] = (), tolerance_pct: Decimal | str | int = Decimal("0"),
                 hourly_limit: int = 0, clock: Callable[[], datetime] | None = None,
                 engine: Engine | None = None, rate_window_seconds: int = 3600,
                 date_received_usage: str = "Not Required", payment_date_usage: str = "Not Required",
                 tax_group_sync: str = TAX_GROUP_SYNC[0]):
        self.url = url
        self.schema = schema
        self.drop_folder = drop_folder
        self.defaults = {"closed_periods": _encode("closed_periods", closed_periods),
                         "tolerance_pct": _encode("tolerance_pct", tolerance_pct),
                         "hourly_limit": _encode("hourly_limit", hourly_limit),
                         "date_received_usage": date_received_usage, "payment_date_usage": payment_date_usage,
                         "tax_group_sync": tax_group_sync}
        self.clock = clock or utcnow
        # the hourly limit's window: an hour, as in Sage; shorter in tests and fault drills
        self.rate_window = timedelta(seconds=rate_window_seconds)
        # engine: a shared engine for this url/schema (see connectors.make_connector)
        self.engine = engine if engine is not None else make_engine(url, schema)
        self._pg = self.engine.dialect.name == "postgresql"
        self._lock_key = zlib.crc32(f"sage300-sim:{schema or ''}".encode())
        self._held: Connection | None = None

    @contextmanager
    def holding_connection(self) -> Iterator[None]:
        """Submit every batch inside this block on one connection: one checkout (and one
        liveness ping) for a job's worth of imports instead of one per import."""
        if self._held is not None:
            yield
            return
        with self.engine.connect() as conn:
            self._held = conn
            try:
                yield
            finally:
                self._held = None

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A transaction on the held connection, else on one from the pool (engine.begin())."""
        if self._held is None:
            with self.engine.begin() as conn:
                yield conn
        else:
            with self._held.begin():
                yield self._held

    # ---- schema ------------------------------------------------------------------

    def _serialise(self, conn: Connection) -> None:
        # PostgreSQL: one submit (or DDL) at a time per schema; SQLite has BEGIN IMMEDIATE.
        if self._pg:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._lock_key})

    def create_all(self) -> None:
        """Create the schema (PostgreSQL), the tables, their missing columns and missing settings rows."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            if self._pg and self.schema:
                quoted = conn.dialect.identifier_preparer.quote(self.schema)
                conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
            metadata.create_all(conn)
            self._add_missing_columns(conn)
            have = set(conn.scalars(select(setting_t.c.Key)))
            for key, value in self.defaults.items():
                if key not in have:
                    conn.execute(insert(setting_t).values(Key=key, Value=value))
            if conn.scalar(select(change_t.c.Counter)) is None:
                conn.execute(insert(change_t).values(Id=1, Counter=secrets.randbelow(2 ** 62)))
        count_changes(self.engine, self.schema if self._pg else None)

    def _add_missing_columns(self, conn: Connection) -> list[str]:
        """ALTER TABLE ... ADD COLUMN for each column the database's table lacks; returns "TABLE.Column"s."""
        # a database made by an older simulator: its tables predate columns added here since
        schema = self.schema if self._pg else None  # the engine's schema_translate_map target
        inspector = inspect(conn)
        preparer = conn.dialect.identifier_preparer
        prefix = f"{preparer.quote_schema(schema)}." if schema else ""
        added = []
        for table in metadata.sorted_tables:
            have = {c["name"] for c in inspector.get_columns(table.name, schema=schema)}
            for column in table.columns:
                if column.name in have:
                    continue
                if not column.nullable and column.server_default is None:
                    raise RuntimeError(f"{table.name}.{column.name} cannot be added to an existing "
                                       "table: make it nullable or give it a server default")
                ddl = CreateColumn(column).compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {prefix}{preparer.format_table(table)} ADD COLUMN {ddl}")
                added.append(f"{table.name}.{column.name}")
        return added

    def drop_all(self) -> None:
        """Drop the simulator's tables (not the schema)."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            metadata.drop_all(conn)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    def change_mark(self) -> str | None:
        """A mark that changes whenever Sage's side does (SIM_CHANGE), in one statement; None
        when answers also depend on the time (the hourly request limit is on) or it is unknown."""
        limit = select(setting_t.c.Value).where(setting_t.c.Key == "hourly_limit").scalar_subquery()
        with self.engine.connect() as conn:
            row = conn.execute(select(change_t.c.Counter, limit)).first()
        if row is None or int(row[1] if row[1] is not None else self.defaults["hourly_limit"]) > 0:
            return None
        return str(row[0])

    # ---- settings ----------------------------------------------------------------

    def settings(self) -> dict:
        """closed_periods (frozenset of YYYY-MM), tolerance_pct (Decimal), hourly_limit (int)."""
        with self.engine.connect() as conn:
            return self._settings(conn)

    def _settings(self, conn: Connection) -> dict:
        return self._decoded(dict(conn.execute(select(setting_t.c.Key, setting_t.c.Value)).all()))

    def _decoded(self, stored: dict) -> dict:
        """The settings from SIM_SETTING's raw values (a missing row: this simulator's default)."""
        return {k: _decode(k, stored.get(k, self.defaults[k])) for k in SETTING_KEYS}

    def set_setting(self, key: str, value: object) -> None:
        """Change a setting at run time; every process sharing the database sees it."""
        raw = _encode(key, value)
        with self.engine.begin() as conn:
            if conn.execute(update(setting_t).where(setting_t.c.Key == key).values(Value=raw)).rowcount == 0:
                conn.execute(insert(setting_t).values(Key=key, Value=raw))
