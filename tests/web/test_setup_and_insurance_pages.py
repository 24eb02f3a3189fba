"""The Setup page, the health page's setup section, the refusal at Accept while a Sage prerequisite
fails, the insurance gate per setting on the tab and the Accept form, the company's insurance page,
and the Sage page and CLI that change AP Settings, Tax Group Sync and AP Vendor Insurance.

Requests are made with no app context pushed; the database is prepared in short `dbs(app)` blocks.
The simulator and the company settings are the session's: every change is put back."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta

import pytest

from portal.domain import sync
from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from tests import factories as f
from tests.fake_sage import RecordingQueue
from tests.web.pages import HX, World, changed_settings, text

dbs = f.app_session
ROLE_USERS = {"site_admin": dict(site_admin=True), "project_admin": {}, "readonly": dict(erp_level=ToolLevel.READ_ONLY),
              "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "erp_admin_no_push": dict(erp_level=ToolLevel.ADMIN)}
DATE_RECEIVED = ("Sage AP setting Date Received Usage is Required: set it to Not Required in Sage AP Settings "
                 "(Invoice Settings).")
TODAY = date.today()
EXPIRED = TODAY - timedelta(days=5)


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


@contextmanager
def sage_setting(sim, key: str, value: str):
    before = sim.settings()[key]
    sim.set_setting(key, value)
    try:
        yield
    finally:
        sim.set_setting(key, before)


def insured(world, gl_expires: date) -> None:
    """The world's vendor with General Liability expiring then and Workers Compensation valid, synced."""
    code = world.home.vendor_erp
    world.sim.set_vendor_insurance(code, "General Liability", "GL-77", "Fidelity Mutual", "1000000", None, gl_expires)
    world.sim.set_vendor_insurance(code, "Workers Compensation", "WC-77", "State Fund", None, None,
                                   TODAY + timedelta(days=300))
    with dbs(world.app) as s:
        run = sync.start(s, world.user(s, "approver"), "insurance", RecordingQueue())
        sync.execute(s, run.id, world.sim)


def gate(world, mode: str, hold: bool = False):
    return changed_settings(world.app, world.people["erp_admin_no_push"].id,
                            insurance_gate_subcontract=mode, insurance_hold_subcontract="on" if hold else False,
                            insurance_required_general_liability="on", insurance_required_workers_compensation="on",
                            insurance_required_umbrella=False, insurance_required_automobile=False)


# ---- Setup --------------------------------------------------------------------------------------

def test_the_setup_page_lists_each_prerequisite_its_state_and_what_to_do(clients, sim):
    with sage_setting(sim, "date_received_usage", "Required"):
        body = text(clients["erp_admin_no_push"].get("/erp/setup"))
        assert DATE_RECEIVED in body and 'data-status="fails"' in body
        assert body.count("<td>Subcontractor Invoices</td>") == 3
    body = text(clients["erp_admin_no_push"].get("/erp/setup"))
    assert 'data-status="fails"' not in body and body.count('data-status="met"') == 3
    assert ">Setup</a>" in text(clients["erp_admin_no_push"].get("/erp/settings"))  # the nav link
    assert clients["approver"].get("/erp/setup").status_code == 403


def test_the_health_page_has_a_setup_section_amber_while_one_fails(clients, sim):
    with sage_setting(sim, "tax_group_sync", "On"):
        body = text(clients["site_admin"].get("/admin/health"))
        section = body.split('id="check-setup"')[1].split("</section>")[0]
        assert 'data-status="amber"' in section
        assert "ask ERP Support to turn Tax Group Sync off" in section
    section = text(clients["site_admin"].get("/admin/health")).split('id="check-setup"')[1].split("</section>")[0]
    assert 'data-status="green"' in section and "Every setup prerequisite is met." in section


def test_invoice_accept_says_why_while_a_prerequisite_fails_and_changes_nothing(clients, world):
    item = world.item("subcontractor_invoice", State.READY)
    url = f"/erp/subcontractor_invoice/{item.erp}/accept"
    with sage_setting(world.sim, "payment_date_usage", "Required"):
        form = text(clients["approver"].get(url, headers=HX))
        assert "Sage AP setting Payment Date Usage is Required: set it to Not Required" in form
        response = clients["approver"].post(url, data={"erp_id": item.number, "accounting_date": "2026-10-31"},
                                            headers=HX)
        assert response.status_code == 422 and "Payment Date Usage is Required" in text(response)
        assert world.erp(item.erp)[0] == State.READY
    form = text(clients["approver"].get(url, headers=HX))
    assert "Payment Date Usage is Required" not in form


# ---- the insurance gate -------------------------------------------------------------------------

@pytest.mark.parametrize("mode, hold, shown, status", [
    ("not_required", False, None, 200), ("warn", False, "Insurance (warning):", 200),
    ("block", False, "Insurance (Accept is refused):", 422),
    ("block", True, "Insurance (exported on hold in Sage AP):", 200)])
def test_the_gate_on_the_tab_row_the_accept_form_and_accept(clients, world, mode, hold, shown, status):
    item = world.item("subcontractor_invoice", State.READY)
    insured(world, EXPIRED)
    listed = f"{world.home.vendor_name}'s insurance: General Liability expired {EXPIRED:%m/%d/%Y}."
    with gate(world, mode, hold):
        tab = text(clients["approver"].get(f"/erp/subcontractor_invoice?q={world.token}"))
        row = tab.split(f'id="item-{item.erp}"')[1].split("</tbody>")[0]
        form = text(clients["approver"].get(f"/erp/subcontractor_invoice/{item.erp}/accept", headers=HX))
        for body in (row, form):
            assert (listed in body) is (shown is not None) and (shown is None or shown in body)
        response = clients["approver"].post(f"/erp/subcontractor_invoice/{item.erp}/accept",
                                            data={"erp_id": item.number, "accounting_date": "2026-10-31"}, headers=HX)
        assert response.status_code == status
        if status == 422:
            assert f"Accept refused: {listed}" in text(response) and world.erp(item.erp)[0] == State.READY
        else:
            assert world.erp(item.erp)[0] == State.EXPORTING


def test_a_commitment_is_warned_too(clients, world):
    item = world.item("commitment", State.READY)
    insured(world, EXPIRED)
    with gate(world, "warn"):
        form = text(clients["approver"].get(f"/erp/commitment/{item.erp}/accept", headers=HX))
    assert "Insurance (warning):" in form and f"General Liability expired {EXPIRED:%m/%d/%Y}" in form


def test_the_settings_page_refuses_an_unknown_gate_naming_the_field(clients):
    response = clients["erp_admin_no_push"].post("/erp/settings", data={"insurance_gate_subcontract": "sometimes",
                                                                         "job_number_mask": "##-###"})
    body = text(response)
    assert response.status_code == 422 and "Choose Not Required, Warn or Block." in body
    assert 'name="insurance_gate_purchase_order"' in body


def test_the_company_page_lists_certificates_those_expiring_and_those_missing(clients, world):
    insured(world, TODAY + timedelta(days=12))
    with gate(world, "warn"):
        body = text(clients["readonly"].get(f"/erp/companies/{world.home.vendor}"))
    soon = body.split('id="expiring"')[1].split("</section>")[0]
    assert f"General Liability (policy GL-77, Fidelity Mutual) expires {TODAY + timedelta(days=12):%m/%d/%Y}" in soon
    assert "Workers' Compensation" not in soon
    assert body.count('data-status="expiring"') == 1 and body.count('data-status="valid"') == 1
    assert "Sync from Sage now" not in body  # Read Only cannot start syncs
    assert clients["readonly"].get("/erp/companies/999999999").status_code == 404


# ---- the Sage page and the CLI --------------------------------------------------------------------

def test_the_sage_page_changes_ap_settings_tax_group_sync_and_vendor_insurance(clients, sim):
    admin = clients["site_admin"]
    vendor = f"I{f.suffix()}"
    sim.add_vendor(vendor, "Insured Vendor")
    with sage_setting(sim, "date_received_usage", "Not Required"), sage_setting(sim, "tax_group_sync", "Off"):
        assert admin.post("/sage/ap_settings", data={"date_received_usage": "Required"}).status_code == 303
        assert sim.settings()["date_received_usage"] == "Required"
        assert admin.post("/sage/tax_group_sync", data={"status": "On"}).status_code == 303
        assert sim.settings()["tax_group_sync"] == "On"
    response = admin.post("/sage/vendor_insurance", data={
        "vendor": vendor, "insurance_type": "Umbrella", "policy_number": "UM-1", "insurance_company": "Acme Re",
        "limit_amount": "5000000", "effective_date": "2026-01-01", "expiration_date": "2026-12-31"})
    assert response.status_code == 303
    assert [(r["Insurance_Type"], r["Expiration_Date"]) for r in sim.list_vendor_insurance(vendor)] == [
        ("Umbrella", date(2026, 12, 31))]
    refused = admin.post("/sage/vendor_insurance", data={"vendor": vendor, "insurance_type": "Umbrella",
                                                         "effective_date": "2026-05-01",
                                                         "expiration_date": "2026-04-01"})
    assert refused.status_code == 422 and "Expiration date cannot be before the effective date." in text(refused)
    assert admin.post("/sage/remove_insurance", data={"vendor": vendor, "insurance_type": "Umbrella"}
                      ).status_code == 303
    assert sim.list_vendor_insurance(vendor) == []


def test_the_cli_changes_ap_settings_and_vendor_insurance(app, sim):
    runner = app.test_cli_runner()
    vendor = f"C{f.suffix()}"
    sim.add_vendor(vendor, "CLI Vendor")
    with sage_setting(sim, "payment_date_usage", "Not Required"):
        out = runner.invoke(args=["sage", "ap-settings", "--payment-date-usage", "Required"])
        assert out.exit_code == 0 and "Payment Date Usage Required" in out.output
    out = runner.invoke(args=["sage", "set-insurance", vendor, "Automobile", "--expires", "2026-09-30",
                              "--policy", "AU-1", "--company", "Road Mutual"])
    assert out.exit_code == 0 and out.output.strip() == f"Automobile insurance of vendor {vendor} added."
    assert vendor in runner.invoke(args=["sage", "list", "insurance"]).output
    bad = runner.invoke(args=["sage", "set-insurance", "NOPE", "Automobile", "--expires", "2026-09-30"])
    assert bad.exit_code == 1 and "vendor: No vendor NOPE in Sage 300 CRE." in bad.output
    assert runner.invoke(args=["sage", "remove-insurance", vendor, "Automobile"]).exit_code == 0
