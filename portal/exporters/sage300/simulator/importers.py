"""Importing a batch: submit (idempotent per batch_id, hourly limit, one transaction, drop
file) and one importer per batch kind. Each importer checks the batch as Sage would and
either inserts its records or raises Refused with Sage's text (nothing is inserted).

A batch is checked in one pass per table: the rows it refers to (jobs, extras, categories,
commitments with what is invoiced on them, ...) are read with one query per table, then the
checks run in Python in Sage's order, so the first refusal is the one Sage would give.
A batch of a kind with no importer here goes to the generic importer (generic.py).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    String,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..dropfolder import write_import_file
from ..fileformat import encoding_problem, import_file
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
    is_generic,
)
from .generic import GenericMixin
from .import_helpers import (
    Coded,
    _add_codes,
    _add_commitment_items,
    _check_category_codes,
    _check_codes,
    _check_invoiced_units,
    _check_transactions,
    _check_units,
    _coded,
    _codes_of,
    _insert_transactions,
    _item_transaction,
    _row,
    _single,
    _transaction_row,
    _transactions,
)
from .lookups import (
    CONTRACT_ITEMS,
    ESTIMATES,
    Codings,
    open_job,
)
from .rules import (
    AR_DUPLICATE,
    AR_FAILED,
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
    VOID,
    Refused,
    change_order_exists,
    check_fields,
    commitment_exists,
    date_required,
    dec,
    duplicate_invoice,
    estimate_exists,
    over_tolerance,
    period_closed,
)
from .schema import (
    ar_distribution_t,
    ar_invoice_t,
    commitment_co_item_t,
    commitment_co_t,
    commitment_item_t,
    commitment_t,
    contract_item_t,
    contract_t,
    customer_t,
    distribution_t,
    extra_t,
    import_log_t,
    invoice_t,
    job_t,
    naive_utc,
    request_log_t,
    setting_t,
    vendor_t,
)

Importer = Callable[..., str]

# The hot path's statements, built once (building and hashing a statement costs more than
# running it on SQLite; see lookups.py).
LOG_AND_SETTINGS = union_all(
    select(literal("log"), import_log_t.c.Kind, import_log_t.c.Message, import_log_t.c.Ok, import_log_t.c.Reference)
    .where(import_log_t.c.Batch_ID == bindparam("batch_id")),
    select(literal("setting"), setting_t.c.Key, setting_t.c.Value, cast(null(), Boolean), cast(null(), String)))
VENDOR_STATUS = select(vendor_t.c.Status).where(vendor_t.c.Vendor == bindparam("vendor")).scalar_subquery()
# an AP invoice's vendor status (None: no such vendor) and whether the vendor has the invoice already
AP_HEADER = select(VENDOR_STATUS, exists().where(invoice_t.c.Vendor == bindparam("vendor"),
                                                 invoice_t.c.Invoice == bindparam("invoice")))
# the commitments an invoice distributes to, with their approved amount and what is invoiced on them
COMMITMENTS_INVOICED = select(
    commitment_t.c.Commitment, commitment_t.c.Amount,
    select(func.coalesce(func.sum(distribution_t.c.Amount), 0))
    .select_from(distribution_t.join(invoice_t, (invoice_t.c.Vendor == distribution_t.c.Vendor)
                                     & (invoice_t.c.Invoice == distribution_t.c.Invoice)))
    .where(distribution_t.c.Commitment == commitment_t.c.Commitment, invoice_t.c.Status != VOID)
    .scalar_subquery().label("Invoiced"),  # a void invoice no longer counts against the commitment
).where(commitment_t.c.Commitment.in_(bindparam("commitments", expanding=True)))
COMMITMENT_HEADER = select(VENDOR_STATUS, exists().where(commitment_t.c.Commitment == bindparam("commitment")))
AR_HEADER = select(exists().where(customer_t.c.Customer == bindparam("customer")),
                   exists().where(contract_t.c.Contract == bindparam("contract")),
                   exists().where(ar_invoice_t.c.Invoice == bindparam("invoice")))


class ImportersMixin(GenericMixin):
    """submit(batch) and the importers of every batch kind."""

    # ---- submit ------------------------------------------------------------------

    def submit(self, batch: Batch) -> SageResult:
        """Import one batch, all or nothing; a batch_id seen before replays its stored result.

        A Sage refusal is a SageResult(ok=False, message=Sage's text), logged like a success;
        a malformed batch (wrong records for its kind) is a ValueError and imports nothing.
        A kind with no importer of its own is imported generically when its records declare
        SAGE_FIELDS and SAGE_KEY (records.GenericRecord), else it is a ValueError."""
        importer = self._importer(batch)
        try:
            with self._transaction() as conn:
                # the lock (PostgreSQL; SQLite: BEGIN IMMEDIATE) comes before any read: every
                # check below sees what the batches before this one committed
                self._serialise(conn)
                logged, settings = self._log_and_settings(conn, batch.batch_id, batch.kind)
                if logged:
                    return logged
                now = naive_utc(self.clock())
                if settings["hourly_limit"] > 0:
                    used = conn.scalar(select(func.count()).select_from(request_log_t)
                                       .where(request_log_t.c.Requested_At > now - self.rate_window))
                    conn.execute(insert(request_log_t), dict(Batch_ID=batch.batch_id, Requested_At=now))
                    if used >= settings["hourly_limit"]:
                        # not logged as the batch's result: the limit resets, the batch must then go through
                        return SageResult(ok=False, message=RATE_LIMITED, transient=True)
                result, file_text = self._import(importer, conn, batch, settings, now)
                conn.execute(insert(import_log_t), dict(
                    Batch_ID=batch.batch_id, Kind=batch.kind, Ok=result.ok, Message=result.message,
                    Reference=result.reference, Created_At=now))
                if result.ok and self.drop_folder:
                    # before commit: if the commit fails, the retry rewrites the same file
                    # a copy for people to read: the simulator's committed tables are what Sage
                    # holds, so the copy is not flushed to disk on every import
                    write_import_file(self.drop_folder, batch.batch_id, file_text or import_file(batch), durable=False)
                return result
        except IntegrityError:
            # the import log's primary key decided a race: return the winner's result
            with self.engine.connect() as conn:
                logged = self._logged(conn, batch.batch_id, batch.kind)
            if logged:
                return logged
            raise

    def _importer(self, batch: Batch) -> Importer:
        """The batch kind's importer (a kind with none: the generic one); ValueError if neither fits."""
        importer: Importer | None = IMPORTERS.get(batch.kind)
        if importer is None:
            if not batch.records or not all(is_generic(r) for r in batch.records):
                raise ValueError(f"unknown batch kind {batch.kind!r}")
            importer = type(self)._import_generic
        return importer

    def _import(self, importer: Importer, conn: Connection, batch: Batch, settings: dict,
                now: datetime) -> tuple[SageResult, str | None]:
        """Sage's checks of one batch and, when they pass, its records inserted: the result and
        the import file's text. What submit and the dry run (dryrun.py) both run."""
        # Sage reads its import files as Windows-1252: what they cannot carry is refused
        try:
            file_text: str | None = import_file(batch)
        except ValueError:
            file_text = None  # a malformed batch: its importer says what is wrong
        try:
            unwritable = encoding_problem(file_text) if file_text is not None else None
            if unwritable:
                raise Refused(unwritable)
            return SageResult(ok=True, reference=importer(self, conn, batch, settings, now)), file_text
        except Refused as refusal:
            return SageResult(ok=False, message=str(refusal)), file_text

    def _log_and_settings(self, conn: Connection, batch_id: str, kind: str) -> tuple[SageResult | None, dict]:
        """The batch's logged result (None: not imported yet) and the settings, in one statement."""
        logged, values = None, {}
        for what, key, value, ok, reference in conn.execute(LOG_AND_SETTINGS, {"batch_id": batch_id}):
            if what == "setting":
                values[key] = value
            else:
                logged = _replayed(batch_id, kind, key, ok, value, reference)
        return logged, self._decoded(values)

    def _logged(self, conn: Connection, batch_id: str, kind: str) -> SageResult | None:
        row = conn.execute(select(import_log_t).where(import_log_t.c.Batch_ID == batch_id)).mappings().first()
        if row is None:
            return None
        return _replayed(batch_id, kind, row["Kind"], row["Ok"], row["Message"], row["Reference"])

    # ---- AP invoice --------------------------------------------------------------

    def _import_invoice(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        headers = [r for r in batch.records if isinstance(r, APInvoice)]
        dists = [r for r in batch.records if isinstance(r, APDistribution)]
        if len(headers) != 1 or len(headers) + len(dists) != len(batch.records):
            raise ValueError("an ap_invoice batch holds one APInvoice and APDistribution records")
        inv = headers[0]
        for record in [inv, *dists]:
            check_fields(record)

        vendor, duplicate = conn.execute(AP_HEADER, {"vendor": inv.vendor, "invoice": inv.invoice}).one()
        if vendor is None:
            raise Refused(NOT_FOUND)
        if vendor != "Active":
            raise Refused(VENDOR_INACTIVE)
        if not dists:
            raise Refused(NO_DISTRIBUTIONS)
        for name, setting in (("Date Received", "date_received_usage"), ("Payment Date", "payment_date_usage")):
            if settings[setting] == "Required":
                raise Refused(date_required(name))

        codings = Codings(conn).load((d.job, d.extra, d.cost_code, d.category) for d in dists)
        for d in dists:
            codings.open_job(d.job)
            if not codings.has_category(d.job, d.extra, d.cost_code, d.category):
                raise Refused(NO_CATEGORY)
        if duplicate:
            raise Refused(duplicate_invoice(inv.invoice))
        if f"{inv.accounting_date:%Y-%m}" in settings["closed_periods"]:
            raise Refused(period_closed(inv.accounting_date))

        this_batch: dict[str, Decimal] = defaultdict(Decimal)
        for d in dists:
            if d.commitment:
                this_batch[d.commitment] += Decimal(d.amount)
        if this_batch:
            approved = {r.Commitment: (r.Amount, Decimal(r.Invoiced)) for r in conn.execute(
                COMMITMENTS_INVOICED, {"commitments": sorted(this_batch)})}
            factor = 1 + settings["tolerance_pct"] / 100
            for commitment, amount in this_batch.items():
                if commitment not in approved:
                    raise Refused(NOT_FOUND)
                limit, already = approved[commitment]
                if already + amount > limit * factor:
                    raise Refused(over_tolerance(commitment))

        _check_invoiced_units(conn, dists)

        conn.execute(insert(invoice_t), dict(
            Vendor=inv.vendor, Invoice=inv.invoice, Description=inv.description or "",
            Invoice_Date=inv.invoice_date, Accounting_Date=inv.accounting_date,
            Amount=inv.amount, Retainage=inv.retainage, Batch_ID=batch.batch_id, Created_At=now, Hold=inv.hold))
        conn.execute(insert(distribution_t), [dict(
            Vendor=inv.vendor, Invoice=inv.invoice, Distribution_Seq=n, Commitment=d.commitment or "",
            Commitment_Item=d.commitment_item or "", Job=d.job, Extra=d.extra or "", Cost_Code=d.cost_code,
            Category=d.category, Description=d.description or "", Amount=d.amount, Retainage=d.retainage,
            Units=dec(d.units)) for n, d in enumerate(dists, start=1)])
        return f"{inv.vendor}/{inv.invoice}"

    # ---- setup kinds -------------------------------------------------------------

    def _import_vendor(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        vendor = _single(batch, APVendor, ())
        check_fields(vendor)
        if conn.execute(select(vendor_t.c.Vendor).where(vendor_t.c.Vendor == vendor.vendor)).first():
            raise Refused(VENDOR_EXISTS)
        # Vendor_Type is carried by the import file only (no column in the simulator's table)
        conn.execute(insert(vendor_t), dict(
            Vendor=vendor.vendor, Name=vendor.name, Address_1=vendor.address_1 or "", Address_2="",
            City=vendor.city or "", State=vendor.state or "", ZIP=vendor.zip or "",
            Telephone=vendor.telephone or "", Fax=vendor.fax or "", Status="Active"))
        return vendor.vendor

    def _import_job(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        job = _single(batch, JCJob, (JCCostCode, JCCategory))
        codes, categories = _codes_of(batch, job.job, "")
        check_fields(job)
        _check_codes(codes, categories)
        if conn.execute(select(job_t.c.Job).where(job_t.c.Job == job.job)).first():
            raise Refused(JOB_EXISTS)
        # a job not in Sage has no cost codes or categories there (their foreign keys)
        there = Coded(set(), set())
        _check_category_codes(codes, categories, there)
        conn.execute(insert(job_t), dict(
            Job=job.job, Description=job.description, Address_1=job.address_1 or "", Address_2="",
            City=job.city or "", State=job.state or "", ZIP=job.zip or "", Status="Open"))
        _add_codes(conn, codes, categories, there)
        return job.job

    def _import_extra(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        extra = _single(batch, JCExtra, (JCCostCode, JCCategory))
        codes, categories = _codes_of(batch, extra.job, extra.extra)
        check_fields(extra)
        _check_codes(codes, categories)
        open_job(conn, extra.job)
        if conn.execute(select(extra_t.c.Extra).where(extra_t.c.Job == extra.job,
                                                      extra_t.c.Extra == extra.extra)).first():
            raise Refused(EXTRA_EXISTS)
        there = _coded(conn, codes, categories)
        _check_category_codes(codes, categories, there)
        conn.execute(insert(extra_t), dict(Job=extra.job, Extra=extra.extra,
                                            Description=extra.description or "", Status="Open"))
        _add_codes(conn, codes, categories, there)
        return f"{extra.job}/{extra.extra}"

    def _import_cost_codes(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        if not batch.records or not all(isinstance(r, (JCCostCode, JCCategory)) for r in batch.records):
            raise ValueError("a jc_cost_codes batch holds JCCostCode and JCCategory records, at least one")
        first = batch.records[0]
        codes, categories = _codes_of(batch, first.job, first.extra or "")
        _check_codes(codes, categories)
        open_job(conn, first.job)
        if first.extra:
            extra = conn.execute(select(extra_t.c.Status).where(extra_t.c.Job == first.job,
                                                                extra_t.c.Extra == first.extra)).first()
            if extra is None:
                raise Refused(NOT_FOUND)
            if extra.Status == "Closed":
                raise Refused(JOB_CLOSED)
        there = _coded(conn, codes, categories)
        _check_category_codes(codes, categories, there)
        return f"{_add_codes(conn, codes, categories, there)} added"

    # ---- commitments and their change orders ---------------------------------------

    def _import_commitment(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        head = _single(batch, JCCommitment, (JCCommitmentItem,))
        items = list(batch.records[1:])
        if not items or any(i.commitment != head.commitment for i in items):
            raise ValueError("a jc_commitment batch holds its JCCommitment, then its JCCommitmentItems "
                             "(at least one, all on that commitment)")
        for record in [head, *items]:
            check_fields(record)

        vendor, taken = conn.execute(COMMITMENT_HEADER, {"vendor": head.vendor, "commitment": head.commitment}).one()
        if vendor is None:
            raise Refused(NOT_FOUND)
        if vendor != "Active":
            raise Refused(VENDOR_INACTIVE)
        codings = Codings(conn).load(((i.job, i.extra, i.cost_code, i.category) for i in items), jobs=[head.job])
        codings.open_job(head.job)
        for item in items:
            codings.check(item.job, item.extra, item.cost_code, item.category)
        if taken:
            raise Refused(commitment_exists(head.commitment))
        if len({i.item for i in items}) != len(items):
            raise Refused(ITEM_EXISTS)
        _check_units(items)

        # Date and Retainage % travel in the import file only (no columns on the existing table)
        conn.execute(insert(commitment_t), dict(
            Commitment=head.commitment, Vendor=head.vendor, Job=head.job, Description=head.description or "",
            Commitment_Type=head.commitment_type or "Subcontract",
            Amount=sum((Decimal(i.amount) for i in items), Decimal(0)), Status="Open"))
        _add_commitment_items(conn, items)
        # posted automatically during the transmission (release note, 07/10/2024)
        _insert_transactions(conn, [_item_transaction(i, COMMITTED_COST, head.date, i.description, i.amount,
                                                      batch.batch_id, now) for i in items])
        return head.commitment

    def _import_commitment_items(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        """New items on an existing commitment: a CCO's new line, the first of its 2 imports. An
        item already there with the same coding and description is left as it is (a retry of a
        CCO whose first import went through); another item of that number is refused."""
        items = list(batch.records)
        if not items or not all(isinstance(r, JCCommitmentItem) for r in items) or \
                len({r.commitment for r in items}) != 1:
            raise ValueError("a jc_commitment_item batch holds JCCommitmentItems (at least one), all on one commitment")
        for record in items:
            check_fields(record)
        commitment = items[0].commitment
        row = self._commitment_row(conn, commitment)
        codings = Codings(conn)
        codings.known_job(row.Job, row.Job_Status)
        codings.load((i.job, i.extra, i.cost_code, i.category) for i in items)
        for i in items:
            codings.check(i.job, i.extra, i.cost_code, i.category)
        existing = {r["Item"]: r for r in conn.execute(select(commitment_item_t).where(
            commitment_item_t.c.Commitment == commitment)).mappings()}
        if len({i.item for i in items}) != len(items):
            raise Refused(ITEM_EXISTS)
        new = []
        for i in items:
            there = existing.get(i.item)
            if there is None:
                new.append(i)
            elif (there["Job"], there["Extra"], there["Cost_Code"], there["Category"], there["Description"]) != \
                    (i.job, i.extra or "", i.cost_code, i.category, i.description or ""):
                raise Refused(ITEM_EXISTS)
        _check_units(new)
        _add_commitment_items(conn, new)
        return f"{commitment}: {len(new)} added"

    def _commitment_row(self, conn: Connection, commitment: str):
        """The commitment with its job's status; Refused when it is not in Sage or archived."""
        row = conn.execute(select(commitment_t.c.Job, commitment_t.c.Status, job_t.c.Status.label("Job_Status"))
                           .select_from(commitment_t.outerjoin(job_t, job_t.c.Job == commitment_t.c.Job))
                           .where(commitment_t.c.Commitment == commitment)).first()
        if row is None:
            raise Refused(NOT_FOUND)
        if row.Status in ARCHIVED_STATUSES:
            raise Refused(COMMITMENT_ARCHIVED)
        return row

    def _import_cco(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
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
        for record in [head, *new_items, *co_items]:
            check_fields(record)

        # the commitment with its job's status, and the commitments already having this CO ID
        row = self._commitment_row(conn, head.commitment)
        codings = Codings(conn)
        codings.known_job(row.Job, row.Job_Status)
        codings.open_job(row.Job)
        on = set(conn.scalars(select(commitment_co_t.c.Commitment).where(commitment_co_t.c.CCO == head.cco)))
        if head.commitment in on:
            raise Refused(change_order_exists(head.cco))
        if on:
            raise Refused(CCO_EXISTS)

        existing = {r["Item"]: r for r in conn.execute(select(commitment_item_t).where(
            commitment_item_t.c.Commitment == head.commitment)).mappings()}
        added = {r.item: r for r in new_items}
        for co in co_items:
            if co.item not in existing and co.item not in added:
                raise Refused(NOT_FOUND)
        if len(added) != len(new_items) or any(item in existing for item in added):
            raise Refused(ITEM_EXISTS)
        codes = {}
        for co in co_items:
            if co.item in added:
                r = added[co.item]
                codes[co.item] = (r.job, r.extra or "", r.cost_code, r.category, r.description or "")
            else:
                e = existing[co.item]
                codes[co.item] = (e["Job"], e["Extra"], e["Cost_Code"], e["Category"], e["Description"])
        checked = [(i.job, i.extra, i.cost_code, i.category) for i in new_items] + [c[:4] for c in codes.values()]
        codings.load(checked)
        for coding in checked:
            codings.check(*coding)
        _check_units([*new_items, *co_items])

        _add_commitment_items(conn, new_items)
        conn.execute(insert(commitment_co_t), dict(Commitment=head.commitment, CCO=head.cco,
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
            job, extra, cost_code, category, item_description = codes[co.item]
            rows.append(_row(
                Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                Transaction_Type=APPROVED_COMMITMENT_CHANGE, Date=head.date,
                Description=co.description or head.description or item_description, Amount=Decimal(co.amount),
                Commitment=head.commitment, Commitment_Item=co.item, Commitment_CO=head.cco,
                Posted=False,  # new.jct: the guide's CCO transactions update totals when posted
                Batch_ID=batch.batch_id, Created_At=now))
        _insert_transactions(conn, rows)
        return f"{head.commitment}/{head.cco}"

    # ---- budgets, budget changes, prime contract change orders ---------------------

    def _import_budget(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        txns = _transactions(batch, BUDGET_TYPES)
        _check_transactions(conn, txns)
        estimates = [(t.job, t.extra or "", t.cost_code, t.category) for t in txns
                     if t.transaction_type == ORIGINAL_ESTIMATE]
        there = ESTIMATES(conn, estimates)
        seen: set[tuple] = set()
        for key in estimates:
            if key in seen or key in there:
                raise Refused(estimate_exists(key[2], key[3]))
            seen.add(key)
        _insert_transactions(conn, [_transaction_row(t, False, batch.batch_id, now) for t in txns])
        return f"{txns[0].job}: {len(txns)} transactions"

    def _import_budget_change(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        txns = _transactions(batch, BUDGET_CHANGE_TYPES)
        _check_transactions(conn, txns)
        _insert_transactions(conn, [_transaction_row(t, False, batch.batch_id, now) for t in txns])
        return f"{txns[0].job}: {len(txns)} transactions"

    def _import_pcco(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        records = batch.records
        split = next((n for n, r in enumerate(records) if not isinstance(r, CNContractItem)), len(records))
        new_items, rest = records[:split], records[split:]
        if not all(isinstance(r, JCTransaction) for r in rest):
            raise ValueError("a jc_pcco batch holds its new CNContractItems, then JCTransactions")
        txns = _transactions(Batch(batch.batch_id, batch.kind, tuple(rest)), PCCO_TYPES)
        estimates = [t for t in txns if t.transaction_type == APPROVED_ESTIMATE_CHANGE]
        changes = [t for t in txns if t.transaction_type == SCHEDULE_VALUE_CHANGE]
        # several contracts: a prime contract may hold several Sage contracts of the job
        contracts = {r.contract for r in new_items} | {t.contract for t in changes}

        for t in estimates:
            check_fields(t, JCTransaction.PCCO_FIELDS)
        for t in changes:
            check_fields(t, JCTransaction.SCHEDULE_CHANGE_FIELDS)
        for r in new_items:
            check_fields(r)
        job = txns[0].job
        codings = Codings(conn).load(((t.job, t.extra, t.cost_code, t.category) for t in estimates), jobs=[job])
        codings.open_job(job)
        if len(set(conn.scalars(select(contract_t.c.Contract).where(contract_t.c.Contract.in_(sorted(contracts)))))) \
                != len(contracts):
            raise Refused(NOT_FOUND)
        for t in estimates:
            codings.check(t.job, t.extra, t.cost_code, t.category)
        on_contract = {(r.Contract, r.Item) for r in conn.execute(
            select(contract_item_t.c.Contract, contract_item_t.c.Item)
            .where(contract_item_t.c.Contract.in_(sorted(contracts))))}
        added = {(r.contract, r.item) for r in new_items}
        if len(added) != len(new_items) or added & on_contract:
            raise Refused(ITEM_EXISTS)
        if any((t.contract, t.contract_item) not in on_contract | added for t in changes):
            raise Refused(NOT_FOUND)

        if new_items:
            conn.execute(insert(contract_item_t), [dict(
                Contract=r.contract, Item=r.item, Description=r.description or "", Original_Amount=Decimal(0),
                Approved_Changes=Decimal(0)) for r in new_items])
        if changes:
            conn.execute(update(contract_item_t).where(
                contract_item_t.c.Contract == bindparam("b_contract"), contract_item_t.c.Item == bindparam("b_item"),
            ).values(Approved_Changes=contract_item_t.c.Approved_Changes + bindparam("b_amount")),
                [dict(b_contract=t.contract, b_item=t.contract_item, b_amount=Decimal(t.amount)) for t in changes])
        # schedule value changes: "the Sage 300 CRE API will attempt to post these entries automatically"
        _insert_transactions(conn, [_transaction_row(t, t.transaction_type == SCHEDULE_VALUE_CHANGE,
                                                     batch.batch_id, now) for t in txns])
        return f"{job}/{txns[0].ref_1}"

    # ---- AR invoice --------------------------------------------------------------

    def _import_ar_invoice(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        inv = _single(batch, ARInvoice, (ARDistribution,))
        dists = list(batch.records[1:])
        if any((d.invoice, d.contract) != (inv.invoice, inv.contract) for d in dists):
            raise ValueError("an ar_invoice batch's distributions are on its invoice and contract")
        for record in [inv, *dists]:
            check_fields(record)

        customer, contract, duplicate = conn.execute(
            AR_HEADER, {"customer": inv.customer, "contract": inv.contract, "invoice": inv.invoice}).one()
        if not customer or not contract:
            raise Refused(NOT_FOUND)
        if not dists:
            raise Refused(NO_DISTRIBUTIONS)
        for name, setting in (("Date Received", "date_received_usage"), ("Payment Date", "payment_date_usage")):
            if settings[setting] == "Required":
                raise Refused(date_required(name))
        items = CONTRACT_ITEMS(conn, [(d.contract, d.contract_item) for d in dists])
        if any((d.contract, d.contract_item) not in items for d in dists):
            raise Refused(NOT_FOUND)
        if duplicate:
            raise Refused(AR_DUPLICATE)
        if f"{inv.accounting_date:%Y-%m}" in settings["closed_periods"]:
            raise Refused(period_closed(inv.accounting_date, AR_FAILED))

        conn.execute(insert(ar_invoice_t), dict(
            Invoice=inv.invoice, Customer=inv.customer, Contract=inv.contract, Job=inv.job or "",
            Description=inv.description or "", Invoice_Date=inv.invoice_date, Accounting_Date=inv.accounting_date,
            Amount=inv.amount, Retainage=inv.retainage, Batch_ID=batch.batch_id, Created_At=now))
        conn.execute(insert(ar_distribution_t), [dict(
            Invoice=inv.invoice, Distribution_Seq=n, Contract=d.contract, Contract_Item=d.contract_item,
            Description=d.description or "", Amount=d.amount, Retainage=d.retainage,
        ) for n, d in enumerate(dists, start=1)])
        return f"{inv.customer}/{inv.invoice}"


IMPORTERS: dict[str, Importer] = {
    "ap_invoice": ImportersMixin._import_invoice,
    "ap_vendor": ImportersMixin._import_vendor,
    "jc_job": ImportersMixin._import_job,
    "jc_extra": ImportersMixin._import_extra,
    "jc_cost_codes": ImportersMixin._import_cost_codes,
    "jc_commitment": ImportersMixin._import_commitment,
    "jc_commitment_item": ImportersMixin._import_commitment_items,
    "jc_commitment_co": ImportersMixin._import_cco,
    "jc_budget": ImportersMixin._import_budget,
    "jc_budget_change": ImportersMixin._import_budget_change,
    "jc_pcco": ImportersMixin._import_pcco,
    "ar_invoice": ImportersMixin._import_ar_invoice,
}


def _replayed(batch_id: str, kind: str, logged_kind: str, ok: bool, message: str, reference: str) -> SageResult:
    if logged_kind != kind:
        # batch ids are global: replaying another kind's result would report a wrong import
        raise ValueError(f"batch {batch_id!r} was imported as {logged_kind}, not {kind}")
    return SageResult(ok=bool(ok), message=message, reference=reference, replayed=True)
