"""The invoice administrator's review of a submitted subcontractor invoice, line by line: each
line approved or marked for revision with a comment. A line marked sends the invoice back
(Revise and Resubmit, the contact emailed with the lines and comments); otherwise the invoice
is decided: Approved, Approved as Noted or Pending Owner Approval, ready for Send to ERP.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from portal.domain import invoice_mail, invoicing
from portal.domain.errors import Conflict, Invalid
from portal.domain.invoice_lines import key
from portal.domain.models import InvoiceStatus, SubcontractorInvoice, User
from portal.domain.notifications import Notices, company_name, deliver_after_commit
from portal.domain.uow import commit, transactional
from portal.domain.values import text_problem

COMMENT_MAX = 500        # InvoiceLine.review_comment
NOTE_MAX = 500
APPROVED, REVISE = "approved", "revise"
DECISIONS = (InvoiceStatus.APPROVED, InvoiceStatus.APPROVED_AS_NOTED, InvoiceStatus.PENDING_OWNER_APPROVAL)


@transactional
def review(session: Session, actor: User, project_id: int, invoice_id: int, form: dict,
           notices: Notices | None = None) -> SubcontractorInvoice:
    """Record the review of an invoice Under Review (the administrator), all or nothing."""
    invoice = invoicing.invoice_for(session, actor, invoice_id, project_id)
    if invoice.status != InvoiceStatus.UNDER_REVIEW:
        raise Conflict(f"The invoice is {invoice.status}: only an invoice Under Review is reviewed.")
    errors: dict[str, str] = {}
    marks: dict[int, tuple[str, str]] = {}
    for line in invoice.lines:
        mark = str(form.get(key(line.commitment_line_id, "review")) or APPROVED).strip()
        comment = str(form.get(key(line.commitment_line_id, "comment")) or "").strip()
        name = key(line.commitment_line_id, "comment")
        if mark not in (APPROVED, REVISE):
            errors[key(line.commitment_line_id, "review")] = "Choose Approve or Revise."
        elif mark == REVISE and not comment:
            errors[name] = "Say what to revise on this line."
        elif problem := text_problem(comment, "Comment", COMMENT_MAX, sage=False):
            errors[name] = problem
        marks[line.id] = (mark, comment)
    note = str(form.get("note") or "").strip()
    if problem := text_problem(note, "Note", NOTE_MAX, sage=False):
        errors["note"] = problem
    sent_back = any(mark == REVISE for mark, _ in marks.values())
    decision = str(form.get("decision") or InvoiceStatus.APPROVED).strip()
    if not sent_back and decision not in DECISIONS:
        errors["decision"] = "Choose Approved, Approved as Noted or Pending Owner Approval."
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    before = invoice.status
    invoice.status = InvoiceStatus.REVISE_AND_RESUBMIT if sent_back else decision
    rows = []
    for line in invoice.lines:
        line.review, line.review_comment = marks[line.id]
        rows.append({"line": line.commitment_line.line_no, "description": line.description,
                     "review": line.review, "comment": line.review_comment})
    invoicing.event(session, invoice, actor, "revise" if sent_back else "review", before,
                    {"lines": rows, **({"note": note} if note else {})})
    mails = []
    if sent_back:
        revise = [(r["line"], r["description"], r["comment"]) for r in rows if r["review"] == REVISE]
        notices = notices or Notices()
        mail = invoice_mail.to_contact(session, invoice, company_name(session, notices), notices.base_url,
                                       f"Revise and resubmit {invoice_mail.title_of(invoice)}", "invoice_revise",
                                       reviewer=actor.name, lines=revise, note=note)
        mails = [mail] if mail else []
    commit(session)
    deliver_after_commit(mails, notices)
    return invoice
