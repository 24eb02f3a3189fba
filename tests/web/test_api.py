"""The JSON API: token auth, the same gate, 4xx answers naming the failing field."""
import pytest

from portal.domain.lifecycle import State
from portal.domain.models import InvoiceStatus, ToolLevel
from portal.domain.users import create_token
from tests import factories as f


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
