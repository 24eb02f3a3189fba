"""The connector guide's data-mapping rows the exports once got wrong, checked against the
simulator's tables and the import files: a CCO's new line as 2 imports in order, quantities on
unit-based commitments and their invoices, distribution descriptions from the commitment line."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from portal.domain import items, projects, ready_to_import as rti, services, settings, sync
from portal.domain.errors import Conflict, Invalid, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import (
    Commitment,
    CommitmentLine,
    InvoiceLine,
    InvoiceStatus,
    PrimeContract,
    PrimeContractItem,
    Project,
    SubcontractorInvoice,
    ToolLevel,
)
from portal.domain.sage_models import ImportStatus, SageRecord
from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector
from portal.exporters.sage300.fileformat import FILE_ENCODING, drop_file_name, parse_import_file
from portal.exporters.sage300.mapping import map_commitment
from portal.exporters.sage300.records import CommitmentData, CommitmentItemData
from portal.exporters.sage300.simulator import CCO_EXISTS
from portal.exporters.sage300.simulator.rules import UNITS_TIMES_COST
from tests import factories as f, items as it
from tests.fake_sage import FakeSage, RecordingQueue
from tests.types import direct_export_keys, get_type

TODAY = date(2026, 10, 1)


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


# ---- what Sage holds after an export: the simulator's tables, or the file drop's import file -------

CONNECTORS = ("simulator", "filedrop")


def run(session, sim, erp, where: str, tmp_path) -> str:
    """Run the accepted item's export through the simulator or a file drop in tmp_path; its state."""
    connector = SimulatorConnector(sim) if where == "simulator" else FileDropConnector(str(tmp_path / "drop"))
    return services.run_export(session, erp.id, erp.attempt, connector)


def file_rows(tmp_path, batch_id: str, record: str) -> list[list[str]]:
    text = (tmp_path / "drop" / drop_file_name(batch_id)).read_text(encoding=FILE_ENCODING)
    return [row for row in parse_import_file(text) if row[0] == record]


def number(text: str) -> D | None:
    return D(text) if text else None


def commitment_items(sim, tmp_path, where: str, commitment: str, batch_id: str) -> list[tuple]:
    """(item, units, unit cost, amount) of each commitment item, as Sage holds it."""
    if where == "simulator":
        return [(i["Item"], i["Units"], i["Unit_Cost"], i["Amount"]) for i in sim.list_commitment_items(commitment)]
    return [(r[2], number(r[8]), number(r[9]), D(r[11])) for r in file_rows(tmp_path, batch_id, "CI")]


def distributions(sim, tmp_path, where: str, vendor: str, invoice: str, batch_id: str) -> list[tuple]:
    """(commitment item, description, units, amount) of each AP distribution, as Sage holds it."""
    if where == "simulator":
        return [(d["Commitment_Item"], d["Description"], d["Units"], d["Amount"])
                for d in sim.list_distributions(vendor, invoice)]
    return [(r[2], r[7], number(r[11]), D(r[8])) for r in file_rows(tmp_path, batch_id, "APDF")]


# ---- quantities: a unit-based commitment, and the quantity its invoices bill ------------------------

def unit_commitment_form(session, sim, home, **over):
    """A unit-based purchase order: 120 EA at 12.50 (amount left blank), 40 LF at 8.25 = 330.00."""
    return it.form_data(session, sim, "commitment", home, **{
        "commitment_type": "purchase_order", "accounting_method": "unit",
        "line-0-units": "120", "line-0-unit_cost": "12.50", "line-0-unit_description": "EA", "line-0-amount": "",
        "line-1-units": "40", "line-1-unit_cost": "8.25", "line-1-amount": "330", **over})


@pytest.mark.parametrize("where", CONNECTORS)
def test_a_unit_based_commitment_sends_units_and_unit_cost(session, sim, home, tmp_path, where):
    home, admin = home
    c = items.save_item(session, admin, "commitment", home.pid, None, unit_commitment_form(session, sim, home))
    saved = get_type("commitment").load(session, c.id)
    assert saved.accounting_method == "unit" and [ln.amount for ln in saved.lines] == [D("1500.00"), D("330.00")]
    erp = services.send(session, admin, "commitment", c.id)
    sage_id = f"PO{f.suffix(8)}"
    erp = services.accept(session, f.approver(session), erp.id, {"sage_id": sage_id}, f.NullQueue())
    assert run(session, sim, erp, where, tmp_path) == State.SYNCED
    assert commitment_items(sim, tmp_path, where, sage_id, services.batch_id(erp)) == [
        ("1", D("120"), D("12.50"), D("1500.00")), ("2", D("40"), D("8.25"), D("330.00"))]


@pytest.mark.parametrize("over, field, message", [
    ({"line-0-units": ""}, "line-0-units", "A unit-based commitment's line needs its Qty."),
    ({"line-1-unit_cost": ""}, "line-1-unit_cost", "A unit-based commitment's line needs its Unit Cost."),
    ({"line-1-amount": "330.02"}, "line-1-amount", "The amount must be Qty × Unit Cost (330.00)."),
    ({"accounting_method": "weight"}, "accounting_method", "Choose Amount-based or Unit/Quantity-based."),
], ids=["no qty", "no unit cost", "amount off by 2 cents", "unknown method"])
def test_a_unit_based_commitment_form_names_the_bad_field(session, sim, home, over, field, message):
    home, admin = home
    with pytest.raises(Invalid) as refused:
        items.save_item(session, admin, "commitment", home.pid, None, unit_commitment_form(session, sim, home, **over))
    assert refused.value.fields[field] == message


def test_the_simulator_refuses_a_commitment_item_whose_units_do_not_make_its_amount(sim, home):
    home, _ = home
    sage_id = f"PO{f.suffix(8)}"
    batch = map_commitment(CommitmentData(
        commitment=sage_id, commitment_type="Purchase Order", description="Pipe", vendor=home.vendor_erp,
        job=home.job, date=TODAY, retainage_pct=D("0"), items=(CommitmentItemData(
            item="1", description="Pipe", cost_code="03-300", category="MAT", amount=D("100.02"), units=D("10"),
            unit_cost=D("10")),)), f"u-{sage_id}")
    result = sim.submit(batch)
    assert (result.ok, result.message) == (False, UNITS_TIMES_COST)
    assert sim.get_commitment(sage_id) is None
    within_a_cent = replace(batch, batch_id=batch.batch_id + "-b", records=(
        batch.records[0], replace(batch.records[1], amount=D("100.01"))))
    assert sim.submit(within_a_cent).ok


def unit_home(session, sim, home):
    """The home's commitment made unit-based: line 1 500 units at 100.00, line 2 1,000 at 50.00, in Sage too."""
    c = session.get(Commitment, home.commitment)
    c.accounting_method = "unit"
    for line_id, units, cost in ((home.line1, D("500"), D("100")), (home.line2, D("1000"), D("50"))):
        line = session.get(CommitmentLine, line_id)
        line.units, line.unit_cost = units, cost
    session.commit()
    sim.delete_commitment(home.commitment_erp)
    sim.add_commitment(home.commitment_erp, home.vendor_erp, home.job, D("100000"))
    for item, category, units, cost in (("1", "SUB", 500, 100), ("2", "MAT", 1000, 50)):
        sim.add_commitment_item(home.commitment_erp, item, home.job, "03-300", category, D(units * cost),
                                units=units, unit_cost=cost)


def unit_invoice(session, sim, home, quantities=("10", "12"), work=("1000", "600")):
    """An invoice on the unit-based commitment: line 1 10 units (1,000.00), line 2 12 units (600.00)."""
    unit_home(session, sim, home)
    inv = SubcontractorInvoice(project_id=home.pid, commitment_id=home.commitment, number=f"INV-{f.suffix()}",
                               period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                               billing_date=date(2026, 10, 31), status=InvoiceStatus.APPROVED)
    session.add(inv)
    session.flush()
    for line_id, qty, amount in zip((home.line1, home.line2), quantities, work, strict=True):
        session.add(InvoiceLine(invoice_id=inv.id, commitment_line_id=line_id, work_completed=D(amount),
                                materials_stored=D("0"), retainage=D("0"), quantity=D(qty) if qty else None))
    session.flush()
    session.refresh(inv, ["lines"])
    inv.recompute_totals()
    session.commit()
    return get_type("subcontractor_invoice").load(session, inv.id)


def accepted_invoice(session, admin, inv):
    erp = services.send(session, admin, "subcontractor_invoice", inv.id)
    return services.accept(session, f.approver(session), erp.id,
                           get_type("subcontractor_invoice").export_defaults(inv), f.NullQueue())


@pytest.mark.parametrize("where", CONNECTORS)
def test_an_invoice_on_a_unit_based_commitment_sends_the_quantity_this_period(session, sim, home, tmp_path, where):
    home, admin = home
    inv = unit_invoice(session, sim, home)
    erp = accepted_invoice(session, admin, inv)
    assert run(session, sim, erp, where, tmp_path) == State.SYNCED
    rows = distributions(sim, tmp_path, where, home.vendor_erp, inv.number, services.batch_id(erp))
    assert [(r[0], r[2], r[3]) for r in rows] == [("1", D("10"), D("1000.00")), ("2", D("12"), D("600.00"))]


def test_an_amount_based_commitment_sends_no_quantity(session, sim, home, tmp_path):
    home, admin = home
    setup_inv = unit_invoice(session, sim, home)
    c = session.get(Commitment, home.commitment)
    c.accounting_method = "amount"
    session.commit()
    erp = accepted_invoice(session, admin, setup_inv)
    assert run(session, sim, erp, "simulator", tmp_path) == State.SYNCED
    assert [d["Units"] for d in sim.list_distributions(home.vendor_erp, setup_inv.number)] == [None, None]


def test_the_simulator_refuses_units_that_do_not_make_the_amount_invoiced(session, sim, home, tmp_path):
    home, admin = home
    inv = unit_invoice(session, sim, home, quantities=("10", "13"))   # 13 x 50.00 is not 600.00
    erp = accepted_invoice(session, admin, inv)
    assert run(session, sim, erp, "simulator", tmp_path) == State.FAILED
    session.expire_all()
    assert services.get_erp_item(session, erp.id).sage_message == (
        f"Ap Invoice Api import failed with error message: Commitment {home.commitment_erp} - line item 2: "
        "amount invoiced does not equal units invoiced times unit cost.")
    assert sim.get_invoice(home.vendor_erp, inv.number) is None


def test_a_unit_based_invoice_line_needs_its_quantity_before_it_is_sent(session, sim, home):
    home, admin = home
    inv = unit_invoice(session, sim, home, quantities=("10", ""))
    kind = get_type("subcontractor_invoice")
    assert any("line(s) 2 need the quantity billed this period" in r
               for r in kind.prerequisites(session, kind.load(session, inv.id)))


def test_editing_a_unit_based_invoice_checks_the_quantity_against_the_unit_cost(session, sim, home):
    home, admin = home
    inv = unit_invoice(session, sim, home, quantities=("", ""))
    line1, line2 = sorted(inv.lines, key=lambda ln: ln.commitment_line_id)
    form = {"number": inv.number, "status": inv.status, "billing_date": "2026-10-31", "period_start": "2026-10-01",
            "period_end": "2026-10-31", f"line-{line1.id}-quantity": "10", f"line-{line2.id}-quantity": "13"}
    with pytest.raises(Invalid) as refused:
        projects.update_invoice(session, admin, home.pid, inv.id, form)
    assert refused.value.fields == {f"line-{line2.id}-work_completed": "Work completed must be the quantity × "
                                                                        "the unit cost (650.00)."}
    projects.update_invoice(session, admin, home.pid, inv.id, {**form, f"line-{line2.id}-quantity": "12"})
    session.expire_all()
    saved = get_type("subcontractor_invoice").load(session, inv.id)
    assert sorted(ln.quantity for ln in saved.lines) == [D("10"), D("12")]


UNIT_CCO = {"line-0-units": "10", "line-1-units": "5", "line-2-units": "15", "line-2-unit_cost": "50"}


@pytest.mark.parametrize("where", CONNECTORS)
def test_a_cco_on_a_unit_based_commitment_sends_its_quantities(session, sim, home, tmp_path, where):
    """Line 1 changed by 10 and 5 units (at its 100.00), a new line of 15 units at 50.00."""
    home, admin = home
    unit_home(session, sim, home)
    cco = items.save_item(session, admin, "cco", home.pid, None, it.form_data(session, sim, "cco", home, **UNIT_CCO))
    erp = services.send(session, admin, "cco", cco.id)
    cco_id = f"C{f.suffix(6)}"
    erp = services.accept(session, f.approver(session), erp.id, {"cco_id": cco_id}, f.NullQueue())
    assert run(session, sim, erp, where, tmp_path) == State.SYNCED
    if where == "simulator":
        rows = [(r["Item"], r["Units"], r["Unit_Cost"], r["Amount"]) for r in sim.list_cco_items(
            home.commitment_erp, cco_id)]
    else:
        rows = [(r[3], number(r[5]), number(r[10]), D(r[4])) for r in file_rows(tmp_path, services.batch_id(erp), "CC")]
    assert rows == [("1", D("15"), None, D("1500.00")), ("3", D("15"), D("50"), D("750.00"))]


@pytest.mark.parametrize("over, field, message", [
    ({"line-2-unit_cost": ""}, "line-2-unit_cost", "A unit-based commitment's line needs its Unit Cost."),
    ({"line-0-units": "11"}, "line-0-amount", "The amount must be Qty × Unit Cost (1,100.00)."),
    ({"line-1-units": ""}, "line-1-units", "A unit-based commitment's line needs its Qty."),
], ids=["new line without unit cost", "qty at the line's unit cost is not the amount", "no qty"])
def test_a_unit_based_ccos_form_names_the_bad_field(session, sim, home, over, field, message):
    home, admin = home
    unit_home(session, sim, home)
    with pytest.raises(Invalid) as refused:
        items.save_item(session, admin, "cco", home.pid, None,
                        it.form_data(session, sim, "cco", home, **{**UNIT_CCO, **over}))
    assert refused.value.fields == {field: message}


# ---- a consolidated distribution is described as its commitment line ------------------------------

@pytest.mark.parametrize("where", CONNECTORS)
def test_a_consolidated_distribution_takes_its_commitment_lines_description(session, sim, road, tmp_path, where):
    """Two sub-lines of commitment line 1 (Footings) make one distribution: described "Footings",
    not as its first sub-line."""
    setup, creator, approver = road
    inv = setup.invoice(session, creator)
    session.add(InvoiceLine(invoice_id=inv.id, commitment_line_id=setup.line1.id, description="Pour east footing",
                            work_completed=D("200"), materials_stored=D("0"), retainage=D("20")))
    for line in session.query(InvoiceLine).filter(InvoiceLine.invoice_id == inv.id,
                                                  InvoiceLine.description.in_(("Footings", "Rebar"))):
        line.description = f"Sub-line of {line.description}"
    session.commit()
    erp = services.send(session, creator, "subcontractor_invoice", inv.id)
    erp = services.accept(session, approver, erp.id, get_type("subcontractor_invoice").export_defaults(inv),
                          f.NullQueue())
    assert run(session, sim, erp, where, tmp_path) == State.SYNCED
    rows = distributions(sim, tmp_path, where, setup.vendor.erp_vendor_id, inv.number, services.batch_id(erp))
    assert [(r[0], r[1], r[3]) for r in rows] == [("1", "Footings", D("1200.00")), ("2", "Rebar", D("600.00"))]


# ---- prime contracts: Unit- or Amount-based before import, several Sage contracts in one -------------

def designate(session, on: bool) -> None:
    """Turn the ERP setting "designate prime contracts Unit- or Amount-based" on or off (an ERP Admin)."""
    current = settings.load(session)
    settings.update(session, f.make_user(session, erp_level=ToolLevel.ADMIN),
                    f.settings_form(current, designate_prime_contract_method="on" if on else False),
                    direct_export_keys())


@pytest.fixture
def designating(session):
    designate(session, True)
    yield
    designate(session, False)


PRICED = (("100", "Sitework", 1000, 10, 100), ("200", "Shell", 2500, 50, 50))


def test_an_erp_admin_imports_a_prime_contract_unit_based(session, sim, home, designating):
    record_id, number = f.sage_contract(session, sim, home[0].job, items=PRICED)
    contract = rti.import_contract(session, f.make_user(session, erp_level=ToolLevel.ADMIN), record_id, "unit")
    session.expire_all()
    saved = session.get(PrimeContract, contract.id)
    assert (saved.accounting_method, saved.sage_contract_id) == ("unit", number)
    items_ = session.query(PrimeContractItem).filter_by(contract_id=contract.id).order_by(PrimeContractItem.code)
    assert [(i.code, i.units, i.unit_cost, i.amount) for i in items_] == [
        ("100", D("10"), D("100"), D("1000.00")), ("200", D("50"), D("50"), D("2500.00"))]


@pytest.mark.parametrize("on, erp_admin, items_, refusal, text", [
    (False, True, PRICED, Conflict, "turned off in the ERP Integrations settings"),
    (True, False, PRICED, PermissionDenied, "Only an ERP Admin designates"),
    (True, True, (("100", "Sitework", 1000),), Conflict, "item(s) 100 have no units and unit price"),
], ids=["setting off", "an approver, not an ERP Admin", "an item without units"])
def test_a_unit_based_import_is_refused(session, sim, home, on, erp_admin, items_, refusal, text):
    record_id, _ = f.sage_contract(session, sim, home[0].job, items=items_)
    actor = f.make_user(session, erp_level=ToolLevel.ADMIN) if erp_admin else f.approver(session)
    designate(session, on)
    try:
        with pytest.raises(refusal) as refused:
            rti.import_contract(session, actor, record_id, "unit")
    finally:
        designate(session, False)
    assert text in str(refused.value)
    assert rti.import_contract(session, actor, record_id).accounting_method == "amount"   # the default needs neither


def sync_contracts(session, sage):
    queue = RecordingQueue()
    started = sync.start(session, f.approver(session), "prime_contracts", queue)
    return sync.execute(session, started.id, sage)


def contract_record(session, number: str) -> SageRecord:
    return session.scalars(select(SageRecord).where(SageRecord.kind == "contract",
                                                    SageRecord.sage_key == f"contract:{number}")).one()


def test_several_sage_contracts_of_a_job_import_into_one_prime_contract(session):
    sage = FakeSage()
    row = sage.job()
    session.add(Project(name=row["Description"], number=row["Job"], sage_job_id=row["Job"]))
    session.commit()
    main, extra = f"CN{f.suffix()}", f"CN{f.suffix()}"
    for number, items_ in ((main, [("1", "Foundations", "100000")]), (extra, [("1", "Canopy", "5000"),
                                                                              ("2", "Paving", "7000")])):
        sage.contracts.append({"Contract": number, "Job": row["Job"], "Description": number, "Status": "Open",
                               "Billing_Method": "Use Contracts"})
        sage.contract_items[number] = [{"Item": i, "Description": d, "Original_Amount": D(a)} for i, d, a in items_]
    sync_contracts(session, sage)
    actor = f.approver(session)
    prime = rti.import_contract(session, actor, contract_record(session, main).id)
    assert rti.contract_targets(session, [contract_record(session, extra)]) == {
        contract_record(session, extra).id: [(prime.id, f"{main} {main}")]}
    rti.import_contract(session, actor, contract_record(session, extra).id, into_contract_id=prime.id)
    items_ = session.query(PrimeContractItem).filter_by(contract_id=prime.id).order_by(PrimeContractItem.id).all()
    assert [(i.sage_contract_id, i.code, i.description) for i in items_] == [
        (None, "1", "Foundations"), (extra, "1", "Canopy"), (extra, "2", "Paving")]

    sync_contracts(session, sage)   # the next sync keeps it linked to the prime contract it went into
    rec = contract_record(session, extra)
    assert (rec.status, rec.portal_id) == (ImportStatus.LINKED, prime.id)
    assert any("no new un-synced line items" in r for r in rti.reimport_blockers(session, rec))
    sage.contract_items[extra].append({"Item": "3", "Description": "Fence", "Original_Amount": D("900")})
    sync_contracts(session, sage)
    rec = contract_record(session, extra)
    assert rti.reimport_blockers(session, rec) == []
    assert rti.reimport_contract(session, actor, rec.id) == 1
    assert session.query(PrimeContractItem).filter_by(contract_id=prime.id, sage_contract_id=extra,
                                                      code="3").count() == 1


def merged_item(session, sim, home) -> tuple[str, int]:
    """A second Sage contract of the home's job imported into its prime contract: (its number, its item 100's id)."""
    it.with_contract(session, sim, home)
    record_id, number = f.sage_contract(session, sim, home.job, items=(("100", "Canopy", 5000),))
    rti.import_contract(session, f.approver(session), record_id, into_contract_id=home.contract)
    return number, session.query(PrimeContractItem).filter_by(contract_id=home.contract, sage_contract_id=number
                                                               ).one().id


@pytest.mark.parametrize("where", CONNECTORS)
def test_a_pcco_names_the_sage_contract_of_each_item(session, sim, home, tmp_path, where):
    home, admin = home
    number, item_id = merged_item(session, sim, home)
    form = it.form_data(session, sim, "pcco", home, **{"line-1-contract_item_id": str(item_id),
                                                       "line-1-category_id": str(home.mat), "line-1-amount": "300"})
    pcco = items.save_item(session, admin, "pcco", home.pid, None, form)
    erp = services.send(session, admin, "pcco", pcco.id)
    erp = services.accept(session, f.approver(session), erp.id, {"transaction_date": "2026-11-20"}, f.NullQueue())
    assert run(session, sim, erp, where, tmp_path) == State.SYNCED
    if where == "simulator":
        changes = [(t["Contract"], t["Contract_Item"], t["Amount"]) for t in sim.list_transactions(
            home.job, "Approved Schedule Value Change") if t["Ref_1"] == pcco.number]
        assert [i["Approved_Changes"] for i in sim.list_contract_items(number)] == [D("300.00")]
    else:
        changes = [(r[11], r[12], D(r[8])) for r in file_rows(tmp_path, services.batch_id(erp), "JCT")
                   if r[5] == "Approved Schedule Value Change"]
    assert changes == [(home.contract_number, "100", D("12000.00")), (number, "100", D("300.00"))]


def test_an_owner_invoice_bills_the_sage_contract_of_its_items(session, sim, home):
    home, admin = home
    number, item_id = merged_item(session, sim, home)
    both = items.save_item(session, admin, "owner_invoice", home.pid, None, it.form_data(
        session, sim, "owner_invoice", home, **{"line-1-contract_item_id": str(item_id), "line-1-amount": "100"}))
    kind = get_type("owner_invoice")
    assert any(f"Sage contracts {', '.join(sorted([home.contract_number, number]))}" in r
               for r in kind.prerequisites(session, kind.load(session, both.id)))
    alone = items.save_item(session, admin, "owner_invoice", home.pid, None, it.form_data(
        session, sim, "owner_invoice", home, **{"line-0-contract_item_id": str(item_id)}))
    erp = services.send(session, admin, "owner_invoice", alone.id)
    erp = services.accept(session, f.approver(session), erp.id, {"erp_id": alone.number,
                                                                 "accounting_date": "2026-10-31"}, f.NullQueue())
    assert services.run_export(session, erp.id, erp.attempt, SimulatorConnector(sim)) == State.SYNCED
    assert sim.get_ar_invoice(alone.number)["Contract"] == number
