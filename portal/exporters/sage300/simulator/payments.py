"""AP payments: a Sage user pays an AP invoice by check (Accounts Payable > Payments), in full or
in part, never more than its open balance; and the payments read back (the hh2 mappings
"Payment (AP)", "Invoice Payment (AP)" and "Distribution Payment (AP)").

An invoice's open balance is what Accounts Payable still owes on it now: its amount less its
retainage (held until released; the guide: "Current Payment Due ... (Original Amount -
Retainage)") less what has been paid. A payment also adds to Amount Paid on the invoice's AP
cost transactions in Job Cost, where the job costs read JTD and MTD Dollars Paid.
The refusals' texts are the simulator's, worded like Sage's (the guide has none for payments).
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from .rules import AP_COST, VOID, SageInputError, money_input
from .schema import SimulatorBase, invoice_t, naive_utc, payment_t, transaction_t

CHECK_MAX = 10   # Sage's check number: up to 10 digits
_CHECK = re.compile(rf"^\d{{1,{CHECK_MAX}}}$")


def open_balance(amount, retainage, paid) -> Decimal:
    """What is still payable on an AP invoice: amount - retainage - paid."""
    return Decimal(amount) - Decimal(retainage) - Decimal(paid or 0)


class PaymentsMixin(SimulatorBase):
    """AP payments entered as a Sage user enters them, and read back."""

    def _paid_on(self, conn: Connection, vendor: str, invoice: str) -> Decimal:
        return Decimal(conn.scalar(select(func.coalesce(func.sum(payment_t.c.Amount), 0)).where(
            payment_t.c.Vendor == vendor, payment_t.c.Invoice == invoice)) or 0)

    def pay_ap_invoice(self, vendor: str, invoice: str, check_number: str, check_date: date | None,
                       amount) -> str:
        """Pay an AP invoice by check (partly or in full); refused, nothing changed, when the
        invoice is missing or void, the check number or date is not valid, or the amount is not
        positive or is over the open balance. Returns Sage's confirmation."""
        vendor, invoice = (vendor or "").strip(), (invoice or "").strip()
        check_number = (check_number or "").strip()
        if not vendor:
            raise SageInputError("vendor", "Vendor can't be blank.")
        if not invoice:
            raise SageInputError("invoice", "Invoice can't be blank.")
        if not _CHECK.match(check_number):
            raise SageInputError("check_number", f"Check number must be 1 to {CHECK_MAX} digits.")
        if check_date is None:
            raise SageInputError("check_date", "Check date can't be blank.")
        value = money_input("amount", amount)
        if value <= 0:
            raise SageInputError("amount", "Payment amount must be greater than zero.")
        name = f"AP invoice {invoice} of vendor {vendor}"
        with self.engine.begin() as conn:
            self._serialise(conn)
            row = conn.execute(select(invoice_t.c.Amount, invoice_t.c.Retainage, invoice_t.c.Status).where(
                invoice_t.c.Vendor == vendor, invoice_t.c.Invoice == invoice)).first()
            if row is None:
                raise SageInputError("invoice", f"No {name} in Sage 300 CRE.")
            if row.Status == VOID:
                raise SageInputError("invoice", f"{name} is void: a void invoice cannot be paid.")
            balance = open_balance(row.Amount, row.Retainage, self._paid_on(conn, vendor, invoice))
            if value > balance:
                raise SageInputError("amount", f"Payment amount {value:,.2f} exceeds the open balance of "
                                               f"{name} ({balance:,.2f}).")
            conn.execute(insert(payment_t).values(
                Vendor=vendor, Invoice=invoice, Check_Number=check_number, Check_Date=check_date,
                Amount=value, Created_At=naive_utc(self.clock())))
            self._post_paid(conn, vendor, invoice, value)
        left = balance - value
        return (f"Check {check_number} for {value:,.2f} applied to {name}: "
                + ("paid in full." if not left else f"{left:,.2f} still open."))

    def _post_paid(self, conn: Connection, vendor: str, invoice: str, value: Decimal) -> None:
        """Job Cost: the payment as Amount Paid on the invoice's AP cost transactions, in order,
        each up to its amount."""
        for t in conn.execute(select(transaction_t.c.Transaction_ID, transaction_t.c.Amount,
                                     transaction_t.c.Amount_Paid).where(
                transaction_t.c.Transaction_Type == AP_COST, transaction_t.c.Vendor == vendor,
                transaction_t.c.Invoice == invoice).order_by(transaction_t.c.Transaction_ID)).all():
            room = Decimal(t.Amount) - Decimal(t.Amount_Paid or 0)
            share = min(room, value)
            if share <= 0:
                continue
            conn.execute(update(transaction_t).where(transaction_t.c.Transaction_ID == t.Transaction_ID)
                         .values(Amount_Paid=transaction_t.c.Amount_Paid + share))
            value -= share
            if not value:
                break

    def list_ap_payments(self, vendor: str | None = None, invoice: str | None = None) -> list[dict]:
        """AP payments (Payment_ID, Vendor, Invoice, Check_Number, Check_Date, Amount, Created_At),
        by Payment_ID; of one vendor, or of one invoice."""
        query = select(payment_t).order_by(payment_t.c.Payment_ID)
        if vendor is not None:
            query = query.where(payment_t.c.Vendor == vendor)
        if invoice is not None:
            query = query.where(payment_t.c.Invoice == invoice)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def latest_ap_payments(self, limit: int = 20) -> list[dict]:
        """The latest `limit` AP payments, newest first (the Sage page)."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(payment_t).order_by(payment_t.c.Payment_ID.desc())
                                                  .limit(limit)).mappings()]

    def ap_invoice_balances(self, limit: int = 50) -> list[dict]:
        """The latest AP invoices (not void) with Amount, Retainage, Paid and open Balance (the Sage page)."""
        paid = (select(payment_t.c.Vendor, payment_t.c.Invoice, func.sum(payment_t.c.Amount).label("Paid"))
                .group_by(payment_t.c.Vendor, payment_t.c.Invoice).subquery())
        with self.engine.connect() as conn:
            rows = conn.execute(select(invoice_t.c.Vendor, invoice_t.c.Invoice, invoice_t.c.Amount,
                                       invoice_t.c.Retainage, func.coalesce(paid.c.Paid, 0).label("Paid"))
                                .outerjoin(paid, (paid.c.Vendor == invoice_t.c.Vendor)
                                           & (paid.c.Invoice == invoice_t.c.Invoice))
                                .where(invoice_t.c.Status != VOID)
                                .order_by(invoice_t.c.Created_At.desc(), invoice_t.c.Invoice.desc())
                                .limit(limit)).mappings().all()
        return [{**r, "Balance": open_balance(r["Amount"], r["Retainage"], r["Paid"])} for r in rows]
