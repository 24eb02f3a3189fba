"""Commitments: subcontracts and purchase orders with their schedule of values lines."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, object_session, selectinload

from portal.domain import settings
from portal.domain.errors import Invalid
from portal.domain.models import Category, Commitment, CommitmentLine, CostCode, Project, Vendor, utcnow
from portal.domain.search import like
from portal.domain.types.base import (
    Column,
    Detail,
    Field,
    Filters,
    ItemSummary,
    ItemType,
    check_length,
    exporting_with,
    invalid_if,
)
from portal.domain.types.common import line_sum
from portal.domain.values import as_id, money, parse_money
from portal.exporters.sage300.mapping import map_commitment
from portal.exporters.sage300.records import CommitmentData, CommitmentItemData

SAGE_ID_MAX = 12
TITLE_MAX = 30
COMMITMENT_TYPES = (("subcontract", "Subcontract"), ("purchase_order", "Purchase Order"))
# the guide's Accounting Method: dollars per line, or units at a unit cost (invoices send the quantity)
ACCOUNTING_METHODS = (("amount", "Amount-based"), ("unit", "Unit/Quantity-based"))
CENT = Decimal("0.01")
STATUSES = ("Draft", "Out for Bid", "Out for Signature", "Approved", "Complete", "Terminated", "Void")
SENDABLE = {"subcontract": {"Approved", "Complete"}, "purchase_order": {"Approved"}}
BLANK_LINES = 3


# what the amount filter and a search for an amount compare (the lines' sum, in SQL)
AMOUNT = line_sum(CommitmentLine.amount, CommitmentLine.commitment_id, Commitment.id)


class CommitmentType(ItemType):
    key = "commitment"
    label = "Commitment"
    plural = "Commitments"
    model = Commitment
    direct_export_setting = "commitments"
    erp_id_field = "sage_id"
    sage_record_kind = "jc_commitment"
    writes_back_on_sync = True
    bulk_note = ("Ticked commitments are exported with their contract number as Sage ID when "
                 "that setting is on; otherwise give each its own Sage ID.")
    asks_each = ("sage_id",)
    filters = Filters(project=Commitment.project_id, vendor=Commitment.vendor_id, amount=("Amount", AMOUNT),
                      amounts=(AMOUNT,))
    columns = (Column("Project", "project"), Column("Contract #", "number", sort=Commitment.number),
               Column("Title", "title", sort=Commitment.title),
               Column("Type", "commitment_type"), Column("Contract Company", "vendor"), Column("Status", "status"),
               Column("Amount", "amount", "num"))
    list_columns = columns[1:] + (Column("Sage ID", "sage_id"),)

    def load_options(self):
        return (joinedload(Commitment.project), joinedload(Commitment.vendor),
                selectinload(Commitment.lines).joinedload(CommitmentLine.category)
                .joinedload(Category.cost_code).joinedload(CostCode.sub_job))

    def list_items(self, session, project_id):
        return list(session.scalars(select(Commitment).where(Commitment.project_id == project_id)
                                    .options(*self.load_options()).order_by(Commitment.number)))

    def insurance_subject(self, item: Commitment) -> tuple[str, int] | None:
        return item.commitment_type, item.vendor_id

    def row_values(self, item: Commitment) -> dict:
        return {"project": f"{item.project.number} {item.project.name}", "number": item.number,
                "title": item.title,
                "commitment_type": dict(COMMITMENT_TYPES).get(item.commitment_type, item.commitment_type),
                "vendor": item.vendor.name, "status": item.status, "amount": money(item.total),
                "accounting_method": dict(ACCOUNTING_METHODS)[item.accounting_method],
                "sage_id": item.erp_commitment_id or ""}

    def search_ids(self, q):
        vendors = select(Vendor.id).where(like(Vendor.name, q))
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(Commitment.id).where(or_(like(Commitment.number, q), like(Commitment.title, q),
                                               Commitment.vendor_id.in_(vendors),
                                               Commitment.project_id.in_(projects)))

    # ---- the project-side form: header fields and SOV lines ------------------------------
    def form_fields(self, session, project_id, item):
        vendors = session.scalars(select(Vendor).order_by(Vendor.name)).all()
        return [Field("number", "Contract #", required=True, maxlength=40),
                Field("title", "Title", required=True, maxlength=120),
                Field("commitment_type", "Type", widget="select", required=True, choices=COMMITMENT_TYPES),
                Field("vendor_id", "Contract Company", widget="select", required=True,
                      choices=tuple((str(v.id), v.name + (f" ({v.erp_vendor_id})" if v.erp_vendor_id else ""))
                                    for v in vendors)),
                Field("status", "Status", widget="select", required=True,
                      choices=tuple((s, s) for s in STATUSES)),
                Field("retainage_pct", "Default Retainage %", widget="number", maxlength=6),
                Field("accounting_method", "Accounting Method", widget="select", required=True,
                      choices=ACCOUNTING_METHODS,
                      help="Unit/Quantity-based: every line has a Qty and a Unit Cost, and invoices "
                           "send the quantity billed.")]

    def line_fields(self, session, project_id) -> list[Field]:
        """The columns of one schedule-of-values line (a blank line is ignored)."""
        categories = session.execute(
            select(Category.id, CostCode.code, Category.code, Category.description)
            .join(CostCode, CostCode.id == Category.cost_code_id)
            .where(CostCode.project_id == project_id).order_by(CostCode.code, Category.code)).all()
        return [Field("description", "Description", maxlength=120),
                Field("category_id", "Cost Code / Category", widget="select",
                      choices=tuple((str(i), f"{cc} {cat} {desc}") for i, cc, cat, desc in categories)),
                Field("amount", "Amount", widget="number"),
                Field("units", "Qty", widget="number"),
                Field("unit_cost", "Unit Cost", widget="number"),
                Field("unit_description", "Units (UOM)", maxlength=20)]

    def form_values(self, item: Commitment):
        values = {"number": item.number, "title": item.title, "commitment_type": item.commitment_type,
                  "vendor_id": str(item.vendor_id), "status": item.status,
                  "retainage_pct": str(item.retainage_pct), "accounting_method": item.accounting_method}
        for n, line in enumerate(item.lines):
            values.update({f"line-{n}-description": line.description,
                           f"line-{n}-category_id": str(line.category_id),
                           f"line-{n}-amount": str(line.amount),
                           f"line-{n}-units": "" if line.units is None else str(line.units),
                           f"line-{n}-unit_cost": "" if line.unit_cost is None else str(line.unit_cost),
                           f"line-{n}-unit_description": line.unit_description or ""})
        return values

    def line_count(self, item: Commitment | None) -> int:
        return (len(item.lines) if item else 0) + BLANK_LINES

    def save(self, session, actor, project_id, item, form):
        errors: dict[str, str] = {}
        number = check_length(errors, form, "number", "Contract #", 40, required=True)
        title = check_length(errors, form, "title", "Title", 120, required=True)
        commitment_type = form.get("commitment_type") if form.get("commitment_type") in dict(COMMITMENT_TYPES) else None
        if commitment_type is None:
            errors["commitment_type"] = "Choose Subcontract or Purchase Order."
        status = form.get("status") if form.get("status") in STATUSES else None
        if status is None:
            errors["status"] = "Choose a status."
        vendor_id = as_id(form.get("vendor_id"))
        if vendor_id is None or session.get(Vendor, vendor_id) is None:
            errors["vendor_id"] = "Choose the contract company."
        try:
            retainage = parse_money(form.get("retainage_pct") or "0", "retainage_pct")
            if not Decimal("0") <= retainage <= Decimal("100"):
                errors["retainage_pct"] = "Retainage is a percentage from 0 to 100."
        except Invalid as exc:
            errors.update(exc.fields)
            retainage = Decimal("0")
        method = form.get("accounting_method") or "amount"
        if method not in dict(ACCOUNTING_METHODS):
            errors["accounting_method"] = "Choose Amount-based or Unit/Quantity-based."
        valid_categories = {str(i) for i in session.scalars(
            select(Category.id).join(CostCode).where(CostCode.project_id == project_id))}
        lines = []
        for n in range(self.line_count(item) + 20):
            prefix = f"line-{n}-"
            if not any(form.get(prefix + f) for f in ("description", "category_id", "amount", "units")):
                continue
            line: dict[str, Any] = {"description": (form.get(prefix + "description") or "").strip()}
            if not line["description"]:
                errors[prefix + "description"] = "A line needs a description."
            if form.get(prefix + "category_id") not in valid_categories:
                errors[prefix + "category_id"] = "Choose a cost code and category of this project."
            for part in ("amount", "units", "unit_cost"):
                raw = form.get(prefix + part)
                places = "0.01" if part == "amount" else "0.0001"  # quantities and unit costs: 4 places
                try:
                    needed = part == "amount" and method != "unit"  # a unit line's amount may be left to Qty x cost
                    line[part] = parse_money(raw, prefix + part, places) if (raw or needed) else None
                except Invalid as exc:
                    errors.update(exc.fields)
            if method == "unit":
                unit_line_errors(errors, prefix, line)
            line["category_id"] = form.get(prefix + "category_id")
            line["unit_description"] = (form.get(prefix + "unit_description") or "").strip()[:20]
            lines.append(line)
        invalid_if(errors)
        if item is None:
            item = Commitment(project_id=project_id, created_by_id=actor.id, created_at=utcnow(),
                              number=number, title=title, commitment_type=commitment_type, status=status,
                              vendor_id=vendor_id, retainage_pct=retainage)
            session.add(item)
            session.flush()
            session.refresh(item, ["lines"])
        item.number, item.title, item.commitment_type, item.status = number, title, commitment_type, status
        item.vendor_id, item.retainage_pct, item.accounting_method = vendor_id, retainage, method
        for old in list(item.lines):
            item.lines.remove(old)
        session.flush()
        for n, line in enumerate(lines, start=1):
            units = line.get("units")
            item.lines.append(CommitmentLine(
                line_no=n, description=line["description"], category_id=int(line["category_id"]),
                amount=line["amount"] or Decimal("0"),
                units=units.quantize(Decimal("0.0001")) if units is not None else None,
                unit_cost=line.get("unit_cost"), unit_description=line["unit_description"]))
        session.flush()
        return item

    # ---- the lifecycle's parts ---------------------------------------------------------
    def linked_ref(self, item):
        return item.erp_commitment_id

    def prerequisites(self, session, item: Commitment):
        reasons = []
        if item.erp_commitment_id:
            reasons.append(f"This commitment is already synced as Sage commitment {item.erp_commitment_id}.")
        if not item.project.sage_job_id:
            reasons.append("The project is not synced with a Sage 300 CRE job.")
        if len(item.number) > SAGE_ID_MAX:
            reasons.append(f"The contract # must be {SAGE_ID_MAX} characters or less (Sage's limit).")
        if len(item.title) > TITLE_MAX:
            reasons.append(f"The title must be {TITLE_MAX} characters or less (Sage's limit).")
        if not item.vendor.erp_vendor_id:
            reasons.append(f"The contract company {item.vendor.name} is not linked to a synced "
                           "Sage vendor.")
        if item.status not in SENDABLE.get(item.commitment_type, set()):
            needed = "Approved or Complete" if item.commitment_type == "subcontract" else "Approved"
            reasons.append(f"The status is {item.status}: a {dict(COMMITMENT_TYPES)[item.commitment_type].lower()} "
                           f"must be {needed}.")
        if not item.lines:
            reasons.append("Add at least one schedule of values line with a Sage cost code and category.")
        return reasons

    def accept_fields(self, item):
        return [Field("sage_id", "Sage 300 CRE ID", maxlength=SAGE_ID_MAX, required=True,
                      help="12 characters, unique.")]

    def export_defaults(self, item: Commitment):
        """The contract # when the "use contract number as Sage ID" setting is on."""
        session = object_session(item)
        use_number = settings.load(session).use_contract_number_as_sage_id if session else False
        return {"sage_id": item.number if use_number else ""}

    def bulk_asks(self, session):
        """The Sage ID is asked of each commitment unless the contract number is its default."""
        return () if settings.load(session).use_contract_number_as_sage_id else self.asks_each

    def clean_export_fields(self, session, item, raw):
        errors: dict[str, str] = {}
        sage_id = check_length(errors, raw, "sage_id", "Sage 300 CRE ID", SAGE_ID_MAX, required=True)
        if sage_id and session.scalar(select(func.count()).select_from(Commitment).where(
                func.upper(Commitment.erp_commitment_id) == sage_id.upper(), Commitment.id != item.id)):
            errors["sage_id"] = f"Sage ID {sage_id} is already used by another commitment."
        elif sage_id and exporting_with(session, self.key, "sage_id", sage_id, item.id):
            errors["sage_id"] = f"Sage ID {sage_id} is being exported for another commitment."
        invalid_if(errors)
        return {"sage_id": sage_id}

    def build_batch(self, session, item: Commitment, fields, batch_id):
        # units travel for purchase orders (the guide: "typically") and every unit-based commitment
        po = item.commitment_type == "purchase_order" or item.accounting_method == "unit"
        items = tuple(CommitmentItemData(
            item=str(line.line_no), description=line.description,
            cost_code=line.category.cost_code.code, category=line.category.code,
            extra=(line.category.cost_code.sub_job.sage_extra_id or "") if line.category.cost_code.sub_job else "",
            amount=line.amount, units=line.units if po else None,
            unit_cost=line.unit_cost if po else None,
            unit_description=line.unit_description if po else "") for line in item.lines)
        return map_commitment(CommitmentData(
            commitment=fields["sage_id"], commitment_type=dict(COMMITMENT_TYPES)[item.commitment_type],
            description=item.title, vendor=item.vendor.erp_vendor_id or "",
            job=item.project.sage_job_id or "", date=(item.created_at or utcnow()).date(),
            retainage_pct=item.retainage_pct or Decimal("0"), items=items), batch_id)

    def on_synced(self, session, item: Commitment, fields, reference):
        item.erp_commitment_id = fields["sage_id"]

    def on_unlinked(self, session, item: Commitment):
        item.erp_commitment_id = None

    def unlink_reference(self, erp, item: Commitment) -> dict:
        return {"commitment": item.erp_commitment_id or (erp.export_fields or {}).get("sage_id") or erp.erp_ref or ""}

    def detail(self, item: Commitment, values: dict) -> Detail:
        """Its header and its schedule of values, totalled."""
        head = super().detail(item, values).fields + (
            ("Type", item.commitment_type.replace("_", " ")), ("Accounting method", item.accounting_method),
            ("Retainage %", str(item.retainage_pct)))
        rows: list[tuple[str, ...]] = [("Item", "Cost Code", "Category", "Description", "Units", "Unit Cost", "Amount")]
        rows += [(str(ln.line_no), ln.category.cost_code.code, ln.category.code, ln.description,
                  "" if ln.units is None else str(ln.units), "" if ln.unit_cost is None else str(ln.unit_cost),
                  money(ln.amount)) for ln in item.lines]
        rows.append(("Total", "", "", "", "", "", money(item.total)))
        return Detail(head, tuple(rows), "Schedule of values")

    def summary(self, item: Commitment) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Commitment {item.number} {item.title}", vendor=item.vendor.name,
                           amount=money(item.total), creator_id=item.created_by_id, number=item.number,
                           project_name=item.project.name)


def unit_line_errors(errors: dict, prefix: str, line: dict) -> None:
    """A unit-based line: Qty and Unit Cost required, its amount Qty x Unit Cost (within a cent,
    as Sage checks it); a blank amount is filled in from them."""
    units, cost = line.get("units"), line.get("unit_cost")
    if units is None:
        errors[prefix + "units"] = "A unit-based commitment's line needs its Qty."
    if cost is None:
        errors[prefix + "unit_cost"] = "A unit-based commitment's line needs its Unit Cost."
    if units is None or cost is None:
        return
    product = (units * cost).quantize(CENT, rounding=ROUND_HALF_UP)
    if line.get("amount") is None:
        line["amount"] = product
    elif abs(product - line["amount"]) > CENT:
        errors[prefix + "amount"] = f"The amount must be Qty × Unit Cost ({product:,.2f})."
