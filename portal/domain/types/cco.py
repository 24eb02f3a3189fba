"""Commitment change orders (CCOs) on synced commitments: CO items, and new commitment items first."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.domain.errors import Conflict, Invalid
from portal.domain.models import (
    Category,
    CCOLine,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLine,
    CostCode,
    InvoiceLine,
    Project,
    utcnow,
)
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
from portal.domain.types.commitment import unit_line_errors
from portal.domain.types.common import line_sum, vendor_through_commitment
from portal.domain.values import as_id, money, parse_money
from portal.exporters.sage300.mapping import map_cco_imports
from portal.exporters.sage300.records import CCOData, CCOLineData, CommitmentItemData

STATUSES = ("Draft", "Pending", "Approved", "Void")
CCO_ID_MAX = 10
DESCRIPTION_MAX = 30
ZERO = Decimal("0")


# what the amount filter and a search for an amount compare (the lines' sum, in SQL)
AMOUNT = line_sum(CCOLine.amount, CCOLine.cco_id, CommitmentChangeOrder.id)


class CCOType(ItemType):
    key = "cco"
    label = "Commitment Change Order"
    plural = "Commitment Change Orders"
    noun = "CCO"
    model = CommitmentChangeOrder
    direct_export_setting = "ccos"
    erp_id_field = "cco_id"
    sage_record_kind = "jc_commitment_co"
    writes_back_on_sync = True
    bulk_note = "Ticked CCOs are exported with their number as CCO ID and their title as description."
    filters = Filters(project=CommitmentChangeOrder.project_id,
                      vendor=vendor_through_commitment(CommitmentChangeOrder.commitment_id),
                      amount=("Amount", AMOUNT), amounts=(AMOUNT,))
    columns = (Column("Project", "project"), Column("Commitment", "commitment"), Column("#", "number"),
               Column("Title", "title"), Column("Status", "status"), Column("Amount", "amount", "num"))
    list_columns = columns[1:]

    def load_options(self):
        lines = selectinload(CommitmentChangeOrder.lines)
        commitment = joinedload(CommitmentChangeOrder.commitment)
        return (joinedload(CommitmentChangeOrder.project), commitment.joinedload(Commitment.vendor),
                commitment.selectinload(Commitment.lines),
                lines.joinedload(CCOLine.commitment_line).joinedload(CommitmentLine.category)
                .joinedload(Category.cost_code),
                lines.joinedload(CCOLine.category).joinedload(Category.cost_code))

    def list_items(self, session, project_id):
        return list(session.scalars(select(CommitmentChangeOrder).where(
            CommitmentChangeOrder.project_id == project_id).options(*self.load_options())
            .order_by(CommitmentChangeOrder.id)))

    def row_values(self, item):
        return {"project": f"{item.project.number} {item.project.name}",
                "commitment": item.commitment.number, "number": item.number, "title": item.title,
                "status": item.status, "amount": money(sum((ln.amount for ln in item.lines), ZERO))}

    def detail(self, item, values) -> Detail:
        """Its header and its lines: changes to commitment lines, or new lines, totalled."""
        rows: list[tuple[str, ...]] = [("Commitment Item", "Cost Code", "Category", "Description", "Units", "Amount")]
        for ln in item.lines:
            category = ln.commitment_line.category if ln.commitment_line else ln.category
            rows.append((str(ln.commitment_line.line_no) if ln.commitment_line else "new",
                         category.cost_code.code if category else "", category.code if category else "",
                         ln.description, "" if ln.units is None else str(ln.units), money(ln.amount)))
        rows.append(("Total", "", "", "", "", money(sum((ln.amount for ln in item.lines), ZERO))))
        return Detail(super().detail(item, values).fields, tuple(rows))

    def search_ids(self, q):
        commitments = select(Commitment.id).where(like(Commitment.number, q))
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(CommitmentChangeOrder.id).where(or_(
            like(CommitmentChangeOrder.number, q), like(CommitmentChangeOrder.title, q),
            CommitmentChangeOrder.commitment_id.in_(commitments),
            CommitmentChangeOrder.project_id.in_(projects)))

    # ---- the project-side form ------------------------------------------------------------
    def form_fields(self, session, project_id, item):
        synced = session.scalars(select(Commitment).where(
            Commitment.project_id == project_id, Commitment.erp_commitment_id.is_not(None))
            .order_by(Commitment.number)).all()
        return [Field("commitment_id", "Commitment (synced commitments only)", widget="select",
                      required=True, choices=tuple((str(c.id), f"{c.number} {c.title}") for c in synced)),
                Field("number", "CCO #", required=True, maxlength=40),
                Field("title", "Title", required=True, maxlength=120),
                Field("status", "Status", widget="select", required=True,
                      choices=tuple((s, s) for s in STATUSES))]

    def line_fields(self, session, project_id):
        lines = session.execute(
            select(CommitmentLine.id, Commitment.number, CommitmentLine.line_no, CommitmentLine.description)
            .join(Commitment, Commitment.id == CommitmentLine.commitment_id)
            .where(Commitment.project_id == project_id, Commitment.erp_commitment_id.is_not(None))
            .order_by(Commitment.number, CommitmentLine.line_no)).all()
        cats = session.execute(select(Category.id, CostCode.code, Category.code)
                               .join(CostCode, CostCode.id == Category.cost_code_id)
                               .where(CostCode.project_id == project_id)
                               .order_by(CostCode.code, Category.code)).all()
        return [Field("commitment_line_id", "Existing commitment line", widget="select",
                      choices=tuple((str(i), f"{n} #{no} {d}") for i, n, no, d in lines)),
                Field("description", "or New line: description", maxlength=120),
                Field("category_id", "New line: cost code / category", widget="select",
                      choices=tuple((str(i), f"{cc} {cat}") for i, cc, cat in cats)),
                Field("amount", "Amount", widget="number"),
                Field("units", "Qty (unit-based)", widget="number"),
                Field("unit_cost", "New line: Unit Cost (unit-based)", widget="number")]

    def line_count(self, item):
        return (len(item.lines) if item else 0) + 3

    def form_values(self, item):
        values = {"commitment_id": str(item.commitment_id), "number": item.number,
                  "title": item.title, "status": item.status}
        for n, line in enumerate(item.lines):
            values.update({f"line-{n}-commitment_line_id": str(line.commitment_line_id or ""),
                           f"line-{n}-description": line.description,
                           f"line-{n}-category_id": str(line.category_id or ""),
                           f"line-{n}-amount": str(line.amount),
                           f"line-{n}-units": "" if line.units is None else str(line.units),
                           f"line-{n}-unit_cost": "" if line.unit_cost is None else str(line.unit_cost)})
        return values

    def save(self, session, actor, project_id, item, form):
        errors: dict[str, str] = {}
        number = check_length(errors, form, "number", "CCO #", 40, required=True)
        title = check_length(errors, form, "title", "Title", 120, required=True)
        status = form.get("status") if form.get("status") in STATUSES else None
        if status is None:
            errors["status"] = "Choose a status."
        commitment = None
        commitment_id = as_id(form.get("commitment_id"))
        if commitment_id is not None:
            commitment = session.get(Commitment, commitment_id)
        if commitment is None or commitment.project_id != project_id or not commitment.erp_commitment_id:
            errors["commitment_id"] = "Change orders can only be created from synced commitments."
            commitment = None
        unit_costs = {str(i): cost for i, cost in session.execute(select(CommitmentLine.id, CommitmentLine.unit_cost)
                                                                  .where(CommitmentLine.commitment_id == commitment.id))
                      } if commitment else {}
        own_lines = set(unit_costs)
        categories = {str(i) for i in session.scalars(select(Category.id).join(CostCode).where(
            CostCode.project_id == project_id))}
        lines = []
        for n in range(self.line_count(item) + 20):
            p = f"line-{n}-"
            if not any(form.get(p + k) for k in ("commitment_line_id", "description", "category_id", "amount",
                                                  "units")):
                continue
            existing = form.get(p + "commitment_line_id") or ""
            line = {"commitment_line_id": None, "category_id": None,
                    "description": (form.get(p + "description") or "").strip()}
            if existing:
                if existing not in own_lines:
                    errors[p + "commitment_line_id"] = "Choose a line of the chosen commitment."
                line["commitment_line_id"] = as_id(existing)
            else:
                if not line["description"]:
                    errors[p + "description"] = "Pick an existing line, or describe the new line."
                if form.get(p + "category_id") not in categories:
                    errors[p + "category_id"] = "A new line needs a cost code and category."
                else:
                    line["category_id"] = as_id(form[p + "category_id"])
            unit_based = commitment is not None and commitment.accounting_method == "unit"
            for part in ("amount", "units", "unit_cost"):
                raw = form.get(p + part)
                try:
                    needed = part == "amount" and not unit_based   # Qty x Unit Cost fills it in
                    line[part] = parse_money(raw, p + part, "0.01" if part == "amount" else "0.0001") \
                        if (raw or needed) else None
                except Invalid as exc:
                    errors.update(exc.fields)
            if unit_based:
                if existing:   # an existing line's change is priced at that line's unit cost
                    line["unit_cost"] = unit_costs.get(existing)
                unit_line_errors(errors, p, line)
                if existing:
                    line["unit_cost"] = None   # Sage takes a unit cost on a new line only
            else:
                line["units"] = line["unit_cost"] = None
            lines.append(line)
        if not lines and not errors:
            errors["_"] = "Add at least one line."
        invalid_if(errors)
        assert commitment is not None  # an error was recorded otherwise
        if item is None:
            item = CommitmentChangeOrder(project_id=project_id, commitment_id=commitment.id,
                                         number=number, title=title, status=status,
                                         created_by_id=actor.id, created_at=utcnow())
            session.add(item)
            session.flush()
            session.refresh(item, ["lines"])
        item.commitment_id, item.number, item.title, item.status = commitment.id, number, title, status
        item.lines.clear()
        session.flush()
        for line in lines:
            item.lines.append(CCOLine(commitment_line_id=line["commitment_line_id"],
                                      category_id=line["category_id"],
                                      description=line["description"], amount=line["amount"],
                                      units=line["units"], unit_cost=line["unit_cost"]))
        session.flush()
        return item

    # ---- the lifecycle's parts ----------------------------------------------------------
    def prerequisites(self, session, item):
        reasons = []
        if not item.commitment.erp_commitment_id:
            reasons.append("Change orders can only be exported from synced commitments.")
        if item.status != "Approved":
            reasons.append(f"The status is {item.status}: only Approved change orders can be sent.")
        if not item.lines:
            reasons.append("The change order has no lines.")
        return reasons

    def accept_fields(self, item):
        return [Field("cco_id", "CCO ID", maxlength=CCO_ID_MAX, required=True,
                      help="Unique, 10 characters."),
                Field("description", "Description", maxlength=DESCRIPTION_MAX,
                      help="30 characters; the title by default.")]

    def export_defaults(self, item):
        return {"cco_id": item.number[:CCO_ID_MAX], "description": item.title[:DESCRIPTION_MAX]}

    def clean_export_fields(self, session, item, raw):
        errors: dict[str, str] = {}
        cco_id = check_length(errors, raw, "cco_id", "CCO ID", CCO_ID_MAX, required=True)
        description = check_length(errors, raw, "description", "Description", DESCRIPTION_MAX)
        if cco_id and "cco_id" not in errors and exporting_with(session, self.key, "cco_id", cco_id, item.id,
                                                                 states=("exporting", "synced")):
            # Sage's CCO IDs are unique overall; the default (the first 10 characters of the #)
            # can repeat another change order's
            errors["cco_id"] = f"CCO ID {cco_id} is already used by another commitment change order: choose another."
        invalid_if(errors)
        return {"cco_id": cco_id, "description": description or item.title[:DESCRIPTION_MAX]}

    def _new_numbers(self, item):
        """Commitment item numbers for the CCO's new lines: after the commitment's last."""
        last = max((ln.line_no for ln in item.commitment.lines), default=0)
        return {line.id: str(last + n) for n, line in
                enumerate((ln for ln in item.lines if ln.commitment_line_id is None), start=1)}

    def build_batches(self, session, item, fields, batch_id):
        """The guide's 2 imports when a line is new (its commitment item, then the change order), else 1."""
        numbers = self._new_numbers(item)
        job = item.project.sage_job_id or ""
        lines = []
        for line in item.lines:
            if line.commitment_line_id is not None:
                lines.append(CCOLineData(amount=line.amount, units=line.units,
                                         existing_item=str(line.commitment_line.line_no)))
            else:
                lines.append(CCOLineData(amount=line.amount, units=line.units, new_item=CommitmentItemData(
                    item=numbers[line.id], description=line.description[:30],
                    cost_code=line.category.cost_code.code, category=line.category.code,
                    amount=line.amount, unit_cost=line.unit_cost)))
        return map_cco_imports(CCOData(cco=fields["cco_id"], commitment=item.commitment.erp_commitment_id or "",
                                       job=job, description=fields.get("description", ""),
                                       date=utcnow().date(), lines=tuple(lines)), batch_id)

    def on_synced(self, session, item, fields, reference):
        """New lines become commitment lines, so invoices can bill them."""
        numbers = self._new_numbers(item)
        for line in item.lines:
            if line.commitment_line_id is None:
                session.add(CommitmentLine(commitment_id=item.commitment_id,
                                           line_no=int(numbers[line.id]),
                                           description=line.description,
                                           category_id=line.category_id, amount=line.amount,
                                           units=line.units, unit_cost=line.unit_cost))

    def on_unlinked(self, session, item):
        """The commitment lines on_synced added for the CCO's new lines go too (a resend adds them again)."""
        added, newest_first = [], sorted(item.commitment.lines, key=lambda ln: -ln.line_no)
        for line in (ln for ln in item.lines if ln.commitment_line_id is None):
            match = next((c for c in newest_first if c not in added and c.description == line.description
                          and c.category_id == line.category_id and c.amount == line.amount), None)
            if match is not None:
                added.append(match)
        ids = [c.id for c in added]
        if ids and (session.scalar(select(InvoiceLine.id).where(InvoiceLine.commitment_line_id.in_(ids)).limit(1))
                    or session.scalar(select(CCOLine.id).where(CCOLine.commitment_line_id.in_(ids)).limit(1))):
            raise Conflict(f"Commitment {item.commitment.number} line(s) "
                           f"{', '.join(str(c.line_no) for c in added)} added by this CCO are billed or "
                           "changed by other items: remove them there before unlinking.")
        for line in added:
            item.commitment.lines.remove(line)

    def unlink_reference(self, erp, item) -> dict:
        # the commitment may have been unlinked first: Sage is then asked for the CCO ID alone
        return {"commitment": item.commitment.erp_commitment_id or "",
                "cco": (erp.export_fields or {}).get("cco_id") or erp.erp_ref or ""}

    def summary(self, item):
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"CCO {item.number} on {item.commitment.number}",
                           vendor=item.commitment.vendor.name,
                           amount=money(sum((ln.amount for ln in item.lines), ZERO)),
                           creator_id=item.created_by_id, number=item.number,
                           project_name=item.project.name)
