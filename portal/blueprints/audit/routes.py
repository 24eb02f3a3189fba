"""The company's audit log (ERP Admins and accounting approvers): every transition, setting
change, sync, mail and API token change, filtered and searched, a page at a time, and as CSV."""
from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context
from flask_login import current_user, login_required

from portal.domain import audit_log, policy
from portal.domain.errors import Invalid
from portal.domain.models import utcnow
from portal.extensions import db
from portal.web import company_zone, render, require

bp = Blueprint("audit", __name__, url_prefix="/erp")


@bp.before_request
@login_required
def _signed_in():
    """Every audit log route needs a signed-in user."""


@bp.route("/audit-log")
@require(policy.VIEW_AUDIT)
def index():
    """The log, newest first: the filters and the keyset of the page live in the URL."""
    choices = audit_log.options(db.session())
    try:
        filters = audit_log.parse_filters(request.args, company_zone())
    except Invalid as exc:
        return render("audit/index.html", "results", page=None, filters=None, args=request.args,
                      errors=exc.fields, choices=choices, status=422)
    page = audit_log.page(db.session(), current_user, filters)
    return render("audit/index.html", "results", page=page, filters=filters, args=request.args, errors={},
                  choices=choices)


@bp.route("/audit-log.csv")
@require(policy.VIEW_AUDIT)
def csv():
    """Every entry the filters select (all pages), as CSV."""
    filters = audit_log.parse_filters(request.args, company_zone())
    rows = audit_log.csv_rows(db.session(), current_user, filters)
    response = Response(stream_with_context(rows), mimetype="text/csv")
    response.headers.set("Content-Disposition", "attachment", filename=f"audit-log-{utcnow():%Y%m%d-%H%M}.csv")
    return response
