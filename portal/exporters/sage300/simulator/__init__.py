"""An embedded Sage 300 CRE simulator with its own database (never the portal's).

Tables and columns follow Sage's ODBC names (APM_MASTER__VENDOR, JCM_MASTER__JOB, ...) so
an accountant reading them recognises Sage; HH2_* tables stand in for the hh2 cloud
service (import log = idempotency, request log = hourly rate limit), SIM_SETTING holds
the settings that can change at run time. Error texts are the guide's, exactly, where the
guide has one; the few it lacks (a vendor or an extra that already exists) follow its
wording and are marked in rules.py.

Batch kinds: "ap_invoice" (AP invoice + distributions), "ap_vendor" (AP vendor), "jc_job"
(JC job + cost codes + categories), "jc_extra" (extra of a job + its cost codes and
categories), "jc_cost_codes" (cost codes and categories added to a job or an extra),
"jc_commitment" (commitment + items, posted: Committed cost transactions), "jc_commitment_item"
(new items on a commitment: a CCO's new line, its first import), "jc_commitment_co"
(commitment change order: new items, the CO, its items; Aprvd cmmtt cst chng transactions),
"jc_budget" (Original estimate + Misc worksheet transactions), "jc_budget_change" (Approved est
chng), "jc_pcco" (new contract items, Approved est chng + Approved Schedule Value Change) and
"ar_invoice" (AR invoice + distributions), and any other kind whose records declare their
Sage fields and key (records.GenericRecord; see generic.py). Every kind goes through one
path: batch log (idempotency), hourly limit, one transaction, drop file.

Job Cost transactions live in JCT_CURRENT__TRANSACTION with a Posted flag: Posted false is
Sage's new.jct (an unposted batch, e.g. estimates), true is current.jct. Commitments (the
2024 release note) and schedule value changes (the guide) are posted automatically;
post_transactions(job) posts the rest, as Job Cost's posting would.

The package, one facade (Sage300Simulator) over its parts:
    schema.py     tables, engine, locking, create_all (+ missing columns), settings
    rules.py      field limits, required fields, Sage's error texts, input checks
    entry.py      data entry as a Sage user makes it (add_*, set_*, update_*, delete_*)
    sage_user.py  a Sage user's fixes and undos with Sage's refusals, the exported records listed
    sage_setup.py AP Settings, Tax Group Sync, AP Vendor Insurance; the setup checks they give
    payments.py   AP payments (checks against an AP invoice, partial, never over its open balance)
    readers.py    get_*, list_*, find_*, job_costs, overview, import_log
    figures.py    Sage's side of a reconciliation, many commitments or jobs per call
    importers.py  submit and the per-kind importers
    import_helpers.py  their shared checks and writes (codes, transactions, units, commitment items)
    dryrun.py     dry_run: the importers' checks in a rolled-back transaction (nothing written)
    lookups.py    what a batch refers to, read with one query per table (statements built once)
    generic.py    the importer, finder and delete for a batch kind with no importer of its own
"""
from __future__ import annotations

from ..mapping import (
    APPROVED_COMMITMENT_CHANGE,
    APPROVED_ESTIMATE_CHANGE,
    CCO_STATUS,
    COMMITTED_COST,
    MISC_WORKSHEET_1,
    MISC_WORKSHEET_2,
    ORIGINAL_ESTIMATE,
    SCHEDULE_VALUE_CHANGE,
)
from ..records import DATE_RECEIVED_USAGE, PAYMENT_DATE_USAGE, TAX_GROUPS
from .dryrun import (
    DryRunMixin,
)
from .figures import (
    FiguresMixin,
)
from .payments import (
    CHECK_MAX,
    PaymentsMixin,
)
from .readers import (
    ReadersMixin,
)
from .rules import (
    AP_COST,
    AP_FAILED,
    AR_DISTRIBUTION_LIMITS,
    AR_DISTRIBUTION_REQUIRED,
    AR_DUPLICATE,
    AR_FAILED,
    AR_INVOICE_LIMITS,
    AR_INVOICE_REQUIRED,
    ARCHIVED_STATUSES,
    BILLING_LEVELS,
    BILLING_METHODS,
    BLANK,
    BUDGET_CHANGE_TYPES,
    BUDGET_TYPES,
    CATEGORY_INPUT,
    CATEGORY_LIMITS,
    CATEGORY_REQUIRED,
    CCO_EXISTS,
    CCO_ITEM_LIMITS,
    CCO_ITEM_REQUIRED,
    CCO_LIMITS,
    CCO_REQUIRED,
    COMMITMENT_ARCHIVED,
    COMMITMENT_ITEM_LIMITS,
    COMMITMENT_ITEM_REQUIRED,
    COMMITMENT_LIMITS,
    COMMITMENT_REQUIRED,
    CONTRACT_INPUT,
    CONTRACT_ITEM_LIMITS,
    CONTRACT_ITEM_REQUIRED,
    COST_CODE_INPUT,
    COST_CODE_LIMITS,
    COST_CODE_REQUIRED,
    COST_INPUT,
    COST_TRANSACTION_KEYS,
    COST_TYPES,
    DATE_USAGES,
    DISTRIBUTION_LIMITS,
    DISTRIBUTION_REQUIRED,
    EQ_COST,
    EXTRA_EXISTS,
    EXTRA_INPUT,
    EXTRA_LIMITS,
    EXTRA_REQUIRED,
    INSURANCE_TYPES,
    INVOICE_LIMITS,
    INVOICE_REQUIRED,
    ITEM_EXISTS,
    IV_COST,
    JC_COST,
    JOB_CLOSED,
    JOB_COST_KEYS,
    JOB_COST_TYPES,
    JOB_EXISTS,
    JOB_INPUT,
    JOB_LIMITS,
    JOB_REQUIRED,
    JOB_STATUSES,
    LABELS,
    NO_CATEGORY,
    NO_DISTRIBUTIONS,
    NOT_FOUND,
    PCCO_TRANSACTION_LIMITS,
    PCCO_TYPES,
    PR_COST,
    RATE_LIMITED,
    SCHEDULE_CHANGE_REQUIRED,
    SCHEDULE_VALUE_INPUT,
    SETTING_KEYS,
    STANDARD_CATEGORY_INPUT,
    STANDARD_CODE_STATUSES,
    STANDARD_COST_CODE_INPUT,
    TAX_GROUP_SYNC,
    TRANSACTION_LIMITS,
    TRANSACTION_REQUIRED,
    USE_CONTRACTS,
    USE_QUICKBILL,
    VENDOR_EXISTS,
    VENDOR_INACTIVE,
    VENDOR_INPUT,
    VENDOR_LIMITS,
    VENDOR_REQUIRED,
    VENDOR_STATUSES,
    VOID,
    SageInputError,
    change_order_exists,
    commitment_exists,
    duplicate_invoice,
    estimate_exists,
    over_tolerance,
    period_closed,
    record_exists,
    too_long,
    too_long_for,
)
from .sage_setup import SageSetupMixin
from .sage_user import (
    DELETE,
    PERIOD_STATUSES,
    RECORD_ACTIONS,
    SageUserMixin,
    sage_amount,
    sage_date,
    sage_units,
)
from .schema import (
    Money,
    Quantity,
    ar_distribution_t,
    ar_invoice_t,
    category_t,
    commitment_co_item_t,
    commitment_co_t,
    commitment_item_t,
    commitment_t,
    contract_item_t,
    contract_t,
    cost_code_t,
    customer_t,
    distribution_t,
    extra_t,
    generic_record_t,
    import_log_t,
    invoice_t,
    job_t,
    make_engine,
    metadata,
    payment_t,
    request_log_t,
    schedule_value_t,
    setting_t,
    standard_category_t,
    standard_cost_code_t,
    transaction_t,
    vendor_insurance_t,
    vendor_t,
)


class Sage300Simulator(SageUserMixin, SageSetupMixin, PaymentsMixin, ReadersMixin, FiguresMixin, DryRunMixin):
    """Sage 300 CRE as seen through the hh2 connection, in a database of its own.

    Sage300Simulator(url, schema=None, drop_folder=None, closed_periods=(), tolerance_pct=0,
    hourly_limit=0, clock=None, engine=None): see schema.SimulatorBase."""


__all__ = [
    "Sage300Simulator", "AR_FAILED", "DELETE", "PERIOD_STATUSES", "RECORD_ACTIONS", "VOID", "sage_amount",
    "sage_date", "sage_units", "APPROVED_COMMITMENT_CHANGE", "APPROVED_ESTIMATE_CHANGE", "CCO_STATUS",
    "COMMITTED_COST", "MISC_WORKSHEET_1", "MISC_WORKSHEET_2", "ORIGINAL_ESTIMATE", "SCHEDULE_VALUE_CHANGE",
    "AP_COST", "AP_FAILED", "ARCHIVED_STATUSES", "AR_DISTRIBUTION_LIMITS", "AR_DISTRIBUTION_REQUIRED",
    "AR_DUPLICATE", "AR_INVOICE_LIMITS", "AR_INVOICE_REQUIRED", "BILLING_LEVELS", "BILLING_METHODS",
    "BLANK", "BUDGET_CHANGE_TYPES", "BUDGET_TYPES", "CATEGORY_INPUT", "CATEGORY_LIMITS",
    "CATEGORY_REQUIRED", "CCO_EXISTS", "CCO_ITEM_LIMITS", "CCO_ITEM_REQUIRED", "CCO_LIMITS", "CCO_REQUIRED",
    "COMMITMENT_ARCHIVED", "COMMITMENT_ITEM_LIMITS", "COMMITMENT_ITEM_REQUIRED", "COMMITMENT_LIMITS",
    "COMMITMENT_REQUIRED", "CONTRACT_INPUT", "CONTRACT_ITEM_LIMITS", "CONTRACT_ITEM_REQUIRED",
    "COST_CODE_INPUT", "COST_CODE_LIMITS", "COST_CODE_REQUIRED", "COST_INPUT", "COST_TRANSACTION_KEYS",
    "COST_TYPES", "DISTRIBUTION_LIMITS", "DISTRIBUTION_REQUIRED", "EQ_COST", "EXTRA_EXISTS", "EXTRA_INPUT",
    "EXTRA_LIMITS", "EXTRA_REQUIRED", "INVOICE_LIMITS", "INVOICE_REQUIRED", "ITEM_EXISTS", "IV_COST",
    "JC_COST", "JOB_CLOSED", "JOB_COST_KEYS", "JOB_COST_TYPES", "JOB_EXISTS", "JOB_INPUT", "JOB_LIMITS",
    "JOB_REQUIRED", "JOB_STATUSES", "LABELS", "NOT_FOUND", "NO_CATEGORY", "NO_DISTRIBUTIONS",
    "PCCO_TRANSACTION_LIMITS", "PCCO_TYPES", "PR_COST", "RATE_LIMITED", "SCHEDULE_CHANGE_REQUIRED",
    "SCHEDULE_VALUE_INPUT", "SETTING_KEYS", "STANDARD_CATEGORY_INPUT", "STANDARD_CODE_STATUSES",
    "STANDARD_COST_CODE_INPUT", "SageInputError", "TRANSACTION_LIMITS", "TRANSACTION_REQUIRED",
    "USE_CONTRACTS", "USE_QUICKBILL", "VENDOR_EXISTS", "VENDOR_INACTIVE", "VENDOR_INPUT", "VENDOR_LIMITS",
    "VENDOR_REQUIRED", "VENDOR_STATUSES", "change_order_exists", "commitment_exists", "duplicate_invoice",
    "estimate_exists", "over_tolerance", "period_closed", "record_exists", "too_long", "too_long_for",
    "Money", "Quantity", "ar_distribution_t", "ar_invoice_t", "category_t", "commitment_co_item_t",
    "commitment_co_t", "commitment_item_t", "commitment_t", "contract_item_t", "contract_t", "cost_code_t",
    "customer_t", "distribution_t", "extra_t", "generic_record_t", "import_log_t", "invoice_t", "job_t",
    "make_engine", "metadata", "request_log_t", "schedule_value_t", "setting_t", "standard_category_t",
    "standard_cost_code_t", "transaction_t", "vendor_t", "vendor_insurance_t", "DATE_USAGES", "INSURANCE_TYPES",
    "TAX_GROUP_SYNC", "DATE_RECEIVED_USAGE", "PAYMENT_DATE_USAGE", "TAX_GROUPS", "SageSetupMixin",
    "payment_t", "CHECK_MAX",
]
