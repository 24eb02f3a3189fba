"""The Job Costs report, its CSV, the direct costs list and the transaction sync switch as the
browser sees them: page or htmx block, the guide's columns and totals, the chart, the download,
a project that is not a Sage job, unknown projects (who may reach them: tests/web/test_access.py).

Requests are made with no app context pushed; the database is prepared and read in short
`dbs(app)` blocks in between. Job cost rows are inserted directly, as the job cost sync leaves them.
"""
from __future__ import annotations

import csv
import io
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain.models import Project, SettingChange, ToolLevel, User
from tests import factories as f
from tests.integration import test_job_costs_report as rows  # the row builders
from tests.web.pages import BOOSTED, HX, is_fragment, is_page, path_of, text

dbs = f.app_session

GUIDE_HEADER = rows.GUIDE_HEADER




# ---- people and clients (one per role of tests/web/roles.py, tests/web/conftest.py) and projects ----

MEMBERS = {"project_admin": ToolLevel.ADMIN, "project_readonly": ToolLevel.READ_ONLY}


def make_project(app, people, *, sage=True, lines=True, direct=0, cost_codes=True) -> SimpleNamespace:
    """A project with the role users as members, and job cost lines / direct costs when asked."""
    with dbs(app) as s:
        project = rows.synced_project(s, sage=sage)
        if cost_codes:
            rows.add_cost_codes(s, project)
        if lines:
            rows.add_lines(s, project)
        if direct:
            rows.add_direct_costs(s, project, direct)
        for role, level in MEMBERS.items():
            f.member(s, s.get(User, people[role].id), project, level)
        return SimpleNamespace(id=project.id, job=project.sage_job_id)


def sync_row(s, pid) -> tuple:
    """The project's transaction sync switch and how often it was switched."""
    audits = s.scalar(select(func.count()).select_from(SettingChange).where(
        SettingChange.key == f"transaction_sync:project:{pid}"))
    return s.get(Project, pid).transaction_sync, audits


def sync_state(app, pid) -> tuple:
    with dbs(app) as s:
        return sync_row(s, pid)


@pytest.fixture(scope="module")
def world(app, people):
    return make_project(app, people, direct=60)


# ---- the report ------------------------------------------------------------------------------

def test_report_is_a_page_with_the_guides_columns_totals_and_chart(clients, world):
    url = f"/projects/{world.id}/job-costs"
    response = clients["project_readonly"].get(url)
    body = text(response)
    assert response.status_code == 200 and is_page(body), body[:300]
    assert "HX-Request" in response.headers.get("Vary", "")
    assert "<h1>Job Costs</h1>" in body and f"Sage Job ID: <strong>{world.job}</strong>" in body
    assert f'href="{url}" aria-current="page">Job Costs</a>' in body       # the project nav
    assert re.search(r'Last synced <time datetime="2026-11-02T08:33:00Z">11/02/2026 8:33 AM UTC</time>', body)
    head = re.search(r"<thead>(.*?)</thead>", body, re.S).group(1)
    assert re.findall(r"<th[^>]*>([^<]*)</th>", head) == GUIDE_HEADER
    totals = re.search(r'<tr id="job-cost-totals">(.*?)</tr>', body, re.S).group(1)
    assert '<td class="num" data-column="revised_budget">$15,500.00</td>' in totals
    assert '<td class="num" data-column="jtd_cost">$5,100.50</td>' in totals
    assert '<td class="num" data-column="direct_costs">-$1,241.75</td>' in totals
    e1 = re.search(r"<tr><td>E1/03-300</td><td>SUB</td><td>Concrete - Phase 1</td>(.*?)</tr>", body, re.S)
    cells = re.findall(r'<td class="num">([^<]*)</td>', e1.group(1))
    assert len(cells) == len(GUIDE_HEADER) - 3
    assert cells[GUIDE_HEADER.index("Revised Budget") - 3] == "$9,000.00"
    assert cells[GUIDE_HEADER.index("Job to Date Cost") - 3] == "$2,500.50"
    assert cells[GUIDE_HEADER.index("Direct Costs") - 3] == "-$1,541.75"
    svg = re.search(r'<svg id="job-cost-chart".*?</svg>', body, re.S).group(0)
    assert re.findall(r'<g class="bar-group" data-cost-code="([^"]+)">', svg) == ["01-100", "02-200", "E1/03-300"]
    assert len(re.findall(r'<rect class="bar ', svg)) == 9
    for words in ("Budget", "Committed", "Cost to date", "Amount (USD)", "Cost code"):
        assert f">{words}</text>" in svg
    assert "<title>01-100 Budget: $1,500.00</title>" in svg
    assert f'href="/projects/{world.id}/job-costs.csv"' in body
    assert "<script" not in body.split("</head>")[1]   # no chart library


def test_htmx_gets_the_report_block_and_boosted_links_the_page(clients, world):
    url = f"/projects/{world.id}/job-costs"
    fragment = clients["readonly"].get(url, headers=HX)
    body = text(fragment)
    assert fragment.status_code == 200 and is_fragment(body)
    assert body.strip().startswith('<div id="report-body">') and 'id="job-cost-table"' in body
    assert 'id="job-cost-chart"' in body
    assert is_page(text(clients["readonly"].get(url, headers=BOOSTED)))


def test_search_narrows_the_table_totals_and_chart(clients, world):
    body = text(clients["readonly"].get(f"/projects/{world.id}/job-costs?q=concrete", headers=HX))
    assert re.findall(r'data-cost-code="([^"]+)"', body) == ["E1/03-300"]
    assert "<td>01-100</td>" not in body
    assert '<td class="num" data-column="revised_budget">$9,000.00</td>' in body
    nothing = text(clients["readonly"].get(f"/projects/{world.id}/job-costs?q=zzz", headers=HX))
    assert "No cost codes match “zzz”." in nothing and "job-cost-table" not in nothing


def test_an_erp_user_who_is_not_a_member_sees_no_project_nav(clients, world):
    body = text(clients["readonly"].get(f"/projects/{world.id}/job-costs"))
    assert 'aria-label="Project tools"' not in body and 'id="job-cost-table"' in body


def test_the_csv_download_is_named_after_the_sage_job_and_has_the_totals(clients, world):
    response = clients["project_readonly"].get(f"/projects/{world.id}/job-costs.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f"attachment; filename=job-costs-{world.job}.csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0] == GUIDE_HEADER
    assert [r[0] for r in table[1:]] == ["01-100", "01-100", "02-200", "E1/03-300", "Totals"]
    assert dict(zip(GUIDE_HEADER, table[-1], strict=False))["Revised Budget"] == "15500.00"
    searched = clients["project_readonly"].get(f"/projects/{world.id}/job-costs.csv?q=02-200")
    assert [r[0] for r in csv.reader(io.StringIO(searched.get_data(as_text=True)))][1:] == ["02-200", "Totals"]


def test_a_project_that_is_not_a_sage_job_says_so_instead_of_an_empty_table(app, clients, people):
    p = make_project(app, people, sage=False, lines=False)
    body = text(clients["project_admin"].get(f"/projects/{p.id}/job-costs"))
    assert "not synced with a Sage job" in body and 'id="job-cost-table"' not in body
    assert "Download CSV" not in body and "Sage Job ID: <strong>not synced</strong>" in body
    assert "not synced with a Sage job" in text(clients["project_admin"].get(f"/projects/{p.id}/job-costs", headers=HX))
    csv_response = clients["project_admin"].get(f"/projects/{p.id}/job-costs.csv")
    assert csv_response.status_code == 409 and "not synced with a Sage job" in text(csv_response)
    assert "not synced with a Sage job" in text(clients["project_admin"].get(f"/projects/{p.id}/direct-costs"))


def test_a_sage_job_without_synced_job_costs_says_so(app, clients, people):
    p = make_project(app, people, lines=False)
    body = text(clients["project_readonly"].get(f"/projects/{p.id}/job-costs"))
    assert f"No job costs have been synced from Sage for job {p.job} yet." in body
    assert "Not synced from Sage yet" in body and "Download CSV" not in body


@pytest.mark.parametrize("suffix", ["job-costs", "job-costs.csv", "direct-costs"])
def test_an_unknown_project_is_404(app, clients, suffix):
    with dbs(app) as s:
        missing = (s.scalar(select(func.max(Project.id))) or 0) + 1000
    assert clients["site_admin"].get(f"/projects/{missing}/{suffix}").status_code == 404
    response = clients["site_admin"].post(f"/projects/{missing}/job-costs/transaction-sync",
                                          data={"transaction_sync": "on"})
    assert response.status_code == 404


# ---- direct costs ----------------------------------------------------------------------------

def test_direct_costs_list_and_pages(app, clients, world):
    url = f"/projects/{world.id}/direct-costs"
    body = text(clients["project_readonly"].get(url))
    assert is_page(body) and "<h1>Direct Costs</h1>" in body
    head = re.search(r"<thead>(.*?)</thead>", body, re.S).group(1)
    assert re.findall(r"<th[^>]*>([^<]*)</th>", head) == ["Date", "Type", "Description", "Vendor", "Invoice #",
                                                          "Cost Code", "Cat.", "Qty", "Unit Cost", "Amount", "Status"]
    page_size = app.config["PAGE_SIZE"]
    first = re.findall(r'<tr id="direct-cost-(\d+)">', body)
    assert len(first) == min(60, page_size)
    assert "Total of 60 direct costs" in body and '<td class="num" id="direct-cost-total">$1,776.00</td>' in body
    assert "<td>Invoice</td>" in body and '<td class="num">2.00</td>' in body and '<td class="num">$5.50</td>' in body
    if page_size < 60:
        assert "Page 1 of 2" in body
        second = text(clients["project_readonly"].get(f"{url}?page=2", headers=HX))
        assert is_fragment(second) and second.strip().startswith('<div id="direct-costs"')
        assert len(re.findall(r'<tr id="direct-cost-(\d+)">', second)) == 60 - page_size
        assert not set(first) & set(re.findall(r'<tr id="direct-cost-(\d+)">', second))


def test_only_project_and_erp_admins_see_the_transaction_sync_switch(clients, world):
    url = f"/projects/{world.id}/direct-costs"
    assert "Turn transaction sync on" in text(clients["project_admin"].get(url))
    assert "Turn transaction sync on" in text(clients["erp_admin_no_push"].get(url))
    assert "Turn transaction sync on" not in text(clients["project_readonly"].get(url))
    assert "Turn transaction sync on" not in text(clients["approver"].get(url))


def test_the_switch_turns_on_and_off_audited(app, clients, people):
    p = make_project(app, people, lines=False)
    url = f"/projects/{p.id}/job-costs/transaction-sync"
    response = clients["project_admin"].post(url, data={"transaction_sync": "on"})
    assert response.status_code == 303 and path_of(response.location) == f"/projects/{p.id}/direct-costs"
    assert sync_state(app, p.id) == (True, 1)
    page = text(clients["project_admin"].get(response.location))
    assert "Transaction sync is on for this project." in page and "Turn transaction sync off" in page
    assert clients["erp_admin_no_push"].post(url, data={"transaction_sync": "off"}).status_code == 303
    assert sync_state(app, p.id) == (False, 2)
    with dbs(app) as s:
        audit = s.scalars(select(SettingChange).where(SettingChange.key == f"transaction_sync:project:{p.id}")
                          .order_by(SettingChange.id)).all()
        assert [(a.old, a.new, a.actor_id) for a in audit] == [
            (False, True, people["project_admin"].id), (True, False, people["erp_admin_no_push"].id)]


@pytest.mark.parametrize("data", [{}, {"transaction_sync": "maybe"}])
def test_a_bad_switch_value_is_422_naming_the_field_and_changes_nothing(app, clients, people, data):
    p = make_project(app, people, lines=False)
    url = f"/projects/{p.id}/job-costs/transaction-sync"
    response = clients["project_admin"].post(url, data=data)
    assert response.status_code == 422 and "Transaction sync must be on or off." in text(response)
    htmx = clients["project_admin"].post(url, data=data, headers=HX)
    assert htmx.status_code == 422 and htmx.headers.get("HX-Retarget") == "#messages"
    assert sync_state(app, p.id) == (False, 0)


