"""The report services against a real database: a page of either report costs the same number of
statements at a few rows and at many (the figures at 10,000 rows: bench/bench_reports.py), who may
read them, and the filters' Invalid naming the field."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from portal.domain import reports
from portal.domain.errors import Invalid, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, ToolLevel, Vendor
from portal.domain.sage_models import DirectCost
from tests import factories as f
from tests.integration.test_job_costs_report import add_cost_codes, synced_project


def erp_items(session, project, n: int) -> None:
    """n vendors in ERP Integrations, sent one minute apart, on the project (its filter isolates them)."""
    vendors = [Vendor(name=f"Report vendor {i} {f.suffix()}") for i in range(n)]
    session.add_all(vendors)
    session.flush()
    t0 = datetime(2026, 6, 1, 8, 0)
    session.add_all([ErpItem(item_type="vendor", item_id=v.id, project_id=project.id,
                             state=(State.READY, State.SYNCED, State.REJECTED)[i % 3],
                             sent_at=t0 + timedelta(minutes=i), attempt=1) for i, v in enumerate(vendors)])
    session.commit()


def direct_costs(session, project, n: int) -> None:
    session.add_all([DirectCost(project_id=project.id, sage_transaction_id=i + 1, cost_type="Invoice",
                                sage_type="AP cost", item_date=date(2026, 1, 1) + timedelta(days=i % 200),
                                description=f"Txn {i}", vendor="", invoice="", cost_code="77-700", category="LAB",
                                amount=Decimal(i)) for i in range(n)])
    session.commit()


def counted(session, call) -> int:
    session.expire_all()
    with f.statements(session.get_bind()) as seen:
        call()
    return len(seen)


def test_an_accountant_page_costs_the_same_at_3_and_at_300_items(session):
    admin = f.make_user(session, erp_level=ToolLevel.ADMIN)
    small, large = synced_project(session), synced_project(session)
    erp_items(session, small, 3)
    erp_items(session, large, 300)

    def page(project):
        return lambda: reports.accountant_report(session, admin, reports.AccountantFilters(project_id=project.id),
                                                 2, 50)
    assert counted(session, page(small)) == counted(session, page(large))
    view = reports.accountant_report(session, admin, reports.AccountantFilters(project_id=large.id), 2, 50)
    assert view.total == 300 and len(view.rows) == 50 and view.pages == 6
    assert view.counts == {State.READY: 100, State.SYNCED: 100, State.REJECTED: 100}
    assert [r.erp.sent_at for r in view.rows] == sorted((r.erp.sent_at for r in view.rows), reverse=True)


def test_an_unsyncable_page_costs_the_same_at_3_and_at_300_costs(session):
    admin = f.make_user(session)
    small, large = synced_project(session), synced_project(session)
    for project, n in ((small, 3), (large, 300)):
        add_cost_codes(session, project)
        f.member(session, admin, project, ToolLevel.ADMIN)
        direct_costs(session, project, n)

    def page(project):
        return lambda: reports.unsyncable_report(session, admin, reports.UnsyncableFilters(project_id=project.id),
                                                 1, 50)
    assert counted(session, page(small)) == counted(session, page(large))
    view = reports.unsyncable_report(session, admin, reports.UnsyncableFilters(project_id=large.id), 1, 50)
    assert view.total == 300 and len(view.rows) == 50 and view.amount == sum(Decimal(i) for i in range(300))


def test_who_may_read_the_reports(session):
    project = synced_project(session)
    approver, member = f.approver(session), f.make_user(session)
    f.member(session, member, project, ToolLevel.STANDARD)
    with pytest.raises(PermissionDenied):  # the guide: ERP Admin only
        reports.accountant_report(session, approver, reports.AccountantFilters(), 1)
    with pytest.raises(PermissionDenied):  # Admin on the project, not Standard
        reports.unsyncable_report(session, member, reports.UnsyncableFilters(project_id=project.id), 1)
    with pytest.raises(PermissionDenied):  # ERP Integrations access does not let anyone read it
        reports.unsyncable_csv(session, f.make_user(session, erp_level=ToolLevel.ADMIN), reports.UnsyncableFilters())


def test_bad_filters_name_their_field():
    with pytest.raises(Invalid) as bad:
        reports.UnsyncableFilters.parse({"from": "2026-02-30"})
    assert bad.value.fields == {"from": "Enter a date as MM/DD/YYYY."}
    with pytest.raises(Invalid) as bad:
        reports.AccountantFilters.parse({"project": "-1"})
    assert "project" in bad.value.fields
    assert reports.UnsyncableFilters.parse({"q": " x ", "reason": "vendor"}).args() == {"q": "x", "reason": "vendor"}
