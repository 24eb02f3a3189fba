"""Jobs: projects exported as Sage JC jobs with their cost codes and categories."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from portal.domain import settings
from portal.domain.links import link_cost_codes
from portal.domain.models import CostCode, Project, ProjectMember, ToolLevel
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
from portal.exporters.sage300.mapping import map_job
from portal.exporters.sage300.records import JobData


def _project_codes_options():
    return (selectinload(Project.cost_codes).selectinload(CostCode.categories),)


class JobType(ItemType):
    key = "job"
    label = "Job"
    plural = "Jobs"
    noun = "project"
    scope = "company"
    model = Project
    writes_back_on_sync = True
    erp_id_field = "sage_job_id"
    sync_key = "jobs"
    import_list = "jobs"
    bulk_note = "Give each ticked project its own Sage Job ID."
    asks_each = ("sage_job_id",)
    filters = Filters(project=Project.id)
    columns = (Column("Project #", "number", sort=Project.number), Column("Project Name", "name", sort=Project.name),
               Column("Address", "address"), Column("City", "city"), Column("State", "state"),
               Column("ZIP", "zip"), Column("Cost Codes", "cost_codes", "num"))
    list_columns = columns + (Column("Sage Job ID", "sage_job_id"),)

    def project_id(self, item: Project):
        return item.id  # Admin on the project's own tools sends it

    def load_options(self):
        return _project_codes_options()

    def list_items(self, session, project_id):
        return list(session.scalars(select(Project).options(*self.load_options())
                                    .order_by(Project.number)))

    def row_values(self, item: Project) -> dict:
        codes = [c for c in item.cost_codes if c.sub_job_id is None]
        return {"number": item.number, "name": item.name, "address": item.address,
                "city": item.city, "state": item.state, "zip": item.zip,
                "cost_codes": len(codes), "sage_job_id": item.sage_job_id or ""}

    def search_ids(self, q):
        return select(Project.id).where(or_(like(Project.name, q), like(Project.number, q)))

    def form_fields(self, session, project_id, item):
        return [Field("number", "Project #", required=True, maxlength=40),
                Field("name", "Project Name", required=True, maxlength=120),
                Field("address", "Address", maxlength=120), Field("city", "City", maxlength=60),
                Field("state", "State", maxlength=20), Field("zip", "ZIP", maxlength=20)]

    def form_values(self, item):
        return {f: getattr(item, f) for f in ("number", "name", "address", "city", "state", "zip")}

    def save(self, session, actor, project_id, item, form):
        errors: dict[str, str] = {}
        values = {f.name: check_length(errors, form, f.name, f.label, f.maxlength, f.required)
                  for f in self.form_fields(session, project_id, item)}
        invalid_if(errors)
        created = item is None
        if created:
            item = Project(created_by_id=actor.id)
            session.add(item)
        for name, value in values.items():
            setattr(item, name, value)
        session.flush()
        if created:  # the creator can send what they created
            session.add(ProjectMember(user_id=actor.id, project_id=item.id, level=ToolLevel.ADMIN))
            session.flush()
        return item

    def linked_ref(self, item):
        return item.sage_job_id

    def prerequisites(self, session, item: Project):
        reasons = []
        if item.sage_job_id:
            reasons.append(f"This project is already synced with Sage job {item.sage_job_id}: "
                           "a job cannot be created in both systems.")
        if not any(c.sub_job_id is None for c in item.cost_codes):
            reasons.append("Add cost codes from the company's standard list first: the job is "
                           "created in Sage with its cost codes and categories.")
        return reasons

    def accept_fields(self, item):
        return [Field("sage_job_id", "Sage Job ID", maxlength=10, required=True,
                      help="Unique, 10 characters, the company's job-number mask.")]

    def export_defaults(self, item: Project):
        return {"sage_job_id": ""}

    def clean_export_fields(self, session, item, raw):
        errors: dict[str, str] = {}
        job_id = check_length(errors, raw, "sage_job_id", "Sage Job ID", 10, required=True)
        mask = settings.load(session).job_number_mask
        if "sage_job_id" in errors:
            pass
        elif job_id and not settings.matches_mask(job_id, mask):
            errors["sage_job_id"] = f"Sage Job ID must match the job-number mask {mask} (# a digit, A a letter)."
        elif job_id and session.scalar(select(func.count()).select_from(Project).where(
                func.upper(Project.sage_job_id) == job_id.upper(), Project.id != item.id)):
            errors["sage_job_id"] = f"Sage Job ID {job_id} is already used by another project."
        elif job_id and exporting_with(session, self.key, "sage_job_id", job_id, item.id):
            errors["sage_job_id"] = f"Sage Job ID {job_id} is being exported for another project."
        invalid_if(errors)
        return {"sage_job_id": job_id}

    def build_batch(self, session, item: Project, fields, batch_id):
        codes = [c for c in item.cost_codes if c.sub_job_id is None]
        return map_job(JobData(job=fields["sage_job_id"], name=item.name, address=item.address,
                               city=item.city, state=item.state, zip=item.zip,
                               cost_codes=cost_code_data(codes)), batch_id)

    def on_synced(self, session, item: Project, fields, reference):
        item.sage_job_id = fields["sage_job_id"]
        # the job's cost codes went to Sage inside its export: they are synced too
        codes = session.scalars(select(CostCode).where(CostCode.project_id == item.id, CostCode.sub_job_id.is_(None)))
        link_cost_codes(session, codes, item.sage_job_id, "", None, "exported with its job")

    def summary(self, item: Project) -> ItemSummary:
        return ItemSummary(project=f"{item.number} {item.name}", title=f"Project {item.number}",
                           vendor="—", amount="—", creator_id=item.created_by_id, number=item.number,
                           project_name=item.name)
