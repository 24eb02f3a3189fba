"""The setup checks (portal.domain.setup) and the insurance gate's rules (portal.domain.compliance)
without an app: what a check's state makes of a type, when a certificate is expired or expiring,
and what Accept's fields become per setting."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.domain import compliance, setup
from portal.domain.errors import Invalid
from portal.domain.models import VendorInsurance
from portal.exporters.sage300.connectors import FileDropConnector
from portal.exporters.sage300.records import ConnectorUnavailable, SetupCheck
from tests.types import get_type

TODAY = date(2026, 11, 2)
INVOICE, COMMITMENT = get_type("subcontractor_invoice"), get_type("commitment")


class Sage:
    def __init__(self, *checks: SetupCheck, down: bool = False):
        self.checks, self.down = list(checks), down

    def setup_checks(self):
        if self.down:
            raise ConnectorUnavailable("Sage 300 CRE simulator unavailable: no route")
        return self.checks


REQUIRED = SetupCheck("ap_date_received_usage", "Sage AP setting Date Received Usage", False, "Required",
                      "set it to Not Required in Sage AP Settings (Invoice Settings)")
MET = SetupCheck("ap_payment_date_usage", "Sage AP setting Payment Date Usage", True, "Not Used")


def test_rows_list_every_prerequisite_of_every_type_with_its_state_and_what_to_do():
    rows = setup.rows({c.key: c for c in (REQUIRED, MET)})
    assert [(r.item_type.key, r.status, r.state) for r in rows] == [
        ("subcontractor_invoice", setup.FAILS, "Required"), ("subcontractor_invoice", setup.MET, "Not Used"),
        ("subcontractor_invoice", setup.UNCHECKED, "not reported by this connector")]
    assert rows[0].todo == REQUIRED.fix and rows[1].todo == ""


def test_a_failing_check_refuses_its_types_and_no_other():
    with pytest.raises(Invalid) as exc:
        setup.refuse_unless_ready(INVOICE, Sage(REQUIRED, MET))
    assert exc.value.fields == {"_": "Sage AP setting Date Received Usage is Required: set it to Not Required "
                                     "in Sage AP Settings (Invoice Settings)."}
    setup.refuse_unless_ready(COMMITMENT, Sage(REQUIRED))  # commitments need none of it
    setup.refuse_unless_ready(INVOICE, None)               # no connector asked: nothing checked


@pytest.mark.parametrize("sage", [Sage(down=True), FileDropConnector("/nonexistent/drop")],
                         ids=["unreachable", "file-drop"])
def test_what_cannot_be_checked_refuses_nothing_and_says_so(sage):
    setup.refuse_unless_ready(INVOICE, sage)
    checks, why = setup.read_checks(sage)
    assert all(r.status == setup.UNCHECKED for r in setup.rows(checks, why))
    assert setup.failures(INVOICE, checks) == []


@pytest.mark.parametrize("expires, status", [
    (TODAY - timedelta(days=1), compliance.EXPIRED), (TODAY, compliance.EXPIRING),
    (TODAY + timedelta(days=30), compliance.EXPIRING), (TODAY + timedelta(days=31), compliance.VALID),
    (None, compliance.EXPIRED)])
def test_a_certificate_is_expired_after_its_date_and_expiring_within_30_days(expires, status):
    assert compliance.status_of(expires, TODAY) == status


def test_problems_are_the_required_certificates_missing_or_expired():
    held = [VendorInsurance(insurance_type="general_liability", expiration_date=TODAY - timedelta(days=2)),
            VendorInsurance(insurance_type="umbrella", expiration_date=TODAY + timedelta(days=5))]
    required = ["general_liability", "umbrella", "workers_compensation"]
    assert compliance.problems_of(held, required, TODAY) == (
        "General Liability expired 10/31/2026", "Workers' Compensation missing")
    assert compliance.problems_of(held, ["umbrella"], TODAY) == ()


def gate_of(mode: str, hold: bool = False, problems=("Umbrella missing",)) -> compliance.Gate:
    return compliance.Gate(mode, hold, "Acme Framing", problems)


@pytest.mark.parametrize("gate, item_type, fields", [
    (None, INVOICE, {"erp_id": "1"}),  # a hold typed in is never taken
    (gate_of(compliance.NOT_REQUIRED), INVOICE, {"erp_id": "1"}),
    (gate_of(compliance.WARN), INVOICE, {"erp_id": "1"}),
    (gate_of(compliance.BLOCK, problems=()), INVOICE, {"erp_id": "1"}),
    (gate_of(compliance.BLOCK, hold=True), INVOICE, {"erp_id": "1", "hold": True}),
], ids=["no-gate", "not-required", "warn", "nothing-wrong", "on-hold"])
def test_accept_fields_after_the_gate(gate, item_type, fields):
    assert compliance.decide(item_type, gate, {"erp_id": "1", "hold": True} if gate is None else {"erp_id": "1"}) \
        == fields


@pytest.mark.parametrize("gate, item_type", [(gate_of(compliance.BLOCK), INVOICE),
                                             (gate_of(compliance.BLOCK, hold=True), COMMITMENT)],
                         ids=["block", "commitment-cannot-be-held"])
def test_block_refuses_with_the_list(gate, item_type):
    with pytest.raises(Invalid) as exc:
        compliance.decide(item_type, gate, {"erp_id": "1"})
    assert exc.value.fields["_"].startswith("Accept refused: Acme Framing's insurance: Umbrella missing.")
