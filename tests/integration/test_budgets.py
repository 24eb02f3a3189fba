"""Budgets and budget changes through the gate, with cost forecasts."""
from decimal import Decimal

import pytest

from portal.domain import items, services
from portal.domain.errors import Conflict, Invalid
from portal.domain.lifecycle import State
from portal.domain.models import Budget
from tests import items as it
from tests.types import get_type


def test_budget_exports_estimates_and_forecast_then_locks(session, sim, home, export):
    home, admin = home
    budget = items.save_item(session, admin, "budget", home.pid, None, it.form_data(session, sim, "budget", home))
    with pytest.raises(Invalid):
        items.save_item(session, admin, "budget", home.pid, None, {})  # one budget per project
    kind = get_type("budget")
    details = kind.accept_details(kind.load(session, budget.id))
    assert details[0] == ("Cost Code", "Category", "Original", "Changes", "Revised")
    erp = export(services.send(session, admin, "budget", budget.id), {"export_forecast": "on"})
    assert erp.state == State.SYNCED, erp.sage_message
    kinds = sorted((t["Transaction_Type"], Decimal(str(t["Amount"]))) for t in sim.list_transactions(home.job))
    assert ("Original estimate", Decimal("50000")) in kinds
    assert ("Misc worksheet 1", Decimal("52000")) in kinds and ("Misc worksheet 2", Decimal("30000")) in kinds
    assert session.get(Budget, budget.id).locked
    assert any("locked" in r for r in kind.prerequisites(session, kind.load(session, budget.id)))

    form = it.form_data(session, sim, "budget_change", home, exported_budget=False, number="BC-1")
    change = items.save_item(session, admin, "budget_change", home.pid, None, form)
    with pytest.raises(Conflict, match="cannot be edited"):
        items.save_item(session, admin, "budget_change", home.pid, change.id, form)
    erp = export(services.send(session, admin, "budget_change", change.id), {})
    assert erp.state == State.SYNCED, erp.sage_message
    changes = sim.list_transactions(home.job, "Approved est chng")
    assert sorted(Decimal(str(t["Amount"])) for t in changes) == [Decimal("-2000"), Decimal("2500")]
    assert {t["Ref_1"] for t in changes} == {"BC-1"}


def test_budget_change_waits_for_an_exported_budget(session, sim, home):
    home, admin = home
    change = items.save_item(session, admin, "budget_change", home.pid, None,
                             it.form_data(session, sim, "budget_change", home, exported_budget=False))
    reasons = get_type("budget_change").prerequisites(session, get_type("budget_change").load(session, change.id))
    assert any("Export the project's budget first" in r for r in reasons)
