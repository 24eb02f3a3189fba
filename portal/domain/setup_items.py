"""Setup items through the same gate: vendors (companies), jobs (projects), sub jobs (extras)
and project cost codes."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from portal.domain import settings
from portal.domain.errors import Invalid
from portal.domain.links import link_cost_codes
from portal.domain.itemtypes import (Column, Field, ItemSummary, ItemType, check_length,
                                     exporting_with, invalid_if, register)
from portal.domain.models import (Category, CostCode, Project, ProjectMember, StandardCategory,
                                  StandardCostCode, SubJob, ToolLevel, Vendor)
from portal.domain.tabs import like
from portal.exporters.sage300.mapping import map_cost_codes, map_extra, map_job, map_vendor
from portal.exporters.sage300.records import (CategoryData, CostCodeData, CostCodesData,
                                              ExtraData, JobData, VendorData)

VENDOR_TYPES = (("Subcontractor", "Subcontractor"), ("Supplier", "Supplier"),
                ("Service", "Service provider"), ("Other", "Other"))


def _cost_code_data(codes) -> tuple[CostCodeData, ...]:
    return tuple(CostCodeData(c.code, c.description,
                              tuple(CategoryData(cat.code, cat.description) for cat in c.categories))
                 for c in codes)


# ---- vendors (companies) ----------------------------------------------------------------

class VendorType(ItemType):
    key = "vendor"
    label = "Company"
    plural = "Vendors"
    noun = "company"
    scope = "company"
    model = Vendor
    writes_back_on_sync = True
    bulk_note = "Ticked companies need their own ERP vendor ID: accept them one by one."
    columns = (Column("Name", "name"), Column("Address", "address"), Column("City", "city"),
               Column("State", "state"), Column("ZIP", "zip"), Column("Business Phone", "phone"))
    list_columns = columns + (Column("ERP Vendor ID", "erp_vendor_id"),)

    def project_id(self, item):
        return None  # the company directory: company administrators send companies

    def list_items(self, session, project_id):
        return list(session.scalars(select(Vendor).order_by(Vendor.name)))

    def row_values(self, item: Vendor) -> dict:
        return {"name": item.name, "address": item.address, "city": item.city,
                "state": item.state, "zip": item.zip, "phone": item.phone,
                "erp_vendor_id": item.erp_vendor_id or ""}

    def search_ids(self, q):
        return select(Vendor.id).where(or_(like(Vendor.name, q), like(Vendor.city, q)))

    def form_fields(self, session, project_id, item):
        return [Field("name", "Name", required=True, maxlength=120),
                Field("address", "Address", maxlength=120), Field("city", "City", maxlength=60),
                Field("state", "State", maxlength=20), Field("zip", "ZIP", maxlength=20),
                Field("phone", "Business Phone", maxlength=30), Field("fax", "Business Fax", maxlength=30)]

    def form_values(self, item):
        return {f: getattr(item, f) for f in ("name", "address", "city", "state", "zip", "phone", "fax")}

    def save(self, session, actor, project_id, item, form):
        errors = {}
        values = {f.name: check_length(errors, form, f.name, f.label, f.maxlength, f.required)
                  for f in self.form_fields(session, project_id, item)}
        invalid_if(errors)
        if item is None:
            item = Vendor(created_by_id=actor.id)
            session.add(item)
        for name, value in values.items():
            setattr(item, name, value)
        session.flush()
        return item

    def linked_ref(self, item):
        return item.erp_vendor_id

    def prerequisites(self, session, item: Vendor):
        if item.erp_vendor_id:
            return [f"This company is already linked to Sage vendor {item.erp_vendor_id}."]
        return []

    def accept_fields(self, item):
        return [Field("erp_vendor_id", "ERP Vendor ID", maxlength=10, required=True,
                      help="Unique, 10 characters."),
                Field("vendor_type", "Vendor Type", kind="select", choices=VENDOR_TYPES,
                      required=True)]

    def export_defaults(self, item):
        return {"erp_vendor_id": "", "vendor_type": "Subcontractor"}

    def clean_export_fields(self, session, item, raw):
        errors = {}
        vendor_id = check_length(errors, raw, "erp_vendor_id", "ERP Vendor ID", 10, required=True)
        vendor_type = (raw.get("vendor_type") or "").strip()
        if vendor_type not in dict(VENDOR_TYPES):
            errors["vendor_type"] = "Choose a vendor type."
        if vendor_id and session.scalar(select(func.count()).select_from(Vendor).where(
                func.upper(Vendor.erp_vendor_id) == vendor_id.upper(), Vendor.id != item.id)):
            errors["erp_vendor_id"] = f"ERP Vendor ID {vendor_id} is already used by another company."
        elif vendor_id and exporting_with(session, self.key, "erp_vendor_id", vendor_id, item.id):
            errors["erp_vendor_id"] = f"ERP Vendor ID {vendor_id} is being exported for another company."
        invalid_if(errors)
        return {"erp_vendor_id": vendor_id, "vendor_type": vendor_type}

    def build_batch(self, session, item: Vendor, fields, batch_id):
        return map_vendor(VendorData(vendor=fields["erp_vendor_id"], name=item.name,
                                     address=item.address, city=item.city, state=item.state,
                                     zip=item.zip, phone=item.phone, fax=item.fax,
                                     vendor_type=fields.get("vendor_type", "")), batch_id)

    def on_synced(self, session, item: Vendor, fields, reference):
        item.erp_vendor_id = fields["erp_vendor_id"]
        item.vendor_type = fields.get("vendor_type", "")

    def on_unlinked(self, session, item: Vendor):
        item.erp_vendor_id = None

    def erp_ref(self, fields, reference):
        return fields.get("erp_vendor_id") or reference

    def summary(self, item: Vendor) -> ItemSummary:
        return ItemSummary(project="Company Directory", title=f"Company {item.name}",
                           vendor=item.name, amount="—", creator_id=item.created_by_id)


# ---- jobs (projects) ---------------------------------------------------------------------

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
    bulk_note = "Ticked projects need their own Sage Job ID: accept them one by one."
    columns = (Column("Project #", "number"), Column("Project Name", "name"),
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
        errors = {}
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
        errors = {}
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
                               cost_codes=_cost_code_data(codes)), batch_id)

    def on_synced(self, session, item: Project, fields, reference):
        item.sage_job_id = fields["sage_job_id"]
        # the job's cost codes went to Sage inside its export: they are synced too
        codes = session.scalars(select(CostCode).where(CostCode.project_id == item.id, CostCode.sub_job_id.is_(None)))
        link_cost_codes(session, codes, item.sage_job_id, "", None, "exported with its job")

    def erp_ref(self, fields, reference):
        return fields.get("sage_job_id") or reference

    def summary(self, item: Project) -> ItemSummary:
        return ItemSummary(project=f"{item.number} {item.name}", title=f"Project {item.number}",
                           vendor="—", amount="—", creator_id=item.created_by_id)


# ---- sub jobs (extras) -------------------------------------------------------------------

class SubJobType(ItemType):
    key = "sub_job"
    label = "Sub Job"
    plural = "Sub Jobs"
    model = SubJob
    writes_back_on_sync = True
    bulk_note = "Ticked sub jobs are exported with their Extra ID prefilled from the sub job code."
    columns = (Column("Project", "project"), Column("Sub Job", "code"), Column("Description", "name"),
               Column("Cost Codes", "cost_codes", "num"))
    list_columns = (Column("Sub Job", "code"), Column("Description", "name"),
                    Column("Cost Codes", "cost_codes", "num"), Column("Sage Extra ID", "extra"))

    def load_options(self):
        return (selectinload(SubJob.project), selectinload(SubJob.cost_codes)
                .selectinload(CostCode.categories))

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
        errors = {}
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
        from portal.domain.models import SubcontractorInvoice
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
        errors = {}
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
                                   description=item.name, cost_codes=_cost_code_data(item.cost_codes)),
                         batch_id)

    def on_synced(self, session, item: SubJob, fields, reference):
        item.sage_extra_id = fields["extra_id"]
        codes = session.scalars(select(CostCode).where(CostCode.sub_job_id == item.id))
        link_cost_codes(session, codes, item.project.sage_job_id or "", item.sage_extra_id, None,
                        "exported with its sub job")

    def erp_ref(self, fields, reference):
        return fields.get("extra_id") or reference

    def summary(self, item: SubJob) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Sub job {item.code}", vendor="—", amount="—",
                           creator_id=item.created_by_id)


# ---- project cost codes ----------------------------------------------------------------

class CostCodeType(ItemType):
    key = "cost_code"
    label = "Cost Code"
    plural = "Cost Codes"
    model = CostCode
    bulk_note = "Ticked cost codes are added to their Sage job (or extra) with their categories."
    columns = (Column("Project", "project"), Column("Sub Job", "sub_job"), Column("Cost Code", "code"),
               Column("Description", "description"), Column("Categories", "categories"))
    list_columns = columns[1:]

    def load_options(self):
        return (selectinload(CostCode.project), selectinload(CostCode.sub_job),
                selectinload(CostCode.categories))

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
            fields.append(Field("standard_code", "Cost Code (from the standard list)", kind="select",
                                required=True,
                                choices=tuple((s.code, f"{s.code} {s.description}") for s in standard)))
            if sub_jobs:
                fields.append(Field("sub_job_id", "Sub Job", kind="select",
                                    choices=tuple((str(s.id), f"{s.code} {s.name}") for s in sub_jobs)))
        fields += [Field(f"category_{c.code}", f"{c.code} {c.description}", kind="checkbox")
                   for c in categories]
        return fields

    def form_values(self, item: CostCode):
        return {f"category_{c.code}": "on" for c in item.categories}

    def save(self, session, actor, project_id, item, form):
        errors = {}
        standard_cats = {c.code: c for c in session.scalars(select(StandardCategory))}
        chosen = [code for code in standard_cats if form.get(f"category_{code}") in ("on", "1", "y", True)]
        if not chosen:
            errors["_"] = "Tick at least one category."
        if item is None:
            code = (form.get("standard_code") or "").strip()
            standard = session.scalars(select(StandardCostCode).where(
                StandardCostCode.code == code, StandardCostCode.active)).first()
            sub_job_id = int(form["sub_job_id"]) if (form.get("sub_job_id") or "").isdigit() else None
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
            cost_codes=_cost_code_data([item])), batch_id)

    def erp_ref(self, fields, reference):
        return fields.get("ref") or reference

    def summary(self, item: CostCode) -> ItemSummary:
        return ItemSummary(project=f"{item.project.number} {item.project.name}",
                           title=f"Cost code {item.code}", vendor="—", amount="—",
                           creator_id=item.created_by_id)


VENDORS = register(VendorType())
JOBS = register(JobType())
SUB_JOBS = register(SubJobType())
COST_CODES = register(CostCodeType())


