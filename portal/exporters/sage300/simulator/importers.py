"""Importing a batch: submit (idempotent per batch_id, hourly limit, one transaction, drop
file) and one importer per batch kind. Each importer checks the batch as Sage would and
either inserts its records or raises Refused with Sage's text (nothing is inserted)."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..dropfolder import write_import_file
from ..fileformat import import_file
from ..mapping import (
    APPROVED_COMMITMENT_CHANGE,
    APPROVED_ESTIMATE_CHANGE,
    CCO_STATUS,
    COMMITTED_COST,
    ORIGINAL_ESTIMATE,
    SCHEDULE_VALUE_CHANGE,
)
from ..records import (
    APDistribution,
    APInvoice,
    APVendor,
    ARDistribution,
    ARInvoice,
    Batch,
    CNContractItem,
    JCCategory,
    JCCommitment,
    JCCommitmentCO,
    JCCommitmentCOItem,
    JCCommitmentItem,
    JCCostCode,
    JCExtra,
    JCJob,
    JCTransaction,
    SageResult,
)
from .rules import (
    AR_DUPLICATE,
    ARCHIVED_STATUSES,
    BUDGET_CHANGE_TYPES,
    BUDGET_TYPES,
    CCO_EXISTS,
    COMMITMENT_ARCHIVED,
    EXTRA_EXISTS,
    ITEM_EXISTS,
    JOB_CLOSED,
    JOB_EXISTS,
    NO_CATEGORY,
    NO_DISTRIBUTIONS,
    NOT_FOUND,
    PCCO_TYPES,
    RATE_LIMITED,
    VENDOR_EXISTS,
    VENDOR_INACTIVE,
    Refused,
    change_order_exists,
    check_fields,
    commitment_exists,
    dec,
    duplicate_invoice,
    estimate_exists,
    over_tolerance,
    period_closed,
)
from .schema import (
    SimulatorBase,
    ar_distribution_t,
    ar_invoice_t,
    category_t,
    commitment_co_item_t,
    commitment_co_t,
    commitment_item_t,
    commitment_t,
    contract_item_t,
    contract_t,
    cost_code_t,
    customer_t,
    distribution_t,
    exists,
    extra_t,
    import_log_t,
    invoice_t,
    job_t,
    naive_utc,
    request_log_t,
    transaction_t,
    vendor_t,
)


class ImportersMixin(SimulatorBase):
    """submit(batch) and the importers of every batch kind."""

    # ---- submit ------------------------------------------------------------------

    def submit(self, batch: Batch) -> SageResult:
        """Import one batch, all or nothing; a batch_id seen before replays its stored result.

        A Sage refusal is a SageResult(ok=False, message=Sage's text), logged like a success;
        a malformed batch (wrong records for its kind) is a ValueError and imports nothing."""
        importer = self._IMPORTERS.get(batch.kind)
        if importer is None:
            raise ValueError(f"unknown batch kind {batch.kind!r}")
        try:
            with self.engine.begin() as conn:
                self._serialise(conn)
                logged = self._logged(conn, batch.batch_id, batch.kind)
                if logged:
                    return logged
                now = naive_utc(self.clock())
                settings = self._settings(conn)
                if settings["hourly_limit"] > 0:
                    used = conn.scalar(select(func.count()).select_from(request_log_t)
                                       .where(request_log_t.c.Requested_At > now - timedelta(hours=1)))
                    conn.execute(insert(request_log_t).values(Batch_ID=batch.batch_id, Requested_At=now))
                    if used >= settings["hourly_limit"]:
                        # not logged as the batch's result: the limit resets, the batch must then go through
                        return SageResult(ok=False, message=RATE_LIMITED)
                try:
                    reference = importer(self, conn, batch, settings, now)
                    result = SageResult(ok=True, reference=reference)
                except Refused as refusal:
                    result = SageResult(ok=False, message=str(refusal))
                conn.execute(insert(import_log_t).values(
                    Batch_ID=batch.batch_id, Kind=batch.kind, Ok=result.ok, Message=result.message,
                    Reference=result.reference, Created_At=now))
                if result.ok and self.drop_folder:
                    # before commit: if the commit fails, the retry rewrites the same file
                    write_import_file(self.drop_folder, batch.batch_id, import_file(batch))
                return result
        except IntegrityError:
            # the import log's primary key decided a race: return the winner's result
            with self.engine.connect() as conn:
                logged = self._logged(conn, batch.batch_id, batch.kind)
            if logged:
                return logged
            raise

    def _logged(self, conn, batch_id: str, kind: str) -> SageResult | None:
        row = conn.execute(select(import_log_t).where(import_log_t.c.Batch_ID == batch_id)).mappings().first()
        if row is None:
            return None
        if row["Kind"] != kind:
            # batch ids are global: replaying another kind's result would report a wrong import
            raise ValueError(f"batch {batch_id!r} was imported as {row['Kind']}, not {kind}")
        return SageResult(ok=row["Ok"], message=row["Message"], reference=row["Reference"], replayed=True)

    def _import_invoice(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        headers = [r for r in batch.records if isinstance(r, APInvoice)]
        dists = [r for r in batch.records if isinstance(r, APDistribution)]
        if len(headers) != 1 or len(headers) + len(dists) != len(batch.records):
            raise ValueError("an ap_invoice batch holds one APInvoice and APDistribution records")
        inv = headers[0]

        for record in [inv, *dists]:
            check_fields(record)

        vendor = conn.execute(select(vendor_t.c.Status).where(vendor_t.c.Vendor == inv.vendor)).first()
        if vendor is None:
            raise Refused(NOT_FOUND)
        if vendor.Status != "Active":
            raise Refused(VENDOR_INACTIVE)
        if not dists:
            raise Refused(NO_DISTRIBUTIONS)

        for d in dists:
            job = conn.execute(select(job_t.c.Status).where(job_t.c.Job == d.job)).first()
            if job is None:
                raise Refused(NOT_FOUND)
            if job.Status == "Closed":
                raise Refused(JOB_CLOSED)
            category = conn.execute(select(category_t.c.Category).where(
                category_t.c.Job == d.job, category_t.c.Extra == (d.extra or ""),
                category_t.c.Cost_Code == d.cost_code, category_t.c.Category == d.category)).first()
            if category is None:
                raise Refused(NO_CATEGORY)

        if conn.execute(select(invoice_t.c.Invoice).where(invoice_t.c.Vendor == inv.vendor,
                                                          invoice_t.c.Invoice == inv.invoice)).first():
            raise Refused(duplicate_invoice(inv.invoice))

        if f"{inv.accounting_date:%Y-%m}" in settings["closed_periods"]:
            raise Refused(period_closed(inv.accounting_date))

        this_batch = defaultdict(Decimal)
        for d in dists:
            if d.commitment:
                this_batch[d.commitment] += Decimal(d.amount)
        factor = 1 + settings["tolerance_pct"] / 100
        for commitment, amount in this_batch.items():
            approved = conn.scalar(select(commitment_t.c.Amount).where(commitment_t.c.Commitment == commitment))
            if approved is None:
                raise Refused(NOT_FOUND)
            invoiced = conn.scalar(select(func.coalesce(func.sum(distribution_t.c.Amount), 0))
                                   .where(distribution_t.c.Commitment == commitment))
            if Decimal(invoiced) + amount > approved * factor:
                raise Refused(over_tolerance(commitment))

        conn.execute(insert(invoice_t).values(
            Vendor=inv.vendor, Invoice=inv.invoice, Description=inv.description or "",
            Invoice_Date=inv.invoice_date, Accounting_Date=inv.accounting_date,
            Amount=inv.amount, Retainage=inv.retainage, Batch_ID=batch.batch_id, Created_At=now))
        conn.execute(insert(distribution_t), [dict(
            Vendor=inv.vendor, Invoice=inv.invoice, Distribution_Seq=n, Commitment=d.commitment or "",
            Commitment_Item=d.commitment_item or "", Job=d.job, Extra=d.extra or "", Cost_Code=d.cost_code,
            Category=d.category, Description=d.description or "", Amount=d.amount, Retainage=d.retainage,
        ) for n, d in enumerate(dists, start=1)])
        return f"{inv.vendor}/{inv.invoice}"

    # ---- setup kinds -------------------------------------------------------------

    def _import_vendor(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        vendor = _single(batch, APVendor, ())
        check_fields(vendor)
        if conn.execute(select(vendor_t.c.Vendor).where(vendor_t.c.Vendor == vendor.vendor)).first():
            raise Refused(VENDOR_EXISTS)
        # Vendor_Type is carried by the import file only (no column in the simulator's table)
        conn.execute(insert(vendor_t).values(
            Vendor=vendor.vendor, Name=vendor.name, Address_1=vendor.address_1 or "", Address_2="",
            City=vendor.city or "", State=vendor.state or "", ZIP=vendor.zip or "",
            Telephone=vendor.telephone or "", Fax=vendor.fax or "", Status="Active"))
        return vendor.vendor

    def _import_job(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        job = _single(batch, JCJob, (JCCostCode, JCCategory))
        codes, categories = _codes_of(batch, job.job, "")
        check_fields(job)
        _check_codes(codes, categories)
        if conn.execute(select(job_t.c.Job).where(job_t.c.Job == job.job)).first():
            raise Refused(JOB_EXISTS)
        _check_category_codes(conn, codes, categories)
        conn.execute(insert(job_t).values(
            Job=job.job, Description=job.description, Address_1=job.address_1 or "", Address_2="",
            City=job.city or "", State=job.state or "", ZIP=job.zip or "", Status="Open"))
        _add_codes(conn, codes, categories)
        return job.job

    def _import_extra(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        extra = _single(batch, JCExtra, (JCCostCode, JCCategory))
        codes, categories = _codes_of(batch, extra.job, extra.extra)
        check_fields(extra)
        _check_codes(codes, categories)
        _open_job(conn, extra.job)
        if conn.execute(select(extra_t.c.Extra).where(extra_t.c.Job == extra.job,
                                                      extra_t.c.Extra == extra.extra)).first():
            raise Refused(EXTRA_EXISTS)
        _check_category_codes(conn, codes, categories)
        conn.execute(insert(extra_t).values(Job=extra.job, Extra=extra.extra,
                                            Description=extra.description or "", Status="Open"))
        _add_codes(conn, codes, categories)
        return f"{extra.job}/{extra.extra}"

    def _import_cost_codes(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        if not batch.records or not all(isinstance(r, (JCCostCode, JCCategory)) for r in batch.records):
            raise ValueError("a jc_cost_codes batch holds JCCostCode and JCCategory records, at least one")
        first = batch.records[0]
        codes, categories = _codes_of(batch, first.job, first.extra or "")
        _check_codes(codes, categories)
        _open_job(conn, first.job)
        if first.extra:
            extra = conn.execute(select(extra_t.c.Status).where(extra_t.c.Job == first.job,
                                                                extra_t.c.Extra == first.extra)).first()
            if extra is None:
                raise Refused(NOT_FOUND)
            if extra.Status == "Closed":
                raise Refused(JOB_CLOSED)
        _check_category_codes(conn, codes, categories)
        return f"{_add_codes(conn, codes, categories)} added"

    # ---- financial kinds -----------------------------------------------------------

    def _import_commitment(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        head = _single(batch, JCCommitment, (JCCommitmentItem,))
        items = list(batch.records[1:])
        if not items or any(i.commitment != head.commitment for i in items):
            raise ValueError("a jc_commitment batch holds its JCCommitment, then its JCCommitmentItems "
                             "(at least one, all on that commitment)")
        check_fields(head)
        for item in items:
            check_fields(item)

        vendor = conn.execute(select(vendor_t.c.Status).where(vendor_t.c.Vendor == head.vendor)).first()
        if vendor is None:
            raise Refused(NOT_FOUND)
        if vendor.Status != "Active":
            raise Refused(VENDOR_INACTIVE)
        _open_job(conn, head.job)
        for item in items:
            _check_coding(conn, item.job, item.extra, item.cost_code, item.category)
        if exists(conn, commitment_t, Commitment=head.commitment):
            raise Refused(commitment_exists(head.commitment))
        if len({i.item for i in items}) != len(items):
            raise Refused(ITEM_EXISTS)

        # Date and Retainage % travel in the import file only (no columns on the existing table)
        conn.execute(insert(commitment_t).values(
            Commitment=head.commitment, Vendor=head.vendor, Job=head.job, Description=head.description or "",
            Commitment_Type=head.commitment_type or "Subcontract",
            Amount=sum((Decimal(i.amount) for i in items), Decimal(0)), Status="Open"))
        _add_commitment_items(conn, items)
        # posted automatically during the transmission (release note, 07/10/2024)
        _insert_transactions(conn, [_item_transaction(i, COMMITTED_COST, head.date, i.description, i.amount,
                                                      batch.batch_id, now) for i in items])
        return head.commitment

    def _import_cco(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        records = batch.records
        heads = [n for n, r in enumerate(records) if isinstance(r, JCCommitmentCO)]
        if len(heads) != 1:
            raise ValueError("a jc_commitment_co batch holds one JCCommitmentCO")
        head, new_items, co_items = records[heads[0]], records[:heads[0]], records[heads[0] + 1:]
        if not all(isinstance(r, JCCommitmentItem) for r in new_items) or not co_items or \
                not all(isinstance(r, JCCommitmentCOItem) for r in co_items):
            raise ValueError("a jc_commitment_co batch holds the new JCCommitmentItems, the JCCommitmentCO, "
                             "then its JCCommitmentCOItems (at least one)")
        if any(r.commitment != head.commitment for r in new_items) or \
                any((r.commitment, r.cco) != (head.commitment, head.cco) for r in co_items):
            raise ValueError("a jc_commitment_co batch's items are all on its commitment and change order")
        if len({r.item for r in co_items}) != len(co_items):
            raise ValueError("a commitment change order changes an item once (sum the changes)")
        if head.status != CCO_STATUS:
            raise ValueError("a commitment change order is exported Approved")

        check_fields(head)
        for item in new_items:
            check_fields(item)
        for item in co_items:
            check_fields(item)

        commitment = conn.execute(select(commitment_t).where(commitment_t.c.Commitment == head.commitment)
                                  ).mappings().first()
        if commitment is None:
            raise Refused(NOT_FOUND)
        if commitment["Status"] in ARCHIVED_STATUSES:
            raise Refused(COMMITMENT_ARCHIVED)
        _open_job(conn, commitment["Job"])
        if exists(conn, commitment_co_t, Commitment=head.commitment, CCO=head.cco):
            raise Refused(change_order_exists(head.cco))
        if conn.execute(select(commitment_co_t.c.CCO).where(commitment_co_t.c.CCO == head.cco)).first():
            raise Refused(CCO_EXISTS)

        existing = {r["Item"]: r for r in conn.execute(select(commitment_item_t).where(
            commitment_item_t.c.Commitment == head.commitment)).mappings()}
        added = {r.item: r for r in new_items}
        for co in co_items:
            if co.item not in existing and co.item not in added:
                raise Refused(NOT_FOUND)
        if len(added) != len(new_items) or any(item in existing for item in added):
            raise Refused(ITEM_EXISTS)
        codings = {}
        for co in co_items:
            if co.item in added:
                r = added[co.item]
                codings[co.item] = (r.job, r.extra or "", r.cost_code, r.category, r.description or "")
            else:
                r = existing[co.item]
                codings[co.item] = (r["Job"], r["Extra"], r["Cost_Code"], r["Category"], r["Description"])
        for item in new_items:
            _check_coding(conn, item.job, item.extra, item.cost_code, item.category)
        for job, extra, cost_code, category, _ in codings.values():
            _check_coding(conn, job, extra, cost_code, category)

        _add_commitment_items(conn, new_items)
        conn.execute(insert(commitment_co_t).values(Commitment=head.commitment, CCO=head.cco,
                                                    Description=head.description or "", Date=head.date,
                                                    Status=head.status))
        conn.execute(insert(commitment_co_item_t), [dict(
            Commitment=co.commitment, CCO=co.cco, Item=co.item, Description=co.description or "",
            Units=dec(co.units), Unit_Cost=dec(co.unit_cost), Amount=Decimal(co.amount)) for co in co_items])
        change = sum((Decimal(co.amount) for co in co_items), Decimal(0)) + \
            sum((Decimal(i.amount) for i in new_items), Decimal(0))
        # the approved amount the AP invoice check compares with includes approved changes
        conn.execute(update(commitment_t).where(commitment_t.c.Commitment == head.commitment)
                     .values(Amount=commitment_t.c.Amount + change))
        rows = [_item_transaction(i, COMMITTED_COST, head.date, i.description, i.amount, batch.batch_id, now)
                for i in new_items if Decimal(i.amount) != 0]
        for co in co_items:
            job, extra, cost_code, category, item_description = codings[co.item]
            rows.append(dict(
                Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                Transaction_Type=APPROVED_COMMITMENT_CHANGE, Date=head.date,
                Description=co.description or head.description or item_description, Amount=Decimal(co.amount),
                Commitment=head.commitment, Commitment_Item=co.item, Commitment_CO=head.cco,
                Posted=False,  # new.jct: the guide's CCO transactions update totals when posted
                Batch_ID=batch.batch_id, Created_At=now))
        _insert_transactions(conn, rows)
        return f"{head.commitment}/{head.cco}"

    def _import_budget(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        txns = _transactions(batch, BUDGET_TYPES)
        _check_transactions(conn, txns)
        seen = set()
        for t in txns:
            if t.transaction_type != ORIGINAL_ESTIMATE:
                continue
            key = (t.job, t.extra or "", t.cost_code, t.category)
            if key in seen or conn.execute(select(transaction_t.c.Transaction_ID).where(
                    transaction_t.c.Job == key[0], transaction_t.c.Extra == key[1],
                    transaction_t.c.Cost_Code == key[2], transaction_t.c.Category == key[3],
                    transaction_t.c.Transaction_Type == ORIGINAL_ESTIMATE)).first():
                raise Refused(estimate_exists(t.cost_code, t.category))
            seen.add(key)
        _insert_transactions(conn, [_transaction_row(t, False, batch.batch_id, now) for t in txns])
        return f"{txns[0].job}: {len(txns)} transactions"

    def _import_budget_change(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        txns = _transactions(batch, BUDGET_CHANGE_TYPES)
        _check_transactions(conn, txns)
        _insert_transactions(conn, [_transaction_row(t, False, batch.batch_id, now) for t in txns])
        return f"{txns[0].job}: {len(txns)} transactions"

    def _import_pcco(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        records = batch.records
        split = next((n for n, r in enumerate(records) if not isinstance(r, CNContractItem)), len(records))
        new_items, txns = records[:split], records[split:]
        if not all(isinstance(r, JCTransaction) for r in txns):
            raise ValueError("a jc_pcco batch holds its new CNContractItems, then JCTransactions")
        txns = _transactions(Batch(batch.batch_id, batch.kind, tuple(txns)), PCCO_TYPES)
        estimates = [t for t in txns if t.transaction_type == APPROVED_ESTIMATE_CHANGE]
        changes = [t for t in txns if t.transaction_type == SCHEDULE_VALUE_CHANGE]
        contracts = {r.contract for r in new_items} | {t.contract for t in changes}
        if len(contracts) > 1:
            raise ValueError("a jc_pcco batch is on one contract")

        for t in estimates:
            check_fields(t, JCTransaction.PCCO_FIELDS)
        for t in changes:
            check_fields(t, JCTransaction.SCHEDULE_CHANGE_FIELDS)
        for r in new_items:
            check_fields(r)
        job = txns[0].job
        _open_job(conn, job)
        for contract in contracts:
            if not exists(conn, contract_t, Contract=contract):
                raise Refused(NOT_FOUND)
        for t in estimates:
            _check_coding(conn, t.job, t.extra, t.cost_code, t.category)
        contract = next(iter(contracts), "")
        on_contract = {r["Item"] for r in conn.execute(select(contract_item_t.c.Item).where(
            contract_item_t.c.Contract == contract)).mappings()}
        added = {r.item for r in new_items}
        if len(added) != len(new_items) or added & on_contract:
            raise Refused(ITEM_EXISTS)
        if any(t.contract_item not in on_contract | added for t in changes):
            raise Refused(NOT_FOUND)

        if new_items:
            conn.execute(insert(contract_item_t), [dict(
                Contract=r.contract, Item=r.item, Description=r.description or "", Original_Amount=Decimal(0),
                Approved_Changes=Decimal(0)) for r in new_items])
        for t in changes:
            conn.execute(update(contract_item_t).where(
                contract_item_t.c.Contract == t.contract, contract_item_t.c.Item == t.contract_item,
            ).values(Approved_Changes=contract_item_t.c.Approved_Changes + Decimal(t.amount)))
        # schedule value changes: "the Sage 300 CRE API will attempt to post these entries automatically"
        _insert_transactions(conn, [_transaction_row(t, t.transaction_type == SCHEDULE_VALUE_CHANGE,
                                                     batch.batch_id, now) for t in txns])
        return f"{job}/{txns[0].ref_1}"

    def _import_ar_invoice(self, conn, batch: Batch, settings: dict, now: datetime) -> str:
        inv = _single(batch, ARInvoice, (ARDistribution,))
        dists = list(batch.records[1:])
        if any((d.invoice, d.contract) != (inv.invoice, inv.contract) for d in dists):
            raise ValueError("an ar_invoice batch's distributions are on its invoice and contract")
        check_fields(inv)
        for d in dists:
            check_fields(d)

        if not exists(conn, customer_t, Customer=inv.customer):
            raise Refused(NOT_FOUND)
        if not exists(conn, contract_t, Contract=inv.contract):
            raise Refused(NOT_FOUND)
        if not dists:
            raise Refused(NO_DISTRIBUTIONS)
        for d in dists:
            if not exists(conn, contract_item_t, Contract=d.contract, Item=d.contract_item):
                raise Refused(NOT_FOUND)
        if exists(conn, ar_invoice_t, Invoice=inv.invoice):
            raise Refused(AR_DUPLICATE)
        if f"{inv.accounting_date:%Y-%m}" in settings["closed_periods"]:
            raise Refused(period_closed(inv.accounting_date))

        conn.execute(insert(ar_invoice_t).values(
            Invoice=inv.invoice, Customer=inv.customer, Contract=inv.contract, Job=inv.job or "",
            Description=inv.description or "", Invoice_Date=inv.invoice_date, Accounting_Date=inv.accounting_date,
            Amount=inv.amount, Retainage=inv.retainage, Batch_ID=batch.batch_id, Created_At=now))
        conn.execute(insert(ar_distribution_t), [dict(
            Invoice=inv.invoice, Distribution_Seq=n, Contract=d.contract, Contract_Item=d.contract_item,
            Description=d.description or "", Amount=d.amount, Retainage=d.retainage,
        ) for n, d in enumerate(dists, start=1)])
        return f"{inv.customer}/{inv.invoice}"

    _IMPORTERS = {
        "ap_invoice": _import_invoice,
        "ap_vendor": _import_vendor,
        "jc_job": _import_job,
        "jc_extra": _import_extra,
        "jc_cost_codes": _import_cost_codes,
        "jc_commitment": _import_commitment,
        "jc_commitment_co": _import_cco,
        "jc_budget": _import_budget,
        "jc_budget_change": _import_budget_change,
        "jc_pcco": _import_pcco,
        "ar_invoice": _import_ar_invoice,
    }



def _single(batch: Batch, header_type, other_types: tuple):
    """The batch's one header record (first), checking every other record's type."""
    records = batch.records
    if not records or not isinstance(records[0], header_type) or \
            not all(isinstance(r, other_types) for r in records[1:]):
        names = ", ".join(t.__name__ for t in other_types)
        raise ValueError(f"a {batch.kind} batch holds one {header_type.__name__} first"
                         + (f", then {names} records" if names else ""))
    return records[0]


def _codes_of(batch: Batch, job: str, extra: str) -> tuple[list, list]:
    """The batch's cost codes and categories, which must all be on this job and extra."""
    codes = [r for r in batch.records if isinstance(r, JCCostCode)]
    categories = [r for r in batch.records if isinstance(r, JCCategory)]
    for r in codes + categories:
        if r.job != job or (r.extra or "") != extra:
            raise ValueError(f"a {batch.kind} batch's cost codes and categories are all on "
                             f"job {job!r}, extra {extra!r}")
    return codes, categories



def _check_codes(codes, categories) -> None:
    for record in codes:
        check_fields(record)
    for record in categories:
        check_fields(record)


def _open_job(conn, job: str) -> None:
    row = conn.execute(select(job_t.c.Status).where(job_t.c.Job == job)).first()
    if row is None:
        raise Refused(NOT_FOUND)
    if row.Status == "Closed":
        raise Refused(JOB_CLOSED)


def _check_category_codes(conn, codes, categories) -> None:
    """Each category's cost code must come in the batch or already be in Sage (checked before
    anything is inserted: a refusal creates nothing)."""
    in_batch = {(r.job, r.extra or "", r.cost_code) for r in codes}
    for r in categories:
        key = (r.job, r.extra or "", r.cost_code)
        if key not in in_batch and not exists(conn, cost_code_t, Job=key[0], Extra=key[1], Cost_Code=key[2]):
            raise Refused(NOT_FOUND)


def _add_codes(conn, codes, categories) -> int:
    """Insert the cost codes and categories not there yet; those that exist (or repeat in the
    batch) are left as they are. Returns how many rows were added (cost codes + categories)."""
    added = 0
    for r in codes:
        key = dict(Job=r.job, Extra=r.extra or "", Cost_Code=r.cost_code)
        if not exists(conn, cost_code_t, **key):
            conn.execute(insert(cost_code_t).values(**key, Description=r.description or ""))
            added += 1
    for r in categories:
        key = dict(Job=r.job, Extra=r.extra or "", Cost_Code=r.cost_code, Category=r.category)
        if not exists(conn, category_t, **key):
            conn.execute(insert(category_t).values(**key, Description=r.description or ""))
            added += 1
    return added


# ---- financial kinds' helpers -------------------------------------------------------------

def _check_coding(conn, job: str, extra: str, cost_code: str, category: str) -> None:
    """The job is there and open, the extra (when given) not closed, the category on the job's (or
    extra's) cost code."""
    _open_job(conn, job)
    if extra:
        row = conn.execute(select(extra_t.c.Status).where(extra_t.c.Job == job, extra_t.c.Extra == extra)).first()
        if row is not None and row.Status == "Closed":
            raise Refused(JOB_CLOSED)
    if not exists(conn, category_t, Job=job, Extra=extra or "", Cost_Code=cost_code, Category=category):
        raise Refused(NO_CATEGORY)


def _transactions(batch: Batch, types: tuple) -> list:
    """The batch's JC transactions: at least one, all JCTransaction of these types, on one job."""
    txns = list(batch.records)
    if not txns or not all(isinstance(t, JCTransaction) for t in txns) or \
            any(t.transaction_type not in types for t in txns) or len({t.job for t in txns}) != 1:
        raise ValueError(f"a {batch.kind} batch holds JCTransactions ({', '.join(types)}), at least one, "
                         "all on one job")
    return txns


def _check_transactions(conn, txns) -> None:
    for t in txns:
        check_fields(t)
    _open_job(conn, txns[0].job)
    for t in txns:
        _check_coding(conn, t.job, t.extra, t.cost_code, t.category)


def _transaction_row(t: JCTransaction, posted: bool, batch_id: str, now: datetime) -> dict:
    return dict(Job=t.job, Extra=t.extra or "", Cost_Code=t.cost_code or "", Category=t.category or "",
                Transaction_Type=t.transaction_type, Date=t.date, Description=t.description or "",
                Amount=Decimal(t.amount), Ref_1=t.ref_1 or "", Ref_2=t.ref_2 or "", Commitment="",
                Commitment_Item="", Commitment_CO="", Contract=t.contract or "",
                Contract_Item=t.contract_item or "", Posted=posted, Batch_ID=batch_id, Created_At=now)


def _item_transaction(item: JCCommitmentItem, transaction_type: str, on: date, description: str, amount,
                      batch_id: str, now: datetime) -> dict:
    """A posted commitment transaction for a commitment item."""
    return dict(Job=item.job, Extra=item.extra or "", Cost_Code=item.cost_code, Category=item.category,
                Transaction_Type=transaction_type, Date=on, Description=description or "",
                Amount=Decimal(amount), Commitment=item.commitment, Commitment_Item=item.item,
                Commitment_CO="", Posted=True, Batch_ID=batch_id, Created_At=now)


def _insert_transactions(conn, rows: list) -> None:
    for row in rows:  # one at a time: Transaction_ID follows the batch's order
        conn.execute(insert(transaction_t).values(**row))


def _add_commitment_items(conn, items) -> None:
    for i in items:
        conn.execute(insert(commitment_item_t).values(
            Commitment=i.commitment, Item=i.item, Description=i.description or "", Job=i.job, Extra=i.extra or "",
            Cost_Code=i.cost_code, Category=i.category, Units=dec(i.units), Unit_Cost=dec(i.unit_cost),
            Unit_Description=i.unit_description or "", Amount=Decimal(i.amount)))
