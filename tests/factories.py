"""Plain factory functions with random suffixes: tests never depend on an empty database."""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from portal.domain.billing_models import InvoiceContact
from portal.domain.models import (
    Category,
    Commitment,
    CommitmentLine,
    CostCode,
    InvoiceLine,
    InvoiceStatus,
    Project,
    ProjectMember,
    SubcontractorInvoice,
    ToolLevel,
    User,
    Vendor,
)
from portal.domain.users import create_user

PASSWORD = "correct-horse-9"


def suffix(n: int = 6) -> str:
    return secrets.token_hex(n // 2 + 1)[:n].upper()


def make_user(session, *, erp_level=ToolLevel.NONE, push=False, site_admin=False,
              name=None, email=None) -> User:
    s = suffix(12)  # a session makes thousands of users: 6 hex digits met twice now and then
    return create_user(session, username=f"u{s.lower()}", name=name or f"User {s}",
                       email=email or f"u{s.lower()}@example.com", password=PASSWORD,
                       erp_level=erp_level, can_push_to_accounting=push, is_site_admin=site_admin)


def approver(session) -> User:
    return make_user(session, erp_level=ToolLevel.STANDARD, push=True)


def erp_admin(session) -> User:
    """Admin on the ERP Integrations tool, without Can Push to Accounting."""
    return make_user(session, erp_level=ToolLevel.ADMIN)


def invoice_contact(session, commitment: Commitment, **kw) -> User:
    """A user of the commitment's vendor who is an invoice contact on it."""
    user = make_user(session, **kw)
    user.vendor_id = commitment.vendor_id
    session.add(InvoiceContact(commitment_id=commitment.id, user_id=user.id))
    session.commit()
    return user


def member(session, user: User, project: Project, level=ToolLevel.ADMIN) -> None:
    session.add(ProjectMember(user_id=user.id, project_id=project.id, level=level))
    session.commit()


class Setup:
    """A synced project with one commitment, mirrored in the Sage simulator."""

    def __init__(self, session, sim, *, vendor_status="Active", vendor_erp=True,
                 commitment_amount=Decimal("100000"), job_status="Open"):
        s = suffix(9)  # Sage IDs are unique (job, vendor, commitment): 6 hex digits met twice now and then
        self.project = Project(name=f"Project {s}", number=f"P-{s}", sage_job_id=f"J{s}"[:10],
                               city="Springfield", state="IL", zip="62701")
        self.vendor = Vendor(name=f"Vendor {s} Inc.", erp_vendor_id=f"V{s}"[:10] if vendor_erp else None)
        session.add_all([self.project, self.vendor])
        session.flush()
        self.cost_code = CostCode(project_id=self.project.id, code="03-300", description="Concrete")
        session.add(self.cost_code)
        session.flush()
        self.sub = Category(cost_code_id=self.cost_code.id, code="SUB", description="Subcontract")
        self.mat = Category(cost_code_id=self.cost_code.id, code="MAT", description="Material")
        session.add_all([self.sub, self.mat])
        session.flush()
        self.commitment = Commitment(project_id=self.project.id, vendor_id=self.vendor.id,
                                     number=f"SC-{s}", title="Concrete", status="Approved",
                                     erp_commitment_id=f"C{s}"[:12])
        session.add(self.commitment)
        session.flush()
        self.line1 = CommitmentLine(commitment_id=self.commitment.id, line_no=1,
                                    description="Footings", category_id=self.sub.id,
                                    amount=commitment_amount / 2)
        self.line2 = CommitmentLine(commitment_id=self.commitment.id, line_no=2,
                                    description="Rebar", category_id=self.mat.id,
                                    amount=commitment_amount / 2)
        session.add_all([self.line1, self.line2])
        session.commit()
        if sim is not None:
            sim.add_job(self.project.sage_job_id, self.project.name[:30], status=job_status)
            sim.add_cost_code(self.project.sage_job_id, "03-300", "Concrete")
            sim.add_category(self.project.sage_job_id, "03-300", "SUB", "Subcontract")
            sim.add_category(self.project.sage_job_id, "03-300", "MAT", "Material")
            if vendor_erp:
                sim.add_vendor(self.vendor.erp_vendor_id, self.vendor.name[:30], status=vendor_status)
                sim.add_commitment(self.commitment.erp_commitment_id, self.vendor.erp_vendor_id,
                                   self.project.sage_job_id, commitment_amount)
                for line, category in ((self.line1, "SUB"), (self.line2, "MAT")):
                    sim.add_commitment_item(self.commitment.erp_commitment_id, str(line.line_no),
                                            self.project.sage_job_id, "03-300", category,
                                            line.amount, description=line.description)

    def invoice(self, session, creator: User | None = None, *, status=InvoiceStatus.APPROVED,
                number=None, billing=date(2026, 10, 31), work=(Decimal("1000"), Decimal("500")),
                stored=(Decimal("0"), Decimal("100")), retainage=(Decimal("100"), Decimal("50"))):
        inv = SubcontractorInvoice(project_id=self.project.id, commitment_id=self.commitment.id,
                                   number=number or f"INV-{suffix()}", period_start=date(2026, 10, 1),
                                   period_end=date(2026, 10, 31), billing_date=billing,
                                   status=status, created_by_id=creator.id if creator else None)
        session.add(inv)
        session.flush()
        for line, w, s, r in zip((self.line1, self.line2), work, stored, retainage, strict=False):
            session.add(InvoiceLine(invoice_id=inv.id, commitment_line_id=line.id,
                                    description=line.description, work_completed=w,
                                    materials_stored=s, retainage=r))
        session.flush()
        session.refresh(inv, ["lines"])
        inv.recompute_totals()
        session.commit()
        return inv


STANDARD_CODES = (("01-100", "General Conditions"), ("02-200", "Site Work"), ("03-300", "Concrete"),
                  ("04-400", "Masonry"), ("05-500", "Metal Fabrications"), ("06-600", "Carpentry"),
                  ("07-700", "Roofing"), ("08-800", "Glazing"), ("09-900", "Painting"))
STANDARD_CATEGORIES = (("LAB", "Labor"), ("MAT", "Material"), ("SUB", "Subcontract"))


def standard_list(session) -> None:
    """The company's standard cost codes and categories (company-wide: created when missing)."""
    from sqlalchemy import select

    from portal.domain.models import StandardCategory, StandardCostCode
    codes = set(session.scalars(select(StandardCostCode.code)))
    session.add_all([StandardCostCode(code=c, description=d, active=True) for c, d in STANDARD_CODES
                     if c not in codes])
    cats = set(session.scalars(select(StandardCategory.code)))
    session.add_all([StandardCategory(code=c, description=d) for c, d in STANDARD_CATEGORIES if c not in cats])
    session.commit()


class NullQueue:
    """A job queue that queues nothing: setup must not reach RQ, only the code under test."""

    def export_many(self, items):
        pass

    def mail(self, mail_id, job_id):
        pass


def settings_form(current, **changes) -> dict:
    """The Settings page's form for `current` (portal.domain.settings.Settings) with `changes` (form keys;
    False leaves a box unticked): checkboxes present only when ticked, as a browser posts them."""
    form = {f"direct_export_{k}": "on" for k, on in current.direct_export.items() if on}
    for key in ("use_contract_number_as_sage_id", "consolidate_invoice_lines", "export_forecast_amounts"):
        if getattr(current, key):
            form[key] = "on"
    form["job_number_mask"] = current.job_number_mask
    form["company_time_zone"] = current.company_time_zone
    for kind, mode in current.insurance_gate.items():
        form[f"insurance_gate_{kind}"] = mode
        if current.insurance_hold.get(kind):
            form[f"insurance_hold_{kind}"] = "on"
    form.update({f"insurance_required_{key}": "on" for key in current.insurance_required})
    for key, value in changes.items():
        if value is False:
            form.pop(key, None)
        else:
            form[key] = value
    return form


@contextmanager
def statements(engine):
    """Every SQL statement the engine runs inside the block (a list that fills as they run)."""
    from sqlalchemy import event
    seen: list[str] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


@contextmanager
def app_session(app):
    """A database session for setup and checks, closed before any request is made (sharing
    one app context with the test client would share flask.g, and so the signed-in user)."""
    from portal.extensions import db
    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()


# ---- what a sync from Sage leaves in Ready to Import -------------------------------------------

def sage_record(session, kind: str, key: str, name: str, data: dict, status: str | None = None,
                portal_id: int | None = None):
    """A SageRecord as a sync leaves it (Ready to Import unless `status` says otherwise), without
    running a sync that would read everything the session's simulator holds."""
    from portal.domain.sage_models import ImportStatus, SageRecord
    from portal.exporters.sage300 import imports
    data = imports.jsonable(data)
    record = SageRecord(kind=kind, sage_key=key, name=name[:120], data=data, digest=imports.digest(data),
                        status=status or ImportStatus.PENDING, portal_id=portal_id, in_sage=True)
    session.add(record)
    session.commit()
    return record


def sage_vendor(session, sim, name: str | None = None, **status) -> tuple[int, str]:
    """A vendor only in Sage, Ready to Import: (its record id, its Sage ID)."""
    vendor_id = f"W{suffix(8)}"[:10]
    sim.add_vendor(vendor_id, name or f"Sage Vendor {suffix()}", city="Bend", telephone="541-555-0100")
    record = sage_record(session, "vendor", vendor_id, sim.get_vendor(vendor_id)["Name"], sim.get_vendor(vendor_id),
                         **status)
    return record.id, vendor_id


def sage_job(session, sim, description: str = "Sage Job") -> tuple[int, str]:
    """A job only in Sage with one cost code, Ready to Import: (its record id, its job ID)."""
    job = f"{suffix(2)}-{suffix(3)}"
    sim.add_job(job, description)
    sim.add_cost_code(job, "01-100", "General")
    return sage_record(session, "job", job, description, sim.get_job(job)).id, job


def sage_extra(session, sim, job: str, description: str = "Alternate") -> tuple[int, str]:
    """An extra of a synced job, Ready to Import: (its record id, its extra ID)."""
    extra = f"E{suffix(5)}"
    sim.add_extra(job, extra, description)
    return sage_record(session, "extra", f"{job}/{extra}", description, sim.get_extra(job, extra)).id, extra


def sage_contract(session, sim, job: str, items=(("100", "Sitework", 1000), ("200", "Shell", 2000))) -> tuple[int, str]:
    """A prime contract of a synced job, Ready to Import: (its record id, its contract number)."""
    from portal.exporters.sage300 import imports
    number = f"CN{suffix(6)}"
    sim.add_contract(number, job, "Owner contract", items=list(items))
    data = imports.prime_contract(sim.get_job(job), sim.get_contract(number), sim.list_contract_items(number), [])
    return sage_record(session, "contract", f"contract:{number}", data["title"], {**data, "job": job}).id, number


def subject(message) -> str:
    """A parsed mail's Subject as a mailbox shows it: the folded lines joined by one space (the
    parser keeps the fold's space next to an encoded word, e.g. the dash before the item)."""
    return " ".join(str(message["Subject"]).split())
