"""The JSON API: token auth, the same gate, 4xx answers naming the failing field, every error JSON."""
import pytest

from portal.domain import items
from portal.domain.lifecycle import State
from portal.domain.models import InvoiceStatus, ToolLevel
from portal.domain.users import create_token
from portal.exporters.sage300.records import ConnectorUnavailable
from tests import factories as f
from tests.rows import check_rows


@pytest.fixture
def api(app, sim):
    with f.app_session(app) as s:
        user = f.make_user(s)
        setup = f.Setup(s, sim)
        f.member(s, user, setup.project, ToolLevel.ADMIN)
        inv = setup.invoice(s, user)
        draft = setup.invoice(s, user, status=InvoiceStatus.UNDER_REVIEW)
        token = create_token(s, user.id, "pm-system")
        other = create_token(s, f.make_user(s).id, "outsider")
        ids = dict(project=setup.project.id, invoice=inv.id, draft=draft.id)
    client = app.test_client()
    return client, {"Authorization": f"Bearer {token}"}, {"Authorization": f"Bearer {other}"}, ids


def test_no_or_bad_token_is_401(api):
    client, _, _, ids = api
    assert client.get("/api/v1/types").status_code == 401
    r = client.get("/api/v1/types", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "not valid" in r.get_json()["error"]


def test_send_through_the_api_uses_the_same_gate(api):
    client, auth, outsider, ids = api
    url = f"/api/v1/projects/{ids['project']}/items/subcontractor_invoice/{ids['invoice']}"
    assert client.post(url + "/send", headers=outsider).status_code == 403
    r = client.post(url + "/send", headers=auth)
    assert r.status_code == 200 and r.get_json()["erp"]["state"] == State.READY
    again = client.post(url + "/send", headers=auth)
    assert again.status_code == 409
    back = client.post(url + "/retrieve", headers=auth)
    assert back.get_json()["erp"]["state"] == State.DRAFT


def test_a_failing_prerequisite_is_a_422_naming_it(api):
    client, auth, _, ids = api
    url = f"/api/v1/projects/{ids['project']}/items/subcontractor_invoice/{ids['draft']}/send"
    r = client.post(url, headers=auth)
    body = r.get_json()
    assert r.status_code == 422 and "Under Review" in body["fields"]["prerequisites"]


def test_create_with_bad_fields_names_them_and_creates_nothing(api, app):
    client, auth, _, ids = api
    url = f"/api/v1/projects/{ids['project']}/items/sub_job"
    r = client.post(url, headers=auth, json={"code": "", "name": "x" * 200})
    body = r.get_json()
    assert r.status_code == 422 and set(body["fields"]) == {"code", "name"}
    assert client.get(url, headers=auth).get_json() == []
    r = client.post(url, headers=auth, json={"code": "PH9", "name": "Phase 9"})
    assert r.status_code == 201 and r.get_json()["values"]["code"] == "PH9"
    assert client.post(url, headers=auth, data="not json").status_code == 422


def test_openapi_is_served(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and "/company/items/{type_key}" in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def _boom(*_args, **_kwargs):
    raise RuntimeError("a bug")


def _sage_down(*_args, **_kwargs):
    raise ConnectorUnavailable("the drop folder is gone")


def test_every_error_under_api_is_json_with_its_status(api, app, monkeypatch):
    """Not only the gate's own refusals: a URL matching no route, a method the route does not take,
    an id beyond the database's integers, Sage unreachable and an unexpected exception (a 500) too."""
    client, auth, _, ids = api
    item = f"/api/v1/projects/{ids['project']}/items/subcontractor_invoice"
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # a bug answers 500, as in production
    rows = {
        "no such route": ("GET", "/api/v1/nothing-here", None, 404),
        "no such route, deeper": ("POST", f"{item}/{ids['invoice']}/send/again", None, 404),
        "method the route does not take": ("DELETE", f"{item}/{ids['invoice']}", None, 405),
        "GET of a POST-only route": ("GET", f"{item}/{ids['invoice']}/send", None, 405),
        "id beyond the database's integers": ("GET", f"{item}/99999999999999999999", None, 404),
        "project id beyond 2^31-1": ("GET", f"/api/v1/projects/{2**31}/items/subcontractor_invoice", None, 404),
        "Sage unreachable": ("GET", item, (items, "list_items", _sage_down), 503),
        "an unexpected exception": ("GET", item, (items, "list_items", _boom), 500),
    }

    def check(method, url, patch, status):
        with monkeypatch.context() as m:
            if patch:
                m.setattr(*patch)
            response = client.open(url, method=method, headers=auth)
        assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:200])
        assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
        assert set(response.get_json()) == {"error"} and response.get_json()["error"], response.get_json()

    check_rows(rows, check)
