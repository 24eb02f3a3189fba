"""The ERP Integrations tool's company settings (ERP Admin only), every change audited."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import ScalarSelect, select
from sqlalchemy.orm import Session, selectinload

from portal.domain import policy
from portal.domain.errors import Invalid, PermissionDenied
from portal.domain.models import Company, Setting, SettingChange, User, utcnow
from portal.domain.uow import commit, transactional


class Switches(dict):
    """Settings that are off unless stored on: a key nobody turned on reads False."""

    def __missing__(self, key: str) -> bool:
        return False


@dataclass(frozen=True)
class Settings:
    direct_export: Switches        # the item types' direct_export_setting keys that are on
    use_contract_number_as_sage_id: bool
    consolidate_invoice_lines: bool
    export_forecast_amounts: bool
    job_number_mask: str           # "#" a digit, "A" a letter, anything else literal; "" = any
    vendor_auto_update: bool       # linked companies follow Sage's address and phone
    auto_add_budget_lines: bool    # new Sage cost code/category combos become budget lines
    designate_prime_contract_method: bool  # an ERP Admin picks Unit- or Amount-based before importing
    # the insurance compliance gate, per commitment type (subcontract, purchase_order):
    insurance_gate: dict           # "not_required" | "warn" | "block"
    insurance_hold: dict           # with block: export invoices on hold in Sage AP instead of refusing
    insurance_required: list       # the insurance types (compliance.INSURANCE_TYPES' keys) a vendor needs
    # the IANA zone every time is shown in ("America/New_York"); "": the server's COMPANY_TIME_ZONE
    company_time_zone: str

    def direct(self, key: str | None) -> bool:
        return bool(key and self.direct_export.get(key))


DEFAULTS: dict[str, Any] = {
    "direct_export": {},
    "use_contract_number_as_sage_id": False,
    "consolidate_invoice_lines": True,
    "export_forecast_amounts": False,
    "job_number_mask": "##-###",
    "vendor_auto_update": False,
    "auto_add_budget_lines": False,
    "designate_prime_contract_method": False,
    "insurance_gate": {"subcontract": "not_required", "purchase_order": "not_required"},
    "insurance_hold": {"subcontract": False, "purchase_order": False},
    "insurance_required": ["general_liability", "workers_compensation"],
    "company_time_zone": "",
}
TIME_ZONE_MAX = 64   # the longest IANA zone name is 32 characters
COMMITMENT_TYPES = (("subcontract", "Subcontracts"), ("purchase_order", "Purchase Orders"))
GATE_MODES = (("not_required", "Not Required"), ("warn", "Warn"), ("block", "Block"))
# the insurance types a vendor may be required to hold (Sage's default types)
INSURANCE_TYPES = (("general_liability", "General Liability"), ("automobile", "Automobile"),
                   ("umbrella", "Umbrella"), ("workers_compensation", "Workers' Compensation"))


_REMEMBERED = "settings.remembered"


def load(session: Session) -> Settings:
    if _REMEMBERED in session.info:
        return session.info[_REMEMBERED]
    stored = {s.key: s.value for s in session.scalars(select(Setting))}
    values: dict[str, Any] = {k: stored.get(k, v) for k, v in DEFAULTS.items()}  # JSON, as stored
    values["direct_export"] = Switches({k: True for k, on in (values["direct_export"] or {}).items() if on})
    for key in ("insurance_gate", "insurance_hold"):  # a commitment type never saved keeps its default
        values[key] = {**DEFAULTS[key], **(values[key] or {})}
    return Settings(**values)


@contextmanager
def remembered(session: Session) -> Iterator[None]:
    """Inside the block, load() answers from one read: a page of rows each asking for its
    export defaults (which may read a setting) costs one query, not one per row."""
    if _REMEMBERED in session.info:
        yield
        return
    session.info[_REMEMBERED] = load(session)
    try:
        yield
    finally:
        session.info.pop(_REMEMBERED, None)


def stored(key: str) -> ScalarSelect:
    """One setting's stored value as a column of another query (NULL until first saved);
    value_of() turns it into the setting."""
    return select(Setting.value).where(Setting.key == key).scalar_subquery()


def value_of(key: str, raw: object) -> object:
    return DEFAULTS[key] if raw is None else raw


def mask_regex(mask: str) -> re.Pattern:
    parts = []
    for ch in mask:
        parts.append(r"\d" if ch == "#" else "[A-Za-z]" if ch == "A" else re.escape(ch))
    return re.compile("^" + "".join(parts) + "$")


def matches_mask(value: str, mask: str) -> bool:
    return not mask or bool(mask_regex(mask).match(value))


@transactional
def update(session: Session, actor: User, form: dict, direct_export_keys: Iterable[str]) -> Settings:
    """Save the settings form: validated as a whole, one audit row per changed key, one commit.
    direct_export_keys: the Direct Export settings the item types declare."""
    if not policy.can(actor, policy.ERP_ADMIN):
        raise PermissionDenied("Only ERP Integrations admins can change settings.")
    mask = (form.get("job_number_mask") or "").strip()
    if len(mask) > 10:
        raise Invalid("Please correct the highlighted fields.",
                      fields={"job_number_mask": "A Sage Job ID has at most 10 characters."})
    zone_name = (form.get("company_time_zone") or "").strip()
    if zone_name and not known_zone(zone_name):
        raise Invalid("Please correct the highlighted fields.",
                      fields={"company_time_zone": "Choose a time zone from the list, such as America/New_York."})
    gate = {kind: form.get(f"insurance_gate_{kind}") or "not_required" for kind, _ in COMMITMENT_TYPES}
    new = {
        "direct_export": {k: True for k in direct_export_keys if _on(form.get(f"direct_export_{k}"))},
        "use_contract_number_as_sage_id": _on(form.get("use_contract_number_as_sage_id")),
        "consolidate_invoice_lines": _on(form.get("consolidate_invoice_lines")),
        "export_forecast_amounts": _on(form.get("export_forecast_amounts")),
        "job_number_mask": mask,
        "vendor_auto_update": _on(form.get("vendor_auto_update")),
        "auto_add_budget_lines": _on(form.get("auto_add_budget_lines")),
        "designate_prime_contract_method": _on(form.get("designate_prime_contract_method")),
        "insurance_gate": gate,
        "insurance_hold": {kind: _on(form.get(f"insurance_hold_{kind}")) for kind, _ in COMMITMENT_TYPES},
        "insurance_required": [key for key, _ in INSURANCE_TYPES if _on(form.get(f"insurance_required_{key}"))],
        "company_time_zone": zone_name,
    }
    bad = {f"insurance_gate_{kind}": "Choose Not Required, Warn or Block."
           for kind, mode in gate.items() if mode not in dict(GATE_MODES)}
    if bad:
        raise Invalid("Please correct the highlighted fields.", fields=bad)
    current = load(session)
    for key, value in new.items():
        old = getattr(current, key)
        if old == value:
            continue
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=value))
        else:
            row.value = value
        session.add(SettingChange(key=key, old=dict(old) if isinstance(old, Switches) else old, new=value,
                                  actor_id=actor.id, at=utcnow()))
        if key == "consolidate_invoice_lines":
            for company in session.scalars(select(Company)):
                company.consolidate_invoice_lines = bool(value)  # _on() made it a bool
    commit(session)
    return load(session)


def history(session: Session, limit: int = 50) -> list[SettingChange]:
    return list(session.scalars(select(SettingChange).options(selectinload(SettingChange.actor))
                                .order_by(SettingChange.id.desc()).limit(limit)))


def known_zone(name: str) -> bool:
    """An IANA time zone name this machine knows ("America/Chicago"; not a path, not too long)."""
    if len(name) > TIME_ZONE_MAX or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def company_zone(session: Session, fallback: str | None) -> ZoneInfo:
    """The company's time zone: the Settings page's, else `fallback` (COMPANY_TIME_ZONE), else UTC."""
    name = load(session).company_time_zone or fallback or "UTC"
    return ZoneInfo(name) if known_zone(name) else ZoneInfo("UTC")


def zone_names() -> list[str]:
    """The time zones the Settings page offers: the machine's IANA names, sorted."""
    return sorted(available_timezones())


def _on(value) -> bool:
    return value in (True, "on", "1", "true", "y", "yes")
