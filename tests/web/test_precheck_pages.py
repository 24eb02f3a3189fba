"""Pre-check before Accept on the ERP tab: a row Sage would refuse carries a badge with Sage's
text, cause and solution and a "Reject with this reason" that pre-fills the reject form; its
Accept form shows the problem with Export disabled; the form checks again what is typed."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from portal.domain.lifecycle import State
from portal.domain.models import SubcontractorInvoice, ToolLevel
from portal.exporters.sage300.records import APDistribution, APInvoice, Batch
from portal.exporters.sage300.simulator import JOB_CLOSED, VENDOR_INACTIVE, duplicate_invoice, setting_t
from portal.exporters.sage300.troubleshooting import explain
from tests import factories as f
from tests.items import tab_url
from tests.web.pages import HX, World, is_fragment, text

KEY = "subcontractor_invoice"
TAB = f"/erp/{KEY}"
ROLE_USERS = {"approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "standard": dict(erp_level=ToolLevel.STANDARD), "project_admin": {}}
BADGE = "Sage would refuse"

pytestmark = pytest.mark.usefixtures("precheck_on")  # off in the tests (SAGE_PRECHECK)


@pytest.fixture
def make_world(app, sim, people):
    return lambda **setup_kw: World(app, sim, people, **setup_kw)


def row_of(body: str, erp_id: int) -> str:
    match = re.search(rf'<tbody id="item-{erp_id}".*?</tbody>', body, re.S)
    assert match, f"no row item-{erp_id}"
    return match.group(0)


def tab_row(clients, inv, role="approver", state_filter="ready") -> str:
    response = clients[role].get(f"{TAB}?filter={state_filter}&q={inv.number}", headers=HX)
    assert response.status_code == 200
    return row_of(text(response), inv.erp)


def export_button(body: str) -> str:
    match = re.search(r'<button type="submit" class="primary"[^>]*>Export to ERP</button>', body)
    assert match, "no Export button"
    return match.group(0)


def test_a_row_sage_would_refuse_has_the_badge_cause_solution_and_reject_with_this_reason(clients, make_world):
    refused = make_world(vendor_status="Inactive").item(KEY, State.READY)
    fine = make_world().item(KEY, State.READY)
    row = tab_row(clients, refused)
    why = explain(VENDOR_INACTIVE)
    assert BADGE in row and VENDOR_INACTIVE in row and why.cause in row and why.solution in row
    link = re.search(r'<a class="button" href="([^"]+)"[^>]*>Reject with this reason</a>', row)
    assert link, row
    assert BADGE not in tab_row(clients, fine)
    # the link opens the reject form with Sage's reason filled in, for the approver to send or edit
    form = clients["approver"].get(link.group(1).replace("&amp;", "&"), headers=HX)
    reason = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)["reason"][0]
    assert VENDOR_INACTIVE in reason and why.cause in reason
    assert form.status_code == 200 and is_fragment(text(form))
    assert re.search(r'<textarea name="reason"[^>]*>' + re.escape(reason) + "</textarea>", text(form))


def test_only_an_approver_is_offered_reject_and_the_badge_is_for_everyone(clients, make_world):
    refused = make_world(vendor_status="Inactive").item(KEY, State.READY)
    row = tab_row(clients, refused, role="standard")
    assert BADGE in row and "Reject with this reason" not in row


def test_the_accept_form_shows_why_and_disables_export(clients, make_world):
    refused = make_world(vendor_status="Inactive").item(KEY, State.READY)
    body = text(clients["approver"].get(tab_url(KEY, refused.erp, "accept"), headers=HX))
    assert "Sage 300 CRE would refuse this export" in body and VENDOR_INACTIVE in body
    assert "disabled" in export_button(body)
    fine = make_world().item(KEY, State.READY)
    body = text(clients["approver"].get(tab_url(KEY, fine.erp, "accept"), headers=HX))
    assert "Sage would accept this" in body and "disabled" not in export_button(body)


def test_a_failed_row_is_checked_again_with_its_last_fields(clients, make_world):
    """A Failed to Export row is checked again: a cause other than the one Sage gave on Export (the
    vendor made inactive since) gets the badge; the same cause is not said twice."""
    world = make_world(vendor_status="Inactive")
    other = world.item(KEY, State.FAILED, message="Job has been closed.")
    row = tab_row(clients, other, state_filter="failed")
    assert BADGE in row and VENDOR_INACTIVE in row
    same = world.item(KEY, State.FAILED, message=VENDOR_INACTIVE)
    row = tab_row(clients, same, state_filter="failed")
    assert BADGE not in row and VENDOR_INACTIVE in row


def invoice_in_sage(sim, home) -> str:
    """A new invoice number Sage already holds for the home's vendor."""
    taken = f"DUP-{f.suffix(6)}"
    assert sim.submit(Batch(f"earlier-{taken}", "ap_invoice", (
        APInvoice(vendor=home.vendor_erp, invoice=taken, description="", invoice_date=date(2026, 10, 1),
                  accounting_date=date(2026, 10, 1), amount=D("1"), retainage=D("0")),
        APDistribution(commitment=home.commitment_erp, commitment_item="1", job=home.job, extra="",
                       cost_code="03-300", category="SUB", description="", amount=D("1"), retainage=D("0"))))).ok
    return taken


def test_the_accept_form_checks_again_what_is_typed(clients, make_world, sim):
    """A number Sage already has for the vendor, typed as the ERP ID: Export disabled with Sage's
    text; the invoice's own number: Sage would accept it. Nothing typed: the field's message."""
    world = make_world()
    inv = world.item(KEY, State.READY)
    taken = invoice_in_sage(sim, world.home)
    url = tab_url(KEY, inv.erp, "precheck")
    fields = {"erp_id": taken, "description": "", "accounting_date": "2026-10-31"}
    body = text(clients["approver"].post(url, data=fields, headers=HX))
    assert duplicate_invoice(taken) in body and "disabled" in export_button(body)
    assert 'hx-trigger="change from:closest form"' in body, "it keeps checking as the approver types"
    body = text(clients["approver"].post(url, data={**fields, "erp_id": inv.number}, headers=HX))
    assert "Sage would accept this" in body and "disabled" not in export_button(body)
    body = text(clients["approver"].post(url, data={**fields, "erp_id": ""}, headers=HX))
    assert "ERP ID is required." in body
    assert world.erp(inv.erp).state == State.READY


@pytest.mark.parametrize("role", ["standard", "project_admin"])
def test_only_an_approver_may_ask_the_accept_forms_check(clients, make_world, role):
    inv = make_world().item(KEY, State.READY)
    response = clients[role].post(tab_url(KEY, inv.erp, "precheck"), data={"erp_id": inv.number}, headers=HX)
    assert response.status_code == 403


@pytest.fixture
def dry_runs(monkeypatch) -> list[int]:
    """The number of items each call of the simulator's dry run checks (the cache's misses)."""
    from portal.exporters.sage300.simulator import Sage300Simulator
    calls: list[int] = []
    real = Sage300Simulator.dry_run

    def counted(self, plans):
        calls.append(len(plans))
        return real(self, plans)
    monkeypatch.setattr(Sage300Simulator, "dry_run", counted)
    return calls


def test_an_unchanged_row_is_not_checked_again_and_a_sage_side_change_shows_at_once(clients, make_world, sim,
                                                                                       dry_runs):
    """Sage's answer is kept until Sage's side changes: the job closed on the simulator shows on the
    very next load (never the kept answer), and reopening it clears the badge again."""
    world = make_world()
    inv = world.item(KEY, State.READY)
    assert BADGE not in tab_row(clients, inv)
    assert dry_runs == [1]
    assert BADGE not in tab_row(clients, inv)
    assert dry_runs == [1], "an unchanged row on an unchanged Sage is answered from the cache"
    sim.set_job_status(world.home.job, "Closed")
    row = tab_row(clients, inv)
    assert BADGE in row and JOB_CLOSED in row
    sim.set_job_status(world.home.job, "Open")
    assert BADGE not in tab_row(clients, inv)
    assert dry_runs == [1, 1, 1]


def test_a_change_of_the_item_is_checked_again(app, clients, make_world, sim, dry_runs):
    """The item's import files are the key: an invoice whose number changes (to one Sage already holds
    for the vendor) is checked again with nothing changed on Sage's side."""
    world = make_world()
    inv = world.item(KEY, State.READY)
    taken = invoice_in_sage(sim, world.home)
    assert BADGE not in tab_row(clients, inv)
    with f.app_session(app) as s:
        s.get(SubcontractorInvoice, inv.id).number = taken
        s.commit()
    response = clients["approver"].get(f"{TAB}?filter=ready&q={taken}", headers=HX)
    row = row_of(text(response), inv.erp)
    assert BADGE in row and duplicate_invoice(taken) in row
    assert dry_runs == [1, 1]


def test_the_sage_change_mark_moves_with_every_committed_write_only(sim):
    """Any transaction that writes to the simulator moves its mark (a facade method, a raw statement on its
    engine); a read, a dry run and a rolled-back write do not. With the hourly limit on (answers then depend
    on the time) there is no mark and nothing is kept."""
    mark = sim.change_mark()
    assert mark is not None and sim.change_mark() == mark
    sim.list_vendors()
    sim.dry_run([])
    assert sim.change_mark() == mark
    with sim.engine.connect() as conn:
        conn.begin()
        conn.execute(update(setting_t).where(setting_t.c.Key == "tolerance_pct").values(Value="5"))
        conn.rollback()
    assert sim.change_mark() == mark
    with sim.engine.begin() as conn:
        conn.execute(update(setting_t).where(setting_t.c.Key == "tolerance_pct").values(Value="0"))
    moved = sim.change_mark()
    assert moved not in (None, mark)
    sim.set_setting("hourly_limit", 5)
    try:
        assert sim.change_mark() is None
    finally:
        sim.set_setting("hourly_limit", 0)
    assert sim.change_mark() not in (None, mark, moved)
