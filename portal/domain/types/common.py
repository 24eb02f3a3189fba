"""What several item types' forms and exports share: lines on cost codes, prime contracts."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.domain.errors import Invalid
from portal.domain.models import (
    Budget,
    BudgetChangeLine,
    BudgetLine,
    Category,
    Commitment,
    CostCode,
    PrimeContract,
    PrimeContractItem,
)
from portal.domain.values import as_id, parse_money
from portal.exporters.sage300.records import CategoryData, CostCodeData


def line_sum(amount, owner_key, owner_id):
    """The sum of an item's line amounts as a column of a query on the item (0 without lines):
    the grid filters and searches its amount without loading a line."""
    return func.coalesce(select(func.sum(amount)).where(owner_key == owner_id).scalar_subquery(), 0)


def vendor_through_commitment(commitment_id):
    """The vendor id of the commitment an item belongs to, as a column of a query on the item."""
    return select(Commitment.vendor_id).where(Commitment.id == commitment_id).scalar_subquery()


def cost_code_data(codes) -> tuple[CostCodeData, ...]:
    return tuple(CostCodeData(c.code, c.description,
                              tuple(CategoryData(cat.code, cat.description) for cat in c.categories))
                 for c in codes)


def category_choices(session, project_id):
    rows = session.execute(select(Category.id, CostCode.code, Category.code, Category.description)
                           .join(CostCode, CostCode.id == Category.cost_code_id)
                           .where(CostCode.project_id == project_id, CostCode.sub_job_id.is_(None))
                           .order_by(CostCode.code, Category.code)).all()
    return tuple((str(i), f"{cc} {cat} {desc}") for i, cc, cat, desc in rows)


def parse_lines(session, project_id, form, count, parts, required_part):
    """Lines from line-<n>-<part> form keys; a line with nothing filled in is ignored."""
    valid = {v for v, _ in category_choices(session, project_id)}
    errors, lines = {}, []
    for n in range(count + 20):
        prefix = f"line-{n}-"
        if not any(form.get(prefix + p) for p in ("category_id",) + parts):
            continue
        line = {"category_id": form.get(prefix + "category_id")}
        if line["category_id"] not in valid:
            errors[prefix + "category_id"] = "Choose a cost code and category of this project."
        for part in parts:
            raw = form.get(prefix + part)
            try:
                line[part] = parse_money(raw, prefix + part) if (raw or part == required_part) else None
            except Invalid as exc:
                errors.update(exc.fields)
        lines.append(line)
    return lines, errors


def codes_of(lines) -> tuple[CostCodeData, ...]:
    """The cost codes and categories the lines use, so new ones reach Sage first."""
    codes: dict[str, tuple] = {}
    for line in lines:
        cc = line.category.cost_code
        entry = codes.setdefault(cc.code, (cc.description, {}))
        entry[1][line.category.code] = line.category.description
    return tuple(CostCodeData(code, desc, tuple(CategoryData(c, d) for c, d in cats.items()))
                 for code, (desc, cats) in codes.items())


def line_options(model):
    """A budget's (or budget change's) lines with their cost code and category, in one query."""
    return selectinload(model.lines).joinedload(
        BudgetLine.category if model is Budget else BudgetChangeLine.category).joinedload(Category.cost_code)



# ---- prime contracts ------------------------------------------------------------------------

def contracts(session, project_id):
    return session.scalars(select(PrimeContract).where(PrimeContract.project_id == project_id)
                           .options(selectinload(PrimeContract.items)).order_by(PrimeContract.number)).all()


def contract_of(session, project_id, form, errors) -> PrimeContract | None:
    contract_id = as_id(form.get("contract_id"))
    contract = session.scalars(select(PrimeContract).where(PrimeContract.id == contract_id)
                               .options(selectinload(PrimeContract.items))).first() if contract_id else None
    if contract is None or contract.project_id != project_id:
        errors["contract_id"] = "Choose the project's prime contract."
        return None
    return contract


def contract_item_choices(session, project_id):
    rows = session.execute(select(PrimeContractItem.id, PrimeContract.number, PrimeContractItem.code,
                                  PrimeContractItem.description)
                           .join(PrimeContract, PrimeContract.id == PrimeContractItem.contract_id)
                           .where(PrimeContract.project_id == project_id)
                           .order_by(PrimeContract.number, PrimeContractItem.id)).all()
    return tuple((str(i), f"{n} {code} {d}") for i, n, code, d in rows)
