"""Sage 300 CRE import files, one per batch: the text the drop folder receives.

Every file: one line per record, CRLF line ends, comma separated, every field in double
quotes (a double quote inside a value is doubled), written as cp1252 (ANSI) text.
`import_file(batch)` gives the text for any batch kind; `ap_import_file` is the AP one.

AP invoice import (Accounts Payable > Tools > Import Invoices), fixed format, kind
"ap_invoice"; dates MM/DD/YYYY, amounts with 2 decimals:

APIF (invoice):      "APIF", Vendor, Invoice, Description, Amount, Tax, Discount Offered,
                     Misc Deduction, Invoice Date, Accounting Date, Retainage
APDF (distribution): "APDF", Commitment, Commitment line item, Job, Extra, Cost Code,
                     Category, Description, Amount, Retainage, Expense account, Units

Tax, Discount Offered, Misc Deduction and Expense account are always "" (the portal
never exports tax; job distributions take the expense account from Sage's setup). Units is
the quantity invoiced this period on a Unit/Qty commitment ("" otherwise: the guide's
Accounting Method note); the facts page does not list it, so it comes last, after the
confirmed fields.
An invoice exported on hold (the portal's insurance gate with "export on hold") has a 12th
APIF field, Hold = "Y" (the simulator's layout: the invoice is held for payment in AP);
an invoice not on hold has none, so its line is as above.

Example:
    "APIF","V100","INV-7","Pay app 3","1500.00","","","","10/15/2026","10/31/2026","150.00"
    "APDF","C-100","1","J-1","","01-100","SUB","Framing","1500.00","150.00","",""

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

Financial imports: THE SIMULATOR'S LAYOUT as well (record ids and field order are ours,
after the guide's data mapping tables and the facts page; check them against Sage's import
setup). Amounts have 2 decimals, units and unit costs are written as given ("" when none),
dates MM/DD/YYYY. The guide sends a CCO with a new line as 2 import files: the new
commitment item (kind "jc_commitment_item", CI records only), then the change order (kind
"jc_commitment_co", CO and CC; the simulator still takes CI records before the CO).

JC commitment import, kinds "jc_commitment" (CM, CI), "jc_commitment_item" (CI) and
"jc_commitment_co" (CO, CC):
    CM (commitment):       "CM", Commitment, Commitment Type, Description, Vendor, Job, Date,
                           Retainage %
    CI (commitment item):  "CI", Commitment, Item, Description, Job, Extra, Cost Code, Category,
                           Units, Unit Cost, Unit Description, Amount
    CO (change order):     "CO", Commitment, Commitment CO, Description, Date, Status
    CC (change order item): "CC", Commitment, Commitment CO, Item, Amount, Units, Description,
                           Job, Cost Code, Category, Unit Cost, Unit Description
JC transaction import, kinds "jc_budget", "jc_budget_change" (JCT) and "jc_pcco" (CNI, JCT),
after the third-party misc-worksheet line (JCTMW) of the facts page:
    JCT (transaction):     "JCT", Job, Extra, Cost Code, Category, Transaction Type, Date,
                           Description, Amount, Chg Mgmt Ref 1, Chg Mgmt Ref 2, Contract,
                           Contract Item
    CNI (contract item):   "CNI", Contract, Item, Description
AR invoice import, kind "ar_invoice" (invoice lines start with I, distributions with D):
    I  (invoice):          "I", Customer, Invoice, Contract, Job, Description, Invoice Date,
                           Accounting Date, Amount, Retainage
    D  (distribution):     "D", Invoice, Contract, Contract Item, Description, Amount, Retainage

Example (kind "jc_pcco"):
    "CNI","CN-1","040","Canopy"
    "JCT","J-1","","01-100","SUB","Approved est chng","10/01/2026","Subcontract","2500.00","PCCO-7","HH2","",""
    "JCT","J-1","","","","Approved Schedule Value Change","10/01/2026","Canopy","2750.00","PCCO-7","HH2","CN-1","040"

Generic records (a batch kind with no layout above, whose records declare SAGE_FIELDS and
SAGE_KEY; see records.GenericRecord): one line per record, the record's SAGE_RECORD_ID (the
batch kind when it declares none), then each declared field once, in SAGE_FIELDS order, as
records.field_text writes it ("" for None, Y/N, MM/DD/YYYY, numbers as given).

Example (kind "ar_customer", a record declaring SageField("Customer", "customer", 10) and
SageField("Name", "name", 30)):
    "ar_customer","CU-1","City of Springfield"
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date
from decimal import Decimal

from .records import (
    APDistribution,
    APInvoice,
    APVendor,
    ARDistribution,
    ARInvoice,
    Batch,
    CNContractItem,
    GenericRecord,
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
    is_generic,
    record_id,
)

# Sage 300 CRE runs on Windows and reads import files as ANSI text.
FILE_ENCODING = "cp1252"


def _date(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def _amount(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _number(value) -> str:
    """Units and unit costs as given (no exponent); "" when there is none."""
    return "" if value is None else format(Decimal(value), "f")


def _line(fields) -> str:
    return ",".join('"' + str(f).replace('"', '""') + '"' for f in fields)


def _record_line(r) -> str:
    if isinstance(r, APInvoice):
        return _line(["APIF", r.vendor, r.invoice, r.description, _amount(r.amount),
                      "", "", "", _date(r.invoice_date), _date(r.accounting_date),
                      _amount(r.retainage)] + (["Y"] if r.hold else []))
    if isinstance(r, APDistribution):
        return _line(["APDF", r.commitment, r.commitment_item, r.job, r.extra,
                      r.cost_code, r.category, r.description, _amount(r.amount),
                      _amount(r.retainage), "", _number(r.units)])
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
    if isinstance(r, JCCommitment):
        return _line(["CM", r.commitment, r.commitment_type, r.description, r.vendor, r.job,
                      _date(r.date), _amount(r.retainage_pct)])
    if isinstance(r, JCCommitmentItem):
        return _line(["CI", r.commitment, r.item, r.description, r.job, r.extra, r.cost_code,
                      r.category, _number(r.units), _number(r.unit_cost), r.unit_description,
                      _amount(r.amount)])
    if isinstance(r, JCCommitmentCO):
        return _line(["CO", r.commitment, r.cco, r.description, _date(r.date), r.status])
    if isinstance(r, JCCommitmentCOItem):
        return _line(["CC", r.commitment, r.cco, r.item, _amount(r.amount), _number(r.units),
                      r.description, r.job, r.cost_code, r.category, _number(r.unit_cost),
                      r.unit_description])
    if isinstance(r, JCTransaction):
        return _line(["JCT", r.job, r.extra, r.cost_code, r.category, r.transaction_type,
                      _date(r.date), r.description, _amount(r.amount), r.ref_1, r.ref_2,
                      r.contract, r.contract_item])
    if isinstance(r, CNContractItem):
        return _line(["CNI", r.contract, r.item, r.description])
    if isinstance(r, ARInvoice):
        return _line(["I", r.customer, r.invoice, r.contract, r.job, r.description,
                      _date(r.invoice_date), _date(r.accounting_date), _amount(r.amount),
                      _amount(r.retainage)])
    if isinstance(r, ARDistribution):
        return _line(["D", r.invoice, r.contract, r.contract_item, r.description,
                      _amount(r.amount), _amount(r.retainage)])
    raise ValueError(f"unexpected record {type(r).__name__}")


# The record types each batch kind may hold.
KIND_RECORDS = {
    "ap_invoice": (APInvoice, APDistribution),
    "ap_vendor": (APVendor,),
    "jc_job": (JCJob, JCCostCode, JCCategory),
    "jc_extra": (JCExtra, JCCostCode, JCCategory),
    "jc_cost_codes": (JCCostCode, JCCategory),
    "jc_commitment": (JCCommitment, JCCommitmentItem),
    "jc_commitment_item": (JCCommitmentItem,),
    "jc_commitment_co": (JCCommitmentItem, JCCommitmentCO, JCCommitmentCOItem),
    "jc_budget": (JCTransaction,),
    "jc_budget_change": (JCTransaction,),
    "jc_pcco": (CNContractItem, JCTransaction),
    "ar_invoice": (ARInvoice, ARDistribution),
}


def generic_line(record: GenericRecord, kind: str) -> str:
    """A generic record's line: its record id, then its declared fields in order (each once)."""
    attrs = dict.fromkeys(f.attr for f in type(record).SAGE_FIELDS)
    return _line([record_id(record, kind), *(field_text(getattr(record, attr)) for attr in attrs)])


def import_file(batch: Batch) -> str:
    """The import file text for a batch of any kind (see the layouts above)."""
    allowed = KIND_RECORDS.get(batch.kind)
    if allowed is None:
        if not batch.records or not all(is_generic(r) for r in batch.records):
            raise ValueError(f"no import file for batch kind {batch.kind!r}")
        return "".join(generic_line(r, batch.kind) + "\r\n" for r in batch.records)
    lines = []
    for r in batch.records:
        if not isinstance(r, allowed):
            raise ValueError(f"unexpected record {type(r).__name__} in a {batch.kind} batch")
        lines.append(_record_line(r))
    return "".join(line + "\r\n" for line in lines)


def encoding_problem(text: str) -> str | None:
    """Why `text` cannot be written as an import file (a character outside Windows-1252, which
    Sage would read as "?"), naming the line, the field and the character; None when it can."""
    try:
        text.encode(FILE_ENCODING)
        return None
    except UnicodeEncodeError as exc:
        char = text[exc.start]
    for number, row in enumerate(parse_import_file(text), start=1):
        for position, value in enumerate(row, start=1):
            if char in value:
                return (f"'{char}' (U+{ord(char):04X}) cannot be written to Sage's import file (Windows-1252 "
                        f"characters only): line {number}, field {position} (\"{value[:40]}\"). Nothing was "
                        "imported; correct it in the portal and export again.")
    return f"'{char}' (U+{ord(char):04X}) cannot be written to Sage's import file (Windows-1252 characters only)."


class UnwritableCharacter(ValueError):
    """A record holds a character the import file cannot carry (outside Windows-1252)."""


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
