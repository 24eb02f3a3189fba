"""Role x route for the setup item types: the project-side pages of sub jobs and cost codes
(under their project), vendors and jobs (under /company), the ERP settings, and Accept /
Reject on the vendor, job, sub job and cost code tabs.

One table drives it, as in test_role_matrix.py: each route says who is allowed, what success
looks like and, for POSTs, how to read the state the request may change, so a refused POST is
shown to change nothing. Every test builds fresh items (random suffixes) on first use. Requests
are made with no app context pushed (a context held across requests would share flask.g).
"""
from __future__ import annotations

import secrets
from functools import cached_property
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain.types import direct_export_keys
from portal.domain import items, services, settings
from portal.domain.lifecycle import State
from portal.domain.models import (CostCode, ErpAudit, ErpItem, OutboxMail, Project, ProjectMember,
                                  SettingChange, SubJob, ToolLevel, User, Vendor)
from portal.domain.types import get_type

VENDORS, JOBS, SUB_JOBS, COST_CODES = (get_type(k) for k in ("vendor", "job", "sub_job", "cost_code"))
from tests import factories as f
from tests.web import roles
from tests.web.roles import (APPROVERS, ERP_ADMINS, ERP_USERS, LOGGED_IN, PROJECT_ADMINS, PROJECT_VIEWERS,
                             ROLES, SITE_ADMINS, Route, check_role_route, path_of, read, request)

KINDS = {k.key: k for k in (VENDORS, JOBS, SUB_JOBS, COST_CODES)}
STANDARD_CODES = f.STANDARD_CODES
NullQueue = f.NullQueue
dbs = f.app_session


# ---- people and clients (per module, tests/web/conftest.py) and the world (per test) ------

# not roles under test: they make and send the items every test starts from
ROLE_USERS = {**roles.ROLE_USERS, "sender": {}, "company_sender": dict(site_admin=True)}


@pytest.fixture(scope="module", autouse=True)
def standard_list(app):
    """The company's standard cost codes and categories (company-wide: created when missing)."""
    with dbs(app) as s:
        f.standard_list(s)


class World:
    """Fresh items, each made on first use in the state a route needs."""

    def __init__(self, app, sim, people):
        self.app, self.sim, self.people = app, sim, people
        self.token = f.suffix(8)
        self._items: dict = {}

    def user(self, s, role) -> User:
        return s.get(User, self.people[role].id)

    def members(self, s, project_id) -> None:
        for role, level in (("sender", ToolLevel.ADMIN), ("project_admin", ToolLevel.ADMIN),
                            ("project_readonly", ToolLevel.READ_ONLY)):
            s.add(ProjectMember(user_id=self.people[role].id, project_id=project_id, level=level))
        s.commit()

    @cached_property
    def pid(self) -> int:
        """A project synced with a Sage job: the home of the sub jobs and cost codes."""
        with dbs(self.app) as s:
            setup = f.Setup(s, self.sim)
            self.members(s, setup.project.id)
            return setup.project.id

    def _job_project(self, s) -> Project:
        """A project not in Sage yet, with a cost code: a job to send."""
        project = Project(number=f"N-{f.suffix()}", name=f"Job {self.token}", address="1 Main St",
                          city="Springfield", state="IL", zip="62701",
                          created_by_id=self.people["company_sender"].id)
        s.add(project)
        s.commit()
        self.members(s, project.id)
        items.save_item(s, self.user(s, "sender"), COST_CODES.key, project.id, None,
                        {"standard_code": "01-100", "category_LAB": "on"})
        return project

    def free_code(self, s, project_id: int) -> str:
        taken = set(s.scalars(select(CostCode.code).where(CostCode.project_id == project_id)))
        return next(code for code, _ in STANDARD_CODES if code not in taken)

    @cached_property
    def new_cost_code(self) -> str:
        """The standard code the matrix's "new cost code" POST adds."""
        project_id = self.pid
        with dbs(self.app) as s:
            return self.free_code(s, project_id)

    def item(self, key: str, state: str) -> SimpleNamespace:
        if (key, state) not in self._items:
            self._items[key, state] = self._make(key, state)
        return self._items[key, state]

    def _make(self, key: str, state: str) -> SimpleNamespace:
        pid = self.pid if key in (SUB_JOBS.key, COST_CODES.key) else None
        with dbs(self.app) as s:
            sender = self.user(s, "company_sender" if key == VENDORS.key else "sender")
            if key == VENDORS.key:
                item = items.save_item(s, sender, key, None, None, {"name": f"Vendor {self.token}"})
            elif key == JOBS.key:
                item = self._job_project(s)
            elif key == SUB_JOBS.key:
                item = items.save_item(s, sender, key, pid, None, {"code": f"SJ-{f.suffix()}", "name": "Matrix"})
            else:
                item = items.save_item(s, sender, key, pid, None,
                                       {"standard_code": self.free_code(s, pid), "category_LAB": "on"})
            out = SimpleNamespace(id=item.id, code=getattr(item, "code", None), erp=None)
            if state != State.DRAFT:
                out.erp = services.send(s, sender, key, item.id).id
            return out

    def accept_data(self, key: str) -> dict:
        if key == VENDORS.key:
            return {"erp_vendor_id": f"V{f.suffix(8)}", "vendor_type": "Subcontractor"}
        if key == JOBS.key:
            with dbs(self.app) as s:
                while True:
                    job_id = f"{secrets.randbelow(100):02d}-{secrets.randbelow(1000):03d}"
                    if not self.sim.get_job(job_id) and not s.scalar(select(func.count()).select_from(Project)
                                                                     .where(Project.sage_job_id == job_id)):
                        return {"sage_job_id": job_id}
        if key == SUB_JOBS.key:
            return {"extra_id": self.item(key, State.READY).code[:10]}
        return {}


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


# ---- what a route may change, and what success looks like ------------------------------------

def erp_snapshot(key: str):
    def read(s, w):
        erp = s.get(ErpItem, w.item(key, State.READY).erp)
        audits = s.scalar(select(func.count()).select_from(ErpAudit).where(ErpAudit.erp_item_id == erp.id))
        mails = s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp.id))
        return (erp.state, erp.attempt, erp.version, erp.job_id, erp.reject_reason, erp.export_fields,
                audits, mails)
    return read


def draft_erp(key: str):
    def read(s, w):
        erp = services.find_erp_item(s, key, w.item(key, State.DRAFT).id)
        return None if erp is None else (erp.state, erp.version)
    return read


def item_snapshot(key: str):
    def read(s, w):
        kind = KINDS[key]
        item = kind.load(s, w.item(key, State.DRAFT).id)
        if key == COST_CODES.key:
            return tuple(c.code for c in item.categories)
        return tuple(sorted(kind.form_values(item).items()))
    return read


def exists(key: str):
    def read(s, w):
        return s.get(SubJob, w.item(key, State.DRAFT).id) is not None
    return read


NEW_FORMS = {
    VENDORS.key: lambda w: {"name": f"Matrix Vendor {w.token}", "city": "Bayside"},
    JOBS.key: lambda w: {"number": f"M-{w.token}", "name": f"Matrix Job {w.token}"},
    SUB_JOBS.key: lambda w: {"code": f"M-{w.token}", "name": "Matrix"},
    COST_CODES.key: lambda w: {"standard_code": w.new_cost_code, "category_LAB": "on"},
}


def new_count(key: str):
    def read(s, w):
        if key == VENDORS.key:
            where = (Vendor.name == f"Matrix Vendor {w.token}",)
            model = Vendor
        elif key == JOBS.key:
            where, model = (Project.number == f"M-{w.token}",), Project
        elif key == SUB_JOBS.key:
            where, model = (SubJob.project_id == w.pid, SubJob.code == f"M-{w.token}"), SubJob
        else:
            where, model = (CostCode.project_id == w.pid, CostCode.code == w.new_cost_code), CostCode
        return s.scalar(select(func.count()).select_from(model).where(*where))
    return read


EDIT_FORMS = {
    VENDORS.key: lambda w: {"name": f"Renamed {w.token}"},
    JOBS.key: lambda w: {"number": f"R-{w.token}", "name": f"Renamed {w.token}"},
    SUB_JOBS.key: lambda w: {"code": w.item(SUB_JOBS.key, State.DRAFT).code, "name": f"Renamed {w.token}"},
    COST_CODES.key: lambda w: {"category_SUB": "on"},
}


def ok_created(key):
    def check(s, w, before):
        assert new_count(key)(s, w) == before + 1
    return check


def ok_edited(key):
    def check(s, w, before):
        after = item_snapshot(key)(s, w)
        assert after != before
        assert (after == ("SUB",)) if key == COST_CODES.key else (f"Renamed {w.token}" in dict(after).values())
    return check


def ok_state(key, state, target):
    def check(s, w, before):
        assert s.get(ErpItem, w.item(key, state).erp).state == target
    return check


def ok_sent(key):
    def check(s, w, before):
        assert draft_erp(key)(s, w)[0] == State.READY
    return check


def ok_deleted(key):
    def check(s, w, before):
        assert before is True and exists(key)(s, w) is False
    return check


def ok_accepted(key):
    def check(s, w, before):
        erp = s.get(ErpItem, w.item(key, State.READY).erp)
        assert (erp.state, erp.attempt, erp.job_id) == (State.EXPORTING, 1, f"export-{erp.id}-1")
    return check


def ok_rejected(key):
    def check(s, w, before):
        erp = s.get(ErpItem, w.item(key, State.READY).erp)
        assert (erp.state, erp.reject_reason) == (State.REJECTED, "Matrix says no")
        assert s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp.id)) == 1
    return check


# settings: a POST flips "export forecast amounts"; success is put back afterwards

def settings_snapshot(s, w):
    return settings.load(s), s.scalar(select(func.count()).select_from(SettingChange))


def settings_form(current: settings.Settings, **changes) -> dict:
    form = {f"direct_export_{k}": "on" for k, on in current.direct_export.items() if on}
    for key in ("use_contract_number_as_sage_id", "consolidate_invoice_lines", "export_forecast_amounts"):
        if getattr(current, key):
            form[key] = "on"
    form["job_number_mask"] = current.job_number_mask
    for key, value in changes.items():
        if value is False:
            form.pop(key, None)
        else:
            form[key] = value
    return form


def flipped_settings(w) -> dict:
    with dbs(w.app) as s:
        current = settings.load(s)
    return settings_form(current, export_forecast_amounts=False if current.export_forecast_amounts else "on")


def ok_settings(s, w, before):
    current, changes = settings_snapshot(s, w)
    assert current.export_forecast_amounts is not before[0].export_forecast_amounts
    assert current.job_number_mask == before[0].job_number_mask
    assert changes == before[1] + 1
    last = s.scalars(select(SettingChange).order_by(SettingChange.id.desc())).first()
    assert (last.key, last.actor_id) == ("export_forecast_amounts", w.people["erp_admin_no_push"].id)


def restore_settings(w, before):
    with dbs(w.app) as s:
        settings.update(s, s.get(User, w.people["erp_admin_no_push"].id), settings_form(before[0]), direct_export_keys())


# ---- the route table ----------------------------------------------------------------------

def list_url(w, key) -> str:
    return f"/company/{key}" if KINDS[key].scope == "company" else f"/projects/{w.pid}/items/{key}"


def item_url(w, key, state, what) -> str:
    it = w.item(key, state)
    if KINDS[key].scope == "company":
        return f"/company/{key}/{it.id}/{what}"
    return f"/projects/{w.pid}/items/{key}/{it.id}/{what}"


def tab_url(w, key, what) -> str:
    return f"/erp/{key}/{w.item(key, State.READY).erp}/{what}"


def project_side_routes(key: str, viewers: frozenset, creators: frozenset, admins: frozenset) -> list[Route]:
    lst = lambda w, r: list_url(w, key)
    routes = [
        Route(f"{key} list", "GET", lambda w: list_url(w, key), viewers),
        Route(f"{key} new form", "GET", lambda w: list_url(w, key) + "/new", creators),
        Route(f"{key} new save", "POST", lambda w: list_url(w, key) + "/new", creators, 303, location=lst,
              data=NEW_FORMS[key], snapshot=new_count(key), ok_check=ok_created(key)),
        Route(f"{key} edit form", "GET", lambda w: item_url(w, key, State.DRAFT, "edit"), admins),
        Route(f"{key} edit save", "POST", lambda w: item_url(w, key, State.DRAFT, "edit"), admins, 303,
              location=lst, data=EDIT_FORMS[key], snapshot=item_snapshot(key), ok_check=ok_edited(key)),
        Route(f"{key} send", "POST", lambda w: item_url(w, key, State.DRAFT, "send"), admins, 303,
              location=lst, data=lambda w: {}, snapshot=draft_erp(key), ok_check=ok_sent(key)),
        Route(f"{key} retrieve", "POST", lambda w: item_url(w, key, State.READY, "retrieve"), admins, 303,
              location=lst, data=lambda w: {}, snapshot=erp_snapshot(key),
              ok_check=ok_state(key, State.READY, target=State.DRAFT)),
    ]
    if key == SUB_JOBS.key:
        routes.append(Route(f"{key} delete", "POST", lambda w: item_url(w, key, State.DRAFT, "delete"), admins,
                            303, location=lst, data=lambda w: {}, snapshot=exists(key), ok_check=ok_deleted(key)))
    return routes


def tab_routes(key: str) -> list[Route]:
    tab = lambda w, r: f"/erp/{key}"
    routes = [
        Route(f"{key} tab", "GET", lambda w: f"/erp/{key}?filter=ready&q={w.token}", ERP_USERS),
        Route(f"{key} row", "GET", lambda w: tab_url(w, key, "row"), ERP_USERS),
        Route(f"{key} accept form", "GET", lambda w: tab_url(w, key, "accept"), APPROVERS),
        Route(f"{key} reject form", "GET", lambda w: tab_url(w, key, "reject"), APPROVERS),
        Route(f"{key} accept", "POST", lambda w: tab_url(w, key, "accept"), APPROVERS, 303, location=tab,
              data=lambda w: w.accept_data(key), snapshot=erp_snapshot(key), ok_check=ok_accepted(key),
              drain=True),
        Route(f"{key} reject", "POST", lambda w: tab_url(w, key, "reject"), APPROVERS, 303, location=tab,
              data=lambda w: {"reason": "Matrix says no"}, snapshot=erp_snapshot(key),
              ok_check=ok_rejected(key), drain=True),
    ]
    if key in (SUB_JOBS.key, COST_CODES.key):  # their defaults are valid: they can be accepted in bulk
        routes.append(Route(f"{key} bulk accept", "POST", lambda w: f"/erp/{key}/bulk-accept", APPROVERS, 303,
                            location=tab, data=lambda w: {"ids": [str(w.item(key, State.READY).erp)],
                                                          "filter": "ready"},
                            snapshot=erp_snapshot(key), ok_check=ok_accepted(key), drain=True))
    return routes


ROUTES = [
    *project_side_routes(SUB_JOBS.key, PROJECT_VIEWERS, PROJECT_ADMINS, PROJECT_ADMINS),
    *project_side_routes(COST_CODES.key, PROJECT_VIEWERS, PROJECT_ADMINS, PROJECT_ADMINS),
    # the company directory is everyone's to read; site administrators keep it
    *project_side_routes(VENDORS.key, LOGGED_IN, SITE_ADMINS, SITE_ADMINS),
    # every project is listed as a job; site administrators create projects, the project's
    # admins edit and send theirs
    *project_side_routes(JOBS.key, LOGGED_IN, SITE_ADMINS, PROJECT_ADMINS),
    Route("settings page", "GET", lambda w: "/erp/settings", ERP_ADMINS),
    Route("settings save", "POST", lambda w: "/erp/settings", ERP_ADMINS, 303,
          location=lambda w, r: "/erp/settings", data=flipped_settings, snapshot=settings_snapshot,
          ok_check=ok_settings, cleanup=restore_settings),
    *(route for key in KINDS for route in tab_routes(key)),
]
ROUTE_IDS = [r.name.replace(" ", "-") for r in ROUTES]
POST_ROUTES = [r for r in ROUTES if r.method == "POST"]


# ---- the matrix ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_role_route(app, clients, world, drain, role, route):
    check_role_route(app, clients[role], route, world, role, drain)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_anonymous_htmx_request_gets_hx_redirect_to_login(app, world, route):
    before = read(app, route, world)
    response = request(app.test_client(), route, world, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert path_of(response.headers.get("HX-Redirect")) == "/login"
    assert response.get_data() == b"" and "Location" not in response.headers
    assert read(app, route, world) == before


REFUSED_HTMX = [(route, role) for route in POST_ROUTES for role in sorted(LOGGED_IN - route.allowed)]


@pytest.mark.parametrize("route, role", REFUSED_HTMX,
                         ids=[f"{r.name.replace(' ', '-')}-{role}" for r, role in REFUSED_HTMX])
def test_refused_htmx_post_is_a_message_fragment_and_changes_nothing(app, clients, world, route, role):
    before = read(app, route, world)
    response = request(clients[role], route, world, headers={"HX-Request": "true"})
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'role="alert"' in body
    assert response.headers.get("HX-Retarget") == "#messages"
    assert read(app, route, world) == before
