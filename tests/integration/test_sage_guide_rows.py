"""The connector guide's data-mapping rows the exports once got wrong, checked against the
simulator's tables and the import files: a CCO's new line as 2 imports in order, quantities on
unit-based commitments and their invoices, distribution descriptions from the commitment line."""
from __future__ import annotations

from decimal import Decimal as D

from portal.domain import items, services
from portal.domain.lifecycle import State
from portal.domain.models import CommitmentLine
from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector
from portal.exporters.sage300.fileformat import FILE_ENCODING, drop_file_name, parse_import_file
from portal.exporters.sage300.simulator import CCO_EXISTS
from tests import factories as f, items as it
from tests.types import get_type


class Recording:
    """A connector that remembers the batches it was given, in order, and passes them on."""

    def __init__(self, connector):
        self.connector, self.batches = connector, []

    def held(self):
        return self.connector.held()

    def submit(self, batch):
        self.batches.append(batch)
        return self.connector.submit(batch)


def accepted_cco(session, sim, home, admin, cco_id: str):
    """The home's CCO (line 1 changed twice, a new Sealant line of 750 on MAT) sent and accepted."""
    cco = items.save_item(session, admin, "cco", home.pid, None, it.form_data(session, sim, "cco", home))
    erp = services.send(session, admin, "cco", cco.id)
    erp = services.accept(session, f.approver(session), erp.id, {"cco_id": cco_id}, f.NullQueue())
    return cco, erp


def sealant_items(sim, home) -> list[dict]:
    return [i for i in sim.list_commitment_items(home.commitment_erp) if i["Description"] == "Sealant"]


# ---- a CCO with a new line: 2 imports, in order, each idempotent ---------------------------------

def test_a_cco_new_line_is_two_imports_in_order_on_the_simulator(session, sim, home, export):
    home, admin = home
    cco = items.save_item(session, admin, "cco", home.pid, None, it.form_data(session, sim, "cco", home))
    cco_id = f"C{f.suffix(6)}"
    erp = export(services.send(session, admin, "cco", cco.id), {"cco_id": cco_id})
    assert erp.state == State.SYNCED, erp.sage_message
    batch_id = services.batch_id(erp)
    first, second = sim.import_log(batch_id + "-items"), sim.import_log(batch_id)
    assert (first["Kind"], first["Ok"], first["Reference"]) == (
        "jc_commitment_item", True, f"{home.commitment_erp}: 1 added")
    assert (second["Kind"], second["Ok"], second["Reference"]) == (
        "jc_commitment_co", True, f"{home.commitment_erp}/{cco_id}")
    assert first["Created_At"] <= second["Created_At"]
    [item] = sealant_items(sim, home)
    assert (item["Item"], item["Category"], item["Amount"]) == ("3", "MAT", D("0.00"))
    assert [(r["Item"], r["Amount"]) for r in sim.list_cco_items(home.commitment_erp, cco_id)] == [
        ("1", D("1500.00")), ("3", D("750.00"))]


def test_a_cco_new_line_is_two_import_files_in_order_from_the_file_drop(session, sim, home, tmp_path):
    home, admin = home
    cco, erp = accepted_cco(session, sim, home, admin, f"C{f.suffix(6)}")
    connector = Recording(FileDropConnector(str(tmp_path / "drop")))
    assert services.run_export(session, erp.id, erp.attempt, connector) == State.SYNCED
    batch_id = services.batch_id(erp)
    assert [(b.batch_id, b.kind) for b in connector.batches] == [
        (batch_id + "-items", "jc_commitment_item"), (batch_id, "jc_commitment_co")]
    files = [parse_import_file((tmp_path / "drop" / drop_file_name(b.batch_id)).read_text(encoding=FILE_ENCODING))
             for b in connector.batches]
    assert [[row[0] for row in rows] for rows in files] == [["CI"], ["CO", "CC", "CC"]]
    assert files[0][0][1:4] == [home.commitment_erp, "3", "Sealant"]


def test_a_cco_without_a_new_line_is_one_import(session, sim, home):
    home, admin = home
    form = it.form_data(session, sim, "cco", home)
    for part in ("description", "category_id", "amount"):
        form.pop(f"line-2-{part}")
    cco = items.save_item(session, admin, "cco", home.pid, None, form)
    kind = get_type("cco")
    batches = kind.build_batches(session, kind.load(session, cco.id), {"cco_id": "X1"}, "b-1")
    assert [(b.batch_id, b.kind) for b in batches] == [("b-1", "jc_commitment_co")]


def test_a_retry_after_the_new_item_went_through_does_not_add_it_twice(session, sim, home):
    """The first import (the item) is in Sage, the second refused; Retry adds no second item."""
    home, admin = home
    taken = f"T{f.suffix(6)}"
    other = "C" + f.suffix(9)
    sim.add_commitment(other, home.vendor_erp, home.job, D("100"))
    sim.add_commitment_co(other, taken, "Entered in Sage")
    cco, erp = accepted_cco(session, sim, home, admin, taken)
    connector = SimulatorConnector(sim)
    assert services.run_export(session, erp.id, erp.attempt, connector) == State.FAILED
    first = services.batch_id(erp)
    assert sim.import_log(first + "-items")["Ok"] and sim.import_log(first)["Message"] == CCO_EXISTS
    assert len(sealant_items(sim, home)) == 1

    cco_id = f"C{f.suffix(6)}"
    erp = services.accept(session, f.approver(session), erp.id, {"cco_id": cco_id}, f.NullQueue())
    assert services.run_export(session, erp.id, erp.attempt, connector) == State.SYNCED
    again = services.batch_id(erp)
    assert again != first
    assert sim.import_log(again + "-items")["Reference"] == f"{home.commitment_erp}: 0 added"
    assert len(sealant_items(sim, home)) == 1
    assert [r["Item"] for r in sim.list_cco_items(home.commitment_erp, cco_id)] == ["1", "3"]
    session.expire_all()
    added = session.query(CommitmentLine).filter_by(commitment_id=home.commitment, description="Sealant").all()
    assert [line.line_no for line in added] == [3]

    # a re-run of the same imports replays both: nothing is added
    kind = get_type("cco")
    batches = kind.build_batches(session, kind.load(session, cco.id), {"cco_id": cco_id}, again)
    assert all(connector.submit(b).replayed for b in batches[:1])
    assert len(sealant_items(sim, home)) == 1


def test_an_item_number_taken_by_another_item_is_refused(session, sim, home):
    home, admin = home
    sim.add_commitment_item(home.commitment_erp, "3", home.job, "03-300", "SUB", D("10"), description="Other")
    cco, erp = accepted_cco(session, sim, home, admin, f"C{f.suffix(6)}")
    assert services.run_export(session, erp.id, erp.attempt, SimulatorConnector(sim)) == State.FAILED
    session.expire_all()
    assert services.get_erp_item(session, erp.id).sage_message == \
        "A contract item already exists on this contract with the specified code."
    assert sim.import_log(services.batch_id(erp)) is None   # the change order was never sent
