"""Commitments through the gate: prerequisites, Sage ID, export to the simulator."""
from decimal import Decimal

import pytest

from portal.domain import services, settings
from portal.domain.errors import Invalid
from portal.domain.lifecycle import State
from portal.domain.models import Commitment, ToolLevel
from portal.queue import RQJobQueue
from tests import factories as f, items as it
from tests.types import direct_export_keys, get_type


@pytest.fixture
def draft(session, sim, home):
    """A draft commitment (Membrane 24,000 on SUB, Flashing 6,000 on MAT) on a synced project."""
    home, admin = home
    item = it.make_item(session, sim, "commitment", home=home, sender=admin, **{"line-1-amount": "6000"})
    return home, admin, session.get(Commitment, item.id)


def test_commitment_goes_send_accept_synced_with_its_items(session, sim, draft, drain):
    home, admin, c = draft
    erp = services.send(session, admin, "commitment", c.id)
    approver = f.approver(session)
    sage_id = f"SC{f.suffix(8)}"
    services.accept(session, approver, erp.id, {"sage_id": sage_id}, RQJobQueue())
    drain()
    session.expire_all()
    erp = services.get_erp_item(session, erp.id)
    assert erp.state == State.SYNCED and erp.erp_ref == sage_id
    assert session.get(Commitment, c.id).erp_commitment_id == sage_id
    head = sim.get_commitment(sage_id)
    assert head["Vendor"] == home.vendor_erp and head["Job"] == home.job
    assert Decimal(str(head["Amount"])) == Decimal("30000")
    assert [i["Description"] for i in sim.list_commitment_items(sage_id)] == ["Membrane", "Flashing"]


def test_prerequisites_and_sage_id_rules(session, draft):
    home, admin, c = draft
    c.status = "Draft"
    c.title = "A title that is much longer than thirty characters"
    session.commit()
    reasons = get_type("commitment").prerequisites(session, get_type("commitment").load(session, c.id))
    assert any("must be Approved or Complete" in r for r in reasons)
    assert any("title must be 30 characters" in r for r in reasons)
    with pytest.raises(Invalid) as exc:
        get_type("commitment").clean_export_fields(session, c, {"sage_id": "X" * 13})
    assert "12 characters" in exc.value.fields["sage_id"]


def test_contract_number_prefills_the_sage_id_when_the_setting_is_on(session, draft):
    home, admin, c = draft
    assert get_type("commitment").export_defaults(c) == {"sage_id": ""}
    erp_admin = f.make_user(session, erp_level=ToolLevel.ADMIN)
    current = settings.load(session)
    form = {"job_number_mask": current.job_number_mask, "use_contract_number_as_sage_id": "on",
            "consolidate_invoice_lines": "on" if current.consolidate_invoice_lines else ""}
    settings.update(session, erp_admin, form, direct_export_keys())
    try:
        assert get_type("commitment").export_defaults(c) == {"sage_id": c.number}
    finally:
        form.pop("use_contract_number_as_sage_id")
        settings.update(session, erp_admin, form, direct_export_keys())


def test_a_sage_id_being_exported_for_another_commitment_is_refused(session, sim, home):
    home, admin = home
    first, second = (it.make_item(session, sim, "commitment", State.READY, home=home, sender=admin) for _ in range(2))
    sage_id = f"S{f.suffix(8)}"
    services.accept(session, f.approver(session), first.erp, {"sage_id": sage_id}, f.NullQueue())
    second = get_type("commitment").load(session, second.id)
    with pytest.raises(Invalid) as refused:
        get_type("commitment").clean_export_fields(session, second, {"sage_id": sage_id.lower()})
    assert refused.value.fields == {"sage_id": f"Sage ID {sage_id.lower()} is being exported for another commitment."}
    assert get_type("commitment").clean_export_fields(session, second, {"sage_id": sage_id + "X"}) == {
        "sage_id": sage_id + "X"}
