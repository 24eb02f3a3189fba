"""The project side: a project's subcontractor invoices, Send to ERP / Retrieve / Resend, edit."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.domain import policy, projects, services
from portal.domain.errors import Invalid, PermissionDenied
from portal.domain.models import InvoiceStatus
from portal.extensions import db, htmx
from portal.queue import RQJobQueue
from portal.web import notices, render, worker_notice

bp = Blueprint("projects", __name__, url_prefix="/projects")


@bp.before_request
@login_required
def _signed_in():
    """Every project route needs a signed-in user."""


@bp.route("/")
def index():
    """The projects the user can see."""
    return render("projects/index.html", projects=projects.visible_projects(db.session(), current_user))


@bp.route("/<int:project_id>")
def show(project_id: int):
    return redirect(url_for("projects.invoices", project_id=project_id))


@bp.route("/<int:project_id>/invoices")
def invoices(project_id: int):
    """A project's subcontractor invoices with their ERP state and actions."""
    project, level, rows = projects.project_invoices(db.session(), current_user, project_id)
    return render("projects/invoices.html", "invoice_table", project=project, level=level, rows=rows,
                  worker_notice=worker_notice(row.state for row in rows))


@bp.route("/<int:project_id>/invoices/<int:invoice_id>")
def invoice(project_id: int, invoice_id: int):
    """One invoice: lines, totals, ERP state and its history."""
    project, level, row = projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    history = projects.audit_history(db.session(), row.erp)
    return render("projects/invoice.html", project=project, level=level, row=row, history=history,
                  worker_notice=worker_notice([row.state]))


def _row(project_id: int, invoice_id: int, status: int = 200, error: str | None = None):
    project, level, row = projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    body = render_template("projects/_invoice_row.html", project=project, level=level, row=row,
                           error=error)
    return make_response(body, status)


def _after(project_id: int, invoice_id: int, message: str):
    if htmx:
        return _row(project_id, invoice_id)
    flash(message, "info")
    return redirect(url_for("projects.invoice", project_id=project_id, invoice_id=invoice_id),
                    code=303)


@bp.route("/<int:project_id>/invoices/<int:invoice_id>/send", methods=["POST"])
def send(project_id: int, invoice_id: int):
    """Send to ERP (or Resend after a rejection)."""
    projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    services.send(db.session(), current_user, projects.INVOICE_TYPE, invoice_id, RQJobQueue(), notices())
    return _after(project_id, invoice_id, "Sent to ERP Integrations for accounting acceptance.")


@bp.route("/<int:project_id>/invoices/<int:invoice_id>/retrieve", methods=["POST"])
def retrieve(project_id: int, invoice_id: int):
    """Retrieve from ERP Integrations before accounting decides."""
    _, _, row = projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    if row.erp is None:
        raise Invalid("This invoice was never sent to ERP.")
    services.retrieve(db.session(), current_user, row.erp.id)
    return _after(project_id, invoice_id, "Retrieved: the invoice is a draft in the project again.")


@bp.route("/<int:project_id>/invoices/<int:invoice_id>/edit", methods=["GET", "POST"])
def edit(project_id: int, invoice_id: int):
    """Edit a draft or rejected invoice before (re)sending it."""
    project, level, row = projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    if not policy.can(current_user, policy.SEND, project_level=level):
        raise PermissionDenied("Editing invoices needs Admin on the project's tool.")
    errors, values = {}, None
    if request.method == "POST":
        try:
            projects.update_invoice(db.session(), current_user, project_id, invoice_id,
                                    request.form.to_dict())
        except Invalid as exc:
            errors, values = exc.fields, request.form.to_dict()
            project, level, row = projects.invoice_row(db.session(), current_user, project_id,
                                                       invoice_id)
        else:
            flash("Invoice saved.", "info")
            return redirect(url_for("projects.invoice", project_id=project_id,
                                    invoice_id=invoice_id), code=303)
    return render("projects/edit_invoice.html", project=project, level=level, row=row,
                  errors=errors, values=values, statuses=InvoiceStatus.ALL,
                  status=422 if errors else 200)
