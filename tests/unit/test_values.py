"""Amounts as people type them: what parse_money reads, and what it refuses naming the field."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from portal.domain.errors import Invalid
from portal.domain.values import parse_money
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
