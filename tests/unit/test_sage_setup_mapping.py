"""Setup items for Sage 300 CRE: the connector guide's Companies, Projects/Jobs and Sub Jobs/Extras
data mapping tables row by row, the import files of every batch kind, and the explanations of the
simulator's setup texts."""
from datetime import date
from decimal import Decimal as D

import pytest

from portal.exporters.sage300 import simulator as sim
from portal.exporters.sage300.fileformat import (
    FILE_ENCODING,
    ap_import_file,
    import_file,
    parse_ap_import_file,
    parse_import_file,
)
from portal.exporters.sage300.mapping import (
    map_cost_codes,
    map_extra,
    map_job,
    map_vendor,
)
from portal.exporters.sage300.records import (
    APDistribution,
    APInvoice,
    APVendor,
    Batch,
    CategoryData,
    CostCodeData,
    CostCodesData,
    ExtraData,
    JCCategory,
    JCCostCode,
    JCExtra,
    JCJob,
    JobData,
    VendorData,
)
from portal.exporters.sage300.troubleshooting import explain
from tests.rows import check_rows


def vendor_data(**kw):
    values = dict(vendor="ACME", name="Acme Framing", address="100 Main St", city="Springfield",
                  state="IL", zip="62701", phone="217-555-0100", fax="217-555-0101")
    values.update(kw)
    return VendorData(**values)


CODES = (
    CostCodeData("01-100", "Framing", (CategoryData("SUB", "Subcontract"), CategoryData("MAT", "Material"))),
    CostCodeData("02-200", "Drywall", (CategoryData("LAB", "Labor"),)),
    CostCodeData("03-300", "Concrete"),  # a cost code without categories
)


def job_data(**kw):
    values = dict(job="J-1", name="Main Street Tower", address="1 Main St", city="Springfield", state="IL",
                  zip="62701", cost_codes=CODES)
    values.update(kw)
    return JobData(**values)


def extra_data(**kw):
    values = dict(job="J-1", extra="E1", description="Lobby upgrade", cost_codes=CODES[:1])
    values.update(kw)
    return ExtraData(**values)


# ---- Companies -> AP vendors ------------------------------------------------------

def vendor(**kw) -> APVendor:
    batch = map_vendor(vendor_data(**kw), "b-1")
    (record,) = batch.records
    assert isinstance(record, APVendor)
    return record


def test_vendor_batch_kind_and_id():
    batch = map_vendor(vendor_data(), "company-7-a1")
    assert (batch.batch_id, batch.kind, len(batch.records)) == ("company-7-a1", "ap_vendor", 1)


@pytest.mark.parametrize("procore, value, sage", [
    ("vendor", "V900", "vendor"),            # ERP Company ID -> Vendor
    ("name", "Acme Framing LLC", "name"),    # Name           -> Name
    ("address", "9 Elm St", "address_1"),    # Address        -> Address (1)
    ("city", "Peoria", "city"),              # City           -> City
    ("state", "IL", "state"),                # State          -> State
    ("zip", "61602-1234", "zip"),            # ZIP            -> Zip
    ("phone", "309-555-0199", "telephone"),  # Business Phone -> Telephone
    ("fax", "309-555-0198", "fax"),          # Business Fax   -> Fax Number
    ("vendor_type", "SUB", "vendor_type"),
])
def test_companies_mapping_rows(procore, value, sage):
    assert getattr(vendor(**{procore: value}), sage) == value


def test_vendor_whole_record():
    assert vendor() == APVendor(vendor="ACME", name="Acme Framing", address_1="100 Main St", city="Springfield",
                                state="IL", zip="62701", telephone="217-555-0100", fax="217-555-0101",
                                vendor_type="")


def test_vendor_strings_are_passed_as_given():
    long_name = "  Acme Framing and Drywall Incorporated  "  # > 30, with spaces: the simulator refuses it
    assert vendor(name=long_name).name == long_name


# ---- Projects -> JC jobs with cost codes and categories ---------------------------

def test_job_batch_holds_three_record_types_in_order():
    batch = map_job(job_data(), "project-3-a1")
    assert (batch.batch_id, batch.kind) == ("project-3-a1", "jc_job")
    assert [type(r) for r in batch.records] == [JCJob] + [JCCostCode] * 3 + [JCCategory] * 3


@pytest.mark.parametrize("procore, value, sage", [
    ("job", "24-001", "job"),                      # Sage Job ID  -> Job ID
    ("name", "Main Street Tower", "description"),  # Project Name -> Job Name
    ("address", "1 Main St", "address_1"),         # Address      -> Address
    ("city", "Springfield", "city"),               # City         -> City
    ("state", "IL", "state"),                      # State        -> State
    ("zip", "62701", "zip"),                       # ZIP          -> Zip
])
def test_projects_mapping_rows(procore, value, sage):
    batch = map_job(job_data(**{procore: value}), "b-1")
    assert getattr(batch.records[0], sage) == value


def test_projects_cost_code_row():
    # Cost Code (Code, Description) -> Cost Code (Cost Code, Description), on the job (no extra)
    codes = [r for r in map_job(job_data(job="24-001"), "b-1").records if isinstance(r, JCCostCode)]
    assert codes == [JCCostCode("24-001", "", "01-100", "Framing"), JCCostCode("24-001", "", "02-200", "Drywall"),
                     JCCostCode("24-001", "", "03-300", "Concrete")]


def test_projects_cost_type_row():
    # Cost Type (Cost Code, Cost Type ID) -> Category (Cost Code, Category)
    cats = [r for r in map_job(job_data(job="24-001"), "b-1").records if isinstance(r, JCCategory)]
    assert cats == [JCCategory("24-001", "", "01-100", "SUB", "Subcontract"),
                    JCCategory("24-001", "", "01-100", "MAT", "Material"),
                    JCCategory("24-001", "", "02-200", "LAB", "Labor")]


def test_job_without_cost_codes_is_one_record():
    assert map_job(job_data(cost_codes=()), "b-1").records == (
        JCJob("J-1", "Main Street Tower", "1 Main St", "Springfield", "IL", "62701"),)


def test_job_strings_are_passed_as_given():
    record = map_job(job_data(city="Springfield Heights", name="x" * 31), "b-1").records[0]
    assert (record.city, record.description) == ("Springfield Heights", "x" * 31)


# ---- Sub Jobs -> JC extras --------------------------------------------------------

def test_extra_batch():
    batch = map_extra(extra_data(), "sub_job-4-a2")
    assert (batch.batch_id, batch.kind) == ("sub_job-4-a2", "jc_extra")
    assert batch.records == (
        JCExtra("J-1", "E1", "Lobby upgrade"),
        JCCostCode("J-1", "E1", "01-100", "Framing"),
        JCCategory("J-1", "E1", "01-100", "SUB", "Subcontract"),
        JCCategory("J-1", "E1", "01-100", "MAT", "Material"),
    )


@pytest.mark.parametrize("procore, value, sage", [
    ("extra", "E-22", "extra"),                  # Code    -> Extra
    ("description", "Tenant fit-out", "description"),  # Sub Job -> Description
    ("job", "24-001", "job"),                    # the synced job the extra belongs to
])
def test_sub_jobs_mapping_rows(procore, value, sage):
    assert getattr(map_extra(extra_data(**{procore: value}), "b-1").records[0], sage) == value


def test_sub_jobs_cost_codes_and_types_carry_the_extra():
    records = map_extra(extra_data(extra="E-22", cost_codes=CODES), "b-1").records[1:]
    assert len(records) == 6 and {(r.job, r.extra) for r in records} == {("J-1", "E-22")}


# ---- cost codes added to a synced job or extra ------------------------------------

def test_cost_codes_batch_on_a_job_and_on_an_extra():
    on_job = map_cost_codes(CostCodesData("J-1", "", CODES[1:]), "cc-1")
    assert (on_job.kind, on_job.batch_id) == ("jc_cost_codes", "cc-1")
    assert on_job.records == (JCCostCode("J-1", "", "02-200", "Drywall"), JCCostCode("J-1", "", "03-300", "Concrete"),
                              JCCategory("J-1", "", "02-200", "LAB", "Labor"))
    on_extra = map_cost_codes(CostCodesData("J-1", "E1", CODES[:1]), "cc-2")
    assert [(type(r), r.extra) for r in on_extra.records] == [(JCCostCode, "E1"), (JCCategory, "E1"),
                                                              (JCCategory, "E1")]


def test_no_cost_codes_cannot_be_mapped():
    with pytest.raises(ValueError):
        map_cost_codes(CostCodesData("J-1", "", ()), "cc-1")


# ---- import files -----------------------------------------------------------------

def lines(batch):
    text = import_file(batch)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return text.split("\r\n")[:-1]


def test_vendor_import_file():
    assert lines(map_vendor(vendor_data(vendor_type="SUB"), "b-1")) == [
        '"V","ACME","Acme Framing","100 Main St","Springfield","IL","62701","217-555-0100","217-555-0101","SUB"']


def test_job_import_file():
    assert lines(map_job(job_data(cost_codes=CODES[:2]), "b-1")) == [
        '"J","J-1","Main Street Tower","1 Main St","Springfield","IL","62701"',
        '"C","J-1","","01-100","Framing"',
        '"C","J-1","","02-200","Drywall"',
        '"T","J-1","","01-100","SUB","Subcontract"',
        '"T","J-1","","01-100","MAT","Material"',
        '"T","J-1","","02-200","LAB","Labor"',
    ]


def test_extra_import_file():
    assert lines(map_extra(extra_data(), "b-1")) == [
        '"X","J-1","E1","Lobby upgrade"',
        '"C","J-1","E1","01-100","Framing"',
        '"T","J-1","E1","01-100","SUB","Subcontract"',
        '"T","J-1","E1","01-100","MAT","Material"',
    ]


def test_cost_codes_import_file():
    assert lines(map_cost_codes(CostCodesData("J-1", "", CODES[2:]), "b-1")) == ['"C","J-1","","03-300","Concrete"']


def test_quotes_are_doubled_and_commas_kept():
    batch = map_job(job_data(name='The "Tower", phase 2', cost_codes=()), "b-1")
    assert lines(batch) == ['"J","J-1","The ""Tower"", phase 2","1 Main St","Springfield","IL","62701"']
    assert parse_import_file(import_file(batch))[0][2] == 'The "Tower", phase 2'


def test_file_text_encodes_as_cp1252():
    text = import_file(map_vendor(vendor_data(name="Café Façades – Nuñez"), "b-1"))
    assert FILE_ENCODING == "cp1252"
    assert parse_import_file(text.encode(FILE_ENCODING).decode(FILE_ENCODING))[0][2] == "Café Façades – Nuñez"


def test_dispatcher_gives_the_ap_file_for_invoices():
    head = APInvoice(vendor="ACME", invoice="INV-7", description="Pay app 3", invoice_date=date(2026, 10, 5),
                     accounting_date=date(2026, 10, 31), amount=D("1500"), retainage=D("150"))
    dist = APDistribution(commitment="C-100", commitment_item="1", job="J-1", extra="", cost_code="01-100",
                          category="SUB", description="Framing", amount=D("1500"), retainage=D("150"))
    batch = Batch(batch_id="b-1", kind="ap_invoice", records=(head, dist))
    assert import_file(batch) == ap_import_file(batch)
    assert [r[0] for r in parse_ap_import_file(import_file(batch))] == ["APIF", "APDF"]
    with pytest.raises(ValueError):
        ap_import_file(map_vendor(vendor_data(), "b-1"))  # the AP file is for invoices only


@pytest.mark.parametrize("batch", [
    Batch(batch_id="x", kind="jc_transaction"),
    Batch(batch_id="x", kind="ap_vendor", records=(JCJob("J", "N", "", "", "", ""),)),
    Batch(batch_id="x", kind="jc_cost_codes", records=(JCExtra("J", "E", ""),)),
    Batch(batch_id="x", kind="jc_job", records=(APVendor("V", "N", "", "", "", "", "", "", ""),)),
], ids=["unknown kind", "job in vendor batch", "extra in cost codes batch", "vendor in job batch"])
def test_unknown_kinds_and_foreign_records_are_refused(batch):
    with pytest.raises(ValueError):
        import_file(batch)


# ---- explanations of the simulator's setup texts ----------------------------------

SETUP_MESSAGES = [
    sim.VENDOR_EXISTS, sim.JOB_EXISTS, sim.EXTRA_EXISTS, sim.JOB_CLOSED, sim.NOT_FOUND, sim.BLANK,
    *[sim.too_long(field, limit) for field, _, limit in
      sim.VENDOR_LIMITS + sim.JOB_LIMITS + sim.EXTRA_LIMITS + sim.COST_CODE_LIMITS + sim.CATEGORY_LIMITS],
]


def test_every_setup_message_is_explained():
    def check(message):
        assert explain(message) is not None, "not explained"
    check_rows(SETUP_MESSAGES, check)


def test_exact_setup_texts():
    assert sim.VENDOR_EXISTS == "A vendor already exists with the specified id."
    assert sim.JOB_EXISTS == "A job with that code already exists."
    assert sim.EXTRA_EXISTS == "An extra with that code already exists on this job."
    assert sim.too_long("AddressState", 4) == "[AddressState] is too long, maximum length is 4 characters."


def test_setup_explanations():
    assert explain(sim.VENDOR_EXISTS).area == "Companies" and "link" in explain(sim.VENDOR_EXISTS).solution
    assert explain(sim.EXTRA_EXISTS).area == "Sub jobs" and "Extra ID" in explain(sim.EXTRA_EXISTS).solution
    assert explain(sim.JOB_EXISTS).area == "Projects"
    state = explain("[AddressState] is too long, maximum length is 4 characters.")
    assert state.area == "Projects" and "4 characters" in state.solution
    for text, cause in [("[Name] is too long, maximum length is 30 characters.", "name"),
                        ("[AddressCity] is too long, maximum length is 15 characters.", "city"),
                        ("[AddressZip] is too long, maximum length is 10 characters.", "zip")]:
        found = explain(text)
        assert found.area == "Projects" and cause in found.cause
    # a vendor's city (30) is not the job row's (15): the generic length row answers
    assert explain(sim.too_long("AddressCity", 30)).area == "ERP connection"
