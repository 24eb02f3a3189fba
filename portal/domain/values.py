"""Values as people type and read them: dates, amounts, money and US dates."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
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


def parse_period(form: dict, errors: dict, names: tuple[str, ...] = ("billing_date", "period_start", "period_end")
                 ) -> dict[str, date]:
    """The dates of a billing period's form (each error recorded under its field, in `errors`);
    an end before the start is an error on period_end."""
    dates = {}
    for name in names:
        try:
            dates[name] = parse_date(form.get(name), name)
        except Invalid as exc:
            errors.update(exc.fields)
    if "period_start" in dates and "period_end" in dates and dates["period_start"] > dates["period_end"]:
        errors["period_end"] = "The billing period must end after it starts."
    return dates


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
                          fields={field: f"'{shortened(str(value))}' is not an amount."})
        amount = Decimal(text.replace(",", ""))
    if not amount.is_finite():
        raise Invalid("Please correct the highlighted fields.",
                      fields={field: f"'{shortened(str(value))}' is not an amount."})
    if abs(amount) >= MONEY_LIMIT:
        raise Invalid("Please correct the highlighted fields.", fields={field: "Amount is too large."})
    rounded = amount.quantize(step)
    if rounded != amount:
        raise Invalid("Please correct the highlighted fields.",
                      fields={field: f"Use at most {len(places.partition('.')[2])} decimal places."})
    return rounded


def shortened(text: str, limit: int = 20) -> str:
    """A typed value quoted back in a message: its first `limit` characters and "…" when longer."""
    return text if len(text) <= limit else text[:limit] + "…"


def money(value: Decimal | None) -> str:
    """$1,234.50, -$12.00; "" for no value."""
    if value is None:
        return ""
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def mmddyyyy(value: date | None) -> str:
    return value.strftime("%m/%d/%Y") if value else ""


def local_time(at: datetime | None, tz: tzinfo) -> str:
    """A moment (naive UTC, as stored) on the company's clock, with the zone's name as people read
    it: "12/07/2026 3:04 PM EST"; "" for none."""
    if at is None:
        return ""
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(tz)
    return f"{local:%m/%d/%Y} {local.hour % 12 or 12}:{local:%M %p} {local.tzname()}"


SEARCH_MAX = 100  # longer than any name or number a search looks for


def parse_search(value: object, field: str = "q") -> str:
    """A search as typed (stripped), at most SEARCH_MAX characters and no control character; else
    Invalid naming `field` (never cut short: a search for less than was typed would answer another
    question)."""
    text = (value if isinstance(value, str) else "").strip()
    if len(text) > SEARCH_MAX:
        raise Invalid(f"Search must be {SEARCH_MAX} characters or less.",
                      fields={field: f"Search must be {SEARCH_MAX} characters or less."})
    refuse_unstorable({field: text})  # no control character: PostgreSQL refuses a NUL in a query's text
    return text


def csv_cell(value: object) -> str:
    """A CSV text cell a spreadsheet will not run as a formula: text starting with = + - @ (or a
    tab or CR) gets a leading quote. Amounts are written as plain numbers, not through here."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
        raise Invalid("Please correct the highlighted fields.",
                      fields={field: f"'{shortened(text)}' is not a valid choice."})
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
            shown = shortened(value)
            raise Invalid(f"'{shown}' is not an item id: nothing was done.",
                          fields={field: f"'{shown}' is not an item id."}) from None
        if number not in ids:
            ids.append(number)
    return ids


# ---- text that goes to Sage ----------------------------------------------------------------
# Sage 300 CRE reads its import files as Windows-1252 (ANSI) text: a character outside it would
# reach Sage as "?" while the portal keeps the original, so the two disagree. Refused at the form.
SAGE_ENCODING = "cp1252"
# Invisible characters that reorder how text is shown (bidi embeddings, overrides, isolates and
# marks): in an ID they make two different IDs look the same. None is in Windows-1252 either; they
# get their own message because they cannot be seen.
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def sage_character_problem(value: str, label: str) -> str | None:
    """What keeps `value` out of Sage, naming the field and the first character at fault, e.g.
    "Vendor ID: '😀' (U+1F600) cannot be stored in Sage (Windows-1252 characters only)."; None
    when Sage can store every character."""
    try:
        value.encode(SAGE_ENCODING)
        return None
    except UnicodeEncodeError as exc:
        char = value[exc.start]
    if char in BIDI_CONTROLS:
        return (f"{label}: the invisible text-direction control U+{ord(char):04X} cannot be stored in Sage; "
                "remove it (retype the value rather than pasting it).")
    return f"{label}: '{char}' (U+{ord(char):04X}) cannot be stored in Sage (Windows-1252 characters only)."


def too_long(label: str, limit: int, sage: bool = False) -> str:
    """The message for a text over its limit (`sage`: a field that goes to Sage)."""
    whose = " (Sage's limit)" if sage else ""
    return f"{label} must be {limit} characters or less{whose}."


def text_problem(value: object, label: str, limit: int | None, sage: bool = True) -> str | None:
    """What is wrong with a typed text: longer than `limit` (counted as typed, spaces around
    included, so nothing is silently cut) or, `sage`, a character Sage cannot store; else None."""
    if not isinstance(value, str):
        return None
    if limit is not None and len(value.strip()) > limit:
        return too_long(label, limit, sage)
    return sage_character_problem(value, label) if sage else None


def setting_value(value: object) -> str:
    """A setting as people read it: on/off, and one entry per item of a group."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {setting_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v).replace("_", " ") for v in value) or "none"
    return "" if value is None else str(value)
