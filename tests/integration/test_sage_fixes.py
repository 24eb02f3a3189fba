"""A Sage user's fixes and undos in the Sage 300 CRE simulator (simulator/sage_user.py), against its
tables: each action changes the row it names, an export Sage refused goes through once fixed, and
Sage's own refusals change nothing. Also the exported records as Sage lists them.

SQLite in tmp_path by default; PostgreSQL (a fresh schema per test) when DATABASE_URL starts with
"postgresql" (tests/sage_db.py)."""
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from portal.exporters.sage300 import simulator as simmod
from portal.exporters.sage300.mapping import APPROVED_COMMITMENT_CHANGE
from portal.exporters.sage300.simulator import SageInputError
from portal.exporters.sage300.troubleshooting import explain
from tests.rows import check_rows
from tests.sage_db import simulator
from tests.sage_financial import (
    ap_batch,
    ar_batch,
    cco_batch,
    citem,
    commitment_batch,
    seed,
)
from tests.sage_texts import AP_FAILED, AR_FAILED, ARCHIVED, JOB_CLOSED, RATE_LIMITED, VENDOR_INACTIVE

AP_PERIOD_CLOSED = AP_FAILED + "GL period closed.  Entry not allowed. (10\\01\\2026)."
AR_PERIOD_CLOSED = AR_FAILED + "GL period closed.  Entry not allowed. (10\\31\\2026)."
OVER = AP_FAILED + "Commitment C-NEW - amount invoiced exceeds approved amount plus tolerance."


@pytest.fixture
def sim(make_sim, tmp_path):
    return simulator(make_sim, tmp_path, seed)


def ok(result):
    assert result.ok, result.message
    return result


def snapshot(s) -> dict:
    """Every table a Sage user's action may change, whole, and the settings."""
    tables = (simmod.job_t, simmod.vendor_t, simmod.invoice_t, simmod.distribution_t, simmod.ar_invoice_t,
              simmod.ar_distribution_t, simmod.commitment_t, simmod.commitment_item_t, simmod.commitment_co_t,
              simmod.commitment_co_item_t, simmod.transaction_t, simmod.vendor_insurance_t)
    with s.engine.connect() as conn:
        rows = {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr) for t in tables}
    return dict(rows, settings=s.settings())


def refuses(s, call, field: str, message: str) -> None:
    """The action raises SageInputError on `field` with `message` and changes nothing."""
    before = snapshot(s)
    with pytest.raises(SageInputError) as exc:
        call()
    assert (exc.value.field, str(exc.value)) == (field, message)
    assert snapshot(s) == before


def with_commitment(s, **kw):
    ok(s.submit(commitment_batch(**kw)))


# ---- jobs, GL periods, vendors ------------------------------------------------------------------

def test_a_closed_job_is_reopened_and_the_refused_export_goes_through(sim):
    with_commitment(sim)
    assert sim.change_job_status("J-1", "Closed") == "Job J-1 closed."
    assert sim.get_job("J-1")["Status"] == "Closed"
    assert sim.submit(cco_batch("co-1")).message == JOB_CLOSED
    assert sim.change_job_status("J-1", "Open") == "Job J-1 reopened."
    assert sim.get_job("J-1")["Status"] == "Open"
    ok(sim.submit(cco_batch("co-2")))


def test_job_status_refusals(sim):
    check_rows({
        "already open": (lambda: sim.change_job_status("J-1", "Open"), "status", "Job J-1 is already open."),
        "already closed": (lambda: sim.change_job_status("J-OLD", "Closed"), "status", "Job J-OLD is already closed."),
        "no such job": (lambda: sim.change_job_status("NOPE", "Closed"), "job", "No job NOPE in Sage 300 CRE."),
        "bad status": (lambda: sim.change_job_status("J-1", "Archived"), "status",
                       "Status must be one of: Open, Closed."),
    }, lambda call, field, message: refuses(sim, call, field, message))


def test_a_closed_gl_period_refuses_ap_and_ar_in_their_own_words_until_reopened(sim):
    with_commitment(sim)
    assert sim.change_gl_period("2026-10", "Closed") == "GL period 10/2026 closed."
    assert sim.settings()["closed_periods"] == frozenset({"2026-10"})
    ap = sim.submit(ap_batch("ap-1", "INV-1", D("100")))
    ar = sim.submit(ar_batch("ar-1"))
    assert (ap.message, ar.message) == (AP_PERIOD_CLOSED, AR_PERIOD_CLOSED)
    assert explain(ar.message).cause == "Owner invoices will not post to a closed GL period in Sage 300 CRE."
    assert sim.change_gl_period("10/2026", "Open") == "GL period 10/2026 reopened."
    assert sim.settings()["closed_periods"] == frozenset()
    ok(sim.submit(ap_batch("ap-2", "INV-1", D("100"))))
    ok(sim.submit(ar_batch("ar-2")))


def test_gl_period_refusals(sim):
    sim.change_gl_period("2026-09", "Closed")
    check_rows({
        "not a month": (lambda: sim.change_gl_period("October", "Closed"), "period",
                        "Period must be a month like 2026-10 (or 10/2026)."),
        "month 13": (lambda: sim.change_gl_period("2026-13", "Closed"), "period",
                     "Period must be a month like 2026-10 (or 10/2026)."),
        "already open": (lambda: sim.change_gl_period("2026-10", "Open"), "status",
                         "GL period 10/2026 is already open."),
        "already closed": (lambda: sim.change_gl_period("09/2026", "Closed"), "status",
                           "GL period 09/2026 is already closed."),
        "bad status": (lambda: sim.change_gl_period("2026-10", "Locked"), "status",
                       "Status must be one of: Open, Closed."),
    }, lambda call, field, message: refuses(sim, call, field, message))


def test_an_inactive_vendor_is_reactivated_and_the_refused_export_goes_through(sim):
    assert sim.change_vendor_status("ACME", "Inactive") == "Vendor ACME deactivated."
    assert sim.get_vendor("ACME")["Status"] == "Inactive"
    assert sim.submit(commitment_batch("cm-1")).message == VENDOR_INACTIVE
    assert sim.change_vendor_status("ACME", "Active") == "Vendor ACME activated."
    ok(sim.submit(commitment_batch("cm-2")))
    refuses(sim, lambda: sim.change_vendor_status("ACME", "Active"), "status", "Vendor ACME is already active.")
    refuses(sim, lambda: sim.change_vendor_status("NOPE", "Active"), "vendor", "No vendor NOPE in Sage 300 CRE.")


# ---- tolerance and the hourly limit ----------------------------------------------------------------

def test_tolerance_lets_an_over_invoice_through(sim):
    with_commitment(sim)  # 10,000 approved
    assert sim.submit(ap_batch("ap-1", "INV-1", D("10500"))).message == OVER
    assert sim.change_limits(tolerance_pct="5") == "Saved: tolerance 5%."
    assert sim.settings()["tolerance_pct"] == D("5")
    ok(sim.submit(ap_batch("ap-2", "INV-1", D("10500"))))


def test_hourly_limit_is_set_and_lifted(sim):
    assert sim.change_limits(hourly_limit="1") == "Saved: hourly request limit 1."
    ok(sim.submit(commitment_batch("cm-1")))
    assert sim.submit(commitment_batch("cm-2", commitment="C-TWO")).message == RATE_LIMITED
    assert sim.change_limits(tolerance_pct="2.5", hourly_limit="0") == \
        "Saved: tolerance 2.5% and hourly request limit none."
    assert (sim.settings()["hourly_limit"], sim.settings()["tolerance_pct"]) == (0, D("2.5"))
    ok(sim.submit(commitment_batch("cm-3", commitment="C-TWO")))


def test_limits_refusals(sim):
    tolerance = "Tolerance must be a percentage from 0 to 100 (at most 2 decimals)."
    hourly = "Hourly request limit must be a whole number from 0 (no limit) to 1,000,000."
    check_rows({
        "nothing given": (dict(), "tolerance_pct", "Give a tolerance, an hourly request limit or both."),
        "blanks": (dict(tolerance_pct=" ", hourly_limit=""), "tolerance_pct",
                   "Give a tolerance, an hourly request limit or both."),
        "words": (dict(tolerance_pct="ten"), "tolerance_pct", tolerance),
        "over 100": (dict(tolerance_pct="101"), "tolerance_pct", tolerance),
        "negative": (dict(tolerance_pct="-1"), "tolerance_pct", tolerance),
        "3 decimals": (dict(tolerance_pct="1.125"), "tolerance_pct", tolerance),
        "infinite": (dict(tolerance_pct="Infinity"), "tolerance_pct", tolerance),
        "fraction of a request": (dict(hourly_limit="1.5"), "hourly_limit", hourly),
        "negative limit": (dict(hourly_limit="-3"), "hourly_limit", hourly),
        "good tolerance, bad limit": (dict(tolerance_pct="5", hourly_limit="many"), "hourly_limit", hourly),
    }, lambda kw, field, message: refuses(sim, lambda: sim.change_limits(**kw), field, message))


# ---- AP invoices -----------------------------------------------------------------------------------

def test_a_void_ap_invoice_stays_and_no_longer_counts_against_its_commitment(sim):
    with_commitment(sim)
    ok(sim.submit(ap_batch("ap-1", "INV-1", D("8000"))))
    assert sim.submit(ap_batch("ap-2", "INV-2", D("8000"))).message == OVER
    assert sim.void_or_delete_ap_invoice("ACME", "INV-1", "Void") == "AP invoice INV-1 of vendor ACME voided."
    assert sim.get_invoice("ACME", "INV-1")["Status"] == "Void"
    assert len(sim.list_distributions("ACME", "INV-1")) == 1
    ok(sim.submit(ap_batch("ap-3", "INV-2", D("8000"))))
    assert sim.get_invoice("ACME", "INV-2")["Status"] == "Open"
    refuses(sim, lambda: sim.void_or_delete_ap_invoice("ACME", "INV-1", "Void"), "action",
            "AP invoice INV-1 of vendor ACME is already void.")


def test_a_deleted_ap_invoice_is_gone_with_its_distributions(sim):
    with_commitment(sim)
    ok(sim.submit(ap_batch("ap-1", "INV-1", D("100"))))
    assert sim.find_invoice("ACME", "INV-1") == ["AP invoice INV-1 of vendor ACME"]
    assert sim.void_or_delete_ap_invoice("ACME", "INV-1", "Delete") == "AP invoice INV-1 of vendor ACME deleted."
    assert (sim.get_invoice("ACME", "INV-1"), sim.list_distributions("ACME", "INV-1")) == (None, [])
    assert sim.find_invoice("ACME", "INV-1") == []  # the portal may unlink it


def test_a_paid_ap_invoice_is_neither_voided_nor_deleted(sim):
    with_commitment(sim)
    ok(sim.submit(ap_batch("ap-1", "INV-1", D("100"))))
    sim.add_cost("J-1", "01-100", "SUB", "AP cost", "100", vendor="ACME", invoice="INV-1", amount_paid="90")
    for action in ("Void", "Delete"):
        refuses(sim, lambda action=action: sim.void_or_delete_ap_invoice("ACME", "INV-1", action), "invoice",
                f"AP invoice INV-1 of vendor ACME has payments of 90.00: void the payments before you "
                f"{action.lower()} it.")
    refuses(sim, lambda: sim.void_or_delete_ap_invoice("ACME", "NOPE", "Delete"), "invoice",
            "No AP invoice NOPE of vendor ACME in Sage 300 CRE.")
    refuses(sim, lambda: sim.void_or_delete_ap_invoice("ACME", "INV-1", "Hide"), "action",
            "Action must be one of: Void, Delete.")


# ---- AR invoices -----------------------------------------------------------------------------------

def test_only_the_latest_ar_invoice_of_a_contract_is_voided_or_deleted(sim, clock):
    ok(sim.submit(ar_batch("ar-1", invoice="AR-1")))
    clock.now = clock.now.replace(hour=13)
    ok(sim.submit(ar_batch("ar-2", invoice="AR-2")))
    for action in ("Void", "Delete"):
        refuses(sim, lambda action=action: sim.void_or_delete_ar_invoice("AR-1", action), "invoice",
                f"AR invoice AR-1 is not the latest on contract CN-1: {action.lower()} AR-2 first.")
    assert sim.void_or_delete_ar_invoice("AR-2", "Void") == "AR invoice AR-2 voided."
    assert sim.get_ar_invoice("AR-2")["Status"] == "Void"
    refuses(sim, lambda: sim.void_or_delete_ar_invoice("AR-2", "Void"), "action", "AR invoice AR-2 is already void.")
    assert sim.void_or_delete_ar_invoice("AR-1", "Delete") == "AR invoice AR-1 deleted."  # AR-2 is void
    assert (sim.get_ar_invoice("AR-1"), sim.list_ar_distributions("AR-1")) == (None, [])
    assert sim.find_ar_invoice("AR-1") == []
    refuses(sim, lambda: sim.void_or_delete_ar_invoice("AR-1", "Delete"), "invoice",
            "No AR invoice AR-1 in Sage 300 CRE.")


# ---- commitments and their change orders -------------------------------------------------------------

def test_a_commitment_with_invoices_is_neither_deleted_nor_voided(sim):
    with_commitment(sim)
    ok(sim.submit(ap_batch("ap-1", "INV-1", D("100"))))
    for action, done in (("Delete", "deleted"), ("Void", "voided")):
        refuses(sim, lambda action=action: sim.void_or_delete_commitment("C-NEW", action), "commitment",
                f"Commitment C-NEW has invoices (ACME/INV-1): a commitment with invoices cannot be {done}.")


def test_a_commitment_with_change_orders_is_not_deleted_but_voided_takes_none(sim):
    with_commitment(sim)
    ok(sim.submit(cco_batch("co-1")))
    refuses(sim, lambda: sim.void_or_delete_commitment("C-NEW", "Delete"), "commitment",
            "Commitment C-NEW has change orders (CCO-1): delete them first.")
    assert sim.void_or_delete_commitment("C-NEW", "Void") == "Commitment C-NEW voided."
    assert sim.get_commitment("C-NEW")["Status"] == "Void"
    assert sim.submit(cco_batch("co-2", cco="CCO-2")).message == ARCHIVED
    refuses(sim, lambda: sim.void_or_delete_commitment("C-NEW", "Void"), "action", "Commitment C-NEW is already void.")
    refuses(sim, lambda: sim.void_or_delete_commitment("NOPE", "Void"), "commitment",
            "No commitment NOPE in Sage 300 CRE.")


def test_a_deleted_commitment_is_gone_with_its_items_and_job_cost(sim):
    with_commitment(sim)
    assert sim.void_or_delete_commitment("C-NEW", "Delete") == "Commitment C-NEW deleted."
    assert (sim.get_commitment("C-NEW"), sim.list_commitment_items("C-NEW")) == (None, [])
    assert [t for t in sim.list_transactions("J-1") if t["Commitment"] == "C-NEW"] == []
    assert sim.find_commitment("C-NEW") == []


def test_an_approved_change_order_is_voided_before_it_is_deleted(sim):
    with_commitment(sim)  # 6,000 + 4,000
    ok(sim.submit(cco_batch("co-1")))  # +500 on item 1
    assert sim.get_commitment("C-NEW")["Amount"] == D("10500")
    refuses(sim, lambda: sim.void_or_delete_change_order("C-NEW", "CCO-1", "Delete"), "action",
            "Change order CCO-1 is Approved: an Approved change order cannot be deleted; void it first.")
    assert sim.void_or_delete_change_order("C-NEW", "CCO-1", "Void") == "Change order CCO-1 on commitment C-NEW voided."
    assert (sim.get_cco("C-NEW", "CCO-1")["Status"], sim.get_commitment("C-NEW")["Amount"]) == ("Void", D("10000"))
    changes = [t["Amount"] for t in sim.list_transactions("J-1", APPROVED_COMMITMENT_CHANGE)]
    assert sorted(changes) == [D("-500"), D("500")]  # the reversing entry
    assert sum(r["Approved_Commitment_Changes"] for r in sim.job_costs("J-1")) == 0
    refuses(sim, lambda: sim.void_or_delete_change_order("C-NEW", "CCO-1", "Void"), "action",
            "Change order CCO-1 is already void.")
    assert sim.void_or_delete_change_order("C-NEW", "CCO-1", "Delete") == \
        "Change order CCO-1 on commitment C-NEW deleted."
    assert (sim.get_cco("C-NEW", "CCO-1"), sim.list_cco_items("C-NEW", "CCO-1")) == (None, [])
    assert sim.get_commitment("C-NEW")["Amount"] == D("10000")  # not taken off twice
    assert sim.list_transactions("J-1", APPROVED_COMMITMENT_CHANGE) == []
    assert sim.find_cco("C-NEW", "CCO-1") == []
    refuses(sim, lambda: sim.void_or_delete_change_order("C-NEW", "CCO-1", "Void"), "cco",
            "No change order CCO-1 on commitment C-NEW in Sage 300 CRE.")


# ---- what the portal exported, as Sage lists it ------------------------------------------------------

def test_exported_lists_numbers_and_dates_as_sage_prints_them(sim):
    ok(sim.submit(commitment_batch(commitment_type="Purchase Order", items=[
        citem("1", amount=D("1000"), units=D("40"), unit_cost=D("25")),
        citem("2", amount=D("1234.5"))])))
    ok(sim.submit(ap_batch("ap-1", "INV-1", D("1234.5"))))
    ok(sim.submit(ar_batch("ar-1")))
    ok(sim.submit(cco_batch("co-1")))
    sim.change_gl_period("2026-09", "Closed")
    listed = sim.exported()
    assert listed["commitment_items"]["rows"] == [
        ["C-NEW", "1", "Framing", "J-1", "", "01-100", "SUB", "40.0000", "25.0000", "1,000.00"],
        ["C-NEW", "2", "Framing", "J-1", "", "01-100", "SUB", "", "", "1,234.50"]]
    assert listed["commitment_items"]["columns"][7:] == ("Units", "Unit Cost", "Amount")
    assert listed["ap_invoices"]["rows"] == [
        ["ACME", "INV-1", "", "10/01/2026", "10/01/2026", "1,234.50", "0.00", "Open", ""]]
    assert listed["ar_invoices"]["rows"][0][5:] == ["10/25/2026", "10/31/2026", "15,000.00", "1,500.00", "Open"]
    assert listed["commitments"]["rows"] == [
        ["C-NEW", "ACME", "J-1", "Framing subcontract", "Purchase Order", "2,734.50", "Open"]]
    assert listed["change_orders"]["rows"] == [
        ["C-NEW", "CCO-1", "Added blocking", "10/01/2026", "500.00", "Approved"]]
    assert listed["settings"] == {"Closed GL periods": "09/2026", "Tolerance": "0%", "Hourly request limit": "none",
                                  "Date Received Usage": "Not Required", "Payment Date Usage": "Not Required",
                                  "Tax Group Sync": "Off"}
    assert {key: listed[key]["total"] for key in ("ap_invoices", "ar_invoices", "commitments", "change_orders")} == \
        {"ap_invoices": 1, "ar_invoices": 1, "commitments": 1, "change_orders": 1}
    assert "4E+1" not in repr(listed)
