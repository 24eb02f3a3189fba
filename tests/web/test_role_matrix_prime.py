"""Role x route for the prime contract item types: the project-side pages of prime contract
change orders (PCCOs, "pcco") and owner invoices ("owner_invoice") -- list, new, edit, send,
retrieve -- and their ERP tabs (tab, row, status, Accept / Reject forms and posts, bulk accept).

The approach and roles are test_role_matrix_financial.py's: one table says who is allowed, what
success looks like and, for POSTs, how to read the state the request may change, so a refused
POST is shown to change nothing. Requests that cannot change anything run against one world
made once per module; a POST by an allowed role gets a world of its own.
"""
from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain import items, services
from portal.domain.lifecycle import State
from portal.domain.models import (ErpAudit, ErpItem, OutboxMail, OwnerInvoice, OwnerInvoiceLine, PrimeChangeOrder,
                                  PrimeChangeOrderLine, PrimeContract, PrimeContractItem, ProjectMember,
                                  ToolLevel, User)
from portal.exporters.sage300.connectors import make_connector
from tests import factories as f
from tests.web import roles
from tests.web.roles import (APPROVERS, ERP_USERS, LOGGED_IN, PROJECT_ADMINS, PROJECT_VIEWERS, ROLES, Route,
                             check_role_route, read, request)

TYPES = ("pcco", "owner_invoice")
MODELS = {"pcco": PrimeChangeOrder, "owner_invoice": OwnerInvoice}
LINES = {"pcco": (PrimeChangeOrderLine, PrimeChangeOrderLine.pcco_id),
         "owner_invoice": (OwnerInvoiceLine, OwnerInvoiceLine.invoice_id)}

dbs = f.app_session

# people and clients: per module, tests/web/conftest.py
# "sender" is not a role under test: it makes and sends the items every test starts from
ROLE_USERS = {**roles.ROLE_USERS, "sender": {}}


class World:
    """One synced project with a synced prime contract; items made on first use in a state."""

    def __init__(self, app, sim, people):
        self.app, self.sim, self.people = app, sim, people
        self.token = f.suffix(8)
        self._items: dict = {}

    @cached_property
    def home(self) -> SimpleNamespace:
        with dbs(self.app) as s:
            setup = f.Setup(s, self.sim)
            for role, level in (("sender", ToolLevel.ADMIN), ("project_admin", ToolLevel.ADMIN),
                                ("project_readonly", ToolLevel.READ_ONLY)):
                s.add(ProjectMember(user_id=self.people[role].id, project_id=setup.project.id, level=level))
            number, customer = f"PC{f.suffix(6)}", f"CU{f.suffix(6)}"
            pc = PrimeContract(project_id=setup.project.id, number=number, title="Owner contract",
                               status="Approved", sage_contract_id=number, customer=customer)
            s.add(pc)
            s.flush()
            item = PrimeContractItem(contract_id=pc.id, code="100", description="Sitework", amount=Decimal("400000"))
            s.add(item)
            s.commit()
            self.sim.add_contract(number, setup.project.sage_job_id, "Owner contract",
                                  items=[("100", "Sitework", 400000)])
            self.sim.add_customer(customer, "City of Springfield")
            return SimpleNamespace(id=setup.project.id, sub=setup.sub.id, contract=pc.id, item=item.id)

    def form(self, key: str, title: str) -> dict:
        p = self.home
        if key == "pcco":
            return {"contract_id": str(p.contract), "number": f"P-{f.suffix(6)}", "title": title,
                    "status": "Approved", "line-0-contract_item_id": str(p.item),
                    "line-0-category_id": str(p.sub), "line-0-amount": "250"}
        # the number is the default Invoice (ERP ID): 15 characters at most, for bulk accept
        number = f"M-{self.token}" if title.startswith("Matrix") else f"I-{f.suffix(8)}"
        return {"contract_id": str(p.contract), "number": number,
                "period_start": "2026-10-01", "period_end": "2026-10-31", "billing_date": "2026-10-31",
                "status": "Approved", "line-0-contract_item_id": str(p.item), "line-0-amount": "1000",
                "line-0-retainage": "100"}

    def item(self, key: str, state: str) -> SimpleNamespace:
        if (key, state) not in self._items:
            with dbs(self.app) as s:
                sender = s.get(User, self.people["sender"].id)
                made = items.save_item(s, sender, key, self.home.id, None,
                                       self.form(key, f"Item {self.token} {f.suffix(4)}"))
                out = SimpleNamespace(id=made.id, pid=self.home.id, number=made.number, erp=None)
                if state != State.DRAFT:
                    out.erp = services.send(s, sender, key, made.id).id
                self._items[key, state] = out
        return self._items[key, state]

    def accept_data(self, key: str) -> dict:
        if key == "pcco":
            return {"transaction_date": "2026-11-20"}
        return {"erp_id": f"I{f.suffix(8)}", "accounting_date": "2026-10-31"}


@pytest.fixture(scope="module")
def shared(app, people):
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
    def read(s, w):
        model = MODELS[key]
        item = s.get(model, w.item(key, State.DRAFT).id)
        if item is None:
            return None
        line_model, fk = LINES[key]
        lines = s.scalars(select(line_model).where(fk == item.id).order_by(line_model.id)).all()
        return (tuple(getattr(item, c.key) for c in model.__table__.columns),
                tuple(tuple(getattr(l, c.key) for c in line_model.__table__.columns if c.key != "id")
                      for l in lines))
    return read


def new_count(key: str):
    def read(s, w):
        model = MODELS[key]
        where = [model.project_id == w.home.id]
        where.append(model.title == f"Matrix {w.token}" if key == "pcco" else model.number == f"M-{w.token}")
        return s.scalar(select(func.count()).select_from(model).where(*where))
    return read


def edit_form(key):
    def data(w):
        form = w.form(key, f"Renamed {w.token}")
        form["number"] = w.item(key, State.DRAFT).number
        form["line-0-amount"] = "4321"
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
        assert any(Decimal("4321.00") in line for line in after[1])
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


def list_url(w, key) -> str:
    return f"/projects/{w.home.id}/items/{key}"


def item_url(w, key, state, what) -> str:
    it = w.item(key, state)
    return f"/projects/{it.pid}/items/{key}/{it.id}/{what}"


def tab_url(w, key, what) -> str:
    return f"/erp/{key}/{w.item(key, State.READY).erp}/{what}"


def project_side_routes(key: str) -> list[Route]:
    back = lambda w, r: list_url(w, key)
    return [
        Route(f"{key} list", "GET", lambda w: list_url(w, key), PROJECT_VIEWERS),
        Route(f"{key} new form", "GET", lambda w: list_url(w, key) + "/new", PROJECT_ADMINS),
        Route(f"{key} new save", "POST", lambda w: list_url(w, key) + "/new", PROJECT_ADMINS, (303,),
              location=back, data=lambda w: w.form(key, f"Matrix {w.token}"), snapshot=new_count(key),
              ok_check=ok_created(key)),
        Route(f"{key} edit form", "GET", lambda w: item_url(w, key, State.DRAFT, "edit"), PROJECT_ADMINS),
        Route(f"{key} edit save", "POST", lambda w: item_url(w, key, State.DRAFT, "edit"), PROJECT_ADMINS, (303,),
              location=back, data=edit_form(key), snapshot=item_snapshot(key), ok_check=ok_edited(key)),
        Route(f"{key} send", "POST", lambda w: item_url(w, key, State.DRAFT, "send"), PROJECT_ADMINS, (303,),
              location=back, data=lambda w: {}, snapshot=draft_erp(key), ok_check=ok_sent(key)),
        Route(f"{key} retrieve", "POST", lambda w: item_url(w, key, State.READY, "retrieve"), PROJECT_ADMINS,
              (303,), location=back, data=lambda w: {}, snapshot=erp_snapshot(key), ok_check=ok_retrieved(key)),
    ]


def tab_routes(key: str) -> list[Route]:
    tab = lambda w, r: f"/erp/{key}"
    return [
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
        Route(f"{key} bulk accept", "POST", lambda w: f"/erp/{key}/bulk-accept", APPROVERS, (303,),
              location=tab, data=lambda w: {"ids": [str(w.item(key, State.READY).erp)], "filter": "ready"},
              snapshot=erp_snapshot(key), ok_check=ok_accepted(key), drain=True),
    ]


ROUTES = [*(r for key in TYPES for r in project_side_routes(key)), *(r for key in TYPES for r in tab_routes(key))]
ROUTE_IDS = [r.name.replace(" ", "-") for r in ROUTES]
POST_ROUTES = [r for r in ROUTES if r.method == "POST"]


def world_for(app, shared, people, route: Route, role: str) -> World:
    if route.method == "POST" and role in route.allowed:
        return World(app, shared.sim, people)
    return shared


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_role_route(app, clients, shared, people, drain, role, route):
    world = world_for(app, shared, people, route, role)
    check_role_route(app, clients[role], route, world, role, drain)


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
