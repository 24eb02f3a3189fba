"""POST /erp/<type>/<id>/unlink: role x route, each unlinkable type (htmx and plain), the message
naming what Sage still holds, the Unlink button on Synced rows, and the item page's history."""
from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from flask import render_template
from sqlalchemy import func, select

from portal.domain.types import REGISTRY
from portal.domain.lifecycle import State
from portal.domain.models import ErpAudit, ErpItem, ProjectMember, ToolLevel, User, Vendor
from portal.domain.types import REGISTRY as _REGISTRY
from flask_login import login_user
from portal.exporters.sage300.connectors import make_connector
from tests import factories as f
from tests.integration.test_unlink import Case, make_synced
from tests.web.roles import ANON, APPROVERS, LOGGED_IN, ROLES

dbs = f.app_session
HTMX = {"HX-Request": "true"}

# people and clients: one per role of tests/web/roles.py, per module (tests/web/conftest.py)


def synced(app, key: str, people=None, *, deleted: bool = True) -> Case:
    """A synced item of `key` (deleted in Sage unless told otherwise); the project roles get their level."""
    with dbs(app) as s:
        case = make_synced(s, make_connector(app.config).sim, key)
        if people is not None:
            for role, level in (("project_admin", ToolLevel.ADMIN), ("project_readonly", ToolLevel.READ_ONLY)):
                s.add(ProjectMember(user_id=people[role].id, project_id=case.setup.project.id, level=level))
            s.commit()
        case.search = (s.get(Vendor, case.item_id).name if key == "vendor" else case.setup.project.number)
    if deleted:
        assert case.delete()
    return case


def state_of(app, case: Case) -> tuple:
    with dbs(app) as s:
        erp = s.get(ErpItem, case.erp_id)
        audits = s.scalar(select(func.count()).select_from(ErpAudit).where(ErpAudit.erp_item_id == erp.id))
        return erp.state, erp.erp_ref, erp.version, audits


def url(case: Case) -> str:
    return f"/erp/{case.key}/{case.erp_id}/unlink"


def counts(client, case: Case) -> dict:
    body = client.get(f"/erp/{case.key}", query_string={"filter": "synced", "q": case.search}).get_data(as_text=True)
    return {k: int(n) for k, n in re.findall(r'data-filter="(\w+)">[^<]*<span class="count">(\d+)</span>', body)}


# ---- role x route ------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_role_route(app, clients, people, role):
    case = synced(app, "commitment", people)
    before = state_of(app, case)
    response = clients[role].post(url(case))
    assert "HX-Request" in response.headers.get("Vary", "")
    if role == ANON:
        assert response.status_code == 302 and urlsplit(response.location).path == "/login"
        assert state_of(app, case) == before
    elif role in APPROVERS:
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        assert urlsplit(response.location).path == "/erp/commitment"
        assert state_of(app, case)[:2] == (State.DRAFT, None)
    else:
        assert response.status_code == 403, (response.status_code, response.get_data(as_text=True)[:300])
        assert "<html" in response.get_data(as_text=True)
        assert state_of(app, case) == before, "a refused request changed state"


def test_anonymous_htmx_request_gets_hx_redirect_to_login(app):
    case = synced(app, "commitment")
    before = state_of(app, case)
    response = app.test_client().post(url(case), headers=HTMX)
    assert response.status_code == 200 and response.get_data() == b""
    assert urlsplit(response.headers.get("HX-Redirect")).path == "/login"
    assert state_of(app, case) == before


@pytest.mark.parametrize("role", sorted(LOGGED_IN - APPROVERS))
def test_refused_htmx_post_is_a_message_fragment_and_changes_nothing(app, clients, role):
    case = synced(app, "subcontractor_invoice")
    before = state_of(app, case)
    response = clients[role].post(url(case), headers=HTMX)
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'role="alert"' in body
    assert response.headers.get("HX-Retarget") == "#messages"
    assert state_of(app, case) == before


# ---- each type, htmx and plain ---------------------------------------------------------------

@pytest.mark.parametrize("key", tuple(k for k, t in _REGISTRY.items() if t.unlinkable))
def test_htmx_unlink_replaces_the_row_and_the_synced_count_drops(app, clients, key):
    case = synced(app, key)
    approver = clients["approver"]
    assert counts(approver, case)["synced"] == 1
    response = approver.post(url(case), headers=HTMX)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    body = response.get_data(as_text=True)
    assert f'id="item-{case.erp_id}"' in body and 'data-state="draft"' in body
    assert "Unlinked – back in draft" in body and "<html" not in body
    assert state_of(app, case)[:2] == (State.DRAFT, None)
    assert counts(approver, case)["synced"] == 0


@pytest.mark.parametrize("key", tuple(k for k, t in _REGISTRY.items() if t.unlinkable))
def test_plain_unlink_redirects_and_the_item_page_shows_the_old_sage_id(app, clients, key):
    case = synced(app, key)
    old_ref = state_of(app, case)[1]
    approver = clients["approver"]
    response = approver.post(url(case))
    assert response.status_code == 303 and urlsplit(response.location).path == f"/erp/{key}"
    assert "Unlinked from Sage 300 CRE" in approver.get(response.location).get_data(as_text=True)
    page = approver.get(f"/erp/{key}/{case.erp_id}/row").get_data(as_text=True)
    assert "ERP history" in page and f"Unlinked from Sage ID {old_ref}" in page


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
def test_a_record_sage_still_holds_is_named_and_nothing_changes(app, clients, headers):
    case = synced(app, "commitment", deleted=False)
    before = state_of(app, case)
    response = clients["approver"].post(url(case), headers=headers)
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert f"Sage 300 CRE still holds {case.held}: delete it in Sage first." in body
    if headers:
        assert response.headers.get("HX-Retarget") == "#messages" and "<html" not in body
    else:
        assert "<html" in body
    assert state_of(app, case) == before


def test_an_item_type_that_cannot_be_unlinked_is_refused_with_a_message(app, clients):
    with dbs(app) as s:
        setup = f.Setup(s, None)
        erp = ErpItem(item_type="job", item_id=setup.project.id, project_id=setup.project.id,
                      state=State.SYNCED, erp_ref=setup.project.sage_job_id, attempt=1)
        s.add(erp)
        s.commit()
        erp_id = erp.id
    response = clients["approver"].post(f"/erp/job/{erp_id}/unlink", headers=HTMX)
    assert response.status_code == 422
    assert "Jobs cannot be unlinked from Sage 300 CRE" in response.get_data(as_text=True)
    with dbs(app) as s:
        assert s.get(ErpItem, erp_id).state == State.SYNCED


# ---- the Unlink button ------------------------------------------------------------------------

def test_synced_rows_show_unlink_to_approvers_only(app, clients):
    case = synced(app, "owner_invoice", deleted=False)
    query = {"filter": "synced", "q": case.search}
    action = f'action="{url(case)}"'
    page = clients["approver"].get(f"/erp/{case.key}", query_string=query).get_data(as_text=True)
    assert action in page and 'hx-confirm="Unlink owner invoice' in page
    for role in ("readonly", "standard", "erp_admin_no_push"):
        page = clients[role].get(f"/erp/{case.key}", query_string=query).get_data(as_text=True)
        assert case.held.split()[2] in page and action not in page  # the row is there, the button is not


def test_the_button_is_offered_for_exactly_the_unlinkable_types(app):
    assert len(REGISTRY) == 11  # every type is registered once the app exists
    approver = User(id=1, name="A", username="a", email="a@example.com", password_hash="!", session_token="t",
                    erp_level=ToolLevel.STANDARD, can_push_to_accounting=True, is_site_admin=False, active=True)
    for key, item_type in REGISTRY.items():
        html = {}
        for state in (State.SYNCED, State.DRAFT):
            erp = SimpleNamespace(id=7, state=state, item_type=key, item_id=3, erp_ref="X1", sent_by=None,
                                  sent_at=None, synced_at=None, sage_message=None)
            with app.test_request_context():
                login_user(approver)
                html[state] = render_template("erp/_row.html", row=SimpleNamespace(erp=erp, values={}, stalled=False),
                                              item_type=item_type, notice=None, form=None, errors={}, values={})
        assert ("Unlink</button>" in html[State.SYNCED]) == item_type.unlinkable, key
        assert "Unlink</button>" not in html[State.DRAFT]
