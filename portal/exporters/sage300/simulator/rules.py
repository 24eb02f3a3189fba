"""Sage's rules as the simulator applies them: field lengths and required fields, Sage's
error texts (exact, from the connector guide where it has one), what a Sage user may enter,
and the checks of the adders' input (SageInputError)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..mapping import (
    APPROVED_COMMITMENT_CHANGE,
    APPROVED_ESTIMATE_CHANGE,
    COMMITTED_COST,
    MISC_WORKSHEET_1,
    MISC_WORKSHEET_2,
    ORIGINAL_ESTIMATE,
    SCHEDULE_VALUE_CHANGE,
)
from ..records import (
    APDistribution,
    APInvoice,
    APVendor,
    ARDistribution,
    ARInvoice,
    CNContractItem,
    Fields,
    JCCategory,
    JCCommitment,
    JCCommitmentCO,
    JCCommitmentCOItem,
    JCCommitmentItem,
    JCCostCode,
    JCExtra,
    JCJob,
    JCTransaction,
    field_text,
)


def limits(fields: Fields) -> tuple[tuple[str, str, int], ...]:
    """(label in the error text, record attribute, max length) of the fields Sage limits."""
    return tuple((f.label, f.attr, f.limit) for f in fields if f.limit is not None)


def required(fields: Fields) -> tuple[str, ...]:
    """The attributes Sage refuses blank."""
    return tuple(f.attr for f in fields if f.required)


# The records' declared fields (records.py: SAGE_FIELDS) in the older (label, attr, limit)
# and required-attribute forms, by record and, for a JC transaction, by use.
INVOICE_LIMITS, INVOICE_REQUIRED = limits(APInvoice.SAGE_FIELDS), required(APInvoice.SAGE_FIELDS)
DISTRIBUTION_LIMITS, DISTRIBUTION_REQUIRED = limits(APDistribution.SAGE_FIELDS), required(APDistribution.SAGE_FIELDS)
VENDOR_LIMITS, VENDOR_REQUIRED = limits(APVendor.SAGE_FIELDS), required(APVendor.SAGE_FIELDS)
JOB_LIMITS, JOB_REQUIRED = limits(JCJob.SAGE_FIELDS), required(JCJob.SAGE_FIELDS)
EXTRA_LIMITS, EXTRA_REQUIRED = limits(JCExtra.SAGE_FIELDS), required(JCExtra.SAGE_FIELDS)
COST_CODE_LIMITS, COST_CODE_REQUIRED = limits(JCCostCode.SAGE_FIELDS), required(JCCostCode.SAGE_FIELDS)
CATEGORY_LIMITS, CATEGORY_REQUIRED = limits(JCCategory.SAGE_FIELDS), required(JCCategory.SAGE_FIELDS)
COMMITMENT_LIMITS, COMMITMENT_REQUIRED = limits(JCCommitment.SAGE_FIELDS), required(JCCommitment.SAGE_FIELDS)
COMMITMENT_ITEM_LIMITS = limits(JCCommitmentItem.SAGE_FIELDS)
COMMITMENT_ITEM_REQUIRED = required(JCCommitmentItem.SAGE_FIELDS)
CCO_LIMITS, CCO_REQUIRED = limits(JCCommitmentCO.SAGE_FIELDS), required(JCCommitmentCO.SAGE_FIELDS)
CCO_ITEM_LIMITS, CCO_ITEM_REQUIRED = limits(JCCommitmentCOItem.SAGE_FIELDS), required(JCCommitmentCOItem.SAGE_FIELDS)
TRANSACTION_LIMITS, TRANSACTION_REQUIRED = limits(JCTransaction.SAGE_FIELDS), required(JCTransaction.SAGE_FIELDS)
PCCO_TRANSACTION_LIMITS = limits(JCTransaction.PCCO_FIELDS)
SCHEDULE_CHANGE_REQUIRED = required(JCTransaction.SCHEDULE_CHANGE_FIELDS)
CONTRACT_ITEM_LIMITS, CONTRACT_ITEM_REQUIRED = limits(CNContractItem.SAGE_FIELDS), required(CNContractItem.SAGE_FIELDS)
AR_INVOICE_LIMITS, AR_INVOICE_REQUIRED = limits(ARInvoice.SAGE_FIELDS), required(ARInvoice.SAGE_FIELDS)
AR_DISTRIBUTION_LIMITS = limits(ARDistribution.SAGE_FIELDS)
AR_DISTRIBUTION_REQUIRED = required(ARDistribution.SAGE_FIELDS)
BUDGET_TYPES = (ORIGINAL_ESTIMATE, MISC_WORKSHEET_1, MISC_WORKSHEET_2)
BUDGET_CHANGE_TYPES = (APPROVED_ESTIMATE_CHANGE, MISC_WORKSHEET_1, MISC_WORKSHEET_2)
PCCO_TYPES = (APPROVED_ESTIMATE_CHANGE, SCHEDULE_VALUE_CHANGE)
VOID = "Void"  # a voided AP or AR invoice, commitment or commitment change order
ARCHIVED_STATUSES = ("Closed", "Archived", VOID)  # a commitment in any takes no change order

# an amount or quantity as a Sage user (or a test) enters it: "1,000.50", 1000, Decimal(...)
Amount = Decimal | int | float | str

NOT_FOUND = "Entity with this ID not found."
BLANK = "Can't be blank."
RATE_LIMITED = ("Unknown Error => You have surpassed the max number of requests for an hour. "
                "Please wait until your limit resets.")
VENDOR_INACTIVE = "Vendor is inactive/has been archived."
NO_DISTRIBUTIONS = "The document's codings are incomplete: The document has no distributions."
JOB_CLOSED = "Job has been closed."
NO_CATEGORY = "No entities could be found of type [Category] with given where clause."
AP_FAILED = "Ap Invoice Api import failed with error message: "
# not in the guide: its AP text, worded for the AR (owner invoice) import
AR_FAILED = "Ar Invoice Api import failed with error message: "
JOB_EXISTS = "A job with that code already exists."
# not in the guide: worded like its "A job already exists with the specified id."
VENDOR_EXISTS = "A vendor already exists with the specified id."
# not in the guide: worded like its "A change order with code XXX already exists on this contract."
EXTRA_EXISTS = "An extra with that code already exists on this job."

COMMITMENT_ARCHIVED = "Commitment has been archived."
CCO_EXISTS = "A commitment change order already exists with the specified id."
ITEM_EXISTS = "A contract item already exists on this contract with the specified code."
AR_DUPLICATE = "Duplicate Invoice encountered. Invoice # must be unique."

SETTING_KEYS = ("closed_periods", "tolerance_pct", "hourly_limit", "date_received_usage", "payment_date_usage",
                "tax_group_sync")
# AP Settings - Invoice Settings: how AP invoice entry treats Date Received and Payment Date
# (setup-subcontractor-invoice-export.txt: the export needs Not Required or Not Used for both)
DATE_USAGES = ("Required", "Not Required", "Not Used")
# hh2's Tax Group Sync (a custom setting of the connection): On imports Sage's tax groups
TAX_GROUP_SYNC = ("Off", "On")
# AP Vendor Insurance (global level): Sage's default insurance types (the guide's Company Insurance)
INSURANCE_TYPES = ("General Liability", "Automobile", "Umbrella", "Workers Compensation")
INSURANCE_INPUT = (("vendor", 10), ("insurance_type", 20), ("policy_number", 20), ("insurance_company", 30))

# ---- data back from Sage: posted costs, billing methods, what a Sage user may enter ----
# Job Cost's transaction types for posted costs (the guide's Direct Costs mapping).
AP_COST, PR_COST, EQ_COST, IV_COST, JC_COST = "AP cost", "PR cost", "EQ cost", "IV cost", "JC cost"
COST_TYPES = (AP_COST, PR_COST, EQ_COST, IV_COST, JC_COST)
USE_CONTRACTS, USE_QUICKBILL = "Use Contracts", "Use Quickbill"
BILLING_METHODS = (USE_CONTRACTS, USE_QUICKBILL)
BILLING_LEVELS = ("Job", "Division", "Section")  # Use Quickbill only; Use Contracts has ""
VENDOR_STATUSES = ("Active", "Inactive")
JOB_STATUSES = ("Open", "Closed")
STANDARD_CODE_STATUSES = ("Active", "Inactive")
# (argument, max length) of each adder; the lengths are sage300-facts.md's (as in *_LIMITS above)
VENDOR_INPUT = tuple((attr, limit) for _, attr, limit in VENDOR_LIMITS) + (("address_2", 33),)
JOB_INPUT = tuple((attr, limit) for _, attr, limit in JOB_LIMITS) + (("address_2", 30), ("status", 10))
EXTRA_INPUT = tuple((attr, limit) for _, attr, limit in EXTRA_LIMITS)
COST_CODE_INPUT = tuple((attr, limit) for _, attr, limit in COST_CODE_LIMITS)
CATEGORY_INPUT = tuple((attr, limit) for _, attr, limit in CATEGORY_LIMITS)
STANDARD_COST_CODE_INPUT = (("code", 12), ("description", 30))
STANDARD_CATEGORY_INPUT = (("code", 3), ("description", 30))
CONTRACT_INPUT = (("job", 10), ("description", 30), ("status", 10))
SCHEDULE_VALUE_INPUT = (("job", 10), ("level_code", 12), ("description", 30))
COST_INPUT = tuple((attr, limit) for _, attr, limit in TRANSACTION_LIMITS if attr in
                   ("job", "extra", "cost_code", "category", "description")) + \
    (("vendor", 10), ("invoice", 15), ("commitment", 12))
# The readers' keys (column names): list_cost_transactions' and job_costs' (Decimals after Category_Description)
COST_TRANSACTION_KEYS = ("Transaction_ID", "Job", "Extra", "Cost_Code", "Category", "Transaction_Type", "Date",
                         "Description", "Vendor", "Invoice", "Units", "Unit_Cost", "Amount", "Amount_Paid",
                         "Commitment")
JOB_COST_KEYS = ("Job", "Extra", "Cost_Code", "Category", "Cost_Code_Description", "Category_Description",
                 "Original_Estimate", "Original_Estimate_Units", "Approved_Estimate_Changes",
                 "Approved_Estimate_Unit_Changes", "Total_Estimate", "Total_Estimate_Units",
                 "Original_Commitment", "Approved_Commitment_Changes", "Revised_Commitment",
                 "Commitment_Invoiced", "JTD_Cost", "JTD_Units", "JTD_Dollars_Paid", "MTD_Cost",
                 "MTD_Dollars_Paid", "MTD_Units")
# the transaction types job_costs adds up (Misc worksheets and schedule value changes are not Job Costs)
JOB_COST_TYPES = (ORIGINAL_ESTIMATE, APPROVED_ESTIMATE_CHANGE, COMMITTED_COST, APPROVED_COMMITMENT_CHANGE) + COST_TYPES
LABELS = {"vendor": "Vendor", "name": "Name", "address_1": "Address 1", "address_2": "Address 2",
          "city": "City", "state": "State", "zip": "ZIP", "telephone": "Telephone", "fax": "Fax",
          "status": "Status", "job": "Job", "description": "Description", "extra": "Extra",
          "cost_code": "Cost code", "category": "Category", "code": "Code", "contract": "Contract",
          "level_code": "Level code", "invoice": "Invoice", "commitment": "Commitment",
          "billing_method": "Billing method", "billing_level": "Billing level", "items": "Items",
          "transaction_type": "Transaction type", "amount": "Amount", "units": "Units",
          "unit_cost": "Unit cost", "amount_paid": "Amount paid", "date": "Date",
          "cost_code_description": "Cost code description",
          "category_description": "Category description", "action": "Action", "period": "Period",
          "cco": "Change order", "tolerance_pct": "Tolerance", "hourly_limit": "Hourly request limit",
          "date_received_usage": "Date Received Usage", "payment_date_usage": "Payment Date Usage",
          "insurance_type": "Insurance type", "policy_number": "Policy number",
          "insurance_company": "Insurance company", "limit_amount": "Limit", "effective_date": "Effective date",
          "expiration_date": "Expiration date"}


class SageInputError(ValueError):
    """Bad input for an adder or updater: `field` names the argument, the message what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class Refused(Exception):  # noqa: N818 - a refusal, not an error
    """A Sage refusal: the batch is logged with this message and creates nothing."""


def date_required(name: str) -> str:
    """Not in the guide: an imported AP invoice has no Date Received or Payment Date, so Sage
    takes none while AP Settings make that date Required."""
    return f"{name} is required (AP Settings - Invoice Settings: {name} Usage is Required)."


def too_long(field: str, limit: int) -> str:
    return f"[{field}] is too long, maximum length is {limit} characters."


def field_error(record: Any, fields: Fields | None = None) -> str | None:
    """Sage's text for the record's first required field left blank or, none blank, its first
    field over Sage's length (fields: its SAGE_FIELDS unless given); None when all are fine."""
    specs = type(record).SAGE_FIELDS if fields is None else fields
    texts = [field_text(getattr(record, f.attr)) for f in specs]
    for spec, value in zip(specs, texts, strict=True):
        if spec.required and not value.strip():
            return BLANK
    for spec, value in zip(specs, texts, strict=True):
        if spec.limit is not None and len(value) > spec.limit:
            return too_long(spec.label, spec.limit)
    return None


def check_fields(record: Any, fields: Fields | None = None) -> None:
    """Refused with Sage's text when a required field is blank or a field too long (see field_error)."""
    message = field_error(record, fields)
    if message:
        raise Refused(message)


def record_exists(table: str) -> str:
    # not in the guide: a generic record whose key is in Sage, worded after its "No entities
    # could be found of type [Category] ..." and "A job already exists with the specified id."
    return f"An entity of type [{table}] already exists with the specified id."


def duplicate_invoice(invoice: str) -> str:
    return ("There are errors in the document's codings. Errors: "
            f"Document already exists for specified vendor and code [{invoice}].")


def period_closed(accounting_date: date, failed: str = AP_FAILED) -> str:
    """Sage's closed-period text; `failed` is the import's prefix (AP_FAILED or AR_FAILED)."""
    d = accounting_date
    return f"{failed}GL period closed.  Entry not allowed. ({d:%m}\\{d:%d}\\{d:%Y})."


def commitment_exists(commitment: str) -> str:
    return f"A commitment with code [{commitment}] already exists."


def change_order_exists(cco: str) -> str:
    return f"A change order with code {cco} already exists on this contract."


def estimate_exists(cost_code: str, category: str) -> str:
    # not in the guide: the simulator's text for a budget line that already has an estimate
    return f"An estimate already exists for cost code {cost_code} category {category}."


# not in the guide or the facts page: the simulator's texts for quantities that do not add up,
# worded like the guide's invoice texts (the AP one keeps its import's prefix)
UNITS_TIMES_COST = "The commitment item's amount does not equal its units times its unit cost."


def units_mismatch(commitment: str, item: str) -> str:
    return (f"{AP_FAILED}Commitment {commitment} - line item {item}: amount invoiced does not equal "
            "units invoiced times unit cost.")


def off_by_more_than_a_cent(units, unit_cost, amount) -> bool:
    """Whether units x unit cost, in cents, misses the amount by more than a cent."""
    product = (Decimal(str(units)) * Decimal(str(unit_cost))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return abs(product - Decimal(str(amount))) > Decimal("0.01")


def over_tolerance(commitment: str) -> str:
    return f"{AP_FAILED}Commitment {commitment} - amount invoiced exceeds approved amount plus tolerance."



def dec(value: Amount | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# ---- data back from Sage: input checks of the adders and updaters ----------------------------

def too_long_for(label: str, limit: int) -> str:
    return f"{label} is too long: Sage 300 CRE allows at most {limit} characters."


def check_input(values: dict, limits: Iterable[tuple[str, int]], required: Iterable[str] = ()) -> None:
    """Required arguments not blank, every argument within Sage's length (SageInputError names it)."""
    for field in required:
        if not str(values.get(field) or "").strip():
            raise SageInputError(field, f"{LABELS.get(field, field)} is required.")
    for field, limit in limits:
        if field in values and len(str(values[field] or "")) > limit:
            raise SageInputError(field, too_long_for(LABELS.get(field, field), limit))


def check_choice(field: str, value: str, choices: Iterable[str]) -> None:
    if value not in choices:
        raise SageInputError(field, f"{LABELS.get(field, field)} must be one of: {', '.join(choices)}.")


def check_billing(method: str, level: str) -> None:
    """Use Contracts has no billing level; Use Quickbill needs Job, Division or Section."""
    check_choice("billing_method", method, BILLING_METHODS)
    if method == USE_CONTRACTS and level:
        raise SageInputError("billing_level", "Billing level is for Use Quickbill jobs only: leave it blank "
                                              "for Use Contracts.")
    if method == USE_QUICKBILL and level not in BILLING_LEVELS:
        raise SageInputError("billing_level", f"A Use Quickbill job needs a billing level: "
                                              f"{', '.join(BILLING_LEVELS)}.")


def _number(field: str, value: Amount, limit: Decimal) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (ArithmeticError, ValueError):
        raise SageInputError(field, f"{LABELS.get(field, field)} must be a number.") from None
    if not number.is_finite() or abs(number) >= limit:
        raise SageInputError(field, f"{LABELS.get(field, field)} must be a number below {limit:,.0f}.")
    return number


def money_input(field: str, value: Amount) -> Decimal:
    """A Money value (12, 2), rounded to cents."""
    return _number(field, value, Decimal("1e10")).quantize(Decimal("0.01"))


def quantity_input(field: str, value: Amount | None) -> Decimal | None:
    """A Quantity value (16, 4) or None when not given."""
    if value is None or str(value).strip() == "":
        return None
    return _number(field, value, Decimal("1e12")).quantize(Decimal("0.0001"))


def renamed(fields: dict, arguments: dict) -> dict:
    """Column-named fields as the adders' argument names; an unknown column is a SageInputError."""
    unknown = sorted(set(fields) - set(arguments))
    if unknown:
        raise SageInputError(unknown[0], f"{unknown[0]} cannot be changed here "
                                         f"(one of: {', '.join(arguments)}).")
    return {arguments[column]: value for column, value in fields.items()}


def coding_name(job: str, extra: str, cost_code: str) -> str:
    return f"{job}/{extra}/{cost_code}" if extra else f"{job}/{cost_code}"

