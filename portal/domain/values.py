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
           if isinstance(value, str) and any((ord(c) < 32 or ord(c) == 127) and c not in "\t\r\n" for c in value)}
    if bad:
        raise Invalid("Some fields hold characters that cannot be stored: " + ", ".join(sorted(bad)) + ".",
                      fields=bad)


# The largest id a form may name: PostgreSQL's integer (portal.web.MAX_ID bounds URL ids the same).
MAX_ID = 2**31 - 1
_ID = re.compile(r"[0-9]{1,10}")


def parse_id(value: object, field: str) -> int:
    """An id posted in a form field: ASCII digits only ("²" and "٣" are digits to int()), 1 to
    MAX_ID (a larger one would overflow the query); else Invalid naming `field`."""
    text = (value if isinstance(value, str) else "" if value is None else str(value)).strip()
    if not text:
        raise Invalid("Please correct the highlighted fields.", fields={field: "Choose one."})
    if not _ID.fullmatch(text) or not 1 <= int(text) <= MAX_ID:
        shown = text if len(text) <= 20 else text[:20] + "…"
        raise Invalid("Please correct the highlighted fields.", fields={field: f"'{shown}' is not a valid choice."})
    return int(text)


def as_id(value: object) -> int | None:
    """The id a form field names, or None when it names none (empty, not ASCII digits, out of
    range): for a choice whose own message ("Choose the contract company.") says what is wrong."""
    try:
        return parse_id(value, "id")
    except Invalid:
        return None


def optional_id(value: object, field: str) -> int | None:
    """parse_id, or None when the field is empty (an optional choice left blank)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_id(value, field)


def parse_ids(values: list[str], field: str = "ids") -> list[int]:
    """The ids of a bulk action (ticked boxes): every one must be an id, else Invalid naming
    `field` and the first bad value; duplicates dropped, order kept."""
    ids: list[int] = []
    for value in values:
        try:
            number = parse_id(value, field)
        except Invalid:
            shown = value if len(value) <= 20 else value[:20] + "…"
            raise Invalid(f"'{shown}' is not an item id: nothing was done.",
                          fields={field: f"'{shown}' is not an item id."}) from None
        if number not in ids:
            ids.append(number)
    return ids


def csv_safe(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ (or a tab or carriage
    return) would be run as a formula, so it is written with a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def setting_value(value: object) -> str:
    """A setting as people read it: on/off, and one entry per item of a group."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {setting_value(v)}" for k, v in value.items())
    return "" if value is None else str(value)
