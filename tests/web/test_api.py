"""The JSON API: token auth, the same gate, 4xx answers naming the failing field, every error JSON."""
from types import SimpleNamespace

import pytest

from portal.domain import items
from portal.domain.api_tokens import create_token
from portal.domain.lifecycle import State
from portal.domain.models import InvoiceStatus, ToolLevel
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
    # a list or an object is no value of a form field (Schemathesis: the document says so, the API took it)
    r = client.post(url, headers=auth, json={"code": ["PH9"], "name": {"text": "Phase 9"}, "notes": None})
    assert r.status_code == 422 and set(r.get_json()["fields"]) == {"code", "name"}, r.get_json()
    assert client.get(url, headers=auth).get_json() == []
    r = client.post(url, headers=auth, json={"code": "PH9", "name": "Phase 9"})
    assert r.status_code == 201 and r.get_json()["values"]["code"] == "PH9"
    assert client.post(url, headers=auth, data="not json").status_code == 422


def test_openapi_is_served(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and "/company/items/{type_key}" in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "expired or revoked" in doc["components"]["securitySchemes"]["bearer"]["description"]
    assert "expired" in doc["paths"]["/types"]["get"]["responses"]["401"]["description"]


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


def test_a_body_nested_too_deeply_is_a_json_422(api, app, monkeypatch):
    """JSON nested deeper than Python's parser follows (a RecursionError) is a body that is not a JSON
    object, not a 500 (found by the fuzz); a control character deep inside is still named by its path."""
    client, auth, _, ids = api
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    url = f"/api/v1/projects/{ids['project']}/items/subcontractor_invoice/{ids['draft']}"
    rows = {
        "beyond the parser": ("[" * 5000 + "]" * 5000, "body", "Send a JSON object."),
        "a NUL deep down": ('{"a": ' + "[" * 50 + '"x\\u0000"' + "]" * 50 + "}", "a" + ".0" * 50,
                            "Remove the control character"),
    }

    def check(body, field, message):
        response = client.put(url, headers=auth, data=body, content_type="application/json")
        assert response.status_code == 422 and response.mimetype == "application/json", response.status_code
        assert message in response.get_json()["fields"][field]

    check_rows(rows, check)


# ---- tokens: expiry, revocation, last use, the list, the secret shown once ----------------------

def _token_row(app, name: str):
    """The token named so (each test names its tokens with a suffix of its own)."""
    from sqlalchemy import select

    from portal.domain.models import ApiToken
    with f.app_session(app) as s:
        return s.scalars(select(ApiToken).where(ApiToken.name == name)).one()


def _person(s, **kw) -> SimpleNamespace:
    """A new user, as plain values that outlive the session."""
    u = f.make_user(s, **kw)
    return SimpleNamespace(id=u.id, username=u.username)


def test_expired_and_revoked_tokens_are_a_json_401_saying_so(app, client):
    from datetime import timedelta

    from portal.domain import api_tokens
    from portal.domain.models import utcnow
    with f.app_session(app) as s:
        user = f.make_user(s)
        gone_name = f"gone {f.suffix(8)}"
        old = create_token(s, user.id, "old one", days=1, now=utcnow() - timedelta(days=2))
        gone = create_token(s, user.id, gone_name)
        api_tokens.revoke_token(s, user, _token_row(app, gone_name).id)
    r = client.get("/api/v1/types", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401 and "expired on" in r.get_json()["error"]
    r = client.get("/api/v1/types", headers={"Authorization": f"Bearer {gone}"})
    assert r.status_code == 401 and "revoked on" in r.get_json()["error"]


def test_a_request_notes_the_tokens_last_use(app, client):
    name = f"used {f.suffix(8)}"
    with f.app_session(app) as s:
        secret = create_token(s, _person(s).id, name)
    assert _token_row(app, name).last_used_at is None
    assert client.get("/api/v1/types", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert _token_row(app, name).last_used_at is not None


def _session_of(app, client) -> str:
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    if cookie is None:
        return ""
    return str(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def test_an_admin_creates_a_token_shown_once_never_in_the_session(app):
    from tests.conftest import login
    with f.app_session(app) as s:
        admin, user = _person(s, site_admin=True), _person(s)
    client = login(app.test_client(), admin)
    name = f"shown-once-{f.suffix(8)}"
    r = client.post(f"/admin/users/{user.id}/tokens", data={"name": name, "days": "30"})
    page = r.get_data(as_text=True)
    secret = page.split("<code>", 1)[1].split("</code>", 1)[0]
    assert r.status_code == 200 and secret.startswith("erp_") and "will not be shown again" in page
    assert r.headers["Cache-Control"] == "no-store"
    assert secret not in _session_of(app, client) and "erp_" not in _session_of(app, client)
    again = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert name in again and secret not in again
    assert client.get("/api/v1/types", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    bad = client.post(f"/admin/users/{user.id}/tokens", data={"name": "x", "expires_on": "2000-01-01"})
    assert bad.status_code == 422 and "Choose a date after today." in bad.get_data(as_text=True)


def test_my_account_lists_my_tokens_and_i_revoke_them_but_not_anothers(app):
    from portal.domain.models import ApiTokenAudit
    from tests.conftest import login
    with f.app_session(app) as s:
        user, other, admin = _person(s), _person(s), _person(s, site_admin=True)
        mine, keep = f"mine-to-revoke-{f.suffix(8)}", f"theirs-to-keep-{f.suffix(8)}"
        secret = create_token(s, user.id, mine, days=30)
        theirs = create_token(s, other.id, keep)
    mine_id, theirs_id = _token_row(app, mine).id, _token_row(app, keep).id
    client = login(app.test_client(), user)
    page = client.get("/account").get_data(as_text=True)
    assert mine in page and "never" in page and "theirs-to-keep" not in page
    assert secret not in page and _token_row(app, mine).token_hash not in page
    assert client.post(f"/account/tokens/{theirs_id}/revoke").status_code == 403
    assert _token_row(app, keep).revoked_at is None
    r = client.post(f"/account/tokens/{mine_id}/revoke")
    assert r.status_code == 303 and r.location.endswith("/account")
    assert "Revoked" in client.get("/account").get_data(as_text=True)
    assert client.get("/api/v1/types", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    admin_client = login(app.test_client(), admin)
    r = admin_client.post(f"/account/tokens/{theirs_id}/revoke")
    assert r.status_code == 303 and r.location.endswith(f"/admin/users/{other.id}")
    assert admin_client.get("/api/v1/types", headers={"Authorization": f"Bearer {theirs}"}).status_code == 401
    with f.app_session(app) as s:
        audit = {(a.token_id, a.action, a.actor_id) for a in s.query(ApiTokenAudit).filter(
            ApiTokenAudit.token_id.in_([mine_id, theirs_id]))}
    assert audit == {(mine_id, "create", None), (theirs_id, "create", None),
                     (mine_id, "revoke", user.id), (theirs_id, "revoke", admin.id)}


def test_the_cli_prints_a_new_token_once(app):
    name = f"cli-made-{f.suffix(8)}"
    with f.app_session(app) as s:
        user = _person(s)
    result = app.test_cli_runner().invoke(args=["users", "token", user.username, "--name", name,
                                                "--days", "7"])
    assert result.exit_code == 0, result.output
    secrets_printed = [w for w in result.stdout.split() if w.startswith("erp_")]
    assert len(secrets_printed) == 1 and result.stdout.count(secrets_printed[0]) == 1
    assert "not shown again" in result.stderr
    row = _token_row(app, name)
    assert (row.expires_at - row.created_at).days == 7
    assert app.test_client().get("/api/v1/types", headers={
        "Authorization": f"Bearer {secrets_printed[0]}"}).status_code == 200
