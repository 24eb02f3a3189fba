from datetime import date
from decimal import Decimal as D

import pytest

from portal.exporters.sage300.fileformat import (
    ap_import_file,
    drop_file_name,
    parse_ap_import_file,
)
from portal.exporters.sage300.records import APDistribution, APInvoice, Batch


def batch(description='Pay app "3", October', dists=1):
    head = APInvoice(vendor="ACME", invoice="INV-7", description=description,
                     invoice_date=date(2026, 10, 5), accounting_date=date(2026, 10, 31),
                     amount=D("1500"), retainage=D("150.5"))
    lines = tuple(APDistribution(commitment="C-100", commitment_item=str(n), job="J-1", extra="E1",
                                 cost_code="01-100", category="SUB", description="Framing",
                                 amount=D("1500.00"), retainage=D("-150.50")) for n in range(1, dists + 1))
    return Batch(batch_id="b-1", kind="ap_invoice", records=(head, *lines))


def test_invoice_record_fields_in_order():
    rows = parse_ap_import_file(ap_import_file(batch()))
    assert rows[0] == ["APIF", "ACME", "INV-7", 'Pay app "3", October', "1500.00", "", "", "",
                       "10/05/2026", "10/31/2026", "150.50"]


def test_distribution_record_fields_in_order():
    rows = parse_ap_import_file(ap_import_file(batch(dists=2)))
    assert rows[1] == ["APDF", "C-100", "1", "J-1", "E1", "01-100", "SUB", "Framing", "1500.00", "-150.50", "", ""]
    assert [r[0] for r in rows] == ["APIF", "APDF", "APDF"] and rows[2][2] == "2"


def test_every_field_quoted_quotes_doubled_and_crlf():
    text = ap_import_file(batch())
    assert text.endswith("\r\n") and text.count("\r\n") == 2 and "\n" not in text.replace("\r\n", "")
    assert text.split("\r\n")[:2] == [
        '"APIF","ACME","INV-7","Pay app ""3"", October","1500.00","","","","10/05/2026","10/31/2026","150.50"',
        '"APDF","C-100","1","J-1","E1","01-100","SUB","Framing","1500.00","-150.50","",""',
    ]


def test_invoice_without_distributions_is_one_line():
    assert ap_import_file(batch(dists=0)).count("\r\n") == 1


def test_other_kinds_are_refused():
    with pytest.raises(ValueError):
        ap_import_file(Batch(batch_id="x", kind="jc_transaction"))


def test_drop_file_name_is_safe_and_distinct():
    assert drop_file_name("inv-12.v1") == "inv-12.v1.txt"
    odd = drop_file_name("../a/b c")
    assert "/" not in odd and " " not in odd and not odd.startswith(".") and odd.endswith(".txt")
    assert drop_file_name("a/b") != drop_file_name("a_b")
