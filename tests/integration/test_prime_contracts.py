"""PCCOs and owner invoices through the gate, against the simulator's contracts and AR."""
from portal.domain import items, services
from portal.domain.lifecycle import State
from portal.domain.models import PrimeChangeOrder
from tests import factories as f, items as it
from tests.types import get_type


def test_pcco_with_a_new_contract_item_exports_and_approves(session, sim, home, export):
    home, admin = home
    form = it.form_data(session, sim, "pcco", home, new_item=True, number="PCO-7", status="Pending - In Review")
    pcco = items.save_item(session, admin, "pcco", home.pid, None, form)
    kind = get_type("pcco")
    assert [f.name for f in kind.accept_fields(kind.load(session, pcco.id))] == ["transaction_date", "new_item_code"]
    erp = export(services.send(session, admin, "pcco", pcco.id), {"transaction_date": "2026-11-20",
                                                                   "new_item_code": "300"})
    assert erp.state == State.SYNCED, erp.sage_message
    assert session.get(PrimeChangeOrder, pcco.id).status == "Approved"
    estimate = sim.list_transactions(home.job, "Approved est chng")
    assert {t["Ref_1"] for t in estimate} == {"PCO-7"} and len(estimate) == 2
    assert "300" in {i["Item"] for i in sim.list_contract_items(home.contract_number)}


def test_owner_invoice_exports_as_ar_and_a_duplicate_is_refused(session, sim, home, export):
    home, admin = home
    form = it.form_data(session, sim, "owner_invoice", home, number=f"OI{f.suffix(4)}")
    first = items.save_item(session, admin, "owner_invoice", home.pid, None, form)
    fields = {"erp_id": first.number, "accounting_date": "2026-10-31"}
    erp = export(services.send(session, admin, "owner_invoice", first.id), fields)
    assert erp.state == State.SYNCED, erp.sage_message
    assert sim.get_ar_invoice(first.number) is not None
    second = items.save_item(session, admin, "owner_invoice", home.pid, None, form)
    erp = export(services.send(session, admin, "owner_invoice", second.id), fields)
    assert erp.state == State.FAILED
    assert erp.sage_message == "Duplicate Invoice encountered. Invoice # must be unique."
