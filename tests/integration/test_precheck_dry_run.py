"""Pre-check before Accept: the connectors' dry run of Sage's rules, nothing written.

The simulator runs its importers (the code submit runs) in a rolled-back transaction: each
refusal kind gives Sage's own text, and every table of the simulator holds what it held
before (rows and contents). The file drop checks what it can without Sage and says what it
cannot. SQLite in tmp_path by default; PostgreSQL when DATABASE_URL says so (tests/sage_db.py).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector
from portal.exporters.sage300.mapping import map_job
from portal.exporters.sage300.records import (
    APDistribution,
    APInvoice,
    Batch,
    ConnectorUnavailable,
    DryRun,
    JobData,
)
from portal.exporters.sage300.simulator import (
    JOB_CLOSED,
    VENDOR_INACTIVE,
    Sage300Simulator,
    duplicate_invoice,
    metadata,
    over_tolerance,
    period_closed,
    too_long,
)
from portal.exporters.sage300.troubleshooting import explain
from tests.sage_db import simulator


@pytest.fixture
def sim(make_sim, tmp_path):
    return simulator(make_sim, tmp_path, seed)


def seed(s):
    s.add_vendor("ACME", "Acme Framing", status="Active")
    s.add_vendor("OLDCO", "Old Co", status="Inactive")
    for job, status in (("J-1", "Open"), ("J-9", "Closed")):
        s.add_job(job, "Main Street Tower", status=status)
        s.add_cost_code(job, "01-100", "Framing")
        s.add_category(job, "01-100", "SUB", "Subcontract")
    s.add_commitment("C-100", "ACME", "J-1", D("10000.00"), "Framing subcontract")
    s.add_commitment_item("C-100", "1", "J-1", "01-100", "SUB", D("10000.00"), description="Framing")


def invoice(number="INV-1", amount=D("1000.00"), vendor="ACME", job="J-1", accounting=date(2026, 10, 31),
            batch_id=None) -> Batch:
    dist = APDistribution(commitment="C-100", commitment_item="1", job=job, extra="", cost_code="01-100",
                          category="SUB", description="Framing", amount=amount, retainage=D("0"))
    head = APInvoice(vendor=vendor, invoice=number, description="Pay app", invoice_date=date(2026, 10, 15),
                     accounting_date=accounting, amount=amount, retainage=D("0"))
    return Batch(batch_id=batch_id or f"precheck-{number}", kind="ap_invoice", records=(head, dist))


def contents(s) -> dict:
    """Every row of every simulator table (the import log, the request log, settings included)."""
    with s.engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(select(t)).all())) for t in metadata.sorted_tables}


def long_named_job() -> Batch:
    return map_job(JobData(job="J-NEW", name="N" * 31, address="", city="", state="", zip="", cost_codes=()),
                   "precheck-job")


# (what Sage refuses, how the plan is made, Sage's text): one row per refusal kind the issue names
REFUSALS = [
    ("closed job", lambda s: [invoice(job="J-9")], JOB_CLOSED),
    ("inactive vendor", lambda s: [invoice(vendor="OLDCO")], VENDOR_INACTIVE),
    ("too-long name", lambda s: [long_named_job()], too_long("Name", 30)),
    ("duplicate invoice number", lambda s: [invoice("INV-7")], duplicate_invoice("INV-7")),
    ("closed GL period", lambda s: [invoice(accounting=date(2026, 9, 30))], period_closed(date(2026, 9, 30))),
    ("over the commitment", lambda s: [invoice(amount=D("10000.01"))], over_tolerance("C-100")),
]


def refusing_sage(s):
    """The seed plus what the refusals need: INV-7 already in Sage, September 2026 closed."""
    assert s.submit(invoice("INV-7", batch_id="earlier")).ok
    s.set_setting("closed_periods", "2026-09")


@pytest.mark.parametrize("kind, plan, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_the_simulator_refuses_as_submit_would_and_writes_nothing(sim, kind, plan, message):
    refusing_sage(sim)
    connector = SimulatorConnector(sim)
    before = contents(sim)
    [answer] = connector.dry_run([plan(sim)])
    assert answer == DryRun(ok=False, message=message)
    assert explain(answer.message) is not None, "the approver gets a cause and solution"
    assert contents(sim) == before
    # the same batch submitted for real gets the same answer: one set of rules
    assert sim.submit(plan(sim)[0]).message == message


def test_a_page_is_one_call_each_item_on_its_own_and_nothing_is_left(sim):
    """Passing items' records are inserted inside the dry run (later checks may see them), then
    rolled back: two invoices of the same number on one page are each fine, and Sage holds neither."""
    refusing_sage(sim)
    before = contents(sim)
    answers = SimulatorConnector(sim).dry_run([[invoice("INV-8")], [invoice("INV-8")], [invoice(vendor="OLDCO")],
                                               [invoice("INV-9", amount=D("9000"))]])
    assert [a.ok for a in answers] == [True, True, False, True]
    assert contents(sim) == before
    assert sim.submit(invoice("INV-8", batch_id="real")).ok   # nothing of the dry run is in the way


def test_an_item_of_several_imports_is_checked_in_order(sim):
    """An item's second import sees its first, as on Export (here: the same job twice)."""
    job = long_named_job().records[0]
    fine = Batch("precheck-job-1", "jc_job", (replace(job, description="Short"),))
    again = replace(fine, batch_id="precheck-job-2")
    assert [a.ok for a in SimulatorConnector(sim).dry_run([[fine], [fine]])] == [True, True]
    [answer] = SimulatorConnector(sim).dry_run([[fine, again]])
    assert (answer.ok, answer.message) == (False, "A job with that code already exists.")


def test_the_hourly_limit_is_a_warning_and_is_not_used_up(sim):
    sim.set_setting("hourly_limit", 1)
    assert sim.submit(invoice("INV-20", batch_id="uses-the-hour")).ok
    before = contents(sim)
    [answer] = SimulatorConnector(sim).dry_run([[invoice("INV-21")]])
    assert answer.ok is True and answer.warnings and "hourly request limit" in answer.warnings[0]
    assert contents(sim) == before


def test_an_unreachable_simulator_is_connector_unavailable(tmp_path):
    sim = Sage300Simulator(f"sqlite:///{tmp_path}/no-such-folder/sage.db")
    with pytest.raises(ConnectorUnavailable):
        SimulatorConnector(sim).dry_run([[invoice()]])
    sim.dispose()


def test_the_file_drop_checks_fields_and_characters_and_says_what_it_cannot(tmp_path):
    drop = FileDropConnector(str(tmp_path / "drop"))
    long_name, fine, unwritable = drop.dry_run([[long_named_job()], [invoice()], [invoice("INV-€-✓")]])
    assert (long_name.ok, long_name.message) == (False, too_long("Name", 30))
    assert fine.ok is True and "whether the vendor is active" in fine.unchecked
    assert unwritable.ok is False and unwritable.message
    assert not (tmp_path / "drop").exists(), "a dry run writes no import file"
