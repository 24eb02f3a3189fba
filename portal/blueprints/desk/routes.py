"""Needs attention: the invoice administrator's desk (their landing page), the navigation's count,
and the same list as a panel on a project's pages. The rules are in portal.domain.attention."""
from __future__ import annotations

from flask import Blueprint, current_app, g, request
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from portal.domain import attention
from portal.domain.values import as_id
from portal.extensions import db
from portal.web import page_arg, render

bp = Blueprint("desk", __name__)


def _rule() -> attention.StuckRule:
    config = current_app.config
    return attention.StuckRule.from_settings(config["EXPORT_STALL_SECONDS"], config["EXPORT_REAP_SECONDS"],
                                             config["ATTENTION_READY_HOURS"])


@bp.route("/attention/")
@login_required
def index():
    """Every rejected, failed or stuck item on the user's Admin projects, filtered by project and type."""
    view = attention.desk(db.session(), current_user, _rule(), project_id=as_id(request.args.get("project")),
                          type_key=request.args.get("type") or None, page=page_arg())
    return render("desk/index.html", "attention_list", desk=view, kinds=attention.KINDS)


@bp.route("/projects/<int:project_id>/attention")
@login_required
def panel(project_id: int):
    """The project's panel of the same list (empty for members who are not Admin on it)."""
    view = attention.project_panel(db.session(), current_user, _rule(), project_id)
    return render("desk/panel.html", "attention_panel", desk=view, kinds=attention.KINDS, project_id=project_id)


@bp.app_context_processor
def _attention_count():
    """The navigation's count, read once per page and only when a page's header asks for it."""
    def count() -> int | None:
        if "attention_count" not in g:
            g.attention_count = None
            if current_user.is_authenticated:
                try:
                    g.attention_count = attention.nav_count(db.session(), current_user, _rule())
                except SQLAlchemyError:  # an error page about the database still renders, without it
                    db.session.rollback()
        return g.attention_count
    return {"attention_count": count}
