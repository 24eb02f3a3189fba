"""Pages and fragments through the test client, with the subcontractor invoice (the first type):
one URL, the whole page or its block (boosted links and history restores get the page); Vary; a
lost session; the invoice's own Accept fields and edit form, which answer 422 and change nothing;
Sage's refusal with cause and solution; search, pages and counts; ids and pages beyond the
database's integers; bulk accept; the project page's reasons; unlink without htmx; CSRF; signing
in; all-or-nothing admin forms. What every type does is
in test_item_pages.py; who may do it in test_access.py.

Requests are made with no app context pushed (a context held across requests shares flask.g,
and with it Flask-Login's cached user, between requests); the database is read in short
`dbs(app)` blocks in between.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import request, url_for
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from portal.domain.lifecycle import State
from portal.domain.models import InvoiceLine, InvoiceStatus, ProjectMember, SubcontractorInvoice, ToolLevel, User
from portal.domain.types import REGISTRY
from tests import factories as f, items as ti
from tests.items import item_url, list_url, tab_url
from tests.rows import check_rows
from tests.web.pages import BOOSTED, HX, RESTORE, counts, is_fragment, is_page, path_of, tab_row_ids, text

KEY = "subcontractor_invoice"
TAB = f"/erp/{KEY}"
dbs = f.app_session
row_ids = tab_row_ids

ROLE_USERS = {"approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "standard": dict(erp_level=ToolLevel.STANDARD), "project_admin": {},
              "project_readonly": {}, "site_admin": dict(site_admin=True),
              # reaches every route's query: what an id beyond the database's integers must not
              "everything": dict(site_admin=True, erp_level=ToolLevel.ADMIN, push=True)}


def rowurl(erp_id: int, what: str) -> str:
    return tab_url(KEY, erp_id, what)


def vary(response) -> str:
    return response.headers.get("Vary", "")


def invoice_state(world, invoice_id: int) -> tuple:
    with dbs(world.app) as s:
        inv = s.get(SubcontractorInvoice, invoice_id)
        lines = s.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                          .order_by(InvoiceLine.id)).all()
        return (inv.number, inv.status, inv.billing_date, inv.total_amount, inv.total_retainage,
                tuple((ln.id, ln.work_completed, ln.materials_stored, ln.retainage) for ln in lines))


def edit_form(world, inv, **change) -> dict:
    with dbs(world.app) as s:
        return ti.invoice_form(s, inv, **change)


# ---- full page or fragment ---------------------------------------------------------------

# url, who asks, the block an htmx request gets (None: the view has no block, every request gets the page)
VIEWS = {
    "erp tab": (lambda w: TAB, "approver", '<div id="tab-body">'),
    "erp tab failed, searched": (lambda w: f"{TAB}?filter=failed&q={w.home.vendor_name}", "approver",
                                 '<div id="tab-body">'),
    "erp tab synced, read only": (lambda w: f"{TAB}?filter=synced", "standard", '<div id="tab-body">'),
    "project invoices": (lambda w: list_url(KEY, w.home.pid), "project_admin",
                         '<table class="grid" id="invoice-table">'),
    "projects": (lambda w: "/projects/", "project_admin", None),
    "needs attention": (lambda w: "/attention/", "project_admin", '<p class="counts" id="attention-counts">'),
    "a project's attention panel": (lambda w: f"/projects/{w.home.pid}/attention", "project_admin",
                                    '<section class="attention-panel"'),
    "users": (lambda w: "/admin/users", "site_admin", None),
    "mail": (lambda w: "/admin/mail", "site_admin", '<div id="mail-list">'),
    "audit log": (lambda w: f"/erp/audit-log?q={w.token}", "approver", '<div id="results">'),
}


def test_one_url_answers_the_page_or_its_block(clients, world):
    """Without HX-Request, boosted or restoring history: the whole page; a plain htmx request: the
    view's block (a view without one: the page). Every answer says Vary: HX-Request."""
    world.item(KEY, State.READY)
    problems = []
    for name, (url, role, block) in VIEWS.items():
        for label, headers in (("page", None), ("htmx", HX), ("boosted", BOOSTED), ("history restore", RESTORE)):
            response = clients[role].get(url(world), headers=headers)
            body = text(response)
            wanted_block = block if label == "htmx" else None
            ok = (response.status_code == 200 and "HX-Request" in vary(response) and
                  (is_fragment(body) and body.strip().startswith(wanted_block) if wanted_block else
                   is_page(body) and (block is None or block in body)))
            if not ok:
                problems.append(f"{name} ({label}): {response.status_code} {body[:120]!r}")
    assert not problems, problems


def test_vary_is_sent_on_redirects_errors_and_fragments(app, clients, world):
    inv = world.item(KEY, State.READY)
    for response in (app.test_client().get(TAB), clients["approver"].get(f"{TAB}/999999999/row", headers=HX),
                     clients["standard"].get(rowurl(inv.erp, "accept"), headers=HX),
                     clients["approver"].get(rowurl(inv.erp, "row"), headers=HX),
                     clients["approver"].get("/erp/")):
        assert "HX-Request" in vary(response), response.status_code


def test_htmx_lost_session_returns_to_the_page_not_to_the_fragment(app, world):
    """After signing in again the user must land on the page they were on, not on a bare <tbody>."""
    inv = world.item(KEY, State.READY)
    page = f"{TAB}?filter=ready&q={inv.number}"
    response = app.test_client().get(rowurl(inv.erp, "status"),
                                     headers={**HX, "HX-Current-URL": f"http://localhost{page}"})
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/login"
    assert parse_qs(target.query).get("next") == [page]


def test_htmx_lost_session_with_an_unreadable_current_url_goes_to_the_login(app, world):
    """An HX-Current-URL that cannot be parsed ("http://[": an IPv6 host never closed) is no page to
    return to: the login, not a 500 (found by the fuzz)."""
    inv = world.item(KEY, State.READY)
    for current in ("http://[", "http://[::1/erp/"):
        response = app.test_client().get(rowurl(inv.erp, "status"), headers={**HX, "HX-Current-URL": current})
        assert response.status_code == 200, (current, response.status_code)
        assert response.headers["HX-Redirect"] == "/login", (current, response.headers["HX-Redirect"])


# ---- accept and reject: 422 and nothing changed ------------------------------------------

BAD_ACCEPT = {
    "erp id too long": ({"erp_id": "X" * 16}, "erp_id", "ERP ID must be 15 characters or less"),
    "erp id empty": ({"erp_id": "  "}, "erp_id", "ERP ID is required."),
    "bad date": ({"accounting_date": "2026-02-30"}, "accounting_date", "Enter a date as MM/DD/YYYY."),
    "words for a date": ({"accounting_date": "yesterday"}, "accounting_date", "Enter a date as MM/DD/YYYY."),
    "no date": ({"accounting_date": ""}, "accounting_date", "This field is required."),
    "description too long": ({"description": "D" * 31}, "description", "Description must be 30 characters or less."),
}


@pytest.mark.parametrize("name", BAD_ACCEPT)
def test_accept_with_bad_fields_is_422_with_the_message_and_changes_nothing(clients, world, name):
    change, field, message = BAD_ACCEPT[name]
    inv = world.item(KEY, State.READY)
    before = world.erp(inv.erp)
    form = {"erp_id": inv.number, "description": "", "accounting_date": "2026-10-31", **change}
    response = clients["approver"].post(rowurl(inv.erp, "accept"), data=form, headers=HX)
    body = text(response)
    assert response.status_code == 422
    assert is_fragment(body) and f'<tbody id="item-{inv.erp}"' in body
    assert message in body
    assert f'name="{field}"' in body and 'class="field-error"' in body
    if field == "erp_id" and change["erp_id"].strip():
        assert f'value="{change["erp_id"]}"' in body  # what was typed comes back
    assert world.erp(inv.erp) == before


def test_accept_with_bad_fields_without_htmx_is_a_full_page(clients, world):
    """No JavaScript: the form's real action must answer with a page, not a bare <tbody>."""
    inv = world.item(KEY, State.READY)
    before = world.erp(inv.erp)
    response = clients["approver"].post(rowurl(inv.erp, "accept"),
                             data={"erp_id": "X" * 16, "accounting_date": "2026-10-31"})
    assert response.status_code == 422
    assert "ERP ID must be 15 characters or less" in text(response)
    assert is_page(text(response))
    assert world.erp(inv.erp) == before


def test_accept_form_fragment_is_prefilled_with_the_defaults(clients, world):
    inv = world.item(KEY, State.READY, billing=date(2026, 10, 31))
    response = clients["approver"].get(rowurl(inv.erp, "accept"), headers=HX)
    body = text(response)
    assert response.status_code == 200 and is_fragment(body)
    assert f'name="erp_id" value="{inv.number}"' in body
    assert 'name="accounting_date" value="2026-10-31" type="date"' in body


@pytest.mark.parametrize("reason", ["", "   \n  "], ids=["empty", "blank"])
def test_reject_without_reason_is_422_and_changes_nothing(clients, world, reason):
    inv = world.item(KEY, State.READY)
    before = world.erp(inv.erp)
    response = clients["approver"].post(rowurl(inv.erp, "reject"), data={"reason": reason}, headers=HX)
    assert response.status_code == 422
    assert "A reason is required." in text(response)
    assert is_fragment(text(response)) and 'name="reason"' in text(response)
    assert world.erp(inv.erp) == before and before.mails == 0


def test_a_decision_that_comes_too_late_shows_the_row_as_it_is_and_who_decided(clients, people, world, drain):
    """The loser of two Accepts (or an Accept and a Reject) gets 409 with the row as it now is, in
    place, and who decided it when: never the form left open, nor a bare "someone changed it"."""
    inv = world.item(KEY, State.READY)
    form = {"erp_id": inv.number, "accounting_date": "2026-10-31"}
    assert clients["approver"].post(rowurl(inv.erp, "accept"), data=form, headers=HX).status_code == 200
    before = world.erp(inv.erp)
    told = f"{inv.number} is already Exporting (accepted by {people['approver'].name} at "
    for late in (clients["approver"].post(rowurl(inv.erp, "accept"), data=form, headers=HX),
                 clients["approver"].post(rowurl(inv.erp, "reject"), data={"reason": "No"}, headers=HX),
                 clients["approver"].get(rowurl(inv.erp, "reject"), headers=HX)):
        body = text(late)
        assert late.status_code == 409 and "HX-Retarget" not in late.headers
        assert is_fragment(body) and f'<tbody id="item-{inv.erp}"' in body and 'data-state="exporting"' in body
        assert told in body and "<form" not in body
    page = clients["approver"].post(rowurl(inv.erp, "accept"), data=form)  # no htmx: the item's page
    assert page.status_code == 409 and is_page(text(page)) and told in text(page)
    assert world.erp(inv.erp) == before
    drain()

    rejected = world.item(KEY, State.REJECTED)
    late = clients["approver"].post(rowurl(rejected.erp, "accept"), data=form, headers=HX)
    assert late.status_code == 409
    assert f"{rejected.number} was rejected by {people['approver'].name} at " in text(late)


def test_a_row_of_another_type_or_a_missing_row_is_404(clients, world):
    inv = world.item(KEY, State.READY)
    assert clients["approver"].get(f"/erp/commitment/{inv.erp}/row").status_code == 404
    assert clients["approver"].get(f"{TAB}/999999999/row", headers=HX).status_code == 404
    assert clients["approver"].post(f"/erp/nope/{inv.erp}/accept", data={"erp_id": "X"}).status_code == 404
    assert world.erp(inv.erp).state == State.READY


def test_failed_export_row_shows_sages_message_with_cause_and_solution(clients, make_world, drain):
    world = make_world(vendor_status="Inactive")
    inv = world.item(KEY, State.READY)
    clients["approver"].post(rowurl(inv.erp, "accept"),
                  data={"erp_id": inv.number, "accounting_date": "2026-10-31"}, headers=HX)
    drain()
    after = world.erp(inv.erp)
    assert after.state == State.FAILED and after.sage_message == "Vendor is inactive/has been archived."

    status = clients["approver"].get(rowurl(inv.erp, "status"), headers=HX)
    for response in (status, clients["approver"].get(f"{TAB}?filter=failed&q={inv.number}")):
        body = text(response)
        assert "Failed to Export" in body
        assert "Sage:</strong> Vendor is inactive/has been archived." in body
        assert "Cause:</strong> The vendor is set to 'Inactive' in Sage 300 CRE." in body
        assert "Solution:</strong> Uncheck 'Inactive' on the vendor in Sage 300 CRE" in body
        assert "Retry" in body  # a failed item can be accepted again
    assert "hx-trigger" not in text(status)
    assert status.status_code == 286, "htmx stops polling only on 286"


def test_status_of_an_item_that_is_not_exporting_stops_polling(clients, world):
    inv = world.item(KEY, State.READY)
    response = clients["approver"].get(rowurl(inv.erp, "status"), headers=HX)
    assert response.status_code == 286
    assert "hx-trigger" not in text(response)


# ---- search, pages, counts ----------------------------------------------------------------

def test_search_narrows_rows_by_invoice_number_and_by_vendor(clients, make_world):
    a, b = make_world(), make_world()
    a1, a2 = a.item(KEY, State.READY), a.item(KEY, State.READY)
    b1 = b.item(KEY, State.READY)

    by_number = text(clients["approver"].get(f"{TAB}?q={a1.number.lower()}", headers=HX))
    assert row_ids(by_number) == [a1.erp]

    by_vendor = text(clients["approver"].get(f"{TAB}?q={a.home.vendor_name}", headers=HX))
    assert sorted(row_ids(by_vendor)) == sorted([a1.erp, a2.erp])
    assert b1.number not in by_vendor

    nothing = text(clients["approver"].get(f"{TAB}?q=no-such-thing-{f.suffix()}", headers=HX))
    assert row_ids(nothing) == [] and "No subcontractor invoices ready to export matching" in nothing


def test_filter_counts_follow_the_search(clients, make_world):
    a = make_world()
    a.item(KEY, State.READY), a.item(KEY, State.READY), a.item(KEY, State.FAILED)
    body = text(clients["approver"].get(f"{TAB}?q={a.home.vendor_name}", headers=HX))
    assert counts(body) == {"ready": 2, "synced": 0, "failed": 1}


def test_percent_and_underscore_in_a_search_are_literal(clients, make_world):
    a = make_world()
    a.item(KEY, State.READY)
    assert row_ids(text(clients["approver"].get(f"{TAB}?q=%25", headers=HX))) == []


def test_pagination_uses_page_size_and_shows_page_n_of_m(app, clients, world):
    made = [world.item(KEY, State.READY) for _ in range(3)]
    saved = app.config["PAGE_SIZE"]
    app.config["PAGE_SIZE"] = 2
    try:
        first = text(clients["approver"].get(f"{TAB}?q={world.home.vendor_name}"))
        second = text(clients["approver"].get(f"{TAB}?q={world.home.vendor_name}&page=2", headers=HX))
    finally:
        app.config["PAGE_SIZE"] = saved
    assert "Page 1 of 2 · 3 subcontractor invoices" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert "Page 2 of 2 · 3 subcontractor invoices" in second and 'rel="prev"' in second and 'rel="next"' not in second
    assert len(row_ids(first)) == 2 and len(row_ids(second)) == 1
    assert sorted(row_ids(first) + row_ids(second)) == sorted(i.erp for i in made)


# ids and pages beyond PostgreSQL's integer (SQLite's ends at 2^63-1): 404, on both stacks, not an
# overflow in the query (500)
TOO_BIG = (str(2**31), "99999999999999999999", "9" * 5000)


def _too_big_urls(app, number: str) -> dict[str, tuple[str, str]]:
    """Every rule with an <int:...> (the route map, not a copy of it), each method: the URL with
    each int `number` and a type of the rule's scope."""
    placeholder = 7654321
    keys = {scope: next(k for k, t in REGISTRY.items() if t.scope == scope) for scope in ("project", "company")}
    urls = {}
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]
        if not ints:
            continue
        values: dict = {name: placeholder for name in ints}
        if "type_key" in rule.arguments:
            values["type_key"] = keys["company" if "/company/" in rule.rule else "project"]
        if "list_key" in rule.arguments:
            values["list_key"] = "vendors"
        with app.test_request_context():
            url = url_for(rule.endpoint, **values).replace(str(placeholder), number)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            urls[f"{method} {rule.rule}"] = (method, url)
    return urls


@pytest.mark.parametrize("number", TOO_BIG, ids=["2^31", "10^20", "5000 digits"])
def test_an_id_beyond_the_databases_integers_is_404_on_every_route(app, clients, number):
    urls = _too_big_urls(app, number)
    assert len(urls) > 40, sorted(urls)

    def check(method, url):
        response = clients["everything"].open(url, method=method)
        assert response.status_code == 404, (response.status_code, text(response)[:200])

    check_rows(urls, check)


def test_a_page_beyond_the_databases_integers_is_404_and_a_page_within_them_answers(app, clients, world):
    pid = world.home.pid
    lists = {"ERP tab": TAB, "Ready to Import": "/erp/import/vendors", "Mail": "/admin/mail",
             "direct costs": f"/projects/{pid}/direct-costs"}

    def check(url, page, expected):
        for headers in (None, HX):
            response = clients["everything"].get(url, query_string={"page": page}, headers=headers)
            assert response.status_code == expected, (page, headers, response.status_code, text(response)[:200])

    check_rows({f"{name} page={page}": (url, page, expected) for name, url in lists.items()
                for page, expected in ((2**31 - 1, 200), (2**31, 404), (99999999999999999999, 404),
                                       (-99999999999999999999, 200), ("x", 200))}, check)


def test_bulk_accept_without_htmx_redirects_and_reports_what_was_not_accepted(clients, world, drain):
    ok, synced = world.item(KEY, State.READY), world.item(KEY, State.SYNCED)
    response = clients["approver"].post(f"{TAB}/bulk-accept", data={"ids": [str(ok.erp), str(synced.erp)]})
    assert response.status_code == 303 and path_of(response.location) == TAB
    page = text(clients["approver"].get(response.location))
    assert "1 queued for export. 1 not accepted" in page
    assert f"{synced.title}: It is Synced." in page and f"#{synced.erp}" not in page
    assert world.erp(synced.erp).state == State.SYNCED
    drain()
    assert world.erp(ok.erp).state == State.SYNCED


def test_bulk_accept_on_another_types_tab_accepts_nothing_of_this_type(clients, world):
    """ids of subcontractor invoices posted to the vendor tab's bulk accept: reported, not exported."""
    inv = world.item(KEY, State.READY)
    before = world.erp(inv.erp)
    response = clients["approver"].post("/erp/vendor/bulk-accept", data={"ids": [str(inv.erp)]}, headers=HX)
    body = text(response)
    assert response.status_code == 200 and "1 not accepted" in body
    assert f"{inv.title}: That item is not in this tab." in body
    assert world.erp(inv.erp) == before


def test_bulk_accept_with_nothing_ticked_is_422(clients, world):
    response = clients["approver"].post(f"{TAB}/bulk-accept", data={"filter": "ready"}, headers=HX)
    assert response.status_code == 422 and "Tick at least one item" in text(response)


# ---- the project side: send, retrieve, resend, edit ---------------------------------------

def test_project_page_disables_send_with_the_reasons_under_review(clients, world):
    inv = world.item(KEY, status=InvoiceStatus.UNDER_REVIEW)
    body = text(clients["project_admin"].get(list_url(KEY, world.home.pid)))
    row = re.search(rf'<tbody id="invoice-{inv.id}".*?</tbody>', body, re.S).group(0)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert "The invoice is Under Review: only Approved, Approved as Noted or Pending Owner Approval" in row
    assert f'action="{item_url(inv, "send")}"' not in row


def test_project_page_disables_send_for_a_vendor_without_erp_vendor_id(clients, make_world):
    world = make_world(vendor_erp=False)
    inv = world.item(KEY)
    body = text(clients["project_admin"].get(list_url(KEY, world.home.pid), headers=HX))
    row = re.search(rf'<tbody id="invoice-{inv.id}".*?</tbody>', body, re.S).group(0)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert f"The contract company {world.home.vendor_name} has no ERP vendor ID" in row


def test_sending_a_non_sendable_invoice_anyway_is_422_and_creates_nothing(clients, world):
    inv = world.item(KEY, status=InvoiceStatus.UNDER_REVIEW)
    for headers in (None, HX):
        response = clients["project_admin"].post(item_url(inv, "send"), headers=headers)
        assert response.status_code == 422
        assert "The invoice is Under Review" in text(response)
    assert world.erp_of(KEY, inv.id) is None


def test_retrieve_of_an_invoice_never_sent_is_422(clients, world):
    inv = world.item(KEY)
    response = clients["project_admin"].post(item_url(inv, "retrieve"))
    assert response.status_code == 422 and "never sent" in text(response)


@pytest.mark.parametrize("change, message", [
    ({"line-FIRST-work_completed": "12abc"}, "'12abc' is not an amount."),
    ({"line-FIRST-retainage": "1,000,000,000,000"}, "Amount is too large."),
    ({"line-FIRST-retainage": "1e3"}, "'1e3' is not an amount."),
    ({"number": ""}, "Invoice # is required."),
    ({"billing_date": "13/45/2026"}, "Enter a date as MM/DD/YYYY."),
    ({"period_start": "2026-11-01"}, "The billing period must end after it starts."),
    ({"status": "Paid"}, "Choose a status from the list."),
], ids=["bad amount", "huge amount", "exponent", "no number", "bad date", "period backwards", "bad status"])
def test_edit_rejected_invoice_with_bad_input_is_422_and_changes_nothing(clients, world, change, message):
    inv = world.item(KEY, State.REJECTED)
    before = invoice_state(world, inv.id)
    form = edit_form(world, inv, **{"number": inv.number + "-NEW", **change})
    response = clients["project_admin"].post(item_url(inv, "edit"), data=form)
    body = text(response)
    assert response.status_code == 422
    assert is_page(body) and message in body and "Please correct the highlighted fields." in body
    assert invoice_state(world, inv.id) == before
    assert world.erp(inv.erp).state == State.REJECTED


def test_edit_rejected_invoice_saves_recomputes_totals_and_can_be_resent(clients, world):
    inv = world.item(KEY, State.REJECTED)
    form = edit_form(world, inv, number=inv.number + "-R", **{"line-FIRST-work_completed": "2,000.50"})
    response = clients["project_admin"].post(item_url(inv, "edit"), data=form)
    assert response.status_code == 303 and path_of(response.location) == item_url(inv)
    number, *_, total, retainage, lines = invoice_state(world, inv.id)
    assert number == inv.number + "-R"
    assert lines[0][1] == Decimal("2000.50")
    assert total == Decimal("2000.50") + Decimal("500") + Decimal("100")
    assert clients["project_admin"].post(item_url(inv, "send")).status_code == 303
    assert world.erp(inv.erp).state == State.READY


# ---- unlink without htmx -----------------------------------------------------------------

def test_plain_unlink_names_what_sage_holds_then_redirects_with_a_message_once_it_is_gone(sim, clients, world):
    """The Unlink button's real action: a page saying what Sage still holds (409), then, once the Sage
    user has deleted it, a redirect to the tab with the message."""
    inv = world.item(KEY, State.SYNCED)
    before = world.erp(inv.erp)
    held = clients["approver"].post(rowurl(inv.erp, "unlink"))
    assert held.status_code == 409 and is_page(text(held))
    assert f"Sage 300 CRE still holds {ti.builder(KEY).held(inv)}: delete it in Sage first." in text(held)
    assert world.erp(inv.erp) == before
    ti.builder(KEY).sage_delete(sim, inv)
    response = clients["approver"].post(rowurl(inv.erp, "unlink"))
    assert response.status_code == 303 and path_of(response.location) == TAB
    assert "Unlinked from Sage 300 CRE" in text(clients["approver"].get(response.location))
    assert world.erp(inv.erp).state == State.DRAFT


# ---- CSRF ---------------------------------------------------------------------------------

@contextmanager
def csrf_on(app):
    saved = app.config["WTF_CSRF_ENABLED"]
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = saved


@pytest.mark.parametrize("headers", [None, HX], ids=["form", "htmx"])
def test_post_without_csrf_token_is_400_and_changes_nothing(app, clients, world, headers):
    inv = world.item(KEY, State.READY)
    before = world.erp(inv.erp)
    with csrf_on(app):
        accept = clients["approver"].post(rowurl(inv.erp, "accept"), headers=headers,
                               data={"erp_id": inv.number, "accounting_date": "2026-10-31"})
        reject = clients["approver"].post(rowurl(inv.erp, "reject"), headers=headers, data={"reason": "no"})
        bulk = clients["approver"].post(f"{TAB}/bulk-accept", headers=headers, data={"ids": [str(inv.erp)]})
    for response in (accept, reject, bulk):
        assert response.status_code == 400
        assert "The form had expired" in text(response)
    assert world.erp(inv.erp) == before


def test_post_with_the_pages_csrf_token_goes_through(app, clients, world, drain):
    inv = world.item(KEY, State.READY)
    with csrf_on(app):
        page = text(clients["approver"].get(f"{TAB}?q={inv.number}"))
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        assert f'name="csrf_token" value="{token}"' in page
        response = clients["approver"].post(rowurl(inv.erp, "accept"),
                                 headers={**HX, "X-CSRFToken": token},
                                 data={"erp_id": inv.number, "accounting_date": "2026-10-31"})
    assert response.status_code == 200 and world.erp(inv.erp).state == State.EXPORTING
    drain()


def test_login_without_csrf_token_is_400(app, people):
    with csrf_on(app):
        client = app.test_client()
        response = client.post("/login", data={"username": people["project_admin"].username, "password": f.PASSWORD})
        assert response.status_code == 400
        assert client.get("/projects/").status_code == 302  # not signed in


# ---- sign in and out ----------------------------------------------------------------------

@pytest.mark.parametrize("username, password", [
    ("project_admin", "wrong-password"), ("nobody-at-all", f.PASSWORD), ("project_admin", ""),
], ids=["wrong password", "unknown user", "no password"])
def test_login_refused_is_422_with_a_message(app, people, username, password):
    client = app.test_client()
    name = people[username].username if username in people else username
    response = client.post("/login", data={"username": name, "password": password})
    assert response.status_code == 422
    body = text(response)
    assert is_page(body) and ("Wrong username or password." in body or not password)
    assert client.get("/projects/").status_code == 302


def test_login_goes_to_next_or_home(app, people):
    response = app.test_client().post("/login?next=/projects/", data={"username": people["project_admin"].username,
                                                                     "password": f.PASSWORD})
    assert response.status_code == 303 and response.location == "/projects/"
    response = app.test_client().post("/login", data={"username": people["approver"].username.upper(),
                                                      "password": f.PASSWORD})
    assert response.status_code == 303 and response.location == "/"


# browsers read a backslash as a slash ("/\\host" leaves the site like "//host") and drop a tab or
# newline ("/\t/host" is "//host"); a CR LF would split the Location header
OFF_SITE = ["//evil.example/x", "http://evil.example/x", "/\\evil.example/x", "\\\\evil.example/x",
            "/\t/evil.example/x", "/\n/evil.example/x", "/\r\nSet-Cookie: x=y", "/projects/\x00",
            " //evil.example/x", "https:/evil.example", "javascript:alert(1)",
            "//[", "//[::1/x"]  # urlsplit raises on a bracket that never closes (found by the fuzz)


def test_login_never_redirects_off_site(app, people):
    """A `next` that is not a plain path on this site: home instead, never off site, never a 500."""
    def check(target):
        response = app.test_client().post("/login", query_string={"next": target}, data={
            "username": people["project_admin"].username, "password": f.PASSWORD})
        assert (response.status_code, response.location) == (303, "/"), (response.status_code, response.location)

    check_rows({repr(t): t for t in OFF_SITE}, check)


# ---- admin forms are all or nothing -------------------------------------------------------

def test_user_edit_with_a_bad_project_level_saves_nothing(app, clients, world):
    with dbs(app) as s:
        target = f.make_user(s, name="Before Name")
        target_id = target.id
    response = clients["site_admin"].post(f"/admin/users/{target_id}", data={
        "name": "After Name", "email": "after@example.com", "erp_level": ToolLevel.READ_ONLY,
        "active": "on", f"project-{world.home.pid}": "superuser"})
    assert response.status_code == 422
    with dbs(app) as s:
        user = s.get(User, target_id)
        assert (user.name, user.erp_level) == ("Before Name", ToolLevel.NONE)
        assert s.scalar(select(func.count()).select_from(ProjectMember).where(
            ProjectMember.user_id == target_id)) == 0


def test_every_response_carries_the_security_headers(app):
    """A strict Content-Security-Policy (only the portal's own scripts and styles, no framing),
    X-Frame-Options, Referrer-Policy; HSTS on HTTPS only."""
    client = app.test_client()
    plain = client.get("/login")
    csp = dict(part.strip().split(" ", 1) for part in plain.headers["Content-Security-Policy"].split(";"))
    assert (csp["script-src"], csp["style-src"], csp["frame-ancestors"], csp["object-src"]) == (
        "'self'", "'self'", "'none'", "'none'")
    assert (plain.headers["X-Frame-Options"], plain.headers["Referrer-Policy"],
            plain.headers["X-Content-Type-Options"]) == ("DENY", "strict-origin-when-cross-origin", "nosniff")
    assert "Strict-Transport-Security" not in plain.headers
    secure = client.get("/login", base_url="https://portal.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_forwarded_headers_count_only_behind_trusted_proxies(app):
    """TRUSTED_PROXIES=1: the client's address and scheme come from the proxy's X-Forwarded-*
    headers (one hop); with none trusted, the app reads the connection itself."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from portal import create_app
    from portal.extensions import db
    proxied = create_app({"TESTING": True, "TRUSTED_PROXIES": 1})
    try:
        assert isinstance(proxied.wsgi_app, ProxyFix) and not isinstance(app.wsgi_app, ProxyFix)
        assert (proxied.wsgi_app.x_for, proxied.wsgi_app.x_proto, proxied.wsgi_app.x_host) == (1, 1, 1)
        seen = {}
        proxied.before_request(lambda: seen.update(addr=request.remote_addr, secure=request.is_secure) and None)
        proxied.test_client().get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        assert seen == {"addr": "203.0.113.9", "secure": True}
    finally:
        with proxied.app_context():
            db.engine.dispose()
