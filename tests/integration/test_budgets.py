"""Budgets and budget changes through the gate, with cost forecasts."""
from decimal import Decimal

import pytest

from portal.domain import items, services
from portal.domain.types import get_type

BUDGETS, BUDGET_CHANGES = get_type("budget"), get_type("budget_change")
from portal.domain.errors import Conflict, Invalid
from portal.domain.lifecycle import State
from portal.domain.models import Budget, ToolLevel
from portal.queue import RQJobQueue
from tests import factories as f


@pytest.fixture
def project(session, sim):
    admin = f.make_user(session)
    setup = f.Setup(session, sim)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    return setup, admin


def export(session, erp, fields, drain):
    services.accept(session, f.approver(session), erp.id, fields, RQJobQueue())
    drain()
    session.expire_all()
    return services.get_erp_item(session, erp.id)


def test_budget_exports_estimates_and_forecast_then_locks(session, sim, project, drain):
    setup, admin = project
    pid = setup.project.id
    budget = items.save_item(session, admin, "budget", pid, None, {
        "line-0-category_id": str(setup.sub.id), "line-0-original": "50000",
        "line-0-estimated_cost_at_completion": "52000", "line-0-forecast_to_complete": "30000",
        "line-1-category_id": str(setup.mat.id), "line-1-original": "10000"})
    with pytest.raises(Invalid):
        items.save_item(session, admin, "budget", pid, None, {})  # one budget per project
    details = BUDGETS.accept_details(BUDGETS.load(session, budget.id))
    assert details[0] == ("Cost Code", "Category", "Original", "Changes", "Revised")
    erp = services.send(session, admin, "budget", budget.id)
    erp = export(session, erp, {"export_forecast": "on"}, drain)
    assert erp.state == State.SYNCED, erp.sage_message
    kinds = sorted((t["Transaction_Type"], Decimal(str(t["Amount"])))
                   for t in sim.list_transactions(setup.project.sage_job_id))
    assert ("Original estimate", Decimal("50000")) in kinds
    assert ("Misc worksheet 1", Decimal("52000")) in kinds and ("Misc worksheet 2", Decimal("30000")) in kinds
    assert session.get(Budget, budget.id).locked
    assert any("locked" in r for r in BUDGETS.prerequisites(session, BUDGETS.load(session, budget.id)))

    change = items.save_item(session, admin, "budget_change", pid, None, {
        "number": "BC-1", "description": "Move to material",
        "line-0-category_id": str(setup.sub.id), "line-0-amount": "-2000",
        "line-1-category_id": str(setup.mat.id), "line-1-amount": "2000"})
    with pytest.raises(Conflict, match="cannot be edited"):
        items.save_item(session, admin, "budget_change", pid, change.id, {"number": "BC-1"})
    erp = services.send(session, admin, "budget_change", change.id)
    erp = export(session, erp, {}, drain)
    assert erp.state == State.SYNCED, erp.sage_message
    changes = [t for t in sim.list_transactions(setup.project.sage_job_id, "Approved est chng")]
    assert sorted(Decimal(str(t["Amount"])) for t in changes) == [Decimal("-2000"), Decimal("2000")]
    assert {t["Ref_1"] for t in changes} == {"BC-1"}


def test_budget_change_waits_for_an_exported_budget(session, project):
    setup, admin = project
    change = items.save_item(session, admin, "budget_change", setup.project.id, None, {
        "number": "BC-9", "line-0-category_id": str(setup.sub.id), "line-0-amount": "100"})
    reasons = BUDGET_CHANGES.prerequisites(session, BUDGET_CHANGES.load(session, change.id))
    assert any("Export the project's budget first" in r for r in reasons)
