"""What only the setup types do (vendors and jobs under /company, sub jobs and cost codes under
their project): where each lives, their prerequisites, their forms' rules and Accept fields, sub
job deletion, Sage's refusal of a vendor ID, and the ERP settings page. What every type does is
in test_item_pages.py; who may do it in test_access.py.

Requests are made with no app context pushed; the database is read and prepared in short
`dbs(app)` blocks in between.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.domain import items, services, settings
from portal.domain.lifecycle import State
from portal.domain.models import (
    Project,
    Setting,
    SettingChange,
    StandardCategory,
    StandardCostCode,
    SubcontractorInvoice,
    SubJob,
    ToolLevel,
    User,
    Vendor,
)
from tests import factories as f, items as it
from tests.types import direct_export_keys
from tests.web.pages import (
    HX,
    World,
    assert_form_refused,
    changed_settings,
    is_fragment,
    is_page,
    item_row,
    path_of,
    settings_form,
    text,
)

dbs = f.app_session

ROLE_USERS = {"site_admin": dict(site_admin=True), "project_admin": {}, "project_readonly": {},
              "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "erp_admin_no_push": dict(erp_level=ToolLevel.ADMIN)}


@pytest.fixture(scope="module", autouse=True)
def standard_list(app):
    """The company's standard cost codes and categories (company-wide: made when missing)."""
    with dbs(app) as s:
        f.standard_list(s)


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def unsynced(world, codes: int = 0) -> int:
    """A project not in Sage yet (the world's members on it) with `codes` standard cost codes."""
    home = world.home
    with dbs(world.app) as s:
        return it.unsynced_project(s, world.user(s, "site_admin"), members=home.members, token=home.token,
                                   codes=codes)


def on_project(world, key: str, pid: int, **form) -> it.Item:
    """A sub job or cost code on the project, made through the project-side service."""
    with dbs(world.app) as s:
        form = {"sub_job": {"code": f"SJ-{f.suffix()}", "name": "Fit-Out"},
                "cost_code": {"standard_code": it.free_code(s, pid), "category_LAB": "on"}}[key] | form
        made = items.save_item(s, world.user(s, "project_admin"), key, pid, None, form)
        return it.Item(key, made.id, world.home, pid, "", getattr(made, "code", ""))


def send_button_disabled(row: str) -> bool:
    return re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row) is not None


# ---- where each type lives ---------------------------------------------------------------------

def test_a_new_project_list_says_so(clients, world):
    body = text(clients["project_admin"].get(it.list_url("sub_job", unsynced(world))))
    assert "No sub jobs yet." in body and "Sage Job ID: <strong>not synced</strong>" in body


def test_a_type_in_the_wrong_place_is_404(clients, world):
    pid = world.home.pid
    urls = ["/company/sub_job", "/company/cost_code", "/company/nope", f"/projects/{pid}/items/vendor",
            f"/projects/{pid}/items/job", "/projects/999999999/items/sub_job"]
    answered = {url: clients["site_admin"].get(url).status_code for url in urls}
    assert answered == {url: 404 for url in urls}


def test_the_job_list_shows_only_the_projects_the_user_can_see(app, clients, world):
    mine = unsynced(world, codes=1)
    with dbs(app) as s:
        other = Project(number=f"O-{f.suffix()}", name=f"Other {world.token}")
        s.add(other)
        s.commit()
        other = other.id
    for role, sees in (("project_admin", {mine}), ("project_readonly", {mine}), ("approver", set()),
                       ("site_admin", {mine, other})):
        body = text(clients[role].get("/company/job", headers=HX))
        shown = {pid for pid in (mine, other) if f'<tbody id="job-{pid}"' in body}
        assert shown == sees, role
    row = item_row(text(clients["project_readonly"].get("/company/job", headers=HX)), "job", mine)
    assert "Send to ERP" not in row and "Edit" not in row  # read only on that project


# ---- prerequisites -----------------------------------------------------------------------------

@pytest.mark.parametrize("key, reason", [
    ("sub_job", "Sub jobs are exported only under a synced job: export the project first."),
    ("cost_code", "The project is not synced with a Sage job yet: its cost codes go with it."),
], ids=["sub job", "cost code"])
def test_send_is_unavailable_with_the_reason_until_the_project_is_synced(clients, world, key, reason):
    pid = unsynced(world)
    item = on_project(world, key, pid)
    row = item_row(text(clients["project_admin"].get(it.list_url(key, pid), headers=HX)), key, item.id)
    assert send_button_disabled(row) and reason in row
    assert it.item_url(item, "send") not in row
    htmx = clients["project_admin"].post(it.item_url(item, "send"), headers=HX)
    assert htmx.status_code == 422 and htmx.headers.get("HX-Retarget") == "#messages" and reason in text(htmx)
    page = clients["project_admin"].post(it.item_url(item, "send"))
    assert page.status_code == 422 and is_page(text(page))
    assert world.erp_of(key, item.id) is None


def test_a_project_without_cost_codes_cannot_be_sent_as_a_job(clients, world):
    pid = unsynced(world)
    row = item_row(text(clients["project_admin"].get("/company/job", headers=HX)), "job", pid)
    assert send_button_disabled(row) and "Add cost codes from the company's standard list first" in row


def test_a_synced_project_has_no_send_button(clients, world):
    job = world.item("job", State.SYNCED)
    row = item_row(text(clients["project_admin"].get("/company/job", headers=HX)), "job", job.id)
    assert 'data-state="synced"' in row and "Send to ERP" not in row and "Edit" not in row
    response = clients["project_admin"].post(it.item_url(job, "send"), headers=HX)
    assert response.status_code == 422 and "already synced with Sage job" in text(response)
    assert world.erp(job.erp).state == State.SYNCED


# ---- forms -------------------------------------------------------------------------------------

BAD_NEW = {
    "vendor, no name": ("vendor", {"name": "  ", "city": "Bayside"}, "name", "Name is required."),
    "vendor, name too long": ("vendor", {"name": "N" * 121}, "name",
                              "Name must be 120 characters or less (Sage's limit)."),
    "job, no number": ("job", {"number": "", "name": "Library"}, "number", "Project # is required."),
    "job, no name": ("job", {"number": "24-999", "name": ""}, "name", "Project Name is required."),
    "sub job, code too long": ("sub_job", {"code": "C" * 31, "name": "Phase 2"}, "code",
                               "Sub Job Code must be 30 characters or less (Sage's limit)."),
    "sub job, no description": ("sub_job", {"code": "PH2", "name": ""}, "name", "Description is required."),
    "cost code, not in the list": ("cost_code", {"standard_code": "77-777", "category_LAB": "on"},
                                   "standard_code", "Choose a cost code from the company's standard list"),
    "cost code, no category": ("cost_code", {"standard_code": "05-500"}, None,
                               "Tick at least one category. Cost code 05-500 has no default cost type."),
}


@pytest.mark.parametrize("name", BAD_NEW)
def test_create_with_bad_input_is_422_with_the_message_and_creates_nothing(clients, world, name):
    key, form, field, message = BAD_NEW[name]
    url = it.list_url(key, world.home.pid) + "/new"
    before = world.count(key)
    response = clients[it.builder(key).creates].post(url, data=form)
    assert_form_refused(response, form, message, field, ("name", "code", "number"))
    if field and f'<select name="{field}"' not in text(response):
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', text(response))
    assert world.count(key) == before


def test_a_sub_job_code_already_on_the_project_is_422(clients, world):
    sub = world.item("sub_job")
    before = world.count("sub_job")
    response = clients["project_admin"].post(it.list_url("sub_job", sub.pid) + "/new",
                                             data={"code": sub.number, "name": "Again"})
    assert response.status_code == 422 and f"Sub job {sub.number} already exists on this project." in text(response)
    assert world.count("sub_job") == before


def test_the_new_cost_code_form_offers_the_standard_list_categories_and_sub_jobs(clients, world):
    sub = world.item("sub_job")
    body = text(clients["project_admin"].get(it.list_url("cost_code", sub.pid) + "/new"))
    assert '<select name="standard_code" required>' in body
    with dbs(world.app) as s:
        active = s.scalars(select(StandardCostCode).where(StandardCostCode.active)).all()
        cats = s.scalars(select(StandardCategory)).all()
    for code in active:  # a code with a default cost type names it (tests/integration/test_default_cost_types.py)
        default = f" (default cost type {code.default_category})" if code.default_category else ""
        assert f'<option value="{code.code}" >{code.code} {code.description}{default}</option>' in body
    for cat in cats:
        assert f'<input type="checkbox" name="category_{cat.code}"' in body
    assert '<select name="sub_job_id"' in body and f'<option value="{sub.id}" ' in body


def test_a_cost_code_goes_on_a_sub_job_of_the_project(clients, world):
    sub = world.item("sub_job")
    response = clients["project_admin"].post(it.list_url("cost_code", sub.pid) + "/new", data={
        "standard_code": "01-100", "sub_job_id": str(sub.id), "category_MAT": "on"})
    assert response.status_code == 303
    row = item_row(text(clients["project_admin"].get(it.list_url("sub_job", sub.pid), headers=HX)), "sub_job", sub.id)
    assert '<td class="num">1</td>' in row  # the sub job's cost code count


def test_edit_with_bad_input_is_422_and_changes_nothing(clients, world):
    sub = world.item("sub_job", State.REJECTED)
    before = world.snapshot("sub_job", sub.id)
    response = clients["project_admin"].post(it.item_url(sub, "edit"), data={"code": "", "name": "Still here"})
    body = text(response)
    assert response.status_code == 422 and is_page(body)
    assert "Sub Job Code is required." in body and 'value="Still here"' in body
    assert f"Rejected by accounting: {it.REASON}" in body
    assert world.snapshot("sub_job", sub.id) == before


def test_retrieve_of_an_item_never_sent_is_422(clients, world):
    sub = world.item("sub_job")
    response = clients["project_admin"].post(it.item_url(sub, "retrieve"))
    assert response.status_code == 422 and "never sent" in text(response)


def test_an_item_of_another_project_is_404(clients, world):
    sub = world.item("sub_job")
    other = unsynced(world)
    response = clients["site_admin"].post(f"/projects/{other}/items/sub_job/{sub.id}/send")
    assert response.status_code == 404 and world.erp_of("sub_job", sub.id) is None


# ---- deleting a sub job ------------------------------------------------------------------------

def test_a_sub_job_with_cost_codes_cannot_be_deleted(clients, world):
    sub = world.item("sub_job")
    world.item("cost_code", sub_job_id=str(sub.id))
    before = world.count("sub_job"), world.count("cost_code")
    for headers in (None, HX):
        response = clients["project_admin"].post(it.item_url(sub, "delete"), headers=headers)
        assert response.status_code == 422
        assert "A sub job with cost codes cannot be deleted." in text(response)
    assert (world.count("sub_job"), world.count("cost_code")) == before


def test_a_sub_job_sent_to_erp_is_kept(app, clients, world):
    sub = world.item("sub_job", State.REJECTED)
    assert clients["project_admin"].post(it.item_url(sub, "delete")).status_code == 409
    with dbs(app) as s:
        assert s.get(SubJob, sub.id) is not None


def test_a_sub_job_an_invoice_is_billed_to_cannot_be_deleted(app, clients, world):
    """Nothing but the cost codes is checked before deleting: an invoice on the sub job must stop it
    with a clear message too, not a database error."""
    sub = world.item("sub_job")
    invoice = world.item("subcontractor_invoice")
    with dbs(app) as s:
        s.get(SubcontractorInvoice, invoice.id).sub_job_id = sub.id
        s.commit()
    response = clients["project_admin"].post(it.item_url(sub, "delete"))
    assert response.status_code in (409, 422)
    with dbs(app) as s:
        assert s.get(SubJob, sub.id) is not None


# ---- the Accept form ---------------------------------------------------------------------------

def test_the_accept_forms_are_prefilled_with_the_types_defaults(clients, world):
    expected = {
        "vendor": ['name="erp_vendor_id" value=""', '<select name="vendor_type" required>',
                   '<option value="Subcontractor" selected>Subcontractor</option>',
                   '<option value="Supplier" >Supplier</option>'],
        "job": ['name="sage_job_id" value=""',
                'placeholder="Unique, 10 characters, the company\'s job-number mask."'],
        "sub_job": ['name="extra_id" value="CODE10"'],
    }
    for key, snippets in expected.items():
        item = world.item(key, State.READY)
        body = text(clients["approver"].get(it.tab_url(key, item.erp, "accept"), headers=HX))
        for snippet in snippets:
            assert snippet.replace("CODE10", item.number[:10]) in body, (key, snippet)


BAD_ACCEPT = {
    "vendor id too long": ("vendor", {"erp_vendor_id": "V123456789X", "vendor_type": "Supplier"},
                           "erp_vendor_id", "ERP Vendor ID must be 10 characters or less (Sage's limit)."),
    "vendor type": ("vendor", {"erp_vendor_id": "VX1", "vendor_type": "Landlord"}, "vendor_type",
                    "Choose a vendor type."),
    "job id off the mask": ("job", {"sage_job_id": "24104"}, "sage_job_id",
                            "Sage Job ID must match the job-number mask ##-### (# a digit, A a letter)."),
    "job id missing": ("job", {"sage_job_id": ""}, "sage_job_id", "Sage Job ID is required."),
    "extra id too long": ("sub_job", {"extra_id": "PHASE-2-EXTRA"}, "extra_id",
                          "Extra ID must be 10 characters or less (Sage's limit)."),
}


@pytest.mark.parametrize("name", BAD_ACCEPT)
def test_accept_with_bad_fields_is_422_with_the_message_and_changes_nothing(clients, world, name):
    key, form, field, message = BAD_ACCEPT[name]
    item = world.item(key, State.READY)
    before = world.erp(item.erp)
    response = clients["approver"].post(it.tab_url(key, item.erp, "accept"), data=form, headers=HX)
    body = text(response)
    assert response.status_code == 422 and is_fragment(body)
    assert message in body and 'class="field-error"' in body and f'name="{field}"' in body
    assert world.erp(item.erp) == before


def test_a_vendor_id_only_in_sage_shows_sages_message_on_the_failed_row(app, clients, world, drain, sim):
    vendor = world.item("vendor", State.READY)
    taken = it.fresh_vendor_id(sim)
    sim.add_vendor(taken, "Made in Sage")
    clients["approver"].post(it.tab_url("vendor", vendor.erp, "accept"),
                             data={"erp_vendor_id": taken, "vendor_type": "Subcontractor"}, headers=HX)
    drain()
    status = clients["approver"].get(it.tab_url("vendor", vendor.erp, "status"), headers=HX)
    body = text(status)
    assert status.status_code == 286 and "Failed to Export" in body
    assert "Sage:</strong> A vendor already exists with the specified id." in body and "Retry" in body
    with dbs(app) as s:
        assert s.get(Vendor, vendor.id).erp_vendor_id is None


# ---- settings ----------------------------------------------------------------------------------

def stored_settings(app):
    with dbs(app) as s:
        rows = {r.key: r.value for r in s.scalars(select(Setting))}
        last = s.scalar(select(func.max(SettingChange.id))) or 0
        return settings.load(s), rows, last


def restore(app, people, before: settings.Settings) -> None:
    with dbs(app) as s:
        settings.update(s, s.get(User, people["erp_admin_no_push"].id), settings_form(before), direct_export_keys())


def test_settings_page_shows_the_form_and_the_current_values(clients, app):
    current, _, _ = stored_settings(app)
    response = clients["erp_admin_no_push"].get("/erp/settings")
    body = text(response)
    assert response.status_code == 200 and is_page(body)
    assert f'name="job_number_mask" value="{current.job_number_mask}"' in body
    for key in ("commitments", "ccos", "invoices"):
        assert f'name="direct_export_{key}"' in body
    assert "Save settings" in body


@pytest.mark.parametrize("mask", ["##-###-####", "AAAA-#######"])
def test_a_mask_over_10_characters_is_422_and_nothing_is_saved(clients, app, mask):
    before = stored_settings(app)
    response = clients["erp_admin_no_push"].post("/erp/settings", data=settings_form(
        before[0], job_number_mask=mask, direct_export_invoices="on", export_forecast_amounts="on"))
    body = text(response)
    assert response.status_code == 422 and is_page(body)
    assert "A Sage Job ID has at most 10 characters." in body and f'value="{mask}"' in body
    assert stored_settings(app) == before


def test_each_changed_setting_writes_one_audit_row_with_old_new_and_actor(clients, app, people):
    admin = clients["erp_admin_no_push"]
    before, _, last = stored_settings(app)
    actor = people["erp_admin_no_push"]
    try:
        response = admin.post("/erp/settings", data=settings_form(before, job_number_mask="AA-####",
                                                                 direct_export_ccos="on"))
        assert response.status_code == 303 and path_of(response.location) == "/erp/settings"
        page = text(admin.get(response.location))
        assert "Settings saved." in page and 'name="job_number_mask" value="AA-####"' in page
        with dbs(app) as s:
            changes = s.scalars(select(SettingChange).where(SettingChange.id > last).order_by(SettingChange.id)).all()
            assert sorted((c.key, c.old, c.new, c.actor_id) for c in changes) == sorted([
                ("job_number_mask", before.job_number_mask, "AA-####", actor.id),
                ("direct_export", before.direct_export, {**before.direct_export, "ccos": True}, actor.id)])
            assert settings.load(s).job_number_mask == "AA-####"
        assert f"<td>{actor.name}</td><td>job number mask</td><td>{before.job_number_mask}</td>" \
               f"<td>AA-####</td>" in page
        def readable(d):
            return ", ".join(f"{k}: {'on' if v else 'off'}" for k, v in d.items())
        assert f"<td>direct export</td><td>{readable(before.direct_export)}</td>" \
               f"<td>{readable({**before.direct_export, 'ccos': True})}</td>" in page

        # Saving the same values again changes nothing and writes no audit row.
        again = admin.post("/erp/settings", data=settings_form(before, job_number_mask="AA-####",
                                                              direct_export_ccos="on"))
        assert again.status_code == 303
        with dbs(app) as s:
            assert s.scalar(select(func.count()).select_from(SettingChange).where(SettingChange.id > last)) == 2
    finally:
        restore(app, people, before)
    assert stored_settings(app)[0] == before


def test_direct_export_on_invoices_through_the_pages(app, clients, people, world, drain):
    """Settings page on, a project admin sends an approved invoice, it exports without an approver."""
    invoice = world.item("subcontractor_invoice")
    with changed_settings(app, people["erp_admin_no_push"].id, direct_export_invoices="on"):
        sent = clients["project_admin"].post(it.item_url(invoice, "send"), headers=HX)
        assert sent.status_code == 200 and 'data-state="exporting"' in text(sent)
        drain()
    with dbs(app) as s:
        erp = services.find_erp_item(s, "subcontractor_invoice", invoice.id)
        assert (erp.state, erp.erp_ref, erp.decided_by_id) == (State.SYNCED, invoice.number,
                                                                people["project_admin"].id)
