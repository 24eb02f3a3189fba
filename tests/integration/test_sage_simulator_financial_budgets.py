"""The Sage 300 CRE simulator's budgets, budget changes, PCCOs and owner invoices (jc_budget,
jc_budget_change, jc_pcco, ar_invoice) against a real database (commitments and CCOs:
test_sage_simulator_financial.py; the shared seed and builders: tests/sage_financial.py).

SQLite in tmp_path by default; PostgreSQL (a fresh schema per test, dropped afterwards) when
DATABASE_URL starts with "postgresql".
"""
import os
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from portal.exporters.sage300 import simulator as simmod
from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector
from portal.exporters.sage300.fileformat import FILE_ENCODING, drop_file_name, parse_import_file
from portal.exporters.sage300.records import (
    Batch,
    BudgetChangeLineData,
    BudgetLineData,
    CNContractItem,
    ConnectorUnavailable,
    JCCommitmentCOItem,
    JCTransaction,
    OwnerInvoiceLineData,
    PCCOEstimateLineData,
    PCCOScheduleLineData,
)
from tests.sage_db import simulator, submit_at_once
from tests.sage_financial import (
    TABLES,
    TODAY,
    ap_batch,
    ar_batch,
    budget_batch,
    cco_batch,
    change_batch,
    commitment_batch,
    counts,
    estimate_exists,
    pcco_batch,
    refused,
    seed,
    txns,
)
from tests.sage_texts import (
    AR_DUPLICATE,
    BLANK,
    ITEM_EXISTS,
    JOB_CLOSED,
    NO_CATEGORY,
    NO_DISTRIBUTIONS,
    NOT_FOUND,
    RATE_LIMITED,
    too_long,
)


@pytest.fixture
def sim(make_sim, tmp_path):
    return simulator(make_sim, tmp_path, seed)


# ---- jc_budget --------------------------------------------------------------------

def test_budget_is_imported_unposted_with_forecast(sim):
    result = sim.submit(budget_batch(lines=[BudgetLineData("01-100", "SUB", D("10000"),
                                                           estimated_cost_at_completion=D("11000"),
                                                           forecast_to_complete=D("9000")),
                                            BudgetLineData("02-200", "LAB", D("2000"))],
                                     export_forecast=True))
    assert (result.ok, result.reference) == (True, "J-1: 4 transactions")
    assert txns(sim) == [("Original estimate", "", "01-100", "SUB", D("10000.00"), False),
                         ("Misc worksheet 1", "", "01-100", "SUB", D("11000.00"), False),
                         ("Misc worksheet 2", "", "01-100", "SUB", D("9000.00"), False),
                         ("Original estimate", "", "02-200", "LAB", D("2000.00"), False)]
    assert [r["Description"] for r in sim.list_transactions("J-1", "Misc worksheet 1")] == [
        "Estimated Cost at Complete"]
    assert sim.import_log("bu-1")["Kind"] == "jc_budget"


def test_post_transactions_and_job_cost_summary(sim):
    assert sim.submit(budget_batch(export_forecast=True)).ok
    assert sim.job_cost_summary("J-1") == {}  # new.jct: nothing posted yet
    assert sim.job_cost_summary("J-1", posted_only=False)[("", "02-200", "LAB")] == {
        "Original estimate": D("2000.00")}
    assert sim.post_transactions("J-1") == 4
    assert sim.post_transactions("J-1") == 0
    assert sim.submit(change_batch()).ok
    assert sim.post_transactions("J-1", batch_id="other") == 0
    assert sim.post_transactions("J-1", batch_id="bc-1") == 2
    assert sim.job_cost_summary("J-1") == {
        ("", "01-100", "SUB"): {"Original estimate": D("10000.00"), "Misc worksheet 1": D("11000.00"),
                                "Misc worksheet 2": D("9000.00"), "Approved est chng": D("-500.00")},
        ("", "02-200", "LAB"): {"Original estimate": D("2000.00"), "Approved est chng": D("500.00")},
    }
    assert sim.job_cost_summary("J-404") == {}


def test_budget_on_an_extra(sim):
    assert sim.submit(budget_batch(lines=[BudgetLineData("01-100", "SUB", D("5"), extra="E1")])).ok
    assert txns(sim) == [("Original estimate", "E1", "01-100", "SUB", D("5.00"), False)]
    # the job's own line is another estimate
    assert sim.submit(budget_batch("bu-2", lines=[BudgetLineData("01-100", "SUB", D("7"))])).ok


def test_budget_job_unknown_or_closed(sim):
    refused(sim, budget_batch("j-1", job="J-404"), NOT_FOUND)
    refused(sim, budget_batch("j-2", job="J-OLD", lines=[BudgetLineData("01-100", "SUB", D("1"))]), JOB_CLOSED)


def test_budget_category_not_on_the_job(sim):
    refused(sim, budget_batch("c-1", lines=[BudgetLineData("01-100", "LAB", D("1"))]), NO_CATEGORY)
    refused(sim, budget_batch("c-2", lines=[BudgetLineData("02-200", "LAB", D("1"), extra="E1")]), NO_CATEGORY)


def test_budget_estimate_already_exists(sim):
    assert sim.submit(budget_batch("bu-1")).ok
    refused(sim, budget_batch("bu-2"), estimate_exists("01-100", "SUB"))
    refused(sim, budget_batch("bu-3", lines=[BudgetLineData("01-100", "MAT", D("1")),
                                             BudgetLineData("02-200", "LAB", D("1"))]),
            "An estimate already exists for cost code 02-200 category LAB.")
    assert sim.submit(budget_batch("bu-4", lines=[BudgetLineData("01-100", "MAT", D("1"))])).ok  # a new line


def test_budget_estimate_entered_in_sage_or_twice_in_the_batch(sim):
    sim.add_transaction("J-1", "02-200", "LAB", "Original estimate", D("800"))
    refused(sim, budget_batch("s-1"), estimate_exists("02-200", "LAB"))
    twice = [BudgetLineData("01-100", "SUB", D("1")), BudgetLineData("01-100", "SUB", D("2"))]
    refused(sim, budget_batch("s-2", lines=twice), estimate_exists("01-100", "SUB"))


def test_budget_field_checks(sim):
    refused(sim, budget_batch("f-1", lines=[BudgetLineData("C" * 13, "SUB", D("1"))]), too_long("CostCode", 12))
    refused(sim, budget_batch("f-2", lines=[BudgetLineData("01-100", "", D("1"))]), BLANK)
    refused(sim, budget_batch("f-3", job="J" * 11), too_long("Job", 10))


# ---- jc_budget_change --------------------------------------------------------------

def test_budget_change_is_imported_unposted(sim):
    result = sim.submit(change_batch())
    assert (result.ok, result.reference) == (True, "J-1: 2 transactions")
    rows = sim.list_transactions("J-1", "Approved est chng")
    assert [(r["Cost_Code"], r["Amount"], r["Description"], r["Ref_1"], r["Posted"], r["Date"]) for r in rows] == [
        ("01-100", D("-500.00"), "From framing", "BC-001", False, TODAY),
        ("02-200", D("500.00"), "To drywall", "BC-001", False, TODAY)]
    assert sim.submit(change_batch("bc-2", reference="BC-002")).ok  # no "already exists" rule for changes
    assert sim.import_log("bc-1")["Kind"] == "jc_budget_change"


def test_budget_change_with_forecast(sim):
    lines = [BudgetChangeLineData("01-100", "SUB", D("100"), estimated_cost_at_completion=D("10100"))]
    assert sim.submit(change_batch(lines=lines, export_forecast=True)).ok
    assert [t[0] for t in txns(sim)] == ["Approved est chng", "Misc worksheet 1"]


def test_budget_change_rules(sim):
    refused(sim, change_batch("r-1", job="J-404"), NOT_FOUND)
    refused(sim, change_batch("r-2", job="J-OLD"), JOB_CLOSED)
    refused(sim, change_batch("r-3", lines=[BudgetChangeLineData("01-100", "EQP", D("1"))]), NO_CATEGORY)
    refused(sim, change_batch("r-4", reference="R" * 37), "[ChgMgmtRef1] is too long, maximum length is 36 "
                                                          "characters.")
    refused(sim, change_batch("r-5", lines=[BudgetChangeLineData("01-100", "SUB", D("1"), description="D" * 31)]),
            too_long("Description", 30))
    assert sim.submit(change_batch("r-6", reference="R" * 36)).ok


# ---- jc_pcco -------------------------------------------------------------------------

def test_pcco_is_imported(sim):
    result = sim.submit(pcco_batch())
    assert (result.ok, result.reference) == (True, "J-1/PCCO-7")
    assert [(r["Item"], r["Description"], r["Original_Amount"], r["Approved_Changes"])
            for r in sim.list_contract_items("CN-1")] == [
        ("010", "Base building", D("100000.00"), D("1000.00")), ("020", "Sitework", D("50000.00"), D("0.00")),
        ("040", "Canopy", D("0.00"), D("2750.00"))]
    rows = sim.list_transactions("J-1")
    assert [(r["Transaction_Type"], r["Cost_Code"], r["Category"], r["Description"], r["Amount"], r["Ref_1"],
             r["Ref_2"], r["Contract"], r["Contract_Item"], r["Posted"]) for r in rows] == [
        ("Approved est chng", "01-100", "SUB", "Subcontract", D("2500.00"), "PCCO-7", "HH2", "", "", False),
        ("Approved Schedule Value Change", "", "", "Base building", D("1000.00"), "PCCO-7", "HH2", "CN-1", "010",
         True),
        ("Approved Schedule Value Change", "", "", "Canopy", D("2750.00"), "PCCO-7", "HH2", "CN-1", "040", True)]
    assert sim.job_cost_summary("J-1") == {("", "", ""): {"Approved Schedule Value Change": D("3750.00")}}
    assert sim.get_contract("CN-1") == dict(Contract="CN-1", Job="J-1", Description="Main Street prime",
                                            Status="Open", Billing_Method="Use Contracts", Work_Started=None,
                                            Work_Completed=None)
    assert sim.get_contract("CN-404") is None


def test_pcco_estimate_only(sim):
    assert sim.submit(pcco_batch(schedule=())).ok
    assert txns(sim) == [("Approved est chng", "", "01-100", "SUB", D("2500.00"), False)]


def test_pcco_job_unknown_or_closed(sim):
    refused(sim, pcco_batch("j-1", job="J-404"), NOT_FOUND)
    sim.add_contract("CN-OLD", "J-OLD", items=[("010", "Base", D("1"))])
    refused(sim, pcco_batch("j-2", job="J-OLD", contract="CN-OLD", schedule=[PCCOScheduleLineData("010", D("1"))]),
            JOB_CLOSED)


def test_pcco_contract_unknown(sim):
    refused(sim, pcco_batch(contract="CN-404"), NOT_FOUND)


def test_pcco_number_and_ref_lengths(sim):
    refused(sim, pcco_batch("l-1", number="N" * 21), "[Number] is too long, maximum length is 20 characters.")
    assert sim.submit(pcco_batch("l-2", number="N" * 20)).ok
    batch = pcco_batch("l-3", number="PCCO-8", schedule=())
    long_ref2 = replace(batch, records=tuple(replace(t, ref_2="R" * 37) for t in batch.records))
    refused(sim, long_ref2, too_long("ChgMgmtRef2", 36))
    refused(sim, pcco_batch("l-4", number="PCCO-9", schedule=[PCCOScheduleLineData("010", D("1"),
                                                                                   description="D" * 31)]),
            too_long("Description", 30))


def test_pcco_new_item_code_that_exists(sim):
    refused(sim, pcco_batch("n-1", schedule=[PCCOScheduleLineData("020", D("1"), new_item=True)]), ITEM_EXISTS)
    twice = [PCCOScheduleLineData("050", D("1"), new_item=True), PCCOScheduleLineData("050", D("2"), new_item=True)]
    refused(sim, pcco_batch("n-2", schedule=twice), ITEM_EXISTS)
    assert sim.submit(pcco_batch("n-3")).ok
    refused(sim, pcco_batch("n-4", number="PCCO-8"), ITEM_EXISTS)  # 040 was created by PCCO-7


def test_pcco_existing_item_not_on_the_contract(sim):
    refused(sim, pcco_batch(schedule=[PCCOScheduleLineData("999", D("1"))]), NOT_FOUND)


def test_pcco_estimate_category_not_on_the_job(sim):
    refused(sim, pcco_batch(estimate=[PCCOEstimateLineData("02-200", "SUB", "Subcontract", D("1"))]), NO_CATEGORY)


def test_pcco_malformed_batches(sim):
    batch = pcco_batch()
    new_item, estimate, *changes = batch.records
    for records in [(new_item,), (estimate, new_item, *changes), (replace(estimate, transaction_type="JC cost"),),
                    (estimate, replace(changes[0], job="J-2"))]:
        with pytest.raises(ValueError):
            sim.submit(replace(batch, batch_id="m", records=records))
    assert sim.import_log("m") is None


# ---- ar_invoice -----------------------------------------------------------------------

def test_owner_invoice_is_imported(sim):
    result = sim.submit(ar_batch())
    assert (result.ok, result.reference) == (True, "OWNER/AR-1001")
    row = sim.get_ar_invoice("AR-1001")
    assert {k: row[k] for k in ("Invoice", "Customer", "Contract", "Job", "Description", "Invoice_Date",
                                "Accounting_Date", "Amount", "Retainage", "Batch_ID")} == dict(
        Invoice="AR-1001", Customer="OWNER", Contract="CN-1", Job="J-1", Description="Pay app 4",
        Invoice_Date=date(2026, 10, 25), Accounting_Date=date(2026, 10, 31), Amount=D("15000.00"),
        Retainage=D("1500.00"), Batch_ID="ar-1")
    assert [(d["Distribution_Seq"], d["Contract_Item"], d["Description"], d["Amount"], d["Retainage"])
            for d in sim.list_ar_distributions("AR-1001")] == [
        (1, "010", "Base building", D("10000.00"), D("1000.00")), (2, "020", "Sitework", D("5000.00"), D("500.00"))]
    assert sim.get_customer("OWNER") == dict(Customer="OWNER", Name="Harbor Owner LLC", Status="Active")
    assert sim.get_ar_invoice("AR-404") is None and sim.get_customer("NOBODY") is None
    assert sim.import_log("ar-1")["Kind"] == "ar_invoice"


def test_owner_invoice_customer_contract_or_item_unknown(sim):
    refused(sim, ar_batch("u-1", customer="NOBODY"), NOT_FOUND)
    refused(sim, ar_batch("u-2", contract="CN-404"), NOT_FOUND)
    refused(sim, ar_batch("u-3", lines=[OwnerInvoiceLineData("999", "x", D("1"), D("0"))]), NOT_FOUND)


def test_owner_invoice_duplicate(sim):
    assert sim.submit(ar_batch("d-1")).ok
    refused(sim, ar_batch("d-2"), AR_DUPLICATE)
    sim.add_customer("OTHER", "Another owner")
    refused(sim, ar_batch("d-3", customer="OTHER"), AR_DUPLICATE)  # unique overall, not per customer
    assert sim.submit(ar_batch("d-4", invoice="AR-1002")).ok


def test_owner_invoice_without_distributions(sim):
    zero = [OwnerInvoiceLineData("010", "x", D("0"), D("0"))]
    refused(sim, ar_batch(lines=zero), NO_DISTRIBUTIONS)


def test_owner_invoice_closed_gl_period(sim):
    sim.set_setting("closed_periods", "2026-10")
    refused(sim, ar_batch("p-1"), "Ar Invoice Api import failed with error message: GL period closed.  "
                                  "Entry not allowed. (10\\31\\2026).")
    assert sim.submit(ar_batch("p-2", accounting_date=date(2026, 11, 2))).ok


def test_owner_invoice_field_checks(sim):
    refused(sim, ar_batch("f-1", invoice="I" * 16), too_long("Invoice", 15))
    refused(sim, ar_batch("f-2", customer="C" * 11), too_long("Customer", 10))
    refused(sim, ar_batch("f-3", description="D" * 31), too_long("Description", 30))
    refused(sim, ar_batch("f-4", invoice=" "), BLANK)


def test_owner_invoice_rules_apply_in_order(sim):
    sim.set_setting("closed_periods", "2026-10")
    assert sim.submit(ar_batch("o-0", accounting_date=date(2026, 11, 1))).ok
    refused(sim, ar_batch("o-1", customer="NOBODY", contract="CN-404"), NOT_FOUND)
    refused(sim, ar_batch("o-2", lines=[]), NO_DISTRIBUTIONS)
    refused(sim, ar_batch("o-3"), AR_DUPLICATE)  # the duplicate before the period
    refused(sim, ar_batch("o-4", invoice="AR-2"), "Ar Invoice Api import failed with error message: GL period "
                                                  "closed.  Entry not allowed. (10\\31\\2026).")


def test_owner_invoice_on_an_item_a_pcco_created(sim):
    assert sim.submit(pcco_batch()).ok
    assert sim.submit(ar_batch(lines=[OwnerInvoiceLineData("040", "Canopy", D("2750"), D("275"))])).ok


# ---- every financial kind: replay, limit, drop folder, atomicity, schema -------------------

KINDS = {
    "jc_commitment": (commitment_batch, "C-NEW"),
    "jc_budget": (budget_batch, "J-1: 2 transactions"),
    "jc_budget_change": (change_batch, "J-1: 2 transactions"),
    "jc_pcco": (pcco_batch, "J-1/PCCO-7"),
    "ar_invoice": (ar_batch, "OWNER/AR-1001"),
    "jc_commitment_co": (cco_batch, "C-NEW/CCO-1"),
}

BLANK_ID = {
    "jc_commitment": lambda: commitment_batch("r", commitment=""),
    "jc_budget": lambda: budget_batch("r", job=""),
    "jc_budget_change": lambda: change_batch("r", job=""),
    "jc_pcco": lambda: pcco_batch("r", job=""),
    "ar_invoice": lambda: ar_batch("r", invoice=""),
    "jc_commitment_co": lambda: cco_batch("r", cco=""),
}


@pytest.fixture
def ready(sim):
    """The seeded simulator with the commitment a CCO needs."""
    assert sim.submit(commitment_batch("cm-0")).ok
    return sim


def _make(kind, batch_id):
    make, _ = KINDS[kind]
    return make(batch_id) if kind != "jc_commitment" else make(batch_id, commitment="C-TWO")


@pytest.mark.parametrize("kind", KINDS)
def test_replay_returns_stored_result_and_creates_nothing(ready, kind):
    first = ready.submit(_make(kind, "same"))
    assert first.ok and not first.replayed
    after_first = counts(ready)
    again = ready.submit(_make(kind, "same"))
    assert again == replace(first, replayed=True)
    assert counts(ready) == after_first


@pytest.mark.parametrize("kind", KINDS)
def test_refusal_replays_too(ready, kind):
    blank = BLANK_ID[kind]()
    refused(ready, blank, BLANK)
    again = ready.submit(blank)
    assert (again.ok, again.message, again.replayed) == (False, BLANK, True)


def test_same_batch_id_of_another_kind_is_a_value_error(sim):
    assert sim.submit(budget_batch("shared")).ok
    with pytest.raises(ValueError):
        sim.submit(change_batch("shared"))


def test_hourly_limit_counts_the_financial_kinds(sim, clock):
    sim.set_setting("hourly_limit", 2)
    assert sim.submit(commitment_batch("h-1")).ok
    assert sim.submit(budget_batch("h-2")).ok
    assert sim.submit(budget_batch("h-2")).replayed
    limited = sim.submit(ar_batch("h-3"))
    assert (limited.ok, limited.message) == (False, RATE_LIMITED)
    assert sim.import_log("h-3") is None and sim.get_ar_invoice("AR-1001") is None
    clock.now += timedelta(hours=1, minutes=1)
    assert sim.submit(ar_batch("h-3")).ok


@pytest.mark.parametrize("kind, first_row", [
    ("jc_commitment", ["CM", "C-TWO", "Subcontract", "Framing subcontract", "ACME", "J-1", "09/15/2026", "10.00"]),
    ("jc_commitment_co", ["CO", "C-NEW", "CCO-1", "Added blocking", "10/01/2026", "Approved"]),
    ("jc_budget", ["JCT", "J-1", "", "01-100", "SUB", "Original estimate", "10/01/2026", "", "10000.00", "", "",
                   "", ""]),
    ("jc_budget_change", ["JCT", "J-1", "", "01-100", "SUB", "Approved est chng", "10/01/2026", "From framing",
                          "-500.00", "BC-001", "", "", ""]),
    ("jc_pcco", ["CNI", "CN-1", "040", "Canopy"]),
    ("ar_invoice", ["I", "OWNER", "AR-1001", "CN-1", "J-1", "Pay app 4", "10/25/2026", "10/31/2026", "15000.00",
                    "1500.00"]),
])
def test_import_file_written_to_drop_folder(ready, tmp_path, kind, first_row):
    before = set(os.listdir(tmp_path / "drop"))
    batch_id = f"{kind} 7/attempt 1"
    batch = _make(kind, batch_id)
    assert ready.submit(batch).ok
    assert set(os.listdir(tmp_path / "drop")) - before == {drop_file_name(batch_id)}
    raw = (tmp_path / "drop" / drop_file_name(batch_id)).read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == len(batch.records)
    assert parse_import_file(raw.decode(FILE_ENCODING))[0] == first_row
    refused(ready, BLANK_ID[kind](), BLANK)
    assert len(os.listdir(tmp_path / "drop")) == len(before) + 1  # refusals write no file


def test_all_or_nothing_when_the_drop_file_fails(make_sim, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    s = make_sim(drop_folder=str(blocker))
    s.create_all()
    seed(s)
    before = counts(s)
    with pytest.raises(OSError):
        s.submit(commitment_batch())
    with pytest.raises(ConnectorUnavailable):
        SimulatorConnector(s).submit(pcco_batch())
    assert counts(s) == before and s.import_log("cm-1") is None and s.list_transactions("J-1") == []
    s.drop_folder = str(tmp_path / "drop")
    assert s.submit(commitment_batch()).ok and len(s.list_transactions("J-1")) == 2


def test_two_threads_same_commitment_batch_make_one_commitment(make_sim, sim):
    other = make_sim()
    for round_ in range(3):
        batch = commitment_batch(f"race-{round_}", commitment=f"C-R{round_}")
        results = submit_at_once((sim, other), batch)
        assert sorted(r.replayed for r in results) == [False, True]
        assert all(r.ok for r in results)
        assert len(sim.list_commitment_items(f"C-R{round_}")) == 2
    assert len(sim.list_transactions("J-1", "Committed cost")) == 6


def test_create_all_adds_the_new_tables_to_an_existing_database(sim):
    # a database made before the financial kinds: create_all (first use) adds their tables
    with sim.engine.begin() as conn:
        for table in reversed(simmod.metadata.sorted_tables):
            if table.name in {t.name for t in TABLES} - {"APM_MASTER__INVOICE", "JCM_MASTER__COMMITMENT"}:
                table.drop(conn)
    sim.create_all()
    assert sim.get_vendor("ACME")["Name"] == "Acme Framing"  # existing data kept
    assert sim.get_contract("CN-1") is None and sim.list_transactions("J-1") == []
    assert sim.submit(commitment_batch()).ok and len(sim.list_transactions("J-1")) == 2


def test_drop_all_and_create_all(sim):
    assert sim.submit(commitment_batch()).ok
    sim.drop_all()
    sim.create_all()
    assert counts(sim)[0] == (0,) * len(TABLES)


def test_end_to_end(sim):
    """Budget, commitment, CCO, invoices, PCCO and an owner invoice on one job."""
    assert sim.submit(budget_batch()).ok
    assert sim.submit(commitment_batch()).ok
    assert sim.submit(cco_batch()).ok
    assert sim.submit(ap_batch("ap-1", "INV-1", D("10500"))).ok
    assert sim.submit(pcco_batch()).ok
    assert sim.submit(ar_batch()).ok
    assert sim.post_transactions("J-1") == 4  # 2 estimates, the CCO's change, the PCCO's estimate change
    summary = sim.job_cost_summary("J-1")
    assert summary[("", "01-100", "SUB")] == {"Original estimate": D("10000.00"), "Committed cost": D("6000.00"),
                                              "Aprvd cmmtt cst chng": D("500.00"),
                                              "Approved est chng": D("2500.00")}
    assert summary[("", "01-100", "MAT")] == {"Committed cost": D("4000.00")}


# ---- connectors ----------------------------------------------------------------------

def test_simulator_connector_passes_financial_results_through(sim):
    connector = SimulatorConnector(sim)
    assert connector.submit(budget_batch()).reference == "J-1: 2 transactions"
    assert connector.submit(budget_batch()).replayed


@pytest.mark.parametrize("kind", KINDS)
def test_file_drop_connector_writes_every_financial_kind(tmp_path, kind):
    connector = FileDropConnector(str(tmp_path / "out"))
    first = connector.submit(_make(kind, "f-1"))
    assert (first.ok, first.reference) == (True, "f-1.txt")
    rows = parse_import_file((tmp_path / "out" / "f-1.txt").read_text(encoding=FILE_ENCODING))
    assert len(rows) == len(_make(kind, "f-1").records)


def test_hand_built_records_of_the_wrong_kind(sim):
    for batch in [Batch("m-1", "jc_budget", (CNContractItem("CN-1", "090", "x"),)),
                  Batch("m-2", "jc_budget"),
                  Batch("m-3", "jc_commitment", commitment_batch().records[:1]),
                  Batch("m-4", "jc_budget_change", budget_batch().records),
                  Batch("m-5", "ar_invoice", ar_batch().records[1:]),
                  Batch("m-6", "jc_commitment_co", (JCCommitmentCOItem("C-NEW", "CCO-1", "1", D("1")),)),
                  Batch("m-7", "jc_budget", (JCTransaction("J-1", "", "01-100", "SUB", "Original estimate", TODAY,
                                                           "", D("1")),
                                             JCTransaction("J-2", "", "01-100", "SUB", "Original estimate", TODAY,
                                                           "", D("1"))))]:
        before = counts(sim)
        with pytest.raises(ValueError):
            sim.submit(batch)
        assert counts(sim) == before and sim.import_log(batch.batch_id) is None
