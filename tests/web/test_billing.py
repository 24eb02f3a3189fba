"""Invoice contacts, billing periods and Invite to Bill (issue 11, parts 1-3), through the pages:
the invoice administrator adds contacts (a new one sets a password by an emailed, signed link that
works once and expires), opens periods (one open at a time, automatic ones made by the scheduler's
tick), invites contacts to bill; a contact sees only their own billing pages."""
from __future__ import annotations

import email
import email.policy
import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from portal import jobs
from portal.domain import api_tokens, periods
from portal.domain.billing_models import (
    AccountInvitation,
    BillingMode,
    BillingPeriod,
    BillingSetup,
    BillInvitation,
    InvoiceContact,
    PeriodStatus,
)
from portal.domain.models import InvoiceStatus, ProjectMember, SubcontractorInvoice, ToolLevel, User, utcnow
from tests import factories as f
from tests.conftest import login

dbs = f.app_session
COMPANY = "Test Builders"


@pytest.fixture
def home(app, sim):
    """A project with a commitment, its invoice administrator (Admin on it) signed in."""
    with dbs(app) as s:
        setup = f.Setup(s, sim)
        admin = f.make_user(s)
        f.member(s, admin, setup.project)
        w = SimpleNamespace(pid=setup.project.id, cid=setup.commitment.id, vendor=setup.vendor.id,
                            project=setup.project.name, number=setup.commitment.number, setup=setup,
                            admin=SimpleNamespace(id=admin.id, username=admin.username))
    w.client = login(app.test_client(), w.admin)
    return w


def contact(app, w):
    """A contact of the vendor's (with a password), on the commitment; (user, signed-in client)."""
    with dbs(app) as s:
        user = f.make_user(s)
        user.vendor_id = w.vendor
        s.add(InvoiceContact(commitment_id=w.cid, user_id=user.id))
        s.commit()
        person = SimpleNamespace(id=user.id, username=user.username, email=user.email, name=user.name)
    return person, login(app.test_client(), person)


def mails(smtp, address: str, drain) -> list:
    drain()
    return [email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp.to(address)]


def link(message, path: str) -> str:
    found = re.search(rf"http://portal\.test({re.escape(path)}[^\s]+)", message.get_body(("plain",)).get_content())
    assert found, message.get_body(("plain",)).get_content()
    return found.group(1)


def body(response) -> str:
    return response.get_data(as_text=True)


def add_new_contact(w, address: str, name: str = "Ana Ruiz"):
    return w.client.post(f"/projects/{w.pid}/commitments/{w.cid}/contacts", data={"name": name, "email": address})


def open_manual(w, start=date(2026, 10, 1), end=date(2026, 10, 31), due=date(2026, 10, 25)):
    return w.client.post(f"/projects/{w.pid}/billing/periods", data={
        "start_date": start.isoformat(), "end_date": end.isoformat(), "billing_date": end.isoformat(),
        "due_date": due.isoformat()})


def reader(app, w) -> SimpleNamespace:
    """A project member with Read Only: no invoice administrator."""
    with dbs(app) as s:
        user = f.make_user(s)
        s.add(ProjectMember(user_id=user.id, project_id=w.pid, level=ToolLevel.READ_ONLY))
        s.commit()
        return SimpleNamespace(username=user.username)


def new_address() -> str:
    return f"ana.{f.suffix().lower()}@sub.example"


# ---- invoice contacts and their account invitation ---------------------------------------------------

def test_a_new_contact_gets_an_account_by_a_link_that_works_once(app, home, smtp, drain):
    address = new_address()
    response = add_new_contact(home, address)
    assert response.status_code == 303
    with dbs(app) as s:
        user = s.scalars(select(User).where(User.email == address)).one()
        assert user.vendor_id == home.vendor and user.is_invoice_contact
        username = user.username
    page = body(home.client.get(f"/projects/{home.pid}/commitments/{home.cid}"))
    assert address in page and "Remove" in page and "has not set a password yet" in page
    [message] = mails(smtp, address, drain)
    assert f.subject(message) == f"{COMPANY}: Set up your account to bill"
    welcome = link(message, "/billing/welcome/")
    browser = app.test_client()
    assert username in body(browser.get(welcome))
    refused = browser.post(welcome, data={"password": "short", "confirm_password": "short"})
    assert refused.status_code == 422 and "Password: At least 10 characters." in body(refused)
    done = browser.post(welcome, data={"password": "billing-desk-42", "confirm_password": "billing-desk-42"})
    assert done.status_code == 303 and done.location.endswith("/billing/")
    assert home.number in body(browser.get("/billing/"))
    again = app.test_client().get(welcome)
    assert again.status_code == 200 and "already used" in body(again) and "Email me a new link" in body(again)
    reused = app.test_client().post(welcome, data={"password": "other-pass-77", "confirm_password": "other-pass-77"})
    assert reused.status_code == 409 and "already used" in body(reused)
    login(app.test_client(), SimpleNamespace(username=username), "billing-desk-42")
    page = body(home.client.get(f"/projects/{home.pid}/commitments/{home.cid}"))
    assert "has not set a password yet" not in page
    with dbs(app) as s:
        uid = s.scalars(select(User.id).where(User.email == address)).one()
    resent = home.client.post(f"/projects/{home.pid}/commitments/{home.cid}/contacts/{uid}/invite")
    assert resent.status_code == 409 and "already set a password" in body(resent)


def test_the_administrator_resends_the_link_to_a_contact_who_lost_it(app, home, smtp, drain):
    address = new_address()
    assert add_new_contact(home, address).status_code == 303
    with dbs(app) as s:
        uid = s.scalars(select(User.id).where(User.email == address)).one()
    resend = f"/projects/{home.pid}/commitments/{home.cid}/contacts/{uid}/invite"
    too_soon = home.client.post(resend)
    assert too_soon.status_code == 409 and "a moment ago" in body(too_soon)
    with dbs(app) as s:
        s.execute(text("UPDATE account_invitation SET created_at = :t WHERE user_id = :u"),
                  {"t": utcnow() - timedelta(minutes=5), "u": uid})
        s.commit()
    assert home.client.post(resend).status_code == 303
    first, second = mails(smtp, address, drain)
    assert "newer link" in body(app.test_client().get(link(first, "/billing/welcome/")))
    assert "Set a password" in body(app.test_client().get(link(second, "/billing/welcome/")))


def test_an_expired_link_says_so_and_offers_a_new_one(app, home, smtp, drain):
    address = new_address()
    assert add_new_contact(home, address).status_code == 303
    [first] = mails(smtp, address, drain)
    old = link(first, "/billing/welcome/")
    with dbs(app) as s:
        invitation = s.scalars(select(AccountInvitation).join(User, User.id == AccountInvitation.user_id)
                               .where(User.email == address)).one()
        invitation.expires_at = utcnow() - timedelta(minutes=1)
        s.commit()
        invitation = SimpleNamespace(id=invitation.id)
    page = app.test_client().get(old)
    assert page.status_code == 200 and "has expired" in body(page)
    refused = app.test_client().post(old, data={"password": "billing-desk-42", "confirm_password": "billing-desk-42"})
    assert refused.status_code == 409 and "has expired" in body(refused)
    with dbs(app) as s:   # made more than a minute ago: a new one may be asked for
        invitation = s.get(AccountInvitation, invitation.id)
        invitation.created_at -= timedelta(minutes=2)
        s.commit()
    assert app.test_client().post(old + "/renew").status_code == 200
    again = app.test_client().post(old + "/renew")
    assert again.status_code == 409 and "a moment ago" in body(again)   # not a second one at once
    first_again, second = mails(smtp, address, drain)
    new = link(second, "/billing/welcome/")
    assert new != old and "newer link" in body(app.test_client().get(old))
    assert app.test_client().post(new, data={"password": "billing-desk-42",
                                             "confirm_password": "billing-desk-42"}).status_code == 303


def test_a_forged_link_is_a_404(app):
    assert app.test_client().get("/billing/welcome/1.forged").status_code == 404
    assert app.test_client().post("/billing/welcome/abc/renew").status_code == 404


def test_an_existing_user_of_the_vendor_is_added_and_removed(app, home, smtp, drain):
    with dbs(app) as s:
        user = f.make_user(s)
        user.vendor_id = home.vendor
        s.commit()
        uid, address = user.id, user.email
    page = body(home.client.get(f"/projects/{home.pid}/commitments/{home.cid}"))
    assert f'<option value="{uid}">' in page
    assert home.client.post(f"/projects/{home.pid}/commitments/{home.cid}/contacts",
                            data={"user_id": str(uid)}).status_code == 303
    assert mails(smtp, address, drain) == []  # an account already: no invitation
    again = home.client.post(f"/projects/{home.pid}/commitments/{home.cid}/contacts", data={"user_id": str(uid)})
    assert again.status_code == 409 and "already an invoice contact" in body(again)
    assert home.client.post(f"/projects/{home.pid}/commitments/{home.cid}/contacts/{uid}/remove").status_code == 303
    with dbs(app) as s:
        assert s.scalars(select(InvoiceContact).where(InvoiceContact.user_id == uid)).first() is None
    assert home.client.post(f"/projects/{home.pid}/commitments/{home.cid}/contacts/{uid}/remove").status_code == 404


def test_adding_a_contact_is_checked(app, home):
    with dbs(app) as s:
        other = f.Setup(s, None)
        outsider = f.make_user(s)
        outsider.vendor_id = other.vendor.id
        s.commit()
        address = outsider.email
    taken = add_new_contact(home, address)
    assert taken.status_code == 422 and "belongs to a user who is not of" in body(taken)
    bad = add_new_contact(home, "not-an-address", name="")
    assert bad.status_code == 422 and "Enter an email address." in body(bad) and "Name is required" in body(bad)
    refused = login(app.test_client(), reader(app, home)).post(f"/projects/{home.pid}/commitments/{home.cid}/contacts",
                                                    data={"name": "X Y", "email": new_address()})
    assert refused.status_code == 403


# ---- a contact's restricted role ---------------------------------------------------------------------

def test_a_contact_sees_only_their_billing_pages(app, home):
    person, client = contact(app, home)
    assert client.get("/").location.endswith("/billing/")
    assert client.get(f"/billing/commitments/{home.cid}").status_code == 200
    with dbs(app) as s:
        other = f.Setup(s, None)
        other_cid = other.commitment.id
    assert client.get(f"/billing/commitments/{other_cid}").status_code == 404
    # every page that takes no argument, outside billing, account and sign-in, is refused
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint.split(".")[0] in (
                "billing", "account", "auth", "static") or rule.rule.startswith("/api/"):
            continue
        assert client.get(rule.rule).status_code == 403, rule.rule
    for url in (f"/projects/{home.pid}/commitments/{home.cid}", f"/projects/{home.pid}/invoices",
                f"/projects/{home.pid}/billing"):
        assert client.get(url).status_code == 403, url
    page = body(client.get("/billing/"))
    assert "My mail" in page and "ERP Integrations" not in page and "Projects" not in page
    with dbs(app) as s:
        token = api_tokens.create_token(s, person.id, "contact")
    assert app.test_client().get("/api/v1/types", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert home.client.get("/billing/").status_code == 403   # the administrator is no contact


def test_my_mail_lists_only_the_mail_sent_to_me(app, home, smtp, drain):
    assert open_manual(home).status_code == 303
    person, client = contact(app, home)
    _, other_client = contact(app, home)
    period = the_period(app, home)
    assert home.client.post(f"/projects/{home.pid}/billing/periods/{period.id}/invite",
                            data={"all": "1"}).status_code == 303
    page = body(client.get("/billing/mail"))
    assert page.count("Invitation to bill") == 1
    mail_id = re.search(r'/billing/mail/(\d+)', page).group(1)
    assert client.get(f"/billing/mail/{mail_id}").status_code == 200
    assert other_client.get(f"/billing/mail/{mail_id}").status_code == 404


# ---- billing periods ----------------------------------------------------------------------------------

def test_one_period_open_at_a_time_and_closing_by_hand(app, home):
    assert open_manual(home).status_code == 303
    second = open_manual(home, date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 25))
    assert second.status_code == 409 and "Only one billing period can be open at a time" in body(second)
    with dbs(app) as s:
        period = periods.open_period(s, home.pid)
        assert (period.start_date, period.due_date) == (date(2026, 10, 1), date(2026, 10, 25))
        period = SimpleNamespace(id=period.id)
        s.add(BillingPeriod(project_id=home.pid, start_date=date(2027, 1, 1), end_date=date(2027, 1, 31),
                            billing_date=date(2027, 1, 31), due_date=date(2027, 1, 25), status=PeriodStatus.OPEN))
        with pytest.raises(IntegrityError):   # the database holds the rule too
            s.commit()
        s.rollback()
    assert home.client.post(f"/projects/{home.pid}/billing/periods/{period.id}/close").status_code == 303
    with dbs(app) as s:
        assert periods.open_period(s, home.pid) is None
        assert s.get(BillingPeriod, period.id).status == PeriodStatus.CLOSED
    again = home.client.post(f"/projects/{home.pid}/billing/periods/{period.id}/close")
    assert again.status_code == 409
    overlap = open_manual(home, date(2026, 10, 15), date(2026, 11, 14), date(2026, 11, 10))
    assert overlap.status_code == 422 and "overlaps" in body(overlap)


def test_a_manual_period_is_checked_naming_the_field(home):
    backwards = open_manual(home, date(2026, 10, 31), date(2026, 10, 1), date(2026, 10, 31))
    assert backwards.status_code == 422 and "End date must be on or after the start date." in body(backwards)
    missing = home.client.post(f"/projects/{home.pid}/billing/periods", data={"start_date": "2026-10-01"})
    assert missing.status_code == 422 and "End date: This field is required." in body(missing)
    day = home.client.post(f"/projects/{home.pid}/billing/setup",
                           data={"mode": "automatic", "start_day": "31", "due_day": "25"})
    assert day.status_code == 422 and "Start day must be a whole number from 1 to 28." in body(day)


def test_automatic_periods_are_made_ahead_opened_and_closed_by_the_tick(app, home):
    with dbs(app) as s:
        s.add(BillingSetup(project_id=home.pid, mode=BillingMode.AUTOMATIC, start_day=1, due_day=25))
        s.commit()
        periods.tick(s, date(2026, 10, 5))
        rows = [(p.start_date, p.end_date, p.due_date, p.status) for p in periods.periods_of(s, home.pid)]
        assert rows == [(date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 25), PeriodStatus.SCHEDULED),
                        (date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 25), PeriodStatus.OPEN)]
        periods.tick(s, date(2026, 10, 5))   # twice: nothing more
        assert len(periods.periods_of(s, home.pid)) == 2
        periods.tick(s, date(2026, 10, 26))  # the due date has passed
        assert periods.open_period(s, home.pid) is None
        periods.tick(s, date(2026, 11, 1))
        assert periods.open_period(s, home.pid).start_date == date(2026, 11, 1)
        assert [p.start_date for p in periods.periods_of(s, home.pid)][0] == date(2026, 12, 1)


def test_manual_periods_wait_while_periods_are_automatic(app, home):
    automatic, manual = ({"mode": mode, "start_day": "1", "due_day": "25"} for mode in ("automatic", "manual"))
    with dbs(app) as s:
        periods.save_setup(s, s.get(User, home.admin.id), home.pid, automatic, date(2026, 10, 5))
        assert [p.status for p in periods.periods_of(s, home.pid)] == [PeriodStatus.SCHEDULED, PeriodStatus.OPEN]
    refused = open_manual(home, date(2030, 1, 1), date(2030, 1, 31), date(2030, 1, 25))
    assert refused.status_code == 409 and "automatic on this project" in body(refused)
    with dbs(app) as s:   # November's period, made ahead, goes; October's stays open until it closes
        periods.save_setup(s, s.get(User, home.admin.id), home.pid, manual, date(2026, 10, 5))
        assert [p.start_date for p in periods.periods_of(s, home.pid)] == [date(2026, 10, 1)]
        periods.tick(s, date(2026, 12, 1))
        assert [p.status for p in periods.periods_of(s, home.pid)] == [PeriodStatus.CLOSED]


def test_the_scheduler_looks_at_the_periods_every_tick(app):
    from portal import schedule
    names = {job.func_name: job for job in schedule.cron_scheduler(app, 45).get_jobs()}
    assert names["portal.jobs.billing_periods"].interval == 45


def test_a_due_day_before_the_start_day_falls_in_the_next_month():
    dates = periods.month_period(15, 10, 2026, 12)
    assert (dates.start_date, dates.end_date, dates.billing_date, dates.due_date) == (
        date(2026, 12, 15), date(2027, 1, 14), date(2027, 1, 14), date(2027, 1, 10))


def test_the_scheduler_job_opens_the_current_automatic_period(app, home):
    assert home.client.post(f"/projects/{home.pid}/billing/setup",
                            data={"mode": "automatic", "start_day": "1", "due_day": "28"}).status_code == 303
    with dbs(app) as s:
        s.execute(text("DELETE FROM billing_period WHERE project_id = :p"), {"p": home.pid})
        s.commit()
    with app.app_context():
        assert "created" in jobs.billing_periods()
    with dbs(app) as s:
        today = date.today()
        found = [p for p in periods.periods_of(s, home.pid) if p.start_date <= today <= p.end_date]
        assert len(found) == 1 and found[0].automatic


# ---- Invite to Bill -----------------------------------------------------------------------------------

def invite(w, period_id: int, *picks: str, everyone: bool = False):
    data = {"contacts": list(picks)}
    if everyone:
        data["all"] = "1"
    return w.client.post(f"/projects/{w.pid}/billing/periods/{period_id}/invite", data=data)


def the_period(app, w) -> SimpleNamespace:
    with dbs(app) as s:
        period = periods.open_period(s, w.pid)
        assert period is not None
        return SimpleNamespace(id=period.id)


def invoice(app, w, status: str) -> None:
    """An invoice of the commitment for October 2026 (invoices are written by the invoicing side)."""
    with dbs(app) as s:
        s.add(SubcontractorInvoice(project_id=w.pid, commitment_id=w.cid, number=f"INV-{f.suffix()}",
                                   period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                                   billing_date=date(2026, 10, 31), status=status))
        s.commit()


def invitation_status(w, query: str = "") -> list[str]:
    page = body(w.client.get(f"/projects/{w.pid}/billing{query}"))
    return re.findall(r'class="badge invitation-status">([^<]+)<', page)


def test_invite_to_bill_accept_decline_remind_and_submitted(app, home, smtp, drain):
    assert open_manual(home).status_code == 303
    period = the_period(app, home)
    nobody = invite(home, period.id, everyone=True)
    assert nobody.status_code == 422 and "No invoice contacts on this project" in body(nobody)
    ana, ana_client = contact(app, home)
    bo, bo_client = contact(app, home)
    unchosen = invite(home, period.id)
    assert unchosen.status_code == 422 and "Choose at least one invoice contact" in body(unchosen)
    assert invite(home, period.id, f"{home.cid}:{ana.id}").status_code == 303
    [message] = mails(smtp, ana.email, drain)
    assert f.subject(message) == f"{COMPANY}: Invitation to bill {home.project} for 10/01/2026 – 10/31/2026"
    url = link(message, "/billing/invitations/")
    assert invitation_status(home) == ["Invited"]
    assert bo_client.get(url).status_code == 404   # another contact's invitation
    assert "Accept" in body(ana_client.get(url))
    assert invitation_status(home) == ["Opened"]
    accepted = ana_client.post(url + "/accept")
    # Accept starts the invoice: the commitment's invoice form, on the invitation's period
    assert accepted.status_code == 303
    assert accepted.location.endswith(f"/billing/commitments/{home.cid}/invoices/new?period={period.id}")
    assert 'name="period_start" value="2026-10-01"' in body(ana_client.get(accepted.location))
    assert invitation_status(home) == ["Accepted"]
    assert invite(home, period.id, everyone=True).status_code == 303   # Ana once, Bo now
    [bo_mail] = mails(smtp, bo.email, drain)
    assert len(mails(smtp, ana.email, drain)) == 1
    bo_url = link(bo_mail, "/billing/invitations/")
    long_note = bo_client.post(bo_url + "/decline", data={"note": "n" * 501})
    assert long_note.status_code == 422 and "Note must be 500 characters or less." in body(long_note)
    assert bo_client.post(bo_url + "/decline", data={"note": "No work this month"}).status_code == 303
    assert bo_client.post(bo_url + "/accept").status_code == 409
    page = body(home.client.get(f"/projects/{home.pid}/billing"))
    assert "No work this month" in page and sorted(invitation_status(home)) == ["Accepted", "Declined"]
    with dbs(app) as s:
        ana_invitation = s.scalar(select(BillInvitation.id).where(BillInvitation.user_id == ana.id))
        bo_invitation = s.scalar(select(BillInvitation.id).where(BillInvitation.user_id == bo.id))
    assert home.client.post(f"/projects/{home.pid}/billing/invitations/{ana_invitation}/remind").status_code == 303
    reminded = mails(smtp, ana.email, drain)
    assert len(reminded) == 2 and f.subject(reminded[1]).endswith("(reminder)")
    assert home.client.post(f"/projects/{home.pid}/billing/invitations/{bo_invitation}/remind").status_code == 409
    invoice(app, home, InvoiceStatus.DRAFT)
    assert sorted(invitation_status(home)) == ["Accepted", "Declined"]   # a draft is not submitted
    invoice(app, home, InvoiceStatus.UNDER_REVIEW)
    # submitted is the commitment's: a colleague's invoice answers for Bo too
    assert invitation_status(home) == ["Submitted", "Submitted"]


def test_an_invitation_expires_with_its_period(app, home, smtp, drain):
    assert open_manual(home).status_code == 303
    period = the_period(app, home)
    ana, ana_client = contact(app, home)
    assert invite(home, period.id, f"{home.cid}:{ana.id}").status_code == 303
    url = link(mails(smtp, ana.email, drain)[0], "/billing/invitations/")
    assert "Open" in body(ana_client.get("/billing/"))
    assert home.client.post(f"/projects/{home.pid}/billing/periods/{period.id}/close").status_code == 303
    assert "expired with the billing period" in body(ana_client.get(url))
    assert invitation_status(home) == []   # no open period: nothing shown until one is asked for
    assert invitation_status(home, f"?period={period.id}") == ["Expired"]
    assert home.client.get(f"/projects/{home.pid}/billing?period=999999").status_code == 404
    refused = ana_client.post(url + "/accept")
    assert refused.status_code == 409 and "expired with the billing period" in body(refused)
    assert invite(home, period.id, f"{home.cid}:{ana.id}").status_code == 409   # the period is closed
    with dbs(app) as s:
        invitation = s.scalars(select(BillInvitation).where(BillInvitation.user_id == ana.id)).one()
        assert invitation.opened_at is None and invitation.accepted_at is None
        invitation_id = invitation.id
    assert home.client.post(f"/projects/{home.pid}/billing/invitations/{invitation_id}/remind").status_code == 409


def test_only_the_projects_contacts_can_be_invited_and_only_by_its_administrator(app, home):
    assert open_manual(home).status_code == 303
    period = the_period(app, home)
    ana, _ = contact(app, home)
    stranger, _ = contact(app, home)
    with dbs(app) as s:
        s.execute(text("DELETE FROM invoice_contact WHERE user_id = :u"), {"u": stranger.id})
        s.commit()
    refused = invite(home, period.id, f"{home.cid}:{stranger.id}")
    assert refused.status_code == 422 and "Choose invoice contacts of this project" in body(refused)
    other = login(app.test_client(), reader(app, home))
    assert other.get(f"/projects/{home.pid}/billing").status_code == 403
    assert other.post(f"/projects/{home.pid}/billing/periods/{period.id}/invite",
                      data={"contacts": f"{home.cid}:{ana.id}"}).status_code == 403
