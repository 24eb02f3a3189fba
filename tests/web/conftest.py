"""Web-test fixtures: one user and one signed-in client per role of the module's ROLE_USERS, made once per module."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.web import roles


@pytest.fixture(scope="module")
def people(request, app) -> dict[str, SimpleNamespace]:
    """One user per role of the module's ROLE_USERS (role -> make_user kwargs; else roles.ROLE_USERS)."""
    return roles.make_people(app, getattr(request.module, "ROLE_USERS", roles.ROLE_USERS))


@pytest.fixture(scope="module")
def clients(app, people) -> dict:
    """An anonymous client under roles.ANON and one signed in per role (the password hash runs once per module)."""
    return roles.signed_in_clients(app, people)
