"""The prime contract item types as the browser sees them: prime contract change orders
(PCCOs, "pcco") and owner invoices ("owner_invoice"). Their project-side forms (header fields
and a line table whose inputs are named line-<n>-<field>) and their ERP tabs: counts, the
Accept form (Transaction Date and, only when a line adds a contract item, the New Contract
Item Code; Invoice / Description / Accounting Date), export to the simulator, Sage's
duplicate-invoice refusal with cause and solution, reject with its mail.

As in test_financial_pages.py, requests are made with no app context pushed and the database
is read and prepared in short `dbs(app)` blocks in between. Every test makes its own project
(factories.Setup) with a synced prime contract (items 100 Sitework, 200 Building) mirrored in
the simulator with its AR customer, as in tests/integration/test_prime_contracts.py.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.domain import items, services
from portal.domain.lifecycle import State
from portal.domain.models import (ErpItem, OutboxMail, OwnerInvoice, OwnerInvoiceLine, PrimeChangeOrder,
                                  PrimeChangeOrderLine, PrimeContract, PrimeContractItem, ProjectMember,
                                  ToolLevel, User)
from portal.exporters.sage300.records import SageResult
from portal.exporters.sage300.troubleshooting import explain
from tests import factories as f
from tests.web.pages import (accept_form_body, counts, has_field_error, input_names, is_fragment, is_page, item_row,
                             path_of, tab_row_ids, text)

HX = {"HX-Request": "true"}
TYPES = ("pcco", "owner_invoice")
LABELS = {"pcco": "Prime Contract Change Order", "owner_invoice": "Owner Invoice"}
PLURALS = {k: v + "s" for k, v in LABELS.items()}
NOUNS = {"pcco": "PCCO", "owner_invoice": "owner invoice"}
MODELS = {"pcco": PrimeChangeOrder, "owner_invoice": OwnerInvoice}
LINE_MODELS = {"pcco": (PrimeChangeOrderLine, PrimeChangeOrderLine.pcco_id),
               "owner_invoice": (OwnerInvoiceLine, OwnerInvoiceLine.invoice_id)}
DUPLICATE = "Duplicate Invoice encountered. Invoice # must be unique."
SUBJECT = "Test Builders: ERP Owner Invoice Rejection Notification"

NullQueue = f.NullQueue
dbs = f.app_session


# ---- people and clients (per module, tests/web/conftest.py) and the world ------------------

ROLE_USERS = {"pm": {}, "pm2": {}, "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "standard": dict(erp_level=ToolLevel.STANDARD)}


class World:
    """Fresh synced projects with a synced prime contract, and helpers that put items in a state."""

    def __init__(self, app, sim, people):
        self.app, self.sim, self.people = app, sim, people
        self.token = f.suffix(8)
        self._home = None

    def users(self, s):
        return SimpleNamespace(**{k: s.get(User, p.id) for k, p in self.people.items()})

    def project(self) -> SimpleNamespace:
        with dbs(self.app) as s:
            setup = f.Setup(s, self.sim)
            setup.project.name = f"Project {self.token} {f.suffix(4)}"
            u = self.users(s)
            s.add_all([ProjectMember(user_id=u.pm.id, project_id=setup.project.id, level=ToolLevel.ADMIN),
                       ProjectMember(user_id=u.pm2.id, project_id=setup.project.id, level=ToolLevel.ADMIN)])
            number, customer = f"PC{f.suffix(6)}", f"CU{f.suffix(6)}"
            pc = PrimeContract(project_id=setup.project.id, number=number, title="Owner contract",
                               status="Approved", sage_contract_id=number, customer=customer)
            s.add(pc)
            s.flush()
            i100 = PrimeContractItem(contract_id=pc.id, code="100", description="Sitework", amount=Decimal("400000"))
            i200 = PrimeContractItem(contract_id=pc.id, code="200", description="Building", amount=Decimal("900000"))
            s.add_all([i100, i200])
            s.commit()
            self.sim.add_contract(number, setup.project.sage_job_id, "Owner contract",
                                  items=[("100", "Sitework", 400000), ("200", "Building", 900000)])
            self.sim.add_customer(customer, "City of Springfield")
            return SimpleNamespace(id=setup.project.id, name=setup.project.name, number=setup.project.number,
                                   job=setup.project.sage_job_id, sub=setup.sub.id, mat=setup.mat.id,
                                   contract=pc.id, contract_number=number, customer=customer,
                                   i100=i100.id, i200=i200.id)

    @property
    def home(self) -> SimpleNamespace:
        if self._home is None:
            self._home = self.project()
        return self._home

    def form(self, key: str, p: SimpleNamespace, *, new_item: bool = True, **over) -> dict:
        if key == "pcco":
            form = {"contract_id": str(p.contract), "number": f"PCO-{f.suffix(6)}",
                    "title": f"Owner canopy {self.token}", "status": "Approved",
                    "line-0-contract_item_id": str(p.i100), "line-0-category_id": str(p.sub),
                    "line-0-amount": "12,000"}
            if new_item:
                form.update({"line-1-description": "Canopy", "line-1-category_id": str(p.mat),
                             "line-1-amount": "8000"})
        else:
            form = {"contract_id": str(p.contract), "number": f"OI{f.suffix(6)}", "period_start": "2026-10-01",
                    "period_end": "2026-10-31", "billing_date": "2026-10-31", "status": "Approved",
                    "line-0-contract_item_id": str(p.i100), "line-0-amount": "50,000",
                    "line-0-retainage": "5000"}
        form.update(over)
        return {k: v for k, v in form.items() if v is not None}

    def draft(self, key: str, p=None, creator: str = "pm", new_item: bool = True, **over) -> SimpleNamespace:
        p = p or self.home
        with dbs(self.app) as s:
            item = items.save_item(s, getattr(self.users(s), creator), key, p.id, None,
                                   self.form(key, p, new_item=new_item, **over))
            return SimpleNamespace(key=key, id=item.id, p=p, pid=p.id, erp=None, number=item.number,
                                   title=getattr(item, "title", None))

    def accept_fields(self, key: str, it) -> dict:
        if key == "pcco":
            return {"transaction_date": "2026-11-20", "new_item_code": f"N{f.suffix(6)}"}
        return {"erp_id": it.number, "description": "", "accounting_date": "2026-10-31"}

    def item(self, key: str, state: str = State.DRAFT, *, message: str = "Job has been closed.",
             **kw) -> SimpleNamespace:
        out = self.draft(key, **kw)
        if state == State.DRAFT:
            return out
        with dbs(self.app) as s:
            u = self.users(s)
            erp = services.send(s, u.pm, key, out.id)
            out.erp = erp.id
            if state == State.REJECTED:
                services.reject(s, u.approver, erp.id, f"Fix it {self.token}", NullQueue(), "Test Builders",
                                lambda e: "http://portal.test/x")
            elif state in (State.EXPORTING, State.SYNCED, State.FAILED):
                out.fields = self.accept_fields(key, out)
                services.accept(s, u.approver, erp.id, out.fields, NullQueue())
                if state == State.SYNCED:
                    services.record_export_result(s, erp.id, 1, SageResult(ok=True, reference="REF"))
                elif state == State.FAILED:
                    services.record_export_result(s, erp.id, 1, SageResult(ok=False, message=message))
        return out

    def erp(self, erp_id: int) -> SimpleNamespace:
        with dbs(self.app) as s:
            e = s.get(ErpItem, erp_id)
            mails = s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == e.id))
            return SimpleNamespace(state=e.state, attempt=e.attempt, version=e.version, erp_ref=e.erp_ref,
                                   sage_message=e.sage_message, export_fields=e.export_fields,
                                   reject_reason=e.reject_reason, mails=mails)

    def erp_of(self, key: str, item_id: int):
        with dbs(self.app) as s:
            e = services.find_erp_item(s, key, item_id)
            return None if e is None else self.erp(e.id)

    def count(self, key: str, pid: int) -> tuple[int, int]:
        model, fk = LINE_MODELS[key]
        parent = MODELS[key]
        with dbs(self.app) as s:
            n = s.scalar(select(func.count()).select_from(parent).where(parent.project_id == pid))
            lines = s.scalar(select(func.count()).select_from(model).join(parent, fk == parent.id)
                             .where(parent.project_id == pid))
            return n, lines

    def list_url(self, key: str, pid: int) -> str:
        return f"/projects/{pid}/items/{key}"

    def url(self, it, what: str) -> str:
        return f"/projects/{it.pid}/items/{it.key}/{it.id}/{what}"

    def tab_url(self, key: str, erp_id: int, what: str) -> str:
        return f"/erp/{key}/{erp_id}/{what}"


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


# ---- create ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_create_saves_the_lines_and_goes_back_to_the_list(clients, people, world, key):
    p = world.project()
    form = world.form(key, p)
    response = clients["pm"].post(world.list_url(key, p.id) + "/new", data=form)
    assert response.status_code == 303, text(response)[:800]
    assert path_of(response.location) == world.list_url(key, p.id)
    with dbs(world.app) as s:
        item = s.scalars(select(MODELS[key]).where(MODELS[key].project_id == p.id)).one()
        assert item.created_by_id == people["pm"].id and item.number == form["number"]
        model, fk = LINE_MODELS[key]
        lines = s.scalars(select(model).where(fk == item.id).order_by(model.id)).all()
        if key == "pcco":
            assert [(l.contract_item_id, l.description, l.category_id, l.amount) for l in lines] == [
                (p.i100, "", p.sub, Decimal("12000.00")), (None, "Canopy", p.mat, Decimal("8000.00"))]
        else:
            assert [(l.contract_item_id, l.amount, l.retainage) for l in lines] == [
                (p.i100, Decimal("50000.00"), Decimal("5000.00"))]
            assert (item.period_start, item.period_end, item.billing_date) == (
                date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 31))
        item_id = item.id
    page = text(clients["pm"].get(response.location))
    assert f"{LABELS[key]} saved." in page
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
    p = world.home
    if "OTHER_CONTRACT" in changes.values() or "OTHER_ITEM" in changes.values():
        other = world.project()
        placeholders = {"OTHER_CONTRACT": str(other.contract), "OTHER_ITEM": str(other.i100)}
        changes = {k: placeholders.get(v, v) for k, v in changes.items()}
    form = world.form(key, p, **changes)
    before = world.count(key, p.id)
    response = clients["pm"].post(world.list_url(key, p.id) + "/new", data=form)
    body = text(response)
    assert response.status_code == 422, body[:500]
    assert is_page(body) and message in body
    if field:
        assert "Please correct the highlighted fields." in body
        assert has_field_error(body, field, message), f"no message next to {field}"
    else:
        assert f'<p class="msg error" role="alert">{message}</p>' in body
    for name_, value in form.items():  # what was typed comes back
        if name_.endswith(("amount", "retainage", "number", "title")) and value and value.strip():
            assert f'value="{value}"' in body, name_
    assert world.count(key, p.id) == before


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
    it = world.item(key, **changes)
    row = item_row(text(clients["pm"].get(world.list_url(key, it.pid), headers=HX)), key, it.id)
    assert re.search(r"<button[^>]*disabled[^>]*>Send to ERP</button>", row)
    assert reason in row and world.url(it, "send") not in row
    response = clients["pm"].post(world.url(it, "send"), headers=HX)
    assert response.status_code == 422 and reason in text(response)
    assert world.erp_of(key, it.id) is None


def test_a_pending_pcco_can_be_sent_and_accepting_approves_it(clients, world, drain):
    it = world.item("pcco", State.READY, status="Pending - In Review", new_item=False)
    body = accept_and_settle(clients, world, drain, it, {"transaction_date": "2026-11-20"})
    assert 'data-state="synced"' in body, body[:600]
    with dbs(world.app) as s:
        assert s.get(PrimeChangeOrder, it.id).status == "Approved"


# ---- the ERP tabs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_tab_counts_each_state_and_lists_ready_rows(clients, world, key):
    ready, exporting = world.item(key, State.READY), world.item(key, State.EXPORTING)
    synced, failed = world.item(key, State.SYNCED), world.item(key, State.FAILED)
    world.item(key, State.REJECTED), world.item(key)  # neither is on the tab
    url = f"/erp/{key}?q={world.home.number}"

    page = clients["approver"].get(url)
    body = text(page)
    assert page.status_code == 200 and is_page(body)
    assert f'href="/erp/{key}" aria-current="page">{PLURALS[key]}</a>' in body
    assert counts(body) == {"ready": 2, "synced": 1, "failed": 1}
    assert sorted(tab_row_ids(body)) == sorted([ready.erp, exporting.erp])
    assert f'aria-label="Tick {NOUNS[key]} {ready.number}"' in body

    fragment = text(clients["standard"].get(url + "&filter=synced", headers=HX))
    assert fragment.strip().startswith('<div id="tab-body">') and is_fragment(fragment)
    assert tab_row_ids(fragment) == [synced.erp] and "Accept" not in fragment
    failed_tab = text(clients["approver"].get(url + "&filter=failed", headers=HX))
    assert tab_row_ids(failed_tab) == [failed.erp] and "Sage:</strong> Job has been closed." in failed_tab


def test_pcco_accept_form_asks_for_the_transaction_date_and_the_new_item_code(clients, world):
    it = world.item("pcco", State.READY)
    response, body = accept_form_body(clients, world, it)
    assert response.status_code == 200 and is_fragment(body)
    assert body.strip().startswith(f'<tbody id="item-{it.erp}"') and "Export to ERP" in body
    assert f'aria-label="Accept PCCO {it.number}"' in body
    assert input_names(body) == {"transaction_date", "new_item_code"}
    assert re.search(rf'name="transaction_date" value="{date.today().isoformat()}"', body)
    assert re.search(r'name="new_item_code" value=""', body)
    assert "New Contract Item Code" in body and "Transaction Date" in body


def test_pcco_accept_form_asks_no_item_code_when_every_line_has_a_contract_item(clients, world):
    it = world.item("pcco", State.READY, new_item=False)
    response, body = accept_form_body(clients, world, it)
    assert response.status_code == 200
    assert input_names(body) == {"transaction_date"}
    assert "New Contract Item Code" not in body


def test_owner_invoice_accept_form_defaults_to_the_invoice_number_and_billing_date(clients, world):
    it = world.item("owner_invoice", State.READY)
    response, body = accept_form_body(clients, world, it)
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
    it = world.item(key, State.READY)
    before = world.erp(it.erp)
    response = clients["approver"].post(world.tab_url(key, it.erp, "accept"), data=form, headers=HX)
    body = text(response)
    assert response.status_code == 422 and is_fragment(body), body[:500]
    if message:
        assert message in body
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', body)
    assert world.erp(it.erp) == before


# ---- export -----------------------------------------------------------------------------------------

def accept_and_settle(clients, world, drain, it, fields) -> str:
    response = clients["approver"].post(world.tab_url(it.key, it.erp, "accept"), data=fields, headers=HX)
    body = text(response)
    assert response.status_code == 200 and 'data-state="exporting"' in body, body[:600]
    drain()
    settled = clients["approver"].get(world.tab_url(it.key, it.erp, "status"), headers=HX)
    assert settled.status_code == 286
    return text(settled)


def test_accepted_pcco_adds_the_contract_item_and_approves(clients, world, drain, sim):
    p = world.project()
    it = world.item("pcco", State.READY, p=p, status="Pending - In Review")
    code = f"N{f.suffix(5)}"
    body = accept_and_settle(clients, world, drain, it, {"transaction_date": "2026-11-20", "new_item_code": code})
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
    form = text(clients["pm"].get(world.list_url("pcco", p.id) + "/new"))
    assert f'<option value="{new.id}" >{p.contract_number} {code} Canopy</option>' in form


def test_accepted_owner_invoice_is_an_ar_invoice(clients, world, drain, sim):
    it = world.item("owner_invoice", State.READY)
    body = accept_and_settle(clients, world, drain, it, {"erp_id": it.number, "description": "October",
                                                         "accounting_date": "2026-10-31"})
    assert 'data-state="synced"' in body and f"ERP ID <strong>{it.number}</strong>" in body, body[:800]
    assert sim.get_ar_invoice(it.number) is not None


def test_a_duplicate_owner_invoice_fails_with_sages_text_cause_and_solution(clients, world, drain, sim):
    first = world.item("owner_invoice", State.READY)
    fields = {"erp_id": first.number, "description": "", "accounting_date": "2026-10-31"}
    assert 'data-state="synced"' in accept_and_settle(clients, world, drain, first, fields)
    second = world.item("owner_invoice", State.READY)
    why = explain(DUPLICATE)
    assert why is not None

    body = accept_and_settle(clients, world, drain, second, fields)
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
    row = item_row(text(clients["pm"].get(world.list_url("owner_invoice", second.pid), headers=HX)),
                   "owner_invoice", second.id)
    assert 'data-state="failed"' in row

    # retried with an unused invoice number, it syncs
    retry = dict(fields, erp_id=f"R{f.suffix(6)}")
    body = accept_and_settle(clients, world, drain, second, retry)
    assert 'data-state="synced"' in body and world.erp(second.erp).attempt == 2


# ---- reject --------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", TYPES)
def test_reject_mails_the_creator_and_the_item_can_be_edited_and_resent(clients, people, world, drain, key):
    it = world.item(key, State.READY)
    response = clients["approver"].post(world.tab_url(key, it.erp, "reject"), data={"reason": "Wrong period"},
                                        headers=HX)
    assert response.status_code == 200 and "Rejected: returned to the project team and emailed." in text(response)
    after = world.erp(it.erp)
    assert (after.state, after.reject_reason, after.mails) == (State.REJECTED, "Wrong period", 1)
    with dbs(world.app) as s:
        mail = s.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == it.erp)).one()
        assert mail.subject == f"Test Builders: ERP {LABELS[key]} Rejection Notification"
        assert people["pm"].email.lower() in mail.recipients.split(",")
        assert "Wrong period" in mail.text_body
    drain()
    row = item_row(text(clients["pm"].get(world.list_url(key, it.pid), headers=HX)), key, it.id)
    assert 'data-state="rejected"' in row and "Rejected:</strong> Wrong period" in row
    edit = clients["pm"].get(world.url(it, "edit"))
    assert edit.status_code == 200 and "Rejected by accounting: Wrong period" in text(edit)
    form = world.form(key, it.p, number=it.number)
    response = clients["pm"].post(world.url(it, "edit"), data=form)
    assert response.status_code == 303, text(response)[:600]
    resent = clients["pm"].post(world.url(it, "send"), headers=HX)
    assert resent.status_code == 200 and 'data-state="ready"' in text(resent)
