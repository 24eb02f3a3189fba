"""Sage's figures for a reconciliation with the portal: per commitment (its amount, change
orders, AP invoices with retainage, what was paid) and per job (original estimates, approved
estimate changes, its prime contracts' value), each read for many commitments or jobs in a few batched queries
(one per table and chunk of codes), never one per record."""
from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from ..mapping import APPROVED_ESTIMATE_CHANGE, ORIGINAL_ESTIMATE, PCCO_REF_2
from .rules import AP_COST
from .schema import (
    SimulatorBase,
    commitment_co_item_t,
    commitment_co_t,
    commitment_t,
    contract_item_t,
    contract_t,
    distribution_t,
    invoice_t,
    job_t,
    transaction_t,
)

CHUNK = 500  # codes per IN list: far below every backend's bound on parameters
ZERO = Decimal("0.00")


def _chunks(codes: list[str]) -> Iterator[list[str]]:
    unique = sorted(set(codes))
    for start in range(0, len(unique), CHUNK):
        yield unique[start:start + CHUNK]


class FiguresMixin(SimulatorBase):
    """What a reconciliation reads: Sage's side of many commitments or jobs at once."""

    def commitment_figures(self, commitments: list[str]) -> dict[str, dict]:
        """{commitment: {"vendor", "job", "status", "amount" (original + approved changes),
        "ccos": {CCO: {"status", "amount"}}, "invoices": {(vendor, invoice): {"status", "amount",
        "retainage"}} (distributions to this commitment), "paid"}} for those still in Sage; a
        commitment missing from the answer is not in Sage (deleted there)."""
        out: dict[str, dict] = {}
        r: Any  # the rows of each query below
        with self.engine.connect() as conn:
            for chunk in _chunks(commitments):
                for r in conn.execute(select(commitment_t.c.Commitment, commitment_t.c.Vendor, commitment_t.c.Job,
                                             commitment_t.c.Status, commitment_t.c.Amount)
                                      .where(commitment_t.c.Commitment.in_(chunk))):
                    out[r.Commitment] = {"vendor": r.Vendor, "job": r.Job, "status": r.Status,
                                         "amount": Decimal(r.Amount), "ccos": {}, "invoices": {}, "paid": ZERO}
                change = func.coalesce(func.sum(commitment_co_item_t.c.Amount), 0)
                for r in conn.execute(
                        select(commitment_co_t.c.Commitment, commitment_co_t.c.CCO, commitment_co_t.c.Status,
                               change.label("amount"))
                        .select_from(commitment_co_t.outerjoin(commitment_co_item_t, (
                            commitment_co_item_t.c.Commitment == commitment_co_t.c.Commitment)
                            & (commitment_co_item_t.c.CCO == commitment_co_t.c.CCO)))
                        .where(commitment_co_t.c.Commitment.in_(chunk))
                        .group_by(commitment_co_t.c.Commitment, commitment_co_t.c.CCO, commitment_co_t.c.Status)):
                    if r.Commitment in out:
                        out[r.Commitment]["ccos"][r.CCO] = {"status": r.Status, "amount": Decimal(r.amount)}
                for r in conn.execute(
                        select(distribution_t.c.Commitment, distribution_t.c.Vendor, distribution_t.c.Invoice,
                               invoice_t.c.Status, func.sum(distribution_t.c.Amount).label("amount"),
                               func.sum(distribution_t.c.Retainage).label("retainage"))
                        .join(invoice_t, (invoice_t.c.Vendor == distribution_t.c.Vendor)
                              & (invoice_t.c.Invoice == distribution_t.c.Invoice))
                        .where(distribution_t.c.Commitment.in_(chunk))
                        .group_by(distribution_t.c.Commitment, distribution_t.c.Vendor, distribution_t.c.Invoice,
                                  invoice_t.c.Status)):
                    if r.Commitment in out:
                        out[r.Commitment]["invoices"][(r.Vendor, r.Invoice)] = {
                            "status": r.Status, "amount": Decimal(r.amount), "retainage": Decimal(r.retainage)}
                for r in conn.execute(
                        select(transaction_t.c.Commitment, func.sum(transaction_t.c.Amount_Paid).label("paid"))
                        .where(transaction_t.c.Commitment.in_(chunk), transaction_t.c.Transaction_Type == AP_COST)
                        .group_by(transaction_t.c.Commitment)):
                    if r.Commitment in out:
                        out[r.Commitment]["paid"] = Decimal(r.paid or 0)
        return out

    def job_figures(self, jobs: list[str]) -> dict[str, dict]:
        """{job: {"status", "estimates": {(Extra, Cost_Code, Category): Original estimate},
        "changes": {Ref_1: Approved est chng}, "pcco_changes": {Ref_1: Approved est chng of a PCCO},
        "contract": the job's CN contract items' original amounts + approved changes (None: no
        contract)}} for the jobs still in Sage (posted or not: a budget waits in new.jct until posted)."""
        out: dict[str, dict] = {}
        r: Any  # the rows of each query below
        with self.engine.connect() as conn:
            for chunk in _chunks(jobs):
                for r in conn.execute(select(job_t.c.Job, job_t.c.Status).where(job_t.c.Job.in_(chunk))):
                    out[r.Job] = {"status": r.Status, "estimates": {}, "changes": {}, "pcco_changes": {},
                                  "contract": None}
                t = transaction_t.c
                amount = func.sum(t.Amount).label("amount")
                for r in conn.execute(select(t.Job, t.Extra, t.Cost_Code, t.Category, amount)
                                      .where(t.Job.in_(chunk), t.Transaction_Type == ORIGINAL_ESTIMATE)
                                      .group_by(t.Job, t.Extra, t.Cost_Code, t.Category)):
                    if r.Job in out:
                        out[r.Job]["estimates"][(r.Extra, r.Cost_Code, r.Category)] = Decimal(r.amount)
                for r in conn.execute(select(t.Job, t.Ref_1, t.Ref_2, amount)
                                      .where(t.Job.in_(chunk), t.Transaction_Type == APPROVED_ESTIMATE_CHANGE)
                                      .group_by(t.Job, t.Ref_1, t.Ref_2)):
                    if r.Job in out:
                        into = "pcco_changes" if r.Ref_2 == PCCO_REF_2 else "changes"
                        bucket = out[r.Job][into]
                        bucket[r.Ref_1] = bucket.get(r.Ref_1, ZERO) + Decimal(r.amount)
                value = func.sum(contract_item_t.c.Original_Amount + contract_item_t.c.Approved_Changes)
                for r in conn.execute(select(contract_t.c.Job, value.label("amount"))
                                      .join(contract_item_t, contract_item_t.c.Contract == contract_t.c.Contract)
                                      .where(contract_t.c.Job.in_(chunk)).group_by(contract_t.c.Job)):
                    if r.Job in out:
                        out[r.Job]["contract"] = Decimal(r.amount or 0)
        return out
