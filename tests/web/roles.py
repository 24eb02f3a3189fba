"""The roles the web tests sign in as: each role's user (make_user kwargs) and the role sets route tables use."""
from __future__ import annotations

from portal.domain.models import ToolLevel

ANON = "anonymous"
ROLES = [ANON, "none", "readonly", "standard", "approver", "erp_admin_no_push", "project_admin",
         "project_readonly", "site_admin"]
ROLE_USERS = {
    "none": dict(),
    "readonly": dict(erp_level=ToolLevel.READ_ONLY),
    "standard": dict(erp_level=ToolLevel.STANDARD),
    "approver": dict(erp_level=ToolLevel.STANDARD, push=True),
    "erp_admin_no_push": dict(erp_level=ToolLevel.ADMIN),
    "project_admin": dict(),  # the project roles get their level on each test's project
    "project_readonly": dict(),
    "site_admin": dict(site_admin=True),
}

LOGGED_IN = frozenset(ROLES) - {ANON}
ERP_USERS = frozenset({"readonly", "standard", "approver", "erp_admin_no_push"})
ERP_ADMINS = frozenset({"erp_admin_no_push"})
APPROVERS = frozenset({"approver"})
PROJECT_VIEWERS = frozenset({"project_admin", "project_readonly", "site_admin"})
PROJECT_ADMINS = frozenset({"project_admin", "site_admin"})
SITE_ADMINS = frozenset({"site_admin"})
