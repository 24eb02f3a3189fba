"""The approver's grid on the ERP tabs (issue 12, part 4): filters by project, vendor, billing period,
dates and amounts, combined with the search and the status filter, all in the URL; a search that
matches amounts; CSV and Excel downloads of exactly what is filtered; failed rows' details
collapsed; a skip link on every page; times in the company's time zone.

The app is shared by the session's tests, so every request here is narrowed to the test's own
projects (its token, or its project's filter).
"""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import update

from portal.domain import settings
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, SubcontractorInvoice, ToolLevel
from portal.domain.values import local_time
from tests.factories import app_session as dbs, settings_form
from tests.web.pages import HX, changed_settings, counts, is_page, tab_row_ids, text

ROLE_USERS = {"approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "admin": dict(site_admin=True, erp_level=ToolLevel.ADMIN, push=True), "project_admin": {}}
INVOICE = "subcontractor_invoice"
TAB = f"/erp/{INVOICE}"


def invoice(world, state=State.READY, *, home=None, due: str | None = None, billing: date | None = None,
            period: date | None = None, number: str | None = None):
    """A subcontractor invoice in its tab, its payment due, billing date, period or number set as given."""
    item = world.item(INVOICE, state, home=home)
    changes: dict = {}
    if due is not None:  # retainage 150.00: the amount is due + retainage
        changes.update(total_amount=Decimal(due) + Decimal("150.00"), total_retainage=Decimal("150.00"))
    if billing is not None:
        changes["billing_date"] = billing
    if period is not None:
        changes.update(period_start=period, period_end=period.replace(day=28))
    if number is not None:
        changes["number"] = number
    if changes:
        with dbs(world.app) as s:
            s.execute(update(SubcontractorInvoice).where(SubcontractorInvoice.id == item.id).values(**changes))
            s.commit()
    return item


def shown(clients, url: str, headers=None) -> list[int]:
    response = clients["approver"].get(url, headers=headers or {})
    assert response.status_code == 200, text(response)[:400]
    return tab_row_ids(text(response))


# ---- filters ------------------------------------------------------------------------------------

def test_each_filter_keeps_its_rows_and_they_combine_with_the_search_and_the_status(clients, world):
    other = world.another_home()
    small = invoice(world, due="100.00", billing=date(2026, 9, 15), period=date(2026, 9, 1))
    large = invoice(world, due="12500.00", billing=date(2026, 10, 31))
    elsewhere = invoice(world, home=other, due="12500.00")
    failed = invoice(world, State.FAILED, due="12500.00")
    mine, theirs = f"{TAB}?project={world.home.pid}", f"{TAB}?project={other.pid}"

    assert set(shown(clients, mine)) == {small.erp, large.erp}
    assert shown(clients, theirs) == [elsewhere.erp]
    assert set(shown(clients, f"{TAB}?q={world.token}&vendor={world.home.vendor}")) == {small.erp, large.erp}
    assert shown(clients, f"{TAB}?q={world.token}&vendor={other.vendor}") == [elsewhere.erp]
    assert shown(clients, f"{mine}&period=2026-09") == [small.erp]
    assert shown(clients, f"{mine}&from=2026-10-01&to=2026-10-31") == [large.erp]
    assert shown(clients, f"{mine}&from=10/01/2026") == [large.erp]   # as accountants type dates
    assert shown(clients, f"{mine}&to=2026-09-30") == [small.erp]
    assert shown(clients, f"{mine}&min=1000") == [large.erp]
    assert shown(clients, f"{mine}&max=$1,000.00") == [small.erp]
    assert shown(clients, f"{mine}&min=100&max=100.00") == [small.erp]
    # combined with the status filter and the search, and the counts follow the filters
    assert shown(clients, f"{mine}&filter=failed&min=1000") == [failed.erp]
    body = text(clients["approver"].get(f"{TAB}?q={world.token}&min=1000", headers=HX))
    assert counts(body) == {"ready": 2, "synced": 0, "failed": 1}
    assert shown(clients, f"{TAB}?q={world.token}&min=1000&project={other.pid}") == [elsewhere.erp]
    assert shown(clients, f"{TAB}?q=no-such-{world.token}&project={world.home.pid}") == []


def test_the_filters_stay_in_every_link_of_the_tab(clients, world):
    invoice(world, due="12500.00")
    url = f"{TAB}?project={world.home.pid}&vendor={world.home.vendor}&min=1000&max=20000&from=2026-10-01"
    body = text(clients["approver"].get(url))
    assert is_page(body)
    wanted = {"project": [str(world.home.pid)], "vendor": [str(world.home.vendor)], "min": ["1000.00"],
              "max": ["20000.00"], "from": ["2026-10-01"]}
    sort = re.search(r'<a class="sort" data-sort="number"\s+href="([^"]+)"', body).group(1)
    synced = re.search(r'<a href="([^"]+)"\s+data-filter="synced"', body).group(1)
    downloads = re.findall(r'<a href="([^"]+/download\.(?:csv|xlsx)[^"]*)"', body)
    assert len(downloads) == 2
    for link in (sort, synced, *downloads):
        args = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
        assert all(args.get(k) == v for k, v in wanted.items()), link
    # the filter form shows what is chosen, so the page reads as its URL says
    assert re.search(rf'<option value="{world.home.pid}" selected>', body)
    assert 'name="min" class="grid-filter" inputmode="decimal" size="10" maxlength="20" value="1000.00"' in body
    assert 'name="from" value="2026-10-01"' in body
    # the bulk form carries them too (its redirect comes back to the same rows)
    bulk = re.search(r'<form id="bulk".*?</form>', body, re.S).group(0)
    assert f'name="project" value="{world.home.pid}"' in bulk and 'name="min" value="1000.00"' in bulk


@pytest.mark.parametrize("query, param, message", [
    ("project=abc", "project", "Project: 'abc' is not a valid choice."),
    ("vendor=-3", "vendor", "Vendor: '-3' is not a valid choice."),
    ("vendor=99999999999", "vendor", "Vendor: '99999999999' is not a valid choice."),
    ("period=2026-13", "period", "Billing period: Enter a month as YYYY-MM."),
    ("period=October", "period", "Billing period: Enter a month as YYYY-MM."),
    ("from=31/31/2026", "from", "Billing Date from: Enter a date as MM/DD/YYYY."),
    ("to=" + "9" * 300, "to", "Billing Date to: Enter a date as MM/DD/YYYY."),
    ("from=2026-10-02&to=2026-10-01", "to", "Billing Date to: must be on or after 10/02/2026."),
    ("min=abc", "min", "Current Payment Due from: 'abc' is not an amount."),
    ("max=1e9", "max", "Current Payment Due to: '1e9' is not an amount."),
    ("max=99999999999", "max", "Current Payment Due to: Amount is too large."),
    ("min=100&max=10", "max", "Current Payment Due to: must be at least 100.00."),
    ("min=1.005", "min", "Current Payment Due from: Use at most 2 decimal places."),
])
def test_a_bad_filter_is_a_422_naming_it(clients, query, param, message):
    for url in (f"{TAB}?{query}", f"/erp/{INVOICE}/download.csv?{query}", f"/erp/{INVOICE}/download.xlsx?{query}"):
        page = clients["approver"].get(url)
        assert page.status_code == 422 and message in text(page), (url, text(page)[:300])
    # the search box's htmx request: the message in the page's messages area, nothing swapped in the table
    fragment = clients["approver"].get(f"{TAB}?{query}", headers=HX)
    assert fragment.status_code == 422 and fragment.headers["HX-Retarget"] == "#messages"
    assert message in text(fragment)


def test_a_filter_the_tab_does_not_have_is_refused_and_not_offered(clients):
    page = clients["approver"].get("/erp/vendor?vendor=1")
    assert page.status_code == 422 and "the Vendors tab has no such filter" in text(page)
    assert clients["approver"].get("/erp/job?min=10").status_code == 422
    vendors = text(clients["approver"].get("/erp/vendor"))
    assert 'name="vendor"' not in vendors and 'name="min"' not in vendors and 'name="q"' in vendors
    commitments = text(clients["approver"].get("/erp/commitment"))
    assert 'name="vendor"' in commitments and 'name="min"' in commitments and 'name="period"' not in commitments
    invoices = text(clients["approver"].get(TAB))
    assert all(f'name="{n}"' in invoices for n in ("project", "vendor", "period", "from", "to", "min", "max"))


# ---- a search that matches amounts ----------------------------------------------------------------

@pytest.mark.parametrize("typed", ["12,500", "12500.00", "$12,500.00", "12500"])
def test_a_search_for_an_amount_finds_the_row_of_that_amount(clients, world, typed):
    hit = invoice(world, due="12500.00")
    invoice(world, due="12500.01")
    mine = f"{TAB}?project={world.home.pid}"
    assert shown(clients, f"{mine}&q={typed.replace('$', '%24').replace(',', '%2C')}") == [hit.erp]
    # the invoice's retainage and its whole amount are amounts of the row too
    assert hit.erp in shown(clients, f"{mine}&q=150.00")
    assert shown(clients, f"{mine}&q=12600") == []


def test_an_amount_search_on_the_other_tabs(clients, world):
    commitment = world.item("commitment", State.READY)
    body = text(clients["approver"].get(f"/erp/commitment?project={world.home.pid}", headers=HX))
    amount = re.search(rf'<tbody id="item-{commitment.erp}".*?<td class="num">\$([0-9,.]+)</td>', body, re.S).group(1)
    assert shown(clients, f"/erp/commitment?project={world.home.pid}&q={amount.replace(',', '')}") == [commitment.erp]
    assert shown(clients, f"/erp/commitment?project={world.home.pid}&q=0.01") == []


# ---- downloads --------------------------------------------------------------------------------------

def test_the_csv_holds_exactly_what_is_filtered_on_every_page_and_no_formula(app, clients, world):
    app.config["PAGE_SIZE"], size = 2, app.config["PAGE_SIZE"]
    try:
        kept = [invoice(world, due="12500.00") for _ in range(3)]
        formula = invoice(world, due="2000.00", number="=HYPERLINK(\"http://x\")")
        invoice(world, due="10.00")
        invoice(world, State.FAILED, due="12500.00")
        url = f"/erp/{INVOICE}/download.csv?project={world.home.pid}&min=1000&filter=ready"
        response = clients["approver"].get(url)
    finally:
        app.config["PAGE_SIZE"] = size
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(response))))
    head, body = rows[0], rows[1:]
    assert head[:4] == ["Project", "Commitment", "Vendor", "Invoice #"] and "Status" in head
    numbers = {r[head.index("Invoice #")] for r in body}
    assert numbers == {k.title for k in kept} | {"'=HYPERLINK(\"http://x\")"}   # all pages, formula-safe
    due = head.index("Current Payment Due")
    assert sorted(r[due] for r in body) == ["12500.00"] * 3 + ["2000.00"]   # amounts as plain numbers
    assert {r[head.index("Status")] for r in body} == {"Ready to Export"}
    assert formula.erp


def test_the_excel_download_has_numbers_and_no_formula(clients, world):
    invoice(world, due="12500.00")
    invoice(world, due="99.00", number="@SUM(A1)")
    url = f"/erp/{INVOICE}/download.xlsx?project={world.home.pid}&sort=payment_due&dir=desc"
    response = clients["approver"].get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    head = rows[0]
    due = head.index("Current Payment Due")
    assert [r[due] for r in rows[1:]] == [12500, 99]    # the tab's order, amounts as numbers
    cells = {c.value: c for c in sheet[3]}
    assert cells["@SUM(A1)"].data_type == "s"            # text stays text, never a formula
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


# ---- layout and keyboard ------------------------------------------------------------------------------

def test_a_failed_rows_cause_and_solution_are_collapsed(clients, world):
    failed = invoice(world, State.FAILED)
    body = text(clients["approver"].get(f"{TAB}?filter=failed&q={world.token}", headers=HX))
    row = re.search(rf'<tbody id="item-{failed.erp}".*?</tbody>', body, re.S).group(0)
    assert "<details><summary>Cause and solution</summary>" in row and "<details open" not in row
    # the row can take the focus back, and Cancel in its forms is the one Escape presses
    assert '<tr class="item-row" tabindex="-1">' in row
    form = text(clients["approver"].get(f"/erp/{INVOICE}/{failed.erp}/reject", headers=HX))
    assert re.search(r'<a class="button" href="[^"]+" hx-get="[^"]+/row" data-cancel>Cancel</a>', form)


@pytest.mark.parametrize("url", [TAB, "/erp/settings", "/erp/audit-log", "/admin/mail", "/account"])
def test_every_page_has_a_skip_link_to_its_content(clients, url):
    body = text(clients["admin"].get(url))
    assert body.index('<a class="skip-link" href="#content">Skip to content</a>') < body.index("<nav")
    assert '<main id="content" tabindex="-1">' in body


def test_the_tab_and_the_item_page_have_a_live_region_for_row_status(clients, world):
    item = invoice(world)
    body = text(clients["approver"].get(f"{TAB}?q={world.token}"))
    assert '<div id="row-status" class="sr-only" role="status" aria-live="polite"></div>' in body
    assert f'data-announce="Subcontractor Invoice {item.title}: Ready to Export"' in body
    page = text(clients["approver"].get(f"/erp/{INVOICE}/{item.erp}"))   # the item's page says it too
    assert 'id="row-status" class="sr-only" role="status" aria-live="polite"' in page


# ---- the company's time zone ---------------------------------------------------------------------------

def test_times_are_shown_in_the_company_time_zone_with_its_name(clients, world, people, app):
    item = invoice(world)
    with dbs(app) as s:
        sent_at = s.get(ErpItem, item.erp).sent_at
    with changed_settings(app, people["admin"].id, company_time_zone="America/New_York"):
        shown_at = local_time(sent_at, ZoneInfo("America/New_York"))
        assert re.fullmatch(r"\d\d/\d\d/\d{4} \d{1,2}:\d\d [AP]M E[SD]T", shown_at)
        for url in (f"{TAB}?q={world.token}", f"/erp/{INVOICE}/{item.erp}", f"/erp/audit-log?q={world.token}"):
            assert shown_at in text(clients["admin"].get(url)), url
        # a decision someone made first is told on the same clock
        assert clients["approver"].post(f"/erp/{INVOICE}/{item.erp}/reject", headers=HX,
                                        data={"reason": "Wrong period"}).status_code == 200
        late = text(clients["admin"].get(f"/erp/{INVOICE}/{item.erp}/reject", headers=HX))
        zone = local_time(datetime.now(UTC), ZoneInfo("America/New_York"))[-3:]
        assert re.search(rf"was rejected by {people['approver'].name} at \d{{1,2}}:\d\d [AP]M {zone}\.", late)
        # and so is the rejection's mail on the Mail page
        mail = text(clients["admin"].get(f"/admin/mail?q={item.title}"))
        assert item.title in mail and re.search(rf"\d\d/\d\d/\d{{4}} \d{{1,2}}:\d\d [AP]M {zone}<", mail)
        settings_page = text(clients["admin"].get("/erp/settings"))
        assert 'value="America/New_York"' in settings_page and "company time zone" in settings_page
    # without the setting: the server's COMPANY_TIME_ZONE (UTC in the tests)
    assert local_time(sent_at, ZoneInfo("UTC")) in text(clients["approver"].get(f"/erp/{INVOICE}/{item.erp}"))


def test_an_unknown_time_zone_is_refused_naming_the_field(clients, people, app):
    with dbs(app) as s:
        form = settings_form(settings.load(s), company_time_zone="Mars/Olympus_Mons")
    response = clients["admin"].post("/erp/settings", data=form)
    assert response.status_code == 422
    assert "Choose a time zone from the list, such as America/New_York." in text(response)
    with dbs(app) as s:
        assert settings.load(s).company_time_zone == ""


def test_the_audit_logs_dates_are_days_on_the_company_clock(clients, world, people, app):
    """A date range of the audit log is the company's days: with a zone whose date is not UTC's
    right now, the entry is found on the company's date and not on UTC's."""
    item = invoice(world)
    with dbs(app) as s:
        sent_at = s.get(ErpItem, item.erp).sent_at
    name = "Pacific/Kiritimati" if sent_at.hour >= 10 else "Etc/GMT+12"   # UTC+14 / UTC-12: another date
    local_day = sent_at.replace(tzinfo=UTC).astimezone(ZoneInfo(name)).date()
    assert local_day != sent_at.date()
    with changed_settings(app, people["admin"].id, company_time_zone=name):
        for day, found in ((local_day, True), (sent_at.date(), False)):
            body = text(clients["admin"].get(f"/erp/audit-log?q={item.title}&from={day}&to={day}"))
            assert (local_time(sent_at, ZoneInfo(name)) in body) is found, (day, name)
        assert name in text(clients["admin"].get("/erp/audit-log"))
