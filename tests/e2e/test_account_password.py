"""In Chromium: a user changes their own password on My account, stays signed in, and signs in
with the new one afterwards (the old one is refused)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from tests import factories as f
from tests.e2e.helpers import navigate

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "my-own-new-one-31"


def test_a_user_changes_their_password_and_signs_in_with_it(session, open_as, new_context):
    user = f.make_user(session)
    who = SimpleNamespace(username=user.username, name=user.name)
    session.commit()

    page = open_as(who)
    navigate(page, page.get_by_role("link", name=user.name))
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_label("Current password").fill(f.PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD + "!")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".field-error")).to_have_text("The two new passwords differ.")

    page.get_by_label("Current password").fill(f.PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#messages")).to_contain_text("Password changed; you were signed out everywhere else.")
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # this browser stays signed in

    other = new_context().new_page()
    other.goto("/login")
    other.get_by_label("Username").fill(user.username)
    other.get_by_label("Password").fill(f.PASSWORD)
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_role("alert")).to_have_text("Wrong username or password.")
    open_as(who, password=NEW_PASSWORD)
