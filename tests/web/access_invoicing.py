"""The role x route entries of the invoices made in the portal (portal/blueprints/invoicing and the
JSON API's invoice routes), merged into test_access.ROUTES.

The contact's pages are a 404 to anyone not a contact on the commitment (no role of the matrix is);
the administrator's (Admin on the project) work on the world's invoice, Approved and so no longer a
draft nor sent back: the form and the review page say it cannot be changed now, a change is a 409;
the PDF (none attached) is a 404."""
from __future__ import annotations

from tests import items as it
from tests.web.roles import PROJECT_ADMINS, PROJECT_VIEWERS, Case, item_snapshot, unchanged

INVOICE = "subcontractor_invoice"


def invoice_count(s, w) -> int:
    return it.count(s, INVOICE)


def invoice_too_late(what: str, api: bool = False) -> Case:
    """A change of the world's invoice by its administrator: 409, nothing changed; refused (403) to
    everyone else."""
    return Case("POST", lambda w: ("/api/v1" if api else "") + it.item_url(w.item(INVOICE), what), PROJECT_ADMINS,
                (409,), anon="token" if api else "login", api=api, snapshot=item_snapshot(INVOICE),
                ok_check=unchanged(item_snapshot(INVOICE)))


INVOICING_ROUTES: dict[tuple[str, str], Case] = {
    ("/billing/commitments/<int:commitment_id>/invoices/new", "GET"): Case(
        "GET", lambda w: f"/billing/commitments/{w.home.commitment}/invoices/new", frozenset(), refused=404),
    ("/billing/commitments/<int:commitment_id>/invoices/new", "POST"): Case(
        "POST", lambda w: f"/billing/commitments/{w.home.commitment}/invoices/new", frozenset(), refused=404,
        data=lambda w: {"number": "X-1"}),
    ("/billing/invoices/<int:invoice_id>", "GET"): Case(
        "GET", lambda w: f"/billing/invoices/{w.item(INVOICE).id}", frozenset(), refused=404),
    ("/billing/invoices/<int:invoice_id>/edit", "GET"): Case(
        "GET", lambda w: f"/billing/invoices/{w.item(INVOICE).id}/edit", frozenset(), refused=404),
    ("/billing/invoices/<int:invoice_id>/edit", "POST"): Case(
        "POST", lambda w: f"/billing/invoices/{w.item(INVOICE).id}/edit", frozenset(), refused=404),
    ("/billing/invoices/<int:invoice_id>/submit", "POST"): Case(
        "POST", lambda w: f"/billing/invoices/{w.item(INVOICE).id}/submit", frozenset(), refused=404),
    ("/projects/<int:project_id>/commitments/<int:commitment_id>/invoices/new", "GET"): Case(
        "GET", lambda w: f"/projects/{w.home.pid}/commitments/{w.home.commitment}/invoices/new", PROJECT_ADMINS),
    ("/projects/<int:project_id>/commitments/<int:commitment_id>/invoices/new", "POST"): Case(
        "POST", lambda w: f"/projects/{w.home.pid}/commitments/{w.home.commitment}/invoices/new", PROJECT_ADMINS,
        (422,), data=lambda w: {"number": ""}, snapshot=invoice_count, ok_check=unchanged(invoice_count)),
    ("/projects/<int:project_id>/invoices/<int:invoice_id>/lines", "GET"): Case(
        "GET", lambda w: it.item_url(w.item(INVOICE), "lines"), PROJECT_ADMINS),
    ("/projects/<int:project_id>/invoices/<int:invoice_id>/lines", "POST"): invoice_too_late("lines"),
    ("/projects/<int:project_id>/invoices/<int:invoice_id>/submit", "POST"): invoice_too_late("submit"),
    ("/projects/<int:project_id>/invoices/<int:invoice_id>/review", "GET"): Case(
        "GET", lambda w: it.item_url(w.item(INVOICE), "review"), PROJECT_ADMINS),
    ("/projects/<int:project_id>/invoices/<int:invoice_id>/review", "POST"): invoice_too_late("review"),
    ("/invoices/<int:invoice_id>/pdf", "GET"): Case(
        "GET", lambda w: f"/invoices/{w.item(INVOICE).id}/pdf", frozenset(), refused=404),
    # the JSON API's invoices with their lines: the administrator's, as on the pages
    ("/api/v1/projects/<int:project_id>/commitments/<int:commitment_id>/invoices", "POST"): Case(
        "POST", lambda w: f"/api/v1/projects/{w.home.pid}/commitments/{w.home.commitment}/invoices", PROJECT_ADMINS,
        (422,), data=lambda w: {"number": ""}, anon="token", api=True, snapshot=invoice_count,
        ok_check=unchanged(invoice_count)),
    ("/api/v1/projects/<int:project_id>/invoices/<int:invoice_id>", "GET"): Case(
        "GET", lambda w: "/api/v1" + it.item_url(w.item(INVOICE)), PROJECT_VIEWERS, anon="token", api=True),
    ("/api/v1/projects/<int:project_id>/invoices/<int:invoice_id>", "PUT"): Case(
        "PUT", lambda w: "/api/v1" + it.item_url(w.item(INVOICE)), PROJECT_ADMINS, (409,), data=lambda w: {},
        anon="token", api=True, snapshot=item_snapshot(INVOICE), ok_check=unchanged(item_snapshot(INVOICE))),
    ("/api/v1/projects/<int:project_id>/invoices/<int:invoice_id>/submit", "POST"):
        invoice_too_late("submit", api=True),
}
