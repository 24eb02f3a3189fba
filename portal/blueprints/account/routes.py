"""My account: the signed-in user's own details and API tokens, and revoking a token (its user
or a site administrator; portal.domain.api_tokens decides)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required

from portal.domain import api_tokens
from portal.extensions import db
from portal.web import render

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.before_request
@login_required
def _signed_in():
    """Every account route needs a signed-in user."""


@bp.route("")
def page():
    """The user's own details and API tokens (names, expiry, last use; never the secrets)."""
    return render("account/page.html", tokens=api_tokens.tokens_of(db.session(), current_user.id))


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    """Revoke an API token: back to My account for its own user, to the user's form for an admin."""
    token = api_tokens.revoke_token(db.session(), current_user, token_id)
    flash(f"API token {token.name!r} revoked.", "info")
    if token.user_id == current_user.id:
        return redirect(url_for("account.page"), code=303)
    return redirect(url_for("admin.user_edit", user_id=token.user_id), code=303)
