"""Pages and fragments through the test client: one URL, the whole page or its block; forms that
answer 422 and change nothing; the export road as the browser sees it (row, polling, 286).

Requests are made with no app context pushed (a context held across requests shares flask.g,
and with it Flask-Login's cached user, between requests); the database is read in short
`dbs(app)` blocks in between.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from portal.domain import services
from portal.domain.lifecycle import State
from portal.domain.models import (ErpAudit, ErpItem, InvoiceLine, InvoiceStatus, OutboxMail,
                                  ProjectMember, SubcontractorInvoice, ToolLevel, User)
from portal.domain.types import get_type

INVOICES = get_type("subcontractor_invoice")
from portal.exporters.sage300.records import SageResult
from tests import factories as f
from tests.conftest import login
from tests.web.pages import counts, is_fragment, is_page, path_of, text
from tests.web.pages import tab_row_ids as row_ids

KEY = INVOICES.key
TAB = f"/erp/{KEY}"
HX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


NullQueue = f.NullQueue
dbs = f.app_session


def vary(response) -> str:
    return response.headers.get("Vary", "")


# ---- people and clients (per module, tests/web/conftest.py) and builders -------------------

ROLE_USERS = {"approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "standard": dict(erp_level=ToolLevel.STANDARD), "sender": {},
              "project_readonly": {}, "site_admin": dict(site_admin=True)}


@pytest.fixture
def approver(clients):
    return clients["approver"]


@pytest.fixture
def sender(clients):
    return clients["sender"]


class World:
    """A fresh synced project (random suffixes) and helpers that put invoices in a state."""

    def __init__(self, app, sim, people, **setup_kw):
        self.app, self.people = app, people
        with dbs(app) as s:
            self.setup = f.Setup(s, sim, **setup_kw)
            f.member(s, s.get(User, people["sender"].id), self.setup.project, ToolLevel.ADMIN)
            f.member(s, s.get(User, people["project_readonly"].id), self.setup.project,
                     ToolLevel.READ_ONLY)
            self.pid = self.setup.project.id
            self.vendor = self.setup.vendor.name
            self.vendor_erp = self.setup.vendor.erp_vendor_id

    def invoice(self, state: str = State.DRAFT, **kw) -> SimpleNamespace:
        """An invoice, sent and decided through the services as far as `state`."""
        with dbs(self.app) as s:
            sender = s.get(User, self.people["sender"].id)
            approver = s.get(User, self.people["approver"].id)
            # the Setup's rows were loaded by an earlier (closed) session: attach them to this one
            s.add_all([self.setup.project, self.setup.commitment, self.setup.line1, self.setup.line2])
            inv = self.setup.invoice(s, sender, **kw)
            out = SimpleNamespace(id=inv.id, number=inv.number, erp=None)
            if state == State.DRAFT:
                return out
            erp = services.send(s, sender, KEY, inv.id)
            out.erp = erp.id
            if state == State.READY:
                return out
            if state == State.REJECTED:
                services.reject(s, approver, erp.id, "Wrong billing period", NullQueue(), "Test Builders",
                                lambda e: "http://portal.test/x")
                return out
            services.accept(s, approver, erp.id, INVOICES.export_defaults(inv), NullQueue())
            if state == State.SYNCED:
                services.record_export_result(s, erp.id, 1, SageResult(ok=True, reference="R"))
            elif state == State.FAILED:
                services.record_export_result(s, erp.id, 1, SageResult(ok=False, message="Job has been closed."))
            return out

    def erp(self, erp_id: int) -> tuple:
        with dbs(self.app) as s:
            e = s.get(ErpItem, erp_id)
            audits = s.scalar(select(func.count()).select_from(ErpAudit).where(ErpAudit.erp_item_id == e.id))
            mails = s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == e.id))
            return SimpleNamespace(state=e.state, attempt=e.attempt, version=e.version, job_id=e.job_id,
                                   erp_ref=e.erp_ref, sage_message=e.sage_message, audits=audits,
                                   mails=mails, reject_reason=e.reject_reason)

    def erp_of(self, invoice_id: int):
        with dbs(self.app) as s:
            e = services.find_erp_item(s, KEY, invoice_id)
            return None if e is None else self.erp(e.id)

    def invoice_state(self, invoice_id: int) -> tuple:
        with dbs(self.app) as s:
            inv = s.get(SubcontractorInvoice, invoice_id)
            lines = s.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                              .order_by(InvoiceLine.id)).all()
            return (inv.number, inv.status, inv.billing_date, inv.total_amount, inv.total_retainage,
                    tuple((l.id, l.work_completed, l.materials_stored, l.retainage) for l in lines))

    def row_url(self, erp_id: int, what: str) -> str:
        return f"{TAB}/{erp_id}/{what}"

    def invoices_url(self) -> str:
        return f"/projects/{self.pid}/invoices"

    def invoice_url(self, invoice_id: int, what: str = "") -> str:
        return f"/projects/{self.pid}/invoices/{invoice_id}{what}"


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


@pytest.fixture
def make_world(app, sim, people):
    return lambda **kw: World(app, sim, people, **kw)


# ---- full page or fragment ---------------------------------------------------------------

BLOCK_VIEWS = {
    "erp tab": (lambda w: TAB, "approver", '<div id="tab-body">'),
    "erp tab failed, searched": (lambda w: f"{TAB}?filter=failed&q={w.vendor}", "approver", '<div id="tab-body">'),
    "erp tab synced, read only": (lambda w: f"{TAB}?filter=synced", "standard", '<div id="tab-body">'),
    "project invoices": (lambda w: w.invoices_url(), "sender", '<table class="grid" id="invoice-table">'),
}
PAGE_ONLY_VIEWS = {  # list views without a fragment block: every request gets the page
    "projects": (lambda w: "/projects/", "sender"),
    "users": (lambda w: "/admin/users", "site_admin"),
    "mail": (lambda w: "/admin/mail", "site_admin"),
}


@pytest.mark.parametrize("name", BLOCK_VIEWS)
def test_list_view_is_a_page_without_hx_request_and_its_block_with(clients, world, name):
    url, role, marker = BLOCK_VIEWS[name]
    world.invoice(State.READY)
    client = clients[role]

    page = client.get(url(world))
    assert page.status_code == 200 and is_page(text(page)) and marker in text(page)
    assert "HX-Request" in vary(page)

    fragment = client.get(url(world), headers=HX)
    body = text(fragment)
    assert fragment.status_code == 200 and "HX-Request" in vary(fragment)
    assert is_fragment(body) and body.strip().startswith(marker), body[:200]


@pytest.mark.parametrize("headers", [BOOSTED, RESTORE], ids=["boosted", "history-restore"])
@pytest.mark.parametrize("name", list(BLOCK_VIEWS) + list(PAGE_ONLY_VIEWS))
def test_boosted_and_history_restore_get_the_full_page(clients, world, name, headers):
    url, role = (BLOCK_VIEWS.get(name) or PAGE_ONLY_VIEWS[name])[:2]
    response = clients[role].get(url(world), headers=headers)
    assert response.status_code == 200
    assert is_page(text(response))
    assert "HX-Request" in vary(response)


@pytest.mark.parametrize("name", PAGE_ONLY_VIEWS)
def test_list_views_without_a_block_answer_both_with_the_page(clients, world, name):
    url, role = PAGE_ONLY_VIEWS[name]
    for headers in (None, HX):
        response = clients[role].get(url(world), headers=headers)
        assert response.status_code == 200 and is_page(text(response))
        assert "HX-Request" in vary(response)


def test_vary_is_sent_on_redirects_errors_and_fragments(app, clients, world):
    inv = world.invoice(State.READY)
    for response in (app.test_client().get(TAB), clients["approver"].get(f"{TAB}/999999999/row", headers=HX),
                     clients["standard"].get(world.row_url(inv.erp, "accept"), headers=HX),
                     clients["approver"].get(world.row_url(inv.erp, "row"), headers=HX),
                     clients["approver"].get("/erp/")):
        assert "HX-Request" in vary(response), response.status_code


# ---- lost session -----------------------------------------------------------------------

@pytest.mark.parametrize("what", ["status", "row", "accept"])
def test_htmx_request_without_session_gets_hx_redirect_not_a_login_form(app, world, what):
    inv = world.invoice(State.READY)
    response = app.test_client().get(world.row_url(inv.erp, what), headers=HX)
    assert response.status_code == 200
    assert response.get_data() == b""
    assert path_of(response.headers["HX-Redirect"]) == "/login"


def test_htmx_lost_session_returns_to_the_page_not_to_the_fragment(app, world):
    """After signing in again the user must land on the page they were on, not on a bare <tbody>."""
    inv = world.invoice(State.READY)
    page = f"{TAB}?filter=ready&q={inv.number}"
    response = app.test_client().get(world.row_url(inv.erp, "status"),
                                     headers={**HX, "HX-Current-URL": f"http://localhost{page}"})
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/login"
    assert parse_qs(target.query).get("next") == [page]


def test_htmx_post_without_session_gets_hx_redirect(app, world):
    inv = world.invoice(State.READY)
    before = world.erp(inv.erp)
    response = app.test_client().post(world.row_url(inv.erp, "accept"),
                                      data={"erp_id": "X", "accounting_date": "2026-10-31"}, headers=HX)
    assert response.status_code == 200 and path_of(response.headers["HX-Redirect"]) == "/login"
    assert world.erp(inv.erp) == before


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
def test_accept_with_bad_fields_is_422_with_the_message_and_changes_nothing(approver, world, name):
    change, field, message = BAD_ACCEPT[name]
    inv = world.invoice(State.READY)
    before = world.erp(inv.erp)
    form = {"erp_id": inv.number, "description": "", "accounting_date": "2026-10-31", **change}
    response = approver.post(world.row_url(inv.erp, "accept"), data=form, headers=HX)
    body = text(response)
    assert response.status_code == 422
    assert is_fragment(body) and f'<tbody id="item-{inv.erp}"' in body
    assert message in body
    assert f'name="{field}"' in body and 'class="field-error"' in body
    if field == "erp_id" and change["erp_id"].strip():
        assert f'value="{change["erp_id"]}"' in body  # what was typed comes back
    assert world.erp(inv.erp) == before


def test_accept_with_bad_fields_without_htmx_is_a_full_page(approver, world):
    """No JavaScript: the form's real action must answer with a page, not a bare <tbody>."""
    inv = world.invoice(State.READY)
    before = world.erp(inv.erp)
    response = approver.post(world.row_url(inv.erp, "accept"),
                             data={"erp_id": "X" * 16, "accounting_date": "2026-10-31"})
    assert response.status_code == 422
    assert "ERP ID must be 15 characters or less" in text(response)
    assert is_page(text(response))
    assert world.erp(inv.erp) == before


def test_accept_form_link_without_htmx_is_a_full_page(approver, world):
    """The Accept button's href works without htmx (house style: real href on every control)."""
    inv = world.invoice(State.READY)
    response = approver.get(world.row_url(inv.erp, "accept"))
    assert response.status_code == 200
    assert is_page(text(response)) and 'name="erp_id"' in text(response)


def test_accept_form_fragment_is_prefilled_with_the_defaults(approver, world):
    inv = world.invoice(State.READY, billing=date(2026, 10, 31))
    response = approver.get(world.row_url(inv.erp, "accept"), headers=HX)
    body = text(response)
    assert response.status_code == 200 and is_fragment(body)
    assert f'name="erp_id" value="{inv.number}"' in body
    assert 'name="accounting_date" value="2026-10-31" type="date"' in body


@pytest.mark.parametrize("reason", ["", "   \n  "], ids=["empty", "blank"])
def test_reject_without_reason_is_422_and_changes_nothing(approver, world, reason):
    inv = world.invoice(State.READY)
    before = world.erp(inv.erp)
    response = approver.post(world.row_url(inv.erp, "reject"), data={"reason": reason}, headers=HX)
    assert response.status_code == 422
    assert "A reason is required." in text(response)
    assert is_fragment(text(response)) and 'name="reason"' in text(response)
    assert world.erp(inv.erp) == before and before.mails == 0


def test_reject_with_reason_returns_the_row_and_writes_the_mail(approver, world, drain):
    inv = world.invoice(State.READY)
    response = approver.post(world.row_url(inv.erp, "reject"), data={"reason": "Wrong retainage"},
                             headers=HX)
    assert response.status_code == 200 and is_fragment(text(response))
    assert "Rejected: returned to the project team and emailed." in text(response)
    after = world.erp(inv.erp)
    assert (after.state, after.reject_reason, after.mails) == (State.REJECTED, "Wrong retainage", 1)
    drain()


def test_accepting_an_item_that_is_already_exporting_is_a_409_message(approver, world, drain):
    inv = world.invoice(State.READY)
    form = {"erp_id": inv.number, "accounting_date": "2026-10-31"}
    assert approver.post(world.row_url(inv.erp, "accept"), data=form, headers=HX).status_code == 200
    before = world.erp(inv.erp)
    again = approver.post(world.row_url(inv.erp, "accept"), data=form, headers=HX)
    assert again.status_code == 409 and again.headers.get("HX-Retarget") == "#messages"
    assert "Exporting" in text(again)
    assert world.erp(inv.erp) == before
    drain()


def test_a_row_of_another_type_or_a_missing_row_is_404(approver, world):
    inv = world.invoice(State.READY)
    assert approver.get(f"/erp/commitment/{inv.erp}/row").status_code == 404
    assert approver.get(f"{TAB}/999999999/row", headers=HX).status_code == 404
    assert approver.post(f"/erp/nope/{inv.erp}/accept", data={"erp_id": "X"}).status_code == 404
    assert world.erp(inv.erp).state == State.READY


# ---- the export road: exporting row, polling, 286 ---------------------------------------

def test_accept_as_htmx_returns_the_exporting_row_that_polls_then_286_when_synced(approver, world, drain, sim):
    inv = world.invoice(State.READY)
    response = approver.post(world.row_url(inv.erp, "accept"),
                             data={"erp_id": inv.number, "description": "Oct", "accounting_date": "2026-10-31"},
                             headers=HX)
    body = text(response)
    assert response.status_code == 200 and is_fragment(body)
    assert f'<tbody id="item-{inv.erp}"' in body and 'data-state="exporting"' in body
    assert f'hx-get="{world.row_url(inv.erp, "status")}"' in body
    assert 'hx-trigger="every 500ms"' in body and 'hx-swap="outerHTML"' in body
    assert "Exporting" in body

    polling = approver.get(world.row_url(inv.erp, "status"), headers=HX)
    assert polling.status_code == 200 and 'hx-trigger="every 500ms"' in text(polling)

    drain()
    settled = approver.get(world.row_url(inv.erp, "status"), headers=HX)
    body = text(settled)
    assert 'data-state="synced"' in body and "Synced" in body and inv.number in body
    assert "hx-trigger" not in body
    assert world.erp(inv.erp).erp_ref == inv.number
    assert sim.get_invoice(world.vendor_erp, inv.number) is not None
    assert settled.status_code == 286, "htmx stops polling only on 286"


def test_failed_export_row_shows_sages_message_with_cause_and_solution(approver, make_world, drain):
    world = make_world(vendor_status="Inactive")
    inv = world.invoice(State.READY)
    approver.post(world.row_url(inv.erp, "accept"),
                  data={"erp_id": inv.number, "accounting_date": "2026-10-31"}, headers=HX)
    drain()
    after = world.erp(inv.erp)
    assert after.state == State.FAILED and after.sage_message == "Vendor is inactive/has been archived."

    status = approver.get(world.row_url(inv.erp, "status"), headers=HX)
    for response in (status, approver.get(f"{TAB}?filter=failed&q={inv.number}")):
        body = text(response)
        assert "Failed to Export" in body
        assert "Sage:</strong> Vendor is inactive/has been archived." in body
        assert "Cause:</strong> The vendor is set to 'Inactive' in Sage 300 CRE." in body
        assert "Solution:</strong> Uncheck 'Inactive' on the vendor in Sage 300 CRE" in body
        assert "Retry" in body  # a failed item can be accepted again
    assert "hx-trigger" not in text(status)
    assert status.status_code == 286, "htmx stops polling only on 286"


def test_status_of_an_item_that_is_not_exporting_stops_polling(approver, world):
    inv = world.invoice(State.READY)
    response = approver.get(world.row_url(inv.erp, "status"), headers=HX)
    assert response.status_code == 286
    assert "hx-trigger" not in text(response)


# ---- search, pages, counts ----------------------------------------------------------------

def test_search_narrows_rows_by_invoice_number_and_by_vendor(approver, make_world):
    a, b = make_world(), make_world()
    a1, a2 = a.invoice(State.READY), a.invoice(State.READY)
    b1 = b.invoice(State.READY)

    by_number = text(approver.get(f"{TAB}?q={a1.number.lower()}", headers=HX))
    assert row_ids(by_number) == [a1.erp]

    by_vendor = text(approver.get(f"{TAB}?q={a.vendor}", headers=HX))
    assert sorted(row_ids(by_vendor)) == sorted([a1.erp, a2.erp])
    assert b1.number not in by_vendor

    nothing = text(approver.get(f"{TAB}?q=no-such-thing-{f.suffix()}", headers=HX))
    assert row_ids(nothing) == [] and "No subcontractor invoices ready to export matching" in nothing


def test_filter_counts_follow_the_search(approver, make_world):
    a = make_world()
    a.invoice(State.READY), a.invoice(State.READY), a.invoice(State.FAILED)
    body = text(approver.get(f"{TAB}?q={a.vendor}", headers=HX))
    assert counts(body) == {"ready": 2, "synced": 0, "failed": 1}


def test_percent_and_underscore_in_a_search_are_literal(approver, make_world):
    a = make_world()
    a.invoice(State.READY)
    assert row_ids(text(approver.get(f"{TAB}?q=%25", headers=HX))) == []


def test_pagination_uses_page_size_and_shows_page_n_of_m(app, approver, world):
    made = [world.invoice(State.READY) for _ in range(3)]
    saved = app.config["PAGE_SIZE"]
    app.config["PAGE_SIZE"] = 2
    try:
        first = text(approver.get(f"{TAB}?q={world.vendor}"))
        second = text(approver.get(f"{TAB}?q={world.vendor}&page=2", headers=HX))
    finally:
        app.config["PAGE_SIZE"] = saved
    assert "Page 1 of 2 · 3 subcontractor invoices" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert "Page 2 of 2 · 3 subcontractor invoices" in second and 'rel="prev"' in second and 'rel="next"' not in second
    assert len(row_ids(first)) == 2 and len(row_ids(second)) == 1
    assert sorted(row_ids(first) + row_ids(second)) == sorted(i.erp for i in made)


def test_counts_per_filter(approver, world):
    before = counts(text(approver.get(TAB)))
    assert set(before) == {"ready", "synced", "failed"}
    world.invoice(State.READY)
    world.invoice(State.EXPORTING)   # still under Ready to Export while it exports
    world.invoice(State.FAILED)
    world.invoice(State.SYNCED)
    world.invoice(State.REJECTED)    # back with the project: in no tab
    world.invoice(State.DRAFT)
    for url, headers in ((TAB, None), (f"{TAB}?filter=failed", HX)):
        after = counts(text(approver.get(url, headers=headers)))
        assert {k: after[k] - before[k] for k in before} == {"ready": 2, "synced": 1, "failed": 1}


# ---- bulk accept --------------------------------------------------------------------------

def test_bulk_accept_of_two_ticked_items_exports_both(approver, world, drain):
    one, two = world.invoice(State.READY), world.invoice(State.READY)
    untouched = world.invoice(State.READY)
    response = approver.post(f"{TAB}/bulk-accept", headers=HX,
                             data={"ids": [str(one.erp), str(two.erp)], "filter": "ready", "q": world.vendor})
    body = text(response)
    assert response.status_code == 200 and is_fragment(body) and body.strip().startswith('<div id="tab-body">')
    assert "2 item(s) accepted and queued for export." in body
    assert {world.erp(i.erp).state for i in (one, two)} == {State.EXPORTING}
    assert world.erp(untouched.erp).state == State.READY
    assert re.search(rf'<tbody id="item-{one.erp}"[^>]*data-state="exporting"', body)
    drain()
    for inv in (one, two):
        after = world.erp(inv.erp)
        assert after.state == State.SYNCED and after.erp_ref == inv.number


def test_bulk_accept_without_htmx_redirects_and_reports_what_was_not_accepted(approver, world, drain):
    ok, synced = world.invoice(State.READY), world.invoice(State.SYNCED)
    response = approver.post(f"{TAB}/bulk-accept", data={"ids": [str(ok.erp), str(synced.erp)]})
    assert response.status_code == 303 and path_of(response.location) == TAB
    page = text(approver.get(response.location))
    assert "1 item(s) accepted and queued for export. 1 not accepted" in page
    assert f"#{synced.erp}: It is Synced." in page
    assert world.erp(synced.erp).state == State.SYNCED
    drain()
    assert world.erp(ok.erp).state == State.SYNCED


def test_bulk_accept_with_nothing_ticked_is_422(approver, world):
    response = approver.post(f"{TAB}/bulk-accept", data={"filter": "ready"}, headers=HX)
    assert response.status_code == 422 and "Tick at least one item" in text(response)


# ---- the project side: send, retrieve, resend, edit ---------------------------------------

def test_project_page_disables_send_with_the_reasons_under_review(sender, world):
    inv = world.invoice(status=InvoiceStatus.UNDER_REVIEW)
    body = text(sender.get(world.invoices_url()))
    row = re.search(rf'<tbody id="invoice-{inv.id}".*?</tbody>', body, re.S).group(0)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert "The invoice is Under Review: only Approved, Approved as Noted or Pending Owner Approval" in row
    assert f'action="{world.invoice_url(inv.id, "/send")}"' not in row


def test_project_page_disables_send_for_a_vendor_without_erp_vendor_id(sender, make_world):
    world = make_world(vendor_erp=False)
    inv = world.invoice()
    body = text(sender.get(world.invoices_url(), headers=HX))
    row = re.search(rf'<tbody id="invoice-{inv.id}".*?</tbody>', body, re.S).group(0)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert f"The contract company {world.vendor} has no ERP vendor ID" in row


def test_sending_a_non_sendable_invoice_anyway_is_422_and_creates_nothing(sender, world):
    inv = world.invoice(status=InvoiceStatus.UNDER_REVIEW)
    for headers in (None, HX):
        response = sender.post(world.invoice_url(inv.id, "/send"), headers=headers)
        assert response.status_code == 422
        assert "The invoice is Under Review" in text(response)
    assert world.erp_of(inv.id) is None


def test_send_then_retrieve_then_send_as_htmx(sender, world):
    inv = world.invoice()
    sent = sender.post(world.invoice_url(inv.id, "/send"), headers=HX)
    body = text(sent)
    assert sent.status_code == 200 and is_fragment(body)
    assert f'<tbody id="invoice-{inv.id}" data-state="ready"' in body and "Retrieve" in body
    assert world.erp_of(inv.id).state == State.READY

    back = sender.post(world.invoice_url(inv.id, "/retrieve"), headers=HX)
    assert back.status_code == 200 and 'data-state="draft"' in text(back) and "Send to ERP" in text(back)
    assert world.erp_of(inv.id).state == State.DRAFT

    again = sender.post(world.invoice_url(inv.id, "/send"), headers=HX)
    assert again.status_code == 200 and world.erp_of(inv.id).state == State.READY


def test_send_without_htmx_redirects_to_the_invoice_page_with_its_history(sender, world):
    inv = world.invoice()
    response = sender.post(world.invoice_url(inv.id, "/send"))
    assert response.status_code == 303 and path_of(response.location) == world.invoice_url(inv.id)
    page = text(sender.get(response.location))
    assert is_page(page) and "Sent to ERP Integrations for accounting acceptance." in page
    assert "Ready to Export" in page and "ERP history" in page


def test_retrieve_refused_for_a_read_only_member_who_did_not_send(clients, world):
    inv = world.invoice(State.READY)
    response = clients["project_readonly"].post(world.invoice_url(inv.id, "/retrieve"), headers=HX)
    assert response.status_code == 403
    assert world.erp(inv.erp).state == State.READY


def test_retrieve_of_an_invoice_never_sent_is_422(sender, world):
    inv = world.invoice()
    response = sender.post(world.invoice_url(inv.id, "/retrieve"))
    assert response.status_code == 422 and "never sent" in text(response)


def test_rejected_invoice_shows_the_reason_and_resends(approver, sender, world, drain):
    inv = world.invoice(State.READY)
    approver.post(world.row_url(inv.erp, "reject"), data={"reason": "Retainage should be 10%"}, headers=HX)
    body = text(sender.get(world.invoices_url(), headers=HX))
    row = re.search(rf'<tbody id="invoice-{inv.id}".*?</tbody>', body, re.S).group(0)
    assert 'data-state="rejected"' in row and "Retainage should be 10%" in row
    assert "Resend to ERP" in row and "Edit" in row

    resent = sender.post(world.invoice_url(inv.id, "/send"), headers=HX)
    assert resent.status_code == 200 and 'data-state="ready"' in text(resent)
    after = world.erp(inv.erp)
    assert after.state == State.READY
    with dbs(world.app) as s:
        actions = [a.action for a in s.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == inv.erp)
                                               .order_by(ErpAudit.id))]
    assert actions == ["send", "reject", "resend"]
    drain()  # the rejection mail


def edit_form(inv, world, **change) -> dict:
    with dbs(world.app) as s:
        lines = s.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id).order_by(InvoiceLine.id)).all()
        form = {"number": inv.number, "status": InvoiceStatus.APPROVED, "billing_date": "2026-10-31",
                "period_start": "2026-10-01", "period_end": "2026-10-31"}
        for line in lines:
            for part in ("work_completed", "materials_stored", "retainage"):
                form[f"line-{line.id}-{part}"] = str(getattr(line, part))
        first = lines[0].id
    form.update({k.replace("FIRST", str(first)): v for k, v in change.items()})
    return form


@pytest.mark.parametrize("change, message", [
    ({"line-FIRST-work_completed": "12abc"}, "'12abc' is not an amount."),
    ({"line-FIRST-retainage": "1e12"}, "Amount is too large."),
    ({"number": ""}, "Invoice # is required."),
    ({"billing_date": "13/45/2026"}, "Enter a date as MM/DD/YYYY."),
    ({"period_start": "2026-11-01"}, "The billing period must end after it starts."),
    ({"status": "Paid"}, "Choose a status from the list."),
], ids=["bad amount", "huge amount", "no number", "bad date", "period backwards", "bad status"])
def test_edit_rejected_invoice_with_bad_input_is_422_and_changes_nothing(sender, world, change, message):
    inv = world.invoice(State.REJECTED)
    before = world.invoice_state(inv.id)
    form = edit_form(inv, world, **{"number": inv.number + "-NEW", **change})
    response = sender.post(world.invoice_url(inv.id, "/edit"), data=form)
    body = text(response)
    assert response.status_code == 422
    assert is_page(body) and message in body and "Please correct the highlighted fields." in body
    assert world.invoice_state(inv.id) == before
    assert world.erp(inv.erp).state == State.REJECTED


def test_edit_rejected_invoice_saves_recomputes_totals_and_can_be_resent(sender, world):
    inv = world.invoice(State.REJECTED)
    form = edit_form(inv, world, number=inv.number + "-R", **{"line-FIRST-work_completed": "2,000.50"})
    response = sender.post(world.invoice_url(inv.id, "/edit"), data=form)
    assert response.status_code == 303 and path_of(response.location) == world.invoice_url(inv.id)
    number, *_, total, retainage, lines = world.invoice_state(inv.id)
    assert number == inv.number + "-R"
    assert lines[0][1] == Decimal("2000.50")
    assert total == Decimal("2000.50") + Decimal("500") + Decimal("100")
    assert sender.post(world.invoice_url(inv.id, "/send")).status_code == 303
    assert world.erp(inv.erp).state == State.READY


def test_edit_of_an_invoice_waiting_in_erp_is_refused(sender, world):
    inv = world.invoice(State.READY)
    before = world.invoice_state(inv.id)
    page = sender.get(world.invoice_url(inv.id, "/edit"))
    assert page.status_code == 200 and "cannot be edited now" in text(page) and 'name="number"' not in text(page)
    response = sender.post(world.invoice_url(inv.id, "/edit"), data=edit_form(inv, world, number="CHANGED"))
    assert response.status_code == 409
    assert world.invoice_state(inv.id) == before


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
def test_post_without_csrf_token_is_400_and_changes_nothing(app, approver, world, headers):
    inv = world.invoice(State.READY)
    before = world.erp(inv.erp)
    with csrf_on(app):
        accept = approver.post(world.row_url(inv.erp, "accept"), headers=headers,
                               data={"erp_id": inv.number, "accounting_date": "2026-10-31"})
        reject = approver.post(world.row_url(inv.erp, "reject"), headers=headers, data={"reason": "no"})
        bulk = approver.post(f"{TAB}/bulk-accept", headers=headers, data={"ids": [str(inv.erp)]})
    for response in (accept, reject, bulk):
        assert response.status_code == 400
        assert "The form had expired" in text(response)
    assert world.erp(inv.erp) == before


def test_post_with_the_pages_csrf_token_goes_through(app, approver, world, drain):
    inv = world.invoice(State.READY)
    with csrf_on(app):
        page = text(approver.get(f"{TAB}?q={inv.number}"))
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        assert f'name="csrf_token" value="{token}"' in page
        response = approver.post(world.row_url(inv.erp, "accept"),
                                 headers={**HX, "X-CSRFToken": token},
                                 data={"erp_id": inv.number, "accounting_date": "2026-10-31"})
    assert response.status_code == 200 and world.erp(inv.erp).state == State.EXPORTING
    drain()


def test_login_without_csrf_token_is_400(app, people):
    with csrf_on(app):
        client = app.test_client()
        response = client.post("/login", data={"username": people["sender"].username, "password": f.PASSWORD})
        assert response.status_code == 400
        assert client.get("/projects/").status_code == 302  # not signed in


# ---- sign in and out ----------------------------------------------------------------------

@pytest.mark.parametrize("username, password", [
    ("sender", "wrong-password"), ("nobody-at-all", f.PASSWORD), ("sender", ""),
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
    response = app.test_client().post("/login?next=/projects/", data={"username": people["sender"].username,
                                                                     "password": f.PASSWORD})
    assert response.status_code == 303 and response.location == "/projects/"
    response = app.test_client().post("/login", data={"username": people["approver"].username.upper(),
                                                      "password": f.PASSWORD})
    assert response.status_code == 303 and response.location == "/"


@pytest.mark.parametrize("target", ["//evil.example/x", "http://evil.example/x", "/\\evil.example/x",
                                    "\\\\evil.example/x"])
def test_login_never_redirects_off_site(app, people, target):
    response = app.test_client().post("/login", query_string={"next": target},
                                      data={"username": people["sender"].username, "password": f.PASSWORD})
    assert response.status_code == 303
    location = response.location
    # browsers read a backslash as a slash: "/\\host" would leave the site like "//host"
    assert "\\" not in location and not location.startswith("//"), location
    assert urlsplit(location).netloc == "", location


def test_logout_is_post_only(app, people):
    client = login(app.test_client(), people["sender"])
    assert client.get("/logout").status_code == 405
    assert client.get("/projects/").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 303 and path_of(response.location) == "/login"
    assert "You are signed out." in text(client.get("/login"))
    assert client.get("/projects/").status_code == 302


# ---- admin forms are all or nothing -------------------------------------------------------

def test_user_edit_with_a_bad_project_level_saves_nothing(app, clients, world):
    with dbs(app) as s:
        target = f.make_user(s, name="Before Name")
        target_id = target.id
    response = clients["site_admin"].post(f"/admin/users/{target_id}", data={
        "name": "After Name", "email": "after@example.com", "erp_level": ToolLevel.READ_ONLY,
        "active": "on", f"project-{world.pid}": "superuser"})
    assert response.status_code == 422
    with dbs(app) as s:
        user = s.get(User, target_id)
        assert (user.name, user.erp_level) == ("Before Name", ToolLevel.NONE)
        assert s.scalar(select(func.count()).select_from(ProjectMember).where(
            ProjectMember.user_id == target_id)) == 0
