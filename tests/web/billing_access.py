"""The billing routes' rows of the role x route matrix (test_access.py): the invoice administrator's
(Admin on the project) and the invoice contact's. No role of the matrix is an invoice contact, so
every signed-in role is refused the contact's pages (tests/web/test_billing.py signs contacts in);
the account invitation's pages answer anyone who holds the link."""
from __future__ import annotations

from sqlalchemy import func, select

from portal.domain.billing_models import (
    AccountInvitation,
    BillingPeriod,
    BillingSetup,
    BillInvitation,
    InvoiceContact,
    PeriodStatus,
)
from tests.web.roles import EVERYONE, PROJECT_ADMINS, Case

NOBODY = frozenset()   # an invoice contact only


def _expect(condition: bool) -> None:
    assert condition


def setup_mode(s, w):
    row = s.get(BillingSetup, w.home.pid)
    return row.mode if row else None


def open_periods(s, w) -> int:
    return s.scalar(select(func.count()).select_from(BillingPeriod).where(
        BillingPeriod.project_id == w.home.pid, BillingPeriod.status == PeriodStatus.OPEN))


def period_status(s, w) -> str:
    return s.get(BillingPeriod, w.open_period).status


def invitations(s, w) -> int:
    w.contact  # noqa: B018 - made before the count, so the invite has someone to invite
    return s.scalar(select(func.count()).select_from(BillInvitation).where(
        BillInvitation.period_id == w.open_period))


def reminders(s, w) -> int:
    return s.get(BillInvitation, w.bill_invitation[0]).reminders


def contacts(s, w) -> int:
    w.contact  # noqa: B018 - made before the count, so there is one to remove
    return s.scalar(select(func.count()).select_from(InvoiceContact).where(
        InvoiceContact.commitment_id == w.home.commitment))


def account_invitations(s, w) -> int:
    w.account_link  # noqa: B018 - the link renewed
    return s.scalar(select(func.count()).select_from(AccountInvitation).where(AccountInvitation.user_id == w.contact))


def counted_by(snapshot, more: int):
    def check(s, w, before):
        assert snapshot(s, w) == before + more, (before, snapshot(s, w))
    return check


def project(w) -> str:
    return f"/projects/{w.home.pid}"


def billing_page(w, role) -> str:
    return f"/projects/{w.home.pid}/billing"


def commitment_page(w, role) -> str:
    return f"/projects/{w.home.pid}/commitments/{w.home.commitment}"


def period_form(w) -> dict:
    return {"start_date": "2027-02-01", "end_date": "2027-02-28", "billing_date": "2027-02-28",
            "due_date": "2027-02-25"}


P = "/projects/<int:project_id>"
ROUTES: dict[tuple[str, str], Case] = {
    # the invoice administrator's
    (f"{P}/billing", "GET"): Case("GET", lambda w: f"{project(w)}/billing", PROJECT_ADMINS),
    (f"{P}/billing/setup", "POST"): Case(
        "POST", lambda w: f"{project(w)}/billing/setup", PROJECT_ADMINS, (303,), billing_page,
        data=lambda w: {"mode": "manual", "start_day": "1", "due_day": "25"}, snapshot=setup_mode,
        ok_check=lambda s, w, before: _expect(setup_mode(s, w) == "manual")),
    (f"{P}/billing/periods", "POST"): Case(
        "POST", lambda w: f"{project(w)}/billing/periods", PROJECT_ADMINS, (303,), billing_page, data=period_form,
        snapshot=open_periods, ok_check=counted_by(open_periods, 1)),
    (f"{P}/billing/periods/<int:period_id>/close", "POST"): Case(
        "POST", lambda w: f"{project(w)}/billing/periods/{w.open_period}/close", PROJECT_ADMINS, (303,),
        billing_page, snapshot=period_status,
        ok_check=lambda s, w, before: _expect(period_status(s, w) == PeriodStatus.CLOSED)),
    (f"{P}/billing/periods/<int:period_id>/invite", "POST"): Case(
        "POST", lambda w: f"{project(w)}/billing/periods/{w.open_period}/invite", PROJECT_ADMINS, (303,),
        billing_page, data=lambda w: {"all": "1"}, snapshot=invitations, ok_check=counted_by(invitations, 1),
        drain=True),
    (f"{P}/billing/invitations/<int:invitation_id>/remind", "POST"): Case(
        "POST", lambda w: f"{project(w)}/billing/invitations/{w.bill_invitation[0]}/remind", PROJECT_ADMINS,
        (303,), billing_page, snapshot=reminders, ok_check=counted_by(reminders, 1), drain=True),
    (f"{P}/commitments/<int:commitment_id>/contacts", "POST"): Case(
        "POST", lambda w: f"{project(w)}/commitments/{w.home.commitment}/contacts", PROJECT_ADMINS, (303,),
        commitment_page, data=lambda w: {"name": "New Contact", "email": f"new.{w.token.lower()}@sub.example"},
        snapshot=contacts, ok_check=counted_by(contacts, 1), drain=True),
    (f"{P}/commitments/<int:commitment_id>/contacts/<int:user_id>/remove", "POST"): Case(
        "POST", lambda w: f"{project(w)}/commitments/{w.home.commitment}/contacts/{w.contact}/remove",
        PROJECT_ADMINS, (303,), commitment_page, snapshot=contacts, ok_check=counted_by(contacts, -1)),
    (f"{P}/commitments/<int:commitment_id>/contacts/<int:user_id>/invite", "POST"): Case(
        "POST", lambda w: f"{project(w)}/commitments/{w.home.commitment}/contacts/{w.contact}/invite",
        PROJECT_ADMINS, (303,), commitment_page, snapshot=account_invitations,
        ok_check=counted_by(account_invitations, 1), drain=True),
    # the invoice contact's
    ("/billing/", "GET"): Case("GET", lambda w: "/billing/", NOBODY),
    ("/billing/commitments/<int:commitment_id>", "GET"): Case(
        "GET", lambda w: f"/billing/commitments/{w.home.commitment}", NOBODY),
    ("/billing/mail", "GET"): Case("GET", lambda w: "/billing/mail", NOBODY),
    ("/billing/mail/<int:mail_id>", "GET"): Case("GET", lambda w: f"/billing/mail/{w.mail}", NOBODY),
    ("/billing/invitations/<token>", "GET"): Case(
        "GET", lambda w: f"/billing/invitations/{w.bill_invitation[1]}", NOBODY),
    ("/billing/invitations/<token>/accept", "POST"): Case(
        "POST", lambda w: f"/billing/invitations/{w.bill_invitation[1]}/accept", NOBODY),
    ("/billing/invitations/<token>/decline", "POST"): Case(
        "POST", lambda w: f"/billing/invitations/{w.bill_invitation[1]}/decline", NOBODY,
        data=lambda w: {"note": "No work"}),
    # the account invitation: whoever holds the link (a wrong password pair changes nothing)
    ("/billing/welcome/<token>", "GET"): Case("GET", lambda w: f"/billing/welcome/{w.account_link}", EVERYONE,
                                              anon=None),
    ("/billing/welcome/<token>", "POST"): Case(
        "POST", lambda w: f"/billing/welcome/{w.account_link}", EVERYONE, (422,), anon=None,
        data=lambda w: {"password": "long-enough-11", "confirm_password": "another-one-12"}),
    ("/billing/welcome/<token>/renew", "POST"): Case(
        "POST", lambda w: f"/billing/welcome/{w.account_link}/renew", EVERYONE, (200,), anon=None, drain=True,
        snapshot=account_invitations, ok_check=counted_by(account_invitations, 1)),
}
