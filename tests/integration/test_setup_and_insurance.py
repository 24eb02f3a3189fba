"""Setup checks and the insurance compliance gate (issue 13, parts 3 and 4), against the simulator's
tables and the portal's services with the real RQ worker.

The simulator's AP Settings, Tax Group Sync and AP Vendor Insurance change as a Sage user changes them
(refusals change nothing); its setup checks refuse Accept of a subcontractor invoice and fail an export
already queued; the insurance sync brings certificates in; the gate per commitment type warns, blocks
or exports on hold (the Hold flag in the AP record the simulator stores)."""
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from portal.domain import compliance, services, settings, sync
from portal.domain.errors import Invalid
from portal.domain.lifecycle import State
from portal.domain.models import ErpAudit, ToolLevel, VendorInsurance
from portal.domain.sage_models import SyncStatus
from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector
from portal.exporters.sage300.fileformat import import_file, parse_import_file
from portal.exporters.sage300.records import APDistribution, APInvoice, Batch
from portal.queue import RQJobQueue
from tests import factories as f
from tests.fake_sage import RecordingQueue
from tests.integration.test_sage_fixes import refuses
from tests.sage_db import simulator
from tests.sage_financial import seed
from tests.types import direct_export_keys, get_type

TODAY = date.today()
DATE_RECEIVED = ("Sage AP setting Date Received Usage is Required: set it to Not Required in Sage AP Settings "
                 "(Invoice Settings).")
TAX_GROUPS = ("Tax groups imported from Sage 300 CRE (hh2 Tax Group Sync) is On: subcontractor invoices cannot be "
              "exported while tax groups are imported; ask ERP Support to turn Tax Group Sync off.")


@pytest.fixture
def own_sim(make_sim, tmp_path):
    """A simulator of this test's own (its settings change freely)."""
    return simulator(make_sim, tmp_path, seed)


@pytest.fixture
def sage_settings(sim):
    """set(key, value) on the session's shared simulator, each put back as it was after the test."""
    before: dict = {}

    def put(key, value):
        before.setdefault(key, sim.settings()[key])
        sim.set_setting(key, value)
    yield put
    for key, value in before.items():
        sim.set_setting(key, value)


@pytest.fixture
def gate(session):
    """gate(**form changes): the company settings changed for the test, then exactly as before."""
    admin = f.make_user(session, erp_level=ToolLevel.ADMIN)
    before = settings.load(session)

    def put(**changes):
        settings.update(session, admin, f.settings_form(settings.load(session), **changes), direct_export_keys())
    yield put
    settings.update(session, admin, f.settings_form(before), direct_export_keys())


def ap_batch(batch_id: str, invoice: str, hold: bool = False) -> Batch:
    head = APInvoice(vendor="ACME", invoice=invoice, description="", invoice_date=TODAY, accounting_date=TODAY,
                     amount=D("100"), retainage=D("0"), hold=hold)
    dist = APDistribution(commitment="", commitment_item="", job="J-1", extra="", cost_code="01-100",
                          category="SUB", description="", amount=D("100"), retainage=D("0"))
    return Batch(batch_id=batch_id, kind="ap_invoice", records=(head, dist))


# ---- the simulator: AP Settings, Tax Group Sync, the checks ------------------------------------

def test_ap_settings_and_tax_group_sync_are_what_the_setup_checks_read(own_sim):
    checks = {c.key: c for c in own_sim.setup_checks()}
    assert all(c.ok for c in checks.values()) and checks["ap_date_received_usage"].state == "Not Required"
    said = own_sim.change_ap_settings(date_received_usage="Required")
    assert said == "AP Settings saved: Date Received Usage Required, Payment Date Usage Not Required."
    own_sim.change_tax_group_sync("On")
    checks = {c.key: c for c in own_sim.setup_checks()}
    assert [checks[k].ok for k in ("ap_date_received_usage", "ap_payment_date_usage", "tax_groups_not_imported")] \
        == [False, True, False]
    assert checks["ap_date_received_usage"].message == DATE_RECEIVED
    assert checks["tax_groups_not_imported"].message == TAX_GROUPS
    own_sim.change_ap_settings(date_received_usage="Not Used", payment_date_usage="Not Required")
    own_sim.change_tax_group_sync("Off")
    assert all(c.ok for c in own_sim.setup_checks())
    assert own_sim.exported()["settings"]["Date Received Usage"] == "Not Used"


def test_ap_settings_refusals_change_nothing(own_sim):
    refuses(own_sim, lambda: own_sim.change_ap_settings(), "date_received_usage",
            "Choose Date Received Usage, Payment Date Usage or both.")
    refuses(own_sim, lambda: own_sim.change_ap_settings(payment_date_usage="Sometimes"), "payment_date_usage",
            "Payment Date Usage must be one of: Required, Not Required, Not Used.")
    refuses(own_sim, lambda: own_sim.change_tax_group_sync("Maybe"), "status", "Status must be one of: Off, On.")


@pytest.mark.parametrize("setting, name", [("date_received_usage", "Date Received"),
                                           ("payment_date_usage", "Payment Date")])
def test_sage_refuses_an_ap_import_while_a_date_is_required(own_sim, setting, name):
    own_sim.set_setting(setting, "Required")
    result = own_sim.submit(ap_batch("b-req", "INV-R"))
    assert not result.ok and result.message.endswith(
        f"{name} is required (AP Settings - Invoice Settings: {name} Usage is Required).")
    assert own_sim.get_invoice("ACME", "INV-R") is None
    own_sim.set_setting(setting, "Not Used")
    assert own_sim.submit(ap_batch("b-req2", "INV-R")).ok


def test_file_drop_connector_says_what_it_cannot_check(tmp_path):
    checks = FileDropConnector(str(tmp_path)).setup_checks()
    assert [c.key for c in checks] == ["ap_date_received_usage", "ap_payment_date_usage", "tax_groups_not_imported"]
    assert all(c.ok is None and c.state.startswith("not checked") and c.fix.startswith("make sure") for c in checks)


# ---- the simulator: AP Vendor Insurance and the Hold flag ----------------------------------------

def test_vendor_insurance_entered_changed_and_removed_as_a_sage_user(own_sim):
    said = own_sim.set_vendor_insurance("ACME", "General Liability", "GL-1", "Fidelity Mutual", "1,000,000",
                                        "2026-01-01", "2026-12-31")
    assert said == "General Liability insurance of vendor ACME added."
    assert own_sim.set_vendor_insurance("ACME", "General Liability", "GL-2", "Fidelity Mutual", None, None,
                                        date(2027, 6, 30)) == "General Liability insurance of vendor ACME changed."
    own_sim.set_vendor_insurance("ACME", "Workers Compensation", "WC-1", "State Fund", "", "", "2026-03-31")
    rows = own_sim.list_vendor_insurance("ACME")
    assert [(r["Insurance_Type"], r["Policy_Number"], r["Limit_Amount"], r["Expiration_Date"]) for r in rows] == [
        ("General Liability", "GL-2", None, date(2027, 6, 30)),
        ("Workers Compensation", "WC-1", None, date(2026, 3, 31))]
    assert own_sim.overview()["insurance"] == rows
    assert own_sim.delete_vendor_insurance("ACME", "Workers Compensation") == \
        "Workers Compensation insurance of vendor ACME removed."
    assert [r["Insurance_Type"] for r in own_sim.list_vendor_insurance()] == ["General Liability"]


@pytest.mark.parametrize("call, field, message", [
    (lambda s: s.set_vendor_insurance("NOPE", "Umbrella", expiration_date="2026-12-31"), "vendor",
     "No vendor NOPE in Sage 300 CRE."),
    (lambda s: s.set_vendor_insurance("ACME", "Life", expiration_date="2026-12-31"), "insurance_type",
     "Insurance type must be one of: General Liability, Automobile, Umbrella, Workers Compensation."),
    (lambda s: s.set_vendor_insurance("ACME", "Umbrella"), "expiration_date", "Expiration date is required."),
    (lambda s: s.set_vendor_insurance("ACME", "Umbrella", effective_date="2026-05-01", expiration_date="2026-04-01"),
     "expiration_date", "Expiration date cannot be before the effective date."),
    (lambda s: s.set_vendor_insurance("ACME", "Umbrella", limit_amount="lots", expiration_date="2026-04-01"),
     "limit_amount", "Limit must be an amount like 1000000.00."),
    (lambda s: s.set_vendor_insurance("ACME", "Umbrella", policy_number="P" * 21, expiration_date="2026-04-01"),
     "policy_number", "Policy number is too long: Sage 300 CRE allows at most 20 characters."),
    (lambda s: s.delete_vendor_insurance("ACME", "Umbrella"), "insurance_type",
     "Vendor ACME has no Umbrella insurance in Sage 300 CRE."),
], ids=["vendor", "type", "no-expiry", "backwards", "limit", "too-long", "remove-missing"])
def test_vendor_insurance_refusals_change_nothing(own_sim, call, field, message):
    refuses(own_sim, lambda: call(own_sim), field, message)


def test_an_invoice_exported_on_hold_is_stored_with_its_hold_flag(own_sim):
    assert own_sim.submit(ap_batch("b-hold", "INV-H", hold=True)).ok
    assert own_sim.submit(ap_batch("b-free", "INV-F")).ok
    assert own_sim.get_invoice("ACME", "INV-H")["Hold"] is True
    assert own_sim.get_invoice("ACME", "INV-F")["Hold"] is False
    listed = {row[1]: row[-1] for row in own_sim.exported()["ap_invoices"]["rows"]}
    assert listed == {"INV-H": "Hold", "INV-F": ""}
    held, free = (parse_import_file(import_file(ap_batch("x", n, hold=h)))[0] for n, h in (("A", True), ("B", False)))
    assert held[-1] == "Y" and len(held) == 12 and len(free) == 11


# ---- the portal: Accept refused, a queued export fails ------------------------------------------

def sent_invoice(session, road):
    setup, creator, approver = road
    inv = setup.invoice(session, creator)
    return setup, inv, services.send(session, creator, "subcontractor_invoice", inv.id), approver


def test_accept_is_refused_while_an_ap_setting_is_required_and_a_queued_export_fails_with_it(
        session, sim, road, drain, sage_settings):
    setup, inv, erp, approver = sent_invoice(session, road)
    fields = get_type("subcontractor_invoice").export_defaults(inv)
    sage_settings("date_received_usage", "Required")
    with pytest.raises(Invalid) as exc:
        services.accept(session, approver, erp.id, fields, RQJobQueue(), SimulatorConnector(sim))
    assert exc.value.fields == {"_": DATE_RECEIVED}
    session.expire_all()
    assert services.get_erp_item(session, erp.id).state == State.READY
    # accepted before the setting changed (no connector asked): the queued export fails with the message
    services.accept(session, approver, erp.id, fields, RQJobQueue())
    drain()
    session.expire_all()
    failed = services.get_erp_item(session, erp.id)
    assert (failed.state, failed.sage_message) == (State.FAILED, DATE_RECEIVED)
    assert sim.get_invoice(setup.vendor.erp_vendor_id, inv.number) is None
    sage_settings("date_received_usage", "Not Required")  # fixed in Sage: Retry syncs it
    services.accept(session, approver, erp.id, fields, RQJobQueue(), SimulatorConnector(sim))
    drain()
    session.expire_all()
    assert services.get_erp_item(session, erp.id).state == State.SYNCED


def test_tax_groups_imported_make_invoice_export_unavailable_in_bulk_too(session, sim, road, sage_settings):
    _, _, erp, approver = sent_invoice(session, road)
    sage_settings("tax_group_sync", "On")
    accepted, errors = services.accept_many(session, approver, "subcontractor_invoice", [erp.id], RQJobQueue(),
                                            SimulatorConnector(sim))
    assert accepted == [] and errors == {erp.id: TAX_GROUPS}


# ---- the insurance sync -------------------------------------------------------------------------

def run_sync(session, sim):
    run = sync.start(session, f.approver(session), "insurance", RecordingQueue())
    return sync.execute(session, run.id, sim)


def certificates_of(session, vendor_id):
    session.expire_all()
    return {(c.insurance_type, c.policy_number, c.expiration_date) for c in session.scalars(
        select(VendorInsurance).where(VendorInsurance.vendor_id == vendor_id))}


def test_insurance_sync_brings_each_linked_vendors_certificates_and_follows_sage(session, sim, road):
    setup = road[0]
    code = setup.vendor.erp_vendor_id
    sim.set_vendor_insurance(code, "General Liability", "GL-9", "Fidelity", "2000000", "2026-01-01", "2026-12-31")
    sim.set_vendor_insurance(code, "Umbrella", "UM-9", "Fidelity", None, None, "2026-06-30")
    first = run_sync(session, sim)
    assert first.added >= 2 and first.status == SyncStatus.DONE, first.message
    assert certificates_of(session, setup.vendor.id) == {("general_liability", "GL-9", date(2026, 12, 31)),
                                                         ("umbrella", "UM-9", date(2026, 6, 30))}
    sim.set_vendor_insurance(code, "Umbrella", "UM-10", "Fidelity", None, None, "2027-06-30")
    sim.delete_vendor_insurance(code, "General Liability")
    run_sync(session, sim)
    assert certificates_of(session, setup.vendor.id) == {("umbrella", "UM-10", date(2027, 6, 30))}
    again = run_sync(session, sim)
    assert again.unchanged >= 1 and certificates_of(session, setup.vendor.id) == {
        ("umbrella", "UM-10", date(2027, 6, 30))}


# ---- the gate ------------------------------------------------------------------------------------

def insured(session, sim, setup, gl_expires: date):
    """The vendor's General Liability (expiring then) and Workers Compensation (valid) synced from Sage."""
    code = setup.vendor.erp_vendor_id
    sim.set_vendor_insurance(code, "General Liability", "GL-1", "Fidelity", None, None, gl_expires)
    sim.set_vendor_insurance(code, "Workers Compensation", "WC-1", "State Fund", None, None,
                             TODAY + timedelta(days=400))
    run_sync(session, sim)


EXPIRED = TODAY - timedelta(days=3)


@pytest.mark.parametrize("mode, hold, outcome", [
    ("not_required", False, "synced"), ("warn", False, "warned"), ("block", False, "refused"),
    ("block", True, "on hold")])
def test_the_gate_per_setting(session, sim, road, drain, gate, mode, hold, outcome):
    setup, inv, erp, approver = sent_invoice(session, road)
    insured(session, sim, setup, EXPIRED)
    gate(insurance_gate_subcontract=mode, insurance_hold_subcontract="on" if hold else False,
         insurance_required_general_liability="on", insurance_required_workers_compensation="on",
         insurance_required_umbrella=False, insurance_required_automobile=False)
    fields = get_type("subcontractor_invoice").export_defaults(inv)
    listed = f"{setup.vendor.name}'s insurance: General Liability expired {EXPIRED:%m/%d/%Y}."
    if outcome == "refused":
        with pytest.raises(Invalid) as exc:
            services.accept(session, approver, erp.id, fields, RQJobQueue())
        assert exc.value.fields["_"].startswith(f"Accept refused: {listed}")
        session.expire_all()
        assert services.get_erp_item(session, erp.id).state == State.READY
        return
    services.accept(session, approver, erp.id, fields, RQJobQueue())
    drain()
    session.expire_all()
    done = services.get_erp_item(session, erp.id)
    assert done.state == State.SYNCED, done.sage_message
    assert bool(done.export_fields.get("hold")) is (outcome == "on hold")
    assert sim.get_invoice(setup.vendor.erp_vendor_id, inv.number)["Hold"] is (outcome == "on hold")
    detail = session.scalars(select(ErpAudit.detail).where(ErpAudit.erp_item_id == erp.id,
                                                           ErpAudit.action == "accept")).one()
    assert detail.get("insurance") == (None if outcome == "synced" else ["General Liability expired "
                                                                          f"{EXPIRED:%m/%d/%Y}"])


def test_bulk_accept_refuses_a_blocked_invoice_with_the_list(session, sim, road, gate):
    setup, inv, erp, approver = sent_invoice(session, road)
    insured(session, sim, setup, EXPIRED)
    gate(insurance_gate_subcontract="block", insurance_hold_subcontract=False,
         insurance_required_general_liability="on")
    accepted, errors = services.accept_many(session, approver, "subcontractor_invoice", [erp.id], RQJobQueue(),
                                            SimulatorConnector(sim))
    assert accepted == [] and errors[erp.id].startswith(
        f"Accept refused: {setup.vendor.name}'s insurance: General Liability expired {EXPIRED:%m/%d/%Y}")


def test_a_missing_certificate_blocks_and_a_purchase_order_follows_its_own_setting(session, sim, road, gate):
    setup, inv, erp, approver = sent_invoice(session, road)
    insured(session, sim, setup, TODAY + timedelta(days=90))
    gate(insurance_gate_subcontract="block", insurance_gate_purchase_order="not_required",
         insurance_hold_subcontract=False, insurance_required_general_liability="on",
         insurance_required_umbrella="on", insurance_required_workers_compensation=False,
         insurance_required_automobile=False)
    kind = get_type("subcontractor_invoice")
    made = compliance.gate_for(session, kind, kind.load(session, inv.id))
    assert made.mode == "block" and made.problems == ("Umbrella missing",)
    with pytest.raises(Invalid, match="Umbrella missing"):
        services.accept(session, approver, erp.id, kind.export_defaults(inv), RQJobQueue())
    setup.commitment.commitment_type = "purchase_order"
    session.commit()
    session.expire_all()
    assert compliance.gate_for(session, kind, kind.load(session, inv.id)) is None


def test_expiring_lists_the_certificates_that_expire_within_30_days(session, sim, road):
    setup = road[0]
    insured(session, sim, setup, TODAY + timedelta(days=30))
    soon = compliance.expiring(session, vendor_id=setup.vendor.id)
    assert [(c.type_label, c.expiration_date, c.status) for c in soon] == [
        ("General Liability", TODAY + timedelta(days=30), "expiring")]
    assert compliance.expiring(session, today=TODAY + timedelta(days=31), vendor_id=setup.vendor.id) == []
    everyone = compliance.expiring(session)
    assert any(c.vendor_id == setup.vendor.id for c in everyone)
    assert [c.status for c in compliance.certificates(session, setup.vendor.id)] == ["expiring", "valid"]


def test_direct_export_does_not_pass_a_blocking_gate_the_item_waits_in_ready_to_export(session, sim, road, drain,
                                                                                          gate):
    setup, creator, _ = road
    insured(session, sim, setup, EXPIRED)
    gate(direct_export_invoices="on", insurance_gate_subcontract="block", insurance_hold_subcontract=False,
         insurance_required_general_liability="on")
    blocked = services.send(session, creator, "subcontractor_invoice", setup.invoice(session, creator).id,
                            RQJobQueue())
    assert blocked.state == State.READY
    gate(insurance_hold_subcontract="on")  # allowed on hold: exported at once, held in Sage AP
    held = setup.invoice(session, creator)
    erp = services.send(session, creator, "subcontractor_invoice", held.id, RQJobQueue())
    drain()
    session.expire_all()
    assert services.get_erp_item(session, erp.id).state == State.SYNCED
    assert sim.get_invoice(setup.vendor.erp_vendor_id, held.number)["Hold"] is True
