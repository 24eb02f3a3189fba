"""Sage 300 CRE import records and the plain data the portal hands to the mappers.

Everything here is a frozen dataclass: the mappers are pure functions from the
*Data classes to a Batch of records, and connectors take a Batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


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


# ---- records out -----------------------------------------------------------------

@dataclass(frozen=True)
class APInvoice:
    vendor: str
    invoice: str
    description: str
    invoice_date: date
    accounting_date: date
    amount: Decimal               # work completed + materials stored (= payment due + retainage)
    retainage: Decimal


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


@dataclass(frozen=True)
class Batch:
    """What one export hands to a connector. batch_id is the idempotency key:
    the same batch_id submitted twice must create its records once."""
    batch_id: str
    kind: str                     # "ap_invoice" for now; more kinds arrive with more item types
    records: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class SageResult:
    ok: bool
    message: str = ""             # Sage's own text when refused
    reference: str = ""           # e.g. "VENDOR/INVOICE" of the created AP invoice
    replayed: bool = False        # True when the batch_id had already been imported


class ConnectorUnavailable(Exception):
    """Sage could not be reached at all (nothing was imported)."""


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


@dataclass(frozen=True)
class JCJob:
    job: str
    description: str
    address_1: str
    city: str
    state: str
    zip: str


@dataclass(frozen=True)
class JCExtra:
    job: str
    extra: str
    description: str


@dataclass(frozen=True)
class JCCostCode:
    job: str
    extra: str
    cost_code: str
    description: str


@dataclass(frozen=True)
class JCCategory:
    job: str
    extra: str
    cost_code: str
    category: str
    description: str
