"""Sign in and out."""
import math
import time

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from portal.domain import policy
from portal.domain.attention import is_admin_anywhere
from portal.domain.users import authenticate, sign_out_everywhere
from portal.extensions import db, limiter
from portal.web import SESSION_SEEN, SESSION_STARTED, render, safe_next

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/")
def home():
    """Start where the user works: ERP Integrations for accounting, Needs attention for an Admin
    on a project (the invoice administrator), the projects otherwise."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if policy.can(current_user, policy.VIEW_ERP):
        return redirect(url_for("erp.index"))
    if is_admin_anywhere(db.session(), current_user):
        return redirect(url_for("desk.index"))
    return redirect(url_for("projects.index"))


def _posted_account() -> str:
    return "account:" + (request.form.get("username") or "").strip().lower()


def _failed(response) -> bool:
    """Only refused sign-ins count towards the limits."""
    return response.status_code == 422


def _window() -> str:
    return f"{current_app.config['LOGIN_ATTEMPT_WINDOW_MINUTES']} minutes"


def _too_many(what: str):
    def answer(limit: RequestLimit):
        minutes = max(1, math.ceil((limit.reset_at - time.time()) / 60))
        error = f"Too many sign-in attempts {what}; try again in {minutes} minute{'s' if minutes != 1 else ''}."
        response = render("auth/login.html", form=LoginForm(), error=error, status=429)
        response.headers["Retry-After"] = str(max(1, int(limit.reset_at - time.time())))
        return response
    return answer


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: f"{current_app.config['LOGIN_ATTEMPTS_PER_ACCOUNT']} per {_window()}",
               key_func=_posted_account, methods=["POST"], deduct_when=_failed,
               on_breach=_too_many("for this account"), scope="login-account")
@limiter.limit(lambda: f"{current_app.config['LOGIN_ATTEMPTS_PER_ADDRESS']} per {_window()}",
               key_func=get_remote_address, methods=["POST"], deduct_when=_failed,
               on_breach=_too_many("from this address"), scope="login-address")
def login():
    """Show the sign-in form and sign in; refused attempts are limited per account and per address."""
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(db.session(), form.username.data, form.password.data)
        if user:
            session.clear()
            login_user(user)
            session.permanent = True  # the cookie lasts PERMANENT_SESSION_LIFETIME, no longer
            session[SESSION_STARTED] = session[SESSION_SEEN] = int(time.time())
            return redirect(safe_next(request.args.get("next")) or url_for("auth.home"), code=303)
        error = "Wrong username or password."
    status = 422 if request.method == "POST" else 200
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
