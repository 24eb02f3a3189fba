"""The demo data: every item type in every state, and the refusals Sage is meant to give.

One demo load per module, in a portal and a simulator database of its own (the shared test
database holds other tests' data); its exports go through a real RQ queue of its own, drained
by a real worker. No test depends on another's order: the one that accepts planted items only
adds Failed to Export rows, and the counting ones compare before and after.
"""
from __future__ import annotations

import secrets
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain import attention, services
from portal.domain.lifecycle import State
from portal.domain.models import (
    Budget,
    BudgetChange,
    Commitment,
    CommitmentChangeOrder,
    CostCode,
    ErpItem,
    MailStatus,
    OutboxMail,
    OwnerInvoice,
    PrimeChangeOrder,
    Project,
    SubcontractorInvoice,
    SubJob,
    User,
    Vendor,
)
from portal.exporters.sage300.troubleshooting import explain
from tests.conftest import burst_worker
from tests.sage_texts import (
    AR_DUPLICATE,
    ARCHIVED,
    CCO_EXISTS,
    EXTRA_EXISTS,
    ITEM_EXISTS,
    JOB_CLOSED,
    JOB_EXISTS,
    NO_CATEGORY,
    NO_DISTRIBUTIONS,
    VENDOR_EXISTS,
    VENDOR_INACTIVE,
)
from tests.types import REGISTRY, get_type

PASSWORD = "demo-password"
STATES = (State.READY, State.SYNCED, State.FAILED, State.REJECTED)
TYPES = ("vendor", "job", "sub_job", "cost_code", "budget", "budget_change", "commitment", "cco", "pcco",
         "owner_invoice", "subcontractor_invoice")

# Sage's texts, as the connector guide (and the simulator's few own texts) word them.
NAME = "[Name] is too long, maximum length is 30 characters."
CITY = "[AddressCity] is too long, maximum length is 15 characters."
ZIP = "[AddressZip] is too long, maximum length is 10 characters."
STATE_ = "[AddressState] is too long, maximum length is 4 characters."
CLOSED, INACTIVE = JOB_CLOSED, VENDOR_INACTIVE
GL_CLOSED = "Ap Invoice Api import failed with error message: GL period closed.  Entry not allowed. (01\\31\\2026)."
AR_GL_CLOSED = GL_CLOSED.replace("Ap Invoice", "Ar Invoice")  # the owner invoice's AR import


def ap_duplicate(number):
    return ("There are errors in the document's codings. Errors: Document already exists for "
            f"specified vendor and code [{number}].")


def vendor_id(erp_id):
    return {"erp_vendor_id": erp_id, "vendor_type": "Subcontractor"}


PCCO_400 = {"transaction_date": "2026-11-20", "new_item_code": "400"}
PCCO = {"transaction_date": "2026-11-20", "new_item_code": ""}

# (type, the item's key, its state after seeding) -> (export fields the approver gives, None for
# the Accept form's defaults; Sage's text)
PLANTED = {
    ("vendor", "Northwestern Regional Mechanical Contractors", State.READY): (vendor_id("NWREG01"), NAME),
    ("vendor", "Harbor Mechanical", State.READY): (vendor_id("HARBOR01"), VENDOR_EXISTS),
    ("vendor", "Quarry Stone Masonry", State.READY): (vendor_id("QUARRY01"), STATE_),
    ("vendor", "Riverbend Plumbing", State.READY): (vendor_id("RIVERB01"), ZIP),
    ("vendor", "Consolidated Fire Protection Services of Illinois", State.FAILED): (vendor_id("CONSOL02"), NAME),
    ("job", "24-105", State.READY): ({"sage_job_id": "24-105"}, NAME),
    ("job", "24-109", State.READY): ({"sage_job_id": "24-109"}, CITY),
    ("job", "24-110", State.READY): ({"sage_job_id": "24-110"}, ZIP),
    ("job", "24-111", State.READY): ({"sage_job_id": "24-111"}, STATE_),
    ("job", "24-113", State.READY): ({"sage_job_id": "24-113"}, JOB_EXISTS),
    ("job", "24-112", State.FAILED): ({"sage_job_id": "24-112"}, NAME),
    ("sub_job", "24-102 ALT1", State.READY): (None, EXTRA_EXISTS),
    ("sub_job", "24-011 DOCK", State.READY): (None, CLOSED),
    ("sub_job", "24-011 MEZ", State.FAILED): (None, CLOSED),
    ("cost_code", "24-011 07-200", State.READY): (None, CLOSED),
    ("cost_code", "24-011 08-800", State.FAILED): (None, CLOSED),
    ("budget", "24-101", State.READY): (None, "An estimate already exists for cost code 01-100 category LAB."),
    ("budget", "24-012", State.FAILED): (None, "An estimate already exists for cost code 01-100 category LAB."),
    ("budget_change", "24-011 BC-002", State.READY): (None, CLOSED),
    ("budget_change", "24-011 BC-001", State.FAILED): (None, CLOSED),
    ("commitment", "SC-24-101-09", State.READY): ({"sage_id": "SC-24-101-09"}, INACTIVE),
    ("commitment", "SC-24-011-02", State.READY): ({"sage_id": "SC-24-011-02"}, CLOSED),
    ("commitment", "SC-24-103-09", State.READY): ({"sage_id": "SC-24-103-09"},
                                                  "A commitment with code [SC-24-103-09] already exists."),
    ("commitment", "SC-24-101-10", State.READY): ({"sage_id": "SC-24-101-10"}, NO_CATEGORY),
    ("commitment", "SC-24-102-11", State.FAILED): ({"sage_id": "SC-24-102-11"}, INACTIVE),
    ("cco", "SC-24-102-09 CO-24-05", State.READY): (None, ARCHIVED),
    ("cco", "SC-24-011-08 CO-24-06", State.READY): (None, CLOSED),
    ("cco", "SC-24-102-03 CO-24-90", State.READY): (
        None, "A change order with code CO-24-90 already exists on this contract."),
    ("cco", "SC-24-101-01 CO-24-90", State.READY): (None, CCO_EXISTS),
    ("cco", "SC-24-102-09 CO-24-07", State.FAILED): (None, ARCHIVED),
    ("pcco", "24-101 PCO-005", State.READY): (PCCO_400, ITEM_EXISTS),
    ("pcco", "24-101 PCO-006", State.READY): (PCCO, NO_CATEGORY),
    ("pcco", "24-011 PCO-001", State.READY): (PCCO, CLOSED),
    ("pcco", "24-101 PCO-007", State.FAILED): (PCCO_400, ITEM_EXISTS),
    ("owner_invoice", "OI-24-101-06 2026-10-31", State.READY): (None, AR_DUPLICATE),
    ("owner_invoice", "OI-24-101-01 2026-01-31", State.READY): (None, AR_GL_CLOSED),
    ("owner_invoice", "OI-24-101-10 2026-10-31", State.READY): (None, NO_DISTRIBUTIONS),
    ("owner_invoice", "OI-24-101-05 2026-09-30", State.FAILED): (None, AR_DUPLICATE),
    ("subcontractor_invoice", "AP-0131 2026-01-31", State.READY): (None, GL_CLOSED),
    ("subcontractor_invoice", "AP-1199 2026-10-31", State.READY): (
        None, "Ap Invoice Api import failed with error message: Commitment SC-24-103-05 - amount invoiced "
              "exceeds approved amount plus tolerance."),
    ("subcontractor_invoice", "DD-4001 2026-08-31", State.READY): (None, INACTIVE),
    ("subcontractor_invoice", "BL-2199 2026-10-31", State.READY): (None, NO_DISTRIBUTIONS),
    ("subcontractor_invoice", "CS-3001 2026-09-30", State.READY): (None, ap_duplicate("CS-3001")),
    ("subcontractor_invoice", "AP-1301 2026-09-30", State.READY): (None, CLOSED),
    ("subcontractor_invoice", "BL-2001 2026-10-31", State.FAILED): (None, ap_duplicate("BL-2001")),
}

# The draft (never sent) of each type.
DRAFTS = {
    "vendor": "Juniper Paving Co.",
    "job": "24-108",
    "sub_job": "24-106 PH1",
    "cost_code": "24-101 22-400",
    "budget": "24-106",
    "budget_change": "24-104 BC-004",
    "commitment": "SC-24-103-11",
    "cco": "SC-24-101-01 CO-24-04",
    "pcco": "24-101 PCO-2026-RIVERSIDE-0004",
    "owner_invoice": "OI-24-101-09 2026-12-31",
    "subcontractor_invoice": "BL-2004 2026-10-31",
}

# How a test names an item of each type: the columns joined by spaces.
KEYS = {
    "vendor": lambda: select(Vendor.id, Vendor.name),
    "job": lambda: select(Project.id, Project.number),
    "sub_job": lambda: select(SubJob.id, Project.number, SubJob.code).join(Project, Project.id == SubJob.project_id),
    "cost_code": lambda: select(CostCode.id, Project.number, CostCode.code)
    .join(Project, Project.id == CostCode.project_id),
    "budget": lambda: select(Budget.id, Project.number).join(Project, Project.id == Budget.project_id),
    "budget_change": lambda: select(BudgetChange.id, Project.number, BudgetChange.number)
    .join(Project, Project.id == BudgetChange.project_id),
    "commitment": lambda: select(Commitment.id, Commitment.number),
    "cco": lambda: select(CommitmentChangeOrder.id, Commitment.number, CommitmentChangeOrder.number)
    .join(Commitment, Commitment.id == CommitmentChangeOrder.commitment_id),
    "pcco": lambda: select(PrimeChangeOrder.id, Project.number, PrimeChangeOrder.number)
    .join(Project, Project.id == PrimeChangeOrder.project_id),
    "owner_invoice": lambda: select(OwnerInvoice.id, OwnerInvoice.number, OwnerInvoice.billing_date),
    "subcontractor_invoice": lambda: select(SubcontractorInvoice.id, SubcontractorInvoice.number,
                                            SubcontractorInvoice.billing_date),
}


def keyed(session, type_key) -> dict[str, int]:
    """Item ids of a type by the test's key (a key held by two items is left out)."""
    rows = session.execute(KEYS[type_key]()).all()
    keys = [" ".join(str(v) for v in row[1:]) for row in rows]
    return {k: row[0] for k, row in zip(keys, rows, strict=False) if keys.count(k) == 1}


def state_counts(session) -> dict[tuple[str, str], int]:
    return {(t, s): n for t, s, n in session.execute(
        select(ErpItem.item_type, ErpItem.state, func.count()).group_by(ErpItem.item_type, ErpItem.state))}


def row_counts(session, sim) -> dict[str, int]:
    """Rows in every table of the portal and of the simulator."""
    from portal.exporters.sage300 import simulator
    from portal.extensions import db
    # every table, in no particular order (user_account and vendor name each other: no sorted order exists)
    counts = {t.name: session.scalar(select(func.count()).select_from(t)) for t in db.metadata.tables.values()}
    with sim.engine.connect() as conn:
        counts.update({"sage." + t.name: conn.scalar(select(func.count()).select_from(t))
                       for t in simulator.metadata.sorted_tables})
    return counts


@pytest.fixture(scope="module")
def demo_app(stack_env, tmp_path_factory):
    """A portal of its own (SQLite, simulator, RQ queue) with the demo loaded once."""
    import flask_migrate

    from portal import create_app, demo
    from portal.exporters.sage300.connectors import make_connector
    from portal.extensions import db
    tmp = tmp_path_factory.mktemp("demo")
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'demo.db'}",
                      "SAGE_SIM_DATABASE_URL": f"sqlite:///{tmp / 'sim.db'}",
                      "SAGE_SIM_SCHEMA": None, "DATABASE_SCHEMA": None, "SQLALCHEMY_ENGINE_OPTIONS": {},
                      "SAGE_DROP_FOLDER": str(tmp / "drop"), "RQ_QUEUES": [f"demo-{secrets.token_hex(4)}"]})
    with app.app_context():
        flask_migrate.upgrade()
        result = demo.seed(db.session, app.config, password=PASSWORD)
        baseline = state_counts(db.session)
        db.session.remove()
    yield SimpleNamespace(app=app, result=result, baseline=baseline, sim=make_connector(app.config).sim)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def session(demo_app):
    from portal.extensions import db
    with demo_app.app.app_context():
        yield db.session
        db.session.remove()


def test_seed_returns_what_it_loaded(demo_app, session):
    result = demo_app.result
    assert result["invoices"] == session.scalar(select(func.count(SubcontractorInvoice.id)))
    assert result["projects"] == session.scalar(select(func.count(Project.id))) == 15
    usernames = set(session.scalars(select(User.username)))
    assert {"admin", "approver", "standard", "readonly", "invoiceadmin"} <= usernames


@pytest.mark.parametrize("type_key", TYPES)
def test_every_type_has_every_state(demo_app, session, type_key):
    kind = get_type(type_key)
    assert {s for (t, s) in demo_app.baseline if t == type_key} == set(STATES)

    draft = kind.load(session, keyed(session, type_key)[DRAFTS[type_key]])
    erp = services.find_erp_item(session, type_key, draft.id)
    assert (erp.state if erp else State.DRAFT) == State.DRAFT and not kind.linked_ref(draft)

    erps = session.scalars(select(ErpItem).where(ErpItem.item_type == type_key)).all()
    for erp in erps:
        if erp.state == State.SYNCED:
            assert erp.erp_ref, (type_key, erp.item_id)
        elif erp.state == State.FAILED:
            assert erp.sage_message and explain(erp.sage_message) is not None, (type_key, erp.sage_message)
        elif erp.state == State.REJECTED:
            assert erp.reject_reason, (type_key, erp.item_id)
            mails = session.scalars(select(OutboxMail).where(  # (an invoice's contacts: "being corrected")
                OutboxMail.erp_item_id == erp.id, OutboxMail.subject.contains("Rejection Notification"))).all()
            assert [m.status for m in mails] == [MailStatus.KEPT]
            assert mails[0].subject.startswith(f"Test Builders: ERP {kind.label} Rejection Notification — ")
            assert mails[0].reply_to, "answered to the approver who rejected it"
            assert " ".join(erp.reject_reason.split()) in " ".join(mails[0].text_body.split())  # wrapped


def test_a_pcco_whose_number_is_too_long_for_sage_stays_a_draft_that_says_why(demo_app, session):
    kind = get_type("pcco")
    draft = kind.load(session, keyed(session, "pcco")[DRAFTS["pcco"]])
    assert kind.prerequisites(session, draft) == ["The # must be 20 characters or less (Sage's Chg Mgt Ref)."]


def test_the_failed_tab_of_every_type_shows_sages_text_with_its_cause_and_solution(demo_app, session):
    client = demo_app.app.test_client()
    assert client.post("/login", data={"username": "approver", "password": PASSWORD}).status_code == 303
    for type_key in TYPES:
        body = client.get(f"/erp/{type_key}?filter=failed").get_data(as_text=True)
        assert '<span class="badge failed">Failed to Export</span>' in body, type_key
        assert "<summary>Cause and solution</summary>" in body and "<strong>Solution:</strong>" in body, type_key


def test_the_planted_refusals_cover_every_type(demo_app):
    assert set(TYPES) == set(REGISTRY)
    assert {t for t, _, _ in PLANTED} == {t for t, _, s in PLANTED if s == State.FAILED} == set(TYPES)


def test_each_planted_item_is_refused_by_sage_with_its_text(demo_app, session):
    from portal.queue import RQJobQueue
    worker = burst_worker(demo_app.app)
    approver = session.scalars(select(User).where(User.username == "approver")).one()
    accepted = {}
    for (type_key, key, state), (fields, text) in PLANTED.items():
        kind = get_type(type_key)
        item_id = keyed(session, type_key).get(key)
        assert item_id is not None, (type_key, key)
        erp = services.find_erp_item(session, type_key, item_id)
        assert erp.state == state, (type_key, key, erp.state)
        if fields is None:
            fields = kind.export_defaults(kind.load(session, item_id))
        services.accept(session, approver, erp.id, fields, RQJobQueue())
        accepted[erp.id] = (type_key, key, text)
        # one at a time, as an approver works: the portal itself refuses a Sage ID that another
        # item is still being exported with (two planted change orders share one)
        worker.work(burst=True, with_scheduler=False, logging_level="ERROR")
        session.expire_all()
    for erp_id, (type_key, key, text) in accepted.items():
        erp = services.get_erp_item(session, erp_id)
        assert (erp.state, erp.sage_message) == (State.FAILED, text), (type_key, key)
        assert explain(erp.sage_message) is not None, (type_key, key)


# The README's hints for accepting demo items that are not planted refusals: (type, key) -> (the hint as
# the README words it, the export fields with its ID)
README_HINTS = {
    ("vendor", "Granite Peak Roofing"): ("`GRANIT01` for Granite Peak Roofing", vendor_id("GRANIT01")),
    ("pcco", "24-101 PCO-002"): ("`500` for\nPCO-002", {"transaction_date": "2026-11-20", "new_item_code": "500"}),
}


def test_the_readme_hints_name_ids_that_sync_against_the_demo(demo_app, session):
    from pathlib import Path

    from portal.queue import RQJobQueue
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    worker = burst_worker(demo_app.app)
    approver = session.scalars(select(User).where(User.username == "approver")).one()
    for (type_key, key), (hint, fields) in README_HINTS.items():
        assert hint in readme, hint
        erp = services.find_erp_item(session, type_key, keyed(session, type_key)[key])
        assert erp.state == State.READY, (type_key, key)
        services.accept(session, approver, erp.id, fields, RQJobQueue())
        worker.work(burst=True, with_scheduler=False, logging_level="ERROR")
        session.expire_all()
        erp = services.get_erp_item(session, erp.id)
        assert (erp.state, erp.sage_message) == (State.SYNCED, None), (type_key, key, erp.sage_message)


def test_the_demos_unit_price_purchase_order_exports_its_units(demo_app, session):
    from portal.queue import RQJobQueue
    c = session.scalars(select(Commitment).where(Commitment.title == "Handrails (unit price)")).one()
    assert (c.commitment_type, c.accounting_method) == ("purchase_order", "unit")
    erp = services.find_erp_item(session, "commitment", c.id)
    approver = session.scalars(select(User).where(User.username == "approver")).one()
    services.accept(session, approver, erp.id, {"sage_id": c.number}, RQJobQueue())
    burst_worker(demo_app.app).work(burst=True, with_scheduler=False, logging_level="ERROR")
    session.expire_all()
    assert services.get_erp_item(session, erp.id).state == State.SYNCED
    [item] = demo_app.sim.list_commitment_items(c.number)
    assert (item["Units"], item["Unit_Cost"], item["Unit_Description"], item["Amount"]) == (
        Decimal("320"), Decimal("48.75"), "LF", Decimal("15600.00"))


def test_the_demo_has_data_back_from_sage_and_every_sync_ran_once(demo_app, session):
    from portal.domain import sync
    from portal.domain.models import StandardCostCode
    from portal.domain.sage_models import DirectCost, ImportStatus, JobCostLine, SageRecord, SyncRun, SyncStatus
    runs = session.scalars(select(SyncRun)).all()
    assert sorted(r.kind for r in runs) == sorted(sync.KINDS)
    assert all(r.status == SyncStatus.DONE and r.errors == 0 for r in runs)
    pending = dict(session.execute(select(SageRecord.kind, func.count()).where(
        SageRecord.status == ImportStatus.PENDING).group_by(SageRecord.kind)).all())
    assert pending.get("vendor", 0) >= 5 and pending.get("job", 0) >= 3 and pending.get("contract", 0) >= 1
    assert session.scalar(select(func.count(StandardCostCode.id))) >= 10
    assert session.scalar(select(func.count(JobCostLine.id))) > 0
    assert session.scalar(select(func.count(DirectCost.id))) > 0   # one project has transaction sync on
    assert all(row.enabled and row.next_run_at is not None for row in sync.schedules(session))


def test_the_demo_has_vendors_with_expired_and_expiring_insurance_synced_from_sage(demo_app, session):
    from portal.domain import compliance
    from portal.domain.models import Vendor
    vendors = {v.name: v.id for v in session.scalars(select(Vendor))}
    apex, bright, delta = (next(i for n, i in vendors.items() if n.startswith(name))
                           for name in ("Apex Concrete", "Bright Line", "Delta Drywall"))
    assert "expired" in [c.status for c in compliance.certificates(session, apex)]
    assert {c.type_label for c in compliance.expiring(session, vendor_id=bright)} == {
        "General Liability", "Workers' Compensation"}
    assert compliance.certificates(session, delta) == []


def test_the_demo_has_paid_and_partly_paid_invoices_a_payment_mail_and_a_check_waiting_in_sage(demo_app, session):
    from portal.domain import payments
    from portal.domain.models import OutboxMail, SubcontractorInvoice
    from portal.domain.payment_models import InvoicePayment
    statuses = set(session.scalars(select(SubcontractorInvoice.payment_status).where(
        SubcontractorInvoice.payment_status.is_not(None))))
    assert statuses == {payments.PAID, payments.PARTLY_PAID}
    assert session.scalar(select(func.count(InvoicePayment.id))) == 3
    mails = session.scalars(select(OutboxMail).where(OutboxMail.subject.contains("Payment issued"))).all()
    assert len(mails) == 6   # each check: the company's people, and the commitment's invoice contacts
    assert {"contact@example.com", "contact-bright@example.com"} <= {r for m in mails for r in m.recipients.split(",")}
    assert len(demo_app.sim.list_ap_payments()) == 4   # the fourth waits for the next Paid Invoices sync


def test_seeding_again_changes_nothing_and_force_adds_another_whole_demo(demo_app, session):
    from portal import demo
    app, sim = demo_app.app, demo_app.sim
    before = row_counts(session, sim)
    assert demo.seed(session, app.config, password=PASSWORD) is None
    assert row_counts(session, sim) == before

    states = state_counts(session)
    result = demo.seed(session, app.config, password=PASSWORD, force=True)
    assert result is not None and result["items"] == demo_app.result["items"]
    added = {k: n - states.get(k, 0) for k, n in state_counts(session).items()}
    assert {k: n for k, n in added.items() if n} == demo_app.baseline
    # the new load's users, with their tag, can sign in
    assert session.scalar(select(func.count(User.id)).where(User.username.like("approver-%"))) == 1


def test_the_invoice_administrator_s_desk_has_something_of_every_kind(demo_app, session):
    """Needs attention has content for the demo's invoice administrator: rejected, failed and stuck."""
    user = session.scalars(select(User).where(User.username == "invoiceadmin")).one()
    config = demo_app.app.config
    rule = attention.StuckRule.from_settings(config["EXPORT_STALL_SECONDS"], config["EXPORT_REAP_SECONDS"],
                                             config["ATTENTION_READY_HOURS"])
    desk = attention.desk(session, user, rule)
    assert all(desk.kinds[kind] for kind in attention.KINDS), desk.kinds
    assert len({row.project.id for row in desk.rows if row.project}) >= 2


# ---- the billing side: invoice contacts, billing periods, Invite to Bill, review (issue 11) ----

BILLING_MAILS = {  # what the Mail page is searched for -> a part of the subject of each new mail
    "account set-up": ": Set up your account to bill",
    "invitation to bill": ": Invitation to bill ",
    "reminder": " (reminder)",
    "revise and resubmit": ": Revise and resubmit Invoice #",
    "being corrected": " is being corrected",
}


def first_load(session, model, *where):
    """Rows of the first demo load (the force test adds a second one under other numbers)."""
    return session.scalars(select(model).where(*where).order_by(model.id)).all()


def test_every_commitment_has_an_invoice_contact_of_its_vendor(demo_app, session):
    from portal.domain import contacts
    commitments = session.scalars(select(Commitment)).all()
    assert len(commitments) >= 20
    for c in commitments:
        people = contacts.contacts_of(session, c.id)
        assert people and all(u.vendor_id == c.vendor_id for u in people), c.number


def test_the_readme_s_contact_signs_in_and_sees_only_their_billing_pages(demo_app, session):
    from pathlib import Path
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "`invoiceadmin` and `contact`" in readme
    client = demo_app.app.test_client()
    assert client.post("/login", data={"username": "contact", "password": PASSWORD}).status_code == 303
    home = client.get("/billing/").get_data(as_text=True)
    assert "SC-24-101-01" in home and "AP-1201" in home and "Riverside Medical Office" in home
    assert "Bright Line" not in home                                   # another vendor's commitments
    sent_back = session.scalars(select(SubcontractorInvoice).where(SubcontractorInvoice.number == "AP-1201")).first()
    page = client.get(f"/billing/invoices/{sent_back.id}").get_data(as_text=True)
    assert "Revise and Resubmit" in page and "Rebar for the east footings is not delivered yet" in page
    assert "Set up your account" not in client.get("/billing/mail").get_data(as_text=True)  # not theirs
    assert "Revise and resubmit" in client.get("/billing/mail").get_data(as_text=True)
    assert client.get("/erp/subcontractor_invoice").status_code == 403


def test_the_demo_projects_have_an_open_and_an_earlier_closed_billing_period(demo_app, session):
    from portal.domain.billing_models import BillingPeriod, PeriodStatus
    for name in ("Riverside Medical Office", "Oak Street Lofts", "Harbor Point School"):
        project = first_load(session, Project, Project.name == name)[0]
        rows = first_load(session, BillingPeriod, BillingPeriod.project_id == project.id)
        assert [p.status for p in rows] == [PeriodStatus.CLOSED, PeriodStatus.OPEN], name
        assert rows[0].end_date < rows[1].start_date


def test_invitations_to_bill_are_in_every_state_and_a_decline_has_its_note(demo_app, session):
    from portal.domain import invite_to_bill
    from portal.domain.billing_models import BillingPeriod, PeriodStatus
    rows = [r for p in first_load(session, BillingPeriod, BillingPeriod.status == PeriodStatus.OPEN)
            for r in invite_to_bill.invitations_of(session, p.id)]
    status = invite_to_bill.InviteStatus
    assert {r.status for r in rows} >= {status.INVITED, status.OPENED, status.ACCEPTED, status.DECLINED,
                                        status.SUBMITTED}
    assert all(r.invitation.decline_note for r in rows if r.status == status.DECLINED)
    assert any(r.invitation.reminders for r in rows)


def test_invoices_in_every_review_status_were_made_by_the_portal_with_their_history(demo_app, session):
    from portal.domain import invoicing
    from portal.domain.models import InvoiceStatus
    made = {}
    for inv in session.scalars(select(SubcontractorInvoice).order_by(SubcontractorInvoice.id)):
        events = invoicing.history(session, inv.id)
        if events and events[0].action == "create":   # made through the domain (not a seeded row)
            assert events[-1].to_status == inv.status, inv.number
            made.setdefault(inv.status, inv)
    assert set(made) == set(InvoiceStatus.ALL)
    revise = made[InvoiceStatus.REVISE_AND_RESUBMIT]
    assert [e.action for e in invoicing.history(session, revise.id)] == ["create", "submit", "revise"]
    marked = [ln for ln in invoicing.load_invoice(session, revise.id).lines if ln.review == "revise"]
    assert len(marked) == 1 and marked[0].review_comment


def test_one_demo_invoice_has_a_valid_pdf_and_waits_for_accounting(demo_app, session):
    import re

    from portal.domain import invoicing
    from portal.domain.invoice_models import InvoiceAttachment
    admin = session.scalars(select(User).where(User.username == "approver")).one()
    [row] = first_load(session, InvoiceAttachment)[:1]
    name, data = invoicing.download(session, admin, row.invoice_id)
    assert name.endswith(".pdf") and data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    xref = int(re.search(rb"startxref\s+(\d+)", data).group(1))
    assert data[xref:].startswith(b"xref")                             # the table where it says it is
    for n, offset in enumerate(re.findall(rb"(\d{10}) 00000 n", data), start=1):
        assert data[int(offset):].startswith(b"%d 0 obj" % n)
    erp = services.find_erp_item(session, "subcontractor_invoice", row.invoice_id)
    assert erp.state == State.READY


@pytest.mark.parametrize("kind", BILLING_MAILS)
def test_the_mail_page_holds_each_billing_mail(demo_app, session, kind):
    part = BILLING_MAILS[kind]
    client = demo_app.app.test_client()
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
    mails = session.scalars(select(OutboxMail).where(OutboxMail.subject.contains(part))).all()
    assert mails and all(m.status == MailStatus.KEPT for m in mails), kind
    assert all("contact" in m.recipients or "pat.newhire" in m.recipients for m in mails), kind  # billing people
    page = client.get("/admin/mail", query_string={"q": part.strip(" :")}).get_data(as_text=True)
    assert mails[0].subject in page or mails[-1].subject in page, kind
