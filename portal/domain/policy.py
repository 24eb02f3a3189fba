"""Every permission decision in one place: can(user, action, ...)."""
from __future__ import annotations

from portal.domain.models import ToolLevel, User

VIEW_ERP = "view_erp"            # see the ERP Integrations tabs
DECIDE = "decide"                # accept / reject / retry / requeue (accounting approver)
SEND = "send"                    # send, resend, edit a rejected item (Admin on the project tool)
# create a subcontractor invoice on a contact's behalf and review invoices line by line: the
# invoice administrator, Admin on the project's tool (a contact bills only its own commitments)
REVIEW_INVOICES = "review_invoices"
RETRIEVE = "retrieve"            # the sender or a project admin
VIEW_PROJECT = "view_project"
MANAGE_USERS = "manage_users"
READ_MAIL = "read_mail"
ERP_ADMIN = "erp_admin"          # settings, sync schedule
VIEW_JOB_COSTS = "view_job_costs"  # a project's Job Costs report: ERP Integrations users, members
SET_TRANSACTION_SYNC = "set_transaction_sync"  # a project's transaction sync: project / ERP Admins
# on-demand syncs, importing sub jobs and prime contracts: approvers, ERP Admins (docs/permissions.md)
IMPORT = "import_from_sage"
# the guide's "Add an ERP Company to the Procore Company Directory" and "Archive an ERP Company":
# Standard and Admin on the ERP Integrations tool
MANAGE_COMPANIES = "manage_sage_companies"
COMPANY_JOB_COSTS = "company_job_costs"  # the company-level Job Costs tab: ERP Admins (the guide)
ADD_JOBS = "add_sage_jobs"              # the guide's "Add an ERP Job to Procore" (and linking one): ERP Admins
LINK_COMPANIES = "link_sage_companies"   # the guide's "Link ERP Companies to Procore Companies": ERP Admins
REFRESH_COST_CODES = "refresh_cost_codes"  # "Refresh the Cost Codes on an ERP Integrated Project": ERP Admins
# "Assign Default Cost Types To ERP Standard Cost Codes": Standard and Admin on the ERP Integrations tool
ASSIGN_COST_TYPES = "assign_default_cost_types"
ACCOUNTANT_REPORT = "accountant_report"  # "View an Accountant Report for ERP": ERP Admins
# "View an ERP Unsyncable Direct Costs Report": no ERP Integrations permission; on the project, Read Only on
# Reports and Admin on Budgets or Prime Contract - here one level per project, so Admin on the project
UNSYNCABLE_REPORT = "unsyncable_direct_costs"
VIEW_HEALTH = "view_health"      # the health page: site admins and ERP Admins
VIEW_AUDIT = "view_audit_log"    # the company's audit log: ERP Admins and accounting approvers
RECONCILE = "reconcile_with_sage"  # the portal's figures beside Sage's: ERP Admins and accounting approvers
# an invoice contact's own pages (/billing): their commitments, invitations, invoices and mail. A
# contact (a user of a vendor's company) may do nothing else, whatever else their account holds.
BILL = "bill_as_contact"


def can(user: User | None, action: str, *, project_level: str | None = None,
        sent_by_id: int | None = None) -> bool:
    """True when `user` may take `action`; project_level is the user's level on the item's project."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_invoice_contact or action == BILL:
        return user.is_invoice_contact and action == BILL
    if action == VIEW_ERP:
        return ToolLevel.at_least(user.erp_level, ToolLevel.READ_ONLY)
    if action == DECIDE:
        return user.is_accounting_approver
    if action == ERP_ADMIN:
        return user.erp_level == ToolLevel.ADMIN
    if action in (IMPORT, VIEW_AUDIT, RECONCILE):
        return can(user, DECIDE) or can(user, ERP_ADMIN)
    if action in (MANAGE_COMPANIES, ASSIGN_COST_TYPES):
        return ToolLevel.at_least(user.erp_level, ToolLevel.STANDARD)
    if action in (COMPANY_JOB_COSTS, ADD_JOBS, LINK_COMPANIES, REFRESH_COST_CODES, ACCOUNTANT_REPORT):
        return can(user, ERP_ADMIN)
    if action == VIEW_HEALTH:
        return user.is_site_admin or can(user, ERP_ADMIN)
    if action == VIEW_JOB_COSTS:
        return can(user, VIEW_ERP) or can(user, VIEW_PROJECT, project_level=project_level)
    if action == SET_TRANSACTION_SYNC:
        return can(user, ERP_ADMIN) or can(user, SEND, project_level=project_level)
    if action in (MANAGE_USERS, READ_MAIL):
        return user.is_site_admin
    level = ToolLevel.ADMIN if user.is_site_admin else (project_level or ToolLevel.NONE)
    if action == VIEW_PROJECT:
        return ToolLevel.at_least(level, ToolLevel.READ_ONLY)
    if action in (SEND, UNSYNCABLE_REPORT, REVIEW_INVOICES):
        return level == ToolLevel.ADMIN
    if action == RETRIEVE:
        return level == ToolLevel.ADMIN or (sent_by_id is not None and sent_by_id == user.id
                                            and ToolLevel.at_least(level, ToolLevel.READ_ONLY))
    raise ValueError(f"unknown action {action!r}")
