"""Reading Sage back: get_*/list_* rows, job_costs and the overview, the import log, and
find_* (what Sage still holds of a portal item: empty means the portal may unlink it).

The readers list_vendors, list_jobs, list_extras, list_standard_cost_codes,
list_standard_categories, list_contracts, list_schedule_values, job_costs and
list_cost_transactions are what the portal's imports read."""
from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import ColumnElement, Table, func, select

from ..mapping import (
    APPROVED_COMMITMENT_CHANGE,
    APPROVED_ESTIMATE_CHANGE,
    COMMITTED_COST,
    ORIGINAL_ESTIMATE,
)
from .rules import (
    AP_COST,
    COST_TRANSACTION_KEYS,
    COST_TYPES,
    JOB_COST_KEYS,
    JOB_COST_TYPES,
    PCCO_TYPES,
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
    extra_t,
    import_log_t,
    invoice_t,
    job_t,
    naive_utc,
    pcco_change_rows,
    schedule_value_t,
    standard_category_t,
    standard_cost_code_t,
    transaction_t,
    vendor_insurance_t,
    vendor_t,
)


def natural(code: str) -> tuple:
    """A sort key putting item "2" before "10" (digit runs compare as numbers)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", code or ""))




class ReadersMixin(SimulatorBase):
    """What the portal (and a test) reads back from Sage."""

    # ---- readers -----------------------------------------------------------------

    def get_invoice(self, vendor: str, invoice: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(invoice_t).where(invoice_t.c.Vendor == vendor,
                                                       invoice_t.c.Invoice == invoice)).mappings().first()
        return dict(row) if row else None

    def list_invoices(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(invoice_t).order_by(invoice_t.c.Created_At, invoice_t.c.Vendor,
                                                           invoice_t.c.Invoice)).mappings().all()
        return [dict(r) for r in rows]

    def list_distributions(self, vendor: str, invoice: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(distribution_t).where(
                distribution_t.c.Vendor == vendor, distribution_t.c.Invoice == invoice,
            ).order_by(distribution_t.c.Distribution_Seq)).mappings().all()
        return [dict(r) for r in rows]

    def count_invoices(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(invoice_t)) or 0

    def _one(self, table, **where) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(*(table.c[k] == v for k, v in where.items()))
                               ).mappings().first()
        return dict(row) if row else None

    def get_vendor(self, vendor: str) -> dict | None:
        """The APM_MASTER__VENDOR row (Vendor, Name, Address_1, ..., Status) or None."""
        return self._one(vendor_t, Vendor=vendor)

    def get_job(self, job: str) -> dict | None:
        """The JCM_MASTER__JOB row (Job, Description, Address_1, ..., Status) or None."""
        return self._one(job_t, Job=job)

    def get_extra(self, job: str, extra: str) -> dict | None:
        """The JCM_MASTER__EXTRA row (Job, Extra, Description, Status) or None."""
        return self._one(extra_t, Job=job, Extra=extra)

    def list_cost_codes(self, job: str, extra: str = "") -> list[dict]:
        """The job's (extra "") or the extra's cost codes, by Cost_Code."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(cost_code_t).where(
                cost_code_t.c.Job == job, cost_code_t.c.Extra == extra,
            ).order_by(cost_code_t.c.Cost_Code)).mappings().all()
        return [dict(r) for r in rows]

    def list_categories(self, job: str, extra: str = "") -> list[dict]:
        """The job's (extra "") or the extra's categories, by Cost_Code then Category."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(category_t).where(
                category_t.c.Job == job, category_t.c.Extra == extra,
            ).order_by(category_t.c.Cost_Code, category_t.c.Category)).mappings().all()
        return [dict(r) for r in rows]

    def _all(self, table, order_by, **where) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).where(*(table.c[k] == v for k, v in where.items()))
                                .order_by(*order_by)).mappings().all()
        return [dict(r) for r in rows]

    def get_commitment(self, commitment: str) -> dict | None:
        """The JCM_MASTER__COMMITMENT row (Commitment, Vendor, Job, Description, Commitment_Type,
        Amount = original + approved changes, Status) or None."""
        return self._one(commitment_t, Commitment=commitment)

    def list_commitment_items(self, commitment: str) -> list[dict]:
        """The commitment's JCM_MASTER__COMMITMENT_ITEM rows, by item number ("2" before "10")."""
        return sorted(self._all(commitment_item_t, (), Commitment=commitment), key=lambda r: natural(r["Item"]))

    def get_cco(self, commitment: str, cco: str) -> dict | None:
        """The JCM_MASTER__COMMITMENT_CO row (Commitment, CCO, Description, Date, Status) or None."""
        return self._one(commitment_co_t, Commitment=commitment, CCO=cco)

    def list_ccos(self, commitment: str) -> list[dict]:
        return self._all(commitment_co_t, (commitment_co_t.c.CCO,), Commitment=commitment)

    def list_cco_items(self, commitment: str, cco: str) -> list[dict]:
        """The change order's JCM_MASTER__COMMITMENT_CO_ITEM rows (Item, Description, Units, Unit_Cost,
        Amount), by item number."""
        return sorted(self._all(commitment_co_item_t, (), Commitment=commitment, CCO=cco),
                      key=lambda r: natural(r["Item"]))

    def list_transactions(self, job: str, type: str | None = None) -> list[dict]:  # noqa: A002
        """The job's JCT_CURRENT__TRANSACTION rows (posted or not), oldest first; only one
        Transaction_Type when type is given."""
        where = {"Job": job} if type is None else {"Job": job, "Transaction_Type": type}
        return self._all(transaction_t, (transaction_t.c.Transaction_ID,), **where)

    def job_cost_summary(self, job: str, posted_only: bool = True) -> dict:
        """{(Extra, Cost_Code, Category): {Transaction_Type: amount}} for the job: the posted
        transactions (current.jct) by default, every one with posted_only=False. Schedule value
        changes have no cost code: they are under ("", "", "")."""
        summary: dict = defaultdict(lambda: defaultdict(Decimal))
        for r in self.list_transactions(job):
            if r["Posted"] or not posted_only:
                summary[(r["Extra"], r["Cost_Code"], r["Category"])][r["Transaction_Type"]] += Decimal(r["Amount"])
        return {key: dict(by_type) for key, by_type in summary.items()}

    # ---- data back from Sage: what the portal's imports read ----------------------

    def list_vendors(self) -> list[dict]:
        """Every APM_MASTER__VENDOR row (any status), by Vendor."""
        return self._all(vendor_t, (vendor_t.c.Vendor,))

    def list_jobs(self) -> list[dict]:
        """Every JCM_MASTER__JOB row (Billing_Method and Billing_Level included), by Job."""
        return self._all(job_t, (job_t.c.Job,))

    def list_extras(self, job: str | None = None) -> list[dict]:
        """JCM_MASTER__EXTRA rows of one job (every job when None), by Job then Extra."""
        where = {} if job is None else {"Job": job}
        return self._all(extra_t, (extra_t.c.Job, extra_t.c.Extra), **where)

    def list_standard_cost_codes(self) -> list[dict]:
        """JCM_MASTER__STANDARD_COST_CODE rows (Cost_Code, Description, Status), by Cost_Code."""
        return self._all(standard_cost_code_t, (standard_cost_code_t.c.Cost_Code,))

    def list_standard_categories(self) -> list[dict]:
        """JCM_MASTER__STANDARD_CATEGORY rows (Category, Description), by Category."""
        return self._all(standard_category_t, (standard_category_t.c.Category,))

    def list_contracts(self, job: str | None = None) -> list[dict]:
        """CN_MASTER__CONTRACT rows of one job (every job when None), by Contract."""
        where = {} if job is None else {"Job": job}
        return self._all(contract_t, (contract_t.c.Contract,), **where)

    def list_schedule_values(self, job: str) -> list[dict]:
        """The Use Quickbill job's JCM_MASTER__SCHEDULE_VALUE rows, by Level_Code."""
        return self._all(schedule_value_t, (schedule_value_t.c.Level_Code,), Job=job)

    def list_cost_transactions(self, job: str) -> list[dict]:
        """The job's posted cost transactions (current.jct, a type in COST_TYPES), by Transaction_ID."""
        columns = [transaction_t.c[name] for name in COST_TRANSACTION_KEYS]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).where(
                transaction_t.c.Job == job, transaction_t.c.Posted == True,  # noqa: E712
                transaction_t.c.Transaction_Type.in_(COST_TYPES),
            ).order_by(transaction_t.c.Transaction_ID)).mappings().all()
        return [dict(r) for r in rows]

    def job_costs(self, job: str) -> list[dict]:
        """Sage's Job Costs of the job per (Extra, Cost_Code, Category), from its posted transactions."""
        # every category of the job (all zeros without transactions) and any coding only posted
        # transactions carry, by Extra, Cost_Code, Category; keys JOB_COST_KEYS
        with self.engine.connect() as conn:
            codes = {(r.Extra, r.Cost_Code): r.Description for r in conn.execute(
                select(cost_code_t.c.Extra, cost_code_t.c.Cost_Code, cost_code_t.c.Description)
                .where(cost_code_t.c.Job == job))}
            categories = {(r.Extra, r.Cost_Code, r.Category): r.Description for r in conn.execute(
                select(category_t.c.Extra, category_t.c.Cost_Code, category_t.c.Category,
                       category_t.c.Description).where(category_t.c.Job == job))}
            txns = conn.execute(select(
                transaction_t.c.Extra, transaction_t.c.Cost_Code, transaction_t.c.Category,
                transaction_t.c.Transaction_Type, transaction_t.c.Date, transaction_t.c.Amount,
                transaction_t.c.Units, transaction_t.c.Amount_Paid, transaction_t.c.Commitment,
            ).where(transaction_t.c.Job == job, transaction_t.c.Posted == True,  # noqa: E712
                    transaction_t.c.Transaction_Type.in_(JOB_COST_TYPES))).all()
        month = naive_utc(self.clock()).date().replace(day=1)
        zero = Decimal("0.00")
        rows = {key: dict.fromkeys(JOB_COST_KEYS[6:], zero) for key in categories}
        for t in txns:
            row = rows.setdefault((t.Extra, t.Cost_Code, t.Category), dict.fromkeys(JOB_COST_KEYS[6:], zero))
            amount, units = Decimal(t.Amount), Decimal(t.Units or 0)
            kind = t.Transaction_Type
            if kind == ORIGINAL_ESTIMATE:
                row["Original_Estimate"] += amount
                row["Original_Estimate_Units"] += units
            elif kind == APPROVED_ESTIMATE_CHANGE:
                row["Approved_Estimate_Changes"] += amount
                row["Approved_Estimate_Unit_Changes"] += units
            elif kind == COMMITTED_COST:
                row["Original_Commitment"] += amount
            elif kind == APPROVED_COMMITMENT_CHANGE:
                row["Approved_Commitment_Changes"] += amount
            else:  # a cost type
                paid = Decimal(t.Amount_Paid or 0)
                row["JTD_Cost"] += amount
                row["JTD_Units"] += units
                row["JTD_Dollars_Paid"] += paid
                if kind == AP_COST and t.Commitment:
                    row["Commitment_Invoiced"] += amount
                if t.Date.replace(day=1) == month:
                    row["MTD_Cost"] += amount
                    row["MTD_Units"] += units
                    row["MTD_Dollars_Paid"] += paid
        result = []
        for (extra, cost_code, category), row in sorted(rows.items()):
            row["Total_Estimate"] = row["Original_Estimate"] + row["Approved_Estimate_Changes"]
            row["Total_Estimate_Units"] = row["Original_Estimate_Units"] + row["Approved_Estimate_Unit_Changes"]
            row["Revised_Commitment"] = row["Original_Commitment"] + row["Approved_Commitment_Changes"]
            head = dict(Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                        Cost_Code_Description=codes.get((extra, cost_code), ""),
                        Category_Description=categories.get((extra, cost_code, category), ""))
            result.append({key: head[key] if key in head else row[key] for key in JOB_COST_KEYS})
        return result

    def overview(self, first: int = 50, recent: int = 20) -> dict:
        """Counts per table, the `first` vendors, jobs and contracts by code, the last `recent` posted costs."""
        # by code, not by age: these tables have no creation time (an existing test reads whole rows)
        counted = {"vendors": vendor_t, "jobs": job_t, "extras": extra_t, "cost_codes": cost_code_t,
                   "categories": category_t, "standard_cost_codes": standard_cost_code_t,
                   "standard_categories": standard_category_t, "contracts": contract_t,
                   "schedule_values": schedule_value_t}
        with self.engine.connect() as conn:
            counts = {name: conn.scalar(select(func.count()).select_from(table)) for name, table in counted.items()}
            is_cost = (transaction_t.c.Transaction_Type.in_(COST_TYPES), transaction_t.c.Posted == True)  # noqa: E712
            counts["cost_transactions"] = conn.scalar(select(func.count()).select_from(transaction_t).where(*is_cost))

            def by_code(table: Table, code: ColumnElement) -> list[dict]:
                return [dict(r) for r in conn.execute(select(table).order_by(code).limit(first)).mappings()]
            return {"counts": counts,
                    "vendors": by_code(vendor_t, vendor_t.c.Vendor),
                    "jobs": by_code(job_t, job_t.c.Job),
                    "contracts": by_code(contract_t, contract_t.c.Contract),
                    "insurance": [dict(r) for r in conn.execute(select(vendor_insurance_t).order_by(
                        vendor_insurance_t.c.Vendor, vendor_insurance_t.c.Insurance_Type).limit(first)).mappings()],
                    "costs": [dict(r) for r in conn.execute(
                        select(*(transaction_t.c[k] for k in COST_TRANSACTION_KEYS)).where(*is_cost)
                        .order_by(transaction_t.c.Transaction_ID.desc()).limit(recent)).mappings()]}

    def get_contract(self, contract: str) -> dict | None:
        """The CN_MASTER__CONTRACT row (Contract, Job, Description, Status, Billing_Method) or None."""
        return self._one(contract_t, Contract=contract)

    def list_contract_items(self, contract: str) -> list[dict]:
        """The contract's CN_MASTER__CONTRACT_ITEM rows (Item, Description, Original_Amount,
        Approved_Changes), by item code."""
        return sorted(self._all(contract_item_t, (), Contract=contract), key=lambda r: natural(r["Item"]))

    def get_customer(self, customer: str) -> dict | None:
        """The ARM_MASTER__CUSTOMER row (Customer, Name, Status) or None."""
        return self._one(customer_t, Customer=customer)

    def get_ar_invoice(self, invoice: str) -> dict | None:
        """The ART_INVOICE row (Invoice, Customer, Contract, Job, ..., Amount, Retainage) or None."""
        return self._one(ar_invoice_t, Invoice=invoice)

    def list_ar_distributions(self, invoice: str) -> list[dict]:
        return self._all(ar_distribution_t, (ar_distribution_t.c.Distribution_Seq,), Invoice=invoice)

    def import_log(self, batch_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(import_log_t).where(import_log_t.c.Batch_ID == batch_id)).mappings().first()
        return dict(row) if row else None

    # ---- unlinking: what Sage still holds of a portal item, and deleting it there ------------
    # find_* describe the records still in Sage (empty: none, the portal may unlink the item);
    # delete_* are what a Sage user does before the portal unlinks (the Sage user's page).

    def find_vendor(self, vendor: str) -> list[str]:
        """The vendor, and the commitments and AP invoices still on it."""
        if not vendor:
            return []
        with self.engine.connect() as conn:
            row = conn.execute(select(vendor_t.c.Name).where(vendor_t.c.Vendor == vendor)).first()
            if row is None:
                return []
            held = [f"vendor {vendor}" + (f" ({row.Name})" if row.Name else "")]
            held += [f"commitment {r.Commitment} on job {r.Job}" for r in conn.execute(
                select(commitment_t.c.Commitment, commitment_t.c.Job).where(commitment_t.c.Vendor == vendor)
                .order_by(commitment_t.c.Commitment))]
            held += [f"AP invoice {r.Invoice} of vendor {vendor}" for r in conn.execute(
                select(invoice_t.c.Invoice).where(invoice_t.c.Vendor == vendor).order_by(invoice_t.c.Invoice))]
        return held

    def find_commitment(self, commitment: str) -> list[str]:
        """The commitment, its change orders and the AP invoices distributed to it."""
        if not commitment:
            return []
        with self.engine.connect() as conn:
            head = conn.execute(select(commitment_t.c.Job).where(commitment_t.c.Commitment == commitment)).first()
            held = [f"commitment {commitment} on job {head.Job}"] if head else []
            held += [f"change order {r.CCO} on commitment {commitment}" for r in conn.execute(
                select(commitment_co_t.c.CCO).where(commitment_co_t.c.Commitment == commitment)
                .order_by(commitment_co_t.c.CCO))]
            held += [f"AP invoice {r.Invoice} of vendor {r.Vendor}" for r in conn.execute(
                select(distribution_t.c.Vendor, distribution_t.c.Invoice).distinct()
                .where(distribution_t.c.Commitment == commitment)
                .order_by(distribution_t.c.Vendor, distribution_t.c.Invoice))]
        return held

    def find_cco(self, commitment: str, cco: str) -> list[str]:
        """The commitment change order (on any commitment when commitment is "")."""
        if not cco:
            return []
        where = [commitment_co_t.c.CCO == cco] + ([commitment_co_t.c.Commitment == commitment] if commitment else [])
        with self.engine.connect() as conn:
            rows = conn.execute(select(commitment_co_t.c.Commitment).where(*where)
                                .order_by(commitment_co_t.c.Commitment)).all()
        return [f"change order {cco} on commitment {r.Commitment}" for r in rows]

    def find_invoice(self, vendor: str, invoice: str) -> list[str]:
        """The AP invoice (of any vendor when vendor is "")."""
        if not invoice:
            return []
        where = [invoice_t.c.Invoice == invoice] + ([invoice_t.c.Vendor == vendor] if vendor else [])
        with self.engine.connect() as conn:
            rows = conn.execute(select(invoice_t.c.Vendor).where(*where).order_by(invoice_t.c.Vendor)).all()
        return [f"AP invoice {invoice} of vendor {r.Vendor}" for r in rows]

    def find_ar_invoice(self, invoice: str) -> list[str]:
        """The AR (owner) invoice."""
        row = self.get_ar_invoice(invoice) if invoice else None
        return [f"AR invoice {invoice} on contract {row['Contract']}"] if row else []

    def find_change_transactions(self, job: str, ref_1: str) -> list[str]:
        """A PCCO's Approved est chng and Approved Schedule Value Change transactions."""
        if not job or not ref_1:
            return []
        with self.engine.connect() as conn:
            n = conn.scalar(select(func.count()).select_from(transaction_t).where(*pcco_change_rows(job, ref_1)))
        return [f"{n} change transaction{'s' if n != 1 else ''} ({' / '.join(PCCO_TYPES)}) of PCCO {ref_1} "
                f"on job {job}"] if n else []

