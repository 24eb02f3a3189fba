"""Fuzzing every route: the routes of the app's url_map, the roles that may reach each, the real values
of their path parameters and the real names of their form fields (crawled from the pages the portal
renders), and Hypothesis strategies for what a hostile client sends. Shared by tests/web/test_fuzz.py
(a few examples per route, in the suite) and bench/fuzz.py (10,000 requests and more).

A request is drawn as one Hypothesis example: a role that may reach the route, its path parameters (an
id seen on a page, or 0, 2^31, 2^63, 10^20...), a query string and form fields (the route's own field
names, with values seen in its forms or hostile ones: NaN, 1e999, Arabic-Indic digits, NUL, bidi
overrides, emoji, 10,000 characters, SQL and XSS), or a JSON body for the API. `send` makes it and
returns the response; the caller asserts what must hold (no status >= 500; JSON under /api/).
"""
from __future__ import annotations

import html
import json
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from tests.web.roles import ANON

# Routes the fuzz leaves alone, each with why; and routes fuzzed with fewer roles than may reach them.
SKIPPED = {
    ("/static/<path:filename>", "GET"): "files served from disk: no input reaches the portal's code",
}
ONLY_ROLES = {
    # signing out ends every session of the user (the fuzz's signed-in clients with it): anonymous only
    ("/logout", "POST"): frozenset({ANON}),
}

# ---- hostile values --------------------------------------------------------------------------------

# where a `next` or the HX-Current-URL header may point: off site, unreadable ("http://[": an IPv6 host
# never closed), a scheme that runs code
URLS = ["//evil.com", "/\t/evil.com", "/\\evil.com", "http://[", "//[", "/[::1", "http://[::1/x", "javascript:alert(1)",
        "http://localhost/erp/?x=1", "/projects/"]
HOSTILE = [
    # numbers Decimal, float and int() read but an amount, id or page must not be
    "NaN", "-nan", "sNaN", "Infinity", "-Infinity", "inf", "1e999", "-1e999", "1E+9", "1e-999",
    "9" * 400, "0." + "0" * 60 + "1", "99999999999999999999.99", "-0", "0", "-1", "1.5", "1,00,0",
    "2147483648", "9223372036854775808", "18446744073709551616", "1" * 5000, "0x1F", "1_000",
    # digits that are not ASCII
    "\u0661\u0662\u0663", "\u0663", "\u00b2", "\u0661\u0662\u0663\u066b\u0664\u0665", "\uff11\uff12",
    # control characters, invisible and direction-changing ones
    "\x00", "a\x00b", "\x1b[31mred", "\x7f", "\r\nX-Injected: 1", "\t", "\u202eevil\u202c",
    "\u2066x\u2069", "\u200b", "\ufeff", "\u00a0",
    # emoji, combining and other wide characters; ones Windows-1252 has and ones it has not
    "\U0001f600" * 10, "\U0001f468\u200d\U0001f469\u200d\U0001f467", "e\u0301" * 20, "\u20ac\u2019",
    "\u0130\u00df\u03a9", "\u4e2d\u6587",
    # lengths
    "", " ", "x" * 10_000, "y" * 256,
    # injection
    "' OR 1=1 --", "'; DROP TABLE users; --", '"', "\\", "%", "_", "%00", "%s%n",
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}", "${7*7}",
    "../../etc/passwd",
    *URLS,
    # dates and booleans
    "02/30/2026", "9999-12-31", "0000-00-00", "13/13/2026", "on", "off", "true", "null", "[]", "{}",
]
IDS = ["0", "1", "2", "2147483647", "2147483648", "9223372036854775807", "9223372036854775808",
       "1" + "0" * 20, "-1", "\u0663", "00000000000000000000001", "1" * 5000]
QUERY_NAMES = ["page", "q", "filter", "next", "status", "company", "section"]

# Text Hypothesis makes up, without lone surrogates (no client can encode them)
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
hostile = st.one_of(
    st.sampled_from(HOSTILE),
    _text,
    st.integers().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
)


def ids(known: list[str]) -> st.SearchStrategy[str]:
    """A path id: one seen on a page, an edge (0, 2^31, 2^63, 10^20, 5,000 digits...) or any number."""
    return st.one_of(st.sampled_from(known or ["1"]), st.sampled_from(IDS), st.integers(0, 10**6).map(str))


def json_values(depth: int = 2) -> st.SearchStrategy:
    leaves = st.one_of(hostile, st.none(), st.booleans(), st.integers(), st.floats())
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(_text, inner, max_size=3)),
                        max_leaves=depth * 3)


# ---- the routes -------------------------------------------------------------------------------------

@dataclass
class Route:
    rule: str
    method: str
    roles: frozenset
    args: dict = field(default_factory=dict)         # argument -> converter ("int" or "default")
    seen: list = field(default_factory=list)         # argument dicts seen in the portal's links and forms
    fields: dict = field(default_factory=dict)       # form field -> values seen in its forms
    queries: set = field(default_factory=set)        # query names seen in links to it

    @property
    def api(self) -> bool:
        return self.rule.startswith("/api/")

    @property
    def name(self) -> str:
        return f"{self.method} {self.rule}"

    def seed(self, base: int = 0) -> int:
        """The route's own Hypothesis seed: fixed, so a run is the same on every machine, and not another
        route's (one seed for all would send every route the same few bodies and values)."""
        return base * 1_000_003 + zlib.crc32(self.name.encode())


_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def routes(app, reach) -> tuple[list[Route], dict]:
    """Every route (rule and method but HEAD and OPTIONS) of the app's url_map but SKIPPED, with the roles
    `reach(rule, method)` says may reach it (anonymous always: the login redirect or the 401 is a path too).
    Also returns the skipped routes with their reasons."""
    found, skipped = [], {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (rule.rule, method) in SKIPPED:
                skipped[rule.rule, method] = SKIPPED[rule.rule, method]
                continue
            roles = ONLY_ROLES.get((rule.rule, method)) or frozenset(reach(rule.rule, method)) | {ANON}
            args = {name: "int" if kind == "int" else "default" for kind, name in _ARG.findall(rule.rule)}
            found.append(Route(rule.rule, method, roles, args))
    return found, skipped


# ---- what the pages show: links, forms and their fields ---------------------------------------------

_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
_ATTR = re.compile(r'\b(action|href|hx-get|hx-post|hx-put)="([^"]*)"', re.I)
_INPUT = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.I)
_NAME = re.compile(r'\bname="([^"]+)"')
_VALUE = re.compile(r'\bvalue="([^"]*)"')
_OPTION = re.compile(r'<option\b[^>]*\bvalue="([^"]*)"', re.I)


class Crawl:
    """Pages fetched from the seeds (every GET route without arguments) as a few roles, following links
    (href, hx-get) to at most `per_rule` URLs of each route: the argument values, form fields and query
    names seen, by route."""

    def __init__(self, app, table: list[Route]):
        self.app, self.adapter = app, app.url_map.bind("portal.test")
        self.by_key = {(r.rule, r.method): r for r in table}

    def match(self, url: str, method: str) -> tuple[Route | None, dict]:
        parts = urlsplit(html.unescape(url))
        if parts.netloc or not parts.path.startswith("/"):
            return None, {}
        try:
            rule, args = self.adapter.match(parts.path, method, return_rule=True)
        except (HTTPException, RequestRedirect):
            return None, {}
        return self.by_key.get((rule.rule, method)), args

    def note(self, url: str, method: str, form: str = "") -> None:
        route, args = self.match(url, method)
        if route is None:
            return
        args = {k: str(v) for k, v in args.items() if k in route.args}
        if args and args not in route.seen:
            route.seen.append(args)
        route.queries.update(k for k, _ in parse_qsl(urlsplit(html.unescape(url)).query))
        for tag, attrs in _INPUT.findall(form):
            name = _NAME.search(attrs)
            if not name or name.group(1) == "csrf_token":
                continue
            values = route.fields.setdefault(name.group(1), [])
            value = _VALUE.search(attrs)
            seen = [value.group(1)] if value else []
            if tag.lower() == "select":  # the options follow the tag
                seen += _OPTION.findall(form[form.find(attrs):].split("</select>", 1)[0])
            values.extend(html.unescape(v) for v in seen if html.unescape(v) not in values)

    def run(self, clients: dict, roles: list[str], per_rule: int = 12, limit: int = 800) -> int:
        """Fetch the pages; returns how many were fetched. Then a route takes the argument values seen
        on every route with the same arguments (an API route those of its page, Requeue those of Row)."""
        fetched = 0
        for role in roles:
            visits: dict = defaultdict(int)
            queue = [r.rule for r in self.by_key.values() if r.method == "GET" and not r.args]
            done = set()
            while queue and fetched < limit:
                url = queue.pop(0)
                route, _ = self.match(url, "GET")
                if url in done or route is None or visits[route.rule] >= per_rule:
                    continue
                done.add(url)
                visits[route.rule] += 1
                response = clients[role].get(url)
                fetched += 1
                if response.status_code != 200 or response.mimetype != "text/html":
                    continue
                page = response.get_data(as_text=True)
                for attrs, body in _FORM.findall(page):
                    action = dict((k.lower(), v) for k, v in _ATTR.findall(attrs))
                    method = "POST" if "post" in attrs.lower() else "GET"
                    target = action.get("hx-post") or action.get("action") or url
                    form_id = re.search(r'\bid="([^"]+)"', attrs)
                    if form_id:  # inputs elsewhere on the page that name the form (form="bulk")
                        body += "".join(m.group(0) for m in _INPUT.finditer(page)
                                        if f'form="{form_id.group(1)}"' in m.group(0))
                    self.note(target, method, body)
                for kind, link in _ATTR.findall(page):
                    method = {"hx-post": "POST", "hx-put": "PUT"}.get(kind.lower(), "GET")
                    self.note(link, method)
                    if method == "GET":
                        queue.append(html.unescape(link))
        alike: dict = defaultdict(list)
        for route in self.by_key.values():
            alike[frozenset(route.args)].extend(a for a in route.seen if a not in alike[frozenset(route.args)])
        for route in self.by_key.values():
            route.seen = list(alike[frozenset(route.args)]) if route.args else []
        return fetched


# ---- one fuzzed request -----------------------------------------------------------------------------

@dataclass
class Request:
    role: str
    method: str
    url: str
    form: dict | None = None
    body: bytes | None = None
    headers: dict = field(default_factory=dict)

    def __str__(self) -> str:
        shown = self.form if self.form is not None else self.body
        return f"{self.role}: {self.method} {self.url[:300]} {str(shown)[:300]} {self.headers}"


def _path(route: Route, args: dict) -> str:
    def sub(match):
        return quote(args[match.group(1)], safe="")
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", sub, route.rule)


def _in_header(value: str) -> bool:
    """Whether a client can send the value in a header at all (Werkzeug refuses CR, LF and NUL)."""
    return not set(value) & set("\r\n\x00")


@st.composite
def requests(draw, route: Route, api_fields: list[str] = ()) -> Request:
    """One request to `route`: a role, path arguments, a query, form fields (a JSON body for the API)."""
    role = draw(st.sampled_from(sorted(route.roles)))
    args = dict(draw(st.sampled_from(route.seen))) if route.seen and draw(st.booleans()) else {}
    for name, kind in route.args.items():
        if name not in args or draw(st.integers(0, 3)) == 0:
            known = sorted({a[name] for a in route.seen if name in a})
            args[name] = draw(ids(known) if kind == "int" else
                              st.one_of(st.sampled_from(known or ["x"]), hostile))
    url = _path(route, args)
    names = sorted(route.queries | set(QUERY_NAMES)) if route.method == "GET" else ["next"]
    query = draw(st.dictionaries(st.sampled_from(names), st.one_of(st.sampled_from(URLS), hostile), max_size=3))
    if query:
        url += "?" + urlencode(query)
    headers = draw(st.sampled_from([{}, {"HX-Request": "true"},
                                    {"HX-Request": "true", "HX-Boosted": "true"}]))
    if headers:  # htmx sends the page's URL with every request: mostly one of URLS here
        current = st.sampled_from(URLS) if draw(st.integers(0, 3)) else hostile.filter(_in_header)
        headers = {**headers, "HX-Current-URL": draw(current)}
    if route.api:
        if role == ANON and draw(st.booleans()):  # a token that is none (the roles send their own)
            scheme = draw(st.sampled_from(["Bearer ", "Basic ", "bearer"]))
            headers = {**headers, "Authorization": scheme + draw(hostile.filter(_in_header))}
        fields = api_fields or ["name"]
        body = draw(st.one_of(
            st.dictionaries(st.sampled_from(fields), json_values(), max_size=len(fields)).map(json.dumps),
            json_values(3).map(json.dumps),
            st.sampled_from(["", "not json", "{", "[" * 5000 + "]" * 5000, '{"a": NaN}', '{"a": 1e999}']),
        ))
        return Request(role, route.method, url, body=body.encode(), headers=headers)
    if route.method == "GET":
        return Request(role, route.method, url, headers=headers)
    form = {}
    for name, seen in sorted(route.fields.items()):
        choice = draw(st.integers(0, 3))  # leave out, a value seen, a hostile one, several
        if choice == 1 and seen:
            form[name] = draw(st.sampled_from(seen))
        elif choice == 2:
            form[name] = draw(hostile)
        elif choice == 3:
            form[name] = draw(st.lists(st.one_of(st.sampled_from(seen or [""]), hostile), max_size=3))
    return Request(role, route.method, url, form=form, headers=headers)


_CSRF = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def csrf_token(client) -> str:
    """The CSRF token of the client's session, as a form of the portal carries it ("" when none shows)."""
    for url in ("/account", "/login"):
        response = client.get(url)
        found = _CSRF.search(response.get_data(as_text=True)) if response.status_code == 200 else None
        if found:
            return found.group(1)
    return ""


def send(client, request: Request, token: str | None = None, csrf: str = ""):
    """Make the request with the role's client, its API token or the CSRF token of its session."""
    headers = dict(request.headers)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if request.body is not None:
        return client.open(request.url, method=request.method, data=request.body,
                           content_type="application/json", headers=headers)
    form = {**request.form, "csrf_token": csrf} if request.form is not None and csrf else request.form
    return client.open(request.url, method=request.method, data=form, headers=headers)


def answer(app, clients: dict, csrf: dict, tokens: dict, request: Request, address: str):
    """The response to `request`, made with its role's client (anonymous: a new client from `address`,
    so a sign-in does not carry over to the next request) and the CSRF or API token of that role."""
    client, token = clients.get(request.role), csrf.get(request.role, "")
    if request.role == ANON:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        token = csrf_token(client)
    return send(client, request, tokens.get(request.role), token)


def problem(request: Request, response) -> str | None:
    """What is wrong with the answer: a status >= 500, or an error under /api/ that is not JSON."""
    status = response.status_code
    if status >= 500:
        return f"{status} for {request}"
    if request.url.startswith("/api/") and status >= 400 and response.mimetype != "application/json":
        return f"{status} {response.mimetype} (not JSON) for {request}"
    return None


# ---- the portal a fuzz runs against (the test's and the benchmark's) --------------------------------

def reach(rule: str, method: str) -> frozenset:
    """The roles test_access's matrix lets through to the route (for any type, on a <type_key> route)."""
    from tests.types import type_keys
    from tests.web.test_access import ROUTES, type_cases
    cases = [ROUTES.get((rule, method))] + [type_cases(k).get((rule, method)) for k in type_keys()]
    return frozenset().union(*(c.allowed for c in cases if c is not None))


def prepare(app, sim, people, clients, address: str) -> tuple[list[Route], dict]:
    """The routes, crawled from a portal holding items of every type in each state a form shows (draft,
    ready, rejected) and Sage records to import; the clients sign in from `address` (refused sign-ins
    count against it). The fuzz's own users and tokens are not fuzzed (a deactivated site admin fuzzes
    nothing); a sign-in with the right password is, for the `next` it goes to."""
    from portal.domain import api_tokens
    from portal.domain.lifecycle import State
    from tests.factories import PASSWORD, app_session
    from tests.types import type_keys
    from tests.web.access_world import World
    world = World(app, sim, people)
    for key in type_keys():
        for state in (State.DRAFT, State.READY, State.REJECTED):
            world.item(key, state)
    for made in ("vendor_record", "archived_record", "job_record", "extra_record", "contract_record", "mail",
                 "sync_run", "company", "linkable_project", "target_user"):
        getattr(world, made)
    found, skipped = routes(app, reach)
    for client in clients.values():
        client.environ_base["REMOTE_ADDR"] = address
    Crawl(app, found).run(clients, [ANON, "site_admin", "approver", "erp_admin_no_push"])
    with app_session(app) as s:
        own_tokens = {str(t.id) for p in people.values() for t in api_tokens.tokens_of(s, p.id)}
    own = {"user_id": {str(p.id) for p in people.values()}, "token_id": own_tokens}
    for route in found:
        route.seen = [a for a in route.seen if not any(a.get(k) in v for k, v in own.items())]
        if route.rule == "/login" and route.method == "POST":
            route.fields.setdefault("username", []).append(people["none"].username)
            route.fields.setdefault("password", []).append(PASSWORD)
    return found, skipped


def api_fields(found: list[Route]) -> list[str]:
    """The JSON API takes the fields of the types' project-side forms."""
    return sorted({name for r in found if r.rule.endswith("<type_key>/new") and r.method == "POST"
                   for name in r.fields})


# ---- Schemathesis over the JSON API -----------------------------------------------------------------

def schemathesis_failures(app, token: str, settings, project_id: int | None = None) -> tuple[int, list[str]]:
    """Every operation of /api/v1/openapi.json, positive and negative cases, with the token: the answer
    must be below 500, with a documented status and content type and a body that matches the document,
    and a request the document calls invalid must be refused (4xx).
    Each operation also runs with `project_id` fixed to a real project (its items then answer 200).
    Each run has a fixed seed of its own (`settings` should not derandomize: that is one seed for all).
    Returns (cases run, one line per failing operation)."""
    import schemathesis
    from hypothesis import given, seed
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
              negative_data_rejection]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    auth = {"Authorization": f"Bearer {token}"}
    ran, failures = [0], []
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed = [{}]
        if project_id is not None and "project_id" in operation.path:
            fixed.append({"project_id": project_id})
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            for path_parameters in fixed:
                @seed(zlib.crc32(f"{operation.label} {mode.value} {path_parameters}".encode()))
                @settings
                @given(operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
                def run(case):
                    ran[0] += 1
                    case.call_and_validate(headers=auth, checks=checks)
                try:
                    run()
                except Exception as exc:  # noqa: BLE001 - a check's FailureGroup, or the app's own exception
                    how = f"{mode.value} {path_parameters or ''}".strip()
                    failures.append(f"{operation.label} ({how}): {type(exc).__name__}: {str(exc)[:1500]}")
    return ran[0], failures
