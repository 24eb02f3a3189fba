"""Sage 300 CRE import files, one per batch: the text the drop folder receives.

Every file: one line per record, CRLF line ends, comma separated, every field in double
quotes (a double quote inside a value is doubled), written as cp1252 (ANSI) text.
`import_file(batch)` gives the text for any batch kind; `ap_import_file` is the AP one.

AP invoice import (Accounts Payable > Tools > Import Invoices), fixed format, kind
"ap_invoice"; dates MM/DD/YYYY, amounts with 2 decimals:

APIF (invoice):      "APIF", Vendor, Invoice, Description, Amount, Tax, Discount Offered,
                     Misc Deduction, Invoice Date, Accounting Date, Retainage
APDF (distribution): "APDF", Commitment, Commitment line item, Job, Extra, Cost Code,
                     Category, Description, Amount, Retainage, Expense account

Tax, Discount Offered, Misc Deduction and Expense account are always "" (the portal
never exports tax; job distributions take the expense account from Sage's setup).

Example:
    "APIF","V100","INV-7","Pay app 3","1500.00","","","","10/15/2026","10/31/2026","150.00"
    "APDF","C-100","1","J-1","","01-100","SUB","Framing","1500.00","150.00",""

Setup imports: THE SIMULATOR'S LAYOUT, inferred from the connector guide's data mapping
tables (the job import file "contains 3 types of records": job, cost codes, categories),
not Sage's published import specification. Record ids and field order are ours; check
them against the Sage 300 CRE import setup before pointing a real Sage at these files.

AP vendor import, kind "ap_vendor":
    V  (vendor):     "V", Vendor, Name, Address 1, City, State, ZIP, Telephone, Fax, Type
JC job import, kinds "jc_job" (J, C, T), "jc_extra" (X, C, T), "jc_cost_codes" (C, T):
    J  (job):        "J", Job, Description, Address 1, City, State, ZIP
    X  (extra):      "X", Job, Extra, Description
    C  (cost code):  "C", Job, Extra, Cost Code, Description
    T  (category):   "T", Job, Extra, Cost Code, Category, Description
Extra is "" on the job's own cost codes and categories. Records come in batch order:
the header (J or X), then the cost codes, then the categories.

Example (kind "jc_extra"):
    "X","J-1","E1","Lobby upgrade"
    "C","J-1","E1","01-100","Framing"
    "T","J-1","E1","01-100","SUB","Subcontract"
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date
from decimal import Decimal

from .records import (
    APDistribution, APInvoice, APVendor, Batch, JCCategory, JCCostCode, JCExtra, JCJob,
)

# Sage 300 CRE runs on Windows and reads import files as ANSI text.
FILE_ENCODING = "cp1252"


def _date(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def _amount(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _line(fields) -> str:
    return ",".join('"' + str(f).replace('"', '""') + '"' for f in fields)


def _record_line(r) -> str:
    if isinstance(r, APInvoice):
        return _line(["APIF", r.vendor, r.invoice, r.description, _amount(r.amount),
                      "", "", "", _date(r.invoice_date), _date(r.accounting_date),
                      _amount(r.retainage)])
    if isinstance(r, APDistribution):
        return _line(["APDF", r.commitment, r.commitment_item, r.job, r.extra,
                      r.cost_code, r.category, r.description, _amount(r.amount),
                      _amount(r.retainage), ""])
    if isinstance(r, APVendor):
        return _line(["V", r.vendor, r.name, r.address_1, r.city, r.state, r.zip,
                      r.telephone, r.fax, r.vendor_type])
    if isinstance(r, JCJob):
        return _line(["J", r.job, r.description, r.address_1, r.city, r.state, r.zip])
    if isinstance(r, JCExtra):
        return _line(["X", r.job, r.extra, r.description])
    if isinstance(r, JCCostCode):
        return _line(["C", r.job, r.extra, r.cost_code, r.description])
    if isinstance(r, JCCategory):
        return _line(["T", r.job, r.extra, r.cost_code, r.category, r.description])
    raise ValueError(f"unexpected record {type(r).__name__}")


# The record types each batch kind may hold.
KIND_RECORDS = {
    "ap_invoice": (APInvoice, APDistribution),
    "ap_vendor": (APVendor,),
    "jc_job": (JCJob, JCCostCode, JCCategory),
    "jc_extra": (JCExtra, JCCostCode, JCCategory),
    "jc_cost_codes": (JCCostCode, JCCategory),
}


def import_file(batch: Batch) -> str:
    """The import file text for a batch of any kind (see the layouts above)."""
    allowed = KIND_RECORDS.get(batch.kind)
    if allowed is None:
        raise ValueError(f"no import file for batch kind {batch.kind!r}")
    lines = []
    for r in batch.records:
        if not isinstance(r, allowed):
            raise ValueError(f"unexpected record {type(r).__name__} in a {batch.kind} batch")
        lines.append(_record_line(r))
    return "".join(line + "\r\n" for line in lines)


def ap_import_file(batch: Batch) -> str:
    """The AP import file text for an "ap_invoice" batch."""
    if batch.kind != "ap_invoice":
        raise ValueError(f"not an AP invoice batch: {batch.kind!r}")
    return import_file(batch)


def parse_import_file(text: str) -> list[list[str]]:
    """The file's rows as lists of field strings (any kind's file)."""
    return [row for row in csv.reader(io.StringIO(text, newline="")) if row]


parse_ap_import_file = parse_import_file  # the older name, kept


def drop_file_name(batch_id: str) -> str:
    """A safe file name for a batch: unusual characters become "_", no leading dots."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", batch_id).lstrip(".")
    if safe != batch_id or not safe:
        # a hash of the real id keeps e.g. "a/b" and "a_b" from sharing one file
        safe += "-" + hashlib.sha1(batch_id.encode()).hexdigest()[:8]
    return safe + ".txt"
