"""The ERP Integrations tool: one tab per item type, Accept / Reject, export status."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_htmx.constants import HTMX_STOP_POLLING
from flask_login import current_user, login_required

from portal import answers
from portal.domain import policy, services, settings as settings_service, setup
from portal.domain.edits import history
from portal.domain.errors import Conflict, Invalid, RaceLost
from portal.domain.exports import ExportWatch
from portal.domain.item_page import item_page
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
    """A tab: Ready to Export / Synced / Failed to Export, with search and pages."""
    view = tab_view(db.session(), current_user, type_key, request.args.get("filter", "ready"),
                    search_arg(), page_arg(),
                    current_app.config["PAGE_SIZE"], _watch())
    return render("erp/tab.html", "tab_body", view=view, filters=FILTERS, worker_notice=_notice(view))


def _notice(view) -> str | None:
    return worker_notice(row.erp.state for row in view.rows)


def _row_response(type_key: str, erp_item_id: int, *, form: str | None = None,
                  errors: dict | None = None, values: dict | None = None, status: int = 200,
                  notice: str | None = None, row: TabRow | None = None, conflict: str | None = None):
    row = row or tab_row(db.session(), type_key, erp_item_id, _watch())
    context: dict[str, Any] = dict(row=row, form=form, errors=errors or {}, values=values or {}, notice=notice,
                                   conflict=conflict, item_type=get_type(type_key))
    if wants_fragment():
        if not answers.on_page():
            return make_response(render_template("erp/_row.html", **context), status)
        # the row on the item's own page: its history follows, out of band
        return answers.row_answer("erp/_row.html", None, history(db.session(), row.erp), status, **context)
    # A new tab or a browser without JavaScript: the item's page, the row's form open on it.
    return _page(type_key, erp_item_id, context, status)


def _page(type_key: str, erp_item_id: int, context: dict | None = None, status: int = 200):
    try:
        reader = make_connector(current_app.config).reader
    except ConnectorUnavailable:  # the page still shows the item and its preview; the import log waits
        reader = None
    page = item_page(db.session(), type_key, erp_item_id, _watch(), reader)
    context = {"form": None, "errors": {}, "values": {}, "notice": None, "conflict": None, **(context or {})}
    context.update(row=page.row, item_type=page.item_type, page=page, history=page.history, on_page=True)
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
    row = tab_row(db.session(), type_key, erp_item_id, _watch())
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
    return _row_response(type_key, erp_item_id, form="reject")


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
    accepted, errors = services.accept_many(db.session(), current_user, type_key, ids, RQJobQueue(), _sage())
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
    if answers.on_page():
        return redirect(url_for("erp.item", type_key=type_key, erp_item_id=erp_item_id), code=303)
    return redirect(url_for("erp.tab", type_key=type_key), code=303)


def _item_link(erp) -> str:
    """The absolute link in emails to the item's edit form on the project side (ready to edit)."""
    endpoint, args = get_type(erp.item_type).edit_page(erp)
    path = url_for(endpoint, **args)
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")
    return base.rstrip("/") + path
