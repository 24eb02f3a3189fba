"""The ERP Integrations tool: one tab per item type, Accept / Reject, export status."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from flask import (
    Blueprint,
    current_app,
    flash,
    get_template_attribute,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_htmx.constants import HTMX_STOP_POLLING
from flask_login import current_user, login_required

from portal import answers
from portal.domain import policy, precheck, services, settings as settings_service, setup
from portal.domain.edits import history
from portal.domain.errors import Conflict, Invalid, RaceLost
from portal.domain.exports import ExportWatch
from portal.domain.grid import ALL, GridQuery, choices, offered, parse_grid
from portal.domain.item_page import item_page
from portal.domain.lifecycle import Action, State, allowed, next_state
from portal.domain.tab_download import as_csv, as_xlsx, tab_table
from portal.domain.tabs import FILTERS, TabRow, ask_rows, bulk_tally, filter_figures, tab_row, tab_view, what_happened
from portal.domain.types import REGISTRY, direct_export_keys, get_type
from portal.domain.unlink import unlink as unlink_item
from portal.domain.values import parse_ids
from portal.exporters.sage300.connectors import make_connector
from portal.exporters.sage300.records import ConnectorUnavailable
from portal.extensions import db, htmx
from portal.queue import RQJobQueue
from portal.web import (
    company_zone,
    csv_download,
    forbidden,
    notices,
    page_arg,
    render,
    require,
    split_url,
    wants_fragment,
    worker_notice,
)

bp = Blueprint("erp", __name__, url_prefix="/erp")


@bp.before_request
@login_required
def _signed_in():
    """Every ERP route needs a signed-in user with access to the tool."""
    if not policy.can(current_user, policy.VIEW_ERP):
        return forbidden("You need access to the ERP Integrations tool.")
    return None


def _watch() -> ExportWatch:
    """How this portal tells a stalled export: RQ's job statuses, EXPORT_STALL_SECONDS."""
    return ExportWatch(RQJobQueue(), timedelta(seconds=current_app.config["EXPORT_STALL_SECONDS"]))


def _precheck_connector():
    """The connector pre-checks ask (SAGE_PRECHECK); None: off, or no connector can be made
    (the rows then show no pre-check, and the export says what is wrong)."""
    if not current_app.config.get("SAGE_PRECHECK"):
        return None
    try:
        return make_connector(current_app.config)
    except (ConnectorUnavailable, ValueError):
        return None


@bp.route("/")
def index():
    """The first tab."""
    return redirect(url_for("erp.tab", type_key=next(iter(REGISTRY))))


@bp.route("/settings", methods=["GET", "POST"])
@require(policy.ERP_ADMIN)
def settings():
    """ERP Integrations settings (ERP Admin): direct export, Sage IDs, forecasts, job mask."""
    direct_types = [t for t in REGISTRY.values() if t.direct_export_setting]
    errors, values = {}, None
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            settings_service.update(db.session(), current_user, values, direct_export_keys())
        except Invalid as exc:
            errors = exc.fields
        else:
            flash("Settings saved.", "info")
            return redirect(url_for("erp.settings"), code=303)
    return render("erp/settings.html", current=settings_service.load(db.session()), errors=errors,
                  values=values, history=settings_service.history(db.session()),
                  direct_types=direct_types, status=422 if errors else 200,
                  zone_names=settings_service.zone_names(), time_zone_max=settings_service.TIME_ZONE_MAX,
                  insurance={"kinds": settings_service.COMMITMENT_TYPES, "modes": settings_service.GATE_MODES,
                             "types": settings_service.INSURANCE_TYPES})


def _sage():
    """The connector Accept asks about Sage's setup; None when it cannot be made (Sage out of
    reach: the export then waits for Sage, as any export does)."""
    try:
        return make_connector(current_app.config)
    except ConnectorUnavailable:
        return None


@bp.route("/setup")
@require(policy.ERP_ADMIN)
def setup_page():
    """Setup (ERP Admin): each item type's Sage prerequisites, their state and what to do."""
    sage = _sage()
    checks, unreachable = setup.read_checks(sage) if sage else ({}, "Sage 300 CRE cannot be reached")
    return render("erp/setup.html", rows=setup.rows(checks, unreachable), setup=setup)


@bp.route("/<type_key>")
def tab(type_key: str):
    """A tab: Ready to Export / Synced / Failed to Export, with search, filters, sort and pages."""
    item_type = get_type(type_key)
    view = tab_view(db.session(), current_user, type_key, request.args.get("filter", "ready"),
                    parse_grid(item_type, request.args), page_arg(),
                    current_app.config["PAGE_SIZE"], _watch(), *_sort_args(request.args),
                    connector=_precheck_connector())
    # the filter form sits outside the block an htmx request gets: its choices only for a page
    grid_choices = None if wants_fragment() else choices(db.session(), item_type)
    return render("erp/tab.html", "tab_body", view=view, filters=FILTERS, worker_notice=_notice(view),
                  choices=grid_choices, offered=offered(item_type))


@bp.route("/<type_key>/download.<any(csv, xlsx):fmt>")
def download(type_key: str, fmt: str):
    """The tab as CSV or Excel: every row its filter, search and filters keep (all pages), in its order."""
    item_type = get_type(type_key)
    table = tab_table(db.session(), current_user, type_key, request.args.get("filter", "ready"),
                      parse_grid(item_type, request.args), *_sort_args(request.args), company_zone())
    if fmt == "csv":
        return csv_download(as_csv(table), f"{table.title}.csv")
    response = make_response(as_xlsx(table))
    response.mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers.set("Content-Disposition", "attachment", filename=f"{table.title}.xlsx")
    return response


def _sort_args(args) -> tuple[str, bool]:
    """The tab's sort from the URL: a column's key (sort=) and its direction (dir=asc, else descending)."""
    return str(args.get("sort") or "")[:40], args.get("dir") != "asc"


def _notice(view) -> str | None:
    return worker_notice(row.erp.state for row in view.rows)


def _tab_seen(type_key: str) -> tuple[str, GridQuery, str, bool] | None:
    """The filter, search, filters and sort of the tab the browser shows (htmx sends its address;
    the search and filters push theirs), or None when the page is not this type's tab."""
    current = split_url(request.headers.get("HX-Current-URL", ""))
    if current is None or current.path != url_for("erp.tab", type_key=type_key):
        return None
    args = {key: values[0] for key, values in parse_qs(current.query).items()}
    try:
        query = parse_grid(get_type(type_key), args)
    except Invalid:
        query = ALL
    return args.get("filter") or "ready", query, *_sort_args(args)


def _counts_oob(type_key: str) -> str:
    """The tab's filter counts and totals row, swapped out of band after a row's response (one
    query), so Ready · Synced · Failed follow every action; nothing when the page is not the tab."""
    seen = _tab_seen(type_key)
    if seen is None:
        return ""
    filter_key, query, sort, desc = seen
    item_type = get_type(type_key)
    counts, totals = filter_figures(db.session(), item_type, query, filter_key)
    context = dict(oob=True, item_type=item_type, filters=FILTERS, counts=counts, grid=query, current=filter_key,
                   sort=sort, desc=desc, totals=totals, total=counts.get(filter_key, counts["ready"]))
    return render_template("erp/_counts.html", **context) + render_template("erp/_foot.html", **context)


def _row_response(type_key: str, erp_item_id: int, *, form: str | None = None,
                  errors: dict | None = None, values: dict | None = None, status: int = 200,
                  notice: str | None = None, row: TabRow | None = None, conflict: str | None = None,
                  counts: bool = False):
    row = row or tab_row(db.session(), type_key, erp_item_id, _watch(), _precheck_connector())
    context: dict[str, Any] = dict(row=row, form=form, errors=errors or {}, values=values or {}, notice=notice,
                                   conflict=conflict, item_type=get_type(type_key))
    if wants_fragment():
        if not answers.on_page():
            body = render_template("erp/_row.html", **context)
            return make_response(body + _counts_oob(type_key) if counts else body, status)
        # the row on the item's own page: its history follows, out of band
        return answers.row_answer("erp/_row.html", None, history(db.session(), row.erp), status, **context)
    # A new tab or a browser without JavaScript: the item's page, the row's form open on it.
    return _page(type_key, erp_item_id, context, status)


def _page(type_key: str, erp_item_id: int, context: dict | None = None, status: int = 200):
    try:
        reader = make_connector(current_app.config).reader
    except ConnectorUnavailable:  # the page still shows the item and its preview; the import log waits
        reader = None
    page = item_page(db.session(), type_key, erp_item_id, _watch(), reader, _precheck_connector())
    context = {"form": None, "errors": {}, "values": {}, "notice": None, "conflict": None, **(context or {})}
    context.update(row=page.row, item_type=page.item_type, page=page, history=page.history, on_page=True)
    return make_response(render_template("erp/item_page.html", **context), status)


def _too_late(type_key: str, erp_item_id: int):
    """A decision someone else made first (or a form on a row that moved on): 409 with the row
    as it now is, saying who moved it and when."""
    row = tab_row(db.session(), type_key, erp_item_id, _watch())
    return _row_response(type_key, erp_item_id, row=row, status=409, counts=request.method == "POST",
                         conflict=what_happened(db.session(), row, company_zone()))


def _refused(type_key: str, erp_item_id: int, action: str, exc: Conflict):
    """A Retry or Unlink refused: 409 with the row as it now is. When the row moved on (someone
    else acted first, the export finished) what happened and who did it; else the reason why
    (Sage still holds the record, the queue is out of reach) as a message, the row untouched."""
    row = tab_row(db.session(), type_key, erp_item_id, _watch())
    if not isinstance(exc, RaceLost) and allowed(action, row.erp.state):
        raise exc
    return _row_response(type_key, erp_item_id, row=row, status=409, counts=True,
                         conflict=what_happened(db.session(), row, company_zone()))


@bp.route("/<type_key>/<int:erp_item_id>")
def item(type_key: str, erp_item_id: int):
    """The approver's item page: header, lines, Sage records (or their preview), history; Accept, Reject."""
    return _page(type_key, erp_item_id)


@bp.route("/<type_key>/<int:erp_item_id>/row")
def row(type_key: str, erp_item_id: int):
    """One row, as it is now (Cancel on a form)."""
    return _row_response(type_key, erp_item_id)


@bp.route("/<type_key>/<int:erp_item_id>/status")
def status(type_key: str, erp_item_id: int):
    """The polling fragment: the row while it exports; 286 (stop polling) once it settles."""
    row = tab_row(db.session(), type_key, erp_item_id, _watch(), _precheck_connector())
    settled = row.erp.state != State.EXPORTING or row.stalled
    response = _row_response(type_key, erp_item_id, row=row, counts=settled)
    if settled:
        response.status_code = HTMX_STOP_POLLING
    return response


@bp.route("/<type_key>/<int:erp_item_id>/accept", methods=["GET"])
@require(policy.DECIDE)
def accept_form(type_key: str, erp_item_id: int):
    """The Accept form, prefilled with the type's export defaults."""
    item_type = get_type(type_key)
    erp = services.get_erp_item(db.session(), erp_item_id, type_key)
    try:
        next_state(Action.ACCEPT, erp.state)
    except Conflict:
        return _too_late(type_key, erp_item_id)
    values = erp.export_fields or item_type.export_defaults(item_type.load(db.session(), erp.item_id))
    return _row_response(type_key, erp_item_id, form="accept", values=values, errors=_unready(item_type))


def _unready(item_type) -> dict:
    """The Accept form's message while a setup prerequisite of the type fails (Accept is refused)."""
    sage = _sage() if item_type.setup_prerequisites else None
    failed = setup.failures(item_type, setup.read_checks(sage)[0]) if sage else []
    return {"_": " ".join(failed)} if failed else {}


@bp.route("/<type_key>/<int:erp_item_id>/accept", methods=["POST"])
@require(policy.DECIDE)
def accept(type_key: str, erp_item_id: int):
    """Export to ERP: record the acceptance and queue the export."""
    services.get_erp_item(db.session(), erp_item_id, type_key)
    try:
        services.accept(db.session(), current_user, erp_item_id, request.form.to_dict(), RQJobQueue(), _sage())
    except Invalid as exc:
        return _row_response(type_key, erp_item_id, form="accept", errors=exc.fields,
                             values=request.form.to_dict(), status=422)
    except Conflict:
        return _too_late(type_key, erp_item_id)
    return _done(type_key, erp_item_id)


@bp.route("/<type_key>/<int:erp_item_id>/reject", methods=["GET"])
@require(policy.DECIDE)
def reject_form(type_key: str, erp_item_id: int):
    """The Reject form: a reason is required."""
    erp = services.get_erp_item(db.session(), erp_item_id, type_key)
    try:
        next_state(Action.REJECT, erp.state)
    except Conflict:
        return _too_late(type_key, erp_item_id)
    # "Reject with this reason" (a pre-check's problem) pre-fills the reason; the approver may edit it
    reason = (request.args.get("reason") or "")[:services.REASON_MAX]
    return _row_response(type_key, erp_item_id, form="reject", values={"reason": reason} if reason else None)


@bp.route("/<type_key>/<int:erp_item_id>/precheck", methods=["POST"])
@require(policy.DECIDE)
def accept_precheck(type_key: str, erp_item_id: int):
    """The Accept form's pre-check of what is typed (htmx, on change): problems, warnings, Export."""
    connector = _precheck_connector()
    check, errors = (precheck.accept_check(db.session(), current_user, type_key, erp_item_id,
                                           request.form.to_dict(), connector)
                     if connector else (None, {}))
    accept_check = get_template_attribute("erp/_precheck.html", "accept_check")
    return accept_check(check, {"type_key": type_key, "erp_item_id": erp_item_id}, errors)


@bp.route("/<type_key>/<int:erp_item_id>/reject", methods=["POST"])
@require(policy.DECIDE)
def reject(type_key: str, erp_item_id: int):
    """Reject with a reason; the creator and sender are emailed."""
    services.get_erp_item(db.session(), erp_item_id, type_key)
    try:
        rejected = services.reject(db.session(), current_user, erp_item_id, request.form.get("reason", ""),
                                   RQJobQueue(), current_app.config["COMPANY_NAME"], _item_link,
                                   base_url=notices().base_url)
    except Invalid as exc:
        return _row_response(type_key, erp_item_id, form="reject", errors=exc.fields,
                             values=request.form.to_dict(), status=422)
    except Conflict:
        return _too_late(type_key, erp_item_id)
    return _done(type_key, erp_item_id, notice=rejected.notice)


@bp.route("/<type_key>/<int:erp_item_id>/requeue", methods=["POST"])
@require(policy.DECIDE)
def requeue(type_key: str, erp_item_id: int):
    """Retry a stalled export (same attempt: Sage imports it at most once)."""
    services.get_erp_item(db.session(), erp_item_id, type_key)
    try:
        services.requeue(db.session(), current_user, erp_item_id, RQJobQueue())
    except Conflict as exc:
        return _refused(type_key, erp_item_id, Action.REQUEUE, exc)
    return _done(type_key, erp_item_id)


@bp.route("/<type_key>/<int:erp_item_id>/unlink", methods=["POST"])
@require(policy.DECIDE)
def unlink(type_key: str, erp_item_id: int):
    """Unlink a synced item once Sage no longer holds its record: back to draft, link kept in history."""
    services.get_erp_item(db.session(), erp_item_id, type_key)
    try:
        unlink_item(db.session(), current_user, erp_item_id, make_connector(current_app.config))
    except Conflict as exc:
        return _refused(type_key, erp_item_id, Action.UNLINK, exc)
    if not htmx:
        flash("Unlinked from Sage 300 CRE: the item is back in draft.", "info")
    return _done(type_key, erp_item_id, notice="Unlinked – back in draft")


@bp.route("/<type_key>/bulk-accept", methods=["GET"])
@require(policy.DECIDE)
def bulk_form(type_key: str):
    """The bulk form of a tab whose defaults do not suffice: each ticked row with the export
    fields it needs of its own (a Sage ID each), prefilled with what defaults there are."""
    ids = parse_ids(request.args.getlist("ids"))
    if not ids:
        raise Invalid("Tick at least one item to export.", fields={"ids": "Tick at least one item to export."})
    rows = ask_rows(db.session(), type_key, ids, _watch())
    item_type = get_type(type_key)
    values = {r.erp.id: item_type.export_defaults(r.item) for r in rows}
    gone = None if rows else "None of the ticked items is Ready to Export or Failed to Export any more."
    return _tab_with(type_key, request.args, ask=rows, ask_values=values, bulk_notice=gone)


@bp.route("/<type_key>/bulk-accept", methods=["POST"])
@require(policy.DECIDE)
def bulk_accept(type_key: str):
    """Export every ticked item with its default export fields (and the fields its bulk form
    asked of each); the result panel then follows the group until every export settled."""
    item_type = get_type(type_key)
    ids = parse_ids(request.form.getlist("ids"))
    asks = item_type.bulk_asks(db.session())
    typed = {i: {name: request.form.get(f"f-{i}-{name}", "") for name in asks} for i in ids
             if any(f"f-{i}-{name}" in request.form for name in asks)}
    outcome = services.export_ticked(db.session(), current_user, type_key, ids, RQJobQueue(), typed,
                                     sage=_sage())
    refusals = outcome.refusals()
    if htmx:
        again = [i for i in ids if i in outcome.fields and i in typed]
        rows = ask_rows(db.session(), type_key, again, _watch()) if again else []
        bulk_ids = [e.id for e in outcome.accepted]
        tally = bulk_tally(db.session(), item_type.key, bulk_ids, _watch()) if bulk_ids else None
        return _tab_with(type_key, request.form, bulk_ids=bulk_ids, tally=tally, refusals=refusals,
                         ask=rows, ask_values=typed, ask_errors=outcome.fields)
    message = f"{len(outcome.accepted)} queued for export."
    if refusals:
        message += f" {len(refusals)} not accepted: " + "; ".join(refusals[:10])
    flash(message, "error" if refusals else "info")
    args: dict[str, Any] = {"filter": request.form.get("filter", "ready"), **parse_grid(item_type, request.form).args()}
    return redirect(url_for("erp.tab", type_key=type_key, **args), code=303)


def _tab_with(type_key: str, args, **context):
    """The tab's body (its page without htmx) as it is now, with a bulk form or result in it."""
    view = tab_view(db.session(), current_user, type_key, args.get("filter", "ready"),
                    parse_grid(get_type(type_key), args), 1, current_app.config["PAGE_SIZE"], _watch(),
                    *_sort_args(args))
    context.setdefault("ask_errors", {})
    return render("erp/tab.html", "tab_body", view=view, filters=FILTERS, worker_notice=_notice(view), **context)


@bp.route("/<type_key>/bulk-result")
def bulk_result(type_key: str):
    """The result panel of a bulk export, polled until every item settled: "13 exporting: 5
    Synced so far", then "7 Synced, 6 Failed to Export (see below)" (286: stop polling)."""
    ids = parse_ids(request.args.getlist("ids"))
    tally = bulk_tally(db.session(), get_type(type_key).key, ids, _watch())
    body = render_template("erp/_bulk_result.html", tally=tally, bulk_ids=ids, item_type=get_type(type_key))
    if not wants_fragment():
        return make_response(body)
    return make_response(body + _counts_oob(type_key), HTMX_STOP_POLLING if tally.settled else 200)


def _done(type_key: str, erp_item_id: int, notice: str | None = None):
    if htmx:
        return _row_response(type_key, erp_item_id, notice=notice, counts=True)
    if answers.on_page():
        return redirect(url_for("erp.item", type_key=type_key, erp_item_id=erp_item_id), code=303)
    return redirect(url_for("erp.tab", type_key=type_key), code=303)


def _item_link(erp) -> str:
    """The absolute link in emails to the item's edit form on the project side (ready to edit)."""
    endpoint, args = get_type(erp.item_type).edit_page(erp)
    path = url_for(endpoint, **args)
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")
    return base.rstrip("/") + path
