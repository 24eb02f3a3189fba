"""Unlinking synced items from Sage 300 CRE: refused while Sage holds the record (naming it),
back to draft once it is deleted there, with the old link kept in the audit history."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain import services
from portal.domain.errors import Conflict, Invalid, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import (
    Commitment,
    CommitmentLine,
    ErpAudit,
    ErpItem,
    InvoiceLine,
    PrimeContract,
    ToolLevel,
    Vendor,
    utcnow,
)
from portal.domain.unlink import unlink
from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector
from portal.exporters.sage300.records import ConnectorUnavailable
from tests import factories as f, items as it
from tests.types import type_keys

TYPES = [key for key in type_keys() if it.builder(key).sage_delete]  # the types Unlink is for


@dataclass
class Case:
    """A synced item of one type, what Sage says it holds, and how the Sage user deletes it."""
    key: str
    erp_id: int
    item_id: int
    sender: object
    fields: dict
    held: str
    delete: Callable
    home: it.Home


def export(session, sim, erp_id: int, fields: dict) -> None:
    """Accept with these fields and run the export against the simulator, as the worker would."""
    erp = services.accept(session, f.approver(session), erp_id, fields, f.NullQueue())
    state = services.run_export(session, erp.id, erp.attempt, SimulatorConnector(sim))
    session.expire_all()
    assert state == State.SYNCED, services.get_erp_item(session, erp_id).sage_message


def make_synced(session, sim, key: str) -> Case:
    """One synced item of type `key` on a fresh project (tests/items.py), exported to the simulator."""
    admin = f.make_user(session, site_admin=key == "vendor")
    home = it.make_home(session, sim, {admin.id: ToolLevel.ADMIN})
    item = it.make_item(session, sim, key, State.SYNCED, home=home, sender=admin, approver=f.approver(session))
    b = it.builder(key)
    return Case(key, item.erp, item.id, admin, item.fields, b.held(item), lambda: b.sage_delete(sim, item), home)


def sage_id(session, case: Case):
    """The Sage ID the item itself stores (vendors and commitments), else None."""
    if case.key == "vendor":
        return session.get(Vendor, case.item_id).erp_vendor_id
    if case.key == "commitment":
        return session.get(Commitment, case.item_id).erp_commitment_id
    return None


def snapshot(session, case: Case) -> tuple:
    session.expire_all()
    erp = session.get(ErpItem, case.erp_id)
    audits = session.scalar(select(func.count()).select_from(ErpAudit).where(ErpAudit.erp_item_id == erp.id))
    lines = session.scalar(select(func.count()).select_from(CommitmentLine).where(
        CommitmentLine.commitment_id == case.home.commitment))
    return erp.state, erp.erp_ref, erp.version, erp.export_fields, audits, sage_id(session, case), lines


@pytest.mark.parametrize("key", TYPES)
def test_refused_while_sage_holds_the_record_and_nothing_changes(session, sim, key):
    case = make_synced(session, sim, key)
    before = snapshot(session, case)
    with pytest.raises(Conflict) as exc:
        unlink(session, f.approver(session), case.erp_id, SimulatorConnector(sim))
    assert case.held in exc.value.message
    assert exc.value.message.startswith("Sage 300 CRE still holds ")
    assert exc.value.message.endswith("delete it in Sage first.")
    session.rollback()
    assert snapshot(session, case) == before


@pytest.mark.parametrize("key", TYPES)
def test_deleted_in_sage_goes_back_to_draft_keeps_the_link_in_history_and_can_be_sent_again(session, sim, key):
    case = make_synced(session, sim, key)
    old_ref, old_fields = session.get(ErpItem, case.erp_id).erp_ref, session.get(ErpItem, case.erp_id).export_fields
    assert case.delete()
    approver = f.approver(session)
    erp = unlink(session, approver, case.erp_id, SimulatorConnector(sim))
    session.expire_all()
    erp = session.get(ErpItem, case.erp_id)
    assert (erp.state, erp.erp_ref) == (State.DRAFT, None)
    assert sage_id(session, case) is None
    audit = session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp.id)
                            .order_by(ErpAudit.id.desc())).first()
    assert (audit.action, audit.from_state, audit.to_state, audit.actor_id) == ("unlink", State.SYNCED,
                                                                                State.DRAFT, approver.id)
    assert audit.detail == {"erp_ref": old_ref, "export_fields": old_fields}
    assert old_ref

    erp = services.send(session, case.sender, key, case.item_id)
    assert erp.state == State.READY
    export(session, sim, erp.id, case.fields)
    erp = session.get(ErpItem, case.erp_id)
    assert (erp.state, erp.erp_ref) == (State.SYNCED, old_ref)
    if key in ("vendor", "commitment"):
        assert sage_id(session, case) == old_ref


def test_a_cco_takes_back_the_commitment_line_it_added_and_adds_it_once_on_resend(session, sim):
    case = make_synced(session, sim, "cco")
    commitment = case.home.commitment_erp

    def lines():
        session.expire_all()
        return [(ln.line_no, ln.description) for ln in session.scalars(select(CommitmentLine).where(
            CommitmentLine.commitment_id == case.home.commitment).order_by(CommitmentLine.line_no))]

    assert lines() == [(1, "Footings"), (2, "Rebar"), (3, "Sealant")]
    assert [i["Item"] for i in sim.list_commitment_items(commitment)] == ["1", "2", "3"]
    amount = Decimal(str(sim.get_commitment(commitment)["Amount"]))
    assert case.delete()
    assert [i["Item"] for i in sim.list_commitment_items(commitment)] == ["1", "2"]
    assert Decimal(str(sim.get_commitment(commitment)["Amount"])) == amount - Decimal("2250")  # 1,000 + 500 + 750
    unlink(session, f.approver(session), case.erp_id, SimulatorConnector(sim))
    assert lines() == [(1, "Footings"), (2, "Rebar")]
    services.send(session, case.sender, "cco", case.item_id)
    export(session, sim, case.erp_id, case.fields)
    assert lines() == [(1, "Footings"), (2, "Rebar"), (3, "Sealant")]


def test_a_cco_whose_added_line_is_billed_is_not_unlinked(session, sim):
    case = make_synced(session, sim, "cco")
    line3 = session.scalars(select(CommitmentLine).where(CommitmentLine.commitment_id == case.home.commitment,
                                                         CommitmentLine.line_no == 3)).one()
    invoice = it.make_item(session, sim, "subcontractor_invoice", home=case.home, sender=case.sender)
    session.add(InvoiceLine(invoice_id=invoice.id, commitment_line_id=line3.id, description="Sealant"))
    session.commit()
    case.delete()
    before = snapshot(session, case)
    with pytest.raises(Conflict) as exc:
        unlink(session, f.approver(session), case.erp_id, SimulatorConnector(sim))
    assert "line(s) 3 added by this CCO are billed" in exc.value.message
    assert snapshot(session, case) == before


def test_a_commitment_is_held_by_its_change_orders_and_ap_invoices_too(session, sim):
    setup = f.Setup(session, sim)
    admin = f.make_user(session)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    commitment, job = setup.commitment.erp_commitment_id, setup.project.sage_job_id
    # linked as the import links it: an erp item already Synced, erp_ref = the Sage ID
    erp = ErpItem(item_type="commitment", item_id=setup.commitment.id, project_id=setup.project.id,
                  state=State.SYNCED, erp_ref=commitment, synced_at=utcnow(), attempt=0)
    session.add(erp)
    session.commit()
    invoice = setup.invoice(session, admin)
    export(session, sim, services.send(session, admin, "subcontractor_invoice", invoice.id).id,
           {"erp_id": invoice.number, "accounting_date": "2026-10-31"})
    sim.add_commitment_co(commitment, f"K{f.suffix(6)}")
    cco = sim.list_ccos(commitment)[0]["CCO"]
    vendor = setup.vendor.erp_vendor_id
    approver = f.approver(session)
    with pytest.raises(Conflict) as exc:
        unlink(session, approver, erp.id, SimulatorConnector(sim))
    assert exc.value.message == (
        f"Sage 300 CRE still holds commitment {commitment} on job {job}, change order {cco} on commitment "
        f"{commitment} and AP invoice {invoice.number} of vendor {vendor}: delete them in Sage first.")
    session.rollback()
    sim.delete_commitment(commitment)
    assert sim.get_commitment(commitment) is None and sim.list_ccos(commitment) == []
    with pytest.raises(Conflict) as exc:
        unlink(session, approver, erp.id, SimulatorConnector(sim))
    assert exc.value.message == (f"Sage 300 CRE still holds AP invoice {invoice.number} of vendor {vendor}: "
                                 "delete it in Sage first.")
    session.rollback()
    assert sim.delete_invoice(vendor, invoice.number)
    assert sim.list_distributions(vendor, invoice.number) == []
    unlink(session, approver, erp.id, SimulatorConnector(sim))
    session.expire_all()
    assert session.get(ErpItem, erp.id).state == State.DRAFT
    assert session.get(Commitment, setup.commitment.id).erp_commitment_id is None


def test_a_vendor_linked_by_the_import_unlinks_the_same_way(session, sim):
    s = f.suffix(6)
    vendor = Vendor(name=f"Imported {s}", erp_vendor_id=f"I{s}")
    session.add(vendor)
    session.flush()
    erp = ErpItem(item_type="vendor", item_id=vendor.id, state=State.SYNCED, erp_ref=vendor.erp_vendor_id,
                  synced_at=utcnow(), attempt=0)
    session.add(erp)
    session.commit()
    sim.add_vendor(f"I{s}", f"Imported {s}")
    with pytest.raises(Conflict) as exc:
        unlink(session, f.approver(session), erp.id, SimulatorConnector(sim))
    assert f"vendor I{s} (Imported {s})" in exc.value.message
    session.rollback()
    assert sim.delete_vendor(f"I{s}")
    unlink(session, f.approver(session), erp.id, SimulatorConnector(sim))
    session.expire_all()
    assert session.get(Vendor, vendor.id).erp_vendor_id is None
    audit = session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp.id)).one()
    assert audit.detail == {"erp_ref": f"I{s}", "export_fields": None}


def test_sage_refuses_to_delete_a_vendor_its_commitments_still_use(session, sim):
    setup = f.Setup(session, sim)
    with pytest.raises(ValueError, match="still has commitments"):
        sim.delete_vendor(setup.vendor.erp_vendor_id)
    assert sim.get_vendor(setup.vendor.erp_vendor_id) is not None


@pytest.mark.parametrize("role", [dict(erp_level=ToolLevel.READ_ONLY), dict(erp_level=ToolLevel.STANDARD),
                                  dict(erp_level=ToolLevel.ADMIN), dict(site_admin=True)],
                         ids=["read-only", "standard", "erp-admin-without-push", "site-admin"])
def test_only_accounting_approvers_unlink(session, sim, role):
    case = make_synced(session, sim, "commitment")
    case.delete()
    before = snapshot(session, case)
    with pytest.raises(PermissionDenied):
        unlink(session, f.make_user(session, **role), case.erp_id, SimulatorConnector(sim))
    assert snapshot(session, case) == before


def test_only_synced_items_are_unlinked(session, sim):
    setup = f.Setup(session, sim)
    admin = f.make_user(session)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    erp = services.send(session, admin, "subcontractor_invoice", setup.invoice(session, admin).id)
    with pytest.raises(Conflict) as exc:
        unlink(session, f.approver(session), erp.id, SimulatorConnector(sim))
    assert exc.value.message == "Cannot unlink an item that is Ready to Export."
    session.rollback()
    assert session.get(ErpItem, erp.id).state == State.READY


def test_other_item_types_cannot_be_unlinked(session, sim):
    setup = f.Setup(session, sim)
    erp = ErpItem(item_type="job", item_id=setup.project.id, project_id=setup.project.id, state=State.SYNCED,
                  erp_ref=setup.project.sage_job_id, attempt=1)
    session.add(erp)
    session.commit()
    with pytest.raises(Invalid) as exc:
        unlink(session, f.approver(session), erp.id, SimulatorConnector(sim))
    assert exc.value.message.startswith(
        "Jobs cannot be unlinked from Sage 300 CRE; only subcontractor invoices, vendors, commitments")
    assert session.get(ErpItem, erp.id).state == State.SYNCED


def test_the_file_drop_connector_cannot_check_sage_so_nothing_is_unlinked(session, sim, tmp_path):
    case = make_synced(session, sim, "owner_invoice")
    case.delete()
    before = snapshot(session, case)
    with pytest.raises(Conflict) as exc:
        unlink(session, f.approver(session), case.erp_id, FileDropConnector(str(tmp_path)))
    assert "needs a connection that can read Sage 300 CRE (the simulator)" in exc.value.message
    assert snapshot(session, case) == before


def test_sage_unreachable_unlinks_nothing(session, sim):
    case = make_synced(session, sim, "vendor")
    case.delete()
    before = snapshot(session, case)

    class Down:
        def held_by_sage(self, kind, ref):
            raise ConnectorUnavailable("Sage 300 CRE simulator unavailable: connection refused")

    with pytest.raises(Conflict) as exc:
        unlink(session, f.approver(session), case.erp_id, Down())
    assert exc.value.message.startswith("Sage 300 CRE could not be reached, so nothing was unlinked")
    assert snapshot(session, case) == before


def test_deleting_a_pccos_transactions_takes_its_schedule_change_off_the_contract_item(session, sim):
    case = make_synced(session, sim, "pcco")
    job = case.home.job
    contract = session.scalars(select(PrimeContract).where(PrimeContract.project_id == case.home.pid)).one()
    item = lambda: sim.list_contract_items(contract.sage_contract_id)[0]  # noqa: E731
    assert Decimal(str(item()["Approved_Changes"])) == Decimal("12000")
    number = session.get(ErpItem, case.erp_id).erp_ref.split("/", 1)[1]
    # a budget change with the same reference (no Ref 2 "HH2") is not the PCCO's
    sim.add_transaction(job, "03-300", "SUB", "Approved est chng", 5, ref_1=number)
    assert sim.delete_change_transactions(job, number) == 2
    assert Decimal(str(item()["Approved_Changes"])) == Decimal("0")
    assert sim.find_change_transactions(job, number) == []
    assert [(t["Ref_1"], t["Ref_2"]) for t in sim.list_transactions(job, "Approved est chng")] == [(number, "")]
