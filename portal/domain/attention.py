"""Needs attention: the invoice administrator's desk, and the same list as a panel per project.

Every item of every type (the ItemType registry) on the projects where the user is Admin
(a site administrator: every project, and the company's own items) that waits for the
project team or for someone to notice it:

- Rejected: the approver's reason, who rejected it and when; fixed on its edit form.
- Failed to Export: Sage's text, the troubleshooting table's cause and solution (marked when
  the project team can act on it), and whether it is tried again.
- Stuck, by this rule (StuckRule, built from the app's settings):
  * Exporting, not waiting for a retry, and queued longer ago than the approver's tab shows
    an export as stalled plus the wait after which the reaper queues a lost job again
    (EXPORT_STALL_SECONDS + EXPORT_REAP_SECONDS): by then the system should have settled it;
  * Exporting and waiting for an automatic retry that was due longer ago than
    EXPORT_STALL_SECONDS (the reaper queues a due retry within a tick);
  * Ready to Export for longer than ATTENTION_READY_HOURS (72 by default): accounting has
    neither accepted nor rejected it.

A page costs the same few queries at 10 items and at 10,000: the user's Admin projects (1),
the counts per type, project and kind (1, grouped), the projects named (1), the page's rows
(1), then per type on the page its items and row values (a few, bounded by the types).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session, joinedload

from portal.domain import policy
from portal.domain.errors import Invalid, NotFound, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, Project, ProjectMember, ToolLevel, User, utcnow
from portal.domain.services import project_level
from portal.domain.types import REGISTRY, ItemType
from portal.exporters.sage300.troubleshooting import Explanation, explain

REJECTED, FAILED, STUCK = "rejected", "failed", "stuck"
KINDS = {REJECTED: "Rejected", FAILED: "Failed to Export", STUCK: "Stuck"}
PAGE_SIZE = 50


@dataclass(frozen=True)
class StuckRule:
    """When an item that is neither rejected nor failed still needs someone (see the module)."""
    exporting_after: timedelta = timedelta(seconds=90)
    retry_overdue: timedelta = timedelta(seconds=60)
    ready_after: timedelta = timedelta(hours=72)

    @classmethod
    def from_settings(cls, stall_seconds: int, reap_seconds: int, ready_hours: int) -> StuckRule:
        return cls(timedelta(seconds=stall_seconds + reap_seconds), timedelta(seconds=stall_seconds),
                   timedelta(hours=ready_hours))

    def clause(self, now: datetime) -> ColumnElement[bool]:
        exporting = ErpItem.state == State.EXPORTING
        return or_(
            and_(exporting, ErpItem.retry_at.is_(None), ErpItem.queued_at < now - self.exporting_after),
            and_(exporting, ErpItem.retry_at < now - self.retry_overdue),
            and_(ErpItem.state == State.READY, ErpItem.sent_at < now - self.ready_after))

    def why(self, erp: ErpItem) -> str:
        """Why the item counts as stuck, in a sentence."""
        if erp.state == State.READY:
            return (f"Waiting for accounting since {stamp(erp.sent_at)}: nobody has accepted or "
                    "rejected it yet.")
        if erp.retry_at is not None:
            return (f"Its automatic retry was due at {stamp(erp.retry_at)} and has not run: "
                    "ask accounting to retry it from the ERP tab.")
        return (f"Exporting since {stamp(erp.queued_at)}: the export has not finished. Accounting can "
                "retry it from the ERP tab (Sage imports it at most once).")


def stamp(at: datetime | None) -> str:
    return f"{at:%m/%d/%Y %H:%M}" if at else "an unknown time"


def _kind() -> ColumnElement[str]:
    return case((ErpItem.state == State.REJECTED, REJECTED), (ErpItem.state == State.FAILED, FAILED),
                else_=STUCK)


def needs_attention(rule: StuckRule, now: datetime) -> ColumnElement[bool]:
    """The items that need someone: rejected, failed, or stuck by the rule."""
    return or_(ErpItem.state.in_((State.REJECTED, State.FAILED)), rule.clause(now))


# ---- whose items ------------------------------------------------------------------------------

def admin_project_ids(session: Session, user: User) -> list[int] | None:
    """The projects where the user is Admin; None for a site administrator (every project and
    the company's own items)."""
    if user.is_site_admin:
        return None
    return list(session.scalars(select(ProjectMember.project_id).where(
        ProjectMember.user_id == user.id, ProjectMember.level == ToolLevel.ADMIN)))


def is_admin_anywhere(session: Session, user: User) -> bool:
    """Admin on at least one project (or a site administrator): the desk is the user's landing page."""
    scope = admin_project_ids(session, user)
    return scope is None or bool(scope)


def _in_scope(scope: list[int] | None) -> ColumnElement[bool]:
    return true() if scope is None else ErpItem.project_id.in_(scope)


def nav_count(session: Session, user: User, rule: StuckRule, now: datetime | None = None) -> int | None:
    """How many items need the user (the navigation's count); None when the user is Admin on no project."""
    scope = admin_project_ids(session, user)
    if scope is not None and not scope:
        return None
    return session.scalar(select(func.count()).select_from(ErpItem).where(
        _in_scope(scope), needs_attention(rule, now or utcnow()))) or 0


# ---- the desk ---------------------------------------------------------------------------------

@dataclass
class AttentionRow:
    """One item that needs attention: what happened, and where it is fixed."""
    erp: ErpItem
    item_type: ItemType
    item: Any
    title: str                      # its number, else its name
    project: Project | None
    kind: str                       # REJECTED, FAILED or STUCK
    explanation: Explanation | None = None   # failed: the troubleshooting table's entry
    note: str = ""                  # failed: whether it is tried again; stuck: why it is stuck

    @property
    def fix(self) -> tuple[str, dict]:
        """Where to go: a rejected item's edit form (ready to edit), else its page on the project side."""
        if self.kind == REJECTED:
            return self.item_type.edit_page(self.erp)
        return self.item_type.link(self.erp)


@dataclass
class Desk:
    rows: list[AttentionRow]
    total: int                       # with the filters
    kinds: dict[str, int]            # with the filters, per kind
    projects: list[tuple[Project, int]]   # the filter's choices: projects with something, and how many
    types: list[tuple[ItemType, int]]     # the filter's choices: types with something, and how many
    project_id: int | None = None
    type_key: str | None = None
    page: int = 1
    pages: int = 1
    filters: dict = field(default_factory=dict)   # the query string of the current filters


def failed_note(erp: ErpItem, why: Explanation | None) -> str:
    """Whether a failed export is tried again, and by whom."""
    tried = f"Sage refused it after {erp.retries + 1} tries. " if erp.retries else ""
    if why is not None and why.project_team:
        return (tried + "It is not tried again by itself: the project team can fix the cause (see the "
                "solution), then an accounting approver retries it; or accounting rejects it back to you.")
    return (tried + "It is not tried again by itself: an accounting approver retries it once the cause is "
            "fixed, or rejects it back to you.")


def _check_filters(project_id: int | None, type_key: str | None, scope: list[int] | None,
                   session: Session) -> None:
    if type_key is not None and type_key not in REGISTRY:
        why = f"there is no item type {type_key[:40]!r}; choose one from the list."
        raise Invalid(f"Type: {why}", fields={"type": why})
    if project_id is not None:
        known = session.get(Project, project_id) is not None
        if not known or (scope is not None and project_id not in scope):
            why = "you are not an Admin on that project; choose one of yours."
            raise Invalid(f"Project: {why}", fields={"project": why})


def desk(session: Session, user: User, rule: StuckRule, *, project_id: int | None = None,
         type_key: str | None = None, page: int = 1, page_size: int = PAGE_SIZE,
         now: datetime | None = None) -> Desk:
    """Everything that needs the user on their Admin projects, newest first, filtered by project
    and type (Invalid naming the filter for a type or project that is not theirs)."""
    now = now or utcnow()
    scope = admin_project_ids(session, user)
    _check_filters(project_id, type_key, scope, session)
    where = and_(_in_scope(scope), needs_attention(rule, now))
    grouped = session.execute(
        select(ErpItem.item_type, ErpItem.project_id, _kind().label("kind"), func.count())
        .where(where).group_by(ErpItem.item_type, ErpItem.project_id, "kind")).all()
    by_type: dict[str, int] = {}
    by_project: dict[int | None, int] = {}
    kinds = dict.fromkeys(KINDS, 0)
    for key, pid, kind, n in grouped:
        if project_id is None or pid == project_id:
            by_type[key] = by_type.get(key, 0) + n
        if type_key is None or key == type_key:
            by_project[pid] = by_project.get(pid, 0) + n
            if project_id is None or pid == project_id:
                kinds[kind] += n
    total = sum(kinds.values())
    named = {p.id: p for p in session.scalars(select(Project).where(
        Project.id.in_([pid for pid in by_project if pid is not None] + ([project_id] if project_id else []))))}
    page = max(1, page)
    pages = max(1, -(-total // page_size))
    stmt = select(ErpItem).where(where).options(joinedload(ErpItem.decided_by), joinedload(ErpItem.sent_by))
    if project_id is not None:
        stmt = stmt.where(ErpItem.project_id == project_id)
    if type_key is not None:
        stmt = stmt.where(ErpItem.item_type == type_key)
    erps = list(session.scalars(stmt.order_by(func.coalesce(ErpItem.decided_at, ErpItem.sent_at).desc(),
                                              ErpItem.id.desc())
                                .offset((page - 1) * page_size).limit(page_size)))
    filters = {k: v for k, v in (("project", project_id), ("type", type_key)) if v is not None}
    return Desk(rows=_rows(session, erps, named, rule), total=total, kinds=kinds,
                projects=sorted(((named[pid], n) for pid, n in by_project.items() if pid in named),
                                key=lambda pn: (pn[0].number, pn[0].id)),
                types=[(t, by_type[k]) for k, t in REGISTRY.items() if by_type.get(k)],
                project_id=project_id, type_key=type_key, page=page, pages=pages, filters=filters)


def _rows(session: Session, erps: list[ErpItem], projects: dict[int, Project], rule: StuckRule) -> list[AttentionRow]:
    """The page's rows: per type on the page, its items and row values in one go (no N+1)."""
    loaded: dict[tuple[str, int], tuple[Any, dict]] = {}
    for key in dict.fromkeys(e.item_type for e in erps):
        item_type = REGISTRY.get(key)
        if item_type is None:
            continue  # a type no longer registered (a test's own)
        items = item_type.load_many(session, [e.item_id for e in erps if e.item_type == key], item_type.tab_options())
        values = item_type.row_values_many(session, list(items.values()))
        loaded.update({(key, item_id): (item, values[item_id]) for item_id, item in items.items()})
    rows = []
    for erp in erps:
        if (erp.item_type, erp.item_id) not in loaded:
            continue
        item, shown = loaded[(erp.item_type, erp.item_id)]
        title = str(shown.get("number") or shown.get("name") or erp.item_id)
        row = AttentionRow(erp, REGISTRY[erp.item_type], item, title, projects.get(erp.project_id or 0),
                           REJECTED if erp.state == State.REJECTED else FAILED if erp.state == State.FAILED
                           else STUCK)
        if row.kind == FAILED:
            row.explanation = explain(erp.sage_message or "")
            row.note = failed_note(erp, row.explanation)
        elif row.kind == STUCK:
            row.note = rule.why(erp)
        rows.append(row)
    return rows


def project_panel(session: Session, user: User, rule: StuckRule, project_id: int,
                  now: datetime | None = None) -> Desk | None:
    """The desk of one project, for its pages' panel: None when the user is not Admin on it
    (its members see the project, not the panel); NotFound / PermissionDenied as its pages."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("No such project.")
    level = ToolLevel.ADMIN if user.is_site_admin else project_level(session, user, project_id)
    if not policy.can(user, policy.VIEW_PROJECT, project_level=level):
        raise PermissionDenied("You do not have access to this project.")
    if not policy.can(user, policy.SEND, project_level=level):
        return None
    return desk(session, user, rule, project_id=project_id, now=now)
