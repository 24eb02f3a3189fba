"""Shared by the simulator's financial-kind tests (test_sage_simulator_financial*.py): the seed
Sage data, batch builders and table checks."""
from datetime import date
from decimal import Decimal as D

from sqlalchemy import func, select

from portal.exporters.sage300 import simulator as simmod
from portal.exporters.sage300.mapping import (
    map_budget,
    map_budget_change,
    map_cco,
    map_commitment,
    map_owner_invoice,
    map_pcco,
)
from portal.exporters.sage300.records import (
    APDistribution,
    APInvoice,
    Batch,
    BudgetChangeData,
    BudgetChangeLineData,
    BudgetData,
    BudgetLineData,
    CCOData,
    CCOLineData,
    CommitmentData,
    CommitmentItemData,
    OwnerInvoiceData,
    OwnerInvoiceLineData,
    PCCOData,
    PCCOEstimateLineData,
    PCCOScheduleLineData,
)
from portal.exporters.sage300.troubleshooting import explain

TODAY = date(2026, 10, 1)


def commitment_exists(code):
    return f"A commitment with code [{code}] already exists."


def change_order_exists(code):
    return f"A change order with code {code} already exists on this contract."


def estimate_exists(cost_code, category):
    return f"An estimate already exists for cost code {cost_code} category {category}."


def seed(s):
    s.add_vendor("ACME", "Acme Framing")
    s.add_vendor("OLDCO", "Old Co", status="Inactive")
    s.add_job("J-1", "Main Street Tower")
    s.add_cost_code("J-1", "01-100", "Framing")
    s.add_category("J-1", "01-100", "SUB", "Subcontract")
    s.add_category("J-1", "01-100", "MAT", "Material")
    s.add_cost_code("J-1", "02-200", "Drywall")
    s.add_category("J-1", "02-200", "LAB", "Labor")
    s.add_extra("J-1", "E1", "Lobby upgrade")
    s.add_cost_code("J-1", "01-100", "Framing", extra="E1")
    s.add_category("J-1", "01-100", "SUB", "Subcontract", extra="E1")
    s.add_job("J-OLD", "Finished job", status="Closed")
    s.add_cost_code("J-OLD", "01-100", "Framing")
    s.add_category("J-OLD", "01-100", "SUB", "Subcontract")
    s.add_customer("OWNER", "Harbor Owner LLC")
    s.add_contract("CN-1", "J-1", "Main Street prime", items=[("010", "Base building", D("100000")),
                                                              ("020", "Sitework", D("50000"))])


# ---- batch builders -------------------------------------------------------------

def citem(n="1", **kw):
    values = dict(item=n, description="Framing", cost_code="01-100", category="SUB", amount=D("6000"))
    values.update(kw)
    return CommitmentItemData(**values)


def commitment_batch(batch_id="cm-1", items=None, **kw):
    values = dict(commitment="C-NEW", commitment_type="Subcontract", description="Framing subcontract",
                  vendor="ACME", job="J-1", date=date(2026, 9, 15), retainage_pct=D("10"),
                  items=(citem("1"), citem("2", description="Blocking", category="MAT", amount=D("4000")))
                  if items is None else tuple(items))
    values.update(kw)
    return map_commitment(CommitmentData(**values), batch_id)


def cco_batch(batch_id="co-1", lines=None, **kw):
    values = dict(cco="CCO-1", commitment="C-NEW", job="J-1", description="Added blocking", date=TODAY,
                  lines=(CCOLineData(amount=D("500"), existing_item="1"),) if lines is None else tuple(lines))
    values.update(kw)
    return map_cco(CCOData(**values), batch_id)


def budget_batch(batch_id="bu-1", lines=None, **kw):
    values = dict(job="J-1", date=TODAY,
                  lines=(BudgetLineData("01-100", "SUB", D("10000"), estimated_cost_at_completion=D("11000"),
                                        forecast_to_complete=D("9000")),
                         BudgetLineData("02-200", "LAB", D("2000"))) if lines is None else tuple(lines))
    values.update(kw)
    return map_budget(BudgetData(**values), batch_id)


def change_batch(batch_id="bc-1", lines=None, **kw):
    values = dict(job="J-1", date=TODAY, reference="BC-001",
                  lines=(BudgetChangeLineData("01-100", "SUB", D("-500"), description="From framing"),
                         BudgetChangeLineData("02-200", "LAB", D("500"), description="To drywall"))
                  if lines is None else tuple(lines))
    values.update(kw)
    return map_budget_change(BudgetChangeData(**values), batch_id)


def pcco_batch(batch_id="pc-1", estimate=None, schedule=None, **kw):
    values = dict(job="J-1", contract="CN-1", number="PCCO-7", title="North canopy", date=TODAY,
                  estimate_lines=(PCCOEstimateLineData("01-100", "SUB", "Subcontract", D("2500")),)
                  if estimate is None else tuple(estimate),
                  schedule_lines=(PCCOScheduleLineData("010", D("1000"), description="Base building"),
                                  PCCOScheduleLineData("040", D("2750"), new_item=True, description="Canopy"))
                  if schedule is None else tuple(schedule))
    values.update(kw)
    return map_pcco(PCCOData(**values), batch_id)


def ar_batch(batch_id="ar-1", lines=None, **kw):
    values = dict(customer="OWNER", contract="CN-1", job="J-1", invoice="AR-1001", description="Pay app 4",
                  invoice_date=date(2026, 10, 25), accounting_date=date(2026, 10, 31),
                  lines=(OwnerInvoiceLineData("010", "Base building", D("10000"), D("1000")),
                         OwnerInvoiceLineData("020", "Sitework", D("5000"), D("500")))
                  if lines is None else tuple(lines))
    values.update(kw)
    return map_owner_invoice(OwnerInvoiceData(**values), batch_id)


def ap_batch(batch_id, invoice, amount, commitment="C-NEW"):
    head = APInvoice(vendor="ACME", invoice=invoice, description="", invoice_date=TODAY, accounting_date=TODAY,
                     amount=amount, retainage=D("0"))
    dist = APDistribution(commitment=commitment, commitment_item="1", job="J-1", extra="", cost_code="01-100",
                          category="SUB", description="", amount=amount, retainage=D("0"))
    return Batch(batch_id=batch_id, kind="ap_invoice", records=(head, dist))


TABLES = (simmod.commitment_t, simmod.commitment_item_t, simmod.commitment_co_t, simmod.commitment_co_item_t,
          simmod.transaction_t, simmod.contract_t, simmod.contract_item_t, simmod.customer_t, simmod.ar_invoice_t,
          simmod.ar_distribution_t, simmod.invoice_t)


def counts(s):
    with s.engine.connect() as conn:
        counted = tuple(conn.scalar(select(func.count()).select_from(t)) for t in TABLES)
        amounts = tuple(conn.execute(select(simmod.commitment_t.c.Amount)
                                     .order_by(simmod.commitment_t.c.Commitment)).scalars())
        changes = tuple(conn.execute(select(simmod.contract_item_t.c.Approved_Changes)
                                     .order_by(simmod.contract_item_t.c.Item)).scalars())
    return counted, amounts, changes


def refused(s, batch, message):
    before = counts(s)
    result = s.submit(batch)
    assert (result.ok, result.message, result.replayed, result.reference) == (False, message, False, "")
    assert counts(s) == before  # a refusal creates (and changes) nothing
    assert s.import_log(batch.batch_id)["Message"] == message
    assert explain(result.message) is not None
    return result


def txns(s, job="J-1", type=None):
    return [(r["Transaction_Type"], r["Extra"], r["Cost_Code"], r["Category"], r["Amount"], r["Posted"])
            for r in s.list_transactions(job, type)]
