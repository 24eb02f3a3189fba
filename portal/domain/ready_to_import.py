"""Ready to Import: what the syncs found in Sage that the portal does not hold yet, and the
approver's decisions on it (add, link, archive, import a prime contract) - never a duplicate.

A record linked or added here gets an ErpItem in Synced (audit action "link", the Sage ID in
its detail), so it shows in the Synced tab and can be unlinked like an exported item."""
from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from portal.domain import policy, settings
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied, RaceLost
from portal.domain.lifecycle import IN_GATE, State
from portal.domain.links import link_synced
from portal.domain.models import (
    Budget,
    BudgetLine,
    Category,
    CostCode,
    ErpAudit,
    ErpItem,
    PrimeContract,
    PrimeContractItem,
    Project,
    ProjectMember,
    StandardCategory,
    StandardCostCode,
    SubJob,
    ToolLevel,
    User,
    Vendor,
    utcnow,
)
from portal.domain.sage_models import ImportStatus, JobCostLine, SageRecord
from portal.domain.search import like
from portal.domain.sync import refresh_project_cost_codes
from portal.domain.tabs import item_happened, said_when
from portal.domain.uow import transactional
from portal.exporters.sage300 import imports

LIST_KINDS = {"vendors": "vendor", "jobs": "job", "sub-jobs": "extra", "prime-contracts": "contract"}


def _require(actor: User) -> None:
    if not policy.can(actor, policy.IMPORT):
        raise PermissionDenied("Importing from Sage needs an accounting approver or an ERP Admin.")


def _require_jobs(actor: User) -> None:
    if not policy.can(actor, policy.ADD_JOBS):
        raise PermissionDenied("Adding or linking Sage jobs needs Admin on the ERP Integrations tool.")


def _require_link(actor: User) -> None:
    if not policy.can(actor, policy.LINK_COMPANIES):
        raise PermissionDenied("Linking Sage vendors to companies needs Admin on the ERP Integrations tool.")


def _require_companies(actor: User) -> None:
    if not policy.can(actor, policy.MANAGE_COMPANIES):
        raise PermissionDenied("Adding or archiving Sage vendors needs Standard or Admin on the ERP "
                               "Integrations tool.")


def _record(session: Session, record_id: int, kind: str) -> SageRecord:
    record = session.get(SageRecord, record_id)
    if record is None or record.kind != kind:
        raise NotFound("That Sage record is not in Ready to Import.")
    return record


def _pending(record: SageRecord) -> None:
    if record.status != ImportStatus.PENDING:
        raise Conflict(f"{record.sage_key} is already {ImportStatus.LABELS[record.status].lower()}.")
    if not record.in_sage:
        raise Conflict(f"{record.sage_key} is no longer in Sage 300 CRE; sync again.")


def _take(session: Session, record: SageRecord, actor: User, status: str) -> bool:
    """Decide a pending record first come first served: an UPDATE conditional on it still being
    pending, before anything else is written, so of two people deciding it at once (two Links, a
    Link and an Add) the second finds it taken (False) and writes nothing."""
    taken = session.execute(update(SageRecord).where(SageRecord.id == record.id,
                                                     SageRecord.status == ImportStatus.PENDING)
                            .values(status=status, decided_by_id=actor.id, decided_at=utcnow()))
    return taken.rowcount == 1  # type: ignore[attr-defined]  # a CursorResult for an UPDATE


def _claim(session: Session, record: SageRecord, actor: User, status: str) -> None:
    """The record is pending and now taken by this decision; RaceLost when someone took it meanwhile."""
    _pending(record)
    if not _take(session, record, actor, status):
        raise RaceLost()


# what each decision on a record made of it, and the portal item it names
DECIDED = {ImportStatus.LINKED: "linked", ImportStatus.ADDED: "added", ImportStatus.ARCHIVED: "archived"}
PORTAL_ITEMS = {"vendor": Vendor, "job": Project, "extra": SubJob, "contract": PrimeContract}


@dataclass(frozen=True)
class TooLate:
    """What a late decision on a record is told, and where the record's row now is."""
    text: str
    status: str          # the list it is in now: pending, done or archived
    sage_key: str


def too_late(session: Session, record_id: int, raced: bool, type_key: str | None = None,
             item_id: int | None = None) -> TooLate | None:
    """For a decision on a Sage record that came too late: who did what and when, e.g. "Vendor
    V-100 was already linked to Northwind Supply by Avery Approver at 10:41." when someone decided
    the record first, or what happened to the portal item it was to be linked to when that moved
    on (sent, linked, exported meanwhile; `raced`: the decision lost a race on it). None when
    neither moved on: the refusal's own reason stands."""
    record = session.get(SageRecord, record_id)
    if record is None:
        return None
    status = {ImportStatus.PENDING: "pending", ImportStatus.ARCHIVED: "archived"}.get(record.status, "done")
    if record.status != ImportStatus.PENDING:
        model = PORTAL_ITEMS.get(record.kind)
        target = session.get(model, record.portal_id) if model is not None and record.portal_id else None
        name = getattr(target, "name", None) or getattr(target, "number", None)
        to = f" to {name}" if name and record.status == ImportStatus.LINKED else f" as {name}" if name else ""
        actor = session.get(User, record.decided_by_id) if record.decided_by_id else None
        by = f" by {actor.name}" if actor else ""
        when = f" {said_when(record.decided_at)}" if record.decided_at else ""
        what = DECIDED.get(record.status, ImportStatus.LABELS[record.status].lower())
        return TooLate(f"{record.kind.capitalize()} {record.sage_key} was already {what}{to}{by}{when}.",
                       status, record.sage_key)
    if type_key is None or item_id is None:
        return None
    erp = session.scalars(select(ErpItem).where(ErpItem.item_type == type_key, ErpItem.item_id == item_id)).first()
    if erp is None or not raced and erp.state in (State.DRAFT, State.REJECTED):
        return None
    text = item_happened(session, type_key, item_id)
    return TooLate(text, status, record.sage_key) if text else None


def _decide(record: SageRecord, actor: User, status: str, portal_id: int | None) -> None:
    record.status, record.portal_id = status, portal_id
    record.decided_by_id, record.decided_at = actor.id, utcnow()


# ---- lists --------------------------------------------------------------------------------

@dataclass
class Page:
    records: list
    total: int
    counts: dict
    offset: int
    limit: int


def records_page(session: Session, kind: str, status: str, q: str = "", offset: int = 0,
                 limit: int = 50) -> Page:
    """One page of a Ready to Import list (or its archived / linked list), with counts."""
    statuses = {"pending": (ImportStatus.PENDING,), "archived": (ImportStatus.ARCHIVED,),
                "done": (ImportStatus.LINKED, ImportStatus.ADDED)}.get(status)
    if statuses is None:
        raise NotFound("There is no such list.")
    where = [SageRecord.kind == kind]
    if q:
        where.append(or_(like(SageRecord.sage_key, q), like(SageRecord.name, q)))
    counts = dict(session.execute(select(SageRecord.status, func.count()).where(*where)
                                  .group_by(SageRecord.status)).all())
    counts = {"pending": counts.get(ImportStatus.PENDING, 0), "archived": counts.get(ImportStatus.ARCHIVED, 0),
              "done": counts.get(ImportStatus.LINKED, 0) + counts.get(ImportStatus.ADDED, 0)}
    records = list(session.scalars(select(SageRecord).where(*where, SageRecord.status.in_(statuses))
                                   .order_by(SageRecord.sage_key).offset(offset).limit(limit)))
    return Page(records, counts[status], counts, offset, limit)


def normalise(name: str) -> str:
    """A company name for matching: case, punctuation and legal suffixes do not count."""
    words = re.sub(r"[^a-z0-9 ]", " ", (name or "").lower()).split()
    suffixes = {"inc", "llc", "ltd", "co", "corp", "corporation", "company", "the", "and"}
    return " ".join(w for w in words if w not in suffixes)


@dataclass(frozen=True)
class Suggestion:
    target_id: int
    label: str
    why: str
    exact: bool
    blocked: str | None = None   # why it cannot be linked (already linked, waiting in the gate)


def _linkable_vendor():
    """Where-clauses of a company that may be linked: no ERP vendor ID, not in the gate, not synced."""
    busy = select(ErpItem.item_id).where(ErpItem.item_type == "vendor",
                                         ErpItem.state.in_(IN_GATE | {State.SYNCED}))
    return Vendor.erp_vendor_id.is_(None), Vendor.id.not_in(busy)


def _unlinked_vendors(session: Session) -> list[Vendor]:
    return list(session.scalars(select(Vendor).where(*_linkable_vendor()).order_by(Vendor.name)))


COMMON_WORD = 200   # a word shared by more companies than this says nothing about a match


def vendor_suggestions(session: Session, records: list[SageRecord]) -> dict[int, list[Suggestion]]:
    """Companies each Sage vendor could be linked to: same name, similar name or same phone,
    each with what matched (linkable ones first). A matching company that is already linked to
    another Sage vendor, or waiting in ERP Integrations, is shown with why it cannot be linked:
    it is the likely duplicate. Similar names are looked for only among companies sharing one
    of the name's rarer words, so a page costs about the same with ten thousand companies."""
    gate = dict(session.execute(select(ErpItem.item_id, ErpItem.state).where(
        ErpItem.item_type == "vendor", ErpItem.state.in_(IN_GATE))).all())
    candidates = session.execute(select(Vendor.id, Vendor.name, Vendor.phone, Vendor.erp_vendor_id)).all()
    by_name: dict[str, list[Row[int, str, str, str | None]]] = {}
    by_word: dict[str, set[str]] = {}
    by_phone: dict[str, list[Row[int, str, str, str | None]]] = {}
    for row in candidates:
        key = normalise(row.name)
        by_name.setdefault(key, []).append(row)
        for word in set(key.split()):
            if len(word) >= 3:
                by_word.setdefault(word, set()).add(key)
        digits = re.sub(r"\D", "", row.phone or "")
        if len(digits) >= 7:
            by_phone.setdefault(digits, []).append(row)

    def suggest(row, why: str, exact: bool) -> Suggestion:
        blocked = None
        if row.erp_vendor_id:
            blocked = f"already linked to Sage vendor {row.erp_vendor_id}"
        elif row.id in gate:
            blocked = (f"{State.LABELS[gate[row.id]]} in ERP Integrations: reject or retrieve it "
                       "before linking")
        return Suggestion(row.id, row.name, why, exact, blocked)

    result = {}
    for record in records:
        data = imports.vendor(record.data)
        key = normalise(data["name"])
        found: dict[int, Suggestion] = {}
        for row in by_name.get(key, []) if key else []:
            if row.erp_vendor_id != record.sage_key:
                found[row.id] = suggest(row, "same name", True)
        near: set[str] = set()
        for word in set(key.split()):
            names = by_word.get(word, set())
            if len(names) <= COMMON_WORD:
                near |= names
        near.discard(key)
        scored = []
        for name in near:
            matcher = difflib.SequenceMatcher(None, key, name)
            if matcher.real_quick_ratio() >= 0.75 and matcher.quick_ratio() >= 0.75:
                ratio = matcher.ratio()
                if ratio >= 0.75:
                    scored.append((ratio, name))
        for ratio, name in sorted(scored, reverse=True)[:3]:
            for row in by_name[name]:
                if row.erp_vendor_id != record.sage_key:
                    found.setdefault(row.id, suggest(row, f"similar name ({round(ratio * 100)}%)", False))
        for row in by_phone.get(re.sub(r"\D", "", data["phone"]), []):
            if row.erp_vendor_id != record.sage_key:
                found.setdefault(row.id, suggest(row, "same phone", False))
        result[record.id] = sorted(found.values(),
                                   key=lambda s: (s.blocked is not None, not s.exact, s.why, s.label))[:5]
    return result


def search_companies(session: Session, q: str, limit: int = 20) -> list[Vendor]:
    """Companies not linked to Sage whose name contains q (the Link field's type-ahead)."""
    return list(session.scalars(select(Vendor).where(*_linkable_vendor(), like(Vendor.name, q))
                                .order_by(Vendor.name).limit(limit)))


def job_suggestions(session: Session, records: list[SageRecord]) -> dict[int, list[Suggestion]]:
    """Projects each Sage job could be linked to (never exported): same project number or a
    similar name. A matching project that is synced already, or was exported, is shown with
    why it cannot be linked: it is the likely duplicate."""
    linkable = {p.id for p in linkable_projects(session)}
    projects = session.execute(select(Project.id, Project.number, Project.name, Project.sage_job_id)).all()
    result = {}
    for record in records:
        data = imports.job(record.data)
        key = normalise(data["name"])
        found = []
        for p in projects:
            if p.sage_job_id == data["sage_job_id"]:
                continue
            if p.number and p.number.strip().lower() == data["number"].lower():
                why, exact = "same project number", True
            elif key and difflib.SequenceMatcher(None, normalise(p.name), key).ratio() >= 0.8:
                why, exact = "similar name", False
            else:
                continue
            blocked = None
            if p.id not in linkable:
                blocked = (f"already synced with Sage job {p.sage_job_id}" if p.sage_job_id
                           else "exported or waiting in ERP Integrations")
            found.append(Suggestion(p.id, f"{p.number} {p.name}", why, exact, blocked))
        result[record.id] = sorted(found, key=lambda s: (s.blocked is not None, not s.exact, s.label))[:5]
    return result


def linkable_projects(session: Session) -> list[Project]:
    """Projects never exported: no Sage Job ID and no job export on record (a job may not be
    created in both systems)."""
    exported = select(ErpItem.item_id).where(ErpItem.item_type == "job", ErpItem.state != State.DRAFT,
                                             ErpItem.state != State.REJECTED)
    ever = select(ErpItem.item_id).join(ErpAudit, ErpAudit.erp_item_id == ErpItem.id).where(
        ErpItem.item_type == "job", ErpAudit.to_state == State.SYNCED)
    return list(session.scalars(select(Project).where(Project.sage_job_id.is_(None), Project.id.not_in(exported),
                                                      Project.id.not_in(ever)).order_by(Project.number)))


# ---- vendors ----------------------------------------------------------------------------------

@transactional
def add_vendor(session: Session, actor: User, record_id: int) -> Vendor:
    """Add a Sage vendor to the company directory, linked to it."""
    _require_companies(actor)
    record = _record(session, record_id, "vendor")
    _claim(session, record, actor, ImportStatus.ADDED)
    values = imports.vendor(record.data)
    if session.scalar(select(Vendor.id).where(Vendor.erp_vendor_id == values["erp_vendor_id"])):
        raise Conflict(f"A company is already linked to vendor {values['erp_vendor_id']}.")
    vendor = Vendor(created_by_id=actor.id, vendor_type="", **{k: (v or "")[:120] for k, v in values.items()})
    session.add(vendor)
    session.flush()
    link_synced(session, "vendor", vendor.id, None, values["erp_vendor_id"], actor.id, "added from Sage")
    _decide(record, actor, ImportStatus.ADDED, vendor.id)
    session.commit()
    return vendor


@transactional
def link_vendor(session: Session, actor: User, record_id: int, vendor_id: int) -> Vendor:
    """Link a Sage vendor to an existing company (which then carries its ERP vendor ID)."""
    _require_link(actor)
    record = _record(session, record_id, "vendor")
    _claim(session, record, actor, ImportStatus.LINKED)
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise Invalid("Choose the company to link.", fields={"vendor_id": "Choose a company."})
    if vendor.erp_vendor_id:
        raise Conflict(f"{vendor.name} is already linked to vendor {vendor.erp_vendor_id}.")
    link_synced(session, "vendor", vendor.id, None, record.sage_key, actor.id, "linked to Sage vendor")
    vendor.erp_vendor_id = record.sage_key
    _decide(record, actor, ImportStatus.LINKED, vendor.id)
    session.commit()
    return vendor


@transactional
def link_exact_vendors(session: Session, actor: User) -> tuple[int, int]:
    """Link every Ready to Import vendor whose name matches exactly one unlinked company;
    returns (linked, left because several companies match)."""
    _require_link(actor)
    records = list(session.scalars(select(SageRecord).where(SageRecord.kind == "vendor",
                                                            SageRecord.status == ImportStatus.PENDING,
                                                            SageRecord.in_sage.is_(True))))
    by_name: dict[str, list[Vendor]] = {}
    for v in _unlinked_vendors(session):
        by_name.setdefault(normalise(v.name), []).append(v)
    linked = ambiguous = 0
    used = set()
    for record in records:
        key = normalise(imports.vendor(record.data)["name"])
        matches = [v for v in by_name.get(key, []) if v.id not in used] if key else []
        if len(matches) == 1 and _take(session, record, actor, ImportStatus.LINKED):  # not taken meanwhile
            vendor = matches[0]
            link_synced(session, "vendor", vendor.id, None, record.sage_key, actor.id, "linked (exact name match)")
            vendor.erp_vendor_id = record.sage_key
            _decide(record, actor, ImportStatus.LINKED, vendor.id)
            used.add(vendor.id)
            linked += 1
        elif len(matches) > 1:
            ambiguous += 1
    session.commit()
    return linked, ambiguous


@transactional
def archive(session: Session, actor: User, record_id: int, archived: bool = True) -> SageRecord:
    """Archive a Sage vendor the company will not use (or bring it back to Ready to Import)."""
    _require_companies(actor)
    record = _record(session, record_id, "vendor")
    if archived:
        _claim(session, record, actor, ImportStatus.ARCHIVED)
        _decide(record, actor, ImportStatus.ARCHIVED, None)
    else:
        if record.status != ImportStatus.ARCHIVED:
            raise Conflict(f"{record.sage_key} is not archived.")
        _decide(record, actor, ImportStatus.PENDING, None)
    session.commit()
    return record


# ---- jobs and sub jobs ---------------------------------------------------------------------------

@transactional
def add_job(session: Session, actor: User, record_id: int, reader) -> Project:
    """Add a Sage job as a project (its job ID fills the project number), with its cost codes."""
    _require_jobs(actor)
    record = _record(session, record_id, "job")
    _claim(session, record, actor, ImportStatus.ADDED)
    values = imports.job(record.data)
    if session.scalar(select(Project.id).where(Project.sage_job_id == values["sage_job_id"])):
        raise Conflict(f"A project is already linked to job {values['sage_job_id']}.")
    project = Project(created_by_id=actor.id, **values)
    session.add(project)
    session.flush()
    session.add(ProjectMember(user_id=actor.id, project_id=project.id, level=ToolLevel.ADMIN))
    link_synced(session, "job", project.id, project.id, values["sage_job_id"], actor.id, "added from Sage")
    refresh_project_cost_codes(session, reader, project)
    _decide(record, actor, ImportStatus.ADDED, project.id)
    session.commit()
    return project


@transactional
def link_job(session: Session, actor: User, record_id: int, project_id: int, reader) -> Project:
    """Link a Sage job to a project that was never exported; its Sage cost codes are added."""
    _require_jobs(actor)
    record = _record(session, record_id, "job")
    _claim(session, record, actor, ImportStatus.LINKED)
    project = session.get(Project, project_id)
    if project is None:
        raise Invalid("Choose the project to link.", fields={"project_id": "Choose a project."})
    if project.id not in {p.id for p in linkable_projects(session)}:
        raise Conflict(f"{project.name} has been exported to Sage or is waiting in ERP Integrations: "
                       "a job may not be created in both systems.")
    link_synced(session, "job", project.id, project.id, record.sage_key, actor.id, "linked to Sage job")
    project.sage_job_id = record.sage_key
    refresh_project_cost_codes(session, reader, project)
    _decide(record, actor, ImportStatus.LINKED, project.id)
    session.commit()
    return project


@transactional
def add_sub_job(session: Session, actor: User, record_id: int, reader) -> SubJob:
    """Import a Sage extra of a synced job as a sub job (an unsynced sub job with the same code
    is linked instead of duplicated), with its cost codes."""
    _require(actor)
    record = _record(session, record_id, "extra")
    _claim(session, record, actor, ImportStatus.ADDED)
    job, extra = record.data["Job"], record.data["Extra"]
    project = session.scalars(select(Project).where(Project.sage_job_id == job)).first()
    if project is None:
        raise Conflict(f"Job {job} is not synced with a project any more.")
    values = imports.extra(record.data)
    sub_job = session.scalars(select(SubJob).where(SubJob.project_id == project.id, SubJob.code == values["code"],
                                                   SubJob.sage_extra_id.is_(None))).first()
    how, status = "linked to Sage extra", ImportStatus.LINKED
    if sub_job is None:
        sub_job = SubJob(project_id=project.id, created_by_id=actor.id, code=values["code"], name=values["name"])
        session.add(sub_job)
        session.flush()
        how, status = "added from Sage", ImportStatus.ADDED
    link_synced(session, "sub_job", sub_job.id, project.id, extra, actor.id, how)
    sub_job.sage_extra_id = extra
    session.flush()
    refresh_project_cost_codes(session, reader, project)
    _decide(record, actor, status, sub_job.id)
    session.commit()
    return sub_job


# ---- prime contracts ---------------------------------------------------------------------------

ACCOUNTING_METHODS = (("amount", "Amount-based"), ("unit", "Unit-based"))


def _contract_projects(session: Session, record: SageRecord) -> list[PrimeContract]:
    """The prime contracts holding the record's Sage contract: as their own, or imported into them."""
    sage_id = record.data["sage_contract_id"]
    merged = select(PrimeContractItem.contract_id).where(PrimeContractItem.sage_contract_id == sage_id)
    return list(session.scalars(select(PrimeContract).where(
        or_(PrimeContract.sage_contract_id == sage_id, PrimeContract.id.in_(merged)),
        PrimeContract.billing_method.in_((record.data["billing_method"], "")))))


def contract_targets(session: Session, records: list[SageRecord]) -> dict[int, list[tuple[int, str]]]:
    """The prime contracts each Use Contracts record could be imported into (the guide: several
    Sage contracts of a job into one synced prime contract): those of its job's project."""
    jobs = {r.data.get("job") for r in records if r.data.get("billing_method") == imports.USE_CONTRACTS}
    if not jobs:
        return {}
    rows = session.execute(select(PrimeContract.id, PrimeContract.number, PrimeContract.title, Project.sage_job_id)
                           .join(Project, Project.id == PrimeContract.project_id)
                           .where(Project.sage_job_id.in_(jobs),
                                  PrimeContract.billing_method.in_((imports.USE_CONTRACTS, "")),
                                  PrimeContract.sage_contract_id.is_not(None))
                           .order_by(PrimeContract.number)).all()
    return {r.id: [(cid, f"{number} {title}") for cid, number, title, job in rows if job == r.data.get("job")]
            for r in records if r.data.get("billing_method") == imports.USE_CONTRACTS}


def may_designate(session: Session, actor: User) -> bool:
    """Whether the actor picks a prime contract's accounting method on import (ERP Admin, setting on)."""
    return policy.can(actor, policy.ERP_ADMIN) and settings.load(session).designate_prime_contract_method


def _accounting_method(session: Session, actor: User, method: str | None) -> str:
    """The method an import takes: Amount-based unless an ERP Admin, with the setting on, chose Unit-based."""
    method = method or "amount"
    if method not in dict(ACCOUNTING_METHODS):
        raise Invalid("Please correct the highlighted fields.",
                      fields={"accounting_method": "Choose Amount-based or Unit-based."})
    if method != "amount":
        if not settings.load(session).designate_prime_contract_method:
            raise Conflict("Designating a prime contract Unit-based is turned off in the ERP Integrations settings.")
        if not policy.can(actor, policy.ERP_ADMIN):
            raise PermissionDenied("Only an ERP Admin designates a prime contract Unit-based.")
    return method


def _sov_items(data: dict, method: str, sage_contract_id: str | None) -> list[PrimeContractItem]:
    """The record's contract items as schedule of values lines; a unit-based contract takes each
    item's units and unit price, which every item must then have."""
    if method == "unit":
        unpriced = [i["code"] for i in data["items"] if "units" not in i]
        if unpriced:
            raise Conflict(f"Prime contract {data['number']} cannot be imported Unit-based: Sage contract item(s) "
                           f"{', '.join(unpriced)} have no units and unit price.")
    return [PrimeContractItem(code=i["code"][:20], description=i["description"][:120], amount=Decimal(i["amount"]),
                              sage_contract_id=sage_contract_id,
                              units=Decimal(i["units"]) if method == "unit" else None,
                              unit_cost=Decimal(i["unit_cost"]) if method == "unit" else None)
            for i in data["items"]]


def reimport_blockers(session: Session, record: SageRecord) -> list[str]:
    """Why Refresh / Re-Import is unavailable (the guide's four cases), empty when it is."""
    return reimport_blockers_many(session, [record])[record.id]


def reimport_blockers_many(session: Session, records: list[SageRecord]) -> dict[int, list[str]]:
    """reimport_blockers for a page of records, in three queries whatever the page's size."""
    ids = {r.data["sage_contract_id"] for r in records}
    merged = select(PrimeContractItem.contract_id).where(PrimeContractItem.sage_contract_id.in_(ids))
    contracts = list(session.scalars(select(PrimeContract).where(
        or_(PrimeContract.sage_contract_id.in_(ids), PrimeContract.id.in_(merged))))) if ids else []
    jobs = dict(session.execute(select(Project.id, Project.sage_job_id).where(
        Project.id.in_({c.project_id for c in contracts}))).all()) if contracts else {}
    # each prime contract's items by the Sage contract they are on (an item's own, else the contract's)
    items: dict[tuple[int, str], set[str]] = {}
    if contracts:
        own = {c.id: c.sage_contract_id or "" for c in contracts}
        for contract_id, sage_id, code in session.execute(
                select(PrimeContractItem.contract_id, PrimeContractItem.sage_contract_id, PrimeContractItem.code)
                .where(PrimeContractItem.contract_id.in_(list(own)))):
            items.setdefault((contract_id, sage_id or own[contract_id]), set()).add(code)
    holding = {c.id: {sage_id for (cid, sage_id) in items if cid == c.id} | {c.sage_contract_id or ""}
               for c in contracts}
    return {r.id: _blockers(r, [c for c in contracts if r.data["sage_contract_id"] in holding[c.id]
                                and c.billing_method in (r.data["billing_method"], "")], jobs, items)
            for r in records}


def _blockers(record: SageRecord, contracts: list[PrimeContract], jobs: dict[int, str | None],
              items: dict[tuple[int, str], set[str]]) -> list[str]:
    if record.status not in (ImportStatus.LINKED, ImportStatus.ADDED):
        return ["The prime contract has not been imported yet."]
    reasons = []
    if len({c.project_id for c in contracts}) > 1:
        reasons.append("The prime contract has been added to two projects.")
    contract = next((c for c in contracts if c.id == record.portal_id), contracts[0] if contracts else None)
    if contract is None:
        return ["The imported prime contract no longer exists in the portal."]
    if contract.status not in ("Approved", "Complete"):
        reasons.append(f"The prime contract is {contract.status}, not approved.")
    job = jobs.get(contract.project_id)
    if not job or job != record.data.get("job"):
        reasons.append("The prime contract does not belong to a synced job.")
    have = items.get((contract.id, record.data["sage_contract_id"]), set())
    if not [line for line in record.data["items"] if line["code"] not in have]:
        reasons.append("The prime contract has been synced and has no new un-synced line items.")
    return reasons


@transactional
def import_contract(session: Session, actor: User, record_id: int, accounting_method: str | None = None,
                    into_contract_id: int | None = None) -> PrimeContract:
    """Import a Sage prime contract into its synced project: as a prime contract of its own
    (Amount-based, or as an ERP Admin designated it), or into a prime contract of that project."""
    _require(actor)
    record = _record(session, record_id, "contract")
    _claim(session, record, actor, ImportStatus.ADDED)
    data = record.data
    project = session.scalars(select(Project).where(Project.sage_job_id == data["job"])).first()
    if project is None:
        raise Conflict(f"Job {data['job']} is not synced with a project.")
    if _contract_projects(session, record):
        raise Conflict(f"Prime contract {data['number']} is already in the portal.")
    if into_contract_id is not None:
        return _import_into(session, actor, record, project, into_contract_id)
    method = _accounting_method(session, actor, accounting_method)
    from datetime import date
    contract = PrimeContract(accounting_method=method, project_id=project.id, number=data["number"][:40],
                             title=data["title"][:255],
                             status=data["status"], sage_contract_id=data["sage_contract_id"][:20],
                             description=data["description"], billing_method=data["billing_method"],
                             billing_level=data["billing_level"], imported_at=utcnow(),
                             start_date=date.fromisoformat(data["start_date"]) if data["start_date"] else None,
                             completion_date=(date.fromisoformat(data["completion_date"])
                                              if data["completion_date"] else None))
    contract.items = _sov_items(data, method, None)
    session.add(contract)
    session.flush()
    _decide(record, actor, ImportStatus.ADDED, contract.id)
    session.commit()
    return contract


def _import_into(session: Session, actor: User, record: SageRecord, project: Project,
                 contract_id: int) -> PrimeContract:
    """Another Sage contract of the job into an imported prime contract: its items join the
    schedule of values, each remembering its Sage contract (PCCOs and owner invoices name it)."""
    data = record.data
    contract = session.scalars(select(PrimeContract).where(PrimeContract.id == contract_id)
                               .options(selectinload(PrimeContract.items))).first()
    if contract is None or contract.project_id != project.id:
        raise Invalid("Please correct the highlighted fields.",
                      fields={"into_contract_id": f"Choose a prime contract of {project.name}."})
    if contract.billing_method not in (data["billing_method"], "") or not contract.sage_contract_id:
        raise Conflict(f"Prime contract {contract.number} was not imported from a Sage contract: "
                       f"{data['number']} cannot be added to it.")
    contract.items.extend(_sov_items(data, contract.accounting_method, data["sage_contract_id"][:20]))
    session.flush()
    _decide(record, actor, ImportStatus.LINKED, contract.id)
    session.commit()
    return contract


@transactional
def reimport_contract(session: Session, actor: User, record_id: int) -> int:
    """Re-Import: add the contract's new Sage line items to the imported prime contract;
    returns how many were added."""
    _require(actor)
    record = _record(session, record_id, "contract")
    reasons = reimport_blockers(session, record)
    if reasons:
        raise Conflict("Re-Import is unavailable: " + " ".join(reasons))
    contract = session.get(PrimeContract, record.portal_id)
    if contract is None:  # the blockers may have judged another contract of the same Sage ID
        raise Conflict("Re-Import is unavailable: The imported prime contract no longer exists in the portal.")
    # the items of this Sage contract: the prime contract's own, or those imported into it
    sage_id = record.data["sage_contract_id"]
    merged = None if contract.sage_contract_id == sage_id else sage_id[:20]
    have = set(session.scalars(select(PrimeContractItem.code).where(
        PrimeContractItem.contract_id == contract.id,
        PrimeContractItem.sage_contract_id == merged if merged else PrimeContractItem.sage_contract_id.is_(None))))
    added = 0
    for item in _sov_items({**record.data, "items": [i for i in record.data["items"] if i["code"] not in have]},
                           contract.accounting_method, merged):
        item.contract_id = contract.id
        session.add(item)
        added += 1
    record.decided_by_id, record.decided_at = actor.id, utcnow()
    session.commit()
    return added


# ---- a project's cost codes and budget from Sage ------------------------------------------------

@dataclass
class Refresh:
    codes_added: int
    budget_lines: int
    budget_message: str


@transactional
def refresh_project(session: Session, actor: User, project_id: int, reader) -> Refresh:
    """Refresh Cost Codes: the synced job's new Sage cost codes and categories into the project,
    and Sage's original estimates into its budget - unless the budget was exported to Sage
    (locked), after which importing the budget from Sage is no longer permitted."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("There is no such project.")
    if not policy.can(actor, policy.REFRESH_COST_CODES):
        raise PermissionDenied("Refreshing a project's cost codes from Sage needs Admin on the ERP "
                               "Integrations tool.")
    if not project.sage_job_id:
        raise Invalid(f"{project.name} is not synced with a Sage job: there is nothing to refresh from.")
    added = refresh_project_cost_codes(session, reader, project)
    budget = session.scalars(select(Budget).where(Budget.project_id == project.id)).first()
    if budget is not None and budget.locked:
        session.commit()
        return Refresh(len(added), 0, "The budget was exported to Sage and is locked: you are no longer permitted "
                                      "to import the Sage budget into it.")
    if budget is None:
        budget = Budget(project_id=project.id, locked=False, created_by_id=actor.id)
        session.add(budget)
        session.flush()
    extras = {s.id: s.sage_extra_id or ""
              for s in session.scalars(select(SubJob).where(SubJob.project_id == project.id))}
    categories = {}
    category: Category | None
    for category, code in session.execute(select(Category, CostCode)
                                          .join(CostCode, Category.cost_code_id == CostCode.id)
                                          .where(CostCode.project_id == project.id)):
        categories[(extras.get(code.sub_job_id, "") if code.sub_job_id else "", code.code, category.code)] = category
    lines = {line.category_id: line
             for line in session.scalars(select(BudgetLine).where(BudgetLine.budget_id == budget.id))}
    changed = 0
    for row in reader.job_costs(project.sage_job_id):
        values = imports.job_cost_line(row)
        category = categories.get((values["extra"], values["cost_code"], values["category"]))
        if category is None:
            continue
        line = lines.get(category.id)
        if line is None:
            session.add(BudgetLine(budget_id=budget.id, category_id=category.id, original=values["original_budget"]))
            changed += 1
        elif line.original != values["original_budget"]:
            line.original = values["original_budget"]
            changed += 1
    session.commit()
    return Refresh(len(added), changed, f"{changed} budget line{'s' if changed != 1 else ''} imported from Sage's "
                                        "original estimates.")


# ---- what the company-level import pages show ----------------------------------------------------

def pending_count(session: Session, kind: str) -> int:
    """How many records of a kind are Ready to Import (the tab's link)."""
    return session.scalar(select(func.count()).select_from(SageRecord).where(
        SageRecord.kind == kind, SageRecord.status == ImportStatus.PENDING)) or 0


def standard_lists(session: Session) -> tuple[list[StandardCostCode], list[StandardCategory]]:
    """The standard cost codes and categories read from Sage, by code."""
    return (list(session.scalars(select(StandardCostCode).order_by(StandardCostCode.code))),
            list(session.scalars(select(StandardCategory).order_by(StandardCategory.code))))


def job_cost_projects(session: Session) -> Sequence[Row[Project, int, datetime, Decimal]]:
    """Every synced project with its job cost line count, last sync and JTD cost, in one query."""
    return session.execute(
        select(Project, func.count(JobCostLine.id), func.max(JobCostLine.synced_at), func.sum(JobCostLine.jtd_cost))
        .outerjoin(JobCostLine, JobCostLine.project_id == Project.id)
        .where(Project.sage_job_id.is_not(None)).group_by(Project.id).order_by(Project.sage_job_id)).all()
