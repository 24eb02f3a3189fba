"""What a submit costs the simulator's database: one query per table a batch refers to, so a
document with many lines issues as many statements as one with a single line, and the checks
still fire in Sage's order (the first refusal of a batch is the one Sage would give).

SQLite in tmp_path by default; PostgreSQL when DATABASE_URL starts with "postgresql".
"""
from contextlib import contextmanager
from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import event

from portal.exporters.sage300 import mapping as m, records as r
from portal.exporters.sage300.simulator import (
    JOB_CLOSED,
    NO_CATEGORY,
    NOT_FOUND,
    over_tolerance,
)

DAY = date(2026, 10, 15)


@pytest.fixture
def sim(make_sim):
    s = make_sim()
    s.create_all()
    s.add_vendor("ACME", "Acme Framing")
    for job in ("J-1", "J-2"):
        s.add_job(job, "Tower")
        for n in range(12):
            for category in ("SUB", "MAT"):
                s.add_coding(job, f"01-{n:03d}", category)
    s.add_extra("J-1", "E1")
    s.add_coding("J-1", "01-000", "SUB", extra="E1")
    for c in ("C-1", "C-2", "C-3"):
        s.add_commitment(c, "ACME", "J-1", D("100000"))
    s.add_customer("OWNER", "City")
    s.add_contract("CN-1", "J-1", "Prime", items=[(str(n), f"Item {n}", 1000) for n in range(1, 13)])
    return s


@contextmanager
def counted(sim):
    """Counts the statements sent to the simulator's database."""
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)
    event.listen(sim.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(sim.engine, "before_cursor_execute", count)


def statements(sim, batch):
    with counted(sim) as seen:
        result = sim.submit(batch)
    assert result.ok, result.message
    return len(seen)


def invoice(batch_id, n_lines, invoice="INV-1"):
    lines = tuple(r.InvoiceLineData(str(n), f"01-{n % 12:03d}", ("SUB", "MAT")[n % 2], "Work", D("10"), D("0"),
                                    D("1")) for n in range(n_lines))
    data = r.SubcontractorInvoiceData("ACME", "C-1", "J-1", "", invoice, "", DAY, DAY, lines)
    return m.map_subcontractor_invoice(data, batch_id)


def dist(commitment="C-1", job="J-1", cost_code="01-000", category="SUB", extra="", amount=D("10")):
    return r.APDistribution(commitment, "1", job, extra, cost_code, category, "Work", amount, D("0"))


def ap_batch(batch_id, *dists, invoice="INV-9"):
    head = r.APInvoice("ACME", invoice, "", DAY, DAY, sum((d.amount for d in dists), D(0)), D(0))
    return r.Batch(batch_id, "ap_invoice", (head, *dists))


def test_an_invoice_costs_the_same_statements_at_1_and_24_distributions(sim):
    one = statements(sim, invoice("b-1", 1, "INV-1"))
    many_dists = [dist(c, job, f"01-{n % 12:03d}", cat) for n in range(6) for c in ("C-1", "C-2")
                  for job in ("J-1", "J-2") for cat in ("SUB",)]
    many = statements(sim, ap_batch("b-2", *many_dists, invoice="INV-2"))
    assert len(many_dists) == 24 and one == many
    # lock/BEGIN, import log + settings, vendor + duplicate, jobs, categories, commitments with
    # their invoiced sums, then the invoice, its distributions and the import log
    assert one == 9


def test_a_replay_is_two_statements(sim):
    statements(sim, invoice("b-1", 2))
    with counted(sim) as seen:
        assert sim.submit(invoice("b-1", 2)).replayed
    assert len(seen) == 2


def test_the_first_refusal_is_still_the_first_distribution_in_order(sim):
    sim.set_job_status("J-2", "Closed")
    closed_first = ap_batch("b-1", dist(job="J-2"), dist(category="EQP"))
    missing_first = ap_batch("b-2", dist(category="EQP"), dist(job="J-2"))
    unknown_job = ap_batch("b-3", dist(), dist(job="J-9"), dist(job="J-2"))
    assert sim.submit(closed_first).message == JOB_CLOSED
    assert sim.submit(missing_first).message == NO_CATEGORY
    assert sim.submit(unknown_job).message == NOT_FOUND


def test_commitments_are_checked_in_batch_order_with_their_invoiced_sums(sim):
    sim.set_setting("tolerance_pct", "10")
    assert sim.submit(ap_batch("b-1", dist("C-2", amount=D("100000")), invoice="INV-1")).ok
    # C-2 has 100,000 invoiced: 10,001 more is over 10 %; C-9 is unknown but comes after it
    over = ap_batch("b-2", dist("C-1"), dist("C-2", amount=D("10001")), dist("C-9"), invoice="INV-2")
    assert sim.submit(over).message == over_tolerance("C-2")
    unknown = ap_batch("b-3", dist("C-9"), dist("C-2", amount=D("10001")), invoice="INV-3")
    assert sim.submit(unknown).message == NOT_FOUND
    assert sim.submit(ap_batch("b-4", dist("C-2", amount=D("10000")), invoice="INV-4")).ok


def commitment(batch_id, code, n_items):
    items = tuple(r.CommitmentItemData(str(n), "Work", f"01-{n % 12:03d}", "SUB", D("100"),
                                       extra="E1" if n == 0 else "") for n in range(n_items))
    return m.map_commitment(r.CommitmentData(code, "Subcontract", "Concrete", "ACME", "J-1", DAY, D("10"), items),
                            batch_id)


def budget(batch_id, job, n_lines):
    return m.map_budget(r.BudgetData(job, DAY, tuple(r.BudgetLineData(f"01-{n:03d}", "SUB", D("100"))
                                                     for n in range(n_lines))), batch_id)


def ar_invoice(batch_id, number, n_lines):
    lines = tuple(r.OwnerInvoiceLineData(str(n), "Work", D("10"), D("1")) for n in range(1, n_lines + 1))
    return m.map_owner_invoice(r.OwnerInvoiceData("OWNER", "CN-1", "J-1", number, "", DAY, DAY, lines), batch_id)


def job(batch_id, code, n_codes):
    codes = tuple(r.CostCodeData(f"02-{n:03d}", "Code", (r.CategoryData("SUB", "Sub"), r.CategoryData("MAT", "Mat")))
                  for n in range(n_codes))
    return m.map_job(r.JobData(code, "New job", "", "", "", "", codes), batch_id)


def cost_codes(batch_id, n_codes, start):
    codes = tuple(r.CostCodeData(f"03-{n:03d}", "Code", (r.CategoryData("SUB", "Sub"),))
                  for n in range(start, start + n_codes))
    return m.map_cost_codes(r.CostCodesData("J-1", "E1", codes), batch_id)


@pytest.mark.parametrize("make, few, many", [
    (lambda n, i: commitment(f"c-{i}", f"CX-{i}", n), 1, 12),
    (lambda n, i: budget(f"bu-{i}", f"J-{i}", n), 1, 12),
    (lambda n, i: ar_invoice(f"ar-{i}", f"AR-{i}", n), 1, 12),
    (lambda n, i: job(f"j-{i}", f"JN-{i}", n), 1, 12),
    (lambda n, i: cost_codes(f"cc-{i}", n, 100 * i), 1, 12),
], ids=["commitment", "budget", "ar_invoice", "job", "cost_codes"])
def test_other_kinds_cost_the_same_statements_at_1_and_12_lines(sim, make, few, many):
    assert statements(sim, make(few, 1)) == statements(sim, make(many, 2))
