"""The setup item types as the browser sees them: the project-side pages and forms (vendors and
jobs under /company, sub jobs and cost codes under their project), and their ERP tabs.

Requests are made with no app context pushed (a context held across requests shares flask.g,
and with it Flask-Login's cached user); the database is read and prepared in short
`dbs(app)` blocks in between. Items are put in a state through the services, with a queue
that queues nothing, unless a test exports for real (then drain()).
"""
from __future__ import annotations

import random
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain.types import direct_export_keys
from portal.domain import items, services, settings
from portal.domain.lifecycle import State
from portal.domain.models import (CostCode, ErpAudit, ErpItem, OutboxMail, Project, ProjectMember,
                                  Setting, SettingChange, StandardCategory, StandardCostCode, SubJob,
                                  ToolLevel, User, Vendor)
from portal.domain.types import get_type

VENDORS, JOBS, SUB_JOBS, COST_CODES = (get_type(k) for k in ("vendor", "job", "sub_job", "cost_code"))
from portal.exporters.sage300.records import SageResult
from tests import factories as f
from tests.web.pages import counts, is_fragment, is_page, item_row, path_of, settings_form, tab_row_ids, text

HX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}
TYPES = (VENDORS.key, JOBS.key, SUB_JOBS.key, COST_CODES.key)
COMPANY_TYPES = (VENDORS.key, JOBS.key)
LABELS = {VENDORS.key: "Company", JOBS.key: "Job", SUB_JOBS.key: "Sub Job", COST_CODES.key: "Cost Code"}
PROJECT_TYPES = (SUB_JOBS.key, COST_CODES.key)

STANDARD_CODES = f.STANDARD_CODES
NullQueue = f.NullQueue
dbs = f.app_session


# ---- company-wide data and fresh ids ---------------------------------------------------

standard_list = f.standard_list


_issued: set[str] = set()


def fresh_job_id(session, sim) -> str:
    """A Sage Job ID for the default mask ##-### that no project, Sage job or earlier test has."""
    while True:
        job_id = f"{random.randint(0, 99):02d}-{random.randint(0, 999):03d}"
        if job_id in _issued or sim.get_job(job_id) or session.scalar(
                select(func.count()).select_from(Project).where(Project.sage_job_id == job_id)):
            continue
        _issued.add(job_id)
        return job_id


def fresh_vendor_id(sim) -> str:
    while True:
        vendor_id = f"V{f.suffix(8)}"
        if vendor_id not in _issued and not sim.get_vendor(vendor_id):
            _issued.add(vendor_id)
            return vendor_id


# ---- people and clients (per module, tests/web/conftest.py) and the world ------------------

ROLE_USERS = {"site_admin": dict(site_admin=True), "pm": {}, "project_readonly": {},
              "approver": dict(erp_level=ToolLevel.STANDARD, push=True), "standard": dict(erp_level=ToolLevel.STANDARD),
              "erp_admin": dict(erp_level=ToolLevel.ADMIN)}


@pytest.fixture(scope="module", autouse=True)
def company_standard_list(app):
    """The standard list, made before any test of the module."""
    with dbs(app) as s:
        standard_list(s)


class World:
    """Fresh projects (random suffixes) and helpers that put setup items in a state."""

    def __init__(self, app, sim, people):
        self.app, self.sim, self.people = app, sim, people
        self.token = f.suffix(8)
        self._synced = None

    def users(self, s):
        return SimpleNamespace(**{k: s.get(User, p.id) for k, p in self.people.items()})

    def members(self, s, project_id) -> None:
        u = self.users(s)
        s.add_all([ProjectMember(user_id=u.pm.id, project_id=project_id, level=ToolLevel.ADMIN),
                   ProjectMember(user_id=u.project_readonly.id, project_id=project_id, level=ToolLevel.READ_ONLY)])
        s.commit()

    @property
    def pid(self) -> int:
        """A project synced with a Sage job (mirrored in the simulator): sub jobs and cost codes live here."""
        if self._synced is None:
            with dbs(self.app) as s:
                setup = f.Setup(s, self.sim)
                setup.project.name = f"Project {self.token}"
                s.commit()
                self.members(s, setup.project.id)
                self._synced = setup.project.id
        return self._synced

    def unsynced_project(self, *, codes=1, name=None) -> int:
        """A project not in Sage yet (a job to send), with cost codes from the standard list."""
        with dbs(self.app) as s:
            u = self.users(s)
            project = Project(number=f"N-{f.suffix()}", name=name or f"Job {self.token}", address="400 Civic Plaza",
                              city="Springfield", state="IL", zip="62701", created_by_id=u.site_admin.id)
            s.add(project)
            s.commit()
            self.members(s, project.id)
            for code, _ in STANDARD_CODES[:codes]:
                items.save_item(s, u.pm, COST_CODES.key, project.id, None,
                                {"standard_code": code, "category_LAB": "on", "category_MAT": "on"})
            return project.id

    def next_code(self, s, project_id) -> str:
        taken = set(s.scalars(select(CostCode.code).where(CostCode.project_id == project_id)))
        return next(code for code, _ in STANDARD_CODES if code not in taken)

    def draft(self, key: str, project_id: int | None = None, **form) -> SimpleNamespace:
        """A new item of the type, made through the project-side service."""
        with dbs(self.app) as s:
            u = self.users(s)
            if key == VENDORS.key:
                item = items.save_item(s, u.site_admin, key, None, None, {
                    "name": f"Vendor {self.token} {f.suffix(4)}", "city": "Bayside", **form})
            elif key == JOBS.key:
                item = s.get(Project, project_id or self.unsynced_project())
            elif key == SUB_JOBS.key:
                item = items.save_item(s, u.pm, key, project_id or self.pid, None, {
                    "code": f"PH-{f.suffix()}", "name": f"Fit-Out {self.token}", **form})
            else:
                pid = project_id or self.pid
                item = items.save_item(s, u.pm, key, pid, None, {
                    "standard_code": self.next_code(s, pid), "category_LAB": "on", **form})
            return SimpleNamespace(key=key, id=item.id, erp=None, code=getattr(item, "code", None),
                                   project_id=getattr(item, "project_id", None) if key != JOBS.key else item.id)

    def accept_fields(self, s, key: str, item_id: int) -> dict:
        if key == VENDORS.key:
            return {"erp_vendor_id": fresh_vendor_id(self.sim), "vendor_type": "Subcontractor"}
        if key == JOBS.key:
            return {"sage_job_id": fresh_job_id(s, self.sim)}
        if key == SUB_JOBS.key:
            return SUB_JOBS.export_defaults(SUB_JOBS.load(s, item_id))
        return {}

    def item(self, key: str, state: str = State.DRAFT, **kw) -> SimpleNamespace:
        """An item sent and decided through the services as far as `state` (no export runs)."""
        out = self.draft(key, **kw)
        if state == State.DRAFT:
            return out
        with dbs(self.app) as s:
            u = self.users(s)
            sender = u.site_admin if key == VENDORS.key else u.pm
            erp = services.send(s, sender, key, out.id)
            out.erp = erp.id
            if state == State.REJECTED:
                services.reject(s, u.approver, erp.id, f"Fix it {self.token}", NullQueue(), "Test Builders",
                                lambda e: "http://portal.test/x")
            elif state in (State.EXPORTING, State.SYNCED, State.FAILED):
                services.accept(s, u.approver, erp.id, self.accept_fields(s, key, out.id), NullQueue())
                if state == State.SYNCED:
                    services.record_export_result(s, erp.id, 1, SageResult(ok=True, reference="REF"))
                elif state == State.FAILED:
                    services.record_export_result(s, erp.id, 1, SageResult(ok=False, message="Job has been closed."))
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
        """The item's own fields (what an edit changes)."""
        with dbs(self.app) as s:
            kind = {VENDORS.key: VENDORS, JOBS.key: JOBS, SUB_JOBS.key: SUB_JOBS, COST_CODES.key: COST_CODES}[key]
            item = kind.load(s, item_id)
            if key == COST_CODES.key:
                return (item.code, item.sub_job_id, tuple(c.code for c in item.categories))
            return tuple(sorted(kind.form_values(item).items()))

    def count(self, key: str) -> int:
        model = {VENDORS.key: Vendor, JOBS.key: Project, SUB_JOBS.key: SubJob, COST_CODES.key: CostCode}[key]
        with dbs(self.app) as s:
            return s.scalar(select(func.count()).select_from(model))

    def list_url(self, key: str, project_id: int | None = None) -> str:
        if key in COMPANY_TYPES:
            return f"/company/{key}"
        return f"/projects/{project_id or self.pid}/items/{key}"

    def url(self, it: SimpleNamespace, what: str) -> str:
        if it.key in COMPANY_TYPES:
            return f"/company/{it.key}/{it.id}/{what}"
        return f"/projects/{it.project_id}/items/{it.key}/{it.id}/{what}"

    def tab_url(self, key: str, erp_id: int, what: str) -> str:
        return f"/erp/{key}/{erp_id}/{what}"


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def admin_of(key: str) -> str:
    """Who creates, edits and sends items of the type on the project side."""
    return "site_admin" if key == VENDORS.key else "pm"


# ---- list pages: the page or its block --------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_list_is_a_page_without_hx_request_and_its_table_with(clients, world, key):
    it = world.item(key)
    client = clients[admin_of(key)]
    url = world.list_url(key, it.project_id if key in PROJECT_TYPES else None)

    page = client.get(url)
    body = text(page)
    assert page.status_code == 200 and is_page(body), body[:300]
    assert '<table class="grid" id="item-table">' in body and f'<tbody id="{key}-{it.id}"' in body
    assert "HX-Request" in page.headers.get("Vary", "")

    fragment = client.get(url, headers=HX)
    body = text(fragment)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers.get("Vary", "")
    assert is_fragment(body) and body.strip().startswith('<table class="grid" id="item-table">'), body[:200]
    assert f'<tbody id="{key}-{it.id}" data-state="draft"' in body

    boosted = client.get(url, headers=BOOSTED)
    assert boosted.status_code == 200 and is_page(text(boosted))


def test_a_new_project_list_says_so(clients, world):
    pid = world.unsynced_project(codes=0)
    body = text(clients["pm"].get(world.list_url(SUB_JOBS.key, pid)))
    assert "No sub jobs yet." in body and "Sage Job ID: <strong>not synced</strong>" in body


@pytest.mark.parametrize("url", [
    lambda w: "/company/sub_job", lambda w: "/company/cost_code", lambda w: "/company/nope",
    lambda w: f"/projects/{w.pid}/items/vendor", lambda w: f"/projects/{w.pid}/items/job",
    lambda w: "/projects/999999999/items/sub_job",
], ids=["sub jobs at company level", "cost codes at company level", "unknown type", "vendors in a project",
        "jobs in a project", "no such project"])
def test_a_type_in_the_wrong_place_is_404(clients, world, url):
    assert clients["site_admin"].get(url(world)).status_code == 404


@pytest.mark.parametrize("key, reason", [
    (SUB_JOBS.key, "Sub jobs are exported only under a synced job: export the project first."),
    (COST_CODES.key, "The project is not synced with a Sage job yet: its cost codes go with it."),
], ids=["sub job", "cost code"])
def test_send_is_unavailable_with_the_reason_until_the_project_is_synced(clients, world, key, reason):
    pid = world.unsynced_project(codes=0)
    it = world.item(key, project_id=pid)
    row = item_row(text(clients["pm"].get(world.list_url(key, pid), headers=HX)), key, it.id)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert reason in row
    assert world.url(it, "send") not in row


def test_a_project_without_cost_codes_cannot_be_sent_as_a_job(clients, world):
    pid = world.unsynced_project(codes=0)
    row = item_row(text(clients["site_admin"].get("/company/job", headers=HX)), JOBS.key, pid)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert "Add cost codes from the company's standard list first" in row


def test_the_job_list_shows_only_the_projects_the_user_can_see(app, clients, world):
    mine = world.unsynced_project()
    with dbs(app) as s:
        other = Project(number=f"O-{f.suffix()}", name=f"Other {world.token}")
        s.add(other)
        s.commit()
        other = other.id
    for role, sees in (("pm", {mine}), ("project_readonly", {mine}), ("approver", set()),
                       ("site_admin", {mine, other})):
        body = text(clients[role].get("/company/job", headers=HX))
        shown = {pid for pid in (mine, other) if f'<tbody id="job-{pid}"' in body}
        assert shown == sees, role
    row = item_row(text(clients["project_readonly"].get("/company/job", headers=HX)), JOBS.key, mine)
    assert "Send to ERP" not in row and "Edit" not in row  # read only on that project


def test_a_synced_project_has_no_send_button(clients, world):
    it = world.item(JOBS.key, State.SYNCED)
    row = item_row(text(clients["pm"].get("/company/job", headers=HX)), JOBS.key, it.id)
    assert 'data-state="synced"' in row and "Send to ERP" not in row and "Edit" not in row
    response = clients["pm"].post(world.url(it, "send"), headers=HX)
    assert response.status_code == 422 and "already synced with Sage job" in text(response)
    assert world.erp(it.erp).state == State.SYNCED


# ---- create: 422 with field messages and nothing created ----------------------------------------

BAD_NEW = {
    "vendor, no name": (VENDORS.key, {"name": "  ", "city": "Bayside"}, "name", "Name is required."),
    "vendor, name too long": (VENDORS.key, {"name": "N" * 121}, "name",
                              "Name must be 120 characters or less (Sage's limit)."),
    "job, no number": (JOBS.key, {"number": "", "name": "Library"}, "number", "Project # is required."),
    "job, no name": (JOBS.key, {"number": "24-999", "name": ""}, "name", "Project Name is required."),
    "sub job, code too long": (SUB_JOBS.key, {"code": "C" * 31, "name": "Phase 2"}, "code",
                               "Sub Job Code must be 30 characters or less (Sage's limit)."),
    "sub job, no description": (SUB_JOBS.key, {"code": "PH2", "name": ""}, "name", "Description is required."),
    "cost code, not in the list": (COST_CODES.key, {"standard_code": "77-777", "category_LAB": "on"},
                                   "standard_code", "Choose a cost code from the company's standard list"),
    "cost code, no category": (COST_CODES.key, {"standard_code": "05-500"}, None, "Tick at least one category."),
}


@pytest.mark.parametrize("name", BAD_NEW)
def test_create_with_bad_input_is_422_with_the_message_and_creates_nothing(clients, world, name):
    key, form, field, message = BAD_NEW[name]
    url = world.list_url(key) + "/new"
    before = world.count(key)
    response = clients["site_admin" if key in COMPANY_TYPES else "pm"].post(url, data=form)
    body = text(response)
    assert response.status_code == 422, body[:300]
    assert is_page(body) and message in body
    if field:
        assert "Please correct the highlighted fields." in body
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', body) or f'<select name="{field}"' in body
        assert 'class="field-error"' in body
    for typed in (v for k, v in form.items() if k in ("name", "code", "number") and v.strip()):
        assert f'value="{typed}"' in body  # what was typed comes back
    assert world.count(key) == before


def test_a_sub_job_code_already_on_the_project_is_422(clients, world):
    it = world.item(SUB_JOBS.key)
    before = world.count(SUB_JOBS.key)
    response = clients["pm"].post(world.list_url(SUB_JOBS.key) + "/new", data={"code": it.code, "name": "Again"})
    assert response.status_code == 422 and f"Sub job {it.code} already exists on this project." in text(response)
    assert world.count(SUB_JOBS.key) == before


GOOD_NEW = {
    VENDORS.key: {"name": "Granite Peak Roofing TOKEN", "address": "12 Commerce Way", "city": "Fairview",
                  "state": "IL", "zip": "62702", "phone": "555-0142", "fax": ""},
    JOBS.key: {"number": "N-TOKEN", "name": "Northgate Library TOKEN", "address": "400 Civic Plaza",
               "city": "Springfield", "state": "IL", "zip": "62704"},
    SUB_JOBS.key: {"code": "PH-TOKEN", "name": "Phase 2 TOKEN"},
    COST_CODES.key: {"standard_code": "05-500", "category_LAB": "on", "category_SUB": "on"},
}


@pytest.mark.parametrize("key", TYPES)
def test_create_saves_and_goes_back_to_the_list_where_it_can_be_sent(clients, world, key):
    form = {k: v.replace("TOKEN", world.token) for k, v in GOOD_NEW[key].items()}
    client = clients["site_admin" if key in COMPANY_TYPES else "pm"]
    url = world.list_url(key) + "/new"
    before = world.count(key)
    response = client.post(url, data=form)
    assert response.status_code == 303, text(response)[:500]
    assert path_of(response.location) == world.list_url(key)
    assert world.count(key) == before + 1
    page = text(client.get(response.location))
    assert f"{LABELS[key]} saved." in page
    shown = form.get("name") or form["standard_code"]
    assert shown in page


def test_the_new_cost_code_form_offers_the_standard_list_categories_and_sub_jobs(clients, world):
    sub = world.item(SUB_JOBS.key)
    body = text(clients["pm"].get(world.list_url(COST_CODES.key) + "/new"))
    assert '<select name="standard_code" required>' in body
    with dbs(world.app) as s:
        active = s.scalars(select(StandardCostCode).where(StandardCostCode.active)).all()
        cats = s.scalars(select(StandardCategory)).all()
    for code in active:
        assert f'<option value="{code.code}" >{code.code} {code.description}</option>' in body
    for cat in cats:
        assert f'<input type="checkbox" name="category_{cat.code}"' in body
    assert '<select name="sub_job_id"' in body and f'<option value="{sub.id}" ' in body


def test_a_cost_code_goes_on_a_sub_job_of_the_project(clients, world):
    sub = world.item(SUB_JOBS.key)
    response = clients["pm"].post(world.list_url(COST_CODES.key) + "/new", data={
        "standard_code": "01-100", "sub_job_id": str(sub.id), "category_MAT": "on"})
    assert response.status_code == 303
    body = text(clients["pm"].get(world.list_url(SUB_JOBS.key), headers=HX))
    row = item_row(body, SUB_JOBS.key, sub.id)
    assert '<td class="num">1</td>' in row  # the sub job's cost code count


# ---- edit: only while draft or rejected ---------------------------------------------------------

EDITS = {
    VENDORS.key: lambda it, w: {"name": f"Renamed {w.token}", "city": "Fairview"},
    JOBS.key: lambda it, w: {"number": f"R-{w.token}", "name": f"Renamed {w.token}"},
    SUB_JOBS.key: lambda it, w: {"code": f"R-{w.token}", "name": f"Renamed {w.token}"},
    COST_CODES.key: lambda it, w: {"category_SUB": "on"},
}


@pytest.mark.parametrize("state", [State.DRAFT, State.REJECTED])
@pytest.mark.parametrize("key", TYPES)
def test_edit_while_draft_or_rejected_saves(clients, world, key, state):
    it = world.item(key, state)
    client = clients[admin_of(key)]
    form_page = client.get(world.url(it, "edit"))
    body = text(form_page)
    assert form_page.status_code == 200 and is_page(body) and '<button type="submit" class="primary">Save</button>' in body
    if state == State.REJECTED:
        assert f"Rejected by accounting: Fix it {world.token}" in body
    before = world.snapshot(key, it.id)
    response = client.post(world.url(it, "edit"), data=EDITS[key](it, world))
    assert response.status_code == 303, text(response)[:500]
    assert path_of(response.location) == (world.list_url(key, it.project_id) if key in PROJECT_TYPES
                                          else world.list_url(key))
    after = world.snapshot(key, it.id)
    assert after != before
    if key == COST_CODES.key:
        assert after[2] == ("SUB",)  # the categories are what is ticked now
    if state == State.REJECTED:
        assert world.erp(it.erp).state == State.REJECTED  # editing does not resend


@pytest.mark.parametrize("state", [State.READY, State.EXPORTING, State.SYNCED, State.FAILED])
@pytest.mark.parametrize("key", TYPES)
def test_edit_is_refused_while_the_item_is_in_erp(clients, world, key, state):
    it = world.item(key, state)
    client = clients[admin_of(key)]
    page = client.get(world.url(it, "edit"))
    body = text(page)
    assert page.status_code == 200 and f"It is {State.LABELS[state]} in ERP Integrations and cannot be edited now." in body
    assert '<form method="post" class="stacked"' not in body
    before, erp_before = world.snapshot(key, it.id), world.erp(it.erp)
    response = client.post(world.url(it, "edit"), data=EDITS[key](it, world))
    assert response.status_code == 409 and "retrieve it first" in text(response)
    assert world.snapshot(key, it.id) == before and world.erp(it.erp) == erp_before


def test_edit_with_bad_input_is_422_and_changes_nothing(clients, world):
    it = world.item(SUB_JOBS.key, State.REJECTED)
    before = world.snapshot(SUB_JOBS.key, it.id)
    response = clients["pm"].post(world.url(it, "edit"), data={"code": "", "name": "Still here"})
    body = text(response)
    assert response.status_code == 422 and is_page(body)
    assert "Sub Job Code is required." in body and 'value="Still here"' in body
    assert f"Rejected by accounting: Fix it {world.token}" in body
    assert world.snapshot(SUB_JOBS.key, it.id) == before


# ---- send, retrieve, resend: the row fragment ----------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_send_then_retrieve_as_htmx_return_the_row(clients, world, key):
    it = world.item(key)
    client = clients[admin_of(key)]
    sent = client.post(world.url(it, "send"), headers=HX)
    body = text(sent)
    assert sent.status_code == 200 and is_fragment(body), body[:300]
    assert body.strip().startswith(f'<tbody id="{key}-{it.id}" data-state="ready"')
    assert "Ready to Export" in body and f'hx-post="{world.url(it, "retrieve")}"' in body
    assert world.erp_of(key, it.id).state == State.READY

    back = client.post(world.url(it, "retrieve"), headers=HX)
    body = text(back)
    assert back.status_code == 200 and is_fragment(body)
    assert body.strip().startswith(f'<tbody id="{key}-{it.id}" data-state="draft"')
    assert f'hx-post="{world.url(it, "send")}"' in body and "Send to ERP" in body
    assert world.erp_of(key, it.id).state == State.DRAFT


@pytest.mark.parametrize("key", TYPES)
def test_send_and_retrieve_without_htmx_redirect_to_the_list(clients, world, key):
    it = world.item(key)
    client = clients[admin_of(key)]
    list_url = world.list_url(key, it.project_id if key in PROJECT_TYPES else None)
    sent = client.post(world.url(it, "send"))
    assert sent.status_code == 303 and path_of(sent.location) == list_url
    page = text(client.get(sent.location))
    assert "Sent to ERP Integrations for accounting acceptance." in page
    assert 'data-state="ready"' in item_row(page, key, it.id)
    back = client.post(world.url(it, "retrieve"))
    assert back.status_code == 303 and path_of(back.location) == list_url
    assert "Retrieved: it is a draft again." in text(client.get(back.location))


@pytest.mark.parametrize("key", TYPES)
def test_a_rejected_item_shows_the_reason_and_resends(clients, world, key):
    it = world.item(key, State.REJECTED)
    client = clients[admin_of(key)]
    list_url = world.list_url(key, it.project_id if key in PROJECT_TYPES else None)
    row = item_row(text(client.get(list_url, headers=HX)), key, it.id)
    assert 'data-state="rejected"' in row and f"Fix it {world.token}" in row
    assert "Resend to ERP" in row and "Edit" in row
    resent = client.post(world.url(it, "send"), headers=HX)
    assert resent.status_code == 200 and 'data-state="ready"' in text(resent)
    assert world.erp(it.erp).state == State.READY


def test_sending_a_sub_job_of_an_unsynced_project_anyway_is_422_and_creates_nothing(clients, world):
    pid = world.unsynced_project(codes=0)
    it = world.item(SUB_JOBS.key, project_id=pid)
    htmx = clients["pm"].post(world.url(it, "send"), headers=HX)
    assert htmx.status_code == 422 and htmx.headers.get("HX-Retarget") == "#messages"
    assert "Sub jobs are exported only under a synced job" in text(htmx)
    page = clients["pm"].post(world.url(it, "send"))
    assert page.status_code == 422 and is_page(text(page))
    assert world.erp_of(SUB_JOBS.key, it.id) is None


def test_retrieve_of_an_item_never_sent_is_422(clients, world):
    it = world.item(SUB_JOBS.key)
    response = clients["pm"].post(world.url(it, "retrieve"))
    assert response.status_code == 422 and "never sent" in text(response)


def test_an_item_of_another_project_is_404(clients, world):
    it = world.item(SUB_JOBS.key)
    other = world.unsynced_project(codes=0)
    response = clients["site_admin"].post(f"/projects/{other}/items/sub_job/{it.id}/send")
    assert response.status_code == 404 and world.erp_of(SUB_JOBS.key, it.id) is None


# ---- delete -------------------------------------------------------------------------------------

def test_a_sub_job_with_cost_codes_cannot_be_deleted(clients, world):
    sub = world.item(SUB_JOBS.key)
    world.item(COST_CODES.key, sub_job_id=str(sub.id))
    before = world.count(SUB_JOBS.key), world.count(COST_CODES.key)
    for headers in (None, HX):
        response = clients["pm"].post(world.url(sub, "delete"), headers=headers)
        assert response.status_code == 422
        assert "A sub job with cost codes cannot be deleted." in text(response)
    assert (world.count(SUB_JOBS.key), world.count(COST_CODES.key)) == before


def test_a_sub_job_without_cost_codes_is_deleted(clients, world):
    sub = world.item(SUB_JOBS.key)
    row = item_row(text(clients["pm"].get(world.list_url(SUB_JOBS.key), headers=HX)), SUB_JOBS.key, sub.id)
    assert f'action="{world.url(sub, "delete")}"' in row
    response = clients["pm"].post(world.url(sub, "delete"))
    assert response.status_code == 303 and path_of(response.location) == world.list_url(SUB_JOBS.key)
    assert "Sub Job deleted." in text(clients["pm"].get(response.location))
    with dbs(world.app) as s:
        assert s.get(SubJob, sub.id) is None


def test_a_sub_job_sent_to_erp_is_kept(clients, world):
    sub = world.item(SUB_JOBS.key, State.REJECTED)
    response = clients["pm"].post(world.url(sub, "delete"))
    assert response.status_code == 409
    with dbs(world.app) as s:
        assert s.get(SubJob, sub.id) is not None


def test_a_sub_job_an_invoice_is_billed_to_cannot_be_deleted(app, clients, world, sim):
    """Nothing but the cost codes is checked before deleting: an invoice on the sub job must stop it
    with a clear message too, not a database error."""
    sub = world.item(SUB_JOBS.key)
    with dbs(app) as s:
        setup = f.Setup(s, sim)
        inv = setup.invoice(s)
        inv.project_id, inv.sub_job_id = world.pid, sub.id
        s.commit()
    response = clients["pm"].post(world.url(sub, "delete"))
    assert response.status_code in (409, 422)
    with dbs(app) as s:
        assert s.get(SubJob, sub.id) is not None


@pytest.mark.parametrize("key", [VENDORS.key, JOBS.key, COST_CODES.key])
def test_types_without_delete_refuse_it(clients, world, key):
    it = world.item(key)
    before = world.count(key)
    response = clients[admin_of(key)].post(world.url(it, "delete"))
    assert response.status_code == 409 and "cannot be deleted here" in text(response)
    assert world.count(key) == before


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
    for kind in (VENDORS, JOBS, SUB_JOBS, COST_CODES):
        assert f'href="/erp/{kind.key}"' in body and kind.plural in body
    assert counts(body) == {"ready": 2, "synced": 1, "failed": 1}
    assert sorted(tab_row_ids(body)) == sorted([ready.erp, exporting.erp])

    fragment = text(clients["standard"].get(url + "&filter=synced", headers=HX))
    assert fragment.strip().startswith('<div id="tab-body">') and is_fragment(fragment)
    assert tab_row_ids(fragment) == [synced.erp] and "Accept" not in fragment  # read only: no decisions
    failed_tab = text(clients["approver"].get(url + "&filter=failed", headers=HX))
    assert tab_row_ids(failed_tab) == [failed.erp] and "Sage:</strong> Job has been closed." in failed_tab


ACCEPT_FORM = {
    VENDORS.key: ['name="erp_vendor_id" value=""', '<select name="vendor_type" required>',
                  '<option value="Subcontractor" selected>Subcontractor</option>',
                  '<option value="Supplier" >Supplier</option>'],
    JOBS.key: ['name="sage_job_id" value=""', 'placeholder="Unique, 10 characters, the company\'s job-number mask."'],
    SUB_JOBS.key: ['name="extra_id" value="CODE10"'],
    COST_CODES.key: [],
}


@pytest.mark.parametrize("key", TYPES)
def test_accept_form_asks_for_the_types_export_fields(clients, world, key):
    it = world.item(key, State.READY)
    response = clients["approver"].get(world.tab_url(key, it.erp, "accept"), headers=HX)
    body = text(response)
    assert response.status_code == 200 and is_fragment(body)
    assert body.strip().startswith(f'<tbody id="item-{it.erp}"') and "Export to ERP" in body
    for expected in ACCEPT_FORM[key]:
        assert expected.replace("CODE10", (it.code or "")[:10]) in body, expected
    inputs = set(re.findall(r'<(?:input|select|textarea) name="(\w+)"', body)) - {"csrf_token", "ids"}
    assert inputs == {VENDORS.key: {"erp_vendor_id", "vendor_type"}, JOBS.key: {"sage_job_id"},
                      SUB_JOBS.key: {"extra_id"}, COST_CODES.key: set()}[key]
    page = clients["approver"].get(world.tab_url(key, it.erp, "accept"))
    assert page.status_code == 200 and is_page(text(page))  # the Accept link works without htmx


BAD_ACCEPT = {
    "vendor id too long": (VENDORS.key, {"erp_vendor_id": "V123456789X", "vendor_type": "Supplier"},
                           "erp_vendor_id", "ERP Vendor ID must be 10 characters or less (Sage's limit)."),
    "vendor type": (VENDORS.key, {"erp_vendor_id": "VX1", "vendor_type": "Landlord"}, "vendor_type",
                    "Choose a vendor type."),
    "job id off the mask": (JOBS.key, {"sage_job_id": "24104"}, "sage_job_id",
                            "Sage Job ID must match the job-number mask ##-### (# a digit, A a letter)."),
    "job id missing": (JOBS.key, {"sage_job_id": ""}, "sage_job_id", "Sage Job ID is required."),
    "extra id too long": (SUB_JOBS.key, {"extra_id": "PHASE-2-EXTRA"}, "extra_id",
                          "Extra ID must be 10 characters or less (Sage's limit)."),
}


@pytest.mark.parametrize("name", BAD_ACCEPT)
def test_accept_with_bad_fields_is_422_with_the_message_and_changes_nothing(clients, world, name):
    key, form, field, message = BAD_ACCEPT[name]
    it = world.item(key, State.READY)
    before = world.erp(it.erp)
    response = clients["approver"].post(world.tab_url(key, it.erp, "accept"), data=form, headers=HX)
    body = text(response)
    assert response.status_code == 422 and is_fragment(body)
    assert message in body and 'class="field-error"' in body and f'name="{field}"' in body
    assert world.erp(it.erp) == before


@pytest.mark.parametrize("key", TYPES)
def test_accept_exports_and_the_row_settles_synced(clients, world, drain, key):
    it = world.item(key, State.READY)
    with dbs(world.app) as s:
        fields = world.accept_fields(s, key, it.id)
    response = clients["approver"].post(world.tab_url(key, it.erp, "accept"), data=fields, headers=HX)
    body = text(response)
    assert response.status_code == 200 and 'data-state="exporting"' in body and 'hx-trigger="every 500ms"' in body
    drain()
    settled = clients["approver"].get(world.tab_url(key, it.erp, "status"), headers=HX)
    body = text(settled)
    assert settled.status_code == 286 and 'data-state="synced"' in body, body[:500]
    after = world.erp(it.erp)
    expected_ref = fields.get("erp_vendor_id") or fields.get("sage_job_id") or fields.get("extra_id")
    if expected_ref:
        assert after.erp_ref == expected_ref and f"ERP ID <strong>{expected_ref}</strong>" in body
    list_url = world.list_url(key, it.project_id if key in PROJECT_TYPES else None)
    row = item_row(text(clients[admin_of(key)].get(list_url, headers=HX)), key, it.id)
    assert 'data-state="synced"' in row and "Send to ERP" not in row


def test_a_vendor_id_only_in_sage_shows_sages_message_on_the_failed_row(clients, world, drain, sim):
    it = world.item(VENDORS.key, State.READY)
    taken = fresh_vendor_id(sim)
    sim.add_vendor(taken, "Made in Sage")
    clients["approver"].post(world.tab_url(VENDORS.key, it.erp, "accept"),
                             data={"erp_vendor_id": taken, "vendor_type": "Subcontractor"}, headers=HX)
    drain()
    status = clients["approver"].get(world.tab_url(VENDORS.key, it.erp, "status"), headers=HX)
    body = text(status)
    assert status.status_code == 286 and "Failed to Export" in body
    assert "Sage:</strong> A vendor already exists with the specified id." in body and "Retry" in body
    with dbs(world.app) as s:
        assert s.get(Vendor, it.id).erp_vendor_id is None


@pytest.mark.parametrize("key, accepted", [(SUB_JOBS.key, True), (COST_CODES.key, True),
                                           (VENDORS.key, False), (JOBS.key, False)])
def test_bulk_accept_exports_with_defaults_or_says_why_not(clients, world, drain, key, accepted):
    one, two = world.item(key, State.READY), world.item(key, State.READY)
    response = clients["approver"].post(f"/erp/{key}/bulk-accept", headers=HX, data={
        "ids": [str(one.erp), str(two.erp)], "filter": "ready", "q": world.token})
    body = text(response)
    assert response.status_code == 200 and body.strip().startswith('<div id="tab-body">')
    if accepted:
        assert "2 item(s) accepted and queued for export." in body
        drain()
        assert {world.erp(i.erp).state for i in (one, two)} == {State.SYNCED}
    else:
        field = "ERP Vendor ID" if key == VENDORS.key else "Sage Job ID"
        assert "0 item(s) accepted and queued for export. 2 not accepted:" in body
        for i in (one, two):
            assert f"#{i.erp}: Accept it on its own: {field} is required." in body
            assert world.erp(i.erp).state == State.READY


@pytest.mark.parametrize("key", TYPES)
def test_reject_returns_the_row_and_writes_the_mail(clients, world, drain, key):
    it = world.item(key, State.READY)
    response = clients["approver"].post(world.tab_url(key, it.erp, "reject"), data={"reason": "Not this one"},
                                        headers=HX)
    assert response.status_code == 200 and "Rejected: returned to the project team and emailed." in text(response)
    after = world.erp(it.erp)
    assert (after.state, after.reject_reason, after.mails) == (State.REJECTED, "Not this one", 1)
    with dbs(world.app) as s:
        mail = s.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == it.erp)).one()
        assert mail.subject == f"Test Builders: ERP {LABELS[key]} Rejection Notification"
        link = "/company/" + key if key in COMPANY_TYPES else f"/projects/{it.project_id}/items/{key}"
        assert f"http://portal.test{link}" in mail.text_body
    drain()


# ---- settings ---------------------------------------------------------------------------------------

def stored_settings(app):
    with dbs(app) as s:
        rows = {r.key: r.value for r in s.scalars(select(Setting))}
        last = s.scalar(select(func.max(SettingChange.id))) or 0
        return settings.load(s), rows, last


def restore(app, people, before: settings.Settings) -> None:
    with dbs(app) as s:
        settings.update(s, s.get(User, people["erp_admin"].id), settings_form(before), direct_export_keys())


def test_settings_page_shows_the_form_and_the_current_values(clients, app):
    current, _, _ = stored_settings(app)
    response = clients["erp_admin"].get("/erp/settings")
    body = text(response)
    assert response.status_code == 200 and is_page(body)
    assert f'name="job_number_mask" value="{current.job_number_mask}"' in body
    for key in ("commitments", "ccos", "invoices"):
        assert f'name="direct_export_{key}"' in body
    assert "Save settings" in body


@pytest.mark.parametrize("mask", ["##-###-####", "AAAA-#######"])
def test_a_mask_over_10_characters_is_422_and_nothing_is_saved(clients, app, mask):
    before = stored_settings(app)
    response = clients["erp_admin"].post("/erp/settings", data=settings_form(
        before[0], job_number_mask=mask, direct_export_invoices="on", export_forecast_amounts="on"))
    body = text(response)
    assert response.status_code == 422 and is_page(body)
    assert "A Sage Job ID has at most 10 characters." in body and f'value="{mask}"' in body
    assert stored_settings(app) == before


def test_each_changed_setting_writes_one_audit_row_with_old_new_and_actor(clients, app, people):
    before, _, last = stored_settings(app)
    try:
        response = clients["erp_admin"].post("/erp/settings", data=settings_form(
            before, job_number_mask="AA-####", direct_export_ccos="on"))
        assert response.status_code == 303 and path_of(response.location) == "/erp/settings"
        page = text(clients["erp_admin"].get(response.location))
        assert "Settings saved." in page and 'name="job_number_mask" value="AA-####"' in page
        with dbs(app) as s:
            changes = s.scalars(select(SettingChange).where(SettingChange.id > last).order_by(SettingChange.id)).all()
            assert sorted((c.key, c.old, c.new, c.actor_id) for c in changes) == sorted([
                ("job_number_mask", before.job_number_mask, "AA-####", people["erp_admin"].id),
                ("direct_export", before.direct_export, {**before.direct_export, "ccos": True},
                 people["erp_admin"].id)])
            assert settings.load(s).job_number_mask == "AA-####"
        assert f"<td>{people['erp_admin'].name}</td><td>job number mask</td><td>{before.job_number_mask}</td>" \
               f"<td>AA-####</td>" in page
        readable = lambda d: ", ".join(f"{k}: {'on' if v else 'off'}" for k, v in d.items())
        assert f"<td>direct export</td><td>{readable(before.direct_export)}</td>" \
               f"<td>{readable({**before.direct_export, 'ccos': True})}</td>" in page

        # Saving the same values again changes nothing and writes no audit row.
        again = clients["erp_admin"].post("/erp/settings", data=settings_form(
            before, job_number_mask="AA-####", direct_export_ccos="on"))
        assert again.status_code == 303
        with dbs(app) as s:
            assert s.scalar(select(func.count()).select_from(SettingChange).where(SettingChange.id > last)) == 2
    finally:
        restore(app, people, before)
    assert stored_settings(app)[0] == before


def test_direct_export_on_invoices_through_the_pages(clients, app, people, sim, drain):
    """Settings page on, a project admin sends an approved invoice, it exports without an approver."""
    before = stored_settings(app)[0]
    try:
        response = clients["erp_admin"].post("/erp/settings", data=settings_form(before, direct_export_invoices="on"))
        assert response.status_code == 303
        with dbs(app) as s:
            setup = f.Setup(s, sim)
            s.add(ProjectMember(user_id=people["pm"].id, project_id=setup.project.id, level=ToolLevel.ADMIN))
            s.commit()
            inv = setup.invoice(s)
            pid, inv_id, number = setup.project.id, inv.id, inv.number
        sent = clients["pm"].post(f"/projects/{pid}/invoices/{inv_id}/send", headers=HX)
        assert sent.status_code == 200 and 'data-state="exporting"' in text(sent)
        drain()
        with dbs(app) as s:
            erp = services.find_erp_item(s, "subcontractor_invoice", inv_id)
            assert (erp.state, erp.erp_ref, erp.decided_by_id) == (State.SYNCED, number, people["pm"].id)
    finally:
        restore(app, people, before)
    assert stored_settings(app)[0] == before
