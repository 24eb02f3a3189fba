"""Sage's setup as a Sage user changes it: the AP Settings the subcontractor invoice export
needs (Date Received Usage, Payment Date Usage), hh2's Tax Group Sync, and AP Vendor
Insurance (global level); and the setup checks the connector reports from them.

setup-subcontractor-invoice-export.txt: "Either the Not Used or Not Required option button must
be selected for 'Date Received Usage' and 'Payment Date Usage' in the 'AP Settings - Invoice
Settings'", and "If your company is using the ERP Integrations tool to import Sage 300 CRE tax
codes and tax groups into Procore, you will not be able to export subcontractor invoices".
As in sage_user.py, each action checks everything first and raises SageInputError naming the
field (nothing changed); it returns Sage's confirmation.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, insert, select, update

from ..records import DATE_RECEIVED_USAGE, PAYMENT_DATE_USAGE, TAX_GROUPS, SetupCheck
from .rules import (
    DATE_USAGES,
    INSURANCE_INPUT,
    INSURANCE_TYPES,
    TAX_GROUP_SYNC,
    SageInputError,
    check_choice,
    check_input,
)
from .schema import SimulatorBase, vendor_insurance_t, vendor_t

# key -> (setting, label); the usages pass when Not Required or Not Used
AP_USAGES = {
    DATE_RECEIVED_USAGE: ("date_received_usage", "Sage AP setting Date Received Usage"),
    PAYMENT_DATE_USAGE: ("payment_date_usage", "Sage AP setting Payment Date Usage"),
}
USAGE_FIX = "set it to Not Required in Sage AP Settings (Invoice Settings)"
TAX_GROUPS_LABEL = "Tax groups imported from Sage 300 CRE (hh2 Tax Group Sync)"
TAX_GROUPS_FIX = ("subcontractor invoices cannot be exported while tax groups are imported; "
                  "ask ERP Support to turn Tax Group Sync off")


def setup_checks_from(settings: dict) -> list[SetupCheck]:
    """The checks from the simulator's settings (see SimulatorBase.settings)."""
    checks = []
    for key, (setting, label) in AP_USAGES.items():
        value = settings[setting]
        checks.append(SetupCheck(key, label, value != "Required", value, "" if value != "Required" else USAGE_FIX))
    on = settings["tax_group_sync"] == "On"
    checks.append(SetupCheck(TAX_GROUPS, TAX_GROUPS_LABEL, not on, "On" if on else "Off",
                             TAX_GROUPS_FIX if on else ""))
    return checks


def _date(field: str, value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise SageInputError(field, "Dates must be like 2026-10-31.") from None


class SageSetupMixin(SimulatorBase):
    """AP Settings, Tax Group Sync and AP Vendor Insurance, as a Sage user keeps them."""

    # ---- AP settings and tax groups ----------------------------------------------------

    def change_ap_settings(self, date_received_usage: str = "", payment_date_usage: str = "") -> str:
        """AP Settings - Invoice Settings: Date Received Usage and Payment Date Usage (Required,
        Not Required or Not Used); a blank one is left as it is."""
        given = {"date_received_usage": (date_received_usage or "").strip(),
                 "payment_date_usage": (payment_date_usage or "").strip()}
        if not any(given.values()):
            raise SageInputError("date_received_usage", "Choose Date Received Usage, Payment Date Usage or both.")
        for field, value in given.items():
            if value:
                check_choice(field, value, DATE_USAGES)
        for field, value in given.items():
            if value:
                self.set_setting(field, value)
        current = self.settings()
        return (f"AP Settings saved: Date Received Usage {current['date_received_usage']}, "
                f"Payment Date Usage {current['payment_date_usage']}.")

    def change_tax_group_sync(self, status: str) -> str:
        """Turn hh2's Tax Group Sync on (Sage's tax groups are imported) or off."""
        check_choice("status", status, TAX_GROUP_SYNC)
        self.set_setting("tax_group_sync", status)
        return f"Tax Group Sync {'on: tax groups are imported' if status == 'On' else 'off'}."

    def setup_checks(self) -> list[SetupCheck]:
        """Sage's setup prerequisites of the portal's exports, as they stand now."""
        return setup_checks_from(self.settings())

    # ---- AP Vendor Insurance -----------------------------------------------------------

    def set_vendor_insurance(self, vendor: str, insurance_type: str, policy_number: str = "",
                             insurance_company: str = "", limit_amount=None, effective_date=None,
                             expiration_date=None) -> str:
        """Enter or change one of a vendor's insurance policies (AP Vendor Insurance)."""
        check_input(dict(vendor=vendor, insurance_type=insurance_type, policy_number=policy_number,
                         insurance_company=insurance_company), INSURANCE_INPUT, required=("vendor",))
        check_choice("insurance_type", insurance_type, INSURANCE_TYPES)
        limit = None
        if limit_amount not in (None, ""):
            try:
                limit = Decimal(str(limit_amount).replace(",", "").strip())
            except InvalidOperation:
                limit = Decimal("NaN")
            if not limit.is_finite() or limit < 0 or limit >= Decimal("1e10"):
                raise SageInputError("limit_amount", "Limit must be an amount like 1000000.00.")
        effective, expiration = _date("effective_date", effective_date), _date("expiration_date", expiration_date)
        if expiration is None:
            raise SageInputError("expiration_date", "Expiration date is required.")
        if effective and expiration < effective:
            raise SageInputError("expiration_date", "Expiration date cannot be before the effective date.")
        values = dict(Policy_Number=policy_number or "", Insurance_Company=insurance_company or "",
                      Limit_Amount=limit, Effective_Date=effective, Expiration_Date=expiration)
        with self.engine.begin() as conn:
            if conn.scalar(select(vendor_t.c.Vendor).where(vendor_t.c.Vendor == vendor)) is None:
                raise SageInputError("vendor", f"No vendor {vendor} in Sage 300 CRE.")
            where = (vendor_insurance_t.c.Vendor == vendor, vendor_insurance_t.c.Insurance_Type == insurance_type)
            if conn.execute(update(vendor_insurance_t).where(*where).values(**values)).rowcount:
                return f"{insurance_type} insurance of vendor {vendor} changed."
            conn.execute(insert(vendor_insurance_t).values(Vendor=vendor, Insurance_Type=insurance_type, **values))
        return f"{insurance_type} insurance of vendor {vendor} added."

    def delete_vendor_insurance(self, vendor: str, insurance_type: str) -> str:
        """Remove one of a vendor's insurance policies."""
        check_choice("insurance_type", insurance_type, INSURANCE_TYPES)
        with self.engine.begin() as conn:
            gone = conn.execute(delete(vendor_insurance_t).where(
                vendor_insurance_t.c.Vendor == vendor, vendor_insurance_t.c.Insurance_Type == insurance_type)).rowcount
        if not gone:
            raise SageInputError("insurance_type",
                                 f"Vendor {vendor} has no {insurance_type} insurance in Sage 300 CRE.")
        return f"{insurance_type} insurance of vendor {vendor} removed."

    def list_vendor_insurance(self, vendor: str | None = None) -> list[dict]:
        """AP Vendor Insurance rows (one vendor's, or every vendor's), by vendor and type."""
        query = select(vendor_insurance_t).order_by(vendor_insurance_t.c.Vendor, vendor_insurance_t.c.Insurance_Type)
        if vendor is not None:
            query = query.where(vendor_insurance_t.c.Vendor == vendor)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
