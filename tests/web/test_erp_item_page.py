"""The approver's item page (/erp/<type>/<id>), written once and run for every type of the registry:
it renders in every state with the item's details, the Sage records it produced (the import log)
or would produce (a preview), its history (an edit, a rejection, the mails) and for a resent
item the earlier reasons and the changes since; Accept from the page answers the row with its
history; bad ids are 404s; every tab row links to it; its cost does not grow with the history.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.domain import services
from portal.domain.lifecycle import State
from portal.domain.models import User
from tests import items as it
from tests.factories import app_session as dbs
from tests.types import get_type, type_keys
from tests.web.pages import HX, World, is_fragment, is_page, path_of, text
from tests.web.test_item_pages import statements

KEYS = type_keys()
EDITABLE = [k for k in KEYS if it.builder(k).editable]
STATES = [State.READY, State.EXPORTING, State.SYNCED, State.FAILED, State.REJECTED]
# the heading of the lines (or schedule of values) each type's page shows; a type absent has none
LINES = {"subcontractor_invoice": "Schedule of values billed", "owner_invoice": "Schedule of values billed",
         "commitment": "Schedule of values", "cco": "Lines", "pcco": "Lines", "budget": "Lines",
         "budget_change": "Lines"}


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def page_url(key: str, erp_id: int | None) -> str:
    return f"/erp/{key}/{erp_id}"


def section(body: str, css: str) -> str:
    """One <section class="css"> of the page."""
    match = re.search(rf'<section[^>]*class="{css}".*?</section>', body, re.S)
    assert match, f"no {css} section"
    return match.group(0)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("key", KEYS)
def test_the_page_renders_for_every_type_in_every_state(clients, world, key, state):
    b = it.builder(key)
    item = world.item(key, state)
    response = clients["readonly"].get(page_url(key, item.erp))
    body = text(response)
    assert response.status_code == 200 and is_page(body), body[:500]
    assert f"<h1>{b.label} {item.title}</h1>" in body
    assert f'<tbody id="item-{item.erp}" class="item state-{state}"' in body
    details = section(body, "item-detail")
    for column in get_type(key).columns:
        assert f"<dt>{column.label}</dt>" in details, column.label
    lines = re.search(r'<h3>([^<]+)</h3>\s*<table class="grid details lines">.*?<tbody>(.*?)</tbody>', details, re.S)
    assert (lines.group(1) if lines else None) == LINES.get(key)
    if lines:
        assert re.search(r"<td>\$[0-9,]+\.[0-9]{2}</td>", lines.group(2)), "the lines show their amounts"
    history = section(body, "history")
    assert "<td>send</td>" in history
    sage = section(body, "sage-records")
    if state == State.SYNCED:
        assert "Sage records it produced" in sage and "Sage import log:" in sage
        assert '<span class="badge synced">Imported</span>' in sage
        assert '<table class="grid records">' in sage
    else:
        assert "Sage records it would produce" in sage and "nothing is sent" in sage
        exported = state in (State.EXPORTING, State.FAILED)
        if exported or b.bulk_missing is None:   # its export fields (or its defaults) map it
            assert '<table class="grid records">' in sage and "No preview yet" not in sage, sage[:800]
        else:                                    # the defaults lack a field: it is named
            assert "No preview yet:" in sage and '<table class="grid records">' not in sage
    # Accept and Reject on the page for an approver, where the row offers them
    approver = text(clients["approver"].get(page_url(key, item.erp)))
    offered = f'hx-get="/erp/{key}/{item.erp}/reject?view=page"' in approver
    assert offered == (state in (State.READY, State.FAILED))


@pytest.mark.parametrize("key", KEYS)
def test_the_preview_shows_the_records_the_export_then_produces(app, clients, world, drain, key):
    item = world.item(key, State.READY)
    fields = _accept_form(app, world, item)
    approver = clients["approver"]
    response = approver.post(it.tab_url(key, item.erp, "accept") + "?view=page", data=fields, headers=HX)
    assert response.status_code == 200, text(response)[:500]
    drain()
    accepted = section(text(approver.get(page_url(key, item.erp))), "sage-records")
    assert "Sage records it produced" in accepted and "Sage import log:" in accepted, accepted[:600]
    batches = re.findall(r"batch ([\w-]+)</small>", accepted)
    assert batches and all(b.startswith(f"{key}-{item.id}-a1") for b in batches)
    assert '<table class="grid records">' in accepted


def _accept_form(app, world, item) -> dict:
    with dbs(app) as s:
        return it.accept_data(s, world.sim, item)


@pytest.mark.parametrize("key", EDITABLE)
def test_history_shows_an_edit_a_rejection_its_mail_and_the_changes_since(app, people, clients, world, key):
    b = it.builder(key)
    item = world.item(key, State.READY)
    rejected = clients["approver"].post(it.tab_url(key, item.erp, "reject") + "?view=page",
                                        data={"reason": "Retainage is wrong"}, headers=HX)
    body = text(rejected)
    assert rejected.status_code == 200 and is_fragment(body)
    assert 'id="erp-history" class="history" hx-swap-oob="true"' in body and "Reason: Retainage is wrong" in body
    with dbs(app) as s:
        form, marker = it.edit_data(s, item)
        it.save_edit(s, s.get(User, people[b.admin].id), item, form)
    page = text(clients["approver"].get(page_url(key, item.erp)))
    history = section(page, "history")
    assert '<tr class="edit">' in history and "Reason: Retainage is wrong" in history
    assert "Rejection Notification" in section(page, "mails")
    rejections = section(page, "rejections")
    assert "Retainage is wrong" in rejections and "Changed since the last rejection" not in rejections  # not resent yet

    with dbs(app) as s:
        services.send(s, s.get(User, people[b.admin].id), key, item.id)
    resent = text(clients["approver"].get(page_url(key, item.erp)))
    rejections = section(resent, "rejections")
    assert "Retainage is wrong" in rejections and "Changed since the last rejection" in rejections
    diff = re.search(r'<table class="grid diff">.*?</table>', rejections, re.S)
    assert diff and str(marker) in diff.group(0), rejections
    assert '<span class="badge resent">Resent</span>' in resent


@pytest.mark.parametrize("key", KEYS)
def test_accept_from_the_page(app, clients, world, drain, key):
    item = world.item(key, State.READY)
    approver = clients["approver"]
    page = text(approver.get(page_url(key, item.erp)))
    label = "Accept"
    assert f'hx-get="/erp/{key}/{item.erp}/accept?view=page">{label}</a>' in page
    form = approver.get(it.tab_url(key, item.erp, "accept") + "?view=page", headers=HX)
    body = text(form)
    assert form.status_code == 200 and f'hx-post="/erp/{key}/{item.erp}/accept?view=page"' in body
    assert 'hx-swap-oob="true"' in body  # the history comes along
    fields = _accept_form(app, world, item)
    # without JavaScript: back to the page, which shows the new state
    done = approver.post(it.tab_url(key, item.erp, "accept") + "?view=page", data=fields)
    assert done.status_code == 303 and path_of(done.location) == page_url(key, item.erp)
    drain()
    after = text(approver.get(done.location))
    assert f'<tbody id="item-{item.erp}" class="item state-synced"' in after
    assert "<td>accept</td>" in section(after, "history") and "Sage records it produced" in after


@pytest.mark.parametrize("key", KEYS)
def test_bad_ids_are_404_and_the_tab_links_each_row_to_its_page(clients, world, key):
    item = world.item(key, State.READY)
    other = next(k for k in KEYS if k != key)
    approver = clients["approver"]
    for url in (page_url(key, 2**31 - 2), page_url(other, item.erp), page_url("no_such_type", item.erp),
                page_url(key, 2**40)):
        assert approver.get(url).status_code == 404, url
    assert clients["none"].get(page_url(key, item.erp)).status_code == 403
    tab = text(approver.get(f"/erp/{key}?q={world.token}", headers=HX))
    assert f'<a href="{page_url(key, item.erp)}" hx-boost="false" class="item-link">' in tab


@pytest.mark.parametrize("key", KEYS)
def test_the_page_costs_the_same_queries_however_long_its_history(app, people, clients, world, key):
    """No N+1: the history, its actors, the mails and the rejections are read in a fixed number of queries."""
    item = world.item(key, State.READY)
    url = page_url(key, item.erp)
    approver = clients["approver"]
    approver.get(url)
    with statements(app) as short:
        assert approver.get(url).status_code == 200
    for _ in range(2):  # two more rejections, two more sends, two more mails
        approver.post(it.tab_url(key, item.erp, "reject"), data={"reason": "Again"}, headers=HX)
        with dbs(app) as s:
            services.send(s, s.get(User, people[it.builder(key).admin].id), key, item.id)
    with statements(app) as long:
        body = text(approver.get(url))
    assert body.count("Reason: Again") == 2
    assert len(long) == len(short), f"{len(short)} queries with a short history, {len(long)} with a long one"


def test_the_synced_page_reads_sages_import_log(app, clients, world, sim):
    """The import log row shown is Sage's own (the simulator's HH2_IMPORT_LOG) for the item's batch."""
    key = "vendor"
    item = world.item(key, State.SYNCED)
    body = section(text(clients["approver"].get(page_url(key, item.erp))), "sage-records")
    batch = re.search(r"batch ([\w-]+)</small>", body).group(1)
    log = sim.import_log(batch)
    assert log and log["Ok"] and f"reference <strong>{log['Reference']}</strong>" in body
    with dbs(app) as s:
        from portal.domain.models import ErpItem
        assert s.scalar(select(ErpItem.erp_ref).where(ErpItem.id == item.erp))
