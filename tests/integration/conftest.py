"""Integration fixtures: a synced project with a project admin, and an export run by the real worker."""
from __future__ import annotations

import pytest

from portal.domain import services
from portal.domain.models import ToolLevel
from portal.queue import RQJobQueue
from tests import factories as f, items as it


@pytest.fixture
def home(session, sim) -> tuple[it.Home, object]:
    """A project synced with its Sage job (tests/items.Home: a synced vendor and commitment) and a user
    with Admin on its tools: (home, admin)."""
    admin = f.make_user(session)
    return it.make_home(session, sim, {admin.id: ToolLevel.ADMIN}), admin


@pytest.fixture
def road(session, sim):
    """A synced project with one commitment (factories.Setup), its admin and an approver:
    (setup, creator, approver)."""
    creator = f.make_user(session)
    setup = f.Setup(session, sim)
    f.member(session, creator, setup.project, ToolLevel.ADMIN)
    return setup, creator, f.approver(session)


@pytest.fixture
def export(session, drain):
    """export(erp, fields): an approver accepts, the real RQ worker runs the export; the item as it ends."""
    def run(erp, fields):
        services.accept(session, f.approver(session), erp.id, fields, RQJobQueue())
        drain()
        session.expire_all()
        return services.get_erp_item(session, erp.id)
    return run
