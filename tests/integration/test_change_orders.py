"""Commitment change orders: only from synced commitments; same-line changes summed;
a new line becomes a commitment item first."""
from decimal import Decimal

import pytest

from portal.domain import items, services
from portal.domain.errors import Invalid
from portal.domain.lifecycle import State
from portal.domain.models import Commitment, CommitmentLine
from tests import factories as f, items as it
from tests.types import get_type


def test_cco_sums_changes_to_one_line_and_adds_a_new_line(session, sim, home, export):
    home, admin = home
    # line 1 changed twice (1,000 + 500), a new Sealant line of 750
    cco = items.save_item(session, admin, "cco", home.pid, None, it.form_data(session, sim, "cco", home))
    kind = get_type("cco")
    new_item, batch = kind.build_batches(session, kind.load(session, cco.id), {"cco_id": "CO1", "description": "x"},
                                         "b1")
    assert [type(r).__name__ for r in new_item.records] == ["JCCommitmentItem"]
    kinds = [type(r).__name__ for r in batch.records]
    assert kinds == ["JCCommitmentCO", "JCCommitmentCOItem", "JCCommitmentCOItem"]
    summed = [r for r in batch.records if type(r).__name__ == "JCCommitmentCOItem" and r.item == "1"]
    assert len(summed) == 1 and summed[0].amount == Decimal("1500.00")

    cco_id = f"C{f.suffix(6)}"
    erp = export(services.send(session, admin, "cco", cco.id), {"cco_id": cco_id})
    assert erp.state == State.SYNCED, erp.sage_message
    assert sim.get_cco(home.commitment_erp, cco_id) is not None
    new_lines = session.query(CommitmentLine).filter_by(commitment_id=home.commitment, description="Sealant").all()
    assert len(new_lines) == 1 and new_lines[0].line_no == 3


def test_only_synced_commitments_and_approved_status(session, sim, home):
    home, admin = home
    session.get(Commitment, home.commitment).erp_commitment_id = None
    session.commit()
    with pytest.raises(Invalid) as exc:
        items.save_item(session, admin, "cco", home.pid, None, it.form_data(session, sim, "cco", home, status="Draft"))
    assert "synced commitments" in exc.value.fields["commitment_id"]


def test_a_cco_id_taken_by_another_change_order_is_refused_at_accept(session, sim, home):
    home, admin = home
    prefix = f"CO-{f.suffix(7)}"                     # 10 characters: the default CCO ID of both
    first, second = (it.make_item(session, sim, "cco", State.READY, home=home, sender=admin, number=prefix + end)
                      for end in ("-A", "-B"))
    approver = f.approver(session)
    kind = get_type("cco")
    services.accept(session, approver, first.erp, kind.export_defaults(kind.load(session, first.id)), f.NullQueue())
    with pytest.raises(Invalid) as refused:
        services.accept(session, approver, second.erp, {"cco_id": prefix}, f.NullQueue())
    assert refused.value.fields["cco_id"].startswith(f"CCO ID {prefix} is already used")
    assert services.get_erp_item(session, second.erp).state == State.READY
    services.accept(session, approver, second.erp, {"cco_id": prefix[:8] + "-B"}, f.NullQueue())
    assert services.get_erp_item(session, second.erp).state == State.EXPORTING
