"""An in-memory Sage 300 CRE reader with the simulator's reader methods: the sync tests read
from it so each test controls exactly what Sage holds (the real simulator is covered too)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.factories import suffix


class FakeSage:
    def __init__(self):
        self.vendors: list[dict] = []
        self.jobs: list[dict] = []
        self.extras: list[dict] = []
        self.standard_codes: list[dict] = []
        self.standard_categories: list[dict] = []
        self.cost_codes: list[dict] = []      # rows with Job, Extra, Cost_Code, Description
        self.categories: list[dict] = []      # rows with Job, Extra, Cost_Code, Category, Description
        self.contracts: list[dict] = []
        self.contract_items: dict[str, list[dict]] = {}
        self.schedule_values: dict[str, list[dict]] = {}
        self.costs: dict[str, list[dict]] = {}      # job -> job_costs rows
        self.transactions: dict[str, list[dict]] = {}
        self.insurance: list[dict] = []           # AP Vendor Insurance rows
        self.payments: list[dict] = []        # AP payments (list_ap_payments rows)
        self.reads = 0

    # -- seeding ---------------------------------------------------------------------------
    def vendor(self, vendor=None, name="", **fields) -> dict:
        row = {"Vendor": vendor or f"V{suffix()}"[:10], "Name": name or f"Vendor {suffix()}",
               "Address_1": "", "Address_2": "", "City": "", "State": "", "ZIP": "", "Telephone": "",
               "Fax": "", "Status": "Active", **fields}
        self.vendors.append(row)
        return row

    def insure(self, vendor: str, insurance_type="General Liability", expires=date(2027, 1, 31), **fields) -> dict:
        row = {"Vendor": vendor, "Insurance_Type": insurance_type, "Policy_Number": f"P{suffix()}",
               "Insurance_Company": "Fidelity", "Limit_Amount": None, "Effective_Date": None,
               "Expiration_Date": expires, **fields}
        self.insurance.append(row)
        return row

    def job(self, job=None, description="", billing_method="Use Contracts", billing_level="", **fields) -> dict:
        row = {"Job": job or f"{suffix(2)}-{suffix(3)}"[:10], "Description": description or f"Job {suffix()}",
               "Address_1": "", "Address_2": "", "City": "", "State": "", "ZIP": "", "Status": "Open",
               "Billing_Method": billing_method, "Billing_Level": billing_level, **fields}
        self.jobs.append(row)
        return row

    def code(self, job, cost_code, description, categories=("L", "M"), extra=""):
        self.cost_codes.append({"Job": job, "Extra": extra, "Cost_Code": cost_code, "Description": description})
        for cat in categories:
            self.categories.append({"Job": job, "Extra": extra, "Cost_Code": cost_code, "Category": cat,
                                    "Description": {"L": "Labor", "M": "Material"}.get(cat, cat)})

    def cost_line(self, job, cost_code, category, extra="", **amounts) -> dict:
        row = {"Job": job, "Extra": extra, "Cost_Code": cost_code, "Category": category,
               "Cost_Code_Description": cost_code, "Category_Description": category}
        for key in ("Original_Estimate", "Original_Estimate_Units", "Approved_Estimate_Changes",
                    "Approved_Estimate_Unit_Changes", "Total_Estimate", "Total_Estimate_Units",
                    "Original_Commitment", "Approved_Commitment_Changes", "Revised_Commitment",
                    "Commitment_Invoiced", "JTD_Cost", "JTD_Units", "JTD_Dollars_Paid", "MTD_Cost",
                    "MTD_Dollars_Paid", "MTD_Units"):
            row[key] = Decimal(str(amounts.get(key, 0)))
        self.costs.setdefault(job, []).append(row)
        return row

    def transaction(self, job, tid, transaction_type="AP cost", amount="100", **fields) -> dict:
        row = {"Transaction_ID": tid, "Job": job, "Extra": "", "Cost_Code": "01-100", "Category": "L",
               "Transaction_Type": transaction_type, "Date": date(2026, 11, 2), "Description": "cost",
               "Vendor": "", "Invoice": "", "Units": None, "Unit_Cost": None, "Amount": Decimal(amount),
               "Amount_Paid": Decimal("0"), "Commitment": "", **fields}
        self.transactions.setdefault(job, []).append(row)
        return row

    # -- the reader API ------------------------------------------------------------------------
    def list_vendor_insurance(self, vendor=None):
        return [r for r in self.insurance if vendor is None or r["Vendor"] == vendor]

    def list_vendors(self):
        self.reads += 1
        return sorted(self.vendors, key=lambda r: r["Vendor"])

    def list_jobs(self):
        return sorted(self.jobs, key=lambda r: r["Job"])

    def list_extras(self, job=None):
        return [e for e in self.extras if job is None or e["Job"] == job]

    def list_standard_cost_codes(self):
        return list(self.standard_codes)

    def list_standard_categories(self):
        return list(self.standard_categories)

    def list_cost_codes(self, job, extra=""):
        return [c for c in self.cost_codes if c["Job"] == job and c["Extra"] == extra]

    def list_categories(self, job, extra=""):
        return [c for c in self.categories if c["Job"] == job and c["Extra"] == extra]

    def list_contracts(self, job=None):
        return [c for c in self.contracts if job is None or c["Job"] == job]

    def list_contract_items(self, contract):
        return list(self.contract_items.get(contract, []))

    def list_schedule_values(self, job):
        return list(self.schedule_values.get(job, []))

    def job_costs(self, job):
        return list(self.costs.get(job, []))

    def list_cost_transactions(self, job):
        return list(self.transactions.get(job, []))

    def list_ap_payments(self, vendor=None, invoice=None):
        return [p for p in self.payments if vendor in (None, p["Vendor"]) and invoice in (None, p["Invoice"])]


class RecordingQueue:
    """A SyncQueue that records what was queued (the test runs it with sync.execute)."""

    def __init__(self, fail: bool = False):
        self.queued: list[int] = []
        self.fail = fail

    def sync(self, run_id, job_id):
        if self.fail:
            raise ConnectionError("Redis is down")
        self.queued.append(run_id)
