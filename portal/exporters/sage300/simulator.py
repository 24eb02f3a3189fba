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
categories), "jc_cost_codes" (cost codes and categories added to a job or an extra),
"jc_commitment" (commitment + items, posted: Committed cost transactions), "jc_commitment_co"
(commitment change order: new items, the CO, its items; Aprvd cmmtt cst chng transactions),
"jc_budget" (Original estimate + Misc worksheet transactions), "jc_budget_change" (Approved est
chng), "jc_pcco" (new contract items, Approved est chng + Approved Schedule Value Change) and
"ar_invoice" (AR invoice + distributions). Every kind goes through one path: batch log
(idempotency), hourly limit, one transaction, drop file.

Job Cost transactions live in JCT_CURRENT__TRANSACTION with a Posted flag: Posted false is
Sage's new.jct (an unposted batch, e.g. estimates), true is current.jct. Commitments (the
2024 release note) and schedule value changes (the guide) are posted automatically;
post_transactions(job) posts the rest, as Job Cost's posting would.
Tables are created by create_all on first use (no migrations): it creates new tables and
adds to an existing table every column it lacks (ALTER TABLE ... ADD COLUMN). So a column
may be added to a table here if it is nullable or has a server default; never rename,
retype or drop one (an existing database keeps the old column).

Data back from Sage: the readers list_vendors, list_jobs, list_extras, list_standard_cost_codes,
list_standard_categories, list_contracts, list_schedule_values, job_costs and
list_cost_transactions are what the portal's imports read; the adders (add_cost,
set_schedule_value, ...) are what a Sage user enters, and raise SageInputError (a ValueError
naming the field) on bad input, leaving Sage unchanged.
"""
from __future__ import annotations

import re
import zlib
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import (
    Boolean, Column, Date, DateTime, ForeignKey, ForeignKeyConstraint, Integer, MetaData,
    Numeric, String, Table, Text, create_engine, event, func, insert, inspect, select, text, update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateColumn

from .dropfolder import write_import_file
from .fileformat import import_file
from .mapping import (
    APPROVED_COMMITMENT_CHANGE, APPROVED_ESTIMATE_CHANGE, CCO_STATUS, COMMITTED_COST, MISC_WORKSHEET_1,
    MISC_WORKSHEET_2, ORIGINAL_ESTIMATE, SCHEDULE_VALUE_CHANGE,
)
from .records import (
    APDistribution, APInvoice, APVendor, ARDistribution, ARInvoice, Batch, CNContractItem, JCCategory,
    JCCommitment, JCCommitmentCO, JCCommitmentCOItem, JCCommitmentItem, JCCostCode, JCExtra, JCJob,
    JCTransaction, SageResult,
)

metadata = MetaData()
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
# Financial records (facts page: Commitment 12, its Description 30, Commitment CO 10, Chg Mgmt
# Ref 36; the guide: PCCO Number 20; AR Customer 10 and Invoice 15 are inferred from AP's).
COMMITMENT_LIMITS = (("Commitment", "commitment", 12), ("Description", "description", 30),
                     ("Vendor", "vendor", 10), ("Job", "job", 10), ("CommitmentType", "commitment_type", 20))
COMMITMENT_ITEM_LIMITS = (("Commitment", "commitment", 12), ("Description", "description", 30),
                          ("Job", "job", 10), ("Extra", "extra", 10), ("CostCode", "cost_code", 12),
                          ("Category", "category", 3))
CCO_LIMITS = (("Commitment", "commitment", 12), ("CommitmentCO", "cco", 10), ("Description", "description", 30))
CCO_ITEM_LIMITS = (("Description", "description", 30), ("Job", "job", 10), ("CostCode", "cost_code", 12),
                   ("Category", "category", 3))
TRANSACTION_LIMITS = (("Job", "job", 10), ("Extra", "extra", 10), ("CostCode", "cost_code", 12),
                      ("Category", "category", 3), ("Description", "description", 30),
                      ("ChgMgmtRef1", "ref_1", 36), ("ChgMgmtRef2", "ref_2", 36))
# a PCCO's Chg Mgmt Ref 1 is its number, whose limit (20) comes first
PCCO_TRANSACTION_LIMITS = (("Number", "ref_1", 20),) + TRANSACTION_LIMITS
CONTRACT_ITEM_LIMITS = (("Description", "description", 30),)
AR_INVOICE_LIMITS = (("Customer", "customer", 10), ("Invoice", "invoice", 15), ("Job", "job", 10),
                     ("Description", "description", 30))
AR_DISTRIBUTION_LIMITS = (("Description", "description", 30),)
COMMITMENT_REQUIRED = ("commitment", "vendor", "job")
COMMITMENT_ITEM_REQUIRED = ("item", "job", "cost_code", "category")
CCO_REQUIRED = ("commitment", "cco")
CCO_ITEM_REQUIRED = ("item",)
TRANSACTION_REQUIRED = ("job", "cost_code", "category")
SCHEDULE_CHANGE_REQUIRED = ("job", "contract", "contract_item")
CONTRACT_ITEM_REQUIRED = ("contract", "item")
AR_INVOICE_REQUIRED = ("customer", "invoice", "contract")
AR_DISTRIBUTION_REQUIRED = ("contract_item",)
BUDGET_TYPES = (ORIGINAL_ESTIMATE, MISC_WORKSHEET_1, MISC_WORKSHEET_2)
BUDGET_CHANGE_TYPES = (APPROVED_ESTIMATE_CHANGE, MISC_WORKSHEET_1, MISC_WORKSHEET_2)
PCCO_TYPES = (APPROVED_ESTIMATE_CHANGE, SCHEDULE_VALUE_CHANGE)
ARCHIVED_STATUSES = ("Closed", "Archived")  # a commitment in either takes no change order
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

COMMITMENT_ARCHIVED = "Commitment has been archived."
CCO_EXISTS = "A commitment change order already exists with the specified id."
ITEM_EXISTS = "A contract item already exists on this contract with the specified code."
AR_DUPLICATE = "Duplicate Invoice encountered. Invoice # must be unique."

SETTING_KEYS = ("closed_periods", "tolerance_pct", "hourly_limit")

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
          "category_description": "Category description"}


class SageInputError(ValueError):
    """Bad input for an adder or updater: `field` names the argument, the message what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


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


def commitment_exists(commitment: str) -> str:
    return f"A commitment with code [{commitment}] already exists."


def change_order_exists(cco: str) -> str:
    return f"A change order with code {cco} already exists on this contract."


def estimate_exists(cost_code: str, category: str) -> str:
    # not in the guide: the simulator's text for a budget line that already has an estimate
    return f"An estimate already exists for cost code {cost_code} category {category}."


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

    def _add_missing_columns(self, conn) -> list[str]:
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

    def _add(self, table, field: str, record: str, **values) -> None:
        """Insert one row; a duplicate key (a lost race too) is a SageInputError on `field` naming `record`."""
        key = {c.name: values[c.name] for c in table.primary_key.columns}
        try:
            with self.engine.begin() as conn:
                if _exists(conn, table, **key):
                    raise SageInputError(field, f"{record} already exists in Sage 300 CRE.")
                conn.execute(insert(table).values(**values))
        except IntegrityError as exc:
            raise SageInputError(field, f"{record} already exists in Sage 300 CRE.") from exc

    def add_vendor(self, vendor: str, name: str = "", address_1: str = "", address_2: str = "",
                   city: str = "", state: str = "", zip: str = "", telephone: str = "", fax: str = "",
                   status: str = "Active") -> None:
        """An AP vendor entered in Sage; SageInputError when blank, too long or already there."""
        values = dict(vendor=vendor, name=name, address_1=address_1, address_2=address_2, city=city,
                      state=state, zip=zip, telephone=telephone, fax=fax)
        _check_input(values, VENDOR_INPUT, required=("vendor", "name"))
        _check_choice("status", status, VENDOR_STATUSES)
        self._add(vendor_t, "vendor", f"Vendor {vendor}", Vendor=vendor, Name=name, Address_1=address_1,
                  Address_2=address_2, City=city, State=state, ZIP=zip, Telephone=telephone, Fax=fax,
                  Status=status)

    def add_job(self, job: str, description: str = "", address_1: str = "", address_2: str = "",
                city: str = "", state: str = "", zip: str = "", status: str = "Open",
                billing_method: str = USE_CONTRACTS, billing_level: str = "") -> None:
        """A JC job entered in Sage, with its billing method (and level, for Use Quickbill)."""
        values = dict(job=job, description=description, address_1=address_1, address_2=address_2,
                      city=city, state=state, zip=zip, status=status)
        _check_input(values, JOB_INPUT, required=("job",))
        _check_billing(billing_method, billing_level)
        self._add(job_t, "job", f"Job {job}", Job=job, Description=description, Address_1=address_1,
                  Address_2=address_2, City=city, State=state, ZIP=zip, Status=status,
                  Billing_Method=billing_method, Billing_Level=billing_level)

    def add_cost_code(self, job: str, cost_code: str, description: str, extra: str = "") -> None:
        """A cost code on a job (extra "") or an extra."""
        _check_input(dict(job=job, extra=extra, cost_code=cost_code, description=description),
                     COST_CODE_INPUT, required=("job", "cost_code"))
        self._need(job_t, "job", f"No job {job} in Sage 300 CRE.", Job=job)
        self._add(cost_code_t, "cost_code", _coding_name(job, extra, cost_code), Job=job, Extra=extra,
                  Cost_Code=cost_code, Description=description)

    def add_category(self, job: str, cost_code: str, category: str, description: str, extra: str = "") -> None:
        """A category on a job's (or extra's) cost code."""
        _check_input(dict(job=job, extra=extra, cost_code=cost_code, category=category,
                          description=description), CATEGORY_INPUT, required=("job", "cost_code", "category"))
        self._need(cost_code_t, "cost_code", f"No cost code {_coding_name(job, extra, cost_code)} in Sage 300 CRE.",
                   Job=job, Extra=extra, Cost_Code=cost_code)
        self._add(category_t, "category", f"Category {category} of {_coding_name(job, extra, cost_code)}", Job=job,
                  Extra=extra, Cost_Code=cost_code, Category=category, Description=description)

    def add_coding(self, job: str, cost_code: str, category: str, cost_code_description: str = "",
                   category_description: str = "", extra: str = "") -> None:
        """A category on a job's (or extra's) cost code, adding the cost code when new (all or nothing)."""
        _check_input(dict(job=job, extra=extra, cost_code=cost_code, category=category),
                     CATEGORY_INPUT, required=("job", "cost_code", "category"))
        _check_input(dict(cost_code_description=cost_code_description,
                          category_description=category_description),
                     (("cost_code_description", 30), ("category_description", 30)))
        with self.engine.begin() as conn:
            if not _exists(conn, job_t, Job=job):
                raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
            if extra and not _exists(conn, extra_t, Job=job, Extra=extra):
                raise SageInputError("extra", f"No extra {extra} on job {job} in Sage 300 CRE.")
            if _exists(conn, category_t, Job=job, Extra=extra, Cost_Code=cost_code, Category=category):
                raise SageInputError("category", f"Category {category} of {_coding_name(job, extra, cost_code)} "
                                                 "already exists in Sage 300 CRE.")
            if not _exists(conn, cost_code_t, Job=job, Extra=extra, Cost_Code=cost_code):
                conn.execute(insert(cost_code_t).values(Job=job, Extra=extra, Cost_Code=cost_code,
                                                        Description=cost_code_description))
            conn.execute(insert(category_t).values(Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                                                   Description=category_description))

    def add_extra(self, job: str, extra: str, description: str = "", status: str = "Open") -> None:
        """An extra (sub job) on a job."""
        _check_input(dict(job=job, extra=extra, description=description), EXTRA_INPUT,
                     required=("job", "extra"))
        _check_choice("status", status, JOB_STATUSES)
        self._need(job_t, "job", f"No job {job} in Sage 300 CRE.", Job=job)
        self._add(extra_t, "extra", f"Extra {extra} of job {job}", Job=job, Extra=extra, Description=description,
                  Status=status)

    def _need(self, table, field: str, message: str, **key) -> None:
        with self.engine.connect() as conn:
            if not _exists(conn, table, **key):
                raise SageInputError(field, message)

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

    def add_commitment_item(self, commitment: str, item: str, job: str, cost_code: str, category: str,
                            amount, description: str = "", extra: str = "", units=None, unit_cost=None,
                            unit_description: str = "") -> None:
        """A commitment item as in Sage (the commitment's Amount is left as it is)."""
        self._insert(commitment_item_t, Commitment=commitment, Item=item, Description=description, Job=job,
                     Extra=extra, Cost_Code=cost_code, Category=category, Units=_dec(units),
                     Unit_Cost=_dec(unit_cost), Unit_Description=unit_description,
                     Amount=Decimal(str(amount)))

    def set_commitment_status(self, commitment: str, status: str) -> None:
        """Open, or Closed / Archived (no change order is then accepted)."""
        with self.engine.begin() as conn:
            conn.execute(update(commitment_t).where(commitment_t.c.Commitment == commitment)
                         .values(Status=status))

    def add_commitment_co(self, commitment: str, cco: str, description: str = "", date: date | None = None,
                          status: str = "Approved") -> None:
        """A commitment change order entered in Sage (no items, the commitment's Amount unchanged)."""
        self._insert(commitment_co_t, Commitment=commitment, CCO=cco, Description=description,
                     Date=date or _naive_utc(self.clock()).date(), Status=status)

    def add_transaction(self, job: str, cost_code: str, category: str, transaction_type: str, amount,
                        extra: str = "", date: date | None = None, description: str = "",
                        posted: bool = True, ref_1: str = "", ref_2: str = "", commitment: str = "",
                        contract: str = "", contract_item: str = "", units=None, unit_cost=None) -> None:
        """A Job Cost transaction entered in Sage (e.g. an estimate made there)."""
        self._insert(transaction_t, Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                     Transaction_Type=transaction_type, Date=date or _naive_utc(self.clock()).date(),
                     Description=description, Amount=Decimal(str(amount)), Ref_1=ref_1, Ref_2=ref_2,
                     Commitment=commitment, Commitment_Item="", Commitment_CO="", Contract=contract,
                     Contract_Item=contract_item, Posted=posted, Batch_ID="", Units=_dec(units),
                     Unit_Cost=_dec(unit_cost))

    def add_contract(self, contract: str, job: str, description: str = "", items=(), status: str = "Open",
                     billing_method: str = USE_CONTRACTS, work_started: date | None = None,
                     work_completed: date | None = None) -> None:
        """A prime contract (CN) on a Use Contracts job, items as (item, description, original amount)."""
        _check_input(dict(contract=contract, job=job, description=description, status=status),
                     CONTRACT_INPUT, required=("contract", "job"))
        _check_choice("billing_method", billing_method, (USE_CONTRACTS,))
        rows, seen = [], set()
        for item, item_description, amount in items:
            item = (item or "").strip()
            if not item:
                raise SageInputError("items", "Each contract item needs an item code.")
            if item in seen:
                raise SageInputError("items", f"Contract item {item} is listed twice.")
            if len(item_description or "") > 30:
                raise SageInputError("items", f"Contract item {item}: {too_long_for('Description', 30)}")
            seen.add(item)
            try:
                original = _amount("amount", amount)
            except SageInputError as exc:
                raise SageInputError("items", f"Contract item {item}: Original {str(exc)[0].lower()}{str(exc)[1:]}") \
                    from None
            rows.append(dict(Contract=contract, Item=item, Description=item_description or "",
                             Original_Amount=original, Approved_Changes=Decimal(0)))
        try:
            with self.engine.begin() as conn:
                job_row = conn.execute(select(job_t.c.Billing_Method).where(job_t.c.Job == job)).first()
                if job_row is None:
                    raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
                if job_row.Billing_Method != USE_CONTRACTS:
                    raise SageInputError("job", f"Job {job} bills {job_row.Billing_Method}: its schedule of "
                                                "values is entered in Miscellaneous Worksheets, not on a contract.")
                if _exists(conn, contract_t, Contract=contract):
                    raise SageInputError("contract", f"Contract {contract} already exists in Sage 300 CRE.")
                conn.execute(insert(contract_t).values(Contract=contract, Job=job, Description=description,
                                                       Status=status, Billing_Method=billing_method,
                                                       Work_Started=work_started, Work_Completed=work_completed))
                for row in rows:
                    conn.execute(insert(contract_item_t).values(**row))
        except IntegrityError as exc:
            raise SageInputError("contract", f"Contract {contract} already exists in Sage 300 CRE.") from exc

    def add_contract_item(self, contract: str, item: str, description: str = "", original_amount=0,
                          approved_changes=0) -> None:
        self._insert(contract_item_t, Contract=contract, Item=item, Description=description,
                     Original_Amount=Decimal(str(original_amount)), Approved_Changes=Decimal(str(approved_changes)))

    def update_vendor(self, vendor: str, **fields) -> None:
        """Change a vendor's columns (Name, Address_1, Address_2, City, State, ZIP, Telephone, Fax, Status)."""
        arguments = {"Name": "name", "Address_1": "address_1", "Address_2": "address_2", "City": "city",
                     "State": "state", "ZIP": "zip", "Telephone": "telephone", "Fax": "fax", "Status": "status"}
        values = _renamed(fields, arguments)
        _check_input(values, VENDOR_INPUT, required=("name",) if "name" in values else ())
        if "status" in values:
            _check_choice("status", values["status"], VENDOR_STATUSES)
        self._update(vendor_t, "vendor", f"No vendor {vendor} in Sage 300 CRE.", {"Vendor": vendor},
                     {column: fields[column] for column in fields})

    def update_job(self, job: str, **fields) -> None:
        """Change a job's columns (Description, ..., Status, Billing_Method, Billing_Level: checked together)."""
        arguments = {"Description": "description", "Address_1": "address_1", "Address_2": "address_2",
                     "City": "city", "State": "state", "ZIP": "zip", "Status": "status",
                     "Billing_Method": "billing_method", "Billing_Level": "billing_level"}
        values = _renamed(fields, arguments)
        _check_input({k: v for k, v in values.items() if not k.startswith("billing_")}, JOB_INPUT)
        with self.engine.begin() as conn:
            row = conn.execute(select(job_t).where(job_t.c.Job == job)).mappings().first()
            if row is None:
                raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
            if "billing_method" in values or "billing_level" in values:
                method = values.get("billing_method", row["Billing_Method"])
                # a job moved to Use Contracts has no billing level
                level = values.get("billing_level", "" if method == USE_CONTRACTS else row["Billing_Level"])
                _check_billing(method, level)
                fields = dict(fields, Billing_Method=method, Billing_Level=level)
            conn.execute(update(job_t).where(job_t.c.Job == job).values(**fields))

    def _update(self, table, field: str, missing: str, key: dict, values: dict) -> None:
        with self.engine.begin() as conn:
            where = [table.c[k] == v for k, v in key.items()]
            if not _exists(conn, table, **key):
                raise SageInputError(field, missing)
            if values:
                conn.execute(update(table).where(*where).values(**values))

    def add_standard_cost_code(self, code: str, description: str, status: str = "Active") -> None:
        """A company standard cost code (JCM_MASTER__STANDARD_COST_CODE)."""
        _check_input(dict(code=code, description=description), STANDARD_COST_CODE_INPUT, required=("code",))
        _check_choice("status", status, STANDARD_CODE_STATUSES)
        self._add(standard_cost_code_t, "code", f"Standard cost code {code}", Cost_Code=code,
                  Description=description, Status=status)

    def add_standard_category(self, code: str, description: str) -> None:
        """A company standard category (JCM_MASTER__STANDARD_CATEGORY)."""
        _check_input(dict(code=code, description=description), STANDARD_CATEGORY_INPUT, required=("code",))
        self._add(standard_category_t, "code", f"Standard category {code}", Category=code,
                  Description=description)

    def set_schedule_value(self, job: str, level_code: str, description: str, amount) -> None:
        """Enter (or change) a Use Quickbill job's schedule value (Miscellaneous Worksheets)."""
        # level code: "" at Job level, a division code at Division level, a job cost code at Section level
        level_code = level_code or ""
        _check_input(dict(job=job, level_code=level_code, description=description), SCHEDULE_VALUE_INPUT,
                     required=("job",))
        value = _amount("amount", amount)
        with self.engine.begin() as conn:
            row = conn.execute(select(job_t.c.Billing_Method, job_t.c.Billing_Level)
                               .where(job_t.c.Job == job)).first()
            if row is None:
                raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
            if row.Billing_Method != USE_QUICKBILL:
                raise SageInputError("job", f"Job {job} bills {row.Billing_Method}: its schedule of values "
                                            "is on its contracts, not in Miscellaneous Worksheets.")
            if row.Billing_Level == "Job" and level_code:
                raise SageInputError("level_code", f"Job {job} bills at Job level: leave the level code blank.")
            if row.Billing_Level != "Job" and not level_code:
                raise SageInputError("level_code", f"Job {job} bills at {row.Billing_Level} level: give the "
                                                   f"{row.Billing_Level.lower()} code.")
            if row.Billing_Level == "Section" and not _exists(conn, cost_code_t, Job=job, Extra="",
                                                                Cost_Code=level_code):
                raise SageInputError("level_code", f"No cost code {level_code} on job {job} in Sage 300 CRE.")
            values = dict(Description=description or "", Original_Contract_Amount=value)
            if not conn.execute(update(schedule_value_t).where(
                    schedule_value_t.c.Job == job, schedule_value_t.c.Level_Code == level_code)
                    .values(**values)).rowcount:
                conn.execute(insert(schedule_value_t).values(Job=job, Level_Code=level_code, **values))

    def add_cost(self, job: str, cost_code: str, category: str, transaction_type: str, amount, *,
                 extra: str = "", date: date | None = None, description: str = "", vendor: str = "",
                 invoice: str = "", units=None, unit_cost=None, amount_paid=0, commitment: str = "",
                 posted: bool = True) -> int:
        """A cost transaction (AP/PR/EQ/IV/JC cost) on a job's category; returns its Transaction_ID."""
        # posted (current.jct) unless posted=False; vendor, invoice and commitment are AP cost's only
        extra, vendor, invoice, commitment = extra or "", vendor or "", invoice or "", commitment or ""
        _check_choice("transaction_type", transaction_type, COST_TYPES)
        _check_input(dict(job=job, extra=extra, cost_code=cost_code, category=category, description=description,
                          vendor=vendor, invoice=invoice, commitment=commitment), COST_INPUT,
                     required=("job", "cost_code", "category"))
        if transaction_type != AP_COST:
            for field, value in (("vendor", vendor), ("invoice", invoice), ("commitment", commitment)):
                if value:
                    raise SageInputError(field, f"Only an AP cost has a {LABELS[field].lower()} "
                                                f"({transaction_type} has none).")
        row = dict(Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                   Transaction_Type=transaction_type, Date=date or _naive_utc(self.clock()).date(),
                   Description=description or "", Amount=_amount("amount", amount),
                   Units=_quantity("units", units), Unit_Cost=_quantity("unit_cost", unit_cost),
                   Vendor=vendor, Invoice=invoice, Amount_Paid=_amount("amount_paid", amount_paid or 0),
                   Commitment=commitment, Posted=posted, Batch_ID="", Created_At=_naive_utc(self.clock()))
        with self.engine.begin() as conn:
            if not _exists(conn, job_t, Job=job):
                raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
            if extra and not _exists(conn, extra_t, Job=job, Extra=extra):
                raise SageInputError("extra", f"No extra {extra} on job {job} in Sage 300 CRE.")
            if not _exists(conn, category_t, Job=job, Extra=extra, Cost_Code=cost_code, Category=category):
                raise SageInputError("category", f"No category {category} on cost code "
                                                 f"{_coding_name(job, extra, cost_code)} in Sage 300 CRE.")
            if vendor and not _exists(conn, vendor_t, Vendor=vendor):
                raise SageInputError("vendor", f"No vendor {vendor} in Sage 300 CRE.")
            if commitment:
                on = conn.scalar(select(commitment_t.c.Job).where(commitment_t.c.Commitment == commitment))
                if on is None:
                    raise SageInputError("commitment", f"No commitment {commitment} in Sage 300 CRE.")
                if on != job:
                    raise SageInputError("commitment", f"Commitment {commitment} is on job {on}, not {job}.")
            return conn.execute(insert(transaction_t).values(**row)).inserted_primary_key[0]

    def add_customer(self, customer: str, name: str = "", status: str = "Active") -> None:
        self._insert(customer_t, Customer=customer, Name=name, Status=status)

    def post_transactions(self, job: str, batch_id: str | None = None) -> int:
        """Post the job's unposted transactions (new.jct -> current.jct), or only one batch's;
        returns how many were posted."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            where = [transaction_t.c.Job == job, transaction_t.c.Posted == False]  # noqa: E712
            if batch_id is not None:
                where.append(transaction_t.c.Batch_ID == batch_id)
            return conn.execute(update(transaction_t).where(*where).values(Posted=True)).rowcount

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

    def _all(self, table, order_by, **where) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).where(*(table.c[k] == v for k, v in where.items()))
                                .order_by(*order_by)).mappings().all()
        return [dict(r) for r in rows]

    def get_commitment(self, commitment: str) -> dict | None:
        """The JCM_MASTER__COMMITMENT row (Commitment, Vendor, Job, Description, Commitment_Type,
        Amount = original + approved changes, Status) or None."""
        return self._one(commitment_t, Commitment=commitment)

    def list_commitment_items(self, commitment: str) -> list[dict]:
        """The commitment's JCM_MASTER__COMMITMENT_ITEM rows, by item number ("2" before "10")."""
        return sorted(self._all(commitment_item_t, (), Commitment=commitment), key=lambda r: _natural(r["Item"]))

    def get_cco(self, commitment: str, cco: str) -> dict | None:
        """The JCM_MASTER__COMMITMENT_CO row (Commitment, CCO, Description, Date, Status) or None."""
        return self._one(commitment_co_t, Commitment=commitment, CCO=cco)

    def list_ccos(self, commitment: str) -> list[dict]:
        return self._all(commitment_co_t, (commitment_co_t.c.CCO,), Commitment=commitment)

    def list_cco_items(self, commitment: str, cco: str) -> list[dict]:
        """The change order's JCM_MASTER__COMMITMENT_CO_ITEM rows (Item, Description, Units, Unit_Cost,
        Amount), by item number."""
        return sorted(self._all(commitment_co_item_t, (), Commitment=commitment, CCO=cco),
                      key=lambda r: _natural(r["Item"]))

    def list_transactions(self, job: str, type: str | None = None) -> list[dict]:  # noqa: A002
        """The job's JCT_CURRENT__TRANSACTION rows (posted or not), oldest first; only one
        Transaction_Type when type is given."""
        where = {"Job": job} if type is None else {"Job": job, "Transaction_Type": type}
        return self._all(transaction_t, (transaction_t.c.Transaction_ID,), **where)

    def job_cost_summary(self, job: str, posted_only: bool = True) -> dict:
        """{(Extra, Cost_Code, Category): {Transaction_Type: amount}} for the job: the posted
        transactions (current.jct) by default, every one with posted_only=False. Schedule value
        changes have no cost code: they are under ("", "", "")."""
        summary: dict = defaultdict(lambda: defaultdict(Decimal))
        for r in self.list_transactions(job):
            if r["Posted"] or not posted_only:
                summary[(r["Extra"], r["Cost_Code"], r["Category"])][r["Transaction_Type"]] += Decimal(r["Amount"])
        return {key: dict(by_type) for key, by_type in summary.items()}

    # ---- data back from Sage: what the portal's imports read ----------------------

    def list_vendors(self) -> list[dict]:
        """Every APM_MASTER__VENDOR row (any status), by Vendor."""
        return self._all(vendor_t, (vendor_t.c.Vendor,))

    def list_jobs(self) -> list[dict]:
        """Every JCM_MASTER__JOB row (Billing_Method and Billing_Level included), by Job."""
        return self._all(job_t, (job_t.c.Job,))

    def list_extras(self, job: str | None = None) -> list[dict]:
        """JCM_MASTER__EXTRA rows of one job (every job when None), by Job then Extra."""
        where = {} if job is None else {"Job": job}
        return self._all(extra_t, (extra_t.c.Job, extra_t.c.Extra), **where)

    def list_standard_cost_codes(self) -> list[dict]:
        """JCM_MASTER__STANDARD_COST_CODE rows (Cost_Code, Description, Status), by Cost_Code."""
        return self._all(standard_cost_code_t, (standard_cost_code_t.c.Cost_Code,))

    def list_standard_categories(self) -> list[dict]:
        """JCM_MASTER__STANDARD_CATEGORY rows (Category, Description), by Category."""
        return self._all(standard_category_t, (standard_category_t.c.Category,))

    def list_contracts(self, job: str | None = None) -> list[dict]:
        """CN_MASTER__CONTRACT rows of one job (every job when None), by Contract."""
        where = {} if job is None else {"Job": job}
        return self._all(contract_t, (contract_t.c.Contract,), **where)

    def list_schedule_values(self, job: str) -> list[dict]:
        """The Use Quickbill job's JCM_MASTER__SCHEDULE_VALUE rows, by Level_Code."""
        return self._all(schedule_value_t, (schedule_value_t.c.Level_Code,), Job=job)

    def list_cost_transactions(self, job: str) -> list[dict]:
        """The job's posted cost transactions (current.jct, a type in COST_TYPES), by Transaction_ID."""
        columns = [transaction_t.c[name] for name in COST_TRANSACTION_KEYS]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).where(
                transaction_t.c.Job == job, transaction_t.c.Posted == True,  # noqa: E712
                transaction_t.c.Transaction_Type.in_(COST_TYPES),
            ).order_by(transaction_t.c.Transaction_ID)).mappings().all()
        return [dict(r) for r in rows]

    def job_costs(self, job: str) -> list[dict]:
        """Sage's Job Costs of the job per (Extra, Cost_Code, Category), from its posted transactions."""
        # every category of the job (all zeros without transactions) and any coding only posted
        # transactions carry, by Extra, Cost_Code, Category; keys JOB_COST_KEYS
        with self.engine.connect() as conn:
            codes = {(r.Extra, r.Cost_Code): r.Description for r in conn.execute(
                select(cost_code_t.c.Extra, cost_code_t.c.Cost_Code, cost_code_t.c.Description)
                .where(cost_code_t.c.Job == job))}
            categories = {(r.Extra, r.Cost_Code, r.Category): r.Description for r in conn.execute(
                select(category_t.c.Extra, category_t.c.Cost_Code, category_t.c.Category,
                       category_t.c.Description).where(category_t.c.Job == job))}
            txns = conn.execute(select(
                transaction_t.c.Extra, transaction_t.c.Cost_Code, transaction_t.c.Category,
                transaction_t.c.Transaction_Type, transaction_t.c.Date, transaction_t.c.Amount,
                transaction_t.c.Units, transaction_t.c.Amount_Paid, transaction_t.c.Commitment,
            ).where(transaction_t.c.Job == job, transaction_t.c.Posted == True,  # noqa: E712
                    transaction_t.c.Transaction_Type.in_(JOB_COST_TYPES))).all()
        month = _naive_utc(self.clock()).date().replace(day=1)
        zero = Decimal("0.00")
        rows = {key: dict.fromkeys(JOB_COST_KEYS[6:], zero) for key in categories}
        for t in txns:
            row = rows.setdefault((t.Extra, t.Cost_Code, t.Category), dict.fromkeys(JOB_COST_KEYS[6:], zero))
            amount, units = Decimal(t.Amount), Decimal(t.Units or 0)
            kind = t.Transaction_Type
            if kind == ORIGINAL_ESTIMATE:
                row["Original_Estimate"] += amount
                row["Original_Estimate_Units"] += units
            elif kind == APPROVED_ESTIMATE_CHANGE:
                row["Approved_Estimate_Changes"] += amount
                row["Approved_Estimate_Unit_Changes"] += units
            elif kind == COMMITTED_COST:
                row["Original_Commitment"] += amount
            elif kind == APPROVED_COMMITMENT_CHANGE:
                row["Approved_Commitment_Changes"] += amount
            else:  # a cost type
                paid = Decimal(t.Amount_Paid or 0)
                row["JTD_Cost"] += amount
                row["JTD_Units"] += units
                row["JTD_Dollars_Paid"] += paid
                if kind == AP_COST and t.Commitment:
                    row["Commitment_Invoiced"] += amount
                if t.Date.replace(day=1) == month:
                    row["MTD_Cost"] += amount
                    row["MTD_Units"] += units
                    row["MTD_Dollars_Paid"] += paid
        result = []
        for (extra, cost_code, category), row in sorted(rows.items()):
            row["Total_Estimate"] = row["Original_Estimate"] + row["Approved_Estimate_Changes"]
            row["Total_Estimate_Units"] = row["Original_Estimate_Units"] + row["Approved_Estimate_Unit_Changes"]
            row["Revised_Commitment"] = row["Original_Commitment"] + row["Approved_Commitment_Changes"]
            head = dict(Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                        Cost_Code_Description=codes.get((extra, cost_code), ""),
                        Category_Description=categories.get((extra, cost_code, category), ""))
            result.append({key: head[key] if key in head else row[key] for key in JOB_COST_KEYS})
        return result

    def overview(self, first: int = 50, recent: int = 20) -> dict:
        """Counts per table, the `first` vendors, jobs and contracts by code, the last `recent` posted costs."""
        # by code, not by age: these tables have no creation time (an existing test reads whole rows)
        counted = {"vendors": vendor_t, "jobs": job_t, "extras": extra_t, "cost_codes": cost_code_t,
                   "categories": category_t, "standard_cost_codes": standard_cost_code_t,
                   "standard_categories": standard_category_t, "contracts": contract_t,
                   "schedule_values": schedule_value_t}
        with self.engine.connect() as conn:
            counts = {name: conn.scalar(select(func.count()).select_from(table)) for name, table in counted.items()}
            is_cost = (transaction_t.c.Transaction_Type.in_(COST_TYPES), transaction_t.c.Posted == True)  # noqa: E712
            counts["cost_transactions"] = conn.scalar(select(func.count()).select_from(transaction_t).where(*is_cost))

            def by_code(table, code):
                return [dict(r) for r in conn.execute(select(table).order_by(code).limit(first)).mappings()]
            return {"counts": counts,
                    "vendors": by_code(vendor_t, vendor_t.c.Vendor),
                    "jobs": by_code(job_t, job_t.c.Job),
                    "contracts": by_code(contract_t, contract_t.c.Contract),
                    "costs": [dict(r) for r in conn.execute(
                        select(*(transaction_t.c[k] for k in COST_TRANSACTION_KEYS)).where(*is_cost)
                        .order_by(transaction_t.c.Transaction_ID.desc()).limit(recent)).mappings()]}

    def get_contract(self, contract: str) -> dict | None:
        """The CN_MASTER__CONTRACT row (Contract, Job, Description, Status, Billing_Method) or None."""
        return self._one(contract_t, Contract=contract)

    def list_contract_items(self, contract: str) -> list[dict]:
        """The contract's CN_MASTER__CONTRACT_ITEM rows (Item, Description, Original_Amount,
        Approved_Changes), by item code."""
        return sorted(self._all(contract_item_t, (), Contract=contract), key=lambda r: _natural(r["Item"]))

    def get_customer(self, customer: str) -> dict | None:
        """The ARM_MASTER__CUSTOMER row (Customer, Name, Status) or None."""
        return self._one(customer_t, Customer=customer)

    def get_ar_invoice(self, invoice: str) -> dict | None:
        """The ART_INVOICE row (Invoice, Customer, Contract, Job, ..., Amount, Retainage) or None."""
        return self._one(ar_invoice_t, Invoice=invoice)

    def list_ar_distributions(self, invoice: str) -> list[dict]:
        return self._all(ar_distribution_t, (ar_distribution_t.c.Distribution_Seq,), Invoice=invoice)

    def import_log(self, batch_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(import_log_t).where(import_log_t.c.Batch_ID == batch_id)).mappings().first()
        return dict(row) if row else None

    # ---- unlinking: what Sage still holds of a portal item, and deleting it there ------------
    # find_* describe the records still in Sage (empty: none, the portal may unlink the item);
    # delete_* are what a Sage user does before the portal unlinks (the Sage user's page).

    def find_vendor(self, vendor: str) -> list[str]:
        """The vendor, and the commitments and AP invoices still on it."""
        if not vendor:
            return []
        with self.engine.connect() as conn:
            row = conn.execute(select(vendor_t.c.Name).where(vendor_t.c.Vendor == vendor)).first()
            if row is None:
                return []
            held = [f"vendor {vendor}" + (f" ({row.Name})" if row.Name else "")]
            held += [f"commitment {r.Commitment} on job {r.Job}" for r in conn.execute(
                select(commitment_t.c.Commitment, commitment_t.c.Job).where(commitment_t.c.Vendor == vendor)
                .order_by(commitment_t.c.Commitment))]
            held += [f"AP invoice {r.Invoice} of vendor {vendor}" for r in conn.execute(
                select(invoice_t.c.Invoice).where(invoice_t.c.Vendor == vendor).order_by(invoice_t.c.Invoice))]
        return held

    def find_commitment(self, commitment: str) -> list[str]:
        """The commitment, its change orders and the AP invoices distributed to it."""
        if not commitment:
            return []
        with self.engine.connect() as conn:
            head = conn.execute(select(commitment_t.c.Job).where(commitment_t.c.Commitment == commitment)).first()
            held = [f"commitment {commitment} on job {head.Job}"] if head else []
            held += [f"change order {r.CCO} on commitment {commitment}" for r in conn.execute(
                select(commitment_co_t.c.CCO).where(commitment_co_t.c.Commitment == commitment)
                .order_by(commitment_co_t.c.CCO))]
            held += [f"AP invoice {r.Invoice} of vendor {r.Vendor}" for r in conn.execute(
                select(distribution_t.c.Vendor, distribution_t.c.Invoice).distinct()
                .where(distribution_t.c.Commitment == commitment)
                .order_by(distribution_t.c.Vendor, distribution_t.c.Invoice))]
        return held

    def find_cco(self, commitment: str, cco: str) -> list[str]:
        """The commitment change order (on any commitment when commitment is "")."""
        if not cco:
            return []
        where = [commitment_co_t.c.CCO == cco] + ([commitment_co_t.c.Commitment == commitment] if commitment else [])
        with self.engine.connect() as conn:
            rows = conn.execute(select(commitment_co_t.c.Commitment).where(*where)
                                .order_by(commitment_co_t.c.Commitment)).all()
        return [f"change order {cco} on commitment {r.Commitment}" for r in rows]

    def find_invoice(self, vendor: str, invoice: str) -> list[str]:
        """The AP invoice (of any vendor when vendor is "")."""
        if not invoice:
            return []
        where = [invoice_t.c.Invoice == invoice] + ([invoice_t.c.Vendor == vendor] if vendor else [])
        with self.engine.connect() as conn:
            rows = conn.execute(select(invoice_t.c.Vendor).where(*where).order_by(invoice_t.c.Vendor)).all()
        return [f"AP invoice {invoice} of vendor {r.Vendor}" for r in rows]

    def find_ar_invoice(self, invoice: str) -> list[str]:
        """The AR (owner) invoice."""
        row = self.get_ar_invoice(invoice) if invoice else None
        return [f"AR invoice {invoice} on contract {row['Contract']}"] if row else []

    def _change_rows(self, job: str, ref_1: str):
        from .mapping import PCCO_REF_2  # Ref 2 tells a PCCO's rows from a budget change's
        return (transaction_t.c.Job == job, transaction_t.c.Ref_1 == ref_1, transaction_t.c.Ref_2 == PCCO_REF_2,
                transaction_t.c.Transaction_Type.in_(PCCO_TYPES))

    def find_change_transactions(self, job: str, ref_1: str) -> list[str]:
        """A PCCO's Approved est chng and Approved Schedule Value Change transactions."""
        if not job or not ref_1:
            return []
        with self.engine.connect() as conn:
            n = conn.scalar(select(func.count()).select_from(transaction_t).where(*self._change_rows(job, ref_1)))
        return [f"{n} change transaction{'s' if n != 1 else ''} ({' / '.join(PCCO_TYPES)}) of PCCO {ref_1} "
                f"on job {job}"] if n else []

    def delete_vendor(self, vendor: str) -> bool:
        """Delete a vendor with no commitment or AP invoice left (ValueError otherwise)."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            if conn.execute(select(commitment_t.c.Commitment).where(commitment_t.c.Vendor == vendor)).first() or \
                    conn.execute(select(invoice_t.c.Invoice).where(invoice_t.c.Vendor == vendor)).first():
                raise ValueError(f"Vendor {vendor} still has commitments or AP invoices: delete them first.")
            return conn.execute(vendor_t.delete().where(vendor_t.c.Vendor == vendor)).rowcount > 0

    def delete_commitment(self, commitment: str) -> bool:
        """Delete a commitment with its items, change orders, CO items and Job Cost transactions."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            for table in (commitment_co_item_t, commitment_co_t, commitment_item_t, transaction_t):
                conn.execute(table.delete().where(table.c.Commitment == commitment))
            return conn.execute(commitment_t.delete().where(commitment_t.c.Commitment == commitment)).rowcount > 0

    def delete_cco(self, commitment: str, cco: str) -> bool:
        """Delete a commitment change order: its items, its transactions, the $0 items it added
        to the commitment (when nothing else uses them), and its change to the approved amount."""
        co_items = (commitment_co_item_t.c.Commitment == commitment, commitment_co_item_t.c.CCO == cco)
        with self.engine.begin() as conn:
            self._serialise(conn)
            items = conn.execute(select(commitment_co_item_t.c.Item, commitment_co_item_t.c.Amount)
                                 .where(*co_items)).all()
            change = sum((Decimal(r.Amount) for r in items), Decimal(0))
            elsewhere = {r.Item for r in conn.execute(select(commitment_co_item_t.c.Item).where(
                commitment_co_item_t.c.Commitment == commitment, commitment_co_item_t.c.CCO != cco))}
            elsewhere |= {r.Commitment_Item for r in conn.execute(select(distribution_t.c.Commitment_Item).where(
                distribution_t.c.Commitment == commitment))}
            added = [r.Item for r in conn.execute(select(commitment_item_t.c.Item, commitment_item_t.c.Amount).where(
                commitment_item_t.c.Commitment == commitment,
                commitment_item_t.c.Item.in_([i.Item for i in items]))) if Decimal(r.Amount) == 0
                and r.Item not in elsewhere]
            conn.execute(transaction_t.delete().where(transaction_t.c.Commitment == commitment,
                                                      transaction_t.c.Commitment_CO == cco))
            conn.execute(commitment_co_item_t.delete().where(*co_items))
            deleted = conn.execute(commitment_co_t.delete().where(
                commitment_co_t.c.Commitment == commitment, commitment_co_t.c.CCO == cco)).rowcount > 0
            if added:
                conn.execute(transaction_t.delete().where(transaction_t.c.Commitment == commitment,
                                                          transaction_t.c.Commitment_Item.in_(added)))
                conn.execute(commitment_item_t.delete().where(commitment_item_t.c.Commitment == commitment,
                                                              commitment_item_t.c.Item.in_(added)))
            if deleted and change:
                conn.execute(update(commitment_t).where(commitment_t.c.Commitment == commitment)
                             .values(Amount=commitment_t.c.Amount - change))
            return deleted

    def delete_invoice(self, vendor: str, invoice: str) -> bool:
        """Delete an AP invoice with its distributions."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            conn.execute(distribution_t.delete().where(distribution_t.c.Vendor == vendor,
                                                       distribution_t.c.Invoice == invoice))
            return conn.execute(invoice_t.delete().where(invoice_t.c.Vendor == vendor,
                                                         invoice_t.c.Invoice == invoice)).rowcount > 0

    def delete_ar_invoice(self, invoice: str) -> bool:
        """Delete an AR (owner) invoice with its distributions."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            conn.execute(ar_distribution_t.delete().where(ar_distribution_t.c.Invoice == invoice))
            return conn.execute(ar_invoice_t.delete().where(ar_invoice_t.c.Invoice == invoice)).rowcount > 0

    def delete_change_transactions(self, job: str, ref_1: str) -> int:
        """Delete a PCCO's Approved est chng and Approved Schedule Value Change transactions, taking
        the schedule value changes back off their contract items; returns how many were deleted."""
        where = self._change_rows(job, ref_1)
        with self.engine.begin() as conn:
            self._serialise(conn)
            for r in conn.execute(select(transaction_t.c.Contract, transaction_t.c.Contract_Item, transaction_t.c.Amount)
                                  .where(*where, transaction_t.c.Transaction_Type == SCHEDULE_VALUE_CHANGE)).all():
                conn.execute(update(contract_item_t).where(
                    contract_item_t.c.Contract == r.Contract, contract_item_t.c.Item == r.Contract_Item,
                ).values(Approved_Changes=contract_item_t.c.Approved_Changes - Decimal(r.Amount)))
            return conn.execute(transaction_t.delete().where(*where)).rowcount

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

    # ---- financial kinds -----------------------------------------------------------

    def _import_commitment(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        head = _single(batch, JCCommitment, (JCCommitmentItem,))
        items = list(batch.records[1:])
        if not items or any(i.commitment != head.commitment for i in items):
            raise ValueError("a jc_commitment batch holds its JCCommitment, then its JCCommitmentItems "
                             "(at least one, all on that commitment)")
        _check_fields(head, COMMITMENT_REQUIRED, COMMITMENT_LIMITS)
        for item in items:
            _check_fields(item, COMMITMENT_ITEM_REQUIRED, COMMITMENT_ITEM_LIMITS)

        vendor = conn.execute(select(vendor_t.c.Status).where(vendor_t.c.Vendor == head.vendor)).first()
        if vendor is None:
            raise _Refused(NOT_FOUND)
        if vendor.Status != "Active":
            raise _Refused(VENDOR_INACTIVE)
        _open_job(conn, head.job)
        for item in items:
            _check_coding(conn, item.job, item.extra, item.cost_code, item.category)
        if _exists(conn, commitment_t, Commitment=head.commitment):
            raise _Refused(commitment_exists(head.commitment))
        if len({i.item for i in items}) != len(items):
            raise _Refused(ITEM_EXISTS)

        # Date and Retainage % travel in the import file only (no columns on the existing table)
        conn.execute(insert(commitment_t).values(
            Commitment=head.commitment, Vendor=head.vendor, Job=head.job, Description=head.description or "",
            Commitment_Type=head.commitment_type or "Subcontract",
            Amount=sum((Decimal(i.amount) for i in items), Decimal(0)), Status="Open"))
        _add_commitment_items(conn, items)
        # posted automatically during the transmission (release note, 07/10/2024)
        _insert_transactions(conn, [_item_transaction(i, COMMITTED_COST, head.date, i.description, i.amount,
                                                      batch.batch_id, now) for i in items])
        return head.commitment

    def _import_cco(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        records = batch.records
        heads = [n for n, r in enumerate(records) if isinstance(r, JCCommitmentCO)]
        if len(heads) != 1:
            raise ValueError("a jc_commitment_co batch holds one JCCommitmentCO")
        head, new_items, co_items = records[heads[0]], records[:heads[0]], records[heads[0] + 1:]
        if not all(isinstance(r, JCCommitmentItem) for r in new_items) or not co_items or \
                not all(isinstance(r, JCCommitmentCOItem) for r in co_items):
            raise ValueError("a jc_commitment_co batch holds the new JCCommitmentItems, the JCCommitmentCO, "
                             "then its JCCommitmentCOItems (at least one)")
        if any(r.commitment != head.commitment for r in new_items) or \
                any((r.commitment, r.cco) != (head.commitment, head.cco) for r in co_items):
            raise ValueError("a jc_commitment_co batch's items are all on its commitment and change order")
        if len({r.item for r in co_items}) != len(co_items):
            raise ValueError("a commitment change order changes an item once (sum the changes)")
        if head.status != CCO_STATUS:
            raise ValueError("a commitment change order is exported Approved")

        _check_fields(head, CCO_REQUIRED, CCO_LIMITS)
        for item in new_items:
            _check_fields(item, COMMITMENT_ITEM_REQUIRED, COMMITMENT_ITEM_LIMITS)
        for item in co_items:
            _check_fields(item, CCO_ITEM_REQUIRED, CCO_ITEM_LIMITS)

        commitment = conn.execute(select(commitment_t).where(commitment_t.c.Commitment == head.commitment)
                                  ).mappings().first()
        if commitment is None:
            raise _Refused(NOT_FOUND)
        if commitment["Status"] in ARCHIVED_STATUSES:
            raise _Refused(COMMITMENT_ARCHIVED)
        _open_job(conn, commitment["Job"])
        if _exists(conn, commitment_co_t, Commitment=head.commitment, CCO=head.cco):
            raise _Refused(change_order_exists(head.cco))
        if conn.execute(select(commitment_co_t.c.CCO).where(commitment_co_t.c.CCO == head.cco)).first():
            raise _Refused(CCO_EXISTS)

        existing = {r["Item"]: r for r in conn.execute(select(commitment_item_t).where(
            commitment_item_t.c.Commitment == head.commitment)).mappings()}
        added = {r.item: r for r in new_items}
        for co in co_items:
            if co.item not in existing and co.item not in added:
                raise _Refused(NOT_FOUND)
        if len(added) != len(new_items) or any(item in existing for item in added):
            raise _Refused(ITEM_EXISTS)
        codings = {}
        for co in co_items:
            if co.item in added:
                r = added[co.item]
                codings[co.item] = (r.job, r.extra or "", r.cost_code, r.category, r.description or "")
            else:
                r = existing[co.item]
                codings[co.item] = (r["Job"], r["Extra"], r["Cost_Code"], r["Category"], r["Description"])
        for item in new_items:
            _check_coding(conn, item.job, item.extra, item.cost_code, item.category)
        for job, extra, cost_code, category, _ in codings.values():
            _check_coding(conn, job, extra, cost_code, category)

        _add_commitment_items(conn, new_items)
        conn.execute(insert(commitment_co_t).values(Commitment=head.commitment, CCO=head.cco,
                                                    Description=head.description or "", Date=head.date,
                                                    Status=head.status))
        conn.execute(insert(commitment_co_item_t), [dict(
            Commitment=co.commitment, CCO=co.cco, Item=co.item, Description=co.description or "",
            Units=_dec(co.units), Unit_Cost=_dec(co.unit_cost), Amount=Decimal(co.amount)) for co in co_items])
        change = sum((Decimal(co.amount) for co in co_items), Decimal(0)) + \
            sum((Decimal(i.amount) for i in new_items), Decimal(0))
        # the approved amount the AP invoice check compares with includes approved changes
        conn.execute(update(commitment_t).where(commitment_t.c.Commitment == head.commitment)
                     .values(Amount=commitment_t.c.Amount + change))
        rows = [_item_transaction(i, COMMITTED_COST, head.date, i.description, i.amount, batch.batch_id, now)
                for i in new_items if Decimal(i.amount) != 0]
        for co in co_items:
            job, extra, cost_code, category, item_description = codings[co.item]
            rows.append(dict(
                Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                Transaction_Type=APPROVED_COMMITMENT_CHANGE, Date=head.date,
                Description=co.description or head.description or item_description, Amount=Decimal(co.amount),
                Commitment=head.commitment, Commitment_Item=co.item, Commitment_CO=head.cco,
                Posted=False,  # new.jct: the guide's CCO transactions update totals when posted
                Batch_ID=batch.batch_id, Created_At=now))
        _insert_transactions(conn, rows)
        return f"{head.commitment}/{head.cco}"

    def _import_budget(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        txns = _transactions(batch, BUDGET_TYPES)
        _check_transactions(conn, txns, TRANSACTION_LIMITS)
        seen = set()
        for t in txns:
            if t.transaction_type != ORIGINAL_ESTIMATE:
                continue
            key = (t.job, t.extra or "", t.cost_code, t.category)
            if key in seen or conn.execute(select(transaction_t.c.Transaction_ID).where(
                    transaction_t.c.Job == key[0], transaction_t.c.Extra == key[1],
                    transaction_t.c.Cost_Code == key[2], transaction_t.c.Category == key[3],
                    transaction_t.c.Transaction_Type == ORIGINAL_ESTIMATE)).first():
                raise _Refused(estimate_exists(t.cost_code, t.category))
            seen.add(key)
        _insert_transactions(conn, [_transaction_row(t, False, batch.batch_id, now) for t in txns])
        return f"{txns[0].job}: {len(txns)} transactions"

    def _import_budget_change(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        txns = _transactions(batch, BUDGET_CHANGE_TYPES)
        _check_transactions(conn, txns, TRANSACTION_LIMITS)
        _insert_transactions(conn, [_transaction_row(t, False, batch.batch_id, now) for t in txns])
        return f"{txns[0].job}: {len(txns)} transactions"

    def _import_pcco(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        records = batch.records
        split = next((n for n, r in enumerate(records) if not isinstance(r, CNContractItem)), len(records))
        new_items, txns = records[:split], records[split:]
        if not all(isinstance(r, JCTransaction) for r in txns):
            raise ValueError("a jc_pcco batch holds its new CNContractItems, then JCTransactions")
        txns = _transactions(Batch(batch.batch_id, batch.kind, tuple(txns)), PCCO_TYPES)
        estimates = [t for t in txns if t.transaction_type == APPROVED_ESTIMATE_CHANGE]
        changes = [t for t in txns if t.transaction_type == SCHEDULE_VALUE_CHANGE]
        contracts = {r.contract for r in new_items} | {t.contract for t in changes}
        if len(contracts) > 1:
            raise ValueError("a jc_pcco batch is on one contract")

        for t in estimates:
            _check_fields(t, TRANSACTION_REQUIRED, PCCO_TRANSACTION_LIMITS)
        for t in changes:
            _check_fields(t, SCHEDULE_CHANGE_REQUIRED, PCCO_TRANSACTION_LIMITS)
        for r in new_items:
            _check_fields(r, CONTRACT_ITEM_REQUIRED, CONTRACT_ITEM_LIMITS)
        job = txns[0].job
        _open_job(conn, job)
        for contract in contracts:
            if not _exists(conn, contract_t, Contract=contract):
                raise _Refused(NOT_FOUND)
        for t in estimates:
            _check_coding(conn, t.job, t.extra, t.cost_code, t.category)
        contract = next(iter(contracts), "")
        on_contract = {r["Item"] for r in conn.execute(select(contract_item_t.c.Item).where(
            contract_item_t.c.Contract == contract)).mappings()}
        added = {r.item for r in new_items}
        if len(added) != len(new_items) or added & on_contract:
            raise _Refused(ITEM_EXISTS)
        if any(t.contract_item not in on_contract | added for t in changes):
            raise _Refused(NOT_FOUND)

        if new_items:
            conn.execute(insert(contract_item_t), [dict(
                Contract=r.contract, Item=r.item, Description=r.description or "", Original_Amount=Decimal(0),
                Approved_Changes=Decimal(0)) for r in new_items])
        for t in changes:
            conn.execute(update(contract_item_t).where(
                contract_item_t.c.Contract == t.contract, contract_item_t.c.Item == t.contract_item,
            ).values(Approved_Changes=contract_item_t.c.Approved_Changes + Decimal(t.amount)))
        # schedule value changes: "the Sage 300 CRE API will attempt to post these entries automatically"
        _insert_transactions(conn, [_transaction_row(t, t.transaction_type == SCHEDULE_VALUE_CHANGE,
                                                     batch.batch_id, now) for t in txns])
        return f"{job}/{txns[0].ref_1}"

    def _import_ar_invoice(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        inv = _single(batch, ARInvoice, (ARDistribution,))
        dists = list(batch.records[1:])
        if any((d.invoice, d.contract) != (inv.invoice, inv.contract) for d in dists):
            raise ValueError("an ar_invoice batch's distributions are on its invoice and contract")
        _check_fields(inv, AR_INVOICE_REQUIRED, AR_INVOICE_LIMITS)
        for d in dists:
            _check_fields(d, AR_DISTRIBUTION_REQUIRED, AR_DISTRIBUTION_LIMITS)

        if not _exists(conn, customer_t, Customer=inv.customer):
            raise _Refused(NOT_FOUND)
        if not _exists(conn, contract_t, Contract=inv.contract):
            raise _Refused(NOT_FOUND)
        if not dists:
            raise _Refused(NO_DISTRIBUTIONS)
        for d in dists:
            if not _exists(conn, contract_item_t, Contract=d.contract, Item=d.contract_item):
                raise _Refused(NOT_FOUND)
        if _exists(conn, ar_invoice_t, Invoice=inv.invoice):
            raise _Refused(AR_DUPLICATE)
        if f"{inv.accounting_date:%Y-%m}" in settings["closed_periods"]:
            raise _Refused(period_closed(inv.accounting_date))

        conn.execute(insert(ar_invoice_t).values(
            Invoice=inv.invoice, Customer=inv.customer, Contract=inv.contract, Job=inv.job or "",
            Description=inv.description or "", Invoice_Date=inv.invoice_date, Accounting_Date=inv.accounting_date,
            Amount=inv.amount, Retainage=inv.retainage, Batch_ID=batch.batch_id, Created_At=now))
        conn.execute(insert(ar_distribution_t), [dict(
            Invoice=inv.invoice, Distribution_Seq=n, Contract=d.contract, Contract_Item=d.contract_item,
            Description=d.description or "", Amount=d.amount, Retainage=d.retainage,
        ) for n, d in enumerate(dists, start=1)])
        return f"{inv.customer}/{inv.invoice}"

    _IMPORTERS = {
        "ap_invoice": _import_invoice,
        "ap_vendor": _import_vendor,
        "jc_job": _import_job,
        "jc_extra": _import_extra,
        "jc_cost_codes": _import_cost_codes,
        "jc_commitment": _import_commitment,
        "jc_commitment_co": _import_cco,
        "jc_budget": _import_budget,
        "jc_budget_change": _import_budget_change,
        "jc_pcco": _import_pcco,
        "ar_invoice": _import_ar_invoice,
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


# ---- financial kinds' helpers -------------------------------------------------------------

def _dec(value):
    return None if value is None else Decimal(str(value))


def _natural(code: str) -> tuple:
    """A sort key putting item "2" before "10" (digit runs compare as numbers)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", code or ""))


def _check_coding(conn, job: str, extra: str, cost_code: str, category: str) -> None:
    """The job is there and open, the extra (when given) not closed, the category on the job's (or
    extra's) cost code."""
    _open_job(conn, job)
    if extra:
        row = conn.execute(select(extra_t.c.Status).where(extra_t.c.Job == job, extra_t.c.Extra == extra)).first()
        if row is not None and row.Status == "Closed":
            raise _Refused(JOB_CLOSED)
    if not _exists(conn, category_t, Job=job, Extra=extra or "", Cost_Code=cost_code, Category=category):
        raise _Refused(NO_CATEGORY)


def _transactions(batch: Batch, types: tuple) -> list:
    """The batch's JC transactions: at least one, all JCTransaction of these types, on one job."""
    txns = list(batch.records)
    if not txns or not all(isinstance(t, JCTransaction) for t in txns) or \
            any(t.transaction_type not in types for t in txns) or len({t.job for t in txns}) != 1:
        raise ValueError(f"a {batch.kind} batch holds JCTransactions ({', '.join(types)}), at least one, "
                         "all on one job")
    return txns


def _check_transactions(conn, txns, limits) -> None:
    for t in txns:
        _check_fields(t, TRANSACTION_REQUIRED, limits)
    _open_job(conn, txns[0].job)
    for t in txns:
        _check_coding(conn, t.job, t.extra, t.cost_code, t.category)


def _transaction_row(t: JCTransaction, posted: bool, batch_id: str, now: datetime) -> dict:
    return dict(Job=t.job, Extra=t.extra or "", Cost_Code=t.cost_code or "", Category=t.category or "",
                Transaction_Type=t.transaction_type, Date=t.date, Description=t.description or "",
                Amount=Decimal(t.amount), Ref_1=t.ref_1 or "", Ref_2=t.ref_2 or "", Commitment="",
                Commitment_Item="", Commitment_CO="", Contract=t.contract or "",
                Contract_Item=t.contract_item or "", Posted=posted, Batch_ID=batch_id, Created_At=now)


def _item_transaction(item: JCCommitmentItem, transaction_type: str, on: date, description: str, amount,
                      batch_id: str, now: datetime) -> dict:
    """A posted commitment transaction for a commitment item."""
    return dict(Job=item.job, Extra=item.extra or "", Cost_Code=item.cost_code, Category=item.category,
                Transaction_Type=transaction_type, Date=on, Description=description or "",
                Amount=Decimal(amount), Commitment=item.commitment, Commitment_Item=item.item,
                Commitment_CO="", Posted=True, Batch_ID=batch_id, Created_At=now)


def _insert_transactions(conn, rows: list) -> None:
    for row in rows:  # one at a time: Transaction_ID follows the batch's order
        conn.execute(insert(transaction_t).values(**row))


def _add_commitment_items(conn, items) -> None:
    for i in items:
        conn.execute(insert(commitment_item_t).values(
            Commitment=i.commitment, Item=i.item, Description=i.description or "", Job=i.job, Extra=i.extra or "",
            Cost_Code=i.cost_code, Category=i.category, Units=_dec(i.units), Unit_Cost=_dec(i.unit_cost),
            Unit_Description=i.unit_description or "", Amount=Decimal(i.amount)))


# ---- data back from Sage: input checks of the adders and updaters ----------------------------

def too_long_for(label: str, limit: int) -> str:
    return f"{label} is too long: Sage 300 CRE allows at most {limit} characters."


def _check_input(values: dict, limits, required=()) -> None:
    """Required arguments not blank, every argument within Sage's length (SageInputError names it)."""
    for field in required:
        if not str(values.get(field) or "").strip():
            raise SageInputError(field, f"{LABELS.get(field, field)} is required.")
    for field, limit in limits:
        if field in values and len(str(values[field] or "")) > limit:
            raise SageInputError(field, too_long_for(LABELS.get(field, field), limit))


def _check_choice(field: str, value, choices) -> None:
    if value not in choices:
        raise SageInputError(field, f"{LABELS.get(field, field)} must be one of: {', '.join(choices)}.")


def _check_billing(method: str, level: str) -> None:
    """Use Contracts has no billing level; Use Quickbill needs Job, Division or Section."""
    _check_choice("billing_method", method, BILLING_METHODS)
    if method == USE_CONTRACTS and level:
        raise SageInputError("billing_level", "Billing level is for Use Quickbill jobs only: leave it blank "
                                              "for Use Contracts.")
    if method == USE_QUICKBILL and level not in BILLING_LEVELS:
        raise SageInputError("billing_level", f"A Use Quickbill job needs a billing level: "
                                              f"{', '.join(BILLING_LEVELS)}.")


def _number(field: str, value, limit: Decimal) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (ArithmeticError, ValueError):
        raise SageInputError(field, f"{LABELS.get(field, field)} must be a number.") from None
    if not number.is_finite() or abs(number) >= limit:
        raise SageInputError(field, f"{LABELS.get(field, field)} must be a number below {limit:,.0f}.")
    return number


def _amount(field: str, value) -> Decimal:
    """A Money value (12, 2), rounded to cents."""
    return _number(field, value, Decimal("1e10")).quantize(Decimal("0.01"))


def _quantity(field: str, value) -> Decimal | None:
    """A Quantity value (16, 4) or None when not given."""
    if value is None or str(value).strip() == "":
        return None
    return _number(field, value, Decimal("1e12")).quantize(Decimal("0.0001"))


def _renamed(fields: dict, arguments: dict) -> dict:
    """Column-named fields as the adders' argument names; an unknown column is a SageInputError."""
    unknown = sorted(set(fields) - set(arguments))
    if unknown:
        raise SageInputError(unknown[0], f"{unknown[0]} cannot be changed here "
                                         f"(one of: {', '.join(arguments)}).")
    return {arguments[column]: value for column, value in fields.items()}


def _coding_name(job: str, extra: str, cost_code: str) -> str:
    return f"{job}/{extra}/{cost_code}" if extra else f"{job}/{cost_code}"
