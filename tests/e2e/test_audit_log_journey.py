"""In Chromium: an ERP Admin answers "who rejected this commitment?" on the audit log, by its
number and the Rejected action; the filters stay in the URL, so a reload shows the same answer."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.domain.lifecycle import State
from portal.domain.models import ToolLevel
from tests import factories as f, items as it
from tests.e2e.helpers import erp_tab

pytestmark = pytest.mark.e2e


def test_erp_admin_finds_who_rejected_a_commitment(session, sim, open_as):
    sender, approver = f.make_user(session, site_admin=True), f.approver(session)
    admin = f.make_user(session, erp_level=ToolLevel.ADMIN)
    home = it.make_home(session, sim)
    reason = f"Retainage is wrong {f.suffix(6)}"
    item = it.make_item(session, sim, "commitment", State.REJECTED, home=home, sender=sender,
                        approver=approver, reason=reason)
    session.commit()

    page = open_as(admin)
    erp_tab(page, "Audit Log")
    expect(page).to_have_url(re.compile(r"/erp/audit-log$"))
    page.get_by_role("searchbox").fill(item.number)
    page.get_by_label("Action").select_option(label="Rejected")
    expect(page).to_have_url(re.compile(r"action=reject"))
    expect(page).to_have_url(re.compile(r"q=" + re.escape(item.number)))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(approver.name)
    expect(rows.first).to_contain_text(reason)
    expect(rows.first).to_contain_text("Rejected")

    page.reload()
    expect(page.get_by_label("Action")).to_have_value("reject")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="Download CSV")).to_have_attribute(
        "href", re.compile(r"/erp/audit-log\.csv\?.*action=reject"))
