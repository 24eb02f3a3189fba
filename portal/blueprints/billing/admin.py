"""The invoice administrator's side of billing (Admin on the project): a commitment's invoice
contacts (add, remove), the project's billing page (automatic or manual periods, closing one,
Invite to Bill for the open period, reminders)."""
from __future__ import annotations

from flask import Blueprint, flash, request
from flask_login import current_user, login_required

from portal.blueprints.projects.routes import commitment_page
from portal.domain import contact_accounts, contacts, invite_to_bill, periods
from portal.domain.errors import Invalid
from portal.domain.values import as_id, optional_id
from portal.extensions import db
from portal.web import company_today, form_errors, links, notices, render, see_other

bp = Blueprint("billing_admin", __name__, url_prefix="/projects")


@bp.before_request
@login_required
def _signed_in():
    """Every billing administration route needs a signed-in user."""


def _page(project_id: int, errors: dict | None = None, values: dict | None = None, status: int = 200):
    session = db.session()
    project = contact_accounts.admin_project(session, current_user, project_id)
    current = periods.open_period(session, project_id)
    asked = as_id(request.args.get("period"))   # another period's invitations (?period=<id>)
    shown = periods.get_period(session, project_id, asked) if asked else current
    return render("billing/admin.html", project=project, setup=periods.setup_of(session, project_id),
                  periods=periods.periods_of(session, project_id), current=current, shown=shown,
                  contacts=invite_to_bill.project_contacts(session, project_id), pick=invite_to_bill.pick,
                  commitments=contacts.project_commitments(session, project_id),
                  invitations=invite_to_bill.invitations_of(session, shown.id) if shown else [],
                  errors=errors or {}, values=values or {}, status=status)


@bp.route("/<int:project_id>/billing")
def page(project_id: int):
    """Billing periods, the open period's invitations to bill and who did what with them."""
    return _page(project_id)


@bp.route("/<int:project_id>/billing/setup", methods=["POST"])
def setup(project_id: int):
    """Automatic (monthly, start day, due day) or manual periods."""
    try:
        saved = periods.save_setup(db.session(), current_user, project_id, request.form.to_dict(), company_today())
    except Invalid as exc:
        return _page(project_id, form_errors(exc), request.form.to_dict(), 422)
    flash(f"Billing periods are now {saved.mode}.", "info")
    return see_other("billing_admin.page", project_id=project_id)


@bp.route("/<int:project_id>/billing/periods", methods=["POST"])
def add_period(project_id: int):
    """Open a manual billing period."""
    try:
        period = periods.add_period(db.session(), current_user, project_id, request.form.to_dict())
    except Invalid as exc:
        return _page(project_id, form_errors(exc), request.form.to_dict(), 422)
    flash(f"Billing period {period.label} is open.", "info")
    return see_other("billing_admin.page", project_id=project_id)


@bp.route("/<int:project_id>/billing/periods/<int:period_id>/close", methods=["POST"])
def close_period(project_id: int, period_id: int):
    """Close the open period by hand; its invitations expire."""
    period = periods.close_period(db.session(), current_user, project_id, period_id)
    flash(f"Billing period {period.label} is closed.", "info")
    return see_other("billing_admin.page", project_id=project_id)


@bp.route("/<int:project_id>/billing/periods/<int:period_id>/invite", methods=["POST"])
def invite(project_id: int, period_id: int):
    """Invite to Bill: the ticked contacts, or all of them."""
    try:
        done = invite_to_bill.invite(db.session(), current_user, project_id, period_id,
                                     request.form.getlist("contacts"), "all" in request.form, links(), notices())
    except Invalid as exc:
        return _page(project_id, form_errors(exc), status=422)
    already = f" ({done.already} already invited for this period)" if done.already else ""
    flash(f"{done.sent} invitation(s) to bill sent{already}.", "info")
    return see_other("billing_admin.page", project_id=project_id)


@bp.route("/<int:project_id>/billing/invitations/<int:invitation_id>/remind", methods=["POST"])
def remind(project_id: int, invitation_id: int):
    """Email an invitation to bill again."""
    row = invite_to_bill.remind(db.session(), current_user, project_id, invitation_id, links(), notices())
    flash(f"Reminder sent to {row.invitation.user.name}.", "info")
    return see_other("billing_admin.page", project_id=project_id)


# ---- a commitment's invoice contacts (on the commitment's page) -----------------------------------

@bp.route("/<int:project_id>/commitments/<int:commitment_id>/contacts", methods=["POST"])
def add_contact(project_id: int, commitment_id: int):
    """Add an invoice contact: an existing user of the vendor, or a new person (invited by email)."""
    form = request.form
    try:
        added = contact_accounts.add_contact(db.session(), current_user, project_id, commitment_id,
                                     user_id=optional_id(form.get("user_id"), "user_id"), name=form.get("name", ""),
                                     email=form.get("email", ""), links=links(), notices=notices())
    except Invalid as exc:
        return commitment_page(project_id, commitment_id, form_errors(exc), form.to_dict(), 422)
    invited = f"; an invitation to set a password was emailed to {added.user.email}" if added.invited else ""
    flash(f"{added.user.name} is now an invoice contact{invited}.", "info")
    return see_other("projects.commitment", project_id=project_id, commitment_id=commitment_id)


@bp.route("/<int:project_id>/commitments/<int:commitment_id>/contacts/<int:user_id>/remove", methods=["POST"])
def remove_contact(project_id: int, commitment_id: int, user_id: int):
    """Remove an invoice contact from the commitment."""
    user = contact_accounts.remove_contact(db.session(), current_user, project_id, commitment_id, user_id)
    flash(f"{user.name} is no longer an invoice contact on this commitment.", "info")
    return see_other("projects.commitment", project_id=project_id, commitment_id=commitment_id)


@bp.route("/<int:project_id>/commitments/<int:commitment_id>/contacts/<int:user_id>/invite", methods=["POST"])
def resend_invitation(project_id: int, commitment_id: int, user_id: int):
    """Mail a contact who has not set a password yet a new link to do so."""
    user = contact_accounts.resend_account_invitation(db.session(), current_user, project_id, commitment_id, user_id,
                                              links(), notices())
    flash(f"A new link to set a password was emailed to {user.email}.", "info")
    return see_other("projects.commitment", project_id=project_id, commitment_id=commitment_id)
