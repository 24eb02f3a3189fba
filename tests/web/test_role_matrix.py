"""Role x route: who may reach every route of every blueprint, and that a refused POST changes nothing.

One table drives it: each route says who is allowed, what success looks like and, for POSTs,
how to read the state the request may change. Every test builds a fresh project world (random
suffixes), so POSTs never depend on order. Requests are made with no app context pushed: a
context held across requests would share flask.g (and Flask-Login's cached user) between them.
"""
from __future__ import annotations

from functools import cached_property
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain import services
from portal.domain.lifecycle import State
from portal.domain.models import (ErpAudit, ErpItem, MailStatus, OutboxMail, SubcontractorInvoice,
                                  ToolLevel, User)
from portal.domain.types import get_type

INVOICES = get_type("subcontractor_invoice")
from tests import factories as f
from tests.conftest import login
from tests.web import roles
from tests.web.roles import (APPROVERS, ERP_USERS, LOGGED_IN, PROJECT_ADMINS, PROJECT_VIEWERS, ROLES,
                             SITE_ADMINS, Route, check_role_route, path_of, read, request)

KEY = INVOICES.key

NullQueue = f.NullQueue
dbs = f.app_session


# ---- people and clients (per module, tests/web/conftest.py) and the world (per test) ------

# "sender" is not a role under test: it sends the items on every fresh project
ROLE_USERS = {**roles.ROLE_USERS, "sender": {}}


class World:
    """A fresh project whose invoices are made on first use, each in the state a route needs."""

    def __init__(self, app, sim, people):
        self.app, self.sim, self.people = app, sim, people
        self.new_username = f"new{f.suffix().lower()}"

    @cached_property
    def _project(self):
        with dbs(self.app) as s:
            setup = f.Setup(s, self.sim)
            for role, level in (("sender", ToolLevel.ADMIN), ("project_admin", ToolLevel.ADMIN),
                                ("project_readonly", ToolLevel.READ_ONLY)):
                f.member(s, s.get(User, self.people[role].id), setup.project, level)
            return setup, setup.project.id

    @property
    def pid(self) -> int:
        return self._project[1]

    def _invoice(self, upto: str) -> SimpleNamespace:
        setup = self._project[0]
        with dbs(self.app) as s:
            s.add_all([setup.project, setup.commitment, setup.line1, setup.line2])  # rows of a closed session
            sender = s.get(User, self.people["sender"].id)
            approver = s.get(User, self.people["approver"].id)
            inv = setup.invoice(s, sender)
            out = SimpleNamespace(id=inv.id, number=inv.number, erp=None)
            if upto == State.DRAFT:
                return out
            out.erp = services.send(s, sender, KEY, inv.id).id
            if upto == State.EXPORTING:
                services.accept(s, approver, out.erp, INVOICES.export_defaults(inv), NullQueue())
            elif upto == State.REJECTED:
                services.reject(s, approver, out.erp, "Wrong period", NullQueue(), "Test Builders",
                                lambda e: "http://portal.test/x")
            return out

    @cached_property
    def _draft(self):
        return self._invoice(State.DRAFT)

    @cached_property
    def _ready(self):
        return self._invoice(State.READY)

    @cached_property
    def _exporting(self):
        return self._invoice(State.EXPORTING)

    @cached_property
    def _rejected(self):
        return self._invoice(State.REJECTED)

    draft = property(lambda self: self._draft.id)
    draft_number = property(lambda self: self._draft.number)
    ready = property(lambda self: self._ready.id)
    ready_number = property(lambda self: self._ready.number)
    erp_ready = property(lambda self: self._ready.erp)
    exporting = property(lambda self: self._exporting.id)
    erp_exporting = property(lambda self: self._exporting.erp)
    rejected = property(lambda self: self._rejected.id)
    erp_rejected = property(lambda self: self._rejected.erp)

    @cached_property
    def mail(self) -> int:
        with dbs(self.app) as s:
            mail = OutboxMail(recipients="nobody@example.com", subject="Matrix", text_body="t",
                              html_body="<p>t</p>", status=MailStatus.FAILED, attempts=5)
            s.add(mail)
            s.commit()
            return mail.id

    @cached_property
    def target(self) -> int:
        with dbs(self.app) as s:
            user = User(username=f"target{f.suffix().lower()}", name="Target Person",
                        email="target@example.com", password_hash="!", erp_level=ToolLevel.NONE,
                        can_push_to_accounting=False, is_site_admin=False, active=True,
                        session_token="t")
            s.add(user)
            s.commit()
            return user.id


@pytest.fixture
def world(app, sim, people):
    """Fresh data per test (random suffixes), so no POST depends on another test."""
    return World(app, sim, people)


# ---- what a route may change -------------------------------------------------------------

def erp_snapshot(attr: str):
    def read(s, w):
        erp = s.get(ErpItem, getattr(w, attr))
        audits = s.scalar(select(func.count()).select_from(ErpAudit).where(ErpAudit.erp_item_id == erp.id))
        mails = s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp.id))
        return (erp.state, erp.attempt, erp.version, erp.job_id, erp.reject_reason, audits, mails)
    return read


def erp_of_invoice(attr: str):
    def read(s, w):
        erp = services.find_erp_item(s, KEY, getattr(w, attr))
        return None if erp is None else (erp.state, erp.version)
    return read


def invoice_snapshot(s, w):
    inv = s.get(SubcontractorInvoice, w.draft)
    return (inv.number, inv.status, inv.total_amount)


def user_snapshot(s, w):
    u = s.get(User, w.target)
    return (u.name, u.email, u.erp_level)


def new_user_snapshot(s, w):
    return s.scalar(select(func.count()).select_from(User).where(User.username == w.new_username))


def mail_snapshot(s, w):
    m = s.get(OutboxMail, w.mail)
    return (m.status, m.attempts)


# ---- what success looks like --------------------------------------------------------------

def ok_accept(s, w, before):
    erp = s.get(ErpItem, w.erp_ready)
    assert erp.state == State.EXPORTING and erp.attempt == 1
    assert erp.job_id == f"export-{erp.id}-1"


def ok_reject(s, w, before):
    erp = s.get(ErpItem, w.erp_ready)
    assert erp.state == State.REJECTED and erp.reject_reason == "Matrix says no"
    assert s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp.id)) == 1


def ok_requeue(s, w, before):
    erp = s.get(ErpItem, w.erp_exporting)
    assert erp.state == State.EXPORTING and erp.attempt == 1
    assert [a.action for a in s.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp.id)
                                        .order_by(ErpAudit.id))][-1] == "requeue"


def ok_sent(s, w, before):
    assert erp_of_invoice("draft")(s, w)[0] == State.READY


def ok_resent(s, w, before):
    assert s.get(ErpItem, w.erp_rejected).state == State.READY


def ok_retrieved(s, w, before):
    assert s.get(ErpItem, w.erp_ready).state == State.DRAFT


def ok_edited(s, w, before):
    inv = s.get(SubcontractorInvoice, w.draft)
    assert inv.number == w.draft_number + "-E"


def ok_user_edited(s, w, before):
    assert s.get(User, w.target).name == "Renamed Person"


def ok_user_created(s, w, before):
    assert new_user_snapshot(s, w) == 1


def ok_mail_retried(s, w, before):
    assert s.get(OutboxMail, w.mail).status == MailStatus.PENDING


# ---- the route table ----------------------------------------------------------------------

def erp(w, suffix: str, attr: str = "erp_ready") -> str:
    return f"/erp/{KEY}/{getattr(w, attr)}/{suffix}"


def project(w, suffix: str = "") -> str:
    return f"/projects/{w.pid}{suffix}"


def invoice(w, attr: str, suffix: str = "") -> str:
    return f"/projects/{w.pid}/invoices/{getattr(w, attr)}{suffix}"


def edit_form(w) -> dict:
    return {"number": w.draft_number + "-E", "status": "Approved", "billing_date": "2026-10-31",
            "period_start": "2026-10-01", "period_end": "2026-10-31"}


def _home_location(role):
    return "/erp/" if role in ERP_USERS else "/projects/"


ROUTES = [
    # auth
    Route("home", "GET", lambda w: "/", LOGGED_IN, 302, location=lambda w, r: _home_location(r)),
    Route("login page", "GET", lambda w: "/login", frozenset(ROLES), 200, anon_location=None),
    # erp
    Route("erp index", "GET", lambda w: "/erp/", ERP_USERS, 302, location=lambda w, r: f"/erp/{KEY}"),
    Route("erp tab", "GET", lambda w: f"/erp/{KEY}", ERP_USERS),
    Route("erp tab failed", "GET", lambda w: f"/erp/{KEY}?filter=failed&q=x", ERP_USERS),
    Route("erp row", "GET", lambda w: erp(w, "row"), ERP_USERS),
    Route("erp status", "GET", lambda w: erp(w, "status", "erp_exporting"), ERP_USERS),
    Route("accept form", "GET", lambda w: erp(w, "accept"), APPROVERS),
    Route("reject form", "GET", lambda w: erp(w, "reject"), APPROVERS),
    Route("accept", "POST", lambda w: erp(w, "accept"), APPROVERS, 303,
          location=lambda w, r: f"/erp/{KEY}",
          data=lambda w: {"erp_id": w.ready_number, "description": "Matrix",
                          "accounting_date": "2026-10-31"},
          snapshot=erp_snapshot("erp_ready"), ok_check=ok_accept, drain=True),
    Route("reject", "POST", lambda w: erp(w, "reject"), APPROVERS, 303,
          location=lambda w, r: f"/erp/{KEY}", data=lambda w: {"reason": "Matrix says no"},
          snapshot=erp_snapshot("erp_ready"), ok_check=ok_reject, drain=True),
    Route("requeue", "POST", lambda w: erp(w, "requeue", "erp_exporting"), APPROVERS, 303,
          location=lambda w, r: f"/erp/{KEY}", data=lambda w: {},
          snapshot=erp_snapshot("erp_exporting"), ok_check=ok_requeue, drain=True),
    Route("bulk accept", "POST", lambda w: f"/erp/{KEY}/bulk-accept", APPROVERS, 303,
          location=lambda w, r: f"/erp/{KEY}",
          data=lambda w: {"ids": [str(w.erp_ready)], "filter": "ready"},
          snapshot=erp_snapshot("erp_ready"), ok_check=ok_accept, drain=True),
    # projects
    Route("projects index", "GET", lambda w: "/projects/", LOGGED_IN),
    Route("project show", "GET", lambda w: project(w), LOGGED_IN, 302,
          location=lambda w, r: project(w, "/invoices")),
    Route("project invoices", "GET", lambda w: project(w, "/invoices"), PROJECT_VIEWERS),
    Route("invoice page", "GET", lambda w: invoice(w, "ready"), PROJECT_VIEWERS),
    Route("send", "POST", lambda w: invoice(w, "draft", "/send"), PROJECT_ADMINS, 303,
          location=lambda w, r: invoice(w, "draft"), data=lambda w: {},
          snapshot=erp_of_invoice("draft"), ok_check=ok_sent),
    Route("resend", "POST", lambda w: invoice(w, "rejected", "/send"), PROJECT_ADMINS, 303,
          location=lambda w, r: invoice(w, "rejected"), data=lambda w: {},
          snapshot=erp_snapshot("erp_rejected"),
          ok_check=ok_resent),
    Route("retrieve", "POST", lambda w: invoice(w, "ready", "/retrieve"), PROJECT_ADMINS, 303,
          location=lambda w, r: invoice(w, "ready"), data=lambda w: {},
          snapshot=erp_snapshot("erp_ready"), ok_check=ok_retrieved),
    Route("edit form", "GET", lambda w: invoice(w, "draft", "/edit"), PROJECT_ADMINS),
    Route("edit save", "POST", lambda w: invoice(w, "draft", "/edit"), PROJECT_ADMINS, 303,
          location=lambda w, r: invoice(w, "draft"), data=edit_form,
          snapshot=invoice_snapshot, ok_check=ok_edited),
    # admin
    Route("users", "GET", lambda w: "/admin/users", SITE_ADMINS),
    Route("new user form", "GET", lambda w: "/admin/users/new", SITE_ADMINS),
    Route("new user save", "POST", lambda w: "/admin/users/new", SITE_ADMINS, 303,
          location=None,
          data=lambda w: {"username": w.new_username, "name": "New Person",
                          "email": "new@example.com", "password": "long-enough-1",
                          "erp_level": ToolLevel.NONE},
          snapshot=new_user_snapshot, ok_check=ok_user_created),
    Route("edit user form", "GET", lambda w: f"/admin/users/{w.target}", SITE_ADMINS),
    Route("edit user save", "POST", lambda w: f"/admin/users/{w.target}", SITE_ADMINS, 303,
          location=lambda w, r: f"/admin/users/{w.target}",
          data=lambda w: {"name": "Renamed Person", "email": "target@example.com",
                          "erp_level": ToolLevel.NONE, "active": "on"},
          snapshot=user_snapshot, ok_check=ok_user_edited),
    Route("mail list", "GET", lambda w: "/admin/mail", SITE_ADMINS),
    Route("mail show", "GET", lambda w: f"/admin/mail/{w.mail}", SITE_ADMINS),
    Route("mail retry", "POST", lambda w: f"/admin/mail/{w.mail}/retry", SITE_ADMINS, 303,
          location=lambda w, r: f"/admin/mail/{w.mail}", data=lambda w: {},
          snapshot=mail_snapshot, ok_check=ok_mail_retried, drain=True),
]
ROUTE_IDS = [r.name.replace(" ", "-") for r in ROUTES]


# ---- the matrix ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_role_route(app, clients, world, drain, role, route):
    check_role_route(app, clients[role], route, world, role, drain)


# "/" is a bare redirect that a boosted link follows to the full login page; every other route
# must answer an htmx request that lost its session with HX-Redirect, not a login form.
@pytest.mark.parametrize("route", [r for r in ROUTES if r.anon_location and r.name != "home"],
                         ids=lambda r: r.name)
def test_anonymous_htmx_request_gets_hx_redirect_to_login(app, world, route):
    response = request(app.test_client(), route, world, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert path_of(response.headers.get("HX-Redirect")) == "/login"
    assert response.get_data() == b""
    assert "Location" not in response.headers


@pytest.mark.parametrize("role", sorted(LOGGED_IN - APPROVERS))
@pytest.mark.parametrize("route", [r for r in ROUTES if r.allowed == APPROVERS and r.method == "POST"],
                         ids=lambda r: r.name)
def test_htmx_decision_refused_is_a_message_fragment_and_changes_nothing(app, clients, world, role, route):
    before = read(app, route, world)
    response = request(clients[role], route, world, headers={"HX-Request": "true"})
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'role="alert"' in body
    assert response.headers.get("HX-Retarget") == "#messages"
    assert read(app, route, world) == before


@pytest.mark.parametrize("role", sorted(LOGGED_IN))
def test_logout_is_post_only_and_signs_out(app, people, role):
    client = login(app.test_client(), people[role])
    assert client.get("/logout").status_code == 405
    assert client.get("/projects/").status_code == 200  # still signed in after the GET
    response = client.post("/logout")
    assert response.status_code == 303 and path_of(response.location) == "/login"
    after = client.get("/projects/")
    assert after.status_code == 302 and path_of(after.location) == "/login"


def test_anonymous_logout_goes_to_login(app):
    response = app.test_client().post("/logout")
    assert response.status_code == 302 and path_of(response.location) == "/login"
    assert app.test_client().get("/logout").status_code == 405
