"""What only the financial types do: commitments, commitment change orders (CCOs), budgets and
budget changes. Their forms (header fields and a line table whose inputs are named
line-<n>-<field>) and what they store, their columns, their prerequisites, a budget's lock, a
budget change that is never edited, their Accept forms' details and defaults, what each export
puts in Sage, Sage's refusals with cause and solution, bulk accept and Direct Export. What every
type does is in test_item_pages.py; who may do it in test_access.py.

Requests are made with no app context pushed; the database is read and prepared in short
`dbs(app)` blocks in between. Items are made and walked through the services by tests/items.py
(a project synced with its Sage job, a synced vendor and a synced commitment with two lines).
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain.lifecycle import State
from portal.domain.models import (
    Budget,
    BudgetChange,
    BudgetChangeLine,
    BudgetLine,
    CCOLine,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLine,
    ToolLevel,
    Vendor,
)
from portal.exporters.sage300.troubleshooting import explain
from tests import factories as f, items as ti
from tests.items import item_url, list_url, tab_url
from tests.web.pages import (
    HX,
    World,
    accept_and_settle,
    accept_form_body,
    assert_form_refused,
    changed_settings,
    counts,
    input_names,
    is_fragment,
    is_page,
    item_row,
    list_row,
    path_of,
    tab_row_ids,
    text,
)

TYPES = ("commitment", "cco", "budget", "budget_change")
MODELS = {"commitment": Commitment, "cco": CommitmentChangeOrder, "budget": Budget, "budget_change": BudgetChange}
LINE_MODELS = {"commitment": (CommitmentLine, CommitmentLine.commitment_id, Commitment),
               "cco": (CCOLine, CCOLine.cco_id, CommitmentChangeOrder),
               "budget": (BudgetLine, BudgetLine.budget_id, Budget),
               "budget_change": (BudgetChangeLine, BudgetChangeLine.change_id, BudgetChange)}
BLANK_LINES = {"commitment": 3, "cco": 3, "budget": 3, "budget_change": 4}

dbs = f.app_session

ROLE_USERS = {"site_admin": dict(site_admin=True), "project_admin": {}, "project_readonly": {},
              "approver": dict(erp_level=ToolLevel.STANDARD, push=True), "standard": dict(erp_level=ToolLevel.STANDARD),
              "erp_admin_no_push": dict(erp_level=ToolLevel.ADMIN)}


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def details_rows(body: str) -> list[list[str]]:
    """The cells of the Accept form's details table, header first."""
    match = re.search(r'<table class="grid details">(.*?)</table>', body, re.S)
    assert match, "no details table"
    return [re.findall(r"<t[hd]>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S)]


def form_of(world, key: str, home, **over) -> dict:
    """The type's valid project-side form on the home's project (`over` changes fields; None drops one)."""
    with dbs(world.app) as s:
        return ti.form_data(s, world.sim, key, home, **over)


def target(world, key: str):
    """The project a new item of the type goes on (a budget: one without a budget yet)."""
    with dbs(world.app) as s:
        return ti.target_home(s, world.sim, key, world.home)


def budgeted(world):
    """A project whose budget was exported to Sage (SUB 50,000, MAT 10,000)."""
    home = world.another_home()
    with dbs(world.app) as s:
        return ti.with_budget(s, world.sim, home)


def count(world, key: str, pid: int) -> tuple[int, int]:
    """(items, lines) of the type on the project."""
    model, fk, parent = LINE_MODELS[key]
    with dbs(world.app) as s:
        n = s.scalar(select(func.count()).select_from(parent).where(parent.project_id == pid))
        lines = s.scalar(select(func.count()).select_from(model).join(parent, fk == parent.id)
                         .where(parent.project_id == pid))
        return n, lines


def accept(world, it) -> dict:
    with dbs(world.app) as s:
        return ti.accept_data(s, world.sim, it)


def title_of(world, it) -> str:
    with dbs(world.app) as s:
        return s.get(MODELS[it.key], it.id).title


def settings_changed(app, people, **changes):
    return changed_settings(app, people["erp_admin_no_push"].id, **changes)


# ---- list, forms and what they store -----------------------------------------------------------------

LIST_CELLS = {
    "commitment": lambda it: [it.number, "Waterproofing", "Subcontract", "Approved", "$30,000.50"],
    "cco": lambda it: [it.home.commitment_number, it.number, "Added scope", "Approved", "$2,250.00"],
    "budget": lambda it: ['<td class="num">2</td>', "$60,000.00", "$0.00", '<td class="">No</td>'],
    "budget_change": lambda it: [it.number, "Move to material", '<td class="num">2</td>', "$500.00"],
}


@pytest.mark.parametrize("key", TYPES)
def test_list_row_shows_the_items_columns_and_totals(clients, world, key):
    it = world.item(key)
    row = list_row(clients, key, it.pid, it.id)
    for cell in LIST_CELLS[key](it):
        assert cell in row, cell
    assert "Not sent" in row and "Send to ERP" in row


HEADER_FIELDS = {"commitment": {"number", "title", ti.COMMITMENT_TYPE, "vendor_id", "status", "retainage_pct",
                                "accounting_method"},
                 "cco": {"commitment_id", "number", "title", "status"},
                 "budget": set(),
                 "budget_change": {"number", "description"}}
LINE_FIELDS = {"commitment": ["description", "category_id", "amount", "units", "unit_cost", "unit_description"],
               "cco": ["commitment_line_id", "description", "category_id", "amount", "units", "unit_cost"],
               "budget": ["category_id", "original", "estimated_cost_at_completion", "forecast_to_complete"],
               "budget_change": ["category_id", "amount"]}


@pytest.mark.parametrize("key", TYPES)
def test_new_form_has_the_header_fields_and_a_line_table(clients, world, key):
    p = target(world, key)
    response = clients["project_admin"].get(list_url(key, p.pid) + "/new")
    body = text(response)
    assert response.status_code == 200 and is_page(body)
    assert f"<h1>New {ti.builder(key).label.lower()}</h1>" in body
    assert '<table class="grid lines">' in body
    lines = {f"line-{n}-{field}" for n in range(BLANK_LINES[key]) for field in LINE_FIELDS[key]}
    assert input_names(body) == HEADER_FIELDS[key] | lines
    assert f"line-{BLANK_LINES[key]}-" not in body
    assert 'aria-label="Amount line 1"' in body or 'aria-label="Original Budget line 1"' in body \
        or 'aria-label="Amount (negative: from) line 1"' in body


def test_the_commitment_form_offers_the_projects_categories_and_every_company(clients, world):
    p = world.home
    other = world.another_home()
    body = text(clients["project_admin"].get(list_url("commitment", p.pid) + "/new"))
    assert f'<option value="{p.sub}" >03-300 SUB Subcontract</option>' in body
    assert f'<option value="{p.mat}" >03-300 MAT Material</option>' in body
    assert f'<option value="{other.sub}" ' not in body  # another project's category
    with dbs(world.app) as s:
        vendor = s.get(Vendor, p.vendor)
        assert f'<option value="{p.vendor}" >{vendor.name} ({vendor.erp_vendor_id})</option>' in body
    for kind, label in (("subcontract", "Subcontract"), ("purchase_order", "Purchase Order")):
        assert f'<option value="{kind}" >{label}</option>' in body


def test_the_cco_form_offers_only_synced_commitments_and_their_lines(clients, world):
    p = world.home
    unsynced = world.item("commitment", home=p)
    body = text(clients["project_admin"].get(list_url("cco", p.pid) + "/new"))
    commitment_select = re.search(r'<select name="commitment_id".*?</select>', body, re.S).group(0)
    assert f'<option value="{p.commitment}" >{p.commitment_number} Concrete</option>' in commitment_select
    assert f'value="{unsynced.id}"' not in commitment_select
    line_select = re.search(r'<select name="line-0-commitment_line_id".*?</select>', body, re.S).group(0)
    assert f'<option value="{p.line1}" >{p.commitment_number} #1 Footings</option>' in line_select
    assert f'<option value="{p.line2}" >{p.commitment_number} #2 Rebar</option>' in line_select
    with dbs(world.app) as s:
        theirs = s.scalars(select(CommitmentLine.id).where(CommitmentLine.commitment_id == unsynced.id)).all()
    assert theirs and not any(f'<option value="{i}" ' in line_select for i in theirs)


# ---- create -------------------------------------------------------------------------------------

def stored(world, key: str, item_id: int) -> list[tuple]:
    with dbs(world.app) as s:
        if key == "commitment":
            return [(ln.line_no, ln.description, ln.category_id, ln.amount) for ln in
                    s.scalars(select(CommitmentLine).where(CommitmentLine.commitment_id == item_id)
                              .order_by(CommitmentLine.line_no))]
        if key == "cco":
            return [(ln.commitment_line_id, ln.description, ln.category_id, ln.amount) for ln in
                    s.scalars(select(CCOLine).where(CCOLine.cco_id == item_id).order_by(CCOLine.id))]
        if key == "budget":
            return [(ln.category_id, ln.original, ln.estimated_cost_at_completion, ln.forecast_to_complete) for ln in
                    s.scalars(select(BudgetLine).where(BudgetLine.budget_id == item_id).order_by(BudgetLine.id))]
        return [(ln.category_id, ln.amount) for ln in
                s.scalars(select(BudgetChangeLine).where(BudgetChangeLine.change_id == item_id)
                          .order_by(BudgetChangeLine.id))]


def expected_lines(key: str, p) -> list[tuple]:
    D = Decimal
    return {"commitment": [(1, "Membrane", p.sub, D("24000.00")), (2, "Flashing", p.mat, D("6000.50"))],
            "cco": [(p.line1, "", None, D("1000.00")), (p.line1, "", None, D("500.00")),
                    (None, "Sealant", p.mat, D("750.00"))],
            "budget": [(p.sub, D("50000.00"), D("52000.00"), D("30000.00")), (p.mat, D("10000.00"), None, None)],
            "budget_change": [(p.sub, D("-2000.00")), (p.mat, D("2500.00"))]}[key]


@pytest.mark.parametrize("key", TYPES)
def test_create_saves_the_lines_and_goes_back_to_the_list(clients, people, world, key):
    p = target(world, key)
    form = form_of(world, key, p)
    form.update({"line-2-description": "", "line-2-amount": ""} if key == "commitment" else {})  # blank: ignored
    before = count(world, key, p.pid)
    response = clients["project_admin"].post(list_url(key, p.pid) + "/new", data=form)
    assert response.status_code == 303, text(response)[:800]
    assert path_of(response.location) == list_url(key, p.pid)
    assert count(world, key, p.pid) == (before[0] + 1, before[1] + len(expected_lines(key, p)))
    page = text(clients["project_admin"].get(response.location))
    assert f"{ti.builder(key).label} saved." in page
    with dbs(world.app) as s:
        model = MODELS[key]
        item = s.scalars(select(model).where(model.project_id == p.pid).order_by(model.id.desc())).first()
        assert item.created_by_id == people["project_admin"].id
        item_id = item.id
    assert stored(world, key, item_id) == expected_lines(key, p)
    row = item_row(page, key, item_id)
    assert 'data-state="draft"' in row and "Send to ERP" in row


BAD_NEW = {
    "commitment, bad amount": ("commitment", {"line-0-amount": "12,O00"}, "line-0-amount",
                               "'12,O00' is not an amount."),
    "commitment, line without category": ("commitment", {"line-1-category_id": ""}, "line-1-category_id",
                                          "Choose a cost code and category of this project."),
    "commitment, line without description": ("commitment", {"line-0-description": " "}, "line-0-description",
                                             "A line needs a description."),
    "commitment, another project's category": ("commitment", {"line-0-category_id": "OTHER"}, "line-0-category_id",
                                               "Choose a cost code and category of this project."),
    "commitment, no contract #": ("commitment", {"number": ""}, "number", "Contract # is required."),
    "commitment, no company": ("commitment", {"vendor_id": ""}, "vendor_id", "Choose the contract company."),
    "commitment, retainage over 100": ("commitment", {"retainage_pct": "150"}, "retainage_pct",
                                       "Retainage is a percentage from 0 to 100."),
    "commitment, bad unit cost": ("commitment", {"line-0-unit_cost": "ten"}, "line-0-unit_cost",
                                  "'ten' is not an amount."),
    "cco, commitment not synced": ("cco", {"commitment_id": "UNSYNCED"}, "commitment_id",
                                   "Change orders can only be created from synced commitments."),
    "cco, line of another commitment": ("cco", {"line-0-commitment_line_id": "UNSYNCED_LINE"},
                                        "line-0-commitment_line_id", "Choose a line of the chosen commitment."),
    "cco, new line without category": ("cco", {"line-2-category_id": ""}, "line-2-category_id",
                                       "A new line needs a cost code and category."),
    "cco, bad amount": ("cco", {"line-1-amount": "1.000.50"}, "line-1-amount", "'1.000.50' is not an amount."),
    "cco, no lines": ("cco", {f"line-{n}-{k}": None for n in range(3)
                              for k in ("commitment_line_id", "description", "category_id", "amount")},
                      None, "Add at least one line."),
    "budget, bad amount": ("budget", {"line-0-original": "fifty"}, "line-0-original", "'fifty' is not an amount."),
    "budget, line without category": ("budget", {"line-1-category_id": ""}, "line-1-category_id",
                                      "Choose a cost code and category of this project."),
    "budget, category twice": ("budget", {"line-1-category_id": "SUB"}, "line-1-category_id",
                               "Each cost code and category once per budget."),
    "budget, too large": ("budget", {"line-1-original": "1000000000"}, "line-1-original", "Amount is too large."),
    "budget change, bad amount": ("budget_change", {"line-1-amount": "2 500"}, "line-1-amount",
                                  "'2 500' is not an amount."),
    "budget change, line without category": ("budget_change", {"line-0-category_id": ""}, "line-0-category_id",
                                             "Choose a cost code and category of this project."),
    "budget change, no number": ("budget_change", {"number": ""}, "number", "Budget Change # is required."),
    "budget change, no lines": ("budget_change", {f"line-{n}-{k}": None for n in range(2)
                                                  for k in ("category_id", "amount")},
                                None, "Add at least one from/to line."),
}


@pytest.mark.parametrize("name", BAD_NEW)
def test_create_with_bad_input_is_422_with_the_message_and_creates_nothing(clients, world, name):
    key, changes, field, message = BAD_NEW[name]
    p = target(world, key)

    def line_of_unsynced():
        unsynced = world.item("commitment", home=p)
        with dbs(world.app) as s:
            return str(s.scalars(select(CommitmentLine.id).where(CommitmentLine.commitment_id == unsynced.id)).first())
    placeholders = {"OTHER": lambda: str(world.another_home().sub), "SUB": lambda: str(p.sub),
                    "UNSYNCED": lambda: str(world.item("commitment", home=p).id), "UNSYNCED_LINE": line_of_unsynced}
    changes = {k: placeholders[v]() if v in placeholders else v for k, v in changes.items()}
    form = form_of(world, key, p, **changes)
    before = count(world, key, p.pid)
    response = clients["project_admin"].post(list_url(key, p.pid) + "/new", data=form)
    assert_form_refused(response, form, message, field, ("amount", "original", "description", "number", "title"))
    if field and not field.startswith("line-") and f'<select name="{field}"' not in text(response):
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', text(response))
    assert count(world, key, p.pid) == before


def test_a_second_budget_on_a_project_is_422_and_creates_nothing(clients, world):
    first = world.item("budget")
    before = count(world, "budget", first.pid)
    response = clients["project_admin"].post(list_url("budget", first.pid) + "/new",
                                             data=form_of(world, "budget", first.home))
    body = text(response)
    assert response.status_code == 422 and is_page(body)
    assert '<p class="msg error" role="alert">This project already has a budget: edit it instead.</p>' in body
    assert count(world, "budget", first.pid) == before


def test_a_purchase_order_keeps_units_and_unit_cost_to_four_places(clients, world):
    """The columns hold 4 decimals (Numeric(14, 4)) and save quantizes units to 0.0001: a unit cost
    such as 12.3456 must not be rounded to cents on the way in."""
    p = world.home
    form = form_of(world, "commitment", p, commitment_type="purchase_order", **{
        "line-0-units": "2.5", "line-0-unit_cost": "12.3456", "line-0-unit_description": "EA",
        "line-0-amount": "30.86"})
    response = clients["project_admin"].post(list_url("commitment", p.pid) + "/new", data=form)
    assert response.status_code == 303, text(response)[:500]
    with dbs(world.app) as s:
        c = s.scalars(select(Commitment).where(Commitment.number == form["number"])).one()
        line = s.scalars(select(CommitmentLine).where(CommitmentLine.commitment_id == c.id,
                                                      CommitmentLine.line_no == 1)).one()
        assert (line.units, line.unit_description) == (Decimal("2.5"), "EA")
        assert line.unit_cost == Decimal("12.3456")


# ---- edit rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("state", [State.DRAFT, State.REJECTED])
@pytest.mark.parametrize("key", ["commitment", "cco", "budget"])
def test_edit_while_draft_or_rejected_shows_the_lines_and_saves(clients, world, key, state):
    it = world.item(key, state)
    form_page = clients["project_admin"].get(item_url(it, "edit"))
    body = text(form_page)
    assert form_page.status_code == 200 and is_page(body)
    assert f"<h1>Edit {ti.builder(key).label.lower()}</h1>" in body
    assert '<button type="submit" class="primary">Save</button>' in body
    first = {"commitment": 'name="line-0-description" value="Membrane"', "cco": 'name="line-0-amount" value="1000.00"',
             "budget": 'name="line-0-original" value="50000.00"'}[key]
    assert first in body
    # the saved lines plus blank ones to add more
    shown = len(expected_lines(key, it.home)) + BLANK_LINES[key]
    assert f'name="line-{shown - 1}-' in body and f'name="line-{shown}-' not in body
    if state == State.REJECTED:
        assert f"Rejected by accounting: {ti.REASON}" in body
    before = world.snapshot(key, it.id)
    edit = form_of(world, key, it.home)
    if key == "commitment":
        edit.update(number=it.number, title="Renamed", **{
            "line-2-description": "Sealant", "line-2-category_id": str(it.home.mat), "line-2-amount": "99"})
    elif key == "cco":
        edit.update(number=it.number, title="Renamed", **{"line-2-amount": "800"})
    else:
        edit.update(**{"line-1-original": "12000"})
    response = clients["project_admin"].post(item_url(it, "edit"), data=edit)
    assert response.status_code == 303, text(response)[:800]
    assert path_of(response.location) == list_url(key, it.pid)
    assert world.snapshot(key, it.id) != before
    lines = stored(world, key, it.id)
    if key == "commitment":
        assert [ln[0] for ln in lines] == [1, 2, 3] and lines[2][1:] == ("Sealant", it.home.mat, Decimal("99.00"))
    elif key == "cco":
        assert lines[2][3] == Decimal("800.00") and len(lines) == 3
    else:
        assert lines[1][1] == Decimal("12000.00")
    if state == State.REJECTED:
        assert world.erp(it.erp).state == State.REJECTED  # editing does not resend
        row = list_row(clients, key, it.pid, it.id)
        assert "Resend to ERP" in row


@pytest.mark.parametrize("state", [State.DRAFT, State.REJECTED])
def test_a_budget_change_has_no_edit_and_cannot_be_edited(clients, world, state):
    it = world.item("budget_change", state)
    row = list_row(clients, "budget_change", it.pid, it.id)
    assert "Edit" not in row and item_url(it, "edit") not in row
    assert ("Resend to ERP" if state == State.REJECTED else "Send to ERP") in row
    before = world.snapshot("budget_change", it.id), world.erp_of("budget_change", it.id)

    edit = form_of(world, "budget_change", it.home, number="BC-EDITED")
    response = clients["project_admin"].post(item_url(it, "edit"), data=edit)
    assert response.status_code in (409, 422)
    assert "Once a budget change has been created, it cannot be edited." in text(response)
    assert (world.snapshot("budget_change", it.id), world.erp_of("budget_change", it.id)) == before

    # Opening the edit URL must not offer a form that can never be saved.
    page = clients["project_admin"].get(item_url(it, "edit"))
    body = text(page)
    assert page.status_code in (200, 409, 422)
    assert "cannot be edited" in body
    assert '<form method="post" class="stacked"' not in body, \
        "the edit page of a budget change offers an editable form (with blank lines) that can never be saved"


def test_an_exported_budget_is_locked_and_can_only_change_with_budget_changes(clients, world):
    it = world.item("budget", State.SYNCED)
    with dbs(world.app) as s:
        assert s.get(Budget, it.id).locked
    row = list_row(clients, "budget", it.pid, it.id)
    assert '<td class="">Yes</td>' in row and 'data-state="synced"' in row  # the Locked column
    assert "Send to ERP" not in row and "Edit" not in row
    before = world.snapshot("budget", it.id)
    response = clients["project_admin"].post(item_url(it, "edit"), data=form_of(world, "budget", it.home))
    assert response.status_code == 409 and world.snapshot("budget", it.id) == before


def test_a_locked_budget_back_in_draft_still_refuses_edits_and_sending(clients, world):
    """A budget locked in Sage but not (or no longer) in the gate: the lock alone stops both."""
    p = budgeted(world)
    it = ti.Item("budget", p.budget, p, p.pid, p.number)
    row = list_row(clients, "budget", p.pid, p.budget)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert "The budget was exported to Sage and is locked; change it with budget changes." in row
    before = world.snapshot("budget", p.budget)
    edit = form_of(world, "budget", p, **{"line-0-original": "1"})
    response = clients["project_admin"].post(item_url(it, "edit"), data=edit)
    assert response.status_code == 422 and "The budget was exported to Sage and is locked." in text(response)
    assert world.snapshot("budget", p.budget) == before
    sent = clients["project_admin"].post(item_url(it, "send"), headers=HX)
    assert sent.status_code == 422 and "locked" in text(sent)
    assert world.erp_of("budget", p.budget) is None


PREREQUISITES = {
    "commitment, draft status": ("commitment", {"status": "Draft"},
                                 "The status is Draft: a subcontract must be Approved or Complete."),
    "purchase order, complete": ("commitment", {"commitment_type": "purchase_order", "status": "Complete"},
                                 "The status is Complete: a purchase order must be Approved."),
    "commitment, contract # over 12": ("commitment", {"number": "SC-1234567890"},
                                       "The contract # must be 12 characters or less (Sage's limit)."),
    "commitment, title over 30": ("commitment", {"title": "A title that is much longer than thirty"},
                                  "The title must be 30 characters or less (Sage's limit)."),
    "commitment, company not synced": ("commitment", {"vendor_id": "UNSYNCED_VENDOR"},
                                       "is not linked to a synced Sage vendor."),
    "commitment, no lines": ("commitment", {"line-0-description": None, "line-0-category_id": None,
                                            "line-0-amount": None, "line-1-description": None,
                                            "line-1-category_id": None, "line-1-amount": None},
                             "Add at least one schedule of values line with a Sage cost code and category."),
    "cco, pending": ("cco", {"status": "Pending"}, "The status is Pending: only Approved change orders can be sent."),
    "budget, no lines": ("budget", {"line-0-category_id": None, "line-0-original": None,
                                    "line-0-estimated_cost_at_completion": None, "line-0-forecast_to_complete": None,
                                    "line-1-category_id": None, "line-1-original": None},
                         "Add at least one budget line."),
    "budget change, budget not exported": ("budget_change", {"exported_budget": False},
                                           "Export the project's budget first: changes update an exported budget."),
}


@pytest.mark.parametrize("name", PREREQUISITES)
def test_send_is_unavailable_with_the_reason_and_refused_if_posted(clients, world, name):
    key, changes, reason = PREREQUISITES[name]
    changes = dict(changes)
    if "UNSYNCED_VENDOR" in changes.values():
        with dbs(world.app) as s:
            vendor = Vendor(name=f"Unsynced {world.token}")
            s.add(vendor)
            s.commit()
            changes["vendor_id"] = str(vendor.id)
    if "exported_budget" in changes:
        changes["home"] = world.another_home()
    it = world.item(key, **changes)
    row = list_row(clients, key, it.pid, it.id)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert reason in row
    assert item_url(it, "send") not in row
    response = clients["project_admin"].post(item_url(it, "send"), headers=HX)
    assert response.status_code == 422 and response.headers.get("HX-Retarget") == "#messages"
    assert reason in text(response)
    assert world.erp_of(key, it.id) is None


def test_a_synced_commitment_cannot_be_sent_again(clients, world):
    p = world.home
    it = ti.Item("commitment", p.commitment, p, p.pid, p.commitment_number)
    row = list_row(clients, "commitment", p.pid, p.commitment)
    assert 'data-state="synced"' in row and f"ERP ID {p.commitment_erp}" in row and "Send to ERP" not in row
    response = clients["project_admin"].post(item_url(it, "send"), headers=HX)
    assert response.status_code == 422
    assert f"already synced as Sage commitment {p.commitment_erp}" in text(response)


def test_an_item_of_another_project_is_404(clients, world):
    it = world.item("commitment")
    other = world.another_home()
    response = clients["project_admin"].post(f"/projects/{other.pid}/items/commitment/{it.id}/send")
    assert response.status_code == 404 and world.erp_of("commitment", it.id) is None
    assert clients["project_admin"].get(f"/projects/{other.pid}/items/commitment/{it.id}/edit").status_code == 404


TAB_CELLS = {
    "commitment": lambda it: [it.home.name, it.number, "Waterproofing", "Subcontract", "Approved", "$30,000.50"],
    "cco": lambda it: [it.home.name, it.home.commitment_number, it.number, "Added scope", "Approved", "$2,250.00"],
    "budget": lambda it: [it.home.name, '<td class="num">2</td>', "$60,000.00", "$0.00"],
    "budget_change": lambda it: [it.home.name, it.number, "Move to material", '<td class="num">2</td>', "$500.00"],
}


@pytest.mark.parametrize("key", TYPES)
def test_tab_row_shows_the_items_columns_and_its_sender(clients, people, world, key):
    it = world.item(key, State.READY)
    response = clients["approver"].get(tab_url(key, it.erp, "row"), headers=HX)
    body = text(response)
    assert response.status_code == 200 and body.strip().startswith(f'<tbody id="item-{it.erp}"')
    for cell in TAB_CELLS[key](it):
        assert cell in body, cell
    assert f"<td>{people['project_admin'].name}</td>" in body


def test_budget_accept_form_shows_the_budgets_details_above_the_export_forecast_question(clients, world):
    it = world.item("budget", State.READY)
    _, body = accept_form_body(clients, it)
    assert details_rows(body) == [["Cost Code", "Category", "Original", "Changes", "Revised"],
                                  ["03-300", "SUB", "$50,000.00", "$0.00", "$50,000.00"],
                                  ["03-300", "MAT", "$10,000.00", "$0.00", "$10,000.00"]]
    assert body.index('<table class="grid details">') < body.index('name="export_forecast"')
    assert ("Export cost forecast? (Estimated Cost at Completion and Forecast to Complete as Misc worksheet 1 "
            "and 2)") in body


def test_budget_accept_form_ticks_export_forecast_when_the_company_setting_is_on(app, clients, people, world):
    it = world.item("budget", State.READY)
    with settings_changed(app, people, export_forecast_amounts="on"):
        _, body = accept_form_body(clients, it)
        assert re.search(r'<input type="checkbox" name="export_forecast" checked>', body)
    _, body = accept_form_body(clients, it)
    assert re.search(r'<input type="checkbox" name="export_forecast" >', body)


def test_budget_change_accept_form_shows_its_from_and_to_lines(clients, world):
    it = world.item("budget_change", State.READY)
    _, body = accept_form_body(clients, it)
    assert details_rows(body) == [["Cost Code", "Category", "Amount"], ["03-300", "SUB", "-$2,000.00"],
                                  ["03-300", "MAT", "$2,500.00"]]
    assert input_names(body) == set() and "Export to ERP" in body


def test_commitment_sage_id_is_prefilled_with_the_contract_number_when_the_setting_is_on(app, clients, people,
                                                                                         world):
    it = world.item("commitment", State.READY)
    with settings_changed(app, people, use_contract_number_as_sage_id="on"):
        _, body = accept_form_body(clients, it)
        assert f'name="sage_id" value="{it.number}"' in body
    _, body = accept_form_body(clients, it)
    assert 'name="sage_id" value=""' in body


def test_a_failed_item_is_retried_with_its_previous_export_fields(clients, world):
    it = world.item("commitment", State.FAILED)
    response, body = accept_form_body(clients, it)
    assert response.status_code == 200 and f'name="sage_id" value="{it.fields["sage_id"]}"' in body
    row = text(clients["approver"].get(tab_url("commitment", it.erp, "row"), headers=HX))
    assert ">Retry</a>" in row and ">Reject</a>" in row


BAD_ACCEPT = {
    "sage id too long": ("commitment", {"sage_id": "SC-1234567890"}, "sage_id",
                         "Sage 300 CRE ID must be 12 characters or less (Sage's limit)."),
    "sage id missing": ("commitment", {"sage_id": " "}, "sage_id", "Sage 300 CRE ID is required."),
    "sage id of another commitment": ("commitment", {"sage_id": "TAKEN"}, "sage_id",
                                      "Sage ID TAKEN is already used by another commitment."),
    "cco id too long": ("cco", {"cco_id": "CO-12345678", "description": ""}, "cco_id",
                        "CCO ID must be 10 characters or less (Sage's limit)."),
    "cco id missing": ("cco", {"cco_id": "", "description": "x"}, "cco_id", "CCO ID is required."),
    "cco description too long": ("cco", {"cco_id": "CO1", "description": "D" * 31}, "description",
                                 "Description must be 30 characters or less (Sage's limit)."),
}


@pytest.mark.parametrize("name", BAD_ACCEPT)
def test_accept_with_bad_fields_is_422_with_the_message_and_changes_nothing(clients, world, name):
    key, form, field, message = BAD_ACCEPT[name]
    it = world.item(key, State.READY)
    taken = it.home.commitment_erp.lower()  # the same Sage ID in other letters is the same ID
    form = {k: v.replace("TAKEN", taken) for k, v in form.items()}
    message = message.replace("TAKEN", taken)
    before = world.erp(it.erp)
    response = clients["approver"].post(tab_url(key, it.erp, "accept"), data=form, headers=HX)
    body = text(response)
    assert response.status_code == 422 and is_fragment(body)
    assert f'<span class="field-error">{message}</span>' in body
    assert re.search(rf'name="{field}" value="{re.escape(form[field])}"[^>]*aria-invalid="true"', body)
    assert world.erp(it.erp) == before


def test_accepted_commitment_is_synced_in_sage_with_its_items(clients, world, drain, sim):
    it = world.item("commitment", State.READY)
    sage_id = f"C{f.suffix(8)}"
    body = accept_and_settle(clients, drain, it, {"sage_id": sage_id})
    assert 'data-state="synced"' in body and f"ERP ID <strong>{sage_id}</strong>" in body, body[:600]
    head = sim.get_commitment(sage_id)
    assert (head["Vendor"], head["Job"], head["Commitment_Type"]) == (it.home.vendor_erp, it.home.job, "Subcontract")
    assert head["Description"] == f"Waterproofing {world.token}" and Decimal(str(head["Amount"])) == Decimal("30000.50")
    assert [(i["Item"], i["Description"], i["Cost_Code"], i["Category"], Decimal(str(i["Amount"])), i["Units"])
            for i in sim.list_commitment_items(sage_id)] == [
        ("1", "Membrane", "03-300", "SUB", Decimal("24000"), None),
        ("2", "Flashing", "03-300", "MAT", Decimal("6000.50"), None)]
    with dbs(world.app) as s:
        assert s.get(Commitment, it.id).erp_commitment_id == sage_id
    row = list_row(clients, "commitment", it.pid, it.id)
    assert 'data-state="synced"' in row and f"ERP ID {sage_id}" in row and f'<td class="">{sage_id}</td>' in row
    assert "Send to ERP" not in row and "Edit" not in row


def test_a_purchase_order_exports_units_and_unit_cost(clients, world, drain, sim):
    it = world.item("commitment", State.READY, commitment_type="purchase_order", **{
        "line-0-units": "120", "line-0-unit_cost": "200", "line-0-unit_description": "SQFT",
        "line-1-units": "", "line-1-unit_cost": ""})
    sage_id = f"P{f.suffix(8)}"
    accept_and_settle(clients, drain, it, {"sage_id": sage_id})
    assert sim.get_commitment(sage_id)["Commitment_Type"] == "Purchase Order"
    first, second = sim.list_commitment_items(sage_id)
    assert (Decimal(str(first["Units"])), Decimal(str(first["Unit_Cost"])), first["Unit_Description"]) == \
        (Decimal("120"), Decimal("200"), "SQFT")
    assert (second["Units"], second["Unit_Cost"]) == (None, None)


def test_accepted_cco_sums_same_line_changes_and_adds_the_new_line_first(clients, world, drain, sim):
    it = world.item("cco", State.READY)
    cco_id = f"X{f.suffix(8)}"
    body = accept_and_settle(clients, drain, it, {"cco_id": cco_id, "description": ""})
    assert 'data-state="synced"' in body and f"ERP ID <strong>{cco_id}</strong>" in body, body[:600]
    commitment = it.home.commitment_erp
    cco = sim.get_cco(commitment, cco_id)
    assert cco["Description"] == title_of(world, it)[:30] and cco["Status"] == "Approved"  # the title by default
    assert [(i["Item"], Decimal(str(i["Amount"]))) for i in sim.list_cco_items(commitment, cco_id)] == [
        ("1", Decimal("1500")), ("3", Decimal("750"))]
    new = [i for i in sim.list_commitment_items(commitment) if i["Item"] == "3"]
    assert len(new) == 1 and (new[0]["Description"], new[0]["Category"]) == ("Sealant", "MAT")
    with dbs(world.app) as s:
        lines = s.scalars(select(CommitmentLine).where(CommitmentLine.commitment_id == it.home.commitment)
                          .order_by(CommitmentLine.line_no)).all()
        assert [(ln.line_no, ln.description) for ln in lines][-1] == (3, "Sealant")  # invoices can bill it


def test_accepted_cco_takes_the_description_typed_in_the_accept_form(clients, world, drain, sim):
    it = world.item("cco", State.READY)
    cco_id = f"X{f.suffix(8)}"
    accept_and_settle(clients, drain, it, {"cco_id": cco_id, "description": "Owner requested sealant"})
    assert sim.get_cco(it.home.commitment_erp, cco_id)["Description"] == "Owner requested sealant"


@pytest.mark.parametrize("forecast", [True, False], ids=["with forecast", "without forecast"])
def test_accepted_budget_exports_original_estimates_and_optionally_the_forecast_then_locks(
        clients, world, drain, sim, forecast):
    it = world.item("budget", State.READY)
    body = accept_and_settle(clients, drain, it, {"export_forecast": "on"} if forecast else {})
    assert 'data-state="synced"' in body, body[:600]
    got = sorted((t["Transaction_Type"], t["Category"], Decimal(str(t["Amount"])))
                 for t in sim.list_transactions(it.home.job))
    expected = [("Original estimate", "MAT", Decimal("10000")), ("Original estimate", "SUB", Decimal("50000"))]
    if forecast:
        expected += [("Misc worksheet 1", "SUB", Decimal("52000")), ("Misc worksheet 2", "SUB", Decimal("30000"))]
    assert got == sorted(expected)
    with dbs(world.app) as s:
        assert s.get(Budget, it.id).locked
        assert world.erp(it.erp).export_fields == {"export_forecast": forecast}
    row = list_row(clients, "budget", it.pid, it.id)
    assert '<td class="">Yes</td>' in row and "Send to ERP" not in row and "Edit" not in row


def test_accepted_budget_change_is_an_approved_estimate_change_and_revises_the_budget(clients, world, drain, sim):
    it = world.item("budget_change", State.READY)
    body = accept_and_settle(clients, drain, it, {})
    assert 'data-state="synced"' in body, body[:600]
    changes = sim.list_transactions(it.home.job, "Approved est chng")
    assert sorted((t["Category"], Decimal(str(t["Amount"])), t["Ref_1"]) for t in changes) == [
        ("MAT", Decimal("2500"), it.number), ("SUB", Decimal("-2000"), it.number)]
    # The budget shows the approved change: original 60,000 + 500 = 60,500.
    row = list_row(clients, "budget", it.pid, it.home.budget)
    assert "$60,000.00" in row and "$500.00" in row and "$60,500.00" in row
    row = list_row(clients, "budget_change", it.pid, it.id)
    assert 'data-state="synced"' in row and "Send to ERP" not in row


# ---- Sage refuses: Failed to Export with Sage's text, cause and solution -------------------------------

def vendor_inactive(world, sim, it):
    sim.set_vendor_status(it.home.vendor_erp, "Inactive")
    return "Vendor is inactive/has been archived."


def commitment_in_sage(world, sim, it):
    sim.add_commitment(it.fields["sage_id"], it.home.vendor_erp, it.home.job, 10)
    return f"A commitment with code [{it.fields['sage_id']}] already exists."


def commitment_archived(world, sim, it):
    sim.set_commitment_status(it.home.commitment_erp, "Closed")
    return "Commitment has been archived."


def cco_on_the_commitment(world, sim, it):
    sim.add_commitment_co(it.home.commitment_erp, it.fields["cco_id"])
    return f"A change order with code {it.fields['cco_id']} already exists on this contract."


def estimate_in_sage(world, sim, it):
    sim.add_transaction(it.home.job, "03-300", "SUB", "Original estimate", 5)
    return "An estimate already exists for cost code 03-300 category SUB."


def job_closed(world, sim, it):
    sim.set_job_status(it.home.job, "Closed")
    return "Job has been closed."


REFUSALS = {
    "commitment, vendor inactive": ("commitment", vendor_inactive),
    "commitment, id already in sage": ("commitment", commitment_in_sage),
    "cco, commitment archived": ("cco", commitment_archived),
    "cco, id already on the commitment": ("cco", cco_on_the_commitment),
    "budget, estimate already in sage": ("budget", estimate_in_sage),
    "budget change, job closed": ("budget_change", job_closed),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_a_sage_refusal_is_failed_to_export_with_sages_text_cause_and_solution(clients, world, drain, sim, name):
    key, arrange = REFUSALS[name]
    p = budgeted(world) if key == "budget_change" else world.another_home()
    it = world.item(key, State.READY, home=p)
    it.fields = accept(world, it)
    message = arrange(world, sim, it)
    why = explain(message)
    assert why is not None, f"the troubleshooting table does not explain {message!r}"

    body = accept_and_settle(clients, drain, it, it.fields)
    assert 'data-state="failed"' in body and '<span class="badge failed">Failed to Export</span>' in body
    assert f'<div class="sage-message"><strong>Sage:</strong> {message}</div>' in body
    assert "<summary>Cause and solution</summary>" in body
    assert f"<strong>Cause:</strong> {why.cause}" in body and f"<strong>Solution:</strong> {why.solution}" in body
    assert ">Retry</a>" in body
    after = world.erp(it.erp)
    assert (after.state, after.sage_message, after.erp_ref) == (State.FAILED, message, None)

    failed_tab = text(clients["approver"].get(f"/erp/{key}?filter=failed&q={world.token}", headers=HX))
    assert tab_row_ids(failed_tab) == [it.erp] and counts(failed_tab)["failed"] == 1
    assert "<th>Sage's message</th>" in failed_tab and why.cause in failed_tab
    row = list_row(clients, key, it.pid, it.id)
    assert 'data-state="failed"' in row and f"Sage:</strong> {message}" in row and why.cause in row
    with dbs(world.app) as s:  # nothing written back
        if key == "commitment":
            assert s.get(Commitment, it.id).erp_commitment_id is None
        if key == "budget":
            assert not s.get(Budget, it.id).locked


def test_a_commitment_refused_for_an_inactive_vendor_syncs_when_retried_after_the_fix(clients, world, drain, sim):
    p = world.another_home()
    it = world.item("commitment", State.READY, home=p)
    sim.set_vendor_status(p.vendor_erp, "Inactive")
    sage_id = f"C{f.suffix(8)}"
    assert 'data-state="failed"' in accept_and_settle(clients, drain, it, {"sage_id": sage_id})
    sim.set_vendor_status(p.vendor_erp, "Active")
    body = accept_and_settle(clients, drain, it, {"sage_id": sage_id})
    assert 'data-state="synced"' in body and f"ERP ID <strong>{sage_id}</strong>" in body
    assert world.erp(it.erp).attempt == 2 and sim.get_commitment(sage_id) is not None


def test_bulk_accept_of_commitments_needs_the_contract_number_setting(app, clients, people, world, drain, sim):
    one, two = world.item("commitment", State.READY), world.item("commitment", State.READY)
    data = {"ids": [str(one.erp), str(two.erp)], "filter": "ready", "q": world.token}
    body = text(clients["approver"].post("/erp/commitment/bulk-accept", headers=HX, data=data))
    assert "2 not accepted:" in body
    for i in (one, two):
        assert f"{i.title}: Accept it on its own: Sage 300 CRE ID is required." in body
        assert world.erp(i.erp).state == State.READY
    with settings_changed(app, people, use_contract_number_as_sage_id="on"):
        body = text(clients["approver"].post("/erp/commitment/bulk-accept", headers=HX, data=data))
        assert "2 exporting: 0 Synced so far" in body
        drain()
    for i in (one, two):
        after = world.erp(i.erp)
        assert (after.state, after.erp_ref) == (State.SYNCED, i.number), after.sage_message
        assert sim.get_commitment(i.number) is not None


def test_bulk_accept_without_htmx_redirects_with_the_message(clients, world, drain):
    it = world.item("budget_change", State.READY)
    response = clients["approver"].post("/erp/budget_change/bulk-accept", data={"ids": [str(it.erp)],
                                                                                "filter": "ready"})
    assert response.status_code == 303 and path_of(response.location) == "/erp/budget_change"
    assert "1 queued for export." in text(clients["approver"].get(response.location))
    drain()
    assert world.erp(it.erp).state == State.SYNCED


# ---- direct export ----------------------------------------------------------------------------------

def test_direct_export_sends_a_commitment_straight_to_sage_with_its_contract_number(app, clients, people, world,
                                                                                   drain, sim):
    it = world.item("commitment")
    with settings_changed(app, people, direct_export_commitments="on", use_contract_number_as_sage_id="on"):
        sent = clients["project_admin"].post(item_url(it, "send"), headers=HX)
        assert sent.status_code == 200 and 'data-state="exporting"' in text(sent)
        drain()
    after = world.erp_of("commitment", it.id)
    assert (after.state, after.erp_ref) == (State.SYNCED, it.number), after.sage_message
    assert sim.get_commitment(it.number)["Vendor"] == it.home.vendor_erp


def test_direct_export_sends_a_cco_straight_to_sage(app, clients, people, world, drain, sim):
    it = world.item("cco")
    with settings_changed(app, people, direct_export_ccos="on"):
        sent = clients["project_admin"].post(item_url(it, "send"), headers=HX)
        assert sent.status_code == 200 and 'data-state="exporting"' in text(sent)
        drain()
    after = world.erp_of("cco", it.id)
    assert (after.state, after.erp_ref) == (State.SYNCED, it.number[:10]), after.sage_message
    assert sim.get_cco(it.home.commitment_erp, it.number[:10]) is not None


def test_direct_export_of_a_commitment_without_a_sage_id_says_why_it_cannot_be_sent(app, clients, people, world):
    """Direct export on, "use contract number as Sage ID" off: there is no Sage ID to export with.
    The refusal must name what is missing, not ask to correct highlighted fields that the list
    page does not have."""
    it = world.item("commitment")
    with settings_changed(app, people, direct_export_commitments="on", use_contract_number_as_sage_id=False):
        response = clients["project_admin"].post(item_url(it, "send"), headers=HX)
    body = text(response)
    assert response.status_code == 422
    assert world.erp_of("commitment", it.id) is None
    assert "Sage 300 CRE ID" in body, body
