"""PCCOs and owner invoices through the gate, against the simulator's contracts and AR."""
from decimal import Decimal

import pytest

from portal.domain import items, services
from portal.domain.lifecycle import State
from portal.domain.models import PrimeChangeOrder, PrimeContract, PrimeContractItem, ToolLevel
from portal.domain.types import get_type

PCCOS = get_type("pcco")
from portal.queue import RQJobQueue
from tests import factories as f


@pytest.fixture
def contract(session, sim):
    admin = f.make_user(session)
    setup = f.Setup(session, sim)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    number, customer = f"PC{f.suffix(6)}", f"CU{f.suffix(6)}"
    pc = PrimeContract(project_id=setup.project.id, number=number, title="Owner contract",
                       status="Approved", sage_contract_id=number, customer=customer)
    session.add(pc)
    session.flush()
    session.add_all([PrimeContractItem(contract_id=pc.id, code="100", description="Sitework",
                                       amount=Decimal("400000")),
                     PrimeContractItem(contract_id=pc.id, code="200", description="Building",
                                       amount=Decimal("900000"))])
    session.commit()
    sim.add_contract(number, setup.project.sage_job_id, "Owner contract",
                     items=[("100", "Sitework", 400000), ("200", "Building", 900000)])
    sim.add_customer(customer, "City of Springfield")
    session.refresh(pc, ["items"])
    return setup, admin, pc


def accept(session, erp, fields, drain):
    services.accept(session, f.approver(session), erp.id, fields, RQJobQueue())
    drain()
    session.expire_all()
    return services.get_erp_item(session, erp.id)


def test_pcco_with_a_new_contract_item_exports_and_approves(session, sim, contract, drain):
    setup, admin, pc = contract
    existing = pc.items[0]
    pcco = items.save_item(session, admin, "pcco", setup.project.id, None, {
        "contract_id": str(pc.id), "number": "PCO-7", "title": "Owner-requested canopy",
        "status": "Pending - In Review",
        "line-0-contract_item_id": str(existing.id), "line-0-category_id": str(setup.sub.id),
        "line-0-amount": "12000",
        "line-1-description": "Canopy", "line-1-category_id": str(setup.mat.id), "line-1-amount": "8000"})
    assert [f.name for f in PCCOS.accept_fields(PCCOS.load(session, pcco.id))] == [
        "transaction_date", "new_item_code"]
    erp = services.send(session, admin, "pcco", pcco.id)
    erp = accept(session, erp, {"transaction_date": "2026-11-20", "new_item_code": "300"}, drain)
    assert erp.state == State.SYNCED, erp.sage_message
    assert session.get(PrimeChangeOrder, pcco.id).status == "Approved"
    estimate = sim.list_transactions(setup.project.sage_job_id, "Approved est chng")
    assert {t["Ref_1"] for t in estimate} == {"PCO-7"} and len(estimate) == 2
    codes = {i["Item"] for i in sim.list_contract_items(pc.sage_contract_id)}
    assert "300" in codes


def test_owner_invoice_exports_as_ar_and_a_duplicate_is_refused(session, sim, contract, drain):
    setup, admin, pc = contract
    form = {"contract_id": str(pc.id), "number": f"OI{f.suffix(4)}", "period_start": "2026-10-01",
            "period_end": "2026-10-31", "billing_date": "2026-10-31", "status": "Approved",
            "line-0-contract_item_id": str(pc.items[0].id), "line-0-amount": "50000",
            "line-0-retainage": "5000"}
    first = items.save_item(session, admin, "owner_invoice", setup.project.id, None, form)
    erp = services.send(session, admin, "owner_invoice", first.id)
    erp = accept(session, erp, {"erp_id": first.number, "accounting_date": "2026-10-31"}, drain)
    assert erp.state == State.SYNCED, erp.sage_message
    assert sim.get_ar_invoice(first.number) is not None
    second = items.save_item(session, admin, "owner_invoice", setup.project.id, None, form)
    erp = services.send(session, admin, "owner_invoice", second.id)
    erp = accept(session, erp, {"erp_id": first.number, "accounting_date": "2026-10-31"}, drain)
    assert erp.state == State.FAILED
    assert erp.sage_message == "Duplicate Invoice encountered. Invoice # must be unique."
