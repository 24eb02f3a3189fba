"""The project side of the generic item types: list with ERP state, create, edit, send,
retrieve, resend. Company-level types (vendors, jobs) live under /company, the others
under their project."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal import answers
from portal.domain import edits, items, policy, services
from portal.domain.errors import Conflict, Invalid, RaceLost
from portal.domain.lifecycle import State
from portal.domain.tabs import TabRow, what_happened
from portal.domain.types import get_type
from portal.extensions import db, htmx
from portal.queue import RQJobQueue
from portal.web import company_zone, error_answer, notices, render, worker_notice

bp = Blueprint("items", __name__)


@bp.before_request
@login_required
def _signed_in():
    """Every item page needs a signed-in user."""


def _route(rule: str, **options):
    """The same view under /projects/<id>/items/<type> and /company/<type>."""
    def decorator(view):
        bp.add_url_rule(f"/projects/<int:project_id>/items/<type_key>{rule}",
                        endpoint=view.__name__, view_func=view, **options)
        bp.add_url_rule(f"/company/<type_key>{rule}", endpoint=f"company_{view.__name__}",
                        view_func=view, defaults={"project_id": None}, **options)
        return view
    return decorator


def _list_url(item_type, project_id):
    if project_id is None:
        return url_for("items.company_index", type_key=item_type.key)
    return url_for("items.index", project_id=project_id, type_key=item_type.key)


@_route("")
def index(type_key: str, project_id: int | None):
    """Every item of the type with its ERP state and actions."""
    if not get_type(type_key).generic_pages and project_id is not None:
        return redirect(url_for("projects.invoices", project_id=project_id))
    item_type, project, rows = items.list_items(db.session(), current_user, type_key, project_id)
    _, _, level = items.list_scope(db.session(), current_user, type_key, project_id)
    return render("items/list.html", "item_table", item_type=item_type, project=project, rows=rows,
                  can_create=policy.can(current_user, policy.SEND, project_level=level),
                  worker_notice=worker_notice(row.state for row in rows))


@_route("/new", methods=["GET", "POST"])
def new(type_key: str, project_id: int | None):
    """Create an item."""
    return _form(type_key, project_id, None)


@_route("/<int:item_id>/edit", methods=["GET", "POST"])
def edit(type_key: str, project_id: int | None, item_id: int):
    """Edit a draft or rejected item."""
    return _form(type_key, project_id, item_id)


def _form(type_key, project_id, item_id):
    form = items.item_form(db.session(), current_user, type_key, project_id, item_id)
    errors = {}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            items.save_item(db.session(), current_user, type_key, project_id, item_id, values)
        except Invalid as exc:
            errors = exc.fields or {"_": exc.message}
            form = items.item_form(db.session(), current_user, type_key, project_id, item_id, values)
        else:
            flash(f"{form.item_type.label} saved.", "info")
            return redirect(_list_url(form.item_type, project_id), code=303)
    return render("items/form.html", item_type=form.item_type, project=form.project, row=form.row,
                  fields=form.fields, values=form.values, errors=errors, line_fields=form.line_fields,
                  line_count=form.line_count, history=edits.history(db.session(), form.row.erp if form.row else None),
                  status=422 if errors else 200)


def _after(item_type, project_id, item_id, message):
    """The row and the message for htmx (answers.row_answer); else a 303 to the list."""
    if htmx:
        item_type, project, row = items.item_row(db.session(), current_user, item_type.key, project_id, item_id)
        return answers.row_answer("items/_row.html", message, item_type=item_type, project=project, row=row)
    flash(message, "info")
    return redirect(_list_url(item_type, project_id), code=303)


def _named(item_type, row) -> str:
    """How a message names the item: "Commitment SC-1"."""
    values = item_type.row_values(row.item)
    return f"{item_type.label} {values.get('number') or values.get('name') or row.item.id}"


def _too_late(item_type, project_id, item_id, exc: Conflict):
    """A Send, Resend or Retrieve someone else overtook: 409 with the row as it now is and who
    moved it there and when (as the ERP tab answers a late Accept)."""
    item_type, project, row = items.item_row(db.session(), current_user, item_type.key, project_id, item_id)
    if row.erp is None or not isinstance(exc, RaceLost) and row.state in (State.DRAFT, State.REJECTED, State.READY):
        raise exc  # not overtaken: the reason itself, as a message
    text = what_happened(db.session(), TabRow(row.erp, row.item, item_type.row_values(row.item)), company_zone())
    if htmx:
        return make_response(render_template("items/_row.html", item_type=item_type, project=project, row=row,
                                             conflict=text), 409)
    return error_answer(409, text)


@_route("/<int:item_id>/send", methods=["POST"])
def send(type_key: str, project_id: int | None, item_id: int):
    """Send to ERP (or Resend after a rejection)."""
    item_type, _, row = items.item_row(db.session(), current_user, type_key, project_id, item_id)
    name = _named(item_type, row)  # read before the service commits (and expires the item)
    try:
        erp = services.send(db.session(), current_user, item_type.key, item_id, RQJobQueue(), notices())
    except Conflict as exc:
        return _too_late(item_type, project_id, item_id, exc)
    return _after(item_type, project_id, item_id, answers.sent_message(name, erp))


@_route("/<int:item_id>/retrieve", methods=["POST"])
def retrieve(type_key: str, project_id: int | None, item_id: int):
    """Retrieve from ERP Integrations before accounting decides."""
    item_type, _, row = items.item_row(db.session(), current_user, type_key, project_id, item_id)
    if row.erp is None:
        raise Invalid("This item was never sent to ERP.")
    name = _named(item_type, row)
    try:
        services.retrieve(db.session(), current_user, row.erp.id)
    except Conflict as exc:
        return _too_late(item_type, project_id, item_id, exc)
    return _after(item_type, project_id, item_id, f"{name} retrieved: it is a draft again.")


@_route("/<int:item_id>/status")
def status(type_key: str, project_id: int | None, item_id: int):
    """The polling row of a Direct Export: the row while it exports; 286 (stop) once it settles."""
    item_type, project, row = items.item_row(db.session(), current_user, type_key, project_id, item_id)
    stalled = bool(row.erp and answers.export_watch().stalled([row.erp]))
    return answers.polling_answer(answers.row_answer("items/_row.html", item_type=item_type, project=project,
                                                     row=row, stalled=stalled), row.erp, stalled)


@_route("/<int:item_id>/delete", methods=["POST"])
def delete(type_key: str, project_id: int | None, item_id: int):
    """Delete an item the type allows to delete (e.g. a sub job without cost codes): with htmx its
    row goes and a message says so."""
    item_type, _, row = items.item_row(db.session(), current_user, type_key, project_id, item_id)
    message = f"{_named(item_type, row)} deleted."
    item_type = items.delete_item(db.session(), current_user, type_key, project_id, item_id)
    if htmx:
        return make_response(render_template("_oob_message.html", text=message))
    flash(message, "info")
    return redirect(_list_url(item_type, project_id), code=303)
