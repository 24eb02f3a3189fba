"""The Sage user's page (/sage) and `flask sage ...`: entering in the Sage 300 CRE simulator
what accounting enters in Sage, so the portal's imports have data to pull.

Requests are made with no app context pushed; users are made in short `dbs(app)` blocks. The
simulator is the app's own (shared by the session): every code has a random suffix."""
from __future__ import annotations

import html
from decimal import Decimal as D
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from portal.domain.models import ToolLevel
from tests import factories as f
from tests.conftest import login
from tests.rows import check_rows

HX = {"HX-Request": "true"}
dbs = f.app_session


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def held(sim) -> dict:
    """What Sage holds, counted: every table the page adds to and every transaction (an add that is
    refused must change none of it). One query each, however much the session's simulator holds."""
    from sqlalchemy import func, select

    from portal.exporters.sage300.simulator import transaction_t
    with sim.engine.connect() as conn:
        transactions = conn.scalar(select(func.count()).select_from(transaction_t))
    return dict(sim.overview()["counts"], transactions=transactions)


def user(app, **levels):
    with dbs(app) as session:
        return SimpleNamespace(username=f.make_user(session, **levels).username)


@pytest.fixture
def admin(app, client):
    """A site administrator (no ERP level) signed in."""
    return login(client, user(app, site_admin=True))


@pytest.fixture
def world(sim):
    """A Use Contracts job with a cost code, a Job-level Quickbill job, a vendor and a commitment."""
    s = f.suffix()
    w = dict(job=f"J{s}", qb=f"Q{s}", vendor=f"V{s}", commitment=f"C{s}")
    sim.add_job(w["job"], "Web job", city="Springfield")
    sim.add_coding(w["job"], "01-100", "LAB", "General Conditions", "Labor")
    sim.add_job(w["qb"], "Quickbill job", billing_method="Use Quickbill", billing_level="Job")
    sim.add_vendor(w["vendor"], "Web Vendor")
    sim.add_commitment(w["commitment"], w["vendor"], w["job"], D("1000"))
    return w


def rows(*items) -> dict:
    """The contract form's item rows as the browser posts them (every row, blank ones too)."""
    return {f"items-{n}-{key}": value for n, item in enumerate(items)
            for key, value in zip(("item", "description", "amount"), item, strict=False)}


def valid(section: str, w: dict) -> tuple[dict, callable]:
    """A form that Sage takes, and a check that it is now in Sage."""
    s = f.suffix()
    forms = {
        "vendor": ({"vendor": f"N{s}", "name": "Northwind Supply", "city": "Springfield", "status": "Inactive"},
                   lambda sim: sim.get_vendor(f"N{s}")["Status"] == "Inactive"),
        "job": ({"job": f"K{s}", "description": "Web Quickbill", "status": "Open",
                 "billing_method": "Use Quickbill", "billing_level": "Division"},
                lambda sim: (sim.get_job(f"K{s}")["Billing_Method"], sim.get_job(f"K{s}")["Billing_Level"]) ==
                ("Use Quickbill", "Division")),
        "extra": ({"job": w["job"], "extra": f"X{s}", "description": "Alternate"},
                  lambda sim: sim.get_extra(w["job"], f"X{s}")["Description"] == "Alternate"),
        "coding": ({"job": w["job"], "cost_code": f"{s}", "cost_code_description": "New code",
                    "category": "MAT", "category_description": "Material"},
                   lambda sim: [c["Category"] for c in sim.list_categories(w["job"]) if c["Cost_Code"] == s] ==
                   ["MAT"]),
        "standard_cost_code": ({"code": f"S-{s}", "description": "Painting", "status": "Active"},
                               lambda sim: any(r["Cost_Code"] == f"S-{s}" for r in sim.list_standard_cost_codes())),
        "standard_category": ({"code": s[:3], "description": "Web category"},
                              lambda sim: any(r["Category"] == s[:3] for r in sim.list_standard_categories())),
        "contract": ({"contract": f"CN-{s}", "job": w["job"], "description": "Owner contract",
                      "work_started": "2026-03-02", "work_completed": "",
                      **rows(("100", "Sitework", "1,000.50"), ("", "", ""), ("200", "Shell", "2000"), ("", "", ""))},
                     lambda sim: [(i["Item"], i["Original_Amount"]) for i in sim.list_contract_items(f"CN-{s}")] ==
                     [("100", D("1000.50")), ("200", D("2000"))]
                     and str(sim.get_contract(f"CN-{s}")["Work_Started"]) == "2026-03-02"),
        "schedule_value": ({"job": w["qb"], "level_code": "", "description": "Whole job", "amount": "5000"},
                           lambda sim: sim.list_schedule_values(w["qb"])[0]["Original_Contract_Amount"] == D("5000")),
        "cost": ({"transaction_type": "AP cost", "job": w["job"], "cost_code": "01-100", "category": "LAB",
                  "date": "2026-10-05", "description": "Web cost", "amount": "1200.50", "units": "",
                  "unit_cost": "", "vendor": w["vendor"], "invoice": f"I{s}", "commitment": w["commitment"],
                  "amount_paid": "100"},
                 lambda sim: [(t["Invoice"], t["Amount"], t["Amount_Paid"], str(t["Date"]))
                              for t in sim.list_cost_transactions(w["job"])] ==
                 [(f"I{s}", D("1200.50"), D("100"), "2026-10-05")]),
    }
    return forms[section]


SECTIONS = ("vendor", "job", "extra", "coding", "standard_cost_code", "standard_category", "contract",
            "schedule_value", "cost")


# ---- the page ---------------------------------------------------------------------------

def test_page_shows_what_sage_holds_and_every_form(admin, sim, world):
    sim.add_cost(world["job"], "01-100", "LAB", "PR cost", "77.25", description="Shown on the page")
    response = admin.get("/sage/")
    body = text(response)
    assert response.status_code == 200 and body.lstrip().lower().startswith("<!doctype html>")
    assert ">Sage 300 CRE (simulator)</a>" in body  # the nav link
    for section in SECTIONS:
        assert f'id="sage-{section}"' in body and f'action="/sage/{section}"' in body
    assert 'id="sage-holdings"' in body and "hx-swap-oob" not in body
    held_now = sim.overview()
    assert f'jobs <span class="count">{held_now["counts"]["jobs"]}</span>' in body
    assert all(j["Job"] in body for j in held_now["jobs"]) and all(v["Vendor"] in body for v in held_now["vendors"])
    assert "Shown on the page" in body and "$77.25" in body  # the last posted costs


def test_nav_link_only_for_admins(app, client):
    login(client, user(app, erp_level=ToolLevel.ADMIN))
    assert "Sage 300 CRE (simulator)" in text(client.get("/projects/"))
    other = app.test_client()
    login(other, user(app, erp_level=ToolLevel.STANDARD, push=True))
    assert "Sage 300 CRE (simulator)" not in text(other.get("/projects/"))


@pytest.mark.parametrize("section", SECTIONS)
def test_each_form_adds_to_sage_and_redirects(admin, sim, world, section):
    data, added = valid(section, world)
    response = admin.post(f"/sage/{section}", data=data)
    assert response.status_code == 303, text(response).split("Nothing was added")[-1][:600]
    assert urlsplit(response.location).path == "/sage/" and response.location.endswith(f"#sage-{section}")
    assert added(sim)
    messages = text(admin.get("/sage/")).split('id="messages"')[1].split("</div>")[0]
    assert '<div class="msg info">' in messages and ("added" in messages or "saved" in messages
                                                     or "posted" in messages)  # the flash


def test_htmx_add_redirects_to_its_section_which_carries_the_notice_and_holdings(admin, sim, world):
    data, added = valid("vendor", world)
    response = admin.post("/sage/vendor", data=data, headers=HX)
    assert response.status_code == 303 and urlsplit(response.location).path == "/sage/vendor"
    fragment = admin.get("/sage/vendor", headers=HX)
    body = text(fragment)
    assert fragment.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="sage-vendor"')
    assert f"Vendor {data['vendor']} added to Sage 300 CRE." in body
    assert 'id="sage-holdings" hx-swap-oob="true"' in body and data["vendor"] in body
    assert 'id="sage-job"' not in body  # only its own section
    assert added(sim)


BAD = [
    ("vendor", {"vendor": "ABCDEFGHIJK"}, "Vendor is too long: Sage 300 CRE allows at most 10 characters."),
    ("vendor", {"name": ""}, "Name is required."),
    ("vendor", {"vendor": "{vendor}"}, "Vendor {vendor} already exists in Sage 300 CRE."),
    ("job", {"city": "North Springfield Heights"}, "City is too long: Sage 300 CRE allows at most 15 characters."),
    ("job", {"billing_level": ""}, "A Use Quickbill job needs a billing level"),
    ("job", {"job": "{job}"}, "Job {job} already exists in Sage 300 CRE."),
    ("job", {"billing_method": "Use Magic"}, "Billing method: Not a valid choice"),
    ("extra", {"job": "NOSUCHJOB"}, "No job NOSUCHJOB in Sage 300 CRE."),
    ("extra", {"extra": "E1234567890"}, "Extra is too long"),
    ("coding", {"category": "LABX"}, "Category is too long: Sage 300 CRE allows at most 3 characters."),
    ("coding", {"cost_code": "01-100", "category": "LAB"}, "Category LAB of {job}/01-100 already exists"),
    ("standard_cost_code", {"description": ""}, "Description is required."),
    ("standard_cost_code", {"code": "1234567890123"}, "Code is too long"),
    ("standard_category", {"code": "ABCD"}, "Code is too long: Sage 300 CRE allows at most 3 characters."),
    ("contract", rows(*[("", "", "")] * 4), "Items: give at least one contract item"),
    ("contract", {"items-2-description": "D" * 31}, "Items: item 200: Description is too long"),
    ("contract", {"items-2-item": "100"}, "Contract item 100 is listed twice."),
    ("contract", {"job": "{qb}"}, "Job {qb} bills Use Quickbill"),
    ("contract", {"items-2-amount": "two thousand"}, "Contract item 200: Original amount must be a number."),
    ("contract", {"description": "D" * 31}, "Description is too long: Sage 300 CRE allows at most 30 characters."),
    ("contract", {"work_started": "2026-05-01", "work_completed": "2026-04-01"},
     "Work completed cannot be before work started."),
    ("contract", {"work_started": "March"}, "Not a valid date value."),
    ("schedule_value", {"job": "{job}"}, "Job {job} bills Use Contracts"),
    ("schedule_value", {"amount": "lots"}, "Amount must be a number."),
    ("schedule_value", {"level_code": "03"}, "leave the level code blank"),
    ("cost", {"date": "10/05/2026"}, "Date must be a date like 2026-10-31."),
    ("cost", {"transaction_type": "PR cost"}, "Only an AP cost has a vendor"),
    ("cost", {"category": "MAT"}, "No category MAT on cost code {job}/01-100"),
    ("cost", {"invoice": "INVOICE-1234567890"}, "Invoice is too long: Sage 300 CRE allows at most 15 characters."),
    ("cost", {"amount": ""}, "Amount is required."),
    # characters Sage cannot store (outside Windows-1252; invisible text-direction controls)
    ("vendor", {"name": "Caf\u00e9 \U0001F600"}, "Name: '\U0001F600' (U+1F600) cannot be stored in Sage"),
    ("vendor", {"vendor": "V\u202e01"}, "Vendor: the invisible text-direction control U+202E cannot be stored"),
    ("job", {"description": "\u0645\u0634\u0631\u0648\u0639"}, "Description: '\u0645' (U+0645) cannot be stored"),
    ("contract", {"items-2-description": "\u4e2d"}, "Items: item 200: Description: '\u4e2d' (U+4E2D) cannot be stored"),
    ("contract", {"contract": "C" * 10_000}, "Contract is too long: Sage 300 CRE allows at most 20 characters."),
]


@pytest.mark.parametrize("section", sorted({s for s, _, _ in BAD}))
def test_bad_input_is_422_naming_the_field_and_adds_nothing(admin, sim, world, section):
    """Every bad form of the section (BAD), as a page and as htmx: one failure naming each that went wrong."""
    def check(change, message, hx):
        data, _ = valid(section, world)
        data.update({k: v.format(**world) for k, v in change.items()})
        message = message.format(**world)
        before = held(sim)
        response = admin.post(f"/sage/{section}", data=data, headers=HX if hx else {})
        body = text(response)
        assert response.status_code == 422, response.status_code
        assert message in body, body[body.find('id="sage-' + section):][:1500]
        assert "Nothing was added to Sage 300 CRE" in body
        if hx:
            assert body.lstrip().startswith(f'<section id="sage-{section}"') and "<html" not in body
        else:
            assert "<!doctype html>" in body.lower()
        assert held(sim) == before
    check_rows({f"{message[:40]} ({'htmx' if hx else 'page'})": (change, message, hx)
                for s, change, message in BAD if s == section for hx in (False, True)}, check)


def test_unknown_section_is_404(admin):
    assert admin.get("/sage/nothing").status_code == 404
    assert admin.post("/sage/nothing", data={}).status_code == 404


def test_no_page_without_the_simulator(app, admin, monkeypatch):
    monkeypatch.setitem(app.config, "SAGE_CONNECTOR", "filedrop")
    response = admin.get("/sage/")
    assert response.status_code == 404 and "SAGE_CONNECTOR=filedrop" in text(response)
    assert admin.post("/sage/vendor", data={"vendor": "X", "name": "Y"}).status_code == 404
    assert "Sage 300 CRE (simulator)" not in text(admin.get("/projects/"))
    result = app.test_cli_runner().invoke(args=["sage", "list", "vendors"])
    assert result.exit_code == 1 and "need the Sage 300 CRE simulator" in result.output


# ---- the CLI -----------------------------------------------------------------------------

def cli(app, *args):
    return app.test_cli_runner().invoke(args=["sage", *args])


def test_cli_enters_every_kind(app, sim):
    s = f.suffix()
    job, qb, vendor = f"J{s}", f"Q{s}", f"V{s}"
    steps = [
        (["add-vendor", vendor, "CLI Vendor", "--city", "Bayside", "--status", "Active"], f"vendor {vendor} added"),
        (["add-job", job, "CLI job", "--city", "Bayside"], f"job {job} added"),
        (["add-job", qb, "CLI quickbill", "--billing-method", "Use Quickbill", "--billing-level", "Section"],
         f"job {qb} added"),
        (["add-extra", job, "E1", "Alternate"], f"extra E1 added to job {job}"),
        (["add-cost-code", job, "01-100", "LAB", "--description", "General", "--category-description", "Labor"],
         "category LAB of cost code 01-100 added"),
        (["add-cost-code", job, "01-100", "SUB", "--extra", "E1"], f"added to {job}/E1"),
        (["add-cost-code", qb, "03-300", "SUB"], "added"),
        (["add-standard-cost-code", f"S{s}", "Painting", "--status", "Inactive"], "standard cost code"),
        (["add-standard-category", s[:3], "CLI category"], "standard category"),
        (["add-contract", f"CN{s}", job, "--description", "Owner", "--item", "100:Sitework: phase 1:1000",
          "--item", "200:Shell:2500.25", "--work-completed", "2027-01-31"], "with 2 item(s)"),
        (["set-schedule-value", qb, "72000", "--level-code", "03-300", "--description", "Concrete"], "saved"),
        (["add-cost", job, "01-100", "LAB", "PR cost", "425", "--units", "10", "--unit-cost", "42.5",
          "--date", "2026-09-30", "--amount-paid", "425"], f"PR cost of 425 posted on job {job}"),
        (["add-cost", job, "01-100", "LAB", "AP cost", "99", "--vendor", vendor, "--invoice", "INV-9",
          "--unposted"], "entered"),
    ]
    for args, expected in steps:
        result = cli(app, *args)
        assert result.exit_code == 0 and expected in result.output, (args, result.output)
    assert sim.get_vendor(vendor)["City"] == "Bayside"
    assert (sim.get_job(qb)["Billing_Method"], sim.get_job(qb)["Billing_Level"]) == ("Use Quickbill", "Section")
    assert [(i["Item"], i["Description"], i["Original_Amount"]) for i in sim.list_contract_items(f"CN{s}")] == [
        ("100", "Sitework: phase 1", D("1000")), ("200", "Shell", D("2500.25"))]
    assert str(sim.get_contract(f"CN{s}")["Work_Completed"]) == "2027-01-31"
    assert sim.list_schedule_values(qb)[0]["Original_Contract_Amount"] == D("72000")
    [cost] = sim.list_cost_transactions(job)  # the unposted AP cost is not listed
    assert (cost["Units"], cost["Unit_Cost"], str(cost["Date"])) == (D("10"), D("42.5"), "2026-09-30")

    assert vendor in cli(app, "list", "vendors").output
    jobs = cli(app, "list", "jobs").output
    assert job in jobs and "Use Quickbill Section" in jobs
    assert f"CN{s}" in cli(app, "list", "contracts", job).output and "3,500.25" in cli(app, "list", "contracts").output
    costs = cli(app, "list", "costs", job)
    assert costs.exit_code == 0 and "PR cost" in costs.output and "425.00" in costs.output
    assert "AP cost" not in costs.output


@pytest.mark.parametrize("args, message", [
    (["add-vendor", "ABCDEFGHIJK", "Too long"], "vendor: Vendor is too long: Sage 300 CRE allows at most 10"),
    (["add-job", "J-{s}", "Quickbill", "--billing-method", "Use Quickbill"], "billing_level: A Use Quickbill job"),
    (["add-extra", "NOSUCHJOB", "E1"], "job: No job NOSUCHJOB"),
    (["add-cost-code", "NOSUCHJOB", "01-100", "LAB"], "job: No job NOSUCHJOB"),
    (["add-standard-category", "ABCD", "x"], "code: Code is too long"),
    (["add-contract", "CN-{s}", "NOSUCHJOB", "--item", "1:a:1"], "job: No job NOSUCHJOB"),
    (["add-contract", "CN-{s}", "NOSUCHJOB", "--item", "1-a-1"], "is not CODE:DESCRIPTION:AMOUNT"),
    (["set-schedule-value", "NOSUCHJOB", "10"], "job: No job NOSUCHJOB"),
    (["add-cost", "NOSUCHJOB", "01-100", "LAB", "PR cost", "10"], "job: No job NOSUCHJOB"),
    (["add-cost", "NOSUCHJOB", "01-100", "LAB", "PR cost", "ten"], "amount: Amount must be a number."),
    (["add-cost", "X", "01-100", "LAB", "Committed cost", "10"], "Invalid value"),  # click's usage error: 2
    (["list", "costs"], "list costs needs a JOB"),
    (["list", "costs", "NOSUCHJOB"], "No job NOSUCHJOB"),
])
def test_cli_errors_exit_1_and_add_nothing(app, sim, args, message):
    before = held(sim)
    s = f.suffix()
    result = cli(app, *[a.format(s=s) for a in args])
    assert result.exit_code == (2 if "Invalid value" in message else 1) and message in result.output, result.output
    assert held(sim) == before


# ---- fixing in Sage: the "Fix in Sage" forms ------------------------------------------------------
# The session's simulator is shared: a test that changes a setting (a GL period, the tolerance) puts it
# back, and uses a period no export uses.

FAR_PERIOD = "2031-07"


def exported_invoice(sim, w: dict, amount: str = "234.5") -> str:
    """An AP invoice the portal exported on the world's commitment; its number."""
    from datetime import date

    from portal.exporters.sage300.records import APDistribution, APInvoice, Batch
    invoice = f"I{f.suffix()}"
    head = APInvoice(vendor=w["vendor"], invoice=invoice, description="Pay app", invoice_date=date(2026, 10, 1),
                     accounting_date=date(2026, 10, 1), amount=D(amount), retainage=D("0"))
    line = APDistribution(commitment=w["commitment"], commitment_item="", job=w["job"], extra="", cost_code="01-100",
                          category="LAB", description="Labor", amount=D(amount), retainage=D("0"))
    assert sim.submit(Batch(batch_id=f"b-{invoice}", kind="ap_invoice", records=(head, line))).ok
    return invoice


def exported_ar_invoice(sim, w: dict) -> str:
    """An AR invoice the portal exported on a contract of the world's job; its number."""
    from datetime import date

    from portal.exporters.sage300.mapping import map_owner_invoice
    from portal.exporters.sage300.records import OwnerInvoiceData, OwnerInvoiceLineData
    s = f.suffix()
    sim.add_customer(f"O{s}"[:10], "Owner")
    sim.add_contract(f"CN-{s}", w["job"], "Prime", items=[("010", "Base", "1000")])
    data = OwnerInvoiceData(customer=f"O{s}"[:10], contract=f"CN-{s}", job=w["job"], invoice=f"A{s}",
                            description="Pay app 1", invoice_date=date(2026, 10, 1), accounting_date=date(2026, 10, 1),
                            lines=(OwnerInvoiceLineData("010", "Base", D("500"), D("50")),))
    assert sim.submit(map_owner_invoice(data, f"ar-{s}")).ok
    return f"A{s}"


def fix(section: str, sim, w: dict) -> tuple[dict, str, callable, callable]:
    """A fix Sage takes: (form, the notice, a check that Sage changed, putting a shared setting back)."""
    def nothing():
        return None
    if section == "job_status":
        return ({"job": w["job"], "status": "Closed"}, f"Job {w['job']} closed.",
                lambda: sim.get_job(w["job"])["Status"] == "Closed", nothing)
    if section == "gl_period":
        return ({"period": FAR_PERIOD, "status": "Closed"}, "GL period 07/2031 closed.",
                lambda: FAR_PERIOD in sim.settings()["closed_periods"],
                lambda: sim.change_gl_period(FAR_PERIOD, "Open"))
    if section == "vendor_status":
        return ({"vendor": w["vendor"], "status": "Inactive"}, f"Vendor {w['vendor']} deactivated.",
                lambda: sim.get_vendor(w["vendor"])["Status"] == "Inactive", nothing)
    if section == "limits":
        before = sim.settings()["tolerance_pct"]
        return ({"tolerance_pct": "7.5", "hourly_limit": ""}, "Saved: tolerance 7.5%.",
                lambda: sim.settings()["tolerance_pct"] == D("7.5"),
                lambda: sim.set_setting("tolerance_pct", before))
    if section == "ap_invoice":
        invoice = exported_invoice(sim, w)
        return ({"vendor": w["vendor"], "invoice": invoice, "action": "Delete"},
                f"AP invoice {invoice} of vendor {w['vendor']} deleted.",
                lambda: sim.get_invoice(w["vendor"], invoice) is None, nothing)
    if section == "ar_invoice":
        invoice = exported_ar_invoice(sim, w)
        return ({"invoice": invoice, "action": "Void"}, f"AR invoice {invoice} voided.",
                lambda: sim.get_ar_invoice(invoice)["Status"] == "Void", nothing)
    if section == "commitment":
        return ({"commitment": w["commitment"], "action": "Delete"}, f"Commitment {w['commitment']} deleted.",
                lambda: sim.get_commitment(w["commitment"]) is None, nothing)
    cco = f"K{f.suffix()}"[:10]
    sim.add_commitment_co(w["commitment"], cco)  # Approved
    return ({"commitment": w["commitment"], "cco": cco, "action": "Void"},
            f"Change order {cco} on commitment {w['commitment']} voided.",
            lambda: sim.get_cco(w["commitment"], cco)["Status"] == "Void", nothing)


FIXES = ("job_status", "gl_period", "vendor_status", "limits", "ap_invoice", "ar_invoice", "commitment",
         "change_order")


def test_the_page_has_every_fix_form(admin):
    body = text(admin.get("/sage/"))
    for section in FIXES:
        assert f'id="sage-{section}"' in body and f'action="/sage/{section}"' in body
    assert ">Fix in Sage</h2>" in body and "What the portal exported" in body


@pytest.mark.parametrize("hx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("section", FIXES)
def test_each_fix_changes_sage_and_says_so(admin, sim, world, section, hx):
    data, notice, changed, put_back = fix(section, sim, world)
    try:
        response = admin.post(f"/sage/{section}", data=data, headers=HX if hx else {})
        assert response.status_code == 303, text(response).split("Nothing was changed")[-1][:600]
        assert changed()
        if hx:
            assert urlsplit(response.location).path == f"/sage/{section}"
            body = text(admin.get(f"/sage/{section}", headers=HX))
            assert body.lstrip().startswith(f'<section id="sage-{section}"') and notice in body
            assert 'id="sage-holdings" hx-swap-oob="true"' in body
        else:
            assert response.location.endswith(f"#sage-{section}")
            assert notice in text(admin.get("/sage/")).split('id="messages"')[1].split("</div>")[0]
    finally:
        put_back()


BAD_FIXES = [
    ("job_status", {"job": "NOSUCHJOB", "status": "Closed"}, "No job NOSUCHJOB in Sage 300 CRE."),
    ("job_status", {"job": "{job}", "status": "Open"}, "Job {job} is already open."),
    ("job_status", {"job": "{job}", "status": "Shut"}, "Status: Not a valid choice"),
    ("gl_period", {"period": "October", "status": "Closed"}, "Period must be a month like 2026-10 (or 10/2026)."),
    ("gl_period", {"period": "", "status": "Closed"}, "Period is required."),
    ("gl_period", {"period": FAR_PERIOD, "status": "Open"}, "GL period 07/2031 is already open."),
    ("vendor_status", {"vendor": "{vendor}", "status": "Active"}, "Vendor {vendor} is already active."),
    ("vendor_status", {"vendor": "ABCDEFGHIJK", "status": "Active"}, "Vendor is too long"),
    ("limits", {"tolerance_pct": "ten", "hourly_limit": ""}, "Tolerance must be a percentage from 0 to 100"),
    ("limits", {"tolerance_pct": "", "hourly_limit": "-1"}, "Hourly request limit must be a whole number"),
    ("limits", {"tolerance_pct": "", "hourly_limit": ""}, "Give a tolerance, an hourly request limit or both."),
    ("ap_invoice", {"vendor": "{vendor}", "invoice": "NOSUCH", "action": "Delete"},
     "No AP invoice NOSUCH of vendor {vendor} in Sage 300 CRE."),
    ("ap_invoice", {"vendor": "{vendor}", "invoice": "NOSUCH", "action": "Shred"}, "Action: Not a valid choice"),
    ("ar_invoice", {"invoice": "NOSUCH", "action": "Void"}, "No AR invoice NOSUCH in Sage 300 CRE."),
    ("commitment", {"commitment": "{invoiced}", "action": "Delete"},
     "Commitment {invoiced} has invoices ({vendor}/{invoice}): a commitment with invoices cannot be deleted."),
    ("commitment", {"commitment": "", "action": "Delete"}, "Commitment is required."),
    ("change_order", {"commitment": "{commitment}", "cco": "{cco}", "action": "Delete"},
     "Change order {cco} is Approved: an Approved change order cannot be deleted; void it first."),
]


@pytest.mark.parametrize("section", sorted({s for s, _, _ in BAD_FIXES}))
def test_a_refused_fix_is_422_naming_the_field_and_changes_nothing(admin, sim, world, section):
    """Every refused fix of the section (BAD_FIXES), as a page and as htmx: Sage's refusal named, nothing changed."""
    from tests.integration.test_sage_fixes import snapshot
    w = dict(world, invoiced=world["commitment"], cco=f"K{f.suffix()}"[:10])
    if section == "commitment":
        w["invoice"] = exported_invoice(sim, world, "10")
    if section == "change_order":
        sim.add_commitment_co(world["commitment"], w["cco"])

    def check(data, message, hx):
        message = message.format(**w)
        before = snapshot(sim)
        response = admin.post(f"/sage/{section}", data={k: v.format(**w) for k, v in data.items()},
                              headers=HX if hx else {})
        body = text(response)
        assert response.status_code == 422, response.status_code
        assert message in body, body[body.find('id="sage-' + section):][:1500]
        assert "Nothing was changed in Sage 300 CRE" in body
        assert body.lstrip().startswith(f'<section id="sage-{section}"') if hx else "<!doctype html>" in body.lower()
        assert snapshot(sim) == before
    check_rows({f"{message[:40]} ({'htmx' if hx else 'page'})": (data, message, hx)
                for s, data, message in BAD_FIXES if s == section for hx in (False, True)}, check)


def test_the_page_lists_what_the_portal_exported_as_sage_prints_it(admin, sim, world):
    sim.add_commitment_item(world["commitment"], "7", world["job"], "01-100", "LAB", "1000", "Studs",
                            units="40", unit_cost="25")
    sim.add_cost(world["job"], "01-100", "LAB", "PR cost", "400", units="40", description="Units shown")
    invoice = exported_invoice(sim, world)
    body = text(admin.get(f"/sage/?job={world['job']}"))  # the session's other jobs can crowd a listing
    exported = body.split("What the portal exported")[1]
    items = exported.split('id="sage-exported-commitment-items"')[1].split("</details>")[0]
    assert f"<td>{world['commitment']}</td><td>7</td><td>Studs</td>" in items
    assert '<td class="num">40.0000</td><td class="num">25.0000</td><td class="num">1,000.00</td>' in items
    invoices = exported.split('id="sage-exported-ap-invoices"')[1].split("</details>")[0]
    assert f"<td>{invoice}</td>" in invoices and '<td class="num">234.50</td>' in invoices
    assert "<td>10/01/2026</td>" in invoices
    costs = body.split("posted cost transactions")[1].split("</details>")[0]
    assert '<td class="num">40.0000</td>' in costs and "4E+1" not in body
    assert 'id="sage-settings"' in body and "Hourly request limit" in body


# ---- fixing in Sage from the CLI ----------------------------------------------------------------

def test_cli_fixes_and_lists_what_was_exported(app, sim, world):
    w = world
    invoice = exported_invoice(sim, w)
    cco = f"K{f.suffix()}"[:10]
    sim.add_commitment_co(w["commitment"], cco)
    tolerance = sim.settings()["tolerance_pct"]
    steps = [
        (["job-status", w["job"], "Closed"], f"Job {w['job']} closed."),
        (["job-status", w["job"], "Open"], f"Job {w['job']} reopened."),
        (["gl-period", FAR_PERIOD, "Closed"], "GL period 07/2031 closed."),
        (["gl-period", "07/2031", "Open"], "GL period 07/2031 reopened."),
        (["vendor-status", w["vendor"], "Inactive"], f"Vendor {w['vendor']} deactivated."),
        (["vendor-status", w["vendor"], "Active"], f"Vendor {w['vendor']} activated."),
        (["set-limits", "--tolerance", "3"], "Saved: tolerance 3%."),
        (["void-ap-invoice", w["vendor"], invoice], f"AP invoice {invoice} of vendor {w['vendor']} voided."),
        (["delete-ap-invoice", w["vendor"], invoice], f"AP invoice {invoice} of vendor {w['vendor']} deleted."),
        (["void-change-order", w["commitment"], cco], f"Change order {cco} on commitment {w['commitment']} voided."),
        (["delete-change-order", w["commitment"], cco], f"Change order {cco} on commitment {w['commitment']} deleted."),
        (["void-commitment", w["commitment"]], f"Commitment {w['commitment']} voided."),
        (["delete-commitment", w["commitment"]], f"Commitment {w['commitment']} deleted."),
    ]
    try:
        for args, expected in steps:
            result = cli(app, *args)
            assert result.exit_code == 0 and expected in result.output, (args, result.output)
        assert "Tolerance: 3%" in cli(app, "list", "settings").output
    finally:
        sim.set_setting("tolerance_pct", tolerance)
    assert sim.get_commitment(w["commitment"]) is None and sim.get_invoice(w["vendor"], invoice) is None


def test_cli_lists_exported_records_with_sage_numbers(app, sim, world):
    sim.add_commitment_item(world["commitment"], "7", world["job"], "01-100", "LAB", "1000", "Studs",
                            units="40", unit_cost="25")
    invoice = exported_invoice(sim, world)
    items = cli(app, "list", "commitment-items", world["job"]).output
    line = next(row for row in items.splitlines() if row.startswith(world["commitment"]))
    assert "40.0000" in line and "25.0000" in line and "1,000.00" in line
    invoices = cli(app, "list", "ap-invoices", world["job"])
    assert invoices.exit_code == 0 and invoices.output.splitlines()[0].split()[:2] == ["Vendor", "Invoice"]
    assert any(invoice in row and "234.50" in row and "10/01/2026" in row for row in invoices.output.splitlines())
    for listing in ("ar-invoices", "commitments", "change-orders"):
        assert cli(app, "list", listing).exit_code == 0
    other = cli(app, "list", "commitment-items", "NOSUCHJOB").output
    assert world["commitment"] not in other and "(the latest" not in other


@pytest.mark.parametrize("args, message", [
    (["job-status", "NOSUCHJOB", "Closed"], "job: No job NOSUCHJOB in Sage 300 CRE."),
    (["gl-period", "October", "Closed"], "period: Period must be a month like 2026-10"),
    (["vendor-status", "NOSUCH", "Inactive"], "vendor: No vendor NOSUCH in Sage 300 CRE."),
    (["set-limits"], "tolerance_pct: Give a tolerance, an hourly request limit or both."),
    (["set-limits", "--hourly-limit", "lots"], "hourly_limit: Hourly request limit must be a whole number"),
    (["delete-ap-invoice", "NOSUCH", "INV"], "invoice: No AP invoice INV of vendor NOSUCH in Sage 300 CRE."),
    (["void-ar-invoice", "NOSUCH"], "invoice: No AR invoice NOSUCH in Sage 300 CRE."),
    (["delete-commitment", "NOSUCH"], "commitment: No commitment NOSUCH in Sage 300 CRE."),
    (["delete-change-order", "NOSUCH", "K1"], "cco: No change order K1 on commitment NOSUCH in Sage 300 CRE."),
    (["job-status", "J1", "Shut"], "Invalid value"),  # click's usage error: 2
])
def test_cli_fix_errors_exit_1_and_change_nothing(app, sim, args, message):
    from tests.integration.test_sage_fixes import snapshot
    before = snapshot(sim)
    result = cli(app, *args)
    assert result.exit_code == (2 if "Invalid value" in message else 1) and message in result.output, result.output
    assert snapshot(sim) == before
