"""Owner invoices: pay applications on the prime contract, exported as Sage AR invoices."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.domain.errors import Invalid
from portal.domain.models import OwnerInvoice, OwnerInvoiceLine, Project
from portal.domain.search import like
from portal.domain.types.base import Column, Detail, Field, Filters, ItemSummary, ItemType, check_length, invalid_if
from portal.domain.types.common import contract_item_choices, contract_of, contracts, line_sum
from portal.domain.values import mmddyyyy, money, parse_date, parse_money, parse_period
from portal.exporters.sage300.mapping import map_owner_invoice
from portal.exporters.sage300.records import OwnerInvoiceData, OwnerInvoiceLineData

ZERO = Decimal("0")
INVOICE_STATUSES = ("Draft", "Under Review", "Approved", "Revise and Resubmit")


# what the amount filter and a search for an amount compare (the lines' sum, in SQL)
AMOUNT = line_sum(OwnerInvoiceLine.amount, OwnerInvoiceLine.invoice_id, OwnerInvoice.id)
RETAINAGE = line_sum(OwnerInvoiceLine.retainage, OwnerInvoiceLine.invoice_id, OwnerInvoice.id)


class OwnerInvoiceType(ItemType):
    key = "owner_invoice"
    label = "Owner Invoice"
    plural = "Owner Invoices"
    noun = "owner invoice"
    model = OwnerInvoice
    erp_id_field = "erp_id"
    sage_record_kind = "ar_invoice"
    bulk_note = ("Ticked owner invoices are exported with their defaults: invoice = invoice #, "
                 "accounting date = billing date.")
    accept_column = "period"   # the issue: Accept sits under the billing period column
    filters = Filters(project=OwnerInvoice.project_id, period=OwnerInvoice.period_start,
                      dates=("Billing Date", OwnerInvoice.billing_date), amount=("Amount", AMOUNT),
                      amounts=(AMOUNT, RETAINAGE))
    columns = (Column("Project", "project"), Column("Contract", "contract"),
               Column("Invoice #", "number", sort=OwnerInvoice.number), Column("Billing Period", "period"),
               Column("Billing Date", "billing_date", sort=OwnerInvoice.billing_date),
               Column("Amount", "amount", "num"), Column("Retainage", "retainage", "num"))
    list_columns = columns[1:] + (Column("Status", "status"),)

    def load_options(self):
        return (joinedload(OwnerInvoice.project), joinedload(OwnerInvoice.contract),
                selectinload(OwnerInvoice.lines).joinedload(OwnerInvoiceLine.contract_item))

    def list_items(self, session, project_id):
        return list(session.scalars(select(OwnerInvoice).where(OwnerInvoice.project_id == project_id)
                                    .options(*self.load_options()).order_by(OwnerInvoice.id)))

    def row_values(self, item):
        return {"project": f"{item.project.number} {item.project.name}", "contract": item.contract.number,
                "number": item.number,
                "period": f"{mmddyyyy(item.period_start)} – {mmddyyyy(item.period_end)}",
                "billing_date": mmddyyyy(item.billing_date),
                "amount": money(sum((ln.amount for ln in item.lines), ZERO)),
                "retainage": money(sum((ln.retainage for ln in item.lines), ZERO)), "status": item.status}

    def detail(self, item, values) -> Detail:
        """Its header and its lines billed per contract item, totalled."""
        rows: list[tuple[str, ...]] = [("Contract Item", "Description", "Amount", "Retainage")]
        rows += [(ln.contract_item.code, ln.contract_item.description, money(ln.amount), money(ln.retainage))
                 for ln in item.lines]
        rows.append(("Total", "", values.get("amount", ""), values.get("retainage", "")))
        return Detail(super().detail(item, values).fields, tuple(rows), "Schedule of values billed")

    def search_ids(self, q):
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(OwnerInvoice.id).where(or_(like(OwnerInvoice.number, q),
                                                 OwnerInvoice.project_id.in_(projects)))

    def form_fields(self, session, project_id, item):
        return [Field("contract_id", "Prime Contract", widget="select", required=True,
                      choices=tuple((str(c.id), f"{c.number} {c.title}") for c in contracts(session, project_id))),
                Field("number", "Invoice #", required=True, maxlength=40),
                Field("period_start", "Billing period start", widget="date", required=True),
                Field("period_end", "Billing period end", widget="date", required=True),
                Field("billing_date", "Billing date", widget="date", required=True),
                Field("status", "Status", widget="select", required=True,
                      choices=tuple((s, s) for s in INVOICE_STATUSES))]

    def line_fields(self, session, project_id):
        return [Field("contract_item_id", "Contract item", widget="select",
                      choices=contract_item_choices(session, project_id)),
                Field("amount", "Work completed this period", widget="number"),
                Field("retainage", "Retainage", widget="number")]

    def line_count(self, item):
        return (len(item.lines) if item else 0) + 3

    def form_values(self, item):
        values = {"contract_id": str(item.contract_id), "number": item.number,
                  "period_start": item.period_start.isoformat(), "period_end": item.period_end.isoformat(),
                  "billing_date": item.billing_date.isoformat(), "status": item.status}
        for n, ln in enumerate(item.lines):
            values.update({f"line-{n}-contract_item_id": str(ln.contract_item_id),
                           f"line-{n}-amount": str(ln.amount), f"line-{n}-retainage": str(ln.retainage)})
        return values

    def save(self, session, actor, project_id, item, form):
        errors: dict[str, str] = {}
        contract = contract_of(session, project_id, form, errors)
        number = check_length(errors, form, "number", "Invoice #", 40, required=True)
        status = form.get("status") if form.get("status") in INVOICE_STATUSES else None
        if status is None:
            errors["status"] = "Choose a status."
        dates = parse_period(form, errors)
        items_of = {str(i.id) for i in contract.items} if contract else set()
        lines = []
        for n in range(self.line_count(item) + 20):
            p = f"line-{n}-"
            if not any(form.get(p + k) for k in ("contract_item_id", "amount", "retainage")):
                continue
            if form.get(p + "contract_item_id") not in items_of:
                errors[p + "contract_item_id"] = "Choose an item of the chosen contract."
            amounts = {}
            for part in ("amount", "retainage"):
                try:
                    amounts[part] = parse_money(form.get(p + part), p + part)
                except Invalid as exc:
                    errors.update(exc.fields)
            lines.append((form.get(p + "contract_item_id"), amounts))
        if not lines and not errors:
            errors["_"] = "Add at least one line."
        invalid_if(errors)
        assert contract is not None  # contract_of() recorded an error otherwise
        if item is None:
            item = OwnerInvoice(project_id=project_id, contract_id=contract.id, number=number,
                                status=status, created_by_id=actor.id, **dates)
            session.add(item)
            session.flush()
            session.refresh(item, ["lines"])
        item.contract_id, item.number, item.status = contract.id, number, status
        for name, value in dates.items():
            setattr(item, name, value)
        item.lines.clear()
        session.flush()
        for contract_item_id, amounts in lines:
            item.lines.append(OwnerInvoiceLine(contract_item_id=int(contract_item_id), **amounts))
        session.flush()
        return item

    def prerequisites(self, session, item):
        reasons = []
        if item.status != "Approved":
            reasons.append(f"The invoice is {item.status}: only Approved owner invoices can be sent.")
        if not item.contract.sage_contract_id or not item.contract.customer:
            reasons.append("The prime contract is not synced with Sage: import it from Sage first.")
        if not item.lines:
            reasons.append("The invoice has no lines.")
        contracts = self._sage_contracts(item)
        if len(contracts) > 1:
            reasons.append(f"The lines are on items of Sage contracts {', '.join(sorted(contracts))}: an AR invoice "
                           "bills one Sage contract, so invoice each contract's items separately.")
        return reasons

    def _sage_contracts(self, item) -> set[str]:
        """The Sage contracts the lines bill (a prime contract may hold several)."""
        return {ln.contract_item.sage_contract_id or item.contract.sage_contract_id or "" for ln in item.lines}

    def accept_fields(self, item):
        return [Field("erp_id", "Invoice (ERP ID)", maxlength=15, required=True),
                Field("description", "Description", maxlength=30, help="Optional, 30 characters."),
                Field("accounting_date", "Accounting Date", widget="date", required=True)]

    def export_defaults(self, item):
        return {"erp_id": item.number, "description": "", "accounting_date": item.billing_date.isoformat()}

    def clean_export_fields(self, session, item, raw):
        errors: dict[str, str] = {}
        erp_id = check_length(errors, raw, "erp_id", "Invoice (ERP ID)", 15, required=True)
        description = check_length(errors, raw, "description", "Description", 30)
        when = None
        try:
            when = parse_date(raw.get("accounting_date"), "accounting_date")
        except Invalid as exc:
            errors.update(exc.fields)
        invalid_if(errors)
        assert when is not None  # parse_date() recorded an error otherwise
        return {"erp_id": erp_id, "description": description, "accounting_date": when.isoformat()}

    def build_batch(self, session, item, fields, batch_id):
        return map_owner_invoice(OwnerInvoiceData(
            customer=item.contract.customer,
            contract=min(self._sage_contracts(item), default=item.contract.sage_contract_id or ""),
            job=item.project.sage_job_id or "", invoice=fields["erp_id"],
            description=fields.get("description", ""), invoice_date=item.billing_date,
            accounting_date=date.fromisoformat(fields["accounting_date"]),
            lines=tuple(OwnerInvoiceLineData(contract_item=ln.contract_item.code,
                                             description=ln.contract_item.description[:30],
                                             amount=ln.amount, retainage=ln.retainage)
                        for ln in item.lines)), batch_id)

    def unlink_reference(self, erp, item) -> dict:
        return {"invoice": (erp.export_fields or {}).get("erp_id") or erp.erp_ref or ""}

    def summary(self, item):
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Owner invoice #{item.number}", vendor=item.contract.customer or "—",
                           amount=money(sum((ln.amount for ln in item.lines), ZERO)),
                           creator_id=item.created_by_id, number=item.number,
                           project_name=item.project.name)
