"""Project cost codes: picked from the company's standard list, added to their Sage job or extra."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.domain.models import Category, CostCode, Project, StandardCategory, StandardCostCode, SubJob
from portal.domain.search import like
from portal.domain.types.base import Column, Field, Filters, ItemSummary, ItemType, invalid_if
from portal.domain.types.common import cost_code_data
from portal.domain.values import as_id
from portal.exporters.sage300.mapping import map_cost_codes
from portal.exporters.sage300.records import CostCodesData


class CostCodeType(ItemType):
    key = "cost_code"
    label = "Cost Code"
    plural = "Cost Codes"
    model = CostCode
    erp_id_field = "ref"
    sync_key = "cost_codes"
    bulk_note = "Ticked cost codes are added to their Sage job (or extra) with their categories."
    filters = Filters(project=CostCode.project_id)
    columns = (Column("Project", "project"), Column("Sub Job", "sub_job"), Column("Cost Code", "code"),
               Column("Description", "description"), Column("Categories", "categories"))
    list_columns = columns[1:]

    def load_options(self):
        return (joinedload(CostCode.project), joinedload(CostCode.sub_job), selectinload(CostCode.categories))

    def list_items(self, session, project_id):
        return list(session.scalars(select(CostCode).where(CostCode.project_id == project_id)
                                    .options(*self.load_options()).order_by(CostCode.code)))

    def row_values(self, item: CostCode) -> dict:
        return {"project": f"{item.project.number} {item.project.name}",
                "sub_job": item.sub_job.code if item.sub_job else "",
                "code": item.code, "number": item.code, "description": item.description,
                "categories": ", ".join(c.code for c in item.categories)}

    def search_ids(self, q):
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(CostCode.id).where(or_(like(CostCode.code, q), like(CostCode.description, q),
                                             CostCode.project_id.in_(projects)))

    def form_fields(self, session, project_id, item):
        categories = session.scalars(select(StandardCategory).order_by(StandardCategory.code)).all()
        fields = []
        if item is None:
            standard = session.scalars(select(StandardCostCode).where(StandardCostCode.active)
                                       .order_by(StandardCostCode.code)).all()
            sub_jobs = session.scalars(select(SubJob).where(SubJob.project_id == project_id)
                                       .order_by(SubJob.code)).all()
            fields.append(Field("standard_code", "Cost Code (from the standard list)", widget="select",
                                required=True,
                                choices=tuple((s.code, f"{s.code} {s.description}"
                                               + (f" (default cost type {s.default_category})"
                                                  if s.default_category else "")) for s in standard)))
            if sub_jobs:
                fields.append(Field("sub_job_id", "Sub Job", widget="select",
                                    choices=tuple((str(s.id), f"{s.code} {s.name}") for s in sub_jobs)))
        fields += [Field(f"category_{c.code}", f"{c.code} {c.description}", widget="checkbox")
                   for c in categories]
        return fields

    def form_values(self, item: CostCode):
        return {f"category_{c.code}": "on" for c in item.categories}

    def save(self, session, actor, project_id, item, form):
        errors = {}
        standard_cats = {c.code: c for c in session.scalars(select(StandardCategory))}
        chosen = [code for code in standard_cats if form.get(f"category_{code}") in ("on", "1", "y", True)]
        if item is None:
            code = (form.get("standard_code") or "").strip()
            standard = session.scalars(select(StandardCostCode).where(
                StandardCostCode.code == code, StandardCostCode.active)).first()
            sub_job_id = as_id(form.get("sub_job_id"))
            if not chosen and standard is not None and standard.default_category in standard_cats:
                chosen = [standard.default_category]  # created without a cost type: the code's default
            elif not chosen:
                errors["_"] = "Tick at least one category." + (
                    f" Cost code {standard.code} has no default cost type." if standard is not None else "")
            if standard is None:
                errors["standard_code"] = ("Choose a cost code from the company's standard list "
                                           "(new codes are created in Sage).")
            if sub_job_id is not None and session.scalar(select(func.count()).select_from(SubJob).where(
                    SubJob.id == sub_job_id, SubJob.project_id == project_id)) == 0:
                errors["sub_job_id"] = "Choose a sub job of this project."
            if standard is not None and session.scalar(select(func.count()).select_from(CostCode).where(
                    CostCode.project_id == project_id, CostCode.code == code,
                    CostCode.sub_job_id.is_(None) if sub_job_id is None else CostCode.sub_job_id == sub_job_id)):
                errors["standard_code"] = f"Cost code {code} is already on this project."
            invalid_if(errors)
            item = CostCode(project_id=project_id, sub_job_id=sub_job_id, code=standard.code,
                            description=standard.description, created_by_id=actor.id)
            session.add(item)
            session.flush()
            existing = {}
        else:
            if not chosen:
                errors["_"] = "Tick at least one category."
            invalid_if(errors)
            existing = {c.code: c for c in item.categories}
        for code in chosen:
            if code not in existing:
                session.add(Category(cost_code_id=item.id, code=code,
                                     description=standard_cats[code].description))
        for code, category in existing.items():
            if code not in chosen:
                session.delete(category)
        session.flush()
        return item

    def prerequisites(self, session, item: CostCode):
        reasons = []
        if not item.project.sage_job_id:
            reasons.append("The project is not synced with a Sage job yet: its cost codes go with it.")
        if item.sub_job and not item.sub_job.sage_extra_id:
            reasons.append(f"Sub job {item.sub_job.code} is not synced with Sage yet.")
        if not item.categories:
            reasons.append("Give the cost code at least one category.")
        return reasons

    def clean_export_fields(self, session, item: CostCode, raw):
        """No fields to ask: the Sage reference is the job (and extra) and the code."""
        extra = (item.sub_job.sage_extra_id or "") if item.sub_job else ""
        return {"ref": "/".join(p for p in (item.project.sage_job_id or "", extra, item.code) if p)}

    def build_batch(self, session, item: CostCode, fields, batch_id):
        return map_cost_codes(CostCodesData(
            job=item.project.sage_job_id or "",
            extra=(item.sub_job.sage_extra_id or "") if item.sub_job else "",
            cost_codes=cost_code_data([item])), batch_id)

    def summary(self, item: CostCode) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Cost code {item.code}", vendor="—", amount="—",
                           creator_id=item.created_by_id, number=item.code,
                           project_name=item.project.name)
