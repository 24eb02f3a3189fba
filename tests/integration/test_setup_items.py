"""Setup items (vendors, jobs, sub jobs, cost codes) through the one lifecycle, at the services
level, against the real database, a real RQ worker (drain), the Sage simulator and SMTP.

Items are made through the same services the project pages call (items.save_item), so the
standard cost code list, the forms' rules and the creator are the real ones. Company-wide
rows (standard cost codes, settings) are shared by every test: they are created if missing,
and every setting a test changes is put back in a finally.
"""
from __future__ import annotations

import email.policy
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain import items, services, settings
from portal.domain.errors import Conflict, Invalid, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import (
    CostCode,
    ErpAudit,
    ErpItem,
    MailStatus,
    OutboxMail,
    Project,
    ProjectMember,
    StandardCategory,
    StandardCostCode,
    SubJob,
    ToolLevel,
    User,
    Vendor,
)
from portal.queue import RQJobQueue
from tests import factories as f, items as it
from tests.types import direct_export_keys, get_type

COMPANY = "Test Builders"
LINK = "http://portal.test/company"

STANDARD_CODES = (("01-100", "General Conditions"), ("03-300", "Concrete"),
                  ("05-500", "Metal Fabrications"), ("09-900", "Painting"))
STANDARD_CATEGORIES = (("LAB", "Labor"), ("MAT", "Material"), ("SUB", "Subcontract"))


# ---- company-wide data and fresh ids ---------------------------------------------------

def standard_list(session) -> None:
    """The company's standard cost codes and categories (company-wide: created when missing)."""
    codes = set(session.scalars(select(StandardCostCode.code)))
    for code, description in STANDARD_CODES:
        if code not in codes:
            session.add(StandardCostCode(code=code, description=description, active=True))
    cats = set(session.scalars(select(StandardCategory.code)))
    for code, description in STANDARD_CATEGORIES:
        if code not in cats:
            session.add(StandardCategory(code=code, description=description))
    session.commit()


def standard_description(session, code: str) -> str:
    return session.scalar(select(StandardCostCode.description).where(StandardCostCode.code == code))


def category_description(session, code: str) -> str:
    return session.scalar(select(StandardCategory.description).where(StandardCategory.code == code))


# ---- people ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def people(app):
    """Ids of the people every test uses (password hashing once per module)."""
    with f.app_session(app) as s:
        made = {"admin": f.make_user(s, site_admin=True), "admin2": f.make_user(s, site_admin=True),
                "pm": f.make_user(s), "pm2": f.make_user(s), "outsider": f.make_user(s),
                "approver": f.approver(s), "erp_admin": f.make_user(s, erp_level=ToolLevel.ADMIN)}
        standard_list(s)
        return {k: u.id for k, u in made.items()}


@pytest.fixture
def who(session, people):
    """The people as rows of this test's session."""
    return SimpleNamespace(**{k: session.get(User, v) for k, v in people.items()})


# ---- builders: items made through the project-side services -------------------------------

def new_project(session, who, *, name=None, city="Springfield", zip_code="62701", codes=("01-100", "03-300"),
                categories=("LAB", "MAT")) -> Project:
    """A project not yet in Sage, created as a job by a site admin, with cost codes from the
    standard list; pm is Admin on it and sends it."""
    s = f.suffix()
    project = items.save_item(session, who.admin, "job", None, None, {
        "number": f"N-{s}", "name": name or f"Job {s}", "address": "400 Civic Plaza", "city": city,
        "state": "IL", "zip": zip_code})
    f.member(session, who.pm, project, ToolLevel.ADMIN)
    for code in codes:
        add_cost_code(session, who.admin, project.id, code, categories)
    return project


def add_cost_code(session, actor, project_id, code, categories=("LAB", "MAT"), sub_job_id=None) -> CostCode:
    form = {"standard_code": code, **{f"category_{c}": "on" for c in categories}}
    if sub_job_id is not None:
        form["sub_job_id"] = str(sub_job_id)
    return items.save_item(session, actor, "cost_code", project_id, None, form)


def synced_project(session, sim, who) -> f.Setup:
    """A project already synced with a Sage job (f.Setup mirrors it in the simulator); pm and
    pm2 are Admin on it."""
    setup = f.Setup(session, sim)
    f.member(session, who.pm, setup.project, ToolLevel.ADMIN)
    f.member(session, who.pm2, setup.project, ToolLevel.ADMIN)
    return setup


def new_sub_job(session, actor, project_id, code=None, name="Phase 2 Fit-Out") -> SubJob:
    return items.save_item(session, actor, "sub_job", project_id, None,
                           {"code": code or f"PH-{f.suffix()}", "name": name})


def new_vendor(session, actor, **fields) -> Vendor:
    s = f.suffix()
    form = {"name": f"Vendor {s}", "address": "12 Commerce Way", "city": "Bayside", "state": "WI",
            "zip": "53217", "phone": "555-0142", "fax": "555-0143", **fields}
    return items.save_item(session, actor, "vendor", None, None, form)


def erp_row(session, erp_id) -> ErpItem:
    session.expire_all()
    return session.get(ErpItem, erp_id)


def audit_actions(session, erp_id) -> list[str]:
    return [a.action for a in session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp_id)
                                              .order_by(ErpAudit.id))]


def reject(session, approver, erp_id, reason):
    return services.reject(session, approver, erp_id, reason, RQJobQueue(), COMPANY, lambda e: LINK)


# A case per type: (type key, Sage label, how to make a draft item, its accept fields).
# make(session, sim, who) -> (item id, creator, sender); creator and sender differ.

def make_vendor(session, sim, who):
    return new_vendor(session, who.admin).id, who.admin, who.admin2


def make_job(session, sim, who):
    return new_project(session, who).id, who.admin, who.pm


def make_sub_job(session, sim, who):
    setup = synced_project(session, sim, who)
    return new_sub_job(session, who.pm2, setup.project.id).id, who.pm2, who.pm


def make_cost_code(session, sim, who):
    setup = synced_project(session, sim, who)
    return add_cost_code(session, who.pm2, setup.project.id, "05-500").id, who.pm2, who.pm


def accept_fields(session, sim, key, item_id) -> dict:
    if key == "vendor":
        return {"erp_vendor_id": it.fresh_vendor_id(sim), "vendor_type": "Subcontractor"}
    if key == "job":
        return {"sage_job_id": it.fresh_job_id(session, sim)}
    if key == "sub_job":
        return get_type("sub_job").export_defaults(get_type("sub_job").load(session, item_id))
    return {}


CASES = {"vendor": ("Company", make_vendor), "job": ("Job", make_job),
         "sub_job": ("Sub Job", make_sub_job), "cost_code": ("Cost Code", make_cost_code)}


# ---- every type: the one lifecycle ----------------------------------------------------------

@pytest.mark.parametrize("key", CASES)
def test_send_accept_export_synced(session, sim, who, drain, key):
    label, make = CASES[key]
    item_id, creator, sender = make(session, sim, who)
    erp = services.send(session, sender, key, item_id, RQJobQueue())
    assert (erp.state, erp.sent_by_id, erp.attempt) == (State.READY, sender.id, 0)

    fields = accept_fields(session, sim, key, item_id)
    services.accept(session, who.approver, erp.id, fields, RQJobQueue())
    assert erp_row(session, erp.id).state == State.EXPORTING
    drain()
    erp = erp_row(session, erp.id)
    assert erp.state == State.SYNCED, erp.sage_message
    assert erp.sage_message is None and erp.synced_at is not None
    assert audit_actions(session, erp.id) == ["send", "accept", "export_ok"]


@pytest.mark.parametrize("key", CASES)
def test_reject_emails_creator_and_sender_and_resend_makes_it_ready(session, sim, who, drain, smtp, key):
    label, make = CASES[key]
    item_id, creator, sender = make(session, sim, who)
    erp = services.send(session, sender, key, item_id, RQJobQueue())
    reason = f"Wrong address {f.suffix()}"
    reject(session, who.approver, erp.id, reason)
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.reject_reason) == (State.REJECTED, reason)

    mail = session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id)).one()
    assert sorted(mail.recipients.split(",")) == sorted([creator.email.lower(), sender.email.lower()])
    assert mail.subject.startswith(f"{COMPANY}: ERP {label} Rejection Notification — ")
    assert mail.reply_to == who.approver.email
    drain()
    session.expire_all()
    assert session.get(OutboxMail, mail.id).status == MailStatus.SENT
    got = [m for m in smtp.to(creator.email) if reason.encode() in m.content]
    assert len(got) == 1 and sender.email in got[0].rcpt_tos
    message = email.message_from_bytes(got[0].content, policy=email.policy.default)
    assert (f.subject(message), message["Reply-To"]) == (mail.subject, who.approver.email)

    # Rejected items are editable again and go back to Ready to Export on Resend.
    again = services.send(session, sender, key, item_id, RQJobQueue())
    assert again.id == erp.id and erp_row(session, erp.id).state == State.READY
    assert audit_actions(session, erp.id) == ["send", "reject", "resend"]


@pytest.mark.parametrize("key", CASES)
def test_the_sender_retrieves_and_an_outsider_cannot(session, sim, who, key):
    label, make = CASES[key]
    item_id, creator, sender = make(session, sim, who)
    erp = services.send(session, sender, key, item_id, RQJobQueue())
    with pytest.raises(PermissionDenied):
        services.retrieve(session, who.outsider, erp.id)
    assert erp_row(session, erp.id).state == State.READY
    services.retrieve(session, sender, erp.id)
    assert erp_row(session, erp.id).state == State.DRAFT
    assert audit_actions(session, erp.id) == ["send", "retrieve"]


@pytest.mark.parametrize("key", CASES)
def test_sending_needs_admin_on_the_items_tool(session, sim, who, key):
    label, make = CASES[key]
    item_id, creator, sender = make(session, sim, who)
    with pytest.raises(PermissionDenied):
        services.send(session, who.outsider, key, item_id, RQJobQueue())
    assert services.find_erp_item(session, key, item_id) is None


@pytest.mark.parametrize("key, accepted", [("sub_job", True), ("cost_code", True),
                                           ("vendor", False), ("job", False)])
def test_bulk_accept_with_defaults(session, sim, who, drain, key, accepted):
    """Sub jobs and cost codes export with their defaults; vendors and jobs need an ID of their own."""
    label, make = CASES[key]
    erps = []
    for _ in range(2):
        item_id, creator, sender = make(session, sim, who)
        erps.append(services.send(session, sender, key, item_id, RQJobQueue()).id)
    done, errors = services.accept_many(session, who.approver, key, erps, RQJobQueue())
    if accepted:
        assert errors == {} and sorted(e.id for e in done) == sorted(erps)
        drain()
        assert {erp_row(session, e).state for e in erps} == {State.SYNCED}
    else:
        field = "ERP Vendor ID" if key == "vendor" else "Sage Job ID"
        assert done == []
        assert errors == {e: f"Accept it on its own: {field} is required." for e in erps}
        assert {erp_row(session, e).state for e in erps} == {State.READY}
        assert {erp_row(session, e).attempt for e in erps} == {0}


# ---- jobs ----------------------------------------------------------------------------------

def test_job_export_creates_the_sage_job_with_its_cost_codes_and_categories(session, sim, who, drain):
    project = new_project(session, who, name="Northgate Library", codes=("01-100", "03-300"),
                          categories=("LAB", "MAT", "SUB"))
    sub = new_sub_job(session, who.pm, project.id)
    add_cost_code(session, who.pm, project.id, "09-900", ("LAB",), sub_job_id=sub.id)  # the extra's, not the job's
    erp = services.send(session, who.pm, "job", project.id, RQJobQueue())
    job_id = it.fresh_job_id(session, sim)
    services.accept(session, who.approver, erp.id, {"sage_job_id": job_id}, RQJobQueue())
    drain()

    erp = erp_row(session, erp.id)
    assert (erp.state, erp.erp_ref) == (State.SYNCED, job_id)
    assert session.get(Project, project.id).sage_job_id == job_id
    job = sim.get_job(job_id)
    assert (job["Description"], job["Address_1"], job["City"], job["State"], job["ZIP"], job["Status"]) == \
        ("Northgate Library", "400 Civic Plaza", "Springfield", "IL", "62701", "Open")
    assert [(c["Cost_Code"], c["Description"]) for c in sim.list_cost_codes(job_id)] == \
        [(code, standard_description(session, code)) for code in ("01-100", "03-300")]
    assert [(c["Cost_Code"], c["Category"], c["Description"]) for c in sim.list_categories(job_id)] == \
        [(code, cat, category_description(session, cat)) for code in ("01-100", "03-300")
         for cat in ("LAB", "MAT", "SUB")]

    # A synced project cannot be sent again: a job cannot be created in both systems.
    with pytest.raises(Invalid) as refused:
        services.send(session, who.pm, "job", project.id, RQJobQueue())
    assert f"already synced with Sage job {job_id}" in refused.value.message
    assert erp_row(session, erp.id).state == State.SYNCED


def test_a_project_without_cost_codes_cannot_be_sent(session, sim, who):
    project = new_project(session, who, codes=())
    with pytest.raises(Invalid) as refused:
        services.send(session, who.pm, "job", project.id, RQJobQueue())
    assert "Add cost codes from the company's standard list first" in refused.value.message
    assert services.find_erp_item(session, "job", project.id) is None


@pytest.mark.parametrize("sage_job_id, message", [
    ("", "Sage Job ID is required."),
    ("   ", "Sage Job ID is required."),
    ("12-345-6789", "Sage Job ID must be 10 characters or less (Sage's limit)."),
    ("12345", "Sage Job ID must match the job-number mask ##-### (# a digit, A a letter)."),
    ("AB-123", "Sage Job ID must match the job-number mask ##-### (# a digit, A a letter)."),
    ("12-3456", "Sage Job ID must match the job-number mask ##-### (# a digit, A a letter)."),
], ids=["empty", "blank", "too long", "no dash", "letters", "one digit too many"])
def test_job_accept_checks_the_sage_job_id_and_changes_nothing(session, sim, who, sage_job_id, message):
    project = new_project(session, who)
    erp = services.send(session, who.pm, "job", project.id, RQJobQueue())
    with pytest.raises(Invalid) as refused:
        services.accept(session, who.approver, erp.id, {"sage_job_id": sage_job_id}, RQJobQueue())
    assert refused.value.fields == {"sage_job_id": message}
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.attempt, erp.export_fields) == (State.READY, 0, None)


def test_job_accept_refuses_a_sage_job_id_another_project_has(session, sim, who, drain):
    first, second = new_project(session, who), new_project(session, who)
    job_id = it.fresh_job_id(session, sim)
    erp1 = services.send(session, who.pm, "job", first.id, RQJobQueue())
    services.accept(session, who.approver, erp1.id, {"sage_job_id": job_id}, RQJobQueue())
    drain()
    assert erp_row(session, erp1.id).state == State.SYNCED

    erp2 = services.send(session, who.pm, "job", second.id, RQJobQueue())
    with pytest.raises(Invalid) as refused:
        services.accept(session, who.approver, erp2.id, {"sage_job_id": job_id}, RQJobQueue())
    assert refused.value.fields == {"sage_job_id": f"Sage Job ID {job_id} is already used by another project."}
    assert erp_row(session, erp2.id).state == State.READY


def test_the_job_number_mask_comes_from_the_settings(session, sim, who, drain):
    before = settings.load(session)
    settings.update(session, who.erp_admin, f.settings_form(before, job_number_mask="AA-####"), direct_export_keys())
    try:
        project = new_project(session, who)
        erp = services.send(session, who.pm, "job", project.id, RQJobQueue())
        with pytest.raises(Invalid) as refused:
            services.accept(session, who.approver, erp.id, {"sage_job_id": "24-104"}, RQJobQueue())
        assert "job-number mask AA-####" in refused.value.fields["sage_job_id"]
        job_id = it.fresh_job_id(session, sim, "AA-####")
        services.accept(session, who.approver, erp.id, {"sage_job_id": job_id}, RQJobQueue())
    finally:
        settings.update(session, who.erp_admin, f.settings_form(before), direct_export_keys())
    assert settings.load(session) == before
    drain()
    assert erp_row(session, erp.id).state == State.SYNCED and sim.get_job(job_id) is not None


@pytest.mark.parametrize("change, message", [
    ({"name": "Westfield Community Recreation Center"}, "[Name] is too long, maximum length is 30 characters."),
    ({"city": "North Springfield Heights"}, "[AddressCity] is too long, maximum length is 15 characters."),
    ({"zip_code": "62711-00001"}, "[AddressZip] is too long, maximum length is 10 characters."),
], ids=["name", "city", "zip"])
def test_sage_refuses_a_job_with_a_field_over_its_length(session, sim, who, drain, change, message):
    project = new_project(session, who, **change)
    erp = services.send(session, who.pm, "job", project.id, RQJobQueue())
    job_id = it.fresh_job_id(session, sim)
    services.accept(session, who.approver, erp.id, {"sage_job_id": job_id}, RQJobQueue())
    drain()
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.sage_message) == (State.FAILED, message)
    assert session.get(Project, project.id).sage_job_id is None
    assert sim.get_job(job_id) is None and sim.list_cost_codes(job_id) == []


def test_a_refused_job_is_rejected_fixed_resent_and_synced(session, sim, who, drain):
    project = new_project(session, who, name="Westfield Community Recreation Center Expansion")
    erp = services.send(session, who.pm, "job", project.id, RQJobQueue())
    services.accept(session, who.approver, erp.id, {"sage_job_id": it.fresh_job_id(session, sim)}, RQJobQueue())
    drain()
    assert erp_row(session, erp.id).state == State.FAILED
    # Failed items cannot be edited until accounting rejects them back to the project team.
    with pytest.raises(Conflict):
        items.save_item(session, who.pm, "job", None, project.id, {"number": project.number,
                                                                     "name": "Westfield Rec Center"})
    reject(session, who.approver, erp.id, "Shorten the name to 30 characters")
    items.save_item(session, who.pm, "job", None, project.id, {
        "number": project.number, "name": "Westfield Rec Center", "address": "400 Civic Plaza",
        "city": "Springfield", "state": "IL", "zip": "62701"})
    services.send(session, who.pm, "job", project.id, RQJobQueue())
    job_id = it.fresh_job_id(session, sim)
    services.accept(session, who.approver, erp.id, {"sage_job_id": job_id}, RQJobQueue())
    drain()
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.attempt, erp.erp_ref) == (State.SYNCED, 2, job_id)
    assert sim.get_job(job_id)["Description"] == "Westfield Rec Center"
    assert audit_actions(session, erp.id) == ["send", "accept", "export_failed", "reject", "resend",
                                              "accept", "export_ok"]


def test_a_job_id_that_exists_only_in_sage_fails_with_sages_text(session, sim, who, drain):
    project = new_project(session, who)
    job_id = it.fresh_job_id(session, sim)
    sim.add_job(job_id, "Made in Sage")
    erp = services.send(session, who.pm, "job", project.id, RQJobQueue())
    services.accept(session, who.approver, erp.id, {"sage_job_id": job_id}, RQJobQueue())
    drain()
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.sage_message) == (State.FAILED, "A job with that code already exists.")
    assert session.get(Project, project.id).sage_job_id is None


def test_a_site_admin_creates_a_project_as_a_job_and_becomes_admin_on_it(session, sim, who):
    s = f.suffix()
    form = {"number": f"N-{s}", "name": f"Job {s}", "address": "400 Civic Plaza", "city": "Springfield",
            "state": "IL", "zip": "62701"}
    project = items.save_item(session, who.admin, "job", None, None, form)
    session.expire_all()
    project = session.get(Project, project.id)
    assert {k: getattr(project, k) for k in form} == form
    assert (project.created_by_id, project.sage_job_id) == (who.admin.id, None)
    level = session.scalar(select(ProjectMember.level).where(ProjectMember.project_id == project.id,
                                                             ProjectMember.user_id == who.admin.id))
    assert level == ToolLevel.ADMIN


@pytest.mark.parametrize("form, errors", [
    ({"number": "", "name": "Some Job"}, {"number": "Project # is required."}),
    ({"number": "N-1", "name": " "}, {"name": "Project Name is required."}),
    ({"number": "N-1", "name": "J" * 121}, {"name": "Project Name must be 120 characters or less (Sage's limit)."}),
], ids=["no number", "no name", "name too long"])
def test_a_project_with_bad_fields_is_refused_and_nothing_is_created(session, who, form, errors):
    def count():
        return session.scalar(select(func.count()).select_from(Project))
    before = count()
    with pytest.raises(Invalid) as refused:
        items.save_item(session, who.admin, "job", None, None, form)
    assert refused.value.fields == errors
    assert count() == before


def test_only_site_administrators_create_projects(session, who):
    def count():
        return session.scalar(select(func.count()).select_from(Project))
    before = count()
    with pytest.raises(PermissionDenied):
        items.save_item(session, who.pm, "job", None, None, {"number": "X", "name": "Y"})
    assert count() == before


# ---- sub jobs ------------------------------------------------------------------------------

def test_a_sub_job_is_sent_only_under_a_synced_job(session, sim, who):
    project = new_project(session, who)
    sub = new_sub_job(session, who.pm, project.id)
    with pytest.raises(Invalid) as refused:
        services.send(session, who.pm, "sub_job", sub.id, RQJobQueue())
    assert "Sub jobs are exported only under a synced job: export the project first." in refused.value.message
    assert services.find_erp_item(session, "sub_job", sub.id) is None
    _, _, rows = items.list_items(session, who.pm, "sub_job", project.id)
    assert [r.reasons for r in rows] == [["Sub jobs are exported only under a synced job: export the "
                                          "project first."]]


def test_sub_job_export_creates_the_extra_with_its_cost_codes(session, sim, who, drain):
    setup = synced_project(session, sim, who)
    job = setup.project.sage_job_id
    code = f"PHASE2-{f.suffix()}"  # 13 characters: the Extra ID is its first 10
    sub = new_sub_job(session, who.pm, setup.project.id, code=code, name="Tenant Fit-Out")
    add_cost_code(session, who.pm, setup.project.id, "09-900", ("LAB", "SUB"), sub_job_id=sub.id)
    assert get_type("sub_job").export_defaults(get_type("sub_job").load(session, sub.id)) == {"extra_id": code[:10]}

    erp = services.send(session, who.pm, "sub_job", sub.id, RQJobQueue())
    services.accept(session, who.approver, erp.id, {"extra_id": code[:10]}, RQJobQueue())
    drain()
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.erp_ref) == (State.SYNCED, code[:10]), erp.sage_message
    assert session.get(SubJob, sub.id).sage_extra_id == code[:10]
    extra = sim.get_extra(job, code[:10])
    assert (extra["Description"], extra["Status"]) == ("Tenant Fit-Out", "Open")
    assert [c["Cost_Code"] for c in sim.list_cost_codes(job, code[:10])] == ["09-900"]
    assert [(c["Cost_Code"], c["Category"]) for c in sim.list_categories(job, code[:10])] == \
        [("09-900", "LAB"), ("09-900", "SUB")]
    assert [c["Cost_Code"] for c in sim.list_cost_codes(job)] == ["03-300"]  # the job's own untouched


@pytest.mark.parametrize("extra_id, message", [
    ("", "Extra ID is required."),
    ("EXTRA-12345", "Extra ID must be 10 characters or less (Sage's limit)."),
], ids=["empty", "too long"])
def test_sub_job_accept_checks_the_extra_id(session, sim, who, extra_id, message):
    setup = synced_project(session, sim, who)
    sub = new_sub_job(session, who.pm, setup.project.id)
    erp = services.send(session, who.pm, "sub_job", sub.id, RQJobQueue())
    with pytest.raises(Invalid) as refused:
        services.accept(session, who.approver, erp.id, {"extra_id": extra_id}, RQJobQueue())
    assert refused.value.fields == {"extra_id": message}
    assert erp_row(session, erp.id).state == State.READY


def test_a_sub_job_with_cost_codes_cannot_be_deleted(session, sim, who):
    setup = synced_project(session, sim, who)
    sub = new_sub_job(session, who.pm, setup.project.id)
    code = add_cost_code(session, who.pm, setup.project.id, "01-100", sub_job_id=sub.id)
    with pytest.raises(Invalid) as refused:
        items.delete_item(session, who.pm, "sub_job", setup.project.id, sub.id)
    assert refused.value.message == "A sub job with cost codes cannot be deleted."
    session.expire_all()
    assert session.get(SubJob, sub.id) is not None and session.get(CostCode, code.id) is not None


def test_a_sub_job_without_cost_codes_is_deleted_and_a_sent_one_is_kept(session, sim, who):
    setup = synced_project(session, sim, who)
    empty, sent = new_sub_job(session, who.pm, setup.project.id), new_sub_job(session, who.pm, setup.project.id)
    empty_id, sent_id = empty.id, sent.id
    with pytest.raises(PermissionDenied):
        items.delete_item(session, who.outsider, "sub_job", setup.project.id, empty_id)
    items.delete_item(session, who.pm, "sub_job", setup.project.id, empty_id)
    session.expire_all()
    assert session.get(SubJob, empty_id) is None

    services.send(session, who.pm, "sub_job", sent_id, RQJobQueue())
    with pytest.raises(Conflict):
        items.delete_item(session, who.pm, "sub_job", setup.project.id, sent_id)
    session.expire_all()
    assert session.get(SubJob, sent_id) is not None


def test_sub_job_codes_are_unique_per_project(session, sim, who):
    setup = synced_project(session, sim, who)
    sub = new_sub_job(session, who.pm, setup.project.id)
    with pytest.raises(Invalid) as refused:
        new_sub_job(session, who.pm, setup.project.id, code=sub.code.lower())
    assert refused.value.fields == {"code": f"Sub job {sub.code.lower()} already exists on this project."}
    assert session.scalar(select(func.count()).select_from(SubJob).where(
        SubJob.project_id == setup.project.id)) == 1


# ---- vendors -------------------------------------------------------------------------------

def test_vendor_export_maps_the_companies_table_and_writes_the_erp_vendor_id_back(session, sim, who, drain):
    vendor = new_vendor(session, who.admin, name="Harbor Mechanical", address="12 Commerce Way",
                        city="Bayside", state="WI", zip="53217", phone="555-0142", fax="555-0143")
    erp = services.send(session, who.admin, "vendor", vendor.id, RQJobQueue())
    assert erp.project_id is None  # company level
    vendor_id = it.fresh_vendor_id(sim)
    services.accept(session, who.approver, erp.id, {"erp_vendor_id": vendor_id, "vendor_type": "Supplier"},
                    RQJobQueue())
    drain()
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.erp_ref) == (State.SYNCED, vendor_id), erp.sage_message
    vendor = session.get(Vendor, vendor.id)
    assert (vendor.erp_vendor_id, vendor.vendor_type) == (vendor_id, "Supplier")
    row = sim.get_vendor(vendor_id)
    assert {k: row[k] for k in ("Name", "Address_1", "City", "State", "ZIP", "Telephone", "Fax", "Status")} == {
        "Name": "Harbor Mechanical", "Address_1": "12 Commerce Way", "City": "Bayside", "State": "WI",
        "ZIP": "53217", "Telephone": "555-0142", "Fax": "555-0143", "Status": "Active"}

    with pytest.raises(Invalid) as refused:  # linked: it cannot be created in Sage twice
        services.send(session, who.admin, "vendor", vendor.id, RQJobQueue())
    assert f"already linked to Sage vendor {vendor_id}" in refused.value.message


def test_a_vendor_id_that_exists_only_in_sage_fails_and_a_retry_with_another_id_syncs(session, sim, who, drain):
    vendor = new_vendor(session, who.admin)
    taken = it.fresh_vendor_id(sim)
    sim.add_vendor(taken, "Made in Sage")
    erp = services.send(session, who.admin, "vendor", vendor.id, RQJobQueue())
    services.accept(session, who.approver, erp.id, {"erp_vendor_id": taken, "vendor_type": "Subcontractor"},
                    RQJobQueue())
    drain()
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.sage_message) == (State.FAILED, "A vendor already exists with the specified id.")
    assert session.get(Vendor, vendor.id).erp_vendor_id is None
    assert sim.get_vendor(taken)["Name"] == "Made in Sage"

    other = it.fresh_vendor_id(sim)
    services.accept(session, who.approver, erp.id, {"erp_vendor_id": other, "vendor_type": "Subcontractor"},
                    RQJobQueue())
    drain()
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.attempt) == (State.SYNCED, 2)
    assert session.get(Vendor, vendor.id).erp_vendor_id == other


@pytest.mark.parametrize("fields, errors", [
    ({"erp_vendor_id": "", "vendor_type": "Subcontractor"}, {"erp_vendor_id": "ERP Vendor ID is required."}),
    ({"erp_vendor_id": "V123456789X", "vendor_type": "Subcontractor"},
     {"erp_vendor_id": "ERP Vendor ID must be 10 characters or less (Sage's limit)."}),
    ({"erp_vendor_id": "VOK", "vendor_type": "Landlord"}, {"vendor_type": "Choose a vendor type."}),
    ({"erp_vendor_id": "VOK"}, {"vendor_type": "Choose a vendor type."}),
], ids=["no id", "id too long", "unknown type", "no type"])
def test_vendor_accept_checks_its_fields_and_changes_nothing(session, sim, who, fields, errors):
    vendor = new_vendor(session, who.admin)
    erp = services.send(session, who.admin, "vendor", vendor.id, RQJobQueue())
    with pytest.raises(Invalid) as refused:
        services.accept(session, who.approver, erp.id, fields, RQJobQueue())
    assert refused.value.fields == errors
    erp = erp_row(session, erp.id)
    assert (erp.state, erp.attempt, erp.export_fields) == (State.READY, 0, None)


def test_vendor_accept_refuses_an_erp_vendor_id_another_company_has(session, sim, who):
    linked = new_vendor(session, who.admin)
    linked.erp_vendor_id = it.fresh_vendor_id(sim)
    session.commit()
    vendor = new_vendor(session, who.admin)
    erp = services.send(session, who.admin, "vendor", vendor.id, RQJobQueue())
    with pytest.raises(Invalid) as refused:
        services.accept(session, who.approver, erp.id, {"erp_vendor_id": linked.erp_vendor_id.lower(),
                                                        "vendor_type": "Subcontractor"}, RQJobQueue())
    assert refused.value.fields == {"erp_vendor_id": f"ERP Vendor ID {linked.erp_vendor_id.lower()} is "
                                                     "already used by another company."}
    assert erp_row(session, erp.id).state == State.READY


def test_only_site_administrators_create_and_send_companies(session, sim, who):
    with pytest.raises(PermissionDenied):
        new_vendor(session, who.pm)
    vendor = new_vendor(session, who.admin)
    with pytest.raises(PermissionDenied):
        services.send(session, who.pm, "vendor", vendor.id, RQJobQueue())
    assert services.find_erp_item(session, "vendor", vendor.id) is None


# ---- cost codes ----------------------------------------------------------------------------

def test_cost_codes_come_from_the_standard_list_with_categories(session, sim, who):
    project = new_project(session, who, codes=())
    code = add_cost_code(session, who.pm, project.id, "03-300", ("MAT", "SUB"))
    session.expire_all()
    code = get_type("cost_code").load(session, code.id)
    assert (code.code, code.description, code.sub_job_id) == ("03-300", standard_description(session, "03-300"), None)
    assert [(c.code, c.description) for c in code.categories] == \
        [("MAT", category_description(session, "MAT")), ("SUB", category_description(session, "SUB"))]


def _inactive_code(session) -> str:
    code = f"99-{f.suffix(4)}"
    session.add(StandardCostCode(code=code, description="Retired", active=False))
    session.commit()
    return code


@pytest.mark.parametrize("form, errors", [
    ({"standard_code": "03-300"}, {"_": "Tick at least one category. Cost code 03-300 has no default cost type."}),
    ({"standard_code": "NOT-A-CODE", "category_LAB": "on"},
     {"standard_code": "Choose a cost code from the company's standard list (new codes are created in Sage)."}),
    ({"standard_code": "INACTIVE", "category_LAB": "on"},
     {"standard_code": "Choose a cost code from the company's standard list (new codes are created in Sage)."}),
    ({"standard_code": "01-100", "category_LAB": "on"},
     {"standard_code": "Cost code 01-100 is already on this project."}),
    ({"standard_code": "05-500", "category_LAB": "on", "sub_job_id": "999999999"},
     {"sub_job_id": "Choose a sub job of this project."}),
], ids=["no category", "not in the list", "inactive", "already on the project", "another project's sub job"])
def test_a_cost_code_outside_the_rules_is_refused_and_nothing_is_created(session, sim, who, form, errors):
    project = new_project(session, who, codes=("01-100",))
    if form["standard_code"] == "INACTIVE":
        form = {**form, "standard_code": _inactive_code(session)}
    def count():
        return session.scalar(select(func.count()).select_from(CostCode).where(CostCode.project_id == project.id))
    before = count()
    with pytest.raises(Invalid) as refused:
        items.save_item(session, who.pm, "cost_code", project.id, None, form)
    assert refused.value.fields == errors
    assert count() == before


def test_cost_codes_wait_for_the_project_to_be_synced(session, sim, who):
    project = new_project(session, who, codes=("01-100",))
    code_id = session.scalar(select(CostCode.id).where(CostCode.project_id == project.id))
    with pytest.raises(Invalid) as refused:
        services.send(session, who.pm, "cost_code", code_id, RQJobQueue())
    assert "The project is not synced with a Sage job yet" in refused.value.message
    assert services.find_erp_item(session, "cost_code", code_id) is None


def test_a_sub_jobs_cost_code_waits_for_the_sub_job(session, sim, who):
    setup = synced_project(session, sim, who)
    sub = new_sub_job(session, who.pm, setup.project.id)
    code = add_cost_code(session, who.pm, setup.project.id, "01-100", sub_job_id=sub.id)
    with pytest.raises(Invalid) as refused:
        services.send(session, who.pm, "cost_code", code.id, RQJobQueue())
    assert f"Sub job {sub.code} is not synced with Sage yet." in refused.value.message


def test_cost_codes_are_accepted_and_rejected_one_by_one(session, sim, who, drain):
    setup = synced_project(session, sim, who)
    job = setup.project.sage_job_id
    one = add_cost_code(session, who.pm, setup.project.id, "01-100", ("LAB", "MAT"))
    two = add_cost_code(session, who.pm, setup.project.id, "09-900", ("SUB",))
    erp1 = services.send(session, who.pm, "cost_code", one.id, RQJobQueue())
    erp2 = services.send(session, who.pm, "cost_code", two.id, RQJobQueue())
    services.accept(session, who.approver, erp1.id, {}, RQJobQueue())
    reject(session, who.approver, erp2.id, "Painting is not in the contract")
    drain()
    assert (erp_row(session, erp1.id).state, erp_row(session, erp1.id).erp_ref) == (State.SYNCED, f"{job}/01-100")
    assert erp_row(session, erp2.id).state == State.REJECTED
    assert [c["Cost_Code"] for c in sim.list_cost_codes(job)] == ["01-100", "03-300"]
    assert [(c["Cost_Code"], c["Category"], c["Description"]) for c in sim.list_categories(job)
            if c["Cost_Code"] == "01-100"] == [("01-100", "LAB", category_description(session, "LAB")),
                                              ("01-100", "MAT", category_description(session, "MAT"))]


def test_a_cost_code_is_added_to_its_synced_sub_jobs_extra(session, sim, who, drain):
    setup = synced_project(session, sim, who)
    job = setup.project.sage_job_id
    sub = new_sub_job(session, who.pm, setup.project.id)
    erp = services.send(session, who.pm, "sub_job", sub.id, RQJobQueue())
    kind = get_type("sub_job")
    services.accept(session, who.approver, erp.id, kind.export_defaults(kind.load(session, sub.id)),
                    RQJobQueue())
    drain()
    extra = session.get(SubJob, sub.id).sage_extra_id
    assert extra

    code = add_cost_code(session, who.pm, setup.project.id, "05-500", ("MAT",), sub_job_id=sub.id)
    erp = services.send(session, who.pm, "cost_code", code.id, RQJobQueue())
    services.accept(session, who.approver, erp.id, {}, RQJobQueue())
    drain()
    assert (erp_row(session, erp.id).state, erp_row(session, erp.id).erp_ref) == (State.SYNCED, f"{job}/{extra}/05-500")
    assert [(c["Cost_Code"], c["Category"]) for c in sim.list_categories(job, extra)] == [("05-500", "MAT")]
    assert "05-500" not in [c["Cost_Code"] for c in sim.list_cost_codes(job)]


# ---- settings: direct export ------------------------------------------------------------------

def test_direct_export_sends_an_approved_invoice_straight_to_export(session, sim, who, drain):
    before = settings.load(session)
    settings.update(session, who.erp_admin, f.settings_form(before, direct_export_invoices="on"), direct_export_keys())
    try:
        assert settings.load(session).direct_export["invoices"] is True
        setup = synced_project(session, sim, who)
        inv = setup.invoice(session, who.pm, billing=date(2026, 10, 31))
        erp = services.send(session, who.pm, "subcontractor_invoice", inv.id, RQJobQueue())
        erp = erp_row(session, erp.id)
        assert (erp.state, erp.attempt) == (State.EXPORTING, 1)
        assert erp.export_fields == {"erp_id": inv.number, "description": "", "accounting_date": "2026-10-31"}
        audits = session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp.id).order_by(ErpAudit.id)).all()
        assert [(a.action, a.to_state) for a in audits] == [("send", State.READY), ("accept", State.EXPORTING)]
        assert audits[1].detail["direct_export"] is True and audits[1].actor_id == who.pm.id
        drain()
        erp = erp_row(session, erp.id)
        assert (erp.state, erp.erp_ref) == (State.SYNCED, inv.number), erp.sage_message
        assert sim.get_invoice(setup.vendor.erp_vendor_id, inv.number) is not None
    finally:
        settings.update(session, who.erp_admin, f.settings_form(before), direct_export_keys())
    assert settings.load(session) == before


def test_without_direct_export_an_invoice_waits_in_ready_to_export(session, sim, who):
    assert settings.load(session).direct_export["invoices"] is False
    setup = synced_project(session, sim, who)
    inv = setup.invoice(session, who.pm)
    erp = services.send(session, who.pm, "subcontractor_invoice", inv.id, RQJobQueue())
    assert erp_row(session, erp.id).state == State.READY


def test_settings_change_is_audited_per_key_and_only_by_erp_admins(session, who):
    from portal.domain.models import SettingChange
    before = settings.load(session)
    last = session.scalar(select(func.max(SettingChange.id))) or 0
    with pytest.raises(PermissionDenied):
        settings.update(session, who.approver, f.settings_form(before, job_number_mask="####"), direct_export_keys())
    with pytest.raises(Invalid) as refused:
        settings.update(session, who.erp_admin, f.settings_form(before, job_number_mask="##-###-####"),
                        direct_export_keys())
    assert refused.value.fields == {"job_number_mask": "A Sage Job ID has at most 10 characters."}
    session.rollback()
    assert settings.load(session) == before
    assert (session.scalar(select(func.max(SettingChange.id))) or 0) == last
    try:
        forecast = not before.export_forecast_amounts
        settings.update(session, who.erp_admin, f.settings_form(before, job_number_mask="####",
                                                              export_forecast_amounts=forecast and "on"),
                        direct_export_keys())
        changes = session.scalars(select(SettingChange).where(SettingChange.id > last)
                                  .order_by(SettingChange.id)).all()
        assert sorted((c.key, c.old, c.new, c.actor_id) for c in changes) == sorted([
            ("job_number_mask", before.job_number_mask, "####", who.erp_admin.id),
            ("export_forecast_amounts", before.export_forecast_amounts, forecast, who.erp_admin.id)])
    finally:
        settings.update(session, who.erp_admin, f.settings_form(before), direct_export_keys())
    assert settings.load(session) == before
