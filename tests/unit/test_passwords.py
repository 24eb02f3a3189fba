"""The rules a new password must meet, each named in its message."""
import pytest

from portal.domain.users import PASSWORD_MIN_LENGTH, common_passwords, password_problem
from tests.factories import PASSWORD


@pytest.mark.parametrize("password, username, rule", [
    ("password", "", "At least 10 characters."),
    ("aaaaaaaa", "", "At least 10 characters."),
    ("password123", "", "one of the most common passwords"),
    ("Password123", "", "one of the most common passwords"),
    ("aaaaaaaaaa", "", "one of the most common passwords"),
    ("abababababab", "", "different characters"),
    ("jsmith.site", "jsmith.site", "must not be the username"),
    ("JSmith.Site", "jsmith.site", "must not be the username"),
])
def test_a_weak_password_is_refused_with_its_rule(password, username, rule):
    assert rule in (password_problem(password, username) or "")


@pytest.mark.parametrize("password", [PASSWORD, "demo-password", "a-new-long-one-7", "long-enough-1"])
def test_the_test_and_demo_passwords_are_allowed(password):
    assert password_problem(password, "someone") is None


def test_the_bundled_list_is_read_and_lowercased():
    common = common_passwords()
    assert len(common) > 150 and "qwertyuiop" in common and "p@ssw0rd!" in common
    assert all(p == p.lower() for p in common)
    assert PASSWORD_MIN_LENGTH == 10
