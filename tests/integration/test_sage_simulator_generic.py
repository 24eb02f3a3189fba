"""A batch kind the simulator has no importer for, against its database: checked with Sage's
texts, stored in SIM_GENERIC_RECORD, logged and replayed like any other, found for unlinking,
written to the drop folder. SQLite in tmp_path by default; PostgreSQL (a fresh schema per
test) when DATABASE_URL starts with "postgresql".
"""
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

import pytest
from sqlalchemy import event, func, select

from portal.exporters.sage300 import records as r
from portal.exporters.sage300.connectors import SimulatorConnector
from portal.exporters.sage300.fileformat import (
    FILE_ENCODING,
    drop_file_name,
    parse_import_file,
)
from portal.exporters.sage300.simulator import (
    BLANK,
    generic_record_t,
    record_exists,
    too_long,
)
from portal.exporters.sage300.troubleshooting import explain


@dataclass(frozen=True)
class ARCustomer:
    customer: str
    name: str
    city: str = ""
    since: date | None = None

    SAGE_FIELDS: ClassVar[r.Fields] = (
        r.SageField("Customer", "customer", 10, required=True), r.SageField("Name", "name", 30, required=True),
        r.SageField("AddressCity", "city", 30), r.SageField("Since", "since"))
    SAGE_KEY: ClassVar[tuple[str, ...]] = ("customer",)
    SAGE_TABLE: ClassVar[str] = "AR Customer"


@dataclass(frozen=True)
class CustomerContact:
    customer: str
    contact: str

    SAGE_FIELDS: ClassVar[r.Fields] = (r.SageField("Customer", "customer", 10, required=True),
                                       r.SageField("Contact", "contact", 20, required=True))
    SAGE_KEY: ClassVar[tuple[str, ...]] = ("customer", "contact")
    SAGE_TABLE: ClassVar[str] = "AR Contact"


@dataclass(frozen=True)
class Undeclared:
    customer: str


KIND = "ar_customer"


@pytest.fixture
def sim(make_sim, tmp_path):
    s = make_sim(drop_folder=str(tmp_path / "drop"))
    s.create_all()
    return s


def batch(batch_id, *records, kind=KIND):
    return r.Batch(batch_id, kind, records)


def stored(sim):
    with sim.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(generic_record_t))


def test_a_generic_batch_is_imported_logged_and_replayed(sim, clock):
    owner = ARCustomer("CU-1", "City of Springfield", "Springfield", date(2026, 10, 1))
    first = sim.submit(batch("b-1", owner, CustomerContact("CU-1", "Pat"), CustomerContact("CU-1", "Lee")))
    assert (first.ok, first.message, first.reference, first.replayed) == (True, "", "CU-1", False)
    rows = sim.list_generic(KIND)
    assert [(row["Record"], row["Key"]) for row in rows] == [
        ("AR Contact", ("CU-1", "Lee")), ("AR Contact", ("CU-1", "Pat")), ("AR Customer", ("CU-1",))]
    assert rows[2]["Fields"] == {"customer": "CU-1", "name": "City of Springfield", "city": "Springfield",
                                 "since": "10/01/2026"}
    assert {row["Batch_ID"] for row in rows} == {"b-1"} and rows[0]["Created_At"] == datetime(2026, 10, 1, 12)
    log = sim.import_log("b-1")
    assert (log["Kind"], log["Ok"], log["Reference"]) == (KIND, True, "CU-1")

    again = sim.submit(batch("b-1", owner))
    assert (again.ok, again.reference, again.replayed) == (True, "CU-1", True)
    assert stored(sim) == 3


@pytest.mark.parametrize("record, message", [
    (ARCustomer("CU-1", " "), BLANK),
    (ARCustomer("", "Owner"), BLANK),
    (ARCustomer("CU-1234567890", "Owner"), too_long("Customer", 10)),
    (ARCustomer("CU-1", "Owner", city="X" * 31), too_long("AddressCity", 30)),
])
def test_blank_and_too_long_are_refused_with_sages_texts(sim, record, message):
    result = sim.submit(batch("b-1", record))
    assert (result.ok, result.message) == (False, message)
    assert explain(result.message) is not None
    assert stored(sim) == 0 and sim.import_log("b-1")["Message"] == message
    assert sim.submit(batch("b-1", ARCustomer("CU-1", "Owner"))).replayed  # the refusal is the batch's result


def test_a_key_already_in_sage_is_refused_and_nothing_is_stored(sim):
    assert sim.submit(batch("b-1", ARCustomer("CU-1", "Owner"))).ok
    again = sim.submit(batch("b-2", ARCustomer("CU-2", "Other"), ARCustomer("CU-1", "Owner again")))
    assert (again.ok, again.message) == (False, "An entity of type [AR Customer] already exists with the "
                                                "specified id.")
    assert again.message == record_exists("AR Customer") and explain(again.message) is not None
    twice = sim.submit(batch("b-3", CustomerContact("CU-3", "Pat"), CustomerContact("CU-3", "Pat")))
    assert twice.message == record_exists("AR Contact")
    assert [row["Key"] for row in sim.list_generic(KIND)] == [("CU-1",)]
    # the same key under another kind, or another record type, is another record
    assert sim.submit(batch("b-4", ARCustomer("CU-1", "Owner"), kind="ar_customer_v2")).ok
    assert sim.submit(batch("b-5", CustomerContact("CU-1", "CU-1"))).ok


def test_held_by_sage_finds_the_record_by_its_fields_so_unlink_can_check(sim):
    connector = SimulatorConnector(sim)
    assert connector.reader is sim and connector.sim is sim
    sim.submit(batch("b-1", ARCustomer("CU-1", "Owner"), CustomerContact("CU-1", "Pat")))
    sim.submit(batch("b-2", ARCustomer("CU-2", "Other")))
    assert connector.held_by_sage(KIND, {"customer": "CU-1"}) == ["AR Contact CU-1/Pat", "AR Customer CU-1"]
    assert connector.held_by_sage(KIND, {"customer": "CU-1", "contact": "Pat"}) == ["AR Contact CU-1/Pat"]
    assert connector.held_by_sage(KIND, {"customer": "CU-9"}) == []
    assert connector.held_by_sage(KIND, {"customer": ""}) == []
    assert connector.held_by_sage("other_kind", {"customer": "CU-1"}) == []
    assert sim.delete_generic(KIND, {"customer": "CU-1"}) == 2
    assert connector.held_by_sage(KIND, {"customer": "CU-1"}) == []
    assert connector.held_by_sage(KIND, {"customer": "CU-2"}) == ["AR Customer CU-2"]


def test_the_drop_folder_gets_the_generic_import_file(sim, tmp_path):
    sim.submit(batch("b/1", ARCustomer("CU-1", "Owner", since=date(2026, 1, 2)), CustomerContact("CU-1", "Pat")))
    text = (tmp_path / "drop" / drop_file_name("b/1")).read_bytes().decode(FILE_ENCODING)
    assert parse_import_file(text) == [[KIND, "CU-1", "Owner", "", "01/02/2026"], [KIND, "CU-1", "Pat"]]
    refused = sim.submit(batch("b-2", ARCustomer("CU-1", "Owner")))
    assert not refused.ok and not (tmp_path / "drop" / drop_file_name("b-2")).exists()


@pytest.mark.parametrize("records, kind, match", [
    ((Undeclared("CU-1"),), KIND, "unknown batch kind 'ar_customer'"),
    ((ARCustomer("CU-1", "x"), Undeclared("CU-2")), KIND, "unknown batch kind"),
    ((), KIND, "unknown batch kind"),
    ((ARCustomer("CU-1", "x"),), "k" * 31, "a batch kind has 1 to 30 characters"),
    ((ARCustomer("CU-1", "x"),), "ap_vendor", "a ap_vendor batch holds one APVendor first"),
])
def test_malformed_batches_are_value_errors_and_import_nothing(sim, records, kind, match):
    with pytest.raises(ValueError, match=match):
        sim.submit(batch("b-1", *records, kind=kind))
    assert sim.import_log("b-1") is None and stored(sim) == 0


def test_a_reference_longer_than_the_import_log_takes_is_a_value_error(sim):
    @dataclass(frozen=True)
    class Wide:
        a: str
        b: str
        SAGE_FIELDS: ClassVar[r.Fields] = (r.SageField("A", "a", 30), r.SageField("B", "b", 30))
        SAGE_KEY: ClassVar[tuple[str, ...]] = ("a", "b")

    assert sim.submit(batch("b-1", Wide("a" * 20, "b" * 19), kind="wide")).reference == "a" * 20 + "/" + "b" * 19
    with pytest.raises(ValueError, match="longer than the import log's 40 characters"):
        sim.submit(batch("b-2", Wide("a" * 20, "b" * 20), kind="wide"))
    assert sim.import_log("b-2") is None


def test_a_generic_batch_costs_the_same_statements_at_1_and_20_records(sim):
    seen = []

    def count(*args):
        seen.append(args[2])
    event.listen(sim.engine, "before_cursor_execute", count)
    try:
        sim.submit(batch("b-1", ARCustomer("CU-1", "Owner")))
        one = len(seen)
        seen.clear()
        sim.submit(batch("b-2", *(ARCustomer(f"CU-{n + 10}", "Owner") for n in range(20))))
    finally:
        event.remove(sim.engine, "before_cursor_execute", count)
    # lock/BEGIN, import log + settings, the keys already there, the records, the import log
    assert one == len(seen) == 5
