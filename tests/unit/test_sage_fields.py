"""Records declare their Sage fields (records.SageField); one check validates any record."""
import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from portal.exporters.sage300 import records as r
from portal.exporters.sage300.fileformat import KIND_RECORDS
from portal.exporters.sage300.simulator import rules

RECORDS = sorted({cls for kinds in KIND_RECORDS.values() for cls in kinds}, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_every_import_record_declares_fields_it_has(cls):
    attrs = {f.name for f in dataclasses.fields(cls)}
    specs = cls.SAGE_FIELDS + getattr(cls, "PCCO_FIELDS", ()) + getattr(cls, "SCHEDULE_CHANGE_FIELDS", ())
    assert specs and all(isinstance(f, r.SageField) for f in specs)
    assert {f.attr for f in specs} <= attrs
    assert "SAGE_FIELDS" not in attrs  # a class attribute, not a dataclass field


def test_lengths_are_the_facts_pages():
    limit = {(cls.__name__, f.attr): f.limit for cls in RECORDS for f in cls.SAGE_FIELDS}
    assert limit[("JCJob", "job")] == 10 and limit[("JCJob", "description")] == 30
    assert limit[("JCJob", "city")] == 15 and limit[("APVendor", "address_1")] == 33
    assert limit[("JCCategory", "category")] == 3 and limit[("JCCostCode", "cost_code")] == 12
    assert limit[("JCCommitment", "commitment")] == 12 and limit[("JCCommitmentCO", "cco")] == 10
    assert limit[("APInvoice", "invoice")] == 15 and limit[("JCTransaction", "ref_1")] == 36
    assert r.JCTransaction.PCCO_FIELDS[0] == r.SageField("Number", "ref_1", 20)


def vendor(**kw):
    values = dict(vendor="V1", name="Acme", address_1="", city="", state="", zip="", telephone="", fax="",
                  vendor_type="")
    return r.APVendor(**{**values, **kw})


def test_blank_before_too_long_then_the_first_too_long_in_declared_order():
    assert rules.field_error(vendor()) is None
    assert rules.field_error(vendor(name=" ", vendor="X" * 11)) == rules.BLANK
    assert rules.field_error(vendor(city="C" * 31, zip="Z" * 11)) == rules.too_long("AddressCity", 30)
    assert rules.field_error(vendor(vendor="X" * 11, fax="9" * 16)) == rules.too_long("Vendor", 10)
    with pytest.raises(rules.Refused, match=r"^\[Fax\] is too long, maximum length is 15 characters\.$"):
        rules.check_fields(vendor(fax="9" * 16))


def test_a_use_of_a_record_may_check_other_fields():
    change = r.JCTransaction("J-1", "", "", "", "Approved Schedule Value Change", date(2026, 10, 1), "Canopy",
                             Decimal("10"), ref_1="P" * 21, contract="CN-1", contract_item="1")
    assert rules.field_error(change) == rules.BLANK                       # an estimate needs a cost code
    assert rules.field_error(change, r.JCTransaction.SCHEDULE_CHANGE_FIELDS) == rules.too_long("Number", 20)
    assert rules.field_error(change, r.JCTransaction.SAGE_FIELDS[:1]) is None


def test_field_text():
    assert [r.field_text(v) for v in (None, "a", True, False, date(2026, 1, 2), Decimal("1.50"), 3)] == [
        "", "a", "Y", "N", "01/02/2026", "1.50", "3"]
