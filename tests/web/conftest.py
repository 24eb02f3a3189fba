"""Web-test fixtures: one user and one signed-in client per role of the module's ROLE_USERS, made once per module."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from portal.domain.models import ToolLevel
from tests import factories as f
from tests.web import roles
from tests.web.pages import World


@pytest.fixture(scope="module")
def people(request, app) -> dict[str, SimpleNamespace]:
    """One user per role of the module's ROLE_USERS (role -> make_user kwargs; else roles.ROLE_USERS)."""
    return roles.make_people(app, getattr(request.module, "ROLE_USERS", roles.ROLE_USERS))


@pytest.fixture(scope="module")
def clients(app, people) -> dict:
    """An anonymous client under roles.ANON and one signed in per role (the password hash runs once per module)."""
    return roles.signed_in_clients(app, people)


@pytest.fixture
def world(app, sim, people) -> World:
    """A test's projects and items (tests/web/pages.World), named with one fresh token."""
    return World(app, sim, people)


@pytest.fixture
def make_world(app, sim, people):
    """Another world, its project made with factories.Setup's options (vendor_status=..., vendor_erp=...)."""
    return lambda **setup_kw: World(app, sim, people, **setup_kw)


def plain(obj, *names) -> SimpleNamespace:
    """The named attributes of a row, readable once its session is gone."""
    return SimpleNamespace(**{n: getattr(obj, n) for n in names})


def person(user) -> SimpleNamespace:
    return plain(user, "id", "username", "name", "email")


@pytest.fixture
def billing(app, sim):
    """(home, administrator, reader, contact): a synced commitment (home.project, .commitment, .line1,
    .line2 with their ids; lines 1 Footings / 2 Rebar, 50,000 each, retainage 10%), Admin and Read Only
    on its project, and an invoice contact of its vendor; plain values."""
    with f.app_session(app) as s:
        setup = f.Setup(s, sim)
        admin, reader = f.make_user(s), f.make_user(s)
        f.member(s, admin, setup.project, ToolLevel.ADMIN)
        f.member(s, reader, setup.project, ToolLevel.READ_ONLY)
        contact = f.invoice_contact(s, setup.commitment)
        home = SimpleNamespace(project=plain(setup.project, "id"), commitment=plain(setup.commitment, "id"),
                               line1=plain(setup.line1, "id"), line2=plain(setup.line2, "id"))
        return home, person(admin), person(reader), person(contact)
