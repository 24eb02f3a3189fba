"""Site administration: users and their permissions, and the mail the portal has sent or kept."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from portal.domain import api_tokens, outbox, policy, users
from portal.domain.errors import Invalid
from portal.domain.models import ToolLevel
from portal.domain.values import parse_id
from portal.extensions import db
from portal.queue import RQJobQueue
from portal.web import page_arg, render, require, search_arg

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _signed_in():
    """Every admin route needs a signed-in user."""


def _checked(name: str) -> bool:
    return request.form.get(name) in ("on", "1", "true", "y")


@bp.route("/users")
@require(policy.MANAGE_USERS)
def user_list():
    """Every user with their ERP level and privilege."""
    return render("admin/users.html", users=users.all_users(db.session()))


@bp.route("/users/new", methods=["GET", "POST"])
@require(policy.MANAGE_USERS)
def user_new():
    """Create a user."""
    errors, values = {}, {"erp_level": ToolLevel.NONE}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            user = users.create_user(
                db.session(), username=values.get("username", ""), name=values.get("name", ""),
                email=values.get("email", ""), password=values.get("password", ""),
                erp_level=values.get("erp_level", ToolLevel.NONE),
                can_push_to_accounting=_checked("can_push_to_accounting"),
                is_site_admin=_checked("is_site_admin"))
        except Invalid as exc:
            errors = exc.fields
        else:
            flash(f"User {user.username} created.", "info")
            return redirect(url_for("admin.user_edit", user_id=user.id), code=303)
    return render("admin/user_form.html", user=None, errors=errors, values=values,
                  levels=ToolLevel, projects=[], memberships={}, status=422 if errors else 200)


def _values(user) -> dict[str, Any]:
    return {"name": user.name, "email": user.email, "erp_level": user.erp_level,
            "can_push_to_accounting": user.can_push_to_accounting,
            "is_site_admin": user.is_site_admin, "active": user.active}


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require(policy.MANAGE_USERS)
def user_edit(user_id: int):
    """Edit a user's details, ERP level, Can Push to Accounting and project levels."""
    user = users.get_user(db.session(), user_id)
    errors = {}
    values = _values(user)
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            users.update_user(db.session(), user_id, name=values.get("name", ""),
                              email=values.get("email", ""),
                              erp_level=values.get("erp_level", ToolLevel.NONE),
                              can_push_to_accounting=_checked("can_push_to_accounting"),
                              is_site_admin=_checked("is_site_admin"), active=_checked("active"),
                              password=values.get("password", ""),
                              project_levels={parse_id(k[8:], k): v for k, v in request.form.items()
                                              if k.startswith("project-")})
        except Invalid as exc:
            errors = exc.fields
        else:
            flash(f"User {user.username} saved.", "info")
            return redirect(url_for("admin.user_edit", user_id=user_id), code=303)
    return _user_form(user, values, errors)


def _user_form(user, values: dict, errors: dict, new_token: str | None = None,
               token_errors: dict | None = None):
    """The user's form, with their API tokens (and a token just created, shown this once)."""
    response = render("admin/user_form.html", user=user, errors=errors, values=values,
                      levels=ToolLevel, projects=users.all_projects(db.session()),
                      memberships=users.memberships(db.session(), user.id),
                      tokens=api_tokens.tokens_of(db.session(), user.id),
                      expiry_choices=api_tokens.EXPIRY_CHOICES, default_days=api_tokens.DEFAULT_DAYS,
                      new_token=new_token, token_errors=token_errors or {},
                      status=422 if errors or token_errors else 200)
    if new_token:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/users/<int:user_id>/tokens", methods=["POST"])
@require(policy.MANAGE_USERS)
def user_token(user_id: int):
    """Create an API token for the user: the page that answers shows it, once (no redirect, so
    the secret never travels in the session cookie)."""
    user = users.get_user(db.session(), user_id)
    values = _values(user)
    try:
        token = api_tokens.create_token(db.session(), user_id, request.form.get("name", ""),
                                        days=request.form.get("days"),
                                        expires_on=request.form.get("expires_on"), actor=current_user)
    except Invalid as exc:
        return _user_form(user, values, {}, token_errors=exc.fields)
    return _user_form(user, values, {}, new_token=token)


@bp.route("/mail")
@require(policy.READ_MAIL)
def mail_list():
    """Mail the portal sent over SMTP or kept here (no SMTP configured), newest first; searchable
    by subject, recipient and body."""
    page = page_arg()
    q = search_arg()
    mails, more = outbox.mail_page(db.session(), page, q)
    return render("admin/mail.html", "mail_list", mails=mails, page=page, more=more, q=q)


@bp.route("/mail/<int:mail_id>")
@require(policy.READ_MAIL)
def mail_show(mail_id: int):
    """One mail, text and HTML."""
    return render("admin/mail_show.html", mail=outbox.get_mail(db.session(), mail_id))


@bp.route("/mail/<int:mail_id>/retry", methods=["POST"])
@require(policy.READ_MAIL)
def mail_retry(mail_id: int):
    """Queue a failed or pending mail again."""
    outbox.retry_mail(db.session(), current_user, mail_id, RQJobQueue())
    flash("Mail queued again.", "info")
    return redirect(url_for("admin.mail_show", mail_id=mail_id), code=303)
