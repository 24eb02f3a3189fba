from datetime import date

from portal.exporters.sage300 import simulator as sim
from portal.exporters.sage300.troubleshooting import ROWS, explain
from tests.rows import check_rows

# Every text the simulator can answer with.
SIMULATOR_MESSAGES = [
    sim.NOT_FOUND, sim.BLANK, sim.RATE_LIMITED, sim.VENDOR_INACTIVE, sim.NO_DISTRIBUTIONS,
    sim.JOB_CLOSED, sim.NO_CATEGORY, sim.duplicate_invoice("INV-7"), sim.period_closed(date(2026, 10, 31)),
    sim.over_tolerance("C-100"),
    *[sim.too_long(field, limit) for field, _, limit in sim.INVOICE_LIMITS + sim.DISTRIBUTION_LIMITS],
]


def test_every_simulator_message_is_explained():
    def check(message):
        assert explain(message) is not None, "not explained"
    check_rows(SIMULATOR_MESSAGES, check)


def test_every_guide_row_explains_its_own_text():
    def check(row):
        found = explain(row.error)
        assert (found.area, found.cause, found.solution, found.project_team) == (
            row.area, row.cause, row.solution, row.project_team), found
    check_rows({row.error[:60]: row for row in ROWS}, check)


def test_areas_are_the_guides():
    # the troubleshooting table's areas, plus Companies and Sub jobs (from its data mapping tables)
    # for the simulator's vendor and extra texts, and Budgets for its estimate texts
    assert {r.area for r in ROWS} == {"Change orders", "Contracts", "Invoices", "ERP connection", "Projects",
                                      "Companies", "Sub jobs", "Budgets"}


def test_placeholders_match_real_values():
    assert explain("A change order with code 007 already exists on this contract.").area == "Change orders"
    assert explain("A commitment with code [24-00012-SC] already exists.").area == "Contracts"
    found = explain(sim.duplicate_invoice("INV 7/B"))
    assert found.area == "Invoices" and "same code for the vendor" in found.cause
    assert "closed GL period" in explain(sim.period_closed(date(2026, 1, 2))).cause
    assert "tolerance" in explain(sim.over_tolerance("24-001")).solution
    assert "expense" in explain(
        "Ap Invoice Api import failed with error message:  [5000-00] is an invalid expense account.").cause


def test_specific_rows_win_over_the_generic_length_row():
    assert explain("[Name] is too long, maximum length is 30 characters.").area == "Projects"
    generic = explain(sim.too_long("Invoice", 15))
    assert generic.area == "ERP connection" and "longer" in generic.cause


def test_exact_texts():
    assert sim.period_closed(date(2026, 10, 31)) == (
        "Ap Invoice Api import failed with error message: GL period closed.  Entry not allowed. (10\\31\\2026).")
    assert explain("Job has been closed.").cause == "The job is in a 'Closed' status in Sage 300 CRE."
    assert explain(sim.NO_DISTRIBUTIONS).solution == "Correct the zero-dollar invoice."


def test_message_inside_longer_text_and_whitespace():
    assert explain("Sage said: Vendor is inactive/has been archived. (batch 4)").area == "Contracts"
    assert explain("  Entity with this ID not found.\n") is not None


def test_unknown_message():
    assert explain("Something else went wrong.") is None
    assert explain("") is None


# What the project team (an invoice administrator, a project admin) can act on, and what needs
# ERP Support or accounting: the project side marks the first kind.
PROJECT_TEAM = {
    sim.JOB_CLOSED: True, sim.VENDOR_INACTIVE: True, sim.duplicate_invoice("INV-7"): True,
    sim.NO_DISTRIBUTIONS: True, sim.too_long("Name", 30): True, sim.too_long("Invoice", 15): True,
    "A vendor already exists with the specified id.": True,
    "A commitment change order already exists with the specified id.": True,
    "Duplicate Invoice encountered. Invoice # must be unique.": True,
    sim.period_closed(date(2026, 10, 31)): False, sim.over_tolerance("C-100"): False, sim.RATE_LIMITED: False,
    sim.NOT_FOUND: False, sim.NO_CATEGORY: False, "Commitment has been archived.": False,
    "A job with that code already exists.": False,
}


def test_the_causes_the_project_team_can_act_on_are_marked():
    def check(message, expected):
        assert explain(message).project_team is expected
    check_rows({message[:60]: (message, expected) for message, expected in PROJECT_TEAM.items()}, check)
