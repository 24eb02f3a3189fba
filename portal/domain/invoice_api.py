"""The JSON API's side of invoices made in the portal: a body with its lines (by commitment line
number) read into the form the pages post, the invoice written back as JSON, and the form's field
names in errors turned into the body's ("lines[0].work_completed"). The same rules as the pages:
portal.domain.invoicing does the work."""
from __future__ import annotations

import base64
import binascii
from datetime import date
from decimal import Decimal

from portal.domain.errors import Invalid
from portal.domain.invoice_lines import CONFIRM, key
from portal.domain.invoicing import Sheet, Upload
from portal.domain.models import Commitment

HEAD = ("number", "billing_date", "period_start", "period_end")
FLAGS = ("retainage_release", CONFIRM, "submit")   # submit: send it for review once saved
LINE_PARTS = ("description", "work_completed", "percent_complete", "quantity", "materials_stored",
              "work_retainage", "materials_retainage", "retainage_released")
SCALARS = (str, int, float)


def _text(value: object) -> str:
    """A JSON scalar as the form would hold it (null: blank)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)


def read_body(body: object, commitment: Commitment) -> tuple[dict, Upload | None, dict[int, int]]:
    """(form, PDF, line index by commitment line id) from a JSON body; Invalid naming the body's
    field for a value of the wrong kind, a line the commitment does not have, or a PDF that is
    not base64."""
    if not isinstance(body, dict):
        raise Invalid("The body must be a JSON object.", fields={"body": "Send a JSON object."})
    body = dict(body)
    errors: dict[str, str] = {}
    form: dict[str, str] = {}
    for name in (n for n in HEAD if n in body):
        value = body[name]
        if value is not None and not isinstance(value, str):
            errors[name] = "Send a text."
        form[name] = value if isinstance(value, str) else ""
    for name in (n for n in FLAGS if n in body):
        value = body[name]
        if value is not None and not isinstance(value, bool):
            errors[name] = "Send true or false."
        form[name] = _text(value if isinstance(value, bool) else None)
    if "contact_id" in body:
        contact = body["contact_id"]
        if contact is not None and (isinstance(contact, bool) or not isinstance(contact, int)):
            errors["contact_id"] = "Send the contact's user id (an integer)."
        form["contact_id"] = _text(contact) if isinstance(contact, int) and not isinstance(contact, bool) else ""
    lines = body.get("lines", [])
    index: dict[int, int] = {}
    if not isinstance(lines, list):
        errors["lines"] = "Send a list of lines."
        lines = []
    by_number = {cl.line_no: cl for cl in commitment.lines}
    for i, line in enumerate(lines):
        where = f"lines[{i}]"
        if not isinstance(line, dict):
            errors[where] = "Send each line as an object."
            continue
        number = line.get("line_no")
        source = by_number.get(number) if isinstance(number, int) and not isinstance(number, bool) else None
        if source is None:
            errors[f"{where}.line_no"] = f"Commitment {commitment.number} has no line {_text(number)[:20]}."
            continue
        if source.id in index:
            errors[f"{where}.line_no"] = f"Line {number} is given twice."
            continue
        index[source.id] = i
        for part in LINE_PARTS:
            value = line.get(part)
            if value is not None and (isinstance(value, bool) or not isinstance(value, SCALARS)):
                errors[f"{where}.{part}"] = "Send a text or a number."
            elif value is not None:
                form[key(source.id, part)] = _text(value)
    upload = None
    if body.get("pdf_filename") is not None and not isinstance(body.get("pdf_filename"), str):
        errors["pdf_filename"] = "Send a text."
    pdf = body.get("pdf_base64")
    if pdf is not None:
        filename = body.get("pdf_filename")
        try:
            if not isinstance(pdf, str):
                raise ValueError
            upload = Upload(filename if isinstance(filename, str) and filename.strip() else "invoice.pdf",
                            base64.b64decode(pdf, validate=True))
        except (ValueError, binascii.Error):
            errors["pdf_base64"] = "Send the PDF as base64 text."
    if errors:
        raise Invalid("Please correct the fields named.", fields=errors)
    return form, upload, index


def current_form(sheet: Sheet) -> dict[str, str]:
    """An invoice's saved values as its form holds them: what a PUT leaves out stays as it is."""
    form = {name: str(value) for name, value in sheet.header.items()}
    for ln in sheet.lines:
        form.update({key(ln.id, "description"): ln.description, key(ln.id, "work_completed"): str(ln.work),
                     key(ln.id, "materials_stored"): str(ln.stored),
                     key(ln.id, "work_retainage"): str(ln.work_retainage),
                     key(ln.id, "materials_retainage"): str(ln.materials_retainage),
                     key(ln.id, "retainage_released"): str(ln.released),
                     key(ln.id, "quantity"): "" if ln.quantity is None else str(ln.quantity)})
    return form


def body_fields(fields: dict[str, str], index: dict[int, int]) -> dict[str, str]:
    """The form's field names in errors as the body names them: line-7-work_completed -> lines[0].work_completed
    (a line left out of the body: line_no 3's)."""
    out = {}
    for name, message in fields.items():
        if name.startswith("line-"):
            _, line_id, part = name.split("-", 2)
            where = f"lines[{index[int(line_id)]}]" if int(line_id) in index else f"line {line_id}"
            name = f"{where}.{part}"
        elif name == "pdf":
            name = "pdf_base64"
        out[name] = message
    return out


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def invoice_json(sheet: Sheet) -> dict:
    """An invoice with its lines, totals, review and PDF, amounts as decimal texts."""
    inv = sheet.invoice
    assert inv is not None
    t = sheet.totals
    return {
        "id": inv.id, "project_id": inv.project_id, "commitment_id": inv.commitment_id, "number": inv.number,
        "status": inv.status, "contact_id": inv.contact_id, "billing_date": _day(inv.billing_date),
        "period_start": _day(inv.period_start), "period_end": _day(inv.period_end),
        "retainage_release": inv.retainage_release,
        "total_amount": _amount(t.amount), "total_retainage": _amount(t.retainage),
        "payment_due": _amount(t.payment_due),
        "pdf": {"filename": sheet.attachment.filename, "size": sheet.attachment.size} if sheet.attachment else None,
        "lines": [{"line_no": ln.source.line_no, "description": ln.description or ln.source.description,
                   "scheduled_value": _amount(ln.scheduled), "previous_billed": _amount(ln.previous_billed),
                   "work_completed": _amount(ln.work), "materials_stored": _amount(ln.stored),
                   "quantity": None if ln.quantity is None else f"{ln.quantity.normalize():f}",
                   "work_retainage": _amount(ln.work_retainage),
                   "materials_retainage": _amount(ln.materials_retainage),
                   "retainage_released": _amount(ln.released), "retainage": _amount(ln.retainage),
                   "percent_complete": f"{ln.percent:.2f}", "balance_to_finish": _amount(ln.balance),
                   "review": ln.review, "review_comment": ln.review_comment}
                  for ln in sheet.lines],
    }
