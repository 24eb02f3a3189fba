"""Demo data: a company, three projects synced as Sage jobs, vendors, commitments, ~30 invoices,
and the Sage side (the simulator) that the exports meet."""
from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.domain import services
from portal.domain.models import (Category, Commitment, CommitmentLine, Company, CostCode,
                                  InvoiceLine, InvoiceStatus, Project, ProjectMember,
                                  SubcontractorInvoice, ToolLevel, Vendor)
from portal.domain.subcontractor_invoices import INVOICES
from portal.domain.users import create_user
from portal.exporters.sage300.connectors import make_connector

D = Decimal
COST_CODES = [("01-100", "General Conditions"), ("03-300", "Cast-in-Place Concrete"),
              ("05-120", "Structural Steel"), ("09-250", "Gypsum Board"),
              ("26-100", "Electrical"), ("32-900", "Landscaping")]
CATEGORIES = [("LAB", "Labor"), ("MAT", "Material"), ("SUB", "Subcontract")]
PROJECTS = [("24-101", "Riverside Medical Office", "Springfield", "IL", "62701"),
            ("24-102", "Oak Street Lofts", "Fairview", "OR", "97024"),
            ("24-103", "Harbor Point School", "Bayside", "WI", "53217")]
VENDORS = [  # name, ERP vendor id, status in Sage
    ("Apex Concrete Co.", "APEX01", "Active"),
    ("Bright Line Electric", "BRIGHT01", "Active"),
    ("Cornerstone Steel Erectors", "CORNER01", "Active"),
    ("Delta Drywall & Acoustics", "DELTA01", "Inactive"),
    ("Evergreen Landscaping", None, None),
]
CLOSED_PERIOD = "2026-01"


class _InlineQueue:
    """Runs exports and mail at once while seeding, through the same services as the worker."""

    def __init__(self, session, connector):
        self.session, self.connector = session, connector

    def export(self, erp_item_id, attempt, job_id):
        services.run_export(self.session, erp_item_id, attempt, self.connector)

    def mail(self, mail_id, job_id):
        services.deliver_mail(self.session, mail_id, None, 1)


def seed(session: Session, config, password: str | None = None, force: bool = False):
    """Load the demo; None when the portal already has a company (unless force)."""
    if session.scalars(select(Company)).first() is not None and not force:
        return None
    password = password or secrets.token_urlsafe(9)
    tag = "" if not force else f"-{secrets.token_hex(2)}"
    connector = make_connector(config)
    sim = connector.sim
    sim.set_setting("closed_periods", CLOSED_PERIOD)

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

    vendors = {}
    for name, erp_id, status in VENDORS:
        erp_id = erp_id and (erp_id[:6] + tag.replace("-", "")[:4]) if tag else erp_id
        v = Vendor(name=name + (f" {tag}" if tag else ""), erp_vendor_id=erp_id,
                   address="100 Main St", city="Springfield", state="IL", zip="62701",
                   phone="555-0100")
        session.add(v)
        vendors[name] = v
        if erp_id:
            sim.add_vendor(erp_id, name[:30], address_1="100 Main St", city="Springfield",
                           state="IL", zip="62701", telephone="555-0100", status=status)
    session.flush()

    projects, lines_by_project = [], {}
    for number, name, city, state, zip_code in PROJECTS:
        job = number + tag[:4] if tag else number
        p = Project(name=name, number=job, sage_job_id=job[:10], city=city, state=state, zip=zip_code)
        session.add(p)
        session.flush()
        sim.add_job(p.sage_job_id, name[:30], city=city[:15], state=state, zip=zip_code)
        cats = {}
        for code, desc in COST_CODES:
            cc = CostCode(project_id=p.id, code=code, description=desc)
            session.add(cc)
            session.flush()
            sim.add_cost_code(p.sage_job_id, code, desc)
            for cat, cat_desc in CATEGORIES:
                c = Category(cost_code_id=cc.id, code=cat, description=cat_desc)
                session.add(c)
                cats[(code, cat)] = c
                sim.add_category(p.sage_job_id, code, cat, cat_desc)
        session.flush()
        projects.append(p)
        lines_by_project[p.id] = cats
        for who in ("invoiceadmin",):
            session.add(ProjectMember(user_id=people[who].id, project_id=p.id, level=ToolLevel.ADMIN))
        for who in ("standard", "readonly", "approver"):
            session.add(ProjectMember(user_id=people[who].id, project_id=p.id, level=ToolLevel.READ_ONLY))

    # Commitments: (project index, vendor, title, [(cost code, category, description, amount)])
    plan = [
        (0, "Apex Concrete Co.", "Foundations and slabs", [("03-300", "SUB", "Footings", D("120000")), ("03-300", "MAT", "Rebar", D("45000"))]),
        (0, "Bright Line Electric", "Electrical rough-in", [("26-100", "SUB", "Rough-in", D("90000")), ("26-100", "MAT", "Switchgear", D("30000"))]),
        (1, "Cornerstone Steel Erectors", "Structural steel", [("05-120", "SUB", "Erection", D("150000")), ("05-120", "MAT", "Steel", D("80000"))]),
        (1, "Delta Drywall & Acoustics", "Drywall", [("09-250", "SUB", "Board and tape", D("60000"))]),
        (2, "Apex Concrete Co.", "Site concrete", [("03-300", "SUB", "Sidewalks", D("40000"))]),
        (2, "Bright Line Electric", "Lighting", [("26-100", "SUB", "Fixtures", D("25000"))]),
        (2, "Evergreen Landscaping", "Landscaping", [("32-900", "SUB", "Planting", D("18000"))]),
    ]
    commitments = []
    for n, (pi, vendor_name, title, lines) in enumerate(plan, start=1):
        p, v = projects[pi], vendors[vendor_name]
        number = f"SC-{p.number}-{n:02d}"
        synced = v.erp_vendor_id is not None
        c = Commitment(project_id=p.id, vendor_id=v.id, number=number, title=title,
                       kind="subcontract", status="Approved",
                       erp_commitment_id=number[:12] if synced else None)
        session.add(c)
        session.flush()
        cls = []
        for i, (code, cat, desc, amount) in enumerate(lines, start=1):
            cl = CommitmentLine(commitment_id=c.id, line_no=i, description=desc,
                                category_id=lines_by_project[p.id][(code, cat)].id, amount=amount)
            session.add(cl)
            cls.append(cl)
        if synced:
            sim.add_commitment(c.erp_commitment_id, v.erp_vendor_id, p.sage_job_id,
                               sum(l[3] for l in lines), description=title[:30])
            for i, (code, cat, desc, amount) in enumerate(lines, start=1):
                sim.add_commitment_item(c.erp_commitment_id, str(i), p.sage_job_id, code, cat,
                                        amount, description=desc)
        commitments.append((c, cls))
    session.flush()

    creator = people["invoiceadmin"]
    invoices = []

    def invoice(ci, number, month, status, work, stored=None, billing=None):
        c, cls = commitments[ci]
        start = date(2026, month, 1)
        end = (date(2026, month + 1, 1) if month < 12 else date(2027, 1, 1)) - timedelta(days=1)
        inv = SubcontractorInvoice(project_id=c.project_id, commitment_id=c.id, number=number + tag,
                                   period_start=start, period_end=end,
                                   billing_date=billing or end, status=status,
                                   created_by_id=creator.id)
        session.add(inv)
        session.flush()
        stored = stored or [D("0")] * len(work)
        for cl, w, s in zip(cls, work, stored):
            session.add(InvoiceLine(invoice_id=inv.id, commitment_line_id=cl.id,
                                    description=cl.description, work_completed=w,
                                    materials_stored=s,
                                    retainage=((w + s) * D("0.10")).quantize(D("0.01"))))
        session.flush()
        session.refresh(inv, ["lines"])
        inv.recompute_totals()
        invoices.append(inv)
        return inv

    A, AN, POA = InvoiceStatus.APPROVED, InvoiceStatus.APPROVED_AS_NOTED, InvoiceStatus.PENDING_OWNER_APPROVAL
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
             invoice(5, "BL-2199", 10, A, [D("3000")], [D("-3000")])]      # zero-dollar: no distributions
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

    queue = _InlineQueue(session, connector)
    approver = people["approver"]
    for inv in synced + ready + failed + rejected:
        services.send(session, creator, INVOICES.key, inv.id)
    for inv in synced + failed:
        erp = services.find_erp_item(session, INVOICES.key, inv.id)
        services.accept(session, approver, erp.id, INVOICES.export_defaults(inv), queue)
    reasons = ["Billing period overlaps the previous pay application; please correct the period.",
               "Retainage should be 5% on this subcontract after substantial completion."]
    for inv, reason in zip(rejected, reasons):
        erp = services.find_erp_item(session, INVOICES.key, inv.id)
        services.reject(session, approver, erp.id, reason, queue,
                        config.get("COMPANY_NAME", "Demo Company"),
                        lambda e: f"/projects/{e.project_id}/invoices/{e.item_id}")
    setup = _seed_setup_items(session, sim, people, projects, tag)
    return {"invoices": len(invoices), "projects": len(projects) + setup["projects"],
            "not_sent": len(not_sent), "setup_items": setup["sent"], "password": password}


EXTRA_STANDARD_CODES = [("07-200", "Thermal Insulation"), ("08-800", "Glazing"),
                        ("22-400", "Plumbing Fixtures")]


def _seed_setup_items(session: Session, sim, people, projects, tag):
    """Vendors, jobs, sub jobs and cost codes waiting in their tabs, two of them planted for
    Sage's field-length refusals."""
    from portal.domain import setup_items as setup
    from portal.domain.models import StandardCategory, StandardCostCode, SubJob
    if session.scalars(select(StandardCostCode)).first() is None:
        for code, desc in COST_CODES + EXTRA_STANDARD_CODES:
            session.add(StandardCostCode(code=code, description=desc, active=True))
        for code, desc in CATEGORIES:
            session.add(StandardCategory(code=code, description=desc))
    admin, creator = people["admin"], people["invoiceadmin"]
    # Only in Sage: an approver who gives a company this ERP vendor ID meets Sage's refusal.
    if sim.get_vendor("HARBOR01") is None:
        sim.add_vendor("HARBOR01", "Harbor Mechanical", city="Bayside", state="WI", status="Active")
    sent = []
    for name, city in [("Foxglove Glazing LLC", "Springfield"), ("Granite Peak Roofing", "Fairview")]:
        v = Vendor(name=name + (f" {tag}" if tag else ""), address="12 Commerce Way", city=city,
                   state="IL", zip="62702", phone="555-0142", created_by_id=admin.id)
        session.add(v)
        session.flush()
        sent.append((setup.VENDORS, v.id, admin))
    evergreen = session.scalars(select(Vendor).where(Vendor.erp_vendor_id.is_(None),
                                                     Vendor.name.like("Evergreen%"))).first()
    if evergreen is not None:
        sent.append((setup.VENDORS, evergreen.id, admin))
    new_projects = [("24-104", "Northgate Library Renovation", "Springfield", "62704"),
                    # Sage refuses this one: name over 30 characters, city over 15.
                    ("24-105", "Westfield Community Recreation Center Expansion",
                     "North Springfield Heights", "62711")]
    for number, name, city, zip_code in new_projects:
        p = Project(name=name, number=number + tag[:4], city=city, state="IL", zip=zip_code,
                    address="400 Civic Plaza", created_by_id=admin.id)
        session.add(p)
        session.flush()
        for code, desc in COST_CODES[:3]:
            cc = CostCode(project_id=p.id, code=code, description=desc, created_by_id=admin.id)
            session.add(cc)
            session.flush()
            for cat, cat_desc in CATEGORIES:
                session.add(Category(cost_code_id=cc.id, code=cat, description=cat_desc))
        session.add(ProjectMember(user_id=creator.id, project_id=p.id, level=ToolLevel.ADMIN))
        sent.append((setup.JOBS, p.id, creator))
    sub = SubJob(project_id=projects[0].id, code="PH2", name="Phase 2 Tenant Fit-Out",
                 created_by_id=creator.id)
    session.add(sub)
    session.flush()
    sent.append((setup.SUB_JOBS, sub.id, creator))
    cc = CostCode(project_id=projects[1].id, code="07-200", description="Thermal Insulation",
                  created_by_id=creator.id)
    session.add(cc)
    session.flush()
    for cat, cat_desc in CATEGORIES[:2]:
        session.add(Category(cost_code_id=cc.id, code=cat, description=cat_desc))
    session.commit()
    sent.append((setup.COST_CODES, cc.id, creator))
    sent += _seed_financial_items(session, people, projects, tag)
    sent += _seed_prime_contract(session, sim, people, projects[0], tag)
    for kind, item_id, who in sent:
        services.send(session, who, kind.key, item_id)
    return {"projects": len(new_projects), "sent": len(sent)}



def _seed_financial_items(session: Session, people, projects, tag):
    """A commitment ready to export, one Sage refuses (inactive vendor), a budget."""
    from portal.domain.budgets import BUDGETS
    from portal.domain.commitments import COMMITMENTS
    from portal.domain.models import Budget, BudgetLine
    creator = people["invoiceadmin"]
    cats = {(c.cost_code.code, c.code): c for c in session.scalars(
        select(Category).join(CostCode).where(CostCode.project_id == projects[0].id)
        .options(selectinload(Category.cost_code)))}
    vendors = {v.name: v for v in session.scalars(select(Vendor))}
    made = []
    for number, title, vendor, lines in [
            ("SC-24-101-08", "Waterproofing", "Apex Concrete Co.",
             [("Below-grade membrane", ("03-300", "SUB"), D("24000")),
              ("Flashing", ("03-300", "MAT"), D("6000"))]),
            # Sage refuses this one: the vendor is inactive in Sage.
            ("SC-24-101-09", "Acoustic ceilings", "Delta Drywall & Acoustics",
             [("Ceiling grid", ("09-250", "SUB"), D("18000"))])]:
        v = vendors.get(vendor) or next(iter(vendors.values()))
        c = Commitment(project_id=projects[0].id, vendor_id=v.id, number=number + tag[:3],
                       title=title, kind="subcontract", status="Approved",
                       retainage_pct=D("10"), created_by_id=creator.id)
        session.add(c)
        session.flush()
        for n, (desc, key, amount) in enumerate(lines, start=1):
            session.add(CommitmentLine(commitment_id=c.id, line_no=n, description=desc,
                                       category_id=cats[key].id, amount=amount))
        made.append((COMMITMENTS, c.id, creator))
    budget = Budget(project_id=projects[1].id, created_by_id=creator.id, locked=False)
    session.add(budget)
    session.flush()
    for c in session.scalars(select(Category).join(CostCode).where(
            CostCode.project_id == projects[1].id, CostCode.code.in_(["03-300", "05-120"]))):
        session.add(BudgetLine(budget_id=budget.id, category_id=c.id, original=D("25000"),
                               estimated_cost_at_completion=D("26000"),
                               forecast_to_complete=D("20000")))
    session.commit()
    made.append((BUDGETS, budget.id, creator))
    return made


def _seed_prime_contract(session: Session, sim, people, project, tag):
    """The owner's contract of the first project, as if imported from Sage, with a PCCO that
    adds a contract item and an owner invoice waiting in their tabs."""
    from portal.domain.models import (OwnerInvoice, OwnerInvoiceLine, PrimeChangeOrder,
                                      PrimeChangeOrderLine, PrimeContract, PrimeContractItem)
    from portal.domain.prime_contracts import OWNER_INVOICES, PCCOS
    creator = people["invoiceadmin"]
    number, customer = f"{project.sage_job_id}-PC"[:20], ("CITY01" + tag.replace("-", ""))[:10]
    items = [("100", "Sitework", D("450000")), ("200", "Building shell", D("2100000")),
             ("300", "Interiors", D("1250000"))]
    pc = PrimeContract(project_id=project.id, number=number, title="Riverside Medical Office - Owner",
                       status="Approved", sage_contract_id=number, customer=customer)
    session.add(pc)
    session.flush()
    contract_items = []
    for code, desc, amount in items:
        ci = PrimeContractItem(contract_id=pc.id, code=code, description=desc, amount=amount)
        session.add(ci)
        contract_items.append(ci)
    session.flush()
    sim.add_contract(number, project.sage_job_id, "Riverside Medical Office",
                     items=[(c, d, a) for c, d, a in items])
    if sim.get_customer(customer) is None:
        sim.add_customer(customer, "Riverside Health District")
    cat = session.scalars(select(Category).join(CostCode).where(
        CostCode.project_id == project.id, CostCode.code == "03-300", Category.code == "SUB")).first()
    pcco = PrimeChangeOrder(project_id=project.id, contract_id=pc.id, number="PCO-001" + tag[:3],
                            title="Owner-requested entry canopy", status="Approved",
                            created_by_id=creator.id)
    session.add(pcco)
    session.flush()
    session.add_all([PrimeChangeOrderLine(pcco_id=pcco.id, contract_item_id=contract_items[0].id,
                                          description="Added paving", category_id=cat.id, amount=D("18500")),
                     PrimeChangeOrderLine(pcco_id=pcco.id, contract_item_id=None,
                                          description="Entry canopy", category_id=cat.id, amount=D("42000"))])
    invoice = OwnerInvoice(project_id=project.id, contract_id=pc.id, number="OI-0007" + tag[:3],
                           period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                           billing_date=date(2026, 10, 31), status="Approved", created_by_id=creator.id)
    session.add(invoice)
    session.flush()
    session.add_all([OwnerInvoiceLine(invoice_id=invoice.id, contract_item_id=contract_items[0].id,
                                      amount=D("90000"), retainage=D("9000")),
                     OwnerInvoiceLine(invoice_id=invoice.id, contract_item_id=contract_items[1].id,
                                      amount=D("310000"), retainage=D("31000"))])
    session.commit()
    return [(PCCOS, pcco.id, creator), (OWNER_INVOICES, invoice.id, creator)]
