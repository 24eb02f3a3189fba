"""The owner invoice tab puts Accept under the Billing Period column (the issue's layout): the
Billing Period cell of Ready to Export and Failed to Export rows holds Accept (Retry), the
Actions cell keeps Reject, the control opens the same Accept form, and the other tabs keep
Accept in Actions.

Requests are made with no app context pushed; the database is prepared in short `dbs(app)`
blocks, as in test_prime_contract_pages.py.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from portal.domain import services
from portal.domain.lifecycle import State
from portal.domain.models import (OwnerInvoice, OwnerInvoiceLine, PrimeContract, PrimeContractItem,
                                  ProjectMember, ToolLevel, User)
from portal.exporters.sage300.records import SageResult
from tests import factories as f
from tests.web.pages import text

HX = {"HX-Request": "true"}
DUPLICATE = "Duplicate Invoice encountered. Invoice # must be unique."
dbs = f.app_session


def cells(body: str, erp_id: int, heads: list[str]) -> dict[str, str]:
    """The cells of an item's row in the tab, by column heading."""
    row = re.search(rf'<tbody id="item-{erp_id}".*?<tr>(.*?)</tr>', body, re.S)
    assert row, f"no row for item {erp_id}"
    tds = re.findall(r"<td\b[^>]*>(.*?)</td>", row.group(1), re.S)
    assert len(tds) == len(heads), (heads, tds)
    return dict(zip(heads, tds))


def headings(body: str) -> list[str]:
    head = re.search(r"<thead>(.*?)</thead>", body, re.S)
    return [re.sub(r"<[^>]+>", "", th).strip() for th in re.findall(r"<th\b[^>]*>(.*?)</th>", head.group(1), re.S)]


def accept_links(cell: str) -> list[tuple[str, str]]:
    """(href, label) of the Accept/Retry links in a cell."""
    return re.findall(r'<a class="button primary" href="([^"]*/accept)"[^>]*>(\w+)</a>', cell)


# people and clients: per module, tests/web/conftest.py
ROLE_USERS = {"pm": {}, "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "standard": dict(erp_level=ToolLevel.STANDARD)}


@pytest.fixture
def world(app, sim, people):
    """A synced project with a synced prime contract (items 100, 200) and its AR customer."""
    with dbs(app) as s:
        setup = f.Setup(s, sim)
        s.add(ProjectMember(user_id=people["pm"].id, project_id=setup.project.id, level=ToolLevel.ADMIN))
        number, customer = f"PC{f.suffix(6)}", f"CU{f.suffix(6)}"
        pc = PrimeContract(project_id=setup.project.id, number=number, title="Owner contract",
                           status="Approved", sage_contract_id=number, customer=customer)
        s.add(pc)
        s.flush()
        i100 = PrimeContractItem(contract_id=pc.id, code="100", description="Sitework", amount=Decimal("400000"))
        s.add(i100)
        s.commit()
        sim.add_contract(number, setup.project.sage_job_id, "Owner contract", items=[("100", "Sitework", 400000)])
        sim.add_customer(customer, "City of Springfield")
        pm = s.get(User, people["pm"].id)
        invoice = setup.invoice(s, pm)
        sub_erp = services.send(s, pm, "subcontractor_invoice", invoice.id).id
        return SimpleNamespace(project=setup.project.id, number=setup.project.number, contract=pc.id,
                               i100=i100.id, sub_erp=sub_erp)


def owner_invoice(app, people, world, state=State.READY) -> SimpleNamespace:
    """An owner invoice of October 2026 sent to ERP Integrations, then put in `state`."""
    with dbs(app) as s:
        inv = OwnerInvoice(project_id=world.project, contract_id=world.contract, number=f"OI{f.suffix(6)}",
                           period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                           billing_date=date(2026, 10, 31), status="Approved", created_by_id=people["pm"].id)
        s.add(inv)
        s.flush()
        s.add(OwnerInvoiceLine(invoice_id=inv.id, contract_item_id=world.i100, amount=Decimal("50000"),
                               retainage=Decimal("5000")))
        s.commit()
        erp = services.send(s, s.get(User, people["pm"].id), "owner_invoice", inv.id)
        if state == State.FAILED:
            services.accept(s, s.get(User, people["approver"].id), erp.id,
                            {"erp_id": inv.number, "accounting_date": "2026-10-31"}, f.NullQueue())
            services.record_export_result(s, erp.id, 1, SageResult(ok=False, message=DUPLICATE))
        return SimpleNamespace(id=inv.id, erp=erp.id, number=inv.number)


def tab(clients, role, key, query, fragment=True) -> tuple[list[str], str]:
    response = clients[role].get(f"/erp/{key}?{query}", headers=HX if fragment else {})
    assert response.status_code == 200
    body = text(response)
    return headings(body), body


@pytest.mark.parametrize("fragment", [True, False], ids=["htmx fragment", "full page"])
def test_a_ready_owner_invoice_has_accept_in_the_billing_period_cell_and_reject_in_actions(
        app, clients, people, world, fragment):
    it = owner_invoice(app, people, world)
    heads, body = tab(clients, "approver", "owner_invoice", f"q={it.number}", fragment)
    row = cells(body, it.erp, heads)
    period = row["Billing Period"]
    assert period.startswith("10/01/2026 – 10/31/2026")
    assert accept_links(period) == [(f"/erp/owner_invoice/{it.erp}/accept", "Accept")], period
    assert f'hx-get="/erp/owner_invoice/{it.erp}/accept"' in period
    assert ">Reject</a>" in row["Actions"] and not accept_links(row["Actions"]), row["Actions"]
    for heading, cell in row.items():
        if heading != "Billing Period":
            assert not accept_links(cell), heading


def test_a_failed_owner_invoice_has_retry_in_the_billing_period_cell(app, clients, people, world):
    it = owner_invoice(app, people, world, State.FAILED)
    heads, body = tab(clients, "approver", "owner_invoice", f"filter=failed&q={it.number}")
    row = cells(body, it.erp, heads)
    assert accept_links(row["Billing Period"]) == [(f"/erp/owner_invoice/{it.erp}/accept", "Retry")]
    assert DUPLICATE in row["Sage's message"]
    assert ">Reject</a>" in row["Actions"] and not accept_links(row["Actions"])


def test_users_who_cannot_accept_see_only_the_billing_period(app, clients, people, world):
    it = owner_invoice(app, people, world)
    heads, body = tab(clients, "standard", "owner_invoice", f"q={it.number}")
    assert "Actions" not in heads
    assert cells(body, it.erp, heads)["Billing Period"] == "10/01/2026 – 10/31/2026"


def test_the_billing_period_accept_opens_the_accept_form_and_exports(app, clients, people, world, drain, sim):
    it = owner_invoice(app, people, world)
    heads, body = tab(clients, "approver", "owner_invoice", f"q={it.number}")
    (href, _), = accept_links(cells(body, it.erp, heads)["Billing Period"])

    form = text(clients["approver"].get(href, headers=HX))
    assert f'aria-label="Accept owner invoice {it.number}"' in form
    assert f'name="erp_id" value="{it.number}"' in form and 'name="accounting_date" value="2026-10-31"' in form
    # with the form open, no Accept is offered in the row
    assert not accept_links(cells(form, it.erp, heads)["Billing Period"])

    response = clients["approver"].post(f"/erp/owner_invoice/{it.erp}/accept", headers=HX,
                                        data={"erp_id": it.number, "description": "October",
                                              "accounting_date": "2026-10-31"})
    assert response.status_code == 200 and 'data-state="exporting"' in text(response)
    drain()
    settled = clients["approver"].get(f"/erp/owner_invoice/{it.erp}/status", headers=HX)
    assert settled.status_code == 286
    done = text(settled)
    assert 'data-state="synced"' in done and f"ERP ID <strong>{it.number}</strong>" in done
    assert cells(done, it.erp, heads)["Billing Period"] == "10/01/2026 – 10/31/2026"
    assert sim.get_ar_invoice(it.number) is not None


def test_other_tabs_keep_accept_in_the_actions_cell(clients, world):
    heads, body = tab(clients, "approver", "subcontractor_invoice", f"q={world.number}")
    row = cells(body, world.sub_erp, heads)
    assert accept_links(row["Actions"]) == [(f"/erp/subcontractor_invoice/{world.sub_erp}/accept", "Accept")]
    assert ">Reject</a>" in row["Actions"]
    assert all(not accept_links(cell) for heading, cell in row.items() if heading != "Actions")
