"""The invoice pages: the contact's form (with its PDF, a recalculation in place, the balance
warning), the administrator's form on a contact's behalf, the review line by line, the contact's
revision and resubmission, the history on both sides, the PDF on the approver's item page."""
from __future__ import annotations

import io
import re
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from portal.domain import invoicing, services
from portal.domain.billing_models import BillingPeriod, PeriodStatus
from portal.domain.models import InvoiceStatus, OutboxMail, SubcontractorInvoice
from tests import factories as f
from tests.conftest import login
from tests.web.conftest import person, plain
from tests.web.pages import HX, has_field_error, text

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def home(billing):
    return billing


def client_of(app, user):
    return login(app.test_client(), user)


def filled(setup, number: str, **lines) -> dict:
    data = {"number": number, "billing_date": "2026-11-30", "period_start": "2026-11-01", "period_end": "2026-11-30"}
    for name, value in lines.items():
        which, _, part = name.partition("_")
        data[f"line-{(setup.line1 if which == 'line1' else setup.line2).id}-{part}"] = value
    return data


def with_pdf(data: dict, content: bytes = PDF, name: str = "sub.pdf") -> dict:
    return {**data, "pdf": FileStorage(io.BytesIO(content), filename=name, content_type="application/pdf")}


def post_file(web, url: str, data: dict):
    """A multipart POST encoded in memory (the test client spools a large body to a temporary file
    it never closes)."""
    boundary, body = encode_multipart(data)
    return web.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def invoice_numbered(app, number: str) -> SimpleNamespace | None:
    with f.app_session(app) as s:
        inv = s.scalar(select(SubcontractorInvoice).where(SubcontractorInvoice.number == number))
        return plain(inv, "id", "status") if inv else None


def test_the_contact_fills_the_lines_with_a_pdf_and_submits(app, home):
    setup, _, _, contact = home
    web = client_of(app, contact)
    url = f"/billing/commitments/{setup.commitment.id}/invoices/new"
    page = text(web.get(url))
    assert f'name="line-{setup.line1.id}-work_completed"' in page and "Footings" in page and "$50,000.00" in page
    number = f"INV-{f.suffix()}"
    response = post_file(web, url, with_pdf({**filled(setup, number, line1_work_completed="1000"), "op": "submit"}))
    assert response.status_code == 303, text(response)[:500]
    inv = invoice_numbered(app, number)
    assert inv is not None and inv.status == InvoiceStatus.UNDER_REVIEW and response.location.endswith(
        f"/billing/invoices/{inv.id}")
    page = text(web.get(f"/billing/invoices/{inv.id}"))
    assert "Under Review" in page and "sub.pdf" in page and "$1,000.00" in page and "submit" in page
    pdf = web.get(f"/invoices/{inv.id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data == PDF


@pytest.mark.parametrize("content, message", [(b"GIF89a not a pdf", "not a PDF"),
                                              (PDF + b"0" * invoicing.PDF_MAX_BYTES, "up to 4 MB")])
def test_a_file_that_is_not_a_pdf_or_too_big_is_refused_at_the_field(app, home, content, message):
    setup, _, _, contact = home
    web = client_of(app, contact)
    response = post_file(web, f"/billing/commitments/{setup.commitment.id}/invoices/new",
                         with_pdf(filled(setup, "INV-BAD", line1_work_completed="10"), content))
    assert response.status_code == 422 and message in text(response)
    assert invoice_numbered(app, "INV-BAD") is None


def test_recalculating_answers_the_lines_in_place(app, home):
    setup, _, _, contact = home
    web = client_of(app, contact)
    number = f"INV-{f.suffix()}"
    response = web.post(f"/billing/commitments/{setup.commitment.id}/invoices/new", headers=HX,
                        data={**filled(setup, number, line1_work_completed="1000", line2_percent_complete="10"),
                              "op": "recalc"})
    body = text(response)
    assert response.status_code == 200 and "<html" not in body and 'id="invoice-lines"' in body
    assert re.search(r'data-total="amount">\$6,000\.00<', body)        # 1,000 + 10% of 50,000
    assert re.search(r'data-total="retainage">\$600\.00<', body)
    assert invoice_numbered(app, number) is None


def test_over_the_balance_warns_then_saves_when_confirmed(app, home):
    setup, _, _, contact = home
    web = client_of(app, contact)
    url = f"/billing/commitments/{setup.commitment.id}/invoices/new"
    data = filled(setup, "INV-OVER", line1_work_completed="60000")
    response = web.post(url, data=data)
    assert response.status_code == 422 and "over the remaining balance" in text(response)
    assert 'name="confirm_over_balance"' in text(response) and invoice_numbered(app, "INV-OVER") is None
    assert web.post(url, data={**data, "confirm_over_balance": "on"}).status_code == 303
    assert invoice_numbered(app, "INV-OVER") is not None


def test_a_negative_where_it_makes_no_sense_is_refused_naming_the_field(app, home):
    setup, _, _, contact = home
    web = client_of(app, contact)
    response = web.post(f"/billing/commitments/{setup.commitment.id}/invoices/new",
                        data=filled(setup, "INV-NEG", line1_work_completed="100", line1_work_retainage="-1"))
    assert response.status_code == 422
    assert has_field_error(text(response), f"line-{setup.line1.id}-work_retainage", "Work retainage cannot be negative")


def test_a_contact_of_another_vendor_gets_404_and_a_reader_cannot_create(app, sim, home):
    setup, admin, reader, _ = home
    with f.app_session(app) as s:
        stranger = person(f.invoice_contact(s, f.Setup(s, sim).commitment))
    web = client_of(app, stranger)
    new = f"/billing/commitments/{setup.commitment.id}/invoices/new"
    assert web.get(new).status_code == 404 and web.post(new, data=filled(setup, "INV-S")).status_code == 404
    url = f"/projects/{setup.project.id}/commitments/{setup.commitment.id}/invoices/new"
    assert client_of(app, reader).post(url, data=filled(setup, "INV-R")).status_code == 403
    assert "New invoice" not in text(client_of(app, reader).get(f"/projects/{setup.project.id}/commitments/"
                                                                 f"{setup.commitment.id}"))
    assert invoice_numbered(app, "INV-R") is None


def test_admin_on_behalf_review_revise_resubmit_approve_and_the_history(app, home):
    setup, admin, _, contact = home
    web = client_of(app, admin)
    commitment_page = text(web.get(f"/projects/{setup.project.id}/commitments/{setup.commitment.id}"))
    new = f"/projects/{setup.project.id}/commitments/{setup.commitment.id}/invoices/new"
    assert new in commitment_page
    response = post_file(web, new, with_pdf({**filled(setup, "INV-AD", line1_work_completed="1000",
                                                     line2_work_completed="2000"),
                                            "contact_id": str(contact.id), "op": "submit"}))
    assert response.status_code == 303, text(response)[:400]
    inv = invoice_numbered(app, "INV-AD")
    page = f"/projects/{setup.project.id}/invoices/{inv.id}"
    assert response.location.endswith(page) and "Review lines" in text(web.get(page))
    l2 = f"line-{setup.line2.id}-"
    response = web.post(page + "/review", data={l2 + "review": "revise"})
    assert response.status_code == 422 and has_field_error(text(response), l2 + "comment", "Say what to revise")
    response = web.post(page + "/review", data={l2 + "review": "revise", l2 + "comment": "Only 1,500 in place"})
    assert response.status_code == 303
    with f.app_session(app) as s:
        mail = s.scalars(select(OutboxMail).where(OutboxMail.recipients == contact.email.lower())).one()
        assert "Only 1,500 in place" in mail.text_body
    # the contact sees the comment, changes that line and resubmits
    own = client_of(app, contact)
    assert "Only 1,500 in place" in text(own.get(f"/billing/invoices/{inv.id}"))
    form = text(own.get(f"/billing/invoices/{inv.id}/edit"))
    assert f'name="line-{setup.line1.id}-work_completed"' not in form and f'name="{l2}work_completed"' in form
    revised = {**filled(setup, "INV-AD", line2_work_completed="1500"), "op": "submit"}
    response = own.post(f"/billing/invoices/{inv.id}/edit", data=revised)
    assert response.status_code == 303, text(response)[:400]
    assert web.post(page + "/review", data={"decision": "Approved"}).status_code == 303
    history = text(web.get(page))
    for step in ("create", "submit", "revise", "save", "resubmit", "review"):
        assert f"<td>{step}</td>" in history, step
    assert contact.name in history and admin.name in history and "Approved" in history
    assert "<td>resubmit</td>" in text(own.get(f"/billing/invoices/{inv.id}"))
    # sent to ERP as today; the approver's item page links the PDF
    assert web.post(page + "/send").status_code == 303
    with f.app_session(app) as s:
        erp = plain(services.find_erp_item(s, "subcontractor_invoice", inv.id), "id")
        approver = person(f.approver(s))
    item_page = text(client_of(app, approver).get(f"/erp/subcontractor_invoice/{erp.id}"))
    assert f'href="/invoices/{inv.id}/pdf"' in item_page and "sub.pdf" in item_page
    assert client_of(app, approver).get(f"/invoices/{inv.id}/pdf").data == PDF


def test_a_saved_draft_is_submitted_from_its_page(app, home):
    setup, admin, _, contact = home
    web = client_of(app, contact)
    number = f"INV-{f.suffix()}"
    response = web.post(f"/billing/commitments/{setup.commitment.id}/invoices/new",
                        data={**filled(setup, number, line1_work_completed="10"), "op": "save"})
    inv = invoice_numbered(app, number)
    assert response.status_code == 303 and inv.status == "Draft"
    page = text(web.get(f"/billing/invoices/{inv.id}"))
    submit = f"/billing/invoices/{inv.id}/submit"
    assert f'<form method="post" action="{submit}">' in page and "hx-post" not in page.split(submit)[1][:200]
    assert web.post(submit).status_code == 303 and invoice_numbered(app, number).status == "Under Review"
    assert web.post(submit).status_code == 409   # submitted once


def test_a_new_invoice_bills_for_the_open_period_or_the_one_its_invitation_names(app, home):
    setup, _admin, _reader, contact = home
    web = client_of(app, contact)
    url = f"/billing/commitments/{setup.commitment.id}/invoices/new"
    with f.app_session(app) as s:
        past = BillingPeriod(project_id=setup.project.id, start_date=date(2026, 9, 1), end_date=date(2026, 9, 30),
                             billing_date=date(2026, 9, 25), due_date=date(2026, 10, 5), status=PeriodStatus.CLOSED)
        current = BillingPeriod(project_id=setup.project.id, start_date=date(2026, 10, 1), end_date=date(2026, 10, 31),
                                billing_date=date(2026, 10, 25), due_date=date(2026, 11, 5), status=PeriodStatus.OPEN)
        s.add_all([past, current])
        s.commit()
        past_id = past.id
    form = text(web.get(url))
    assert 'name="period_start" value="2026-10-01"' in form and 'name="period_end" value="2026-10-31"' in form
    assert 'name="billing_date" value="2026-10-25"' in form
    named = text(web.get(f"{url}?period={past_id}"))
    assert 'name="period_start" value="2026-09-01"' in named and 'name="billing_date" value="2026-09-25"' in named
    assert web.get(f"{url}?period=999999").status_code == 404
    # beyond the database's integers (or no number at all): no period named, the open one
    for junk in ("99999999999999999999", "abc"):
        assert 'name="period_start" value="2026-10-01"' in text(web.get(f"{url}?period={junk}"))
