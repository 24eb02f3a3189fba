"""Billing periods and Invite to Bill against the database, without the web: the one-open rule
when two administrators open a period at the same moment, and the invitations' statuses."""
from __future__ import annotations

from datetime import date

import pytest

from portal.domain import invite_to_bill, periods, signed
from portal.domain.billing_models import InvoiceContact, PeriodStatus
from portal.domain.errors import Conflict
from portal.domain.notifications import Notices
from portal.domain.signed import Links
from tests import factories as f

FORM = {"start_date": "2026-10-01", "end_date": "2026-10-31", "billing_date": "2026-10-31", "due_date": "2026-10-25"}
LINKS = Links(base_url="http://portal.test", secret="test-secret")


def test_two_periods_opened_at_the_same_moment_one_is_refused_by_the_database(session, home, monkeypatch):
    """The rule's own check sees no open period in both transactions; the partial unique index
    refuses the second, and the administrator reads why."""
    project, admin = home
    periods.add_period(session, admin, project.pid, FORM)
    monkeypatch.setattr(periods, "open_period", lambda s, pid: None)   # the other one is not committed yet
    with pytest.raises(Conflict, match="Only one billing period can be open at a time"):
        periods.add_period(session, admin, project.pid, {**FORM, "start_date": "2026-11-01", "end_date": "2026-11-30",
                                                         "billing_date": "2026-11-30", "due_date": "2026-11-25"})
    monkeypatch.undo()
    assert [p.status for p in periods.periods_of(session, project.pid)] == [PeriodStatus.OPEN]


def test_invitations_statuses_read_from_what_each_contact_did(session, home):
    project, admin = home
    period = periods.add_period(session, admin, project.pid, FORM)
    people = []
    for _ in range(3):
        user = f.make_user(session)
        user.vendor_id = project.vendor
        session.add(InvoiceContact(commitment_id=project.commitment, user_id=user.id))
        people.append(user)
    session.commit()
    done = invite_to_bill.invite(session, admin, project.pid, period.id, [], True, LINKS, Notices())
    assert (done.sent, done.already) == (3, 0)
    assert invite_to_bill.invite(session, admin, project.pid, period.id, [], True, LINKS, Notices()).already == 3
    rows = {r.invitation.user_id: r for r in invite_to_bill.invitations_of(session, period.id)}
    token = {u.id: signed.sign(LINKS.secret, signed.BILL, rows[u.id].invitation.id) for u in people}
    invite_to_bill.open_invitation(session, people[0], LINKS.secret, token[people[0].id])
    invite_to_bill.accept(session, people[1], LINKS.secret, token[people[1].id])
    invite_to_bill.decline(session, people[2], LINKS.secret, token[people[2].id], "  Nothing to bill  ")
    rows = {r.invitation.user_id: r for r in invite_to_bill.invitations_of(session, period.id)}
    assert [rows[u.id].status for u in people] == ["Opened", "Accepted", "Declined"]
    assert rows[people[2].id].invitation.decline_note == "Nothing to bill"
    periods.close_period(session, admin, project.pid, period.id)
    rows = {r.invitation.user_id: r for r in invite_to_bill.invitations_of(session, period.id)}
    assert [rows[u.id].status for u in people] == ["Expired", "Expired", "Declined"]
    assert periods.open_period(session, project.pid) is None
    assert periods.get_period(session, project.pid, period.id).start_date == date(2026, 10, 1)
