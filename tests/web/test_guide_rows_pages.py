"""The guide's rows through the web: a prime contract's accounting method and "Import into" on
Ready to Import, a commitment's accounting method, a unit-based invoice's quantity this period."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.domain.api_tokens import create_token
from portal.domain.models import (
    Commitment,
    CommitmentLine,
    InvoiceLine,
    InvoiceStatus,
    PrimeContractItem,
    SubcontractorInvoice,
    ToolLevel,
)
from tests import factories as f, items as it
from tests.web.pages import HX, World, changed_settings, text

IMPORTS = "/erp/import/prime-contracts"


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


@pytest.mark.parametrize("role, setting, offered", [
    ("erp_admin_no_push", "on", True),
    ("erp_admin_no_push", False, False),
    ("approver", "on", False),
], ids=["ERP Admin, setting on", "ERP Admin, setting off", "approver, setting on"])
def test_the_accounting_method_is_offered_to_an_erp_admin_with_the_setting_on(app, clients, people, world, sim,
                                                                              role, setting, offered):
    with f.app_session(app) as s:
        f.sage_contract(s, sim, world.home.job)
    with changed_settings(app, people["erp_admin_no_push"].id, designate_prime_contract_method=setting):
        body = text(clients[role].get(IMPORTS))
    assert ('name="accounting_method"' in body) is offered


def test_a_sage_contract_is_imported_into_the_projects_prime_contract(app, clients, world, sim):
    home = world.home
    with f.app_session(app) as s:
        it.with_contract(s, sim, home)
        record_id, number = f.sage_contract(s, sim, home.job, items=(("100", "Canopy", 5000),))
    body = text(clients["approver"].get(IMPORTS, headers=HX))
    assert 'name="into_contract_id"' in body and f'<option value="{home.contract}">prime contract' in body
    response = clients["approver"].post(f"{IMPORTS}/{record_id}/import", data={"into_contract_id": str(home.contract)})
    assert response.status_code == 303
    with f.app_session(app) as s:
        [item] = s.query(PrimeContractItem).filter_by(contract_id=home.contract, sage_contract_id=number).all()
        assert (item.code, item.amount) == ("100", Decimal("5000.00"))
    refused = clients["approver"].post(f"{IMPORTS}/{record_id}/import", data={"into_contract_id": "x"}, headers=HX)
    assert refused.status_code == 422   # a bad choice: nothing imported twice, never a 500


def test_a_unit_based_commitments_invoice_is_edited_with_its_quantity(app, clients, world, sim):
    home = world.home
    with f.app_session(app) as s:
        s.get(Commitment, home.commitment).accounting_method = "unit"
        s.get(CommitmentLine, home.line1).unit_cost = Decimal("100")
        inv = SubcontractorInvoice(project_id=home.pid, commitment_id=home.commitment, number=f"INV-{f.suffix()}",
                                   period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                                   billing_date=date(2026, 10, 31), status=InvoiceStatus.APPROVED)
        s.add(inv)
        s.flush()
        line = InvoiceLine(invoice_id=inv.id, commitment_line_id=home.line1, work_completed=Decimal("1000"))
        s.add(line)
        s.commit()
        inv_id, number, status, line_id = inv.id, inv.number, inv.status, line.id
    url = f"/projects/{home.pid}/invoices/{inv_id}/edit"
    admin = clients["project_admin"]
    assert f'name="line-{line_id}-quantity"' in text(admin.get(url))
    form = {"number": number, "status": status, "billing_date": "2026-10-31", "period_start": "2026-10-01",
            "period_end": "2026-10-31", f"line-{line_id}-work_completed": "1000",
            f"line-{line_id}-materials_stored": "0", f"line-{line_id}-retainage": "0", f"line-{line_id}-quantity": "9"}
    refused = admin.post(url, data=form, headers=HX)
    assert refused.status_code == 422
    assert "Work completed must be the quantity × the unit cost (900.00)." in text(refused)
    assert admin.post(url, data={**form, f"line-{line_id}-quantity": "10"}).status_code == 303
    assert "(Qty 10)" in text(admin.get(f"/projects/{home.pid}/invoices/{inv_id}"))


def test_the_api_creates_a_unit_based_commitment_and_names_a_bad_line(app, sim):
    with f.app_session(app) as s:
        user = f.make_user(s)
        home = it.make_home(s, sim, {user.id: ToolLevel.ADMIN})
        token = create_token(s, user.id, "pm-system")
        form = it.form_data(s, sim, "commitment", home, accounting_method="unit", **{
            "line-0-units": "100", "line-0-unit_cost": "240", "line-1-units": "10", "line-1-unit_cost": "600.05"})
    client, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/projects/{home.pid}/items/commitment"
    bad = client.post(url, headers=auth, json={**form, "line-1-unit_cost": "600"})
    assert bad.status_code == 422 and bad.get_json()["fields"] == {
        "line-1-amount": "The amount must be Qty × Unit Cost (6,000.00)."}
    made = client.post(url, headers=auth, json=form)
    assert made.status_code == 201 and made.get_json()["values"]["accounting_method"] == "Unit/Quantity-based"
