"""End-to-end in Chromium: a project member opens the Job Costs report of a project whose job
costs were synced from Sage, reads the chart (one bar group per cost code) and the totals,
narrows it with the search box, and downloads the CSV.

(Named test_job_costs_journey.py: tests/integration/test_job_costs_report.py holds the module
name test_job_costs_report, and these test folders are not packages.)
"""
from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from portal.domain.models import ToolLevel
from tests import factories as f
from tests.e2e.helpers import navigate, open_project_tool
from tests.integration import test_job_costs_report as rows

pytestmark = pytest.mark.e2e


def test_a_project_member_reads_the_job_costs_report_and_downloads_the_csv(session, open_as):
    project = rows.synced_project(session)
    rows.add_cost_codes(session, project)
    rows.add_lines(session, project)
    member = f.make_user(session)
    f.member(session, member, project, ToolLevel.READ_ONLY)
    name, job = project.name, project.sage_job_id

    page = open_as(member)
    open_project_tool(page, name, "Job Costs")
    expect(page.locator("#last-synced")).to_contain_text("Last synced 11/02/2026 8:33 AM UTC")

    chart = page.locator("svg#job-cost-chart")
    expect(chart).to_be_visible()
    groups = chart.locator("g.bar-group")
    expect(groups).to_have_count(3)
    assert [groups.nth(i).get_attribute("data-cost-code") for i in range(3)] == ["01-100", "02-200", "E1/03-300"]
    expect(chart.locator("rect.bar")).to_have_count(9)
    expect(chart.get_by_text("Cost to date", exact=True)).to_be_visible()

    table = page.get_by_role("table", name="Job Costs per cost code and category")
    expect(table.get_by_role("columnheader", name="Revised Budget", exact=True)).to_be_visible()
    totals = page.locator("#job-cost-totals")
    expect(totals.locator('[data-column="revised_budget"]')).to_have_text("$15,500.00")
    expect(totals.locator('[data-column="jtd_cost"]')).to_have_text("$5,100.50")

    page.get_by_label("Search").fill("concrete")
    expect(groups).to_have_count(1)
    expect(totals.locator('[data-column="revised_budget"]')).to_have_text("$9,000.00")
    page.get_by_label("Search").fill("")
    expect(groups).to_have_count(3)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename == f"job-costs-{job}.csv"
    with open(download.path(), newline="", encoding="utf-8") as fh:
        table_rows = list(csv.reader(io.StringIO(fh.read())))
    assert table_rows[0][:4] == ["Cost Code", "Cat.", "Description", "Original Budget"]
    assert [r[0] for r in table_rows[1:]] == ["01-100", "01-100", "02-200", "E1/03-300", "Totals"]
    assert table_rows[-1][table_rows[0].index("Revised Budget")] == "15500.00"

    navigate(page, page.get_by_role("link", name="Direct Costs", exact=True))
    expect(page.get_by_role("heading", name="Direct Costs", exact=True)).to_be_visible()
    expect(page.get_by_text("No direct costs yet.")).to_be_visible()
