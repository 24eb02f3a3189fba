"""Sign in and out."""

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_limiter import RequestLimit
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from portal.blueprints.auth.limits import account_key, password_guesses, refused_guess, wait_message
from portal.domain import policy
from portal.domain.attention import is_admin_anywhere
from portal.domain.users import authenticate, sign_out_everywhere
from portal.extensions import db
from portal.web import render, safe_next, start_session

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/")
def home():
    """Start where the user works: an invoice contact's billing home, ERP Integrations for
    accounting, Needs attention for an Admin on a project (the invoice administrator), the
    projects otherwise."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if policy.can(current_user, policy.BILL):
        return redirect(url_for("billing.home"))
    if policy.can(current_user, policy.VIEW_ERP):
        return redirect(url_for("erp.index"))
    if is_admin_anywhere(db.session(), current_user):
        return redirect(url_for("desk.index"))
    return redirect(url_for("projects.index"))


def _posted_account() -> str:
    return account_key(request.form.get("username") or "")


def _too_many(limit: RequestLimit, what: str):
    error, retry_after = wait_message(limit, what)
    response = render("auth/login.html", form=LoginForm(), error=error, status=429)
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
@password_guesses(_posted_account, _too_many)
def login():
    """Show the sign-in form and sign in; refused attempts are limited per account and per address."""
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(db.session(), form.username.data, form.password.data)
        if user:
            start_session(user)
            return redirect(safe_next(request.args.get("next")) or url_for("auth.home"), code=303)
        error = "Wrong username or password."
    status = 422 if request.method == "POST" else 200
    if status == 422:
        refused_guess()
    return render("auth/login.html", form=form, error=error, status=status)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST only, so a link cannot sign anyone out), here and in every copy of the cookie."""
    sign_out_everywhere(db.session(), current_user.id)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"), code=303)
