"""Edits are history, for every editable type of the registry: an edit after the item was first
sent is recorded (old -> new, who, when) with the edit, and the resend carries what changed since
the rejection; a draft never sent, or an edit that changes nothing, leaves no record."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain import edits, services
from portal.domain.errors import Invalid
from portal.domain.lifecycle import State
from portal.domain.models import ErpAudit, ErpEdit, ErpItem
from tests import factories as f, items as it
from tests.types import get_type, type_keys

EDITABLE = [key for key in type_keys() if it.builder(key).editable]


def test_every_type_that_can_be_edited_is_covered():
    assert "subcontractor_invoice" in EDITABLE and "commitment" in EDITABLE and "budget_change" not in EDITABLE


def _mentions(text: str, marker) -> bool:
    """Whether a change's text names the edit's marker (an amount in any of the ways it is shown)."""
    if isinstance(marker, Decimal):
        return any(shown in text for shown in (f"{marker:,.2f}", f"{marker:.2f}", str(marker)))
    return str(marker) in text


def _edits(session, erp_id: int) -> list[ErpEdit]:
    session.expire_all()
    return list(session.scalars(select(ErpEdit).where(ErpEdit.erp_item_id == erp_id).order_by(ErpEdit.id)))


@pytest.mark.parametrize("key", EDITABLE)
def test_an_edit_after_a_rejection_is_history_and_the_resend_says_what_changed(session, sim, home, key):
    home, _ = home
    admin = f.make_user(session, site_admin=True)  # vendors are the site administrators' to edit
    approver = f.approver(session)
    item = it.make_item(session, sim, key, State.REJECTED, home=home, sender=admin, approver=approver)
    item_type = get_type(key)
    before = item_type.edited_values(session, item_type.load(session, item.id))
    assert before.fields or before.lines, f"{key} reports nothing an edit may change"

    form, marker = it.edit_data(session, item)
    it.save_edit(session, admin, item, form)

    [edit] = _edits(session, item.erp)
    changes = edits.changes_of(edit)
    assert changes and edit.actor_id == admin.id and edit.at is not None
    assert all(c.old != c.new for c in changes)
    said = "; ".join(c.text for c in changes)
    assert _mentions(said, marker), said

    services.send(session, admin, key, item.id)
    erp = session.get(ErpItem, item.erp)
    assert erp.state == State.READY and erp.resend_note == edits.summary(changes)
    resend = session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == item.erp)
                             .order_by(ErpAudit.id.desc()).limit(1)).one()
    assert (resend.action, resend.detail) == ("resend", {"changes": erp.resend_note})

    rows = edits.history(session, erp)
    assert [r.action for r in rows] == ["send", "reject", edits.EDIT, "resend"]
    assert rows[2].changes == tuple(changes) and rows[2].actor.id == admin.id


@pytest.mark.parametrize("key", ["subcontractor_invoice", "commitment"])
def test_a_draft_never_sent_and_an_edit_that_changes_nothing_leave_no_record(session, sim, home, key):
    home, admin = home
    draft = it.make_item(session, sim, key, home=home, sender=admin)
    form, _ = it.edit_data(session, draft)
    it.save_edit(session, admin, draft, form)
    assert services.find_erp_item(session, key, draft.id) is None

    rejected = it.make_item(session, sim, key, State.REJECTED, home=home, sender=admin,
                            approver=f.approver(session))
    item_type = get_type(key)
    unchanged = item_type.form_values(item_type.load(session, rejected.id)) if key != "subcontractor_invoice" \
        else it.invoice_form(session, rejected)
    it.save_edit(session, admin, rejected, unchanged)
    assert _edits(session, rejected.erp) == []
    services.send(session, admin, key, rejected.id)
    assert session.get(ErpItem, rejected.erp).resend_note == ""   # resent, nothing changed


def test_a_refused_edit_records_nothing(session, sim, home):
    home, admin = home
    item = it.make_item(session, sim, "subcontractor_invoice", State.REJECTED, home=home, sender=admin,
                        approver=f.approver(session))
    with pytest.raises(Invalid):
        it.save_edit(session, admin, item, it.invoice_form(session, item, number="X", billing_date="not a date"))
    assert session.scalar(select(func.count()).select_from(ErpEdit).where(ErpEdit.erp_item_id == item.erp)) == 0


def test_the_resend_sums_up_several_edits_since_the_rejection_only(session, sim, home):
    home, admin = home
    approver = f.approver(session)
    item = it.make_item(session, sim, "subcontractor_invoice", State.REJECTED, home=home, sender=admin,
                        approver=approver)
    it.save_edit(session, admin, item, it.invoice_form(session, item, **{"line-FIRST-retainage": "150"}))
    services.send(session, admin, item.key, item.id)
    services.reject(session, approver, item.erp, "Still wrong", f.NullQueue(), it.COMPANY, lambda e: it.LINK)
    it.save_edit(session, admin, item, it.invoice_form(session, item, **{"line-FIRST-retainage": "175"}))
    it.save_edit(session, admin, item, it.invoice_form(session, item, billing_date="2026-11-03"))
    services.send(session, admin, item.key, item.id)
    assert session.get(ErpItem, item.erp).resend_note == (
        "Retainage $150.00 → $175.00 on line 1; Billing date 10/31/2026 → 11/03/2026")
