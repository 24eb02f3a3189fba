"""Ready to Import, sync buttons and the sync schedule through the web: pages and fragments,
every action, role x route (a refused POST changes nothing), and a real sync run by a real
RQ worker against the simulator."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from portal.domain import sync
from portal.domain.models import (ImportStatus, Project, SageRecord, SyncRun, SyncSchedule, SyncStatus,
                                  Vendor)
from tests import factories as f
from tests.web import roles

HX = {"HX-Request": "true"}
ROLE_USERS = {**{k: roles.ROLE_USERS[k] for k in ("none", "readonly", "standard", "approver")},
              "erp_admin": roles.ROLE_USERS["erp_admin_no_push"]}
ROLES = list(ROLE_USERS)
VIEWERS = {"readonly", "standard", "approver", "erp_admin"}
DECIDERS = {"approver", "erp_admin"}


def stage_vendor(app, sim, name=None) -> tuple[int, str]:
    """A vendor only in Sage, read by a vendor sync: (its SageRecord id, its Sage ID)."""
    vendor_id = f"W{f.suffix(8)}"[:10]
    sim.add_vendor(vendor_id, name or f"Web Vendor {f.suffix()}", city="Bend", telephone="541-555-0100")
    with f.app_session(app) as session:
        run = sync.start(session, f.approver(session), "vendors", _Queue())
        sync.execute(session, run.id, sim)
        rec = session.scalars(select(SageRecord).where(SageRecord.kind == "vendor",
                                                       SageRecord.sage_key == vendor_id)).one()
        return rec.id, vendor_id


class _Queue:
    def sync(self, run_id, job_id):
        pass


def status_of(app, record_id):
    with f.app_session(app) as session:
        return session.get(SageRecord, record_id).status


# ---- pages ----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/erp/import/vendors", "/erp/import/vendors?status=archived",
                                 "/erp/import/vendors?status=done", "/erp/import/jobs", "/erp/import/sub-jobs",
                                 "/erp/import/prime-contracts", "/erp/import/prime-contracts?status=done",
                                 "/erp/import/cost-codes", "/erp/job-costs", "/erp/sync/schedule",
                                 "/erp/sync/bar/vendor", "/erp/sync/bar/cost_code"])
@pytest.mark.parametrize("role", ["anonymous"] + list(ROLES))
def test_pages_role_matrix(app, clients, url, role):
    response = clients[role].get(url)
    if role == "anonymous":
        assert response.status_code == 302 and urlsplit(response.location).path == "/login"
    elif role in VIEWERS:
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    else:
        assert response.status_code == 403


def test_list_page_and_fragment(app, clients, sim):
    record_id, vendor_id = stage_vendor(app, sim, name=f"Fragment Co {f.suffix()}")
    client = clients["approver"]
    page = client.get(f"/erp/import/vendors?q={vendor_id}").get_data(as_text=True)
    assert "<html" in page and vendor_id in page and "Link all exact matches" in page
    fragment = client.get(f"/erp/import/vendors?q={vendor_id}", headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and 'id="import-list"' in fragment and vendor_id in fragment
    readonly = clients["readonly"].get(f"/erp/import/vendors?q={vendor_id}").get_data(as_text=True)
    assert vendor_id in readonly and "Add to directory" not in readonly and "Link all" not in readonly


def test_unknown_list_is_404(app, clients):
    assert clients["approver"].get("/erp/import/nothing").status_code == 404


def test_tab_shows_the_lazy_sync_bar(app, clients):
    client = clients["approver"]
    assert "/erp/sync/bar/vendor" in client.get("/erp/vendor").get_data(as_text=True)
    bar = client.get("/erp/sync/bar/vendor", headers=HX).get_data(as_text=True)
    assert "Ready to Import" in bar and "Sync from Sage now" in bar
    assert "Sync from Sage now" not in clients["readonly"].get("/erp/sync/bar/vendor").get_data(as_text=True)
    assert client.get("/erp/sync/bar/budget").status_code == 404  # no on-demand sync on Budgets


# ---- actions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["anonymous"] + list(ROLES))
def test_add_vendor_role_matrix(app, clients, sim, role):
    record_id, vendor_id = stage_vendor(app, sim)
    response = clients[role].post(f"/erp/import/vendors/{record_id}/add")
    if role in DECIDERS:
        assert response.status_code == 303
        assert status_of(app, record_id) == ImportStatus.ADDED
        with f.app_session(app) as session:
            assert session.scalars(select(Vendor).where(Vendor.erp_vendor_id == vendor_id)).one().city == "Bend"
    else:
        assert response.status_code in (302, 403)
        assert status_of(app, record_id) == ImportStatus.PENDING


def test_add_twice_is_a_clear_conflict_and_no_duplicate(app, clients, sim):
    record_id, vendor_id = stage_vendor(app, sim)
    client = clients["approver"]
    assert client.post(f"/erp/import/vendors/{record_id}/add").status_code == 303
    again = client.post(f"/erp/import/vendors/{record_id}/add", headers=HX)
    assert again.status_code == 409 and "already added" in again.get_data(as_text=True)
    assert again.headers["HX-Retarget"] == "#messages"
    with f.app_session(app) as session:
        assert session.scalar(select(func.count()).select_from(Vendor).where(Vendor.erp_vendor_id == vendor_id)) == 1


def test_link_archive_and_unarchive(app, clients, sim):
    record_id, vendor_id = stage_vendor(app, sim)
    other_id, _ = stage_vendor(app, sim)
    with f.app_session(app) as session:
        company = Vendor(name=f"Directory Co {f.suffix()}")
        session.add(company)
        session.commit()
        company_id = company.id
    client = clients["approver"]
    bad = client.post(f"/erp/import/vendors/{record_id}/link", data={"vendor_id": "x"})
    assert bad.status_code == 422 and status_of(app, record_id) == ImportStatus.PENDING
    ok = client.post(f"/erp/import/vendors/{record_id}/link", data={"vendor_id": company_id,
                                                                     "next": "/erp/import/vendors?q=zz"})
    assert ok.status_code == 303 and ok.location.endswith("/erp/import/vendors?q=zz")
    with f.app_session(app) as session:
        assert session.get(Vendor, company_id).erp_vendor_id == vendor_id
    assert client.post(f"/erp/import/vendors/{other_id}/archive").status_code == 303
    assert status_of(app, other_id) == ImportStatus.ARCHIVED
    assert client.post(f"/erp/import/vendors/{other_id}/unarchive").status_code == 303
    assert status_of(app, other_id) == ImportStatus.PENDING
    offsite = client.post(f"/erp/import/vendors/{other_id}/archive", data={"next": "https://evil.example/"})
    assert urlsplit(offsite.location).netloc in ("", "localhost") and "evil" not in offsite.location


def test_link_exact_matches_from_the_page(app, clients, sim):
    name = f"Exact Web {f.suffix()}"
    with f.app_session(app) as session:
        company = Vendor(name=name)
        session.add(company)
        session.commit()
        company_id = company.id
    record_id, vendor_id = stage_vendor(app, sim, name=name)
    response = clients["approver"].post("/erp/import/vendors/link-exact", follow_redirects=True)
    assert "linked by exact name" in response.get_data(as_text=True)
    with f.app_session(app) as session:
        assert session.get(Vendor, company_id).erp_vendor_id == vendor_id


def test_add_job_from_the_page_fills_the_project_number(app, clients, sim):
    job = f"{f.suffix(2)}-{f.suffix(3)}"
    sim.add_job(job, "Web Job")
    sim.add_cost_code(job, "01-100", "General")
    with f.app_session(app) as session:
        run = sync.start(session, f.approver(session), "jobs", _Queue())
        sync.execute(session, run.id, sim)
        record_id = session.scalars(select(SageRecord).where(SageRecord.kind == "job", SageRecord.sage_key == job)).one().id
    assert clients["standard"].post(f"/erp/import/jobs/{record_id}/add").status_code == 403
    assert clients["approver"].post(f"/erp/import/jobs/{record_id}/add").status_code == 303
    with f.app_session(app) as session:
        project = session.scalars(select(Project).where(Project.sage_job_id == job)).one()
        assert project.number == job and project.name == "Web Job"


# ---- syncs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["anonymous"] + list(ROLES))
def test_start_sync_role_matrix(app, clients, role):
    with f.app_session(app) as session:
        before = session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.kind == "sub_jobs"))
    response = clients[role].post("/erp/sync/sub_jobs", headers=HX)
    with f.app_session(app) as session:
        after = session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.kind == "sub_jobs"))
        active = sync.active_run(session, "sub_jobs")
        if active is not None:  # leave nothing queued for the next test
            sync._finish(active, SyncStatus.FAILED, "test cleanup")
            session.commit()
    if role in DECIDERS:
        assert response.status_code == 200 and "sync-run" in response.get_data(as_text=True)
        assert after in (before, before + 1)
    else:
        assert response.status_code in (302, 401, 403) or response.headers.get("HX-Redirect")
        assert after == before


def test_sync_button_runs_in_a_real_worker_and_the_fragment_settles(app, clients, sim, drain):
    _record_id, vendor_id = stage_vendor(app, sim)
    sim.add_vendor(f"N{f.suffix(8)}"[:10], "Brand New Vendor")
    client = clients["approver"]
    started = client.post("/erp/sync/vendors", headers=HX)
    body = started.get_data(as_text=True)
    assert started.status_code == 200 and 'hx-trigger="every 1s"' in body and "queued" in body
    with f.app_session(app) as session:
        run_id = sync.latest_run(session, "vendors").id
    drain()
    settled = client.get(f"/erp/sync/runs/{run_id}", headers=HX)
    text = settled.get_data(as_text=True)
    assert settled.status_code == 286 and "sync done" in text and "1 added" in text
    assert "every 1s" not in text
    again = client.post("/erp/sync/vendors", headers=HX)
    assert again.status_code == 200
    drain()
    with f.app_session(app) as session:
        last = sync.latest_run(session, "vendors")
        assert last.status == SyncStatus.DONE and (last.added, last.updated) == (0, 0)


def test_unknown_sync_is_404_and_a_company_sync_refuses_a_project(app, clients):
    client = clients["approver"]
    assert client.post("/erp/sync/budgets").status_code == 404
    assert client.post("/erp/sync/vendors", data={"project_id": "1"}).status_code == 422


# ---- schedule -------------------------------------------------------------------------------------

def _schedule_form(app):
    with f.app_session(app) as session:
        rows = sync.schedules(session)
        form = {f"enabled_{r.kind}": "on" for r in rows if r.enabled}
        form.update({f"interval_{r.kind}": str(r.interval_minutes) for r in rows})
    return form


@pytest.mark.parametrize("role", ["anonymous"] + list(ROLES))
def test_schedule_post_role_matrix(app, clients, role):
    form = _schedule_form(app)
    response = clients[role].post("/erp/sync/schedule", data={**form, "interval_jobs": "30"})
    with f.app_session(app) as session:
        minutes = session.get(SyncSchedule, "jobs").interval_minutes
    if role == "erp_admin":
        assert response.status_code == 303 and minutes == 30
        clients["erp_admin"].post("/erp/sync/schedule", data={**form, "interval_jobs": "60"})
    else:
        assert response.status_code in (302, 403) and minutes == 60


def test_schedule_page_shows_last_and_next_run_and_refuses_bad_input(app, clients):
    client = clients["erp_admin"]
    page = client.get("/erp/sync/schedule").get_data(as_text=True)
    assert "Next run" in page and "Job Costs" in page and "2 hours" in page
    form = _schedule_form(app)
    bad = client.post("/erp/sync/schedule", data={**form, "interval_vendors": "0"})
    assert bad.status_code == 422 and "Choose one of the offered intervals" in bad.get_data(as_text=True)
    with f.app_session(app) as session:
        assert session.get(SyncSchedule, "vendors").interval_minutes == 60


def test_find_a_company_by_name_and_link_it(app, clients, sim):
    record_id, vendor_id = stage_vendor(app, sim)
    name = f"Findable Builders {f.suffix()}"
    with f.app_session(app) as session:
        company = Vendor(name=name)
        linked = Vendor(name=f"{name} linked", erp_vendor_id=f"L{f.suffix(8)}"[:10])
        session.add_all([company, linked])
        session.commit()
        company_id = company.id
    client = clients["approver"]
    options = client.get(f"/erp/import/companies?company={name[:-2]}", headers=HX).get_data(as_text=True)
    assert f'value="{name} [#{company_id}]"' in options and "linked [#" not in options
    assert client.get("/erp/import/companies?company=F", headers=HX).get_data(as_text=True).strip() == ""
    response = client.post(f"/erp/import/vendors/{record_id}/link", data={"company": f"{name} [#{company_id}]",
                                                                          "vendor_id": ""})
    assert response.status_code == 303
    with f.app_session(app) as session:
        assert session.get(Vendor, company_id).erp_vendor_id == vendor_id


@pytest.mark.parametrize("role", ["anonymous"] + list(ROLES))
def test_refresh_project_role_matrix(app, clients, sim, role):
    job = f"{f.suffix(2)}-{f.suffix(3)}"
    sim.add_job(job, "Refresh Job")
    sim.add_cost_code(job, "01-100", "General")
    sim.add_category(job, "01-100", "L", "Labor")
    with f.app_session(app) as session:
        project = Project(name="Refresh Job", number=job, sage_job_id=job)
        session.add(project)
        session.commit()
        project_id = project.id
    response = clients[role].post(f"/erp/import/projects/{project_id}/refresh")
    from portal.domain.models import CostCode
    with f.app_session(app) as session:
        codes = session.scalars(select(CostCode.code).where(CostCode.project_id == project_id)).all()
    if role in DECIDERS:
        assert response.status_code == 303 and codes == ["01-100"]
    else:
        assert response.status_code in (302, 403) and codes == []


def test_a_stalled_run_stops_polling_and_says_what_to_do(app, clients):
    from datetime import timedelta

    from portal.domain.models import utcnow
    with f.app_session(app) as session:
        run = sync.start(session, f.approver(session), "prime_contracts", _Queue())
        run.status, run.heartbeat_at = SyncStatus.RUNNING, utcnow() - timedelta(hours=2)
        session.commit()
        run_id = run.id
    client = clients["approver"]
    response = client.get(f"/erp/sync/runs/{run_id}", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 286 and "sync stalled" in body and "every 1s" not in body
    again = client.post("/erp/sync/prime_contracts", headers=HX)   # a new run replaces it
    with f.app_session(app) as session:
        assert session.get(SyncRun, run_id).status == SyncStatus.FAILED
        fresh = sync.active_run(session, "prime_contracts")
        assert fresh is not None and fresh.id != run_id and again.status_code == 200
        sync._finish(fresh, SyncStatus.FAILED, "test cleanup")
        session.commit()
