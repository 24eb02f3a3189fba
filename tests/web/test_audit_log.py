"""The audit log page: filters, search ("who rejected CS-3001?"), keyset pages, CSV, bad filters.

Who may open it is the role x route matrix's (tests/web/test_access.py). Every test filters or
searches by data of its own (the log is company-wide and shared by the session's tests)."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.domain.lifecycle import Action, State
from portal.domain.models import ErpAudit, SettingChange, utcnow
from portal.domain.types import REGISTRY
from tests.factories import app_session
from tests.web.pages import HX, World, is_fragment, is_page, text

URL = "/erp/audit-log"
EVIL = "=HYPERLINK(\"http://x.test\",\"click\")"


@pytest.fixture(scope="module")
def world(app, people):
    from portal.exporters.sage300.connectors import make_connector
    return World(app, make_connector(app.config).sim, people)


@pytest.fixture(scope="module")
def rejected(app, world):
    """A commitment rejected by the approver with a reason a spreadsheet would run as a formula."""
    return world.item("commitment", State.REJECTED, reason=EVIL)


def rows(body: str) -> list[str]:
    return re.findall(r'<tr data-kind=.*?</tr>', body, re.S)


def get(clients, query: dict | None = None, role: str = "approver", headers=None):
    response = clients[role].get(URL, query_string=query or {}, headers=headers)
    return response, text(response)


def test_who_rejected_an_item(clients, people, rejected):
    """Search the item's number, filter on Rejected: one row naming the approver and the reason."""
    response, body = get(clients, {"q": rejected.number, "action": Action.REJECT})
    assert response.status_code == 200 and is_page(body)
    found = rows(body)
    assert len(found) == 1, body[-3000:]
    assert people["approver"].name in found[0] and rejected.number in found[0] and EVIL in found[0]
    assert "Rejected" in found[0]


def test_search_finds_every_transition_of_the_item(clients, rejected):
    """The item's number finds its send and its rejection (and its mail); another's number does not."""
    _, body = get(clients, {"q": rejected.number})
    actions = re.findall(r'data-action="(\w+)"', body)
    assert Action.SEND in actions and Action.REJECT in actions and "mail" in actions, actions
    _, other = get(clients, {"q": rejected.number + "-nothing"})
    assert rows(other) == [] and "No entries match these filters." in other


def test_filters(clients, people, world, rejected):
    """User, type, project, outcome and dates each narrow the list to what they name."""
    number = rejected.number
    _, by_sender = get(clients, {"q": number, "user": people["approver"].id})
    assert re.findall(r'data-action="(\w+)"', by_sender) == [Action.REJECT]
    _, wrong_type = get(clients, {"q": number, "type": "vendor"})
    assert rows(wrong_type) == []
    _, right_type = get(clients, {"q": number, "type": "commitment", "action": Action.SEND})
    assert len(rows(right_type)) == 1
    _, in_project = get(clients, {"q": number, "project": world.home.pid, "action": Action.REJECT})
    assert len(rows(in_project)) == 1
    _, failed = get(clients, {"q": number, "outcome": "failed"})
    assert rows(failed) == []
    today = utcnow().date()
    _, dated = get(clients, {"q": number, "action": Action.REJECT, "from": today.isoformat(),
                             "to": today.isoformat()})
    assert len(rows(dated)) == 1
    _, later = get(clients, {"q": number, "from": (today + timedelta(days=1)).isoformat()})
    assert rows(later) == []


def test_failed_exports_and_settings_and_outcome(app, clients, people, world):
    """A failed export is Failed; a setting change is listed under Setting with who changed it."""
    item = world.item("commitment", State.FAILED, message="Job is closed for this audit test.")
    _, body = get(clients, {"q": item.number, "outcome": "failed"})
    found = rows(body)
    assert len(found) == 1 and "Failed to Export" in found[0] and "Job is closed for this audit test." in found[0]
    key = f"audit_test_{world.token}"
    with app_session(app) as s:
        s.add(SettingChange(key=key, old=False, new=True, actor_id=people["erp_admin_no_push"].id))
        s.commit()
    _, settings = get(clients, {"q": key, "type": "setting", "user": people["erp_admin_no_push"].id})
    found = rows(settings)
    assert len(found) == 1 and f"{key}: on" in found[0] and people["erp_admin_no_push"].name in found[0]


def test_pages_walk_every_entry_once(app, clients, world):
    """120 entries of one item, many sharing a time: the Older links walk them all, each once, newest first."""
    item = world.item("commitment", State.READY)
    at = datetime(2026, 1, 2, 3, 4, 5)
    with app_session(app) as s:
        for n in range(120):
            s.add(ErpAudit(erp_item_id=item.erp, actor_id=None, at=at - timedelta(seconds=n // 7),
                           action=Action.REQUEUE, from_state=State.EXPORTING, to_state=State.EXPORTING,
                           detail={"attempt": n}))
        s.commit()
    query = {"q": item.number, "action": Action.REQUEUE}
    seen: list[int] = []
    url = None
    pages = 0
    while True:
        response = clients["approver"].get(url or URL, query_string=None if url else query)
        body = text(response)
        assert response.status_code == 200
        seen += [int(n) for n in re.findall(r"attempt: (\d+)", body)]
        pages += 1
        older = re.search(r'<a href="([^"]+)" rel="next">', body)
        if not older:
            break
        url = older.group(1).replace("&amp;", "&")
        args = parse_qs(urlsplit(url).query)
        assert args["q"] == [item.number] and args["action"] == [Action.REQUEUE], url  # filters kept
    assert pages == 3 and sorted(seen) == list(range(120)) and len(seen) == 120
    times = [at - timedelta(seconds=n // 7) for n in seen]
    assert times == sorted(times, reverse=True)


def test_htmx_gets_the_results_only(clients, rejected):
    response, body = get(clients, {"q": rejected.number}, headers=HX)
    assert response.status_code == 200 and is_fragment(body) and 'id="results"' in body
    assert "HX-Request" in response.headers.get("Vary", "")


def test_csv_is_what_is_filtered_and_formula_safe(clients, people, rejected):
    """The download holds exactly the filtered entries (all pages), a formula shown as text."""
    _, page = get(clients, {"q": rejected.number, "action": Action.REJECT})
    link = re.search(r'<a href="([^"]+)"[^>]*download>', page).group(1).replace("&amp;", "&")
    response = clients["approver"].get(link)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0][:3] == ["When", "User", "Type"] and len(table) == 2, table
    row = dict(zip(table[0], table[1], strict=True))
    assert row["User"] == people["approver"].name and row["Action"] == "Rejected"
    assert row["Details"] == "Reason: " + EVIL, row
    assert rejected.number in row["Item"]


def test_csv_cells_starting_like_a_formula_are_escaped(app, clients, people, world):
    """A cell that starts with = (a setting named so) is written with a leading quote."""
    key = f"=SUM(A1)+{world.token}"
    with app_session(app) as s:
        s.add(SettingChange(key=key, old=None, new="-1", actor_id=people["erp_admin_no_push"].id))
        s.commit()
    response = clients["erp_admin_no_push"].get(URL + ".csv", query_string={"q": key,
                                                                                       "type": "setting"})
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(table) == 2 and table[1][-1] == f"'{key}: -1", table


@pytest.mark.parametrize("query, field", [
    ({"from": "yesterday"}, "from"), ({"to": "2026-13-01"}, "to"), ({"user": "me"}, "user"),
    ({"type": "nothing"}, "type"), ({"action": "explode"}, "action"), ({"outcome": "maybe"}, "outcome"),
    ({"after": "garbage"}, "after"), ({"q": "x" * 201}, "q"),
    ({"from": "2026-02-02", "to": "2026-02-01"}, "to"),
])
def test_bad_filters_name_the_field(clients, query, field):
    response, body = get(clients, query)
    assert response.status_code == 422 and is_page(body)
    assert f'data-field="{field}"' in body, body[-1500:]
    csv_response = clients["approver"].get(URL + ".csv", query_string=query)
    assert csv_response.status_code == 422


def test_the_tabs_link_to_the_log_for_those_who_may_read_it(clients):
    for role, shown in (("approver", True), ("erp_admin_no_push", True), ("readonly", False), ("standard", False)):
        body = text(clients[role].get("/erp/vendor"))
        assert (f'href="{URL}"' in body) is shown, role


def test_search_matches_reason_text(clients, people, world):
    """Words of a rejection reason find the rejection (and nothing else of the item)."""
    word = f"Retainage{world.token}x".lower()
    item = world.item("commitment", State.REJECTED, reason=f"Wrong {word} on line 2")
    _, body = get(clients, {"q": word.upper()})
    found = rows(body)
    assert len(found) == 1 and f"Wrong {word} on line 2" in found[0] and item.number in found[0], body[-2000:]
    assert 'data-action="reject"' in found[0]


def test_search_matches_sages_message_in_any_case(clients, world):
    """Words of Sage's message of a failed export find it, typed in another case, accents too
    (the words are kept lowercased beside the row: lifecycle.search_note)."""
    word = f"Déjà{world.token}É".lower()
    item = world.item("commitment", State.FAILED, message=f"Job has been closed ({word}).")
    _, body = get(clients, {"q": word.upper(), "action": Action.EXPORT_FAILED})
    found = rows(body)
    assert len(found) == 1 and item.number in found[0] and 'data-action="export_failed"' in found[0], body[-2000:]


@pytest.mark.parametrize("key", list(REGISTRY))
def test_every_type_is_named_in_the_log(clients, world, key):
    """An item of each type, just sent, is listed under its type with its name (as its tab loads it)."""
    item = world.item(key, State.READY)
    response, body = get(clients, {"type": key, "action": Action.SEND})
    assert response.status_code == 200, body[-1500:]
    assert 'data-action="send"' in body and REGISTRY[key].label in body
    name = item.number or item.title
    assert any(name in row for row in rows(body)), (name, [r.replace("\n", " ") for r in rows(body)[:1]])


def test_a_sage_record_archived_is_in_the_log(app, clients, people, world):
    """Archiving a vendor read from Sage (Ready to Import) is listed with who did it."""
    from tests.factories import sage_vendor
    with app_session(app) as s:
        record_id, vendor_id = sage_vendor(s, world.sim)
    response = clients["approver"].post(f"/erp/import/vendors/{record_id}/archive")
    assert response.status_code == 303
    _, body = get(clients, {"type": "sage_record", "q": vendor_id})
    found = rows(body)
    assert len(found) == 1 and 'data-action="sage_archived"' in found[0], body[-2000:]
    assert people["approver"].name in found[0] and vendor_id in found[0] and "Sage record archived" in found[0]
    _, by_action = get(clients, {"action": "sage_archived", "q": vendor_id, "user": people["approver"].id})
    assert len(rows(by_action)) == 1
