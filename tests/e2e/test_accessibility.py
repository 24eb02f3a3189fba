"""axe-core in Chromium on every page of the portal: 0 serious or critical violations.

The pages come from the route map through the role x route matrix (tests/web/test_access.py:
ROUTES and each type's `type_cases`): every GET rule is either visited here, as a role the
matrix lets through (an invoice contact for the pages no matrix role sees), with the ids of the
data its World seeds, or named in NOT_PAGES with why
(a fragment checked inside its page, a download, JSON). A new route fails
`test_every_get_route_is_checked` until it is one or the other. On each type's tab the approver's
inline Accept and Reject forms are opened and checked, and so is a Failed to Export row with its
cause and solution expanded. The pre-check before Accept is on, so its badges and the Accept form's
checked part are on the pages too.

axe-core comes bundled with the PyPI package axe-playwright-python (axe.min.js), injected into
the page by Playwright. With -s the test prints each page with its count of serious/critical
violations (and of all violations); a failure lists each violation's id, impact and targets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from portal.domain.lifecycle import State
from portal.domain.models import MailStatus, OutboxMail, User
from tests import factories as f
from tests.e2e.helpers import tab_row
from tests.types import type_keys
from tests.web import pages as web_pages, roles
from tests.web.access_world import World
from tests.web.roles import ANON, Case
from tests.web.test_access import ROLE_USERS, ROUTES, type_cases

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("precheck_on")]  # the tab as approvers see it

BLOCKING = ("serious", "critical")
CONTACT = "invoice_contact"   # a page no matrix role sees: the home commitment's invoice contact (World.contact)
# The role a page is checked as, the first the matrix lets through: the one that sees most controls.
ROLE_ORDER = ["project_admin", "approver", "site_admin", "erp_admin_no_push", "standard", "readonly",
              "project_readonly", "none", ANON]
# GET routes that are not pages of their own, and why.
NOT_PAGES = {
    "/erp/<type_key>/<int:erp_item_id>/row": "a tab row: checked on its tab",
    "/erp/<type_key>/<int:erp_item_id>/status": "a row's polled status: checked on its tab",
    "/erp/<type_key>/<int:erp_item_id>/accept": "opened inline on its tab: checked there",
    "/erp/<type_key>/<int:erp_item_id>/reject": "opened inline on its tab: checked there",
    "/erp/<type_key>/bulk-result": "the bulk result panel polled on the tab",
    "/erp/sync/bar/<tab>": "the sync bar of a Ready to Import tab: checked there",
    "/erp/sync/runs/<int:run_id>": "a sync run's polled status",
    "/erp/import/companies": "the Link field's type-ahead list: checked on its Ready to Import tab",
    "/health/worker-notice": "the polled worker notice of every page",
    "/healthz": "a probe's plain answer",
    "/projects/<int:project_id>/invoices/<int:invoice_id>/status": "a row's polled status",
    "/projects/<int:project_id>/items/<type_key>/<int:item_id>/status": "a row's polled status",
    "/company/<type_key>/<int:item_id>/status": "a row's polled status",
    "/invoices/<int:invoice_id>/pdf": "the subcontractor's own PDF: a download, not a page",
    "/erp/<type_key>/download.<any(csv, xlsx):fmt>": "the tab as CSV or Excel: a download, not a page",
}
NOT_PAGE_PREFIXES = ("/api/",)   # JSON
NOT_PAGE_SUFFIXES = (".csv",)    # downloads


def is_page(rule: str) -> bool:
    return rule not in NOT_PAGES and not rule.startswith(NOT_PAGE_PREFIXES) and not rule.endswith(NOT_PAGE_SUFFIXES)


def role_for(case: Case) -> str:
    if case.anon is None:  # a page for everyone (the sign-in): as it is met, signed out
        return ANON
    if not case.allowed:  # the matrix lets none of its roles in: an invoice contact's page
        return CONTACT
    return next(role for role in ROLE_ORDER if role in case.allowed)


def contact_mail(app, world: World) -> str:
    """The contact's page of one mail: a mail written to the contact (another's is a 404)."""
    with f.app_session(app) as s:
        mail = OutboxMail(recipients=s.get(User, world.contact).email, subject="Invitation to bill",
                          text_body="t", html_body="<p>t</p>", status=MailStatus.SENT, attempts=1)
        s.add(mail)
        s.commit()
        return f"/billing/mail/{mail.id}"


# the contact's own data where the matrix's url is another's (the matrix only checks the refusals)
CONTACT_URLS = {"/billing/mail/<int:mail_id>": contact_mail}


@dataclass
class Checked:
    name: str
    role: str
    blocking: int
    total: int
    rules: str   # the rule ids of every violation found (moderate and minor ones too)


def page_cases() -> dict[str, tuple[str, Case]]:
    """name -> (rule, case) of every page: the routes without a type once, each type's routes per type."""
    out = {f"{rule}": (rule, case) for (rule, method), case in ROUTES.items()
           if method == "GET" and is_page(rule) and "<type_key>" not in rule}
    for key in type_keys():
        out.update({f"{rule} [{key}]": (rule, case) for (rule, method), case in type_cases(key).items()
                    if method == "GET" and is_page(rule)})
    return out


def test_every_get_route_is_checked(app):
    """Each GET rule of the route map is a page checked below or named as no page: a new page cannot
    go unchecked."""
    served = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static" and "GET" in rule.methods}
    checked = {rule for rule, _ in page_cases().values()}
    unchecked = {rule for rule in served if is_page(rule)} - checked
    assert not unchecked, f"pages no accessibility check visits (add them to ROUTES or NOT_PAGES): {sorted(unchecked)}"
    assert not set(NOT_PAGES) - served, f"NOT_PAGES names routes that do not exist: {sorted(set(NOT_PAGES) - served)}"


def describe(violations: list[dict]) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['help']} -> " + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            for v in violations]


class Checker:
    """Runs axe-core on a page, keeps its counts and the blocking violations."""

    def __init__(self):
        self.axe = Axe()
        self.checked: list[Checked] = []
        self.failures: list[str] = []

    def __call__(self, page: Page, name: str, role: str) -> None:
        violations = self.axe.run(page).response["violations"]
        blocking = [v for v in violations if v["impact"] in BLOCKING]
        self.checked.append(Checked(name, role, len(blocking), len(violations),
                                    ", ".join(f"{v['id']} ({v['impact']})" for v in violations)))
        self.failures += [f"{name} (as {role}): {line}" for line in describe(blocking)]

    def report(self) -> str:
        width = max(len(c.name) for c in self.checked)
        lines = [f"{'page':<{width}}  {'role':<18} serious+critical  all  rules"]
        lines += [f"{c.name:<{width}}  {c.role:<18} {c.blocking:>16}  {c.total:>3}  {c.rules}" for c in self.checked]
        lines.append(f"{len(self.checked)} pages and states checked, "
                     f"{sum(c.blocking for c in self.checked)} serious or critical violations")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def people(app):
    return roles.make_people(app, ROLE_USERS)


def test_every_page_has_no_serious_or_critical_violation(app, sim, people, open_as, new_context, base_url):
    world = World(app, sim, people)
    pages: dict[str, Page] = {}

    def page_as(role: str) -> Page:
        if role not in pages:
            if role == ANON:
                pages[role] = new_context().new_page()
            elif role == CONTACT:
                with f.app_session(app) as s:
                    user = s.get(User, world.contact)
                    contact = SimpleNamespace(username=user.username, name=user.name)
                pages[role] = open_as(contact)
            else:
                pages[role] = open_as(people[role])
        return pages[role]

    check = Checker()
    for name, (rule, case) in page_cases().items():
        role = role_for(case)
        page = page_as(role)
        url = CONTACT_URLS[rule](app, world) if role == CONTACT and rule in CONTACT_URLS else case.url(world)
        response = page.goto(base_url + url)
        status = response.status if response else None
        expected = {200 if 300 <= ok < 400 else ok for ok in case.ok}  # a redirect's page is checked
        if status not in expected:
            check.failures.append(f"{name}: {url} answered {status} as {role}, not {sorted(expected)}")
        page.wait_for_load_state("load")
        check(page, name, role)

    approver = page_as("approver")
    for key in type_keys():
        inline_forms(approver, world, key, check)
    failed_row(approver, world, type_keys()[0], check)
    refused_row(approver, web_pages.World(app, sim, people, vendor_status="Inactive"), type_keys()[0], check)

    print("\n" + check.report())
    assert not check.failures, "serious or critical accessibility violations:\n  " + "\n  ".join(check.failures)


def inline_forms(page: Page, world: World, key: str, check: Checker) -> None:
    """The approver's tab with a Ready row's Accept form opened, then its Reject form."""
    item = world.item(key, State.READY)
    page.goto(f"/erp/{key}?filter=ready&q={world.token}")
    row = tab_row(page, item.erp)
    for action in ("Accept", "Reject"):
        row.get_by_role("link", name=action, exact=True).first.click()
        expect(row.get_by_role("form", name=re.compile(rf"^{action} "))).to_be_visible()
        page.wait_for_load_state("load")
        check(page, f"/erp/{key} [{action} form open]", "approver")
        page.goto(f"/erp/{key}?filter=ready&q={world.token}")
        row = tab_row(page, item.erp)


def failed_row(page: Page, world: World, key: str, check: Checker) -> None:
    """A Failed to Export row with every detail of it expanded (Sage's message, cause and solution)."""
    item = world.item(key, State.FAILED)
    page.goto(f"/erp/{key}?filter=failed&q={world.token}")
    row = tab_row(page, item.erp)
    expect(row).to_be_visible()
    row.locator("details").evaluate_all("els => els.forEach(el => { el.open = true; })")
    check(page, f"/erp/{key} [Failed row expanded]", "approver")


def refused_row(page: Page, world, key: str, check: Checker) -> None:
    """A Ready row Sage would refuse (its vendor inactive in Sage): the pre-check's badge with its cause
    and solution expanded, then its Accept form with the problem shown and Export disabled."""
    item = world.item(key, State.READY)
    page.goto(f"/erp/{key}?filter=ready&q={world.token}")
    row = tab_row(page, item.erp)
    expect(row.locator(".precheck-badge")).to_be_visible()
    row.locator("details").evaluate_all("els => els.forEach(el => { el.open = true; })")
    check(page, f"/erp/{key} [row Sage would refuse, expanded]", "approver")
    row.get_by_role("link", name="Accept", exact=True).first.click()
    expect(row.get_by_role("form", name=re.compile(r"^Accept ")).get_by_role(
        "button", name="Export to ERP")).to_be_disabled()
    check(page, f"/erp/{key} [Accept form of a row Sage would refuse]", "approver")
