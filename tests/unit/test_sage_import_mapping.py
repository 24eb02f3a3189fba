"""The import rows of the guide's data-mapping tables (arrows pointing from Sage), one test per
table, against portal.exporters.sage300.imports: pure functions, no app, no database."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.exporters.sage300 import imports


def test_standard_cost_codes_and_types():
    # Cost Code <== Standard Cost Code ID; Code Code Description <== Description
    assert imports.standard_cost_code({"Cost_Code": "03-300", "Description": "Concrete", "Status": "Active"}) == {
        "code": "03-300", "description": "Concrete", "active": True}
    assert imports.standard_cost_code({"Cost_Code": "09", "Description": "x", "Status": "Inactive"})["active"] is False
    # Cost Type <== Standard Category ID; Cost Type Description <== Description
    assert imports.standard_category({"Category": "L", "Description": "Labor"}) == {"code": "L", "description": "Labor"}


def test_projects_jobs():
    row = {"Job": "24-001", "Description": "Harbor Tower", "Address_1": "5 Pier", "Address_2": "Bldg B",
           "City": "Astoria", "State": "OR", "ZIP": "97103"}
    # Sage Job ID <== Job ID (and the project number), Project Name <== Job Name, Address, City, State, ZIP <== Zip
    assert imports.job(row) == {"sage_job_id": "24-001", "number": "24-001", "name": "Harbor Tower",
                                "address": "5 Pier, Bldg B", "city": "Astoria", "state": "OR", "zip": "97103"}
    # Cost Code: Code, Description <== Cost Code, Description; Cost Type: Cost Code, Cost Type ID <== Category
    assert imports.cost_code({"Cost_Code": "01-100", "Description": "General"}) == {"code": "01-100",
                                                                                  "description": "General"}
    assert imports.category({"Cost_Code": "01-100", "Category": "L", "Description": "Labor"}) == {
        "cost_code": "01-100", "code": "L", "description": "Labor"}
    assert imports.cost_code({"Cost_Code": "01-200", "Description": ""})["description"] == "01-200"


def test_sub_jobs_extras():
    # Code <== Extra, Sub Job <== Description
    assert imports.extra({"Job": "24-001", "Extra": "E1", "Description": "Lobby"}) == {
        "code": "E1", "sage_extra_id": "E1", "name": "Lobby"}


def test_companies():
    row = {"Vendor": "HARBOR01", "Name": "Harbor Electric", "Address_1": "1 Dock", "Address_2": "",
           "City": "Portland", "State": "OR", "ZIP": "97201", "Telephone": "503-555-0100", "Fax": "503-555-0101"}
    # ERP Company ID <== Vendor, Name, Address, City, State, ZIP <== Zip, Business Phone <== Telephone,
    # Business Fax <== Fax Number
    assert imports.vendor(row) == {"erp_vendor_id": "HARBOR01", "name": "Harbor Electric", "address": "1 Dock",
                                   "city": "Portland", "state": "OR", "zip": "97201", "phone": "503-555-0100",
                                   "fax": "503-555-0101"}
    assert set(imports.VENDOR_AUTO_UPDATE_FIELDS) == {"address", "city", "state", "zip", "phone", "fax"}


def test_prime_contract_use_contracts():
    job = {"Job": "24-001", "Description": "Tower", "Billing_Method": "Use Contracts", "Billing_Level": ""}
    contract = {"Contract": "CN-7", "Description": "Owner contract", "Status": "Open",
                "Work_Started": date(2026, 1, 5), "Work_Completed": date(2027, 3, 1)}
    items = [{"Item": "1", "Description": "Sitework", "Original_Amount": Decimal("1000.50")}]
    data = imports.prime_contract(job, contract, items, [])
    # Contract # <== Contract; Title and Description <== Description; Actual Completion Date <== Work
    # Completed; Contract Start Date <== Work Started; Status <== Status; SOV: Description, Contract Amount
    # <== Original Contract Amount
    assert (data["number"], data["title"], data["description"], data["status"]) == (
        "CN-7", "Owner contract", "Owner contract", "Approved")
    assert (data["start_date"], data["completion_date"]) == ("2026-01-05", "2027-03-01")
    assert data["items"] == [{"code": "1", "description": "Sitework", "amount": "1000.50"}]
    assert imports.prime_contract(job, {**contract, "Status": "Closed"}, [], [])["status"] == "Complete"


@pytest.mark.parametrize("level, values, expected", [
    ("Job", [("", "Whole job", "750000")], [("24-002", "Whole job", "750000")]),
    ("Division", [("03", "Concrete", "400"), ("05", "Metals", "500")],
     [("03", "03, Concrete", "400"), ("05", "05, Metals", "500")]),
    ("Section", [("03-300", "Cast in place", "400")], [("03-300", "03-300, Cast in place", "400")]),
])
def test_prime_contract_use_quickbill(level, values, expected):
    job = {"Job": "24-002", "Description": "Quick job", "Billing_Method": "Use Quickbill", "Billing_Level": level}
    rows = [{"Level_Code": c, "Description": d, "Original_Contract_Amount": Decimal(a)} for c, d, a in values]
    data = imports.prime_contract(job, None, [], rows)
    # Contract # <== Job; Status automatically Approved; SOV per billing level; Cost Code <== Cost Code,
    # Description; Contract Amount <== Original Contract Amount
    assert (data["number"], data["status"], data["billing_method"], data["billing_level"]) == (
        "24-002", "Approved", "Use Quickbill", level)
    assert [(i["code"], i["description"], i["amount"]) for i in data["items"]] == expected


def test_job_costs_report_columns():
    row = {"Extra": "", "Cost_Code": "01-100", "Category": "L", "Category_Description": "Labor"}
    sage = dict(zip((f for _, f in imports.JOB_COST_COLUMNS), range(1, 17), strict=True))
    values = imports.job_cost_line({**row, **sage})
    # Cost Code <== Cost Code, Cat. <== Category, then Original Budget <== Original Estimate ...
    # Month to Date Actual Units <== MTD Units: each column from its own Sage field
    assert (values["cost_code"], values["category"], values["description"]) == ("01-100", "L", "Labor")
    for n, (attr, _field) in enumerate(imports.JOB_COST_COLUMNS, start=1):
        assert values[attr] == Decimal(n), attr
    assert [a for a, _ in imports.JOB_COST_COLUMNS][:3] == ["original_budget", "original_budget_units",
                                                            "approved_budget_changes"]


@pytest.mark.parametrize("sage_type, extra, expected", [
    ("AP cost", {"Commitment": "SC-1", "Invoice": "I1"}, "Subcontractor Invoice"),
    ("AP cost", {"Invoice": "I1"}, "Invoice"),
    ("AP cost", {}, "Expense"),
    ("PR cost", {}, "Payroll"),
    ("EQ cost", {}, "Expense"),
    ("IV cost", {}, "Expense"),
    ("JC cost", {}, "Expense"),
])
def test_job_cost_transaction_details(sage_type, extra, expected):
    row = {"Transaction_ID": 7, "Transaction_Type": sage_type, "Date": date(2026, 11, 2), "Description": "Pour",
           "Vendor": "V1", "Invoice": "", "Commitment": "", "Units": Decimal("3"), "Unit_Cost": Decimal("12.5"),
           "Amount": Decimal("37.50"), "Extra": "", "Cost_Code": "03-300", "Category": "M", **extra}
    values = imports.direct_cost(row)
    # Direct Cost Type by Cost Type; Item Date <== Accounting Date; Status Approved; Description;
    # Vendor and Invoice # only from Accounts Payable; Qty <== Units; Unit Cost; Amount
    assert values["cost_type"] == expected
    assert (values["item_date"], values["status"], values["description"], values["qty"], values["unit_cost"],
            values["amount"]) == (date(2026, 11, 2), "Approved", "Pour", Decimal("3"), Decimal("12.5"),
                                  Decimal("37.50"))
    assert values["vendor"] == ("V1" if sage_type == "AP cost" else "")


def test_digest_tells_changed_from_unchanged():
    assert imports.digest({"a": 1, "b": "x"}) == imports.digest({"b": "x", "a": 1})
    assert imports.digest({"a": 1}) != imports.digest({"a": 2})
    assert imports.jsonable({"d": date(2026, 1, 2), "n": Decimal("1.50")}) == {"d": "2026-01-02", "n": "1.50"}
