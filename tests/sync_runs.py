"""Running syncs in tests: start and execute one, read what it staged, a synced project, a paid
invoice as Sage's Paid Invoices reader returns it, a setting turned on or off."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal.domain import settings, sync
from portal.domain.lifecycle import State
from portal.domain.models import (
    ErpItem,
    Project,
    SubcontractorInvoice,
    ToolLevel,
)
from portal.domain.sage_models import (
    SageRecord,
    SyncRun,
)
from portal.domain.types import direct_export_keys
from tests.factories import Setup, approver, make_user, suffix
from tests.fake_sage import FakeSage, RecordingQueue


def run(session, sage, key, project_id=None, actor=None):
    """Start and execute one sync; returns its finished run."""
    queue = RecordingQueue()
    started = sync.start(session, actor or approver(session), key, queue, project_id=project_id)
    assert queue.queued == [started.id]
    return sync.execute(session, started.id, sage)


def record(session, kind, key) -> SageRecord:
    return session.scalars(select(SageRecord).where(SageRecord.kind == kind, SageRecord.sage_key == key)).one()


def counts(r: SyncRun):
    return (r.added, r.updated, r.errors)


def synced_project(session, sage: FakeSage, **job_fields) -> Project:
    row = sage.job(**job_fields)
    project = Project(name=row["Description"], number=row["Job"], sage_job_id=row["Job"])
    session.add(project)
    session.commit()
    return project


def paid_invoice(session) -> dict:
    """A synced subcontractor invoice and a Sage check against it (the Paid Invoices sync's row)."""
    setup = Setup(session, None)
    number = f"INV-{suffix()}"
    invoice = SubcontractorInvoice(project_id=setup.project.id, commitment_id=setup.commitment.id, number=number,
                                   period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                                   billing_date=date(2026, 10, 31), status="Approved", total_amount=Decimal("100"))
    session.add(invoice)
    session.flush()
    session.add(ErpItem(item_type="subcontractor_invoice", item_id=invoice.id, project_id=setup.project.id,
                        state=State.SYNCED, attempt=1, erp_ref=number))
    session.commit()
    return {"Payment_ID": invoice.id, "Vendor": setup.vendor.erp_vendor_id, "Invoice": number, "Check_Number": "1",
            "Check_Date": date(2026, 11, 5), "Amount": Decimal("10.00")}


def set_setting(session, key, value):
    user = make_user(session, erp_level=ToolLevel.ADMIN)
    current = settings.load(session)
    form = {"job_number_mask": current.job_number_mask,
            "consolidate_invoice_lines": "on" if current.consolidate_invoice_lines else "",
            "vendor_auto_update": "on" if current.vendor_auto_update else "",
            "auto_add_budget_lines": "on" if current.auto_add_budget_lines else "",
            key: "on" if value else ""}
    settings.update(session, user, form, direct_export_keys())
