"""Amounts as people type them: what parse_money reads, and what it refuses naming the field; times
as people read them (local_time)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from portal.domain.errors import Invalid
from portal.domain.values import local_time, parse_money
from tests.rows import check_rows

# typed, places -> the amount
READ = {
    "plain": ("1234.5", "0.01", D("1234.50")),
    "dollar and thousands": ("$1,234.50", "0.01", D("1234.50")),
    "negative as money() writes it": ("-$12.00", "0.01", D("-12.00")),
    "leading point": (".5", "0.01", D("0.50")),
    "empty is zero": ("", "0.01", D("0.00")),
    "no value is zero": (None, "0.01", D("0.00")),
    "trailing zeros beyond the places": ("7.500", "0.01", D("7.50")),
    "four places where places allow": ("12.3456", "0.0001", D("12.3456")),
    "a Decimal as stored": (D("99.10"), "0.01", D("99.10")),
    "just under the limit": ("999,999,999.99", "0.01", D("999999999.99")),
}

# typed, places -> what the field's message says
REFUSED = {
    "NaN": ("NaN", "0.01", "is not an amount"),
    "signalling NaN": ("sNaN", "0.01", "is not an amount"),
    "Infinity": ("Infinity", "0.01", "is not an amount"),
    "-inf": ("-inf", "0.01", "is not an amount"),
    "a NaN Decimal": (D("NaN"), "0.01", "is not an amount"),
    "an infinite Decimal": (D("-Infinity"), "0.01", "is not an amount"),
    "exponent": ("1E+3", "0.01", "is not an amount"),
    "Arabic-Indic digits": ("\u0661\u0662\u0663", "0.01", "is not an amount"),
    "Extended Arabic-Indic digit": ("\u06f5", "0.01", "is not an amount"),
    "fullwidth digits": ("\uff11\uff12", "0.01", "is not an amount"),
    "two points": ("1.2.3", "0.01", "is not an amount"),
    "two signs": ("--1", "0.01", "is not an amount"),
    "commas out of groups of three": ("1,000,00", "0.01", "is not an amount"),
    "only a point": (".", "0.01", "is not an amount"),
    "words": ("ten", "0.01", "is not an amount"),
    "three decimals for money": ("1.005", "0.01", "at most 2 decimal places"),
    "five decimals for a unit cost": ("1.00005", "0.0001", "at most 4 decimal places"),
    "a billion": ("1,000,000,000", "0.01", "too large"),
    "a huge negative": ("-" + "9" * 30, "0.01", "too large"),
}


def test_amounts_are_read_to_their_places_and_the_rest_refused_naming_the_field():
    """One table: what is read (to `places`) and what is not a finite amount within Sage's precision."""
    def check(typed, places, expected):
        if isinstance(expected, D):
            got = parse_money(typed, "line-0-amount", places)
            assert got == expected and got.as_tuple().exponent == expected.as_tuple().exponent, got
            return
        with pytest.raises(Invalid) as caught:
            parse_money(typed, "line-0-amount", places)
        assert list(caught.value.fields) == ["line-0-amount"], caught.value.fields
        assert expected in caught.value.fields["line-0-amount"], caught.value.fields

    check_rows({**{f"read: {k}": v for k, v in READ.items()}, **{f"refused: {k}": v for k, v in REFUSED.items()}},
               check)


def test_ids_from_forms_are_ascii_digits_within_the_integer_column_else_invalid_naming_the_field():
    from portal.domain.values import MAX_ID, as_id, optional_id, parse_id, parse_ids
    read = {"one": ("1", 1), "padded": (" 42 ", 42), "largest": (str(MAX_ID), MAX_ID), "an int": (7, 7)}
    refused = {"superscript two": "²", "Arabic-Indic three": "٣", "10^20": "1" + "0" * 20, "2^31": str(2**31),
               "zero": "0", "negative": "-1", "plus": "+1", "decimal": "1.0", "letters": "x1", "empty": "",
               "None": None, "4,301 digits": "9" * 4301, "NUL": "1\x00", "underscore": "1_000"}

    def reads(raw, expected):
        assert parse_id(raw, "vendor_id") == expected and as_id(raw) == expected

    def refuses(raw):
        with pytest.raises(Invalid) as caught:
            parse_id(raw, "vendor_id")
        assert list(caught.value.fields) == ["vendor_id"]
        assert as_id(raw) is None

    check_rows({**{f"read: {k}": v for k, v in read.items()}, **{f"refused: {k}": (v,) for k, v in refused.items()}},
               lambda *row: reads(*row) if len(row) == 2 else refuses(*row))
    assert optional_id("", "project_id") is None and optional_id(" 3", "project_id") == 3
    assert parse_ids(["3", "1", "3"]) == [3, 1]
    for bad in ("²", "1" * 20, ""):
        with pytest.raises(Invalid) as caught:
            parse_ids(["1", bad])
        assert list(caught.value.fields) == ["ids"] and "nothing was done" in caught.value.message


def test_texts_with_a_control_character_are_refused_naming_each_field():
    from portal.domain.values import refuse_unstorable
    refused = {"NUL": "a\x00b", "bell": "\x07", "escape": "\x1b[31m", "delete": "x\x7f", "vertical tab": "\x0b"}
    allowed = {"tab": "a\tb", "newlines": "a\r\nb", "accents": "Café – №5", "empty": ""}

    def refuses(value):
        with pytest.raises(Invalid) as caught:
            refuse_unstorable({"title": value, "number": "ok"})
        assert list(caught.value.fields) == ["title"] and "title" in caught.value.message

    check_rows({**{f"refused: {k}": (v, True) for k, v in refused.items()},
                **{f"allowed: {k}": (v, False) for k, v in allowed.items()}},
               lambda value, bad: refuses(value) if bad else refuse_unstorable({"title": value}))


def test_local_time_is_the_company_clock_with_its_zone_name():
    new_york = ZoneInfo("America/New_York")
    assert local_time(datetime(2026, 12, 7, 20, 4), new_york) == "12/07/2026 3:04 PM EST"
    assert local_time(datetime(2026, 7, 12, 20, 4), new_york) == "07/12/2026 4:04 PM EDT"   # summer time
    assert local_time(datetime(2026, 12, 8, 5, 30), new_york) == "12/08/2026 12:30 AM EST"  # midnight's hour
    assert local_time(datetime(2026, 12, 8, 12, 0), ZoneInfo("UTC")) == "12/08/2026 12:00 PM UTC"
    assert local_time(datetime(2026, 12, 8, 12, 0, tzinfo=UTC), new_york) == "12/08/2026 7:00 AM EST"
    assert local_time(None, new_york) == ""
