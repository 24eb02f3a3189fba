"""The insurance compliance gate: a contract company's certificates (synced from Sage's AP Vendor
Insurance) checked before an approver accepts its subcontractor invoice or commitment.

Per commitment type (subcontract, purchase order) the company setting is Not Required, Warn or
Block: with Warn the tab rows and the Accept form list the expired or missing certificates; with
Block Accept is refused with that list, unless the setting allows exporting on hold, when an
invoice (a type that holds_in_ap) is exported with the hold flag in its Sage AP record. Peers do
the same (Procore Pay's Not Required / Allows Payment / Prevents Payment, Vista and TimberScan's
"Hold in AP"). `expiring` is what the daily summary lists: certificates expiring within 30 days.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import settings
from portal.domain.errors import Invalid, NotFound
from portal.domain.models import Vendor, VendorInsurance
from portal.domain.types.base import ItemType
from portal.domain.values import mmddyyyy

EXPIRING_DAYS = 30
TYPE_LABELS = dict(settings.INSURANCE_TYPES)
# Sage's default insurance types (AP Vendor Insurance) -> the portal's keys
SAGE_TYPES = {"General Liability": "general_liability", "Automobile": "automobile", "Umbrella": "umbrella",
              "Workers Compensation": "workers_compensation"}
NOT_REQUIRED, WARN, BLOCK = "not_required", "warn", "block"
VALID, EXPIRING, EXPIRED = "valid", "expiring", "expired"


@dataclass(frozen=True)
class Gate:
    """What the gate says about one item: the setting that applies and the certificates' problems."""
    mode: str                       # NOT_REQUIRED, WARN or BLOCK
    hold_allowed: bool              # Block exports invoices on hold instead of refusing them
    vendor: str                     # the contract company's name
    problems: tuple[str, ...]       # "General Liability expired 01/31/2026", "Umbrella missing"

    @property
    def shown(self) -> bool:
        """The tab row and the Accept form list the problems (Warn or Block)."""
        return self.mode != NOT_REQUIRED and bool(self.problems)

    @property
    def text(self) -> str:
        return f"{self.vendor}'s insurance: " + "; ".join(self.problems) + "."


def status_of(expiration: date | None, today: date) -> str:
    if expiration is None or expiration < today:
        return EXPIRED
    return EXPIRING if expiration <= today + timedelta(days=EXPIRING_DAYS) else VALID


def problems_of(certificates: Iterable[VendorInsurance], required: Iterable[str], today: date) -> tuple[str, ...]:
    """Each required certificate the vendor lacks or whose expiration date has passed."""
    held = {c.insurance_type: c for c in certificates}
    problems = []
    for key in required:
        label = TYPE_LABELS.get(key, key)
        cert = held.get(key)
        if cert is None:
            problems.append(f"{label} missing")
        elif status_of(cert.expiration_date, today) == EXPIRED:
            problems.append(f"{label} expired {mmddyyyy(cert.expiration_date)}" if cert.expiration_date
                            else f"{label} has no expiration date")
    return tuple(problems)


def gates(session: Session, item_type: ItemType, items: Iterable[Any], today: date | None = None) -> dict[int, Gate]:
    """The gate of each item (by id) whose type has a gate and whose setting is not Not Required:
    the setting and every vendor's certificates read in two queries for a page of items."""
    subjects = {item.id: s for item in items if (s := item_type.insurance_subject(item)) is not None}
    if not subjects:
        return {}
    current = settings.load(session)
    wanted = {i: s for i, s in subjects.items() if current.insurance_gate.get(s[0], NOT_REQUIRED) != NOT_REQUIRED}
    if not wanted:
        return {}
    today = today or date.today()
    vendor_ids = sorted({vendor_id for _, vendor_id in wanted.values()})
    names = dict(session.execute(select(Vendor.id, Vendor.name).where(Vendor.id.in_(vendor_ids))).all())
    held: dict[int, list[VendorInsurance]] = {}
    for cert in session.scalars(select(VendorInsurance).where(VendorInsurance.vendor_id.in_(vendor_ids))):
        held.setdefault(cert.vendor_id, []).append(cert)
    return {item_id: Gate(current.insurance_gate[kind], bool(current.insurance_hold.get(kind)),
                          names.get(vendor_id, ""), problems_of(held.get(vendor_id, ()),
                                                                current.insurance_required, today))
            for item_id, (kind, vendor_id) in wanted.items()}


def gate_for(session: Session, item_type: ItemType, item: Any, today: date | None = None) -> Gate | None:
    return gates(session, item_type, [item], today).get(item.id)


def decide(item_type: ItemType, gate: Gate | None, fields: dict) -> dict:
    """Accept's export fields after the gate: unchanged (no gate, Not Required, Warn, or nothing
    wrong), with hold set (Block, hold allowed, a type exported on hold), or Invalid listing the
    certificates (Block)."""
    fields = {k: v for k, v in fields.items() if k != "hold"}
    if gate is None or not gate.problems or gate.mode != BLOCK:
        return fields
    if gate.hold_allowed and item_type.holds_in_ap:
        return {**fields, "hold": True}
    message = f"Accept refused: {gate.text} Ask for current certificates and sync the vendor's insurance from Sage."
    raise Invalid(message, fields={"_": message})


def checked_fields(session: Session, item_type: ItemType, item: Any, fields: dict,
                   today: date | None = None) -> tuple[dict, Gate | None]:
    """decide() for one item; also returns its gate (its problems go in the audit row)."""
    gate = gate_for(session, item_type, item, today)
    return decide(item_type, gate, fields), gate


# ---- the vendor's page and the daily summary -------------------------------------------------

@dataclass(frozen=True)
class Certificate:
    vendor_id: int
    vendor: str
    type_label: str
    policy_number: str
    carrier: str
    limit_amount: Any
    effective_date: date | None
    expiration_date: date | None
    status: str                    # VALID, EXPIRING or EXPIRED


def _certificates(session: Session, query, today: date) -> list[Certificate]:
    return [Certificate(c.vendor_id, name, TYPE_LABELS.get(c.insurance_type, c.insurance_type), c.policy_number,
                        c.carrier, c.limit_amount, c.effective_date, c.expiration_date,
                        status_of(c.expiration_date, today))
            for c, name in session.execute(query)]


def get_vendor(session: Session, vendor_id: int) -> Vendor:
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound("That company does not exist.")
    return vendor


def certificates(session: Session, vendor_id: int, today: date | None = None) -> list[Certificate]:
    """A vendor's certificates, soonest expiry first, each valid, expiring (within 30 days) or expired."""
    query = (select(VendorInsurance, Vendor.name).join(Vendor, Vendor.id == VendorInsurance.vendor_id)
             .where(VendorInsurance.vendor_id == vendor_id).order_by(VendorInsurance.expiration_date,
                                                                      VendorInsurance.insurance_type))
    return _certificates(session, query, today or date.today())


def missing(session: Session, vendor_id: int) -> list[str]:
    """The required insurance types a vendor holds no certificate of."""
    held = set(session.scalars(select(VendorInsurance.insurance_type).where(VendorInsurance.vendor_id == vendor_id)))
    return [TYPE_LABELS.get(k, k) for k in settings.load(session).insurance_required if k not in held]


def expiring(session: Session, today: date | None = None, within_days: int = EXPIRING_DAYS,
             vendor_id: int | None = None) -> list[Certificate]:
    """Certificates expiring from today to within_days from now, soonest first (the daily summary)."""
    today = today or date.today()
    query = (select(VendorInsurance, Vendor.name).join(Vendor, Vendor.id == VendorInsurance.vendor_id)
             .where(VendorInsurance.expiration_date >= today,
                    VendorInsurance.expiration_date <= today + timedelta(days=within_days))
             .order_by(VendorInsurance.expiration_date, Vendor.name, VendorInsurance.insurance_type))
    if vendor_id is not None:
        query = query.where(VendorInsurance.vendor_id == vendor_id)
    return _certificates(session, query, today)
