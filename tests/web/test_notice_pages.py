"""My account's notice choices (accounting approvers) and the Mail page's search box (site admins).
Who may reach each route is the role x route matrix's (tests/web/test_access.py)."""
from __future__ import annotations

import re

from portal.domain.models import MailStatus, OutboxMail, User
from tests.factories import app_session, suffix
from tests.web.pages import HX, is_fragment, is_page, text


def test_an_approver_chooses_the_summary_and_the_resent_notice(app, clients, people):
    body = text(clients["approver"].get("/account"))
    assert "Send me the ERP Integrations Daily Summary" in body and 'name="resent_notice"' in body
    response = clients["approver"].post("/account/notices", data={"resent_notice": "digest"})
    assert response.status_code == 303 and response.location.endswith("/account")
    with app_session(app) as s:
        user = s.get(User, people["approver"].id)
        assert (user.daily_summary, user.resent_notice) == (False, "digest")
    body = text(clients["approver"].get("/account"))
    assert re.search(r'value="digest"\s+checked', body) and not re.search(r'name="daily_summary"[^>]*checked', body)
    clients["approver"].post("/account/notices", data={"daily_summary": "on", "resent_notice": "email"})
    with app_session(app) as s:
        user = s.get(User, people["approver"].id)
        assert (user.daily_summary, user.resent_notice) == (True, "email")


def test_a_bad_choice_is_refused_and_changes_nothing(app, clients, people):
    response = clients["approver"].post("/account/notices", data={"daily_summary": "on", "resent_notice": "fax"})
    assert response.status_code == 422 and "Choose how you are told of a resent item." in text(response)
    with app_session(app) as s:
        assert s.get(User, people["approver"].id).resent_notice == "email"


def test_the_choices_are_shown_to_approvers_only(clients):
    assert "Notices</h2>" in text(clients["approver"].get("/account"))
    assert "Notices</h2>" not in text(clients["readonly"].get("/account"))


def test_the_mail_page_searches_subject_recipient_and_body(app, clients):
    token = suffix(10).lower()
    with app_session(app) as s:
        for subject, to, body in ((f"Subject {token}", "a@example.com", "t"), ("Other", f"{token}@example.com", "t"),
                                  ("Third", "c@example.com", f"body {token}"), ("Unrelated", "d@example.com", "t")):
            s.add(OutboxMail(recipients=to, subject=subject, text_body=body, html_body="<p>h</p>",
                             status=MailStatus.KEPT))
        s.commit()
    response = clients["site_admin"].get("/admin/mail", query_string={"q": token.upper()})
    body = text(response)
    assert response.status_code == 200 and is_page(body) and 'name="q"' in body and f'value="{token.upper()}"' in body
    found = re.findall(r'<tr><td>.*?</tr>', body, re.S)
    assert len(found) == 3 and not any("Unrelated" in row for row in found), found
    fragment = clients["site_admin"].get("/admin/mail", query_string={"q": f"subject {token}"}, headers=HX)
    assert is_fragment(text(fragment)) and len(re.findall(r'<tr><td>', text(fragment))) == 1
    none = text(clients["site_admin"].get("/admin/mail", query_string={"q": f"{token}-none"}))
    assert f"No mail matches “{token}-none”." in none
