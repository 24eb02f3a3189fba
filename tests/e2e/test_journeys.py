"""End-to-end journeys in Chromium: the approver's tab, the project side, mail and Sage.

Every test makes its own data (random suffixes) with the factories, signs in through the
real login form of the live portal (CSRF on), and lets the real RQ worker export to the
Sage simulator and send mail to the aiosmtpd inbox.
"""
from __future__ import annotations

import email
import email.policy
import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from portal.domain import services
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, InvoiceStatus, OutboxMail, ToolLevel
from portal.queue import RQJobQueue
from tests import factories as f
from tests.e2e.helpers import confirm_click, navigate, tab_row as row, wait_for_mail

pytestmark = pytest.mark.e2e

TAB = "/erp/subcontractor_invoice"
SUBJECT = "Test Builders: ERP Subcontractor Invoice Rejection Notification"


# ---- data ------------------------------------------------------------------------------

class Sent:
    """A project with an invoice admin and one or more invoices sent to ERP Integrations."""

    def __init__(self, session, sim, count: int = 1, **invoice_kw):
        self.setup = f.Setup(session, sim)
        self.admin = f.make_user(session)
        f.member(session, self.admin, self.setup.project, ToolLevel.ADMIN)
        self.project_id = self.setup.project.id
        self.project_number = self.setup.project.number
        self.vendor_erp_id = self.setup.vendor.erp_vendor_id
        self.invoices, self.erp_ids = [], []
        for _ in range(count):
            inv = self.setup.invoice(session, self.admin, **invoice_kw)
            erp = services.send(session, self.admin, "subcontractor_invoice", inv.id)
            self.invoices.append((inv.id, inv.number))
            self.erp_ids.append(erp.id)

    @property
    def number(self) -> str:
        return self.invoices[0][1]

    @property
    def erp_id(self) -> int:
        return self.erp_ids[0]


def erp_state(session, erp_id: int) -> ErpItem:
    session.commit()  # end the test's read transaction: see what the web and the worker wrote
    return session.get(ErpItem, erp_id)


# ---- page helpers --------------------------------------------------------------------

def open_tab(page: Page) -> None:
    """ERP Integrations -> Subcontractor Invoices, through the navigation."""
    navigate(page, page.get_by_role("navigation").get_by_role("link", name="ERP Integrations"))
    navigate(page, page.get_by_role("navigation", name="Item types").get_by_role(
        "link", name="Subcontractor Invoices"))
    expect(page).to_have_url(re.compile(re.escape(TAB)))
    expect(page.get_by_role("heading", name="ERP Integrations")).to_be_visible()


def search(page: Page, q: str, rows: int = 1) -> None:
    box = page.get_by_role("searchbox")
    box.fill(q)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(q)))
    expect(page.locator("#tab-body tbody.item")).to_have_count(rows)
    expect(box).to_have_value(q)


def count(page: Page, filter_key: str) -> int:
    return int(page.locator(f'#tab-body a[data-filter="{filter_key}"] .count').inner_text())


# ---- 1. accept and export --------------------------------------------------------------

def test_approver_accepts_and_row_turns_synced_without_reload(session, sim, open_as):
    data = Sent(session, sim)
    number, erp_id = data.number, data.erp_id
    page = open_as(f.approver(session))
    open_tab(page)
    search(page, number)
    synced_before = count(page, "synced")
    item = row(page, erp_id)
    expect(item.locator(".status")).to_have_text("Ready to Export")

    item.get_by_role("link", name="Accept").click()
    form = page.get_by_role("form", name=f"Accept invoice {number}")
    expect(form).to_be_visible()
    expect(form.get_by_label("ERP ID")).to_have_value(number)
    expect(form.get_by_label("Accounting Date")).to_have_value("2026-10-31")
    form.get_by_label("Description").fill("Oct pay app e2e")

    page.evaluate("window.__e2eNoReload = true")
    polls = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith(f"/{erp_id}/status") else None)
    with page.expect_response(lambda r: r.url.endswith(f"/{erp_id}/accept")
                              and r.request.method == "POST") as accepted:
        form.get_by_role("button", name="Export to ERP").click()
    assert accepted.value.status == 200
    accepted_body = accepted.value.text()

    status = row(page, erp_id).locator(".status")
    expect(status).to_contain_text("Synced")
    expect(status).to_contain_text(f"ERP ID {number}")
    assert page.evaluate("window.__e2eNoReload") is True, "the page reloaded"
    if "Exporting" in accepted_body:  # the worker had not finished when the row came back
        assert polls, "the exporting row did not poll its status"
    expect(row(page, erp_id).get_by_role("link", name="Accept")).to_have_count(0)

    navigate(page, page.locator('#tab-body a[data-filter="synced"]'))
    expect(page).to_have_url(re.compile(r"filter=synced"))
    expect(page.locator('#tab-body a[data-filter="synced"]')).to_have_attribute("aria-current", "page")
    expect(row(page, erp_id).locator(".status")).to_contain_text(f"Synced ERP ID {number}")
    assert count(page, "synced") == synced_before + 1

    header = sim.get_invoice(data.vendor_erp_id, number)
    assert header is not None
    assert header["Description"] == "Oct pay app e2e"
    assert Decimal(header["Amount"]) == Decimal("1600.00")
    assert Decimal(header["Retainage"]) == Decimal("150.00")
    erp = erp_state(session, erp_id)
    assert erp.state == State.SYNCED and erp.erp_ref == number


# ---- 2. field errors --------------------------------------------------------------------

def test_erp_id_longer_than_15_characters_is_refused_and_nothing_changes(session, sim, open_as):
    data = Sent(session, sim)
    number, erp_id = data.number, data.erp_id
    page = open_as(f.approver(session))
    open_tab(page)
    search(page, number)
    row(page, erp_id).get_by_role("link", name="Accept").click()
    form = page.get_by_role("form", name=f"Accept invoice {number}")
    too_long = "ERP-ID-TOO-LONG-1"  # 17 characters
    form.get_by_label("ERP ID").fill(too_long)
    form.get_by_role("button", name="Export to ERP").click()

    form = page.get_by_role("form", name=f"Accept invoice {number}")
    expect(form.locator(".field-error")).to_have_text(
        "ERP ID must be 15 characters or less (Sage's Invoice field).")
    expect(form.get_by_label("ERP ID")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("ERP ID")).to_have_value(too_long)
    expect(row(page, erp_id).locator(".status")).to_have_text("Ready to Export")

    form.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("form", name=f"Accept invoice {number}")).to_have_count(0)
    expect(row(page, erp_id).get_by_role("link", name="Accept")).to_be_visible()
    page.reload()
    expect(row(page, erp_id).locator(".status")).to_have_text("Ready to Export")

    erp = erp_state(session, erp_id)
    assert erp.state == State.READY and erp.attempt == 0 and erp.export_fields is None
    assert sim.get_invoice(data.vendor_erp_id, too_long) is None
    assert sim.get_invoice(data.vendor_erp_id, number) is None


# ---- 3. Sage refuses ------------------------------------------------------------------

def test_sage_refusal_shows_its_text_with_cause_and_solution_and_retry_reopens_the_form(
        session, sim, open_as):
    data = Sent(session, sim, billing=date(2026, 1, 31))
    number, erp_id = data.number, data.erp_id
    try:
        page = open_as(f.approver(session))
        open_tab(page)
        search(page, number)
        row(page, erp_id).get_by_role("link", name="Accept").click()
        form = page.get_by_role("form", name=f"Accept invoice {number}")
        expect(form.get_by_label("Accounting Date")).to_have_value("2026-01-31")
        # closed in Sage while the Accept form is open (the pre-check before found it open)
        sim.set_setting("closed_periods", "2026-01")
        form.get_by_role("button", name="Export to ERP").click()

        status = row(page, erp_id).locator(".status")
        expect(status.locator(".badge")).to_have_text("Failed to Export")
        expect(status.locator(".sage-message")).to_contain_text(
            "Ap Invoice Api import failed with error message: GL period closed.")
        expect(status.locator(".sage-message")).to_contain_text("Entry not allowed. (01\\31\\2026).")
        expect(status.get_by_text("Cause and solution")).to_be_visible()
        expect(status).to_contain_text("Cause: Invoices will not post to a closed GL period in Sage 300 CRE.")
        expect(status).to_contain_text("Solution: Re-open the GL period")
    finally:
        sim.set_setting("closed_periods", "")

    # the counts followed the row as it settled (out of band): Failed to Export counts it already
    expect(page.locator('#tab-body a[data-filter="failed"] .count')).to_have_text("1")
    navigate(page, page.locator('#tab-body a[data-filter="failed"]'))
    expect(page).to_have_url(re.compile(r"filter=failed"))
    assert count(page, "failed") == 1
    failed_row = row(page, erp_id)
    expect(failed_row.locator(".sage-message")).to_contain_text("GL period closed.")
    expect(failed_row.locator(".status")).to_contain_text("Cause: Invoices will not post to a closed GL period")

    failed_row.get_by_role("link", name="Retry").click()
    form = page.get_by_role("form", name=f"Accept invoice {number}")
    expect(form).to_be_visible()
    expect(form.get_by_label("ERP ID")).to_have_value(number)
    expect(form.get_by_label("Accounting Date")).to_have_value("2026-01-31")
    expect(form.get_by_role("button", name="Export to ERP")).to_be_enabled()
    assert erp_state(session, erp_id).state == State.FAILED
    assert sim.get_invoice(data.vendor_erp_id, number) is None


# ---- 4. reject with a reason, mail --------------------------------------------------

def test_reject_needs_a_reason_then_mails_creator_and_sender_once(session, sim, smtp, open_as):
    setup = f.Setup(session, sim)
    creator = f.make_user(session)
    sender = f.make_user(session)
    f.member(session, sender, setup.project, ToolLevel.ADMIN)
    inv = setup.invoice(session, creator)
    number = inv.number
    erp_id = services.send(session, sender, "subcontractor_invoice", inv.id).id
    creator_email, sender_email = creator.email.lower(), sender.email.lower()

    page = open_as(f.approver(session))
    open_tab(page)
    search(page, number)
    row(page, erp_id).get_by_role("link", name="Reject").click()
    form = page.get_by_role("form", name=f"Reject invoice {number}")
    reason = form.get_by_label("Reason for rejection")
    expect(reason).to_be_visible()

    # Empty: the browser refuses to submit the required field.
    form.get_by_role("button", name="Reject").click()
    assert reason.evaluate("el => !el.validity.valid")
    expect(form).to_be_visible()
    # Blank: the server refuses with a field error.
    reason.fill("   ")
    form.get_by_role("button", name="Reject").click()
    form = page.get_by_role("form", name=f"Reject invoice {number}")
    expect(form.locator(".field-error")).to_have_text("A reason is required.")
    expect(row(page, erp_id).locator(".status")).to_have_text("Ready to Export")
    assert erp_state(session, erp_id).state == State.READY

    form.get_by_label("Reason for rejection").fill("Wrong billing period e2e")
    form.get_by_role("button", name="Reject").click()
    expect(row(page, erp_id).locator(".status")).to_have_text(
        "Rejected: returned to the project team and emailed.")
    expect(page.get_by_role("form", name=f"Reject invoice {number}")).to_have_count(0)
    expect(row(page, erp_id).get_by_role("link", name="Accept")).to_have_count(0)

    got = wait_for_mail(smtp, creator_email)
    assert len(got) == 1, f"expected one mail to the creator, got {len(got)}"
    assert sorted(a.lower() for a in got[0].rcpt_tos) == sorted([creator_email, sender_email])
    assert len(smtp.to(sender_email)) == 1
    message = email.message_from_bytes(got[0].content, policy=email.policy.default)
    assert f.subject(message).startswith(f"{SUBJECT} — {number}, ")
    text = message.get_body(("plain",)).get_content()
    assert "Wrong billing period e2e" in text and number in text

    erp = erp_state(session, erp_id)
    assert erp.state == State.REJECTED and erp.reject_reason == "Wrong billing period e2e"
    assert session.query(OutboxMail).filter_by(erp_item_id=erp_id).count() == 1
    page.reload()
    expect(row(page, erp_id)).to_have_count(0)  # gone from Ready to Export


# ---- 5. the invoice admin edits and resends --------------------------------------------

def test_invoice_admin_sees_reason_edits_and_resends_and_approver_sees_it_again(
        session, sim, open_as):
    data = Sent(session, sim)
    number, erp_id = data.number, data.erp_id
    invoice_id = data.invoices[0][0]
    approver = f.approver(session)
    services.reject(session, approver, erp_id, "Retainage is wrong e2e", RQJobQueue(),
                    "Test Builders", lambda e: f"http://portal.test/p/{e.item_id}")

    page = open_as(data.admin)
    navigate(page, page.get_by_role("navigation").get_by_role("link", name="Projects"))
    navigate(page, page.get_by_role("link", name=data.setup.project.name))
    expect(page).to_have_url(re.compile(rf"/projects/{data.project_id}/invoices$"))
    invoice_row = page.locator(f"#invoice-{invoice_id}")
    expect(invoice_row.locator(".status")).to_contain_text("Rejected")
    expect(invoice_row.locator(".reason")).to_have_text("Rejected: Retainage is wrong e2e")
    expect(invoice_row.get_by_role("button", name="Resend to ERP")).to_be_visible()

    navigate(page, invoice_row.get_by_role("link", name="Edit"))
    expect(page.get_by_role("heading", name=f"Edit invoice #{number}")).to_be_visible()
    expect(page.get_by_text("Rejected by accounting: Retainage is wrong e2e")).to_be_visible()
    work = page.get_by_label("work completed line 1", exact=True)
    expect(work).to_have_value("1000.00")
    work.fill("2000")
    navigate(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_text("Invoice saved.")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Invoice #{number}")).to_be_visible()
    summary = page.locator(f"#invoice-{invoice_id}")
    expect(summary).to_contain_text("$2,600.00")
    confirm_click(page, summary.get_by_role("button", name="Resend to ERP"))
    expect(summary.locator(".status .badge")).to_have_text("Ready to Export")
    expect(summary.get_by_role("button", name="Resend to ERP")).to_have_count(0)
    expect(summary.get_by_role("button", name="Retrieve")).to_be_visible()

    erp = erp_state(session, erp_id)
    assert erp.state == State.READY and erp.sent_by_id == data.admin.id

    approver_page = open_as(approver)
    open_tab(approver_page)
    search(approver_page, number)
    item = row(approver_page, erp_id)
    expect(item.locator(".status .badge.ready")).to_have_text("Ready to Export")
    expect(item.locator(".status .badge.resent")).to_have_text("Resent")  # with what changed
    expect(item).to_contain_text("$2,450.00")  # current payment due: 2,600 - 150 retainage
    expect(item.get_by_role("link", name="Accept")).to_be_visible()


# ---- 6. who sees the buttons ---------------------------------------------------------

@pytest.mark.parametrize("level", [ToolLevel.READ_ONLY, ToolLevel.STANDARD])
def test_users_without_push_privilege_see_the_tab_but_no_decisions(session, sim, open_as, level):
    data = Sent(session, sim)
    number, erp_id = data.number, data.erp_id
    user = f.make_user(session, erp_level=level, push=False)
    page = open_as(user)
    expect(page).to_have_url(re.compile(re.escape(TAB)))  # home sends ERP users to the tab
    open_tab(page)
    search(page, number)
    item = row(page, erp_id)
    expect(item).to_contain_text(number)
    expect(item.locator(".status")).to_have_text("Ready to Export")
    expect(item.get_by_role("link", name="Accept")).to_have_count(0)
    expect(item.get_by_role("link", name="Reject")).to_have_count(0)
    expect(item.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("button", name="Export selected to ERP")).to_have_count(0)
    expect(page.get_by_role("columnheader", name="Actions")).to_have_count(0)

    # And the server says no as well.
    response = page.request.get(f"{TAB}/{erp_id}/accept", headers={"HX-Request": "true"})
    assert response.status == 403
    assert erp_state(session, erp_id).state == State.READY


# ---- 7. bulk export ------------------------------------------------------------------

def test_bulk_export_of_two_ticked_invoices(session, sim, open_as):
    data = Sent(session, sim, count=2)
    page = open_as(f.approver(session))
    open_tab(page)
    search(page, data.project_number, rows=2)
    for _, number in data.invoices:
        page.get_by_role("checkbox", name=f"Tick invoice {number}").check()
    page.get_by_role("button", name="Export selected to ERP").click()

    expect(page.locator("#bulk-result")).to_have_text(re.compile(r"^\s*2 Synced\s*$"))
    # the exports may settle before the tab is drawn again (then the rows have left Ready to Export):
    # the Synced filter lists them either way
    navigate(page, page.locator('#tab-body a[data-filter="synced"]'))
    for erp_id, (_, number) in zip(data.erp_ids, data.invoices, strict=False):
        expect(row(page, erp_id).locator(".status")).to_contain_text(f"Synced ERP ID {number}")
    for erp_id, (_, number) in zip(data.erp_ids, data.invoices, strict=False):
        assert erp_state(session, erp_id).state == State.SYNCED
        assert sim.get_invoice(data.vendor_erp_id, number) is not None


# ---- 8. Send to ERP on the project side ----------------------------------------------

def test_project_admin_send_is_disabled_with_reasons_and_works_when_approved(session, sim, open_as):
    setup = f.Setup(session, sim)
    admin = f.make_user(session)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    review = setup.invoice(session, admin, status=InvoiceStatus.UNDER_REVIEW)
    approved = setup.invoice(session, admin, status=InvoiceStatus.APPROVED)
    review_id, approved_id = review.id, approved.id

    page = open_as(admin)
    page.goto(f"/projects/{setup.project.id}/invoices")
    expect(page.get_by_role("heading", name="Subcontractor Invoices")).to_be_visible()

    blocked = page.locator(f"#invoice-{review_id}")
    expect(blocked.locator(".status .badge")).to_have_text("Not sent")
    send_blocked = blocked.get_by_role("button", name="Send to ERP")
    expect(send_blocked).to_be_disabled()
    expect(blocked.locator(f"#why-{review_id} li")).to_have_text([
        "The invoice is Under Review: only Approved, Approved as Noted or Pending Owner "
        "Approval invoices can be sent to ERP."])
    expect(send_blocked).to_have_accessible_description(re.compile("The invoice is Under Review"))

    ready = page.locator(f"#invoice-{approved_id}")
    expect(ready.locator(".status .badge")).to_have_text("Not sent")
    ready.get_by_role("button", name="Send to ERP").click()
    expect(ready.locator(".status .badge")).to_have_text("Ready to Export")
    expect(ready.get_by_role("button", name="Send to ERP")).to_have_count(0)
    expect(ready.get_by_role("button", name="Retrieve")).to_be_visible()
    expect(blocked.get_by_role("button", name="Send to ERP")).to_be_disabled()

    session.commit()
    erp = services.find_erp_item(session, "subcontractor_invoice", approved_id)
    assert erp is not None and erp.state == State.READY and erp.sent_by_id == admin.id
    assert services.find_erp_item(session, "subcontractor_invoice", review_id) is None


# ---- links opened without htmx ------------------------------------------------------

def test_accept_link_opened_in_a_new_tab_is_a_whole_page_that_exports(session, sim, open_as):
    data = Sent(session, sim)
    page = open_as(f.approver(session))
    open_tab(page)
    search(page, data.number)
    href = row(page, data.erp_id).get_by_role("link", name="Accept").get_attribute("href")
    response = page.goto(href)  # what "Open link in new tab" does: a plain GET, no HX-Request
    assert response.status == 200
    expect(page.get_by_role("navigation").get_by_role("link", name="ERP Integrations")).to_be_visible()
    form = page.get_by_role("form", name=f"Accept invoice {data.number}")
    expect(form.get_by_label("ERP ID")).to_have_value(data.number)
    page.wait_for_function("() => window.htmx !== undefined")
    form.get_by_role("button", name="Export to ERP").click()
    expect(row(page, data.erp_id).locator(".status")).to_contain_text(f"Synced ERP ID {data.number}")
    assert sim.get_invoice(data.vendor_erp_id, data.number) is not None


# ---- the table keeps its shape --------------------------------------------------------

def test_rows_changed_in_place_keep_the_tables_columns(session, sim, open_as):
    data = Sent(session, sim, count=2)
    to_sync, to_reject = data.erp_ids
    page = open_as(f.approver(session))
    open_tab(page)
    search(page, data.project_number, rows=2)
    columns = page.locator("#tab-body table.grid > thead th").count()
    assert page.locator(f"#item-{to_sync} > tr:first-child > td").count() == columns

    row(page, to_sync).get_by_role("link", name="Accept").click()
    page.get_by_role("button", name="Export to ERP").click()
    expect(row(page, to_sync).locator(".status")).to_contain_text("Synced")
    row(page, to_reject).get_by_role("link", name="Reject").click()
    page.get_by_label("Reason for rejection").fill("Duplicate e2e")
    page.get_by_role("button", name="Reject", exact=True).click()
    expect(row(page, to_reject).locator(".status")).to_contain_text("Rejected")

    cells = {erp_id: page.locator(f"#item-{erp_id} > tr:first-child > td").count()
             for erp_id in (to_sync, to_reject)}
    assert cells == {to_sync: columns, to_reject: columns}, f"{columns} column headers, row cells {cells}"
