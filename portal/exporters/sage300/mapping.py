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

Setup items, after the guide's Companies, Projects/Jobs and Sub Jobs/Extras tables
(strings are passed as given: the simulator, like Sage, refuses over-long values):

    Companies (AP vendor, kind "ap_vendor")      Projects (JC job, kind "jc_job")
    ERP Company ID -> Vendor                     Sage Job ID  -> Job
    Name           -> Name                       Project Name -> Description (job name)
    Address        -> Address 1                  Address      -> Address 1
    City           -> City                       City, State, ZIP -> City, State, ZIP
    State, ZIP     -> State, ZIP                 Cost Code (Code, Description) -> Cost Code
    Business Phone -> Telephone                  Cost Type (Cost Code, Cost Type ID) -> Category
    Business Fax   -> Fax Number

    Sub Jobs (JC extra of a job, kind "jc_extra")   Project cost codes (kind "jc_cost_codes")
    Code    -> Extra                                 Cost Code -> Cost Code (on the job or extra)
    Sub Job -> Description                           Cost Type -> Category
    Cost Code / Cost Type -> Cost Code / Category (with Extra set)

The job import file holds 3 record types (job, cost codes, categories); a batch lists its
records in that order: the header record, then every cost code, then every category.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .records import (
    APDistribution, APInvoice, APVendor, Batch, CostCodeData, CostCodesData, ExtraData, JCCategory,
    JCCostCode, JCExtra, JCJob, JobData, SubcontractorInvoiceData, VendorData,
)

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


# ---- setup items -----------------------------------------------------------------

def map_vendor(data: VendorData, batch_id: str) -> Batch:
    """A company as one AP vendor, as a Batch of kind "ap_vendor"."""
    vendor = APVendor(
        vendor=data.vendor,
        name=data.name,
        address_1=data.address,
        city=data.city,
        state=data.state,
        zip=data.zip,
        telephone=data.phone,
        fax=data.fax,
        vendor_type=data.vendor_type,
    )
    return Batch(batch_id=batch_id, kind="ap_vendor", records=(vendor,))


def _codes(job: str, extra: str, cost_codes: tuple[CostCodeData, ...]) -> tuple:
    """Every cost code, then every category (a category follows its cost code's record)."""
    codes = tuple(JCCostCode(job=job, extra=extra, cost_code=cc.cost_code, description=cc.description)
                  for cc in cost_codes)
    categories = tuple(JCCategory(job=job, extra=extra, cost_code=cc.cost_code, category=cat.category,
                                  description=cat.description)
                       for cc in cost_codes for cat in cc.categories)
    return codes + categories


def map_job(data: JobData, batch_id: str) -> Batch:
    """A project as a JC job with its cost codes and categories, as a Batch of kind "jc_job"."""
    job = JCJob(
        job=data.job,
        description=data.name,
        address_1=data.address,
        city=data.city,
        state=data.state,
        zip=data.zip,
    )
    return Batch(batch_id=batch_id, kind="jc_job", records=(job, *_codes(data.job, "", data.cost_codes)))


def map_extra(data: ExtraData, batch_id: str) -> Batch:
    """A sub job as a JC extra of its job, with its cost codes and categories (kind "jc_extra")."""
    extra = JCExtra(job=data.job, extra=data.extra, description=data.description)
    return Batch(batch_id=batch_id, kind="jc_extra",
                 records=(extra, *_codes(data.job, data.extra, data.cost_codes)))


def map_cost_codes(data: CostCodesData, batch_id: str) -> Batch:
    """Cost codes and categories added to a job (extra "") or an extra (kind "jc_cost_codes").

    A ValueError when there is no cost code: the batch would not name its job."""
    if not data.cost_codes:
        raise ValueError("no cost codes to add")
    return Batch(batch_id=batch_id, kind="jc_cost_codes",
                 records=_codes(data.job, data.extra, data.cost_codes))
