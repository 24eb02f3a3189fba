"""The portal's health: /healthz for load balancers (no sign-in), the health page for site admins
and ERP Admins, and the notice beside Exporting rows while no worker runs."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, make_response, render_template
from flask_htmx.constants import HTMX_STOP_POLLING
from flask_login import login_required

from portal.domain import health, policy
from portal.exporters.sage300.connectors import make_connector
from portal.extensions import db
from portal.health_probe import RQHealthProbe
from portal.web import render, require

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def _report() -> health.Report:
    return health.report(db.session(), RQHealthProbe(), lambda: make_connector(current_app.config),
                         health.Limits.from_config(current_app.config))


@bp.route("/healthz")
def healthz():
    """For load balancers: each check's status; 503 while this web process cannot serve (its
    database or Redis is red, or the report failed), 200 otherwise (a portal whose workers are
    down still serves pages: the JSON says red); no sign-in."""
    try:
        report = _report()
        status, checks = report.status, {c.name: c.status for c in report.checks}
    except Exception:  # noqa: BLE001 - each check is guarded already; this answer is never a 500
        log.exception("the health report failed")
        status, checks = health.RED, {}
    response = jsonify(status=status, checks=checks)
    serving = checks and all(checks.get(name) != health.RED for name in health.SERVING)
    response.status_code = 200 if serving else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/health")
@require(policy.VIEW_HEALTH)
def page():
    """Every check with its status, reason and details; the block refreshes itself every 5 s."""
    return render("health/index.html", "checks", report=_report(), labels=health.LABELS)


@bp.route("/health/worker-notice")
@login_required
def worker_notice():
    """The notice beside Exporting rows, polled while it shows; gone (286: stop) once a worker runs."""
    notice = health.queue_notice(RQHealthProbe())
    if notice is None:
        return make_response("", HTMX_STOP_POLLING)
    return make_response(render_template("_worker_notice.html", worker_notice=notice))
