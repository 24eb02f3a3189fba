"""Needs attention: the invoice administrator's desk (their landing page), its count in the
navigation, a project's panel, Sage's words on the project side, and the rejection mail that
names the item and answers to the approver.

Each test makes its own projects (a World), so it filters the desk by its projects: the users
are the module's and other tests' items stay on their desks.
"""
from __future__ import annotations

import email.policy
import re
from datetime import timedelta

import pytest

from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, ToolLevel, utcnow
from portal.exporters.sage300.troubleshooting import explain
from tests import factories as f, items as it
from tests.factories import app_session as dbs
from tests.types import get_type, type_keys
from tests.web.pages import HX, World, is_fragment, is_page, list_row, path_of, text

ROLE_USERS = {"project_admin": {}, "project_readonly": {}, "site_admin": dict(site_admin=True),
              "approver": dict(erp_level=ToolLevel.STANDARD, push=True), "outsider": {}}
ACTIONABLE = "Job has been closed."           # the project team can act on it (reopen the job)
SUPPORT_ONLY = "Entity with this ID not found."  # ERP Support's


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def desk(client, headers=None, **params) -> tuple[int, str]:
    response = client.get("/attention/", query_string=params, headers=headers or {})
    return response.status_code, text(response)


def rows(body: str) -> dict[int, str]:
    """ERP item id -> its desk row."""
    return {int(i): row for i, row in re.findall(r'<tr id="attention-(\d+)".*?>(.*?)</tr>', body, re.S)}


def count(body: str, kind: str) -> int:
    return int(re.search(rf'data-count="{kind}">(\d+)<', body).group(1))


def age(app, erp_id: int, **columns) -> None:
    """Move the item's times back (sent_at, queued_at, retry_at: how long ago)."""
    with dbs(app) as s:
        erp = s.get(ErpItem, erp_id)
        for column, ago in columns.items():
            setattr(erp, column, utcnow() - ago)
        s.commit()


def test_rejections_on_two_projects_are_listed_with_reason_who_and_when(clients, people, world):
    first = world.item("subcontractor_invoice", State.REJECTED, reason="Wrong retainage")
    second_home = world.another_home()
    second = world.item("commitment", State.REJECTED, home=second_home, reason="Vendor on hold")
    status, body = desk(clients["project_admin"])
    listed = rows(body)
    assert status == 200 and is_page(body) and "<h1>Needs attention</h1>" in body
    assert "Wrong retainage" in listed[first.erp] and "Vendor on hold" in listed[second.erp]
    assert f"Rejected by {people['approver'].name} on " in listed[first.erp]
    assert world.home.name in listed[first.erp] and second_home.name in listed[second.erp]
    # each links to where it is fixed: the item's edit form
    assert f'href="{it.item_url(first, "edit")}"' in listed[first.erp]
    assert f'href="{it.item_url(second, "edit")}"' in listed[second.erp]


@pytest.mark.parametrize("role, sees", [("project_admin", True), ("site_admin", True),
                                        ("project_readonly", False), ("outsider", False), ("approver", False)])
def test_only_admins_of_the_project_see_its_items(clients, world, role, sees):
    item = world.item("commitment", State.REJECTED)
    status, body = desk(clients[role])
    assert status == 200 and (item.erp in rows(body)) == sees
    nav = re.search(r'Needs attention <span class="count" id="attention-count">(\d+)</span>', body)
    # the count in the navigation: only for an Admin on a project, and it is the desk's total
    assert (nav is not None) == (role in ("project_admin", "site_admin"))
    if nav:
        assert int(nav.group(1)) == count(body, "total") >= 1


def test_every_type_s_rejection_reaches_the_desk_with_its_fix(clients, world):
    made = {key: world.item(key, State.REJECTED) for key in type_keys()}
    for key, item in made.items():
        admin = clients[it.builder(key).admin]
        _, body = desk(admin, type=key, **({"project": item.pid} if item.pid and admin is clients["project_admin"]
                                           else {}))
        row = rows(body).get(item.erp)
        assert row is not None, key
        fix = it.item_url(item, "edit") if it.builder(key).editable else it.back_url(item)
        assert f'href="{fix}"' in row and it.REASON in row and get_type(key).label in row, key


def test_filters_by_project_and_type_and_counts_what_they_leave(clients, world):
    invoice = world.item("subcontractor_invoice", State.REJECTED)
    commitment = world.item("commitment", State.FAILED)
    other = world.item("commitment", State.REJECTED, home=world.another_home())
    client = clients["project_admin"]
    _, mine = desk(client, project=world.home.pid)
    assert set(rows(mine)) >= {invoice.erp, commitment.erp} and other.erp not in rows(mine)
    assert (count(mine, "rejected"), count(mine, "failed"), count(mine, "total")) == (1, 1, 2)
    _, commitments = desk(client, project=world.home.pid, type="commitment")
    assert list(rows(commitments)) == [commitment.erp] and count(commitments, "total") == 1
    assert f'<option value="{world.home.pid}" selected>' in commitments  # the filter shows what it filters
    # htmx (the filter form): the list block only
    status, block = desk(client, headers=HX, project=world.home.pid, type="subcontractor_invoice")
    assert status == 200 and is_fragment(block) and list(rows(block)) == [invoice.erp]


@pytest.mark.parametrize("params, field, message", [
    ({"type": "nonsense"}, "type", "Type: there is no item type 'nonsense'; choose one from the list."),
    ({"project": "999999999"}, "project", "Project: you are not an Admin on that project; choose one of yours."),
])
def test_a_filter_that_is_not_theirs_is_refused_by_name(clients, params, field, message):
    status, body = desk(clients["project_admin"], **params)
    assert status == 422 and message in body and is_page(body)
    status, block = desk(clients["project_admin"], headers=HX, **params)
    assert status == 422 and message in block and is_fragment(block)


def test_a_project_the_user_only_reads_is_not_a_filter(clients, world):
    status, body = desk(clients["project_readonly"], project=world.home.pid)
    assert status == 422 and "Project: you are not an Admin on that project" in body


def test_a_failed_export_shows_sage_s_text_cause_solution_and_who_retries(clients, world):
    actionable = world.item("commitment", State.FAILED, message=ACTIONABLE)
    support = world.item("cco", State.FAILED, message=SUPPORT_ONLY)
    _, body = desk(clients["project_admin"], project=world.home.pid)
    listed = rows(body)
    for item, message in ((actionable, ACTIONABLE), (support, SUPPORT_ONLY)):
        why = explain(message)
        row = listed[item.erp]
        assert f"<strong>Sage:</strong> {message}" in row and why.cause in row and why.solution in row
        assert "It is not tried again by itself" in row
        assert ("The project team can fix this" in row) == why.project_team
        assert f'href="{it.back_url(item)}"' in row  # not editable while failed: its list
    assert explain(ACTIONABLE).project_team and not explain(SUPPORT_ONLY).project_team


def test_the_project_side_shows_sage_s_words_on_a_failed_export(clients, world):
    item = world.item("commitment", State.FAILED, message=ACTIONABLE)
    invoice = world.item("subcontractor_invoice", State.FAILED, message=SUPPORT_ONLY)
    why = explain(ACTIONABLE)
    row = list_row(clients, "commitment", item.pid, item.id)
    assert f"<strong>Sage:</strong> {ACTIONABLE}" in row and why.cause in row and why.solution in row
    assert "The project team can fix this" in row and "accounting will retry or reject it" not in row
    invoice_row = list_row(clients, "subcontractor_invoice", invoice.pid, invoice.id)
    assert f"<strong>Sage:</strong> {SUPPORT_ONLY}" in invoice_row and explain(SUPPORT_ONLY).cause in invoice_row
    assert "The project team can fix this" not in invoice_row


def test_stuck_items_by_the_documented_rule(app, clients, world):
    waiting = world.item("commitment", State.READY)
    fresh = world.item("commitment", State.READY)
    exporting = world.item("cco", State.EXPORTING)
    just_queued = world.item("cco", State.EXPORTING)
    overdue = world.item("commitment", State.EXPORTING)
    not_due = world.item("commitment", State.EXPORTING)
    age(app, waiting.erp, sent_at=timedelta(hours=80))          # past ATTENTION_READY_HOURS (72)
    age(app, exporting.erp, queued_at=timedelta(minutes=30))     # past stall + reap seconds
    age(app, overdue.erp, queued_at=timedelta(minutes=30), retry_at=timedelta(minutes=5))  # due, not run
    age(app, not_due.erp, queued_at=timedelta(minutes=30), retry_at=-timedelta(minutes=5))  # waiting its turn
    _, body = desk(clients["project_admin"], project=world.home.pid)
    listed = rows(body)
    assert not {fresh.erp, just_queued.erp, not_due.erp} & set(listed) and count(body, "stuck") == 3
    assert "Waiting for accounting since" in listed[waiting.erp]
    assert "Exporting since" in listed[exporting.erp]
    assert "Its automatic retry was due at" in listed[overdue.erp]


def test_the_project_panel_lists_the_project_s_items_for_its_admins(clients, world):
    mine = world.item("commitment", State.REJECTED, reason="Panel reason")
    elsewhere = world.item("commitment", State.REJECTED, home=world.another_home())
    page = text(clients["project_admin"].get(it.list_url("commitment", world.home.pid)))
    panel_url = f"/projects/{world.home.pid}/attention"
    assert f'hx-get="{panel_url}" hx-trigger="load"' in page  # the project page loads its panel
    response = clients["project_admin"].get(panel_url, headers=HX)
    body = text(response)
    assert response.status_code == 200 and is_fragment(body) and "Needs attention on this project" in body
    assert set(rows(body)) == {mine.erp} and "Panel reason" in body and elsewhere.erp not in rows(body)
    # a Read Only member sees the project, not the panel
    readonly = clients["project_readonly"].get(panel_url, headers=HX)
    assert readonly.status_code == 200 and "attention" not in text(readonly)
    assert clients["outsider"].get(panel_url, headers=HX).status_code == 403


def test_the_admin_lands_on_the_desk_others_where_they_were(clients):
    assert path_of(clients["project_admin"].get("/").location) == "/attention/"
    assert path_of(clients["approver"].get("/").location) == "/erp/"
    assert path_of(clients["outsider"].get("/").location) == "/projects/"


def statements(app):
    from portal.extensions import db
    with app.app_context():
        engine = db.engine
    return f.statements(engine)


def test_a_desk_page_costs_the_same_queries_for_two_rows_and_for_six(app, clients, world):
    """No N+1: the page's items are read per type, never per row."""
    for key in ("commitment", "cco"):
        world.item(key, State.REJECTED)
    client, params = clients["project_admin"], {"project": world.home.pid}
    desk(client, **params)
    with statements(app) as two:
        assert len(rows(desk(client, **params)[1])) == 2
    for key in ("commitment", "cco"):
        world.item(key, State.FAILED)
        world.item(key, State.REJECTED)
    with statements(app) as six:
        assert len(rows(desk(client, **params)[1])) == 6
    assert len(six) == len(two), f"{len(two)} queries for two rows, {len(six)} for six"


def test_the_rejection_mail_names_the_item_and_answers_to_the_approver(app, clients, people, world, smtp, drain):
    item = world.item("subcontractor_invoice", State.READY)
    response = clients["approver"].post(it.tab_url(item.key, item.erp, "reject"), data={"reason": "Mail reason"},
                                        headers=HX)
    assert response.status_code == 200
    drain()
    address = people["project_admin"].email
    got = [m for m in smtp.to(address) if b"Mail reason" in m.content]
    assert len(got) == 1
    message = email.message_from_bytes(got[0].content, policy=email.policy.default)
    assert f.subject(message) == (f"Test Builders: ERP Subcontractor Invoice Rejection Notification — "
                                  f"{item.number}, {world.home.name}")
    assert message["Reply-To"] == people["approver"].email
    assert f"http://portal.test{it.item_url(item, 'edit')}" in message.get_body(("plain",)).get_content()
    with dbs(app) as s:
        assert s.get(ErpItem, item.erp).state == State.REJECTED
