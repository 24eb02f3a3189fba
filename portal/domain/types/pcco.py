"""Prime contract change orders (PCCOs): approved estimate changes and schedule value changes."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.domain.errors import Invalid
from portal.domain.models import (
    Category,
    CostCode,
    PrimeChangeOrder,
    PrimeChangeOrderLine,
    PrimeContract,
    PrimeContractItem,
    Project,
    utcnow,
)
from portal.domain.search import like
from portal.domain.types.base import Column, Detail, Field, Filters, ItemSummary, ItemType, check_length, invalid_if
from portal.domain.types.common import contract_item_choices, contract_of, contracts, line_sum
from portal.domain.values import money, parse_date, parse_money
from portal.exporters.sage300.mapping import map_pcco
from portal.exporters.sage300.records import PCCOData, PCCOEstimateLineData, PCCOScheduleLineData

ZERO = Decimal("0")
PCCO_STATUSES = ("Draft", "Pending - In Review", "Approved", "Rejected", "Void")
PCCO_SENDABLE = {"Approved", "Pending - In Review"}   # accepting approves a pending PCCO


# what the amount filter and a search for an amount compare (the lines' sum, in SQL)
AMOUNT = line_sum(PrimeChangeOrderLine.amount, PrimeChangeOrderLine.pcco_id, PrimeChangeOrder.id)


class PCCOType(ItemType):
    key = "pcco"
    label = "Prime Contract Change Order"
    plural = "Prime Contract Change Orders"
    noun = "PCCO"
    model = PrimeChangeOrder
    writes_back_on_sync = True
    sage_record_kind = "jc_pcco"
    bulk_note = "Ticked PCCOs are exported dated today; one adding a contract item needs its own Accept."
    filters = Filters(project=PrimeChangeOrder.project_id, amount=("Amount", AMOUNT), amounts=(AMOUNT,))
    columns = (Column("Project", "project"), Column("Contract", "contract"), Column("#", "number"),
               Column("Title", "title"), Column("Status", "status"), Column("Amount", "amount", "num"))
    list_columns = columns[1:]

    def load_options(self):
        lines = selectinload(PrimeChangeOrder.lines)
        return (joinedload(PrimeChangeOrder.project),
                joinedload(PrimeChangeOrder.contract).selectinload(PrimeContract.items),
                lines.joinedload(PrimeChangeOrderLine.contract_item),
                lines.joinedload(PrimeChangeOrderLine.category).joinedload(Category.cost_code))

    def list_items(self, session, project_id):
        return list(session.scalars(select(PrimeChangeOrder).where(
            PrimeChangeOrder.project_id == project_id).options(*self.load_options())
            .order_by(PrimeChangeOrder.id)))

    def row_values(self, item):
        return {"project": f"{item.project.number} {item.project.name}", "contract": item.contract.number,
                "number": item.number, "title": item.title, "status": item.status,
                "amount": money(sum((ln.amount for ln in item.lines), ZERO))}

    def detail(self, item, values) -> Detail:
        """Its header and its lines (the contract item each changes, the category's estimate), totalled."""
        rows: list[tuple[str, ...]] = [("Contract Item", "Cost Code", "Category", "Description", "Amount")]
        rows += [(ln.contract_item.code if ln.contract_item else "new", ln.category.cost_code.code,
                  ln.category.code, ln.description, money(ln.amount)) for ln in item.lines]
        rows.append(("Total", "", "", "", money(sum((ln.amount for ln in item.lines), ZERO))))
        return Detail(super().detail(item, values).fields, tuple(rows))

    def search_ids(self, q):
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(PrimeChangeOrder.id).where(or_(like(PrimeChangeOrder.number, q),
                                                     like(PrimeChangeOrder.title, q),
                                                     PrimeChangeOrder.project_id.in_(projects)))

    def form_fields(self, session, project_id, item):
        return [Field("contract_id", "Prime Contract", widget="select", required=True,
                      choices=tuple((str(c.id), f"{c.number} {c.title}") for c in contracts(session, project_id))),
                Field("number", "#", required=True, maxlength=40),
                Field("title", "Title", required=True, maxlength=300),
                Field("status", "Status", widget="select", required=True,
                      choices=tuple((s, s) for s in PCCO_STATUSES))]

    def line_fields(self, session, project_id):
        cats = session.execute(select(Category.id, CostCode.code, Category.code)
                               .join(CostCode, CostCode.id == Category.cost_code_id)
                               .where(CostCode.project_id == project_id)
                               .order_by(CostCode.code, Category.code)).all()
        return [Field("contract_item_id", "Contract item (empty: a new item)", widget="select",
                      choices=contract_item_choices(session, project_id)),
                Field("description", "Description", maxlength=120),
                Field("category_id", "Cost Code / Category (estimate)", widget="select",
                      choices=tuple((str(i), f"{cc} {cat}") for i, cc, cat in cats)),
                Field("amount", "Amount", widget="number")]

    def line_count(self, item):
        return (len(item.lines) if item else 0) + 3

    def form_values(self, item):
        values = {"contract_id": str(item.contract_id), "number": item.number, "title": item.title,
                  "status": item.status}
        for n, ln in enumerate(item.lines):
            values.update({f"line-{n}-contract_item_id": str(ln.contract_item_id or ""),
                           f"line-{n}-description": ln.description,
                           f"line-{n}-category_id": str(ln.category_id), f"line-{n}-amount": str(ln.amount)})
        return values

    def save(self, session, actor, project_id, item, form):
        errors: dict[str, str] = {}
        contract = contract_of(session, project_id, form, errors)
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
        assert contract is not None  # contract_of() recorded an error otherwise
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
        return any(ln.contract_item_id is None for ln in item.lines)

    def accept_fields(self, item):
        fields = [Field("transaction_date", "Transaction Date", widget="date", required=True)]
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
        assert when is not None  # parse_date() recorded an error otherwise
        return {"transaction_date": when.isoformat(), "new_item_code": code}

    def build_batch(self, session, item, fields, batch_id):
        code = fields.get("new_item_code", "")
        return map_pcco(PCCOData(
            job=item.project.sage_job_id or "", contract=item.contract.sage_contract_id or "",
            number=item.number, title=item.title, date=date.fromisoformat(fields["transaction_date"]),
            estimate_lines=tuple(PCCOEstimateLineData(
                cost_code=ln.category.cost_code.code, category=ln.category.code,
                category_description=ln.category.description, amount=ln.amount) for ln in item.lines),
            schedule_lines=tuple(PCCOScheduleLineData(
                contract_item=ln.contract_item.code if ln.contract_item else code, amount=ln.amount,
                new_item=ln.contract_item is None, description=ln.description[:30],
                # an item of another Sage contract imported into this prime contract: that contract's
                contract=(ln.contract_item.sage_contract_id or "") if ln.contract_item else "")
                for ln in item.lines)),
            batch_id)

    def on_synced(self, session, item, fields, reference):
        """Accepting approves the PCCO; a new contract item joins the prime contract."""
        item.status = "Approved"
        code = fields.get("new_item_code")
        new_lines = [ln for ln in item.lines if ln.contract_item_id is None]
        if code and new_lines:
            contract_item = PrimeContractItem(contract_id=item.contract_id, code=code,
                                              description=new_lines[0].description, amount=ZERO)
            session.add(contract_item)
            session.flush()
            for line in new_lines:
                line.contract_item_id = contract_item.id

    def unlink_reference(self, erp, item) -> dict:
        # a synced PCCO cannot be edited, so its number is still the Chg Mgmt Ref 1 it was sent with
        return {"job": item.project.sage_job_id or "", "ref_1": item.number}

    def summary(self, item):
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"PCCO {item.number} {item.title[:60]}", vendor="—",
                           amount=money(sum((ln.amount for ln in item.lines), ZERO)),
                           creator_id=item.created_by_id, number=item.number,
                           project_name=item.project.name)
