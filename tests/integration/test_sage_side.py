"""The Sage side of "Data back from Sage": the simulator's readers (what the portal's imports
read), its adders and updaters (what a Sage user enters), the add-column migration of
create_all, and the demo's Sage-only data.

SQLite in tmp_path by default; PostgreSQL (a fresh schema per test) when DATABASE_URL starts
with "postgresql" (tests/sage_db.py)."""
from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    insert,
    inspect,
)

from portal.exporters.sage300 import simulator as simmod
from portal.exporters.sage300.mapping import (
    APPROVED_COMMITMENT_CHANGE,
    APPROVED_ESTIMATE_CHANGE,
    COMMITTED_COST,
    MISC_WORKSHEET_1,
    ORIGINAL_ESTIMATE,
    SCHEDULE_VALUE_CHANGE,
)
from portal.exporters.sage300.simulator import COST_TYPES, SageInputError, make_engine
from tests.rows import check_rows

# the sage_db clock says 2026-10-01 12:00: October is the current month
THIS_MONTH, LAST_MONTH = date(2026, 10, 1), date(2026, 9, 30)


@pytest.fixture
def sage(make_sim):
    s = make_sim()
    s.create_all()
    s.add_vendor("ACME", "Acme Framing", city="Springfield")
    s.add_vendor("OLDCO", "Old Co", status="Inactive")
    s.add_job("J-2", "Warehouse", billing_method="Use Quickbill", billing_level="Section")
    s.add_job("J-1", "Main Street Tower", city="Springfield")
    s.add_coding("J-1", "01-100", "LAB", "General Conditions", "Labor")
    s.add_coding("J-1", "01-100", "EQP", "General Conditions", "Equipment")
    s.add_coding("J-1", "03-300", "SUB", "Concrete", "Subcontract")
    s.add_coding("J-1", "03-300", "MAT", "Concrete", "Material")
    s.add_extra("J-1", "E1", "Lobby upgrade")
    s.add_coding("J-1", "03-300", "SUB", "Concrete (lobby)", "Subcontract", extra="E1")
    s.add_coding("J-2", "01-100", "LAB", "General Conditions", "Labor")
    s.add_commitment("C-1", "ACME", "J-1", D("50000"))
    return s


def counts(s) -> dict:
    return s.overview()["counts"]


# ---- create_all: the add-column migration ------------------------------------------------

def old_tables() -> tuple:
    """JCM_MASTER__JOB and JCT_CURRENT__TRANSACTION as the simulator made them before issue 4."""
    old = MetaData()
    job = Table("JCM_MASTER__JOB", old, Column("Job", String(10), primary_key=True),
                Column("Description", String(30), nullable=False), Column("Address_1", String(30), nullable=False),
                Column("Address_2", String(30), nullable=False), Column("City", String(15), nullable=False),
                Column("State", String(4), nullable=False), Column("ZIP", String(10), nullable=False),
                Column("Status", String(10), nullable=False))
    txn = Table("JCT_CURRENT__TRANSACTION", old, Column("Transaction_ID", Integer, primary_key=True),
                Column("Job", String(10), ForeignKey("JCM_MASTER__JOB.Job"), nullable=False),
                Column("Extra", String(10), nullable=False), Column("Cost_Code", String(12), nullable=False),
                Column("Category", String(3), nullable=False), Column("Transaction_Type", String(30), nullable=False),
                Column("Date", Date, nullable=False), Column("Description", String(30), nullable=False),
                Column("Amount", Numeric(12, 2), nullable=False), Column("Ref_1", String(36), nullable=False),
                Column("Ref_2", String(36), nullable=False), Column("Commitment", String(12), nullable=False),
                Column("Commitment_Item", String, nullable=False), Column("Commitment_CO", String(10), nullable=False),
                Column("Contract", String, nullable=False), Column("Contract_Item", String, nullable=False),
                Column("Posted", Boolean, nullable=False), Column("Batch_ID", String, nullable=False),
                Column("Created_At", DateTime, nullable=True))
    return old, job, txn


def test_an_old_database_gets_the_new_columns_and_keeps_its_rows(db, make_sim):
    url, schema = db
    old, job, txn = old_tables()
    engine = make_engine(url, schema)
    with engine.begin() as conn:
        if schema:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        old.create_all(conn)
        conn.execute(insert(job).values(Job="J-OLD", Description="Made before", Address_1="", Address_2="",
                                        City="", State="", ZIP="", Status="Open"))
        conn.execute(insert(txn).values(Job="J-OLD", Extra="", Cost_Code="01-100", Category="LAB",
                                        Transaction_Type="PR cost", Date=THIS_MONTH, Description="old cost",
                                        Amount=D("120"), Ref_1="", Ref_2="", Commitment="", Commitment_Item="",
                                        Commitment_CO="", Contract="", Contract_Item="", Posted=True, Batch_ID=""))
    engine.dispose()

    s = make_sim()
    s.create_all()
    s.create_all()  # a second run finds nothing to add
    inspector = inspect(s.engine.connect())
    try:
        job_columns = {c["name"] for c in inspector.get_columns("JCM_MASTER__JOB", schema=schema)}
        txn_columns = {c["name"] for c in inspector.get_columns("JCT_CURRENT__TRANSACTION", schema=schema)}
    finally:
        inspector.bind.close()
    assert {"Billing_Method", "Billing_Level"} <= job_columns
    assert {"Units", "Unit_Cost", "Vendor", "Invoice", "Amount_Paid"} <= txn_columns
    assert s.get_job("J-OLD")["Billing_Method"] == "Use Contracts" and s.get_job("J-OLD")["Billing_Level"] == ""
    [old_cost] = s.list_cost_transactions("J-OLD")
    assert (old_cost["Vendor"], old_cost["Invoice"], old_cost["Amount_Paid"], old_cost["Units"]) == ("", "", 0, None)
    # the new tables came too, and the old rows take new writes
    s.add_standard_category("LAB", "Labor")
    s.update_job("J-OLD", Billing_Method="Use Quickbill", Billing_Level="Job")
    s.set_schedule_value("J-OLD", "", "Whole job", "1000")
    assert s.list_schedule_values("J-OLD")[0]["Original_Contract_Amount"] == D("1000")


def test_a_new_not_null_column_without_server_default_is_refused(make_sim, monkeypatch):
    s = make_sim()
    s.create_all()
    newer = MetaData()
    Table("SIM_SETTING", newer, Column("Key", String(40), primary_key=True), Column("Value", String, nullable=False),
          Column("Forgotten", String(5), nullable=False))
    monkeypatch.setattr(simmod.schema, "metadata", newer)  # create_all reads schema.metadata
    with pytest.raises(RuntimeError, match="SIM_SETTING.Forgotten"):
        s.create_all()
    assert s.settings()["hourly_limit"] == 0  # the table is as it was


# ---- readers ----------------------------------------------------------------------------

def test_list_vendors_and_jobs_every_status_by_code(sage):
    sage.add_vendor("AAA", "First")
    assert [v["Vendor"] for v in sage.list_vendors()] == ["AAA", "ACME", "OLDCO"]
    assert sage.list_vendors()[2]["Status"] == "Inactive"
    sage.set_job_status("J-1", "Closed")
    jobs = sage.list_jobs()
    assert [(j["Job"], j["Status"], j["Billing_Method"], j["Billing_Level"]) for j in jobs] == [
        ("J-1", "Closed", "Use Contracts", ""), ("J-2", "Open", "Use Quickbill", "Section")]
    assert set(jobs[0]) == {"Job", "Description", "Address_1", "Address_2", "City", "State", "ZIP", "Status",
                            "Billing_Method", "Billing_Level"}


def test_list_extras_of_every_job_or_one(sage):
    sage.add_extra("J-2", "A0", "Alternate")
    sage.add_extra("J-1", "A9", "Another")
    assert [(e["Job"], e["Extra"]) for e in sage.list_extras()] == [("J-1", "A9"), ("J-1", "E1"), ("J-2", "A0")]
    assert [e["Extra"] for e in sage.list_extras("J-1")] == ["A9", "E1"]
    assert sage.list_extras("NOPE") == []


def test_standard_cost_codes_and_categories(sage):
    sage.add_standard_cost_code("09-900", "Painting")
    sage.add_standard_cost_code("01-100", "General Conditions", status="Inactive")
    sage.add_standard_category("SUB", "Subcontract")
    sage.add_standard_category("EQP", "Equipment")
    assert sage.list_standard_cost_codes() == [
        {"Cost_Code": "01-100", "Description": "General Conditions", "Status": "Inactive"},
        {"Cost_Code": "09-900", "Description": "Painting", "Status": "Active"}]
    assert sage.list_standard_categories() == [{"Category": "EQP", "Description": "Equipment"},
                                               {"Category": "SUB", "Description": "Subcontract"}]


STANDARD_BAD = [
    (lambda s: s.add_standard_cost_code("09-900", "Again"), "code", "Standard cost code 09-900 already exists"),
    (lambda s: s.add_standard_cost_code("1234567890123", "x"), "code",
     "Code is too long: Sage 300 CRE allows at most 12"),
    (lambda s: s.add_standard_cost_code("09-910", "x" * 31), "description", "at most 30"),
    (lambda s: s.add_standard_cost_code(" ", "x"), "code", "Code is required."),
    (lambda s: s.add_standard_cost_code("09-910", "x", status="Gone"), "status", "Active, Inactive"),
    (lambda s: s.add_standard_category("SUB", "Again"), "code", "Standard category SUB already exists"),
    (lambda s: s.add_standard_category("SUBC", "x"), "code", "at most 3"),
]


def test_standard_adders_refuse_bad_input(sage):
    """Every row of STANDARD_BAD is refused naming its field and adds nothing."""
    sage.add_standard_cost_code("09-900", "Painting")
    sage.add_standard_category("SUB", "Subcontract")

    def check(call, field, text):
        before = counts(sage)
        with pytest.raises(SageInputError, match=text) as err:
            call(sage)
        assert err.value.field == field and isinstance(err.value, ValueError), err.value.field
        assert counts(sage) == before

    check_rows({f"{row[-2]}: {row[-1]}": row for row in STANDARD_BAD}, check)


def test_contracts_by_contract_of_every_job_or_one(sage):
    sage.add_job("J-3", "Third")
    sage.add_contract("CN-B", "J-1", "Second", items=[("10", "Base", "100000.50")])
    sage.add_contract("CN-A", "J-3", "First", items=[("2", "Shell", D("5")), ("10", "Sitework", D("7"))])
    assert [c["Contract"] for c in sage.list_contracts()] == ["CN-A", "CN-B"]
    assert [c["Contract"] for c in sage.list_contracts("J-1")] == ["CN-B"]
    assert sage.list_contracts()[0] == {"Contract": "CN-A", "Job": "J-3", "Description": "First", "Status": "Open",
                                        "Billing_Method": "Use Contracts", "Work_Started": None,
                                        "Work_Completed": None}
    assert [(i["Item"], i["Original_Amount"]) for i in sage.list_contract_items("CN-B")] == [("10", D("100000.50"))]
    assert [i["Item"] for i in sage.list_contract_items("CN-A")] == ["2", "10"]


CONTRACT_BAD = [
    (dict(contract="CN-1", job="J-1"), "contract", "Contract CN-1 already exists"),
    (dict(contract="CN-2", job="NOPE"), "job", "No job NOPE"),
    (dict(contract="CN-2", job="J-2"), "job", "Job J-2 bills Use Quickbill"),
    (dict(contract="CN-2", job="J-1", description="d" * 31), "description", "at most 30"),
    (dict(contract="", job="J-1"), "contract", "Contract is required."),
    (dict(contract="CN-2", job="J-1", items=[("1", "a", "1"), ("1", "b", "2")]), "items", "listed twice"),
    (dict(contract="CN-2", job="J-1", items=[("", "a", "1")]), "items", "needs an item code"),
    (dict(contract="CN-2", job="J-1", items=[("1", "x" * 31, "1")]), "items", "at most 30"),
    (dict(contract="CN-2", job="J-1", items=[("1", "a", "lots")]), "items", "must be a number"),
]


def test_add_contract_refuses_bad_input_and_adds_nothing(sage):
    """Every row of CONTRACT_BAD is refused naming its field and adds nothing."""
    sage.add_contract("CN-1", "J-1", "Prime", items=[("1", "Base", "10")])

    def check(kwargs, field, text):
        before = counts(sage)
        with pytest.raises(SageInputError, match=text) as err:
            sage.add_contract(**kwargs)
        assert err.value.field == field, err.value.field
        assert counts(sage) == before and [i["Item"] for i in sage.list_contract_items("CN-1")] == ["1"]

    check_rows({f"{row[-2]}: {row[-1]}": row for row in CONTRACT_BAD}, check)


def test_schedule_values_by_level_code_insert_or_update(sage):
    sage.add_coding("J-2", "03-300", "SUB", "Concrete", "Subcontract")
    sage.set_schedule_value("J-2", "03-300", "Concrete", "640000")
    sage.set_schedule_value("J-2", "01-100", "General", D("210000"))
    sage.set_schedule_value("J-2", "03-300", "Concrete and rebar", "650000")  # an update, not a second row
    assert sage.list_schedule_values("J-2") == [
        {"Job": "J-2", "Level_Code": "01-100", "Description": "General", "Original_Contract_Amount": D("210000")},
        {"Job": "J-2", "Level_Code": "03-300", "Description": "Concrete and rebar",
         "Original_Contract_Amount": D("650000")}]
    sage.add_job("J-DIV", "Division job", billing_method="Use Quickbill", billing_level="Division")
    sage.set_schedule_value("J-DIV", "03", "Concrete", "1")
    assert [r["Level_Code"] for r in sage.list_schedule_values("J-DIV")] == ["03"]
    assert sage.list_schedule_values("J-1") == []


SCHEDULE_BAD = [
    (("J-1", "", "x", "1"), "job", "bills Use Contracts"),
    (("NOPE", "", "x", "1"), "job", "No job NOPE"),
    (("J-JOB", "03", "x", "1"), "level_code", "leave the level code blank"),
    (("J-2", "", "x", "1"), "level_code", "give the section code"),
    (("J-2", "99-999", "x", "1"), "level_code", "No cost code 99-999 on job J-2"),
    (("J-2", "01-100", "x" * 31, "1"), "description", "at most 30"),
    (("J-2", "1234567890123", "x", "1"), "level_code", "at most 12"),
    (("J-2", "01-100", "x", "ten"), "amount", "Amount must be a number."),
    (("J-2", "01-100", "x", "1e12"), "amount", "below"),
]


def test_set_schedule_value_refuses_bad_input(sage):
    """Every row of SCHEDULE_BAD is refused naming its field and adds nothing."""
    sage.add_job("J-JOB", "Job level", billing_method="Use Quickbill", billing_level="Job")

    def check(args, field, text):
        with pytest.raises(SageInputError, match=text) as err:
            sage.set_schedule_value(*args)
        assert err.value.field == field and counts(sage)["schedule_values"] == 0, err.value.field

    check_rows({f"{row[-2]}: {row[-1]}": row for row in SCHEDULE_BAD}, check)


def post_everything(s):
    """Every kind of transaction on J-1's 03-300 SUB (and a few elsewhere); returns nothing."""
    s.add_transaction("J-1", "03-300", "SUB", ORIGINAL_ESTIMATE, "10000", date=LAST_MONTH, units="100")
    s.add_transaction("J-1", "03-300", "SUB", APPROVED_ESTIMATE_CHANGE, "1500", date=THIS_MONTH, units="10")
    s.add_transaction("J-1", "03-300", "SUB", APPROVED_ESTIMATE_CHANGE, "-500", date=THIS_MONTH)
    s.add_transaction("J-1", "03-300", "SUB", COMMITTED_COST, "8000", commitment="C-1", date=LAST_MONTH)
    s.add_transaction("J-1", "03-300", "SUB", APPROVED_COMMITMENT_CHANGE, "700", commitment="C-1")
    s.add_transaction("J-1", "03-300", "SUB", MISC_WORKSHEET_1, "99999")  # not a Job Costs column
    s.add_cost("J-1", "03-300", "SUB", "AP cost", "3000", vendor="ACME", invoice="INV-1", commitment="C-1",
               amount_paid="2700", date=LAST_MONTH)                                   # last month, on C-1
    s.add_cost("J-1", "03-300", "SUB", "AP cost", "2000", vendor="ACME", invoice="INV-2", commitment="C-1",
               date=THIS_MONTH)                                                      # first day of this month
    s.add_cost("J-1", "03-300", "SUB", "AP cost", "400", vendor="ACME", invoice="INV-3",
               amount_paid="400", date=date(2026, 10, 20))                           # no commitment
    s.add_cost("J-1", "03-300", "SUB", "JC cost", "250", units="5", unit_cost="50", date=date(2025, 10, 15))
    s.add_cost("J-1", "03-300", "SUB", "AP cost", "77777", vendor="ACME", posted=False)  # new.jct: not counted
    s.add_transaction("J-1", "03-300", "SUB", ORIGINAL_ESTIMATE, "5555", posted=False)  # nor this
    s.add_cost("J-1", "01-100", "LAB", "PR cost", "4250", units="100", unit_cost="42.5", amount_paid="4250",
               date=THIS_MONTH)
    s.add_cost("J-1", "01-100", "EQP", "EQ cost", "380", units="4", unit_cost="95", date=LAST_MONTH)
    s.add_cost("J-1", "03-300", "SUB", "IV cost", "60", extra="E1", date=THIS_MONTH)


def test_job_costs_adds_up_the_posted_transactions(sage):
    post_everything(sage)
    rows = {(r["Extra"], r["Cost_Code"], r["Category"]): r for r in sage.job_costs("J-1")}
    sub = rows[("", "03-300", "SUB")]
    assert sub["Cost_Code_Description"] == "Concrete" and sub["Category_Description"] == "Subcontract"
    assert (sub["Original_Estimate"], sub["Original_Estimate_Units"]) == (D("10000"), D("100"))
    assert (sub["Approved_Estimate_Changes"], sub["Approved_Estimate_Unit_Changes"]) == (D("1000"), D("10"))
    assert (sub["Total_Estimate"], sub["Total_Estimate_Units"]) == (D("11000"), D("110"))
    assert (sub["Original_Commitment"], sub["Approved_Commitment_Changes"], sub["Revised_Commitment"]) == (
        D("8000"), D("700"), D("8700"))
    assert sub["Commitment_Invoiced"] == D("5000")          # AP costs on C-1 only
    assert sub["JTD_Cost"] == D("5650") and sub["JTD_Units"] == D("5")
    assert sub["JTD_Dollars_Paid"] == D("3100")
    # MTD: October 2026 only (not September, not October 2025)
    assert (sub["MTD_Cost"], sub["MTD_Units"], sub["MTD_Dollars_Paid"]) == (D("2400"), D("0"), D("400"))
    lab = rows[("", "01-100", "LAB")]
    assert (lab["JTD_Cost"], lab["JTD_Units"], lab["MTD_Cost"], lab["MTD_Units"], lab["MTD_Dollars_Paid"]) == (
        D("4250"), D("100"), D("4250"), D("100"), D("4250"))
    assert (rows[("", "01-100", "EQP")]["JTD_Cost"], rows[("", "01-100", "EQP")]["MTD_Cost"]) == (D("380"), 0)
    assert rows[("E1", "03-300", "SUB")]["JTD_Cost"] == D("60")
    assert rows[("E1", "03-300", "SUB")]["Cost_Code_Description"] == "Concrete (lobby)"


def test_job_costs_lists_every_category_and_transaction_only_codings_in_order(sage):
    sage.add_transaction("J-1", "99-999", "OTH", ORIGINAL_ESTIMATE, "12")  # a coding with no category row
    sage.add_transaction("J-1", "", "", SCHEDULE_VALUE_CHANGE, "5000", contract="CN", contract_item="1")
    rows = sage.job_costs("J-1")
    assert [(r["Extra"], r["Cost_Code"], r["Category"]) for r in rows] == [
        ("", "01-100", "EQP"), ("", "01-100", "LAB"), ("", "03-300", "MAT"), ("", "03-300", "SUB"),
        ("", "99-999", "OTH"), ("E1", "03-300", "SUB")]
    assert list(rows[0]) == list(simmod.JOB_COST_KEYS) and rows[0]["Job"] == "J-1"
    untouched = rows[2]
    assert all(untouched[k] == 0 and isinstance(untouched[k], D) for k in simmod.JOB_COST_KEYS[6:])
    assert (rows[4]["Original_Estimate"], rows[4]["Cost_Code_Description"], rows[4]["Category_Description"]) == (
        D("12"), "", "")
    assert sage.job_costs("NOPE") == []


def test_job_costs_counts_a_batch_once_it_is_posted(sage):
    sage.add_transaction("J-1", "03-300", "SUB", APPROVED_COMMITMENT_CHANGE, "900", commitment="C-1", posted=False)
    def sub():
        return next(r for r in sage.job_costs("J-1") if (r["Extra"], r["Cost_Code"], r["Category"]) == (
            "", "03-300", "SUB"))
    assert sub()["Approved_Commitment_Changes"] == 0
    assert sage.post_transactions("J-1") == 1
    assert sub()["Approved_Commitment_Changes"] == D("900") and sub()["Revised_Commitment"] == D("900")


def test_mtd_follows_the_simulator_clock(sage, clock):
    from datetime import datetime
    sage.add_cost("J-1", "01-100", "LAB", "PR cost", "100", date=date(2026, 10, 31))
    sage.add_cost("J-1", "01-100", "LAB", "PR cost", "10", date=date(2026, 11, 1))
    def lab():
        return next(r for r in sage.job_costs("J-1") if r["Category"] == "LAB")
    assert lab()["MTD_Cost"] == D("100")
    clock.now = datetime(2026, 11, 1, 0, 0)
    assert lab()["MTD_Cost"] == D("10") and lab()["JTD_Cost"] == D("110")


def test_list_cost_transactions_posted_costs_only_by_id(sage):
    post_everything(sage)
    rows = sage.list_cost_transactions("J-1")
    assert [r["Transaction_Type"] for r in rows] == ["AP cost", "AP cost", "AP cost", "JC cost", "PR cost",
                                                     "EQ cost", "IV cost"]
    assert [r["Transaction_ID"] for r in rows] == sorted(r["Transaction_ID"] for r in rows)
    assert list(rows[0]) == list(simmod.COST_TRANSACTION_KEYS)
    first = rows[0]
    assert (first["Vendor"], first["Invoice"], first["Commitment"], first["Amount"], first["Amount_Paid"],
            first["Date"], first["Units"]) == ("ACME", "INV-1", "C-1", D("3000"), D("2700"), LAST_MONTH, None)
    jc = rows[3]
    assert (jc["Units"], jc["Unit_Cost"], jc["Vendor"]) == (D("5"), D("50"), "")
    assert rows[6]["Extra"] == "E1"
    assert sage.list_cost_transactions("J-2") == []
    assert COST_TYPES == ("AP cost", "PR cost", "EQ cost", "IV cost", "JC cost")


# ---- adders and updaters ------------------------------------------------------------------

def test_add_cost_returns_its_transaction_id_and_defaults_to_today(sage):
    first = sage.add_cost("J-1", "01-100", "LAB", "PR cost", "10")
    second = sage.add_cost("J-1", "01-100", "LAB", "PR cost", "20")
    assert second > first
    row = sage.list_cost_transactions("J-1")[-1]
    assert (row["Transaction_ID"], row["Date"], row["Amount"]) == (second, THIS_MONTH, D("20"))


COST_BAD = [
    (dict(transaction_type="Committed cost"), "transaction_type", "AP cost, PR cost, EQ cost, IV cost, JC cost"),
    (dict(job="NOPE"), "job", "No job NOPE"),
    (dict(category="MAT", cost_code="01-100"), "category", "No category MAT on cost code J-1/01-100"),
    (dict(extra="E9"), "extra", "No extra E9 on job J-1"),
    (dict(transaction_type="PR cost", vendor="ACME"), "vendor", "Only an AP cost has a vendor"),
    (dict(transaction_type="JC cost", commitment="C-1"), "commitment", "Only an AP cost has a commitment"),
    (dict(vendor="NOBODY"), "vendor", "No vendor NOBODY"),
    (dict(commitment="C-9"), "commitment", "No commitment C-9"),
    (dict(job="J-2", cost_code="01-100", category="LAB", commitment="C-1"), "commitment", "is on job J-1"),
    (dict(invoice="I" * 16), "invoice", "Invoice is too long: Sage 300 CRE allows at most 15"),
    (dict(description="d" * 31), "description", "at most 30"),
    (dict(cost_code=""), "cost_code", "Cost code is required."),
    (dict(amount="12,34.5x"), "amount", "Amount must be a number."),
    (dict(units="many"), "units", "Units must be a number."),
    (dict(amount_paid="NaN"), "amount_paid", "Amount paid must be a number"),
]


def test_add_cost_refuses_bad_input_and_adds_nothing(sage):
    """Every row of COST_BAD is refused naming its field and adds nothing."""
    base = dict(job="J-1", cost_code="03-300", category="SUB", transaction_type="AP cost", amount="10")

    def check(kwargs, field, text):
        with pytest.raises(SageInputError, match=text) as err:
            sage.add_cost(**{**base, **kwargs})
        assert err.value.field == field, err.value.field
        assert sage.list_transactions("J-1") == [] and sage.list_transactions("J-2") == []

    check_rows({f"{row[-2]}: {row[-1]}": row for row in COST_BAD}, check)


ADDERS_BAD = [
    (lambda s: s.add_vendor("ACME", "Again"), "vendor", "Vendor ACME already exists"),
    (lambda s: s.add_vendor("ABCDEFGHIJK", "Long"), "vendor", "Vendor is too long: Sage 300 CRE allows at most 10"),
    (lambda s: s.add_vendor("NEW", ""), "name", "Name is required."),
    (lambda s: s.add_vendor("NEW", "n" * 31), "name", "at most 30"),
    (lambda s: s.add_vendor("NEW", "New", city="c" * 31), "city", "City is too long"),
    (lambda s: s.add_vendor("NEW", "New", status="Archived"), "status", "Active, Inactive"),
    (lambda s: s.add_job("J-1", "Again"), "job", "Job J-1 already exists"),
    (lambda s: s.add_job("J-9", "Nine", city="c" * 16), "city", "at most 15"),
    (lambda s: s.add_job("J-9", "Nine", billing_method="Use Quickbill"), "billing_level", "needs a billing level"),
    (lambda s: s.add_job("J-9", "Nine", billing_level="Job"), "billing_level", "Use Quickbill jobs only"),
    (lambda s: s.add_job("J-9", "Nine", billing_method="Quick"), "billing_method", "Use Contracts, Use Quickbill"),
    (lambda s: s.add_extra("J-1", "E1", "Again"), "extra", "Extra E1 of job J-1 already exists"),
    (lambda s: s.add_extra("NOPE", "E1"), "job", "No job NOPE"),
    (lambda s: s.add_extra("J-1", "E12345678901"), "extra", "at most 10"),
    (lambda s: s.add_coding("J-1", "03-300", "SUB"), "category", "Category SUB of J-1/03-300 already exists"),
    (lambda s: s.add_coding("J-1", "03-300", "SUBX"), "category", "at most 3"),
    (lambda s: s.add_coding("J-1", "03-300", "LAB", extra="E7"), "extra", "No extra E7 on job J-1"),
    (lambda s: s.add_coding("NOPE", "03-300", "LAB"), "job", "No job NOPE"),
    (lambda s: s.add_coding("J-1", "04-400", "LAB", "c" * 31), "cost_code_description", "at most 30"),
    (lambda s: s.add_cost_code("J-1", "03-300", "Again"), "cost_code", "J-1/03-300 already exists"),
    (lambda s: s.add_category("J-1", "07-700", "LAB", "Labor"), "cost_code", "No cost code J-1/07-700"),
]


def test_adders_refuse_bad_input_and_add_nothing(sage):
    """Every row of ADDERS_BAD is refused naming its field and adds nothing."""
    def check(call, field, text):
        before = counts(sage)
        with pytest.raises(SageInputError, match=text) as err:
            call(sage)
        assert err.value.field == field, err.value.field
        assert counts(sage) == before

    check_rows({f"{row[-2]}: {row[-1]}": row for row in ADDERS_BAD}, check)


def test_add_coding_adds_the_cost_code_once(sage):
    sage.add_coding("J-1", "05-120", "SUB", "Structural Steel", "Subcontract")
    sage.add_coding("J-1", "05-120", "MAT", "ignored: the code exists", "Material")
    assert sage.list_cost_codes("J-1")[-1] == {"Job": "J-1", "Extra": "", "Cost_Code": "05-120",
                                               "Description": "Structural Steel"}
    assert [c["Category"] for c in sage.list_categories("J-1") if c["Cost_Code"] == "05-120"] == ["MAT", "SUB"]


def test_update_vendor(sage):
    sage.update_vendor("ACME", Name="Acme Framing LLC", City="Fairview", Status="Inactive")
    v = sage.get_vendor("ACME")
    assert (v["Name"], v["City"], v["Status"], v["State"]) == ("Acme Framing LLC", "Fairview", "Inactive", "")
    for fields, field, text in [({"Name": "n" * 31}, "name", "at most 30"), ({"Name": " "}, "name", "required"),
                                ({"Status": "Gone"}, "status", "Active, Inactive"),
                                ({"Vendor": "NEWID"}, "Vendor", "cannot be changed here")]:
        with pytest.raises(SageInputError, match=text) as err:
            sage.update_vendor("ACME", **fields)
        assert err.value.field == field
    with pytest.raises(SageInputError, match="No vendor NOPE") as err:
        sage.update_vendor("NOPE", Name="x")
    assert sage.get_vendor("ACME") == v


def test_update_job_billing_method_and_level_together(sage):
    sage.update_job("J-1", Description="Main Street Tower II", Billing_Method="Use Quickbill", Billing_Level="Division")
    job = sage.get_job("J-1")
    assert (job["Description"], job["Billing_Method"], job["Billing_Level"]) == (
        "Main Street Tower II", "Use Quickbill", "Division")
    sage.update_job("J-1", Billing_Level="Section")
    assert sage.get_job("J-1")["Billing_Level"] == "Section"
    sage.update_job("J-1", Billing_Method="Use Contracts")  # back to contracts: no level
    assert (sage.get_job("J-1")["Billing_Method"], sage.get_job("J-1")["Billing_Level"]) == ("Use Contracts", "")
    for fields, field in [({"Billing_Level": "Job"}, "billing_level"),
                          ({"Billing_Method": "Use Quickbill"}, "billing_level"),
                          ({"City": "c" * 16}, "city"), ({"Job": "J-NEW"}, "Job")]:
        with pytest.raises(SageInputError) as err:
            sage.update_job("J-1", **fields)
        assert err.value.field == field
    with pytest.raises(SageInputError, match="No job NOPE"):
        sage.update_job("NOPE", City="x")
    assert sage.get_job("J-1")["City"] == "Springfield"


# ---- the demo's Sage side ------------------------------------------------------------------

def test_seed_sage_side_on_the_demo_is_complete_and_idempotent(tmp_path, monkeypatch):
    import flask_migrate

    from portal import create_app, demo
    from portal.demo.sage_side import COSTS, seed_sage_side
    from portal.exporters.sage300.connectors import make_connector
    from portal.extensions import db
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}",
                      "SAGE_SIM_DATABASE_URL": f"sqlite:///{tmp_path / 'sim.db'}",
                      "SAGE_SIM_SCHEMA": None, "DATABASE_SCHEMA": None,
                      "SQLALCHEMY_ENGINE_OPTIONS": {}, "SAGE_DROP_FOLDER": str(tmp_path / "drop")})
    with app.app_context():
        flask_migrate.upgrade()
        demo.seed(db.session, app.config, password="demo-password")
        sim = make_connector(app.config).sim
        today = sim.clock().date()
        seed_sage_side(sim, today)
        first = {job: sim.list_transactions(job) for job in ("24-101", "24-102", "24-103")}
        held = sim.overview()["counts"]
        seed_sage_side(sim, today)
        assert sim.overview()["counts"] == held
        assert {job: sim.list_transactions(job) for job in first} == first

        standards = {r["Cost_Code"]: r for r in sim.list_standard_cost_codes()}
        assert 8 <= len(standards) <= 10 and standards["09-900"]["Description"] == "Painting"
        assert {"01-100", "03-300"} <= set(standards)
        assert [r["Category"] for r in sim.list_standard_categories()] == ["EQP", "LAB", "MAT", "OTH", "SUB"]
        names = {v["Name"]: v for v in sim.list_vendors()}
        assert "Evergreen Landscaping" in names and "Foxglove Glazing" in names  # a demo company's name
        assert names["Kestrel Crane Rental"]["Status"] == "Inactive"
        jobs = {j["Job"]: j for j in sim.list_jobs()}
        assert {(jobs[j]["Billing_Method"], jobs[j]["Billing_Level"]) for j in ("25-201", "25-202", "25-203")} == {
            ("Use Contracts", ""), ("Use Quickbill", "Division"), ("Use Quickbill", "Section")}
        assert [e["Extra"] for e in sim.list_extras("25-201")] == ["ALT1"]
        assert sim.list_categories("25-201", "ALT1")
        assert all(sim.list_contract_items(c["Contract"]) for c in sim.list_contracts("25-201"))
        assert len(sim.list_schedule_values("25-202")) == 4 and len(sim.list_schedule_values("25-203")) == 4

        costs = [t for job in first for t in sim.list_cost_transactions(job)]
        assert len(costs) == len(COSTS) == 30
        assert {t["Transaction_Type"] for t in costs} >= {"AP cost", "PR cost", "EQ cost", "JC cost"}
        this_month = today.replace(day=1)
        assert any(t["Date"] >= this_month for t in costs) and any(t["Date"] < this_month for t in costs)
        on_commitments = [t for t in costs if t["Commitment"]]
        assert on_commitments and all(sim.get_commitment(t["Commitment"])["Job"] == t["Job"] for t in on_commitments)
        rows = sim.job_costs("24-101")
        assert sum(r["Original_Estimate"] for r in rows) > 0 and sum(r["Commitment_Invoiced"] for r in rows) > 0
        assert sum(r["MTD_Cost"] for r in rows) > 0
        assert all(r["Commitment_Invoiced"] <= r["Revised_Commitment"] for r in rows)
        # 24-102's budget waits in the portal: Sage must not hold an estimate that would refuse it
        assert not sim.list_transactions("24-102", type=ORIGINAL_ESTIMATE)
