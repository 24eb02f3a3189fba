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
                                               Qty this period     -> Units (Unit/Qty commitments)

Consolidated, one distribution per commitment line, described as the commitment line.

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

Financial items, after the guide's Commitments, Commitment Change Orders, Budgets, Budget
Modifications, Cost Forecast Data and Prime Contract Change Orders tables:

    Commitments (kind "jc_commitment": JCCommitment, then one JCCommitmentItem per SOV line)
    Sage 300 CRE ID    -> Subcontract # / Commitment ID (header and every item)
    Commitment Type    -> Commitment Type ("Subcontract" | "Purchase Order")
    Title              -> Description       Contract Company -> Vendor ID (ERP vendor ID)
    Date Created       -> Date              Default Retainage -> Retainage (percent)
    item: Description, Sage Job ID -> Job, Sub Job -> Extra, Cost Code, Type -> Category,
          Qty/Unit Cost/Units -> Units/Unit Cost/Unit Description (POs; passed as given),
          Contract Amount or Subtotal -> Amount

    Commitment change orders (kind "jc_commitment_co"; Status is always "Approved")
    records: the new JCCommitmentItem(s) (a new SOV line: the item numbered new_item.item, with
    no amount of its own), then the JCCommitmentCO, then one JCCommitmentCOItem per changed item.
    Exported as the guide's 2 import files (map_cco_imports): the new items alone first (kind
    "jc_commitment_item"), then the change order without them.
    Several changes to one existing item are summed into ONE JCCommitmentCOItem (a Sage limit:
    an item is modified at most once per CCO). Description, Job, Cost Code, Category, Unit
    Cost and Unit Description are on the CO item only for a new line (footnote 4).

    Budgets (kind "jc_budget"): per line "Original estimate" (Original Budget); with
    export_forecast also "Misc worksheet 1" (Estimated Cost at Complete) and "Misc worksheet 2"
    (Forecast to Complete), described as such, each skipped when its amount is None. Records
    go line by line (estimate, then its worksheets).
    Budget changes (kind "jc_budget_change"): per line "Approved est chng" (signed amount,
    Ref 1 = the budget change number), plus the same worksheets when export_forecast.
    Prime contract change orders (kind "jc_pcco"): a CNContractItem per new schedule line first,
    then per estimate line "Approved est chng" (description = the category description), then
    per schedule line "Approved Schedule Value Change" (Contract, Contract Item: the item's own
    Sage contract when the prime contract holds several); every
    transaction has Chg Mgmt Ref 1 = the PCCO number and Ref 2 = "HH2".

    Owner invoices (kind "ar_invoice": ARInvoice, then ARDistribution per contract item line):
    header amount and retainage are the distribution sums; lines netting to $0 are not sent.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .records import (
    APDistribution,
    APInvoice,
    APVendor,
    ARDistribution,
    ARInvoice,
    Batch,
    BudgetChangeData,
    BudgetData,
    CCOData,
    CCOLineData,
    CNContractItem,
    CommitmentData,
    CommitmentItemData,
    CostCodeData,
    CostCodesData,
    ExtraData,
    JCCategory,
    JCCommitment,
    JCCommitmentCO,
    JCCommitmentCOItem,
    JCCommitmentItem,
    JCCostCode,
    JCExtra,
    JCJob,
    JCTransaction,
    JobData,
    OwnerInvoiceData,
    PCCOData,
    SubcontractorInvoiceData,
    VendorData,
)

# Job Cost transaction types, as Sage prints them (sage300-facts.md).
ORIGINAL_ESTIMATE = "Original estimate"
APPROVED_ESTIMATE_CHANGE = "Approved est chng"
COMMITTED_COST = "Committed cost"
APPROVED_COMMITMENT_CHANGE = "Aprvd cmmtt cst chng"
MISC_WORKSHEET_1 = "Misc worksheet 1"
MISC_WORKSHEET_2 = "Misc worksheet 2"
SCHEDULE_VALUE_CHANGE = "Approved Schedule Value Change"
ESTIMATED_COST_AT_COMPLETE = "Estimated Cost at Complete"   # Misc worksheet 1's description
FORECAST_TO_COMPLETE = "Forecast to Complete"               # Misc worksheet 2's description
PCCO_REF_2 = "HH2"                                          # "Automatically assigned as HH2"
CCO_STATUS = "Approved"

CENT = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    """Decimal rounded half-up to cents."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def map_subcontractor_invoice(data: SubcontractorInvoiceData, batch_id: str) -> Batch:
    """One AP invoice with its distributions, as a Batch of kind "ap_invoice"."""
    # Group by commitment item (consolidated) or keep one group per line; dicts keep
    # first-seen order. The first line of a group gives its codes; a consolidated distribution
    # is described as its commitment line, a line of its own as the line. Quantities (Unit/Qty
    # commitments) are summed like amounts.
    groups: dict = {}
    for n, line in enumerate(data.lines):
        key = line.commitment_item if data.consolidate else n
        groups.setdefault(key, []).append(line)

    distributions = []
    for lines in groups.values():
        first = lines[0]
        amount = money(sum((money(ln.work_completed + ln.materials_stored) for ln in lines), Decimal(0)))
        retainage = money(sum((money(ln.retainage) for ln in lines), Decimal(0)))
        if amount == 0 and retainage == 0:
            continue  # the integration sends no lines for $0
        quantities = [Decimal(ln.quantity) for ln in lines if ln.quantity is not None]
        distributions.append(APDistribution(
            commitment=data.commitment,
            commitment_item=first.commitment_item,
            job=data.job,
            extra=data.extra,
            cost_code=first.cost_code,
            category=first.category,
            description=(first.commitment_description or first.description) if data.consolidate
            else first.description,
            amount=amount,
            retainage=retainage,
            units=sum(quantities, Decimal(0)) if quantities else None,
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
        hold=data.hold,
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


# ---- commitments and commitment change orders -------------------------------------------

def _units(value):
    return None if value is None else Decimal(value)


def map_commitment(data: CommitmentData, batch_id: str) -> Batch:
    """A commitment with its items, as a Batch of kind "jc_commitment".

    A ValueError when there is no item (the guide: the SOV needs at least one line)."""
    if not data.items:
        raise ValueError("a commitment needs at least one schedule of values line")
    header = JCCommitment(
        commitment=data.commitment,
        commitment_type=data.commitment_type,
        description=data.description,
        vendor=data.vendor,
        job=data.job,
        date=data.date,
        retainage_pct=Decimal(data.retainage_pct),
    )
    items = tuple(JCCommitmentItem(
        commitment=data.commitment,
        item=i.item,
        description=i.description,
        job=data.job,
        extra=i.extra,
        cost_code=i.cost_code,
        category=i.category,
        units=_units(i.units),
        unit_cost=_units(i.unit_cost),
        unit_description=i.unit_description,
        amount=money(i.amount),
    ) for i in data.items)
    return Batch(batch_id=batch_id, kind="jc_commitment", records=(header, *items))


def _new_item(line: CCOLineData) -> CommitmentItemData:
    if line.new_item is None:  # only lines with a new item are grouped as "new"
        raise ValueError("a new CCO line needs its new item")
    return line.new_item


def map_cco(data: CCOData, batch_id: str) -> Batch:
    """A commitment change order as a Batch of kind "jc_commitment_co".

    Records: every new commitment item (JCCommitmentItem, amount 0: its amount is the change),
    then the JCCommitmentCO (Status "Approved"), then the JCCommitmentCOItems in first-seen
    order, the changes to one existing item summed into one. A new line's amount is the line's
    (new_item.amount is not used), its units the line's or else new_item's. A ValueError when there is no
    line, a line names both or neither of existing_item and new_item, or a new line's item number is
    another line's (Sage takes one change per item in a CCO)."""
    if not data.lines:
        raise ValueError("a commitment change order needs at least one line")
    new_items: list[JCCommitmentItem] = []
    groups: dict[tuple[str, str | int], list[CCOLineData]] = {}   # key -> [lines], in first-seen order
    for n, line in enumerate(data.lines):
        if bool(line.existing_item) == (line.new_item is not None):
            raise ValueError("a CCO line changes an existing item or adds a new one (exactly one)")
        if line.new_item is not None:
            groups[("new", n)] = [line]
        else:
            groups.setdefault(("existing", line.existing_item), []).append(line)

    new_numbers = [_new_item(lines[0]).item for (what, _), lines in groups.items() if what == "new"]
    existing_numbers = {key for what, key in groups if what == "existing"}
    if len(set(new_numbers)) != len(new_numbers) or existing_numbers & set(new_numbers):
        raise ValueError("a new CCO line needs an item number of its own (not another line's)")

    co_items = []
    for (what, _), lines in groups.items():
        amount = money(sum((money(ln.amount) for ln in lines), Decimal(0)))
        if what == "existing":
            given = [ln.units for ln in lines if ln.units is not None]
            co_items.append(JCCommitmentCOItem(
                commitment=data.commitment, cco=data.cco, item=lines[0].existing_item, amount=amount,
                units=sum((Decimal(u) for u in given), Decimal(0)) if given else None))
            continue
        line, new = lines[0], _new_item(lines[0])
        new_items.append(JCCommitmentItem(
            commitment=data.commitment, item=new.item, description=new.description, job=data.job,
            extra=new.extra, cost_code=new.cost_code, category=new.category, units=None,
            unit_cost=_units(new.unit_cost), unit_description=new.unit_description,
            amount=Decimal("0.00")))
        co_items.append(JCCommitmentCOItem(
            commitment=data.commitment, cco=data.cco, item=new.item, amount=amount,
            units=_units(line.units if line.units is not None else new.units),
            description=new.description, job=data.job, cost_code=new.cost_code, category=new.category,
            unit_cost=_units(new.unit_cost), unit_description=new.unit_description))

    header = JCCommitmentCO(commitment=data.commitment, cco=data.cco, description=data.description,
                            date=data.date, status=CCO_STATUS)
    return Batch(batch_id=batch_id, kind="jc_commitment_co", records=(*new_items, header, *co_items))


NEW_ITEMS_SUFFIX = "-items"   # the batch id of a CCO's new commitment items: the CCO's, plus this


def map_cco_imports(data: CCOData, batch_id: str) -> list[Batch]:
    """A commitment change order as the guide's import files, in order: with a new line, the
    new commitment item(s) first (kind "jc_commitment_item", batch id + "-items"), then the
    change order (kind "jc_commitment_co": the JCCommitmentCO and its JCCommitmentCOItems);
    without one, the change order alone. Same checks (and ValueErrors) as map_cco."""
    batch = map_cco(data, batch_id)
    new_items = tuple(r for r in batch.records if isinstance(r, JCCommitmentItem))
    if not new_items:
        return [batch]
    change_order = tuple(r for r in batch.records if not isinstance(r, JCCommitmentItem))
    return [Batch(batch_id=batch_id + NEW_ITEMS_SUFFIX, kind="jc_commitment_item", records=new_items),
            Batch(batch_id=batch_id, kind=batch.kind, records=change_order)]


# ---- budgets, budget changes, prime contract change orders ------------------------------

def _forecast(job, date_, line) -> list:
    out = []
    for value, ttype, description in ((line.estimated_cost_at_completion, MISC_WORKSHEET_1,
                                       ESTIMATED_COST_AT_COMPLETE),
                                      (line.forecast_to_complete, MISC_WORKSHEET_2, FORECAST_TO_COMPLETE)):
        if value is not None:
            out.append(JCTransaction(job=job, extra=line.extra, cost_code=line.cost_code,
                                     category=line.category, transaction_type=ttype, date=date_,
                                     description=description, amount=money(value)))
    return out


def map_budget(data: BudgetData, batch_id: str) -> Batch:
    """A budget as JC transactions, kind "jc_budget": per line its Original estimate, then (with
    export_forecast) its Misc worksheet 1 and 2. A ValueError when there is no line."""
    if not data.lines:
        raise ValueError("a budget needs at least one line")
    records = []
    for line in data.lines:
        records.append(JCTransaction(job=data.job, extra=line.extra, cost_code=line.cost_code,
                                     category=line.category, transaction_type=ORIGINAL_ESTIMATE,
                                     date=data.date, description="", amount=money(line.original)))
        if data.export_forecast:
            records += _forecast(data.job, data.date, line)
    return Batch(batch_id=batch_id, kind="jc_budget", records=tuple(records))


def map_budget_change(data: BudgetChangeData, batch_id: str) -> Batch:
    """A budget change (modification) as JC transactions, kind "jc_budget_change": per line an
    "Approved est chng" (signed amount, Ref 1 = the change's reference), then (with
    export_forecast) its worksheets. A ValueError when there is no line."""
    if not data.lines:
        raise ValueError("a budget change needs at least one line")
    records = []
    for line in data.lines:
        records.append(JCTransaction(job=data.job, extra=line.extra, cost_code=line.cost_code,
                                     category=line.category, transaction_type=APPROVED_ESTIMATE_CHANGE,
                                     date=data.date, description=line.description,
                                     amount=money(line.amount), ref_1=data.reference))
        if data.export_forecast:
            records += _forecast(data.job, data.date, line)
    return Batch(batch_id=batch_id, kind="jc_budget_change", records=tuple(records))


def map_pcco(data: PCCOData, batch_id: str) -> Batch:
    """A prime contract change order, kind "jc_pcco": the new contract items, then an
    "Approved est chng" per estimate line, then an "Approved Schedule Value Change" per
    schedule line (Ref 1 = the PCCO number, Ref 2 = "HH2"). A ValueError when there is no line."""
    if not data.estimate_lines and not data.schedule_lines:
        raise ValueError("a prime contract change order needs at least one line")
    new_items = tuple(CNContractItem(contract=data.contract, item=s.contract_item, description=s.description)
                      for s in data.schedule_lines if s.new_item)
    estimates = tuple(JCTransaction(
        job=data.job, extra=e.extra, cost_code=e.cost_code, category=e.category,
        transaction_type=APPROVED_ESTIMATE_CHANGE, date=data.date, description=e.category_description,
        amount=money(e.amount), ref_1=data.number, ref_2=PCCO_REF_2) for e in data.estimate_lines)
    schedule = tuple(JCTransaction(
        job=data.job, extra="", cost_code="", category="", transaction_type=SCHEDULE_VALUE_CHANGE,
        date=data.date, description=s.description, amount=money(s.amount), ref_1=data.number,
        ref_2=PCCO_REF_2, contract=s.contract or data.contract, contract_item=s.contract_item)
        for s in data.schedule_lines)
    return Batch(batch_id=batch_id, kind="jc_pcco", records=(*new_items, *estimates, *schedule))


# ---- owner invoices ----------------------------------------------------------------------

def map_owner_invoice(data: OwnerInvoiceData, batch_id: str) -> Batch:
    """An owner invoice as an AR invoice with its distributions, kind "ar_invoice"; lines whose
    amount and retainage are both $0 are not sent, the header totals are the distribution sums."""
    distributions = []
    for line in data.lines:
        amount, retainage = money(line.amount), money(line.retainage)
        if amount == 0 and retainage == 0:
            continue
        distributions.append(ARDistribution(invoice=data.invoice, contract=data.contract,
                                            contract_item=line.contract_item, description=line.description,
                                            amount=amount, retainage=retainage))
    invoice = ARInvoice(
        customer=data.customer,
        invoice=data.invoice,
        contract=data.contract,
        job=data.job,
        description=data.description,
        invoice_date=data.invoice_date,
        accounting_date=data.accounting_date,
        amount=money(sum((d.amount for d in distributions), Decimal(0))),
        retainage=money(sum((d.retainage for d in distributions), Decimal(0))),
    )
    return Batch(batch_id=batch_id, kind="ar_invoice", records=(invoice, *distributions))
