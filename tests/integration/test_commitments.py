"""Commitments through the gate: prerequisites, Sage ID, export to the simulator."""
from decimal import Decimal

import pytest

from portal.domain.types import direct_export_keys
from portal.domain import services, settings
from portal.domain.types import get_type

COMMITMENTS = get_type("commitment")
from portal.domain.errors import Invalid
from portal.domain.lifecycle import State
from portal.domain.models import Commitment, CommitmentLine, ToolLevel
from portal.queue import RQJobQueue
from tests import factories as f


@pytest.fixture
def draft(session, sim):
    admin = f.make_user(session)
    setup = f.Setup(session, sim)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    c = Commitment(project_id=setup.project.id, vendor_id=setup.vendor.id,
                   number=f"SC-{f.suffix(6)}", title="Waterproofing", commitment_type="subcontract",
                   status="Approved", retainage_pct=Decimal("10"), created_by_id=admin.id)
    session.add(c)
    session.flush()
    session.add_all([CommitmentLine(commitment_id=c.id, line_no=1, description="Membrane",
                                    category_id=setup.sub.id, amount=Decimal("24000")),
                     CommitmentLine(commitment_id=c.id, line_no=2, description="Flashing",
                                    category_id=setup.mat.id, amount=Decimal("6000"))])
    session.commit()
    return setup, admin, c


def test_commitment_goes_send_accept_synced_with_its_items(session, sim, draft, drain):
    setup, admin, c = draft
    erp = services.send(session, admin, COMMITMENTS.key, c.id)
    approver = f.approver(session)
    sage_id = f"SC{f.suffix(8)}"
    services.accept(session, approver, erp.id, {"sage_id": sage_id}, RQJobQueue())
    drain()
    session.expire_all()
    erp = services.get_erp_item(session, erp.id)
    assert erp.state == State.SYNCED and erp.erp_ref == sage_id
    assert session.get(Commitment, c.id).erp_commitment_id == sage_id
    head = sim.get_commitment(sage_id)
    assert head["Vendor"] == setup.vendor.erp_vendor_id and head["Job"] == setup.project.sage_job_id
    assert Decimal(str(head["Amount"])) == Decimal("30000")
    assert [i["Description"] for i in sim.list_commitment_items(sage_id)] == ["Membrane", "Flashing"]


def test_prerequisites_and_sage_id_rules(session, draft):
    setup, admin, c = draft
    c.status = "Draft"
    c.title = "A title that is much longer than thirty characters"
    session.commit()
    reasons = COMMITMENTS.prerequisites(session, COMMITMENTS.load(session, c.id))
    assert any("must be Approved or Complete" in r for r in reasons)
    assert any("title must be 30 characters" in r for r in reasons)
    with pytest.raises(Invalid) as exc:
        COMMITMENTS.clean_export_fields(session, c, {"sage_id": "X" * 13})
    assert "12 characters" in exc.value.fields["sage_id"]


def test_contract_number_prefills_the_sage_id_when_the_setting_is_on(session, draft):
    setup, admin, c = draft
    assert COMMITMENTS.export_defaults(c) == {"sage_id": ""}
    erp_admin = f.make_user(session, erp_level=ToolLevel.ADMIN)
    current = settings.load(session)
    form = {"job_number_mask": current.job_number_mask, "use_contract_number_as_sage_id": "on",
            "consolidate_invoice_lines": "on" if current.consolidate_invoice_lines else ""}
    settings.update(session, erp_admin, form, direct_export_keys())
    try:
        assert COMMITMENTS.export_defaults(c) == {"sage_id": c.number}
    finally:
        form.pop("use_contract_number_as_sage_id")
        settings.update(session, erp_admin, form, direct_export_keys())


def test_a_sage_id_being_exported_for_another_commitment_is_refused(session, sim):
    from portal.domain.models import ErpItem
    setup = f.Setup(session, sim)
    erps = []
    for n in range(2):
        c = Commitment(project_id=setup.project.id, vendor_id=setup.vendor.id, number=f"N{n}{f.suffix()}",
                       title="t", status="Approved")
        session.add(c)
        session.flush()
        erps.append(ErpItem(item_type="commitment", item_id=c.id, project_id=setup.project.id,
                            state=State.READY, attempt=0))
    session.add_all(erps)
    sage_id = f"S{f.suffix(8)}"
    erps[0].state, erps[0].export_fields = State.EXPORTING, {"sage_id": sage_id}
    session.commit()
    second = COMMITMENTS.load(session, erps[1].item_id)
    with pytest.raises(Invalid) as refused:
        COMMITMENTS.clean_export_fields(session, second, {"sage_id": sage_id.lower()})
    assert refused.value.fields == {"sage_id": f"Sage ID {sage_id.lower()} is being exported for another commitment."}
    assert COMMITMENTS.clean_export_fields(session, second, {"sage_id": sage_id + "X"}) == {"sage_id": sage_id + "X"}
