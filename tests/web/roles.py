"""The roles the web tests sign in as (each role's user, the role sets route tables use) and the role x route check."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from portal.domain.models import ToolLevel
from tests.factories import app_session

ANON = "anonymous"
ROLES = [ANON, "none", "readonly", "standard", "approver", "erp_admin_no_push", "project_admin",
         "project_readonly", "site_admin"]
ROLE_USERS = {
    "none": dict(),
    "readonly": dict(erp_level=ToolLevel.READ_ONLY),
    "standard": dict(erp_level=ToolLevel.STANDARD),
    "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
    "erp_admin_no_push": dict(erp_level=ToolLevel.ADMIN),
    "project_admin": dict(),  # the project roles get their level on each test's project
    "project_readonly": dict(),
    "site_admin": dict(site_admin=True),
}

LOGGED_IN = frozenset(ROLES) - {ANON}
ERP_USERS = frozenset({"readonly", "standard", "approver", "erp_admin_no_push"})
ERP_ADMINS = frozenset({"erp_admin_no_push"})
APPROVERS = frozenset({"approver"})
PROJECT_VIEWERS = frozenset({"project_admin", "project_readonly", "site_admin"})
PROJECT_ADMINS = frozenset({"project_admin", "site_admin"})
SITE_ADMINS = frozenset({"site_admin"})


# ---- one route table row, and the role x route check every matrix makes --------------------

@dataclass(frozen=True)
class Route:
    """One route of a role x route table: who may reach it, what success looks like, what it may change."""
    name: str
    method: str
    url: Callable                 # world -> url
    allowed: frozenset            # roles that succeed; every other signed-in role gets `denied`
    ok: int | tuple = 200         # the status (or statuses) an allowed role may get
    location: Callable | None = None   # (world, role) -> where a successful redirect goes
    data: Callable | None = None       # world -> form data of a POST
    snapshot: Callable | None = None   # (session, world) -> state a refused request must leave alone
    ok_check: Callable | None = None   # (session, world, before): state after success
    drain: bool = False                # success queued a job: run it so no job outlives the test
    denied: int = 403
    anon_location: str | None = "/login"   # None: anonymous is checked like any other role
    cleanup: Callable | None = None    # (world, before): put company-wide state back after success

    @property
    def oks(self) -> tuple:
        """The statuses an allowed role may get, as a tuple."""
        return self.ok if isinstance(self.ok, tuple) else (self.ok,)


def path_of(location: str | None) -> str:
    """The path of a URL (or of nothing)."""
    return urlsplit(location or "").path


def request(client, route: Route, w, headers=None):
    """Make the route's request in world `w`."""
    url = route.url(w)
    if route.method == "GET":
        return client.get(url, headers=headers)
    return client.post(url, data=route.data(w) if route.data else {}, headers=headers)


def read(app, route: Route, w):
    """The state the route may change (None when it has no snapshot)."""
    if route.snapshot is None:
        return None
    with app_session(app) as s:
        return route.snapshot(s, w)


def check_role_route(app, client, route: Route, world, role: str, drain) -> None:
    """Request the route as `role`: anonymous to login, allowed roles succeed, the rest refused, state kept."""
    before = read(app, route, world)
    response = request(client, route, world)

    assert "HX-Request" in response.headers.get("Vary", "")
    if role == ANON and route.anon_location:
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        assert path_of(response.location) == route.anon_location
        assert read(app, route, world) == before
    elif role in route.allowed:
        try:
            assert response.status_code in route.oks, response.get_data(as_text=True)[:500]
            if route.location:
                assert path_of(response.location) == route.location(world, role)
            if route.ok_check:
                with app_session(app) as s:
                    route.ok_check(s, world, before)
        finally:
            if route.cleanup and response.status_code in route.oks:
                route.cleanup(world, before)
            if route.drain:
                drain()
    else:
        assert response.status_code == route.denied, (response.status_code, response.get_data(as_text=True)[:300])
        assert "<html" in response.get_data(as_text=True)  # a page, not a fragment
        assert read(app, route, world) == before, "a refused request changed state"
