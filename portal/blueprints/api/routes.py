"""The JSON API: another project-management system sends items through the same gate.

Token auth per user (`Authorization: Bearer <token>`), the same prerequisites, permissions
and lifecycle as the web pages, and 4xx answers that name the failing field. Every error under
/api/ is JSON with its status (404, 405 and 500 included): portal.web's app-level handlers answer
so, since a blueprint's own handlers never see a URL that matches none of its routes."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, request, url_for

from portal.domain import invoice_api, invoicing, items, services
from portal.domain.api_tokens import TokenRefused, user_for_token
from portal.domain.errors import Invalid
from portal.domain.lifecycle import State
from portal.domain.types import REGISTRY, get_type
from portal.extensions import csrf, db
from portal.queue import RQJobQueue
from portal.web import json_error, notices

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def token_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return json_error(401, "Send your API token as 'Authorization: Bearer <token>'.")
        try:
            user = user_for_token(db.session(), token.strip())
        except TokenRefused as exc:  # unknown, expired, revoked, or its user inactive: it says which
            return json_error(401, exc.message)
        if user.is_invoice_contact:  # a subcontractor's billing person: the billing pages only
            return json_error(403, "Invoice contacts cannot use the API.")
        g.api_user = user
        return view(*args, **kwargs)
    return wrapped


def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object.", fields={"body": "Send a JSON object."})
    nested = {k: "Send a text, a number, true/false or null." for k, v in data.items() if isinstance(v, (dict, list))}
    if nested:  # a field of a form holds one value: an object or a list is no value of it
        raise Invalid("Every field must be a text, a number, true/false or null.", fields=nested)
    return {k: ("on" if v is True else "" if v in (False, None) else str(v)) for k, v in data.items()}


def _item_json(item_type, row) -> dict:
    erp = row.erp
    return {"type": item_type.key, "id": row.item.id, "values": item_type.row_values(row.item),
            "erp": {"state": row.state, "state_label": State.LABELS[row.state],
                    "erp_ref": (erp.erp_ref if erp else row.linked),
                    "sage_message": erp.sage_message if erp else None,
                    "reject_reason": erp.reject_reason if erp else None},
            "can_send": not row.reasons and row.state in (State.DRAFT, State.REJECTED),
            "prerequisites": row.reasons}


@bp.route("/types")
@token_required
def types():
    """The item types and the fields each needs to be created."""
    return jsonify([{"type": k.key, "label": k.label, "scope": k.scope,
                     "create": k.generic_pages} for k in REGISTRY.values()])


@bp.route("/projects/<int:project_id>/items/<type_key>", methods=["GET", "POST"])
@bp.route("/company/items/<type_key>", methods=["GET", "POST"], defaults={"project_id": None})
@token_required
def collection(type_key: str, project_id: int | None):
    """List items of a type with their ERP state, or create one (POST, JSON fields)."""
    if request.method == "GET":
        item_type, _, rows = items.list_items(db.session(), g.api_user, type_key, project_id)
        return jsonify([_item_json(item_type, r) for r in rows])
    item = items.save_item(db.session(), g.api_user, type_key, project_id, None, _json())
    item_type, _, row = items.item_row(db.session(), g.api_user, type_key, project_id, item.id)
    return jsonify(_item_json(item_type, row)), 201


@bp.route("/projects/<int:project_id>/items/<type_key>/<int:item_id>", methods=["GET", "PUT"])
@bp.route("/company/items/<type_key>/<int:item_id>", methods=["GET", "PUT"], defaults={"project_id": None})
@token_required
def member(type_key: str, project_id: int | None, item_id: int):
    """One item with its ERP state and why it cannot be sent; PUT edits a draft or rejected one."""
    if request.method == "PUT":
        item_type, _, row = items.item_row(db.session(), g.api_user, type_key, project_id, item_id)
        form = {**item_type.form_values(row.item), **_json()}
        items.save_item(db.session(), g.api_user, type_key, project_id, item_id, form)
    item_type, _, row = items.item_row(db.session(), g.api_user, type_key, project_id, item_id)
    return jsonify(_item_json(item_type, row))


@bp.route("/projects/<int:project_id>/items/<type_key>/<int:item_id>/send", methods=["POST"])
@bp.route("/company/items/<type_key>/<int:item_id>/send", methods=["POST"], defaults={"project_id": None})
@token_required
def send(type_key: str, project_id: int | None, item_id: int):
    """Send (or resend) to ERP Integrations; 422 lists the prerequisites that fail."""
    items.item_row(db.session(), g.api_user, type_key, project_id, item_id)
    services.send(db.session(), g.api_user, get_type(type_key).key, item_id, RQJobQueue(), notices())
    item_type, _, row = items.item_row(db.session(), g.api_user, type_key, project_id, item_id)
    return jsonify(_item_json(item_type, row))


@bp.route("/projects/<int:project_id>/items/<type_key>/<int:item_id>/retrieve", methods=["POST"])
@bp.route("/company/items/<type_key>/<int:item_id>/retrieve", methods=["POST"], defaults={"project_id": None})
@token_required
def retrieve(type_key: str, project_id: int | None, item_id: int):
    """Retrieve from ERP Integrations before accounting decides."""
    item_type, _, row = items.item_row(db.session(), g.api_user, type_key, project_id, item_id)
    if row.erp is None:
        raise Invalid("This item was never sent to ERP.")
    services.retrieve(db.session(), g.api_user, row.erp.id)
    item_type, _, row = items.item_row(db.session(), g.api_user, type_key, project_id, item_id)
    return jsonify(_item_json(item_type, row))


# ---- subcontractor invoices with their lines (portal.domain.invoicing: the pages' rules) ----------

def _invoice_answer(invoice_id: int, project_id: int, status: int = 200):
    shown = invoicing.sheet(db.session(), g.api_user, invoice_id=invoice_id, project_id=project_id, admin=False)
    return jsonify(invoice_api.invoice_json(shown)), status


def _saved(project_id: int, read, **target):
    """Save the body as the form would be saved; errors name the body's fields."""
    form, upload, index = read()
    try:
        invoice = invoicing.save(db.session(), g.api_user, form, upload, project_id=project_id,
                                 submit=form.get("submit") == "on", **target)
    except Invalid as exc:
        raise Invalid(exc.message, fields=invoice_api.body_fields(exc.fields, index)) from None
    return invoice


@bp.route("/projects/<int:project_id>/commitments/<int:commitment_id>/invoices", methods=["POST"])
@token_required
def create_invoice(project_id: int, commitment_id: int):
    """Create a subcontractor invoice with its lines (the invoice administrator, on a contact's behalf)."""
    commitment = invoicing.commitment_for(db.session(), g.api_user, commitment_id, project_id)
    body = request.get_json(silent=True)
    invoice = _saved(project_id, lambda: invoice_api.read_body(body, commitment), commitment_id=commitment_id)
    return _invoice_answer(invoice.id, project_id, 201)


@bp.route("/projects/<int:project_id>/invoices/<int:invoice_id>", methods=["GET", "PUT"])
@token_required
def invoice(project_id: int, invoice_id: int):
    """One subcontractor invoice with its lines; PUT changes a draft or one sent back for revision
    (what the body leaves out stays as it is)."""
    if request.method == "PUT":
        shown = invoicing.sheet(db.session(), g.api_user, invoice_id=invoice_id, project_id=project_id)
        body = request.get_json(silent=True)

        def read():
            form, upload, index = invoice_api.read_body(body, shown.commitment)
            return {**invoice_api.current_form(shown), **form}, upload, index
        _saved(project_id, read, invoice_id=invoice_id)
    return _invoice_answer(invoice_id, project_id)


@bp.route("/projects/<int:project_id>/invoices/<int:invoice_id>/submit", methods=["POST"])
@token_required
def submit_invoice(project_id: int, invoice_id: int):
    """Submit a draft (or resubmit a revised invoice) for review."""
    invoicing.submit(db.session(), g.api_user, invoice_id, project_id)
    return _invoice_answer(invoice_id, project_id)


@bp.route("/openapi.json")
def openapi():
    """The OpenAPI description of this API."""
    from portal.blueprints.api.openapi import document
    return jsonify(document(url_for("api.types", _external=True).rsplit("/types", 1)[0]))
