"""The rule that makes edits history (portal/domain/edits.py), on values as a type reports them:
what changed, what several edits changed in all, and the line a resend's row shows."""
from __future__ import annotations

from dataclasses import asdict

import pytest

from portal.domain import edits
from portal.domain.types.base import EditedValues, Field, shown


def values(billing="11/01/2026", number="INV-1", lines=None) -> EditedValues:
    lines = {"7": ("$1,000.00", "$0.00"), "9": ("$1,000.00", "$100.00")} if lines is None else lines
    return EditedValues(
        {"number": ("Invoice #", number), "billing_date": ("Billing date", billing)},
        {key: (f"line {n}", {"work": ("Work completed", work), "retainage": ("Retainage", retainage)})
         for n, (key, (work, retainage)) in enumerate(lines.items(), start=1)})


CASES = {
    "nothing": (values(), values(), []),
    "a field": (values(), values(billing="11/03/2026"), ["Billing date 11/01/2026 → 11/03/2026"]),
    "a line's field": (values(), values(lines={"7": ("$1,000.00", "$0.00"), "9": ("$1,000.00", "$110.00")}),
                       ["Retainage $100.00 → $110.00 on line 2"]),
    "a field emptied": (values(), values(number=""), ["Invoice # INV-1 → (blank)"]),
    "a line added": (values(), values(lines={"7": ("$1,000.00", "$0.00"), "9": ("$1,000.00", "$100.00"),
                                             "12": ("$5.00", "")}),
                     ["line 3 added (Work completed $5.00)"]),
    "a line removed": (values(), values(lines={"7": ("$1,000.00", "$0.00")}),
                       ["line 2 removed (Work completed $1,000.00, Retainage $100.00)"]),
}


@pytest.mark.parametrize("before, after, texts", CASES.values(), ids=list(CASES))
def test_diff_names_each_change_old_and_new(before, after, texts):
    assert [c.text for c in edits.diff(before, after)] == texts


class Edit:
    """An ErpEdit as net() reads it: its changes, stored as dicts."""
    def __init__(self, before, after):
        self.changes = [asdict(c) for c in edits.diff(before, after)]


def test_net_runs_from_before_the_first_edit_to_after_the_last():
    first = values()
    second = values(billing="11/02/2026", lines={"7": ("$1,000.00", "$0.00"), "9": ("$1,000.00", "$110.00")})
    third = values(billing="11/03/2026", lines={"7": ("$1,000.00", "$0.00"), "9": ("$1,000.00", "$110.00")},
                   number="INV-2")
    back = values(billing="11/03/2026", lines={"7": ("$1,000.00", "$0.00"), "9": ("$1,000.00", "$110.00")})
    changes = edits.net([Edit(first, second), Edit(second, third), Edit(third, back)])
    assert edits.summary(changes) == ("Billing date 11/01/2026 → 11/03/2026; "
                                      "Retainage $100.00 → $110.00 on line 2")


def test_a_long_summary_is_cut_at_a_change_and_says_how_many_there_are():
    many = [edits.Change(f"f{n}", f"Field {n}", "a" * 40, "b" * 40) for n in range(40)]
    text = edits.summary(many)
    assert len(text) < edits.SUMMARY_MAX + 60 and text.endswith("(40 changes in all, see its history)")
    assert "; Field 0 " not in text and text.startswith("Field 0 ") and "→ (blank)" not in text


@pytest.mark.parametrize("field, value, expected", [
    (Field("vendor_id", "Vendor", widget="select", choices=(("3", "Acme"),)), "3", "Acme"),
    (Field("vendor_id", "Vendor", widget="select", choices=(("3", "Acme"),)), "4", "4"),
    (Field("active", "Active", widget="checkbox"), "on", "yes"),
    (Field("active", "Active", widget="checkbox"), None, "no"),
    (Field("name", "Name"), None, ""),
])
def test_a_value_is_shown_as_people_read_it(field, value, expected):
    assert shown(field, value) == expected
