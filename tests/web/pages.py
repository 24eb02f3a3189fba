"""Helpers the page tests share: a response's text, page or fragment, what its HTML holds, and a
test's World of projects and items."""
from __future__ import annotations

import html
import re
from contextlib import contextmanager
from functools import cached_property
from urllib.parse import urlsplit

from portal.domain import settings
from portal.domain.lifecycle import State
from portal.domain.models import User
from tests import items
from tests.factories import app_session, settings_form, suffix  # noqa: F401 - settings_form: for the page tests
from tests.types import direct_export_keys
from tests.web.roles import members

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
    msg = re.escape(f'<span class="field-error">{message}')  # the message, or how it starts
    if field.startswith("line-"):
        pattern = rf'<td>(?:(?!</td>).)*?name="{field}"(?:(?!</td>).)*?{msg}'
    else:
        pattern = rf'name="{field}"(?:(?!</label>).)*</label>\s*{msg}'
    return re.search(pattern, body, re.S) is not None


def accept_form_body(clients, it, headers=HX):
    """The approver's GET of the item's Accept form: (response, text)."""
    response = clients["approver"].get(items.tab_url(it.key, it.erp, "accept"), headers=headers)
    return response, text(response)


# ---- a test's projects and items ----------------------------------------------------------------

class World:
    """A test's projects (named with one token: a search for it finds them all, with the project roles
    of tests/web/roles.py as members) and its items, made and walked through the services
    (tests/items.py). Ids only: requests are made between short sessions, with no app context held."""

    sender: str | None = None   # who sends the items (None: the type's admin, as on the project side)

    def __init__(self, app, sim, people, home=None, **setup_kw):
        self.app, self.sim, self.people = app, sim, people
        self.token = home.token if home else suffix(8)
        self.setup_kw = setup_kw  # factories.Setup's: vendor_status="Inactive", vendor_erp=False...
        if home is not None:
            self.home = home

    @cached_property
    def home(self):
        with app_session(self.app) as s:
            return items.make_home(s, self.sim, members(self.people), self.token, **self.setup_kw)

    def user(self, s, role: str):
        return s.get(User, self.people[role].id)

    def another_home(self, **setup_kw):
        with app_session(self.app) as s:
            return items.another_home(s, self.sim, self.home, **setup_kw)

    def item(self, key: str, state: str = State.DRAFT, *, creator: str | None = None, sender: str | None = None,
             home=None, **kw):
        """A new item of the type, walked through the services as far as `state` (creator and sender:
        roles; by default the type's admin)."""
        admin = items.builder(key).admin
        home = home or self.home
        with app_session(self.app) as s:
            return items.make_item(s, self.sim, key, state, home=home,
                                   sender=self.user(s, sender or self.sender or admin),
                                   creator=self.user(s, creator or self.sender or admin),
                                   approver=self.user(s, "approver"), **kw)

    def erp(self, erp_id: int) -> tuple:
        with app_session(self.app) as s:
            return items.erp_state(s, erp_id)

    def erp_of(self, key: str, item_id: int):
        with app_session(self.app) as s:
            return items.erp_of(s, key, item_id)

    def snapshot(self, key: str, item_id: int):
        with app_session(self.app) as s:
            return items.snapshot(s, key, item_id)

    def count(self, key: str) -> int:
        with app_session(self.app) as s:
            return items.count(s, key)


@contextmanager
def changed_settings(app, actor_id: int, **changes):
    """The company settings with `changes` (form keys; False unticks a box) for the block, then exactly
    as before (they are company-wide: every test must leave them as it found them)."""
    with app_session(app) as s:
        before = settings.load(s)
        settings.update(s, s.get(User, actor_id), settings_form(before, **changes), direct_export_keys())
    try:
        yield before
    finally:
        with app_session(app) as s:
            settings.update(s, s.get(User, actor_id), settings_form(before), direct_export_keys())
            assert settings.load(s) == before


def accept_and_settle(clients, drain, item, fields) -> str:
    """The approver accepts with `fields` (htmx), the export runs, and the settled row is returned (286)."""
    response = clients["approver"].post(items.tab_url(item.key, item.erp, "accept"), data=fields, headers=HX)
    body = text(response)
    assert response.status_code == 200 and 'data-state="exporting"' in body, body[:600]
    drain()
    settled = clients["approver"].get(items.tab_url(item.key, item.erp, "status"), headers=HX)
    assert settled.status_code == 286
    return text(settled)


def assert_form_refused(response, form: dict, message: str, field: str | None, echoed: tuple = ()) -> None:
    """A project-side form answered 422 as a page: the message next to its field (or at the top, for the
    whole form), and what was typed in the `echoed` inputs (and those of the lines: line-<n>-<name>)
    comes back."""
    body = text(response)
    assert response.status_code == 422, body[:500]
    assert is_page(body) and message in body
    if field:
        assert "Please correct the highlighted fields." in body
        assert has_field_error(body, field, message), f"no message next to {field}"
    else:
        assert f'<p class="msg error" role="alert">{message}</p>' in body
    for name, value in form.items():  # what was typed comes back
        if (name in echoed or name.split("-")[-1] in echoed and name.startswith("line-")) and (value or "").strip():
            assert f'value="{value}"' in body, name


def list_row(clients, key: str, pid: int | None, item_id: int, role: str = "project_admin") -> str:
    """The item's row (its <tbody>) on the type's project-side list, as `role` sees it (htmx)."""
    body = text(clients[role].get(items.list_url(key, pid), headers=HX))
    return item_row(body, *items.row_id(items.Item(key, item_id, None, pid, "")).rsplit("-", 1))
