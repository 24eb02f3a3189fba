"""Budgets: a project's original estimates, exported with their new cost codes."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, object_session

from portal.domain import settings
from portal.domain.errors import Invalid
from portal.domain.links import link_cost_codes
from portal.domain.models import Budget, BudgetChange, BudgetChangeLine, BudgetLine, ErpItem, Project, utcnow
from portal.domain.search import like
from portal.domain.types.base import Column, Field, Filters, ItemSummary, ItemType, invalid_if
from portal.domain.types.common import category_choices, codes_of, line_options, line_sum, parse_lines
from portal.domain.values import money
from portal.exporters.sage300.mapping import map_budget, map_cost_codes
from portal.exporters.sage300.records import BudgetData, BudgetLineData, CostCodesData

BLANK_LINES = 3
ZERO = Decimal("0")


def _text(amount: Decimal | None) -> str:
    return "" if amount is None else str(amount)


# what the amount filter and a search for an amount compare (the lines' sum, in SQL)
AMOUNT = line_sum(BudgetLine.original, BudgetLine.budget_id, Budget.id)


class BudgetType(ItemType):
    key = "budget"
    label = "Budget"
    plural = "Budgets"
    model = Budget
    writes_back_on_sync = True
    bulk_note = "Ticked budgets are exported with the company's forecast setting."
    filters = Filters(project=Budget.project_id, amount=("Original Budget", AMOUNT), amounts=(AMOUNT,))
    columns = (Column("Project", "project"), Column("Lines", "lines", "num"),
               Column("Original Budget", "original", "num"),
               Column("Approved Changes", "changes", "num"), Column("Revised Budget", "revised", "num"))
    list_columns = columns[1:] + (Column("Locked", "locked"),)

    def load_options(self):
        return (joinedload(Budget.project), line_options(Budget))

    def list_items(self, session, project_id):
        return list(session.scalars(select(Budget).where(Budget.project_id == project_id)
                                    .options(*self.load_options())))

    @staticmethod
    def _synced_changes(session, project_ids) -> dict[int, dict[int, Decimal]]:
        """Synced budget changes per project and category id, in one grouped query."""
        rows = session.execute(
            select(BudgetChange.project_id, BudgetChangeLine.category_id, func.sum(BudgetChangeLine.amount))
            .join(BudgetChange, BudgetChange.id == BudgetChangeLine.change_id)
            .join(ErpItem, (ErpItem.item_type == "budget_change") & (ErpItem.item_id == BudgetChange.id))
            .where(BudgetChange.project_id.in_(project_ids), ErpItem.state == "synced")
            .group_by(BudgetChange.project_id, BudgetChangeLine.category_id)).all() if project_ids else []
        result: dict[int, dict[int, Decimal]] = {}
        for project_id, category_id, total in rows:
            result.setdefault(project_id, {})[category_id] = total or ZERO
        return result

    def _changes(self, item: Budget) -> dict[int, Decimal]:
        session = object_session(item)
        return self._synced_changes(session, [item.project_id]).get(item.project_id, {}) if session else {}

    def row_values_many(self, session, items):
        changes = self._synced_changes(session, [i.project_id for i in items])
        return {i.id: self.row_values(i, changes.get(i.project_id, {})) for i in items}

    def row_values(self, item: Budget, changes_by_category: dict | None = None) -> dict:
        original = sum((ln.original for ln in item.lines), ZERO)
        if changes_by_category is None:
            changes_by_category = self._changes(item)
        changes = sum(changes_by_category.values(), ZERO)
        return {"project": f"{item.project.number} {item.project.name}", "lines": len(item.lines),
                "original": money(original), "changes": money(changes),
                "revised": money(original + changes), "locked": "Yes" if item.locked else "No",
                "number": f"{item.project.number}"}

    def search_ids(self, q):
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(Budget.id).where(Budget.project_id.in_(projects))

    def form_fields(self, session, project_id, item):
        return []

    def line_fields(self, session, project_id):
        return [Field("category_id", "Cost Code / Category", widget="select",
                      choices=category_choices(session, project_id)),
                Field("original", "Original Budget", widget="number"),
                Field("estimated_cost_at_completion", "Estimated Cost at Completion", widget="number"),
                Field("forecast_to_complete", "Forecast to Complete", widget="number")]

    def line_count(self, item):
        return (len(item.lines) if item else 0) + BLANK_LINES

    def form_values(self, item: Budget):
        values = {}
        for n, line in enumerate(item.lines):
            values.update({f"line-{n}-category_id": str(line.category_id),
                           f"line-{n}-original": str(line.original),
                           f"line-{n}-estimated_cost_at_completion": _text(line.estimated_cost_at_completion),
                           f"line-{n}-forecast_to_complete": _text(line.forecast_to_complete)})
        return values

    def save(self, session, actor, project_id, item, form):
        if item is None and session.scalar(select(func.count()).select_from(Budget).where(
                Budget.project_id == project_id)):
            raise Invalid("This project already has a budget: edit it instead.")
        if item is not None and item.locked:
            raise Invalid("The budget was exported to Sage and is locked.")
        lines, errors = parse_lines(session, project_id, form, self.line_count(item),
                                     ("original", "estimated_cost_at_completion", "forecast_to_complete"),
                                     "original")
        seen = set()
        for n, line in enumerate(lines):
            if line["category_id"] in seen:
                errors[f"line-{n}-category_id"] = "Each cost code and category once per budget."
            seen.add(line["category_id"])
        invalid_if(errors)
        if item is None:
            item = Budget(project_id=project_id, created_by_id=actor.id, locked=False)
            session.add(item)
            session.flush()
            session.refresh(item, ["lines"])
        item.lines.clear()
        session.flush()
        for line in lines:
            item.lines.append(BudgetLine(category_id=int(line["category_id"]), original=line["original"] or ZERO,
                                         estimated_cost_at_completion=line["estimated_cost_at_completion"],
                                         forecast_to_complete=line["forecast_to_complete"]))
        session.flush()
        return item

    def prerequisites(self, session, item: Budget):
        reasons = []
        if item.locked:
            reasons.append("The budget was exported to Sage and is locked; change it with budget changes.")
        if not item.project.sage_job_id:
            reasons.append("The project is not synced with a Sage 300 CRE job.")
        if not item.lines:
            reasons.append("Add at least one budget line.")
        return reasons

    def accept_fields(self, item):
        return [Field("export_forecast", "Export cost forecast? (Estimated Cost at Completion and "
                      "Forecast to Complete as Misc worksheet 1 and 2)", widget="checkbox")]

    def accept_details(self, item: Budget):
        changes = self._changes(item)
        rows = [("Cost Code", "Category", "Original", "Changes", "Revised")]
        for line in item.lines:
            change = changes.get(line.category_id, ZERO)
            rows.append((line.category.cost_code.code, line.category.code, money(line.original),
                         money(change), money(line.original + change)))
        return rows

    def export_defaults(self, item: Budget):
        session = object_session(item)
        on = settings.load(session).export_forecast_amounts if session else False
        return {"export_forecast": "on" if on else ""}

    def clean_export_fields(self, session, item, raw):
        return {"export_forecast": raw.get("export_forecast") in ("on", "1", "true", "y", True)}

    def build_batches(self, session, item: Budget, fields, batch_id):
        job = item.project.sage_job_id or ""
        codes = map_cost_codes(CostCodesData(job=job, extra="", cost_codes=codes_of(item.lines)),
                               batch_id + "-codes")
        budget = map_budget(BudgetData(
            job=job, date=utcnow().date(), export_forecast=bool(fields.get("export_forecast")),
            lines=tuple(BudgetLineData(cost_code=ln.category.cost_code.code, category=ln.category.code,
                                       original=ln.original,
                                       estimated_cost_at_completion=ln.estimated_cost_at_completion,
                                       forecast_to_complete=ln.forecast_to_complete)
                        for ln in item.lines)), batch_id)
        return [codes, budget]

    def on_synced(self, session, item: Budget, fields, reference):
        item.locked = True
        # new cost codes are exported with the budget (2025 release note): synced now
        codes = {line.category.cost_code.id: line.category.cost_code for line in item.lines}
        link_cost_codes(session, codes.values(), item.project.sage_job_id or "", "", None,
                        "exported with the budget")

    def summary(self, item: Budget) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Budget of {item.project.number}", vendor="—",
                           amount=money(sum((ln.original for ln in item.lines), ZERO)),
                           creator_id=item.created_by_id, number=item.project.number,
                           project_name=item.project.name)
