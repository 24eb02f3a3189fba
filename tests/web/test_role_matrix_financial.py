"""Role x route for the financial item types: the project-side pages of commitments, commitment
change orders (CCOs), budgets and budget changes (list, new, edit, send, retrieve, delete), and
their ERP tabs (tab, row, status, Accept / Reject forms and posts, bulk accept).

One table drives it, as in test_role_matrix_setup.py: each route says who is allowed, what
success looks like and, for POSTs, how to read the state the request may change, so a refused
POST is shown to change nothing. The roles are the setup matrix's.

To stay quick, every request that cannot change anything (a GET, or a POST by a role that must
be refused) runs against one world made once per module; a POST by an allowed role gets a world
of its own. Requests are made with no app context pushed (a context held across requests would
share flask.g).
"""
from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain import items, services
from portal.domain.lifecycle import State
from portal.domain.models import (Budget, BudgetChange, BudgetChangeLine, BudgetLine, CCOLine, Commitment,
                                  CommitmentChangeOrder, CommitmentLine, ErpAudit, ErpItem, OutboxMail,
                                  ProjectMember, ToolLevel, User)
from portal.exporters.sage300.connectors import make_connector
from tests import factories as f
from tests.web import roles
from tests.web.roles import (APPROVERS, ERP_USERS, LOGGED_IN, PROJECT_ADMINS, PROJECT_VIEWERS, ROLES, Route,
                             check_role_route, path_of, read, request)

TYPES = ("commitment", "cco", "budget", "budget_change")
MODELS = {"commitment": Commitment, "cco": CommitmentChangeOrder, "budget": Budget, "budget_change": BudgetChange}
LINES = {"commitment": (CommitmentLine, CommitmentLine.commitment_id),
         "cco": (CCOLine, CCOLine.cco_id),
         "budget": (BudgetLine, BudgetLine.budget_id),
         "budget_change": (BudgetChangeLine, BudgetChangeLine.change_id)}

dbs = f.app_session


# ---- people and clients (per module, tests/web/conftest.py) and the worlds ----------------

# "sender" is not a role under test: it makes and sends the items every test starts from
ROLE_USERS = {**roles.ROLE_USERS, "sender": {}}


class World:
    """Synced projects and fresh items, each made on first use in the state a route needs."""

    def __init__(self, app, sim, people):
        self.app, self.sim, self.people = app, sim, people
        self.token = f.suffix(8)
        self._items: dict = {}

    def user(self, s, role) -> User:
        return s.get(User, self.people[role].id)

    def project(self, *, locked_budget: bool = False) -> SimpleNamespace:
        """factories.Setup: sender and project_admin Admin on it, project_readonly Read Only."""
        with dbs(self.app) as s:
            setup = f.Setup(s, self.sim)
            for role, level in (("sender", ToolLevel.ADMIN), ("project_admin", ToolLevel.ADMIN),
                                ("project_readonly", ToolLevel.READ_ONLY)):
                s.add(ProjectMember(user_id=self.people[role].id, project_id=setup.project.id, level=level))
            if locked_budget:  # a budget already exported: budget changes can be sent
                budget = Budget(project_id=setup.project.id, locked=True)
                s.add(budget)
                s.flush()
                s.add(BudgetLine(budget_id=budget.id, category_id=setup.sub.id, original=Decimal("50000")))
            s.commit()
            return SimpleNamespace(id=setup.project.id, vendor=setup.vendor.id, commitment=setup.commitment.id,
                                   line1=setup.line1.id, sub=setup.sub.id, mat=setup.mat.id)

    @cached_property
    def home(self) -> SimpleNamespace:
        """Commitments, CCOs and budget changes live here."""
        return self.project(locked_budget=True)

    @cached_property
    def budget_home(self) -> SimpleNamespace:
        """A project without a budget: the "new budget" POST adds one."""
        return self.project()

    def form(self, key: str, p: SimpleNamespace, title: str) -> dict:
        if key == "commitment":
            return {"number": f"SC-{f.suffix(6)}", "title": title, "commitment_type": "subcontract", "vendor_id": str(p.vendor),
                    "status": "Approved", "line-0-description": "Membrane", "line-0-category_id": str(p.sub),
                    "line-0-amount": "1000"}
        if key == "cco":
            return {"commitment_id": str(p.commitment), "number": f"CO-{f.suffix(6)}", "title": title,
                    "status": "Approved", "line-0-commitment_line_id": str(p.line1), "line-0-amount": "250"}
        if key == "budget":
            return {"line-0-category_id": str(p.sub), "line-0-original": "1000"}
        return {"number": title.replace(" ", "-")[:36], "line-0-category_id": str(p.sub), "line-0-amount": "-100",
                "line-1-category_id": str(p.mat), "line-1-amount": "100"}

    def item(self, key: str, state: str) -> SimpleNamespace:
        if (key, state) not in self._items:
            self._items[key, state] = self._make(key, state)
        return self._items[key, state]

    def _make(self, key: str, state: str) -> SimpleNamespace:
        p = self.project() if key == "budget" else self.home
        with dbs(self.app) as s:
            sender = self.user(s, "sender")
            item = items.save_item(s, sender, key, p.id, None, self.form(key, p, f"Item {self.token}"))
            out = SimpleNamespace(id=item.id, pid=p.id, p=p, erp=None)
            if state != State.DRAFT:
                out.erp = services.send(s, sender, key, item.id).id
            return out

    def accept_data(self, key: str) -> dict:
        return {"commitment": {"sage_id": f"C{f.suffix(8)}"}, "cco": {"cco_id": f"X{f.suffix(8)}"},
                "budget": {"export_forecast": "on"}, "budget_change": {}}[key]


@pytest.fixture(scope="module")
def shared(app, people):
    """The world of every request that must not change anything."""
    return World(app, make_connector(app.config).sim, people)


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
    """The draft item's columns and lines (what an edit changes; None once deleted)."""
    def read(s, w):
        model = MODELS[key]
        item = s.get(model, w.item(key, State.DRAFT).id)
        if item is None:
            return None
        line_model, fk = LINES[key]
        lines = s.scalars(select(line_model).where(fk == item.id).order_by(line_model.id)).all()
        return (tuple(getattr(item, c.key) for c in model.__table__.columns),
                tuple(tuple(getattr(l, c.key) for c in line_model.__table__.columns) for l in lines))
    return read


def new_target(w, key):
    return w.budget_home if key == "budget" else w.home


def new_count(key: str):
    def read(s, w):
        model = MODELS[key]
        where = [model.project_id == new_target(w, key).id]
        if key in ("commitment", "cco"):
            where.append(model.title == f"Matrix {w.token}")
        elif key == "budget_change":
            where.append(model.number == f"Matrix-{w.token}")
        return s.scalar(select(func.count()).select_from(model).where(*where))
    return read


def new_form(key):
    return lambda w: w.form(key, new_target(w, key), f"Matrix {w.token}")


def edit_form(key):
    def data(w):
        form = w.form(key, w.item(key, State.DRAFT).p, f"Renamed {w.token}")
        if key == "budget":
            form["line-0-original"] = "4321"
        if key in ("commitment", "cco"):
            with dbs(w.app) as s:
                form["number"] = s.get(MODELS[key], w.item(key, State.DRAFT).id).number
        return form
    return data


def ok_created(key):
    def check(s, w, before):
        assert new_count(key)(s, w) == before + 1
    return check


def ok_edited(key):
    def check(s, w, before):
        after = item_snapshot(key)(s, w)
        assert after != before
        if key == "budget":
            assert Decimal("4321.00") in after[1][0]  # the line's original budget
        else:
            assert f"Renamed {w.token}" in after[0]
    return check


def ok_unchanged(snapshot):
    def check(s, w, before):
        assert snapshot(s, w) == before
    return check


def ok_sent(key):
    def check(s, w, before):
        assert draft_erp(key)(s, w)[0] == State.READY
    return check


def ok_retrieved(key):
    def check(s, w, before):
        assert s.get(ErpItem, w.item(key, State.READY).erp).state == State.DRAFT
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


# ---- the route table ----------------------------------------------------------------------

def list_url(w, key) -> str:
    p = w.budget_home if key == "budget" else w.home
    return f"/projects/{p.id}/items/{key}"


def item_url(w, key, state, what) -> str:
    it = w.item(key, state)
    return f"/projects/{it.pid}/items/{key}/{it.id}/{what}"


def tab_url(w, key, what) -> str:
    return f"/erp/{key}/{w.item(key, State.READY).erp}/{what}"


def project_side_routes(key: str) -> list[Route]:
    back = lambda w, r: f"/projects/{w.item(key, State.DRAFT).pid}/items/{key}"
    back_ready = lambda w, r: f"/projects/{w.item(key, State.READY).pid}/items/{key}"
    never_edited = key == "budget_change"
    return [
        Route(f"{key} list", "GET", lambda w: list_url(w, key), PROJECT_VIEWERS),
        Route(f"{key} new form", "GET", lambda w: list_url(w, key) + "/new", PROJECT_ADMINS),
        Route(f"{key} new save", "POST", lambda w: list_url(w, key) + "/new", PROJECT_ADMINS, (303,),
              location=lambda w, r: list_url(w, key), data=new_form(key), snapshot=new_count(key),
              ok_check=ok_created(key)),
        # a budget change is never edited: its edit page may say so (200) or refuse (409)
        Route(f"{key} edit form", "GET", lambda w: item_url(w, key, State.DRAFT, "edit"), PROJECT_ADMINS,
              (200, 409) if never_edited else (200,)),
        Route(f"{key} edit save", "POST", lambda w: item_url(w, key, State.DRAFT, "edit"), PROJECT_ADMINS,
              (409, 422) if never_edited else (303,), location=None if never_edited else back,
              data=edit_form(key), snapshot=item_snapshot(key),
              ok_check=ok_unchanged(item_snapshot(key)) if never_edited else ok_edited(key)),
        Route(f"{key} send", "POST", lambda w: item_url(w, key, State.DRAFT, "send"), PROJECT_ADMINS, (303,),
              location=back, data=lambda w: {}, snapshot=draft_erp(key), ok_check=ok_sent(key)),
        Route(f"{key} retrieve", "POST", lambda w: item_url(w, key, State.READY, "retrieve"), PROJECT_ADMINS,
              (303,), location=back_ready, data=lambda w: {}, snapshot=erp_snapshot(key),
              ok_check=ok_retrieved(key)),
        # no financial type can be deleted: a project admin is told so (409), nobody else may try
        Route(f"{key} delete", "POST", lambda w: item_url(w, key, State.DRAFT, "delete"), PROJECT_ADMINS, (409,),
              data=lambda w: {}, snapshot=item_snapshot(key), ok_check=ok_unchanged(item_snapshot(key))),
    ]


def tab_routes(key: str) -> list[Route]:
    tab = lambda w, r: f"/erp/{key}"
    routes = [
        Route(f"{key} tab", "GET", lambda w: f"/erp/{key}?filter=ready&q={w.token}", ERP_USERS),
        Route(f"{key} row", "GET", lambda w: tab_url(w, key, "row"), ERP_USERS),
        Route(f"{key} status", "GET", lambda w: tab_url(w, key, "status"), ERP_USERS, (286,)),
        Route(f"{key} accept form", "GET", lambda w: tab_url(w, key, "accept"), APPROVERS),
        Route(f"{key} reject form", "GET", lambda w: tab_url(w, key, "reject"), APPROVERS),
        Route(f"{key} accept", "POST", lambda w: tab_url(w, key, "accept"), APPROVERS, (303,), location=tab,
              data=lambda w: w.accept_data(key), snapshot=erp_snapshot(key), ok_check=ok_accepted(key),
              drain=True),
        Route(f"{key} reject", "POST", lambda w: tab_url(w, key, "reject"), APPROVERS, (303,), location=tab,
              data=lambda w: {"reason": "Matrix says no"}, snapshot=erp_snapshot(key),
              ok_check=ok_rejected(key), drain=True),
    ]
    if key != "commitment":  # a commitment's default Sage ID is empty unless a company setting is on
        routes.append(Route(f"{key} bulk accept", "POST", lambda w: f"/erp/{key}/bulk-accept", APPROVERS, (303,),
                            location=tab, data=lambda w: {"ids": [str(w.item(key, State.READY).erp)],
                                                          "filter": "ready"},
                            snapshot=erp_snapshot(key), ok_check=ok_accepted(key), drain=True))
    return routes


ROUTES = [*(r for key in TYPES for r in project_side_routes(key)), *(r for key in TYPES for r in tab_routes(key))]
ROUTE_IDS = [r.name.replace(" ", "-") for r in ROUTES]
POST_ROUTES = [r for r in ROUTES if r.method == "POST"]


def world_for(app, shared, people, route: Route, role: str) -> World:
    """A world of its own for a request allowed to change state; the shared one otherwise."""
    if route.method == "POST" and role in route.allowed:
        return World(app, shared.sim, people)
    return shared


# ---- the matrix ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_role_route(app, clients, shared, people, drain, role, route):
    world = world_for(app, shared, people, route, role)
    check_role_route(app, clients[role], route, world, role, drain)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_anonymous_htmx_request_gets_hx_redirect_to_login(app, shared, route):
    before = read(app, route, shared)
    response = request(app.test_client(), route, shared, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert path_of(response.headers.get("HX-Redirect")) == "/login"
    assert response.get_data() == b"" and "Location" not in response.headers
    assert read(app, route, shared) == before


REFUSED_HTMX = [(route, role) for route in POST_ROUTES for role in sorted(LOGGED_IN - route.allowed)]


@pytest.mark.parametrize("route, role", REFUSED_HTMX,
                         ids=[f"{r.name.replace(' ', '-')}-{role}" for r, role in REFUSED_HTMX])
def test_refused_htmx_post_is_a_message_fragment_and_changes_nothing(app, clients, shared, route, role):
    before = read(app, route, shared)
    response = request(clients[role], route, shared, headers={"HX-Request": "true"})
    assert response.status_code == 403, response.status_code
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'role="alert"' in body
    assert response.headers.get("HX-Retarget") == "#messages"
    assert read(app, route, shared) == before
