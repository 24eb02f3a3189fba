"""The invoice contact's side (/billing): their home (commitments, invitations to bill, invoices),
one commitment, the mail the portal sent them, the invitation to bill (Accept / Decline), and
the account invitation a new contact sets a password with (no sign-in needed there)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user

from portal.domain import contact_accounts, contacts, invite_to_bill, policy, signed
from portal.domain.contact_accounts import LINK_REFUSED, LinkState
from portal.domain.errors import Invalid
from portal.extensions import db
from portal.web import form_errors, links, notices, render, require, start_session

bp = Blueprint("billing", __name__, url_prefix="/billing")
# the invoice form of the invoicing blueprint, where an accepted invitation leads when it is there


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


@bp.route("/")
@require(policy.BILL)
def home():
    """My commitments, my invitations to bill and my invoices."""
    home = invite_to_bill.contact_home(db.session(), current_user)
    tokens = {row.invitation.id: signed.sign(_secret(), signed.BILL, row.invitation.id) for row in home.invitations}
    return render("billing/home.html", home=home, tokens=tokens)


@bp.route("/commitments/<int:commitment_id>")
@require(policy.BILL)
def commitment(commitment_id: int):
    """One of my commitments: its schedule of values and its invoices (another's is a 404)."""
    item = contacts.contact_commitment(db.session(), current_user, commitment_id)
    return render("billing/commitment.html", commitment=item,
                  lines=contacts.commitment_lines(db.session(), item.id),
                  invoices=invite_to_bill.commitment_invoices(db.session(), item.id))


@bp.route("/mail")
@require(policy.BILL)
def mail():
    """The mail the portal sent me, newest first."""
    return render("billing/mail.html", mails=invite_to_bill.my_mail(db.session(), current_user))


@bp.route("/mail/<int:mail_id>")
@require(policy.BILL)
def mail_one(mail_id: int):
    """One mail the portal sent me (another's is a 404)."""
    return render("billing/mail_one.html", mail=invite_to_bill.my_mail_one(db.session(), current_user, mail_id))


# ---- the account invitation: set a password ------------------------------------------------------

def _welcome(token: str, errors: dict | None = None, status: int = 200):
    invitation, state = contact_accounts.account_invitation(db.session(), _secret(), token)
    return render("billing/welcome.html", token=token, user=invitation.user, state=state, LinkState=LinkState,
                  refused=LINK_REFUSED.get(state), errors=errors or {}, status=status)


@bp.route("/welcome/<token>")
def welcome(token: str):
    """The emailed link: the form to set my password, or why the link no longer works."""
    return _welcome(token)


@bp.route("/welcome/<token>", methods=["POST"])
def set_password(token: str):
    """Set my password through the link (once, before it expires), then I am signed in."""
    try:
        user = contact_accounts.set_password(db.session(), _secret(), token, request.form.get("password", ""),
                                     request.form.get("confirm_password", ""))
    except Invalid as exc:
        return _welcome(token, form_errors(exc), 422)
    start_session(user)
    flash("Your password is set and you are signed in.", "info")
    return redirect(url_for("billing.home"), code=303)


@bp.route("/welcome/<token>/renew", methods=["POST"])
def renew(token: str):
    """Send a new link to the address the old one was sent to."""
    contact_accounts.renew_invitation(db.session(), token, links(), notices())
    return render("billing/renewed.html")


# ---- the invitation to bill ------------------------------------------------------------------------

@bp.route("/invitations/<token>")
@require(policy.BILL)
def invitation(token: str):
    """The emailed Invite to Bill: the period and commitment, Accept or Decline (opening it is recorded)."""
    row = invite_to_bill.open_invitation(db.session(), current_user, _secret(), token)
    return render("billing/invitation.html", row=row, token=token, errors={}, note_max=invite_to_bill.NOTE_MAX)


@bp.route("/invitations/<token>/accept", methods=["POST"])
@require(policy.BILL)
def accept(token: str):
    """Accept: on to the invoice form of the commitment for the period."""
    row = invite_to_bill.accept(db.session(), current_user, _secret(), token)
    inv = row.invitation
    return redirect(url_for("invoicing.contact_new_invoice", commitment_id=inv.commitment_id, period=inv.period_id),
                    code=303)


@bp.route("/invitations/<token>/decline", methods=["POST"])
@require(policy.BILL)
def decline(token: str):
    """Decline, with an optional note to the invoice administrator."""
    try:
        row = invite_to_bill.decline(db.session(), current_user, _secret(), token, request.form.get("note", ""))
    except Invalid as exc:
        row = invite_to_bill.contact_invitation(db.session(), current_user, _secret(), token)
        return render("billing/invitation.html", row=row, token=token, errors=form_errors(exc),
                      note_max=invite_to_bill.NOTE_MAX, status=422)
    flash(f"You declined the invitation to bill {row.invitation.commitment.number} for {row.period.label}.", "info")
    return redirect(url_for("billing.home"), code=303)
