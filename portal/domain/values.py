"""Values as people type and read them: dates, amounts, money and US dates."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

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


# An amount as people type it, once "$" is dropped: ASCII digits only (Decimal would also read
# Arabic-Indic and other Unicode digits, "NaN", "Infinity" and "1E+9"), an optional sign, thousands
# commas in groups of three, one decimal point.
_AMOUNT = re.compile(r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.[0-9]*)?")
MONEY_LIMIT = Decimal("1000000000")


def parse_money(value: object, field: str, places: str = "0.01") -> Decimal:
    """An amount typed by a person ($ and thousands separators allowed) with at most `places`
    decimals (cents by default), finite and under a billion; else Invalid naming `field`."""
    step = Decimal(places)
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value if value is not None else "").strip().replace("$", "", 1).strip() or "0"
        if not _AMOUNT.fullmatch(text) or not any(c.isdigit() for c in text):
            raise Invalid("Please correct the highlighted fields.",
                          fields={field: f"'{value}' is not an amount."})
        amount = Decimal(text.replace(",", ""))
    if not amount.is_finite():
        raise Invalid("Please correct the highlighted fields.", fields={field: f"'{value}' is not an amount."})
    if abs(amount) >= MONEY_LIMIT:
        raise Invalid("Please correct the highlighted fields.", fields={field: "Amount is too large."})
    rounded = amount.quantize(step)
    if rounded != amount:
        raise Invalid("Please correct the highlighted fields.",
                      fields={field: f"Use at most {len(places.partition('.')[2])} decimal places."})
    return rounded


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
