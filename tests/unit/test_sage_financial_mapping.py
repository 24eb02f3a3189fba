"""The connector guide's financial data mapping tables, row by row: Commitments, Commitment Change
Orders, Budgets, Budget Modifications, Cost Forecast Data, Prime Contract Change Orders, and the
owner invoice (AR) import; their import file layouts; the troubleshooting rows of their texts."""
from datetime import date
from decimal import Decimal as D

import pytest

from portal.exporters.sage300 import simulator as sim
from portal.exporters.sage300.fileformat import (
    KIND_RECORDS,
    import_file,
    parse_import_file,
)
from portal.exporters.sage300.mapping import (
    map_budget,
    map_budget_change,
    map_cco,
    map_cco_imports,
    map_commitment,
    map_owner_invoice,
    map_pcco,
)
from portal.exporters.sage300.records import (
    ARDistribution,
    ARInvoice,
    BudgetChangeData,
    BudgetChangeLineData,
    BudgetData,
    BudgetLineData,
    CCOData,
    CCOLineData,
    CNContractItem,
    CommitmentData,
    CommitmentItemData,
    JCCommitment,
    JCCommitmentCO,
    JCCommitmentCOItem,
    JCCommitmentItem,
    JCTransaction,
    OwnerInvoiceData,
    OwnerInvoiceLineData,
    PCCOData,
    PCCOEstimateLineData,
    PCCOScheduleLineData,
)
from portal.exporters.sage300.troubleshooting import explain
from tests.rows import check_rows

TODAY = date(2026, 10, 1)


# ---- builders ---------------------------------------------------------------------

def item(n="1", **kw):
    values = dict(item=n, description="Framing labor", cost_code="01-100", category="SUB", amount=D("5000"))
    values.update(kw)
    return CommitmentItemData(**values)


def commitment(*items, **kw):
    values = dict(commitment="24-001-SC", commitment_type="Subcontract", description="Framing subcontract",
                  vendor="ACME", job="J-1", date=date(2026, 9, 15), retainage_pct=D("10"),
                  items=items or (item(),))
    values.update(kw)
    return CommitmentData(**values)


def cco(*lines, **kw):
    values = dict(cco="CCO-1", commitment="24-001-SC", job="J-1", description="Added blocking", date=TODAY,
                  lines=lines or (CCOLineData(amount=D("250"), existing_item="1"),))
    values.update(kw)
    return CCOData(**values)


def budget(*lines, **kw):
    values = dict(job="J-1", date=TODAY, lines=lines or (BudgetLineData("01-100", "SUB", D("10000")),))
    values.update(kw)
    return BudgetData(**values)


def pcco(estimate=None, schedule=None, **kw):
    values = dict(job="J-1", contract="CN-1", number="PCCO-7", title="Canopy at the north entrance " * 3,
                  date=TODAY,
                  estimate_lines=(PCCOEstimateLineData("01-100", "SUB", "Subcontract", D("2500")),)
                  if estimate is None else estimate,
                  schedule_lines=(PCCOScheduleLineData("010", D("2750"), description="Base building"),)
                  if schedule is None else schedule)
    values.update(kw)
    return PCCOData(**values)


def owner_invoice(*lines, **kw):
    values = dict(customer="OWNER", contract="CN-1", job="J-1", invoice="AR-1001", description="Pay app 4",
                  invoice_date=date(2026, 10, 25), accounting_date=date(2026, 10, 31),
                  lines=lines or (OwnerInvoiceLineData("010", "Base building", D("10000"), D("1000")),))
    values.update(kw)
    return OwnerInvoiceData(**values)


# ---- Commitments --------------------------------------------------------------------

def test_commitment_batch_kind_id_and_records():
    batch = map_commitment(commitment(item("1"), item("2")), "cm-1")
    assert (batch.batch_id, batch.kind) == ("cm-1", "jc_commitment")
    assert [type(r) for r in batch.records] == [JCCommitment, JCCommitmentItem, JCCommitmentItem]


def test_commitment_header_rows():
    head = map_commitment(commitment(), "b").records[0]
    assert head.commitment == "24-001-SC"               # Sage 300 CRE ID -> Subcontract #
    assert head.commitment_type == "Subcontract"        # Commitment Type
    assert head.description == "Framing subcontract"    # Title -> Description
    assert head.vendor == "ACME"                        # Contract Company -> Vendor ID
    assert head.job == "J-1"
    assert head.date == date(2026, 9, 15)               # Date Created -> Date
    assert head.retainage_pct == D("10")                # Default Retainage -> Retainage


def test_purchase_order_type():
    assert map_commitment(commitment(commitment_type="Purchase Order"), "b").records[0].commitment_type == \
        "Purchase Order"


def test_commitment_item_rows():
    data = commitment(item("3", description="Lumber", cost_code="02-200", category="MAT", amount=D("1234.565"),
                           extra="E1", units=D("12.5"), unit_cost=D("98.765"), unit_description="MBF"),
                      commitment_type="Purchase Order")
    i = map_commitment(data, "b").records[1]
    assert i.commitment == "24-001-SC"      # Sage 300 CRE ID -> Commitment ID
    assert i.item == "3"
    assert i.description == "Lumber"        # Description
    assert i.job == "J-1"                   # Sage 300 CRE Job ID -> Job
    assert i.extra == "E1"                  # sub job -> Extra
    assert i.cost_code == "02-200"          # Cost Code
    assert i.category == "MAT"              # Type -> Category
    assert i.units == D("12.5")             # Qty -> Units
    assert i.unit_cost == D("98.765")       # Unit Cost (not rounded to cents)
    assert i.unit_description == "MBF"      # Units -> Unit Description
    assert i.amount == D("1234.57")         # Contract Amount / Subtotal -> Amount, in cents


def test_subcontract_items_without_units():
    i = map_commitment(commitment(), "b").records[1]
    assert (i.units, i.unit_cost, i.unit_description, i.extra) == (None, None, "", "")


def test_commitment_items_keep_their_order():
    batch = map_commitment(commitment(item("2"), item("1"), item("10")), "b")
    assert [r.item for r in batch.records[1:]] == ["2", "1", "10"]


def test_commitment_without_items_is_a_value_error():
    with pytest.raises(ValueError):
        map_commitment(commitment(items=()), "b")


# ---- Commitment change orders -------------------------------------------------------------

def test_cco_header_rows():
    batch = map_cco(cco(), "co-1")
    assert (batch.batch_id, batch.kind) == ("co-1", "jc_commitment_co")
    head = batch.records[0]
    assert isinstance(head, JCCommitmentCO)
    assert head.commitment == "24-001-SC"         # Sage 300 CRE ID -> Commitment ID
    assert head.cco == "CCO-1"
    assert head.description == "Added blocking"   # Title -> Description
    assert head.date == TODAY                     # system date at export -> Date
    assert head.status == "Approved"              # always Approved


def test_cco_existing_item_row():
    co = map_cco(cco(CCOLineData(amount=D("99.995"), existing_item="2", units=D("3"))), "b").records[1]
    assert isinstance(co, JCCommitmentCOItem)
    assert (co.commitment, co.cco, co.item) == ("24-001-SC", "CCO-1", "2")
    assert co.amount == D("100.00") and co.units == D("3")
    # description, job, cost code, category and unit fields only for a new line (footnote 4)
    assert (co.description, co.job, co.cost_code, co.category, co.unit_cost, co.unit_description) == \
        ("", "", "", "", None, "")


def test_cco_changes_to_one_item_are_summed_into_one():
    data = cco(CCOLineData(amount=D("100"), existing_item="2"),
               CCOLineData(amount=D("-30.50"), existing_item="1"),
               CCOLineData(amount=D("25.25"), existing_item="2", units=D("1")),
               CCOLineData(amount=D("5"), existing_item="1"),
               CCOLineData(amount=D("0.005"), existing_item="2", units=D("2.5")))
    records = map_cco(data, "b").records
    assert [type(r) for r in records] == [JCCommitmentCO, JCCommitmentCOItem, JCCommitmentCOItem]
    assert [(r.item, r.amount, r.units) for r in records[1:]] == [("2", D("125.26"), D("3.5")),
                                                                  ("1", D("-25.50"), None)]


def test_cco_new_line_yields_the_new_item_first():
    new = item("4", description="Canopy blocking", cost_code="02-200", category="MAT", amount=D("999"),
               extra="E1", units=D("10"), unit_cost=D("45"), unit_description="EA")
    data = cco(CCOLineData(amount=D("100"), existing_item="1"), CCOLineData(amount=D("450"), new_item=new),
               CCOLineData(amount=D("50"), existing_item="1"))
    records = map_cco(data, "b").records
    assert [type(r) for r in records] == [JCCommitmentItem, JCCommitmentCO, JCCommitmentCOItem,
                                          JCCommitmentCOItem]
    created = records[0]
    assert (created.commitment, created.item, created.description, created.job, created.extra,
            created.cost_code, created.category) == ("24-001-SC", "4", "Canopy blocking", "J-1", "E1",
                                                     "02-200", "MAT")
    # no amount of its own: its amount is the change (like a PCCO's new contract item)
    assert (created.amount, created.units, created.unit_cost, created.unit_description) == \
        (D("0.00"), None, D("45"), "EA")
    summed, added = records[2], records[3]
    assert (summed.item, summed.amount) == ("1", D("150.00"))
    assert (added.item, added.amount, added.units, added.description, added.job, added.cost_code, added.category,
            added.unit_cost, added.unit_description) == ("4", D("450.00"), D("10"), "Canopy blocking", "J-1",
                                                          "02-200", "MAT", D("45"), "EA")


def test_cco_new_line_units_from_the_line_win():
    data = cco(CCOLineData(amount=D("10"), new_item=item("5", units=D("1")), units=D("7")))
    assert map_cco(data, "b").records[-1].units == D("7")


def test_cco_several_new_lines_in_order():
    data = cco(CCOLineData(amount=D("1"), new_item=item("7")), CCOLineData(amount=D("2"), new_item=item("6")))
    records = map_cco(data, "b").records
    assert [(type(r).__name__, getattr(r, "item", "")) for r in records] == [
        ("JCCommitmentItem", "7"), ("JCCommitmentItem", "6"), ("JCCommitmentCO", ""),
        ("JCCommitmentCOItem", "7"), ("JCCommitmentCOItem", "6")]


def test_a_cco_new_line_is_two_imports_the_new_item_first():
    data = cco(CCOLineData(amount=D("100"), existing_item="1"), CCOLineData(amount=D("450"), new_item=item("4")))
    items_import, change_order = map_cco_imports(data, "co-7")
    assert (items_import.batch_id, items_import.kind) == ("co-7-items", "jc_commitment_item")
    assert [(type(r).__name__, r.item) for r in items_import.records] == [("JCCommitmentItem", "4")]
    assert (change_order.batch_id, change_order.kind) == ("co-7", "jc_commitment_co")
    assert [type(r).__name__ for r in change_order.records] == ["JCCommitmentCO", "JCCommitmentCOItem",
                                                                "JCCommitmentCOItem"]
    assert [b.kind for b in map_cco_imports(cco(), "co-8")] == ["jc_commitment_co"]


@pytest.mark.parametrize("lines", [
    (),
    (CCOLineData(amount=D("1")),),
    (CCOLineData(amount=D("1"), existing_item="1", new_item=item("9")),),
    (CCOLineData(amount=D("1"), new_item=item("9")), CCOLineData(amount=D("2"), new_item=item("9"))),
    (CCOLineData(amount=D("1"), existing_item="9"), CCOLineData(amount=D("2"), new_item=item("9"))),
], ids=["no lines", "neither", "both", "two new lines, one number", "new line on an existing line's number"])
def test_cco_value_errors(lines):
    with pytest.raises(ValueError):
        map_cco(cco(lines=lines), "b")


# ---- Budgets and Cost Forecast Data ---------------------------------------------------------

def test_budget_original_estimate_rows():
    batch = map_budget(budget(BudgetLineData("01-100", "SUB", D("10000.004")),
                              BudgetLineData("02-200", "LAB", D("0"), extra="E1")), "bu-1")
    assert (batch.batch_id, batch.kind) == ("bu-1", "jc_budget")
    first, second = batch.records
    assert isinstance(first, JCTransaction)
    assert first.transaction_type == "Original estimate"
    assert (first.job, first.extra, first.cost_code, first.category) == ("J-1", "", "01-100", "SUB")
    assert first.amount == D("10000.00")    # Original Budget -> Original Estimate
    assert first.date == TODAY
    assert (first.ref_1, first.ref_2, first.contract, first.contract_item) == ("", "", "", "")
    assert (second.extra, second.cost_code, second.category, second.amount) == ("E1", "02-200", "LAB", D("0.00"))


def test_budget_forecast_off_sends_estimates_only():
    line = BudgetLineData("01-100", "SUB", D("100"), estimated_cost_at_completion=D("120"),
                          forecast_to_complete=D("80"))
    assert [r.transaction_type for r in map_budget(budget(line), "b").records] == ["Original estimate"]


def test_budget_forecast_on_adds_misc_worksheets_per_line():
    lines = (BudgetLineData("01-100", "SUB", D("100"), extra="E1", estimated_cost_at_completion=D("120.499"),
                            forecast_to_complete=D("80")),
             BudgetLineData("02-200", "LAB", D("50")))
    records = map_budget(budget(*lines, export_forecast=True), "b").records
    assert [(r.transaction_type, r.cost_code) for r in records] == [
        ("Original estimate", "01-100"), ("Misc worksheet 1", "01-100"), ("Misc worksheet 2", "01-100"),
        ("Original estimate", "02-200")]
    mw1, mw2 = records[1], records[2]
    # Estimated Cost at Complete -> Misc Worksheet 1, Forecast to Complete -> Misc Worksheet 2
    assert (mw1.job, mw1.extra, mw1.category, mw1.date, mw1.amount, mw1.description) == (
        "J-1", "E1", "SUB", TODAY, D("120.50"), "Estimated Cost at Complete")
    assert (mw2.job, mw2.extra, mw2.category, mw2.date, mw2.amount, mw2.description) == (
        "J-1", "E1", "SUB", TODAY, D("80.00"), "Forecast to Complete")


def test_budget_forecast_skips_none_but_keeps_zero():
    line = BudgetLineData("01-100", "SUB", D("100"), forecast_to_complete=D("0"))
    records = map_budget(budget(line, export_forecast=True), "b").records
    assert [(r.transaction_type, r.amount) for r in records] == [("Original estimate", D("100.00")),
                                                                 ("Misc worksheet 2", D("0.00"))]


def test_budget_without_lines_is_a_value_error():
    with pytest.raises(ValueError):
        map_budget(budget(lines=()), "b")


# ---- Budget Modifications (budget changes) ---------------------------------------------------

def change(*lines, **kw):
    values = dict(job="J-1", date=TODAY, reference="BC-003",
                  lines=lines or (BudgetChangeLineData("01-100", "SUB", D("-500"), description="From framing"),
                                  BudgetChangeLineData("02-200", "LAB", D("500"), extra="E1",
                                                       description="To drywall")))
    values.update(kw)
    return BudgetChangeData(**values)


def test_budget_change_rows():
    batch = map_budget_change(change(), "bc-1")
    assert (batch.batch_id, batch.kind) == ("bc-1", "jc_budget_change")
    from_, to = batch.records
    assert all(r.transaction_type == "Approved est chng" for r in batch.records)
    assert (from_.job, from_.extra, from_.cost_code, from_.category) == ("J-1", "", "01-100", "SUB")  # From
    assert (to.extra, to.cost_code, to.category) == ("E1", "02-200", "LAB")                            # To
    assert from_.date == TODAY                                      # system date -> Transaction Date
    assert (from_.amount, to.amount) == (D("-500.00"), D("500.00"))  # Amount -> Transfer Amount, signed
    assert (from_.description, to.description) == ("From framing", "To drywall")
    assert from_.ref_1 == to.ref_1 == "BC-003" and from_.ref_2 == ""


def test_budget_change_forecast():
    line = BudgetChangeLineData("01-100", "SUB", D("10"), estimated_cost_at_completion=D("110"),
                                forecast_to_complete=D("60"))
    assert [r.transaction_type for r in map_budget_change(change(line), "b").records] == ["Approved est chng"]
    records = map_budget_change(change(line, export_forecast=True), "b").records
    assert [(r.transaction_type, r.amount, r.ref_1) for r in records] == [
        ("Approved est chng", D("10.00"), "BC-003"), ("Misc worksheet 1", D("110.00"), ""),
        ("Misc worksheet 2", D("60.00"), "")]


def test_budget_change_without_lines_is_a_value_error():
    with pytest.raises(ValueError):
        map_budget_change(change(lines=()), "b")


# ---- Prime Contract Change Orders -----------------------------------------------------------

def test_pcco_estimate_update_rows():
    batch = map_pcco(pcco(schedule=()), "pc-1")
    assert (batch.batch_id, batch.kind) == ("pc-1", "jc_pcco")
    [t] = batch.records
    assert t.transaction_type == "Approved est chng"
    assert (t.job, t.extra, t.cost_code, t.category) == ("J-1", "", "01-100", "SUB")  # Cost Code, Cost Type
    assert t.description == "Subcontract"      # Cost Type -> Category Description
    assert t.date == TODAY
    assert t.amount == D("2500.00")            # Contract Amount -> Amount
    assert t.ref_1 == "PCCO-7"                 # # (Prime Contract CO #) -> Chg Mgt Ref 1
    assert t.ref_2 == "HH2"                    # Automatically assigned as HH2
    assert (t.contract, t.contract_item) == ("", "")


def test_pcco_estimate_line_on_a_sub_job():
    estimate = (PCCOEstimateLineData("01-100", "SUB", "Subcontract", D("1"), extra="E1"),)
    assert map_pcco(pcco(estimate=estimate, schedule=()), "b").records[0].extra == "E1"


def test_pcco_schedule_value_change_rows():
    [t] = map_pcco(pcco(estimate=()), "b").records
    assert t.transaction_type == "Approved Schedule Value Change"
    assert t.job == "J-1"                                  # Sage Job ID -> Job
    assert t.date == TODAY                                 # Transaction Date
    assert t.contract == "CN-1"                            # Sage Contract ID -> Contract
    assert t.contract_item == "010"                        # Contract Item Code -> Contract Item
    assert t.amount == D("2750.00")                        # Contract Change Amount -> Amount
    assert (t.ref_1, t.ref_2) == ("PCCO-7", "HH2")
    assert (t.cost_code, t.category, t.extra, t.description) == ("", "", "", "Base building")


def test_pcco_new_contract_items_come_first():
    schedule = (PCCOScheduleLineData("010", D("100")),
                PCCOScheduleLineData("040", D("2750"), new_item=True, description="Added canopy"),
                PCCOScheduleLineData("050", D("5"), new_item=True, description="Added bollards"))
    records = map_pcco(pcco(schedule=schedule), "b").records
    assert [type(r) for r in records] == [CNContractItem, CNContractItem, JCTransaction, JCTransaction,
                                          JCTransaction, JCTransaction]
    assert [(r.contract, r.item, r.description) for r in records[:2]] == [("CN-1", "040", "Added canopy"),
                                                                         ("CN-1", "050", "Added bollards")]
    assert [r.transaction_type for r in records[2:]] == ["Approved est chng"] + \
        ["Approved Schedule Value Change"] * 3
    assert [r.contract_item for r in records[3:]] == ["010", "040", "050"]
    assert {(r.ref_1, r.ref_2) for r in records[2:]} == {("PCCO-7", "HH2")}


def test_pcco_title_is_not_sent():
    assert all("Canopy" not in getattr(r, "description", "") for r in map_pcco(pcco(), "b").records)


def test_pcco_without_lines_is_a_value_error():
    with pytest.raises(ValueError):
        map_pcco(pcco(estimate=(), schedule=()), "b")


# ---- Owner invoices (AR) -------------------------------------------------------------------

def test_owner_invoice_rows():
    lines = (OwnerInvoiceLineData("010", "Base building", D("10000.005"), D("1000")),
             OwnerInvoiceLineData("040", "Added canopy", D("2750"), D("275.5")))
    batch = map_owner_invoice(owner_invoice(*lines), "ar-1")
    assert (batch.batch_id, batch.kind) == ("ar-1", "ar_invoice")
    head, first, second = batch.records
    assert isinstance(head, ARInvoice) and isinstance(first, ARDistribution)
    assert (head.customer, head.invoice, head.contract, head.job, head.description) == (
        "OWNER", "AR-1001", "CN-1", "J-1", "Pay app 4")
    assert (head.invoice_date, head.accounting_date) == (date(2026, 10, 25), date(2026, 10, 31))
    assert (first.invoice, first.contract, first.contract_item, first.description) == (
        "AR-1001", "CN-1", "010", "Base building")
    assert (first.amount, first.retainage, second.amount, second.retainage) == (
        D("10000.01"), D("1000.00"), D("2750.00"), D("275.50"))
    assert (head.amount, head.retainage) == (D("12750.01"), D("1275.50"))  # the distribution sums


def test_owner_invoice_zero_lines_are_not_sent():
    lines = (OwnerInvoiceLineData("010", "a", D("0"), D("0")), OwnerInvoiceLineData("020", "b", D("0"), D("-5")),
             OwnerInvoiceLineData("030", "c", D("0.004"), D("0")))
    head, *dists = map_owner_invoice(owner_invoice(*lines), "b").records
    assert [d.contract_item for d in dists] == ["020"] and (head.amount, head.retainage) == (D("0.00"), D("-5.00"))


def test_owner_invoice_all_zero_has_no_distributions():
    head, *dists = map_owner_invoice(owner_invoice(OwnerInvoiceLineData("010", "a", D("0"), D("0"))), "b").records
    assert dists == [] and head.amount == D("0.00")


# ---- import files ---------------------------------------------------------------------------

def rows(batch):
    text = import_file(batch)
    assert text.endswith("\r\n") and text.count("\r\n") == len(batch.records)
    return parse_import_file(text)


def test_every_financial_kind_has_a_layout():
    assert {"jc_commitment", "jc_commitment_co", "jc_budget", "jc_budget_change", "jc_pcco",
            "ar_invoice"} <= set(KIND_RECORDS)


def test_commitment_file():
    data = commitment(item("1", units=D("12.5"), unit_cost=D("4E+1"), unit_description="EA", extra="E1"),
                      item("2"), commitment_type="Purchase Order")
    assert rows(map_commitment(data, "b")) == [
        ["CM", "24-001-SC", "Purchase Order", "Framing subcontract", "ACME", "J-1", "09/15/2026", "10.00"],
        ["CI", "24-001-SC", "1", "Framing labor", "J-1", "E1", "01-100", "SUB", "12.5", "40", "EA", "5000.00"],
        ["CI", "24-001-SC", "2", "Framing labor", "J-1", "", "01-100", "SUB", "", "", "", "5000.00"],
    ]


def test_cco_file():
    data = cco(CCOLineData(amount=D("250"), existing_item="1"),
               CCOLineData(amount=D("450"), new_item=item("4", description="New", units=D("10"))))
    assert rows(map_cco(data, "b")) == [
        ["CI", "24-001-SC", "4", "New", "J-1", "", "01-100", "SUB", "", "", "", "0.00"],
        ["CO", "24-001-SC", "CCO-1", "Added blocking", "10/01/2026", "Approved"],
        ["CC", "24-001-SC", "CCO-1", "1", "250.00", "", "", "", "", "", "", ""],
        ["CC", "24-001-SC", "CCO-1", "4", "450.00", "10", "New", "J-1", "01-100", "SUB", "", ""],
    ]


def test_budget_and_budget_change_files():
    line = BudgetLineData("01-100", "SUB", D("100"), estimated_cost_at_completion=D("120"))
    assert rows(map_budget(budget(line, export_forecast=True), "b")) == [
        ["JCT", "J-1", "", "01-100", "SUB", "Original estimate", "10/01/2026", "", "100.00", "", "", "", ""],
        ["JCT", "J-1", "", "01-100", "SUB", "Misc worksheet 1", "10/01/2026", "Estimated Cost at Complete",
         "120.00", "", "", "", ""],
    ]
    assert rows(map_budget_change(change(), "b"))[1] == [
        "JCT", "J-1", "E1", "02-200", "LAB", "Approved est chng", "10/01/2026", "To drywall", "500.00", "BC-003",
        "", "", ""]


def test_pcco_file():
    schedule = (PCCOScheduleLineData("040", D("2750"), new_item=True, description="Added canopy"),)
    assert rows(map_pcco(pcco(schedule=schedule), "b")) == [
        ["CNI", "CN-1", "040", "Added canopy"],
        ["JCT", "J-1", "", "01-100", "SUB", "Approved est chng", "10/01/2026", "Subcontract", "2500.00", "PCCO-7",
         "HH2", "", ""],
        ["JCT", "J-1", "", "", "", "Approved Schedule Value Change", "10/01/2026", "Added canopy", "2750.00",
         "PCCO-7", "HH2", "CN-1", "040"],
    ]


def test_owner_invoice_file_has_i_and_d_lines():
    assert rows(map_owner_invoice(owner_invoice(), "b")) == [
        ["I", "OWNER", "AR-1001", "CN-1", "J-1", "Pay app 4", "10/25/2026", "10/31/2026", "10000.00", "1000.00"],
        ["D", "AR-1001", "CN-1", "010", "Base building", "10000.00", "1000.00"],
    ]


def test_a_record_of_another_kind_is_refused_by_the_file():
    batch = map_budget(budget(), "b")
    with pytest.raises(ValueError):
        import_file(batch.__class__(batch_id="b", kind="jc_commitment", records=batch.records))


# ---- troubleshooting for the new texts --------------------------------------------------------

NEW_MESSAGES = [
    (sim.commitment_exists("24-001-SC"), "Contracts"),
    (sim.COMMITMENT_ARCHIVED, "Change orders"),
    (sim.change_order_exists("CCO-1"), "Change orders"),
    (sim.CCO_EXISTS, "Change orders"),
    (sim.ITEM_EXISTS, "Change orders"),
    (sim.estimate_exists("01-100", "SUB"), "Budgets"),
    (sim.AR_DUPLICATE, "Invoices"),
    (sim.too_long("Commitment", 12), "Contracts"),
    (sim.too_long("CommitmentCO", 10), "Change orders"),
    (sim.too_long("Number", 20), "Change orders"),
    (sim.too_long("ChgMgmtRef1", 36), "Budgets"),
]


def test_new_texts_are_explained():
    def check(message, area):
        found = explain(message)
        assert found is not None and found.area == area, found
    check_rows({message: (message, area) for message, area in NEW_MESSAGES}, check)


def test_every_new_length_text_is_explained():
    limits = (sim.COMMITMENT_LIMITS + sim.COMMITMENT_ITEM_LIMITS + sim.CCO_LIMITS + sim.CCO_ITEM_LIMITS
              + sim.TRANSACTION_LIMITS + sim.PCCO_TRANSACTION_LIMITS + sim.CONTRACT_ITEM_LIMITS
              + sim.AR_INVOICE_LIMITS + sim.AR_DISTRIBUTION_LIMITS)
    for field, _, limit in limits:
        assert explain(sim.too_long(field, limit)) is not None, field


def test_estimate_text_and_its_row():
    assert sim.estimate_exists("01-100", "SUB") == "An estimate already exists for cost code 01-100 category SUB."
    assert "budget change" in explain(sim.estimate_exists("02-200", "LAB")).solution
    assert "must be unique" in explain("Duplicate Invoice encountered. Invoice # must be unique.").cause
