"""What only the prime contract types do: prime contract change orders (PCCOs, "pcco") and owner
invoices ("owner_invoice"). Their forms (header fields and a line table whose inputs are named
line-<n>-<field>) and what they store, their prerequisites, their Accept forms (Transaction Date
and, only when a line adds a contract item, the New Contract Item Code; Invoice / Description /
Accounting Date), what each export puts in Sage, Sage's duplicate-invoice refusal with cause and
solution, and the owner invoice tab's Accept under the Billing Period column. What every type does
is in test_item_pages.py; who may do it in test_access.py.

Requests are made with no app context pushed; the database is read and prepared in short
`dbs(app)` blocks in between. Items are made by tests/items.py on a synced project with a synced
prime contract (items 100 Sitework, 200 Building) mirrored in the simulator with its AR customer.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain.lifecycle import State
from portal.domain.models import (
    OwnerInvoice,
    OwnerInvoiceLine,
    PrimeChangeOrder,
    PrimeChangeOrderLine,
    PrimeContractItem,
    ToolLevel,
)
from portal.exporters.sage300.troubleshooting import explain
from tests import factories as f, items as ti
from tests.items import item_url, list_url, tab_url
from tests.web.pages import (
    HX,
    World,
    accept_and_settle,
    accept_form_body,
    assert_form_refused,
    counts,
    input_names,
    is_fragment,
    item_row,
    list_row,
    path_of,
    tab_row_ids,
    text,
)

TYPES = ("pcco", "owner_invoice")
MODELS = {"pcco": PrimeChangeOrder, "owner_invoice": OwnerInvoice}
LINE_MODELS = {"pcco": (PrimeChangeOrderLine, PrimeChangeOrderLine.pcco_id),
               "owner_invoice": (OwnerInvoiceLine, OwnerInvoiceLine.invoice_id)}
DUPLICATE = "Duplicate Invoice encountered. Invoice # must be unique."

dbs = f.app_session

ROLE_USERS = {"project_admin": {}, "project_readonly": {}, "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "standard": dict(erp_level=ToolLevel.STANDARD)}


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def contracted(world, home=None):
    """A project (the world's, or `home`) with its synced prime contract."""
    home = home or world.home
    with dbs(world.app) as s:
        return ti.with_contract(s, world.sim, home)


def form_of(world, key: str, home, **over) -> dict:
    """The type's valid form (a PCCO adding a contract item on line 1 unless new_item=False)."""
    if key == "pcco":
        over.setdefault("new_item", True)
    with dbs(world.app) as s:
        return ti.form_data(s, world.sim, key, home, **over)


def count(world, key: str, pid: int) -> tuple[int, int]:
    """(items, lines) of the type on the project."""
    model, fk = LINE_MODELS[key]
    parent = MODELS[key]
    with dbs(world.app) as s:
        n = s.scalar(select(func.count()).select_from(parent).where(parent.project_id == pid))
        lines = s.scalar(select(func.count()).select_from(model).join(parent, fk == parent.id)
                         .where(parent.project_id == pid))
        return n, lines


# ---- create ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_create_saves_the_lines_and_goes_back_to_the_list(clients, people, world, key):
    p = contracted(world, world.another_home())
    form = form_of(world, key, p)
    response = clients["project_admin"].post(list_url(key, p.pid) + "/new", data=form)
    assert response.status_code == 303, text(response)[:800]
    assert path_of(response.location) == list_url(key, p.pid)
    with dbs(world.app) as s:
        item = s.scalars(select(MODELS[key]).where(MODELS[key].project_id == p.pid)).one()
        assert item.created_by_id == people["project_admin"].id and item.number == form["number"]
        model, fk = LINE_MODELS[key]
        lines = s.scalars(select(model).where(fk == item.id).order_by(model.id)).all()
        if key == "pcco":
            assert [(ln.contract_item_id, ln.description, ln.category_id, ln.amount) for ln in lines] == [
                (p.i100, "", p.sub, Decimal("12000.00")), (None, "Canopy", p.mat, Decimal("8000.00"))]
        else:
            assert [(ln.contract_item_id, ln.amount, ln.retainage) for ln in lines] == [
                (p.i100, Decimal("50000.00"), Decimal("5000.00"))]
            assert (item.period_start, item.period_end, item.billing_date) == (
                date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 31))
        item_id = item.id
    page = text(clients["project_admin"].get(response.location))
    assert f"{ti.builder(key).label} saved." in page
    row = item_row(page, key, item_id)
    assert 'data-state="draft"' in row and "Send to ERP" in row


BAD_NEW = {
    "pcco, no title": ("pcco", {"title": ""}, "title", "Title is required."),
    "pcco, no status": ("pcco", {"status": "Bogus"}, "status", "Choose a status."),
    "pcco, no contract": ("pcco", {"contract_id": ""}, "contract_id", "Choose the project's prime contract."),
    "pcco, another project's contract": ("pcco", {"contract_id": "OTHER_CONTRACT"}, "contract_id",
                                         "Choose the project's prime contract."),
    "pcco, item of another contract": ("pcco", {"line-0-contract_item_id": "OTHER_ITEM"},
                                       "line-0-contract_item_id", "Choose an item of the chosen contract."),
    "pcco, new item without description": ("pcco", {"line-1-description": ""}, "line-1-description",
                                           "A new contract item needs a description."),
    "pcco, line without category": ("pcco", {"line-0-category_id": ""}, "line-0-category_id",
                                    "Choose the cost code and category the estimate changes."),
    "pcco, bad amount": ("pcco", {"line-0-amount": "12,O00"}, "line-0-amount", "'12,O00' is not an amount."),
    "pcco, no lines": ("pcco", {f"line-{n}-{k}": None for n in range(2)
                                for k in ("contract_item_id", "description", "category_id", "amount")},
                       None, "Add at least one line."),
    "invoice, no number": ("owner_invoice", {"number": ""}, "number", "Invoice # is required."),
    "invoice, period ends before it starts": ("owner_invoice", {"period_end": "2026-09-30"}, "period_end",
                                              "The billing period must end after it starts."),
    "invoice, item of another contract": ("owner_invoice", {"line-0-contract_item_id": "OTHER_ITEM"},
                                          "line-0-contract_item_id", "Choose an item of the chosen contract."),
    "invoice, line without item": ("owner_invoice", {"line-0-contract_item_id": ""},
                                   "line-0-contract_item_id", "Choose an item of the chosen contract."),
    "invoice, bad retainage": ("owner_invoice", {"line-0-retainage": "five"}, "line-0-retainage",
                               "'five' is not an amount."),
    "invoice, no lines": ("owner_invoice", {"line-0-contract_item_id": None, "line-0-amount": None,
                                            "line-0-retainage": None}, None, "Add at least one line."),
}


@pytest.mark.parametrize("name", BAD_NEW)
def test_create_with_bad_input_is_422_with_the_message_and_creates_nothing(clients, world, name):
    key, changes, field, message = BAD_NEW[name]
    p = contracted(world)
    if "OTHER_CONTRACT" in changes.values() or "OTHER_ITEM" in changes.values():
        other = contracted(world, world.another_home())
        placeholders = {"OTHER_CONTRACT": str(other.contract), "OTHER_ITEM": str(other.i100)}
        changes = {k: placeholders.get(v, v) for k, v in changes.items()}
    form = form_of(world, key, p, **changes)
    before = count(world, key, p.pid)
    response = clients["project_admin"].post(list_url(key, p.pid) + "/new", data=form)
    assert_form_refused(response, form, message, field, ("amount", "retainage", "number", "title"))
    assert count(world, key, p.pid) == before


# ---- send: prerequisites ------------------------------------------------------------------------

PREREQUISITES = {
    "pcco, draft": ("pcco", {"status": "Draft"}, "The status is Draft: the PCCO must be Approved"),
    "pcco, # over 20": ("pcco", {"number": "PCO-12345678901234567"},
                        "The # must be 20 characters or less (Sage's Chg Mgt Ref)."),
    "pcco, title over 255": ("pcco", {"title": "T" * 256}, "The title must be 255 characters or less."),
    "invoice, under review": ("owner_invoice", {"status": "Under Review"},
                              "The invoice is Under Review: only Approved owner invoices can be sent."),
}


@pytest.mark.parametrize("name", PREREQUISITES)
def test_send_is_unavailable_with_the_reason_and_refused_if_posted(clients, world, name):
    key, changes, reason = PREREQUISITES[name]
    it = world.item(key, **changes, **({"new_item": True} if key == "pcco" else {}))
    row = list_row(clients, key, it.pid, it.id)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert reason in row and item_url(it, "send") not in row
    response = clients["project_admin"].post(item_url(it, "send"), headers=HX)
    assert response.status_code == 422 and reason in text(response)
    assert world.erp_of(key, it.id) is None


def test_a_pending_pcco_can_be_sent_and_accepting_approves_it(clients, world, drain):
    it = world.item("pcco", State.READY, status="Pending - In Review", new_item=False)
    body = accept_and_settle(clients, drain, it, {"transaction_date": "2026-11-20"})
    assert 'data-state="synced"' in body, body[:600]
    with dbs(world.app) as s:
        assert s.get(PrimeChangeOrder, it.id).status == "Approved"


def test_pcco_accept_form_asks_for_the_transaction_date_and_the_new_item_code(clients, world):
    it = world.item("pcco", State.READY, new_item=True)
    response, body = accept_form_body(clients, it)
    assert response.status_code == 200 and is_fragment(body)
    assert body.strip().startswith(f'<tbody id="item-{it.erp}"') and "Export to ERP" in body
    assert f'aria-label="Accept PCCO {it.number}"' in body
    assert input_names(body) == {"transaction_date", "new_item_code"}
    assert re.search(rf'name="transaction_date" value="{date.today().isoformat()}"', body)
    assert re.search(r'name="new_item_code" value=""', body)
    assert "New Contract Item Code" in body and "Transaction Date" in body


def test_pcco_accept_form_asks_no_item_code_when_every_line_has_a_contract_item(clients, world):
    it = world.item("pcco", State.READY, new_item=False)
    response, body = accept_form_body(clients, it)
    assert response.status_code == 200
    assert input_names(body) == {"transaction_date"}
    assert "New Contract Item Code" not in body


def test_owner_invoice_accept_form_defaults_to_the_invoice_number_and_billing_date(clients, world):
    it = world.item("owner_invoice", State.READY)
    response, body = accept_form_body(clients, it)
    assert response.status_code == 200 and is_fragment(body)
    assert f'aria-label="Accept owner invoice {it.number}"' in body
    assert input_names(body) == {"erp_id", "description", "accounting_date"}
    assert f'name="erp_id" value="{it.number}"' in body
    assert 'name="accounting_date" value="2026-10-31"' in body
    assert 'name="description" value=""' in body


BAD_ACCEPT = {
    "pcco, item code missing": ("pcco", {"transaction_date": "2026-11-20", "new_item_code": " "},
                                "new_item_code", "New Contract Item Code is required."),
    "pcco, item code too long": ("pcco", {"transaction_date": "2026-11-20", "new_item_code": "C" * 21},
                                 "new_item_code", "New Contract Item Code must be 20 characters or less"),
    "pcco, item code exists": ("pcco", {"transaction_date": "2026-11-20", "new_item_code": "100"},
                               "new_item_code", "Contract item 100 already exists on this contract."),
    "pcco, bad date": ("pcco", {"transaction_date": "yesterday", "new_item_code": "300"},
                       "transaction_date", None),
    "invoice, erp id too long": ("owner_invoice", {"erp_id": "I" * 16, "accounting_date": "2026-10-31"},
                                 "erp_id", "Invoice (ERP ID) must be 15 characters or less"),
    "invoice, erp id missing": ("owner_invoice", {"erp_id": "", "accounting_date": "2026-10-31"},
                                "erp_id", "Invoice (ERP ID) is required."),
    "invoice, description too long": ("owner_invoice", {"erp_id": "X1", "description": "D" * 31,
                                                        "accounting_date": "2026-10-31"},
                                      "description", "Description must be 30 characters or less"),
}


@pytest.mark.parametrize("name", BAD_ACCEPT)
def test_accept_with_bad_fields_is_422_with_the_message_and_changes_nothing(clients, world, name):
    key, form, field, message = BAD_ACCEPT[name]
    it = world.item(key, State.READY, **({"new_item": True} if key == "pcco" else {}))
    before = world.erp(it.erp)
    response = clients["approver"].post(tab_url(key, it.erp, "accept"), data=form, headers=HX)
    body = text(response)
    assert response.status_code == 422 and is_fragment(body), body[:500]
    if message:
        assert message in body
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', body)
    assert world.erp(it.erp) == before


def test_accepted_pcco_adds_the_contract_item_and_approves(clients, world, drain, sim):
    p = world.another_home()
    it = world.item("pcco", State.READY, home=p, status="Pending - In Review", new_item=True)
    code = f"N{f.suffix(5)}"
    body = accept_and_settle(clients, drain, it, {"transaction_date": "2026-11-20", "new_item_code": code})
    assert 'data-state="synced"' in body, body[:800]
    estimate = sim.list_transactions(p.job, "Approved est chng")
    assert sorted((t["Category"], Decimal(str(t["Amount"])), t["Ref_1"]) for t in estimate) == [
        ("MAT", Decimal("8000"), it.number), ("SUB", Decimal("12000"), it.number)]
    schedule = sim.list_transactions(p.job, "Approved Schedule Value Change")
    assert schedule and {t["Ref_1"] for t in schedule} == {it.number}
    assert code in {i["Item"] for i in sim.list_contract_items(p.contract_number)}
    with dbs(world.app) as s:
        assert s.get(PrimeChangeOrder, it.id).status == "Approved"
        new = s.scalars(select(PrimeContractItem).where(PrimeContractItem.contract_id == p.contract,
                                                        PrimeContractItem.code == code)).one()
        assert new.description == "Canopy"
        line_items = s.scalars(select(PrimeChangeOrderLine.contract_item_id)
                               .where(PrimeChangeOrderLine.pcco_id == it.id)
                               .order_by(PrimeChangeOrderLine.id)).all()
        assert line_items == [p.i100, new.id]
    # the next PCCO's form offers the new item
    form = text(clients["project_admin"].get(list_url("pcco", p.pid) + "/new"))
    assert f'<option value="{new.id}" >{p.contract_number} {code} Canopy</option>' in form


def test_accepted_owner_invoice_is_an_ar_invoice(clients, world, drain, sim):
    it = world.item("owner_invoice", State.READY)
    body = accept_and_settle(clients, drain, it, {"erp_id": it.number, "description": "October",
                                                         "accounting_date": "2026-10-31"})
    assert 'data-state="synced"' in body and f"ERP ID <strong>{it.number}</strong>" in body, body[:800]
    assert sim.get_ar_invoice(it.number) is not None


def test_a_duplicate_owner_invoice_fails_with_sages_text_cause_and_solution(clients, world, drain, sim):
    first = world.item("owner_invoice", State.READY)
    fields = {"erp_id": first.number, "description": "", "accounting_date": "2026-10-31"}
    assert 'data-state="synced"' in accept_and_settle(clients, drain, first, fields)
    second = world.item("owner_invoice", State.READY)
    why = explain(DUPLICATE)
    assert why is not None

    body = accept_and_settle(clients, drain, second, fields)
    assert 'data-state="failed"' in body and '<span class="badge failed">Failed to Export</span>' in body
    assert f'<div class="sage-message"><strong>Sage:</strong> {DUPLICATE}</div>' in body
    assert "<summary>Cause and solution</summary>" in body
    assert f"<strong>Cause:</strong> {why.cause}" in body and f"<strong>Solution:</strong> {why.solution}" in body
    assert ">Retry</a>" in body
    after = world.erp(second.erp)
    assert (after.state, after.sage_message, after.erp_ref) == (State.FAILED, DUPLICATE, None)

    failed_tab = text(clients["approver"].get(f"/erp/owner_invoice?filter=failed&q={world.home.number}",
                                              headers=HX))
    assert tab_row_ids(failed_tab) == [second.erp] and counts(failed_tab)["failed"] == 1
    assert why.cause in failed_tab
    row = list_row(clients, "owner_invoice", second.pid, second.id)
    assert 'data-state="failed"' in row

    # retried with an unused invoice number, it syncs
    retry = dict(fields, erp_id=f"R{f.suffix(6)}")
    body = accept_and_settle(clients, drain, second, retry)
    assert 'data-state="synced"' in body and world.erp(second.erp).attempt == 2


# ---- the owner invoice tab: Accept under the Billing Period ------------------------------------

def cells(body: str, erp_id: int, heads: list[str]) -> dict[str, str]:
    """The cells of an item's row in the tab, by column heading."""
    row = re.search(rf'<tbody id="item-{erp_id}".*?<tr[^>]*>(.*?)</tr>', body, re.S)
    assert row, f"no row for item {erp_id}"
    tds = re.findall(r"<td\b[^>]*>(.*?)</td>", row.group(1), re.S)
    assert len(tds) == len(heads), (heads, tds)
    return dict(zip(heads, tds, strict=False))


def headings(body: str) -> list[str]:
    head = re.search(r"<thead>(.*?)</thead>", body, re.S)
    return [re.sub(r"<[^>]+>", "", th).strip() for th in re.findall(r"<th\b[^>]*>(.*?)</th>", head.group(1), re.S)]


def accept_links(cell: str) -> list[tuple[str, str]]:
    """(href, label) of the Accept/Retry links in a cell."""
    return re.findall(r'<a class="button primary" href="([^"]*/accept)"[^>]*>(\w+)</a>', cell)


def tab(clients, role, key, query, fragment=True) -> tuple[list[str], str]:
    response = clients[role].get(f"/erp/{key}?{query}", headers=HX if fragment else {})
    assert response.status_code == 200
    body = text(response)
    return headings(body), body


@pytest.mark.parametrize("fragment", [True, False], ids=["htmx fragment", "full page"])
def test_a_ready_owner_invoice_has_accept_in_the_billing_period_cell_and_reject_in_actions(
        app, clients, people, world, fragment):
    it = world.item("owner_invoice", State.READY)
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


def test_a_failed_owner_invoice_has_retry_in_the_billing_period_cell(clients, world):
    it = world.item("owner_invoice", State.FAILED, message=DUPLICATE)
    heads, body = tab(clients, "approver", "owner_invoice", f"filter=failed&q={it.number}")
    row = cells(body, it.erp, heads)
    assert accept_links(row["Billing Period"]) == [(f"/erp/owner_invoice/{it.erp}/accept", "Retry")]
    assert DUPLICATE in row["Sage's message"]
    assert ">Reject</a>" in row["Actions"] and not accept_links(row["Actions"])


def test_users_who_cannot_accept_see_only_the_billing_period(clients, world):
    it = world.item("owner_invoice", State.READY)
    heads, body = tab(clients, "standard", "owner_invoice", f"q={it.number}")
    assert "Actions" not in heads
    assert cells(body, it.erp, heads)["Billing Period"] == "10/01/2026 – 10/31/2026"


def test_the_billing_period_accept_opens_the_accept_form_and_exports(clients, world, drain, sim):
    it = world.item("owner_invoice", State.READY)
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
    invoice = world.item("subcontractor_invoice", State.READY)
    heads, body = tab(clients, "approver", "subcontractor_invoice", f"q={invoice.number}")
    row = cells(body, invoice.erp, heads)
    assert accept_links(row["Actions"]) == [(f"/erp/subcontractor_invoice/{invoice.erp}/accept", "Accept")]
    assert ">Reject</a>" in row["Actions"]
    assert all(not accept_links(cell) for heading, cell in row.items() if heading != "Actions")

