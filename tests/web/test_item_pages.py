"""What every item type's pages do, written once and run for every type of the registry.

The project side (its list as a page or its table block, create, edit while draft or rejected,
refused while in ERP, send and retrieve with and without htmx, rejected with the reason and
resent, delete) and the ERP tab (counts and rows, the Accept form asking the type's fields,
accept exporting to the simulator and the row settling Synced, reject writing the mail, bulk
accept, unlink, no N+1). What only one type does stays with it: test_setup_pages.py,
test_financial_pages.py, test_prime_contract_pages.py, test_pages_and_fragments.py.

Items are made and walked through the services by tests/items.py; requests are made with no app
context pushed, the database read in short sessions between them.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.domain.lifecycle import State
from portal.domain.models import ErpAudit, OutboxMail, Project, ToolLevel
from tests import factories as f, items as it
from tests.factories import app_session as dbs
from tests.rows import check_rows
from tests.types import get_type, type_keys
from tests.web.pages import (
    BOOSTED,
    HX,
    World,
    counts,
    input_names,
    is_fragment,
    is_page,
    list_row,
    path_of,
    tab_row_ids,
    text,
)

ROLE_USERS = {"project_admin": {}, "project_readonly": {}, "site_admin": dict(site_admin=True),
              "sender": dict(site_admin=True), "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "standard": dict(erp_level=ToolLevel.STANDARD), "readonly": dict(erp_level=ToolLevel.READ_ONLY),
              "erp_admin_no_push": dict(erp_level=ToolLevel.ADMIN)}
KEYS = type_keys()
WITH_FORMS = [k for k in KEYS if it.builder(k).form is not None]
EDITABLE = [k for k in KEYS if it.builder(k).editable]
GENERIC = [k for k in KEYS if not it.builder(k).own_pages]


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def admin(clients, key):
    """The client of whoever keeps the type's items on the project side."""
    return clients[it.builder(key).admin]


def list_marker(key) -> str:
    own = it.builder(key).own_pages
    return f'<table class="grid" id="{own[:-1] if own else "item"}-table">'


def row(clients, key, item, role=None) -> str:
    """The item's row on its project-side list (htmx), as the type's admin (or `role`) sees it."""
    return list_row(clients, key, item.pid, item.id, role or it.builder(key).admin)


# ---- the project side ----------------------------------------------------------------------------

@pytest.mark.parametrize("key", KEYS)
def test_list_is_a_page_without_hx_request_and_its_table_with(clients, world, key):
    item = world.item(key)
    url = it.list_url(key, item.pid)
    client = admin(clients, key)

    page = client.get(url)
    body = text(page)
    assert page.status_code == 200 and is_page(body), body[:300]
    assert "HX-Request" in page.headers.get("Vary", "")
    assert list_marker(key) in body and f'<tbody id="{it.row_id(item)}" data-state="draft"' in body

    fragment = client.get(url, headers=HX)
    body = text(fragment)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers.get("Vary", "")
    assert is_fragment(body) and body.strip().startswith(list_marker(key)), body[:200]
    assert f'<tbody id="{it.row_id(item)}" data-state="draft"' in body
    assert is_page(text(client.get(url, headers=BOOSTED)))

    # a read-only member sees the row and no action
    readonly = row(clients, key, item, "project_readonly")
    assert "Send to ERP" not in readonly and ">Edit<" not in readonly


@pytest.mark.parametrize("key", WITH_FORMS)
def test_create_saves_and_goes_back_to_the_list(app, sim, clients, world, key):
    b = it.builder(key)
    with dbs(app) as s:
        home = it.target_home(s, sim, key, world.home)
        form = it.form_data(s, sim, key, home)
    url = it.list_url(key, home.pid)
    client = clients[b.creates]
    page = client.get(url + "/new")
    assert page.status_code == 200 and is_page(text(page))
    assert f"<h1>New {b.label.lower()}</h1>" in text(page)
    assert f'href="{url}/new">New {b.label.lower()}</a>' in text(client.get(url))

    before = world.count(key)
    response = client.post(url + "/new", data=form)
    assert response.status_code == 303, text(response)[:800]
    assert path_of(response.location) == url
    assert world.count(key) == before + 1
    assert f"{b.label} saved." in text(client.get(response.location))


@pytest.mark.parametrize("key", EDITABLE)
def test_edit_while_draft_or_rejected_saves(app, clients, world, key):
    client = admin(clients, key)
    for state in (State.DRAFT, State.REJECTED):
        item = world.item(key, state)
        page = client.get(it.item_url(item, "edit"))
        body = text(page)
        assert page.status_code == 200 and is_page(body)
        assert '<button type="submit" class="primary">Save</button>' in body
        assert ("Rejected by accounting: Fix it" in body) == (state == State.REJECTED), state
        with dbs(app) as s:
            form, marker = it.edit_data(s, item)
        before = world.snapshot(key, item.id)
        response = client.post(it.item_url(item, "edit"), data=form)
        assert response.status_code == 303, (state, text(response)[:600])
        assert path_of(response.location) == it.back_url(item)
        after = world.snapshot(key, item.id)
        assert after != before and it.holds(after, marker), (state, marker)
        if state == State.REJECTED:
            assert world.erp(item.erp).state == State.REJECTED  # editing does not resend
            assert "Resend to ERP" in row(clients, key, item)


@pytest.mark.parametrize("key", EDITABLE)
def test_edit_is_refused_while_the_item_is_in_erp(app, clients, world, key):
    client = admin(clients, key)
    for state in (State.READY, State.EXPORTING, State.SYNCED, State.FAILED):
        item = world.item(key, state)
        page = client.get(it.item_url(item, "edit"))
        body = text(page)
        assert page.status_code == 200, state
        assert f"is {State.LABELS[state]} in ERP Integrations and cannot be edited now." in body, state
        assert '<form method="post" class="stacked"' not in body and 'class="stacked"' not in body, state
        with dbs(app) as s:
            form, _ = it.edit_data(s, item)
        before, erp_before = world.snapshot(key, item.id), world.erp(item.erp)
        response = client.post(it.item_url(item, "edit"), data=form)
        assert response.status_code == 409 and "cannot be edited" in text(response), (state, response.status_code)
        assert (world.snapshot(key, item.id), world.erp(item.erp)) == (before, erp_before), state


@pytest.mark.parametrize("key", KEYS)
def test_send_and_retrieve_with_and_without_htmx(clients, world, key):
    item = world.item(key)
    client = admin(clients, key)
    row_id = it.row_id(item)

    sent = client.post(it.item_url(item, "send"), headers=HX)
    body = text(sent)
    assert sent.status_code == 200 and is_fragment(body), body[:300]
    assert body.strip().startswith(f'<tbody id="{row_id}" data-state="ready"')
    assert "Ready to Export" in body and f'hx-post="{it.item_url(item, "retrieve")}"' in body
    assert world.erp_of(key, item.id).state == State.READY

    back = client.post(it.item_url(item, "retrieve"), headers=HX)
    body = text(back)
    assert back.status_code == 200 and body.strip().startswith(f'<tbody id="{row_id}" data-state="draft"')
    assert f'hx-post="{it.item_url(item, "send")}"' in body and "Send to ERP" in body
    assert world.erp_of(key, item.id).state == State.DRAFT

    sent = client.post(it.item_url(item, "send"))
    assert sent.status_code == 303 and path_of(sent.location) == it.back_url(item)
    page = text(client.get(sent.location))
    assert is_page(page) and "sent to ERP Integrations for accounting acceptance." in page
    assert "Ready to Export" in page
    if it.builder(key).own_pages:  # the item's own page, with its history
        assert "ERP history" in page
    back = client.post(it.item_url(item, "retrieve"))
    assert back.status_code == 303 and path_of(back.location) == it.back_url(item)
    assert "retrieved:" in text(client.get(back.location))
    assert world.erp_of(key, item.id).state == State.DRAFT


@pytest.mark.parametrize("key", KEYS)
def test_reject_mails_the_creator_and_the_sender_and_the_item_is_resent(app, people, clients, world, drain, key):
    b = it.builder(key)
    item = world.item(key, State.READY, creator=b.admin, sender="sender")
    response = clients["approver"].post(it.tab_url(key, item.erp, "reject"), data={"reason": "Wrong cost code"},
                                        headers=HX)
    assert response.status_code == 200 and is_fragment(text(response))
    assert "Rejected: returned to the project team and emailed." in text(response)
    after = world.erp(item.erp)
    assert (after.state, after.reject_reason, after.mails) == (State.REJECTED, "Wrong cost code", 1)
    with dbs(app) as s:
        mail = s.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == item.erp)).one()
        # the item's number (else its name) and project in the subject, answered to the approver
        place = s.get(Project, item.pid).name if item.pid else "Company Directory"
        assert mail.subject == (f"Test Builders: ERP {b.label} Rejection Notification — "
                                f"{item.number or item.title}, {place}")
        assert mail.reply_to == people["approver"].email
        assert sorted(mail.recipients.split(",")) == sorted({people[b.admin].email.lower(),
                                                             people["sender"].email.lower()})
        # the link opens the item ready to edit (its page, for a type that is never edited)
        fix = it.item_url(item, "edit") if b.editable else it.back_url(item)
        assert "Wrong cost code" in mail.text_body and f"http://portal.test{fix}\n" in mail.text_body
    drain()

    shown = row(clients, key, item)
    assert 'data-state="rejected"' in shown and "Rejected:</strong> Wrong cost code" in shown
    assert "Resend to ERP" in shown and (">Edit<" in shown) == b.editable
    resent = admin(clients, key).post(it.item_url(item, "send"), headers=HX)
    assert resent.status_code == 200 and 'data-state="ready"' in text(resent)
    with dbs(app) as s:
        actions = s.scalars(select(ErpAudit.action).where(ErpAudit.erp_item_id == item.erp).order_by(ErpAudit.id))
        assert list(actions) == ["send", "reject", "resend"]


@pytest.mark.parametrize("key", GENERIC)
def test_delete_only_where_the_type_allows_it(clients, world, key):
    item = world.item(key)
    client = admin(clients, key)
    offered = f'action="{it.item_url(item, "delete")}"' in row(clients, key, item)
    assert offered == it.builder(key).deletable
    before = world.count(key)
    response = client.post(it.item_url(item, "delete"))
    if it.builder(key).deletable:
        assert response.status_code == 303 and path_of(response.location) == it.list_url(key, item.pid)
        assert re.search(rf"{it.builder(key).label} .+ deleted\.", text(client.get(response.location)))
        assert world.count(key) == before - 1
    else:
        assert response.status_code == 409 and "cannot be deleted here" in text(response)
        assert world.count(key) == before


# ---- the ERP tab ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", KEYS)
def test_tab_counts_each_state_and_lists_ready_rows(clients, world, key):
    b = it.builder(key)
    ready, exporting = world.item(key, State.READY), world.item(key, State.EXPORTING)
    synced, failed = world.item(key, State.SYNCED), world.item(key, State.FAILED)
    world.item(key, State.REJECTED), world.item(key)  # back with the project: on no tab
    url = f"/erp/{key}?q={world.token}"

    page = clients["approver"].get(url)
    body = text(page)
    assert page.status_code == 200 and is_page(body)
    for other in KEYS:
        assert f'href="/erp/{other}"' in body, other
    assert f'href="/erp/{key}" aria-current="page">{b.plural}</a>' in body
    assert counts(body) == {"ready": 2, "synced": 1, "failed": 1}
    assert sorted(tab_row_ids(body)) == sorted([ready.erp, exporting.erp])
    assert body.count('<span class="badge ready">Ready to Export</span>') == 1
    assert body.count('<span class="badge exporting" role="status">Exporting…</span>') == 1
    assert f'aria-label="Tick {b.noun} {ready.title}"' in body

    fragment = text(clients["standard"].get(url + "&filter=synced", headers=HX))
    assert fragment.strip().startswith('<div id="tab-body">') and is_fragment(fragment)
    assert tab_row_ids(fragment) == [synced.erp] and "Accept" not in fragment  # read only: no decisions
    assert "ERP ID <strong>" in fragment
    failed_tab = text(clients["approver"].get(url + "&filter=failed", headers=HX))
    assert tab_row_ids(failed_tab) == [failed.erp] and f"Sage:</strong> {it.SAGE_REFUSAL}" in failed_tab
    assert counts(text(clients["approver"].get(f"/erp/{key}?q=nothing-{world.token}"))) == \
        {"ready": 0, "synced": 0, "failed": 0}


@pytest.mark.parametrize("key", KEYS)
def test_accept_form_asks_for_the_types_export_fields(clients, world, key):
    b = it.builder(key)
    item = world.item(key, State.READY)
    response = clients["approver"].get(it.tab_url(key, item.erp, "accept"), headers=HX)
    body = text(response)
    assert response.status_code == 200 and is_fragment(body)
    assert body.strip().startswith(f'<tbody id="item-{item.erp}"') and "Export to ERP" in body
    assert f'aria-label="Accept {b.noun} {item.title}"' in body
    assert input_names(body) == b.accept_inputs
    page = clients["approver"].get(it.tab_url(key, item.erp, "accept"))
    assert page.status_code == 200 and is_page(text(page))  # the Accept link works without htmx


@pytest.mark.parametrize("key", KEYS)
def test_accept_exports_and_the_row_polls_until_it_settles_synced(app, sim, clients, world, drain, key):
    b = it.builder(key)
    item = world.item(key, State.READY)
    with dbs(app) as s:
        fields = it.accept_data(s, sim, item)
    status_url = it.tab_url(key, item.erp, "status")
    response = clients["approver"].post(it.tab_url(key, item.erp, "accept"), data=fields, headers=HX)
    body = text(response)
    assert response.status_code == 200 and is_fragment(body)
    assert f'<tbody id="item-{item.erp}"' in body and 'data-state="exporting"' in body
    assert f'hx-get="{status_url}"' in body and 'hx-trigger="every 500ms"' in body and 'hx-swap="outerHTML"' in body
    polling = clients["approver"].get(status_url, headers=HX)
    assert polling.status_code == 200 and 'hx-trigger="every 500ms"' in text(polling)

    drain()
    settled = clients["approver"].get(status_url, headers=HX)
    body = text(settled)
    assert settled.status_code == 286, "htmx stops polling only on 286"
    assert 'data-state="synced"' in body and "hx-trigger" not in body, body[:500]
    ref = b.ref(fields, item)
    if ref is not None:
        assert world.erp(item.erp).erp_ref == ref and f"ERP ID <strong>{ref}</strong>" in body
    shown = row(clients, key, item)
    assert 'data-state="synced"' in shown and "Send to ERP" not in shown


@pytest.mark.parametrize("key", KEYS)
def test_bulk_accept_exports_with_the_defaults_or_says_why_not(clients, world, drain, key):
    b = it.builder(key)
    one, two = world.item(key, State.READY), world.item(key, State.READY)
    response = clients["approver"].post(f"/erp/{key}/bulk-accept", headers=HX, data={
        "ids": [str(one.erp), str(two.erp)], "filter": "ready", "q": world.token})
    body = text(response)
    assert response.status_code == 200 and body.strip().startswith('<div id="tab-body">')
    if b.bulk_missing:
        assert "2 not accepted:" in body and 'id="bulk-result"' not in body
        for item in (one, two):
            # named as its row names it, never by a database id
            assert f"{item.title}: Accept it on its own: {b.bulk_missing} is required." in body
            assert f"#{item.erp}" not in body
            assert world.erp(item.erp).state == State.READY
    else:
        assert "2 exporting: 0 Synced so far" in body and "not accepted" not in body
        assert re.search(rf'<tbody id="item-{one.erp}"[^>]*data-state="exporting"', body)
        drain()
        after = [world.erp(i.erp) for i in (one, two)]
        assert {e.state for e in after} == {State.SYNCED}, [e.sage_message for e in after]


@pytest.mark.parametrize("key", KEYS)
def test_unlink_once_sage_no_longer_holds_the_record(sim, clients, world, key):
    b = it.builder(key)
    item = world.item(key, State.SYNCED)
    url = it.tab_url(key, item.erp, "unlink")
    approver = clients["approver"]
    synced_tab = f"/erp/{key}?filter=synced&q={world.token}"
    before = world.erp(item.erp)
    # the button is on Synced rows, for approvers, of the types that can be unlinked
    assert (f'action="{url}"' in text(approver.get(synced_tab))) == bool(b.sage_delete)
    for role in ("readonly", "standard", "erp_admin_no_push"):  # they see the row, not the button
        seen = text(clients[role].get(synced_tab))
        assert f'id="item-{item.erp}"' in seen and f'action="{url}"' not in seen, role
    if not b.sage_delete:
        response = approver.post(url, headers=HX)
        assert response.status_code == 422 and f"{b.plural} cannot be unlinked from Sage 300 CRE" in text(response)
        assert world.erp(item.erp) == before
        return

    held = approver.post(url, headers=HX)
    assert held.status_code == 409 and held.headers.get("HX-Retarget") == "#messages"
    message = text(held)
    assert "Sage 300 CRE still holds " in message and b.held(item) in message, message
    assert message.count("delete it in Sage first.") == 1
    assert world.erp(item.erp) == before

    b.sage_delete(sim, item)
    assert counts(text(approver.get(synced_tab)))["synced"] == 1
    response = approver.post(url, headers=HX)
    body = text(response)
    assert response.status_code == 200 and is_fragment(body), body[:500]
    assert f'id="item-{item.erp}"' in body and 'data-state="draft"' in body and "Unlinked – back in draft" in body
    assert f'action="{url}"' not in body  # a draft has no Unlink
    assert (world.erp(item.erp).state, world.erp(item.erp).erp_ref) == (State.DRAFT, None)
    assert counts(text(approver.get(synced_tab)))["synced"] == 0
    history = text(approver.get(it.tab_url(key, item.erp, "row")))
    assert "ERP history" in history and f"Unlinked from Sage ID {before.erp_ref}" in history


def statements(app):
    """Every SQL statement the portal's engine runs inside the block."""
    from portal.extensions import db
    with app.app_context():
        engine = db.engine
    return f.statements(engine)


@pytest.mark.parametrize("key", KEYS)
def test_a_tab_page_costs_the_same_queries_for_one_row_and_for_four(app, clients, world, key):
    """House style: no N+1 (a budget row's Approved Changes must not cost a query per row)."""
    world.item(key, State.READY)
    url = f"/erp/{key}?q={world.token}"
    clients["approver"].get(url)
    with statements(app) as one:
        assert len(tab_row_ids(text(clients["approver"].get(url)))) == 1
    for _ in range(3):
        world.item(key, State.READY)
    with statements(app) as four:
        assert len(tab_row_ids(text(clients["approver"].get(url)))) == 4
    assert len(four) == len(one), f"{len(one)} queries for one row, {len(four)} for four"


def test_every_registered_type_has_a_builder():
    """A new type gets its tests by adding a Builder to tests/items.py (its forms, its Accept fields)."""
    missing = [key for key in type_keys() if key not in it.BUILDERS]
    assert not missing, f"registered types without a Builder in tests/items.py: {missing}"
    stale = [key for key in it.BUILDERS if key not in type_keys()]
    assert not stale, f"Builders of types that are not registered: {stale}"
    for key in type_keys():
        assert get_type(key).key == key


# ---- one input discipline (issue 10) -------------------------------------------------------------

UNLINKABLE = "subcontractor_invoice"


def test_bulk_accept_refuses_ids_that_are_not_ids_and_accepts_nothing(clients, world):
    item = world.item(UNLINKABLE, State.READY)
    before = world.erp(item.erp)

    def refused(bad):
        response = clients["approver"].post(f"/erp/{UNLINKABLE}/bulk-accept", headers=HX,
                                            data={"ids": [str(item.erp), bad], "filter": "ready"})
        assert response.status_code == 422, response.status_code
        assert "is not an item id: nothing was done" in text(response)
        assert world.erp(item.erp) == before

    check_rows({"superscript two": "²", "10^20": "1" + "0" * 20, "2^31": str(2**31), "negative": "-1",
                "letters": "abc", "Arabic-Indic": "٣"}, refused)


def test_user_fields_beyond_their_columns_or_with_control_characters_are_refused_naming_the_field(clients, people):
    admin = clients["site_admin"]
    good = {"username": "newcomer", "name": "New Comer", "email": "new@example.com", "password": "long enough 1",
            "erp_level": ToolLevel.NONE}

    def refused(field, value, says):
        response = admin.post("/admin/users/new", data={**good, field: value})
        body = text(response)
        assert response.status_code == 422 and says in body, (response.status_code, body[:300])
        assert "newcomer" not in text(admin.get("/admin/users"))

    check_rows({"10,000-character name": ("name", "n" * 10_000, "At most 120 characters."),
                "312-character email": ("email", "e" * 300 + "@example.com", "At most 254 characters."),
                "NUL in the name": ("name", "New\x00Comer", "name"),
                "escape in the email": ("email", "new\x1b@example.com", "email")}, refused)
    user_id = people["project_admin"].id
    for key in ("project-²", "project-" + "9" * 20):  # a project level posted for a project id no column holds
        response = admin.post(f"/admin/users/{user_id}", data={"name": "X", "email": "x@example.com",
                                                               "erp_level": ToolLevel.NONE, key: "admin"})
        assert response.status_code == 422, key  # the old code: int("²") raised, a 500


def test_a_control_character_in_a_posted_field_is_a_422_naming_it_and_nothing_changes(clients, world):
    item = world.item(UNLINKABLE, State.READY)
    before = world.erp(item.erp)
    for reason in ("Wrong\x00amount", "bell\x07"):
        response = clients["approver"].post(it.tab_url(UNLINKABLE, item.erp, "reject"), headers=HX,
                                            data={"reason": reason})
        assert response.status_code == 422 and "reason" in text(response), reason
        assert world.erp(item.erp) == before


def test_a_request_beyond_max_content_length_is_a_413_saying_so(app, clients, world):
    item = world.item(UNLINKABLE, State.READY)
    before = world.erp(item.erp)
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    url = it.tab_url(UNLINKABLE, item.erp, "reject")
    for headers in (HX, {}):
        response = clients["approver"].post(url, headers=headers, data={"reason": big})
        assert response.status_code == 413 and "too large (at most 5 MB)" in text(response), response.status_code
    api = clients["approver"].post("/api/v1/anything", data=big, content_type="application/json")
    assert api.status_code == 413 and api.get_json()["error"].startswith("That request is too large")
    assert world.erp(item.erp) == before


def test_retry_export_too_late_answers_409_with_the_row_as_it_is_and_what_happened(clients, world):
    item = world.item(UNLINKABLE, State.SYNCED)  # its export finished before the click arrived
    response = clients["approver"].post(it.tab_url(UNLINKABLE, item.erp, "requeue"), headers=HX)
    body = text(response)
    assert response.status_code == 409 and "HX-Retarget" not in response.headers, body[:300]
    assert f'id="item-{item.erp}"' in body and 'data-state="synced"' in body
    assert "is already Synced (synced" in body and "Someone else changed" not in body


def test_an_unlink_someone_else_made_first_answers_409_with_the_row_and_who_unlinked_it(sim, clients, world):
    b = it.builder(UNLINKABLE)
    item = world.item(UNLINKABLE, State.SYNCED)
    b.sage_delete(sim, item)
    url = it.tab_url(UNLINKABLE, item.erp, "unlink")
    assert clients["approver"].post(url, headers=HX).status_code == 200
    late = clients["approver"].post(url, headers=HX)
    body = text(late)
    assert late.status_code == 409 and f'id="item-{item.erp}"' in body and 'data-state="draft"' in body, body[:300]
    assert "is now Draft (unlinked by" in body
