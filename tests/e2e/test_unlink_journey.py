"""In Chromium: an accounting approver unlinks a synced commitment. While Sage still holds it the
portal says which record is there; once the Sage user deletes it, Unlink takes it out of Synced."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.domain.lifecycle import State
from portal.domain.models import ErpItem
from tests import factories as f
from tests.e2e.helpers import navigate
from tests.integration.test_unlink import make_synced

pytestmark = pytest.mark.e2e


def test_approver_unlinks_a_commitment_once_sage_no_longer_holds_it(session, sim, open_as):
    case = make_synced(session, sim, "commitment")
    sage_id, job, project = case.fields["sage_id"], case.home.job, case.home.number
    approver = f.approver(session)
    session.commit()

    page = open_as(approver)
    confirms = []
    page.on("dialog", lambda dialog: (confirms.append(dialog.message), dialog.accept()))
    navigate(page, page.get_by_role("navigation").get_by_role("link", name="ERP Integrations", exact=True))
    navigate(page, page.get_by_role("navigation", name="Item types").get_by_role("link", name="Commitments",
                                                                                 exact=True))
    navigate(page, page.locator('#tab-body a[data-filter="synced"]'))
    box = page.get_by_role("searchbox")
    box.fill(project)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"filter=synced.*q=|q=.*filter=synced"))
    row = page.locator(f"#item-{case.erp_id}")
    expect(row.locator(".status")).to_contain_text(f"Synced ERP ID {sage_id}")

    row.get_by_role("button", name="Unlink").click()
    expect(page.locator("#messages")).to_contain_text(
        f"Sage 300 CRE still holds commitment {sage_id} on job {job}: delete it in Sage first.")
    assert confirms and f"Sage 300 CRE ID {sage_id}" in confirms[0]
    expect(row.locator(".status")).to_contain_text("Synced")
    session.expire_all()
    assert session.get(ErpItem, case.erp_id).state == State.SYNCED

    assert sim.delete_commitment(sage_id)  # the Sage user deletes it in Sage 300 CRE
    row.get_by_role("button", name="Unlink").click()
    expect(row.locator(".status")).to_have_text("Unlinked – back in draft")
    expect(row.get_by_role("button", name="Unlink")).to_have_count(0)

    page.reload()
    expect(page.locator(f"#item-{case.erp_id}")).to_have_count(0)
    expect(page.locator('#tab-body a[data-filter="synced"] .count')).to_have_text("0")
    session.commit()
    session.expire_all()
    erp = session.get(ErpItem, case.erp_id)
    assert (erp.state, erp.erp_ref) == (State.DRAFT, None)
