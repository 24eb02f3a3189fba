"""docs/permissions.md maps every row of the guide's permissions table to a route and a policy rule:
each row is there, and every policy rule and route it names exists (a renamed rule or route fails
here, not in a reader's hands)."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from portal.domain import policy
from portal.domain.models import ToolLevel

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"

# The rows of the guide's permissions table (sage300-connector-guide.txt, "Permissions"), as it names them.
GUIDE_ROWS = (
    "Accept or Reject Cost Codes for Export to ERP", "Accept or Reject Owner Invoices for Export to ERP",
    "Accept or Reject Subcontractor Invoices for Export to ERP", "Accept or Reject a Budget for Export to ERP",
    "Accept or Reject a CCO for Export to ERP", "Accept or Reject a Commitment for Export to ERP",
    "Accept or Reject a Company for Export to ERP", "Accept or Reject a PCCO for Export to ERP",
    "Accept or Reject a Project for Export to ERP", "Accept or Reject a Sub Job for Export to ERP",
    "Add a Procore Project to your ERP System", "Add an ERP Company to the Procore Company Directory",
    "Add an ERP Job to Procore", "Archive an ERP Company in Procore",
    "Assign Default Cost Types To ERP Standard Cost Codes", "Configure Advanced Settings: ERP Integrations",
    "Configure the Sync Schedule for your ERP Integration", "Enable or Disable ERP Direct Exports",
    "Import a Budget from ERP", "Import a Prime Contract from an Integrated ERP System into Procore",
    "Import an ERP Sub Job to a Procore Project", "Link ERP Companies to Procore Companies",
    "Refresh the Companies List for ERP", "Refresh the Cost Codes on an ERP Integrated Project",
    "Send, Retrieve, or Resend Items to ERP Integrations for Accounting Acceptance",
    "Sync Job Cost Transactions from an Integrated ERP into Procore",
    "Sync Paid Invoice Notifications from ERP into Procore", "Unlink CCOs Synced with ERP",
    "Unlink Commitments Synced with ERP", "Unlink Owner Invoices Synced with ERP", "Unlink PCCOs Synced with ERP",
    "Unlink Subcontractor Invoices Synced with ERP", "Unlink a Company Synced with ERP",
    "View a List of Synced Sub Jobs", "View an Accountant Report for ERP", "View an ERP Job Costs Report",
    "View an ERP Unsyncable Direct Costs Report", "View the Archived Companies List for ERP",
)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def table_rows(doc: str) -> dict[str, str]:
    """The table's rows by their first cell."""
    return {line.split("|")[1].strip(): line for line in doc.splitlines()
            if line.startswith("| ") and not line.startswith("| Guide row")}


def test_every_row_of_the_guide_is_mapped(doc):
    rows = table_rows(doc)
    assert set(GUIDE_ROWS) <= set(rows), sorted(set(GUIDE_ROWS) - set(rows))
    for name in GUIDE_ROWS:
        cells = [c.strip() for c in rows[name].split("|")[1:-1]]
        route, rule, notes = cells[2], cells[3], cells[4]
        assert ("policy." in rule and route not in ("", "—")) or "Not built yet" in notes, name


def test_every_policy_rule_named_exists(doc):
    names = set(re.findall(r"`policy\.([A-Z_]+)`", doc))
    assert len(names) > 10
    everyone = SimpleNamespace(id=1, is_authenticated=True, is_active=True, erp_level=ToolLevel.ADMIN,
                               is_accounting_approver=True, is_site_admin=True, is_invoice_contact=False)
    for name in sorted(names):
        assert hasattr(policy, name), f"docs/permissions.md names policy.{name}, which does not exist"
        policy.can(everyone, getattr(policy, name), project_level=ToolLevel.ADMIN)  # an unknown action raises


def test_every_route_named_exists(app, doc):
    served = {(rule.rule, method) for rule in app.url_map.iter_rules() for method in rule.methods}
    named = set(re.findall(r"`(GET|POST|PUT) (/[^`\s]*)`", doc))
    assert len(named) > 20
    missing = sorted(f"{method} {path}" for method, path in named if (path, method) not in served)
    assert not missing, f"docs/permissions.md names routes that do not exist: {missing}"
