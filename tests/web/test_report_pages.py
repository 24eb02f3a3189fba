"""The guide's ERP reports as the browser sees them: the Accountant report (every item in ERP
Integrations) and the Unsyncable Direct Costs report, page or htmx block, their URL filters, a bad
filter named, the CSV (formula-safe) and the navigation links. Who may reach them: the role x route
matrix (tests/web/test_access.py).

Requests are made with no app context pushed; the database is prepared and read in short
`dbs(app)` blocks in between.
"""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal as D

import pytest

from portal.domain.lifecycle import State
from portal.domain.reports import ACCOUNTANT_HEADER, UNSYNCABLE_HEADER
from portal.domain.sage_models import DirectCost
from tests import factories as f
from tests.web.pages import HX, World, is_fragment, is_page, text

dbs = f.app_session
ACCOUNTANT = "/erp/reports/accountant"
UNSYNCABLE = "/erp/reports/unsyncable-direct-costs"
FORMULA = "=HYPERLINK(\"http://evil.example\")"


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.status_code
    assert response.headers["Content-Disposition"].startswith("attachment")
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# ---- the Accountant report -------------------------------------------------------------------------

@pytest.fixture
def accountant_world(app, sim, people):
    """One project with a synced commitment, a rejected one (reason a formula) and a vendor Ready to Export."""
    world = World(app, sim, people)
    synced = world.item("commitment", State.SYNCED)
    rejected = world.item("commitment", State.REJECTED, reason=FORMULA)
    failed = world.item("cco", State.FAILED)
    return world, synced, rejected, failed


def test_accountant_report_lists_the_items_of_a_project_with_status_and_people(app, clients, accountant_world):
    world, synced, rejected, failed = accountant_world
    client = clients["erp_admin_no_push"]
    response = client.get(f"{ACCOUNTANT}?project={world.home.pid}")
    body = text(response)
    assert response.status_code == 200 and is_page(body)
    for item in (synced, rejected, failed):
        assert f'id="erp-{item.erp}"' in body and item.title in body
    assert "Synced" in body and "Rejected" in body and "Failed to Export" in body and FORMULA in body
    assert world.home.name in body
    fragment = text(client.get(f"{ACCOUNTANT}?project={world.home.pid}", headers=HX))
    assert is_fragment(fragment) and 'id="report-body"' in fragment and f'id="erp-{synced.erp}"' in fragment


def test_accountant_report_filters_by_type_status_and_dates(app, clients, accountant_world):
    world, synced, rejected, failed = accountant_world
    client = clients["erp_admin_no_push"]
    base = f"{ACCOUNTANT}?project={world.home.pid}"
    only_cco = text(client.get(f"{base}&type=cco"))
    assert f'id="erp-{failed.erp}"' in only_cco and f'id="erp-{synced.erp}"' not in only_cco
    only_rejected = text(client.get(f"{base}&status=rejected"))
    assert f'id="erp-{rejected.erp}"' in only_rejected and f'id="erp-{synced.erp}"' not in only_rejected
    assert 'data-state="synced"' in only_rejected  # the counts stay the counts of every status
    future = text(client.get(f"{base}&from=01/01/2099"))
    assert "No items match these filters." in future
    assert f'id="erp-{synced.erp}"' in text(client.get(f"{base}&from=2000-01-01&to=12/31/2098"))


@pytest.mark.parametrize("args, named", [("from=31/12/2026", "From"), ("to=tomorrow", "To"),
                                         ("type=nothing", "Type"), ("status=lost", "Status"),
                                         ("project=abc", "Project"),
                                         ("from=2026-05-02&to=2026-05-01", "To")])
def test_a_bad_filter_is_named_not_a_500(app, clients, args, named):
    response = clients["erp_admin_no_push"].get(f"{ACCOUNTANT}?{args}")
    assert response.status_code == 422 and named in text(response)


def test_accountant_csv_has_the_filtered_rows_and_no_live_formula(app, clients, accountant_world):
    world, synced, rejected, failed = accountant_world
    rows = rows_of(clients["erp_admin_no_push"].get(f"{ACCOUNTANT}.csv?project={world.home.pid}&type=commitment"))
    assert tuple(rows[0]) == ACCOUNTANT_HEADER
    by_item = {row[2]: row for row in rows[1:]}
    assert set(by_item) == {synced.title, rejected.title}
    assert by_item[synced.title][3] == "Synced" and by_item[synced.title][8]  # its Sage ID
    assert by_item[rejected.title][10] == "'" + FORMULA  # a reason that is a formula stays text
    assert not any(cell[:1] in "=+-@" for row in rows for cell in row if cell)


def test_the_erp_tabs_link_the_accountant_report_for_erp_admins_only(app, clients):
    assert 'href="/erp/reports/accountant"' in text(clients["erp_admin_no_push"].get("/erp/job-costs"))
    approver_tab = text(clients["approver"].get("/erp/vendor"))
    assert "Accountant Report" not in approver_tab


# ---- the Unsyncable Direct Costs report ------------------------------------------------------------

@pytest.fixture
def costs(app, sim, people):
    """Direct costs of a synced project: one that syncs (03-300 SUB, its vendor linked), one on a cost
    code the project lacks, one from a vendor linked to no company, one on a sub job's extra."""
    world = World(app, sim, people)
    home = world.home
    with dbs(app) as s:
        def cost(n, **kw):
            values = dict(project_id=home.pid, sage_transaction_id=n, cost_type="Invoice", sage_type="AP cost",
                          item_date=date(2026, 3, n), description=f"Txn {n}", vendor=home.vendor_erp,
                          invoice=f"I-{n}", cost_code="03-300", category="SUB", amount=D(n) + D("0.50"))
            values.update(kw)
            row = DirectCost(**values)
            s.add(row)
            return row
        made = {"ok": cost(1), "code": cost(2, cost_code="99-999", category="LAB", description=FORMULA),
                "vendor": cost(3, vendor="NOSUCHV", category="MAT", cost_type="Subcontractor Invoice"),
                "extra": cost(4, extra="X9", vendor="", invoice="", cost_type="Payroll", sage_type="PR cost")}
        s.commit()
        return world, {k: v.id for k, v in made.items()}


def row_ids(body: str, ids: dict) -> set[str]:
    return {k for k, i in ids.items() if f'id="direct-cost-{i}"' in body}


def test_unsyncable_lists_what_cannot_sync_and_why(app, clients, costs):
    world, ids = costs
    response = clients["project_admin"].get(f"{UNSYNCABLE}?project={world.home.pid}")
    body = text(response)
    assert response.status_code == 200 and is_page(body)
    assert row_ids(body, ids) == {"code", "vendor", "extra"}
    assert "99-999 LAB is not on the project" in body and "Vendor NOSUCHV is not linked to a company" in body
    assert "03-300 SUB is not on the project (extra X9)" in body
    assert "3 transactions" in body and "$10.50" in body
    fragment = text(clients["project_admin"].get(f"{UNSYNCABLE}?project={world.home.pid}", headers=HX))
    assert is_fragment(fragment) and row_ids(fragment, ids) == {"code", "vendor", "extra"}


@pytest.mark.parametrize("args, expected", [
    ("reason=vendor", {"vendor"}), ("reason=cost_code", {"code", "extra"}), ("type=Payroll", {"extra"}),
    ("from=2026-03-03", {"vendor", "extra"}), ("to=03/02/2026", {"code"}), ("q=nosuch", {"vendor"}),
    ("q=99-999", {"code"}),
])
def test_unsyncable_filters(app, clients, costs, args, expected):
    world, ids = costs
    body = text(clients["site_admin"].get(f"{UNSYNCABLE}?project={world.home.pid}&{args}"))
    assert row_ids(body, ids) == expected, args


def test_a_search_too_long_is_named_not_cut_short(app, clients):
    response = clients["site_admin"].get(f"{UNSYNCABLE}?q={'x' * 101}")
    assert response.status_code == 422 and "Search must be 100 characters or less." in text(response)


def test_unsyncable_csv_is_formula_safe(app, clients, costs):
    world, ids = costs
    rows = rows_of(clients["project_admin"].get(f"{UNSYNCABLE}.csv?project={world.home.pid}"))
    assert tuple(rows[0]) == UNSYNCABLE_HEADER and len(rows) == 4
    by_description = {row[5]: row for row in rows[1:]}
    assert "'" + FORMULA in by_description and by_description["'" + FORMULA][11] == "2.50"
    assert not any(cell[:1] in "=+-@" for row in rows for cell in row if cell)


def test_unsyncable_without_a_project_covers_only_my_projects(app, clients, people, costs, sim):
    world, ids = costs
    other = World(app, sim, {})  # a project none of the role users is a member of
    with dbs(app) as s:
        s.add(DirectCost(project_id=other.home.pid, sage_transaction_id=1, cost_type="Invoice", sage_type="AP cost",
                         item_date=date(2026, 3, 9), description="Not mine", cost_code="99-999", category="LAB",
                         amount=D("1")))
        s.commit()
    mine = text(clients["project_admin"].get(UNSYNCABLE))
    assert row_ids(mine, ids) <= {"code", "vendor", "extra"} and "Not mine" not in mine
    refused = clients["project_admin"].get(f"{UNSYNCABLE}?project={other.home.pid}")
    assert refused.status_code == 403 and "Not mine" not in text(refused)
    assert "Not mine" in text(clients["site_admin"].get(f"{UNSYNCABLE}?project={other.home.pid}"))


def test_links_to_the_unsyncable_report(app, clients, costs):
    world, _ = costs
    direct = text(clients["project_admin"].get(f"/projects/{world.home.pid}/direct-costs"))
    assert f'href="{UNSYNCABLE}?project={world.home.pid}"' in direct
    readonly = text(clients["project_readonly"].get(f"/projects/{world.home.pid}/direct-costs"))
    assert UNSYNCABLE not in readonly
    # the ERP tabs show it only to a user who is Admin on some project
    assert UNSYNCABLE not in text(clients["erp_admin_no_push"].get("/erp/job-costs"))
