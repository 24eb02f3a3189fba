"""Sage 300 CRE import records and the plain data the portal hands to the mappers.

Everything here is a frozen dataclass: the mappers are pure functions from the
*Data classes to a Batch of records, and connectors take a Batch.

Each record declares its Sage fields (SAGE_FIELDS: SageField specs, in the order Sage checks
them), so one check validates any record. A record of a batch kind the simulator has no
importer for declares SAGE_KEY too (see GenericRecord).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import ClassVar, Protocol


@dataclass(frozen=True)
class SageField:
    """One Sage field of a record: its name in Sage's errors ("[CostCode] is too long, ..."),
    the record's attribute, its maximum length (None: not limited) and whether Sage refuses
    it blank ("Can't be blank.")."""
    label: str
    attr: str
    limit: int | None = None
    required: bool = False


Fields = tuple[SageField, ...]


class GenericRecord(Protocol):
    """A record of a batch kind the simulator has no importer for (e.g. a twelfth item type's):
    a frozen dataclass declaring, as class attributes,

        SAGE_FIELDS     its Sage fields, in order: checked blank/too long with Sage's texts, and
                        written in this order to the import file
        SAGE_KEY        the attributes naming one record, e.g. ("customer",); a key already in
                        Sage is refused, and held_by_sage(kind, {"customer": ...}) finds it
        SAGE_TABLE      optional: a human name for messages, e.g. "AR Customer" (default: the
                        class name)
        SAGE_RECORD_ID  optional: the first field of its import-file line (default: the kind)
    """
    SAGE_FIELDS: ClassVar[Fields]
    SAGE_KEY: ClassVar[tuple[str, ...]]


def field_text(value: object) -> str:
    """A field value as text (what Sage's lengths measure and a generic import line holds):
    "" for None, Y/N for a flag, MM/DD/YYYY for a date, a number as given (no exponent)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, date):
        return value.strftime("%m/%d/%Y")
    if isinstance(value, (int, float, Decimal)):
        return format(Decimal(str(value)), "f")
    return str(value)


def is_generic(record: object) -> bool:
    """Whether a record declares what a batch kind with no importer of its own needs."""
    return hasattr(type(record), "SAGE_FIELDS") and hasattr(type(record), "SAGE_KEY")


def record_table(record: object) -> str:
    """A generic record's human name: its SAGE_TABLE, else its class name."""
    return getattr(type(record), "SAGE_TABLE", "") or type(record).__name__


def record_id(record: object, kind: str) -> str:
    """The first field of a generic record's import-file line: its SAGE_RECORD_ID, else the kind."""
    return getattr(type(record), "SAGE_RECORD_ID", "") or kind


def record_key(record: GenericRecord) -> tuple[str, ...]:
    """A generic record's key: the text of each SAGE_KEY attribute."""
    return tuple(field_text(getattr(record, attr)) for attr in type(record).SAGE_KEY)


# ---- item data in (built by the portal from its models) -------------------------

@dataclass(frozen=True)
class InvoiceLineData:
    """One subcontractor invoice line (a schedule-of-values line)."""
    commitment_item: str          # commitment line item number in Sage (e.g. "1")
    cost_code: str
    category: str
    description: str
    work_completed: Decimal       # work completed this period
    materials_stored: Decimal     # materials presently stored, new this period
    retainage: Decimal            # retainage held this period
    commitment_description: str = ""   # the commitment line's: a consolidated distribution's description
    quantity: Decimal | None = None    # units billed this period (a Unit/Qty commitment), else None


@dataclass(frozen=True)
class SubcontractorInvoiceData:
    vendor: str                   # the contract company's ERP vendor ID
    commitment: str               # the commitment's Sage ID
    job: str                      # the project's Sage Job ID
    extra: str                    # the sub job's Sage Extra ID, "" when none
    erp_id: str                   # the Invoice in Sage (accept field, prefilled with the invoice #)
    description: str              # accept field, may be ""
    invoice_date: date            # the billing date
    accounting_date: date         # accept field, prefilled with the billing date
    lines: tuple[InvoiceLineData, ...]
    consolidate: bool = True      # one distribution per commitment line
    hold: bool = False            # exported on hold for payment (the insurance gate)


# ---- records out -----------------------------------------------------------------
# SAGE_FIELDS: lengths from sage300-facts.md, labels as hh2 names the fields in its errors.

@dataclass(frozen=True)
class APInvoice:
    vendor: str
    invoice: str
    description: str
    invoice_date: date
    accounting_date: date
    amount: Decimal               # work completed + materials stored (= payment due + retainage)
    retainage: Decimal
    hold: bool = False            # held for payment in AP (exported on hold)

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Vendor", "vendor", 10, required=True), SageField("Invoice", "invoice", 15, required=True),
        SageField("Description", "description", 30))


@dataclass(frozen=True)
class APDistribution:
    commitment: str
    commitment_item: str
    job: str
    extra: str
    cost_code: str
    category: str
    description: str
    amount: Decimal
    retainage: Decimal
    units: Decimal | None = None  # the quantity invoiced this period, on a Unit/Qty commitment

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Commitment", "commitment", 12), SageField("Job", "job", 10, required=True),
        SageField("Extra", "extra", 10), SageField("CostCode", "cost_code", 12, required=True),
        SageField("Category", "category", 3, required=True), SageField("Description", "description", 30))


@dataclass(frozen=True)
class Batch:
    """What one export hands to a connector. batch_id is the idempotency key:
    the same batch_id submitted twice must create its records once."""
    batch_id: str
    kind: str                     # "ap_invoice", "jc_job", ... (fileformat.KIND_RECORDS), or a generic kind
    records: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class SageResult:
    ok: bool
    message: str = ""             # Sage's own text when refused
    reference: str = ""           # e.g. "VENDOR/INVOICE" of the created AP invoice
    replayed: bool = False        # True when the batch_id had already been imported
    transient: bool = False       # refused for a passing reason (rate limit, unreachable): try again later


@dataclass(frozen=True)
class DryRun:
    """What Sage would answer to one item's import files (its batches, in order), found
    without importing anything: a connector's dry run of the same rules as its submit.

    ok None: it could not be checked (`message` says why); `unchecked` names what this
    connector cannot check at all (the file drop cannot read Sage), `warnings` what may
    still hold an export up without refusing it (Sage's hourly limit)."""
    ok: bool | None
    message: str = ""                 # Sage's refusal text (ok False), or why it was not checked
    unchecked: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


# Sage's texts for a refusal that passes by itself (its hourly request limit, an HTTP 429)
TRANSIENT_TEXTS = ("surpassed the max number of requests", "too many requests")


def is_transient(result: SageResult) -> bool:
    """Whether trying the same import again later may succeed: nothing was imported and the
    reason passes (Sage's rate limit, Sage out of reach), unlike a refusal of the data."""
    text = result.message.lower()
    return not result.ok and (result.transient or any(t in text for t in TRANSIENT_TEXTS))


# The setup checks every connector reports (SetupCheck.key; ItemType.setup_prerequisites name them)
DATE_RECEIVED_USAGE = "ap_date_received_usage"
PAYMENT_DATE_USAGE = "ap_payment_date_usage"
TAX_GROUPS = "tax_groups_not_imported"


@dataclass(frozen=True)
class SetupCheck:
    """One of Sage's setup prerequisites as the connector reads it: `ok` True (met), False (not
    met: `fix` says what to do in Sage) or None (this connector cannot read it: `state` says so,
    `fix` what to make sure of by hand). `key` is what an item type's setup_prerequisites name."""
    key: str
    label: str                    # "Sage AP setting Date Received Usage"
    ok: bool | None
    state: str                    # "Required", "Not Required", "Not checked: ..."
    fix: str = ""                 # "set it to Not Required in Sage AP Settings (Invoice Settings)"

    @property
    def message(self) -> str:
        """The sentence an approver reads: "<label> is <state>: <fix>." """
        return f"{self.label} is {self.state}: {self.fix}." if self.fix else f"{self.label} is {self.state}."


class ConnectorUnavailable(Exception):
    """Sage could not be reached at all (nothing was imported)."""


class SageUnreadable(Exception):
    """The connector cannot read Sage back (the file drop only writes import files), so
    nothing that needs Sage's answer (an unlink's check) can go ahead."""


# ---- setup items: vendors, jobs (with cost codes and categories), extras, cost codes ----

@dataclass(frozen=True)
class CategoryData:
    category: str                 # cost type, e.g. "LAB" (Sage: <= 3)
    description: str


@dataclass(frozen=True)
class CostCodeData:
    cost_code: str
    description: str
    categories: tuple[CategoryData, ...] = ()


@dataclass(frozen=True)
class VendorData:
    """A company exported as an AP vendor (the Companies table of the guide)."""
    vendor: str                   # ERP Company ID entered by the approver (<= 10)
    name: str
    address: str
    city: str
    state: str
    zip: str
    phone: str
    fax: str
    vendor_type: str = ""


@dataclass(frozen=True)
class JobData:
    """A project exported as a JC job with its cost codes and categories (Projects/Jobs table)."""
    job: str                      # Sage Job ID entered by the approver (<= 10)
    name: str
    address: str
    city: str
    state: str
    zip: str
    cost_codes: tuple[CostCodeData, ...] = ()


@dataclass(frozen=True)
class ExtraData:
    """A sub job exported as a JC extra of a synced job (Sub Jobs/Extras table)."""
    job: str
    extra: str                    # Extra ID (<= 10)
    description: str
    cost_codes: tuple[CostCodeData, ...] = ()


@dataclass(frozen=True)
class CostCodesData:
    """Project cost codes (and their categories) added to a synced job or extra."""
    job: str
    extra: str
    cost_codes: tuple[CostCodeData, ...]


@dataclass(frozen=True)
class APVendor:
    vendor: str
    name: str
    address_1: str
    city: str
    state: str
    zip: str
    telephone: str
    fax: str
    vendor_type: str

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Vendor", "vendor", 10, required=True), SageField("Name", "name", 30, required=True),
        SageField("Address1", "address_1", 33), SageField("AddressCity", "city", 30),
        SageField("AddressState", "state", 4), SageField("AddressZip", "zip", 10),
        SageField("Telephone", "telephone", 15), SageField("Fax", "fax", 15))


@dataclass(frozen=True)
class JCJob:
    job: str
    description: str
    address_1: str
    city: str
    state: str
    zip: str

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Job", "job", 10, required=True), SageField("Name", "description", 30, required=True),
        SageField("Address1", "address_1", 30), SageField("AddressCity", "city", 15),
        SageField("AddressState", "state", 4), SageField("AddressZip", "zip", 10))


@dataclass(frozen=True)
class JCExtra:
    job: str
    extra: str
    description: str

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Job", "job", 10, required=True), SageField("Extra", "extra", 10, required=True),
        SageField("Description", "description", 30))


@dataclass(frozen=True)
class JCCostCode:
    job: str
    extra: str
    cost_code: str
    description: str

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Job", "job", 10, required=True), SageField("Extra", "extra", 10),
        SageField("CostCode", "cost_code", 12, required=True), SageField("Description", "description", 30))


@dataclass(frozen=True)
class JCCategory:
    job: str
    extra: str
    cost_code: str
    category: str
    description: str

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Job", "job", 10, required=True), SageField("Extra", "extra", 10),
        SageField("CostCode", "cost_code", 12, required=True), SageField("Category", "category", 3, required=True),
        SageField("Description", "description", 30))


# ---- commitments, change orders, budgets, prime contract COs, owner invoices --------------
# SAGE_FIELDS (facts page: Commitment 12, its Description 30, Commitment CO 10, Chg Mgmt Ref
# 36; the guide: PCCO Number 20; AR Customer 10 and Invoice 15 are inferred from AP's).

@dataclass(frozen=True)
class CommitmentItemData:
    item: str                     # commitment item (line) number
    description: str
    cost_code: str
    category: str
    amount: Decimal               # Contract Amount (subcontract) or Subtotal (PO)
    extra: str = ""
    units: Decimal | None = None  # POs only
    unit_cost: Decimal | None = None
    unit_description: str = ""


@dataclass(frozen=True)
class CommitmentData:
    commitment: str               # Sage 300 CRE ID (<= 12)
    commitment_type: str          # "Subcontract" | "Purchase Order"
    description: str              # title (<= 30)
    vendor: str                   # the contract company's ERP vendor ID
    job: str
    date: date                    # date created
    retainage_pct: Decimal
    items: tuple[CommitmentItemData, ...]


@dataclass(frozen=True)
class CCOLineData:
    """One CCO schedule-of-values line: on an existing commitment item, or a new item."""
    amount: Decimal
    existing_item: str = ""       # the commitment item changed; "" for a new line
    new_item: CommitmentItemData | None = None
    units: Decimal | None = None  # Qty -> Units (POs); a new line without it takes new_item.units


@dataclass(frozen=True)
class CCOData:
    cco: str                      # commitment change order ID (<= 10)
    commitment: str
    job: str
    description: str              # title
    date: date                    # system date at export
    lines: tuple[CCOLineData, ...]


@dataclass(frozen=True)
class BudgetLineData:
    cost_code: str
    category: str
    original: Decimal             # original budget -> Original estimate
    extra: str = ""
    estimated_cost_at_completion: Decimal | None = None   # Misc worksheet 1
    forecast_to_complete: Decimal | None = None            # Misc worksheet 2


@dataclass(frozen=True)
class BudgetData:
    job: str
    date: date
    lines: tuple[BudgetLineData, ...]
    export_forecast: bool = False


@dataclass(frozen=True)
class BudgetChangeLineData:
    cost_code: str
    category: str
    amount: Decimal               # + to, - from (usually zero-sum across lines)
    extra: str = ""
    description: str = ""
    estimated_cost_at_completion: Decimal | None = None   # Misc worksheet 1 (export_forecast)
    forecast_to_complete: Decimal | None = None            # Misc worksheet 2 (export_forecast)


@dataclass(frozen=True)
class BudgetChangeData:
    job: str
    date: date
    reference: str                # the budget change number
    lines: tuple[BudgetChangeLineData, ...]
    export_forecast: bool = False  # the guide: forecast data goes with budget modifications too


@dataclass(frozen=True)
class PCCOEstimateLineData:
    cost_code: str
    category: str
    category_description: str
    amount: Decimal
    extra: str = ""               # the sub job's Extra ID, "" when none


@dataclass(frozen=True)
class PCCOScheduleLineData:
    contract_item: str            # existing item, or the new item code entered on Accept
    amount: Decimal
    new_item: bool = False
    description: str = ""
    contract: str = ""            # the item's Sage contract, when not the PCCO's (several in one prime contract)


@dataclass(frozen=True)
class PCCOData:
    job: str
    contract: str                 # Sage contract ID
    number: str                   # PCCO # (<= 20) -> Chg Mgt Ref 1
    title: str
    date: date                    # transaction date (default today)
    estimate_lines: tuple[PCCOEstimateLineData, ...]
    schedule_lines: tuple[PCCOScheduleLineData, ...]


@dataclass(frozen=True)
class OwnerInvoiceLineData:
    contract_item: str
    description: str
    amount: Decimal               # this period
    retainage: Decimal


@dataclass(frozen=True)
class OwnerInvoiceData:
    customer: str
    contract: str
    job: str
    invoice: str
    description: str
    invoice_date: date
    accounting_date: date
    lines: tuple[OwnerInvoiceLineData, ...]


@dataclass(frozen=True)
class JCCommitment:
    commitment: str
    commitment_type: str
    description: str
    vendor: str
    job: str
    date: date
    retainage_pct: Decimal

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Commitment", "commitment", 12, required=True), SageField("Description", "description", 30),
        SageField("Vendor", "vendor", 10, required=True), SageField("Job", "job", 10, required=True),
        SageField("CommitmentType", "commitment_type", 20))


@dataclass(frozen=True)
class JCCommitmentItem:
    commitment: str
    item: str
    description: str
    job: str
    extra: str
    cost_code: str
    category: str
    units: Decimal | None
    unit_cost: Decimal | None
    unit_description: str
    amount: Decimal

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Item", "item", required=True), SageField("Commitment", "commitment", 12),
        SageField("Description", "description", 30), SageField("Job", "job", 10, required=True),
        SageField("Extra", "extra", 10), SageField("CostCode", "cost_code", 12, required=True),
        SageField("Category", "category", 3, required=True))


@dataclass(frozen=True)
class JCCommitmentCO:
    commitment: str
    cco: str
    description: str
    date: date
    status: str                   # always "Approved"

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Commitment", "commitment", 12, required=True), SageField("CommitmentCO", "cco", 10, required=True),
        SageField("Description", "description", 30))


@dataclass(frozen=True)
class JCCommitmentCOItem:
    commitment: str
    cco: str
    item: str
    amount: Decimal
    units: Decimal | None = None
    description: str = ""
    job: str = ""
    cost_code: str = ""
    category: str = ""
    unit_cost: Decimal | None = None
    unit_description: str = ""

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Item", "item", required=True), SageField("Description", "description", 30),
        SageField("Job", "job", 10), SageField("CostCode", "cost_code", 12), SageField("Category", "category", 3))


@dataclass(frozen=True)
class JCTransaction:
    """A Job Cost transaction (new.jct): Original estimate, Approved est chng, Misc worksheet 1/2,
    Approved Schedule Value Change..."""
    job: str
    extra: str
    cost_code: str
    category: str
    transaction_type: str
    date: date
    description: str
    amount: Decimal
    ref_1: str = ""               # Chg Mgmt Ref 1 (<= 36)
    ref_2: str = ""
    contract: str = ""
    contract_item: str = ""

    # an estimate or budget line (Original estimate, Approved est chng, Misc worksheets)
    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Job", "job", 10, required=True), SageField("Extra", "extra", 10),
        SageField("CostCode", "cost_code", 12, required=True), SageField("Category", "category", 3, required=True),
        SageField("Description", "description", 30), SageField("ChgMgmtRef1", "ref_1", 36),
        SageField("ChgMgmtRef2", "ref_2", 36))
    # a PCCO's estimate line: its Chg Mgmt Ref 1 is the PCCO number, whose limit (20) comes first
    PCCO_FIELDS: ClassVar[Fields] = (SageField("Number", "ref_1", 20), *SAGE_FIELDS)
    # a PCCO's Approved Schedule Value Change: on a contract item, with no cost code or category
    SCHEDULE_CHANGE_FIELDS: ClassVar[Fields] = (
        SageField("Number", "ref_1", 20), SageField("Job", "job", 10, required=True), SageField("Extra", "extra", 10),
        SageField("CostCode", "cost_code", 12), SageField("Category", "category", 3),
        SageField("Description", "description", 30), SageField("ChgMgmtRef1", "ref_1", 36),
        SageField("ChgMgmtRef2", "ref_2", 36), SageField("Contract", "contract", required=True),
        SageField("ContractItem", "contract_item", required=True))


@dataclass(frozen=True)
class CNContractItem:
    """A new contract item created by a PCCO (no original amount)."""
    contract: str
    item: str
    description: str

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Contract", "contract", required=True), SageField("Item", "item", required=True),
        SageField("Description", "description", 30))


@dataclass(frozen=True)
class ARInvoice:
    customer: str
    invoice: str
    contract: str
    job: str
    description: str
    invoice_date: date
    accounting_date: date
    amount: Decimal
    retainage: Decimal

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("Customer", "customer", 10, required=True), SageField("Invoice", "invoice", 15, required=True),
        SageField("Contract", "contract", required=True), SageField("Job", "job", 10),
        SageField("Description", "description", 30))


@dataclass(frozen=True)
class ARDistribution:
    invoice: str
    contract: str
    contract_item: str
    description: str
    amount: Decimal
    retainage: Decimal

    SAGE_FIELDS: ClassVar[Fields] = (
        SageField("ContractItem", "contract_item", required=True), SageField("Description", "description", 30))
