"""The Sage 300 CRE simulator's commitments and commitment change orders (jc_commitment,
jc_commitment_co) against a real database; budgets, PCCOs and AR invoices are in
test_sage_simulator_financial_budgets.py, the shared seed and builders in tests/sage_financial.py.

SQLite in tmp_path by default; PostgreSQL (a fresh schema per test, dropped afterwards) when
DATABASE_URL starts with "postgresql" (the fixtures follow test_sage_simulator.py).
"""
from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from portal.exporters.sage300.records import (
    CCOLineData,
)
from tests.sage_db import simulator
from tests.sage_financial import (
    TODAY,
    ap_batch,
    cco_batch,
    change_order_exists,
    citem,
    commitment_batch,
    commitment_exists,
    refused,
    seed,
    txns,
)
from tests.sage_texts import (
    ARCHIVED,
    BLANK,
    CCO_EXISTS,
    ITEM_EXISTS,
    JOB_CLOSED,
    NO_CATEGORY,
    NOT_FOUND,
    VENDOR_INACTIVE,
    too_long,
)


@pytest.fixture
def sim(make_sim, tmp_path):
    return simulator(make_sim, tmp_path, seed)


# ---- jc_commitment --------------------------------------------------------------

def test_commitment_is_created_with_items_and_posted_committed_costs(sim):
    result = sim.submit(commitment_batch())
    assert (result.ok, result.reference, result.replayed) == (True, "C-NEW", False)
    assert sim.get_commitment("C-NEW") == dict(Commitment="C-NEW", Vendor="ACME", Job="J-1",
                                               Description="Framing subcontract", Commitment_Type="Subcontract",
                                               Amount=D("10000.00"), Status="Open")
    items = sim.list_commitment_items("C-NEW")
    assert [(r["Item"], r["Description"], r["Job"], r["Extra"], r["Cost_Code"], r["Category"], r["Amount"])
            for r in items] == [("1", "Framing", "J-1", "", "01-100", "SUB", D("6000.00")),
                                ("2", "Blocking", "J-1", "", "01-100", "MAT", D("4000.00"))]
    rows = sim.list_transactions("J-1")
    assert [(r["Transaction_Type"], r["Cost_Code"], r["Category"], r["Amount"], r["Posted"], r["Commitment"],
             r["Commitment_Item"], r["Date"], r["Description"], r["Batch_ID"]) for r in rows] == [
        ("Committed cost", "01-100", "SUB", D("6000.00"), True, "C-NEW", "1", date(2026, 9, 15), "Framing", "cm-1"),
        ("Committed cost", "01-100", "MAT", D("4000.00"), True, "C-NEW", "2", date(2026, 9, 15), "Blocking", "cm-1")]
    assert sim.import_log("cm-1")["Kind"] == "jc_commitment"
    assert sim.get_commitment("C-404") is None and sim.list_commitment_items("C-404") == []


def test_purchase_order_keeps_units_and_items_sort_naturally(sim):
    items = [citem("10", amount=D("1")), citem("2", units=D("12.5"), unit_cost=D("98.7654"), unit_description="EA",
                                               amount=D("1234.58"), extra="E1")]
    assert sim.submit(commitment_batch(items=items, commitment_type="Purchase Order")).ok
    assert sim.get_commitment("C-NEW")["Commitment_Type"] == "Purchase Order"
    first, second = sim.list_commitment_items("C-NEW")
    assert (first["Item"], first["Extra"], first["Units"], first["Unit_Cost"], first["Unit_Description"]) == (
        "2", "E1", D("12.5"), D("98.7654"), "EA")
    assert (second["Item"], second["Units"], second["Unit_Cost"]) == ("10", None, None)


@pytest.mark.parametrize("header, item_kw, field, limit", [
    ({"commitment": "C" * 13}, {}, "Commitment", 12),
    ({"description": "T" * 31}, {}, "Description", 30),
    ({"vendor": "V" * 11}, {}, "Vendor", 10),
    ({}, {"description": "D" * 31}, "Description", 30),
    ({}, {"cost_code": "C" * 13}, "CostCode", 12),
    ({}, {"category": "SUBC"}, "Category", 3),
    ({}, {"extra": "E" * 11}, "Extra", 10),
])
def test_commitment_field_lengths(sim, header, item_kw, field, limit):
    refused(sim, commitment_batch(items=[citem(**item_kw)], **header), too_long(field, limit))


def test_commitment_lengths_pass_at_the_limit(sim):
    assert sim.submit(commitment_batch(commitment="C" * 12, description="T" * 30,
                                       items=[citem(description="D" * 30)])).ok


@pytest.mark.parametrize("header, item_kw", [({"commitment": " "}, {}), ({"vendor": ""}, {}),
                                             ({}, {"cost_code": ""}), ({}, {"category": " "}), ({}, {"item": ""})])
def test_commitment_blank_fields(sim, header, item_kw):
    refused(sim, commitment_batch(items=[citem(**item_kw)], **header), BLANK)


def test_commitment_vendor_unknown_or_inactive(sim):
    refused(sim, commitment_batch("v-1", vendor="NOBODY"), NOT_FOUND)
    refused(sim, commitment_batch("v-2", vendor="OLDCO"), VENDOR_INACTIVE)
    sim.set_vendor_status("OLDCO", "Active")
    assert sim.submit(commitment_batch("v-3", vendor="OLDCO")).ok


def test_commitment_job_unknown_or_closed(sim):
    refused(sim, commitment_batch("j-1", job="J-404"), NOT_FOUND)
    refused(sim, commitment_batch("j-2", job="J-OLD"), JOB_CLOSED)


def test_commitment_category_must_be_on_the_job(sim):
    refused(sim, commitment_batch("c-1", items=[citem(category="EQP")]), NO_CATEGORY)
    refused(sim, commitment_batch("c-2", items=[citem(cost_code="09-900")]), NO_CATEGORY)
    refused(sim, commitment_batch("c-3", items=[citem(category="MAT", extra="E1")]), NO_CATEGORY)  # not on E1
    sim.set_extra_status("J-1", "E1", "Closed")
    refused(sim, commitment_batch("c-4", items=[citem(extra="E1")]), JOB_CLOSED)
    sim.set_extra_status("J-1", "E1", "Open")
    assert sim.submit(commitment_batch("c-5", items=[citem(extra="E1")])).ok


def test_commitment_already_exists(sim):
    sim.add_commitment("C-SAGE", "ACME", "J-1", D("1"))
    refused(sim, commitment_batch("e-1", commitment="C-SAGE"), commitment_exists("C-SAGE"))
    assert sim.submit(commitment_batch("e-2")).ok
    refused(sim, commitment_batch("e-3", description="Again"), "A commitment with code [C-NEW] already exists.")
    assert len(sim.list_commitment_items("C-NEW")) == 2


def test_commitment_repeated_item_number(sim):
    refused(sim, commitment_batch(items=[citem("1"), citem("1", category="MAT")]), ITEM_EXISTS)


def test_commitment_rules_apply_in_order(sim):
    sim.add_commitment("C-SAGE", "ACME", "J-1", D("1"))
    bad = dict(commitment="C-SAGE", vendor="OLDCO", job="J-OLD", items=[citem(category="EQP")])
    refused(sim, commitment_batch("o-1", **dict(bad, description="T" * 31)), too_long("Description", 30))
    refused(sim, commitment_batch("o-2", **bad), VENDOR_INACTIVE)
    refused(sim, commitment_batch("o-3", **dict(bad, vendor="ACME")), JOB_CLOSED)
    refused(sim, commitment_batch("o-4", **dict(bad, vendor="ACME", job="J-1")), NO_CATEGORY)
    refused(sim, commitment_batch("o-5", commitment="C-SAGE"), commitment_exists("C-SAGE"))


def test_invoices_against_an_exported_commitment(sim):
    assert sim.submit(commitment_batch()).ok
    assert sim.submit(ap_batch("ap-1", "INV-1", D("9000"))).ok
    over = sim.submit(ap_batch("ap-2", "INV-2", D("1000.01")))
    assert over.message == ("Ap Invoice Api import failed with error message: Commitment C-NEW - amount invoiced "
                            "exceeds approved amount plus tolerance.")


# ---- jc_commitment_co ---------------------------------------------------------------

@pytest.fixture
def committed(sim):
    assert sim.submit(commitment_batch("cm-0")).ok
    return sim


def test_cco_on_an_existing_item(committed):
    sim = committed
    result = sim.submit(cco_batch())
    assert (result.ok, result.reference) == (True, "C-NEW/CCO-1")
    assert sim.get_cco("C-NEW", "CCO-1") == dict(Commitment="C-NEW", CCO="CCO-1", Description="Added blocking",
                                                 Date=TODAY, Status="Approved")
    assert [(r["Item"], r["Amount"]) for r in sim.list_cco_items("C-NEW", "CCO-1")] == [("1", D("500.00"))]
    assert sim.get_commitment("C-NEW")["Amount"] == D("10500.00")
    [row] = sim.list_transactions("J-1", "Aprvd cmmtt cst chng")
    assert (row["Cost_Code"], row["Category"], row["Amount"], row["Posted"], row["Commitment"],
            row["Commitment_Item"], row["Commitment_CO"], row["Date"], row["Description"]) == (
        "01-100", "SUB", D("500.00"), False, "C-NEW", "1", "CCO-1", TODAY, "Added blocking")
    assert [c["CCO"] for c in sim.list_ccos("C-NEW")] == ["CCO-1"]
    assert sim.import_log("co-1")["Kind"] == "jc_commitment_co"


def test_cco_changes_to_one_item_arrive_as_one(committed):
    sim = committed
    lines = [CCOLineData(amount=D("300"), existing_item="1"), CCOLineData(amount=D("-50"), existing_item="2"),
             CCOLineData(amount=D("200"), existing_item="1")]
    assert sim.submit(cco_batch(lines=lines)).ok
    assert [(r["Item"], r["Amount"]) for r in sim.list_cco_items("C-NEW", "CCO-1")] == [
        ("1", D("500.00")), ("2", D("-50.00"))]
    assert sim.get_commitment("C-NEW")["Amount"] == D("10450.00")


def test_cco_with_a_new_line(committed):
    sim = committed
    new = citem("3", description="Canopy blocking", cost_code="02-200", category="LAB", amount=D("0"))
    lines = [CCOLineData(amount=D("750"), new_item=new), CCOLineData(amount=D("100"), existing_item="2")]
    assert sim.submit(cco_batch(lines=lines)).ok
    items = sim.list_commitment_items("C-NEW")
    assert [(r["Item"], r["Amount"]) for r in items] == [("1", D("6000.00")), ("2", D("4000.00")),
                                                         ("3", D("0.00"))]
    assert (items[2]["Cost_Code"], items[2]["Category"], items[2]["Description"]) == ("02-200", "LAB",
                                                                                      "Canopy blocking")
    assert [(r["Item"], r["Description"], r["Amount"]) for r in sim.list_cco_items("C-NEW", "CCO-1")] == [
        ("2", "", D("100.00")), ("3", "Canopy blocking", D("750.00"))]
    assert sim.get_commitment("C-NEW")["Amount"] == D("10850.00")
    assert txns(sim, type="Aprvd cmmtt cst chng") == [
        ("Aprvd cmmtt cst chng", "", "02-200", "LAB", D("750.00"), False),
        ("Aprvd cmmtt cst chng", "", "01-100", "MAT", D("100.00"), False)]


def test_approved_changes_count_for_the_invoice_check(committed):
    sim = committed
    assert sim.submit(ap_batch("ap-1", "INV-1", D("10000"))).ok
    refused_first = sim.submit(ap_batch("ap-2", "INV-2", D("400")))
    assert "exceeds approved amount" in refused_first.message
    assert sim.submit(cco_batch()).ok
    assert sim.submit(ap_batch("ap-3", "INV-3", D("500"))).ok


def test_cco_id_too_long(committed):
    refused(committed, cco_batch("l-1", cco="CCO-123456X"),
            "[CommitmentCO] is too long, maximum length is 10 characters.")
    assert committed.submit(cco_batch("l-2", cco="CCO-123456")).ok


def test_cco_field_checks(committed):
    refused(committed, cco_batch("f-1", description="D" * 31), too_long("Description", 30))
    refused(committed, cco_batch("f-2", cco=" "), BLANK)
    new = citem("3", cost_code="C" * 13)
    refused(committed, cco_batch("f-3", lines=[CCOLineData(amount=D("1"), new_item=new)]), too_long("CostCode", 12))


def test_cco_commitment_unknown(committed):
    refused(committed, cco_batch(commitment="C-404"), NOT_FOUND)


@pytest.mark.parametrize("status", ["Closed", "Archived"])
def test_cco_commitment_archived(committed, status):
    committed.set_commitment_status("C-NEW", status)
    refused(committed, cco_batch(), ARCHIVED)


def test_cco_job_closed(committed):
    committed.set_job_status("J-1", "Closed")
    refused(committed, cco_batch(), JOB_CLOSED)


def test_cco_already_exists_on_this_commitment_or_another(committed):
    sim = committed
    assert sim.submit(cco_batch("co-1")).ok
    refused(sim, cco_batch("co-2"), change_order_exists("CCO-1"))
    sim.add_commitment("C-OTHER", "ACME", "J-1", D("100"))
    sim.add_commitment_item("C-OTHER", "1", "J-1", "01-100", "SUB", D("100"))
    refused(sim, cco_batch("co-3", commitment="C-OTHER"), CCO_EXISTS)
    sim.add_commitment_co("C-OTHER", "CCO-SAGE", "Entered in Sage")
    refused(sim, cco_batch("co-4", cco="CCO-SAGE"), CCO_EXISTS)
    refused(sim, cco_batch("co-5", commitment="C-OTHER", cco="CCO-SAGE"), change_order_exists("CCO-SAGE"))
    assert sim.submit(cco_batch("co-6", cco="CCO-2")).ok
    assert sim.get_commitment("C-NEW")["Amount"] == D("11000.00")


def test_cco_existing_item_not_on_the_commitment(committed):
    refused(committed, cco_batch(lines=[CCOLineData(amount=D("1"), existing_item="9")]), NOT_FOUND)


def test_cco_new_item_whose_number_exists(committed):
    refused(committed, cco_batch("n-1", lines=[CCOLineData(amount=D("1"), new_item=citem("2"))]), ITEM_EXISTS)
    assert committed.submit(cco_batch("n-2", lines=[CCOLineData(amount=D("1"), new_item=citem("5"))])).ok
    refused(committed, cco_batch("n-3", cco="CCO-2", lines=[CCOLineData(amount=D("1"), new_item=citem("5"))]),
            ITEM_EXISTS)  # created by CCO-1
    # hand-built: two new items with one number (the mapper refuses to build this)
    batch = cco_batch("n-4", cco="CCO-3", lines=[CCOLineData(amount=D("1"), new_item=citem("6"))])
    refused(committed, replace(batch, records=(batch.records[0], *batch.records)), ITEM_EXISTS)


def test_cco_category_rules(committed):
    sim = committed
    new = citem("3", category="EQP")
    refused(sim, cco_batch("k-1", lines=[CCOLineData(amount=D("1"), new_item=new)]), NO_CATEGORY)
    # an item whose category is no longer on the job (deleted and re-added in Sage)
    sim.add_commitment("C-SAGE", "ACME", "J-1", D("100"))
    sim.add_commitment_item("C-SAGE", "1", "J-1", "01-100", "OTH", D("100"))
    refused(sim, cco_batch("k-2", commitment="C-SAGE"), NO_CATEGORY)


def test_cco_rules_apply_in_order(committed):
    sim = committed
    sim.add_commitment_co("C-NEW", "CCO-1")
    bad = [CCOLineData(amount=D("1"), existing_item="9")]
    refused(sim, cco_batch("o-1", commitment="C-404", cco="C" * 11, lines=bad), too_long("CommitmentCO", 10))
    refused(sim, cco_batch("o-2", commitment="C-404", lines=bad), NOT_FOUND)
    refused(sim, cco_batch("o-3", lines=bad), change_order_exists("CCO-1"))
    refused(sim, cco_batch("o-4", cco="CCO-2", lines=bad), NOT_FOUND)


def test_cco_malformed_batches(committed):
    batch = cco_batch()
    head, co_item = batch.records
    for records in [(co_item,), (head,), (head, co_item, co_item), (replace(head, status="Pending"), co_item),
                    (head, replace(co_item, cco="CCO-2"))]:
        with pytest.raises(ValueError):
            committed.submit(replace(batch, batch_id="m", records=records))
    assert committed.import_log("m") is None
