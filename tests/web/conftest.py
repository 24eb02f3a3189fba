"""Web-test fixtures: one user and one signed-in client per role of the module's ROLE_USERS, made once per module."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

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
