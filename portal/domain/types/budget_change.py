"""Budget changes: moves between budget lines, exported as approved estimate changes; never edited."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from portal.domain.errors import Invalid
from portal.domain.models import Budget, BudgetChange, BudgetChangeLine, Project, utcnow
from portal.domain.search import like
from portal.domain.types.base import Column, Field, Filters, ItemSummary, ItemType, check_length, invalid_if
from portal.domain.types.common import category_choices, codes_of, line_options, line_sum, parse_lines
from portal.domain.values import money
from portal.exporters.sage300.mapping import map_budget_change, map_cost_codes
from portal.exporters.sage300.records import BudgetChangeData, BudgetChangeLineData, CostCodesData

ZERO = Decimal("0")


# what the amount filter and a search for an amount compare (the lines' sum, in SQL)
AMOUNT = line_sum(BudgetChangeLine.amount, BudgetChangeLine.change_id, BudgetChange.id)


class BudgetChangeType(ItemType):
    key = "budget_change"
    label = "Budget Change"
    plural = "Budget Changes"
    model = BudgetChange
    editable_after_create = False
    bulk_note = "Ticked budget changes are exported as approved estimate changes."
    filters = Filters(project=BudgetChange.project_id, amount=("Net", AMOUNT), amounts=(AMOUNT,))
    columns = (Column("Project", "project"), Column("#", "number"), Column("Description", "description"),
               Column("Lines", "lines", "num"), Column("Net", "net", "num"))
    list_columns = columns[1:]

    def load_options(self):
        return (joinedload(BudgetChange.project), line_options(BudgetChange))

    def list_items(self, session, project_id):
        return list(session.scalars(select(BudgetChange).where(BudgetChange.project_id == project_id)
                                    .options(*self.load_options()).order_by(BudgetChange.id)))

    def row_values(self, item: BudgetChange) -> dict:
        return {"project": f"{item.project.number} {item.project.name}", "number": item.number,
                "description": item.description, "lines": len(item.lines),
                "net": money(sum((ln.amount for ln in item.lines), ZERO))}

    def search_ids(self, q):
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(BudgetChange.id).where(or_(like(BudgetChange.number, q),
                                                 like(BudgetChange.description, q),
                                                 BudgetChange.project_id.in_(projects)))

    def form_fields(self, session, project_id, item):
        return [Field("number", "Budget Change #", required=True, maxlength=36),
                Field("description", "Description", maxlength=120)]

    def line_fields(self, session, project_id):
        return [Field("category_id", "From / To Cost Code and Category", widget="select",
                      choices=category_choices(session, project_id)),
                Field("amount", "Amount (negative: from)", widget="number")]

    def line_count(self, item):
        return (len(item.lines) if item else 0) + 4

    def form_values(self, item):
        return {"number": item.number, "description": item.description}

    def save(self, session, actor, project_id, item, form):
        if item is not None:
            raise Invalid("Once a budget change has been created, it cannot be edited.")
        errors: dict[str, str] = {}
        number = check_length(errors, form, "number", "Budget Change #", 36, required=True)
        description = check_length(errors, form, "description", "Description", 120)
        lines, line_errors = parse_lines(session, project_id, form, self.line_count(None),
                                          ("amount",), "amount")
        errors.update(line_errors)
        if not lines and not errors:
            errors["_"] = "Add at least one from/to line."
        invalid_if(errors)
        item = BudgetChange(project_id=project_id, number=number, description=description,
                            created_by_id=actor.id, created_at=utcnow())
        session.add(item)
        session.flush()
        for line in lines:
            session.add(BudgetChangeLine(change_id=item.id, category_id=int(line["category_id"]),
                                         amount=line["amount"] or ZERO))
        session.flush()
        return item

    def prerequisites(self, session, item: BudgetChange):
        reasons = []
        if not item.project.sage_job_id:
            reasons.append("The project is not synced with a Sage 300 CRE job.")
        budget = session.scalars(select(Budget).where(Budget.project_id == item.project_id)).first()
        if budget is None or not budget.locked:
            reasons.append("Export the project's budget first: changes update an exported budget.")
        if not item.lines:
            reasons.append("The budget change has no lines.")
        return reasons

    def accept_details(self, item: BudgetChange):
        rows = [("Cost Code", "Category", "Amount")]
        rows += [(ln.category.cost_code.code, ln.category.code, money(ln.amount)) for ln in item.lines]
        return rows

    def build_batches(self, session, item: BudgetChange, fields, batch_id):
        job = item.project.sage_job_id or ""
        codes = map_cost_codes(CostCodesData(job=job, extra="", cost_codes=codes_of(item.lines)),
                               batch_id + "-codes")
        change = map_budget_change(BudgetChangeData(
            job=job, date=utcnow().date(), reference=item.number,
            lines=tuple(BudgetChangeLineData(cost_code=ln.category.cost_code.code,
                                             category=ln.category.code, amount=ln.amount,
                                             description=item.description[:30])
                        for ln in item.lines)), batch_id)
        return [codes, change]

    def summary(self, item: BudgetChange) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Budget change {item.number}", vendor="—",
                           amount=money(sum((ln.amount for ln in item.lines), ZERO)),
                           creator_id=item.created_by_id, number=item.number,
                           project_name=item.project.name)
