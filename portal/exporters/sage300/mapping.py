"""Pure mappers from the portal's item data to Sage 300 CRE import records.

Subcontractor invoice mapping, after the connector guide's data mapping table:

    Contract Company        -> Vendor          Commitment #        -> Commitment
    ERP ID                  -> Invoice         Project #           -> Job
    Description             -> Description     Sub Job #           -> Extra
    Billing Date            -> Invoice Date    Cost Code           -> Cost Code
    Total Completed/Stored  -> Amount          Budget Code         -> Category
    Total Retainage         -> Retainage       Description of Work -> Description
    Accounting Date         -> Acct Date       Completed + Stored  -> Amount
                                               Work Retainage      -> Retainage

Tax is never exported. Lines netting to $0 (amount and retainage) are not sent.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .records import APDistribution, APInvoice, Batch, SubcontractorInvoiceData

CENT = Decimal("0.01")


def money(value) -> Decimal:
    """Decimal rounded half-up to cents."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def map_subcontractor_invoice(data: SubcontractorInvoiceData, batch_id: str) -> Batch:
    """One AP invoice with its distributions, as a Batch of kind "ap_invoice"."""
    # Group by commitment item (consolidated) or keep one group per line; dicts keep
    # first-seen order, and the first line of a group gives its codes and description.
    groups: dict = {}
    for n, line in enumerate(data.lines):
        key = line.commitment_item if data.consolidate else n
        groups.setdefault(key, []).append(line)

    distributions = []
    for lines in groups.values():
        first = lines[0]
        amount = money(sum((money(l.work_completed + l.materials_stored) for l in lines), Decimal(0)))
        retainage = money(sum((money(l.retainage) for l in lines), Decimal(0)))
        if amount == 0 and retainage == 0:
            continue  # the integration sends no lines for $0
        distributions.append(APDistribution(
            commitment=data.commitment,
            commitment_item=first.commitment_item,
            job=data.job,
            extra=data.extra,
            cost_code=first.cost_code,
            category=first.category,
            description=first.description,
            amount=amount,
            retainage=retainage,
        ))

    # Header totals are the distribution sums, so the import always balances.
    invoice = APInvoice(
        vendor=data.vendor,
        invoice=data.erp_id,
        description=data.description,
        invoice_date=data.invoice_date,
        accounting_date=data.accounting_date,
        amount=money(sum((d.amount for d in distributions), Decimal(0))),
        retainage=money(sum((d.retainage for d in distributions), Decimal(0))),
    )
    return Batch(batch_id=batch_id, kind="ap_invoice", records=(invoice, *distributions))
