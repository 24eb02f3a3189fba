"""Reconciliation with Sage 300 CRE (ERP Admins and accounting approvers): the company's page,
a page per project, and each as CSV."""
from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import login_required

from portal.domain import policy, reconcile
from portal.exporters.sage300.connectors import make_connector
from portal.extensions import db
from portal.web import csv_download, render, require

bp = Blueprint("reconcile", __name__, url_prefix="/erp")


@bp.before_request
@login_required
def _signed_in():
    """Every reconciliation route needs a signed-in user."""


def _connect():
    return make_connector(current_app.config)


def _only_differences(default: bool) -> bool:
    """?show=all or ?show=differences; the page's default otherwise."""
    return {"all": False, "differences": True}.get(request.args.get("show", ""), default)


@bp.route("/reconciliation")
@require(policy.RECONCILE)
def company():
    """The company's synced commitments and jobs that differ from Sage (?show=all: every one)."""
    rec = reconcile.reconcile(db.session(), _connect, only_differences=_only_differences(True))
    return render("reconcile/index.html", rec=rec, active_tab="reconciliation")


@bp.route("/reconciliation.csv")
@require(policy.RECONCILE)
def company_csv():
    """The company's reconciliation as CSV."""
    rec = reconcile.reconcile(db.session(), _connect, only_differences=_only_differences(False))
    return csv_download(reconcile.csv_text(rec), "reconciliation.csv")


@bp.route("/reconciliation/projects/<int:project_id>")
@require(policy.RECONCILE)
def project(project_id: int):
    """One project's synced commitments and job, the portal's figures beside Sage's (?show=differences)."""
    rec = reconcile.reconcile(db.session(), _connect, project_id, _only_differences(False))
    return render("reconcile/index.html", rec=rec, active_tab="reconciliation")


@bp.route("/reconciliation/projects/<int:project_id>.csv")
@require(policy.RECONCILE)
def project_csv(project_id: int):
    """One project's reconciliation as CSV (?show=differences: only what differs)."""
    rec = reconcile.reconcile(db.session(), _connect, project_id, _only_differences(False))
    return csv_download(reconcile.csv_text(rec), f"reconciliation-{project_id}.csv")
