"""Ready to Import, sync buttons and the sync schedule through the web: pages and fragments,
every action, and a real sync run by a real RQ worker against the simulator (who may reach
them: tests/web/test_access.py)."""
from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import func, select

from portal.domain import sync
from portal.domain.models import Project, StandardCategory, StandardCostCode, Vendor
from portal.domain.sage_models import ImportStatus, SageRecord, SyncRun, SyncSchedule, SyncStatus
from tests import factories as f
from tests.rows import check_rows
from tests.web import roles
from tests.web.pages import text

HX = {"HX-Request": "true"}
ROLE_USERS = {**{k: roles.ROLE_USERS[k] for k in ("none", "readonly", "standard", "approver")},
              "erp_admin": roles.ROLE_USERS["erp_admin_no_push"]}
PAGES = ["/erp/import/vendors", "/erp/import/vendors?status=archived", "/erp/import/vendors?status=done",
         "/erp/import/jobs", "/erp/import/sub-jobs", "/erp/import/prime-contracts",
         "/erp/import/prime-contracts?status=done", "/erp/import/cost-codes",
         "/erp/sync/schedule", "/erp/sync/bar/vendor", "/erp/sync/bar/cost_code"]


def stage_vendor(app, sim, name=None) -> tuple[int, str]:
    """A vendor only in Sage, Ready to Import: (its SageRecord id, its Sage ID)."""
    with f.app_session(app) as session:
        return f.sage_vendor(session, sim, name=name)


class _Queue:
    def sync(self, run_id, job_id):
        pass


def status_of(app, record_id):
    with f.app_session(app) as session:
        return session.get(SageRecord, record_id).status


def test_every_list_and_sync_page_renders_for_an_erp_user(clients):
    failed = {url: r.status_code for url in PAGES if (r := clients["readonly"].get(url)).status_code != 200}
    assert not failed


def test_list_page_and_fragment(app, clients, sim):
    record_id, vendor_id = stage_vendor(app, sim, name=f"Fragment Co {f.suffix()}")
    client = clients["erp_admin"]
    page = client.get(f"/erp/import/vendors?q={vendor_id}").get_data(as_text=True)
    assert "<html" in page and vendor_id in page and "Link all exact matches" in page
    approver = clients["approver"].get(f"/erp/import/vendors?q={vendor_id}").get_data(as_text=True)
    row = approver.split(f'id="record-{record_id}"')[1].split("</tr>")[0]  # linking: ERP Admins only
    assert "Add to directory" in row and "Link</button>" not in row and "Link all exact" not in approver
    fragment = client.get(f"/erp/import/vendors?q={vendor_id}", headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and 'id="import-list"' in fragment and vendor_id in fragment
    readonly = clients["readonly"].get(f"/erp/import/vendors?q={vendor_id}").get_data(as_text=True)
    assert vendor_id in readonly and "Add to directory" not in readonly and "Link all" not in readonly


def test_a_standard_user_adds_and_archives_sage_vendors_but_links_nothing(app, clients, sim):
    """The guide: Standard may add an ERP company to the directory and archive one; linking stays
    with ERP Admins (the guide's "Link ERP Companies to Procore Companies": Admin)."""
    record_id, vendor_id = stage_vendor(app, sim, name=f"Standard Co {f.suffix()}")
    other_id, other_vendor = stage_vendor(app, sim, name=f"Archived Co {f.suffix()}")
    client = clients["standard"]
    page = client.get(f"/erp/import/vendors?q={vendor_id}").get_data(as_text=True)
    row = page.split(f'id="record-{record_id}"')[1].split("</tr>")[0]
    assert "Add to directory" in row and "Archive" in row and "Link</button>" not in row
    assert "Link all exact matches" not in page
    assert client.post(f"/erp/import/vendors/{record_id}/add").status_code == 303
    assert status_of(app, record_id) == ImportStatus.ADDED
    assert client.post(f"/erp/import/vendors/{other_id}/archive").status_code == 303
    assert status_of(app, other_id) == ImportStatus.ARCHIVED
    archived = client.get(f"/erp/import/vendors?status=archived&q={other_vendor}").get_data(as_text=True)
    assert "Back to Ready to Import" in archived
    assert client.post(f"/erp/import/vendors/{other_id}/unarchive").status_code == 303
    assert status_of(app, other_id) == ImportStatus.PENDING
    readonly = clients["readonly"].get(f"/erp/import/vendors?q={other_vendor}").get_data(as_text=True)
    assert "Add to directory" not in readonly and "Archive</button>" not in readonly


def test_company_job_costs_tab_is_for_erp_admins_only(clients):
    """The guide: the company-level Job Costs report needs Admin on ERP Integrations."""
    def sees(role):
        tabs = clients[role].get("/erp/import/cost-codes").get_data(as_text=True).split('aria-label="Item types"')[1]
        return 'href="/erp/job-costs"' in tabs.split("</nav>")[0]
    assert {role: sees(role) for role in ("readonly", "standard", "approver", "erp_admin")} == \
        {"readonly": False, "standard": False, "approver": False, "erp_admin": True}
    assert clients["erp_admin"].get("/erp/job-costs").status_code == 200
    refused = clients["standard"].get("/erp/job-costs")
    assert refused.status_code == 403 and "for ERP Admins" in refused.get_data(as_text=True)


def test_unknown_list_is_404(app, clients):
    assert clients["approver"].get("/erp/import/nothing").status_code == 404


def test_tab_shows_the_lazy_sync_bar(app, clients):
    client = clients["approver"]
    assert "/erp/sync/bar/vendor" in client.get("/erp/vendor").get_data(as_text=True)
    bar = client.get("/erp/sync/bar/vendor", headers=HX).get_data(as_text=True)
    assert "Ready to Import" in bar and "Sync from Sage now" in bar
    assert "Sync from Sage now" not in clients["readonly"].get("/erp/sync/bar/vendor").get_data(as_text=True)
    assert client.get("/erp/sync/bar/budget").status_code == 404  # no on-demand sync on Budgets


def test_add_twice_is_a_clear_conflict_and_no_duplicate(app, clients, sim):
    record_id, vendor_id = stage_vendor(app, sim)
    client = clients["approver"]
    assert client.post(f"/erp/import/vendors/{record_id}/add").status_code == 303
    again = client.post(f"/erp/import/vendors/{record_id}/add", headers=HX)
    body = again.get_data(as_text=True)
    # the record's row as it now is (in the list of added ones) and who added it, when
    assert again.status_code == 409 and f"was already added as {sim.get_vendor(vendor_id)['Name']} by" in body, body
    assert again.headers["HX-Retarget"] == "#import-list" and f'id="record-{record_id}"' in body
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
    client = clients["erp_admin"]
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


def test_back_after_an_action_stays_on_site_whatever_next_says(app, clients, sim):
    """The `next` a form posts goes through the login's check: anything but a plain path on this site
    (a backslash, a tab or CR LF browsers drop, a host) sends the user back to the list instead."""
    record_id, _ = stage_vendor(app, sim)
    client = clients["approver"]

    def check(target):
        for action in ("archive", "unarchive"):
            response = client.post(f"/erp/import/vendors/{record_id}/{action}", data={"next": target})
            assert (response.status_code, response.location) == (303, "/erp/import/vendors"), response.location

    check_rows({repr(t): t for t in ("/\\evil.example/x", "/\t/evil.example/x", "/\r\nSet-Cookie: x=y",
                                     "//evil.example", "https://evil.example/")}, check)


def test_link_exact_matches_from_the_page(app, clients, sim):
    name = f"Exact Web {f.suffix()}"
    with f.app_session(app) as session:
        company = Vendor(name=name)
        session.add(company)
        session.commit()
        company_id = company.id
    record_id, vendor_id = stage_vendor(app, sim, name=name)
    response = clients["erp_admin"].post("/erp/import/vendors/link-exact", follow_redirects=True)
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
        record_id = session.scalars(select(SageRecord).where(SageRecord.kind == "job",
                                                             SageRecord.sage_key == job)).one().id
    for refused in ("standard", "approver"):  # the guide: Admin on ERP Integrations only
        assert clients[refused].post(f"/erp/import/jobs/{record_id}/add").status_code == 403
        assert "Add as project" not in clients[refused].get(f"/erp/import/jobs?q={job}").get_data(as_text=True)
    assert "Add as project" in clients["erp_admin"].get(f"/erp/import/jobs?q={job}").get_data(as_text=True)
    assert clients["erp_admin"].post(f"/erp/import/jobs/{record_id}/add").status_code == 303
    with f.app_session(app) as session:
        project = session.scalars(select(Project).where(Project.sage_job_id == job)).one()
        assert project.number == job and project.name == "Web Job"


def test_sync_button_runs_in_a_real_worker_and_the_fragment_settles(app, clients, sim, drain):
    with f.app_session(app) as session:  # what Sage holds so far is read once: only the new vendor is added
        sync.execute(session, sync.start(session, f.approver(session), "vendors", _Queue()).id, sim)
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
    client = clients["erp_admin"]
    options = client.get(f"/erp/import/companies?company={name[:-2]}", headers=HX).get_data(as_text=True)
    assert f'value="{name} [#{company_id}]"' in options and "linked [#" not in options
    assert client.get("/erp/import/companies?company=F", headers=HX).get_data(as_text=True).strip() == ""
    response = client.post(f"/erp/import/vendors/{record_id}/link", data={"company": f"{name} [#{company_id}]",
                                                                          "vendor_id": ""})
    assert response.status_code == 303
    with f.app_session(app) as session:
        assert session.get(Vendor, company_id).erp_vendor_id == vendor_id


def test_a_search_with_a_control_character_is_refused_naming_it(clients):
    """A NUL in a search (found by the fuzz on PostgreSQL, which refuses it in a query: a 500) is a
    422 naming the search, on every page that searches."""
    rows = {url: (url, url.split("?")[1].split("=")[0]) for url in (
        "/erp/import/companies?company=a%00b", "/erp/import/companies?q=a%00b", "/erp/import/vendors?q=a%00b",
        "/erp/vendor?q=a%1Bb")}

    def check(url, name):
        response = clients["approver"].get(url)
        assert response.status_code == 422, response.status_code
        assert f"characters that cannot be stored: {name}." in text(response)

    check_rows(rows, check)


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


def test_standard_users_assign_default_cost_types_on_the_cost_codes_page(app, clients):
    """The guide: Standard and Admin assign default cost types to standard cost codes; Read Only sees them."""
    with f.app_session(app) as session:
        if session.scalars(select(StandardCategory).where(StandardCategory.code == "MAT")).first() is None:
            session.add(StandardCategory(code="MAT", description="Material"))
        code = StandardCostCode(code=f"W{f.suffix(6)}"[:12], description="Web defaulted", active=True)
        session.add(code)
        session.commit()
        code_id, code_name = code.id, code.code
    url = f"/erp/import/cost-codes/{code_id}/default-cost-type"
    page = text(clients["standard"].get("/erp/import/cost-codes"))
    assert f'action="{url}"' in page and f'id="default-{code_id}"' in page
    assert f'action="{url}"' not in text(clients["readonly"].get("/erp/import/cost-codes"))
    bad = clients["standard"].post(url, data={"default_category": "=X"})
    assert bad.status_code == 422 and "Default cost type" in text(bad)
    ok = clients["standard"].post(url, data={"default_category": "MAT"}, follow_redirects=True)
    assert f"Cost code {code_name}: default cost type MAT." in text(ok)
    row = text(clients["readonly"].get("/erp/import/cost-codes")).split(f'id="standard-code-{code_id}"')[1]
    assert row.split("</tr>")[0].rstrip().endswith("MAT</td>")
