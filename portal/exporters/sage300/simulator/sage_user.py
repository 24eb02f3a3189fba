"""What a Sage user does to fix what the portal's exports ran into, and to undo them: open and
close jobs and GL periods, activate and deactivate vendors, set the AP tolerance and the
hourly request limit, void or delete AP and AR invoices, commitments and commitment change
orders with Sage's own refusals; and the exported records listed as Sage shows them.

Each action checks everything before it changes anything and raises SageInputError naming
the field (nothing changed) when Sage would refuse; it returns Sage's confirmation. The
refusals' texts are the simulator's, worded like Sage's (the guide and sage300-facts.md have
none for these), except the change order's, which follows the guide's "You cannot delete an
'Approved' change order. You must change its status to delete it."
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from ..mapping import APPROVED_COMMITMENT_CHANGE
from .entry import EntryMixin
from .rules import (
    AP_COST,
    JOB_STATUSES,
    VENDOR_STATUSES,
    VOID,
    SageInputError,
    check_choice,
)
from .schema import (
    ar_invoice_t,
    commitment_co_item_t,
    commitment_co_t,
    commitment_item_t,
    commitment_t,
    distribution_t,
    invoice_t,
    job_t,
    naive_utc,
    payment_t,
    transaction_t,
    vendor_t,
)

PERIOD_STATUSES = ("Open", "Closed")
DELETE = "Delete"
RECORD_ACTIONS = (VOID, DELETE)
_PERIOD = re.compile(r"^\s*(?:(\d{4})-(\d{1,2})|(\d{1,2})/(\d{4}))\s*$")


# ---- numbers and dates as Sage shows them ------------------------------------------------------

def sage_amount(value) -> str:
    """An amount as Sage prints it: two decimals, thousands separated ("1,234.50"); "" for none."""
    return "" if value is None else f"{Decimal(value):,.2f}"


def sage_units(value) -> str:
    """A quantity (units, unit cost) as Sage prints it: four decimals ("40.0000"); "" for none."""
    return "" if value is None else f"{Decimal(value):,.4f}"


def sage_date(value: date | None) -> str:
    """A date as Sage prints it: MM/DD/YYYY."""
    return "" if value is None else f"{value:%m/%d/%Y}"


def period_key(period: str) -> str:
    """A GL period given as 2026-10 or 10/2026, as the simulator keeps it (YYYY-MM)."""
    m = _PERIOD.match(period or "")
    if not m:
        raise SageInputError("period", "Period must be a month like 2026-10 (or 10/2026).")
    year, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
    if not 1 <= int(month) <= 12:
        raise SageInputError("period", "Period must be a month like 2026-10 (or 10/2026).")
    return f"{int(year):04d}-{int(month):02d}"


def period_label(key: str) -> str:
    """A GL period (YYYY-MM) as Sage names it: 10/2026."""
    year, month = key.split("-")
    return f"{month}/{year}"


def _listed(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


class SageUserMixin(EntryMixin):
    """A Sage user's fixes and undos, and the exported records as Sage lists them."""

    # ---- jobs, GL periods, vendors, settings -------------------------------------------------

    def _change_status(self, table, key: str, code: str, status: str, statuses: tuple[str, ...],
                       noun: str, done: tuple[str, str]) -> str:
        """Set a job's or a vendor's Status (statuses[0] is the open / active one); `done`: the
        confirmation's verb for statuses[0] and for the other."""
        check_choice("status", status, statuses)
        field = key.lower()
        with self.engine.begin() as conn:
            current = conn.scalar(select(table.c.Status).where(table.c[key] == code))
            if current is None:
                raise SageInputError(field, f"No {noun.lower()} {code} in Sage 300 CRE.")
            if current == status:
                raise SageInputError("status", f"{noun} {code} is already {status.lower()}.")
            conn.execute(update(table).where(table.c[key] == code).values(Status=status))
        return f"{noun} {code} {done[0] if status == statuses[0] else done[1]}."

    def change_job_status(self, job: str, status: str) -> str:
        """Open or close a job (a closed job takes no export: "Job has been closed.")."""
        return self._change_status(job_t, "Job", job, status, JOB_STATUSES, "Job", ("reopened", "closed"))

    def change_gl_period(self, period: str, status: str) -> str:
        """Open or close a GL period (an invoice dated in a closed one is refused)."""
        key = period_key(period)
        check_choice("status", status, PERIOD_STATUSES)
        closed = set(self.settings()["closed_periods"])
        if (key in closed) == (status == "Closed"):
            raise SageInputError("status", f"GL period {period_label(key)} is already {status.lower()}.")
        self.set_setting("closed_periods", closed | {key} if status == "Closed" else closed - {key})
        return f"GL period {period_label(key)} {'reopened' if status == 'Open' else 'closed'}."

    def change_vendor_status(self, vendor: str, status: str) -> str:
        """Activate or deactivate a vendor (an inactive one takes no invoice or commitment)."""
        return self._change_status(vendor_t, "Vendor", vendor, status, VENDOR_STATUSES, "Vendor",
                                   ("activated", "deactivated"))

    def change_limits(self, tolerance_pct: str | None = None, hourly_limit: str | None = None) -> str:
        """Set the AP commitment tolerance (a percentage) and the hourly request limit (0: none);
        a blank one is left as it is."""
        tolerance_pct = (str(tolerance_pct).strip() if tolerance_pct is not None else "")
        hourly_limit = (str(hourly_limit).strip() if hourly_limit is not None else "")
        if not tolerance_pct and not hourly_limit:
            raise SageInputError("tolerance_pct", "Give a tolerance, an hourly request limit or both.")
        changes: dict = {}
        if tolerance_pct:
            try:
                pct = Decimal(tolerance_pct.rstrip("%").strip())
            except InvalidOperation:
                pct = Decimal("NaN")
            if not pct.is_finite() or not 0 <= pct <= 100 or pct != pct.quantize(Decimal("0.01")):
                raise SageInputError("tolerance_pct", "Tolerance must be a percentage from 0 to 100 "
                                                      "(at most 2 decimals).")
            changes["tolerance_pct"] = pct.normalize() if pct else Decimal(0)
        if hourly_limit:
            if not hourly_limit.isdigit() or int(hourly_limit) > 1_000_000:
                raise SageInputError("hourly_limit", "Hourly request limit must be a whole number from 0 "
                                                     "(no limit) to 1,000,000.")
            changes["hourly_limit"] = int(hourly_limit)
        for key, value in changes.items():
            self.set_setting(key, value)
        said = []
        if "tolerance_pct" in changes:
            said.append(f"tolerance {changes['tolerance_pct']:f}%")
        if "hourly_limit" in changes:
            said.append(f"hourly request limit {changes['hourly_limit'] or 'none'}")
        return f"Saved: {' and '.join(said)}."

    # ---- AP invoices -------------------------------------------------------------------------

    def void_or_delete_ap_invoice(self, vendor: str, invoice: str, action: str) -> str:
        """Void an AP invoice (it stays, Void, and no longer counts against its commitments) or
        delete it with its distributions; a paid invoice is refused either way."""
        check_choice("action", action, RECORD_ACTIONS)
        name = f"AP invoice {invoice} of vendor {vendor}"
        with self.engine.begin() as conn:
            self._serialise(conn)
            status = conn.scalar(select(invoice_t.c.Status).where(invoice_t.c.Vendor == vendor,
                                                                  invoice_t.c.Invoice == invoice))
            if status is None:
                raise SageInputError("invoice", f"No {name} in Sage 300 CRE.")
            paid = conn.scalar(select(func.coalesce(func.sum(transaction_t.c.Amount_Paid), 0)).where(
                transaction_t.c.Transaction_Type == AP_COST, transaction_t.c.Vendor == vendor,
                transaction_t.c.Invoice == invoice))
            # checks paid against it (their amounts are on its AP cost transactions too), or Amount
            # Paid on AP cost transactions entered by hand
            paid = Decimal(conn.scalar(select(func.coalesce(func.sum(payment_t.c.Amount), 0)).where(
                payment_t.c.Vendor == vendor, payment_t.c.Invoice == invoice)) or 0) or Decimal(paid or 0)
            if paid:
                raise SageInputError("invoice", f"{name} has payments of {sage_amount(paid)}: void the "
                                                f"payments before you {action.lower()} it.")
            if action == VOID:
                if status == VOID:
                    raise SageInputError("action", f"{name} is already void.")
                conn.execute(update(invoice_t).where(invoice_t.c.Vendor == vendor, invoice_t.c.Invoice == invoice)
                             .values(Status=VOID))
                return f"{name} voided."
            conn.execute(distribution_t.delete().where(distribution_t.c.Vendor == vendor,
                                                       distribution_t.c.Invoice == invoice))
            conn.execute(invoice_t.delete().where(invoice_t.c.Vendor == vendor, invoice_t.c.Invoice == invoice))
        return f"{name} deleted."

    # ---- AR invoices -------------------------------------------------------------------------

    def void_or_delete_ar_invoice(self, invoice: str, action: str) -> str:
        """Void or delete an AR (owner) invoice: only the latest of its contract (the next one's
        previous billings build on it)."""
        check_choice("action", action, RECORD_ACTIONS)
        with self.engine.begin() as conn:
            self._serialise(conn)
            row = conn.execute(select(ar_invoice_t).where(ar_invoice_t.c.Invoice == invoice)).mappings().first()
            if row is None:
                raise SageInputError("invoice", f"No AR invoice {invoice} in Sage 300 CRE.")
            later = list(conn.scalars(select(ar_invoice_t.c.Invoice).where(
                ar_invoice_t.c.Contract == row["Contract"], ar_invoice_t.c.Status != VOID,
                ar_invoice_t.c.Invoice != invoice,
                (ar_invoice_t.c.Created_At > row["Created_At"])
                | ((ar_invoice_t.c.Created_At == row["Created_At"]) & (ar_invoice_t.c.Invoice > invoice)))
                .order_by(ar_invoice_t.c.Created_At, ar_invoice_t.c.Invoice)))
            if later:
                raise SageInputError("invoice", f"AR invoice {invoice} is not the latest on contract "
                                                f"{row['Contract']}: {action.lower()} {_listed(later)} first.")
            if action == VOID:
                if row["Status"] == VOID:
                    raise SageInputError("action", f"AR invoice {invoice} is already void.")
                conn.execute(update(ar_invoice_t).where(ar_invoice_t.c.Invoice == invoice).values(Status=VOID))
                return f"AR invoice {invoice} voided."
        self.delete_ar_invoice(invoice)
        return f"AR invoice {invoice} deleted."

    # ---- commitments and their change orders -------------------------------------------------

    def _invoices_on(self, conn: Connection, commitment: str) -> list[str]:
        return [f"{r.Vendor}/{r.Invoice}" for r in conn.execute(
            select(distribution_t.c.Vendor, distribution_t.c.Invoice).distinct()
            .where(distribution_t.c.Commitment == commitment)
            .order_by(distribution_t.c.Vendor, distribution_t.c.Invoice))]

    def void_or_delete_commitment(self, commitment: str, action: str) -> str:
        """Void a commitment (Void: it takes no change order) or delete it with its items and Job
        Cost transactions; refused while it has AP invoices, and deleting while it has change orders."""
        check_choice("action", action, RECORD_ACTIONS)
        with self.engine.begin() as conn:
            self._serialise(conn)
            status = conn.scalar(select(commitment_t.c.Status).where(commitment_t.c.Commitment == commitment))
            if status is None:
                raise SageInputError("commitment", f"No commitment {commitment} in Sage 300 CRE.")
            invoices = self._invoices_on(conn, commitment)
            if invoices:
                raise SageInputError("commitment", f"Commitment {commitment} has invoices ({_listed(invoices)}): "
                                                   f"a commitment with invoices cannot be "
                                                   f"{'voided' if action == VOID else 'deleted'}.")
            if action == VOID:
                if status == VOID:
                    raise SageInputError("action", f"Commitment {commitment} is already void.")
                conn.execute(update(commitment_t).where(commitment_t.c.Commitment == commitment)
                             .values(Status=VOID))
                return f"Commitment {commitment} voided."
            orders = list(conn.scalars(select(commitment_co_t.c.CCO).where(
                commitment_co_t.c.Commitment == commitment).order_by(commitment_co_t.c.CCO)))
            if orders:
                raise SageInputError("commitment", f"Commitment {commitment} has change orders "
                                                   f"({_listed(orders)}): delete them first.")
        self.delete_commitment(commitment)
        return f"Commitment {commitment} deleted."

    def void_or_delete_change_order(self, commitment: str, cco: str, action: str) -> str:
        """Void a commitment change order (its approved change comes off the commitment and Job
        Cost) or delete a void one; an Approved change order is not deleted (the guide)."""
        check_choice("action", action, RECORD_ACTIONS)
        with self.engine.begin() as conn:
            self._serialise(conn)
            status = conn.scalar(select(commitment_co_t.c.Status).where(
                commitment_co_t.c.Commitment == commitment, commitment_co_t.c.CCO == cco))
            if status is None:
                raise SageInputError("cco", f"No change order {cco} on commitment {commitment} in Sage 300 CRE.")
            if action == DELETE:
                if status != VOID:
                    raise SageInputError("action", f"Change order {cco} is {status}: an {status} change order "
                                                   "cannot be deleted; void it first.")
            else:
                if status == VOID:
                    raise SageInputError("action", f"Change order {cco} is already void.")
                self._void_change_order(conn, commitment, cco)
                return f"Change order {cco} on commitment {commitment} voided."
        self.delete_cco(commitment, cco, take_off_amount=False)
        return f"Change order {cco} on commitment {commitment} deleted."

    def _void_change_order(self, conn: Connection, commitment: str, cco: str) -> None:
        change = conn.scalar(select(func.coalesce(func.sum(commitment_co_item_t.c.Amount), 0)).where(
            commitment_co_item_t.c.Commitment == commitment, commitment_co_item_t.c.CCO == cco))
        conn.execute(update(commitment_co_t).where(commitment_co_t.c.Commitment == commitment,
                                                   commitment_co_t.c.CCO == cco).values(Status=VOID))
        # Job Cost: reversing entries of its approved commitment changes, as voiding posts them
        rows = conn.execute(select(transaction_t).where(
            transaction_t.c.Commitment == commitment, transaction_t.c.Commitment_CO == cco,
            transaction_t.c.Transaction_Type == APPROVED_COMMITMENT_CHANGE)).mappings().all()
        now = naive_utc(self.clock())
        for r in rows:
            reversal = {k: v for k, v in r.items() if k != "Transaction_ID"}
            reversal.update(Amount=-Decimal(r["Amount"]), Description=f"Void {cco}"[:30], Created_At=now,
                            Units=None if r["Units"] is None else -Decimal(r["Units"]))
            conn.execute(insert(transaction_t).values(**reversal))
        if change:
            conn.execute(update(commitment_t).where(commitment_t.c.Commitment == commitment)
                         .values(Amount=commitment_t.c.Amount - Decimal(change)))

    # ---- what the portal exported, as Sage lists it ------------------------------------------

    def exported(self, limit: int = 50, job: str | None = None) -> dict:
        """The latest `limit` exported AP invoices, AR invoices, commitments (with their items)
        and change orders, of one `job` when given (an AP invoice belongs to the jobs of its
        distributions), each {"columns", "numeric" (column indexes), "rows" (text as Sage shows
        it), "total"}, and the settings as text."""
        def listing(columns: tuple[str, ...], numeric: tuple[int, ...], rows: list, total: int) -> dict:
            return {"columns": columns, "numeric": numeric, "rows": rows, "total": total}

        on_job = {  # each listing's rows of the job (every row without one)
            invoice_t: select(distribution_t.c.Vendor).where(
                distribution_t.c.Vendor == invoice_t.c.Vendor, distribution_t.c.Invoice == invoice_t.c.Invoice,
                distribution_t.c.Job == job).exists(),
            ar_invoice_t: ar_invoice_t.c.Job == job,
            commitment_t: commitment_t.c.Job == job,
            commitment_co_t: commitment_co_t.c.Commitment.in_(
                select(commitment_t.c.Commitment).where(commitment_t.c.Job == job)),
        } if job else {}

        def of_job(statement, table):
            return statement.where(on_job[table]) if table in on_job else statement

        def count(conn, table) -> int:
            return conn.scalar(of_job(select(func.count()).select_from(table), table)) or 0

        with self.engine.connect() as conn:
            ap = conn.execute(of_job(select(invoice_t), invoice_t).order_by(
                invoice_t.c.Created_At.desc(), invoice_t.c.Invoice.desc()).limit(limit)).mappings().all()
            ar = conn.execute(of_job(select(ar_invoice_t), ar_invoice_t).order_by(
                ar_invoice_t.c.Created_At.desc(), ar_invoice_t.c.Invoice.desc()).limit(limit)).mappings().all()
            commitments = conn.execute(of_job(select(commitment_t), commitment_t).order_by(
                commitment_t.c.Commitment).limit(limit)).mappings().all()
            items = conn.execute(select(commitment_item_t).where(commitment_item_t.c.Commitment.in_(
                [c["Commitment"] for c in commitments])).order_by(commitment_item_t.c.Commitment,
                                                                  commitment_item_t.c.Item)).mappings().all()
            co_total = (select(func.coalesce(func.sum(commitment_co_item_t.c.Amount), 0))
                        .where(commitment_co_item_t.c.Commitment == commitment_co_t.c.Commitment,
                               commitment_co_item_t.c.CCO == commitment_co_t.c.CCO).scalar_subquery())
            orders = conn.execute(of_job(select(commitment_co_t, co_total.label("Change")), commitment_co_t).order_by(
                commitment_co_t.c.Commitment, commitment_co_t.c.CCO).limit(limit)).mappings().all()
            totals = {name: count(conn, table) for name, table in (
                ("ap", invoice_t), ("ar", ar_invoice_t), ("commitments", commitment_t),
                ("orders", commitment_co_t))}
            settings = self._settings(conn)
        return {
            "ap_invoices": listing(
                ("Vendor", "Invoice", "Description", "Invoice Date", "Accounting Date", "Amount", "Retainage",
                 "Status", "Hold"), (5, 6),
                [[r["Vendor"], r["Invoice"], r["Description"], sage_date(r["Invoice_Date"]),
                  sage_date(r["Accounting_Date"]), sage_amount(r["Amount"]), sage_amount(r["Retainage"]),
                  r["Status"], "Hold" if r["Hold"] else ""] for r in ap], totals["ap"]),
            "ar_invoices": listing(
                ("Invoice", "Customer", "Contract", "Job", "Description", "Invoice Date", "Accounting Date",
                 "Amount", "Retainage", "Status"), (7, 8),
                [[r["Invoice"], r["Customer"], r["Contract"], r["Job"], r["Description"],
                  sage_date(r["Invoice_Date"]), sage_date(r["Accounting_Date"]), sage_amount(r["Amount"]),
                  sage_amount(r["Retainage"]), r["Status"]] for r in ar], totals["ar"]),
            "commitments": listing(
                ("Commitment", "Vendor", "Job", "Description", "Type", "Amount", "Status"), (5,),
                [[r["Commitment"], r["Vendor"], r["Job"], r["Description"], r["Commitment_Type"],
                  sage_amount(r["Amount"]), r["Status"]] for r in commitments], totals["commitments"]),
            "commitment_items": listing(
                ("Commitment", "Item", "Description", "Job", "Extra", "Cost Code", "Category", "Units",
                 "Unit Cost", "Amount"), (7, 8, 9),
                [[r["Commitment"], r["Item"], r["Description"], r["Job"], r["Extra"], r["Cost_Code"],
                  r["Category"], sage_units(r["Units"]), sage_units(r["Unit_Cost"]), sage_amount(r["Amount"])]
                 for r in items], len(items)),
            "change_orders": listing(
                ("Commitment", "Change Order", "Description", "Date", "Amount", "Status"), (4,),
                [[r["Commitment"], r["CCO"], r["Description"], sage_date(r["Date"]), sage_amount(r["Change"]),
                  r["Status"]] for r in orders], totals["orders"]),
            "settings": {
                "Closed GL periods": ", ".join(period_label(p) for p in sorted(settings["closed_periods"]))
                or "none",
                "Tolerance": f"{settings['tolerance_pct']:f}%",
                "Hourly request limit": str(settings["hourly_limit"] or "none"),
                "Date Received Usage": settings["date_received_usage"],
                "Payment Date Usage": settings["payment_date_usage"],
                "Tax Group Sync": settings["tax_group_sync"],
            },
        }
