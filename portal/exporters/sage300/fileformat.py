"""Sage 300 CRE AP import file (Accounts Payable > Tools > Import Invoices), fixed format.

One line per record, CRLF line ends, comma separated, every field in double quotes
(a double quote inside a value is doubled), dates MM/DD/YYYY, amounts with 2 decimals.

APIF (invoice):      "APIF", Vendor, Invoice, Description, Amount, Tax, Discount Offered,
                     Misc Deduction, Invoice Date, Accounting Date, Retainage
APDF (distribution): "APDF", Commitment, Commitment line item, Job, Extra, Cost Code,
                     Category, Description, Amount, Retainage, Expense account

Tax, Discount Offered, Misc Deduction and Expense account are always "" (the portal
never exports tax; job distributions take the expense account from Sage's setup).

Example:
    "APIF","V100","INV-7","Pay app 3","1500.00","","","","10/15/2026","10/31/2026","150.00"
    "APDF","C-100","1","J-1","","01-100","SUB","Framing","1500.00","150.00",""
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date
from decimal import Decimal

from .records import APDistribution, APInvoice, Batch

# Sage 300 CRE runs on Windows and reads import files as ANSI text.
FILE_ENCODING = "cp1252"


def _date(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def _amount(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _line(fields) -> str:
    return ",".join('"' + str(f).replace('"', '""') + '"' for f in fields)


def ap_import_file(batch: Batch) -> str:
    """The AP import file text for an "ap_invoice" batch."""
    if batch.kind != "ap_invoice":
        raise ValueError(f"not an AP invoice batch: {batch.kind!r}")
    lines = []
    for r in batch.records:
        if isinstance(r, APInvoice):
            lines.append(_line(["APIF", r.vendor, r.invoice, r.description, _amount(r.amount),
                                "", "", "", _date(r.invoice_date), _date(r.accounting_date),
                                _amount(r.retainage)]))
        elif isinstance(r, APDistribution):
            lines.append(_line(["APDF", r.commitment, r.commitment_item, r.job, r.extra,
                                r.cost_code, r.category, r.description, _amount(r.amount),
                                _amount(r.retainage), ""]))
        else:
            raise ValueError(f"unexpected record {type(r).__name__}")
    return "".join(line + "\r\n" for line in lines)


def parse_ap_import_file(text: str) -> list[list[str]]:
    """The file's rows as lists of field strings."""
    return [row for row in csv.reader(io.StringIO(text, newline="")) if row]


def drop_file_name(batch_id: str) -> str:
    """A safe file name for a batch: unusual characters become "_", no leading dots."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", batch_id).lstrip(".")
    if safe != batch_id or not safe:
        # a hash of the real id keeps e.g. "a/b" and "a_b" from sharing one file
        safe += "-" + hashlib.sha1(batch_id.encode()).hexdigest()[:8]
    return safe + ".txt"
