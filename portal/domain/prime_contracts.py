"""Prime contract change orders (PCCOs) and owner invoices through the same gate."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal.domain.errors import Invalid
from portal.domain.itemtypes import (Column, Field, ItemSummary, ItemType, check_length,
                                     invalid_if, register)
from portal.domain.models import (Category, CostCode, OwnerInvoice, OwnerInvoiceLine,
                                  PrimeChangeOrder, PrimeChangeOrderLine, PrimeContract,
                                  PrimeContractItem, Project, utcnow)
from portal.domain.subcontractor_invoices import mmddyyyy, money, parse_date, parse_money
from portal.domain.tabs import like
from portal.exporters.sage300.mapping import map_owner_invoice, map_pcco
from portal.exporters.sage300.records import (OwnerInvoiceData, OwnerInvoiceLineData, PCCOData,
                                              PCCOEstimateLineData, PCCOScheduleLineData)

ZERO = Decimal("0")
PCCO_STATUSES = ("Draft", "Pending - In Review", "Approved", "Rejected", "Void")
PCCO_SENDABLE = {"Approved", "Pending - In Review"}   # accepting approves a pending PCCO
INVOICE_STATUSES = ("Draft", "Under Review", "Approved", "Revise and Resubmit")


def _contracts(session, project_id):
    return session.scalars(select(PrimeContract).where(PrimeContract.project_id == project_id)
                           .options(selectinload(PrimeContract.items)).order_by(PrimeContract.number)).all()


def _contract_of(session, project_id, form, errors) -> PrimeContract | None:
    raw = form.get("contract_id") or ""
    contract = session.scalars(select(PrimeContract).where(PrimeContract.id == int(raw))
                               .options(selectinload(PrimeContract.items))).first() if raw.isdigit() else None
    if contract is None or contract.project_id != project_id:
        errors["contract_id"] = "Choose the project's prime contract."
        return None
    return contract


def _item_choices(session, project_id):
    rows = session.execute(select(PrimeContractItem.id, PrimeContract.number, PrimeContractItem.code,
                                  PrimeContractItem.description)
                           .join(PrimeContract, PrimeContract.id == PrimeContractItem.contract_id)
                           .where(PrimeContract.project_id == project_id)
                           .order_by(PrimeContract.number, PrimeContractItem.id)).all()
    return tuple((str(i), f"{n} {code} {d}") for i, n, code, d in rows)


# ---- PCCOs -------------------------------------------------------------------------------

class PCCOType(ItemType):
    key = "pcco"
    label = "Prime Contract Change Order"
    plural = "Prime Contract Change Orders"
    noun = "PCCO"
    model = PrimeChangeOrder
    writes_back_on_sync = True
    bulk_note = "Ticked PCCOs are exported dated today; one adding a contract item needs its own Accept."
    columns = (Column("Project", "project"), Column("Contract", "contract"), Column("#", "number"),
               Column("Title", "title"), Column("Status", "status"), Column("Amount", "amount", "num"))
    list_columns = columns[1:]

    def load_options(self):
        lines = selectinload(PrimeChangeOrder.lines)
        return (selectinload(PrimeChangeOrder.project),
                selectinload(PrimeChangeOrder.contract).selectinload(PrimeContract.items),
                lines.selectinload(PrimeChangeOrderLine.contract_item),
                lines.selectinload(PrimeChangeOrderLine.category).selectinload(Category.cost_code))

    def list_items(self, session, project_id):
        return list(session.scalars(select(PrimeChangeOrder).where(
            PrimeChangeOrder.project_id == project_id).options(*self.load_options())
            .order_by(PrimeChangeOrder.id)))

    def row_values(self, item):
        return {"project": f"{item.project.number} {item.project.name}", "contract": item.contract.number,
                "number": item.number, "title": item.title, "status": item.status,
                "amount": money(sum((l.amount for l in item.lines), ZERO))}

    def search_ids(self, q):
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(PrimeChangeOrder.id).where(or_(like(PrimeChangeOrder.number, q),
                                                     like(PrimeChangeOrder.title, q),
                                                     PrimeChangeOrder.project_id.in_(projects)))

    def form_fields(self, session, project_id, item):
        return [Field("contract_id", "Prime Contract", kind="select", required=True,
                      choices=tuple((str(c.id), f"{c.number} {c.title}") for c in _contracts(session, project_id))),
                Field("number", "#", required=True, maxlength=40),
                Field("title", "Title", required=True, maxlength=300),
                Field("status", "Status", kind="select", required=True,
                      choices=tuple((s, s) for s in PCCO_STATUSES))]

    def line_fields(self, session, project_id):
        cats = session.execute(select(Category.id, CostCode.code, Category.code)
                               .join(CostCode, CostCode.id == Category.cost_code_id)
                               .where(CostCode.project_id == project_id)
                               .order_by(CostCode.code, Category.code)).all()
        return [Field("contract_item_id", "Contract item (empty: a new item)", kind="select",
                      choices=_item_choices(session, project_id)),
                Field("description", "Description", maxlength=120),
                Field("category_id", "Cost Code / Category (estimate)", kind="select",
                      choices=tuple((str(i), f"{cc} {cat}") for i, cc, cat in cats)),
                Field("amount", "Amount", kind="number")]

    def line_count(self, item):
        return (len(item.lines) if item else 0) + 3

    def form_values(self, item):
        values = {"contract_id": str(item.contract_id), "number": item.number, "title": item.title,
                  "status": item.status}
        for n, l in enumerate(item.lines):
            values.update({f"line-{n}-contract_item_id": str(l.contract_item_id or ""),
                           f"line-{n}-description": l.description,
                           f"line-{n}-category_id": str(l.category_id), f"line-{n}-amount": str(l.amount)})
        return values

    def save(self, session, actor, project_id, item, form):
        errors = {}
        contract = _contract_of(session, project_id, form, errors)
        number = check_length(errors, form, "number", "#", 40, required=True)
        title = check_length(errors, form, "title", "Title", 300, required=True)
        status = form.get("status") if form.get("status") in PCCO_STATUSES else None
        if status is None:
            errors["status"] = "Choose a status."
        items_of = {str(i.id) for i in contract.items} if contract else set()
        cats = {str(i) for i in session.scalars(select(Category.id).join(CostCode).where(
            CostCode.project_id == project_id))}
        lines = []
        for n in range(self.line_count(item) + 20):
            p = f"line-{n}-"
            if not any(form.get(p + k) for k in ("contract_item_id", "description", "category_id", "amount")):
                continue
            existing = form.get(p + "contract_item_id") or ""
            if existing and existing not in items_of:
                errors[p + "contract_item_id"] = "Choose an item of the chosen contract."
            description = (form.get(p + "description") or "").strip()
            if not existing and not description:
                errors[p + "description"] = "A new contract item needs a description."
            if form.get(p + "category_id") not in cats:
                errors[p + "category_id"] = "Choose the cost code and category the estimate changes."
            try:
                amount = parse_money(form.get(p + "amount"), p + "amount")
            except Invalid as exc:
                errors.update(exc.fields)
                amount = ZERO
            lines.append((existing, description, form.get(p + "category_id"), amount))
        if not lines and not errors:
            errors["_"] = "Add at least one line."
        invalid_if(errors)
        if item is None:
            item = PrimeChangeOrder(project_id=project_id, contract_id=contract.id, number=number,
                                    title=title, status=status, created_by_id=actor.id)
            session.add(item)
            session.flush()
            session.refresh(item, ["lines"])
        item.contract_id, item.number, item.title, item.status = contract.id, number, title, status
        item.lines.clear()
        session.flush()
        for existing, description, category_id, amount in lines:
            item.lines.append(PrimeChangeOrderLine(
                contract_item_id=int(existing) if existing else None, description=description,
                category_id=int(category_id), amount=amount))
        session.flush()
        return item

    def prerequisites(self, session, item):
        reasons = []
        if len(item.title) > 255:
            reasons.append("The title must be 255 characters or less.")
        if len(item.number) > 20:
            reasons.append("The # must be 20 characters or less (Sage's Chg Mgt Ref).")
        if item.status not in PCCO_SENDABLE:
            reasons.append(f"The status is {item.status}: the PCCO must be Approved (or pending, "
                           "for the accounting approver to approve it on export).")
        if not item.contract.sage_contract_id or not item.project.sage_job_id:
            reasons.append("The prime contract is not synced with Sage: import it from Sage first.")
        if not item.lines:
            reasons.append("The PCCO has no lines.")
        return reasons

    def _adds_item(self, item) -> bool:
        return any(l.contract_item_id is None for l in item.lines)

    def accept_fields(self, item):
        fields = [Field("transaction_date", "Transaction Date", kind="date", required=True)]
        if self._adds_item(item):
            fields.append(Field("new_item_code", "New Contract Item Code", required=True, maxlength=20,
                                help="The code of the contract item this PCCO adds."))
        return fields

    def export_defaults(self, item):
        return {"transaction_date": utcnow().date().isoformat(), "new_item_code": ""}

    def clean_export_fields(self, session, item, raw):
        errors = {}
        when = None
        try:
            when = parse_date(raw.get("transaction_date"), "transaction_date")
        except Invalid as exc:
            errors.update(exc.fields)
        code = ""
        if self._adds_item(item):
            code = check_length(errors, raw, "new_item_code", "New Contract Item Code", 20, required=True)
            if code and any(i.code.upper() == code.upper() for i in item.contract.items):
                errors["new_item_code"] = f"Contract item {code} already exists on this contract."
        invalid_if(errors)
        return {"transaction_date": when.isoformat(), "new_item_code": code}

    def build_batch(self, session, item, fields, batch_id):
        code = fields.get("new_item_code", "")
        return map_pcco(PCCOData(
            job=item.project.sage_job_id or "", contract=item.contract.sage_contract_id or "",
            number=item.number, title=item.title, date=date.fromisoformat(fields["transaction_date"]),
            estimate_lines=tuple(PCCOEstimateLineData(
                cost_code=l.category.cost_code.code, category=l.category.code,
                category_description=l.category.description, amount=l.amount) for l in item.lines),
            schedule_lines=tuple(PCCOScheduleLineData(
                contract_item=l.contract_item.code if l.contract_item else code, amount=l.amount,
                new_item=l.contract_item is None, description=l.description[:30]) for l in item.lines)),
            batch_id)

    def on_synced(self, session, item, fields, reference):
        """Accepting approves the PCCO; a new contract item joins the prime contract."""
        item.status = "Approved"
        code = fields.get("new_item_code")
        new_lines = [l for l in item.lines if l.contract_item_id is None]
        if code and new_lines:
            contract_item = PrimeContractItem(contract_id=item.contract_id, code=code,
                                              description=new_lines[0].description, amount=ZERO)
            session.add(contract_item)
            session.flush()
            for line in new_lines:
                line.contract_item_id = contract_item.id

    def erp_ref(self, fields, reference):
        return reference

    def summary(self, item):
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"PCCO {item.number} {item.title[:60]}", vendor="—",
                           amount=money(sum((l.amount for l in item.lines), ZERO)),
                           creator_id=item.created_by_id)


# ---- owner invoices -----------------------------------------------------------------------

class OwnerInvoiceType(ItemType):
    key = "owner_invoice"
    label = "Owner Invoice"
    plural = "Owner Invoices"
    noun = "owner invoice"
    model = OwnerInvoice
    bulk_note = ("Ticked owner invoices are exported with their defaults: invoice = invoice #, "
                 "accounting date = billing date.")
    accept_column = "period"   # the issue: Accept sits under the billing period column
    columns = (Column("Project", "project"), Column("Contract", "contract"), Column("Invoice #", "number"),
               Column("Billing Period", "period"), Column("Billing Date", "billing_date"),
               Column("Amount", "amount", "num"), Column("Retainage", "retainage", "num"))
    list_columns = columns[1:] + (Column("Status", "status"),)

    def load_options(self):
        return (selectinload(OwnerInvoice.project), selectinload(OwnerInvoice.contract),
                selectinload(OwnerInvoice.lines).selectinload(OwnerInvoiceLine.contract_item))

    def list_items(self, session, project_id):
        return list(session.scalars(select(OwnerInvoice).where(OwnerInvoice.project_id == project_id)
                                    .options(*self.load_options()).order_by(OwnerInvoice.id)))

    def row_values(self, item):
        return {"project": f"{item.project.number} {item.project.name}", "contract": item.contract.number,
                "number": item.number,
                "period": f"{mmddyyyy(item.period_start)} – {mmddyyyy(item.period_end)}",
                "billing_date": mmddyyyy(item.billing_date),
                "amount": money(sum((l.amount for l in item.lines), ZERO)),
                "retainage": money(sum((l.retainage for l in item.lines), ZERO)), "status": item.status}

    def search_ids(self, q):
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(OwnerInvoice.id).where(or_(like(OwnerInvoice.number, q),
                                                 OwnerInvoice.project_id.in_(projects)))

    def form_fields(self, session, project_id, item):
        return [Field("contract_id", "Prime Contract", kind="select", required=True,
                      choices=tuple((str(c.id), f"{c.number} {c.title}") for c in _contracts(session, project_id))),
                Field("number", "Invoice #", required=True, maxlength=40),
                Field("period_start", "Billing period start", kind="date", required=True),
                Field("period_end", "Billing period end", kind="date", required=True),
                Field("billing_date", "Billing date", kind="date", required=True),
                Field("status", "Status", kind="select", required=True,
                      choices=tuple((s, s) for s in INVOICE_STATUSES))]

    def line_fields(self, session, project_id):
        return [Field("contract_item_id", "Contract item", kind="select",
                      choices=_item_choices(session, project_id)),
                Field("amount", "Work completed this period", kind="number"),
                Field("retainage", "Retainage", kind="number")]

    def line_count(self, item):
        return (len(item.lines) if item else 0) + 3

    def form_values(self, item):
        values = {"contract_id": str(item.contract_id), "number": item.number,
                  "period_start": item.period_start.isoformat(), "period_end": item.period_end.isoformat(),
                  "billing_date": item.billing_date.isoformat(), "status": item.status}
        for n, l in enumerate(item.lines):
            values.update({f"line-{n}-contract_item_id": str(l.contract_item_id),
                           f"line-{n}-amount": str(l.amount), f"line-{n}-retainage": str(l.retainage)})
        return values

    def save(self, session, actor, project_id, item, form):
        errors = {}
        contract = _contract_of(session, project_id, form, errors)
        number = check_length(errors, form, "number", "Invoice #", 40, required=True)
        status = form.get("status") if form.get("status") in INVOICE_STATUSES else None
        if status is None:
            errors["status"] = "Choose a status."
        dates = {}
        for name in ("period_start", "period_end", "billing_date"):
            try:
                dates[name] = parse_date(form.get(name), name)
            except Invalid as exc:
                errors.update(exc.fields)
        if len(dates) == 3 and dates["period_start"] > dates["period_end"]:
            errors["period_end"] = "The billing period must end after it starts."
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
        return reasons

    def accept_fields(self, item):
        return [Field("erp_id", "Invoice (ERP ID)", maxlength=15, required=True),
                Field("description", "Description", maxlength=30, help="Optional, 30 characters."),
                Field("accounting_date", "Accounting Date", kind="date", required=True)]

    def export_defaults(self, item):
        return {"erp_id": item.number, "description": "", "accounting_date": item.billing_date.isoformat()}

    def clean_export_fields(self, session, item, raw):
        errors = {}
        erp_id = check_length(errors, raw, "erp_id", "Invoice (ERP ID)", 15, required=True)
        description = check_length(errors, raw, "description", "Description", 30)
        when = None
        try:
            when = parse_date(raw.get("accounting_date"), "accounting_date")
        except Invalid as exc:
            errors.update(exc.fields)
        invalid_if(errors)
        return {"erp_id": erp_id, "description": description, "accounting_date": when.isoformat()}

    def build_batch(self, session, item, fields, batch_id):
        return map_owner_invoice(OwnerInvoiceData(
            customer=item.contract.customer, contract=item.contract.sage_contract_id or "",
            job=item.project.sage_job_id or "", invoice=fields["erp_id"],
            description=fields.get("description", ""), invoice_date=item.billing_date,
            accounting_date=date.fromisoformat(fields["accounting_date"]),
            lines=tuple(OwnerInvoiceLineData(contract_item=l.contract_item.code,
                                             description=l.contract_item.description[:30],
                                             amount=l.amount, retainage=l.retainage)
                        for l in item.lines)), batch_id)

    def erp_ref(self, fields, reference):
        return fields.get("erp_id") or reference

    def summary(self, item):
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Owner invoice #{item.number}", vendor=item.contract.customer or "—",
                           amount=money(sum((l.amount for l in item.lines), ZERO)),
                           creator_id=item.created_by_id)


PCCOS = register(PCCOType())
OWNER_INVOICES = register(OwnerInvoiceType())
