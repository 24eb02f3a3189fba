"""The Sage 300 CRE simulator and its connectors against a real database.

SQLite in tmp_path by default; PostgreSQL (a fresh schema per test, dropped afterwards)
when DATABASE_URL starts with "postgresql".
"""
import os
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from portal.exporters.sage300 import connectors
from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector, make_connector
from portal.exporters.sage300.fileformat import FILE_ENCODING, drop_file_name, parse_ap_import_file
from portal.exporters.sage300.records import APDistribution, APInvoice, Batch, ConnectorUnavailable
from portal.exporters.sage300.simulator import Sage300Simulator
from portal.exporters.sage300.troubleshooting import explain
from tests.sage_db import ON_PG, simulator, submit_at_once

# ---- fixtures -------------------------------------------------------------------

@pytest.fixture
def sim(make_sim, tmp_path):
    return simulator(make_sim, tmp_path, seed)


def seed(s):
    s.add_vendor("ACME", "Acme Framing", city="Springfield", status="Active")
    s.add_vendor("OLDCO", "Old Co", status="Inactive")
    s.add_job("J-1", "Main Street Tower")
    s.add_cost_code("J-1", "01-100", "Framing")
    s.add_category("J-1", "01-100", "SUB", "Subcontract")
    s.add_category("J-1", "01-100", "MAT", "Material")
    s.add_cost_code("J-1", "01-100", "Framing", extra="E1")
    s.add_category("J-1", "01-100", "SUB", "Subcontract", extra="E1")
    s.add_job("J-2", "Warehouse")
    s.add_cost_code("J-2", "01-100", "Framing")
    s.add_category("J-2", "01-100", "SUB", "Subcontract")
    s.add_commitment("C-100", "ACME", "J-1", D("10000.00"), "Framing subcontract")
    s.add_commitment("C-200", "ACME", "J-2", D("1000.00"))


def dist(**kw):
    values = dict(commitment="C-100", commitment_item="1", job="J-1", extra="", cost_code="01-100",
                  category="SUB", description="Framing", amount=D("1000.00"), retainage=D("100.00"))
    values.update(kw)
    return APDistribution(**values)


def ap_batch(batch_id="b-1", dists=None, **kw):
    dists = (dist(),) if dists is None else tuple(dists)
    values = dict(vendor="ACME", invoice="INV-1", description="Pay app 1", invoice_date=date(2026, 10, 15),
                  accounting_date=date(2026, 10, 31), amount=sum((d.amount for d in dists), D("0")),
                  retainage=sum((d.retainage for d in dists), D("0")))
    values.update(kw)
    return Batch(batch_id=batch_id, kind="ap_invoice", records=(APInvoice(**values), *dists))


def refused(s, batch, message):
    before = s.count_invoices()
    result = s.submit(batch)
    assert (result.ok, result.message, result.replayed) == (False, message, False)
    assert s.count_invoices() == before
    assert explain(result.message) is not None
    return result


# ---- creating and replaying -----------------------------------------------------

def test_submit_creates_invoice_and_distributions(sim):
    batch = ap_batch(dists=[dist(), dist(commitment_item="2", category="MAT", description="Lumber",
                                        amount=D("250.50"), retainage=D("25.05"))])
    result = sim.submit(batch)
    assert (result.ok, result.reference, result.message, result.replayed) == (True, "ACME/INV-1", "", False)
    inv = sim.get_invoice("ACME", "INV-1")
    assert (inv["Description"], inv["Invoice_Date"], inv["Accounting_Date"]) == (
        "Pay app 1", date(2026, 10, 15), date(2026, 10, 31))
    assert (inv["Amount"], inv["Retainage"], inv["Batch_ID"]) == (D("1250.50"), D("125.05"), "b-1")
    dists = sim.list_distributions("ACME", "INV-1")
    assert [(d["Distribution_Seq"], d["Commitment"], d["Commitment_Item"], d["Job"], d["Extra"], d["Cost_Code"],
             d["Category"], d["Description"], d["Amount"], d["Retainage"]) for d in dists] == [
        (1, "C-100", "1", "J-1", "", "01-100", "SUB", "Framing", D("1000.00"), D("100.00")),
        (2, "C-100", "2", "J-1", "", "01-100", "MAT", "Lumber", D("250.50"), D("25.05"))]
    assert [i["Invoice"] for i in sim.list_invoices()] == ["INV-1"]
    log = sim.import_log("b-1")
    assert (log["Ok"], log["Reference"], log["Kind"]) == (True, "ACME/INV-1", "ap_invoice")


def test_extra_distribution(sim):
    assert sim.submit(ap_batch(dists=[dist(extra="E1")])).ok
    assert sim.list_distributions("ACME", "INV-1")[0]["Extra"] == "E1"


def test_replay_returns_stored_result_and_creates_nothing(sim):
    first = sim.submit(ap_batch())
    again = sim.submit(ap_batch())
    assert again == replace(first, replayed=True)
    assert sim.count_invoices() == 1 and len(sim.list_distributions("ACME", "INV-1")) == 1


def test_refused_batch_is_logged_and_replays_its_refusal(sim):
    batch = ap_batch(vendor="NEWCO")
    refused(sim, batch, "Entity with this ID not found.")
    sim.add_vendor("NEWCO", "New Co")
    again = sim.submit(batch)  # the fix does not change a logged batch: same refusal
    assert (again.ok, again.message, again.replayed) == (False, "Entity with this ID not found.", True)
    assert sim.count_invoices() == 0
    assert sim.submit(replace(batch, batch_id="b-2")).ok  # a new export attempt goes through


def test_two_threads_same_batch_id_make_one_invoice(make_sim, sim):
    # separate simulators = separate engines and pools, as two worker processes would have
    other = make_sim()
    for round_ in range(5):
        batch = ap_batch(batch_id=f"race-{round_}", invoice=f"INV-R{round_}", dists=[dist(amount=D("10"))])
        results = submit_at_once((sim, other), batch)
        assert sorted(r.replayed for r in results) == [False, True]
        assert all(r.ok and r.reference == f"ACME/INV-R{round_}" for r in results)
    assert sim.count_invoices() == 5


def test_unknown_kind_is_a_value_error(sim):
    with pytest.raises(ValueError):
        sim.submit(Batch(batch_id="x", kind="jc_transaction"))


# ---- rules ----------------------------------------------------------------------

def test_hourly_limit(sim, clock):
    sim.set_setting("hourly_limit", 2)
    assert sim.submit(ap_batch("h-1", invoice="H1")).ok
    assert sim.submit(ap_batch("h-1", invoice="H1")).replayed  # replays are not requests
    clock.now += timedelta(minutes=30)
    assert sim.submit(ap_batch("h-2", invoice="H2")).ok
    limited = sim.submit(ap_batch("h-3", invoice="H3"))
    assert (limited.ok, limited.message) == (False, "Unknown Error => You have surpassed the max number of "
                                                    "requests for an hour. Please wait until your limit resets.")
    assert sim.import_log("h-3") is None  # not the batch's result: it may go through later
    clock.now += timedelta(minutes=31)  # h-1's request is now over an hour old; h-3's refused one counts
    assert sim.submit(ap_batch("h-4", invoice="H4")).message == limited.message
    clock.now += timedelta(hours=2)
    assert sim.submit(ap_batch("h-3", invoice="H3")).ok
    assert sim.count_invoices() == 3


def test_hourly_limit_is_shared_by_simulators_on_one_database(sim, make_sim, clock):
    sim.set_setting("hourly_limit", 1)
    other = make_sim()
    assert other.submit(ap_batch("s-1", invoice="S1")).ok
    assert not sim.submit(ap_batch("s-2", invoice="S2")).ok


@pytest.mark.parametrize("where, attr, field, limit", [
    ("header", "vendor", "Vendor", 10), ("header", "invoice", "Invoice", 15),
    ("header", "description", "Description", 30), ("dist", "commitment", "Commitment", 12),
    ("dist", "job", "Job", 10), ("dist", "extra", "Extra", 10), ("dist", "cost_code", "CostCode", 12),
    ("dist", "category", "Category", 3), ("dist", "description", "Description", 30)])
def test_field_lengths(sim, where, attr, field, limit):
    ok_value, long_value = "A" * limit, "A" * (limit + 1)
    message = f"[{field}] is too long, maximum length is {limit} characters."

    def batch(value, batch_id):
        if where == "header":
            return ap_batch(batch_id, **{attr: value})
        return ap_batch(batch_id, dists=[dist(), dist(**{attr: value})])
    refused(sim, batch(long_value, "long"), message)
    at_limit = sim.submit(batch(ok_value, "at-limit"))
    assert "too long" not in at_limit.message  # the exact limit passes the length check


@pytest.mark.parametrize("where, attr", [("header", "vendor"), ("header", "invoice"), ("dist", "job"),
                                         ("dist", "cost_code"), ("dist", "category")])
def test_blank_required_fields(sim, where, attr):
    batch = ap_batch(**{attr: " "}) if where == "header" else ap_batch(dists=[dist(**{attr: ""})])
    refused(sim, batch, "Can't be blank.")


def test_blank_description_and_extra_are_fine(sim):
    assert sim.submit(ap_batch(description="", dists=[dist(description="", extra="")])).ok


def test_vendor_unknown_and_inactive(sim):
    refused(sim, ap_batch("v-1", vendor="NOBODY"), "Entity with this ID not found.")
    refused(sim, ap_batch("v-2", vendor="OLDCO"), "Vendor is inactive/has been archived.")
    sim.set_vendor_status("ACME", "Inactive")
    refused(sim, ap_batch("v-3"), "Vendor is inactive/has been archived.")
    sim.set_vendor_status("ACME", "Active")
    assert sim.submit(ap_batch("v-4")).ok


def test_no_distributions(sim):
    refused(sim, ap_batch(dists=[]), "The document's codings are incomplete: The document has no distributions.")


def test_job_unknown_and_closed(sim):
    refused(sim, ap_batch("j-1", dists=[dist(), dist(job="J-9")]), "Entity with this ID not found.")
    sim.set_job_status("J-1", "Closed")
    refused(sim, ap_batch("j-2"), "Job has been closed.")
    sim.set_job_status("J-1", "Open")
    assert sim.submit(ap_batch("j-3")).ok


def test_category_must_be_on_the_job_cost_code_and_extra(sim):
    message = "No entities could be found of type [Category] with given where clause."
    refused(sim, ap_batch("c-1", dists=[dist(category="EQP")]), message)
    refused(sim, ap_batch("c-2", dists=[dist(cost_code="99-999")]), message)
    refused(sim, ap_batch("c-3", dists=[dist(extra="E1", category="MAT")]), message)  # MAT only without extra
    refused(sim, ap_batch("c-4", dists=[dist(extra="E2")]), message)
    sim.add_category("J-1", "01-100", "EQP", "Equipment")
    assert sim.submit(ap_batch("c-5", dists=[dist(category="EQP")])).ok


def test_duplicate_invoice_for_vendor(sim):
    assert sim.submit(ap_batch("d-1", invoice="INV-9")).ok
    result = sim.submit(ap_batch("d-2", invoice="INV-9"))
    assert (result.ok, result.message) == (False, "There are errors in the document's codings. Errors: "
                                                  "Document already exists for specified vendor and code [INV-9].")
    assert sim.count_invoices() == 1


def test_closed_gl_period(make_sim, tmp_path):
    s = make_sim(closed_periods=("2026-09", "2026-10"))
    s.create_all()
    seed(s)
    result = s.submit(ap_batch("p-1", accounting_date=date(2026, 10, 31)))
    assert result.message == ("Ap Invoice Api import failed with error message: GL period closed.  "
                              "Entry not allowed. (10\\31\\2026).")
    assert s.submit(ap_batch("p-2", accounting_date=date(2026, 11, 1), invoice_date=date(2026, 10, 31))).ok
    assert s.count_invoices() == 1


def test_commitment_unknown(sim):
    refused(sim, ap_batch(dists=[dist(commitment="C-999")]), "Entity with this ID not found.")


def test_commitment_over_approved_amount(sim):
    over = "Ap Invoice Api import failed with error message: Commitment C-100 - amount invoiced exceeds " \
           "approved amount plus tolerance."
    assert sim.submit(ap_batch("t-1", invoice="T1", dists=[dist(amount=D("6000"))])).ok
    refused_result = sim.submit(ap_batch("t-2", invoice="T2", dists=[dist(amount=D("3000")),
                                                                      dist(amount=D("1000.01"))]))
    assert refused_result.message == over
    assert sim.submit(ap_batch("t-3", invoice="T3", dists=[dist(amount=D("4000"))])).ok  # exactly the amount
    assert sim.count_invoices() == 2


def test_commitment_tolerance_and_approved_changes(make_sim):
    s = make_sim(tolerance_pct=D("10"))
    s.create_all()
    seed(s)
    assert not s.submit(ap_batch("t-1", invoice="T1", dists=[dist(commitment="C-200", job="J-2",
                                                                  amount=D("1100.01"))])).ok
    assert s.submit(ap_batch("t-2", invoice="T2", dists=[dist(commitment="C-200", job="J-2",
                                                              amount=D("1100.00"))])).ok
    s.set_commitment_amount("C-200", D("2000"))  # an approved commitment CO
    assert s.submit(ap_batch("t-3", invoice="T3", dists=[dist(commitment="C-200", job="J-2",
                                                              amount=D("1000"))])).ok


def test_rules_apply_in_order(sim):
    sim.set_setting("closed_periods", "2026-10")
    bad_everything = dict(vendor="OLDCO", dists=[dist(job="J-9", commitment="C-999")])
    refused(sim, ap_batch("o-1", invoice="X" * 16, **bad_everything),
            "[Invoice] is too long, maximum length is 15 characters.")
    refused(sim, ap_batch("o-2", **bad_everything), "Vendor is inactive/has been archived.")
    refused(sim, ap_batch("o-3", dists=[dist(job="J-9", commitment="C-999")]), "Entity with this ID not found.")
    sim.set_setting("closed_periods", "")
    assert sim.submit(ap_batch("o-4", invoice="DUP")).ok
    sim.set_setting("closed_periods", "2026-10")
    assert "already exists" in sim.submit(ap_batch("o-5", invoice="DUP")).message  # duplicate before period
    assert "GL period closed" in sim.submit(ap_batch("o-6", dists=[dist(commitment="C-999")])).message


def test_all_or_nothing_when_the_drop_file_fails(make_sim, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    s = make_sim(drop_folder=str(blocker))
    s.create_all()
    seed(s)
    with pytest.raises(OSError):
        s.submit(ap_batch())
    assert s.count_invoices() == 0 and s.import_log("b-1") is None
    with pytest.raises(ConnectorUnavailable):
        SimulatorConnector(s).submit(ap_batch())
    s.drop_folder = str(tmp_path / "drop")
    assert s.submit(ap_batch()).ok and s.count_invoices() == 1


def test_import_file_written_to_drop_folder(sim, tmp_path):
    batch = ap_batch(batch_id="inv 7/attempt 1")
    assert sim.submit(batch).ok
    files = os.listdir(tmp_path / "drop")
    assert files == [drop_file_name("inv 7/attempt 1")]
    text = (tmp_path / "drop" / files[0]).read_text(encoding=FILE_ENCODING)
    rows = parse_ap_import_file(text)
    assert [r[0] for r in rows] == ["APIF", "APDF"] and rows[0][1:3] == ["ACME", "INV-1"]
    refused(sim, ap_batch("no-file", vendor="NOBODY"), "Entity with this ID not found.")
    assert len(os.listdir(tmp_path / "drop")) == 1  # refusals write no file


# AP Settings and Tax Group Sync as a new simulator has them (invoice export's setup met)
SETUP = {"date_received_usage": "Not Required", "payment_date_usage": "Not Required", "tax_group_sync": "Off"}


def test_settings_change_at_run_time(sim, make_sim):
    assert sim.settings() == {"closed_periods": frozenset(), "tolerance_pct": D("0"), "hourly_limit": 0, **SETUP}
    sim.set_setting("closed_periods", ["2026-10", " 2026-11 "])
    sim.set_setting("tolerance_pct", "12.5")
    sim.set_setting("hourly_limit", 7)
    # another simulator on the same database (another process) sees them; its own defaults do not win
    other = make_sim(closed_periods=("2030-01",), tolerance_pct=D("1"), hourly_limit=99)
    other.create_all()
    assert other.settings() == {"closed_periods": frozenset({"2026-10", "2026-11"}),
                                "tolerance_pct": D("12.5"), "hourly_limit": 7, **SETUP}
    assert "GL period closed" in other.submit(ap_batch("s-1")).message
    sim.set_setting("closed_periods", "")
    assert other.submit(ap_batch("s-2")).ok
    with pytest.raises(KeyError):
        sim.set_setting("colour", "blue")


def test_drop_all(sim):
    sim.drop_all()
    sim.create_all()
    assert sim.count_invoices() == 0


@pytest.mark.skipif(not ON_PG, reason="schemas are a PostgreSQL feature")
def test_postgresql_schemas_are_separate(databases, clock):
    (url, schema_a), (_, schema_b) = databases(), databases()
    a, b = Sage300Simulator(url, schema_a, clock=clock), Sage300Simulator(url, schema_b, clock=clock)
    try:
        for s in (a, b):
            s.create_all()
            seed(s)
        assert a.submit(ap_batch()).ok
        assert (a.count_invoices(), b.count_invoices()) == (1, 0)
        assert not b.submit(ap_batch()).replayed
    finally:
        a.dispose()
        b.dispose()


# ---- connectors -----------------------------------------------------------------

def test_simulator_connector_passes_results_through(sim):
    connector = SimulatorConnector(sim)
    assert connector.submit(ap_batch()).reference == "ACME/INV-1"
    assert connector.submit(ap_batch()).replayed


def test_simulator_connector_unreachable_database(tmp_path):
    s = Sage300Simulator(f"sqlite:///{tmp_path / 'missing-dir' / 'sage.db'}")
    try:
        with pytest.raises(ConnectorUnavailable):
            SimulatorConnector(s).submit(ap_batch())
    finally:
        s.dispose()


def test_connectors_ping_for_the_health_page(sim, tmp_path):
    """What answered, or ConnectorUnavailable: the simulator's database, the drop folder (or the
    folder it would be made in)."""
    assert SimulatorConnector(sim).ping() == "the simulator's database answers"
    gone = Sage300Simulator(f"sqlite:///{tmp_path / 'missing-dir' / 'sage.db'}")
    try:
        with pytest.raises(ConnectorUnavailable):
            SimulatorConnector(gone).ping()
    finally:
        gone.dispose()
    made_later = tmp_path / "drop" / "ap"
    assert FileDropConnector(str(made_later)).ping() == f"the drop folder {made_later} can be written"
    (tmp_path / "a-file").write_text("in the way")
    with pytest.raises(ConnectorUnavailable, match="cannot write to"):
        FileDropConnector(str(tmp_path / "a-file" / "drop")).ping()


def test_file_drop_connector_is_idempotent(tmp_path):
    connector = FileDropConnector(str(tmp_path / "out"))
    first = connector.submit(ap_batch())
    second = connector.submit(ap_batch(description="Edited"))
    assert first.ok and first.reference == second.reference == "b-1.txt"
    assert os.listdir(tmp_path / "out") == ["b-1.txt"]
    text = (tmp_path / "out" / "b-1.txt").read_text(encoding=FILE_ENCODING)
    assert parse_ap_import_file(text)[0][3] == "Edited"


def test_make_connector(db, tmp_path):
    url, schema = db
    config = {"SAGE_SIM_DATABASE_URL": url, "SAGE_SIM_SCHEMA": schema, "SAGE_SIM_CLOSED_PERIODS": "2026-09, 2026-10",
              "SAGE_SIM_TOLERANCE_PCT": "5", "SAGE_SIM_HOURLY_LIMIT": "3"}
    try:
        first, second = make_connector(config), make_connector(dict(config, SAGE_DROP_FOLDER=str(tmp_path)))
        assert isinstance(first, SimulatorConnector)
        assert first.sim.engine is second.sim.engine  # one engine per url/schema
        assert second.sim.drop_folder == str(tmp_path)
        assert first.sim.settings() == {"closed_periods": frozenset({"2026-09", "2026-10"}),
                                        "tolerance_pct": D("5"), "hourly_limit": 3, **SETUP}
        seed(first.sim)
        assert "GL period closed" in first.submit(ap_batch()).message
    finally:
        engine = connectors._engines.pop((url, schema), None)
        if engine is not None:
            engine.dispose()
    drop = make_connector({"SAGE_CONNECTOR": "filedrop", "SAGE_DROP_FOLDER": str(tmp_path / "d")})
    assert isinstance(drop, FileDropConnector)
    with pytest.raises(ValueError):
        make_connector({"SAGE_CONNECTOR": "carrier-pigeon"})
