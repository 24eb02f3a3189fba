"""Subcontractor invoices made in the portal: the invoice contact's form and page (/billing/...),
the administrator's form on a contact's behalf, line review (/projects/...), and the PDF."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, request, url_for
from flask_login import current_user, login_required

from portal.domain import invoice_review, invoicing
from portal.domain.errors import Invalid
from portal.domain.invoice_lines import CONFIRM, LABELS
from portal.domain.invoice_review import DECISIONS
from portal.domain.models import InvoiceStatus
from portal.domain.values import as_id
from portal.extensions import db
from portal.web import notices, render

bp = Blueprint("invoicing", __name__)


@bp.before_request
@login_required
def _signed_in():
    """Every invoicing route needs a signed-in user."""


def _upload() -> invoicing.Upload | None:
    file = request.files.get("pdf")
    if file is None:
        return None
    try:   # a large upload is spooled to a temporary file: closed here, not left to the collector
        return invoicing.Upload(file.filename or "", file.read(invoicing.PDF_MAX_BYTES + 1)) if file.filename else None
    finally:
        file.close()


def _form_page(target: dict, done, project_id: int | None = None):
    """GET: the form; POST op=recalc: the lines recalculated (the block, for htmx); else save (and
    with op=submit, submit) then 303 to `done(invoice)`, or the form again with its errors."""
    session = db.session()
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    status = 200
    form = request.form.to_dict()
    if request.method == "GET":
        shown = invoicing.sheet(session, current_user, project_id=project_id,
                                period_id=as_id(request.args.get("period")), **target)
    else:
        op = form.get("op", "save")
        if op != "recalc":
            try:
                invoice = invoicing.save(session, current_user, form, _upload(), project_id=project_id,
                                         submit=op == "submit", **target)
            except Invalid as exc:
                errors, status = exc.fields or {"_": exc.message}, 422
            else:
                flash(f"Invoice {invoice.number} " + ("submitted for review." if op == "submit" else "saved."), "info")
                return redirect(done(invoice), code=303)
        shown, found, warnings = invoicing.preview(session, current_user, form, project_id=project_id, **target)
        errors = errors or found
        if CONFIRM in errors:   # the save was refused for the balance only: the lines say where
            warnings, errors = {k: v for k, v in errors.items() if k != CONFIRM}, {}
    return render("invoicing/form.html", "lines" if form.get("op") == "recalc" else None, status=status,
                  sheet=shown, errors=errors, warnings=warnings, labels=LABELS, project_id=project_id,
                  action=request.path)


# ---- the invoice contact ---------------------------------------------------------------

def _contact_page(invoice) -> str:
    return url_for("invoicing.contact_invoice", invoice_id=invoice.id)


@bp.route("/billing/commitments/<int:commitment_id>/invoices/new", methods=["GET", "POST"])
def contact_new_invoice(commitment_id: int):
    """A contact's new invoice on a commitment they bill (a 404 on any other)."""
    return _form_page({"commitment_id": commitment_id}, _contact_page)


@bp.route("/billing/invoices/<int:invoice_id>/edit", methods=["GET", "POST"])
def contact_edit_invoice(invoice_id: int):
    """A contact changes their draft, or the lines sent back for revision."""
    return _form_page({"invoice_id": invoice_id}, _contact_page)


@bp.route("/billing/invoices/<int:invoice_id>")
def contact_invoice(invoice_id: int):
    """A contact's invoice: its lines with the review's comments, its PDF and its history."""
    shown = invoicing.sheet(db.session(), current_user, invoice_id=invoice_id)
    return render("invoicing/invoice.html", sheet=shown, project_id=None)


@bp.route("/billing/invoices/<int:invoice_id>/submit", methods=["POST"])
def contact_submit(invoice_id: int):
    """Submit (or resubmit after revision) for the administrator's review."""
    invoice = invoicing.submit(db.session(), current_user, invoice_id)
    flash(f"Invoice {invoice.number} submitted for review.", "info")
    return redirect(_contact_page(invoice), code=303)


# ---- the invoice administrator -----------------------------------------------------------

def _project_page(invoice) -> str:
    return url_for("projects.invoice", project_id=invoice.project_id, invoice_id=invoice.id)


@bp.route("/projects/<int:project_id>/commitments/<int:commitment_id>/invoices/new", methods=["GET", "POST"])
def admin_new_invoice(project_id: int, commitment_id: int):
    """The administrator's new invoice on a contact's behalf."""
    return _form_page({"commitment_id": commitment_id}, _project_page, project_id)


@bp.route("/projects/<int:project_id>/invoices/<int:invoice_id>/lines", methods=["GET", "POST"])
def admin_edit_invoice(project_id: int, invoice_id: int):
    """The administrator changes a draft (or one sent back for revision) on the contact's behalf."""
    return _form_page({"invoice_id": invoice_id}, _project_page, project_id)


@bp.route("/projects/<int:project_id>/invoices/<int:invoice_id>/submit", methods=["POST"])
def admin_submit(project_id: int, invoice_id: int):
    """Submit a draft made on a contact's behalf for review."""
    invoice = invoicing.submit(db.session(), current_user, invoice_id, project_id)
    flash(f"Invoice {invoice.number} submitted for review.", "info")
    return redirect(_project_page(invoice), code=303)


@bp.route("/projects/<int:project_id>/invoices/<int:invoice_id>/review", methods=["GET", "POST"])
def review(project_id: int, invoice_id: int):
    """Review line by line: approve each line or mark it for revision with a comment."""
    session = db.session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            invoice = invoice_review.review(session, current_user, project_id, invoice_id, request.form.to_dict(),
                                            notices())
        except Invalid as exc:
            errors = exc.fields or {"_": exc.message}
        else:
            said = ("sent back to the contact for revision." if invoice.status == InvoiceStatus.REVISE_AND_RESUBMIT
                    else f"reviewed: {invoice.status}.")
            flash(f"Invoice {invoice.number} {said}", "info")
            return redirect(_project_page(invoice), code=303)
    shown = invoicing.sheet(session, current_user, invoice_id=invoice_id, project_id=project_id)
    return render("invoicing/review.html", status=422 if errors else 200, sheet=shown, errors=errors,
                  values=request.form.to_dict() if errors else {}, decisions=DECISIONS, project_id=project_id)


@bp.route("/invoices/<int:invoice_id>/pdf")
def pdf(invoice_id: int):
    """The subcontractor's own invoice, as attached (its contacts, the project, ERP Integrations)."""
    name, data = invoicing.download(db.session(), current_user, invoice_id)
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers.set("Content-Disposition", "inline", filename=name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
