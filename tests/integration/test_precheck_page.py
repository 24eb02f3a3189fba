"""Pre-check of a tab's page (portal/domain/precheck.py) against the app's simulator: one
dry-run call for the page's Ready and Failed rows, export fields not known before Accept
stood in for and named, a connector out of reach a warning (never an error)."""
from __future__ import annotations

from portal.domain import precheck, services
from portal.domain.models import ErpItem, SubcontractorInvoice, ToolLevel
from portal.domain.types import get_type
from portal.exporters.sage300.connectors import SimulatorConnector
from portal.exporters.sage300.records import ConnectorUnavailable
from portal.exporters.sage300.simulator import VENDOR_INACTIVE, too_long
from tests import factories as f, items as it


class Counting:
    """The simulator's connector, counting dry-run calls and the items in each."""

    def __init__(self, sim):
        self.connector, self.calls = SimulatorConnector(sim), []

    def dry_run(self, plans):
        self.calls.append(len(plans))
        return self.connector.dry_run(plans)


class Unreachable:
    def dry_run(self, plans):
        raise ConnectorUnavailable("connection refused")


def sent(session, admin, key, item_id) -> tuple[ErpItem, object]:
    erp = services.send(session, admin, key, item_id)
    return erp, get_type(key).load(session, item_id)


def test_a_page_is_one_dry_run_call(session, sim):
    creator = f.make_user(session)
    good, inactive = f.Setup(session, sim), f.Setup(session, sim, vendor_status="Inactive")
    for setup in (good, inactive):
        f.member(session, creator, setup.project, ToolLevel.ADMIN)
    invoices = [good.invoice(session, creator), good.invoice(session, creator), inactive.invoice(session, creator)]
    rows = [sent(session, creator, "subcontractor_invoice", inv.id) for inv in invoices]
    counting = Counting(sim)
    checks = precheck.check_page(session, get_type("subcontractor_invoice"), rows, counting)
    assert counting.calls == [3]
    assert [checks[erp.id].blocked for erp, _ in rows] == [False, False, True]
    [problem] = checks[rows[2][0].id].problems
    assert problem.message == VENDOR_INACTIVE and problem.cause and problem.project_team
    assert isinstance(rows[0][1], SubcontractorInvoice)


def test_a_sage_id_typed_at_accept_is_stood_in_for_and_the_rest_is_checked(session, sim):
    """A job of 31 characters: its Sage Job ID is not known before Accept, its name already too long."""
    admin = f.make_user(session, site_admin=True)
    pid = it.unsynced_project(session, admin, name="N" * 31)
    erp, project = sent(session, admin, "job", pid)
    check = precheck.check_page(session, get_type("job"), [(erp, project)], Counting(sim))[erp.id]
    assert [p.message for p in check.problems] == [too_long("Name", 30)]
    assert any("Sage Job ID" in w for w in check.warnings)


def test_a_connector_out_of_reach_is_a_warning(session, sim):
    creator = f.make_user(session)
    setup = f.Setup(session, sim)
    f.member(session, creator, setup.project, ToolLevel.ADMIN)
    erp, inv = sent(session, creator, "subcontractor_invoice", setup.invoice(session, creator).id)
    check = precheck.check_page(session, get_type("subcontractor_invoice"), [(erp, inv)], Unreachable())[erp.id]
    assert not check.blocked and "could not be reached" in check.warnings[0]


def test_rows_not_waiting_for_a_decision_are_not_checked(session, sim):
    creator = f.make_user(session)
    setup = f.Setup(session, sim)
    f.member(session, creator, setup.project, ToolLevel.ADMIN)
    erp, inv = sent(session, creator, "subcontractor_invoice", setup.invoice(session, creator).id)
    services.accept(session, f.approver(session), erp.id, {"erp_id": inv.number, "accounting_date": "2026-10-31"},
                    f.NullQueue())
    counting = Counting(sim)
    assert precheck.check_page(session, get_type("subcontractor_invoice"), [(erp, inv)], counting) == {}
    assert counting.calls == []
