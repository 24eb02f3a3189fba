"""Data back from Sage: Ready to Import lists, on-demand syncs with progress, the schedule."""
from __future__ import annotations

import re
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_htmx.constants import HTMX_STOP_POLLING
from flask_login import current_user, login_required

from portal.domain import compliance, policy, ready_to_import as rti, standard_codes, sync
from portal.domain.errors import Conflict, Invalid, RaceLost
from portal.domain.sage_models import SyncStatus
from portal.domain.types import REGISTRY
from portal.domain.values import optional_id, parse_id
from portal.exporters.sage300.connectors import make_connector
from portal.extensions import db, htmx
from portal.queue import RQJobQueue
from portal.web import forbidden, page_arg, render, safe_next, search_arg, wants_fragment

bp = Blueprint("imports", __name__, url_prefix="/erp")
COMPANY_CHOICE_MAX = 140  # "Name [#id]" of a company: its name (120) and id

# list key -> (SageRecord kind, sync kind, title, the ERP tab it belongs to)
LISTS = {
    "vendors": ("vendor", "vendors", "Vendors only in Sage", "vendor"),
    "jobs": ("job", "jobs", "Jobs only in Sage", "job"),
    "sub-jobs": ("extra", "sub_jobs", "Extras of synced jobs", "sub_job"),
    "prime-contracts": ("contract", "prime_contracts", "Prime contracts in Sage", "prime_contracts"),
}


@bp.before_request
@login_required
def _signed_in():
    """Every route needs a signed-in user with access to the ERP Integrations tool."""
    if not policy.can(current_user, policy.VIEW_ERP):
        return forbidden("You need access to the ERP Integrations tool.")
    return None


@bp.app_context_processor
def _sync_kinds():
    """What the sync templates need on every page: the syncs."""
    return {"sync_kinds": sync.KINDS}


def _reader():
    return make_connector(current_app.config).reader


def _needs_reader():
    reader = _reader()
    if reader is None:
        raise Invalid(sync.UNREADABLE)
    return reader


def _back(default: str):
    """303 to the page the form came from (its `next`, same site only), keeping its query: a
    boosted form follows it and swaps in the whole page, flash message included."""
    return redirect(safe_next(request.form.get("next")) or default, code=303)


def _back_to(list_key: str):
    return _back(url_for("imports.ready", list_key=list_key))


# ---- Ready to Import ----------------------------------------------------------------------------

@bp.route("/import/<list_key>")
def ready(list_key: str):
    """A Ready to Import list (or its archived / done list) with suggestions and actions."""
    if list_key not in LISTS:
        abort(404)
    return _list_page(list_key, request.args.get("status", "pending"), search_arg(),
                      page_arg())


def _list_page(list_key: str, status: str, q: str, page_number: int, http_status: int = 200,
               conflict: str | None = None):
    record_kind, sync_kind, title, tab = LISTS[list_key]
    size = current_app.config["PAGE_SIZE"]
    page = rti.records_page(db.session(), record_kind, status, q, (page_number - 1) * size, size)
    suggestions, options, blockers, targets, designate = {}, [], {}, {}, False
    if list_key == "vendors" and status == "pending":
        suggestions = rti.vendor_suggestions(db.session(), page.records)
    elif list_key == "jobs" and status == "pending":
        suggestions = rti.job_suggestions(db.session(), page.records)
        options = [(p.id, f"{p.number} {p.name}") for p in rti.linkable_projects(db.session())[:500]]
    elif list_key == "prime-contracts" and status == "done":
        blockers = rti.reimport_blockers_many(db.session(), page.records)
    elif list_key == "prime-contracts":
        targets = rti.contract_targets(db.session(), page.records)
        designate = rti.may_designate(db.session(), current_user)
    return render("imports/list.html", "list_body", list_key=list_key, title=title, list_status=status, q=q,
                  view=page, suggestions=suggestions, options=options, blockers=blockers, tab=tab,
                  targets=targets, designate=designate, methods=rti.ACCOUNTING_METHODS,
                  sync_kind=sync_kind, latest=sync.latest_run(db.session(), sync_kind),
                  active=sync.active_run(db.session(), sync_kind),
                  pages=max(1, -(-page.total // size)), page_number=page_number, active_tab=tab, status=http_status,
                  conflict=conflict)


def _too_late(list_key: str, record_id: int, exc: Conflict, type_key: str | None = None,
              item_id: int | None = None):
    """A decision on a record that someone else overtook (took the record, or moved the item it
    was to be linked to): 409 with the record's row as it now is, in the list it is now in, and
    who did what and when. Not overtaken: the refusal's own reason, as any Conflict."""
    late = rti.too_late(db.session(), record_id, isinstance(exc, RaceLost), type_key, item_id)
    if late is None:
        raise exc
    response = _list_page(list_key, late.status, late.sage_key, 1, 409, conflict=late.text)
    if wants_fragment():  # a form inside the list (the page's own are boosted: they get the page)
        response.headers["HX-Retarget"], response.headers["HX-Reswap"] = "#import-list", "outerHTML"
    return response


@bp.route("/import/vendors/<int:record_id>/add", methods=["POST"])
def add_vendor(record_id: int):
    """Add a Sage vendor to the company directory."""
    try:
        vendor = rti.add_vendor(db.session(), current_user, record_id)
    except Conflict as exc:
        return _too_late("vendors", record_id, exc)
    flash(f"{vendor.name} added to the directory, linked to vendor {vendor.erp_vendor_id}.", "info")
    return _back_to("vendors")


@bp.route("/import/companies")
def companies():
    """The Link field's type-ahead: companies not linked to Sage whose name contains the text."""
    q = search_arg("company") or search_arg()
    found = rti.search_companies(db.session(), q) if len(q) >= 2 else []
    return render("imports/_companies.html", companies=found)


@bp.route("/import/vendors/<int:record_id>/link", methods=["POST"])
def link_vendor(record_id: int):
    """Link a Sage vendor to an existing company (a suggestion, or one found by name)."""
    # the type-ahead's choice, "Name [#id]": a company name is at most 120 characters (Vendor.name)
    company = request.form.get("company") or ""
    if len(company) > COMPANY_CHOICE_MAX:
        said = f"Company must be {COMPANY_CHOICE_MAX} characters or less."
        raise Invalid(said, fields={"company": said})
    picked = re.search(r"\[#([^\]]+)\]\s*$", company)
    vendor_id = parse_id(picked.group(1), "company") if picked else parse_id(request.form.get("vendor_id"),
                                                                             "vendor_id")
    try:
        vendor = rti.link_vendor(db.session(), current_user, record_id, vendor_id)
    except Conflict as exc:
        return _too_late("vendors", record_id, exc, "vendor", vendor_id)
    flash(f"{vendor.name} linked to vendor {vendor.erp_vendor_id}.", "info")
    return _back_to("vendors")


@bp.route("/import/vendors/link-exact", methods=["POST"])
def link_exact():
    """Link every vendor whose name matches exactly one company."""
    linked, ambiguous = rti.link_exact_vendors(db.session(), current_user)
    text = f"{linked} vendor{'s' if linked != 1 else ''} linked by exact name."
    if ambiguous:
        text += f" {ambiguous} matched several companies: link those one by one."
    flash(text, "info")
    return _back_to("vendors")


@bp.route("/import/vendors/<int:record_id>/archive", methods=["POST"])
def archive_vendor(record_id: int):
    """Archive a Sage vendor the company will not use."""
    try:
        record = rti.archive(db.session(), current_user, record_id, True)
    except Conflict as exc:
        return _too_late("vendors", record_id, exc)
    flash(f"Vendor {record.sage_key} archived.", "info")
    return _back_to("vendors")


@bp.route("/import/vendors/<int:record_id>/unarchive", methods=["POST"])
def unarchive_vendor(record_id: int):
    """Bring an archived Sage vendor back to Ready to Import."""
    record = rti.archive(db.session(), current_user, record_id, False)
    flash(f"Vendor {record.sage_key} is back in Ready to Import.", "info")
    return _back_to("vendors")


@bp.route("/import/jobs/<int:record_id>/add", methods=["POST"])
def add_job(record_id: int):
    """Add a Sage job as a project."""
    try:
        project = rti.add_job(db.session(), current_user, record_id, _needs_reader())
    except Conflict as exc:
        return _too_late("jobs", record_id, exc)
    flash(f"Project {project.number} {project.name} added, synced with job {project.sage_job_id}.", "info")
    return _back_to("jobs")


@bp.route("/import/jobs/<int:record_id>/link", methods=["POST"])
def link_job(record_id: int):
    """Link a Sage job to a project that was never exported."""
    project_id = parse_id(request.form.get("project_id"), "project_id")
    try:
        project = rti.link_job(db.session(), current_user, record_id, project_id, _needs_reader())
    except Conflict as exc:
        return _too_late("jobs", record_id, exc, "job", project_id)
    flash(f"{project.name} linked to job {project.sage_job_id}.", "info")
    return _back_to("jobs")


@bp.route("/import/sub-jobs/<int:record_id>/add", methods=["POST"])
def add_sub_job(record_id: int):
    """Import a Sage extra as a sub job."""
    try:
        sub_job = rti.add_sub_job(db.session(), current_user, record_id, _needs_reader())
    except Conflict as exc:
        return _too_late("sub-jobs", record_id, exc)
    flash(f"Sub job {sub_job.code} {sub_job.name} imported.", "info")
    return _back_to("sub-jobs")


@bp.route("/import/prime-contracts/<int:record_id>/import", methods=["POST"])
def import_contract(record_id: int):
    """Import a Sage prime contract into its synced project (as its own, or into one there)."""
    into = optional_id(request.form.get("into_contract_id"), "into_contract_id")
    try:
        contract = rti.import_contract(db.session(), current_user, record_id,
                                       request.form.get("accounting_method") or None, into)
    except Conflict as exc:
        return _too_late("prime-contracts", record_id, exc)
    flash(f"Prime contract {contract.number} imported with its schedule of values."
          if into is None else f"Sage contract imported into prime contract {contract.number}.", "info")
    return _back_to("prime-contracts")


@bp.route("/import/prime-contracts/<int:record_id>/reimport", methods=["POST"])
def reimport_contract(record_id: int):
    """Re-Import a prime contract's new Sage line items."""
    added = rti.reimport_contract(db.session(), current_user, record_id)
    flash(f"Re-Import added {added} line item{'s' if added != 1 else ''}.", "info")
    return _back_to("prime-contracts")


# ---- company lists and job costs ----------------------------------------------------------------

@bp.route("/import/cost-codes")
def cost_codes():
    """The standard cost codes and categories from Sage (read-only: new codes are made in Sage)."""
    codes, categories = rti.standard_lists(db.session())
    return render("imports/cost_codes.html", codes=codes, categories=categories, sync_kind="cost_codes",
                  latest=sync.latest_run(db.session(), "cost_codes"),
                  active=sync.active_run(db.session(), "cost_codes"),
                  active_tab="cost_code")


@bp.route("/import/cost-codes/<int:code_id>/default-cost-type", methods=["POST"])
def default_cost_type(code_id: int):
    """Set a standard cost code's default cost type (Standard and Admin on ERP Integrations)."""
    standard = standard_codes.set_default_cost_type(db.session(), current_user, code_id,
                                                    request.form.get("default_category"))
    flash(f"Cost code {standard.code}: default cost type "
          f"{standard.default_category or 'none'}.", "info")
    return _back(url_for("imports.cost_codes"))


@bp.route("/job-costs")
def job_costs():
    """Job costs: every synced project, its cost lines and when they were last read from Sage (ERP Admins)."""
    if not policy.can(current_user, policy.COMPANY_JOB_COSTS):
        return forbidden("The company's Job Costs are for ERP Admins; a project's Job Costs report is on the "
                         "project.")
    return render("imports/job_costs.html", rows=rti.job_cost_projects(db.session()), sync_kind="job_costs",
                  latest=sync.latest_run(db.session(), "job_costs"), active=sync.active_run(db.session(), "job_costs"),
                  active_tab="job_costs")


@bp.route("/import/projects/<int:project_id>/refresh", methods=["POST"])
def refresh_project(project_id: int):
    """Refresh Cost Codes: new Sage cost codes and categories, and the budget while unlocked."""
    result = rti.refresh_project(db.session(), current_user, project_id, _needs_reader())
    flash(f"{result.codes_added} cost code categor{'ies' if result.codes_added != 1 else 'y'} added. "
          f"{result.budget_message}", "info")
    return _back(url_for("imports.job_costs"))


# ---- a company's insurance ----------------------------------------------------------------------

@bp.route("/companies/<int:vendor_id>")
def company(vendor_id: int):
    """A company's insurance certificates as last synced from Sage, those expiring within 30 days
    first, the required ones it lacks, and the insurance sync."""
    vendor = compliance.get_vendor(db.session(), vendor_id)
    return render("imports/company.html", vendor=vendor,
                  certificates=compliance.certificates(db.session(), vendor_id),
                  expiring=compliance.expiring(db.session(), vendor_id=vendor_id),
                  missing=compliance.missing(db.session(), vendor_id), days=compliance.EXPIRING_DAYS,
                  sync_kind="insurance", latest=sync.latest_run(db.session(), "insurance"))


# ---- syncs ---------------------------------------------------------------------------------------

@bp.route("/sync/<kind>", methods=["POST"])
def start_sync(kind: str):
    """Start an on-demand sync; htmx gets its progress fragment."""
    project_id = optional_id(request.form.get("project_id"), "project_id")
    run = sync.start(db.session(), current_user, kind, RQJobQueue(), project_id=project_id,
                     stall_after=timedelta(seconds=current_app.config["SYNC_STALL_SECONDS"]))
    if htmx and not htmx.boosted:
        return render("sync/_run.html", run=run)
    flash(f"{sync.get_kind(kind).label} sync started.", "info")
    return redirect(request.referrer or url_for("imports.schedule"), code=303)


@bp.route("/sync/runs/<int:run_id>")
def run_status(run_id: int):
    """A sync's progress fragment; 286 stops the polling once it has settled."""
    run = sync.get_run(db.session(), run_id)
    stalled = run.status in SyncStatus.ACTIVE and sync.is_stalled(
        run, timedelta(seconds=current_app.config["SYNC_STALL_SECONDS"]))
    response = render("sync/_run.html", run=run, stalled=stalled)
    if run.status not in SyncStatus.ACTIVE or stalled:
        response.status_code = HTMX_STOP_POLLING
    return response


@bp.route("/sync/bar/<tab>")
def sync_bar(tab: str):
    """The Ready to Import link and Sync button shown on an ERP tab (loaded after the tab)."""
    item_type = REGISTRY.get(tab)
    if item_type is None or item_type.sync_key is None:
        abort(404)
    key, list_key = item_type.sync_key, item_type.import_list
    pending = rti.pending_count(db.session(), LISTS[list_key][0]) if list_key else 0
    return render("sync/_bar.html", sync_kind=key, list_key=list_key, pending=pending,
                  latest=sync.latest_run(db.session(), key), active=sync.active_run(db.session(), key))


@bp.route("/sync/schedule", methods=["GET", "POST"])
def schedule():
    """The sync schedule: which syncs run by themselves, how often, last and next run."""
    errors, values = {}, None
    if request.method == "POST":
        if not policy.can(current_user, policy.ERP_ADMIN):
            return forbidden("Only ERP Integrations admins can change the sync schedule.")
        values = request.form.to_dict()
        try:
            sync.update_schedule(db.session(), current_user, values)
        except Invalid as exc:
            errors = exc.fields
        else:
            flash("Sync schedule saved.", "info")
            return redirect(url_for("imports.schedule"), code=303)
    latest = {key: sync.latest_run(db.session(), key) for key in sync.KINDS}
    return render("sync/schedule.html", rows=sync.schedules(db.session()), kinds=sync.KINDS, errors=errors,
                  latest=latest,
                  values=values, intervals=sync.INTERVALS, runs=sync.recent_runs(db.session()),
                  active_tab="schedule", status=422 if errors else 200)
