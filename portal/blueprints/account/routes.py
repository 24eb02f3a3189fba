"""My account: the signed-in user's own details, password and API tokens, and revoking a token
(its user or a site administrator; portal.domain.api_tokens decides)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_limiter import RequestLimit
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField

from portal.blueprints.auth.limits import account_key, password_guesses, refused_guess, wait_message
from portal.domain import api_tokens, notifications, users
from portal.domain.errors import Invalid
from portal.extensions import db
from portal.web import render

bp = Blueprint("account", __name__, url_prefix="/account")


class PasswordForm(FlaskForm):
    """Change my password (the rules are portal.domain.users.change_password's)."""
    current_password = PasswordField("Current password")
    new_password = PasswordField("New password")
    confirm_password = PasswordField("New password again")


@bp.before_request
@login_required
def _signed_in():
    """Every account route needs a signed-in user."""


def _page(form: PasswordForm, errors: dict | None = None, status: int = 200, error: str | None = None):
    return render("account/page.html", tokens=api_tokens.tokens_of(db.session(), current_user.id),
                  form=form, errors=errors or {}, error=error, status=status,
                  resent_choices=notifications.RESENT_CHOICES,
                  password_min=users.PASSWORD_MIN_LENGTH, password_max=users.PASSWORD_MAX)


@bp.route("")
def page():
    """The user's own details, the password form and API tokens (names, expiry, last use; never the secrets)."""
    return _page(PasswordForm())


def _own_account() -> str:
    return account_key(current_user.username if current_user.is_authenticated else "")


def _too_many(limit: RequestLimit, what: str):
    error, retry_after = wait_message(limit, what)
    response = _page(PasswordForm(), status=429, error=error)
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.route("/password", methods=["POST"])
@password_guesses(_own_account, _too_many)
def change_password():
    """Change my password; every other session of mine ends, this browser stays signed in.
    A wrong current password counts towards the sign-in limits of the account and the address."""
    form = PasswordForm()  # its CSRF token is checked before the view (CSRFProtect)
    try:
        user = users.change_password(db.session(), current_user.id, form.current_password.data or "",
                                     form.new_password.data or "", form.confirm_password.data or "")
    except Invalid as exc:
        if "current_password" in exc.fields:
            refused_guess()
        return _page(form, errors=exc.fields, status=422)
    login_user(user)  # the new session token: this session goes on, every other copy has ended
    flash("Password changed; you were signed out everywhere else.", "info")
    return redirect(url_for("account.page"), code=303)


@bp.route("/notices", methods=["POST"])
def notices():
    """My notices as an approver: the daily summary on or off, a resent item by email or in the summary."""
    notifications.set_preferences(db.session(), current_user.id, request.form.get("daily_summary") in ("on", "1"),
                                  request.form.get("resent_notice", ""))
    flash("Your notice choices were saved.", "info")
    return redirect(url_for("account.page"), code=303)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    """Revoke an API token: back to My account for its own user, to the user's form for an admin."""
    token = api_tokens.revoke_token(db.session(), current_user, token_id)
    flash(f"API token {token.name!r} revoked.", "info")
    if token.user_id == current_user.id:
        return redirect(url_for("account.page"), code=303)
    return redirect(url_for("admin.user_edit", user_id=token.user_id), code=303)
