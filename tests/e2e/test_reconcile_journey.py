"""In Chromium: an accounting approver opens Reconciliation from the ERP tabs, lists every synced
item and opens a project's page, where a synced commitment matches Sage; a Sage user deletes it
on the simulator's Sage page; the approver's project page then flags it as missing in Sage, and
the company page (what differs, by default) lists it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.domain.models import ToolLevel
from tests import factories as f
from tests.e2e.helpers import erp_tab, main_nav, navigate
from tests.e2e.test_sage_fix_journey import sage_form

pytestmark = pytest.mark.e2e


def test_a_commitment_deleted_on_the_sage_page_is_flagged(session, sim, open_as):
    setup = f.Setup(session, sim)
    commitment, project = setup.commitment.erp_commitment_id, setup.project
    approver, sage_user = f.approver(session), f.make_user(session, erp_level=ToolLevel.ADMIN)
    session.commit()

    page = open_as(approver)
    erp_tab(page, "Reconciliation")
    expect(page.get_by_role("heading", name="Reconciliation", exact=True)).to_be_visible()
    navigate(page, page.get_by_role("navigation", name="Show").get_by_role("link", name="All synced"))
    navigate(page, page.locator(f"#recon-job-{project.sage_job_id}").get_by_role(
        "link", name=f"{project.number} {project.name}"))
    group = page.locator(f"#recon-commitment-{commitment}")
    expect(group.locator(".badge")).to_have_text("Matches")

    # the Sage user deletes the commitment on the Sage page
    sage = open_as(sage_user)
    navigate(sage, main_nav(sage, "Sage 300 CRE (simulator)"))
    section = sage_form(sage, "commitment", {"Commitment": commitment}, {"Action": "Delete"})
    expect(section.get_by_role("status")).to_have_text(f"Commitment {commitment} deleted.")

    page.reload()
    expect(group.locator(".badge")).to_have_text("Missing in Sage (deleted there?)")
    expect(group).to_have_attribute("data-differs", "true")
    expect(page.locator(f"#recon-job-{project.sage_job_id} .badge")).to_have_text("Matches")
    navigate(page, page.get_by_role("link", name="All projects"))
    expect(page.locator(f"#recon-commitment-{commitment} .badge")).to_have_text("Missing in Sage (deleted there?)")
