"""Edits are history and actions say what happened (issue 14), on the pages of every type: an edit
after a rejection shows in the item's history, the resend's row on the approver's tab says
"Resent" and what changed; Resend, Retrieve and Delete ask to confirm (an hx-confirm attribute: no
inline script under the CSP) and answer with the row, a message that replaces the old one and, on
the item's own page, its history out of band; a Direct Export row polls until it settles."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, ToolLevel
from tests import items as it
from tests.factories import app_session as dbs
from tests.types import get_type, type_keys
from tests.web.pages import HX, World, changed_settings, item_row, list_row, text

ROLE_USERS = {"project_admin": {}, "project_readonly": {}, "site_admin": dict(site_admin=True),
              "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "erp_admin_no_push": dict(erp_level=ToolLevel.ADMIN)}
KEYS = type_keys()
EDITABLE = [k for k in KEYS if it.builder(k).editable]
DELETABLE = [k for k in KEYS if it.builder(k).deletable]
DIRECT = [k for k in KEYS if get_type(k).direct_export_setting]
OOB_MESSAGE = re.compile(r'<div id="messages" hx-swap-oob="innerHTML">'
                         r'<div class="msg info" role="status">(.*?)</div></div>')
OOB_HISTORY = '<section id="erp-history" class="history" hx-swap-oob="true">'
INLINE_SCRIPT = re.compile(r"<script|\son[a-z]+=|javascript:|hx-on", re.I)


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def admin(clients, key):
    return clients[it.builder(key).admin]


def row(clients, key, item) -> str:
    return list_row(clients, key, item.pid, item.id, it.builder(key).admin)


def messages(body: str) -> list[str]:
    """The messages an answer swaps into the page's messages area (out of band)."""
    return OOB_MESSAGE.findall(body)


def form_of(body: str, action: str) -> str:
    """The opening tag of the form posting to `action`."""
    match = re.search(rf'<form method="post" action="{re.escape(action)}(?:\?[^"]*)?"[^>]*>', body)
    assert match, f"no form posting to {action}"
    return match.group(0)


def resend_note(app, erp_id: int) -> str | None:
    with dbs(app) as s:
        return s.scalar(select(ErpItem.resend_note).where(ErpItem.id == erp_id))


# ---- edits are history ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", EDITABLE)
def test_an_edit_after_a_rejection_is_history_and_the_resent_row_says_what_changed(app, clients, world, key):
    item = world.item(key, State.REJECTED)
    client = admin(clients, key)
    with dbs(app) as s:
        form, _ = it.edit_data(s, item)
    assert client.post(it.item_url(item, "edit"), data=form).status_code == 303

    # the approver's item page and the project side (the invoice's page, another type's edit page)
    # list the edit among the transitions
    pages = [clients["approver"].get(it.tab_url(key, item.erp, "row")),
             client.get(it.item_url(item, "" if it.builder(key).own_pages else "edit"))]
    for page in pages:
        body = text(page)
        assert page.status_code == 200 and '<tr class="edit">' in body, body[-1500:]
        history = body[body.index('id="erp-history"'):]
        assert history.index(">reject<") < history.index(">edit<"), history[:2000]
        assert " → " in history[history.index(">edit<"):]

    resent = client.post(it.item_url(item, "send"), headers=HX)
    assert resent.status_code == 200 and 'data-state="ready"' in text(resent)
    assert messages(text(resent))[0].endswith("sent again to accounting, with what changed since the rejection.")
    note = resend_note(app, item.erp)
    assert note and " → " in note

    tab_row = text(clients["approver"].get(it.tab_url(key, item.erp, "row"), headers=HX))
    assert '<span class="badge resent">Resent</span>' in tab_row
    assert f"Changed since the rejection: {note}" in tab_row


def test_the_resent_marker_and_summary_are_on_the_tab_page(app, clients, world):
    """The invoice of the issue: a line's retainage changed, resent; the tab lists it with the change."""
    item = world.item("subcontractor_invoice", State.REJECTED)
    plain = world.item("subcontractor_invoice", State.READY)
    with dbs(app) as s:
        form = it.invoice_form(s, item, **{"line-FIRST-retainage": "110"})
    assert clients["project_admin"].post(it.item_url(item, "edit"), data=form).status_code == 303
    clients["project_admin"].post(it.item_url(item, "send"), headers=HX)

    tab = text(clients["approver"].get(f"/erp/subcontractor_invoice?filter=ready&q={item.number}", headers=HX))
    resent = item_row(tab, "item", item.erp)
    assert "Resent" in resent and "Changed since the rejection: Retainage $100.00 → $110.00 on line 1" in resent
    other = text(clients["approver"].get(f"/erp/subcontractor_invoice?filter=ready&q={plain.number}", headers=HX))
    assert "Resent" not in item_row(other, "item", plain.erp)


def test_a_resend_without_changes_says_so(app, clients, world):
    item = world.item("commitment", State.REJECTED)
    resent = clients["project_admin"].post(it.item_url(item, "send"), headers=HX)
    assert messages(text(resent))[0].endswith("sent again to accounting, unchanged since the rejection.")
    tab_row = text(clients["approver"].get(it.tab_url("commitment", item.erp, "row"), headers=HX))
    assert "Resent" in tab_row and "Nothing was changed since the rejection." in tab_row


# ---- actions that say what happened ----------------------------------------------------------------

@pytest.mark.parametrize("key", KEYS)
def test_resend_and_retrieve_ask_to_confirm_and_first_send_does_not(clients, world, key):
    rejected, ready, draft = world.item(key, State.REJECTED), world.item(key, State.READY), world.item(key)
    resend = form_of(row(clients, key, rejected), it.item_url(rejected, "send"))
    assert re.search(r'hx-confirm="Resend [^"]+ to accounting\?', resend), resend
    retrieve = form_of(row(clients, key, ready), it.item_url(ready, "retrieve"))
    assert re.search(r'hx-confirm="Retrieve [^"]+ from accounting\?', retrieve), retrieve
    assert "hx-confirm" not in form_of(row(clients, key, draft), it.item_url(draft, "send"))
    for body in (row(clients, key, rejected), row(clients, key, ready)):
        assert not INLINE_SCRIPT.search(body), INLINE_SCRIPT.search(body)


@pytest.mark.parametrize("key", KEYS)
def test_send_and_retrieve_answer_with_the_row_and_one_message_that_replaces_the_old(clients, world, key):
    item = world.item(key)
    client = admin(clients, key)
    sent = text(client.post(it.item_url(item, "send"), headers=HX))
    assert sent.lstrip().startswith(f'<tbody id="{it.row_id(item)}" data-state="ready"')
    [message] = messages(sent)
    assert message.endswith("sent to ERP Integrations for accounting acceptance.") and item.title in message
    assert OOB_HISTORY not in sent     # the list has no history to update

    back = text(client.post(it.item_url(item, "retrieve"), headers=HX))
    assert back.lstrip().startswith(f'<tbody id="{it.row_id(item)}" data-state="draft"')
    assert messages(back) == [m for m in messages(back) if "retrieved: it is a draft" in m] != []


def test_on_the_invoice_page_an_action_answers_its_history_too(app, clients, world):
    item = world.item("subcontractor_invoice", State.REJECTED)
    client = clients["project_admin"]
    with dbs(app) as s:
        form = it.invoice_form(s, item, billing_date="2026-11-03")
    client.post(it.item_url(item, "edit"), data=form)
    page = text(client.get(it.item_url(item)))
    assert "Invoice saved." in page                       # the edit's message, on the page
    resend = form_of(page, it.item_url(item, "send"))     # the page's buttons ask for its history
    assert f'action="{it.item_url(item, "send")}?view=page"' in resend

    answer = text(client.post(it.item_url(item, "send") + "?view=page", headers=HX))
    assert answer.lstrip().startswith(f'<tbody id="invoice-{item.id}" data-state="ready"')
    assert "view=page" in form_of(answer, it.item_url(item, "retrieve"))   # and keep asking
    [message] = messages(answer)
    assert message == f"Invoice {item.number} sent again to accounting, with what changed since the rejection."
    history = answer[answer.index(OOB_HISTORY):]
    assert "Billing date 10/31/2026 → 11/03/2026" in history and ">resend<" in history
    assert "Changed since the rejection: Billing date 10/31/2026 → 11/03/2026" in history


@pytest.mark.parametrize("key", DELETABLE)
def test_delete_asks_to_confirm_and_answers_with_the_row_gone_and_a_message(clients, world, key):
    item = world.item(key)
    delete = form_of(row(clients, key, item), it.item_url(item, "delete"))
    assert 'hx-confirm="Delete ' in delete and 'cannot be undone."' in delete
    before = world.count(key)
    answer = text(admin(clients, key).post(it.item_url(item, "delete"), headers=HX))
    assert "<tbody" not in answer and world.count(key) == before - 1   # the row replaces itself with nothing
    [message] = messages(answer)
    assert message.startswith(it.builder(key).label) and message.endswith(" deleted.")


# ---- a Direct Export row polls until it settles ----------------------------------------------------

@pytest.mark.parametrize("key", DIRECT)
def test_a_direct_export_row_polls_until_it_settles(app, clients, people, world, drain, key):
    item = world.item(key)
    client = admin(clients, key)
    setting = f"direct_export_{get_type(key).direct_export_setting}"
    with changed_settings(app, people["erp_admin_no_push"].id, **{setting: "on"},
                          use_contract_number_as_sage_id="on"):
        sent = text(client.post(it.item_url(item, "send"), headers=HX))
        assert 'data-state="exporting"' in sent
        assert f'hx-get="{it.item_url(item, "status")}" hx-trigger="every 500ms"' in sent
        assert "(Direct Export)" in messages(sent)[0]
        polled = client.get(it.item_url(item, "status"), headers=HX)
        assert polled.status_code == 200 and 'data-state="exporting"' in text(polled)  # not yet run
        drain()
    settled = client.get(it.item_url(item, "status"), headers=HX)
    body = text(settled)
    assert settled.status_code == 286 and 'data-state="synced"' in body    # 286: htmx stops polling
    assert "hx-trigger" not in body and not messages(body)
    if it.builder(key).own_pages:   # on its page, the settled row brings the history along
        on_page = text(client.get(it.item_url(item, "status") + "?view=page", headers=HX))
        assert OOB_HISTORY in on_page and ">export ok<" in on_page
