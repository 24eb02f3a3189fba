"""Commitment change orders: only from synced commitments; same-line changes summed;
a new line becomes a commitment item first."""
from decimal import Decimal

import pytest

from portal.domain import items, services
from portal.domain.types import get_type

CCOS = get_type("cco")
from portal.domain.errors import Invalid
from portal.domain.lifecycle import State
from portal.domain.models import CommitmentLine, ToolLevel
from portal.queue import RQJobQueue
from tests import factories as f


@pytest.fixture
def synced(session, sim):
    admin = f.make_user(session)
    setup = f.Setup(session, sim)
    f.member(session, admin, setup.project, ToolLevel.ADMIN)
    return setup, admin


def test_cco_sums_changes_to_one_line_and_adds_a_new_line(session, sim, synced, drain):
    setup, admin = synced
    cco = items.save_item(session, admin, "cco", setup.project.id, None, {
        "commitment_id": str(setup.commitment.id), "number": f"CO{f.suffix(4)}",
        "title": "Added scope", "status": "Approved",
        "line-0-commitment_line_id": str(setup.line1.id), "line-0-amount": "1000",
        "line-1-commitment_line_id": str(setup.line1.id), "line-1-amount": "500",
        "line-2-description": "Sealant", "line-2-category_id": str(setup.mat.id), "line-2-amount": "750"})
    batch = CCOS.build_batch(session, CCOS.load(session, cco.id), {"cco_id": "CO1", "description": "x"}, "b1")
    kinds = [type(r).__name__ for r in batch.records]
    assert kinds == ["JCCommitmentItem", "JCCommitmentCO", "JCCommitmentCOItem", "JCCommitmentCOItem"]
    summed = [r for r in batch.records if type(r).__name__ == "JCCommitmentCOItem" and r.item == "1"]
    assert len(summed) == 1 and summed[0].amount == Decimal("1500.00")

    erp = services.send(session, admin, "cco", cco.id)
    cco_id = f"C{f.suffix(6)}"
    services.accept(session, f.approver(session), erp.id, {"cco_id": cco_id}, RQJobQueue())
    drain()
    session.expire_all()
    erp = services.get_erp_item(session, erp.id)
    if erp.state != State.SYNCED:
        pytest.fail(erp.sage_message)
    assert sim.get_cco(setup.commitment.erp_commitment_id, cco_id) is not None
    new_lines = session.query(CommitmentLine).filter_by(commitment_id=setup.commitment.id,
                                                        description="Sealant").all()
    assert len(new_lines) == 1 and new_lines[0].line_no == 3


def test_only_synced_commitments_and_approved_status(session, synced):
    setup, admin = synced
    setup.commitment.erp_commitment_id = None
    session.commit()
    with pytest.raises(Invalid) as exc:
        items.save_item(session, admin, "cco", setup.project.id, None, {
            "commitment_id": str(setup.commitment.id), "number": "CO9", "title": "t",
            "status": "Draft", "line-0-commitment_line_id": str(setup.line1.id), "line-0-amount": "1"})
    assert "synced commitments" in exc.value.fields["commitment_id"]


def _sent_cco(session, setup, admin, number):
    cco = items.save_item(session, admin, "cco", setup.project.id, None, {
        "commitment_id": str(setup.commitment.id), "number": number, "title": "Scope", "status": "Approved",
        "line-0-commitment_line_id": str(setup.line1.id), "line-0-amount": "100"})
    return services.send(session, admin, "cco", cco.id)


def test_a_cco_id_taken_by_another_change_order_is_refused_at_accept(session, synced):
    from tests.factories import NullQueue
    setup, admin = synced
    prefix = f"CO-{f.suffix(7)}"                     # 10 characters: the default CCO ID of both
    first = _sent_cco(session, setup, admin, prefix + "-A")
    second = _sent_cco(session, setup, admin, prefix + "-B")
    approver = f.approver(session)
    services.accept(session, approver, first.id, CCOS.export_defaults(CCOS.load(session, first.item_id)), NullQueue())
    with pytest.raises(Invalid) as refused:
        services.accept(session, approver, second.id, {"cco_id": prefix}, NullQueue())
    assert refused.value.fields["cco_id"].startswith(f"CCO ID {prefix} is already used")
    assert services.get_erp_item(session, second.id).state == State.READY
    services.accept(session, approver, second.id, {"cco_id": prefix[:8] + "-B"}, NullQueue())
    assert services.get_erp_item(session, second.id).state == State.EXPORTING
