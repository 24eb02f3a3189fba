"""Data back from Sage: sync runs (on demand or scheduled) and what each sync reads.

A run is a row (SyncRun) that an RQ job executes; the browser polls its progress fragment.
A partial unique index lets only one queued-or-running run exist per (kind, scope), so two
web processes, schedulers or workers never run the same sync twice at once. Every sync is
idempotent: it compares what Sage holds with what the portal last read (SageRecord and the
imported tables) and counts added / updated / unchanged, so a second run changes nothing.

`reader` is anything with the simulator's reader methods (list_vendors, list_jobs, ...).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.domain import compliance, outbox, payments, policy, settings
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.links import link_cost_codes
from portal.domain.models import (
    Budget,
    BudgetLine,
    Category,
    CostCode,
    PrimeContract,
    PrimeContractItem,
    Project,
    StandardCategory,
    StandardCostCode,
    SubJob,
    User,
    Vendor,
    VendorInsurance,
    utcnow,
)
from portal.domain.ports import SyncQueue
from portal.domain.sage_models import (
    DirectCost,
    ImportStatus,
    JobCostLine,
    SageRecord,
    SyncRun,
    SyncSchedule,
    SyncStatus,
)
from portal.domain.uow import transactional
from portal.exporters.sage300 import imports
from portal.exporters.sage300.records import SageUnreadable

log = logging.getLogger(__name__)

PROGRESS_EVERY = 100
MAX_DETAILS = 50


UNREADABLE = ("Imports need a connection that can read Sage 300 CRE (the simulator); "
              "the file-drop connector only writes import files.")


@dataclass
class Tally:
    """Counts of one run, written to its SyncRun as it goes."""
    run: SyncRun
    session: Session
    details: list = field(default_factory=list)
    # what a sync's mails need (company, links, the mail queue): notifications.Notices or None
    notices: Any = None

    def add(self, what: str, n: int = 1) -> None:
        setattr(self.run, what, (getattr(self.run, what) or 0) + n)

    def error(self, text: str) -> None:
        self.add("errors")
        if len(self.details) < MAX_DETAILS:
            self.details.append(text)

    def total(self, n: int) -> None:
        self.run.total = (self.run.total or 0) + n
        self.progress(0)

    def step(self, n: int = 1) -> None:
        self.run.processed = (self.run.processed or 0) + n
        if self.run.processed % PROGRESS_EVERY == 0:
            self.progress(0)

    def progress(self, _n: int) -> None:
        """Commit what is done so far: the progress fragment shows it and nothing is lost."""
        self.run.heartbeat_at = utcnow()
        self.run.details = list(self.details) or None
        self.session.commit()


class _Uncounted:
    """A Tally for work done outside a sync run (an approver's import): counts nothing."""

    def add(self, what: str, n: int = 1) -> None:
        pass

    def total(self, n: int) -> None:
        pass

    def step(self, n: int = 1) -> None:
        pass


@dataclass(frozen=True)
class SyncKind:
    key: str
    label: str          # the ERP Integrations tab the button sits on
    default_interval: int  # minutes
    run: Callable[[Session, object, Tally, int | None], None]
    per_project: bool = False


KINDS: dict[str, SyncKind] = {}


def kind(key: str, label: str, default_interval: int = 60, per_project: bool = False):
    def register(fn):
        KINDS[key] = SyncKind(key, label, default_interval, fn, per_project)
        return fn
    return register


def get_kind(key: str) -> SyncKind:
    try:
        return KINDS[key]
    except KeyError:
        raise NotFound(f"There is no {key!r} sync.") from None


def scope_of(project_id: int | None) -> str:
    return f"project:{project_id}" if project_id else ""


def project_of(scope: str) -> int | None:
    return int(scope.split(":", 1)[1]) if scope.startswith("project:") else None


# ---- starting, running, watching ---------------------------------------------------------

def job_id(run: SyncRun) -> str:
    return f"sync-{run.id}"


@transactional
def start(session: Session, actor: User | None, key: str, queue: SyncQueue, *, project_id: int | None = None,
          trigger: str = "manual", stall_after: timedelta = timedelta(minutes=10)) -> SyncRun:
    """Queue a sync (on-demand button or the schedule); when the same sync is already queued or
    running, that run is returned instead of a second one."""
    sync = get_kind(key)
    if trigger == "manual" and not policy.can(actor, policy.IMPORT):
        raise PermissionDenied("Syncing from Sage needs an accounting approver or an ERP Admin.")
    if project_id is not None:
        if not sync.per_project:
            raise Invalid(f"The {sync.label} sync is company-wide.")
        project = session.get(Project, project_id)
        if project is None:
            raise NotFound("There is no such project.")
        if not project.sage_job_id:
            raise Invalid(f"{project.name} is not synced with a Sage job yet: export or link the job first.")
    scope = scope_of(project_id)
    for _attempt in range(2):
        run = SyncRun(kind=key, scope=scope, trigger=trigger, status=SyncStatus.QUEUED,
                      requested_by_id=actor.id if actor else None, created_at=utcnow())
        session.add(run)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            active = active_run(session, key, scope)
            if active is None:
                continue  # it finished in between: try again
            if is_stalled(active, stall_after):
                _finish(active, SyncStatus.FAILED, "Stalled: the worker running it stopped. A new run was started.")
                session.commit()
                continue
            return active
        break
    else:  # pragma: no cover - two races in a row
        raise Conflict("This sync is starting elsewhere; reload in a moment.")
    run.job_id = job_id(run)
    try:
        queue.sync(run.id, job_id(run))
    except Exception as exc:  # noqa: BLE001 - Redis down: it waits, queued, for the reaper
        log.warning("could not queue sync %s: %s", run.id, exc)
        run.message = "Waiting for the job queue, which cannot be reached; the sync starts once it is back."
    session.commit()
    return run


def is_stalled(run: SyncRun, stall_after: timedelta) -> bool:
    """A queued or running run with no sign of life for stall_after (its worker stopped)."""
    seen = run.heartbeat_at or run.started_at or run.created_at
    return seen is not None and utcnow() - seen > stall_after


def active_run(session: Session, key: str, scope: str = "") -> SyncRun | None:
    return session.scalars(select(SyncRun).where(SyncRun.kind == key, SyncRun.scope == scope,
                                                 SyncRun.status.in_(SyncStatus.ACTIVE))).first()


def _finish(run: SyncRun, status: str, message: str | None = None) -> None:
    run.status = status
    run.finished_at = utcnow()
    if message:
        run.message = message


def execute(session: Session, run_id: int, reader, notices: Any = None) -> SyncRun | None:
    """Run one queued sync (the RQ job); a run another worker already took is left alone.
    `notices` (notifications.Notices): what the mails a sync writes need."""
    claimed = cast(CursorResult, session.execute(  # an UPDATE's result is a CursorResult
        update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == SyncStatus.QUEUED)
        .values(status=SyncStatus.RUNNING, started_at=utcnow(), heartbeat_at=utcnow())))
    session.commit()
    run = session.get(SyncRun, run_id)
    if run is None or claimed.rowcount != 1:
        return run
    tally = Tally(run, session, notices=notices)
    # Progress commits must not expire the thousands of rows a sync holds (each would be
    # reloaded one by one on its next use).
    real = session.registry() if hasattr(session, "registry") else session  # scoped or plain
    expire, real.expire_on_commit = real.expire_on_commit, False
    try:
        if reader is None:
            raise SageUnreadable(UNREADABLE)
        get_kind(run.kind).run(session, reader, tally, project_of(run.scope))
        run.details = list(tally.details) or None
        _finish(run, SyncStatus.DONE, summary(run))
        session.commit()
    except Exception as exc:  # noqa: BLE001 - any failure is shown on the run, nothing half-hidden
        session.rollback()
        run = session.get(SyncRun, run_id)
        assert run is not None  # it was there before the rollback, and runs are never deleted
        log.exception("sync %s failed", run_id)
        text = str(exc) if isinstance(exc, (SageUnreadable, Invalid)) else f"{type(exc).__name__}: {exc}"
        _finish(run, SyncStatus.FAILED, f"The sync stopped: {text[:500]} What was imported before "
                                        "stays; run it again to continue.")
        session.commit()
    finally:
        real.expire_on_commit = expire
        if run is not None and run.status == SyncStatus.RUNNING:  # never leave it running
            _finish(run, SyncStatus.FAILED, "The sync stopped unexpectedly.")
            session.commit()
    return run


def summary(run: SyncRun) -> str:
    return (f"{run.added} added, {run.updated} updated, {run.unchanged} unchanged, "
            f"{run.errors} error{'s' if run.errors != 1 else ''}")


def get_run(session: Session, run_id: int) -> SyncRun:
    run = session.get(SyncRun, run_id)
    if run is None:
        raise NotFound("There is no such sync run.")
    return run


def latest_run(session: Session, key: str, scope: str = "") -> SyncRun | None:
    return session.scalars(select(SyncRun).where(SyncRun.kind == key, SyncRun.scope == scope)
                           .order_by(SyncRun.id.desc()).limit(1)).first()


def recent_runs(session: Session, limit: int = 30) -> list[SyncRun]:
    return list(session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)))


# ---- the schedule --------------------------------------------------------------------------

def schedules(session: Session) -> list[SyncSchedule]:
    """Every sync's schedule, created with the guide's defaults (company lists hourly,
    job costs every 2 hours) the first time it is asked for, each due at once."""
    have = {s.kind: s for s in session.scalars(select(SyncSchedule).options(selectinload(SyncSchedule.last_run)))}
    missing = [k for k in KINDS if k not in have]
    if missing:
        now = utcnow()
        for key in missing:
            # the first run is due at once: a new portal reads Sage on the scheduler's first tick
            session.add(SyncSchedule(kind=key, enabled=True, interval_minutes=KINDS[key].default_interval,
                                     next_run_at=now))
        try:
            session.commit()
        except IntegrityError:  # another process created them at the same moment
            session.rollback()
        have = {s.kind: s for s in session.scalars(select(SyncSchedule).options(selectinload(SyncSchedule.last_run)))}
    return [have[k] for k in KINDS if k in have]


INTERVALS = (15, 30, 60, 120, 240, 480, 720, 1440)


@transactional
def update_schedule(session: Session, actor: User, form: dict) -> list[SyncSchedule]:
    """Save the schedule form (ERP Admin): per sync, on/off and how often; audited."""
    from portal.domain.models import SettingChange
    if not policy.can(actor, policy.ERP_ADMIN):
        raise PermissionDenied("Only ERP Integrations admins can change the sync schedule.")
    rows = schedules(session)
    errors, now = {}, utcnow()
    wanted = {}
    for row in rows:
        raw = (form.get(f"interval_{row.kind}") or str(row.interval_minutes)).strip()
        try:
            minutes = int(raw)
        except ValueError:
            minutes = -1
        if minutes not in INTERVALS:
            errors[f"interval_{row.kind}"] = "Choose one of the offered intervals."
        wanted[row.kind] = (form.get(f"enabled_{row.kind}") in ("on", "1", "true", "y", "yes", True), minutes)
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    for row in rows:
        enabled, minutes = wanted[row.kind]
        old = {"enabled": row.enabled, "interval_minutes": row.interval_minutes}
        new = {"enabled": enabled, "interval_minutes": minutes}
        if old == new:
            continue
        if enabled and (not row.enabled or minutes != row.interval_minutes):
            row.next_run_at = now + timedelta(minutes=minutes) if row.enabled else now
        row.enabled, row.interval_minutes = enabled, minutes
        session.add(SettingChange(key=f"sync_schedule:{row.kind}", old=old, new=new, actor_id=actor.id, at=now))
    session.commit()
    return schedules(session)


def run_due(session: Session, queue: SyncQueue, now: datetime | None = None) -> list[SyncRun]:
    """The scheduler's tick: start every enabled sync whose next run is due. Each due slot is
    claimed with a compare-and-set on next_run_at, so however many schedulers tick at once,
    one of them starts it."""
    now = now or utcnow()
    started = []
    for row in schedules(session):
        if not row.enabled or row.next_run_at is None or row.next_run_at > now:
            continue
        claimed = cast(CursorResult, session.execute(  # an UPDATE's result is a CursorResult
            update(SyncSchedule).where(SyncSchedule.kind == row.kind, SyncSchedule.next_run_at == row.next_run_at)
            .values(next_run_at=now + timedelta(minutes=row.interval_minutes))))
        session.commit()
        if claimed.rowcount != 1:
            continue
        run = start(session, None, row.kind, queue, trigger="schedule")
        session.execute(update(SyncSchedule).where(SyncSchedule.kind == row.kind).values(last_run_id=run.id))
        session.commit()
        started.append(run)
    return started


# ---- helpers shared by the syncs ---------------------------------------------------------------

def _stage(session: Session, tally: Tally, record_kind: str, rows: dict[str, tuple[str, dict]],
           linked: dict[str, int], *, mark_missing: bool = True) -> dict[str, SageRecord]:
    """Upsert what Sage holds into SageRecord: new records are Ready to Import (or linked when
    the portal already holds them), changed ones updated, the rest unchanged."""
    existing = {r.sage_key: r for r in session.scalars(select(SageRecord).where(SageRecord.kind == record_kind))}
    now = utcnow()
    for key, (name, data) in rows.items():
        fingerprint = imports.digest(data)
        record = existing.get(key)
        portal_id = linked.get(key)
        if record is None:
            record = SageRecord(kind=record_kind, sage_key=key, name=name[:120], data=data, digest=fingerprint,
                                status=ImportStatus.LINKED if portal_id else ImportStatus.PENDING,
                                portal_id=portal_id, in_sage=True, first_seen_at=now, last_seen_at=now)
            session.add(record)
            existing[key] = record
            tally.add("added")
        else:
            changed = record.digest != fingerprint or not record.in_sage
            if portal_id and (record.status != ImportStatus.LINKED or record.portal_id != portal_id) \
                    and record.status != ImportStatus.ADDED:
                record.status, record.portal_id, changed = ImportStatus.LINKED, portal_id, True
            elif not portal_id and record.status in (ImportStatus.LINKED, ImportStatus.ADDED):
                record.status, record.portal_id, changed = ImportStatus.PENDING, None, True  # unlinked since
            if changed:
                record.data, record.digest, record.name, record.in_sage = data, fingerprint, name[:120], True
                record.last_seen_at = now
                tally.add("updated")
            else:
                tally.add("unchanged")
        tally.step()
    if mark_missing:
        for key, record in existing.items():
            if key not in rows and record.in_sage:
                record.in_sage = False
                tally.add("updated")
    # every record still in Sage was seen now: one statement, not one per record
    session.flush()
    session.execute(update(SageRecord).where(SageRecord.kind == record_kind, SageRecord.in_sage.is_(True),
                                             SageRecord.last_seen_at < now).values(last_seen_at=now),
                    execution_options={"synchronize_session": False})
    return existing


def _keyed(sage_rows, key_field: str, name_field: str) -> dict[str, tuple[str, dict]]:
    """Sage rows as {Sage ID: (name, JSON-safe row)}, as _stage takes them."""
    rows = {}
    for row in sage_rows:
        data = imports.jsonable(row)
        rows[data[key_field]] = (data.get(name_field) or data[key_field], data)
    return rows


def mirror(session: Session, tally: Tally, have: dict, wanted: dict, make: Callable) -> None:
    """Keep the portal's rows (`have`, by key) equal to Sage's (`wanted`: key -> column values): a new
    key is added (make(key, values, now)), a changed row updated, a key no longer in Sage deleted;
    each counted. Rows carry synced_at."""
    now = utcnow()
    for key, values in wanted.items():
        row = have.get(key)
        if row is None:
            session.add(make(key, values, now))
            tally.add("added")
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.synced_at = now
            tally.add("updated")
        else:
            tally.add("unchanged")
        tally.step()
    for key, row in have.items():
        if key not in wanted:
            session.delete(row)
            tally.add("updated")


def synced_projects(session: Session, project_id: int | None = None) -> list[Project]:
    query = select(Project).where(Project.sage_job_id.is_not(None)).order_by(Project.sage_job_id)
    if project_id is not None:
        query = query.where(Project.id == project_id)
    return list(session.scalars(query))


# ---- the syncs -------------------------------------------------------------------------------

@kind("vendors", "Vendors")
def sync_vendors(session: Session, reader, tally: Tally, _project_id=None) -> None:
    """Sage vendors: new ones Ready to Import; linked companies kept equal to Sage when the
    'Vendors will be automatically updated' setting is on."""
    sage = reader.list_vendors()
    tally.total(len(sage))
    rows = _keyed(sage, "Vendor", "Name")
    linked = cast(dict[str, int], dict(session.execute(select(Vendor.erp_vendor_id, Vendor.id)  # no None keys
                                                       .where(Vendor.erp_vendor_id.is_not(None))).all()))
    _stage(session, tally, "vendor", rows, linked)
    if settings.load(session).vendor_auto_update:
        by_id = {v.erp_vendor_id: v
                 for v in session.scalars(select(Vendor).where(Vendor.erp_vendor_id.in_(list(rows))))
                 if v.erp_vendor_id is not None}
        for key, vendor in by_id.items():
            values = imports.vendor(rows[key][1])
            changed = False
            for name in imports.VENDOR_AUTO_UPDATE_FIELDS:
                if (getattr(vendor, name) or "") != values[name]:
                    setattr(vendor, name, values[name])
                    changed = True
            if changed:
                tally.add("updated")
    tally.progress(0)


@kind("insurance", "Vendor Insurance")
def sync_insurance(session: Session, reader, tally: Tally, _project_id=None) -> None:
    """Each linked company's certificates from Sage's AP Vendor Insurance (the guide's Company
    Insurance: synced companies only, Sage's default types): added, updated or removed as Sage has them."""
    sage = reader.list_vendor_insurance()
    linked = cast(dict[str, int], dict(session.execute(select(Vendor.erp_vendor_id, Vendor.id)
                                                       .where(Vendor.erp_vendor_id.is_not(None))).all()))
    wanted: dict[tuple[int, str], dict] = {}
    for row in sage:
        vendor_id, key = linked.get(row["Vendor"]), compliance.SAGE_TYPES.get(row["Insurance_Type"])
        if vendor_id is not None and key is not None:
            wanted[(vendor_id, key)] = dict(
                policy_number=row["Policy_Number"] or "", carrier=row["Insurance_Company"] or "",
                limit_amount=row["Limit_Amount"], effective_date=row["Effective_Date"],
                expiration_date=row["Expiration_Date"])
    tally.total(len(wanted))
    have = {(c.vendor_id, c.insurance_type): c for c in session.scalars(
        select(VendorInsurance).where(VendorInsurance.vendor_id.in_(list(linked.values()))))}
    # a certificate no longer in Sage is removed: the gate then counts it missing
    mirror(session, tally, have, wanted,
           lambda key, values, now: VendorInsurance(vendor_id=key[0], insurance_type=key[1], synced_at=now, **values))
    tally.progress(0)


@kind("jobs", "Jobs")
def sync_jobs(session: Session, reader, tally: Tally, _project_id=None) -> None:
    """Sage jobs: the ones no project is linked to are Ready to Import."""
    sage = reader.list_jobs()
    tally.total(len(sage))
    rows = _keyed(sage, "Job", "Description")
    linked = cast(dict[str, int], dict(session.execute(select(Project.sage_job_id, Project.id)  # no None keys
                                                       .where(Project.sage_job_id.is_not(None))).all()))
    _stage(session, tally, "job", rows, linked)
    tally.progress(0)


@kind("sub_jobs", "Sub Jobs")
def sync_sub_jobs(session: Session, reader, tally: Tally, _project_id=None) -> None:
    """Extras of synced jobs: the ones that are not a sub job yet are Ready to Import."""
    projects = {p.sage_job_id: p for p in synced_projects(session)}
    sage = [r for r in reader.list_extras(None) if r["Job"] in projects]
    tally.total(len(sage))
    rows = {}
    for row in sage:
        data = imports.jsonable(row)
        rows[f"{data['Job']}/{data['Extra']}"] = (data.get("Description") or data["Extra"], data)
    linked = {}
    for sub_job, job in session.execute(select(SubJob, Project.sage_job_id)
                                        .join(Project, SubJob.project_id == Project.id)
                                        .where(SubJob.sage_extra_id.is_not(None), Project.sage_job_id.is_not(None))):
        linked[f"{job}/{sub_job.sage_extra_id}"] = sub_job.id
    _stage(session, tally, "extra", rows, linked)
    tally.progress(0)


@kind("cost_codes", "Cost Codes")
def sync_cost_codes(session: Session, reader, tally: Tally, _project_id=None) -> None:
    """Standard cost codes and categories into the company list; new cost codes and categories
    of synced jobs and sub jobs into their projects (and, with the setting on, their budgets)."""
    codes, cats = reader.list_standard_cost_codes(), reader.list_standard_categories()
    tally.total(len(codes) + len(cats))
    model: type[StandardCostCode | StandardCategory]
    for model, rows, mapper in ((StandardCostCode, codes, imports.standard_cost_code),
                                (StandardCategory, cats, imports.standard_category)):
        query: Select[StandardCostCode | StandardCategory] = select(model)
        have = {c.code: c for c in session.scalars(query)}
        for row in rows:
            values = mapper(row)
            current = have.get(values["code"])
            if current is None:
                session.add(model(**values))
                tally.add("added")
            elif any(getattr(current, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(current, k, v)
                tally.add("updated")
            else:
                tally.add("unchanged")
            tally.step()
    tally.progress(0)
    auto_budget = settings.load(session).auto_add_budget_lines
    for project in synced_projects(session):
        added = refresh_project_cost_codes(session, reader, project, tally)
        if added and auto_budget:
            add_budget_lines(session, reader, project, added, tally)
        tally.progress(0)


def refresh_project_cost_codes(session: Session, reader, project: Project,
                               tally: Tally | _Uncounted | None = None) -> list[Category]:
    """Add the job's (and its synced sub jobs') Sage cost codes and categories that the project
    lacks; returns the categories added."""
    sub_jobs = {s.sage_extra_id: s for s in session.scalars(
        select(SubJob).where(SubJob.project_id == project.id, SubJob.sage_extra_id.is_not(None)))}
    codes = {(c.sub_job_id, c.code): c for c in session.scalars(
        select(CostCode).options(selectinload(CostCode.categories)).where(CostCode.project_id == project.id))}
    tally = tally or _Uncounted()
    added_categories = []
    code: CostCode | None
    for extra, sub_job in [("", None)] + sorted(sub_jobs.items()):
        sub_job_id = sub_job.id if sub_job else None
        sage_codes = reader.list_cost_codes(project.sage_job_id, extra)
        sage_cats = reader.list_categories(project.sage_job_id, extra)
        tally.total(len(sage_codes) + len(sage_cats))
        for row in sage_codes:
            values = imports.cost_code(row)
            if (sub_job_id, values["code"]) not in codes:
                code = CostCode(project_id=project.id, sub_job_id=sub_job_id, **values)
                code.categories = []
                session.add(code)
                codes[(sub_job_id, values["code"])] = code
                tally.add("added")
            else:
                tally.add("unchanged")
            tally.step()
        session.flush()
        for row in sage_cats:
            values = imports.category(row)
            code = codes.get((sub_job_id, values["cost_code"]))
            if code is None:
                code = CostCode(project_id=project.id, sub_job_id=sub_job_id, code=values["cost_code"],
                                description=values["cost_code"])
                code.categories = []
                session.add(code)
                session.flush()
                codes[(sub_job_id, values["cost_code"])] = code
            if any(c.code == values["code"] for c in code.categories):
                tally.add("unchanged")
            else:
                category = Category(cost_code_id=code.id, code=values["code"], description=values["description"])
                session.add(category)
                code.categories.append(category)
                added_categories.append(category)
                tally.add("added")
            tally.step()
        session.flush()
        in_sage = [codes[(sub_job_id, imports.cost_code(row)["code"])] for row in sage_codes]
        link_cost_codes(session, in_sage, project.sage_job_id or "", extra or "", None, "read from Sage")
    session.flush()
    return added_categories


def add_budget_lines(session: Session, reader, project: Project, categories: list[Category], tally: Tally) -> None:
    """The 'automatically add new cost code/category combinations to budgets' setting: a new
    budget line per new combination, with Sage's original estimate while the budget is
    unlocked and $0 once it is locked (exported)."""
    budget = session.scalars(select(Budget).where(Budget.project_id == project.id)).first()
    if budget is None:
        return
    estimates = {}
    if not budget.locked:
        for row in reader.job_costs(project.sage_job_id):
            estimates[(row["Extra"], row["Cost_Code"], row["Category"])] = imports.job_cost_line(row)["original_budget"]
    extras: dict[int | None, str | None] = {
        s.id: s.sage_extra_id for s in session.scalars(select(SubJob).where(SubJob.project_id == project.id))}
    codes = {c.id: c for c in session.scalars(select(CostCode).where(CostCode.project_id == project.id))}
    for category in categories:
        code = codes[category.cost_code_id]
        key = (extras.get(code.sub_job_id, "") or "", code.code, category.code)
        session.add(BudgetLine(budget_id=budget.id, category_id=category.id,
                               original=estimates.get(key, imports.ZERO) if not budget.locked else imports.ZERO))
        tally.add("added")


@kind("prime_contracts", "Prime Contracts")
def sync_prime_contracts(session: Session, reader, tally: Tally, _project_id=None) -> None:
    """Prime contracts of synced jobs (Use Contracts: each CN contract; Use Quickbill: the
    job's schedule values at its billing level): new ones Ready to Import."""
    projects = {p.sage_job_id: p for p in synced_projects(session)}
    jobs = [j for j in reader.list_jobs() if j["Job"] in projects]
    contracts: dict[str, list] = {}
    for contract in reader.list_contracts(None):
        contracts.setdefault(contract["Job"], []).append(contract)
    rows = {}
    for job_row in jobs:
        job = job_row["Job"]
        if (job_row.get("Billing_Method") or imports.USE_CONTRACTS) == imports.USE_QUICKBILL:
            data = imports.prime_contract(job_row, None, [], reader.list_schedule_values(job))
            rows[f"quickbill:{job}"] = (data["title"], {**data, "job": job})
        else:
            for contract in contracts.get(job, []):
                data = imports.prime_contract(job_row, contract, reader.list_contract_items(contract["Contract"]), [])
                rows[f"contract:{contract['Contract']}"] = (data["title"], {**data, "job": job})
    tally.total(len(rows))
    linked: dict[str, int] = {}
    for contract in session.scalars(select(PrimeContract).where(PrimeContract.sage_contract_id.is_not(None))):
        prefix = "quickbill" if contract.billing_method == imports.USE_QUICKBILL else "contract"
        linked.setdefault(f"{prefix}:{contract.sage_contract_id}", contract.id)
    # Sage contracts imported into another prime contract (its items remember them)
    for sage_id, contract_id in session.execute(select(PrimeContractItem.sage_contract_id,
                                                       PrimeContractItem.contract_id).distinct()
                                                .where(PrimeContractItem.sage_contract_id.is_not(None))):
        linked.setdefault(f"contract:{sage_id}", contract_id)
    _stage(session, tally, "contract", rows, linked)
    tally.progress(0)


@kind("job_costs", "Job Costs", default_interval=120, per_project=True)
def sync_job_costs(session: Session, reader, tally: Tally, project_id: int | None = None) -> None:
    """Job cost per cost code and category of every synced project (or one); with the
    project's transaction sync on, its posted cost transactions as direct costs."""
    for project in synced_projects(session, project_id):
        sync_project_job_costs(session, reader, project, tally)
        tally.progress(0)


def sync_project_job_costs(session: Session, reader, project: Project, tally: Tally) -> None:
    rows = [imports.job_cost_line(r) for r in reader.job_costs(project.sage_job_id)]
    tally.total(len(rows))
    have = {(line.extra, line.cost_code, line.category): line for line in
            session.scalars(select(JobCostLine).where(JobCostLine.project_id == project.id))}
    mirror(session, tally, have, {(v["extra"], v["cost_code"], v["category"]): v for v in rows},
           lambda _key, values, now: JobCostLine(project_id=project.id, synced_at=now, **values))
    if not project.transaction_sync:
        return
    txns = [imports.direct_cost(r) for r in reader.list_cost_transactions(project.sage_job_id)]
    tally.total(len(txns))
    have_costs = {c.sage_transaction_id: c for c in
                  session.scalars(select(DirectCost).where(DirectCost.project_id == project.id))}
    now = utcnow()
    for values in txns:
        cost = have_costs.get(values["sage_transaction_id"])
        if cost is None:
            session.add(DirectCost(project_id=project.id, synced_at=now, **values))
            tally.add("added")
        elif any(getattr(cost, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(cost, k, v)
            tally.add("updated")
        else:
            tally.add("unchanged")
        tally.step()


@kind("paid_invoices", "Paid Invoices")
def sync_paid_invoices(session: Session, reader, tally: Tally, _project_id=None) -> None:
    """Sage's AP payments against synced subcontractor invoices: each new check marks its invoice
    Partly Paid or Paid (history and a "Payment issued" mail); a check already applied is left."""
    mails = payments.apply_payments(session, reader.list_ap_payments(), tally, tally.notices)
    tally.progress(0)  # commits: the mails are queued only once they are in the outbox
    queue = getattr(tally.notices, "queue", None)
    for mail in mails:
        if queue is None or not outbox.enqueue(mail, queue):
            break  # the rest wait, pending, for the reaper
