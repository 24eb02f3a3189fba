"""Page and data helpers shared by the browser tests (tests/e2e/test_*.py)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page, expect

from portal.domain import services
from portal.domain.models import ErpItem, ToolLevel
from tests import factories as f

# ---- data ------------------------------------------------------------------------------

def fresh(session) -> None:
    """End the test's read transaction: see what the web and the worker wrote."""
    session.commit()
    session.expire_all()


def erp_of(session, item_type: str, item_id: int) -> ErpItem | None:
    """The item's ErpItem as the web and the worker left it (None if never sent)."""
    fresh(session)
    return services.find_erp_item(session, item_type, item_id)


def project_admin_on_synced_project(session, sim):
    """factories.Setup (a project synced with its Sage job, a synced vendor, a synced
    commitment with lines 1 Footings / SUB and 2 Rebar / MAT) and an Admin on it."""
    setup = f.Setup(session, sim)
    admin = f.make_user(session)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    return setup, admin


def wait_for_mail(smtp, address: str, timeout: float = 10.0) -> list:
    """The mails the SMTP inbox holds for `address`, waiting up to `timeout` s for the first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = smtp.to(address)
        if got:
            return got
        time.sleep(0.1)
    return smtp.to(address)


# ---- page helpers --------------------------------------------------------------------

def navigate(page: Page, target) -> None:
    """Click a boosted link or button and wait until htmx has swapped in the new page.

    hx-boost replaces <main> (with the rest of <body>): typing into the old page while the
    new one is on its way would be lost, so wait for the marked <main> to be gone.
    """
    page.evaluate("document.querySelector('main').dataset.e2eStale = 'yes'")
    target.click()
    expect(page.locator("main[data-e2e-stale]")).to_have_count(0)
    expect(page.locator("main")).to_have_count(1)


def main_nav(page: Page, name: str):
    """A link of the main navigation, by its exact name."""
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


def erp_tab(page: Page, name: str) -> None:
    """ERP Integrations -> one of its tabs, through the navigation."""
    navigate(page, main_nav(page, "ERP Integrations"))
    navigate(page, page.get_by_role("navigation", name="Item types").get_by_role("link", name=name, exact=True))


def open_tab(page: Page, plural: str, type_key: str) -> None:
    """ERP Integrations -> <plural>, through the navigation; checks its URL and heading."""
    erp_tab(page, plural)
    expect(page).to_have_url(re.compile(rf"/erp/{type_key}(\?|$)"))
    expect(page.get_by_role("heading", name="ERP Integrations")).to_be_visible()


def search(page: Page, q: str, rows: int = 1) -> None:
    """Search the ERP Integrations tab for `q`; `rows` items are listed."""
    box = page.get_by_role("searchbox")
    box.fill(q)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(quote(q))))
    expect(page.locator("#tab-body tbody.item")).to_have_count(rows)


def tab_row(page: Page, erp_id: int):
    """The ERP Integrations tab's row of one ErpItem."""
    return page.locator(f"#item-{erp_id}")


def open_project_tool(page: Page, project_name: str, plural: str) -> None:
    """Projects -> the project -> its tool tab (Commitments, Sub Jobs, Job Costs...)."""
    navigate(page, main_nav(page, "Projects"))
    navigate(page, page.get_by_role("link", name=project_name, exact=True))
    navigate(page, page.get_by_role("navigation", name="Project tools").get_by_role(
        "link", name=plural, exact=True))
    expect(page.get_by_role("heading", name=plural)).to_be_visible()


def line(page: Page, label: str, n: int):
    """An input of the form's line table, by its column and line number (from 1)."""
    return page.get_by_label(f"{label} line {n}", exact=True)


def header_select(page: Page, label: str):
    """A header select: its accessible name is its label followed by the chosen option."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}(\s|$)"))


def confirm_click(page: Page, target) -> list[str]:
    """Click a control that asks to confirm first (hx-confirm: Resend, Retrieve, Delete, Unlink) and
    accept; the list then holds what it asked."""
    asked: list[str] = []

    def accept(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()
    page.once("dialog", accept)
    target.click()
    return asked


# ---- the two halves of every journey ---------------------------------------------------

def send_row(page: Page, session, key: str, item_id: int) -> int:
    """The project side: Send to ERP on the item's row, which turns Ready to Export; its ErpItem id."""
    row = page.locator(f"#{key}-{item_id}")
    row.get_by_role("button", name="Send to ERP").click()
    expect(row.locator(".status .badge")).to_have_text("Ready to Export")
    return erp_of(session, key, item_id).id


def accept_on_tab(open_as, session, tab: str, key: str, q: str, erp_id: int) -> Page:
    """The accounting side: an approver's page on the type's tab, searched for `q`, with the item's
    Accept form opened."""
    page = open_as(f.approver(session))
    open_tab(page, tab, key)
    search(page, q)
    tab_row(page, erp_id).get_by_role("link", name="Accept").click()
    return page


# ---- processes of the stack -----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def flask_command(args: list[str], log_dir: Path):
    """`flask --app app <args>` as a subprocess on this run's stack (the environment of tests/conftest.py's
    stack_env), its output in log_dir; stopped with SIGTERM on exit, killed if it has not stopped in 15 s."""
    log_path = log_dir / "output.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", *args], cwd=str(ROOT),
                                env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = log_path
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
