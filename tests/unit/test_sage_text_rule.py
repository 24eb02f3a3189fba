"""Text that goes to Sage: Windows-1252 characters only, no invisible text-direction controls, within
its length; refused at the form naming the field and the character, and never written as "?" by the
import file (the connectors refuse the batch instead)."""
from __future__ import annotations

import os
from datetime import date
from decimal import Decimal as D

import pytest

from portal.domain.types.base import Field, text_errors
from portal.domain.values import BIDI_CONTROLS, sage_character_problem, text_problem
from portal.exporters.sage300.connectors import FileDropConnector
from portal.exporters.sage300.fileformat import FILE_ENCODING, encoding_problem, import_file
from portal.exporters.sage300.records import APDistribution, APInvoice, Batch

REFUSED = {"emoji": "😀", "Arabic": "م", "CJK": "中", "zero-width space": "\u200b", "C1 control": "\x81",
           **{f"bidi U+{ord(c):04X}": c for c in sorted(BIDI_CONTROLS)}}
STORED = {"accents": "Café Müller", "euro and curly quote": "€ 5 – O’Neil", "plain": "V-100", "empty": ""}


@pytest.mark.parametrize("char", REFUSED.values(), ids=REFUSED.keys())
def test_a_character_sage_cannot_store_is_named_with_its_field_and_code_point(char):
    problem = sage_character_problem(f"AB{char}C", "Vendor ID")
    assert problem is not None and problem.startswith("Vendor ID: ")
    assert f"U+{ord(char):04X}" in problem and "cannot be stored in Sage" in problem
    if char in BIDI_CONTROLS:
        assert "invisible text-direction control" in problem
    else:
        assert problem == (f"Vendor ID: '{char}' (U+{ord(char):04X}) cannot be stored in Sage "
                           "(Windows-1252 characters only).")


@pytest.mark.parametrize("value", STORED.values(), ids=STORED.keys())
def test_windows_1252_text_is_stored(value):
    assert sage_character_problem(value, "Name") is None
    assert text_problem(value, "Name", 30) is None


def test_a_text_over_its_limit_is_named_and_not_cut():
    assert text_problem("x" * 10_000, "Description", 30) == "Description must be 30 characters or less (Sage's limit)."
    assert text_problem("x" * 31, "Reason", 30, sage=False) == "Reason must be 30 characters or less."
    assert text_problem("  " + "x" * 30 + "  ", "Description", 30) is None  # spaces around are stripped later


def test_text_errors_check_declared_text_fields_and_their_lines_only():
    fields = [Field("erp_id", "ERP ID", maxlength=15, required=True), Field("when", "Date", widget="date"),
              Field("status", "Status", widget="select")]
    lines = [Field("description", "Description", maxlength=30), Field("amount", "Amount", widget="number")]
    raw = {"erp_id": "INV-😀", "when": "中", "status": "中", "other": "中",
           "line-0-description": "ok", "line-2-description": "\u202e123", "line-1-amount": "中"}
    errors = text_errors(fields, raw, lines)
    assert set(errors) == {"erp_id", "line-2-description"}, errors
    assert errors["erp_id"].startswith("ERP ID: '😀' (U+1F600)")
    assert errors["line-2-description"].startswith("Line 3 Description: the invisible text-direction control U+202E")
    assert text_errors(fields, {"erp_id": " "}) == {"erp_id": "ERP ID is required."}


def invoice_batch(description: str) -> Batch:
    head = APInvoice(vendor="ACME", invoice="INV-7", description=description, invoice_date=date(2026, 10, 5),
                     accounting_date=date(2026, 10, 31), amount=D("100"), retainage=D("0"))
    line = APDistribution(commitment="C-1", commitment_item="1", job="J-1", extra="", cost_code="01-100",
                          category="SUB", description="Framing", amount=D("100"), retainage=D("0"))
    return Batch(batch_id="b-chars", kind="ap_invoice", records=(head, line))


def test_the_import_file_names_the_line_and_field_it_cannot_carry():
    assert encoding_problem(import_file(invoice_batch("Café €"))) is None
    problem = encoding_problem(import_file(invoice_batch("Pay app 😀")))
    assert problem is not None and problem.startswith("'😀' (U+1F600) cannot be written to Sage's import file")
    assert 'line 1, field 4 ("Pay app 😀")' in problem


def test_the_file_drop_refuses_such_a_batch_and_writes_nothing(tmp_path):
    connector = FileDropConnector(str(tmp_path))
    refused = connector.submit(invoice_batch("Pay app 😀"))
    assert not refused.ok and "U+1F600" in refused.message and not refused.transient
    assert os.listdir(tmp_path) == []  # no file with a "?" in it, no temp file left
    written = connector.submit(invoice_batch("Café €"))
    assert written.ok
    data = (tmp_path / written.reference).read_bytes()
    assert "Café €".encode(FILE_ENCODING) in data and b"?" not in data


def test_the_simulator_refuses_such_a_batch_as_sage_would_and_keeps_nothing(tmp_path):
    from portal.exporters.sage300.simulator import Sage300Simulator
    sim = Sage300Simulator(f"sqlite:///{tmp_path / 'sim.db'}", drop_folder=str(tmp_path / "drop"))
    sim.create_all()
    result = sim.submit(invoice_batch("Pay app 😀"))
    assert not result.ok and "U+1F600" in result.message
    assert sim.find_invoice(vendor="ACME", invoice="INV-7") == []
    assert not (tmp_path / "drop").exists() or os.listdir(tmp_path / "drop") == []
    sim.engine.dispose()
