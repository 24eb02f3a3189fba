"""Counts and bulk exports that tell the truth on the ERP tabs (issue 12, part 3).

Every action on a row sends the tab's filter counts again, out of band, so Ready · Synced ·
Failed follow without a reload; a bulk export's result panel polls its group until every
export settled and then says the tally; bulk export is offered as is only where the defaults
suffice, elsewhere a bulk form asks each ticked row's Sage ID; refusals name items by their
numbers, never by database ids. Counts are read among the items of one world's token (a
search), never the whole tab's: the session's app is shared.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, utcnow
from tests import items as it
from tests.factories import app_session as dbs
from tests.types import type_keys
from tests.web.pages import HX, counts, input_names, text

INVOICE = "subcontractor_invoice"


def on_tab(world, key: str = INVOICE, filter_key: str = "ready") -> dict:
    """htmx headers of a request made from the tab, searched for the world's token."""
    return {**HX, "HX-Current-URL": f"http://localhost/erp/{key}?filter={filter_key}&q={world.token}"}


def oob_counts(body: str) -> dict[str, int] | None:
    """The counts a row response swaps out of band (None: it sends none)."""
    match = re.search(r'<template>\s*<nav id="tab-counts"[^>]*hx-swap-oob="true"[^>]*>.*?</nav>\s*</template>',
                      body, re.S)
    return counts(match.group(0)) if match else None


def tab_counts(clients, world, key: str = INVOICE) -> dict[str, int]:
    """The counts the tab shows on a reload: what every out-of-band swap must agree with."""
    return counts(text(clients["approver"].get(f"/erp/{key}?q={world.token}", headers=HX)))


def accept_form(world, item) -> dict:
    with dbs(world.app) as s:
        return it.accept_data(s, world.sim, item)


# ---- the counts follow every action --------------------------------------------------------------

def test_every_row_action_sends_the_counts_out_of_band(clients, world, drain):
    approver = clients["approver"]
    kept, rejected, accepted = (world.item(INVOICE, State.READY) for _ in range(3))
    assert tab_counts(clients, world) == {"ready": 3, "synced": 0, "failed": 0}

    def acted(response, expected: dict) -> None:
        body = text(response)
        assert oob_counts(body) == expected == tab_counts(clients, world), body[-600:]
        # after the row's <tbody>: inside a <template>, so the parser keeps it out of the table
        assert body.index("<tbody") < body.index('id="tab-counts"')

    rejecting = approver.post(it.tab_url(INVOICE, rejected.erp, "reject"), headers=on_tab(world),
                              data={"reason": "Wrong period"})
    acted(rejecting, {"ready": 2, "synced": 0, "failed": 0})
    # the totals row of the filter shown follows too: two invoices of $1,450.00 left to export
    assert re.search(r'<template>\s*<tfoot id="tab-totals" hx-swap-oob="true">.*Total of 2.*'
                     r'data-total="payment_due">\$2,900\.00<.*</tfoot>\s*</template>', text(rejecting), re.S)
    acted(approver.post(it.tab_url(INVOICE, accepted.erp, "accept"), headers=on_tab(world),
                        data=accept_form(world, accepted)), {"ready": 2, "synced": 0, "failed": 0})
    # while it exports, its polls send no counts (nothing moved, and no query spent on them)
    polling = approver.get(it.tab_url(INVOICE, accepted.erp, "status"), headers=on_tab(world))
    assert polling.status_code == 200 and oob_counts(text(polling)) is None
    drain()
    settled = approver.get(it.tab_url(INVOICE, accepted.erp, "status"), headers=on_tab(world))
    assert settled.status_code == 286
    acted(settled, {"ready": 1, "synced": 1, "failed": 0})
    # a form opened or cancelled changes no count and sends none
    for what in ("accept", "reject", "row"):
        assert oob_counts(text(approver.get(it.tab_url(INVOICE, kept.erp, what), headers=on_tab(world)))) is None
    # the same action from the item's own page (not the tab): no counts to swap there
    other = {**HX, "HX-Current-URL": f"http://localhost/erp/{INVOICE}/{kept.erp}/row"}
    assert oob_counts(text(approver.post(it.tab_url(INVOICE, kept.erp, "reject"), headers=other,
                                         data={"reason": "No"}))) is None


def test_retry_and_unlink_send_the_counts_and_a_row_settling_failed_too(clients, make_world, drain):
    world = make_world(vendor_status="Inactive")
    approver = clients["approver"]
    stalled = world.item(INVOICE, State.EXPORTING)
    response = approver.post(it.tab_url(INVOICE, stalled.erp, "requeue"), headers=on_tab(world))
    assert response.status_code == 200
    assert oob_counts(text(response)) == {"ready": 1, "synced": 0, "failed": 0}
    drain()   # the vendor is inactive in Sage: refused
    settled = approver.get(it.tab_url(INVOICE, stalled.erp, "status"), headers=on_tab(world, filter_key="failed"))
    assert settled.status_code == 286 and world.erp(stalled.erp).state == State.FAILED
    body = text(settled)
    assert oob_counts(body) == {"ready": 0, "synced": 0, "failed": 1} == tab_counts(clients, world)
    # the filter the page shows stays marked in the swapped counts
    assert re.search(r'aria-current="page" data-filter="failed"', body)

    synced = world.item(INVOICE, State.SYNCED, home=world.another_home())   # an active vendor, same token
    it.builder(INVOICE).sage_delete(world.sim, synced)
    unlinked = approver.post(it.tab_url(INVOICE, synced.erp, "unlink"), headers=on_tab(world, filter_key="synced"))
    assert unlinked.status_code == 200 and world.erp(synced.erp).state == State.DRAFT
    assert oob_counts(text(unlinked)) == {"ready": 0, "synced": 0, "failed": 1} == tab_counts(clients, world)


def test_a_decision_that_lost_the_race_sends_the_counts_as_they_now_are(clients, world):
    inv = world.item(INVOICE, State.READY)
    approver = clients["approver"]
    approver.post(it.tab_url(INVOICE, inv.erp, "reject"), headers=on_tab(world), data={"reason": "First"})
    late = approver.post(it.tab_url(INVOICE, inv.erp, "reject"), headers=on_tab(world), data={"reason": "Second"})
    assert late.status_code == 409
    assert oob_counts(text(late)) == {"ready": 0, "synced": 0, "failed": 0}


# ---- the bulk result: running, then the tally ----------------------------------------------------

def test_a_page_address_that_cannot_be_read_sends_no_counts(clients, world):
    """An HX-Current-URL urlsplit cannot read ("http://[": an IPv6 host never closed) is no tab: the
    answer comes without counts, not as a 500 (found by the fuzz on the bulk result)."""
    item = world.item(INVOICE, State.READY)
    unreadable = {**HX, "HX-Current-URL": "http://["}
    for url in (f"/erp/{INVOICE}/bulk-result?ids={item.erp}", it.tab_url(INVOICE, item.erp, "row")):
        response = clients["approver"].get(url, headers=unreadable)
        assert response.status_code in (200, 286) and oob_counts(text(response)) is None, (url, response.status_code)


def test_bulk_result_polls_until_settled_then_says_the_tally(clients, world, drain):
    approver = clients["approver"]
    refusing = world.another_home(vendor_status="Inactive")   # same token: one search finds both
    good = [world.item(INVOICE, State.READY) for _ in range(3)]
    bad = [world.item(INVOICE, State.READY, home=refusing) for _ in range(2)]
    already = world.item(INVOICE, State.SYNCED)
    ids = [str(i.erp) for i in good + bad + [already]]
    response = approver.post(f"/erp/{INVOICE}/bulk-accept", headers=on_tab(world),
                             data={"ids": ids, "filter": "ready", "q": world.token})
    body = text(response)
    assert response.status_code == 200
    assert "5 exporting: 0 Synced so far" in body and 'hx-trigger="every 1s"' in body
    # the one that could not be accepted is named by its number
    assert f"{already.title}: It is Synced." in body and f"#{already.erp}" not in body
    poll = re.search(r'id="bulk-result"[^>]*hx-get="([^"]+)"|hx-get="([^"]+)"[^>]*id="bulk-result"', body)
    url = (poll.group(1) or poll.group(2)).replace("&amp;", "&")

    running = approver.get(url, headers=on_tab(world))
    assert running.status_code == 200 and "5 exporting: 0 Synced so far" in text(running)
    drain()
    done = approver.get(url, headers=on_tab(world))
    body = text(done)
    assert done.status_code == 286, "htmx stops polling only on 286"
    assert "3 Synced, 2 Failed to Export</strong> (see below)" in body
    assert "hx-trigger" not in body.split("<template>")[0]
    assert oob_counts(body) == {"ready": 0, "synced": 4, "failed": 2} == tab_counts(clients, world)


def test_bulk_result_counts_a_stalled_export_as_settled(app, clients, world):
    stalled = world.item(INVOICE, State.EXPORTING)   # queued nowhere: its job will never run
    with dbs(app) as s:
        s.get(ErpItem, stalled.erp).queued_at = utcnow() - timedelta(hours=1)
        s.commit()
    body = text(clients["approver"].get(f"/erp/{INVOICE}/bulk-result?ids={stalled.erp}", headers=on_tab(world)))
    assert "1 stalled</strong> (see below)" in body


# ---- bulk export where the defaults suffice, a bulk form asking each row's ID elsewhere -----------

@pytest.mark.parametrize("key", type_keys())
def test_bulk_form_asks_each_rows_id_only_where_no_default_fills_it(clients, world, drain, key):
    b = it.builder(key)
    approver = clients["approver"]
    one, two = world.item(key, State.READY), world.item(key, State.READY)
    tab = text(approver.get(f"/erp/{key}?q={world.token}", headers=HX))
    bulk = re.search(r'<form id="bulk" method="(\w+)"', tab)
    assert bulk and bulk.group(1) == ("get" if b.bulk_missing else "post"), bulk
    if not b.bulk_missing:
        assert "Export selected to ERP" in tab
        return
    assert "Give IDs and export selected" in tab
    asked = approver.get(f"/erp/{key}/bulk-accept?ids={one.erp}&ids={two.erp}&q={world.token}", headers=HX)
    body = text(asked)
    assert asked.status_code == 200 and 'id="bulk-ask"' in body
    fields = {name for name in input_names(body) if name.startswith(f"f-{one.erp}-")}
    assert len(fields) == 1, fields          # the Sage ID of its own, asked of each row
    assert {n.replace(str(one.erp), str(two.erp), 1) for n in fields} <= input_names(body)
    assert f'aria-label="{b.bulk_missing} of {one.title}"' in body
    # one row given its ID, the other left blank: the first exports, the second is asked again, named
    form = accept_form(world, one)
    field = next(iter(fields)).removeprefix(f"f-{one.erp}-")
    sent = approver.post(f"/erp/{key}/bulk-accept", headers=HX, data={
        "ids": [str(one.erp), str(two.erp)], "filter": "ready", "q": world.token,
        f"f-{one.erp}-{field}": form[field], f"f-{two.erp}-{field}": ""})
    body = text(sent)
    assert "1 exporting: 0 Synced so far" in body
    assert f"{two.title}: {b.bulk_missing} is required." in body and f"#{two.erp}" not in body
    assert 'id="bulk-ask"' in body and f'name="f-{two.erp}-{field}"' in body
    assert f'name="f-{one.erp}-{field}"' not in body
    drain()
    after = world.erp(one.erp)
    assert (after.state, after.erp_ref) == (State.SYNCED, form[field]), after.sage_message
    assert world.erp(two.erp).state == State.READY


def test_bulk_form_with_nothing_ticked_says_so(clients, world):
    response = clients["approver"].get("/erp/vendor/bulk-accept", headers=HX)
    assert response.status_code == 422 and "Tick at least one item" in text(response)


def test_bulk_without_htmx_names_what_it_refused(clients, world, drain):
    ok, rejected = world.item(INVOICE, State.READY), world.item(INVOICE, State.REJECTED)
    response = clients["approver"].post(f"/erp/{INVOICE}/bulk-accept", data={"ids": [str(ok.erp), str(rejected.erp)]})
    page = text(clients["approver"].get(response.location))
    assert "1 queued for export. 1 not accepted: " + f"{rejected.title}: It is Rejected." in page
    assert f"#{rejected.erp}" not in page
    drain()


# ---- the grid: sortable columns, a totals row, its state in the URL (issue 12, part 4) ------------

def test_tab_sorts_by_a_column_both_ways_and_keeps_the_sort_in_its_links(clients, world):
    numbers = ["INV-B-" + world.token, "INV-C-" + world.token, "INV-A-" + world.token]
    made = {n: world.item(INVOICE, State.READY, number=n) for n in numbers}   # sent in this order
    approver = clients["approver"]

    def order(url: str) -> list[str]:
        body = text(approver.get(url, headers=HX))
        by_erp = {i.erp: n for n, i in made.items()}
        return [by_erp[erp] for erp in map(int, re.findall(r'<tbody id="item-(\d+)"', body))], body

    base = f"/erp/{INVOICE}?filter=ready&q={world.token}"
    newest_first, _ = order(base)
    assert newest_first == numbers[::-1]
    up, body = order(base + "&sort=number&dir=asc")
    assert up == sorted(numbers)
    # the heading says how it is sorted and links to the other way; filters keep the sort
    assert re.search(r'aria-sort="ascending"><a class="sort" data-sort="number"\s+href="[^"]*dir=desc', body)
    counts_nav = body.split('id="tab-counts"')[1].split("</nav>")[0]
    assert re.search(r'filter=failed[^"]*sort=number&(amp;)?dir=asc', counts_nav), counts_nav
    down, _ = order(base + "&sort=number&dir=desc")
    assert down == sorted(numbers, reverse=True)
    # an unknown sort is the default order, never an error
    assert order(base + "&sort=nope")[0] == newest_first
    assert order(base + "&sort=sent_at&dir=asc")[0] == numbers


def test_totals_row_sums_everything_filtered_not_just_the_page(app, clients, world):
    approver = clients["approver"]
    items = [world.item(INVOICE, State.READY) for _ in range(3)]
    app.config["PAGE_SIZE"], size = 2, app.config["PAGE_SIZE"]
    try:
        body = text(approver.get(f"/erp/{INVOICE}?filter=ready&q={world.token}", headers=HX))
    finally:
        app.config["PAGE_SIZE"] = size
    assert len(re.findall(r'<tbody id="item-', body)) == 2            # a page of two
    foot = body.split('<tfoot id="tab-totals">')[1].split("</tfoot>")[0]
    # each invoice asks $1,450.00 now (work and stored $1,600.00, retainage $150.00)
    assert "Total of 3" in foot
    assert re.search(r'data-total="payment_due">\$4,350\.00<', foot), foot
    assert re.search(r'data-total="retainage">\$450\.00<', foot), foot
    approver.post(it.tab_url(INVOICE, items[0].erp, "reject"), headers=HX, data={"reason": "No"})
    body = text(approver.get(f"/erp/{INVOICE}?filter=ready&q={world.token}", headers=HX))
    assert re.search(r'data-total="payment_due">\$2,900\.00<', body)
    # a tab whose type sums nothing has no totals row
    assert "tab-totals" not in text(approver.get(f"/erp/vendor?q={world.token}", headers=HX))


def test_a_bulk_form_value_too_long_is_refused_naming_the_row_and_field(clients, world):
    vendor = world.item("vendor", State.READY)
    before = world.erp(vendor.erp)
    response = clients["approver"].post("/erp/vendor/bulk-accept", headers=HX, data={
        "ids": [str(vendor.erp)], f"f-{vendor.erp}-erp_vendor_id": "V" * 10_000})
    body = text(response)
    assert response.status_code == 200 and "1 not accepted" in body
    assert re.search(rf"{re.escape(vendor.title)}: ERP Vendor ID [^<]*10 characters", body), body[:2000]
    assert f'name="f-{vendor.erp}-erp_vendor_id"' in body and 'aria-invalid="true"' in body
    assert world.erp(vendor.erp) == before


def test_bulk_form_of_rows_that_moved_on_says_so_and_asks_nothing(clients, world):
    synced = world.item("vendor", State.SYNCED)
    body = text(clients["approver"].get(f"/erp/vendor/bulk-accept?ids={synced.erp}", headers=HX))
    assert "None of the ticked items is Ready to Export or Failed to Export any more." in body
    assert 'id="bulk-ask"' not in body
