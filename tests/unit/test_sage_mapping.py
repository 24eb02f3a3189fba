"""The Subcontractor Invoices data mapping of the connector guide, row by row."""
from datetime import date
from decimal import Decimal as D

from portal.exporters.sage300.mapping import map_subcontractor_invoice
from portal.exporters.sage300.records import (
    APDistribution,
    APInvoice,
    InvoiceLineData,
    SubcontractorInvoiceData,
)


def line(item="1", cost_code="01-100", category="SUB", description="Framing",
         work="1000.00", stored="0", retainage="100.00"):
    return InvoiceLineData(commitment_item=item, cost_code=cost_code, category=category,
                           description=description, work_completed=D(work),
                           materials_stored=D(stored), retainage=D(retainage))


def invoice(*lines, consolidate=True, **kw):
    values = dict(vendor="ACME", commitment="C-100", job="J-1", extra="", erp_id="INV-7",
                  description="Pay app 3", invoice_date=date(2026, 10, 15),
                  accounting_date=date(2026, 10, 31), lines=lines or (line(),), consolidate=consolidate)
    values.update(kw)
    return SubcontractorInvoiceData(**values)


def header_and_lines(data):
    batch = map_subcontractor_invoice(data, "b-1")
    head, *dists = batch.records
    assert isinstance(head, APInvoice) and all(isinstance(d, APDistribution) for d in dists)
    return head, dists


def test_batch_kind_and_id():
    batch = map_subcontractor_invoice(invoice(), "batch-42")
    assert batch.batch_id == "batch-42" and batch.kind == "ap_invoice"


def test_contract_company_maps_to_vendor():
    assert header_and_lines(invoice(vendor="V900"))[0].vendor == "V900"


def test_erp_id_maps_to_invoice():
    assert header_and_lines(invoice(erp_id="ERP-55"))[0].invoice == "ERP-55"


def test_description_maps_to_description_and_may_be_blank():
    assert header_and_lines(invoice(description="October"))[0].description == "October"
    assert header_and_lines(invoice(description=""))[0].description == ""


def test_billing_date_maps_to_invoice_date():
    assert header_and_lines(invoice(invoice_date=date(2026, 9, 30)))[0].invoice_date == date(2026, 9, 30)


def test_accounting_date_maps_to_acct_date():
    head, _ = header_and_lines(invoice(accounting_date=date(2026, 11, 1)))
    assert head.accounting_date == date(2026, 11, 1)


def test_amount_is_completed_plus_stored_and_retainage_is_total_retainage():
    head, _ = header_and_lines(invoice(line(work="1000", stored="250.50", retainage="125.05"),
                                       line(item="2", work="300", stored="0", retainage="30")))
    assert head.amount == D("1550.50")
    assert head.retainage == D("155.05")


def test_distribution_fields():
    data = invoice(line(item="3", cost_code="02-200", category="MAT", description="Drywall",
                        work="400", stored="100", retainage="50"), extra="E1")
    _, [d] = header_and_lines(data)
    assert d.commitment == "C-100"        # Commitment #
    assert d.commitment_item == "3"
    assert d.job == "J-1"                 # Project #
    assert d.extra == "E1"                # Sub Job #
    assert d.cost_code == "02-200"        # Cost Code
    assert d.category == "MAT"            # Budget Code -> Category
    assert d.description == "Drywall"     # Description of Work
    assert d.amount == D("500.00")        # Work Completed this Period (+ stored)
    assert d.retainage == D("50.00")      # Work Retainage


def test_no_sub_job_is_blank_extra():
    assert header_and_lines(invoice(extra=""))[1][0].extra == ""


def test_consolidates_per_commitment_item_in_first_seen_order():
    data = invoice(line(item="2", description="Second", work="10", retainage="1"),
                   line(item="1", cost_code="09-900", category="LAB", description="First A",
                        work="20", retainage="2"),
                   line(item="2", description="Second again", work="5", stored="5", retainage="1"),
                   line(item="1", cost_code="other", category="XXX", description="First B",
                        work="1", retainage="0"))
    _, dists = header_and_lines(data)
    assert [d.commitment_item for d in dists] == ["2", "1"]
    assert (dists[0].amount, dists[0].retainage, dists[0].description) == (D("20.00"), D("2.00"), "Second")
    assert (dists[1].cost_code, dists[1].category, dists[1].description) == ("09-900", "LAB", "First A")
    assert (dists[1].amount, dists[1].retainage) == (D("21.00"), D("2.00"))


def test_without_consolidation_one_distribution_per_line():
    data = invoice(line(item="1", description="a"), line(item="1", description="b"),
                   line(item="2", description="c"), consolidate=False)
    _, dists = header_and_lines(data)
    assert [(d.commitment_item, d.description) for d in dists] == [("1", "a"), ("1", "b"), ("2", "c")]


def test_zero_lines_are_dropped():
    data = invoice(line(item="1", work="0", stored="0", retainage="0"), line(item="2", work="50", retainage="5"),
                   consolidate=False)
    _, dists = header_and_lines(data)
    assert [d.commitment_item for d in dists] == ["2"]


def test_line_with_only_retainage_is_kept():
    _, dists = header_and_lines(invoice(line(work="0", stored="0", retainage="-25")))
    assert [(d.amount, d.retainage) for d in dists] == [(D("0.00"), D("-25.00"))]


def test_completed_and_stored_netting_to_zero_leaves_no_distributions():
    data = invoice(line(item="1", work="500", stored="-500", retainage="0"),
                   line(item="2", work="100", retainage="10"), line(item="2", work="-100", retainage="-10"))
    head, dists = header_and_lines(data)
    assert dists == [] and head.amount == D("0.00") and head.retainage == D("0.00")


def test_amounts_are_cents_and_header_equals_distribution_sums():
    data = invoice(line(item="1", work="0.005", stored="0.001", retainage="0.0049"),
                   line(item="2", work="33.333", stored="0.004", retainage="3.335"),
                   line(item="3", work="-0.5", stored="12.125", retainage="1.005"), consolidate=False)
    head, dists = header_and_lines(data)
    for amount in [head.amount, head.retainage] + [d.amount for d in dists] + [d.retainage for d in dists]:
        assert amount == amount.quantize(D("0.01")) and amount.as_tuple().exponent == -2
    assert head.amount == sum(d.amount for d in dists)
    assert head.retainage == sum(d.retainage for d in dists)
    assert [d.amount for d in dists] == [D("0.01"), D("33.34"), D("11.63")]


def test_tax_is_never_exported():
    head, dists = header_and_lines(invoice())
    assert not hasattr(head, "tax") and not any(hasattr(d, "tax") for d in dists)


def sub_line(description, quantity=None, work="100.00", item="1"):
    return InvoiceLineData(commitment_item=item, cost_code="01-100", category="SUB", description=description,
                           work_completed=D(work), materials_stored=D("0"), retainage=D("0"),
                           commitment_description="Framing labor", quantity=quantity)


def test_a_consolidated_distribution_is_described_as_its_commitment_line_and_sums_its_quantities():
    _, [dist] = header_and_lines(invoice(sub_line("East wall", D("2.5")), sub_line("West wall", D("1.5"))))
    assert (dist.description, dist.units, dist.amount) == ("Framing labor", D("4.0"), D("200.00"))


def test_a_line_of_its_own_keeps_its_description_and_quantity():
    _, dists = header_and_lines(invoice(sub_line("East wall", D("2.5")), sub_line("West wall"), consolidate=False))
    assert [(d.description, d.units) for d in dists] == [("East wall", D("2.5")), ("West wall", None)]


def test_an_amount_based_line_sends_no_units():
    _, [dist] = header_and_lines(invoice(sub_line("East wall")))
    assert dist.units is None
