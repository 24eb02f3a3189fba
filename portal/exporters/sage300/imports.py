"""Sage 300 CRE records -> portal values: the import rows of the guide's data-mapping tables
(the arrows pointing from Sage). Pure functions: a Sage row (a dict keyed by Sage's column
names, as the simulator's readers return them) in, plain values out; no session, no I/O."""
from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

ZERO = Decimal("0")

# Job Cost transaction types of posted costs, and the direct cost type each becomes.
AP_COST, PR_COST, EQ_COST, IV_COST, JC_COST = "AP cost", "PR cost", "EQ cost", "IV cost", "JC cost"
DIRECT_COST_TYPES = {AP_COST: "Invoice", PR_COST: "Payroll", EQ_COST: "Expense", IV_COST: "Expense",
                     JC_COST: "Expense"}
USE_CONTRACTS, USE_QUICKBILL = "Use Contracts", "Use Quickbill"
BILLING_LEVELS = ("Job", "Division", "Section")


def _s(row: dict, key: str) -> str:
    return (row.get(key) or "").strip() if isinstance(row.get(key) or "", str) else str(row.get(key))


def _d(row: dict, key: str) -> Decimal:
    value = row.get(key)
    return Decimal(str(value)) if value not in (None, "") else ZERO


def digest(data: dict) -> str:
    """A stable fingerprint of a Sage record: tells an updated record from an unchanged one."""
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def jsonable(row: dict) -> dict:
    """A Sage row as JSON-safe values (dates as ISO text, Decimals as text)."""
    out = {}
    for key, value in row.items():
        if isinstance(value, (date, Decimal)):
            value = value.isoformat() if isinstance(value, date) else str(value)
        out[key] = value
    return out


# ---- Standard Cost Codes/Types ---------------------------------------------------------

def standard_cost_code(row: dict) -> dict:
    """Cost Code <== Standard Cost Code ID; Code Code Description <== Description."""
    return {"code": _s(row, "Cost_Code"), "description": _s(row, "Description"),
            "active": _s(row, "Status") != "Inactive"}


def standard_category(row: dict) -> dict:
    """Cost Type <== Standard Category ID; Cost Type Description <== Description."""
    return {"code": _s(row, "Category"), "description": _s(row, "Description")}


# ---- Companies ------------------------------------------------------------------------

def vendor(row: dict) -> dict:
    """ERP Company ID <== Vendor, Name <== Name, Address <== Address, City, State, ZIP <== Zip,
    Business Phone <== Telephone, Business Fax <== Fax Number."""
    address = ", ".join(p for p in (_s(row, "Address_1"), _s(row, "Address_2")) if p)
    return {"erp_vendor_id": _s(row, "Vendor"), "name": _s(row, "Name"), "address": address,
            "city": _s(row, "City"), "state": _s(row, "State"), "zip": _s(row, "ZIP"),
            "phone": _s(row, "Telephone"), "fax": _s(row, "Fax")}


# Fields the "Vendors will be automatically updated" setting keeps equal to Sage.
VENDOR_AUTO_UPDATE_FIELDS = ("address", "city", "state", "zip", "phone", "fax")


# ---- Projects/Jobs, Sub Jobs/Extras, cost codes and categories -------------------------

def job(row: dict) -> dict:
    """Sage Job ID <== Job ID (and the project number: the guide's import note), Project Name
    <== Job Name, Address, City, State, ZIP <== Zip."""
    address = ", ".join(p for p in (_s(row, "Address_1"), _s(row, "Address_2")) if p)
    return {"sage_job_id": _s(row, "Job"), "number": _s(row, "Job"), "name": _s(row, "Description"),
            "address": address, "city": _s(row, "City"), "state": _s(row, "State"),
            "zip": _s(row, "ZIP")}


def extra(row: dict) -> dict:
    """Code <== Extra; Sub Job <== Description."""
    return {"code": _s(row, "Extra"), "sage_extra_id": _s(row, "Extra"),
            "name": _s(row, "Description") or _s(row, "Extra")}


def cost_code(row: dict) -> dict:
    """Cost Code: Code <== Cost Code, Description <== Description."""
    return {"code": _s(row, "Cost_Code"), "description": _s(row, "Description") or _s(row, "Cost_Code")}


def category(row: dict) -> dict:
    """Cost Type: Cost Code <== Cost Code, Cost Type ID <== Category."""
    return {"cost_code": _s(row, "Cost_Code"), "code": _s(row, "Category"),
            "description": _s(row, "Description") or _s(row, "Category")}


# ---- Prime contracts -------------------------------------------------------------------

CONTRACT_STATUS = {"Open": "Approved", "Closed": "Complete"}


def _date(value) -> str | None:
    if value in (None, ""):
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def prime_contract(job_row: dict, contract_row: dict | None, items: list[dict],
                   schedule_values: list[dict]) -> dict:
    """The Prime Contract mapping table. Use Contracts: Contract # <== Contract, Title and
    Description <== Description, Actual Completion Date <== Work Completed, Contract Start Date
    <== Work Started, Status <== Status, one SOV line per contract item (Description,
    Contract Amount <== Original Contract Amount). Use Quickbill: Contract # <== Job, Status
    Approved, one SOV line at Job level, or one per division / cost code (Section) with
    Cost Code <== "Cost Code, Description"."""
    method = _s(job_row, "Billing_Method") or USE_CONTRACTS
    if method == USE_QUICKBILL:
        level = _s(job_row, "Billing_Level") or "Job"
        job_id = _s(job_row, "Job")
        lines = []
        for sv in schedule_values:
            code = _s(sv, "Level_Code")
            if level == "Job" and code:
                continue
            if level != "Job" and not code:
                continue
            description = _s(sv, "Description") or _s(job_row, "Description")
            lines.append({"code": code or job_id,
                          "description": f"{code}, {description}" if code else description,
                          "amount": str(_d(sv, "Original_Contract_Amount"))})
        if level == "Job" and len(lines) > 1:  # one summarised amount for the project
            total = sum((Decimal(line["amount"]) for line in lines), ZERO)
            lines = [{**lines[0], "amount": str(total)}]
        return {"number": job_id, "sage_contract_id": job_id, "title": _s(job_row, "Description") or job_id,
                "description": "", "status": "Approved", "start_date": None, "completion_date": None,
                "billing_method": USE_QUICKBILL, "billing_level": level, "items": lines}
    contract = contract_row or {}
    return {"number": _s(contract, "Contract"), "sage_contract_id": _s(contract, "Contract"),
            "title": _s(contract, "Description") or _s(contract, "Contract"),
            "description": _s(contract, "Description"),
            "status": CONTRACT_STATUS.get(_s(contract, "Status"), _s(contract, "Status") or "Approved"),
            "start_date": _date(contract.get("Work_Started")),
            "completion_date": _date(contract.get("Work_Completed")),
            "billing_method": USE_CONTRACTS, "billing_level": "",
            "items": [{"code": _s(i, "Item"), "description": _s(i, "Description") or _s(i, "Item"),
                       "amount": str(_d(i, "Original_Amount")), **_priced(i)} for i in items]}


def _priced(item: dict) -> dict:
    """A unit-priced Sage contract item's units and unit price (for a unit-based prime contract)."""
    if item.get("Units") is None or item.get("Unit_Cost") is None:
        return {}
    return {"units": str(Decimal(str(item["Units"]))), "unit_cost": str(Decimal(str(item["Unit_Cost"])))}


# ---- Job costs and job cost transaction details ------------------------------------------

JOB_COST_COLUMNS = (
    # (JobCostLine attribute, Sage field) in the guide's Job Costs Report order
    ("original_budget", "Original_Estimate"),
    ("original_budget_units", "Original_Estimate_Units"),
    ("approved_budget_changes", "Approved_Estimate_Changes"),
    ("approved_budget_unit_changes", "Approved_Estimate_Unit_Changes"),
    ("revised_budget", "Total_Estimate"),
    ("revised_budget_units", "Total_Estimate_Units"),
    ("original_commitment", "Original_Commitment"),
    ("approved_commitment_changes", "Approved_Commitment_Changes"),
    ("revised_commitment", "Revised_Commitment"),
    ("commitment_invoiced", "Commitment_Invoiced"),
    ("jtd_cost", "JTD_Cost"),
    ("jtd_units", "JTD_Units"),
    ("jtd_dollars_paid", "JTD_Dollars_Paid"),
    ("mtd_cost", "MTD_Cost"),
    ("mtd_dollars_paid", "MTD_Dollars_Paid"),
    ("mtd_units", "MTD_Units"),
)


def job_cost_line(row: dict) -> dict:
    """Cost Code <== Cost Code, Cat. <== Category, and every Job Costs Report column."""
    values: dict[str, str | Decimal] = {
        "extra": _s(row, "Extra"), "cost_code": _s(row, "Cost_Code"), "category": _s(row, "Category"),
        "description": (_s(row, "Category_Description") or _s(row, "Cost_Code_Description"))[:60]}
    for attr, field in JOB_COST_COLUMNS:
        values[attr] = _d(row, field)
    return values


def direct_cost(row: dict) -> dict:
    """Job Cost Transaction Details -> a direct cost: type by Sage cost type (AP Cost with a
    commitment is a Subcontractor Invoice), Item Date <== Accounting Date, Status Approved,
    Description, Vendor and Invoice # (only for Accounts Payable), Qty <== Units, Unit Cost,
    Amount."""
    sage_type = _s(row, "Transaction_Type")
    is_ap = sage_type == AP_COST
    if is_ap and _s(row, "Commitment"):
        cost_type = "Subcontractor Invoice"
    elif is_ap and not _s(row, "Invoice"):
        cost_type = "Expense"
    else:
        cost_type = DIRECT_COST_TYPES.get(sage_type, "Expense")
    units, unit_cost = row.get("Units"), row.get("Unit_Cost")
    return {"sage_transaction_id": int(row["Transaction_ID"]), "cost_type": cost_type,
            "sage_type": sage_type, "item_date": row["Date"], "status": "Approved",
            "description": _s(row, "Description")[:60],
            "vendor": _s(row, "Vendor") if is_ap else "", "invoice": _s(row, "Invoice") if is_ap else "",
            "extra": _s(row, "Extra"), "cost_code": _s(row, "Cost_Code"), "category": _s(row, "Category"),
            "qty": Decimal(str(units)) if units is not None else None,
            "unit_cost": Decimal(str(unit_cost)) if unit_cost is not None else None,
            "amount": _d(row, "Amount")}
