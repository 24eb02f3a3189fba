"""can(user, action) for every role and action: plain User objects, no database, no app. Each table is
one test that walks its rows and names every row that fails (tests/rows.py)."""
from __future__ import annotations

import pytest

from portal.domain import policy
from portal.domain.models import ToolLevel, User
from tests.rows import check_rows


def user(*, erp=ToolLevel.NONE, push=False, site_admin=False, active=True, uid=1) -> User:
    return User(id=uid, username=f"u{uid}", name="U", email="u@example.com", password_hash="!",
                erp_level=erp, can_push_to_accounting=push, is_site_admin=site_admin, active=active,
                session_token="t")


class Anonymous:
    """Flask-Login's anonymous user, without Flask."""
    is_authenticated = False
    is_active = False
    is_anonymous = True


ROLES = {
    "none": user(),
    "readonly": user(erp=ToolLevel.READ_ONLY),
    "readonly_push": user(erp=ToolLevel.READ_ONLY, push=True),
    "standard": user(erp=ToolLevel.STANDARD),
    "approver": user(erp=ToolLevel.STANDARD, push=True),
    "erp_admin_no_push": user(erp=ToolLevel.ADMIN),
    "erp_admin_approver": user(erp=ToolLevel.ADMIN, push=True),
    "none_push": user(push=True),
    "site_admin": user(site_admin=True),
    "inactive_approver": user(erp=ToolLevel.STANDARD, push=True, active=False),
    "inactive_site_admin": user(site_admin=True, active=False),
}

# Actions that need no project: who may take them.
GLOBAL = {
    policy.VIEW_ERP: {"readonly", "readonly_push", "standard", "approver", "erp_admin_no_push",
                      "erp_admin_approver"},
    policy.DECIDE: {"approver", "erp_admin_approver"},
    policy.ERP_ADMIN: {"erp_admin_no_push", "erp_admin_approver"},
    policy.IMPORT: {"approver", "erp_admin_no_push", "erp_admin_approver"},
    # reconciliation with Sage (issue 12): accounting approvers and ERP Admins
    policy.RECONCILE: {"approver", "erp_admin_no_push", "erp_admin_approver"},
    # the guide's permissions table (docs/permissions.md): Admin on ERP Integrations, push or not
    policy.LINK_COMPANIES: {"erp_admin_no_push", "erp_admin_approver"},
    policy.ADD_JOBS: {"erp_admin_no_push", "erp_admin_approver"},
    policy.REFRESH_COST_CODES: {"erp_admin_no_push", "erp_admin_approver"},
    policy.ACCOUNTANT_REPORT: {"erp_admin_no_push", "erp_admin_approver"},
    # Standard and Admin on ERP Integrations
    policy.ASSIGN_COST_TYPES: {"standard", "approver", "erp_admin_no_push", "erp_admin_approver"},
    policy.MANAGE_COMPANIES: {"standard", "approver", "erp_admin_no_push", "erp_admin_approver"},
    policy.MANAGE_USERS: {"site_admin"},
    policy.READ_MAIL: {"site_admin"},
    policy.VIEW_HEALTH: {"site_admin", "erp_admin_no_push", "erp_admin_approver"},
}


def test_global_actions():
    """Every role and every action that needs no project: one row each."""
    def check(role, action):
        assert policy.can(ROLES[role], action) is (role in GLOBAL[action]), f"expected {role in GLOBAL[action]}"
    check_rows({f"{role} {action}": (role, action) for role in ROLES for action in GLOBAL}, check)


def test_nobody_signed_in_can_do_anything():
    def check(who, action):
        assert policy.can(who, action, project_level=ToolLevel.ADMIN, sent_by_id=1) is False
    actions = list(GLOBAL) + [policy.VIEW_PROJECT, policy.SEND, policy.RETRIEVE]
    check_rows({f"{name} {action}": (who, action) for name, who in (("none", None), ("anonymous", Anonymous()))
                for action in actions}, check)


def test_accounting_approver_is_standard_or_admin_with_push():
    assert [r for r, u in ROLES.items() if u.is_accounting_approver] == ["approver", "erp_admin_approver"]


LEVELS = ToolLevel.ORDER


def test_view_project_needs_read_only_on_the_project():
    def check(level):
        expected = level != ToolLevel.NONE
        assert policy.can(ROLES["none"], policy.VIEW_PROJECT, project_level=level) is expected
        # ERP rights do not open a project
        assert policy.can(ROLES["approver"], policy.VIEW_PROJECT, project_level=level) is expected
    check_rows(LEVELS, check)


def test_send_resend_and_edit_need_admin_on_the_project():
    def check(level):
        assert policy.can(ROLES["none"], policy.SEND, project_level=level) is (level == ToolLevel.ADMIN)
        assert policy.can(ROLES["erp_admin_approver"], policy.SEND, project_level=level) is (level == ToolLevel.ADMIN)
    check_rows(LEVELS, check)


def test_unsyncable_direct_costs_need_admin_on_the_project_not_erp_access():
    """The guide: no ERP Integrations permission; Admin on the project's budgets or prime contract."""
    def check(level):
        for role in ("none", "approver", "erp_admin_approver"):
            assert policy.can(ROLES[role], policy.UNSYNCABLE_REPORT, project_level=level) is (level == ToolLevel.ADMIN)
        assert policy.can(ROLES["site_admin"], policy.UNSYNCABLE_REPORT, project_level=level)
    check_rows(LEVELS, check)


def test_site_admin_is_admin_on_every_project():
    def check(level):
        for action in (policy.VIEW_PROJECT, policy.SEND, policy.RETRIEVE):
            assert policy.can(ROLES["site_admin"], action, project_level=level), action
            assert not policy.can(ROLES["inactive_site_admin"], action, project_level=level), action
    check_rows(LEVELS, check)


def test_retrieve_by_a_project_admin_whoever_sent_it():
    me = ROLES["none"]

    def check(level):
        assert policy.can(me, policy.RETRIEVE, project_level=level, sent_by_id=999) is (level == ToolLevel.ADMIN)
        assert policy.can(me, policy.RETRIEVE, project_level=level, sent_by_id=None) is (level == ToolLevel.ADMIN)
    check_rows(LEVELS, check)


def test_retrieve_by_the_sender_while_still_on_the_project():
    me = ROLES["none"]

    def check(level):
        assert policy.can(me, policy.RETRIEVE, project_level=level, sent_by_id=me.id) is (level != ToolLevel.NONE)
    check_rows(LEVELS, check)


def test_project_actions_default_to_no_level():
    for action in (policy.VIEW_PROJECT, policy.SEND, policy.RETRIEVE):
        assert not policy.can(ROLES["approver"], action)


def test_an_inactive_user_can_do_nothing():
    def check(role):
        for action in list(GLOBAL) + [policy.VIEW_PROJECT, policy.SEND, policy.RETRIEVE]:
            assert not policy.can(ROLES[role], action, project_level=ToolLevel.ADMIN, sent_by_id=ROLES[role].id), action
    check_rows(["inactive_approver", "inactive_site_admin"], check)


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError):
        policy.can(ROLES["approver"], "approve")


def test_an_invoice_contact_may_bill_and_nothing_else():
    """A user of a vendor's company: policy.BILL only, whatever else their account holds (a site
    administrator's flag, an ERP level, Admin on a project); nobody else may BILL."""
    actions = sorted(v for k, v in vars(policy).items() if k.isupper() and isinstance(v, str))
    contact = user(erp=ToolLevel.ADMIN, push=True, site_admin=True)
    contact.vendor_id = 7
    allowed = [a for a in actions if policy.can(contact, a, project_level=ToolLevel.ADMIN, sent_by_id=contact.id)]
    assert allowed == [policy.BILL]
    assert [role for role, u in ROLES.items() if policy.can(u, policy.BILL)] == []
    contact.active = False
    assert not policy.can(contact, policy.BILL)
