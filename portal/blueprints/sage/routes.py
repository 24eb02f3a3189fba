"""The Sage user's page: what the Sage 300 CRE simulator holds, and forms to enter in it what
accounting enters in Sage (vendors, jobs, contracts, schedules of values, posted costs...), so
the portal's imports have real data to pull, and to fix (or void, or delete) what its exports met.
Site admins and ERP Admins only; the page exists only when the simulator is the configured
connector. The rules (and Sage's refusals) are the simulator's; this view parses and renders."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from jinja2_fragments.flask import render_block

from portal.blueprints.sage.forms import SECTIONS
from portal.domain import policy
from portal.domain.errors import Invalid
from portal.domain.values import too_long
from portal.exporters.sage300.connectors import make_connector
from portal.exporters.sage300.simulator import SageInputError, sage_units
from portal.extensions import htmx, login_manager
from portal.web import forbidden, message_fragment, wants_fragment

bp = Blueprint("sage", __name__, url_prefix="/sage")
TEMPLATE = "sage/index.html"
NOT_CONFIGURED = ("The Sage 300 CRE simulator is not this portal's connector (SAGE_CONNECTOR={}), "
                  "so there is no Sage page: enter data in Sage itself.")


def simulator_configured(config) -> bool:
    """The page exists only when SAGE_CONNECTOR is unset or "simulator"."""
    return (config.get("SAGE_CONNECTOR") or "simulator").lower() == "simulator"


def may_use(user) -> bool:
    """Site admins and ERP Admins play the Sage user."""
    return policy.can(user, policy.MANAGE_USERS) or policy.can(user, policy.ERP_ADMIN)


@bp.before_request
def _guard():
    """404 without the simulator, the login page when signed out, 403 for other users."""
    if not simulator_configured(current_app.config):
        text = NOT_CONFIGURED.format(current_app.config.get("SAGE_CONNECTOR"))
        if htmx:
            return message_fragment(text, 404)
        return make_response(render_template("error.html", status=404, text=text), 404)
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not may_use(current_user):
        return forbidden("Only site administrators and ERP Admins can enter data in Sage 300 CRE.")
    return None


JOB_FILTER_MAX = 10  # Sage's job number length


def _sim():
    return make_connector(current_app.config).sim


def _section_key(section: str) -> str:
    if section not in SECTIONS:
        abort(404)
    return section


def _page(section: str | None = None, posted=None, status: int = 200, job: str = ""):
    """The page (its exported listings of one `job` when given), or for htmx one section's block
    plus the holdings (out of band)."""
    forms = {key: (posted if posted is not None and key == section else form_class(formdata=None))
             for key, (_title, form_class) in SECTIONS.items()}
    sim = _sim()
    context = dict(forms=forms, sections=SECTIONS, held=sim.overview(), exported=sim.exported(job=job or None),
                   job=job, fragment=False, notices=[], sage_units=sage_units,
                   balances=sim.ap_invoice_balances(), payments=sim.latest_ap_payments())
    if section and wants_fragment():
        context["fragment"] = True
        if posted is None:  # the section after an add: its notice goes inside it (no #messages swap)
            context["notices"] = get_flashed_messages(with_categories=True)
        body = render_block(TEMPLATE, section, **context) + render_block(TEMPLATE, "holdings", **context)
        return make_response(body, status)
    return make_response(render_template(TEMPLATE, **context), status)


@bp.get("/")
def index():
    """What Sage holds, and a form for each thing a Sage user enters; ?job= lists what the portal
    exported for that job only."""
    job = (request.args.get("job") or "").strip()
    if len(job) > JOB_FILTER_MAX:
        raise Invalid(too_long("Job", JOB_FILTER_MAX, sage=True), fields={"job": too_long("Job", JOB_FILTER_MAX, True)})
    return _page(job=job)


@bp.get("/<section>")
def section(section: str):
    """One section: its block for htmx (after an add), the whole page otherwise."""
    return _page(_section_key(section))


@bp.post("/<section>")
def add(section: str):
    """Enter (or change) the section's form in Sage; 422 naming the field (nothing changed) when Sage would
    not take it."""
    key = _section_key(section)
    form = SECTIONS[key][1]()
    if form.validate_on_submit():
        try:
            said = getattr(_sim(), form.method)(**form.arguments())
        except SageInputError as exc:
            field = form._fields.get(exc.field)
            if field is not None:
                field.errors = [*field.errors, str(exc)]
            else:
                form.form_errors.append(str(exc))
        else:
            flash(form.done(said), "info")
            if htmx:
                return redirect(url_for("sage.section", section=key), code=303)
            return redirect(url_for("sage.index", _anchor=f"sage-{key}"), code=303)
    return _page(key, posted=form, status=422)
