"""Items of every registered type, built and walked through the lifecycle by the services.

One Builder per type knows what a sendable item of its type needs (its project, what Sage must
already hold) and the forms a person fills in for it: the project-side form (`form_data`) and
the Accept form (`accept_data`). The form field names tests use live here and nowhere else, so
renaming one is a one-line change. Everything else is the same for every type:

    item = make_item(session, sim, "cco", State.READY, home=home, sender=pm, approver=approver)

builds a draft and walks it through the services (send, accept, the export against the
simulator, reject...) as far as the state asked for. Tests take the type keys from the registry
(tests/types.py), so a type registered without a Builder here fails (`builder(key)`), it is
never skipped.

Everything returned holds ids and plain values, not ORM objects: it outlives the session that
made it (web tests make requests between short sessions).
"""
from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from sqlalchemy import func, inspect, select

from portal.domain import items, projects, services
from portal.domain.lifecycle import State
from portal.domain.models import (
    Budget,
    BudgetLine,
    CostCode,
    ErpAudit,
    ErpItem,
    InvoiceLine,
    InvoiceStatus,
    OutboxMail,
    PrimeContract,
    PrimeContractItem,
    Project,
    ProjectMember,
    SubcontractorInvoice,
)
from portal.exporters.sage300.connectors import SimulatorConnector
from portal.exporters.sage300.records import SageResult
from tests import factories as f
from tests.types import get_type

COMPANY = "Test Builders"          # COMPANY_NAME of the test stack (tests/conftest.py)
LINK = "http://portal.test/x"      # the link a service-made rejection mail carries
REASON = "Fix it"                  # the reason items are rejected with on the way to REJECTED
SAGE_REFUSAL = "Job has been closed."  # what Sage said to items walked to FAILED


# ---- a project to put items on -----------------------------------------------------------------

@dataclass
class Home:
    """A project synced with its Sage job (factories.Setup: a synced vendor and a synced commitment
    with two lines, mirrored in the simulator), its members, and, made on first use, an exported
    (locked) budget and a synced prime contract. Its name carries `token`, so a search for the
    token finds every project of one test."""
    token: str
    members: dict            # user id -> level on every project made for this home
    pid: int
    number: str
    name: str
    job: str
    vendor: int
    vendor_name: str
    vendor_erp: str
    commitment: int
    commitment_number: str
    commitment_erp: str
    line1: int
    line2: int
    sub: int                 # category 03-300 SUB
    mat: int                 # category 03-300 MAT
    budget: int | None = None
    contract: int | None = None
    contract_number: str = ""
    customer: str = ""
    i100: int | None = None  # contract item 100 Sitework
    i200: int | None = None  # contract item 200 Building


def make_home(session, sim, members: dict | None = None, token: str | None = None, **setup_kw) -> Home:
    """A fresh synced project (factories.Setup) with `members` (user id -> level) on it."""
    token = token or f.suffix(8)
    setup = f.Setup(session, sim, **setup_kw)
    setup.project.name = f"Project {token} {f.suffix(4)}"
    for user_id, level in (members or {}).items():
        session.add(ProjectMember(user_id=user_id, project_id=setup.project.id, level=level))
    session.commit()
    return home_of(setup, members, token)


def home_of(setup, members: dict | None = None, token: str = "") -> Home:
    """The Home of a factories.Setup (browser tests keep its ORM objects at hand too)."""
    return Home(token=token, members=dict(members or {}), pid=setup.project.id, number=setup.project.number,
                name=setup.project.name, job=setup.project.sage_job_id, vendor=setup.vendor.id,
                vendor_name=setup.vendor.name, vendor_erp=setup.vendor.erp_vendor_id, commitment=setup.commitment.id,
                commitment_number=setup.commitment.number, commitment_erp=setup.commitment.erp_commitment_id,
                line1=setup.line1.id, line2=setup.line2.id, sub=setup.sub.id, mat=setup.mat.id)


def another_home(session, sim, home: Home, **setup_kw) -> Home:
    """A new project with the same members and token (a budget needs a project without one)."""
    return make_home(session, sim, home.members, home.token, **setup_kw)


def with_budget(session, sim, home: Home) -> Home:
    """The home with a budget already exported to Sage (SUB 50,000, MAT 10,000): budget changes can be sent."""
    if home.budget is None:
        budget = Budget(project_id=home.pid, locked=True)
        session.add(budget)
        session.flush()
        session.add_all([BudgetLine(budget_id=budget.id, category_id=home.sub, original=Decimal("50000")),
                         BudgetLine(budget_id=budget.id, category_id=home.mat, original=Decimal("10000"))])
        session.commit()
        for category, amount in (("SUB", 50000), ("MAT", 10000)):
            sim.add_transaction(home.job, "03-300", category, "Original estimate", amount)
        home.budget = budget.id
    return home


def with_contract(session, sim, home: Home) -> Home:
    """The home with a prime contract synced with Sage (items 100 Sitework, 200 Building) and its AR customer."""
    if home.contract is None:
        number, customer = f"PC{f.suffix(6)}", f"CU{f.suffix(6)}"
        pc = PrimeContract(project_id=home.pid, number=number, title="Owner contract", status="Approved",
                           sage_contract_id=number, customer=customer)
        session.add(pc)
        session.flush()
        i100 = PrimeContractItem(contract_id=pc.id, code="100", description="Sitework", amount=Decimal("400000"))
        i200 = PrimeContractItem(contract_id=pc.id, code="200", description="Building", amount=Decimal("900000"))
        session.add_all([i100, i200])
        session.commit()
        sim.add_contract(number, home.job, "Owner contract", items=[("100", "Sitework", 400000),
                                                                   ("200", "Building", 900000)])
        sim.add_customer(customer, "City of Springfield")
        home.contract, home.contract_number, home.customer, home.i100, home.i200 = \
            pc.id, number, customer, i100.id, i200.id
    return home


def unsynced_project(session, creator, *, members: dict | None = None, token: str = "", codes: int = 1,
                     name: str | None = None) -> int:
    """A project not in Sage yet (a job to send), `members` on it, with `codes` cost codes of the
    standard list (categories LAB and MAT), made by `creator` (a site admin, or a member admin)."""
    f.standard_list(session)
    project = Project(number=f"N-{f.suffix()}", name=name or f"Job {token} {f.suffix(4)}".replace("  ", " "),
                      address="400 Civic Plaza", city="Springfield", state="IL", zip="62701",
                      created_by_id=creator.id)
    session.add(project)
    session.flush()
    for user_id, level in (members or {}).items():
        session.add(ProjectMember(user_id=user_id, project_id=project.id, level=level))
    session.commit()
    for code, _ in f.STANDARD_CODES[:codes]:
        items.save_item(session, creator, "cost_code", project.id, None,
                        {"standard_code": code, "category_LAB": "on", "category_MAT": "on"})
    return project.id


def free_code(session, project_id: int) -> str | None:
    """A standard cost code the project does not have yet."""
    taken = set(session.scalars(select(CostCode.code).where(CostCode.project_id == project_id)))
    return next((code for code, _ in f.STANDARD_CODES if code not in taken), None)


_issued: set[str] = set()


def fresh_job_id(session, sim, mask: str = "##-###") -> str:
    """A Sage Job ID on the job-number mask (# a digit, A a letter) that no project, Sage job or earlier
    test has."""
    while True:
        job_id = "".join(secrets.choice(string.digits) if ch == "#" else
                         secrets.choice(string.ascii_uppercase) if ch == "A" else ch for ch in mask)
        if job_id in _issued or sim.get_job(job_id) or session.scalar(
                select(func.count()).select_from(Project).where(Project.sage_job_id == job_id)):
            continue
        _issued.add(job_id)
        return job_id


def fresh_vendor_id(sim) -> str:
    """An ERP Vendor ID (10 characters) Sage does not hold."""
    while True:
        vendor_id = f"V{f.suffix(8)}"
        if vendor_id not in _issued and not sim.get_vendor(vendor_id):
            _issued.add(vendor_id)
            return vendor_id


# ---- an item ----------------------------------------------------------------------------------

@dataclass
class Item:
    """One item as tests know it."""
    key: str
    id: int
    home: Home
    pid: int | None          # the project it lives in (a job: itself; a company: None)
    title: str               # how its tab row names it (aria labels): number, code or name
    number: str = ""         # its number or code ("" when it has none)
    erp: int | None = None   # its ErpItem once sent
    fields: dict = field(default_factory=dict)   # the export fields it was accepted with
    creator_id: int | None = None


# ---- one Builder per type ------------------------------------------------------------------------

@dataclass(frozen=True)
class Builder:
    """What the tests know of one type: how to make a sendable draft, its forms, what its pages and
    its Accept form show. Expectations are written here, not read from the type."""
    create: Callable            # (session, sim, home, creator, **over) -> Item, a sendable draft
    form: Callable | None       # (session, sim, home, **over) -> project-side "new" form (None: no such page)
    edit: Callable              # (session, item) -> (a valid edit form, a value the edited item then holds)
    accept: Callable            # (session, sim, item) -> Accept form that exports
    accept_inputs: frozenset    # the inputs of its Accept form
    ref: Callable               # (fields, item) -> the Sage ID its Synced row shows (None: not checked)
    label: str                  # the words of the domain: "Commitment Change Order" (mail subjects)
    plural: str                 # the tab's link text
    noun: str                   # how a row names the item: "Tick CCO CO-1"
    bulk_missing: str | None = None   # the field its defaults lack for bulk accept (None: accepted)
    admin: str = "project_admin"    # who edits, sends and retrieves it (a role of tests/web/roles.py)
    creates: str = "project_admin"  # who creates it
    viewers: str = "project"        # who may look at one: its project's members ("everyone": the directory)
    own_pages: str | None = None    # not the generic item pages: the project's /invoices pages
    fits: Callable | None = None    # (session, home) -> whether the home's project can take one more
    deletable: bool = False     # a draft can be deleted
    editable: bool = True       # can be edited while draft or rejected
    # Unlink: how the Sage user deletes a synced item's record, and how Sage names it while it
    # still holds it (None: the type cannot be unlinked).
    sage_delete: Callable | None = None    # (sim, item)
    held: Callable | None = None           # (item) -> what Sage names, e.g. "commitment SC1 on job 24-101"


def _s() -> str:
    return f.suffix(6)


def _invoice(session, sim, home, creator, *, status=InvoiceStatus.APPROVED, number=None,
             billing=date(2026, 10, 31)) -> Item:
    inv = SubcontractorInvoice(project_id=home.pid, commitment_id=home.commitment, number=number or f"INV-{_s()}",
                               period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), billing_date=billing,
                               status=status, created_by_id=creator.id)
    session.add(inv)
    session.flush()
    for line, desc, work, stored, retainage in ((home.line1, "Footings", "1000", "0", "100"),
                                                (home.line2, "Rebar", "500", "100", "50")):
        session.add(InvoiceLine(invoice_id=inv.id, commitment_line_id=line, description=desc,
                                work_completed=Decimal(work), materials_stored=Decimal(stored),
                                retainage=Decimal(retainage)))
    session.flush()
    session.refresh(inv, ["lines"])
    inv.recompute_totals()
    session.commit()
    return Item("subcontractor_invoice", inv.id, home, home.pid, inv.number, inv.number, creator_id=creator.id)


def invoice_form(session, item: Item, **over) -> dict:
    """The invoice's edit form as the page fills it (its lines by id), with `over` (FIRST: the first line's id)."""
    inv = session.get(SubcontractorInvoice, item.id)
    lines = session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == item.id).order_by(InvoiceLine.id))
    form = {"number": inv.number, "status": inv.status, "billing_date": inv.billing_date.isoformat(),
            "period_start": inv.period_start.isoformat(), "period_end": inv.period_end.isoformat()}
    first = None
    for line in lines:
        first = first or line.id
        for part in ("work_completed", "materials_stored", "retainage"):
            form[f"line-{line.id}-{part}"] = str(getattr(line, part))
    form.update({k.replace("FIRST", str(first)): v for k, v in over.items()})
    return form


def _saved(key: str, session, creator, project_id, form, home, title_of) -> Item:
    item = items.save_item(session, creator, key, project_id, None, form)
    number = getattr(item, "number", None) or getattr(item, "code", None) or ""
    return Item(key, item.id, home, project_id, title_of(item, home), number, creator_id=creator.id)


def _clean(form: dict, over: dict) -> dict:
    """The form with `over` applied; None removes a field."""
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


# vendors: company level, site administrators keep the directory

def _vendor_form(session, sim, home, **over):
    return _clean({"name": f"Vendor {home.token} {f.suffix(4)}", "city": "Bayside"}, over)


def _vendor(session, sim, home, creator, **over):
    return _saved("vendor", session, creator, None, _vendor_form(session, sim, home, **over), home, lambda v, h: v.name)


# jobs: every project is a job; a project not in Sage yet, with a cost code, can be sent

def _job_form(session, sim, home, **over):
    return _clean({"number": f"N-{f.suffix()}", "name": f"Job {home.token} {f.suffix(4)}",
                   "address": "400 Civic Plaza", "city": "Springfield", "state": "IL", "zip": "62704"}, over)


def _job(session, sim, home, creator, codes: int = 1, **over):
    pid = unsynced_project(session, creator, members=home.members, token=home.token, codes=codes, **over)
    project = session.get(Project, pid)
    return Item("job", pid, home, pid, project.number, project.number, creator_id=creator.id)


# sub jobs and cost codes: on a synced project

def _sub_job_form(session, sim, home, **over):
    return _clean({"code": f"SJ-{_s()}", "name": f"Fit-Out {home.token}"}, over)


def _sub_job(session, sim, home, creator, **over):
    return _saved("sub_job", session, creator, home.pid, _sub_job_form(session, sim, home, **over), home,
                  lambda s, h: s.name)


def _cost_code_form(session, sim, home, **over):
    f.standard_list(session)
    return _clean({"standard_code": free_code(session, home.pid), "category_LAB": "on"}, over)


def _cost_code(session, sim, home, creator, **over):
    home = target_home(session, sim, "cost_code", home)
    return _saved("cost_code", session, creator, home.pid, _cost_code_form(session, sim, home, **over), home,
                  lambda c, h: c.code)


# the financial types: on a synced project with a synced commitment (and an exported budget)

# A commitment's Subcontract / Purchase Order: the form's field and the model's column.
COMMITMENT_TYPE = "commitment_type"


def _commitment_form(session, sim, home, commitment_type: str = "subcontract", **over):
    """A subcontract (or purchase_order) with two lines: Membrane 24,000 (SUB) and Flashing 6,000.50 (MAT)."""
    return _clean({"number": f"SC-{_s()}", "title": f"Waterproofing {home.token}", COMMITMENT_TYPE: commitment_type,
                   "vendor_id": str(home.vendor), "status": "Approved", "retainage_pct": "10",
                   "line-0-description": "Membrane", "line-0-category_id": str(home.sub),
                   "line-0-amount": "24,000", "line-1-description": "Flashing",
                   "line-1-category_id": str(home.mat), "line-1-amount": "$6,000.50"}, over)


def _cco_form(session, sim, home, **over):
    return _clean({"commitment_id": str(home.commitment), "number": f"CO-{_s()}",
                   "title": f"Added scope {home.token}", "status": "Approved",
                   "line-0-commitment_line_id": str(home.line1), "line-0-amount": "1000",
                   "line-1-commitment_line_id": str(home.line1), "line-1-amount": "500",
                   "line-2-description": "Sealant", "line-2-category_id": str(home.mat),
                   "line-2-amount": "750"}, over)


def _budget_form(session, sim, home, **over):
    return _clean({"line-0-category_id": str(home.sub), "line-0-original": "50,000",
                   "line-0-estimated_cost_at_completion": "52000", "line-0-forecast_to_complete": "30000",
                   "line-1-category_id": str(home.mat), "line-1-original": "10000"}, over)


def _budget_change_form(session, sim, home, exported_budget: bool = True, **over):
    """A budget change moving 2,000 from SUB to MAT (the home's budget exported first, unless told not to)."""
    if exported_budget:
        with_budget(session, sim, home)
    return _clean({"number": f"BC-{_s()}", "description": f"Move to material {home.token}",
                   "line-0-category_id": str(home.sub), "line-0-amount": "-2,000",
                   "line-1-category_id": str(home.mat), "line-1-amount": "2500"}, over)


def _pcco_form(session, sim, home, new_item: bool = False, **over):
    """A PCCO changing contract item 100 (and, with new_item, adding a contract item)."""
    with_contract(session, sim, home)
    form = {"contract_id": str(home.contract), "number": f"PCO-{_s()}", "title": f"Owner canopy {home.token}",
            "status": "Approved", "line-0-contract_item_id": str(home.i100),
            "line-0-category_id": str(home.sub), "line-0-amount": "12,000"}
    if new_item:
        form.update({"line-1-description": "Canopy", "line-1-category_id": str(home.mat), "line-1-amount": "8000"})
    return _clean(form, over)


def _owner_invoice_form(session, sim, home, **over):
    with_contract(session, sim, home)
    return _clean({"contract_id": str(home.contract), "number": f"OI{_s()}", "period_start": "2026-10-01",
                   "period_end": "2026-10-31", "billing_date": "2026-10-31", "status": "Approved",
                   "line-0-contract_item_id": str(home.i100), "line-0-amount": "50,000",
                   "line-0-retainage": "5000"}, over)


def _project_item(key: str, form: Callable, title_of=lambda item, home: item.number):
    def create(session, sim, home, creator, **over):
        home = target_home(session, sim, key, home)
        return _saved(key, session, creator, home.pid, form(session, sim, home, **over), home, title_of)
    return create


def _renamed(form: Callable, **marker_fields):
    """An edit: the type's form on the item's project, its number kept, the marker fields changed (None:
    a fresh "Renamed ..." text). The home's budget and contract exist by then: no simulator needed."""
    def edit(session, item: Item):
        token = f"Renamed {f.suffix(4)}"
        changes = {k: (token if v is None else v) for k, v in marker_fields.items()}
        over = {"number": item.number} if item.number else {}
        marker = token if None in marker_fields.values() else next(iter(changes.values()))
        return form(session, None, item.home, **over, **changes), _marker(marker)
    return edit


def _marker(value):
    """What the edited item must then hold (amounts compared as amounts)."""
    try:
        return Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        return value


BUILDERS: dict[str, Builder] = {
    "subcontractor_invoice": Builder(
        create=_invoice, form=None,
        edit=lambda s, it: (invoice_form(s, it, number=it.number + "-E"), it.number + "-E"),
        accept=lambda s, sim, it: {"erp_id": it.number, "description": "", "accounting_date": "2026-10-31"},
        accept_inputs=frozenset({"erp_id", "description", "accounting_date"}),
        ref=lambda fields, it: fields["erp_id"],
        label="Subcontractor Invoice", plural="Subcontractor Invoices", noun="invoice",
        own_pages="invoices",
        sage_delete=lambda sim, it: sim.delete_invoice(it.home.vendor_erp, it.fields["erp_id"]),
        held=lambda it: f"AP invoice {it.fields['erp_id']} of vendor {it.home.vendor_erp}"),
    "vendor": Builder(
        create=_vendor, form=_vendor_form,
        edit=lambda s, it: ({"name": it.title + " Renamed", "city": "Fairview"}, it.title + " Renamed"),
        accept=lambda s, sim, it: {"erp_vendor_id": fresh_vendor_id(sim), "vendor_type": "Subcontractor"},
        accept_inputs=frozenset({"erp_vendor_id", "vendor_type"}),
        ref=lambda fields, it: fields["erp_vendor_id"],
        label="Company", plural="Vendors", noun="company", bulk_missing="ERP Vendor ID",
        admin="site_admin", creates="site_admin", viewers="everyone",
        sage_delete=lambda sim, it: sim.delete_vendor(it.fields["erp_vendor_id"]),
        held=lambda it: f"vendor {it.fields['erp_vendor_id']} ({it.title})"),
    "job": Builder(
        create=_job, form=_job_form,
        edit=lambda s, it: ({"number": it.number, "name": f"Renamed {it.home.token}"}, f"Renamed {it.home.token}"),
        accept=lambda s, sim, it: {"sage_job_id": fresh_job_id(s, sim)},
        accept_inputs=frozenset({"sage_job_id"}),
        ref=lambda fields, it: fields["sage_job_id"],
        label="Job", plural="Jobs", noun="project", bulk_missing="Sage Job ID", creates="site_admin"),
    "sub_job": Builder(
        create=_sub_job, form=_sub_job_form,
        edit=lambda s, it: ({"code": it.number, "name": f"Renamed {it.home.token}"}, f"Renamed {it.home.token}"),
        accept=lambda s, sim, it: {"extra_id": it.number[:10]},
        accept_inputs=frozenset({"extra_id"}),
        ref=lambda fields, it: fields["extra_id"],
        label="Sub Job", plural="Sub Jobs", noun="sub job", deletable=True),
    "cost_code": Builder(
        create=_cost_code, form=_cost_code_form,
        edit=lambda s, it: ({"category_SUB": "on"}, "SUB"),
        accept=lambda s, sim, it: {}, accept_inputs=frozenset(),
        ref=lambda fields, it: f"{it.home.job}/{it.number}",
        label="Cost Code", plural="Cost Codes", noun="cost code",
        fits=lambda s, home: f.standard_list(s) or free_code(s, home.pid) is not None),
    "commitment": Builder(
        create=_project_item("commitment", _commitment_form), form=_commitment_form,
        edit=_renamed(_commitment_form, title=None),
        accept=lambda s, sim, it: {"sage_id": f"C{f.suffix(8)}"},
        accept_inputs=frozenset({"sage_id"}),
        ref=lambda fields, it: fields["sage_id"],
        label="Commitment", plural="Commitments", noun="commitment", bulk_missing="Sage 300 CRE ID",
        sage_delete=lambda sim, it: sim.delete_commitment(it.fields["sage_id"]),
        held=lambda it: f"commitment {it.fields['sage_id']} on job {it.home.job}"),
    "cco": Builder(
        create=_project_item("cco", _cco_form), form=_cco_form,
        edit=_renamed(_cco_form, title=None),
        accept=lambda s, sim, it: {"cco_id": f"X{f.suffix(8)}", "description": ""},
        accept_inputs=frozenset({"cco_id", "description"}),
        ref=lambda fields, it: fields["cco_id"],
        label="Commitment Change Order", plural="Commitment Change Orders", noun="CCO",
        sage_delete=lambda sim, it: sim.delete_cco(it.home.commitment_erp, it.fields["cco_id"]),
        held=lambda it: f"change order {it.fields['cco_id']} on commitment {it.home.commitment_erp}"),
    "budget": Builder(
        create=_project_item("budget", _budget_form, title_of=lambda b, home: home.number), form=_budget_form,
        edit=_renamed(_budget_form, **{"line-0-original": "4321"}),
        accept=lambda s, sim, it: {"export_forecast": "on"},
        accept_inputs=frozenset({"export_forecast"}),
        ref=lambda fields, it: None,
        label="Budget", plural="Budgets", noun="budget",
        fits=lambda s, home: False),  # one budget per project, and the home's is the exported one
    "budget_change": Builder(
        create=_project_item("budget_change", _budget_change_form), form=_budget_change_form,
        edit=_renamed(_budget_change_form, description=None),
        accept=lambda s, sim, it: {}, accept_inputs=frozenset(),
        ref=lambda fields, it: None,
        label="Budget Change", plural="Budget Changes", noun="budget change", editable=False),
    "pcco": Builder(
        create=_project_item("pcco", _pcco_form), form=_pcco_form,
        edit=_renamed(_pcco_form, title=None),
        accept=lambda s, sim, it: {"transaction_date": "2026-11-20", "new_item_code": f"N{f.suffix(6)}"},
        accept_inputs=frozenset({"transaction_date"}),
        ref=lambda fields, it: None,
        label="Prime Contract Change Order", plural="Prime Contract Change Orders", noun="PCCO",
        sage_delete=lambda sim, it: sim.delete_change_transactions(it.home.job, it.number),
        held=lambda it: f"of PCCO {it.number} on job {it.home.job}"),
    "owner_invoice": Builder(
        create=_project_item("owner_invoice", _owner_invoice_form), form=_owner_invoice_form,
        edit=_renamed(_owner_invoice_form, **{"line-0-amount": "4321"}),
        accept=lambda s, sim, it: {"erp_id": it.number, "description": "", "accounting_date": "2026-10-31"},
        accept_inputs=frozenset({"erp_id", "description", "accounting_date"}),
        ref=lambda fields, it: fields["erp_id"],
        label="Owner Invoice", plural="Owner Invoices", noun="owner invoice",
        sage_delete=lambda sim, it: sim.delete_ar_invoice(it.fields["erp_id"]),
        held=lambda it: f"AR invoice {it.fields['erp_id']} on contract {it.home.contract_number}"),
}


def builder(key: str) -> Builder:
    """The type's Builder; a registered type without one fails the test that reaches it."""
    assert key in BUILDERS, (f"type {key!r} is registered but tests/items.py has no Builder for it: "
                             "add one (how to make a sendable item, its forms, its Accept fields)")
    return BUILDERS[key]


# ---- the forms -----------------------------------------------------------------------------------

def form_data(session, sim, key: str, home: Home, **over) -> dict:
    """A valid project-side "new" form of the type on the home's project (`over` changes fields; None drops one)."""
    form = builder(key).form
    assert form is not None, f"{key} has no project-side new form"
    return form(session, sim, home, **over)


def accept_data(session, sim, item: Item) -> dict:
    """An Accept form that exports the item (fresh Sage IDs where Sage wants unique ones)."""
    return builder(item.key).accept(session, sim, item)


def edit_data(session, item: Item) -> tuple[dict, object]:
    """A valid edit form for the item, and a value the edited item then holds (see snapshot)."""
    return builder(item.key).edit(session, item)


def save_edit(session, actor, item: Item, form: dict):
    """Edit the item through the service its project-side edit page calls (the invoice page's own)."""
    if builder(item.key).own_pages:
        return projects.update_invoice(session, actor, item.pid, item.id, form)
    return items.save_item(session, actor, item.key, None if get_type(item.key).scope == "company" else item.pid,
                           item.id, form)


def target_home(session, sim, key: str, home: Home) -> Home:
    """The project a new item of the type goes on: the home, or a new project with the same members
    when the home has no room for one more (a second budget, an eleventh cost code)."""
    fits = builder(key).fits
    return home if fits is None or fits(session, home) else another_home(session, sim, home)


# ---- making items and walking them through the lifecycle -----------------------------------------

def make_item(session, sim, key: str, state: str = State.DRAFT, *, home: Home, sender, approver=None,
              creator=None, reason: str = REASON, message: str = SAGE_REFUSAL, **over) -> Item:
    """A sendable draft of the type (made by `creator`, default the sender), then sent by `sender` and
    decided by `approver` through the services as far as `state`. SYNCED runs the export against the
    simulator (what Sage holds is real: unlink can ask it); FAILED records Sage's `message`. No queue:
    nothing is left for a worker."""
    item = builder(key).create(session, sim, home, creator or sender, **over)
    return walk(session, sim, item, state, sender=sender, approver=approver, reason=reason, message=message)


def walk(session, sim, item: Item, state: str, *, sender, approver=None, reason: str = REASON,
         message: str = SAGE_REFUSAL) -> Item:
    """Take a draft through the services as far as `state`."""
    if state == State.DRAFT:
        return item
    item.erp = services.send(session, sender, item.key, item.id).id
    if state == State.READY:
        return item
    if state == State.REJECTED:
        services.reject(session, approver, item.erp, reason, f.NullQueue(), COMPANY, lambda e: LINK)
        return item
    item.fields = accept_data(session, sim, item)
    erp = services.accept(session, approver, item.erp, item.fields, f.NullQueue())
    if state == State.SYNCED:
        settled = services.run_export(session, item.erp, erp.attempt, SimulatorConnector(sim))
        session.expire_all()
        assert settled == State.SYNCED, (item.key, services.get_erp_item(session, item.erp).sage_message)
    elif state == State.FAILED:
        services.record_export_result(session, item.erp, erp.attempt, SageResult(ok=False, message=message))
    return item


# ---- reading state back --------------------------------------------------------------------------

class ErpState(NamedTuple):
    """What a decision may change on an ErpItem: its fields, its audit rows and its mails."""
    state: str
    attempt: int
    version: int
    job_id: str | None
    erp_ref: str | None
    sage_message: str | None
    reject_reason: str | None
    export_fields: dict | None
    audits: int
    mails: int


def erp_state(session, erp_id: int) -> ErpState:
    erp = session.get(ErpItem, erp_id)
    session.refresh(erp)
    audits = session.scalar(select(func.count()).select_from(ErpAudit).where(ErpAudit.erp_item_id == erp_id))
    mails = session.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp_id))
    return ErpState(erp.state, erp.attempt, erp.version, erp.job_id, erp.erp_ref, erp.sage_message,
                    erp.reject_reason, erp.export_fields, audits, mails)


def erp_of(session, key: str, item_id: int) -> ErpState | None:
    """The item's ErpItem state (None while it was never sent)."""
    erp = services.find_erp_item(session, key, item_id)
    return None if erp is None else erp_state(session, erp.id)


def _columns(obj) -> tuple:
    return tuple(getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs)


def snapshot(session, key: str, item_id: int) -> tuple:
    """The item's own columns and those of the children its type loads (lines, categories...): what an
    edit changes. None once it is deleted."""
    item_type = get_type(key)
    if session.get(item_type.model, item_id) is None:
        return None
    session.expire_all()
    item = item_type.load(session, item_id)
    state = inspect(item)
    children = [tuple(sorted((_columns(c) for c in getattr(item, rel.key)), key=repr))
                for rel in state.mapper.relationships if rel.uselist and rel.key not in state.unloaded]
    return (_columns(item), *children)


def holds(snap, value) -> bool:
    """Whether a snapshot holds the value anywhere (an edit's marker)."""
    if isinstance(snap, tuple):
        return any(holds(part, value) for part in snap)
    return snap == value


def count(session, key: str) -> int:
    """How many items of the type exist."""
    return session.scalar(select(func.count()).select_from(get_type(key).model))


# ---- where the pages are -----------------------------------------------------------------------

def list_url(key: str, pid: int | None) -> str:
    """The type's project-side list (the project's invoices page for the subcontractor invoice)."""
    own = builder(key).own_pages
    if own:
        return f"/projects/{pid}/{own}"
    if get_type(key).scope == "company":
        return f"/company/{key}"
    return f"/projects/{pid}/items/{key}"


def item_url(item: Item, what: str = "") -> str:
    """An item's project-side action (send, retrieve, edit, delete); "" its own page when it has one."""
    own = builder(item.key).own_pages
    suffix = f"/{what}" if what else ""
    if own:
        return f"/projects/{item.pid}/{own}/{item.id}{suffix}"
    if get_type(item.key).scope == "company":
        return f"/company/{item.key}/{item.id}{suffix}"
    return f"/projects/{item.pid}/items/{item.key}/{item.id}{suffix}"


def back_url(item: Item) -> str:
    """Where a project-side POST goes back to: the item's page when it has one, else its list."""
    return item_url(item) if builder(item.key).own_pages else list_url(item.key, item.pid)


def row_id(item: Item) -> str:
    """The id of the item's <tbody> on its project-side list."""
    own = builder(item.key).own_pages
    return f"{own.rstrip('s')}-{item.id}" if own else f"{item.key}-{item.id}"


def tab_url(key: str, erp_id: int, what: str) -> str:
    return f"/erp/{key}/{erp_id}/{what}"
