"""Helpers the page tests share: a response's text, page or fragment, and what its HTML holds."""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from portal.domain import settings

HX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


def text(response) -> str:
    """The response body as text, HTML entities unescaped."""
    return html.unescape(response.get_data(as_text=True))


def is_page(body: str) -> bool:
    """Whether the body is a whole page (doctype, html and the site header)."""
    return body.lstrip().lower().startswith("<!doctype html>") and "<html" in body and "<header" in body


def is_fragment(body: str) -> bool:
    """Whether the body is a block only (no doctype, html or site header)."""
    return "<html" not in body and "<header" not in body and "<!doctype" not in body.lower()


def path_of(url: str | None) -> str:
    """The path of a URL (a redirect's Location), '' for none."""
    return urlsplit(url or "").path


def counts(body: str) -> dict[str, int]:
    """The ERP tab's count per filter."""
    return {k: int(n) for k, n in re.findall(r'data-filter="(\w+)">[^<]*<span class="count">(\d+)</span>', body)}


def tab_row_ids(body: str) -> list[int]:
    """The ERP item ids of the tab's rows, in order."""
    return [int(i) for i in re.findall(r'<tbody id="item-(\d+)"', body)]


def item_row(body: str, key: str, item_id: int) -> str:
    """The row <tbody id="{key}-{item_id}">; fails the test if there is none."""
    match = re.search(rf'<tbody id="{key}-{item_id}".*?</tbody>', body, re.S)
    assert match, f"no row {key}-{item_id}"
    return match.group(0)


def input_names(body: str) -> set[str]:
    """The names of the form's inputs, selects and textareas but the CSRF token and row ids."""
    return set(re.findall(r'<(?:input|select|textarea)\b[^>]*?\bname="([\w-]+)"', body)) - {"csrf_token", "ids"}


def has_field_error(body: str, field: str, message: str) -> bool:
    """The message shown next to the input: in its cell for a line input, after its label otherwise."""
    msg = re.escape(f'<span class="field-error">{message}</span>')
    if field.startswith("line-"):
        pattern = rf'<td>(?:(?!</td>).)*?name="{field}"(?:(?!</td>).)*?{msg}'
    else:
        pattern = rf'name="{field}"(?:(?!</label>).)*</label>\s*{msg}'
    return re.search(pattern, body, re.S) is not None


def accept_form_body(clients, world, it, headers=HX):
    """The approver's GET of the item's Accept form: (response, text)."""
    response = clients["approver"].get(world.tab_url(it.key, it.erp, "accept"), headers=headers)
    return response, text(response)


def settings_form(current: settings.Settings, **changes) -> dict:
    """The Settings page's form for `current` with `changes` (form keys; False leaves a box unticked)."""
    form = {f"direct_export_{k}": "on" for k, on in current.direct_export.items() if on}
    for key in ("use_contract_number_as_sage_id", "consolidate_invoice_lines", "export_forecast_amounts"):
        if getattr(current, key):
            form[key] = "on"
    form["job_number_mask"] = current.job_number_mask
    for key, value in changes.items():
        if value is False:
            form.pop(key, None)
        else:
            form[key] = value
    return form
