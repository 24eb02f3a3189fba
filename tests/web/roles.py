"""The roles web tests sign in as, the role sets route tables use, and the role x route check.

A Case is one route's expectations: who may reach it, what success looks like, what a refused
request must leave alone. `check_route` makes the route's request as every role and returns
what went wrong, one line per role, so a test can name each failing role of a route at once.
Requests are made with no app context pushed (a context held across requests would share
flask.g, and with it Flask-Login's cached user); state is read in short app sessions between.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlsplit

from portal.domain.models import ToolLevel
from tests import items as it
from tests.conftest import login
from tests.factories import app_session, make_user

ANON = "anonymous"
ROLES = [ANON, "none", "readonly", "standard", "approver", "erp_admin_no_push", "project_admin",
         "project_readonly", "site_admin"]
ROLE_USERS = {
    "none": dict(),
    "readonly": dict(erp_level=ToolLevel.READ_ONLY),
    "standard": dict(erp_level=ToolLevel.STANDARD),
    "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
    "erp_admin_no_push": dict(erp_level=ToolLevel.ADMIN),
    "project_admin": dict(),  # the project roles get their level on each test's projects
    "project_readonly": dict(),
    "site_admin": dict(site_admin=True),
}
# The project roles' level on every project a test makes (tests/items.Home.members).
PROJECT_LEVELS = {"project_admin": ToolLevel.ADMIN, "project_readonly": ToolLevel.READ_ONLY}

LOGGED_IN = frozenset(ROLES) - {ANON}
EVERYONE = frozenset(ROLES)
ERP_USERS = frozenset({"readonly", "standard", "approver", "erp_admin_no_push"})
ERP_ADMINS = frozenset({"erp_admin_no_push"})
APPROVERS = frozenset({"approver"})
IMPORTERS = frozenset({"approver", "erp_admin_no_push"})     # accounting approvers and ERP Admins
# Standard and Admin on ERP Integrations: add or archive Sage vendors (the guide's permissions table)
COMPANY_MANAGERS = frozenset({"standard", "approver", "erp_admin_no_push"})
STANDARD_UP = COMPANY_MANAGERS  # Standard and Admin on ERP Integrations: assign default cost types
PROJECT_VIEWERS = frozenset({"project_admin", "project_readonly", "site_admin"})
PROJECT_ADMINS = frozenset({"project_admin", "site_admin"})
SITE_ADMINS = frozenset({"site_admin"})

HX = {"HX-Request": "true"}


def make_people(app, role_users: dict) -> dict[str, SimpleNamespace]:
    """One new user per role (role -> factories.make_user kwargs), as ids and names."""
    with app_session(app) as s:
        made = {role: make_user(s, **kw) for role, kw in role_users.items()}
        return {role: SimpleNamespace(id=u.id, username=u.username, email=u.email, name=u.name)
                for role, u in made.items()}


def signed_in_clients(app, people: dict) -> dict:
    """An anonymous test client under ANON and one signed in per role of `people`."""
    return {ANON: app.test_client(), **{role: login(app.test_client(), p) for role, p in people.items()}}


def members(people) -> dict:
    """user id -> level: the project roles on a test's projects."""
    return {people[role].id: level for role, level in PROJECT_LEVELS.items() if role in people}


def path_of(location: str | None) -> str:
    """The path of a URL (a redirect's Location), '' for none."""
    return urlsplit(location or "").path


# ---- one route's expectations ------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One route of the role x route table."""
    method: str
    url: Callable                      # world -> url
    allowed: frozenset                 # roles that succeed; every other signed-in role is refused
    ok: tuple = (200,)                 # the statuses an allowed role may get
    location: Callable | None = None   # (world, role) -> the path a successful redirect goes to
    data: Callable | None = None       # world -> form data (POST) or JSON body (API)
    snapshot: Callable | None = None   # (session, world) -> the state a refused request must leave alone
    ok_check: Callable | None = None   # (session, world, before) -> the state after success
    drain: bool = False                # success queues jobs: run them so none outlives the test
    anon: str | None = "login"         # "login": anonymous goes to /login; "token": 401 (API); None: a role
    refused: int = 403
    api: bool = False                  # JSON API: the role's token, JSON in and out, no htmx
    hx_anon: bool = True               # an anonymous htmx request gets HX-Redirect (not "/": a bare redirect)
    own_client: bool = False           # success signs the client out: each role gets a client of its own
    cleanup: Callable | None = None    # (world, before): put company-wide state back after a success

    @property
    def changes(self) -> bool:
        """Success changes state: each allowed role gets data of its own."""
        return self.ok_check is not None and self.method != "GET"


def item_snapshot(key):
    """A snapshot of the world's item of type `key` (what a refused request must leave alone)."""
    def read(s, w):
        return it.snapshot(s, key, w.item(key).id)
    return read


def unchanged(snapshot):
    """A success that changes nothing (a 409, a 422): the snapshot is as before."""
    def check(s, w, before):
        assert snapshot(s, w) == before, "changed"
    return check


def read(app, case: Case, world):
    if case.snapshot is None:
        return None
    with app_session(app) as s:
        return case.snapshot(s, world)


def request(client, case: Case, world, token: str | None = None, headers: dict | None = None):
    """Make the case's request in `world` (with the role's API token for the API)."""
    url = case.url(world)
    data = case.data(world) if case.data else None
    if case.api:
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return client.open(url, method=case.method, json=data, headers=auth)
    if case.method == "GET":
        return client.get(url, headers=headers)
    return client.open(url, method=case.method, data=data or {}, headers=headers)


def body(response) -> str:
    return response.get_data(as_text=True)


def check_role(app, client, case: Case, world, role: str, drain, token=None) -> None:
    """One role's request: anonymous to login (or 401), allowed roles succeed, the rest refused with
    a page (JSON for the API) and the state left alone."""
    before = read(app, case, world)
    response = request(client, case, world, token)
    status, text = response.status_code, body(response)
    if not case.api:
        assert "HX-Request" in response.headers.get("Vary", ""), "no Vary: HX-Request"
    if role == ANON and case.anon == "login":
        assert status == 302 and path_of(response.location) == "/login", (status, response.location, text[:200])
        assert read(app, case, world) == before, "an anonymous request changed state"
    elif role == ANON and case.anon == "token":
        assert status == 401 and "error" in response.get_json(), (status, text[:200])
        assert read(app, case, world) == before, "a request without a token changed state"
    elif role in case.allowed:
        try:
            assert status in case.ok, (status, response.location, text[:400])
            if case.location:
                assert path_of(response.location) == case.location(world, role), response.location
            if case.ok_check:
                with app_session(app) as s:
                    case.ok_check(s, world, before)
        finally:
            if case.cleanup and status in case.ok:
                case.cleanup(world, before)
            if case.drain:
                drain()
    else:
        assert status == case.refused, (status, response.location, text[:300])
        if case.api:
            assert "error" in response.get_json()
        else:
            assert "<html" in text, "a refusal without htmx must be a page, not a fragment"
        assert read(app, case, world) == before, "a refused request changed state"


def check_htmx(app, clients, case: Case, world, roles) -> list[str]:
    """The htmx side of a page route: anonymous gets HX-Redirect to the login (never a login form in a
    table cell); a refused POST is a message fragment (#messages) that changes nothing."""
    problems = []
    if case.api:
        return problems
    if ANON in roles and case.anon == "login" and case.hx_anon:
        before = read(app, case, world)
        response = request(app.test_client(), case, world, headers=HX)
        if not (response.status_code == 200 and path_of(response.headers.get("HX-Redirect")) == "/login"
                and response.get_data() == b"" and "Location" not in response.headers):
            problems.append(f"{ANON} (htmx): {response.status_code} {response.headers.get('HX-Redirect')!r}")
        if read(app, case, world) != before:
            problems.append(f"{ANON} (htmx): changed state")
    if case.method != "GET":
        for role in sorted((LOGGED_IN & set(roles)) - case.allowed):
            before = read(app, case, world)
            response = request(clients[role], case, world, headers=HX)
            text = body(response)
            if not (response.status_code == case.refused and "<html" not in text and 'role="alert"' in text
                    and response.headers.get("HX-Retarget") == "#messages"):
                problems.append(f"{role} (htmx): {response.status_code} {text[:200]!r}")
            if read(app, case, world) != before:
                problems.append(f"{role} (htmx): a refused request changed state")
    return problems


def check_route(app, clients, tokens, case: Case, new_world, drain, roles=ROLES, login=None,
                shared=None) -> list[str]:
    """Every role's request (and the htmx ones): one line per role that went wrong. Requests that
    cannot change anything share one world (`shared`, else a new one); an allowed role of a route
    that changes state gets a world of its own."""
    shared = shared or new_world()
    problems = []
    for role in roles:
        world = new_world() if role in case.allowed and case.changes else shared
        client = login(role) if case.own_client and role != ANON else clients[role]
        try:
            check_role(app, client, case, world, role, drain, tokens.get(role))
        except AssertionError as exc:
            problems.append(f"{role}: {exc}")
    return problems + check_htmx(app, clients, case, shared, roles)
