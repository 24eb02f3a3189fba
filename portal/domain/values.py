"""Values as people type and read them: dates, amounts, money and US dates."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from portal.domain.errors import Invalid


def parse_date(value: str | date | None, field: str) -> date:
    """Dates from forms: ISO (input type=date) or MM/DD/YYYY as accountants type them."""
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise Invalid("Please correct the highlighted fields.",
                  fields={field: "Enter a date as MM/DD/YYYY." if text else "This field is required."})


def parse_money(value: object, field: str, places: str = "0.01") -> Decimal:
    """An amount typed by a person ($ and thousands separators allowed), to cents by default."""
    text = str(value if value is not None else "").replace(",", "").replace("$", "").strip() or "0"
    try:
        amount = Decimal(text).quantize(Decimal(places))
    except InvalidOperation:
        raise Invalid("Please correct the highlighted fields.",
                      fields={field: f"'{value}' is not an amount."}) from None
    if abs(amount) >= Decimal("1000000000"):
        raise Invalid("Please correct the highlighted fields.", fields={field: "Amount is too large."})
    return amount


def money(value: Decimal | None) -> str:
    """$1,234.50, -$12.00; "" for no value."""
    if value is None:
        return ""
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def mmddyyyy(value: date | None) -> str:
    return value.strftime("%m/%d/%Y") if value else ""


def refuse_unstorable(raw: dict) -> None:
    """Invalid, naming each field, when a text holds a control character (a NUL byte...):
    PostgreSQL refuses NUL in text, and none of them belongs in a Sage field. Refused at the
    form, not later in the export job."""
    bad = {key: "Remove the control character (such as a NUL byte) from this field." for key, value in raw.items()
           if isinstance(value, str) and any(ord(c) < 32 and c not in "\t\r\n" for c in value)}
    if bad:
        raise Invalid("Some fields hold characters that cannot be stored: " + ", ".join(sorted(bad)) + ".",
                      fields=bad)
