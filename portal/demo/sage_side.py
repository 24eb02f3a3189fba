"""The demo's Sage side: what only Sage 300 CRE holds (standards, vendors, jobs, contracts,
Quickbill schedules of values) and the posted estimates and costs of the jobs the demo syncs,
so the portal's imports have real data to pull. Safe to run twice: nothing is added twice."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from portal.exporters.sage300.mapping import APPROVED_ESTIMATE_CHANGE, COMMITTED_COST, ORIGINAL_ESTIMATE
from portal.exporters.sage300.simulator import AP_COST, EQ_COST, IV_COST, JC_COST, PR_COST, USE_CONTRACTS, USE_QUICKBILL

D = Decimal
# The codes portal/demo/portal_side.py uses (its COST_CODES, EXTRA_STANDARD_CODES and CATEGORIES), with
# 09-900 and an inactive 02-050 that only Sage has. Not imported: portal/demo/portal_side.py calls this module.
STANDARD_COST_CODES = [("01-100", "General Conditions", "Active"), ("02-050", "Demolition (old list)", "Inactive"),
                       ("03-300", "Cast-in-Place Concrete", "Active"), ("05-120", "Structural Steel", "Active"),
                       ("07-200", "Thermal Insulation", "Active"), ("09-250", "Gypsum Board", "Active"),
                       ("09-900", "Painting", "Active"), ("22-400", "Plumbing Fixtures", "Active"),
                       ("26-100", "Electrical", "Active"), ("32-900", "Landscaping", "Active")]
STANDARD_CATEGORIES = [("LAB", "Labor"), ("MAT", "Material"), ("SUB", "Subcontract"),
                       ("EQP", "Equipment"), ("OTH", "Other")]
# Only in Sage. EVERGRN1 has the name of a portal company that has no ERP vendor ID yet and
# FOXGLOV1 one close to another's ("Foxglove Glazing LLC"): an import must match them by name.
VENDORS = [("EVERGRN1", "Evergreen Landscaping", "Bayside", "WI", "Active"),
           ("FOXGLOV1", "Foxglove Glazing", "Springfield", "IL", "Active"),
           ("IRONWD01", "Ironwood Millwork", "Fairview", "OR", "Active"),
           ("JUNIPR01", "Juniper Plumbing Supply", "Springfield", "IL", "Active"),
           ("KESTRL01", "Kestrel Crane Rental", "Springfield", "IL", "Inactive"),
           ("LAKESD01", "Lakeside Paving", "Bayside", "WI", "Active")]
CODES = {code: desc for code, desc, _ in STANDARD_COST_CODES}
CATS = dict(STANDARD_CATEGORIES)
# Only in Sage: job, name, city, state, zip, billing method, level, {cost code: categories}
JOBS = [("25-201", "Maple Ridge Clinic", "Springfield", "IL", "62704", USE_CONTRACTS, "",
         {"01-100": "LAB MAT", "03-300": "MAT SUB", "09-900": "SUB"}),
        ("25-202", "Pinecrest Warehouse", "Fairview", "OR", "97024", USE_QUICKBILL, "Division",
         {"01-100": "LAB", "03-300": "SUB", "05-120": "SUB MAT", "26-100": "SUB"}),
        ("25-203", "Summit Fire Station", "Bayside", "WI", "53217", USE_QUICKBILL, "Section",
         {"01-100": "LAB", "03-300": "SUB", "09-900": "SUB", "22-400": "SUB MAT"})]
EXTRA = ("25-201", "ALT1", "Alternate 1 - Entry Canopy", {"05-120": "SUB"})
CONTRACTS = [("25-201-PC", "25-201", "Maple Ridge Clinic - Owner",
              [("100", "Sitework", D("380000")), ("200", "Building shell", D("1650000")),
               ("300", "Interiors and finishes", D("420000"))]),
             ("25-201-AL", "25-201", "Maple Ridge - Alternates",
              [("100", "Entry canopy", D("64000")), ("200", "Upgraded glazing", D("28500"))]),
             # on a job the demo syncs, never imported: Ready to Import on the Prime Contracts tab
             ("24-103-PC", "24-103", "Owner contract",
              [("100", "Site and utilities", D("310000")), ("200", "Building", D("1280000"))])]
SCHEDULE_VALUES = [("25-202", "01", "General Requirements", D("210000")),
                   ("25-202", "03", "Concrete", D("640000")),
                   ("25-202", "05", "Metals", D("910000")),
                   ("25-202", "26", "Electrical", D("380000")),
                   ("25-203", "01-100", "General Conditions", D("185000")),
                   ("25-203", "03-300", "Cast-in-Place Concrete", D("720000")),
                   ("25-203", "09-900", "Painting", D("96000")),
                   ("25-203", "22-400", "Plumbing Fixtures", D("134000"))]

# The projects portal/demo/portal_side.py syncs: their Sage Job ID is the project number.
DEMO_JOBS = ("24-101", "24-102", "24-103")
# Categories only Sage has on the demo jobs' General Conditions (equipment and other costs land there).
DEMO_EXTRA_CATEGORIES = [("01-100", "EQP"), ("01-100", "OTH")]
# Posted estimates: job, cost code, category, amount, units. None on 24-102: its budget waits in the
# portal's Budgets tab, and Sage refuses a second Original estimate for a category.
ESTIMATES = [("24-101", "01-100", "LAB", D("85000"), D("2000")), ("24-101", "01-100", "EQP", D("12000"), D("120")),
             ("24-101", "01-100", "OTH", D("8000"), None), ("24-101", "03-300", "LAB", D("40000"), D("800")),
             ("24-101", "03-300", "MAT", D("50000"), None), ("24-101", "03-300", "SUB", D("125000"), None),
             ("24-101", "26-100", "MAT", D("32000"), None), ("24-101", "26-100", "SUB", D("95000"), None),
             ("24-103", "01-100", "LAB", D("42000"), D("1000")), ("24-103", "03-300", "SUB", D("42000"), None),
             ("24-103", "26-100", "SUB", D("26000"), None), ("24-103", "32-900", "SUB", D("18000"), None)]
ESTIMATE_CHANGES = [("24-101", "03-300", "SUB", D("5000"), None), ("24-103", "01-100", "LAB", D("4200"), D("100"))]
# Posted costs: job, type, cost code, category, month (0 this, 1 last), day, description, amount,
# units, unit cost, vendor, invoice, commitment, paid
COSTS = [
    ("24-101", AP_COST, "03-300", "SUB", 1, 12, "Footings - pay app 1", D("28000"), None, None, "APEX01", "APX-7101", "SC-24-101-01", D("25200")),
    ("24-101", AP_COST, "03-300", "MAT", 1, 14, "Rebar delivery", D("9500"), None, None, "APEX01", "APX-7102", "SC-24-101-01", D("9500")),
    ("24-101", AP_COST, "03-300", "SUB", 0, 6, "Footings - pay app 2", D("31000"), None, None, "APEX01", "APX-7141", "SC-24-101-01", D("0")),
    ("24-101", AP_COST, "26-100", "SUB", 1, 20, "Rough-in - pay app 1", D("22000"), None, None, "BRIGHT01", "BLE-8101", "SC-24-101-02", D("19800")),
    ("24-101", AP_COST, "26-100", "MAT", 0, 8, "Switchgear deposit", D("12000"), None, None, "BRIGHT01", "BLE-8102", "SC-24-101-02", D("0")),
    ("24-101", AP_COST, "01-100", "MAT", 1, 5, "Temporary fencing", D("1850"), D("370"), D("5"), "LAKESD01", "LP-2201", "", D("1850")),
    ("24-101", PR_COST, "01-100", "LAB", 1, 15, "Superintendent - first half", D("6800"), D("160"), D("42.5"), "", "", "", D("6800")),
    ("24-101", PR_COST, "01-100", "LAB", 0, 1, "Superintendent - second half", D("5100"), D("120"), D("42.5"), "", "", "", D("5100")),
    ("24-101", PR_COST, "03-300", "LAB", 1, 22, "Concrete crew", D("4608"), D("96"), D("48"), "", "", "", D("4608")),
    ("24-101", PR_COST, "03-300", "LAB", 0, 3, "Concrete crew", D("3072"), D("64"), D("48"), "", "", "", D("3072")),
    ("24-101", EQ_COST, "01-100", "EQP", 1, 18, "Telehandler", D("3800"), D("40"), D("95"), "", "", "", D("0")),
    ("24-101", EQ_COST, "01-100", "EQP", 0, 4, "Telehandler", D("2280"), D("24"), D("95"), "", "", "", D("0")),
    ("24-101", JC_COST, "01-100", "OTH", 1, 2, "Builder's risk insurance", D("1250"), None, None, "", "", "", D("1250")),
    ("24-102", AP_COST, "05-120", "SUB", 1, 10, "Steel erection - pay app 1", D("45000"), None, None, "CORNER01", "CSE-5101", "SC-24-102-03", D("40500")),
    ("24-102", AP_COST, "05-120", "MAT", 1, 11, "Steel package 1", D("38000"), None, None, "CORNER01", "CSE-5102", "SC-24-102-03", D("38000")),
    ("24-102", AP_COST, "05-120", "SUB", 0, 7, "Steel erection - pay app 2", D("36000"), None, None, "CORNER01", "CSE-5141", "SC-24-102-03", D("0")),
    ("24-102", AP_COST, "09-250", "SUB", 1, 25, "Drywall - pay app 1", D("9000"), None, None, "DELTA01", "DDA-6101", "SC-24-102-04", D("8100")),
    ("24-102", PR_COST, "01-100", "LAB", 1, 15, "Project engineer", D("4400"), D("80"), D("55"), "", "", "", D("4400")),
    ("24-102", PR_COST, "01-100", "LAB", 0, 2, "Project engineer", D("2200"), D("40"), D("55"), "", "", "", D("2200")),
    ("24-102", EQ_COST, "01-100", "EQP", 1, 9, "Crane mobilization", D("6500"), D("1"), D("6500"), "", "", "", D("0")),
    ("24-102", IV_COST, "09-250", "MAT", 0, 5, "Drywall from yard stock", D("2400"), D("300"), D("8"), "", "", "", D("0")),
    ("24-102", JC_COST, "01-100", "OTH", 0, 1, "Permit fee allocation", D("975"), None, None, "", "", "", D("975")),
    ("24-103", AP_COST, "03-300", "SUB", 1, 16, "Sidewalks - pay app 1", D("12000"), None, None, "APEX01", "APX-7301", "SC-24-103-05", D("10800")),
    ("24-103", AP_COST, "26-100", "SUB", 0, 9, "Lighting - pay app 1", D("6000"), None, None, "BRIGHT01", "BLE-8301", "SC-24-103-06", D("0")),
    ("24-103", AP_COST, "32-900", "SUB", 0, 10, "Planting mobilization", D("2500"), None, None, "EVERGRN1", "EL-9001", "", D("0")),
    ("24-103", PR_COST, "01-100", "LAB", 1, 15, "Site supervision", D("3600"), D("80"), D("45"), "", "", "", D("3600")),
    ("24-103", PR_COST, "01-100", "LAB", 0, 2, "Site supervision", D("1800"), D("40"), D("45"), "", "", "", D("1800")),
    ("24-103", EQ_COST, "01-100", "EQP", 1, 21, "Skid steer", D("1440"), D("16"), D("90"), "", "", "", D("0")),
    ("24-103", EQ_COST, "01-100", "EQP", 0, 6, "Skid steer", D("720"), D("8"), D("90"), "", "", "", D("0")),
    ("24-103", JC_COST, "01-100", "OTH", 1, 3, "Survey and layout", D("2100"), None, None, "", "", "", D("2100")),
]


def seed_sage_side(sim, today: date) -> None:
    """Add the demo's Sage-only data and the synced jobs' posted estimates and costs (each once)."""
    for code, desc, status in STANDARD_COST_CODES:
        if code not in {r["Cost_Code"] for r in sim.list_standard_cost_codes()}:
            sim.add_standard_cost_code(code, desc, status)
    have = {r["Category"] for r in sim.list_standard_categories()}
    for code, desc in STANDARD_CATEGORIES:
        if code not in have:
            sim.add_standard_category(code, desc)
    for vendor, name, city, state, status in VENDORS:
        if sim.get_vendor(vendor) is None:
            sim.add_vendor(vendor, name, address_1="200 Industrial Pkwy", city=city, state=state,
                           telephone="555-0190", status=status)
    for job, name, city, state, zip_code, method, level, codes in JOBS:
        if sim.get_job(job) is None:
            sim.add_job(job, name, address_1="1 Project Way", city=city, state=state, zip=zip_code,
                        billing_method=method, billing_level=level)
        _codings(sim, job, "", codes)
    job, extra, desc, codes = EXTRA
    if sim.get_extra(job, extra) is None:
        sim.add_extra(job, extra, desc)
    _codings(sim, job, extra, codes)
    for contract, job, desc, items in CONTRACTS:
        if sim.get_contract(contract) is None and sim.get_job(job) is not None:
            sim.add_contract(contract, job, desc, items=items)
    for job, level_code, desc, amount in SCHEDULE_VALUES:
        sim.set_schedule_value(job, level_code, desc, amount)  # insert or update: the same values
    _seed_demo_jobs(sim, today)


def _codings(sim, job: str, extra: str, codes: dict) -> None:
    have = {(r["Cost_Code"], r["Category"]) for r in sim.list_categories(job, extra)}
    for code, categories in codes.items():
        for category in categories.split():
            if (code, category) not in have:
                sim.add_coding(job, code, category, CODES[code], CATS[category], extra=extra)


def _seed_demo_jobs(sim, today: date) -> None:
    """Posted estimates, commitment transactions and costs on the jobs the demo syncs (those in Sage)."""
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    earlier = (last_month - timedelta(days=1)).replace(day=1)

    def on(month: int, day: int) -> date:
        if month == 0:
            return this_month.replace(day=min(day, today.day))
        end = (this_month - timedelta(days=1)).day
        return last_month.replace(day=min(day, end))

    for job in DEMO_JOBS:
        if sim.get_job(job) is None:
            continue  # the demo did not sync it (or used other Sage Job IDs)
        codes = {r["Cost_Code"] for r in sim.list_cost_codes(job)}
        have = {(r["Cost_Code"], r["Category"]) for r in sim.list_categories(job)}
        for code, category in DEMO_EXTRA_CATEGORIES:
            if code in codes and (code, category) not in have:
                sim.add_category(job, code, category, CATS[category])
                have.add((code, category))
        done = {(r["Transaction_Type"], r["Cost_Code"], r["Category"], r["Description"], r["Amount"])
                for r in sim.list_transactions(job)}

        post = partial(_post, sim, job, have, done)

        for j, code, category, amount, units in ESTIMATES:
            if j == job:
                post(ORIGINAL_ESTIMATE, code, category, amount, "Original estimate", date=earlier, units=units)
        for j, code, category, amount, units in ESTIMATE_CHANGES:
            if j == job:
                post(APPROVED_ESTIMATE_CHANGE, code, category, amount, "Owner-approved scope", date=last_month,
                     units=units)
        # the demo adds its commitments to Sage directly; post their Committed cost as the import would
        for commitment in sorted({c[12] for c in COSTS if c[0] == job and c[12]}):
            if sim.get_commitment(commitment) is None:
                continue
            for item in sim.list_commitment_items(commitment):
                post(COMMITTED_COST, item["Cost_Code"], item["Category"], D(item["Amount"]),
                     (item["Description"] or commitment)[:30], date=earlier, commitment=commitment)
        for (j, transaction_type, code, category, month, day, description, amount, units, unit_cost, vendor, invoice,
             commitment, paid) in COSTS:
            if j != job or (commitment and sim.get_commitment(commitment) is None) or \
                    (vendor and sim.get_vendor(vendor) is None):
                continue
            post(transaction_type, code, category, amount, description, date=on(month, day), units=units,
                 unit_cost=unit_cost, vendor=vendor, invoice=invoice, commitment=commitment, amount_paid=paid)


def _post(sim, job: str, have: set, done: set, transaction_type: str, code: str, category: str, amount,
          description: str, **fields) -> None:
    """Post one Job Cost transaction of the demo on a job, once (`done` holds what Sage has)."""
    if (code, category) in have and (transaction_type, code, category, description, amount) not in done:
        done.add((transaction_type, code, category, description, amount))
        if transaction_type in (ORIGINAL_ESTIMATE, APPROVED_ESTIMATE_CHANGE, COMMITTED_COST):
            sim.add_transaction(job, code, category, transaction_type, amount, description=description, **fields)
        else:
            sim.add_cost(job, code, category, transaction_type, amount, description=description, **fields)
