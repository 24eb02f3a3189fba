"""Web-test fixtures: one user and one signed-in client per role of the module's ROLE_USERS, made once per module."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests import factories as f
from tests.conftest import login
from tests.web import roles


@pytest.fixture(scope="module")
def people(request, app) -> dict[str, SimpleNamespace]:
    """One user per role of the module's ROLE_USERS (role -> make_user kwargs; else roles.ROLE_USERS)."""
    role_users = getattr(request.module, "ROLE_USERS", roles.ROLE_USERS)
    with f.app_session(app) as s:
        made = {role: f.make_user(s, **kw) for role, kw in role_users.items()}
        return {role: SimpleNamespace(id=u.id, username=u.username, email=u.email, name=u.name)
                for role, u in made.items()}


@pytest.fixture(scope="module")
def clients(app, people) -> dict:
    """An anonymous client under roles.ANON and one signed in per role (the password hash runs once per module)."""
    return {roles.ANON: app.test_client(), **{role: login(app.test_client(), p) for role, p in people.items()}}
