"""Who may reach every route: one role x route matrix, generated from the route map and the type registry.

`test_every_route_has_an_entry` enumerates app.url_map (every rule and method but static, HEAD and
OPTIONS) and fails on a route without an entry in ROUTES (a new route cannot go unchecked) or an
entry without a route. `test_route` then requests each route as every role: anonymous goes to the
login (HX-Redirect for htmx; 401 for the API), allowed roles succeed with the expected status,
location and state change, the others get 403, a page (a message fragment for htmx) and the state
unchanged. A route taking <type_key> is checked so with one type; `test_type` makes every type's
own requests (its tab, row, Accept form, accept, reject, requeue, unlink, bulk accept, list, new,
edit, send, retrieve, delete, API) with the roles allowed them, and its project-side and API
requests with every role too, since who may send depends on the type. The types come from the
registry: a new type is covered without touching this file (and fails until tests/items.py can
build it).

One test per route (not per route and role): its roles share the data a refused request must
leave alone, so the matrix makes a fraction of the items, and the failure message names every
role that failed, with what it got.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain import api_tokens, settings
from portal.domain.lifecycle import State
from portal.domain.models import (
    ApiToken,
    CostCode,
    ErpAudit,
    ErpItem,
    MailStatus,
    OutboxMail,
    PrimeContract,
    PrimeContractItem,
    Project,
    SettingChange,
    StandardCostCode,
    SubJob,
    ToolLevel,
    User,
    Vendor,
)
from portal.domain.sage_models import ImportStatus, SageRecord, SyncRun, SyncSchedule
from tests import factories as f, items as it
from tests.conftest import login
from tests.types import REGISTRY, direct_export_keys, get_type, type_keys
from tests.web import billing_access, roles
from tests.web.access_invoicing import INVOICING_ROUTES
from tests.web.access_world import World
from tests.web.pages import settings_form
from tests.web.roles import (
    APPROVERS,
    COMPANY_MANAGERS,
    ERP_ADMINS,
    ERP_USERS,
    EVERYONE,
    IMPORTERS,
    LOGGED_IN,
    PROJECT_ADMINS,
    PROJECT_VIEWERS,
    ROLES,
    SITE_ADMINS,
    STANDARD_UP,
    Case,
    check_route,
    item_snapshot,
    unchanged,
)

dbs = f.app_session

# "sender" is not a role under test: a site administrator who makes and sends every item
ROLE_USERS = {**roles.ROLE_USERS, "sender": dict(site_admin=True)}
SAGE_USERS = SITE_ADMINS | ERP_ADMINS
HEALTH_VIEWERS = SITE_ADMINS | ERP_ADMINS
JOB_COST_READERS = ERP_USERS | PROJECT_VIEWERS
SWITCHERS = frozenset({"erp_admin_no_push", "project_admin", "site_admin"})


@pytest.fixture(scope="module")
def tokens(app, people) -> dict:
    """An API token per signed-in role."""
    with dbs(app) as s:
        return {role: api_tokens.create_token(s, people[role].id, "matrix") for role in LOGGED_IN}


@pytest.fixture
def new_world(app, sim, people):
    return lambda: World(app, sim, people)


# ---- what a route may change ----------------------------------------------------------------------

def erp_of(what):
    """The ErpItem state of the world's item (what(world) -> Item), None while never sent."""
    def read(s, w):
        item = what(w)
        return it.erp_of(s, item.key, item.id)
    return read


def type_count(key):
    def read(s, w):
        w.target(key)  # the project a new item goes on exists before counting (its Setup adds a vendor)
        return it.count(s, key)
    return read


def erp_state_is(what, state):
    def check(s, w, before):
        after = erp_of(what)(s, w)
        assert after is not None and after[0] == state, (after, state)
    return check


def accepted(what):
    def check(s, w, before):
        item = what(w)
        erp = s.get(ErpItem, item.erp)
        assert (erp.state, erp.attempt, erp.job_id) == (State.EXPORTING, 1, f"export-{erp.id}-1")
    return check


def rejected(what):
    def check(s, w, before):
        erp = s.get(ErpItem, what(w).erp)
        assert (erp.state, erp.reject_reason) == (State.REJECTED, "Matrix says no")
        assert s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp.id)) == 1
    return check


def requeued(what):
    def check(s, w, before):
        erp = s.get(ErpItem, what(w).erp)
        assert (erp.state, erp.attempt) == (State.EXPORTING, 1)
        actions = s.scalars(select(ErpAudit.action).where(ErpAudit.erp_item_id == erp.id).order_by(ErpAudit.id))
        assert list(actions)[-1] == "requeue"
    return check


def counted(snapshot, more: int = 1):
    def check(s, w, before):
        assert snapshot(s, w) == before + more, (before, snapshot(s, w))
    return check


def edited(key):
    def check(s, w, before):
        after = item_snapshot(key)(s, w)
        assert after != before and it.holds(after, w.edit(key)[1]), (w.edit(key)[1], after)
    return check


def deleted(key):
    def check(s, w, before):
        assert before is not None and item_snapshot(key)(s, w) is None
    return check


# ---- every route of a type ------------------------------------------------------------------------

def type_cases(key: str) -> dict[tuple[str, str], Case]:
    """The type's routes (rule, method) -> what each role may do there, for items of type `key`."""
    b, kind = it.builder(key), get_type(key)
    company = kind.scope == "company"
    def tab(w, r):
        return f"/erp/{key}"
    ready, draft = (lambda w: w.item(key, State.READY)), (lambda w: w.item(key))
    exporting, gone = (lambda w: w.item(key, State.EXPORTING)), (lambda w: w.unlinkable(key))
    def erp_url(what, state):
        return (lambda w: it.tab_url(key, w.item(key, state).erp, what))
    def erp_snapshot(what):
        return (lambda s, w: it.erp_state(s, what(w).erp))
    erp = "/erp/<type_key>/<int:erp_item_id>"
    cases = {
        ("/erp/<type_key>", "GET"): Case("GET", lambda w: f"/erp/{key}?filter=ready&q={w.token}", ERP_USERS),
        # the tab's downloads (CSV, Excel): read as the tab is
        ("/erp/<type_key>/download.<any(csv, xlsx):fmt>", "GET"): Case(
            "GET", lambda w: f"/erp/{key}/download.csv?filter=ready&q={w.token}", ERP_USERS),
        (erp, "GET"): Case("GET", lambda w: f"/erp/{key}/{w.item(key, State.READY).erp}", ERP_USERS),
        (f"{erp}/row", "GET"): Case("GET", erp_url("row", State.READY), ERP_USERS),
        (f"{erp}/status", "GET"): Case("GET", erp_url("status", State.EXPORTING), ERP_USERS),
        (f"{erp}/accept", "GET"): Case("GET", erp_url("accept", State.READY), APPROVERS),
        (f"{erp}/reject", "GET"): Case("GET", erp_url("reject", State.READY), APPROVERS),
        (f"{erp}/accept", "POST"): Case(
            "POST", erp_url("accept", State.READY), APPROVERS, (303,), tab, data=lambda w: w.accept(key),
            snapshot=erp_snapshot(ready), ok_check=accepted(ready), drain=True),
        (f"{erp}/reject", "POST"): Case(
            "POST", erp_url("reject", State.READY), APPROVERS, (303,), tab, data=lambda w: {"reason": "Matrix says no"},
            snapshot=erp_snapshot(ready), ok_check=rejected(ready), drain=True),
        # the Accept form's pre-check as the approver types: a read, nothing changes
        (f"{erp}/precheck", "POST"): Case(
            "POST", erp_url("precheck", State.READY), APPROVERS, data=lambda w: w.accept(key),
            snapshot=erp_snapshot(ready), ok_check=unchanged(erp_snapshot(ready))),
        (f"{erp}/requeue", "POST"): Case(
            "POST", erp_url("requeue", State.EXPORTING), APPROVERS, (303,), tab, snapshot=erp_snapshot(exporting),
            ok_check=requeued(exporting), drain=True),
        # a type that cannot be unlinked says so (422) and stays Synced
        (f"{erp}/unlink", "POST"): Case(
            "POST", lambda w: it.tab_url(key, w.unlinkable(key).erp, "unlink"), APPROVERS,
            (303,) if b.sage_delete else (422,), tab if b.sage_delete else None, snapshot=erp_snapshot(gone),
            ok_check=erp_state_is(gone, State.DRAFT) if b.sage_delete else unchanged(erp_snapshot(gone))),
        # the bulk form asking each ticked row's Sage ID; a bulk export's result panel (polled till settled: 286)
        ("/erp/<type_key>/bulk-accept", "GET"): Case(
            "GET", lambda w: f"/erp/{key}/bulk-accept?ids={w.item(key, State.READY).erp}", APPROVERS),
        ("/erp/<type_key>/bulk-result", "GET"): Case(
            "GET", lambda w: f"/erp/{key}/bulk-result?ids={w.item(key, State.EXPORTING).erp}", ERP_USERS, (200, 286)),
        # a type whose defaults lack a field is not accepted in bulk: it says why and stays Ready
        ("/erp/<type_key>/bulk-accept", "POST"): Case(
            "POST", lambda w: f"/erp/{key}/bulk-accept", APPROVERS, (303,), tab,
            data=lambda w: {"ids": [str(w.item(key, State.READY).erp)], "filter": "ready"},
            snapshot=erp_snapshot(ready),
            ok_check=unchanged(erp_snapshot(ready)) if b.bulk_missing else accepted(ready), drain=True),
    }
    admins = PROJECT_ADMINS if b.admin == "project_admin" else SITE_ADMINS
    creators = PROJECT_ADMINS if b.creates == "project_admin" else SITE_ADMINS
    viewers = LOGGED_IN if company else PROJECT_VIEWERS      # a company-level list: everyone's to read
    def back(w, r):
        return it.back_url(w.item(key))
    def back_ready(w, r):
        return it.back_url(w.item(key, State.READY))
    def item_url(what, state=State.DRAFT):
        return (lambda w: it.item_url(w.item(key, state), what))
    def new_url(w):
        return it.list_url(key, w.target(key).pid) + "/new"
    side = {
        "send": Case("POST", item_url("send"), admins, (303,), back, snapshot=erp_of(draft),
                     ok_check=erp_state_is(draft, State.READY)),
        "retrieve": Case("POST", item_url("retrieve", State.READY), admins, (303,), back_ready,
                         snapshot=erp_snapshot(ready), ok_check=erp_state_is(ready, State.DRAFT)),
        "edit GET": Case("GET", item_url("edit"), admins, (200,) if b.editable else (409,)),
        # a Direct Export's row polls it: 200 while it exports, 286 (stop) once it stalled
        "status": Case("GET", item_url("status", State.EXPORTING), LOGGED_IN if b.viewers == "everyone"
                       else PROJECT_VIEWERS, (200, 286)),
        # a type never edited once created (budget changes) refuses with 409 and changes nothing
        "edit POST": Case("POST", item_url("edit"), admins, (303,) if b.editable else (409,),
                          back if b.editable else None, data=lambda w: w.edit(key)[0],
                          snapshot=item_snapshot(key),
                          ok_check=edited(key) if b.editable else unchanged(item_snapshot(key))),
    }
    if b.own_pages:
        base = f"/projects/<int:project_id>/{b.own_pages}"
        cases.update({
            (base, "GET"): Case("GET", lambda w: it.list_url(key, w.home.pid), PROJECT_VIEWERS),
            (f"{base}/<int:{b.own_pages[:-1]}_id>", "GET"): Case("GET", item_url("", State.READY), PROJECT_VIEWERS),
            (f"{base}/<int:{b.own_pages[:-1]}_id>/send", "POST"): side["send"],
            (f"{base}/<int:{b.own_pages[:-1]}_id>/retrieve", "POST"): side["retrieve"],
            (f"{base}/<int:{b.own_pages[:-1]}_id>/edit", "GET"): side["edit GET"],
            (f"{base}/<int:{b.own_pages[:-1]}_id>/edit", "POST"): side["edit POST"],
            (f"{base}/<int:{b.own_pages[:-1]}_id>/status", "GET"): side["status"],
        })
    else:
        cases.update(generic_pages(key, side, viewers, creators, admins, new_url, item_url))
    cases.update(api_cases(key, viewers, creators, admins))
    return cases


def generic_pages(key, side, viewers, creators, admins, new_url, item_url) -> dict[tuple[str, str], Case]:
    """The generic project-side pages of the type (under /company or its project)."""
    b = it.builder(key)
    base = "/company/<type_key>" if get_type(key).scope == "company" else "/projects/<int:project_id>/items/<type_key>"
    return {
        (base, "GET"): Case("GET", lambda w: it.list_url(key, w.home.pid), viewers),
        (f"{base}/new", "GET"): Case("GET", new_url, creators),
        (f"{base}/new", "POST"): Case(
            "POST", new_url, creators, (303,), lambda w, r: it.list_url(key, w.target(key).pid),
            data=lambda w: w.new_form(key), snapshot=type_count(key), ok_check=counted(type_count(key))),
        (f"{base}/<int:item_id>/send", "POST"): side["send"],
        (f"{base}/<int:item_id>/retrieve", "POST"): side["retrieve"],
        (f"{base}/<int:item_id>/edit", "GET"): side["edit GET"],
        (f"{base}/<int:item_id>/edit", "POST"): side["edit POST"],
        (f"{base}/<int:item_id>/status", "GET"): side["status"],
        # only some types can be deleted; the others tell an admin so (409)
        (f"{base}/<int:item_id>/delete", "POST"): Case(
            "POST", item_url("delete"), admins, (303,) if b.deletable else (409,),
            (lambda w, r: it.list_url(key, w.item(key).pid)) if b.deletable else None,
            snapshot=item_snapshot(key), ok_check=deleted(key) if b.deletable else unchanged(item_snapshot(key))),
    }


def api_cases(key, viewers, creators, admins) -> dict[tuple[str, str], Case]:
    """The JSON API: the same gate, with the role's token. A type with pages of its own (the invoice) is
    neither created nor edited through it (it says so with 422, to everyone): its list, one item,
    send and retrieve are."""
    b, company = it.builder(key), get_type(key).scope == "company"
    draft, ready = (lambda w: w.item(key)), (lambda w: w.item(key, State.READY))
    api = "/api/v1/company/items/<type_key>" if company else "/api/v1/projects/<int:project_id>/items/<type_key>"
    def api_list(w):
        return f"/api/v1/company/items/{key}" if company else f"/api/v1/projects/{w.home.pid}/items/{key}"
    def api_new(w):
        return (f"/api/v1/company/items/{key}" if company
                             else f"/api/v1/projects/{w.target(key).pid}/items/{key}")
    def api_item(what, state=State.DRAFT):
        return (
            lambda w: (f"/api/v1/company/items/{key}/{w.item(key, state).id}" if company
                       else f"/api/v1/projects/{w.item(key, state).pid}/items/{key}/{w.item(key, state).id}") + what)
    token = dict(anon="token", api=True)
    cases = {
        (api, "GET"): Case("GET", api_list, viewers, **token),
        (api, "POST"): Case("POST", api_new, creators, (201,), data=lambda w: w.new_form(key),
                            snapshot=type_count(key), ok_check=counted(type_count(key)), **token),
        (f"{api}/<int:item_id>", "GET"): Case("GET", api_item(""), LOGGED_IN if b.viewers == "everyone" else
                                              PROJECT_VIEWERS, **token),
        (f"{api}/<int:item_id>", "PUT"): Case(
            "PUT", api_item(""), admins, (200,) if b.editable else (409,), data=lambda w: w.edit(key)[0],
            snapshot=item_snapshot(key), ok_check=edited(key) if b.editable else unchanged(item_snapshot(key)),
            **token),
        (f"{api}/<int:item_id>/send", "POST"): Case(
            "POST", api_item("/send"), admins, snapshot=erp_of(draft), ok_check=erp_state_is(draft, State.READY),
            **token),
        (f"{api}/<int:item_id>/retrieve", "POST"): Case(
            "POST", api_item("/retrieve", State.READY), admins,
            snapshot=lambda s, w: it.erp_state(s, ready(w).erp), ok_check=erp_state_is(ready, State.DRAFT), **token),
    }
    if b.own_pages:
        del cases[api, "POST"], cases[f"{api}/<int:item_id>", "PUT"]
    return cases


def first_type(scope: str) -> str:
    """The first registered type with generic project-side pages in `scope` ("project" or "company")."""
    return next(k for k in REGISTRY if get_type(k).scope == scope and not it.builder(k).own_pages)


# ---- the routes without a type ---------------------------------------------------------------------

def user_count(s, w):
    return s.scalar(select(func.count()).select_from(User).where(User.username == w.new_username))


def user_row(s, w):
    u = s.get(User, w.target_user)
    return (u.name, u.email, u.erp_level)


def token_count(s, w):
    return s.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == w.target_user))


def token_revoked(s, w):
    return s.get(ApiToken, w.target_token).revoked_at is not None


def mail_row(s, w):
    m = s.get(OutboxMail, w.mail)
    return (m.status, m.attempts)


def settings_row(s, w):
    return settings.load(s), s.scalar(select(func.count()).select_from(SettingChange))


def flipped_settings(w) -> dict:
    with dbs(w.app) as s:
        current = settings.load(s)
    return settings_form(current, export_forecast_amounts=False if current.export_forecast_amounts else "on")


def settings_saved(s, w, before):
    current, changes = settings_row(s, w)
    assert current.export_forecast_amounts is not before[0].export_forecast_amounts
    assert changes == before[1] + 1


def restore_settings(w, before):
    with dbs(w.app) as s:
        settings.update(s, w.user(s, "erp_admin_no_push"), settings_form(before[0]), direct_export_keys())


def schedule_rows(s, w):
    rows = s.scalars(select(SyncSchedule).order_by(SyncSchedule.kind))
    return tuple((r.kind, r.enabled, r.interval_minutes) for r in rows)


def schedule_form(rows, **change) -> dict:
    form = {f"enabled_{kind}": "on" for kind, enabled, _ in rows if enabled}
    form.update({f"interval_{kind}": str(minutes) for kind, _, minutes in rows})
    return {**form, **change}


def schedule_changed(s, w, before):
    after = dict((k, m) for k, _, m in schedule_rows(s, w))
    assert after["jobs"] == (30 if dict((k, m) for k, _, m in before)["jobs"] != 30 else 60)


def new_interval(w) -> dict:
    with dbs(w.app) as s:
        rows = schedule_rows(s, w)
    return schedule_form(rows, interval_jobs="30" if dict((k, m) for k, _, m in rows)["jobs"] != 30 else "60")


def restore_schedule(w, before):
    with dbs(w.app) as s:
        from portal.domain import sync
        sync.update_schedule(s, w.user(s, "erp_admin_no_push"), schedule_form(before))


def record_status(attr):
    """The status of the world's Ready to Import record `attr` (an id, or (id, Sage key))."""
    def read(s, w):
        record = getattr(w, attr)
        return s.get(SageRecord, record if isinstance(record, int) else record[0]).status
    return read


def status_is(attr, status):
    def check(s, w, before):
        assert record_status(attr)(s, w) == status
    return check


def vendor_added(s, w, before):
    record = s.get(SageRecord, w.vendor_record[0])
    assert record.status == ImportStatus.ADDED
    assert s.scalars(select(Vendor).where(Vendor.erp_vendor_id == w.vendor_record[1])).one().city == "Bend"


def default_cost_type(s, w):
    return s.get(StandardCostCode, w.standard_code).default_category


def vendor_linked(s, w, before):
    assert s.get(Vendor, w.company).erp_vendor_id == w.vendor_record[1]


def job_added(s, w, before):
    project = s.scalars(select(Project).where(Project.sage_job_id == w.job_record[1])).one()
    assert project.number == w.job_record[1]


def job_linked(s, w, before):
    assert s.get(Project, w.linkable_project).sage_job_id == w.job_record[1]


def sub_job_of(s, w):
    return s.scalar(select(func.count()).select_from(SubJob).where(SubJob.project_id == w.home.pid,
                                                                 SubJob.sage_extra_id == w.extra_record[1]))


def contracts_of(s, w):
    return s.scalar(select(func.count()).select_from(PrimeContract).where(
        PrimeContract.sage_contract_id == w.contract_record[1]))


def contract_items(s, w):
    return s.scalar(select(func.count()).select_from(PrimeContractItem).where(
        PrimeContractItem.contract_id == w.imported_contract[1]))


def sage_codes(s, w):
    _ = w.new_sage_code  # made before the request, so a refused request leaves it alone
    return s.scalar(select(func.count()).select_from(CostCode).where(CostCode.project_id == w.home.pid,
                                                                    CostCode.code == "09-900"))


def job_cost_runs(s, w):
    return s.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.kind == "job_costs",
                                                                  SyncRun.scope == f"project:{w.home.pid}"))


def transaction_sync(s, w):
    audits = s.scalar(select(func.count()).select_from(SettingChange).where(
        SettingChange.key == f"transaction_sync:project:{w.home.pid}"))
    return s.get(Project, w.home.pid).transaction_sync, audits


def switched_on(s, w, before):
    assert transaction_sync(s, w) == (True, before[1] + 1)


def sage_vendor_code(w) -> str:
    return f"N{w.token}"[:10]


def in_sage(s, w):
    return w.sim.get_vendor(sage_vendor_code(w)) is not None


def expect(condition: bool) -> None:
    assert condition


def home_location(w, role) -> str:
    """ERP Integrations for accounting, Needs attention for an Admin on a project, else the projects."""
    if role in ERP_USERS:
        return "/erp/"
    return "/attention/" if role in PROJECT_ADMINS else "/projects/"


def signed_in_home(w) -> str:
    """"/", once the world's project (with its members, project_admin an Admin) exists."""
    assert w.home.pid
    return "/"


imp = "/erp/import"
ROUTES: dict[tuple[str, str], Case] = {
    # sign in and out
    ("/", "GET"): Case("GET", signed_in_home, LOGGED_IN, (302,), home_location, hx_anon=False),
    ("/login", "GET"): Case("GET", lambda w: "/login", EVERYONE, anon=None),
    ("/login", "POST"): Case("POST", lambda w: "/login", EVERYONE, (422,), anon=None,
                             data=lambda w: {"username": w.people["sender"].username, "password": "wrong"}),
    ("/logout", "POST"): Case("POST", lambda w: "/logout", LOGGED_IN, (303,), lambda w, r: "/login", own_client=True),
    # the projects and their invoices
    ("/projects/", "GET"): Case("GET", lambda w: "/projects/", LOGGED_IN),
    ("/projects/<int:project_id>", "GET"): Case(
        "GET", lambda w: f"/projects/{w.home.pid}", LOGGED_IN, (302,), lambda w, r: f"/projects/{w.home.pid}/invoices"),
    # a commitment's billing and payments (issue 11): the project's members
    ("/projects/<int:project_id>/commitments/<int:commitment_id>", "GET"): Case(
        "GET", lambda w: f"/projects/{w.home.pid}/commitments/{w.home.commitment}", PROJECT_VIEWERS),
    # Needs attention: anyone signed in (an empty desk without Admin projects), a project's panel its members
    ("/attention/", "GET"): Case("GET", lambda w: "/attention/", LOGGED_IN),
    ("/projects/<int:project_id>/attention", "GET"): Case(
        "GET", lambda w: f"/projects/{w.home.pid}/attention", PROJECT_VIEWERS),
    # ERP Integrations
    ("/erp/", "GET"): Case("GET", lambda w: "/erp/", ERP_USERS, (302,), lambda w, r: f"/erp/{type_keys()[0]}"),
    ("/erp/settings", "GET"): Case("GET", lambda w: "/erp/settings", ERP_ADMINS),
    ("/erp/setup", "GET"): Case("GET", lambda w: "/erp/setup", ERP_ADMINS),
    ("/erp/settings", "POST"): Case(
        "POST", lambda w: "/erp/settings", ERP_ADMINS, (303,), lambda w, r: "/erp/settings", data=flipped_settings,
        snapshot=settings_row, ok_check=settings_saved, cleanup=restore_settings),
    # data back from Sage
    (f"{imp}/<list_key>", "GET"): Case("GET", lambda w: f"{imp}/vendors?q={w.token}", ERP_USERS),
    (f"{imp}/companies", "GET"): Case("GET", lambda w: f"{imp}/companies?company=Directory", ERP_USERS),
    (f"{imp}/cost-codes", "GET"): Case("GET", lambda w: f"{imp}/cost-codes", ERP_USERS),
    ("/erp/companies/<int:vendor_id>", "GET"): Case("GET", lambda w: f"/erp/companies/{w.company}", ERP_USERS),
    ("/erp/job-costs", "GET"): Case("GET", lambda w: "/erp/job-costs", ERP_ADMINS),  # the company-level tab
    (f"{imp}/cost-codes/<int:code_id>/default-cost-type", "POST"): Case(
        "POST", lambda w: f"{imp}/cost-codes/{w.standard_code}/default-cost-type", STANDARD_UP, (303,),
        lambda w, r: f"{imp}/cost-codes", data=lambda w: {"default_category": "MAT"},
        snapshot=default_cost_type, ok_check=lambda s, w, before: expect(default_cost_type(s, w) == "MAT")),
    # the guide's reports: Accountant (ERP Admin), Unsyncable Direct Costs (Admin on the project, no ERP access)
    ("/erp/reports/accountant", "GET"): Case("GET", lambda w: f"/erp/reports/accountant?project={w.home.pid}",
                                             ERP_ADMINS),
    ("/erp/reports/accountant.csv", "GET"): Case(
        "GET", lambda w: f"/erp/reports/accountant.csv?project={w.home.pid}", ERP_ADMINS),
    ("/erp/reports/unsyncable-direct-costs", "GET"): Case(
        "GET", lambda w: f"/erp/reports/unsyncable-direct-costs?project={w.home.pid}", PROJECT_ADMINS),
    ("/erp/reports/unsyncable-direct-costs.csv", "GET"): Case(
        "GET", lambda w: f"/erp/reports/unsyncable-direct-costs.csv?project={w.home.pid}", PROJECT_ADMINS),
    (f"{imp}/vendors/<int:record_id>/add", "POST"): Case(
        "POST", lambda w: f"{imp}/vendors/{w.vendor_record[0]}/add", COMPANY_MANAGERS, (303,),
        lambda w, r: f"{imp}/vendors", snapshot=record_status("vendor_record"), ok_check=vendor_added),
    (f"{imp}/vendors/<int:record_id>/link", "POST"): Case(
        "POST", lambda w: f"{imp}/vendors/{w.vendor_record[0]}/link", ERP_ADMINS, (303,),
        lambda w, r: f"{imp}/vendors", data=lambda w: {"vendor_id": str(w.company)},
        snapshot=record_status("vendor_record"), ok_check=vendor_linked),
    (f"{imp}/vendors/<int:record_id>/archive", "POST"): Case(
        "POST", lambda w: f"{imp}/vendors/{w.vendor_record[0]}/archive", COMPANY_MANAGERS, (303,),
        lambda w, r: f"{imp}/vendors", snapshot=record_status("vendor_record"),
        ok_check=status_is("vendor_record", ImportStatus.ARCHIVED)),
    (f"{imp}/vendors/<int:record_id>/unarchive", "POST"): Case(
        "POST", lambda w: f"{imp}/vendors/{w.archived_record[0]}/unarchive", COMPANY_MANAGERS, (303,),
        lambda w, r: f"{imp}/vendors", snapshot=record_status("archived_record"),
        ok_check=status_is("archived_record", ImportStatus.PENDING)),
    (f"{imp}/vendors/link-exact", "POST"): Case(
        "POST", lambda w: f"{imp}/vendors/link-exact", ERP_ADMINS, (303,), lambda w, r: f"{imp}/vendors",
        snapshot=record_status("exact"), ok_check=status_is("exact", ImportStatus.LINKED)),
    (f"{imp}/jobs/<int:record_id>/add", "POST"): Case(
        "POST", lambda w: f"{imp}/jobs/{w.job_record[0]}/add", ERP_ADMINS, (303,), lambda w, r: f"{imp}/jobs",
        snapshot=record_status("job_record"), ok_check=job_added),
    (f"{imp}/jobs/<int:record_id>/link", "POST"): Case(
        "POST", lambda w: f"{imp}/jobs/{w.job_record[0]}/link", ERP_ADMINS, (303,), lambda w, r: f"{imp}/jobs",
        data=lambda w: {"project_id": str(w.linkable_project)}, snapshot=record_status("job_record"),
        ok_check=job_linked),
    (f"{imp}/sub-jobs/<int:record_id>/add", "POST"): Case(
        "POST", lambda w: f"{imp}/sub-jobs/{w.extra_record[0]}/add", IMPORTERS, (303,),
        lambda w, r: f"{imp}/sub-jobs", snapshot=sub_job_of, ok_check=counted(sub_job_of)),
    (f"{imp}/prime-contracts/<int:record_id>/import", "POST"): Case(
        "POST", lambda w: f"{imp}/prime-contracts/{w.contract_record[0]}/import", IMPORTERS, (303,),
        lambda w, r: f"{imp}/prime-contracts", snapshot=contracts_of, ok_check=counted(contracts_of)),
    (f"{imp}/prime-contracts/<int:record_id>/reimport", "POST"): Case(
        "POST", lambda w: f"{imp}/prime-contracts/{w.imported_contract[0]}/reimport", IMPORTERS, (303,),
        lambda w, r: f"{imp}/prime-contracts", snapshot=contract_items, ok_check=counted(contract_items)),
    (f"{imp}/projects/<int:project_id>/refresh", "POST"): Case(
        "POST", lambda w: f"{imp}/projects/{w.home.pid}/refresh", ERP_ADMINS, (303,), lambda w, r: "/erp/job-costs",
        snapshot=sage_codes, ok_check=counted(sage_codes)),
    ("/erp/sync/<kind>", "POST"): Case(
        "POST", lambda w: "/erp/sync/job_costs", IMPORTERS, (303,), lambda w, r: "/erp/sync/schedule",
        data=lambda w: {"project_id": str(w.home.pid)}, snapshot=job_cost_runs, ok_check=counted(job_cost_runs),
        drain=True),
    ("/erp/sync/bar/<tab>", "GET"): Case("GET", lambda w: "/erp/sync/bar/vendor", ERP_USERS),
    ("/erp/sync/runs/<int:run_id>", "GET"): Case("GET", lambda w: f"/erp/sync/runs/{w.sync_run}", ERP_USERS, (286,)),
    ("/erp/sync/schedule", "GET"): Case("GET", lambda w: "/erp/sync/schedule", ERP_USERS),
    ("/erp/sync/schedule", "POST"): Case(
        "POST", lambda w: "/erp/sync/schedule", ERP_ADMINS, (303,), lambda w, r: "/erp/sync/schedule",
        data=new_interval, snapshot=schedule_rows, ok_check=schedule_changed, cleanup=restore_schedule),
    # a project's job costs
    ("/projects/<int:project_id>/job-costs", "GET"): Case(
        "GET", lambda w: f"/projects/{w.home.pid}/job-costs?q=03", JOB_COST_READERS),
    ("/projects/<int:project_id>/job-costs.csv", "GET"): Case(
        "GET", lambda w: f"/projects/{w.home.pid}/job-costs.csv", JOB_COST_READERS),
    ("/projects/<int:project_id>/direct-costs", "GET"): Case(
        "GET", lambda w: f"/projects/{w.home.pid}/direct-costs", JOB_COST_READERS),
    ("/projects/<int:project_id>/job-costs/transaction-sync", "POST"): Case(
        "POST", lambda w: f"/projects/{w.home.pid}/job-costs/transaction-sync", SWITCHERS, (303,),
        lambda w, r: f"/projects/{w.home.pid}/direct-costs", data=lambda w: {"transaction_sync": "on"},
        snapshot=transaction_sync, ok_check=switched_on),
    # site administration
    ("/admin/users", "GET"): Case("GET", lambda w: "/admin/users", SITE_ADMINS),
    ("/admin/users/new", "GET"): Case("GET", lambda w: "/admin/users/new", SITE_ADMINS),
    ("/admin/users/new", "POST"): Case(
        "POST", lambda w: "/admin/users/new", SITE_ADMINS, (303,),
        data=lambda w: {"username": w.new_username, "name": "New Person", "email": "new@example.com",
                        "password": "long-enough-1", "erp_level": ToolLevel.NONE},
        snapshot=user_count, ok_check=counted(user_count)),
    ("/admin/users/<int:user_id>", "GET"): Case("GET", lambda w: f"/admin/users/{w.target_user}", SITE_ADMINS),
    ("/admin/users/<int:user_id>", "POST"): Case(
        "POST", lambda w: f"/admin/users/{w.target_user}", SITE_ADMINS, (303,),
        lambda w, r: f"/admin/users/{w.target_user}",
        data=lambda w: {"name": "Renamed Person", "email": "target@example.com", "erp_level": ToolLevel.NONE,
                        "active": "on"},
        snapshot=user_row, ok_check=lambda s, w, before: expect(user_row(s, w)[0] == "Renamed Person")),
    ("/admin/users/<int:user_id>/tokens", "POST"): Case(
        "POST", lambda w: f"/admin/users/{w.target_user}/tokens", SITE_ADMINS, (200,),
        data=lambda w: {"name": "pm-system", "days": "30"},
        snapshot=token_count, ok_check=counted(token_count)),
    # my account: every signed-in user; a token is revoked by its user (tests/web/test_api.py) or
    # a site administrator, so here (another user's token) by site administrators only
    ("/account", "GET"): Case("GET", lambda w: "/account", LOGGED_IN),
    ("/account/password", "POST"): Case(  # each role's own password: a user (client) of its own
        "POST", lambda w: "/account/password", LOGGED_IN, (303,), lambda w, r: "/account", own_client=True,
        data=lambda w: {"current_password": f.PASSWORD, "new_password": "changed-by-myself-8",
                        "confirm_password": "changed-by-myself-8"}),
    ("/account/tokens/<int:token_id>/revoke", "POST"): Case(
        "POST", lambda w: f"/account/tokens/{w.target_token}/revoke", SITE_ADMINS, (303,),
        lambda w, r: f"/admin/users/{w.target_user}",
        snapshot=token_revoked, ok_check=lambda s, w, before: expect(token_revoked(s, w))),
    ("/account/notices", "POST"): Case(  # each user's own choices
        "POST", lambda w: "/account/notices", LOGGED_IN, (303,), lambda w, r: "/account",
        data=lambda w: {"daily_summary": "on", "resent_notice": "email"}),
    ("/admin/mail", "GET"): Case("GET", lambda w: f"/admin/mail?q={w.token}", SITE_ADMINS),
    ("/admin/mail/<int:mail_id>", "GET"): Case("GET", lambda w: f"/admin/mail/{w.mail}", SITE_ADMINS),
    ("/admin/mail/<int:mail_id>/retry", "POST"): Case(
        "POST", lambda w: f"/admin/mail/{w.mail}/retry", SITE_ADMINS, (303,), lambda w, r: f"/admin/mail/{w.mail}",
        snapshot=mail_row, ok_check=lambda s, w, before: expect(mail_row(s, w)[0] == MailStatus.PENDING),
        drain=True),
    # the portal's health: /healthz for load balancers (200, or 503 while a check is red: no worker runs here)
    # the audit log: ERP Admins and accounting approvers
    ("/erp/audit-log", "GET"): Case("GET", lambda w: f"/erp/audit-log?q={w.token}", IMPORTERS),
    ("/erp/audit-log.csv", "GET"): Case("GET", lambda w: f"/erp/audit-log.csv?q={w.token}", IMPORTERS),
    # reconciliation with Sage: ERP Admins and accounting approvers
    ("/erp/reconciliation", "GET"): Case("GET", lambda w: "/erp/reconciliation", IMPORTERS),
    ("/erp/reconciliation.csv", "GET"): Case("GET", lambda w: "/erp/reconciliation.csv", IMPORTERS),
    ("/erp/reconciliation/projects/<int:project_id>", "GET"): Case(
        "GET", lambda w: f"/erp/reconciliation/projects/{w.home.pid}", IMPORTERS),
    ("/erp/reconciliation/projects/<int:project_id>.csv", "GET"): Case(
        "GET", lambda w: f"/erp/reconciliation/projects/{w.home.pid}.csv", IMPORTERS),
    ("/healthz", "GET"): Case("GET", lambda w: "/healthz", EVERYONE, (200, 503), anon=None),
    ("/admin/health", "GET"): Case("GET", lambda w: "/admin/health", HEALTH_VIEWERS),
    ("/health/worker-notice", "GET"): Case("GET", lambda w: "/health/worker-notice", LOGGED_IN, (200, 286)),
    # the Sage user's page (the simulator)
    ("/sage/", "GET"): Case("GET", lambda w: "/sage/", SAGE_USERS),
    ("/sage/<section>", "GET"): Case("GET", lambda w: "/sage/vendor", SAGE_USERS),
    ("/sage/<section>", "POST"): Case(
        "POST", lambda w: "/sage/vendor", SAGE_USERS, (303,), lambda w, r: "/sage/",
        data=lambda w: {"vendor": sage_vendor_code(w), "name": "Northwind Supply", "city": "Springfield",
                        "status": "Active"},
        snapshot=in_sage, ok_check=lambda s, w, before: expect(in_sage(s, w))),
    **INVOICING_ROUTES,
    # the JSON API (without a type)
    ("/api/v1/types", "GET"): Case("GET", lambda w: "/api/v1/types", LOGGED_IN, anon="token", api=True),
    ("/api/v1/openapi.json", "GET"): Case("GET", lambda w: "/api/v1/openapi.json", EVERYONE, anon=None, api=True),
    # invoice contacts, billing periods, Invite to Bill
    **billing_access.ROUTES,
    # every route taking <type_key>, with one type; test_type makes every type's
    **type_cases(type_keys()[0]),
    **{k: v for k, v in type_cases(first_type("project")).items() if "/items/" in k[0]},
    **{k: v for k, v in type_cases(first_type("company")).items() if "/company/" in k[0]},
}


def route_id(rule_method) -> str:
    return f"{rule_method[1]} {rule_method[0]}"


def test_every_route_has_an_entry(app):
    """The matrix covers the route map: a route without an entry fails here, and so does a stale entry."""
    served = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert not served - set(ROUTES), f"routes with no entry in ROUTES: {sorted(served - set(ROUTES))}"
    assert not set(ROUTES) - served, f"entries for routes that do not exist: {sorted(set(ROUTES) - served)}"


@pytest.fixture
def signed_in(app):
    """A client of its own signed in as a new user of the role: signing out ends every session of
    the user, so a route that signs it out must not sign out the module's clients."""
    def sign_in(role):
        with f.app_session(app) as s:
            user = SimpleNamespace(username=f.make_user(s, **ROLE_USERS[role]).username)
        return login(app.test_client(), user)  # no request inside the session's app context
    return sign_in


@pytest.mark.parametrize("rule_method", list(ROUTES), ids=route_id)
def test_route(app, clients, tokens, new_world, drain, signed_in, rule_method):
    problems = check_route(app, clients, tokens, ROUTES[rule_method], new_world, drain, login=signed_in)
    assert not problems, f"{route_id(rule_method)}:\n  " + "\n  ".join(problems)


def resend_case(key: str) -> Case:
    """Send again after a rejection: the send route on a rejected item (the same who-may as send)."""
    b, rejected_item = it.builder(key), (lambda w: w.item(key, State.REJECTED))
    return Case("POST", lambda w: it.item_url(w.item(key, State.REJECTED), "send"),
                PROJECT_ADMINS if b.admin == "project_admin" else SITE_ADMINS, (303,),
                lambda w, r: it.back_url(w.item(key, State.REJECTED)),
                snapshot=lambda s, w: it.erp_state(s, rejected_item(w).erp),
                ok_check=erp_state_is(rejected_item, State.READY))


def side_of(rule: str) -> str:
    return "erp" if rule.startswith("/erp/") else "api" if rule.startswith("/api/") else "pages"


@pytest.mark.parametrize("side", ["erp", "pages", "api"])
@pytest.mark.parametrize("key", type_keys())
def test_type(app, sim, people, clients, tokens, drain, key, side):
    """The type's own requests. Its ERP tab's routes (the same decorator for every type) with the roles
    allowed there; its project-side pages (and Resend) and its API routes (who may send depends on the
    type) with every role. The requests share one project; each that changes state has items of its own."""
    shared = World(app, sim, people)
    def fresh():
        return World(app, sim, people, home=shared.home)
    cases = {route_id(k): case for k, case in type_cases(key).items() if side_of(k[0]) == side}
    if side == "pages":
        cases["resend"] = resend_case(key)
    problems = []
    for name, case in cases.items():
        who = sorted(case.allowed) if side == "erp" else ROLES
        found = check_route(app, clients, tokens, case, fresh, drain, roles=who, shared=shared)
        problems += [f"{name}: {p}" for p in found]
    assert not problems, f"{key}:\n  " + "\n  ".join(problems)


def test_logout_is_post_only_and_signs_out(app, signed_in):
    """A GET cannot sign anyone out (405, still signed in); the POST does, to the login page."""
    assert app.test_client().get("/logout").status_code == 405  # anonymous too (its POST: the matrix)
    problems = []
    for role in sorted(LOGGED_IN):
        client = signed_in(role)
        kept = client.get("/logout").status_code, client.get("/projects/").status_code  # still signed in
        response = client.post("/logout")
        if "You are signed out." not in client.get("/login").get_data(as_text=True):
            problems.append(f"{role}: no 'You are signed out.' on the login page")
        after = client.get("/projects/")
        got = (kept, response.status_code, roles.path_of(response.location), after.status_code,
               roles.path_of(after.location))
        if got != ((405, 200), 303, "/login", 302, "/login"):
            problems.append(f"{role}: {got}")
    assert not problems, problems
