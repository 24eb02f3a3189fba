"""What a project-side action (Send, Resend, Retrieve, Delete) answers with htmx: the row as it
now is, a message that replaces whatever the messages area held (no stale "Invoice saved."),
and, on an item's own page, its history, both out of band; the row of a Direct Export polls
until its export settles, as the approver's rows do."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, make_response, render_template, request
from flask_htmx.constants import HTMX_STOP_POLLING

from portal.domain.exports import ExportWatch
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem
from portal.queue import RQJobQueue

ON_PAGE = "page"   # ?view=page: the row sits on the item's own page, whose history is answered too


def export_watch() -> ExportWatch:
    """How this portal tells a stalled export: RQ's job statuses, EXPORT_STALL_SECONDS."""
    return ExportWatch(RQJobQueue(), timedelta(seconds=current_app.config["EXPORT_STALL_SECONDS"]))


def on_page() -> bool:
    return request.args.get("view") == ON_PAGE


def sent_message(what: str, erp: ErpItem) -> str:
    """What Send or Resend did, e.g. "Invoice INV-1 sent again to accounting, with what changed
    since the rejection." (`what` names the item: "Invoice INV-1")."""
    if erp.state == State.EXPORTING:
        return f"{what} is being exported to Sage 300 CRE (Direct Export); its row follows the export."
    if erp.resend_note is not None:
        changed = "with what changed since the rejection" if erp.resend_note else "unchanged since the rejection"
        return f"{what} sent again to accounting, {changed}."
    return f"{what} sent to ERP Integrations for accounting acceptance."


def row_answer(template: str, message: str | None = None, history=None, status: int = 200, **context):
    """The row fragment, with the message and the history (when given) swapped out of band."""
    body = render_template(template, on_page=history is not None, **context)
    if message:
        body += render_template("_oob_message.html", text=message)
    if history is not None:
        # in a <template>: after a row's <tbody> the parser would take a <table> apart (htmx swaps
        # the out-of-band elements a template holds)
        body += "<template>" + render_template("_history.html", history=history, oob=True) + "</template>"
    return make_response(body, status)


def polling_answer(response, erp: ErpItem | None, stalled: bool):
    """A status poll's answer: 286 (stop polling) once the export settled or stalled."""
    if erp is None or erp.state != State.EXPORTING or stalled:
        response.status_code = HTMX_STOP_POLLING
    return response
