"""The demo's billing side (issue 11): invoice contacts on every commitment, billing periods,
invitations to bill in each state, invoices in every review status, and checks in Sage.

Everything after the contacts' accounts goes through the domain's own functions (add_contact,
add_period, invite, accept, save, review, send), so the history, the invitations' way and the
mails are what a user's clicks would have left: the Mail page holds one of each billing mail.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import contact_accounts, invite_to_bill, invoice_review, invoicing, periods, services, signed
from portal.domain.billing_models import BillInvitation
from portal.domain.invoice_lines import key
from portal.domain.lifecycle import State
from portal.domain.models import Commitment, ErpItem, InvoiceStatus, SubcontractorInvoice, User, Vendor
from portal.domain.notifications import Notices
from portal.domain.signed import Links
from portal.domain.users import create_user

D = Decimal
# One billing person per vendor, who signs in with the demo password (`contact` is the README's)
CONTACTS = {"Apex Concrete Co.": ("contact", "Casey Contact"),
            "Bright Line Electric": ("contact-bright", "Bailey Bright"),
            "Cornerstone Steel Erectors": ("contact-steel", "Corey Stone"),
            "Delta Drywall & Acoustics": ("contact-drywall", "Dana Delta"),
            "Evergreen Landscaping": ("contact-landscape", "Emery Green")}
# added by name and email: an account invitation is mailed, the password not set yet
NEW_CONTACT = ("Bright Line Electric", "Pat Newhire", "pat.newhire")
DECLINE_NOTE = "Nothing installed on the plumbing fixtures this period; we will bill next month."


def small_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` (a valid file: objects, cross-reference table and trailer)."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def add_contacts(session: Session, invoice_admin: User, vendors: dict[str, Vendor], tag: str, password: str,
                 links: Links, notices: Notices) -> dict[str, User]:
    """Each vendor's billing person (a user of the vendor) as the invoice contact of every one of
    its commitments, added by the invoice administrator; and a new person by email on Bright
    Line's first commitment (their account invitation mailed). Returns the contacts by vendor."""
    people = {}
    for vendor, (username, name) in CONTACTS.items():
        user = create_user(session, username=username + tag, name=name, email=f"{username}{tag}@example.com",
                           password=password)
        user.vendor_id = vendors[vendor].id
        session.commit()
        people[vendor] = user
    by_vendor = {vendors[v].id: u for v, u in people.items()}
    commitments = list(session.scalars(select(Commitment).where(Commitment.vendor_id.in_(by_vendor))
                                       .order_by(Commitment.id)))
    for c in commitments:
        contact_accounts.add_contact(session, invoice_admin, c.project_id, c.id, user_id=by_vendor[c.vendor_id].id,
                                     name="", email="", links=links, notices=notices)
    vendor, name, local = NEW_CONTACT
    first = next(c for c in commitments if c.vendor_id == vendors[vendor].id)
    contact_accounts.add_contact(session, invoice_admin, first.project_id, first.id, user_id=None, name=name,
                                 email=f"{local}{tag}@example.com", links=links, notices=notices)
    return people


@dataclass
class _Billing:
    session: Session
    admin: User
    links: Links
    notices: Notices
    tag: str
    open_ids: dict[int, int] = field(default_factory=dict)   # project id -> its open period's id

    def periods(self, project_id: int, today: date) -> None:
        """Last month's period (closed) and this month's (open)."""
        start, end = invoicing.month_of(today)
        earlier_start, earlier_end = invoicing.month_of(start - timedelta(days=1))
        for first, last in ((earlier_start, earlier_end), (start, end)):
            period = periods.add_period(self.session, self.admin, project_id, {
                "start_date": first.isoformat(), "end_date": last.isoformat(), "billing_date": last.isoformat(),
                "due_date": (first + timedelta(days=24)).isoformat()})
            if first == earlier_start:
                periods.close_period(self.session, self.admin, project_id, period.id)
        self.open_ids[project_id] = period.id

    def token(self, commitment: Commitment, user: User) -> str:
        """The signed token of the contact's invitation to bill the open period (as its mail's link carries it)."""
        row = self.session.scalars(select(BillInvitation).where(
            BillInvitation.period_id == self.open_ids[commitment.project_id],
            BillInvitation.commitment_id == commitment.id, BillInvitation.user_id == user.id)).one()
        return signed.sign(self.links.secret, signed.BILL, row.id)

    def accept(self, commitment: Commitment, user: User) -> Commitment:
        invite_to_bill.accept(self.session, user, self.links.secret, self.token(commitment, user))
        return commitment

    def invoice(self, actor: User, commitment: Commitment, number: str, work: list[str], *, submit: bool = True,
                on_behalf: bool = False, pdf: bytes | None = None) -> SubcontractorInvoice:
        """An invoice on the commitment's SOV lines for the open period, saved as the contact would
        (or by the invoice administrator on their behalf), with its PDF."""
        lines = invoicing.load_commitment(self.session, commitment.id).lines
        header = invoicing.new_header(self.session, commitment, self.open_ids[commitment.project_id], date.today())
        form = {**header, "number": number + self.tag,
                **{key(cl.id, "work_completed"): w for cl, w in zip(lines, work, strict=False)}}  # the first lines
        if on_behalf:
            form["contact_id"] = str(actor.id)
        upload = invoicing.Upload(f"{number}.pdf", pdf) if pdf else None
        return invoicing.save(self.session, self.admin if on_behalf else actor, form, upload,
                              commitment_id=commitment.id, project_id=commitment.project_id if on_behalf else None,
                              submit=submit)

    def review(self, invoice: SubcontractorInvoice, decision: str, revise: dict[int, str] | None = None,
               note: str = "") -> SubcontractorInvoice:
        """The administrator's review: the lines of `revise` (line no -> comment) sent back, else `decision`."""
        revise = revise or {}
        inv = invoicing.load_invoice(self.session, invoice.id)
        form = {"decision": decision, "note": note}
        for line in inv.lines:
            comment = revise.get(line.commitment_line.line_no)
            form[key(line.commitment_line_id, "review")] = "revise" if comment else "approved"
            form[key(line.commitment_line_id, "comment")] = comment or ""
        return invoice_review.review(self.session, self.admin, inv.project_id, inv.id, form, self.notices)


def seed_billing(session: Session, invoice_admin: User, contacts: dict[str, User], projects: list,
                 links: Links, notices: Notices, tag: str) -> dict[int, int]:
    """Billing periods on the three demo projects (last month's closed, this month's open), every
    contact invited to bill the open one, and invitations and invoices in each state; returns the
    open periods' ids by project."""
    b = _Billing(session, invoice_admin, links, notices, tag)
    for p in projects:
        b.periods(p.id, date.today())
        invite_to_bill.invite(session, invoice_admin, p.id, b.open_ids[p.id], [], True, links, notices)
    c = {cm.number: cm for cm in session.scalars(select(Commitment).where(Commitment.project_id.in_(b.open_ids)))}
    p1, p2, p3 = (f"SC-{p.number}" for p in projects)
    apex, bright, steel, delta, green = (contacts[v] for v in CONTACTS)
    A, AN, POA = InvoiceStatus.APPROVED, InvoiceStatus.APPROVED_AS_NOTED, InvoiceStatus.PENDING_OWNER_APPROVAL

    # Revise and Resubmit: `contact` billed both lines; the rebar line is sent back with a comment
    b.review(b.invoice(apex, b.accept(c[f"{p1}-01"], apex), "AP-1201", ["2000", "1500"]), A,
             {2: "Rebar for the east footings is not delivered yet: bill 1,000 this period."})
    b.review(b.invoice(apex, b.accept(c[f"{p1}-08"], apex), "AP-1401", ["6000"]), POA,
             note="Waterproofing is an owner allowance item: the owner signs it off first.")
    b.invoice(bright, b.accept(c[f"{p1}-02"], bright), "BL-2201", ["8000", "2000"], submit=False)   # a draft
    invite_to_bill.open_invitation(session, delta, links.secret, b.token(c[f"{p1}-09"], delta))    # opened
    invite_to_bill.decline(session, steel, links.secret, b.token(c[f"{p1}-10"], steel), DECLINE_NOTE)
    b.review(b.invoice(delta, b.accept(c[f"{p2}-04"], delta), "DD-4101", ["6000"]), A)
    # made by the invoice administrator for the contact, with the subcontractor's PDF, and sent to ERP
    cabling = b.review(b.invoice(bright, c[f"{p2}-10"], "BL-3001", ["9000"], on_behalf=True,
                                 pdf=small_pdf(f"Bright Line Electric - Invoice BL-3001{tag} - Low-voltage cabling")), A)
    services.send(session, invoice_admin, "subcontractor_invoice", cabling.id)
    b.invoice(steel, b.accept(c[f"{p3}-08"], steel), "CS-3101", ["4000"])                        # Under Review
    b.review(b.invoice(green, b.accept(c[f"{p3}-07"], green), "EL-5101", ["3000"]), AN,
             note="Planting approved; the irrigation test report is still due.")
    # a reminder to the new contact, who has not set a password yet
    newcomer = session.scalars(select(BillInvitation).join(User, User.id == BillInvitation.user_id).where(
        BillInvitation.period_id == b.open_ids[c[f"{p1}-02"].project_id],
        User.email == f"{NEW_CONTACT[2]}{tag}@example.com")).one()
    invite_to_bill.remind(session, invoice_admin, c[f"{p1}-02"].project_id, newcomer.id, links, notices)
    return b.open_ids


def pay_in_sage(session: Session, sim, invoices: list[SubcontractorInvoice]):
    """Checks in Sage against synced invoices: the first paid in full by two checks, the second in
    part (the Paid Invoices sync that follows marks them Paid / Partly Paid and mails "Payment issued"
    to the company's people and the invoice contacts); returns what pays the fourth in full once
    that sync has run (waiting for the next one)."""
    refs = []
    for inv in invoices:
        erp = session.scalars(select(ErpItem).where(ErpItem.item_type == "subcontractor_invoice",
                                                    ErpItem.item_id == inv.id, ErpItem.state == State.SYNCED)).first()
        vendor = session.scalar(select(Vendor.erp_vendor_id).join(Commitment, Commitment.vendor_id == Vendor.id)
                                .where(Commitment.id == inv.commitment_id))
        refs.append((vendor, erp.erp_ref, inv.payment_due) if erp is not None and vendor else None)
    today = date.today()
    if refs[0] is not None:
        vendor, invoice, due = refs[0]
        first = (due / 2).quantize(D("0.01"))
        sim.pay_ap_invoice(vendor, invoice, "100201", today - timedelta(days=20), first)
        sim.pay_ap_invoice(vendor, invoice, "100215", today - timedelta(days=6), due - first)
    if refs[1] is not None:
        vendor, invoice, due = refs[1]
        sim.pay_ap_invoice(vendor, invoice, "100216", today - timedelta(days=5), (due * D("0.4")).quantize(D("0.01")))

    def later():
        if refs[3] is not None:
            vendor, invoice, due = refs[3]
            sim.pay_ap_invoice(vendor, invoice, "100230", today, due)
    return later
