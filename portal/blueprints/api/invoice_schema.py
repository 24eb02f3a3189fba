"""The OpenAPI description of the invoice routes (portal.domain.invoice_api): each field of the body
and of the answer, described."""
from __future__ import annotations

from typing import Any

from portal.domain.invoice_lines import DESCRIPTION_MAX
from portal.domain.invoicing import NUMBER_MAX, PDF_MAX_MB

AMOUNT_IN = {"type": ["string", "number", "null"]}
AMOUNT_OUT = {"type": "string", "description": "A decimal amount in dollars, two places: \"1500.00\"."}
NULLABLE_TEXT = {"type": ["string", "null"]}


def _in(description: str, schema: dict | None = None) -> dict:
    return {**(schema or AMOUNT_IN), "description": description}


LINE_BODY = {
    "type": "object", "required": ["line_no"],
    "description": "One schedule-of-values line of the commitment, named by its line number; a line left "
                   "out bills nothing (on PUT: stays as it is).",
    "properties": {
        "line_no": {"type": "integer", "description": "The commitment line's number (its SOV item)."},
        "description": _in(f"What is billed; at most {DESCRIPTION_MAX} characters (blank: the line's own).",
                           NULLABLE_TEXT),
        "work_completed": _in("Work completed this period, in dollars. Negative only as a correction that "
                              "keeps the work completed to date at zero or more."),
        "percent_complete": _in("Or: the percent complete to date (0 and up); this period's work is that "
                                "share of the scheduled value less the work billed before. Wins over "
                                "work_completed."),
        "quantity": _in("Or, on a unit-based commitment: the quantity billed this period (up to 4 places); "
                        "the work is quantity x the line's unit cost. Wins over the other two."),
        "materials_stored": _in("Materials presently stored this period, in dollars (negative only down to "
                                "what was stored before)."),
        "work_retainage": _in("Retainage held on the work; blank or null: the commitment's retainage percent. "
                              "Never negative on positive work, never more than the work."),
        "materials_retainage": _in("Retainage held on the materials stored; blank or null: the commitment's "
                                   "percent."),
        "retainage_released": _in("Retainage released on a retainage release invoice (retainage_release "
                                  "true), up to what earlier invoices hold on the line; never negative."),
    }}

INVOICE_BODY = {
    "type": "object",
    "description": "A subcontractor invoice on the commitment, made by the invoice administrator on a "
                   "contact's behalf. The same checks as the portal's form; errors name the field "
                   "(\"lines[0].work_completed\").",
    "properties": {
        "number": {"type": "string", "maxLength": NUMBER_MAX,
                   "description": "Invoice #, unique on the commitment (required to create)."},
        "billing_date": {"type": "string", "description": "Invoice date, YYYY-MM-DD or MM/DD/YYYY (required)."},
        "period_start": {"type": "string", "description": "Billing period start (required)."},
        "period_end": {"type": "string", "description": "Billing period end, on or after its start (required)."},
        "contact_id": {"type": ["integer", "null"],
                       "description": "The invoice contact it is made for: one of the commitment's contacts "
                                      "(required when the commitment has any)."},
        "retainage_release": {"type": ["boolean", "null"],
                              "description": "A retainage release invoice: its lines may release retainage."},
        "confirm_over_balance": {"type": ["boolean", "null"],
                                 "description": "Bill over a line's remaining balance anyway; without it such "
                                                "an invoice is refused (422) with a warning on each line."},
        "submit": {"type": ["boolean", "null"],
                   "description": "Submit it for review once saved (Draft or Revise and Resubmit -> Under Review)."},
        "pdf_base64": {"type": ["string", "null"],
                       "description": f"The subcontractor's own invoice: a PDF of at most {PDF_MAX_MB} MB, base64."},
        "pdf_filename": {"type": ["string", "null"], "description": "The PDF's file name (invoice.pdf if none)."},
        "lines": {"type": "array", "items": LINE_BODY},
    }}

INVOICE_LINE = {"type": "object", "required": ["line_no", "work_completed", "retainage"], "properties": {
    "line_no": {"type": "integer"}, "description": {"type": "string"},
    "scheduled_value": AMOUNT_OUT, "previous_billed": {**AMOUNT_OUT, "description": "Billed by earlier "
                                                       "submitted invoices (work and materials)."},
    "work_completed": AMOUNT_OUT, "materials_stored": AMOUNT_OUT,
    "quantity": {"type": ["string", "null"], "description": "Quantity billed this period (unit-based)."},
    "work_retainage": AMOUNT_OUT, "materials_retainage": AMOUNT_OUT, "retainage_released": AMOUNT_OUT,
    "retainage": {**AMOUNT_OUT, "description": "Work + materials retainage - released: what Sage receives."},
    "percent_complete": {"type": "string", "description": "Completed to date over the scheduled value, percent."},
    "balance_to_finish": AMOUNT_OUT,
    "review": {"type": ["string", "null"], "enum": ["approved", "revise", None],
               "description": "The administrator's review of the line."},
    "review_comment": {"type": "string", "description": "What to revise (or a note on an approved line)."}}}

INVOICE = {"type": "object", "required": ["id", "number", "status", "lines", "total_amount", "total_retainage"],
           "properties": {
               "id": {"type": "integer"}, "project_id": {"type": "integer"}, "commitment_id": {"type": "integer"},
               "number": {"type": "string"},
               "status": {"type": "string", "enum": ["Draft", "Under Review", "Revise and Resubmit", "Approved",
                                                     "Approved as Noted", "Pending Owner Approval"]},
               "contact_id": {"type": ["integer", "null"]}, "billing_date": NULLABLE_TEXT,
               "period_start": NULLABLE_TEXT, "period_end": NULLABLE_TEXT, "retainage_release": {"type": "boolean"},
               "total_amount": {**AMOUNT_OUT, "description": "Work and materials this period (Sage's Amount)."},
               "total_retainage": {**AMOUNT_OUT, "description": "Net retainage (Sage's Retainage)."},
               "payment_due": AMOUNT_OUT,
               "pdf": {"type": ["object", "null"], "properties": {"filename": {"type": "string"},
                                                                  "size": {"type": "integer"}}},
               "lines": {"type": "array", "items": INVOICE_LINE}}}


def invoice_paths(params: dict, errors: dict, too_large: dict) -> dict[str, dict[str, Any]]:
    """The invoice routes, with `params` (project_id...) and the shared error answers."""
    answer = {"description": "The invoice with its lines", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/SubcontractorInvoice"}}}}
    body = {"required": True, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/SubcontractorInvoiceBody"}}}}
    project = params["project_id"]
    invoice = {"name": "invoice_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    commitment = {"name": "commitment_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/projects/{project_id}/commitments/{commitment_id}/invoices": {"post": {
            "summary": "Create a subcontractor invoice with its lines (Admin on the project)",
            "parameters": [project, commitment], "requestBody": body,
            "responses": {"201": answer, **errors, "413": too_large}}},
        "/projects/{project_id}/invoices/{invoice_id}": {
            "get": {"summary": "A subcontractor invoice with its lines and review", "parameters": [project, invoice],
                    "responses": {"200": answer, **errors}},
            "put": {"summary": "Change a draft invoice, or one sent back for revision; what is left out stays",
                    "parameters": [project, invoice], "requestBody": body,
                    "responses": {"200": answer, **errors, "413": too_large}}},
        "/projects/{project_id}/invoices/{invoice_id}/submit": {"post": {
            "summary": "Submit for review (Draft or Revise and Resubmit -> Under Review)",
            "parameters": [project, invoice], "responses": {"200": answer, **errors}}},
    }


SCHEMAS = {"SubcontractorInvoice": INVOICE, "SubcontractorInvoiceBody": INVOICE_BODY}
