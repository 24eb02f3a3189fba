"""Reconciliation with Sage 300 CRE (ERP Admins and accounting approvers): the company's page,
a page per project, and each as CSV."""
from __future__ import annotations

from flask import Blueprint, current_app
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


@bp.route("/reconciliation")
@require(policy.RECONCILE)
def company():
    """Every synced commitment and job of the company, the portal's figures beside Sage's."""
    rec = reconcile.reconcile(db.session(), _connect)
    return render("reconcile/index.html", rec=rec, active_tab="reconciliation")


@bp.route("/reconciliation.csv")
@require(policy.RECONCILE)
def company_csv():
    """The company's reconciliation as CSV."""
    return csv_download(reconcile.csv_text(reconcile.reconcile(db.session(), _connect)), "reconciliation.csv")


@bp.route("/reconciliation/projects/<int:project_id>")
@require(policy.RECONCILE)
def project(project_id: int):
    """One project's synced commitments and job, the portal's figures beside Sage's."""
    rec = reconcile.reconcile(db.session(), _connect, project_id)
    return render("reconcile/index.html", rec=rec, active_tab="reconciliation")


@bp.route("/reconciliation/projects/<int:project_id>.csv")
@require(policy.RECONCILE)
def project_csv(project_id: int):
    """One project's reconciliation as CSV."""
    rec = reconcile.reconcile(db.session(), _connect, project_id)
    return csv_download(reconcile.csv_text(rec), f"reconciliation-{project_id}.csv")
