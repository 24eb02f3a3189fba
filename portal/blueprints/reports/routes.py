"""The guide's ERP reports: the Accountant report (ERP Admins) and Unsyncable Direct Costs (Admin
on a project, no ERP Integrations permission needed), each with URL filters and a CSV download."""
from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import current_user, login_required

from portal.domain import policy, reports
from portal.extensions import db
from portal.web import csv_download, page_arg, render, require

bp = Blueprint("reports", __name__, url_prefix="/erp/reports")


@bp.before_request
@login_required
def _signed_in():
    """Every report needs a signed-in user; who may see which is the domain's to say."""


@bp.app_context_processor
def _nav():
    """The navigation's question: may the user see the Unsyncable Direct Costs of some project?"""
    return {"may_see_unsyncable": lambda: reports.may_see_unsyncable(db.session(), current_user)}


@bp.route("/accountant")
@require(policy.ACCOUNTANT_REPORT)
def accountant():
    """The Accountant report: every item in ERP Integrations, its status and who moved it."""
    filters = reports.AccountantFilters.parse(request.args)
    view = reports.accountant_report(db.session(), current_user, filters, page_arg(),
                                     current_app.config["PAGE_SIZE"])
    return render("reports/accountant.html", "report_body", view=view, active_tab="accountant_report")


@bp.route("/accountant.csv")
@require(policy.ACCOUNTANT_REPORT)
def accountant_csv():
    """The Accountant report under the same filters, as a CSV download."""
    filters = reports.AccountantFilters.parse(request.args)
    return csv_download(reports.accountant_csv(db.session(), current_user, filters), "accountant-report.csv")


@bp.route("/unsyncable-direct-costs")
def unsyncable():
    """Sage cost transactions that cannot sync to their project's direct costs, and why."""
    filters = reports.UnsyncableFilters.parse(request.args)
    view = reports.unsyncable_report(db.session(), current_user, filters, page_arg(),
                                     current_app.config["PAGE_SIZE"])
    return render("reports/unsyncable.html", "report_body", view=view, reasons=reports.REASONS,
                  cost_types=reports.COST_TYPES, active_tab="unsyncable_report")


@bp.route("/unsyncable-direct-costs.csv")
def unsyncable_csv():
    """The Unsyncable Direct Costs report under the same filters, as a CSV download."""
    filters = reports.UnsyncableFilters.parse(request.args)
    return csv_download(reports.unsyncable_csv(db.session(), current_user, filters), "unsyncable-direct-costs.csv")
