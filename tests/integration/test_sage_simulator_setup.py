"""The Sage 300 CRE simulator's setup kinds (ap_vendor, jc_job, jc_extra, jc_cost_codes) against a
real database.

SQLite in tmp_path by default; PostgreSQL (a fresh schema per test, dropped afterwards) when
DATABASE_URL starts with "postgresql" (the fixtures follow test_sage_simulator.py).
"""
import os
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from portal.exporters.sage300 import simulator as simmod
from portal.exporters.sage300.connectors import FileDropConnector, SimulatorConnector
from portal.exporters.sage300.fileformat import FILE_ENCODING, drop_file_name, parse_import_file
from portal.exporters.sage300.mapping import map_cost_codes, map_extra, map_job, map_vendor
from portal.exporters.sage300.records import (
    APDistribution,
    APInvoice,
    Batch,
    CategoryData,
    ConnectorUnavailable,
    CostCodeData,
    CostCodesData,
    ExtraData,
    JCCategory,
    JCCostCode,
    JobData,
    VendorData,
)
from portal.exporters.sage300.troubleshooting import explain
from tests.sage_db import simulator, submit_at_once
from tests.sage_texts import (
    BLANK,
    EXTRA_EXISTS,
    JOB_CLOSED,
    JOB_EXISTS,
    NOT_FOUND,
    RATE_LIMITED,
    VENDOR_EXISTS,
    too_long,
)

# ---- fixtures -------------------------------------------------------------------

@pytest.fixture
def sim(make_sim, tmp_path):
    return simulator(make_sim, tmp_path, seed)


def seed(s):
    s.add_vendor("ACME", "Acme Framing", city="Springfield")
    s.add_job("J-1", "Main Street Tower")
    s.add_cost_code("J-1", "01-100", "Framing")
    s.add_category("J-1", "01-100", "SUB", "Subcontract")
    s.add_extra("J-1", "E1", "Lobby upgrade")
    s.add_cost_code("J-1", "01-100", "Framing", extra="E1")
    s.add_category("J-1", "01-100", "SUB", "Subcontract", extra="E1")
    s.add_job("J-OLD", "Finished job", status="Closed")


CODES = (
    CostCodeData("01-100", "Framing", (CategoryData("SUB", "Subcontract"), CategoryData("MAT", "Material"))),
    CostCodeData("02-200", "Drywall", (CategoryData("LAB", "Labor"),)),
)


def vendor_batch(batch_id="v-1", **kw):
    values = dict(vendor="V-NEW", name="New Drywall Co", address="9 Elm St", city="Peoria", state="IL",
                  zip="61602", phone="309-555-0199", fax="309-555-0198", vendor_type="SUB")
    values.update(kw)
    return map_vendor(VendorData(**values), batch_id)


def job_batch(batch_id="j-1", **kw):
    values = dict(job="J-NEW", name="Harbor Lofts", address="5 Dock Rd", city="Quincy", state="IL",
                  zip="62301", cost_codes=CODES)
    values.update(kw)
    return map_job(JobData(**values), batch_id)


def extra_batch(batch_id="x-1", **kw):
    values = dict(job="J-1", extra="E2", description="Roof deck", cost_codes=CODES)
    values.update(kw)
    return map_extra(ExtraData(**values), batch_id)


def codes_batch(batch_id="c-1", job="J-1", extra="", cost_codes=CODES):
    return map_cost_codes(CostCodesData(job, extra, cost_codes), batch_id)


TABLES = (simmod.vendor_t, simmod.job_t, simmod.extra_t, simmod.cost_code_t, simmod.category_t,
          simmod.invoice_t)


def counts(s):
    with s.engine.connect() as conn:
        return tuple(conn.scalar(select(func.count()).select_from(t)) for t in TABLES)


def refused(s, batch, message):
    before = counts(s)
    result = s.submit(batch)
    assert (result.ok, result.message, result.replayed, result.reference) == (False, message, False, "")
    assert counts(s) == before  # a refusal creates nothing
    assert s.import_log(batch.batch_id)["Message"] == message
    assert explain(result.message) is not None
    return result


def codes_of(s, job, extra=""):
    return [(r["Cost_Code"], r["Description"]) for r in s.list_cost_codes(job, extra)]


def cats_of(s, job, extra=""):
    return [(r["Cost_Code"], r["Category"], r["Description"]) for r in s.list_categories(job, extra)]


# ---- ap_vendor ------------------------------------------------------------------

def test_vendor_is_created_active(sim):
    result = sim.submit(vendor_batch())
    assert (result.ok, result.reference, result.message, result.replayed) == (True, "V-NEW", "", False)
    row = sim.get_vendor("V-NEW")
    assert {k: row[k] for k in ("Vendor", "Name", "Address_1", "Address_2", "City", "State", "ZIP", "Telephone",
                                "Fax", "Status")} == dict(
        Vendor="V-NEW", Name="New Drywall Co", Address_1="9 Elm St", Address_2="", City="Peoria", State="IL",
        ZIP="61602", Telephone="309-555-0199", Fax="309-555-0198", Status="Active")
    assert sim.import_log("v-1")["Kind"] == "ap_vendor"
    assert sim.get_vendor("NOBODY") is None


@pytest.mark.parametrize("attr, field, limit", [
    ("vendor", "Vendor", 10), ("name", "Name", 30), ("address", "Address1", 33), ("city", "AddressCity", 30),
    ("state", "AddressState", 4), ("zip", "AddressZip", 10), ("phone", "Telephone", 15), ("fax", "Fax", 15)])
def test_vendor_field_lengths(sim, attr, field, limit):
    refused(sim, vendor_batch("long", **{attr: "A" * (limit + 1)}), too_long(field, limit))
    assert sim.submit(vendor_batch("at-limit", **{attr: "A" * limit})).ok  # the exact limit passes


@pytest.mark.parametrize("attr", ["vendor", "name"])
def test_vendor_blank_id_or_name(sim, attr):
    refused(sim, vendor_batch("b-empty", **{attr: ""}), BLANK)
    refused(sim, vendor_batch("b-space", **{attr: "   "}), BLANK)


def test_vendor_blank_optional_fields_are_fine(sim):
    assert sim.submit(vendor_batch(address="", city="", state="", zip="", phone="", fax="", vendor_type="")).ok


def test_vendor_already_exists(sim):
    refused(sim, vendor_batch("v-1", vendor="ACME"), VENDOR_EXISTS)  # seeded in Sage
    assert sim.submit(vendor_batch("v-2")).ok
    refused(sim, vendor_batch("v-3", name="Another name"), VENDOR_EXISTS)  # exported before, new attempt
    assert sim.get_vendor("V-NEW")["Name"] == "New Drywall Co"


# ---- jc_job ---------------------------------------------------------------------

def test_job_is_created_open_with_cost_codes_and_categories(sim):
    result = sim.submit(job_batch())
    assert (result.ok, result.reference) == (True, "J-NEW")
    row = sim.get_job("J-NEW")
    assert {k: row[k] for k in ("Job", "Description", "Address_1", "City", "State", "ZIP", "Status")} == dict(
        Job="J-NEW", Description="Harbor Lofts", Address_1="5 Dock Rd", City="Quincy", State="IL", ZIP="62301",
        Status="Open")
    assert codes_of(sim, "J-NEW") == [("01-100", "Framing"), ("02-200", "Drywall")]
    assert cats_of(sim, "J-NEW") == [("01-100", "MAT", "Material"), ("01-100", "SUB", "Subcontract"),
                                     ("02-200", "LAB", "Labor")]
    assert sim.import_log("j-1")["Kind"] == "jc_job"
    assert sim.get_job("J-404") is None


def test_job_without_cost_codes(sim):
    assert sim.submit(job_batch(cost_codes=())).ok
    assert sim.list_cost_codes("J-NEW") == [] and sim.list_categories("J-NEW") == []


@pytest.mark.parametrize("attr, field, limit", [
    ("job", "Job", 10), ("name", "Name", 30), ("address", "Address1", 30), ("city", "AddressCity", 15),
    ("state", "AddressState", 4), ("zip", "AddressZip", 10)])
def test_job_field_lengths(sim, attr, field, limit):
    refused(sim, job_batch("long", **{attr: "A" * (limit + 1)}), too_long(field, limit))
    assert sim.submit(job_batch("at-limit", **{attr: "A" * limit})).ok


def test_job_guide_texts(sim):
    refused(sim, job_batch("n", name="Harbor Lofts Mixed Use Phase II!"), "[Name] is too long, maximum length is 30 "
                                                                         "characters.")
    refused(sim, job_batch("c", city="Springfield Hts."), "[AddressCity] is too long, maximum length is 15 "
                                                         "characters.")
    refused(sim, job_batch("z", zip="62701-12345"), "[AddressZip] is too long, maximum length is 10 characters.")
    refused(sim, job_batch("s", state="Illin"), "[AddressState] is too long, maximum length is 4 "
                                                         "characters.")


@pytest.mark.parametrize("cost_codes, message", [
    ((CostCodeData("A" * 13, "Too long a code"),), too_long("CostCode", 12)),
    ((CostCodeData("01-100", "D" * 31),), too_long("Description", 30)),
    ((CostCodeData("01-100", "Framing", (CategoryData("SUBC", "Subcontract"),)),), too_long("Category", 3)),
    ((CostCodeData("01-100", "Framing", (CategoryData("SUB", "D" * 31),)),), too_long("Description", 30)),
    ((CostCodeData(" ", "Blank code"),), BLANK),
    ((CostCodeData("01-100", "Framing", (CategoryData("", "Blank category"),)),), BLANK),
])
def test_job_cost_code_and_category_fields(sim, cost_codes, message):
    refused(sim, job_batch(cost_codes=cost_codes), message)
    assert sim.get_job("J-NEW") is None


def test_job_code_limits_pass_at_the_limit(sim):
    codes = (CostCodeData("C" * 12, "D" * 30, (CategoryData("LAB", "E" * 30),)),)
    assert sim.submit(job_batch(cost_codes=codes)).ok
    assert cats_of(sim, "J-NEW") == [("C" * 12, "LAB", "E" * 30)]


@pytest.mark.parametrize("attr", ["job", "name"])
def test_job_blank_id_or_name(sim, attr):
    refused(sim, job_batch(**{attr: " "}), BLANK)


def test_job_already_exists(sim):
    refused(sim, job_batch("j-1", job="J-1"), JOB_EXISTS)
    assert codes_of(sim, "J-1") == [("01-100", "Framing")]  # the existing job is untouched
    assert sim.submit(job_batch("j-2")).ok
    refused(sim, job_batch("j-3", name="Renamed"), JOB_EXISTS)


def test_job_repeated_codes_in_one_batch_are_added_once(sim):
    codes = (CostCodeData("01-100", "Framing", (CategoryData("SUB", "Subcontract"),)),
             CostCodeData("01-100", "Framing again", (CategoryData("SUB", "Sub again"), CategoryData("MAT", "Mat"))))
    assert sim.submit(job_batch(cost_codes=codes)).ok
    assert codes_of(sim, "J-NEW") == [("01-100", "Framing")]
    assert cats_of(sim, "J-NEW") == [("01-100", "MAT", "Mat"), ("01-100", "SUB", "Subcontract")]


def test_job_category_without_its_cost_code_creates_nothing(sim):
    batch = job_batch()
    batch = replace(batch, records=(*batch.records, JCCategory("J-NEW", "", "09-900", "SUB", "Orphan")))
    refused(sim, batch, NOT_FOUND)
    assert sim.get_job("J-NEW") is None and sim.list_cost_codes("J-NEW") == []


# ---- jc_extra -------------------------------------------------------------------

def test_extra_is_created_with_its_cost_codes(sim):
    result = sim.submit(extra_batch())
    assert (result.ok, result.reference) == (True, "J-1/E2")
    assert sim.get_extra("J-1", "E2") == {"Job": "J-1", "Extra": "E2", "Description": "Roof deck", "Status": "Open"}
    assert codes_of(sim, "J-1", "E2") == [("01-100", "Framing"), ("02-200", "Drywall")]
    assert cats_of(sim, "J-1", "E2") == [("01-100", "MAT", "Material"), ("01-100", "SUB", "Subcontract"),
                                         ("02-200", "LAB", "Labor")]
    assert codes_of(sim, "J-1") == [("01-100", "Framing")]  # the job's own codes are untouched
    assert sim.import_log("x-1")["Kind"] == "jc_extra"
    assert sim.get_extra("J-1", "E404") is None


def test_extra_job_unknown_or_closed(sim):
    refused(sim, extra_batch("x-1", job="J-404"), NOT_FOUND)
    refused(sim, extra_batch("x-2", job="J-OLD"), JOB_CLOSED)
    sim.set_job_status("J-1", "Closed")
    refused(sim, extra_batch("x-3"), JOB_CLOSED)
    sim.set_job_status("J-1", "Open")
    assert sim.submit(extra_batch("x-4")).ok


@pytest.mark.parametrize("attr, field, limit", [("extra", "Extra", 10), ("description", "Description", 30),
                                                ("job", "Job", 10)])
def test_extra_field_lengths(sim, attr, field, limit):
    refused(sim, extra_batch("long", **{attr: "A" * (limit + 1)}), too_long(field, limit))
    at_limit = sim.submit(extra_batch("at-limit", **{attr: "A" * limit}))
    assert "too long" not in at_limit.message


def test_extra_id_of_procores_30_characters_is_refused(sim):
    refused(sim, extra_batch(extra="SUBJOB-" + "9" * 23), "[Extra] is too long, maximum length is 10 characters.")


@pytest.mark.parametrize("attr", ["job", "extra"])
def test_extra_blank_job_or_extra(sim, attr):
    refused(sim, extra_batch(**{attr: ""}), BLANK)


def test_extra_already_exists(sim):
    refused(sim, extra_batch("x-1", extra="E1"), EXTRA_EXISTS)
    assert sim.submit(extra_batch("x-2")).ok
    refused(sim, extra_batch("x-3", description="Again"), EXTRA_EXISTS)
    sim.add_job("J-2", "Other job")
    assert sim.submit(extra_batch("x-4", job="J-2")).ok  # extra codes are per job


def test_extra_over_codes_already_in_sage_keeps_them(sim):
    # cost codes on an extra that has no extra record yet (entered in Sage under the code)
    sim.add_cost_code("J-1", "01-100", "Framing (Sage)", extra="E3")
    assert sim.submit(extra_batch(extra="E3")).ok
    assert codes_of(sim, "J-1", "E3") == [("01-100", "Framing (Sage)"), ("02-200", "Drywall")]


# ---- jc_cost_codes --------------------------------------------------------------

def test_cost_codes_added_to_a_job(sim):
    result = sim.submit(codes_batch())
    # 01-100 and 01-100/SUB exist: added are 01-100/MAT, 02-200 and 02-200/LAB
    assert (result.ok, result.reference) == (True, "3 added")
    assert codes_of(sim, "J-1") == [("01-100", "Framing"), ("02-200", "Drywall")]
    assert cats_of(sim, "J-1") == [("01-100", "MAT", "Material"), ("01-100", "SUB", "Subcontract"),
                                   ("02-200", "LAB", "Labor")]
    assert sim.import_log("c-1")["Kind"] == "jc_cost_codes"


def test_existing_cost_codes_are_left_as_they_are(sim):
    codes = (CostCodeData("01-100", "Renamed in Procore", (CategoryData("SUB", "Renamed too"),)),)
    assert sim.submit(codes_batch("c-1", cost_codes=codes)).reference == "0 added"
    assert codes_of(sim, "J-1") == [("01-100", "Framing")]
    assert cats_of(sim, "J-1") == [("01-100", "SUB", "Subcontract")]
    assert sim.submit(codes_batch("c-2")).reference == "3 added"
    assert sim.submit(codes_batch("c-3")).reference == "0 added"  # a new attempt adds nothing twice


def test_cost_codes_added_to_an_extra(sim):
    assert sim.submit(codes_batch(extra="E1")).reference == "3 added"
    assert codes_of(sim, "J-1", "E1") == [("01-100", "Framing"), ("02-200", "Drywall")]
    assert codes_of(sim, "J-1") == [("01-100", "Framing")]


def test_cost_codes_job_and_extra_must_exist_and_be_open(sim):
    refused(sim, codes_batch("c-1", job="J-404"), NOT_FOUND)
    refused(sim, codes_batch("c-2", job="J-OLD"), JOB_CLOSED)
    refused(sim, codes_batch("c-3", extra="E404"), NOT_FOUND)
    sim.set_extra_status("J-1", "E1", "Closed")
    refused(sim, codes_batch("c-4", extra="E1"), JOB_CLOSED)
    sim.set_extra_status("J-1", "E1", "Open")
    sim.set_job_status("J-1", "Closed")
    refused(sim, codes_batch("c-5", extra="E1"), JOB_CLOSED)
    sim.set_job_status("J-1", "Open")
    assert sim.submit(codes_batch("c-6", extra="E1")).ok


def test_cost_codes_field_checks(sim):
    refused(sim, codes_batch("c-1", cost_codes=(CostCodeData("A" * 13, "x"),)), too_long("CostCode", 12))
    refused(sim, codes_batch("c-2", extra="E" * 11), too_long("Extra", 10))
    refused(sim, codes_batch("c-3", job=""), BLANK)
    refused(sim, codes_batch("c-4", cost_codes=(CostCodeData("01-100", "x", (CategoryData("LABR", "x"),)),)),
            too_long("Category", 3))


def test_category_for_a_cost_code_already_in_sage(sim):
    # a hand-built batch: a category only, on a cost code the job already has
    batch = Batch(batch_id="c-1", kind="jc_cost_codes", records=(JCCategory("J-1", "", "01-100", "EQP", "Equip"),))
    assert sim.submit(batch).reference == "1 added"
    orphan = Batch(batch_id="c-2", kind="jc_cost_codes", records=(JCCategory("J-1", "", "77-700", "EQP", "x"),))
    refused(sim, orphan, NOT_FOUND)


def test_added_codes_can_be_invoiced(sim):
    assert sim.submit(codes_batch()).ok
    sim.add_commitment("C-1", "ACME", "J-1", D("5000"))
    invoice = APInvoice(vendor="ACME", invoice="INV-1", description="", invoice_date=date(2026, 10, 1),
                        accounting_date=date(2026, 10, 1), amount=D("100"), retainage=D("0"))
    dist = APDistribution(commitment="C-1", commitment_item="1", job="J-1", extra="", cost_code="02-200",
                          category="LAB", description="", amount=D("100"), retainage=D("0"))
    assert sim.submit(Batch(batch_id="inv-1", kind="ap_invoice", records=(invoice, dist))).ok


# ---- every kind: replay, malformed batches, hourly limit, drop folder, atomicity -----

KINDS = {
    "ap_vendor": (vendor_batch, "V-NEW"),
    "jc_job": (job_batch, "J-NEW"),
    "jc_extra": (extra_batch, "J-1/E2"),
    "jc_cost_codes": (codes_batch, "3 added"),
}


# a refused batch of each kind, once KINDS' batch has gone through
AGAIN_REFUSED = {
    "ap_vendor": lambda: (vendor_batch("refused"), VENDOR_EXISTS),
    "jc_job": lambda: (job_batch("refused"), JOB_EXISTS),
    "jc_extra": lambda: (extra_batch("refused"), EXTRA_EXISTS),
    "jc_cost_codes": lambda: (codes_batch("refused", job="J-404"), NOT_FOUND),
}


@pytest.mark.parametrize("kind", KINDS)
def test_replay_returns_stored_result_and_creates_nothing(sim, kind):
    make, reference = KINDS[kind]
    first = sim.submit(make("same"))
    assert (first.ok, first.reference, first.replayed) == (True, reference, False)
    after_first = counts(sim)
    again = sim.submit(make("same"))
    assert again == replace(first, replayed=True)
    assert counts(sim) == after_first


BLANK_ID = {"ap_vendor": lambda: vendor_batch("r-1", vendor=""), "jc_job": lambda: job_batch("r-1", job=""),
            "jc_extra": lambda: extra_batch("r-1", extra=""), "jc_cost_codes": lambda: codes_batch("r-1", job="")}


@pytest.mark.parametrize("kind", KINDS)
def test_refusal_replays_too(sim, kind):
    blank = BLANK_ID[kind]()
    refused(sim, blank, BLANK)
    again = sim.submit(blank)
    assert (again.ok, again.message, again.replayed) == (False, BLANK, True)


def test_same_batch_id_of_another_kind_is_a_value_error(sim):
    assert sim.submit(vendor_batch("shared-id")).ok
    with pytest.raises(ValueError):
        sim.submit(job_batch("shared-id"))
    assert sim.get_job("J-NEW") is None


@pytest.mark.parametrize("batch", [
    Batch(batch_id="m-1", kind="ap_vendor"),
    Batch(batch_id="m-2", kind="ap_vendor", records=(*vendor_batch().records, *vendor_batch().records)),
    Batch(batch_id="m-3", kind="jc_job", records=job_batch().records[1:]),
    Batch(batch_id="m-4", kind="jc_job", records=(*job_batch().records, JCCostCode("J-1", "", "01-100", "x"))),
    Batch(batch_id="m-5", kind="jc_extra", records=(*extra_batch().records, JCCostCode("J-1", "", "01-100", "x"))),
    Batch(batch_id="m-6", kind="jc_cost_codes"),
    Batch(batch_id="m-7", kind="jc_cost_codes", records=(JCCostCode("J-1", "", "01-100", "x"),
                                                         JCCostCode("J-1", "E1", "01-100", "x"))),
    Batch(batch_id="m-8", kind="jc_cost_codes", records=extra_batch().records),
], ids=["empty vendor", "two vendors", "job without JCJob", "code of another job", "extra code without extra",
        "no cost codes", "two extras", "extra in cost codes"])
def test_malformed_batches_are_value_errors(sim, batch):
    before = counts(sim)
    with pytest.raises(ValueError):
        sim.submit(batch)
    assert counts(sim) == before and sim.import_log(batch.batch_id) is None


def test_hourly_limit_counts_every_kind(sim, clock):
    sim.set_setting("hourly_limit", 3)
    assert sim.submit(vendor_batch("h-1")).ok
    assert sim.submit(job_batch("h-2")).ok
    assert sim.submit(job_batch("h-2")).replayed  # replays are not requests
    assert sim.submit(extra_batch("h-3")).ok
    limited = sim.submit(codes_batch("h-4"))
    assert (limited.ok, limited.message) == (False, RATE_LIMITED)
    assert sim.import_log("h-4") is None and codes_of(sim, "J-1") == [("01-100", "Framing")]
    clock.now += timedelta(hours=1, minutes=1)
    assert sim.submit(codes_batch("h-4")).reference == "3 added"


@pytest.mark.parametrize("kind, first_fields", [
    ("ap_vendor", [["V", "V-NEW", "New Drywall Co", "9 Elm St", "Peoria", "IL", "61602", "309-555-0199",
                    "309-555-0198", "SUB"]]),
    ("jc_job", [["J", "J-NEW", "Harbor Lofts", "5 Dock Rd", "Quincy", "IL", "62301"],
                ["C", "J-NEW", "", "01-100", "Framing"], ["C", "J-NEW", "", "02-200", "Drywall"],
                ["T", "J-NEW", "", "01-100", "SUB", "Subcontract"], ["T", "J-NEW", "", "01-100", "MAT", "Material"],
                ["T", "J-NEW", "", "02-200", "LAB", "Labor"]]),
    ("jc_extra", [["X", "J-1", "E2", "Roof deck"], ["C", "J-1", "E2", "01-100", "Framing"]]),
    ("jc_cost_codes", [["C", "J-1", "", "01-100", "Framing"], ["C", "J-1", "", "02-200", "Drywall"]]),
])
def test_import_file_written_to_drop_folder(sim, tmp_path, kind, first_fields):
    make, _ = KINDS[kind]
    batch_id = f"{kind} 7/attempt 1"
    assert sim.submit(make(batch_id)).ok
    files = os.listdir(tmp_path / "drop")
    assert files == [drop_file_name(batch_id)]
    raw = (tmp_path / "drop" / files[0]).read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == len(make(batch_id).records)
    rows = parse_import_file(raw.decode(FILE_ENCODING))
    assert rows[:len(first_fields)] == first_fields
    refused(sim, *AGAIN_REFUSED[kind]())
    assert len(os.listdir(tmp_path / "drop")) == 1  # refusals write no file


def test_drop_file_is_cp1252(sim, tmp_path):
    assert sim.submit(vendor_batch(name="Façades Nuñez – Café")).ok
    text = (tmp_path / "drop" / "v-1.txt").read_text(encoding=FILE_ENCODING)
    assert parse_import_file(text)[0][2] == "Façades Nuñez – Café"
    assert sim.get_vendor("V-NEW")["Name"] == "Façades Nuñez – Café"


def test_all_or_nothing_when_the_drop_file_fails(make_sim, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    s = make_sim(drop_folder=str(blocker))
    s.create_all()
    seed(s)
    before = counts(s)
    with pytest.raises(OSError):
        s.submit(job_batch())
    assert counts(s) == before and s.import_log("j-1") is None
    with pytest.raises(ConnectorUnavailable):
        SimulatorConnector(s).submit(extra_batch())
    s.drop_folder = str(tmp_path / "drop")
    assert s.submit(job_batch()).ok and s.get_job("J-NEW")["Status"] == "Open"


def test_two_threads_same_job_batch_make_one_job(make_sim, sim):
    other = make_sim()
    for round_ in range(3):
        batch = job_batch(f"race-{round_}", job=f"J-R{round_}")
        results = submit_at_once((sim, other), batch)
        assert sorted(r.replayed for r in results) == [False, True]
        assert all(r.ok and r.reference == f"J-R{round_}" for r in results)
        assert len(sim.list_cost_codes(f"J-R{round_}")) == 2


def test_setup_then_invoice_end_to_end(sim):
    """Vendor, job, extra and cost codes exported through batches, then an invoice on them."""
    assert sim.submit(vendor_batch()).ok
    assert sim.submit(job_batch()).ok
    assert sim.submit(extra_batch(job="J-NEW", extra="E1", cost_codes=CODES[:1])).ok
    sim.add_commitment("C-9", "V-NEW", "J-NEW", D("1000"))
    invoice = APInvoice(vendor="V-NEW", invoice="INV-9", description="", invoice_date=date(2026, 10, 1),
                        accounting_date=date(2026, 10, 1), amount=D("300"), retainage=D("30"))
    dists = (APDistribution(commitment="C-9", commitment_item="1", job="J-NEW", extra="E1", cost_code="01-100",
                            category="MAT", description="", amount=D("100"), retainage=D("10")),
             APDistribution(commitment="C-9", commitment_item="2", job="J-NEW", extra="", cost_code="02-200",
                            category="LAB", description="", amount=D("200"), retainage=D("20")))
    result = sim.submit(Batch(batch_id="inv-9", kind="ap_invoice", records=(invoice, *dists)))
    assert (result.ok, result.reference) == (True, "V-NEW/INV-9")


def test_create_all_adds_the_extra_table_to_an_existing_database(sim):
    # a database made before JCM_MASTER__EXTRA existed: create_all (first use) adds the table
    with sim.engine.begin() as conn:
        simmod.extra_t.drop(conn)
    sim.create_all()
    assert sim.get_vendor("ACME")["Name"] == "Acme Framing"  # existing data kept
    assert sim.submit(extra_batch()).ok and sim.get_extra("J-1", "E2")["Status"] == "Open"


def test_drop_all_and_create_all(sim):
    sim.drop_all()
    sim.create_all()
    assert counts(sim) == (0, 0, 0, 0, 0, 0)


# ---- connectors -----------------------------------------------------------------

def test_simulator_connector_passes_setup_results_through(sim):
    connector = SimulatorConnector(sim)
    assert connector.submit(job_batch()).reference == "J-NEW"
    assert connector.submit(job_batch()).replayed


@pytest.mark.parametrize("kind", KINDS)
def test_file_drop_connector_writes_every_kind(tmp_path, kind):
    make, _ = KINDS[kind]
    connector = FileDropConnector(str(tmp_path / "out"))
    first = connector.submit(make("f-1"))
    assert (first.ok, first.reference) == (True, "f-1.txt")
    assert connector.submit(make("f-1")).reference == "f-1.txt"  # the same batch overwrites its file
    rows = parse_import_file((tmp_path / "out" / "f-1.txt").read_text(encoding=FILE_ENCODING))
    assert len(rows) == len(make("f-1").records)
    assert os.listdir(tmp_path / "out") == ["f-1.txt"]
