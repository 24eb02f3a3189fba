"""Sub jobs: exported as Sage JC extras of their synced job, with their cost codes."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.domain.errors import Invalid
from portal.domain.links import link_cost_codes
from portal.domain.models import CostCode, Project, SubcontractorInvoice, SubJob
from portal.domain.search import like
from portal.domain.types.base import (
    Column,
    Field,
    Filters,
    ItemSummary,
    ItemType,
    check_length,
    exporting_with,
    invalid_if,
)
from portal.domain.types.common import cost_code_data
from portal.exporters.sage300.mapping import map_extra
from portal.exporters.sage300.records import ExtraData


class SubJobType(ItemType):
    key = "sub_job"
    label = "Sub Job"
    plural = "Sub Jobs"
    model = SubJob
    writes_back_on_sync = True
    deletable = True
    erp_id_field = "extra_id"
    sync_key = "sub_jobs"
    import_list = "sub-jobs"
    bulk_note = "Ticked sub jobs are exported with their Extra ID prefilled from the sub job code."
    filters = Filters(project=SubJob.project_id)
    columns = (Column("Project", "project"), Column("Sub Job", "code"), Column("Description", "name"),
               Column("Cost Codes", "cost_codes", "num"))
    list_columns = (Column("Sub Job", "code"), Column("Description", "name"),
                    Column("Cost Codes", "cost_codes", "num"), Column("Sage Extra ID", "extra"))

    def load_options(self):
        return (joinedload(SubJob.project), selectinload(SubJob.cost_codes).selectinload(CostCode.categories))

    def list_items(self, session, project_id):
        return list(session.scalars(select(SubJob).where(SubJob.project_id == project_id)
                                    .options(*self.load_options()).order_by(SubJob.code)))

    def row_values(self, item: SubJob) -> dict:
        return {"project": f"{item.project.number} {item.project.name}", "code": item.code,
                "name": item.name, "cost_codes": len(item.cost_codes),
                "extra": item.sage_extra_id or ""}

    def search_ids(self, q):
        projects = select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))
        return select(SubJob.id).where(or_(like(SubJob.code, q), like(SubJob.name, q),
                                           SubJob.project_id.in_(projects)))

    def form_fields(self, session, project_id, item):
        return [Field("code", "Sub Job Code", required=True, maxlength=30),
                Field("name", "Description", required=True, maxlength=120)]

    def form_values(self, item):
        return {"code": item.code, "name": item.name}

    def save(self, session, actor, project_id, item, form):
        errors: dict[str, str] = {}
        code = check_length(errors, form, "code", "Sub Job Code", 30, required=True)
        name = check_length(errors, form, "name", "Description", 120, required=True)
        if code and session.scalar(select(func.count()).select_from(SubJob).where(
                SubJob.project_id == project_id, func.upper(SubJob.code) == code.upper(),
                SubJob.id != (item.id if item else -1))):
            errors["code"] = f"Sub job {code} already exists on this project."
        invalid_if(errors)
        if item is None:
            item = SubJob(project_id=project_id, created_by_id=actor.id)
            session.add(item)
        item.code, item.name = code, name
        session.flush()
        return item

    def delete(self, session, item: SubJob) -> None:
        if item.cost_codes:
            raise Invalid("A sub job with cost codes cannot be deleted.")
        if session.scalar(select(func.count()).select_from(SubcontractorInvoice).where(
                SubcontractorInvoice.sub_job_id == item.id)):
            raise Invalid("A sub job with invoices cannot be deleted.")
        if item.sage_extra_id:
            raise Invalid("A sub job synced with Sage cannot be deleted.")
        session.delete(item)

    def linked_ref(self, item):
        return item.sage_extra_id

    def prerequisites(self, session, item: SubJob):
        reasons = []
        if not item.project.sage_job_id:
            reasons.append("Sub jobs are exported only under a synced job: export the project first.")
        if item.sage_extra_id:
            reasons.append(f"This sub job is already synced as Sage extra {item.sage_extra_id}.")
        return reasons

    def accept_fields(self, item):
        return [Field("extra_id", "Extra ID", maxlength=10, required=True,
                      help="Prefilled from the sub job code; 10 characters.")]

    def export_defaults(self, item: SubJob):
        return {"extra_id": item.code[:10]}

    def clean_export_fields(self, session, item, raw):
        errors: dict[str, str] = {}
        extra = check_length(errors, raw, "extra_id", "Extra ID", 10, required=True)
        if extra and session.scalar(select(func.count()).select_from(SubJob).where(
                SubJob.project_id == item.project_id, func.upper(SubJob.sage_extra_id) == extra.upper(),
                SubJob.id != item.id)):
            errors["extra_id"] = f"Extra {extra} is already used on this job."
        elif extra and exporting_with(session, self.key, "extra_id", extra, item.id, item.project_id):
            errors["extra_id"] = f"Extra {extra} is being exported for another sub job of this job."
        invalid_if(errors)
        return {"extra_id": extra}

    def build_batch(self, session, item: SubJob, fields, batch_id):
        return map_extra(ExtraData(job=item.project.sage_job_id or "", extra=fields["extra_id"],
                                   description=item.name, cost_codes=cost_code_data(item.cost_codes)),
                         batch_id)

    def on_synced(self, session, item: SubJob, fields, reference):
        item.sage_extra_id = fields["extra_id"]
        codes = session.scalars(select(CostCode).where(CostCode.sub_job_id == item.id))
        link_cost_codes(session, codes, item.project.sage_job_id or "", item.sage_extra_id, None,
                        "exported with its sub job")

    def summary(self, item: SubJob) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Sub job {item.code}", vendor="—", amount="—",
                           creator_id=item.created_by_id, number=item.code,
                           project_name=item.project.name)
