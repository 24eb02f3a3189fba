"""The project side: a project's subcontractor invoices, Send to ERP / Retrieve / Resend, edit."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from portal import answers
from portal.domain import contact_accounts, contacts, edits, invoicing, payments, policy, projects, services
from portal.domain.errors import Invalid, PermissionDenied
from portal.domain.lifecycle import State
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
    """One invoice: lines, totals, ERP state and its history (transitions and edits)."""
    project, level, row = projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    return render("projects/invoice.html", project=project, level=level, row=row,
                  history=edits.history(db.session(), row.erp), worker_notice=worker_notice([row.state]),
                  checks=payments.payments_of(db.session(), invoice_id),
                  sheet=invoicing.sheet(db.session(), current_user, invoice_id=invoice_id, project_id=project_id,
                                        admin=False))


@bp.route("/<int:project_id>/commitments/<int:commitment_id>")
def commitment(project_id: int, commitment_id: int):
    """A commitment: its amount, billed, retainage held, paid (from Sage), balance to finish, invoices
    and invoice contacts (added and removed here by the invoice administrator)."""
    return commitment_page(project_id, commitment_id)


def commitment_page(project_id: int, commitment_id: int, errors: dict | None = None, values: dict | None = None,
                    status: int = 200):
    """The commitment's page, with the add-contact form's errors when it was refused."""
    project, level, item, figures, invoices = projects.commitment_page(db.session(), current_user, project_id,
                                                                       commitment_id)
    manage = policy.can(current_user, policy.SEND, project_level=level)
    people = contacts.contacts_of(db.session(), item.id)
    return render("projects/commitment.html", project=project, level=level, commitment=item, figures=figures,
                  invoices=invoices, contacts=people, manage=manage,
                  pending=contact_accounts.pending_ids(db.session(), [u.id for u in people]),
                  candidates=contact_accounts.candidates(db.session(), item) if manage else [],
                  errors=errors or {}, values=values or {}, status=status)


def _after(project_id: int, invoice_id: int, message: str):
    """The row, the message and (on the invoice's page) its history for htmx; else a 303 to the page."""
    if not htmx:
        flash(message, "info")
        return redirect(url_for("projects.invoice", project_id=project_id, invoice_id=invoice_id), code=303)
    project, level, row = projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    return answers.row_answer("projects/_invoice_row.html", message,
                              edits.history(db.session(), row.erp) if answers.on_page() else None,
                              project=project, level=level, row=row)


@bp.route("/<int:project_id>/invoices/<int:invoice_id>/send", methods=["POST"])
def send(project_id: int, invoice_id: int):
    """Send to ERP (or Resend after a rejection)."""
    _, _, row = projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    name = f"Invoice {row.invoice.number}"  # read before the service commits (and expires it)
    erp = services.send(db.session(), current_user, projects.INVOICE_TYPE, invoice_id, RQJobQueue(), notices())
    return _after(project_id, invoice_id, answers.sent_message(name, erp))


@bp.route("/<int:project_id>/invoices/<int:invoice_id>/retrieve", methods=["POST"])
def retrieve(project_id: int, invoice_id: int):
    """Retrieve from ERP Integrations before accounting decides."""
    _, _, row = projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    if row.erp is None:
        raise Invalid("This invoice was never sent to ERP.")
    message = f"Invoice {row.invoice.number} retrieved: it is a draft in the project again."
    services.retrieve(db.session(), current_user, row.erp.id)
    return _after(project_id, invoice_id, message)


@bp.route("/<int:project_id>/invoices/<int:invoice_id>/status")
def status(project_id: int, invoice_id: int):
    """The polling row of a Direct Export: the row while it exports; 286 (stop) once it settles."""
    project, level, row = projects.invoice_row(db.session(), current_user, project_id, invoice_id)
    stalled = bool(row.erp and answers.export_watch().stalled([row.erp]))
    history = edits.history(db.session(), row.erp) if answers.on_page() and not _exporting(row, stalled) else None
    return answers.polling_answer(answers.row_answer("projects/_invoice_row.html", None, history, project=project,
                                                     level=level, row=row, stalled=stalled), row.erp, stalled)


def _exporting(row, stalled: bool) -> bool:
    return row.state == State.EXPORTING and not stalled


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
