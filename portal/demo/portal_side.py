"""Demo data: every item type in every state, and the Sage side (the simulator) its exports meet.

Each of the eleven types has items in draft (never sent), Ready to Export, Synced, Failed to
Export (Sage's refusal, with the troubleshooting table's cause and solution) and Rejected (with
its reason and the rejection mail in the outbox). Ready to Export also holds one item per Sage
refusal of the troubleshooting table that can reach the type: the condition is planted in the
simulator (a closed job, an inactive vendor, an ID already in Sage...), so accepting the item
meets Sage's text (the README says which export fields to give).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from portal.demo import billing_side
from portal.demo.sage_side import seed_sage_side
from portal.domain import outbox, services, sync
from portal.domain.lifecycle import State
from portal.domain.models import (
    Budget,
    BudgetChange,
    BudgetChangeLine,
    BudgetLine,
    Category,
    CCOLine,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLine,
    Company,
    CostCode,
    ErpItem,
    InvoiceLine,
    InvoiceStatus,
    OwnerInvoice,
    OwnerInvoiceLine,
    PrimeChangeOrder,
    PrimeChangeOrderLine,
    PrimeContract,
    PrimeContractItem,
    Project,
    ProjectMember,
    StandardCategory,
    StandardCostCode,
    SubcontractorInvoice,
    SubJob,
    ToolLevel,
    Vendor,
    utcnow,
)
from portal.domain.notifications import Notices
from portal.domain.signed import Links
from portal.domain.types import get_type
from portal.domain.users import create_user
from portal.exporters.sage300.connectors import make_connector
from portal.exporters.sage300.mapping import ORIGINAL_ESTIMATE

D = Decimal
COST_CODES = [("01-100", "General Conditions"), ("03-300", "Cast-in-Place Concrete"),
              ("05-120", "Structural Steel"), ("09-250", "Gypsum Board"),
              ("26-100", "Electrical"), ("32-900", "Landscaping")]
EXTRA_STANDARD_CODES = [("07-200", "Thermal Insulation"), ("08-800", "Glazing"),
                        ("22-400", "Plumbing Fixtures")]
CATEGORIES = [("LAB", "Labor"), ("MAT", "Material"), ("SUB", "Subcontract")]
# Jobs synced before the integration: (job number after the prefix, name, city, state, ZIP,
# status in Sage). The first three carry the commitments and invoices.
PROJECTS = [("101", "Riverside Medical Office", "Springfield", "IL", "62701", "Open"),
            ("102", "Oak Street Lofts", "Fairview", "OR", "97024", "Open"),
            ("103", "Harbor Point School", "Bayside", "WI", "53217", "Open"),
            ("011", "Elm Court Warehouse", "Springfield", "IL", "62702", "Open"),   # closed below
            ("012", "Cedar Park Apartments", "Fairview", "OR", "97024", "Open")]
P1, P2, P3, CLOSED, OLD = range(5)
VENDORS = [  # name, ERP vendor id, status in Sage
    ("Apex Concrete Co.", "APEX01", "Active"),
    ("Bright Line Electric", "BRIGHT01", "Active"),
    ("Cornerstone Steel Erectors", "CORNER01", "Active"),
    ("Delta Drywall & Acoustics", "DELTA01", "Inactive"),
    ("Evergreen Landscaping", None, None),
]
# AP Vendor Insurance in Sage: (type, policy, carrier, limit, days from today to its expiration); Apex's
# General Liability has expired, Bright Line's expires within 30 days, Delta has none (missing)
INSURANCE = {
    "Apex Concrete Co.": (("General Liability", "GL-40411", "Fidelity Mutual", D("2000000"), -20),
                          ("Workers Compensation", "WC-88120", "State Fund", None, 210)),
    "Bright Line Electric": (("General Liability", "GL-51870", "Keystone Casualty", D("1000000"), 12),
                             ("Workers Compensation", "WC-51871", "Keystone Casualty", None, 25),
                             ("Automobile", "AU-51872", "Keystone Casualty", D("1000000"), 180)),
    "Cornerstone Steel Erectors": (("General Liability", "GL-60002", "Ironclad Insurance", D("5000000"), 300),
                                   ("Workers Compensation", "WC-60003", "Ironclad Insurance", None, 300),
                                   ("Umbrella", "UM-60004", "Ironclad Insurance", D("10000000"), 300)),
}
CLOSED_PERIOD = "2026-01"
A, AN, POA = InvoiceStatus.APPROVED, InvoiceStatus.APPROVED_AS_NOTED, InvoiceStatus.PENDING_OWNER_APPROVAL


class _InlineQueue:
    """Runs exports and mail at once while seeding, through the same services as the worker."""

    def __init__(self, session, connector):
        self.session, self.connector = session, connector

    def export_many(self, items):
        for erp_item_id, attempt, _job_id in items:
            services.run_export(self.session, erp_item_id, attempt, self.connector)

    def mail(self, mail_id, job_id):
        outbox.deliver_mail(self.session, mail_id, None)


class _Series:
    """The names and Sage IDs of one load of the demo."""
    # The first load uses job numbers 24-###; a --force load takes the next free two-digit
    # prefix, so every Sage ID stays unique, within its length and on the job-number mask, and
    # tags user and company names.

    def __init__(self, session: Session, sim, force: bool):
        self.tag = f"-{secrets.token_hex(2)}" if force else ""
        self.yy = "24" if not force and sim.get_job("24-101") is None else self._free(session, sim)

    @staticmethod
    def _free(session: Session, sim) -> str:
        for yy in range(30, 100):
            if session.scalars(select(Project.id).where(Project.number.like(f"{yy}-%"))).first() is None \
                    and sim.get_job(f"{yy}-101") is None and sim.get_vendor(f"APEX{yy}") is None:
                return str(yy)
        raise RuntimeError("No free job-number prefix left for another demo load.")

    def job(self, n: str) -> str:
        return f"{self.yy}-{n}"

    def vendor(self, base: str) -> str:
        """A Sage vendor (or customer) ID: base ends in 01, replaced by the prefix on a forced load."""
        return base if self.yy == "24" else base[:-2] + self.yy

    def name(self, name: str) -> str:
        return name + (f" {self.tag}" if self.tag else "")


@dataclass
class _Step:
    """What happens to one created item: sent, then accepted or rejected (drafts have no step)."""
    type_key: str
    item_id: int
    outcome: str                 # ready | synced | failed | rejected
    fields: dict | None = None   # the export fields (synced, failed); None: the type's defaults
    reason: str = ""
    sender: Any = None


@dataclass
class _Demo:
    """What a load builds on, and the steps that run once everything is created."""
    session: Session
    sim: Any
    s: _Series
    people: dict
    projects: list = field(default_factory=list)
    cats: dict = field(default_factory=dict)      # project id -> {(code, category): Category}
    vendors: dict = field(default_factory=dict)   # name -> Vendor
    steps: list = field(default_factory=list)     # _Step, or a change on the Sage side to make then

    def step(self, type_key, item, outcome, fields=None, reason="", sender=None):
        """Plan what happens to an item once everything is created (a draft: nothing)."""
        if outcome != "draft":
            self.steps.append(_Step(type_key, item.id, outcome, fields, reason, sender))
        return item

    def budget(self, p, lines):
        """A budget of (cost code, category, original) lines, not sent."""
        b = Budget(project_id=p.id, created_by_id=self.people["invoiceadmin"].id, locked=False)
        self.session.add(b)
        self.session.flush()
        for code, cat, original in lines:
            self.session.add(BudgetLine(budget_id=b.id, category_id=self.cats[p.id][(code, cat)].id,
                                        original=original, estimated_cost_at_completion=original + D("1000"),
                                        forecast_to_complete=original - D("5000")))
        self.session.flush()
        return b

    def members(self, project):
        """The demo users' levels on a project's tools."""
        self.session.add(ProjectMember(user_id=self.people["invoiceadmin"].id, project_id=project.id,
                                       level=ToolLevel.ADMIN))
        for who in ("standard", "readonly", "approver"):
            self.session.add(ProjectMember(user_id=self.people[who].id, project_id=project.id,
                                           level=ToolLevel.READ_ONLY))

    def project(self, n, name, city="Springfield", state="IL", zip_code="62704", codes=COST_CODES[:3],
                synced=False, sage_status="Open", address="400 Civic Plaza"):
        """A project with cost codes and categories; synced: its job (and codes) in Sage too."""
        number = self.s.job(n)
        p = Project(name=name, number=number, city=city, state=state, zip=zip_code, address=address,
                    sage_job_id=number if synced else None, created_by_id=self.people["admin"].id)
        self.session.add(p)
        self.session.flush()
        if synced:
            self.sim.add_job(number, name[:30], address_1=address[:30], city=city[:15], state=state,
                             zip=zip_code, status=sage_status)
        self.cats[p.id] = {}
        for code in codes:
            self.cost_code(p, code, synced=synced)
        self.members(p)
        self.session.flush()
        return p

    def cost_code(self, p, code, categories=CATEGORIES, synced=False):
        """A project cost code from the standard list with its categories; synced: in Sage too."""
        code, desc = code
        cc = CostCode(project_id=p.id, code=code, description=desc, created_by_id=self.people["invoiceadmin"].id)
        self.session.add(cc)
        self.session.flush()
        if synced:
            self.sim.add_cost_code(p.sage_job_id, code, desc)
        for cat, cat_desc in categories:
            c = Category(cost_code_id=cc.id, code=cat, description=cat_desc)
            self.session.add(c)
            self.cats.setdefault(p.id, {})[(code, cat)] = c
            if synced:
                self.sim.add_category(p.sage_job_id, code, cat, cat_desc)
        self.session.flush()
        return cc

    def commitment(self, p, vendor, number, title, lines, synced=False, sage_status="Open",
                   status="Approved"):
        """A commitment of (cost code, category, description, amount) lines; synced: in Sage too."""
        v = self.vendors[vendor]
        c = Commitment(project_id=p.id, vendor_id=v.id, number=number, title=title, commitment_type="subcontract",
                       status=status, retainage_pct=D("10"), erp_commitment_id=number if synced else None,
                       created_by_id=self.people["invoiceadmin"].id)
        self.session.add(c)
        self.session.flush()
        cls = []
        for i, (code, cat, desc, amount) in enumerate(lines, start=1):
            cl = CommitmentLine(commitment_id=c.id, line_no=i, description=desc,
                                category_id=self.cats[p.id][(code, cat)].id, amount=amount)
            self.session.add(cl)
            cls.append(cl)
        self.session.flush()
        if synced:
            self.sim.add_commitment(number, v.erp_vendor_id, p.sage_job_id, sum(ln[3] for ln in lines),
                                    description=title[:30], status=sage_status)
            for i, (code, cat, desc, amount) in enumerate(lines, start=1):
                self.sim.add_commitment_item(number, str(i), p.sage_job_id, code, cat, amount, description=desc)
        return c, cls


def seed(session: Session, config, password: str | None = None, force: bool = False):
    """Load the demo; None when the portal already has a company (unless force)."""
    if session.scalars(select(Company)).first() is not None and not force:
        return None
    password = password or secrets.token_urlsafe(9)
    connector = make_connector(config)
    sim = connector.sim
    sim.set_setting("closed_periods", CLOSED_PERIOD)
    s = _Series(session, sim, force)
    tag = s.tag

    if session.scalars(select(Company)).first() is None:
        session.add(Company(name=config.get("COMPANY_NAME", "Demo Company"), consolidate_invoice_lines=True))
    people = {}
    for username, name, level, push, site_admin in [
            ("admin", "Alex Admin", ToolLevel.ADMIN, True, True),
            ("approver", "Avery Approver", ToolLevel.STANDARD, True, False),
            ("standard", "Sam Standard", ToolLevel.STANDARD, False, False),
            ("readonly", "Riley Readonly", ToolLevel.READ_ONLY, False, False),
            ("invoiceadmin", "Ivy Invoiceadmin", ToolLevel.NONE, False, False)]:
        people[username] = create_user(session, username=username + tag, name=name,
                                       email=f"{username}{tag}@example.com", password=password,
                                       erp_level=level, can_push_to_accounting=push,
                                       is_site_admin=site_admin)
    if session.scalars(select(StandardCostCode)).first() is None:
        for code, desc in COST_CODES + EXTRA_STANDARD_CODES:
            session.add(StandardCostCode(code=code, description=desc, active=True))
        for code, desc in CATEGORIES:
            session.add(StandardCategory(code=code, description=desc))
    demo = _Demo(session, sim, s, people)

    for name, erp_id, status in VENDORS:
        erp_id = erp_id and s.vendor(erp_id)
        v = Vendor(name=s.name(name), erp_vendor_id=erp_id, address="100 Main St", city="Springfield",
                   state="IL", zip="62701", phone="555-0100")
        session.add(v)
        demo.vendors[name] = v
        if erp_id:
            sim.add_vendor(erp_id, name[:30], address_1="100 Main St", city="Springfield",
                           state="IL", zip="62701", telephone="555-0100", status=status)
            for kind, policy, carrier, limit, days in INSURANCE.get(name, ()):
                sim.set_vendor_insurance(erp_id, kind, policy, carrier, limit, date.today() - timedelta(days=365),
                                         date.today() + timedelta(days=days))
    session.flush()

    projects = demo.projects
    for n, name, city, state, zip_code, status in PROJECTS:
        codes = COST_CODES if len(projects) < CLOSED else COST_CODES[:3]
        projects.append(demo.project(n, name, city, state, zip_code, codes=codes, synced=True,
                                     sage_status=status, address=""))

    # Commitments synced before the integration: (project, vendor, title, lines, status in Sage)
    plan = [
        (P1, "Apex Concrete Co.", "Foundations and slabs", [("03-300", "SUB", "Footings", D("120000")), ("03-300", "MAT", "Rebar", D("45000"))], "Open"),
        (P1, "Bright Line Electric", "Electrical rough-in", [("26-100", "SUB", "Rough-in", D("90000")), ("26-100", "MAT", "Switchgear", D("30000"))], "Open"),
        (P2, "Cornerstone Steel Erectors", "Structural steel", [("05-120", "SUB", "Erection", D("150000")), ("05-120", "MAT", "Steel", D("80000"))], "Open"),
        (P2, "Delta Drywall & Acoustics", "Drywall", [("09-250", "SUB", "Board and tape", D("60000"))], "Open"),
        (P3, "Apex Concrete Co.", "Site concrete", [("03-300", "SUB", "Sidewalks", D("40000"))], "Open"),
        (P3, "Bright Line Electric", "Lighting", [("26-100", "SUB", "Fixtures", D("25000"))], "Open"),
        (P3, "Evergreen Landscaping", "Landscaping", [("32-900", "SUB", "Planting", D("18000"))], "Open"),
        (CLOSED, "Apex Concrete Co.", "Warehouse slab repairs", [("03-300", "SUB", "Slab repairs", D("35000"))], "Open"),
        (P2, "Bright Line Electric", "Temporary power", [("26-100", "SUB", "Temporary power", D("12000"))], "Archived"),
    ]
    # Elm Court Warehouse's budget went to Sage before the job was closed there.
    closed = projects[CLOSED]
    demo.step("budget", demo.budget(closed, [("03-300", "SUB", D("35000")), ("01-100", "LAB", D("8000"))]),
              "synced")
    demo.steps.append(lambda: sim.set_job_status(closed.sage_job_id, "Closed"))

    commitments = []
    for i, (pi, vendor_name, title, lines, sage_status) in enumerate(plan, start=1):
        p = projects[pi]
        vendor_synced = demo.vendors[vendor_name].erp_vendor_id is not None
        commitments.append(demo.commitment(p, vendor_name, f"SC-{p.number}-{i:02d}", title, lines,
                                           synced=vendor_synced, sage_status=sage_status))

    creator = people["invoiceadmin"]
    invoices = []

    def invoice(ci, number, month, status, work, stored=None):
        c, cls = commitments[ci]
        invoices.append(_invoice(session, c, cls, number + tag, month, status, work, stored, creator))
        return invoices[-1]

    synced = [invoice(0, "AP-1001", 7, A, [D("30000"), D("10000")]),
              invoice(1, "BL-2001", 7, A, [D("20000"), D("5000")]),
              invoice(2, "CS-3001", 7, A, [D("40000"), D("20000")]),
              invoice(4, "AP-1101", 8, A, [D("12000")]),
              invoice(5, "BL-2101", 8, AN, [D("6000")])]
    ready = [invoice(0, "AP-1002", 8, A, [D("25000"), D("8000")], [D("0"), D("2500")]),
             invoice(0, "AP-1003", 9, POA, [D("22000"), D("7000")]),
             invoice(1, "BL-2002", 8, A, [D("18000"), D("6000")]),
             invoice(1, "BL-2003", 9, AN, [D("15000"), D("4000")]),
             invoice(2, "CS-3002", 8, A, [D("35000"), D("15000")]),
             invoice(2, "CS-3003", 9, POA, [D("30000"), D("12000")]),
             invoice(4, "AP-1102", 9, A, [D("9000")]),
             invoice(5, "BL-2102", 9, A, [D("5000")]),
             # Sage refuses these when accepted:
             invoice(0, "AP-0131", 1, A, [D("5000"), D("1000")]),          # closed GL period (01/2026)
             invoice(4, "AP-1199", 10, A, [D("60000")]),                   # over its commitment (40,000)
             invoice(3, "DD-4001", 8, A, [D("10000")]),                    # vendor inactive in Sage
             invoice(5, "BL-2199", 10, A, [D("3000")], [D("-3000")]),      # zero-dollar: no distributions
             invoice(2, "CS-3001", 9, A, [D("5000"), D("2000")]),          # the number is in Sage already
             invoice(7, "AP-1301", 9, A, [D("8000")])]                     # its job is closed in Sage
    failed = [invoice(1, "BL-2001", 10, A, [D("1000"), D("0")])]           # duplicate of a synced invoice #
    rejected = [invoice(2, "CS-3004", 10, A, [D("25000"), D("9000")]),
                invoice(0, "AP-1004", 10, AN, [D("18000"), D("6000")])]
    not_sent = [invoice(1, "BL-2004", 10, A, [D("12000"), D("3000")]),
                invoice(2, "CS-3005", 11, InvoiceStatus.UNDER_REVIEW, [D("15000"), D("5000")]),
                invoice(4, "AP-1103", 10, InvoiceStatus.REVISE_AND_RESUBMIT, [D("7000")]),
                invoice(5, "BL-2103", 10, InvoiceStatus.DRAFT, [D("4000")]),
                invoice(6, "EL-5001", 9, A, [D("6000")]),                    # no ERP vendor ID
                invoice(6, "EL-5002", 10, InvoiceStatus.DRAFT, [D("5000")]),
                invoice(3, "DD-4002", 9, InvoiceStatus.UNDER_REVIEW, [D("8000")]),
                invoice(0, "AP-1005", 11, A, [D("15000"), D("5000")])]
    session.commit()
    for inv in synced + failed:
        demo.step("subcontractor_invoice", inv, "synced" if inv in synced else "failed")
    for inv in ready:
        demo.step("subcontractor_invoice", inv, "ready")
    for inv, reason in zip(rejected, [  # noqa: B905 - one reason per rejected invoice
            "Billing period overlaps the previous pay application; please correct the period.",
            "Retainage should be 5% on this subcontract after substantial completion."]):
        demo.step("subcontractor_invoice", inv, "rejected", reason=reason)

    new_projects = _seed_setup_items(demo)
    _seed_financial_items(demo, commitments, new_projects)
    _seed_prime_contracts(demo)
    session.commit()
    notices = Notices(company=config.get("COMPANY_NAME", "Demo Company"),
                      base_url=(config.get("PUBLIC_BASE_URL") or "").rstrip("/"), queue=_InlineQueue(session, connector))
    links = Links(notices.base_url, config["SECRET_KEY"])
    contacts = billing_side.add_contacts(session, creator, demo.vendors, tag, password, links, notices)
    _carry_out(demo, connector, config)   # a rejected invoice's contacts are told it is being corrected
    _waiting_for_accounting(session, people["invoiceadmin"])
    later = billing_side.pay_in_sage(session, sim, synced)
    _seed_data_from_sage(session, sim, people["admin"], projects[0], notices)
    later()
    billing_side.seed_billing(session, creator, contacts, projects[:CLOSED], links, notices, tag)
    return {"invoices": session.scalar(select(func.count(SubcontractorInvoice.id)).where(
                SubcontractorInvoice.project_id.in_([p.id for p in projects]))),
            "projects": len(projects) + len(new_projects),
            "not_sent": len(not_sent), "items": sum(isinstance(st, _Step) for st in demo.steps),
            "password": password}


def _waiting_for_accounting(session: Session, invoice_admin) -> None:
    """Needs attention lists something stuck too: the invoice administrator's oldest Ready to
    Export item was sent five days ago and accounting has not decided (ATTENTION_READY_HOURS)."""
    erp = session.scalars(select(ErpItem).join(ProjectMember, and_(
        ProjectMember.project_id == ErpItem.project_id, ProjectMember.user_id == invoice_admin.id,
        ProjectMember.level == ToolLevel.ADMIN)).where(ErpItem.state == State.READY)
        .order_by(ErpItem.id).limit(1)).first()
    if erp is not None:
        erp.sent_at = utcnow() - timedelta(days=5)
        session.commit()


class _NoQueue:
    def sync(self, run_id, job_id):
        pass


def _seed_data_from_sage(session: Session, sim, admin, transactions_project, notices: Notices | None = None) -> None:
    """The Sage side of "data back from Sage" (vendors, jobs, contracts and posted costs only in
    Sage), then one run of every sync, so Ready to Import, the standard lists and the Job Costs
    report have data at once; the schedule takes over from there."""
    seed_sage_side(sim, date.today())
    transactions_project.transaction_sync = True
    session.commit()
    for key in sync.KINDS:
        run = sync.start(session, admin, key, _NoQueue())
        sync.execute(session, run.id, sim, notices)
    for row in sync.schedules(session):  # just ran: next runs one interval from now
        row.next_run_at = utcnow() + timedelta(minutes=row.interval_minutes)
    session.commit()


def _invoice(session, c, cls, number, month, status, work, stored, creator):
    """A subcontractor invoice for one month on a commitment's lines (10% retainage)."""
    start = date(2026, month, 1)
    end = (date(2026, month + 1, 1) if month < 12 else date(2027, 1, 1)) - timedelta(days=1)
    inv = SubcontractorInvoice(project_id=c.project_id, commitment_id=c.id, number=number,
                               period_start=start, period_end=end, billing_date=end, status=status,
                               created_by_id=creator.id)
    session.add(inv)
    session.flush()
    stored = stored or [D("0")] * len(work)
    for cl, w, st in zip(cls, work, stored, strict=True):
        session.add(InvoiceLine(invoice_id=inv.id, commitment_line_id=cl.id, description=cl.description,
                                work_completed=w, materials_stored=st,
                                retainage=((w + st) * D("0.10")).quantize(D("0.01"))))
    session.flush()
    session.refresh(inv, ["lines"])
    inv.recompute_totals()
    return inv


def _carry_out(demo: _Demo, connector, config) -> None:
    """Send every planned item, then accept or reject it as planned (exports run at once)."""
    from flask import current_app
    session, people = demo.session, demo.people
    queue = _InlineQueue(session, connector)
    company = config.get("COMPANY_NAME", "Demo Company")
    base = (config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    urls = current_app.url_map.bind("localhost")

    def link(erp):
        endpoint, args = get_type(erp.item_type).edit_page(erp)
        return base + urls.build(endpoint, args)

    for st in demo.steps:
        if callable(st):
            st()
            continue
        item_type = get_type(st.type_key)
        erp = services.send(session, st.sender or people["invoiceadmin"], st.type_key, st.item_id)
        if st.outcome in ("synced", "failed"):
            fields = st.fields if st.fields is not None else item_type.export_defaults(
                item_type.load(session, st.item_id))
            services.accept(session, people["approver"], erp.id, fields, queue)
        elif st.outcome == "rejected":
            services.reject(session, people["approver"], erp.id, st.reason, queue, company, link)


def _seed_setup_items(demo: _Demo) -> dict:
    """Vendors, jobs, sub jobs and cost codes; returns the projects it adds by number."""
    session, sim, s, people = demo.session, demo.sim, demo.s, demo.people
    admin = people["admin"]
    p1, p2, p3, closed = demo.projects[P1], demo.projects[P2], demo.projects[P3], demo.projects[CLOSED]

    # ---- vendors (companies), sent by a company administrator
    # Only in Sage: an approver who gives a company this ERP vendor ID meets Sage's refusal.
    if sim.get_vendor(s.vendor("HARBOR01")) is None:
        sim.add_vendor(s.vendor("HARBOR01"), "Harbor Mechanical", city="Bayside", state="WI", status="Active")
    companies = [  # outcome, name, city, state, ZIP, ERP vendor ID to accept with
        ("synced", "Foxglove Glazing LLC", "Springfield", "IL", "62702", "FOXGLO01"),
        ("ready", "Granite Peak Roofing", "Fairview", "OR", "97024", None),
        ("rejected", "Ironwood Millwork", "Springfield", "IL", "62702", None),
        ("draft", "Juniper Paving Co.", "Springfield", "IL", "62702", None),
        # Sage refuses these:
        ("failed", "Consolidated Fire Protection Services of Illinois", "Springfield", "IL", "62702",
         "CONSOL01"),                                                                     # name over 30
        ("ready", "Northwestern Regional Mechanical Contractors", "Springfield", "IL", "62702", None),  # name
        ("ready", "Harbor Mechanical", "Bayside", "WI", "53217", None),                   # HARBOR01 in Sage
        ("ready", "Quarry Stone Masonry", "Bayside", "Wisconsin", "53217", None),         # state over 4
        ("ready", "Riverbend Plumbing", "Springfield", "IL", "62704-12345", None),        # ZIP over 10
    ]
    for outcome, name, city, state, zip_code, erp_id in companies:
        v = Vendor(name=s.name(name), address="12 Commerce Way", city=city, state=state, zip=zip_code,
                   phone="555-0142", created_by_id=admin.id)
        session.add(v)
        session.flush()
        fields = erp_id and {"erp_vendor_id": s.vendor(erp_id), "vendor_type": "Subcontractor"}
        demo.step("vendor", v, outcome, fields, reason="We have no W-9 on file for this company yet; send it again once we do.", sender=admin)
    demo.step("vendor", demo.vendors["Evergreen Landscaping"], "ready", sender=admin)

    # ---- jobs (projects), accepted with their number as Sage Job ID
    if sim.get_job(s.job("113")) is None:
        sim.add_job(s.job("113"), "Lakeside Fire Station", city="Springfield", state="IL", zip="62704")
    jobs: list[tuple[str, str, str, dict[str, Any]]] = [  # outcome, number, name, what differs from a Springfield, IL 62704 address
        ("synced", "104", "Northgate Library Renovation", {}),
        ("ready", "106", "Maple Grove Clinic", {}),
        ("rejected", "107", "Orchard Hill Senior Center", {}),
        ("draft", "108", "Pinecrest Transit Hub", {"codes": ()}),            # no cost codes: cannot be sent
        # Sage refuses these:
        ("failed", "112", "Stonebridge Elementary School Addition", {}),      # name over 30
        ("ready", "105", "Westfield Community Recreation Center", {}),        # name over 30
        ("ready", "109", "Hillcrest Fire Station", {"city": "North Springfield Heights"}),  # city over 15
        ("ready", "110", "Quarry Road Bridge", {"zip_code": "62711-44201"}),  # ZIP over 10
        ("ready", "111", "Lincoln Park Pavilion", {"state": "Illinois"}),     # state over 4
        ("ready", "113", "Lakeside Fire Station", {}),                        # job 113 is in Sage
    ]
    new = {}
    for outcome, n, name, where in jobs:
        new[n] = demo.step("job", demo.project(n, name, **where), outcome, {"sage_job_id": s.job(n)},
                           reason="The owner has not signed the contract yet; send it again once it is awarded.")

    # ---- sub jobs (Sage extras), accepted with their code as Extra ID
    if sim.get_extra(p2.sage_job_id, "ALT1") is None:
        sim.add_extra(p2.sage_job_id, "ALT1", "Alternate 1 Site Lighting")
    sub_jobs = [
        ("synced", p1, "PH1", "Phase 1 Core and Shell"),
        ("ready", p1, "PH2", "Phase 2 Tenant Fit-Out"),
        ("rejected", p3, "GYM", "Gymnasium Addition"),
        ("draft", new["106"], "PH1", "Phase 1 Clinic"),                       # its job is not in Sage yet
        # Sage refuses these:
        ("failed", closed, "MEZ", "Office Mezzanine"),                        # job closed
        ("ready", closed, "DOCK", "Loading Dock Expansion"),                  # job closed
        ("ready", p2, "ALT1", "Alternate 1 Site Lighting"),                   # extra ALT1 in Sage
    ]
    for outcome, p, code, name in sub_jobs:
        sub = SubJob(project_id=p.id, code=code, name=name, created_by_id=people["invoiceadmin"].id)
        session.add(sub)
        session.flush()
        demo.step("sub_job", sub, outcome,
                  reason="The gymnasium is a separate job in Sage (bid package 2), not an extra.")

    # ---- project cost codes, from the standard list
    insulation, glazing, plumbing = EXTRA_STANDARD_CODES
    cost_codes = [
        ("synced", p1, glazing, CATEGORIES[:2]),
        ("ready", p2, insulation, CATEGORIES[:2]),
        ("rejected", p3, plumbing, CATEGORIES[1:]),
        ("draft", p1, plumbing, CATEGORIES[2:]),  # not in Sage: a commitment and a PCCO below use it
        # Sage refuses these:
        ("failed", closed, glazing, CATEGORIES[:2]),                          # job closed
        ("ready", closed, insulation, CATEGORIES[:2]),                        # job closed
    ]
    for outcome, p, standard, categories in cost_codes:
        demo.step("cost_code", demo.cost_code(p, standard, categories), outcome,
                  reason="Plumbing fixtures are carried in the mechanical subcontract; no separate cost code.")
    return new


def _seed_financial_items(demo: _Demo, commitments, new_projects) -> None:
    """Budgets, budget changes, commitments and commitment change orders."""
    session, sim, s, people = demo.session, demo.sim, demo.s, demo.people
    creator = people["invoiceadmin"]
    p1, p2, p3, closed, old = demo.projects
    northgate, maple = new_projects["104"], new_projects["106"]

    # ---- budgets, one per project; two meet estimates entered in Sage
    for p, code, cat, amount in [(p1, "03-300", "SUB", D("150000")), (old, "01-100", "LAB", D("40000"))]:
        sim.add_transaction(p.sage_job_id, code, cat, ORIGINAL_ESTIMATE, amount, description="Original estimate")
    budgets = [
        ("synced", northgate, [("01-100", "LAB", D("40000")), ("03-300", "SUB", D("120000")),
                               ("05-120", "MAT", D("60000"))]),              # once its job is exported
        ("ready", p2, [(code, cat, D("25000")) for code in ("03-300", "05-120") for cat, _ in CATEGORIES]),
        ("rejected", p3, [("01-100", "LAB", D("30000")), ("03-300", "SUB", D("90000"))]),
        ("draft", maple, [("01-100", "LAB", D("20000"))]),                   # its job is not in Sage yet
        # Sage refuses these:
        ("failed", old, [("01-100", "LAB", D("40000")), ("05-120", "SUB", D("80000"))]),  # estimate in Sage
        ("ready", p1, [("01-100", "LAB", D("50000")), ("03-300", "SUB", D("150000"))]),   # estimate in Sage
    ]
    for outcome, p, lines in budgets:
        demo.step("budget", demo.budget(p, lines), outcome,
                  reason="General conditions are missing supervision: add 01-100 SUB and send it again.")

    # ---- budget changes (approved estimate changes): they update an exported budget
    move = [("01-100", "LAB", D("-5000")), ("03-300", "MAT", D("5000"))]
    budget_changes = [
        ("synced", northgate, "BC-001", "Contingency to concrete", move),
        ("ready", northgate, "BC-002", "Steel escalation", [("05-120", "MAT", D("12000")),
                                                           ("01-100", "LAB", D("-12000"))]),
        ("rejected", northgate, "BC-003", "Concrete to general conditions", move),
        ("draft", northgate, "BC-004", "Labor to material", move),
        # Sage refuses these:
        ("failed", closed, "BC-001", "Final cost reconciliation", move),     # job closed
        ("ready", closed, "BC-002", "Punch list allowance", move),           # job closed
    ]
    for outcome, p, number, description, lines in budget_changes:
        bc = BudgetChange(project_id=p.id, number=number, description=description, created_by_id=creator.id)
        session.add(bc)
        session.flush()
        session.add_all([BudgetChangeLine(change_id=bc.id, category_id=demo.cats[p.id][(code, cat)].id,
                                          amount=amount) for code, cat, amount in lines])
        session.flush()
        demo.step("budget_change", bc, outcome, reason="The owner has not approved this transfer yet.")

    # ---- commitments, accepted with their contract # as Sage ID
    apex, bright, steel_co, delta = ("Apex Concrete Co.", "Bright Line Electric", "Cornerstone Steel Erectors",
                                     "Delta Drywall & Acoustics")
    sim.add_commitment(f"SC-{p3.number}-09", demo.vendors[apex].erp_vendor_id, p3.sage_job_id, D("22000"),
                       description="Curbs and gutters")  # entered in Sage directly
    planned = [  # outcome, project, number, vendor, title, (cost code, category, description, amount)
        ("synced", p2, "10", bright, "Low-voltage cabling", ("26-100", "SUB", "Cabling", D("42000"))),
        ("ready", p1, "08", apex, "Waterproofing", ("03-300", "SUB", "Below-grade membrane", D("24000"))),
        ("rejected", p3, "08", steel_co, "Miscellaneous metals", ("05-120", "SUB", "Handrails", D("16000"))),
        ("draft", p3, "11", apex, "Retaining wall", ("03-300", "SUB", "Wall", D("28000"))),  # not approved
        # Sage refuses these:
        ("failed", p2, "11", delta, "Acoustic panels", ("09-250", "SUB", "Panels", D("14000"))),  # inactive
        ("ready", p1, "09", delta, "Acoustic ceilings", ("09-250", "SUB", "Ceiling grid", D("18000"))),  # same
        ("ready", closed, "02", bright, "Dock lighting", ("03-300", "SUB", "Dock lights", D("9000"))),  # closed
        ("ready", p3, "09", apex, "Curbs and gutters", ("03-300", "SUB", "Curbs", D("22000"))),  # in Sage
        ("ready", p1, "10", steel_co, "Plumbing fixtures", ("22-400", "SUB", "Fixtures", D("31000"))),  # no cat.
    ]
    for outcome, p, n, vendor, title, line in planned:
        c, _ = demo.commitment(p, vendor, f"SC-{p.number}-{n}", title, [line],
                               status="Out for Signature" if outcome == "draft" else "Approved")
        demo.step("commitment", c, outcome, {"sage_id": c.number},
                  reason="Use the unit-price purchase order for the handrails instead.")
    # the unit-price purchase order: Unit/Quantity-based, 320 LF of handrail at 48.75 (Sage gets units and unit cost)
    c, (handrail,) = demo.commitment(p3, steel_co, f"PO-{p3.number}-12", "Handrails (unit price)",
                                     [("05-120", "SUB", "Handrail", D("15600"))])
    c.commitment_type, c.accounting_method = "purchase_order", "unit"
    handrail.units, handrail.unit_cost, handrail.unit_description = D("320"), D("48.75"), "LF"
    demo.step("commitment", c, "ready", {"sage_id": c.number})

    # ---- commitment change orders, on synced commitments, accepted with their # as CCO ID
    footings, rough_in, steel, lighting, slab, temporary = (commitments[i] for i in (0, 1, 2, 5, 7, 8))
    taken = f"CO-{s.yy}-90"
    sim.add_commitment_co(steel[0].erp_commitment_id, taken, "Crane mobilization")  # entered in Sage
    ccos: list[tuple[str, Any, str, str, list[tuple[Any, Decimal]]]] = [  # outcome, (commitment, its lines), number, title, [(line index or a new line's coding, amount)]
        ("synced", rough_in, f"CO-{s.yy}-01", "Switchgear upgrade and generator pad",
         [(1, D("4500")), (("26-100", "SUB", "Generator pad"), D("8000"))]),
        ("ready", footings, f"CO-{s.yy}-02", "Footing redesign", [(0, D("6000"))]),
        ("rejected", lighting, f"CO-{s.yy}-03", "Added site poles", [(0, D("3500"))]),
        ("draft", footings, f"CO-{s.yy}-04", "Rebar escalation", [(1, D("2500"))]),  # pending approval
        # Sage refuses these:
        ("failed", temporary, f"CO-{s.yy}-07", "Extended rental", [(0, D("1500"))]),  # commitment archived
        ("ready", temporary, f"CO-{s.yy}-05", "Added panel", [(0, D("2200"))]),       # commitment archived
        ("ready", slab, f"CO-{s.yy}-06", "Joint sealing", [(0, D("1800"))]),          # job closed
        ("ready", steel, taken, "Crane mobilization", [(0, D("7500"))]),   # this commitment has it in Sage
        ("ready", footings, taken, "Pump truck", [(0, D("2400"))]),        # CCO ID used in Sage
    ]
    for outcome, (c, lines), number, title, changes in ccos:
        co = CommitmentChangeOrder(project_id=c.project_id, commitment_id=c.id, number=number, title=title,
                                   status="Pending" if outcome == "draft" else "Approved",
                                   created_by_id=creator.id)
        session.add(co)
        session.flush()
        for what, amount in changes:
            new = isinstance(what, tuple)
            session.add(CCOLine(cco_id=co.id, commitment_line_id=None if new else lines[what].id,
                                category_id=demo.cats[c.project_id][what[:2]].id if new else None,
                                description=what[2] if new else "", amount=amount))
        session.flush()
        demo.step("cco", co, outcome, reason="The owner's change directive is not signed yet.")


def _seed_prime_contracts(demo: _Demo) -> None:
    """The first and the closed project's owner contracts (imported from Sage), PCCOs and owner invoices."""
    session, sim, s, people = demo.session, demo.sim, demo.s, demo.people
    creator = people["invoiceadmin"]
    p1, closed = demo.projects[P1], demo.projects[CLOSED]
    customer = s.vendor("CITY01")
    if sim.get_customer(customer) is None:
        sim.add_customer(customer, "Riverside Health District")

    def contract(p, title, items):
        number = f"{p.sage_job_id}-PC"
        pc = PrimeContract(project_id=p.id, number=number, title=title, status="Approved",
                           sage_contract_id=number, customer=customer)
        session.add(pc)
        session.flush()
        made = [PrimeContractItem(contract_id=pc.id, code=c, description=d, amount=a) for c, d, a in items]
        session.add_all(made)
        session.flush()
        sim.add_contract(number, p.sage_job_id, p.name[:30], items=items)
        return pc, made

    pc, items = contract(p1, "Riverside Medical Office - Owner",
                         [("100", "Sitework", D("450000")), ("200", "Building shell", D("2100000")),
                          ("300", "Interiors", D("1250000"))])
    # added to the contract in Sage: a PCCO adding item 400 meets Sage's refusal
    sim.add_contract_item(pc.sage_contract_id, "400", "Owner allowances")
    closed_pc, closed_items = contract(closed, "Elm Court Warehouse - Owner", [("100", "Warehouse", D("900000"))])

    # ---- PCCOs: accepted today; (contract item, or None for a new one, description, category, amount)
    concrete, plumbing = demo.cats[p1.id][("03-300", "SUB")], demo.cats[p1.id][("22-400", "SUB")]
    allowance = [(None, "Owner allowances", concrete, D("15000"))]
    pccos = [  # outcome, contract, number, title, lines, new contract item code to accept with
        ("synced", pc, "PCO-001", "Added paving at the main entry",
         [(items[0], "Added paving", concrete, D("18500"))], ""),
        ("ready", pc, "PCO-002", "Owner-requested entry canopy",
         [(items[0], "Canopy footings", concrete, D("6500")), (None, "Entry canopy", concrete, D("42000"))], ""),
        ("rejected", pc, "PCO-003", "Upgraded lobby finishes",
         [(items[2], "Lobby finishes", concrete, D("27000"))], ""),
        ("draft", pc, "PCO-2026-RIVERSIDE-0004", "Additional site lighting",      # # over 20: cannot be sent
         [(items[0], "Site lighting", concrete, D("9000"))], ""),
        # Sage refuses these:
        ("failed", pc, "PCO-007", "Signage allowance", allowance, "400"),          # item 400 is in Sage
        ("ready", pc, "PCO-005", "Owner allowance reconciliation", allowance, "400"),  # item 400 is in Sage
        ("ready", pc, "PCO-006", "Restroom fixtures",                             # category not in Sage
         [(items[2], "Fixtures", plumbing, D("12500"))], ""),
        ("ready", closed_pc, "PCO-001", "Dock leveler",                            # job closed
         [(closed_items[0], "Dock leveler", demo.cats[closed.id][("03-300", "SUB")], D("8000"))], ""),
    ]
    for outcome, c, number, title, lines, code in pccos:
        co = PrimeChangeOrder(project_id=c.project_id, contract_id=c.id, number=number, title=title,
                              status="Approved", created_by_id=creator.id)
        session.add(co)
        session.flush()
        session.add_all([PrimeChangeOrderLine(pcco_id=co.id, contract_item_id=item.id if item else None,
                                              description=description, category_id=category.id, amount=amount)
                         for item, description, category, amount in lines])
        session.flush()
        demo.step("pcco", co, outcome, {"transaction_date": date.today().isoformat(), "new_item_code": code},
                  reason="Pending the owner's signature on the change order.")

    # ---- owner invoices: accepted with their # as invoice and their billing date
    work = [(items[0], D("60000")), (items[1], D("250000"))]
    invoices = [  # outcome, # after the job number, billing month (2026), lines
        ("synced", "05", 8, work),
        ("synced", "06", 9, work),
        ("ready", "07", 10, [(items[0], D("90000")), (items[1], D("310000"))]),
        ("rejected", "08", 11, work),
        ("draft", "09", 12, work),                                            # under review
        # Sage refuses these:
        ("failed", "05", 9, work),                                            # invoice ..-05 is in Sage
        ("ready", "06", 10, work),                                            # invoice ..-06 is in Sage
        ("ready", "01", 1, work),                                             # GL period 01/2026 closed
        ("ready", "10", 10, [(items[0], D("0")), (items[1], D("0"))]),        # zero dollars
    ]
    for outcome, n, month, invoice_lines in invoices:
        start = date(2026, month, 1)
        end = (date(2026, month + 1, 1) if month < 12 else date(2027, 1, 1)) - timedelta(days=1)
        inv = OwnerInvoice(project_id=pc.project_id, contract_id=pc.id, number=f"OI-{p1.number}-{n}",
                           period_start=start, period_end=end, billing_date=end, created_by_id=creator.id,
                           status="Under Review" if outcome == "draft" else "Approved")
        session.add(inv)
        session.flush()
        session.add_all([OwnerInvoiceLine(invoice_id=inv.id, contract_item_id=item.id, amount=amount,
                                          retainage=(amount * D("0.10")).quantize(D("0.01")))
                         for item, amount in invoice_lines])
        session.flush()
        demo.step("owner_invoice", inv, outcome,
                  reason="Retainage on Building shell should be 5% after the 50% milestone.")
