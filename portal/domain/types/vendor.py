"""Vendors: the companies of the company directory, exported as Sage AP vendors."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from portal.domain.models import Vendor
from portal.domain.search import like
from portal.domain.types.base import Column, Field, ItemSummary, ItemType, check_length, exporting_with, invalid_if
from portal.exporters.sage300.mapping import map_vendor
from portal.exporters.sage300.records import VendorData

VENDOR_TYPES = (("Subcontractor", "Subcontractor"), ("Supplier", "Supplier"),
                ("Service", "Service provider"), ("Other", "Other"))


class VendorType(ItemType):
    key = "vendor"
    label = "Company"
    plural = "Vendors"
    noun = "company"
    scope = "company"
    model = Vendor
    writes_back_on_sync = True
    erp_id_field = "erp_vendor_id"
    sage_record_kind = "ap_vendor"
    sync_key = "vendors"
    import_list = "vendors"
    bulk_note = "Give each ticked company its own ERP vendor ID."
    asks_each = ("erp_vendor_id",)

    def detail_page(self, item: Vendor) -> tuple[str, dict] | None:
        """The company's page: its insurance certificates from Sage (the compliance gate's facts)."""
        return "imports.company", {"vendor_id": item.id}
    columns = (Column("Name", "name", sort=Vendor.name), Column("Address", "address"), Column("City", "city"),
               Column("State", "state"), Column("ZIP", "zip"), Column("Business Phone", "phone"))
    list_columns = columns + (Column("ERP Vendor ID", "erp_vendor_id"),)

    @property
    def list_title(self) -> str:
        return "Company Directory"

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
        errors: dict[str, str] = {}
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
                Field("vendor_type", "Vendor Type", widget="select", choices=VENDOR_TYPES,
                      required=True)]

    def export_defaults(self, item):
        return {"erp_vendor_id": "", "vendor_type": "Subcontractor"}

    def clean_export_fields(self, session, item, raw):
        errors: dict[str, str] = {}
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

    def unlink_reference(self, erp, item: Vendor) -> dict:
        return {"vendor": item.erp_vendor_id or (erp.export_fields or {}).get("erp_vendor_id") or erp.erp_ref or ""}

    def summary(self, item: Vendor) -> ItemSummary:
        return ItemSummary(project="Company Directory", title=f"Company {item.name}",
                           vendor=item.name, amount="—", creator_id=item.created_by_id,
                           number=item.name, project_name="Company Directory")
