"""The financial item types as the browser sees them: commitments, commitment change orders
(CCOs), budgets and budget changes. Their project-side pages and forms (header fields and a
line table whose inputs are named line-<n>-<field>), and their ERP tabs: counts, the Accept
form (with the budget's details table), Sage's refusals with cause and solution, bulk accept,
reject with its mail, direct export.

As in test_setup_pages.py, requests are made with no app context pushed and the database is
read and prepared in short `dbs(app)` blocks in between. Items are put in a state through the
services with a queue that queues nothing, unless a test exports for real (then drain()).
Every test makes its own projects (factories.Setup: a project synced with its Sage job, a
synced vendor and a synced commitment with two lines, mirrored in the simulator).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import event, func, select

from portal.domain.types import direct_export_keys
from portal.domain import items, services, settings
from portal.domain.lifecycle import State
from portal.domain.models import (Budget, BudgetChange, BudgetChangeLine, BudgetLine, CCOLine, Commitment,
                                  CommitmentChangeOrder, CommitmentLine, ErpAudit, ErpItem, OutboxMail,
                                  ProjectMember, ToolLevel, User, Vendor)
from portal.exporters.sage300.records import SageResult
from portal.exporters.sage300.troubleshooting import explain
from tests import factories as f
from tests.web.pages import (accept_form_body, counts, has_field_error, input_names, is_fragment, is_page, item_row,
                             path_of, settings_form, tab_row_ids, text)

HX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}
TYPES = ("commitment", "cco", "budget", "budget_change")
LABELS = {"commitment": "Commitment", "cco": "Commitment Change Order", "budget": "Budget",
          "budget_change": "Budget Change"}
PLURALS = {k: v + "s" for k, v in LABELS.items()}
NOUNS = {"commitment": "commitment", "cco": "CCO", "budget": "budget", "budget_change": "budget change"}
MODELS = {"commitment": Commitment, "cco": CommitmentChangeOrder, "budget": Budget, "budget_change": BudgetChange}
LINE_MODELS = {"commitment": (CommitmentLine, CommitmentLine.commitment_id, Commitment),
               "cco": (CCOLine, CCOLine.cco_id, CommitmentChangeOrder),
               "budget": (BudgetLine, BudgetLine.budget_id, Budget),
               "budget_change": (BudgetChangeLine, BudgetChangeLine.change_id, BudgetChange)}
BLANK_LINES = {"commitment": 3, "cco": 3, "budget": 3, "budget_change": 4}
SUBJECT = "Test Builders: ERP {} Rejection Notification"

NullQueue = f.NullQueue
dbs = f.app_session


def details_rows(body: str) -> list[list[str]]:
    """The cells of the Accept form's details table, header first."""
    match = re.search(r'<table class="grid details">(.*?)</table>', body, re.S)
    assert match, "no details table"
    return [re.findall(r"<t[hd]>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S)]


# ---- settings (company-wide: every change is put back) ---------------------------------------

@contextmanager
def changed_settings(app, people, **changes):
    """The company settings with `changes` (form keys) for the block, then exactly as before."""
    with dbs(app) as s:
        before = settings.load(s)
        settings.update(s, s.get(User, people["erp_admin"].id), settings_form(before, **changes), direct_export_keys())
    try:
        yield before
    finally:
        with dbs(app) as s:
            settings.update(s, s.get(User, people["erp_admin"].id), settings_form(before), direct_export_keys())
            assert settings.load(s) == before


# ---- people and clients (per module, tests/web/conftest.py) and the world ------------------

ROLE_USERS = {"site_admin": dict(site_admin=True), "pm": {}, "pm2": {}, "project_readonly": {},
              "approver": dict(erp_level=ToolLevel.STANDARD, push=True), "standard": dict(erp_level=ToolLevel.STANDARD),
              "erp_admin": dict(erp_level=ToolLevel.ADMIN)}


class World:
    """Fresh synced projects (random suffixes) and helpers that put financial items in a state."""

    def __init__(self, app, sim, people):
        self.app, self.sim, self.people = app, sim, people
        self.token = f.suffix(8)
        self._home = None

    def users(self, s):
        return SimpleNamespace(**{k: s.get(User, p.id) for k, p in self.people.items()})

    def project(self, *, locked_budget: bool = False) -> SimpleNamespace:
        """factories.Setup named with the world's token; pm and pm2 Admin on it, project_readonly
        Read Only. With locked_budget, a budget already exported to Sage (SUB 50,000, MAT 10,000)."""
        with dbs(self.app) as s:
            setup = f.Setup(s, self.sim)
            setup.project.name = f"Project {self.token} {f.suffix(4)}"
            u = self.users(s)
            s.add_all([ProjectMember(user_id=u.pm.id, project_id=setup.project.id, level=ToolLevel.ADMIN),
                       ProjectMember(user_id=u.pm2.id, project_id=setup.project.id, level=ToolLevel.ADMIN),
                       ProjectMember(user_id=u.project_readonly.id, project_id=setup.project.id,
                                     level=ToolLevel.READ_ONLY)])
            s.commit()
            p = SimpleNamespace(id=setup.project.id, name=setup.project.name, number=setup.project.number,
                                job=setup.project.sage_job_id, vendor=setup.vendor.id,
                                vendor_erp=setup.vendor.erp_vendor_id, commitment=setup.commitment.id,
                                commitment_number=setup.commitment.number,
                                commitment_erp=setup.commitment.erp_commitment_id,
                                line1=setup.line1.id, line2=setup.line2.id, sub=setup.sub.id, mat=setup.mat.id,
                                budget=None)
            if locked_budget:
                budget = Budget(project_id=p.id, locked=True, created_by_id=u.pm.id)
                s.add(budget)
                s.flush()
                s.add_all([BudgetLine(budget_id=budget.id, category_id=p.sub, original=Decimal("50000")),
                           BudgetLine(budget_id=budget.id, category_id=p.mat, original=Decimal("10000"))])
                s.commit()
                p.budget = budget.id
                for category, amount in (("SUB", 50000), ("MAT", 10000)):
                    self.sim.add_transaction(p.job, "03-300", category, "Original estimate", amount)
            return p

    @property
    def home(self) -> SimpleNamespace:
        """The world's main project: commitments, CCOs and budget changes (its budget is exported)."""
        if self._home is None:
            self._home = self.project(locked_budget=True)
        return self._home

    def form(self, key: str, p: SimpleNamespace, **over) -> dict:
        """A valid project-side form for the type on project p (over: fields to change)."""
        if key == "commitment":
            form = {"number": f"SC-{f.suffix(6)}", "title": f"Waterproofing {self.token}", "commitment_type": "subcontract",
                    "vendor_id": str(p.vendor), "status": "Approved", "retainage_pct": "10",
                    "line-0-description": "Membrane", "line-0-category_id": str(p.sub), "line-0-amount": "24,000",
                    "line-1-description": "Flashing", "line-1-category_id": str(p.mat),
                    "line-1-amount": "$6,000.50"}
        elif key == "cco":
            form = {"commitment_id": str(p.commitment), "number": f"CO-{f.suffix(6)}",
                    "title": f"Added scope {self.token}", "status": "Approved",
                    "line-0-commitment_line_id": str(p.line1), "line-0-amount": "1000",
                    "line-1-commitment_line_id": str(p.line1), "line-1-amount": "500",
                    "line-2-description": "Sealant", "line-2-category_id": str(p.mat), "line-2-amount": "750"}
        elif key == "budget":
            form = {"line-0-category_id": str(p.sub), "line-0-original": "50,000",
                    "line-0-estimated_cost_at_completion": "52000", "line-0-forecast_to_complete": "30000",
                    "line-1-category_id": str(p.mat), "line-1-original": "10000"}
        else:
            form = {"number": f"BC-{f.suffix(6)}", "description": f"Move to material {self.token}",
                    "line-0-category_id": str(p.sub), "line-0-amount": "-2,000",
                    "line-1-category_id": str(p.mat), "line-1-amount": "2500"}
        form.update(over)
        return {k: v for k, v in form.items() if v is not None}

    def draft(self, key: str, p: SimpleNamespace | None = None, creator: str = "pm", **over) -> SimpleNamespace:
        """A new item made through the project-side service (a budget gets a project of its own)."""
        p = p or (self.project() if key == "budget" else self.home)
        with dbs(self.app) as s:
            item = items.save_item(s, getattr(self.users(s), creator), key, p.id, None, self.form(key, p, **over))
            return SimpleNamespace(key=key, id=item.id, p=p, pid=p.id, erp=None,
                                   number=getattr(item, "number", None) or p.number,
                                   title=getattr(item, "title", None))

    def accept_fields(self, key: str) -> dict:
        if key == "commitment":
            return {"sage_id": f"C{f.suffix(8)}"}
        if key == "cco":
            return {"cco_id": f"X{f.suffix(8)}", "description": ""}
        if key == "budget":
            return {"export_forecast": "on"}
        return {}

    def item(self, key: str, state: str = State.DRAFT, *, sender: str = "pm",
             message: str = "Job has been closed.", **kw) -> SimpleNamespace:
        """An item sent and decided through the services as far as `state` (no export runs)."""
        out = self.draft(key, **kw)
        if state == State.DRAFT:
            return out
        with dbs(self.app) as s:
            u = self.users(s)
            erp = services.send(s, getattr(u, sender), key, out.id)
            out.erp = erp.id
            if state == State.REJECTED:
                services.reject(s, u.approver, erp.id, f"Fix it {self.token}", NullQueue(), "Test Builders",
                                lambda e: "http://portal.test/x")
            elif state in (State.EXPORTING, State.SYNCED, State.FAILED):
                out.fields = self.accept_fields(key)
                services.accept(s, u.approver, erp.id, out.fields, NullQueue())
                if state == State.SYNCED:
                    services.record_export_result(s, erp.id, 1, SageResult(ok=True, reference="REF"))
                elif state == State.FAILED:
                    services.record_export_result(s, erp.id, 1, SageResult(ok=False, message=message))
        return out

    def erp(self, erp_id: int) -> SimpleNamespace:
        with dbs(self.app) as s:
            e = s.get(ErpItem, erp_id)
            audits = s.scalar(select(func.count()).select_from(ErpAudit).where(ErpAudit.erp_item_id == e.id))
            mails = s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == e.id))
            return SimpleNamespace(state=e.state, attempt=e.attempt, version=e.version, erp_ref=e.erp_ref,
                                   sage_message=e.sage_message, export_fields=e.export_fields,
                                   reject_reason=e.reject_reason, audits=audits, mails=mails)

    def erp_of(self, key: str, item_id: int):
        with dbs(self.app) as s:
            e = services.find_erp_item(s, key, item_id)
            return None if e is None else self.erp(e.id)

    def snapshot(self, key: str, item_id: int) -> tuple:
        """The item's own fields and lines (what an edit changes)."""
        with dbs(self.app) as s:
            item = s.get(MODELS[key], item_id)
            model, fk, _ = LINE_MODELS[key]
            lines = s.scalars(select(model).where(fk == item_id).order_by(model.id)).all()
            head = tuple((c.name, getattr(item, c.key)) for c in MODELS[key].__table__.columns)
            return head, tuple(tuple(getattr(l, c.key) for c in model.__table__.columns if c.key != "id")
                               for l in lines)

    def count(self, key: str, pid: int) -> tuple[int, int]:
        """(items, lines) of the type on the project."""
        model, fk, parent = LINE_MODELS[key]
        with dbs(self.app) as s:
            n = s.scalar(select(func.count()).select_from(parent).where(parent.project_id == pid))
            lines = s.scalar(select(func.count()).select_from(model).join(parent, fk == parent.id)
                             .where(parent.project_id == pid))
            return n, lines

    def list_url(self, key: str, pid: int) -> str:
        return f"/projects/{pid}/items/{key}"

    def url(self, it: SimpleNamespace, what: str) -> str:
        return f"/projects/{it.pid}/items/{it.key}/{it.id}/{what}"

    def tab_url(self, key: str, erp_id: int, what: str) -> str:
        return f"/erp/{key}/{erp_id}/{what}"


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def target(world: World, key: str) -> SimpleNamespace:
    """The project a new item of the type goes on (a budget: a project without one)."""
    return world.project() if key == "budget" else world.home


# ---- list pages and forms --------------------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_list_is_a_page_without_hx_request_and_its_table_with(clients, world, key):
    it = world.item(key)
    url = world.list_url(key, it.pid)

    page = clients["pm"].get(url)
    body = text(page)
    assert page.status_code == 200 and is_page(body), body[:300]
    assert "HX-Request" in page.headers.get("Vary", "")
    assert f"<h1>{PLURALS[key]}</h1>" in body and f'href="{url}" aria-current="page"' in body
    assert f'<tbody id="{key}-{it.id}" data-state="draft"' in body
    assert f'href="{url}/new">New {LABELS[key].lower()}</a>' in body

    fragment = clients["pm"].get(url, headers=HX)
    body = text(fragment)
    assert fragment.status_code == 200 and is_fragment(body)
    assert body.strip().startswith('<table class="grid" id="item-table">')
    assert f'<tbody id="{key}-{it.id}" data-state="draft"' in body

    assert is_page(text(clients["pm"].get(url, headers=BOOSTED)))
    readonly = text(clients["project_readonly"].get(url, headers=HX))
    row = item_row(readonly, key, it.id)
    assert "Send to ERP" not in row and "Edit" not in row  # read only: no actions
    assert "New " + LABELS[key].lower() not in text(clients["project_readonly"].get(url))


LIST_CELLS = {
    "commitment": lambda it: [it.number, "Waterproofing", "Subcontract", "Approved", "$30,000.50"],
    "cco": lambda it: [it.p.commitment_number, it.number, "Added scope", "Approved", "$2,250.00"],
    "budget": lambda it: ['<td class="num">2</td>', "$60,000.00", "$0.00", '<td class="">No</td>'],
    "budget_change": lambda it: [it.number, "Move to material", '<td class="num">2</td>', "$500.00"],
}


@pytest.mark.parametrize("key", TYPES)
def test_list_row_shows_the_items_columns_and_totals(clients, world, key):
    it = world.item(key)
    row = item_row(text(clients["pm"].get(world.list_url(key, it.pid), headers=HX)), key, it.id)
    for cell in LIST_CELLS[key](it):
        assert cell in row, cell
    assert "Not sent" in row and "Send to ERP" in row


HEADER_FIELDS = {"commitment": {"number", "title", "commitment_type", "vendor_id", "status", "retainage_pct"},
                 "cco": {"commitment_id", "number", "title", "status"},
                 "budget": set(),
                 "budget_change": {"number", "description"}}
LINE_FIELDS = {"commitment": ["description", "category_id", "amount", "units", "unit_cost", "unit_description"],
               "cco": ["commitment_line_id", "description", "category_id", "amount"],
               "budget": ["category_id", "original", "estimated_cost_at_completion", "forecast_to_complete"],
               "budget_change": ["category_id", "amount"]}


@pytest.mark.parametrize("key", TYPES)
def test_new_form_has_the_header_fields_and_a_line_table(clients, world, key):
    p = target(world, key)
    response = clients["pm"].get(world.list_url(key, p.id) + "/new")
    body = text(response)
    assert response.status_code == 200 and is_page(body)
    assert f"<h1>New {LABELS[key].lower()}</h1>" in body
    assert '<table class="grid lines">' in body
    lines = {f"line-{n}-{field}" for n in range(BLANK_LINES[key]) for field in LINE_FIELDS[key]}
    assert input_names(body) == HEADER_FIELDS[key] | lines
    assert f"line-{BLANK_LINES[key]}-" not in body
    assert 'aria-label="Amount line 1"' in body or 'aria-label="Original Budget line 1"' in body \
        or 'aria-label="Amount (negative: from) line 1"' in body


def test_the_commitment_form_offers_the_projects_categories_and_every_company(clients, world):
    p = world.home
    other = world.project()
    body = text(clients["pm"].get(world.list_url("commitment", p.id) + "/new"))
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
    unsynced = world.draft("commitment", p)
    body = text(clients["pm"].get(world.list_url("cco", p.id) + "/new"))
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
            return [(l.line_no, l.description, l.category_id, l.amount) for l in
                    s.scalars(select(CommitmentLine).where(CommitmentLine.commitment_id == item_id)
                              .order_by(CommitmentLine.line_no))]
        if key == "cco":
            return [(l.commitment_line_id, l.description, l.category_id, l.amount) for l in
                    s.scalars(select(CCOLine).where(CCOLine.cco_id == item_id).order_by(CCOLine.id))]
        if key == "budget":
            return [(l.category_id, l.original, l.estimated_cost_at_completion, l.forecast_to_complete) for l in
                    s.scalars(select(BudgetLine).where(BudgetLine.budget_id == item_id).order_by(BudgetLine.id))]
        return [(l.category_id, l.amount) for l in
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
    form = world.form(key, p)
    form.update({"line-2-description": "", "line-2-amount": ""} if key == "commitment" else {})  # blank: ignored
    before = world.count(key, p.id)
    response = clients["pm"].post(world.list_url(key, p.id) + "/new", data=form)
    assert response.status_code == 303, text(response)[:800]
    assert path_of(response.location) == world.list_url(key, p.id)
    assert world.count(key, p.id) == (before[0] + 1, before[1] + len(expected_lines(key, p)))
    page = text(clients["pm"].get(response.location))
    assert f"{LABELS[key]} saved." in page
    with dbs(world.app) as s:
        model = MODELS[key]
        item = s.scalars(select(model).where(model.project_id == p.id).order_by(model.id.desc())).first()
        assert item.created_by_id == people["pm"].id
        item_id = item.id
    assert stored(world, key, item_id) == expected_lines(key, p)
    row = item_row(page, key, item_id)
    assert 'data-state="draft"' in row and "Send to ERP" in row


BAD_NEW = {
    "commitment, bad amount": ("commitment", {"line-0-amount": "12,O00"}, "line-0-amount", "'12,O00' is not an amount."),
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
    "commitment, bad unit cost": ("commitment", {"line-0-unit_cost": "ten"}, "line-0-unit_cost", "'ten' is not an amount."),
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
        unsynced = world.draft("commitment", p)
        with dbs(world.app) as s:
            return str(s.scalars(select(CommitmentLine.id).where(CommitmentLine.commitment_id == unsynced.id)).first())
    placeholders = {"OTHER": lambda: str(world.project().sub), "SUB": lambda: str(p.sub),
                    "UNSYNCED": lambda: str(world.draft("commitment", p).id), "UNSYNCED_LINE": line_of_unsynced}
    changes = {k: placeholders[v]() if v in placeholders else v for k, v in changes.items()}
    form = world.form(key, p, **changes)
    before = world.count(key, p.id)
    response = clients["pm"].post(world.list_url(key, p.id) + "/new", data=form)
    body = text(response)
    assert response.status_code == 422, body[:500]
    assert is_page(body) and message in body
    if field:
        assert "Please correct the highlighted fields." in body
        assert has_field_error(body, field, message), f"no message next to {field}"
        if not field.startswith("line-") and f'<select name="{field}"' not in body:
            assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', body)
    else:
        assert f'<p class="msg error" role="alert">{message}</p>' in body
    for name_, value in form.items():  # what was typed comes back
        if name_.endswith(("amount", "original", "description", "number", "title")) and value and value.strip():
            assert f'value="{value}"' in body, name_
    assert world.count(key, p.id) == before


def test_a_second_budget_on_a_project_is_422_and_creates_nothing(clients, world):
    first = world.draft("budget")
    before = world.count("budget", first.pid)
    response = clients["pm"].post(world.list_url("budget", first.pid) + "/new", data=world.form("budget", first.p))
    body = text(response)
    assert response.status_code == 422 and is_page(body)
    assert '<p class="msg error" role="alert">This project already has a budget: edit it instead.</p>' in body
    assert world.count("budget", first.pid) == before


def test_a_purchase_order_keeps_units_and_unit_cost_to_four_places(clients, world):
    """The columns hold 4 decimals (Numeric(14, 4)) and save quantizes units to 0.0001: a unit cost
    such as 12.3456 must not be rounded to cents on the way in."""
    p = world.home
    form = world.form("commitment", p, commitment_type="purchase_order", **{
        "line-0-units": "2.5", "line-0-unit_cost": "12.3456", "line-0-unit_description": "EA",
        "line-0-amount": "30.86"})
    response = clients["pm"].post(world.list_url("commitment", p.id) + "/new", data=form)
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
    form_page = clients["pm"].get(world.url(it, "edit"))
    body = text(form_page)
    assert form_page.status_code == 200 and is_page(body)
    assert f"<h1>Edit {LABELS[key].lower()}</h1>" in body and '<button type="submit" class="primary">Save</button>' in body
    first = {"commitment": 'name="line-0-description" value="Membrane"', "cco": 'name="line-0-amount" value="1000.00"',
             "budget": 'name="line-0-original" value="50000.00"'}[key]
    assert first in body
    # the saved lines plus blank ones to add more
    count = len(expected_lines(key, it.p)) + BLANK_LINES[key]
    assert f'name="line-{count - 1}-' in body and f'name="line-{count}-' not in body
    if state == State.REJECTED:
        assert f"Rejected by accounting: Fix it {world.token}" in body
    before = world.snapshot(key, it.id)
    edit = world.form(key, it.p)
    if key == "commitment":
        edit.update(number=it.number, title="Renamed", **{"line-2-description": "Sealant",
                                                          "line-2-category_id": str(it.p.mat), "line-2-amount": "99"})
    elif key == "cco":
        edit.update(number=it.number, title="Renamed", **{"line-2-amount": "800"})
    else:
        edit.update(**{"line-1-original": "12000"})
    response = clients["pm"].post(world.url(it, "edit"), data=edit)
    assert response.status_code == 303, text(response)[:800]
    assert path_of(response.location) == world.list_url(key, it.pid)
    assert world.snapshot(key, it.id) != before
    lines = stored(world, key, it.id)
    if key == "commitment":
        assert [l[0] for l in lines] == [1, 2, 3] and lines[2][1:] == ("Sealant", it.p.mat, Decimal("99.00"))
    elif key == "cco":
        assert lines[2][3] == Decimal("800.00") and len(lines) == 3
    else:
        assert lines[1][1] == Decimal("12000.00")
    if state == State.REJECTED:
        assert world.erp(it.erp).state == State.REJECTED  # editing does not resend
        row = item_row(text(clients["pm"].get(world.list_url(key, it.pid), headers=HX)), key, it.id)
        assert "Resend to ERP" in row


@pytest.mark.parametrize("state", [State.READY, State.SYNCED, State.FAILED])
@pytest.mark.parametrize("key", ["commitment", "cco", "budget"])
def test_edit_is_refused_while_the_item_is_in_erp(clients, world, key, state):
    it = world.item(key, state)
    page = clients["pm"].get(world.url(it, "edit"))
    body = text(page)
    assert page.status_code == 200 and f"It is {State.LABELS[state]} in ERP Integrations and cannot be edited now." in body
    assert '<form method="post" class="stacked"' not in body
    before, erp_before = world.snapshot(key, it.id), world.erp(it.erp)
    response = clients["pm"].post(world.url(it, "edit"), data=world.form(key, it.p, title="Changed"))
    assert response.status_code == 409 and "cannot be edited" in text(response)
    assert world.snapshot(key, it.id) == before and world.erp(it.erp) == erp_before


@pytest.mark.parametrize("state", [State.DRAFT, State.REJECTED])
def test_a_budget_change_has_no_edit_and_cannot_be_edited(clients, world, state):
    it = world.item("budget_change", state)
    row = item_row(text(clients["pm"].get(world.list_url("budget_change", it.pid), headers=HX)), "budget_change", it.id)
    assert "Edit" not in row and world.url(it, "edit") not in row
    assert ("Resend to ERP" if state == State.REJECTED else "Send to ERP") in row
    before = world.snapshot("budget_change", it.id), world.erp_of("budget_change", it.id)

    response = clients["pm"].post(world.url(it, "edit"), data=world.form("budget_change", it.p, number="BC-EDITED"))
    assert response.status_code in (409, 422)
    assert "Once a budget change has been created, it cannot be edited." in text(response)
    assert (world.snapshot("budget_change", it.id), world.erp_of("budget_change", it.id)) == before

    # Opening the edit URL must not offer a form that can never be saved.
    page = clients["pm"].get(world.url(it, "edit"))
    body = text(page)
    assert page.status_code in (200, 409, 422)
    assert "cannot be edited" in body
    assert '<form method="post" class="stacked"' not in body, \
        "the edit page of a budget change offers an editable form (with blank lines) that can never be saved"


def test_an_exported_budget_is_locked_and_can_only_change_with_budget_changes(clients, world):
    it = world.item("budget", State.SYNCED)
    with dbs(world.app) as s:
        assert s.get(Budget, it.id).locked
    row = item_row(text(clients["pm"].get(world.list_url("budget", it.pid), headers=HX)), "budget", it.id)
    assert '<td class="">Yes</td>' in row and 'data-state="synced"' in row  # the Locked column
    assert "Send to ERP" not in row and "Edit" not in row
    before = world.snapshot("budget", it.id)
    response = clients["pm"].post(world.url(it, "edit"), data=world.form("budget", it.p))
    assert response.status_code == 409 and world.snapshot("budget", it.id) == before


def test_a_locked_budget_back_in_draft_still_refuses_edits_and_sending(clients, world):
    """A budget locked in Sage but not (or no longer) in the gate: the lock alone stops both."""
    p = world.project(locked_budget=True)
    it = SimpleNamespace(key="budget", id=p.budget, pid=p.id, p=p)
    row = item_row(text(clients["pm"].get(world.list_url("budget", p.id), headers=HX)), "budget", p.budget)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert "The budget was exported to Sage and is locked; change it with budget changes." in row
    before = world.snapshot("budget", p.budget)
    response = clients["pm"].post(world.url(it, "edit"), data=world.form("budget", p, **{"line-0-original": "1"}))
    assert response.status_code == 422 and "The budget was exported to Sage and is locked." in text(response)
    assert world.snapshot("budget", p.budget) == before
    sent = clients["pm"].post(world.url(it, "send"), headers=HX)
    assert sent.status_code == 422 and "locked" in text(sent)
    assert world.erp_of("budget", p.budget) is None


# ---- send, retrieve, prerequisites -------------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_send_then_retrieve_as_htmx_return_the_row(clients, world, key):
    it = world.item(key)
    sent = clients["pm"].post(world.url(it, "send"), headers=HX)
    body = text(sent)
    assert sent.status_code == 200 and is_fragment(body), body[:300]
    assert body.strip().startswith(f'<tbody id="{key}-{it.id}" data-state="ready"')
    assert "Ready to Export" in body and f'hx-post="{world.url(it, "retrieve")}"' in body
    assert world.erp_of(key, it.id).state == State.READY

    back = clients["pm"].post(world.url(it, "retrieve"), headers=HX)
    body = text(back)
    assert back.status_code == 200 and body.strip().startswith(f'<tbody id="{key}-{it.id}" data-state="draft"')
    assert world.erp_of(key, it.id).state == State.DRAFT

    again = clients["pm"].post(world.url(it, "send"))
    assert again.status_code == 303 and path_of(again.location) == world.list_url(key, it.pid)
    assert "Sent to ERP Integrations for accounting acceptance." in text(clients["pm"].get(again.location))


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
    "budget change, budget not exported": ("budget_change", {"P": "NO_BUDGET"},
                                           "Export the project's budget first: changes update an exported budget."),
}


@pytest.mark.parametrize("name", PREREQUISITES)
def test_send_is_unavailable_with_the_reason_and_refused_if_posted(clients, world, name):
    key, changes, reason = PREREQUISITES[name]
    changes = dict(changes)
    p = world.project() if changes.pop("P", None) else None
    if "UNSYNCED_VENDOR" in changes.values():
        with dbs(world.app) as s:
            vendor = Vendor(name=f"Unsynced {world.token}")
            s.add(vendor)
            s.commit()
            changes["vendor_id"] = str(vendor.id)
    it = world.item(key, p=p, **changes)
    row = item_row(text(clients["pm"].get(world.list_url(key, it.pid), headers=HX)), key, it.id)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert reason in row
    assert world.url(it, "send") not in row
    response = clients["pm"].post(world.url(it, "send"), headers=HX)
    assert response.status_code == 422 and response.headers.get("HX-Retarget") == "#messages"
    assert reason in text(response)
    assert world.erp_of(key, it.id) is None


def test_a_synced_commitment_cannot_be_sent_again(clients, world):
    p = world.home
    it = SimpleNamespace(key="commitment", id=p.commitment, pid=p.id)
    row = item_row(text(clients["pm"].get(world.list_url("commitment", p.id), headers=HX)), "commitment", p.commitment)
    assert 'data-state="synced"' in row and f"ERP ID {p.commitment_erp}" in row and "Send to ERP" not in row
    response = clients["pm"].post(world.url(it, "send"), headers=HX)
    assert response.status_code == 422
    assert f"already synced as Sage commitment {p.commitment_erp}" in text(response)


def test_an_item_of_another_project_is_404(clients, world):
    it = world.item("commitment")
    other = world.project()
    response = clients["pm"].post(f"/projects/{other.id}/items/commitment/{it.id}/send")
    assert response.status_code == 404 and world.erp_of("commitment", it.id) is None
    assert clients["pm"].get(f"/projects/{other.id}/items/commitment/{it.id}/edit").status_code == 404


@pytest.mark.parametrize("key", TYPES)
def test_financial_items_cannot_be_deleted(clients, world, key):
    it = world.item(key)
    before = world.count(key, it.pid)
    response = clients["pm"].post(world.url(it, "delete"))
    assert response.status_code == 409 and "cannot be deleted here" in text(response)
    assert world.count(key, it.pid) == before


# ---- the ERP tabs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_tab_counts_each_state_and_lists_ready_rows(clients, world, key):
    ready, exporting = world.item(key, State.READY), world.item(key, State.EXPORTING)
    synced, failed = world.item(key, State.SYNCED), world.item(key, State.FAILED)
    world.item(key, State.REJECTED), world.item(key)  # neither is on the tab
    url = f"/erp/{key}?q={world.token}"

    page = clients["approver"].get(url)
    body = text(page)
    assert page.status_code == 200 and is_page(body)
    assert f'href="/erp/{key}" aria-current="page">{PLURALS[key]}</a>' in body
    assert counts(body) == {"ready": 2, "synced": 1, "failed": 1}
    assert sorted(tab_row_ids(body)) == sorted([ready.erp, exporting.erp])
    assert body.count('<span class="badge ready">Ready to Export</span>') == 1
    assert body.count('<span class="badge exporting" role="status">Exporting…</span>') == 1
    assert f'aria-label="Tick {NOUNS[key]} {ready.number}"' in body

    fragment = text(clients["standard"].get(url + "&filter=synced", headers=HX))
    assert fragment.strip().startswith('<div id="tab-body">') and is_fragment(fragment)
    assert tab_row_ids(fragment) == [synced.erp] and "Accept" not in fragment  # read only: no decisions
    assert "ERP ID <strong>" in fragment
    failed_tab = text(clients["approver"].get(url + "&filter=failed", headers=HX))
    assert tab_row_ids(failed_tab) == [failed.erp] and "Sage:</strong> Job has been closed." in failed_tab
    assert counts(text(clients["approver"].get(f"/erp/{key}?q=nothing-{world.token}"))) == \
        {"ready": 0, "synced": 0, "failed": 0}


TAB_CELLS = {
    "commitment": lambda it: [it.p.name, it.number, "Waterproofing", "Subcontract", "Approved", "$30,000.50"],
    "cco": lambda it: [it.p.name, it.p.commitment_number, it.number, "Added scope", "Approved", "$2,250.00"],
    "budget": lambda it: [it.p.name, '<td class="num">2</td>', "$60,000.00", "$0.00"],
    "budget_change": lambda it: [it.p.name, it.number, "Move to material", '<td class="num">2</td>', "$500.00"],
}


@pytest.mark.parametrize("key", TYPES)
def test_tab_row_shows_the_items_columns_and_its_sender(clients, people, world, key):
    it = world.item(key, State.READY)
    response = clients["approver"].get(world.tab_url(key, it.erp, "row"), headers=HX)
    body = text(response)
    assert response.status_code == 200 and body.strip().startswith(f'<tbody id="item-{it.erp}"')
    for cell in TAB_CELLS[key](it):
        assert cell in body, cell
    assert f"<td>{people['pm'].name}</td>" in body


@contextmanager
def statements(app):
    """Every SQL statement the portal's engine runs inside the block."""
    from portal.extensions import db
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


@pytest.mark.parametrize("key", TYPES)
def test_a_tab_page_costs_the_same_queries_for_one_row_and_for_four(app, clients, world, key):
    """House style: no N+1. A budget row's Approved Changes must not cost a query per row."""
    world.item(key, State.READY)
    url = f"/erp/{key}?q={world.token}"
    clients["approver"].get(url)
    with statements(app) as one:
        assert len(tab_row_ids(text(clients["approver"].get(url)))) == 1
    for _ in range(3):
        world.item(key, State.READY)
    with statements(app) as four:
        assert len(tab_row_ids(text(clients["approver"].get(url)))) == 4
    assert len(four) == len(one), f"{len(one)} queries for one row, {len(four)} for four"


# ---- the Accept form ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_accept_form_asks_for_the_types_export_fields(clients, world, key):
    it = world.item(key, State.READY)
    response, body = accept_form_body(clients, world, it)
    assert response.status_code == 200 and is_fragment(body)
    assert body.strip().startswith(f'<tbody id="item-{it.erp}"') and "Export to ERP" in body
    assert f'aria-label="Accept {NOUNS[key]} {it.number}"' in body
    assert input_names(body) == {"commitment": {"sage_id"}, "cco": {"cco_id", "description"},
                                 "budget": {"export_forecast"}, "budget_change": set()}[key]
    if key == "commitment":
        assert 'name="sage_id" value=""' in body and 'placeholder="12 characters, unique."' in body
        assert "<table class=\"grid details\">" not in body
    elif key == "cco":
        assert f'name="cco_id" value="{it.number[:10]}"' in body
        assert f'name="description" value="{it.title[:30]}"' in body
    elif key == "budget":
        assert re.search(r'<input type="checkbox" name="export_forecast" >\s*Export cost forecast\?', body)
    page = clients["approver"].get(world.tab_url(key, it.erp, "accept"))
    assert page.status_code == 200 and is_page(text(page))  # the Accept link works without htmx


def test_budget_accept_form_shows_the_budgets_details_above_the_export_forecast_question(clients, world):
    it = world.item("budget", State.READY)
    _, body = accept_form_body(clients, world, it)
    assert details_rows(body) == [["Cost Code", "Category", "Original", "Changes", "Revised"],
                                  ["03-300", "SUB", "$50,000.00", "$0.00", "$50,000.00"],
                                  ["03-300", "MAT", "$10,000.00", "$0.00", "$10,000.00"]]
    assert body.index('<table class="grid details">') < body.index('name="export_forecast"')
    assert "Export cost forecast? (Estimated Cost at Completion and Forecast to Complete as Misc worksheet 1 and 2)" in body


def test_budget_accept_form_ticks_export_forecast_when_the_company_setting_is_on(app, clients, people, world):
    it = world.item("budget", State.READY)
    with changed_settings(app, people, export_forecast_amounts="on"):
        _, body = accept_form_body(clients, world, it)
        assert re.search(r'<input type="checkbox" name="export_forecast" checked>', body)
    _, body = accept_form_body(clients, world, it)
    assert re.search(r'<input type="checkbox" name="export_forecast" >', body)


def test_budget_change_accept_form_shows_its_from_and_to_lines(clients, world):
    it = world.item("budget_change", State.READY)
    _, body = accept_form_body(clients, world, it)
    assert details_rows(body) == [["Cost Code", "Category", "Amount"], ["03-300", "SUB", "-$2,000.00"],
                                  ["03-300", "MAT", "$2,500.00"]]
    assert input_names(body) == set() and "Export to ERP" in body


def test_commitment_sage_id_is_prefilled_with_the_contract_number_when_the_setting_is_on(app, clients, people,
                                                                                         world):
    it = world.item("commitment", State.READY)
    with changed_settings(app, people, use_contract_number_as_sage_id="on"):
        _, body = accept_form_body(clients, world, it)
        assert f'name="sage_id" value="{it.number}"' in body
    _, body = accept_form_body(clients, world, it)
    assert 'name="sage_id" value=""' in body


def test_a_failed_item_is_retried_with_its_previous_export_fields(clients, world):
    it = world.item("commitment", State.FAILED)
    response, body = accept_form_body(clients, world, it)
    assert response.status_code == 200 and f'name="sage_id" value="{it.fields["sage_id"]}"' in body
    row = text(clients["approver"].get(world.tab_url("commitment", it.erp, "row"), headers=HX))
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
    taken = it.p.commitment_erp.lower()  # the same Sage ID in other letters is the same ID
    form = {k: v.replace("TAKEN", taken) for k, v in form.items()}
    message = message.replace("TAKEN", taken)
    before = world.erp(it.erp)
    response = clients["approver"].post(world.tab_url(key, it.erp, "accept"), data=form, headers=HX)
    body = text(response)
    assert response.status_code == 422 and is_fragment(body)
    assert f'<span class="field-error">{message}</span>' in body
    assert re.search(rf'name="{field}" value="{re.escape(form[field])}"[^>]*aria-invalid="true"', body)
    assert world.erp(it.erp) == before


# ---- export: Synced, and what reaches Sage ----------------------------------------------------------

def accept_and_settle(clients, world, drain, it, fields) -> str:
    response = clients["approver"].post(world.tab_url(it.key, it.erp, "accept"), data=fields, headers=HX)
    body = text(response)
    assert response.status_code == 200 and 'data-state="exporting"' in body and 'hx-trigger="every 500ms"' in body
    drain()
    settled = clients["approver"].get(world.tab_url(it.key, it.erp, "status"), headers=HX)
    assert settled.status_code == 286
    return text(settled)


def test_accepted_commitment_is_synced_in_sage_with_its_items(clients, world, drain, sim):
    it = world.item("commitment", State.READY)
    sage_id = f"C{f.suffix(8)}"
    body = accept_and_settle(clients, world, drain, it, {"sage_id": sage_id})
    assert 'data-state="synced"' in body and f"ERP ID <strong>{sage_id}</strong>" in body, body[:600]
    head = sim.get_commitment(sage_id)
    assert (head["Vendor"], head["Job"], head["Commitment_Type"]) == (it.p.vendor_erp, it.p.job, "Subcontract")
    assert head["Description"] == f"Waterproofing {world.token}" and Decimal(str(head["Amount"])) == Decimal("30000.50")
    assert [(i["Item"], i["Description"], i["Cost_Code"], i["Category"], Decimal(str(i["Amount"])), i["Units"])
            for i in sim.list_commitment_items(sage_id)] == [
        ("1", "Membrane", "03-300", "SUB", Decimal("24000"), None),
        ("2", "Flashing", "03-300", "MAT", Decimal("6000.50"), None)]
    with dbs(world.app) as s:
        assert s.get(Commitment, it.id).erp_commitment_id == sage_id
    row = item_row(text(clients["pm"].get(world.list_url("commitment", it.pid), headers=HX)), "commitment", it.id)
    assert 'data-state="synced"' in row and f"ERP ID {sage_id}" in row and f'<td class="">{sage_id}</td>' in row
    assert "Send to ERP" not in row and "Edit" not in row


def test_a_purchase_order_exports_units_and_unit_cost(clients, world, drain, sim):
    it = world.item("commitment", State.READY, commitment_type="purchase_order", **{
        "line-0-units": "120", "line-0-unit_cost": "200", "line-0-unit_description": "SQFT",
        "line-1-units": "", "line-1-unit_cost": ""})
    sage_id = f"P{f.suffix(8)}"
    accept_and_settle(clients, world, drain, it, {"sage_id": sage_id})
    assert sim.get_commitment(sage_id)["Commitment_Type"] == "Purchase Order"
    first, second = sim.list_commitment_items(sage_id)
    assert (Decimal(str(first["Units"])), Decimal(str(first["Unit_Cost"])), first["Unit_Description"]) == \
        (Decimal("120"), Decimal("200"), "SQFT")
    assert (second["Units"], second["Unit_Cost"]) == (None, None)


def test_accepted_cco_sums_same_line_changes_and_adds_the_new_line_first(clients, world, drain, sim):
    it = world.item("cco", State.READY)
    cco_id = f"X{f.suffix(8)}"
    body = accept_and_settle(clients, world, drain, it, {"cco_id": cco_id, "description": ""})
    assert 'data-state="synced"' in body and f"ERP ID <strong>{cco_id}</strong>" in body, body[:600]
    commitment = it.p.commitment_erp
    cco = sim.get_cco(commitment, cco_id)
    assert cco["Description"] == it.title[:30] and cco["Status"] == "Approved"  # the title by default
    assert [(i["Item"], Decimal(str(i["Amount"]))) for i in sim.list_cco_items(commitment, cco_id)] == [
        ("1", Decimal("1500")), ("3", Decimal("750"))]
    new = [i for i in sim.list_commitment_items(commitment) if i["Item"] == "3"]
    assert len(new) == 1 and (new[0]["Description"], new[0]["Category"]) == ("Sealant", "MAT")
    with dbs(world.app) as s:
        lines = s.scalars(select(CommitmentLine).where(CommitmentLine.commitment_id == it.p.commitment)
                          .order_by(CommitmentLine.line_no)).all()
        assert [(l.line_no, l.description) for l in lines][-1] == (3, "Sealant")  # invoices can bill it


def test_accepted_cco_takes_the_description_typed_in_the_accept_form(clients, world, drain, sim):
    it = world.item("cco", State.READY)
    cco_id = f"X{f.suffix(8)}"
    accept_and_settle(clients, world, drain, it, {"cco_id": cco_id, "description": "Owner requested sealant"})
    assert sim.get_cco(it.p.commitment_erp, cco_id)["Description"] == "Owner requested sealant"


@pytest.mark.parametrize("forecast", [True, False], ids=["with forecast", "without forecast"])
def test_accepted_budget_exports_original_estimates_and_optionally_the_forecast_then_locks(
        clients, world, drain, sim, forecast):
    it = world.item("budget", State.READY)
    body = accept_and_settle(clients, world, drain, it, {"export_forecast": "on"} if forecast else {})
    assert 'data-state="synced"' in body, body[:600]
    got = sorted((t["Transaction_Type"], t["Category"], Decimal(str(t["Amount"])))
                 for t in sim.list_transactions(it.p.job))
    expected = [("Original estimate", "MAT", Decimal("10000")), ("Original estimate", "SUB", Decimal("50000"))]
    if forecast:
        expected += [("Misc worksheet 1", "SUB", Decimal("52000")), ("Misc worksheet 2", "SUB", Decimal("30000"))]
    assert got == sorted(expected)
    with dbs(world.app) as s:
        assert s.get(Budget, it.id).locked
        assert world.erp(it.erp).export_fields == {"export_forecast": forecast}
    row = item_row(text(clients["pm"].get(world.list_url("budget", it.pid), headers=HX)), "budget", it.id)
    assert '<td class="">Yes</td>' in row and "Send to ERP" not in row and "Edit" not in row


def test_accepted_budget_change_is_an_approved_estimate_change_and_revises_the_budget(clients, world, drain, sim):
    it = world.item("budget_change", State.READY)
    body = accept_and_settle(clients, world, drain, it, {})
    assert 'data-state="synced"' in body, body[:600]
    changes = sim.list_transactions(it.p.job, "Approved est chng")
    assert sorted((t["Category"], Decimal(str(t["Amount"])), t["Ref_1"]) for t in changes) == [
        ("MAT", Decimal("2500"), it.number), ("SUB", Decimal("-2000"), it.number)]
    # The budget shows the approved change: original 60,000 + 500 = 60,500.
    row = item_row(text(clients["pm"].get(world.list_url("budget", it.pid), headers=HX)), "budget", it.p.budget)
    assert "$60,000.00" in row and "$500.00" in row and "$60,500.00" in row
    row = item_row(text(clients["pm"].get(world.list_url("budget_change", it.pid), headers=HX)),
                   "budget_change", it.id)
    assert 'data-state="synced"' in row and "Send to ERP" not in row


# ---- Sage refuses: Failed to Export with Sage's text, cause and solution -------------------------------

def vendor_inactive(world, sim, it):
    sim.set_vendor_status(it.p.vendor_erp, "Inactive")
    return "Vendor is inactive/has been archived."


def commitment_in_sage(world, sim, it):
    sim.add_commitment(it.fields["sage_id"], it.p.vendor_erp, it.p.job, 10)
    return f"A commitment with code [{it.fields['sage_id']}] already exists."


def commitment_archived(world, sim, it):
    sim.set_commitment_status(it.p.commitment_erp, "Closed")
    return "Commitment has been archived."


def cco_on_the_commitment(world, sim, it):
    sim.add_commitment_co(it.p.commitment_erp, it.fields["cco_id"])
    return f"A change order with code {it.fields['cco_id']} already exists on this contract."


def estimate_in_sage(world, sim, it):
    sim.add_transaction(it.p.job, "03-300", "SUB", "Original estimate", 5)
    return "An estimate already exists for cost code 03-300 category SUB."


def job_closed(world, sim, it):
    sim.set_job_status(it.p.job, "Closed")
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
    p = world.project(locked_budget=key == "budget_change") if key != "budget" else None
    it = world.item(key, State.READY, p=p)
    it.fields = world.accept_fields(key)
    message = arrange(world, sim, it)
    why = explain(message)
    assert why is not None, f"the troubleshooting table does not explain {message!r}"

    body = accept_and_settle(clients, world, drain, it, it.fields)
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
    row = item_row(text(clients["pm"].get(world.list_url(key, it.pid), headers=HX)), key, it.id)
    assert 'data-state="failed"' in row and "Sage refused the export; accounting will retry or reject it." in row
    with dbs(world.app) as s:  # nothing written back
        if key == "commitment":
            assert s.get(Commitment, it.id).erp_commitment_id is None
        if key == "budget":
            assert not s.get(Budget, it.id).locked


def test_a_commitment_refused_for_an_inactive_vendor_syncs_when_retried_after_the_fix(clients, world, drain, sim):
    p = world.project()
    it = world.item("commitment", State.READY, p=p)
    sim.set_vendor_status(p.vendor_erp, "Inactive")
    sage_id = f"C{f.suffix(8)}"
    assert 'data-state="failed"' in accept_and_settle(clients, world, drain, it, {"sage_id": sage_id})
    sim.set_vendor_status(p.vendor_erp, "Active")
    body = accept_and_settle(clients, world, drain, it, {"sage_id": sage_id})
    assert 'data-state="synced"' in body and f"ERP ID <strong>{sage_id}</strong>" in body
    assert world.erp(it.erp).attempt == 2 and sim.get_commitment(sage_id) is not None


# ---- bulk accept ------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["cco", "budget", "budget_change"])
def test_bulk_accept_exports_with_the_defaults(clients, world, drain, sim, key):
    one, two = world.item(key, State.READY), world.item(key, State.READY)
    response = clients["approver"].post(f"/erp/{key}/bulk-accept", headers=HX, data={
        "ids": [str(one.erp), str(two.erp)], "filter": "ready", "q": world.token})
    body = text(response)
    assert response.status_code == 200 and body.strip().startswith('<div id="tab-body">')
    assert "2 item(s) accepted and queued for export." in body
    drain()
    states = {i.erp: world.erp(i.erp) for i in (one, two)}
    assert {e.state for e in states.values()} == {State.SYNCED}, [e.sage_message for e in states.values()]
    if key == "cco":
        assert [e.erp_ref for e in states.values()] == [one.number[:10], two.number[:10]]
        assert sim.get_cco(one.p.commitment_erp, one.number[:10])["Description"] == one.title[:30]


def test_bulk_accept_of_commitments_needs_the_contract_number_setting(app, clients, people, world, drain, sim):
    one, two = world.item("commitment", State.READY), world.item("commitment", State.READY)
    data = {"ids": [str(one.erp), str(two.erp)], "filter": "ready", "q": world.token}
    body = text(clients["approver"].post("/erp/commitment/bulk-accept", headers=HX, data=data))
    assert "0 item(s) accepted and queued for export. 2 not accepted:" in body
    for i in (one, two):
        assert f"#{i.erp}: Accept it on its own: Sage 300 CRE ID is required." in body
        assert world.erp(i.erp).state == State.READY
    with changed_settings(app, people, use_contract_number_as_sage_id="on"):
        body = text(clients["approver"].post("/erp/commitment/bulk-accept", headers=HX, data=data))
        assert "2 item(s) accepted and queued for export." in body
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
    assert "1 item(s) accepted and queued for export." in text(clients["approver"].get(response.location))
    drain()
    assert world.erp(it.erp).state == State.SYNCED


# ---- reject, mail, resend ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_reject_mails_the_creator_and_the_sender_and_the_item_can_be_resent(clients, people, world, drain, key):
    it = world.item(key, State.READY, sender="pm2")  # created by pm, sent by pm2
    response = clients["approver"].post(world.tab_url(key, it.erp, "reject"), data={"reason": "Wrong cost code"},
                                        headers=HX)
    assert response.status_code == 200 and "Rejected: returned to the project team and emailed." in text(response)
    after = world.erp(it.erp)
    assert (after.state, after.reject_reason, after.mails) == (State.REJECTED, "Wrong cost code", 1)
    with dbs(world.app) as s:
        mail = s.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == it.erp)).one()
        assert mail.subject == SUBJECT.format(LABELS[key])
        assert sorted(mail.recipients.split(",")) == sorted([people["pm"].email.lower(), people["pm2"].email.lower()])
        assert "Wrong cost code" in mail.text_body
        assert f"http://portal.test/projects/{it.pid}/items/{key}" in mail.text_body
    drain()

    row = item_row(text(clients["pm"].get(world.list_url(key, it.pid), headers=HX)), key, it.id)
    assert 'data-state="rejected"' in row and "Rejected:</strong> Wrong cost code" in row
    resent = clients["pm"].post(world.url(it, "send"), headers=HX)
    assert resent.status_code == 200 and 'data-state="ready"' in text(resent)
    assert world.erp(it.erp).state == State.READY


def test_reject_needs_a_reason(clients, world):
    it = world.item("commitment", State.READY)
    before = world.erp(it.erp)
    response = clients["approver"].post(world.tab_url("commitment", it.erp, "reject"), data={"reason": "  "},
                                        headers=HX)
    assert response.status_code == 422 and "A reason is required." in text(response)
    assert world.erp(it.erp) == before


# ---- direct export ----------------------------------------------------------------------------------

def test_direct_export_sends_a_commitment_straight_to_sage_with_its_contract_number(app, clients, people, world,
                                                                                   drain, sim):
    it = world.item("commitment")
    with changed_settings(app, people, direct_export_commitments="on", use_contract_number_as_sage_id="on"):
        sent = clients["pm"].post(world.url(it, "send"), headers=HX)
        assert sent.status_code == 200 and 'data-state="exporting"' in text(sent)
        drain()
    after = world.erp_of("commitment", it.id)
    assert (after.state, after.erp_ref) == (State.SYNCED, it.number), after.sage_message
    assert sim.get_commitment(it.number)["Vendor"] == it.p.vendor_erp


def test_direct_export_sends_a_cco_straight_to_sage(app, clients, people, world, drain, sim):
    it = world.item("cco")
    with changed_settings(app, people, direct_export_ccos="on"):
        sent = clients["pm"].post(world.url(it, "send"), headers=HX)
        assert sent.status_code == 200 and 'data-state="exporting"' in text(sent)
        drain()
    after = world.erp_of("cco", it.id)
    assert (after.state, after.erp_ref) == (State.SYNCED, it.number[:10]), after.sage_message
    assert sim.get_cco(it.p.commitment_erp, it.number[:10]) is not None


def test_direct_export_of_a_commitment_without_a_sage_id_says_why_it_cannot_be_sent(app, clients, people, world):
    """Direct export on, "use contract number as Sage ID" off: there is no Sage ID to export with.
    The refusal must name what is missing, not ask to correct highlighted fields that the list
    page does not have."""
    it = world.item("commitment")
    with changed_settings(app, people, direct_export_commitments="on", use_contract_number_as_sage_id=False):
        response = clients["pm"].post(world.url(it, "send"), headers=HX)
    body = text(response)
    assert response.status_code == 422
    assert world.erp_of("commitment", it.id) is None
    assert "Sage 300 CRE ID" in body, body
