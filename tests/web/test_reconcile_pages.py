"""The reconciliation pages: a project's synced commitment and job beside Sage's, a change made
in Sage flagged with the record behind it, the company page, CSV downloads, the file drop's
message and the navigation link. Who may open them is the role x route matrix's
(tests/web/test_access.py)."""
from __future__ import annotations

import csv
import io
import re

import pytest

from portal.domain.lifecycle import State
from tests.web.pages import World, is_page, text


@pytest.fixture(scope="module")
def world(app, people):
    from portal.exporters.sage300.connectors import make_connector
    return World(app, make_connector(app.config).sim, people)


def group(body: str, kind: str, ref: str) -> str:
    """The table body of one reconciled commitment or job."""
    found = re.search(rf'<tbody id="recon-{kind}-{re.escape(ref)}".*?</tbody>', body, re.S)
    assert found, body[-3000:]
    return found.group(0)


def test_the_project_page_flags_an_invoice_voided_in_sage(clients, world):
    invoice = world.item("subcontractor_invoice", State.SYNCED)
    url = f"/erp/reconciliation/projects/{world.home.pid}"
    body = text(clients["approver"].get(url))
    assert is_page(body) and world.home.name in body
    assert 'data-differs="false"' in group(body, "commitment", world.home.commitment_erp)
    world.sim.void_or_delete_ap_invoice(world.home.vendor_erp, invoice.fields["erp_id"], "Void")
    response = clients["erp_admin_no_push"].get(url)
    row = group(text(response), "commitment", world.home.commitment_erp)
    assert response.status_code == 200 and 'data-differs="true"' in row
    assert f"AP invoice {world.home.vendor_erp}/{invoice.fields['erp_id']}" in row and "void in Sage" in row
    assert "<mark>-$1,600.00</mark>" in row
    assert 'data-differs="false"' in group(text(response), "job", world.home.job)
    # only what differs: the commitment, not the job; the CSV link keeps the choice
    body = text(clients["approver"].get(f"{url}?show=differences"))
    assert 'data-differs="true"' in group(body, "commitment", world.home.commitment_erp)
    assert f'id="recon-job-{world.home.job}"' not in body
    assert f'href="{url}.csv?show=differences"' in body


def test_the_company_page_shows_differences_and_links_each_project(clients, world):
    """By default only what differs (a job that matches is left out); ?show=all lists every one."""
    body = text(clients["approver"].get("/erp/reconciliation"))
    assert 'aria-current="page">Reconciliation</a>' in body
    assert f'id="recon-job-{world.home.job}"' not in body and 'data-differs="false"' not in body
    body = text(clients["approver"].get("/erp/reconciliation?show=all"))
    row = group(body, "job", world.home.job)
    assert f'href="/erp/reconciliation/projects/{world.home.pid}"' in row


def test_the_csv_lists_each_figure(clients, world):
    response = clients["approver"].get(f"/erp/reconciliation/projects/{world.home.pid}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["Type", "Project", "Sage ID"]
    figures = {(r[2], r[4]) for r in rows[1:]}
    assert {(world.home.commitment_erp, "Committed (with approved changes)"), (world.home.commitment_erp, "Paid"),
            (world.home.job, "Budget (original estimate)")} <= figures


def test_the_file_drop_says_it_cannot_read_sage(app, clients, world, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "SAGE_CONNECTOR", "filedrop")
    monkeypatch.setitem(app.config, "SAGE_DROP_FOLDER", str(tmp_path))
    response = clients["approver"].get(f"/erp/reconciliation/projects/{world.home.pid}")
    body = text(response)
    assert response.status_code == 200 and "file-drop connector" in body and 'id="reconciliation"' not in body


def test_a_missing_project_is_404(clients):
    assert clients["approver"].get("/erp/reconciliation/projects/999999999").status_code == 404


def test_the_tab_link_shows_only_to_who_may_reconcile(clients):
    link = 'href="/erp/reconciliation"'
    assert link in text(clients["approver"].get("/erp/audit-log"))
    response = clients["readonly"].get("/erp/commitment")
    assert response.status_code == 200 and 'aria-label="Item types"' in text(response)
    assert link not in text(response)
