"""Every text a person types has a limit: a 10,000-character value in any text input of any form is
refused naming the field (a 4xx, the message at the field), never a 500, never stored cut short.

The forms are found, not listed: the pages are crawled from the home page along every same-site
link (href, hx-get) as a user who may see everything (and as a project's admin, for the project
side), with items of every registered type waiting in their tabs and Sage records Ready to Import,
so a form added to any page is covered without touching this file. Each text input of each form
(one per form action and item type) is posted with the form's own values and that one input
10,000 characters long.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from tests import factories as f
from tests.factories import app_session as dbs
from tests.rows import check_rows
from tests.types import type_keys
from tests.web.pages import World, text

ROLE_USERS = {"everything": dict(site_admin=True, erp_level=ToolLevel.ADMIN, push=True),
              "project_admin": {}, "project_readonly": {}, "site_admin": dict(site_admin=True),
              "approver": dict(erp_level=ToolLevel.STANDARD, push=True)}
CRAWLERS = ("project_admin", "everything")  # the project side (members only), then everything else
LONG = 10_000
# free text (an amount or a date too long is refused as no amount or date: test_values.py)
TEXT_INPUTS = {"text", "email", "search", "tel", "url", "textarea", ""}
NOT_TYPED = {"csrf_token", "next"}   # hidden plumbing, not typed: safe_next and CSRF own them
# where the crawl does not go: sign-out and sign-in, the API (test_api.py), files and health probes
SKIP = re.compile(r"^/(logout|login|api/|static/|health|.*\.csv)")
PAGES_PER_ENDPOINT = 3


class Forms(HTMLParser):
    """The links and the forms of a page: each form's method, action and fields (name -> input
    type and value; a select's selected or first option; a checkbox only when checked)."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._option: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for attr in ("href", "hx-get"):
            if a.get(attr):
                self.links.append(a[attr])
        if tag == "form":
            self._form = {"method": (a.get("method") or "get").lower(), "action": a.get("action") or "",
                          "fields": {}}
            self.forms.append(self._form)
        if self._form is None or not a.get("name"):
            return
        fields = self._form["fields"]
        if tag == "input":
            kind = (a.get("type") or "").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if a.get("inputmode") == "decimal":
                kind = "decimal"  # an amount: a long one is no amount (test_values.py), not too long
            if kind not in ("submit", "button", "file"):
                fields[a["name"]] = (kind, a.get("value") or "")
        elif tag == "select":
            self._select = a["name"]
            fields[a["name"]] = ("select", None)
        elif tag == "option" and self._select:
            kind, value = fields[self._select]
            if value is None or not value and a.get("value") or "selected" in a:  # else the first choice
                fields[self._select] = (kind, a.get("value"))
                self._option = None if "value" in a else self._select  # its text is its value
        elif tag == "textarea":
            self._textarea = a["name"]
            fields[a["name"]] = ("textarea", "")

    def handle_data(self, data):
        if self._option and self._form is not None:
            self._form["fields"][self._option] = ("select", data.strip())
            self._option = None
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] = ("textarea", data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def crawl(app, client, start: str) -> dict:
    """Every form reachable from `start`: (method, endpoint, type_key) -> (page url, form)."""
    urls = app.url_map.bind("localhost")
    seen, per_endpoint, found = set(), {}, {}
    todo = [start]
    while todo:
        url = todo.pop()
        path = urlsplit(url)
        if url in seen or SKIP.match(path.path):
            continue
        seen.add(url)
        try:
            endpoint, args = urls.match(path.path, method="GET")
        except (NotFound, MethodNotAllowed):
            continue
        shape = (endpoint, args.get("type_key"), args.get("list_key"), args.get("section"))
        if per_endpoint.get(shape, 0) >= PAGES_PER_ENDPOINT:
            continue
        per_endpoint[shape] = per_endpoint.get(shape, 0) + 1
        response = client.get(url)
        if response.status_code in (301, 302, 303) and response.location:
            todo.append(urlsplit(response.location)._replace(scheme="", netloc="").geturl())
        if response.status_code != 200 or "html" not in (response.content_type or ""):
            continue
        page = Forms()
        page.feed(text(response))
        todo += [link for link in page.links if link.startswith("/") and not link.startswith("//")]
        for form in page.forms:
            action = form["action"] or path.path
            try:
                target, target_args = urls.match(urlsplit(action).path, method=form["method"].upper())
            except (NotFound, MethodNotAllowed):
                continue
            found.setdefault((form["method"], target, target_args.get("type_key"), target_args.get("section")),
                             (url, action, form))
    return found


def test_a_10000_character_value_in_any_text_input_of_any_form_is_refused_naming_the_field(app, sim, clients,
                                                                                            world):
    for key in type_keys():  # every tab has a row to accept or reject, every list a draft to edit
        world.item(key, State.READY)
        world.item(key)
    with dbs(app) as s:
        f.sage_vendor(s, sim)
        f.sage_job(s, sim)
    cases, found = {}, {role: crawl(app, clients[role], "/") for role in CRAWLERS}
    # a blank "new" form takes the values of a filled form of the same type (its edit form), so
    # the one long input is the only thing wrong with what is posted
    filled: dict = {}
    for forms in found.values():
        for (_m, _e, type_key, _s), (_page, _action, form) in forms.items():
            for name, (_k, value) in form["fields"].items():
                if value:
                    filled.setdefault((type_key, name), value)
    for role in CRAWLERS:
        for (method, endpoint, type_key, section), (_page, action, form) in found[role].items():
            form["fields"] = {name: (kind, value or filled.get((type_key, name))
                                     or ("T1" if kind in TEXT_INPUTS and not name.startswith("line-") else ""))
                              for name, (kind, value) in form["fields"].items()}
            for name, (kind, _) in form["fields"].items():
                case = (f"{method.upper()} {endpoint}{'/' + type_key if type_key else ''}"
                        f"{'/' + section if section else ''} {name}")
                if kind in TEXT_INPUTS and name not in NOT_TYPED and case not in cases:
                    cases[case] = (role, method, action, form["fields"], name)
    assert len(cases) > 40, sorted(cases)  # the crawl found the forms (a broken crawl finds none)

    def refused(role, method, action, fields, name):
        data = {k: (value or "") for k, (_, value) in fields.items()}
        data[name] = "x" * LONG
        client = clients[role]
        response = (client.get(action + ("&" if "?" in action else "?") + urlencode(data)) if method == "get"
                    else client.post(action, data=data))
        body = text(response)
        told = re.findall(r'class="(?:field-error|msg error)"[^>]*>([^<]{0,160})', body)
        assert 400 <= response.status_code < 500 and response.status_code != 413, (response.status_code, told)
        if response.status_code == 409:  # the form cannot be used now (a locked budget): nothing to check
            skipped.append(name)
            return
        if method == "get":  # a search: the page says which and its limit
            assert any("characters" in t for t in told), told
        else:  # named: the message next to the input, or one for the whole form that names it
            assert error_at(body, name) or any(re.search(rf"\b{re.escape(name.replace('_', ' '))}\b", t, re.I)
                                               for t in told), told

    skipped: list = []
    check_rows(cases, refused)
    assert len(skipped) < len(cases) / 4, skipped




def error_at(body: str, name: str) -> str | None:
    """The message shown next to input `name` (a page may show several forms with such an input):
    a field error between one of them and the next input."""
    for found in re.finditer(f'name="{re.escape(name)}"', body):
        tail = body[found.end():]
        following = re.search(r'<(?:input|select|textarea)\b', tail)
        message = re.search(r'class="field-error"[^>]*>([^<]+)', tail[:following.start()] if following else tail)
        if message:
            return message.group(1)
    return None
