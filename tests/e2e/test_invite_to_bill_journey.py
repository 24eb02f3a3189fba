"""In Chromium, as new users would: the invoice administrator adds a new invoice contact on a
commitment, opens a billing period and invites the contact to bill; the contact follows the
emailed account link, sets a password, follows the emailed invitation and accepts it."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from tests import factories as f
from tests.e2e.billing_steps import new_contact_accepts
from tests.e2e.helpers import project_admin_on_synced_project

pytestmark = pytest.mark.e2e
PASSWORD = "my-billing-desk-77"


def test_invite_a_new_contact_to_bill_and_they_accept(session, sim, open_as, new_context, smtp):
    setup, admin = project_admin_on_synced_project(session, sim)
    project, number = setup.project.name, setup.commitment.number
    who = SimpleNamespace(username=admin.username, name=admin.name)
    address = f"ana.{f.suffix().lower()}@sub.example"
    session.commit()

    page = open_as(who)
    contact = new_contact_accepts(page, new_context, smtp, project, number, "Ana Ruiz", address, PASSWORD)
    contact.goto(contact.url.split("/billing/")[0] + "/billing/")
    expect(contact.locator("#my-invitations")).to_contain_text("Accepted")

    page.reload()
    expect(page.locator("#invitations .invitation-status")).to_have_text(["Accepted"])
