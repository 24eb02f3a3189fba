"""Sessions and sign-in: every copy of a session ends at sign-out and at a password change (by an
administrator, or the user's own on My account, which keeps the browser that made it signed in),
idle and old sessions end, unknown usernames cost a hash check, refused sign-ins are limited."""
from __future__ import annotations

import re
import secrets
import time
from types import SimpleNamespace

import pytest

from portal.domain import users
from portal.domain.models import ToolLevel, User
from tests import factories as f
from tests.conftest import login
from tests.web.pages import has_field_error, text

PAGE = "/projects/"


def _address() -> dict:
    """A client address of the test's own, so its refused sign-ins count against no other test."""
    return {"REMOTE_ADDR": f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"}


def _copy(app, client):
    """A second client holding a copy of `client`'s session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def _user(app, **kw):
    with f.app_session(app) as s:
        u = f.make_user(s, **kw)
        return u.id, u.username


def test_a_copied_cookie_is_refused_after_sign_out(app):
    user_id, username = _user(app)
    client = login(app.test_client(), SimpleNamespace(username=username))
    copy = _copy(app, client)
    assert copy.get(PAGE).status_code == 200
    assert client.post("/logout").status_code == 303
    response = copy.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_password_change_ends_every_session_and_a_weak_one_changes_nothing(app):
    admin_id, admin_name = _user(app, erp_level=ToolLevel.ADMIN, site_admin=True)
    user_id, username = _user(app)
    admin = login(app.test_client(), SimpleNamespace(username=admin_name))
    copy = _copy(app, login(app.test_client(), SimpleNamespace(username=username)))
    form = {"name": "Someone", "email": "someone@example.com", "erp_level": ToolLevel.NONE, "active": "y"}

    weak = admin.post(f"/admin/users/{user_id}", data={**form, "password": "password123"})
    assert weak.status_code == 422
    assert "one of the most common passwords" in weak.get_data(as_text=True)
    assert copy.get(PAGE).status_code == 200  # refused: nothing changed

    assert admin.post(f"/admin/users/{user_id}", data={**form, "password": "a-new-long-one-7"}).status_code == 303
    assert copy.get(PAGE).status_code == 302


def test_an_idle_session_and_an_old_one_are_signed_out(app):
    _, username = _user(app)
    for key, age in (("seen", 61 * 60), ("started", 13 * 3600)):
        client = login(app.test_client(), SimpleNamespace(username=username))
        cookie = client.get_cookie("session")
        assert cookie.expires is not None and cookie.expires.timestamp() < time.time() + 12 * 3600 + 60
        assert client.get(PAGE).status_code == 200
        with client.session_transaction() as sess:
            sess[key] -= age
        response = client.get(PAGE)
        assert response.status_code == 302 and "/login" in response.headers["Location"], key


def test_an_unknown_username_costs_a_password_check(app, monkeypatch):
    calls = []
    real = users.check_password_hash

    def counted(hashed, password):
        calls.append(hashed)
        return real(hashed, password)
    monkeypatch.setattr(users, "check_password_hash", counted)
    response = app.test_client().post("/login", data={"username": f"nobody-{secrets.token_hex(6)}",
                                                      "password": "whatever-it-is"}, environ_base=_address())
    assert response.status_code == 422
    assert len(calls) == 1


def test_the_eleventh_refused_sign_in_on_an_account_is_429_for_a_while(app):
    _, username = _user(app)
    _, bystander = _user(app)
    client, address = app.test_client(), _address()
    for _ in range(10):
        response = client.post("/login", data={"username": username, "password": "wrong-password-1"},
                               environ_base=address)
        assert response.status_code == 422
    for password, environ in (("wrong-password-1", address), (f.PASSWORD, address), (f.PASSWORD, _address())):
        response = client.post("/login", data={"username": username, "password": password}, environ_base=environ)
        assert response.status_code == 429
        body = response.get_data(as_text=True)
        assert re.search(r"Too many sign-in attempts for this account; try again in 1?\d minutes?\.", body), body
        assert int(response.headers["Retry-After"]) <= 15 * 60
    # another account from the same address is not held up
    ok = app.test_client().post("/login", data={"username": bystander, "password": f.PASSWORD}, environ_base=address)
    assert ok.status_code == 303


def test_fifty_refused_sign_ins_from_one_address_are_429(app):
    client, address = app.test_client(), _address()
    for _ in range(50):
        response = client.post("/login", data={"username": f"nobody-{secrets.token_hex(6)}", "password": "x" * 10},
                               environ_base=address)
        assert response.status_code == 422
    response = client.post("/login", data={"username": f"nobody-{secrets.token_hex(6)}", "password": "x" * 10},
                           environ_base=address)
    assert response.status_code == 429
    assert "Too many sign-in attempts from this address" in response.get_data(as_text=True)


def test_the_cli_refuses_a_weak_password(app):
    name = f"u{secrets.token_hex(6)}"
    result = app.test_cli_runner().invoke(args=["users", "create", name, "--name", "N", "--email", "n@example.com",
                                                "--password", "qwertyuiop"])
    assert result.exit_code != 0
    assert "one of the most common passwords" in result.output


# ---- my own password (My account) -----------------------------------------------------------------

NEW_PASSWORD = "a-fresh-long-one-42"


def _change(client, current=f.PASSWORD, new=NEW_PASSWORD, confirm=None, environ=None):
    form = {"current_password": current, "new_password": new,
            "confirm_password": new if confirm is None else confirm}
    return client.post("/account/password", data=form, environ_base=environ or _address())


def _secrets(app, user_id):
    with f.app_session(app) as s:
        user = s.get(User, user_id)
        return user.password_hash, user.session_token


def test_changing_my_password_keeps_this_session_and_ends_every_other(app):
    user_id, username = _user(app)
    client = login(app.test_client(), SimpleNamespace(username=username))
    copy = _copy(app, client)
    elsewhere = login(app.test_client(), SimpleNamespace(username=username))

    response = _change(client)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    page = client.get("/account")
    assert page.status_code == 200
    assert "Password changed; you were signed out everywhere else." in text(page)
    assert client.get(PAGE).status_code == 200
    for other in (copy, elsewhere):
        response = other.get(PAGE)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    old = app.test_client().post("/login", data={"username": username, "password": f.PASSWORD},
                                 environ_base=_address())
    assert old.status_code == 422
    login(app.test_client(), SimpleNamespace(username=username), password=NEW_PASSWORD)


@pytest.mark.parametrize("form, field, message", [
    ({"current": "not-my-password-9"}, "current_password", users.WRONG_CURRENT_PASSWORD),
    ({"confirm": NEW_PASSWORD + "x"}, "confirm_password", "The two new passwords differ."),
    ({"new": "password123"}, "new_password", "That password is one of the most common passwords"),
    ({"new": "short-1"}, "new_password", f"At least {users.PASSWORD_MIN_LENGTH} characters."),
    ({"new": f.PASSWORD}, "new_password", "The new password must differ from the current one."),
    ({"new": "x" * (users.PASSWORD_MAX + 1)}, "new_password", f"At most {users.PASSWORD_MAX} characters."),
], ids=["wrong current", "mismatch", "common", "short", "unchanged", "too long"])
def test_a_refused_password_change_names_the_field_and_changes_nothing(app, form, field, message):
    user_id, username = _user(app)
    client = login(app.test_client(), SimpleNamespace(username=username))
    copy = _copy(app, client)
    before = _secrets(app, user_id)

    response = _change(client, **form)
    body = text(response)
    assert response.status_code == 422, body[:500]
    assert has_field_error(body, field, message), body[body.find("<h2>Password"):][:1500]
    assert _secrets(app, user_id) == before
    assert client.get(PAGE).status_code == 200 and copy.get(PAGE).status_code == 200


def test_wrong_current_passwords_count_towards_the_sign_in_limit(app):
    _, username = _user(app)
    client = login(app.test_client(), SimpleNamespace(username=username))
    for _ in range(app.config["LOGIN_ATTEMPTS_PER_ACCOUNT"] - 1):
        assert _change(client, current="not-my-password-9").status_code == 422
    assert _change(client, confirm="differs-from-the-new").status_code == 422  # only wrong passwords count
    assert _change(client, current="not-my-password-9").status_code == 422
    refused = _change(client)  # even the right one, for a while
    assert refused.status_code == 429
    assert re.search(r"Too many sign-in attempts for this account; try again in 1?\d minutes?\.", text(refused))
    assert int(refused.headers["Retry-After"]) <= 15 * 60
    signin = app.test_client().post("/login", data={"username": username, "password": f.PASSWORD},
                                    environ_base=_address())
    assert signin.status_code == 429  # the same counter as the sign-in form's

