"""Sign in and out."""
from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from portal.domain import policy
from portal.domain.users import authenticate
from portal.extensions import db
from portal.web import render, safe_next

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/")
def home():
    """Start where the user works: ERP Integrations for accounting, projects otherwise."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if policy.can(current_user, policy.VIEW_ERP):
        return redirect(url_for("erp.index"))
    return redirect(url_for("projects.index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign in."""
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(db.session(), form.username.data, form.password.data)
        if user:
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or url_for("auth.home"), code=303)
        error = "Wrong username or password."
    status = 422 if request.method == "POST" else 200
    return render("auth/login.html", form=form, error=error, status=status)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST only, so a link cannot sign anyone out)."""
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"), code=303)
