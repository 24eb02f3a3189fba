"""The ERP Integrations tool: one tab per item type, Accept / Reject, export status."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

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

from portal.domain import policy, precheck, services, settings as settings_service
from portal.domain.edits import history
from portal.domain.errors import Conflict, Invalid, RaceLost
from portal.domain.exports import ExportWatch
from portal.domain.lifecycle import Action, State, allowed, next_state
from portal.domain.tabs import FILTERS, TabRow, tab_row, tab_view, what_happened
from portal.domain.types import REGISTRY, direct_export_keys, get_type
from portal.domain.unlink import unlink as unlink_item
from portal.domain.values import parse_ids, parse_search
from portal.exporters.sage300.connectors import make_connector
from portal.exporters.sage300.records import ConnectorUnavailable
from portal.extensions import db, htmx
from portal.queue import RQJobQueue
from portal.web import forbidden, page_arg, render, require, search_arg, wants_fragment, worker_notice

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
    if not current_app.config.get("SAGE_PRECHECK", True):
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
                  direct_types=direct_types, status=422 if errors else 200)


@bp.route("/<type_key>")
def tab(type_key: str):
    """A tab: Ready to Export / Synced / Failed to Export, with search and pages."""
    view = tab_view(db.session(), current_user, type_key, request.args.get("filter", "ready"),
                    search_arg(), page_arg(),
                    current_app.config["PAGE_SIZE"], _watch(), _precheck_connector())
    return render("erp/tab.html", "tab_body", view=view, filters=FILTERS, worker_notice=_notice(view))


def _notice(view) -> str | None:
    return worker_notice(row.erp.state for row in view.rows)


def _row_response(type_key: str, erp_item_id: int, *, form: str | None = None,
                  errors: dict | None = None, values: dict | None = None, status: int = 200,
                  notice: str | None = None, row: TabRow | None = None, conflict: str | None = None):
    row = row or tab_row(db.session(), type_key, erp_item_id, _watch(), _precheck_connector())
    context: dict[str, Any] = dict(row=row, form=form, errors=errors or {}, values=values or {}, notice=notice,
                                   conflict=conflict, item_type=get_type(type_key))
    if wants_fragment():
        return make_response(render_template("erp/_row.html", **context), status)
    # A new tab or a browser without JavaScript: the row (and its form) inside the layout.
    context["history"] = history(db.session(), row.erp)
    return make_response(render_template("erp/item_page.html", **context), status)


def _too_late(type_key: str, erp_item_id: int):
    """A decision someone else made first (or a form on a row that moved on): 409 with the row
    as it now is, saying who moved it and when."""
    row = tab_row(db.session(), type_key, erp_item_id, _watch())
    return _row_response(type_key, erp_item_id, row=row, status=409, conflict=what_happened(db.session(), row))


def _refused(type_key: str, erp_item_id: int, action: str, exc: Conflict):
    """A Retry or Unlink refused: 409 with the row as it now is. When the row moved on (someone
    else acted first, the export finished) what happened and who did it; else the reason why
    (Sage still holds the record, the queue is out of reach) as a message, the row untouched."""
    row = tab_row(db.session(), type_key, erp_item_id, _watch())
    if not isinstance(exc, RaceLost) and allowed(action, row.erp.state):
        raise exc
    return _row_response(type_key, erp_item_id, row=row, status=409, conflict=what_happened(db.session(), row))


@bp.route("/<type_key>/<int:erp_item_id>/row")
def row(type_key: str, erp_item_id: int):
    """One row, as it is now (Cancel on a form)."""
    return _row_response(type_key, erp_item_id)


@bp.route("/<type_key>/<int:erp_item_id>/status")
def status(type_key: str, erp_item_id: int):
    """The polling fragment: the row while it exports; 286 (stop polling) once it settles."""
    row = tab_row(db.session(), type_key, erp_item_id, _watch(), _precheck_connector())
    response = _row_response(type_key, erp_item_id, row=row)
    if row.erp.state != State.EXPORTING or row.stalled:
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
    return _row_response(type_key, erp_item_id, form="accept", values=values)


@bp.route("/<type_key>/<int:erp_item_id>/accept", methods=["POST"])
@require(policy.DECIDE)
def accept(type_key: str, erp_item_id: int):
    """Export to ERP: record the acceptance and queue the export."""
    services.get_erp_item(db.session(), erp_item_id, type_key)
    try:
        services.accept(db.session(), current_user, erp_item_id, request.form.to_dict(), RQJobQueue())
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
                                   RQJobQueue(), current_app.config["COMPANY_NAME"], _item_link)
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


@bp.route("/<type_key>/bulk-accept", methods=["POST"])
@require(policy.DECIDE)
def bulk_accept(type_key: str):
    """Export every ticked item with its default export fields."""
    ids = parse_ids(request.form.getlist("ids"))
    accepted, errors = services.accept_many(db.session(), current_user, type_key, ids, RQJobQueue())
    message = f"{len(accepted)} item(s) accepted and queued for export."
    if errors:
        message += f" {len(errors)} not accepted: " + "; ".join(
            f"#{k}: {v}" for k, v in sorted(errors.items())[:10])
    back: dict[str, Any] = {"type_key": type_key, "filter": request.form.get("filter", "ready"),
                            "q": parse_search(request.form.get("q")) or None}
    if htmx:
        view = tab_view(db.session(), current_user, type_key, back["filter"], back["q"] or "", 1,
                        current_app.config["PAGE_SIZE"], _watch())
        return render("erp/tab.html", "tab_body", view=view, filters=FILTERS, worker_notice=_notice(view),
                      bulk_message=message, bulk_errors=bool(errors))
    flash(message, "error" if errors else "info")
    return redirect(url_for("erp.tab", **back), code=303)


def _done(type_key: str, erp_item_id: int, notice: str | None = None):
    if htmx:
        return _row_response(type_key, erp_item_id, notice=notice)
    return redirect(url_for("erp.tab", type_key=type_key), code=303)


def _item_link(erp) -> str:
    """The absolute link in emails to the item's edit form on the project side (ready to edit)."""
    endpoint, args = get_type(erp.item_type).edit_page(erp)
    path = url_for(endpoint, **args)
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")
    return base.rstrip("/") + path
