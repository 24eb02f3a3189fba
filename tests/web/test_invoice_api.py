"""The JSON API's invoices with their lines: created on a contact's behalf, changed, submitted, with
the pages' rules and errors naming the body's fields (lines[0].work_completed), and the PDF."""
from __future__ import annotations

import base64

import pytest

from portal.domain.api_tokens import create_token
from tests import factories as f

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def api(app, billing):
    home, admin, reader, contact = billing
    with f.app_session(app) as s:
        tokens = {who: {"Authorization": f"Bearer {create_token(s, user.id, 'pm')}"}
                  for who, user in (("admin", admin), ("reader", reader), ("contact", contact))}
    ids = dict(project=home.project.id, commitment=home.commitment.id, contact=contact.id)
    return app.test_client(), tokens, ids


def body(ids, number, **extra) -> dict:
    return {"number": number, "billing_date": "2026-11-30", "period_start": "2026-11-01",
            "period_end": "2026-11-30", "contact_id": ids["contact"], **extra}


def create_url(ids) -> str:
    return f"/api/v1/projects/{ids['project']}/commitments/{ids['commitment']}/invoices"


def test_create_update_and_submit_an_invoice_with_its_lines(api):
    client, tokens, ids = api
    number = f"API-{f.suffix()}"
    response = client.post(create_url(ids), headers=tokens["admin"], json=body(
        ids, number, lines=[{"line_no": 1, "work_completed": 1000, "materials_stored": "200.00"},
                            {"line_no": 2, "percent_complete": "10", "work_retainage": 0}],
        pdf_base64=base64.b64encode(PDF).decode(), pdf_filename="sub.pdf"))
    assert response.status_code == 201, response.get_json()
    inv = response.get_json()
    assert (inv["status"], inv["number"], inv["contact_id"]) == ("Draft", number, ids["contact"])
    assert (inv["total_amount"], inv["total_retainage"], inv["payment_due"]) == ("6200.00", "120.00", "6080.00")
    assert inv["lines"][0]["work_retainage"] == "100.00" and inv["lines"][0]["materials_retainage"] == "20.00"
    assert inv["pdf"] == {"filename": "sub.pdf", "size": len(PDF)}
    url = f"/api/v1/projects/{ids['project']}/invoices/{inv['id']}"
    changed = client.put(url, headers=tokens["admin"], json={"lines": [{"line_no": 2, "work_completed": "500"}]})
    assert changed.status_code == 200, changed.get_json()
    lines = changed.get_json()["lines"]
    assert (lines[0]["work_completed"], lines[1]["work_completed"]) == ("1000.00", "500.00")   # line 1 kept
    submitted = client.post(url + "/submit", headers=tokens["admin"])
    assert submitted.status_code == 200 and submitted.get_json()["status"] == "Under Review"
    again = client.put(url, headers=tokens["admin"], json={"number": "X"})
    assert again.status_code == 409 and "Under Review" in again.get_json()["error"]
    assert client.get(url, headers=tokens["reader"]).get_json()["status"] == "Under Review"


@pytest.mark.parametrize("extra, field, says", [
    ({"lines": [{"line_no": 9, "work_completed": 1}]}, "lines[0].line_no", "has no line 9"),
    ({"lines": [{"line_no": 1, "work_completed": "abc"}]}, "lines[0].work_completed", "is not an amount"),
    ({"lines": [{"line_no": 1, "work_completed": 10, "work_retainage": -1}]}, "lines[0].work_retainage",
     "cannot be negative"),
    ({"lines": [{"line_no": 2, "work_completed": -5}]}, "lines[0].work_completed", "below zero"),
    ({"lines": [{"line_no": 1, "retainage_released": 5}]}, "lines[0].retainage_released", "release invoice"),
    ({"lines": [{"line_no": 1, "work_completed": 50001}]}, "confirm_over_balance", "Tick"),
    ({"lines": [{"line_no": 1, "work_completed": True}]}, "lines[0].work_completed", "Send a text"),
    ({"lines": "all"}, "lines", "list"),
    ({"number": 7}, "number", "Send a text"),
    ({"number": ""}, "number", "required"),
    ({"contact_id": "x"}, "contact_id", "integer"),
    ({"pdf_base64": "%%%"}, "pdf_base64", "base64"),
    ({"pdf_base64": base64.b64encode(b"not a pdf").decode()}, "pdf_base64", "not a PDF"),
])
def test_bad_input_is_refused_naming_the_field(api, extra, field, says):
    client, tokens, ids = api
    response = client.post(create_url(ids), headers=tokens["admin"], json={**body(ids, f"BAD-{f.suffix()}"), **extra})
    answer = response.get_json()
    assert response.status_code == 422, answer
    assert says in answer["fields"][field], answer


def test_who_may_create(api, sim, app):
    client, tokens, ids = api
    assert client.post(create_url(ids), headers=tokens["reader"], json=body(ids, "R-1")).status_code == 403
    assert client.post(create_url(ids), headers=tokens["contact"], json=body(ids, "C-1")).status_code == 403
    with f.app_session(app) as s:
        other = f.Setup(s, sim).commitment.id
    wrong = f"/api/v1/projects/{ids['project']}/commitments/{other}/invoices"
    assert client.post(wrong, headers=tokens["admin"], json=body(ids, "W-1")).status_code == 404
    assert client.post(create_url(ids), json=body(ids, "A-1")).status_code == 401
