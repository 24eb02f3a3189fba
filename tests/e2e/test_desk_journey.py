"""The invoice administrator's desk in a browser (issue 14): after rejections on two projects the
desk lists both with their reasons, a failed export shows Sage's text with its cause and solution,
the filters narrow it, its link opens the item ready to edit, and the rejection mail names the
item and answers to the approver who rejected it."""
from __future__ import annotations

import email.policy
import re

from playwright.sync_api import expect

from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from portal.exporters.sage300.troubleshooting import explain
from tests import factories as f, items as it
from tests.e2e.helpers import main_nav, navigate, open_tab, search, tab_row, wait_for_mail

CLOSED_JOB = "Job has been closed."


def test_the_desk_lists_rejections_on_two_projects_and_sage_s_words(session, sim, smtp, open_as):
    admin, approver = f.make_user(session), f.approver(session)
    members = {admin.id: ToolLevel.ADMIN}
    first, second = it.make_home(session, sim, members), it.make_home(session, sim, members)
    invoice = it.make_item(session, sim, "subcontractor_invoice", State.READY, home=first, sender=admin)
    commitment = it.make_item(session, sim, "commitment", State.REJECTED, home=second, sender=admin,
                              approver=approver, reason="Vendor on hold e2e")
    failed = it.make_item(session, sim, "cco", State.FAILED, home=first, sender=admin, approver=approver,
                          message=CLOSED_JOB)

    # The approver rejects the invoice on the first project.
    page = open_as(approver)
    open_tab(page, "Subcontractor Invoices", "subcontractor_invoice")
    search(page, invoice.number)
    tab_row(page, invoice.erp).get_by_role("link", name="Reject").click()
    form = page.get_by_role("form", name=re.compile(r"^Reject "))
    form.get_by_label("Reason for rejection").fill("Retainage is wrong e2e")
    form.get_by_role("button", name="Reject").click()
    expect(tab_row(page, invoice.erp).locator(".status")).to_have_text(
        "Rejected: returned to the project team and emailed.")

    # The mail names the item and its project, and a reply goes to the approver.
    got = wait_for_mail(smtp, admin.email.lower())
    assert len(got) == 1
    message = email.message_from_bytes(got[0].content, policy=email.policy.default)
    assert f.subject(message) == (f"Test Builders: ERP Subcontractor Invoice Rejection Notification — "
                                  f"{invoice.number}, {first.name}")
    assert message["Reply-To"] == approver.email
    link = f"/projects/{first.pid}/invoices/{invoice.id}/edit"
    assert link in message.get_body(("plain",)).get_content()

    # The invoice administrator lands on the desk: both rejections with their reasons, the failed export.
    desk = open_as(admin)
    expect(desk).to_have_url(re.compile(r"/attention/$"))
    expect(desk.get_by_role("heading", name="Needs attention")).to_be_visible()
    expect(main_nav(desk, re.compile(r"^Needs attention \d+$"))).to_be_visible()
    rejected_invoice, rejected_commitment = (desk.locator(f"#attention-{invoice.erp}"),
                                             desk.locator(f"#attention-{commitment.erp}"))
    expect(rejected_invoice).to_contain_text("Retainage is wrong e2e")
    expect(rejected_invoice).to_contain_text(f"Rejected by {approver.name}")
    expect(rejected_invoice).to_contain_text(first.name)
    expect(rejected_commitment).to_contain_text("Vendor on hold e2e")
    expect(rejected_commitment).to_contain_text(second.name)
    why = explain(CLOSED_JOB)
    refusal = desk.locator(f"#attention-{failed.erp}")
    expect(refusal).to_contain_text(f"Sage: {CLOSED_JOB}")
    expect(refusal.locator("p").filter(has_text=re.compile(r"^Cause: "))).to_have_text(f"Cause: {why.cause}")
    expect(refusal.locator("p").filter(has_text=re.compile(r"^Solution: "))).to_have_text(f"Solution: {why.solution}")
    expect(refusal).to_contain_text("The project team can fix this")

    # Filtered by the second project, only its item is left (and the URL says so).
    desk.get_by_label("Project").select_option(str(second.pid))
    desk.get_by_role("button", name="Filter").click()
    expect(desk).to_have_url(re.compile(rf"project={second.pid}"))
    expect(desk.locator("#attention-table tbody tr")).to_have_count(1)
    expect(desk.locator(f"#attention-{commitment.erp}")).to_be_visible()

    # Back to all: the invoice's link opens it ready to edit.
    navigate(desk, main_nav(desk, re.compile(r"^Needs attention")))
    navigate(desk, desk.locator(f"#attention-{invoice.erp}").get_by_role("link", name="Edit and resend"))
    expect(desk).to_have_url(re.compile(re.escape(link) + "$"))
    expect(desk.get_by_text("Rejected by accounting: Retainage is wrong e2e")).to_be_visible()
