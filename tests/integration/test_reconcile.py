"""Reconciliation against the simulator: a synced commitment and job match Sage; a change made
directly in Sage (a voided AP invoice or change order, a new amount, a deleted commitment) shows
as a difference naming the record behind it; the file drop says it cannot read Sage."""
from __future__ import annotations

from decimal import Decimal

import pytest

from portal.domain import reconcile as rc
from portal.domain.lifecycle import State
from portal.domain.models import Project, ToolLevel
from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector
from tests import factories as f, items as it


@pytest.fixture
def synced(session, sim):
    """A home whose commitment has a synced CCO and invoice, and whose job has an exported budget,
    a synced budget change and a prime contract with a synced PCCO: (home, cco, invoice, change, pcco)."""
    admin = f.make_user(session)
    home = it.make_home(session, sim, {admin.id: ToolLevel.ADMIN})
    approver = f.approver(session)
    made = [it.make_item(session, sim, key, State.SYNCED, home=home, sender=admin, approver=approver)
            for key in ("cco", "subcontractor_invoice", "budget_change", "pcco")]
    return (home, *made)


def run(session, sim, pid):
    return rc.reconcile(session, lambda: SimulatorConnector(sim), pid)


def row_of(rec, kind):
    [row] = [r for r in rec.rows if r.kind == kind]
    return row


def figure(row, label):
    return next(fig for fig in row.figures if fig.label.startswith(label))


def test_a_synced_commitment_and_job_match_sage(session, sim, synced):
    home = synced[0]
    rec = run(session, sim, home.pid)
    assert not rec.error
    commitment, job = row_of(rec, "Commitment"), row_of(rec, "Job")
    assert (commitment.ref, job.ref) == (home.commitment_erp, home.job)
    assert not commitment.differs and not job.differs, (commitment, job)
    # 100,000 committed + the CCO's 2,250; the invoice's 1,600 with 150 retainage
    assert figure(commitment, "Committed").sage == Decimal("102250.00")
    assert (figure(commitment, "Invoiced").portal, figure(commitment, "Retainage").portal) == (1600, 150)
    assert figure(commitment, "Paid").note == rc.NOT_SYNCED and not figure(commitment, "Paid").differs
    assert {r.kind for r in commitment.records} == {"CCO", "AP invoice"}
    # the budget change's 500 and the PCCO's 12,000; the contract's 1,300,000 and the PCCO's 12,000
    assert (figure(job, "Budget").sage, figure(job, "Approved changes").sage) == (60000, 12500)
    assert figure(job, "Prime contract").sage == Decimal("1312000.00")
    assert {r.kind for r in job.records} == {"Budget line", "Budget change", "PCCO"}


def test_an_invoice_voided_in_sage_differs_naming_the_invoice(session, sim, synced):
    home, invoice = synced[0], synced[2]
    ref = invoice.fields["erp_id"]
    sim.void_or_delete_ap_invoice(home.vendor_erp, ref, "Void")
    row = row_of(run(session, sim, home.pid), "Commitment")
    assert row.differs and figure(row, "Invoiced").difference == Decimal("-1600.00")
    [diff] = row.differences
    assert (diff.kind, diff.ref, diff.note) == ("AP invoice", f"{home.vendor_erp}/{ref}", rc.VOIDED)


def test_an_amount_changed_in_sage_differs(session, sim, synced):
    home, cco = synced[0], synced[1]
    sim.set_commitment_amount(home.commitment_erp, Decimal("99000"))
    sim.add_transaction(home.job, "03-300", "SUB", "Original estimate", 700)
    rec = run(session, sim, home.pid)
    commitment, job = row_of(rec, "Commitment"), row_of(rec, "Job")
    assert figure(commitment, "Committed").difference == Decimal("-3250.00")
    assert figure(job, "Budget").difference == Decimal("700.00")
    [line] = job.differences
    assert (line.kind, line.ref, line.portal, line.sage) == ("Budget line", "03-300 SUB", 50000, 50700)
    # a change order voided in Sage: named, and its amount comes off Sage's commitment
    sim.void_or_delete_change_order(home.commitment_erp, cco.fields["cco_id"], "Void")
    commitment = row_of(run(session, sim, home.pid), "Commitment")
    assert ("CCO", cco.fields["cco_id"], rc.VOIDED) in {(r.kind, r.ref, r.note) for r in commitment.differences}


def test_a_commitment_deleted_in_sage_shows_missing(session, sim):
    admin = f.make_user(session)
    home = it.make_home(session, sim, {admin.id: ToolLevel.ADMIN})
    sim.void_or_delete_commitment(home.commitment_erp, "Delete")
    rec = run(session, sim, home.pid)
    row = row_of(rec, "Commitment")
    assert row.note == rc.MISSING and row.differs and rec.missing == 1
    assert figure(row, "Committed").sage is None
    assert not row_of(rec, "Job").differs
    text = rc.csv_text(rec)
    assert rc.MISSING in text and home.commitment_erp in text


def test_the_company_page_reads_sage_once_per_kind(session, sim):
    """Two projects, one call for their commitments and one for their jobs."""
    admin = f.make_user(session)
    homes = [it.make_home(session, sim, {admin.id: ToolLevel.ADMIN}) for _ in range(2)]
    calls: list[tuple[str, int]] = []

    class Counting(SimulatorConnector):
        def commitment_figures(self, commitments):
            calls.append(("commitments", len(commitments)))
            return super().commitment_figures(commitments)

        def job_figures(self, jobs):
            calls.append(("jobs", len(jobs)))
            return super().job_figures(jobs)

    rec = rc.reconcile(session, lambda: Counting(sim))
    assert sorted(kind for kind, _ in calls) == ["commitments", "jobs"]
    assert all(n >= 2 for _, n in calls)
    refs = {r.ref for r in rec.rows}
    assert {h.commitment_erp for h in homes} | {h.job for h in homes} <= refs


def test_the_file_drop_says_it_cannot_read_sage(session, sim, tmp_path):
    admin = f.make_user(session)
    home = it.make_home(session, sim, {admin.id: ToolLevel.ADMIN})
    rec = rc.reconcile(session, lambda: FileDropConnector(str(tmp_path)), home.pid)
    assert rec.rows == [] and "file-drop connector" in rec.error
    assert "file-drop connector" in rc.csv_text(rec)


def test_csv_cells_are_formula_safe(session, sim):
    admin = f.make_user(session)
    home = it.make_home(session, sim, {admin.id: ToolLevel.ADMIN})
    session.get(Project, home.pid).number = "=cmd|' /C calc'!A0"
    session.commit()
    text = rc.csv_text(run(session, sim, home.pid))
    assert ",'=cmd" in text and ",=cmd" not in text


def test_a_pcco_deleted_in_sage_differs_naming_it(session, sim, synced):
    home, pcco = synced[0], synced[4]
    sim.delete_change_transactions(home.job, pcco.number)
    job = row_of(run(session, sim, home.pid), "Job")
    assert figure(job, "Approved changes").difference == Decimal("-12000.00")
    [diff] = job.differences
    assert (diff.kind, diff.ref, diff.note) == ("PCCO", pcco.number, rc.MISSING)
