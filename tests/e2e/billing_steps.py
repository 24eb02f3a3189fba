"""Steps of the billing journeys (issue 11) shared by the browser tests: the invoice administrator's
contacts, billing period and invitations; the contact's account link, invitation and invoice; the
line review; the Sage user's check and the Paid Invoices sync. Each step works through the pages,
as a user would, and checks what the page answers."""
from __future__ import annotations

import email
import email.policy
import re
import time

from playwright.sync_api import Page, expect

from tests import factories as f
from tests.e2e.helpers import main_nav, navigate, open_tab, wait_for_mail

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PERIOD = "12/01/2026 – 12/31/2026"   # the period the journeys open (each on a project of its own)


# ---- mail ---------------------------------------------------------------------------------

def mailed_path(smtp, address: str, subject_part: str, path: str) -> str:
    """The path of the link to `path` in the mail to `address` whose subject holds `subject_part`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for raw in wait_for_mail(smtp, address):
            message = email.message_from_bytes(raw.content, policy=email.policy.default)
            if subject_part in f.subject(message):
                found = re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)",
                                  message.get_body(("plain",)).get_content())
                assert found, message.get_body(("plain",)).get_content()
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no mail {subject_part!r} to {address}")


def mails_holding(smtp, address: str, text: str, timeout: float = 20) -> list:
    """The mails to `address` that hold `text` (bytes of the raw message), waiting for the first."""
    return [m for m in wait_for_mail(smtp, address, timeout=timeout) if text.encode() in m.content]


# ---- the invoice administrator: contacts, period, invitations -----------------------------

def open_billing(page: Page, project: str) -> None:
    """Projects -> the project -> its Billing tab."""
    navigate(page, main_nav(page, "Projects"))
    navigate(page, page.get_by_role("link", name=project, exact=True))
    navigate(page, page.get_by_role("navigation", name="Project tools").get_by_role("link", name="Billing"))
    expect(page.get_by_role("heading", name="Billing periods and invitations to bill")).to_be_visible()


def add_new_contact(page: Page, commitment_number: str, name: str, address: str) -> None:
    """From the Billing tab: the commitment's page, where a new person is added by name and email."""
    navigate(page, page.get_by_role("link", name=re.compile(re.escape(commitment_number))))
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(address)
    navigate(page, page.get_by_role("button", name="Add invoice contact"))
    expect(page.locator("#messages")).to_contain_text(f"{name} is now an invoice contact")
    expect(page.locator("#invoice-contacts")).to_contain_text(address)
    navigate(page, page.get_by_role("link", name="Billing periods and invitations to bill"))


def open_period(page: Page, start: str, end: str, billing: str, due: str, label: str) -> None:
    """On the Billing tab: a manual period, opened."""
    for field, value in (("Start date", start), ("End date", end), ("Billing date", billing), ("Due date", due)):
        page.get_by_label(field).fill(value)
    navigate(page, page.get_by_role("button", name="Open period"))
    expect(page.locator("#messages")).to_contain_text(f"Billing period {label} is open.")


def invite(page: Page, name: str, commitment_number: str) -> None:
    """On the Billing tab: invite one contact of one commitment to bill the open period."""
    page.get_by_label(f"Invite {name} on {commitment_number}").check()
    navigate(page, page.get_by_role("button", name="Invite selected"))
    expect(page.locator("#messages")).to_contain_text("1 invitation(s) to bill sent")
    expect(page.locator("#invitations .invitation-status")).to_have_text(["Invited"])


# ---- the contact: account, invitation, invoice --------------------------------------------

def set_password(page: Page, welcome_path: str, name: str, password: str, commitment_number: str) -> None:
    """The emailed account link: a password, and the contact's own billing pages (nothing else)."""
    page.goto(welcome_path)
    expect(page.get_by_role("heading", name=f"Welcome, {name}")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("heading", name="My billing")).to_be_visible()
    expect(page.locator("#my-commitments")).to_contain_text(commitment_number)
    expect(main_nav(page, "Projects")).to_have_count(0)


def accept_invitation(page: Page, invitation_path: str, project: str, commitment_number: str,
                      period_start: str) -> None:
    """The emailed invitation: Accept starts the invoice, on the invitation's period."""
    page.goto(invitation_path)
    expect(page.get_by_role("heading", name=f"Invitation to bill {project}")).to_be_visible()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("heading", name=re.compile(f"New invoice on {commitment_number}"))).to_be_visible()
    expect(page.locator('input[name="period_start"]')).to_have_value(period_start)
    page.wait_for_function("() => window.htmx !== undefined")


def new_contact_accepts(page: Page, new_context, smtp, project: str, commitment_number: str, name: str,
                        address: str, password: str) -> Page:
    """The whole invitation: the administrator (`page`) adds a new contact on the commitment, opens
    the December 2026 period and invites them; the contact sets a password through the emailed
    account link, follows the emailed invitation and accepts. The contact's page, on the invoice form."""
    open_billing(page, project)
    add_new_contact(page, commitment_number, name, address)
    open_period(page, "2026-12-01", "2026-12-31", "2026-12-31", "2026-12-24", PERIOD)
    invite(page, name, commitment_number)
    welcome = mailed_path(smtp, address, "Set up your account to bill", "/billing/welcome/")
    invitation = mailed_path(smtp, address, f"Invitation to bill {project} for {PERIOD}", "/billing/invitations/")
    contact = new_context().new_page()
    set_password(contact, welcome, name, password, commitment_number)
    accept_invitation(contact, invitation, project, commitment_number, "2026-12-01")
    return contact


def bill(page: Page, line_no: int, amount: str, total: str) -> None:
    """Type this period's work on a line and leave it: the lines recalculate in place."""
    field = page.get_by_label(f"Work completed line {line_no}", exact=True)
    field.fill(amount)
    field.press("Tab")
    expect(page.locator('#invoice-totals [data-total="amount"]')).to_have_text(total)


def fill_and_submit(page: Page, number: str, lines: list[tuple[str, str]], retainage: str,
                    pdf_name: str) -> None:
    """On the invoice form: its number, this period's work per line ((amount, running total)),
    the subcontractor's PDF, and Submit for review."""
    page.get_by_label("Invoice #").fill(number)
    for n, (amount, total) in enumerate(lines, start=1):
        bill(page, n, amount, total)
    expect(page.locator('#invoice-totals [data-total="retainage"]')).to_have_text(retainage)
    page.get_by_label(re.compile("The subcontractor's invoice")).set_input_files(
        {"name": pdf_name, "mimeType": "application/pdf", "buffer": PDF})
    navigate(page, page.get_by_role("button", name="Submit for review"))
    expect(page.locator("#invoice-status")).to_have_text("Under Review")
    expect(page.get_by_role("link", name=pdf_name)).to_be_visible()


def revise_and_resubmit(page: Page, line_no: int, comment: str, amount: str, total: str) -> None:
    """The contact's invoice sent back: only the marked line changes, then Submit for review."""
    page.reload()
    expect(page.locator("#invoice-status")).to_have_text("Revise and Resubmit")
    expect(page.locator(f'#invoice-sov tr[data-line="{line_no}"] .review')).to_contain_text(comment)
    navigate(page, page.get_by_role("link", name="Revise lines"))
    others = [n for n in (1, 2) if n != line_no]
    expect(page.get_by_label(f"Work completed line {others[0]}", exact=True)).to_have_count(0)
    bill(page, line_no, amount, total)
    navigate(page, page.get_by_role("button", name="Submit for review"))
    expect(page.locator("#invoice-status")).to_have_text("Under Review")
    expect(page.locator("#invoice-history")).to_contain_text("resubmit")


# ---- the invoice administrator: review -----------------------------------------------------

def open_invoice(page: Page, project_id: int, commitment_id: int, number: str, pdf_name: str) -> None:
    """The commitment's page -> the invoice, whose PDF is linked for the reviewer."""
    page.goto(f"/projects/{project_id}/commitments/{commitment_id}")
    navigate(page, page.get_by_role("link", name=number))
    expect(page.get_by_role("link", name=pdf_name)).to_have_attribute("href", re.compile(r"/pdf$"))


def send_line_back(page: Page, line_no: int, comment: str) -> None:
    """Review lines: one line marked Revise with a comment (the invoice goes back to the contact)."""
    navigate(page, page.get_by_role("link", name="Review lines"))
    row = page.locator(f'#review-lines tr[data-line="{line_no}"]')
    row.get_by_label("Revise").check()
    row.get_by_label(f"Comment line {line_no}").fill(comment)
    navigate(page, page.get_by_role("button", name="Save review"))
    expect(page.locator("#invoice-status")).to_have_text("Revise and Resubmit")


def approve_and_send(page: Page) -> None:
    """Review lines: every line approved, the invoice Approved, then Send to ERP (Ready to Export);
    each step is in its history."""
    page.reload()
    navigate(page, page.get_by_role("link", name="Review lines"))
    page.get_by_label("Decision when every line is approved").select_option("Approved")
    navigate(page, page.get_by_role("button", name="Save review"))
    expect(page.locator("#invoice-status")).to_have_text("Approved")
    history = page.locator("#invoice-history")
    for step in ("create", "submit", "revise", "resubmit", "review"):
        expect(history.locator("td", has_text=re.compile(rf"^{step}$"))).not_to_have_count(0)
    page.locator("#invoice-summary").get_by_role("button", name=re.compile("Send to ERP")).click()
    expect(page.locator("#invoice-summary")).to_contain_text("Ready to Export")


# ---- Sage: a check, and the Paid Invoices sync --------------------------------------------

def pay(page: Page, values: dict[str, str]):
    """Fill the Sage page's AP payment form and press Pay; the section, swapped in place."""
    form = page.locator("#sage-payment")
    for label, value in values.items():  # the label's start: a refusal's text joins the field's name
        form.get_by_label(re.compile(rf"^{label} \*")).fill(value)
    form.get_by_role("button", name="Pay").click()
    return page.locator("#sage-payment")


def pay_in_full(page: Page, values: dict[str, str]) -> None:
    """On the Sage page (as the Sage user): a check paying the invoice in full."""
    section = pay(page, values)
    check, amount = values["Check number"], values["Amount"]
    expect(section.get_by_role("status")).to_have_text(
        re.compile(rf"^Check {check} for {re.escape(amount)} applied .*paid in full\.$"))
    expect(page.locator("#sage-payments tbody tr", has_text=check)).to_have_count(1)


def sync_paid_invoices(page: Page) -> None:
    """The accounting approver: Subcontractor Invoices -> Sync from Sage now, until it is done."""
    open_tab(page, "Subcontractor Invoices", "subcontractor_invoice")
    page.get_by_role("button", name="Sync from Sage now").click()
    run = page.locator(".sync-slot .sync-run")
    expect(run).to_have_attribute("data-status", "done", timeout=30_000)
    expect(run).to_contain_text("Paid Invoices sync done")
