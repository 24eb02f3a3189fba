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
