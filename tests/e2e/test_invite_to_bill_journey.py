"""In Chromium, as new users would: the invoice administrator adds a new invoice contact on a
commitment, opens a billing period and invites the contact to bill; the contact follows the
emailed account link, sets a password, follows the emailed invitation and accepts it."""
from __future__ import annotations

import email
import email.policy
import re
import time
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from tests import factories as f
from tests.e2e.helpers import main_nav, navigate, project_admin_on_synced_project, wait_for_mail

pytestmark = pytest.mark.e2e
PASSWORD = "my-billing-desk-77"


def mailed_path(smtp, address: str, subject_part: str, path: str) -> str:
    """The path of the link to `path` in the mail to `address` whose subject holds `subject_part`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for raw in wait_for_mail(smtp, address):
            message = email.message_from_bytes(raw.content, policy=email.policy.default)
            if subject_part in f.subject(message):
                found = re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)",
                                  message.get_body(("plain",)).get_content())
                assert found, message.get_body(("plain",)).get_content()
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no mail {subject_part!r} to {address}")


def test_invite_a_new_contact_to_bill_and_they_accept(session, sim, open_as, new_context, smtp):
    setup, admin = project_admin_on_synced_project(session, sim)
    project, number = setup.project.name, setup.commitment.number
    who = SimpleNamespace(username=admin.username, name=admin.name)
    address = f"ana.{f.suffix().lower()}@sub.example"
    session.commit()

    page = open_as(who)
    navigate(page, main_nav(page, "Projects"))
    navigate(page, page.get_by_role("link", name=project, exact=True))
    navigate(page, page.get_by_role("navigation", name="Project tools").get_by_role("link", name="Billing"))
    expect(page.get_by_role("heading", name="Billing periods and invitations to bill")).to_be_visible()
    navigate(page, page.get_by_role("link", name=re.compile(re.escape(number))))
    page.get_by_label("Name", exact=True).fill("Ana Ruiz")
    page.get_by_label("Email", exact=True).fill(address)
    navigate(page, page.get_by_role("button", name="Add invoice contact"))
    expect(page.locator("#messages")).to_contain_text("Ana Ruiz is now an invoice contact")
    expect(page.locator("#invoice-contacts")).to_contain_text(address)

    navigate(page, page.get_by_role("link", name="Billing periods and invitations to bill"))
    for label, value in (("Start date", "2026-12-01"), ("End date", "2026-12-31"), ("Billing date", "2026-12-31"),
                         ("Due date", "2026-12-24")):
        page.get_by_label(label).fill(value)
    navigate(page, page.get_by_role("button", name="Open period"))
    expect(page.locator("#messages")).to_contain_text("Billing period 12/01/2026 – 12/31/2026 is open.")
    page.get_by_label(f"Invite Ana Ruiz on {number}").check()
    navigate(page, page.get_by_role("button", name="Invite selected"))
    expect(page.locator("#messages")).to_contain_text("1 invitation(s) to bill sent")
    expect(page.locator("#invitations .invitation-status")).to_have_text(["Invited"])

    welcome = mailed_path(smtp, address, "Set up your account to bill", "/billing/welcome/")
    invitation = mailed_path(smtp, address, f"Invitation to bill {project} for 12/01/2026 – 12/31/2026",
                             "/billing/invitations/")
    contact = new_context().new_page()
    contact.goto(welcome)
    expect(contact.get_by_role("heading", name="Welcome, Ana Ruiz")).to_be_visible()
    contact.get_by_label("Password", exact=True).fill(PASSWORD)
    contact.get_by_label("Password again").fill(PASSWORD)
    contact.get_by_role("button", name="Set password and sign in").click()
    expect(contact.get_by_role("heading", name="My billing")).to_be_visible()
    expect(contact.locator("#my-commitments")).to_contain_text(number)
    expect(main_nav(contact, "Projects")).to_have_count(0)

    contact.goto(invitation)
    expect(contact.get_by_role("heading", name=f"Invitation to bill {project}")).to_be_visible()
    contact.get_by_role("button", name="Accept").click()
    # Accept starts the invoice: the commitment's invoice form, on the invitation's period
    expect(contact.get_by_role("heading", name=re.compile(f"New invoice on {number}"))).to_be_visible()
    expect(contact.locator('input[name="period_start"]')).to_have_value("2026-12-01")
    contact.goto(contact.url.split("/billing/")[0] + "/billing/")
    expect(contact.locator("#my-invitations")).to_contain_text("Accepted")

    page.reload()
    expect(page.locator("#invitations .invitation-status")).to_have_text(["Accepted"])
