"""The company's audit log: every lifecycle transition (link and unlink included), setting
change, sync run, mail, API token change and decision on a record read from Sage, as one
list, newest first.

One UNION ALL of the audited tables. Every filter and the keyset ("after this row") goes into
each arm, and each arm is read newest first from its (time, id) index with the page's limit,
so a page costs the same at 100 and at 100,000 rows (no OFFSET). Rows sort by (at, kind, id):
two tables can hold the same time and id, the kind breaks the tie.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import CompoundSelect, Select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from portal.domain import policy
from portal.domain.errors import Invalid, PermissionDenied
from portal.domain.lifecycle import TEXT_ACTIONS, Action, State
from portal.domain.models import ApiToken, ApiTokenAudit, ErpAudit, ErpItem, OutboxMail, Project, SettingChange, User
from portal.domain.sage_models import ImportStatus, SageRecord, SyncRun
from portal.domain.search import like, like_text
from portal.domain.types import REGISTRY
from portal.domain.values import csv_cell, setting_value

PAGE = 50
Q_MAX = 200

# kinds of entry: their sort order (the tie-break) and what the Type filter calls them
TRANSITION, SETTING, SYNC, MAIL, TOKEN, SAGE = "transition", "setting", "sync", "mail", "api_token", "sage_record"
KIND_ORDER = {TRANSITION: 1, SETTING: 2, SYNC: 3, MAIL: 4, TOKEN: 5, SAGE: 6}
ORDER_KIND = {v: k for k, v in KIND_ORDER.items()}
KIND_LABELS = {SETTING: "Setting", SYNC: "Sync from Sage", MAIL: "Mail", TOKEN: "API token",
               SAGE: "Sage record (Ready to Import)"}

OK, FAILED, PENDING = "ok", "failed", "pending"
OUTCOMES = {OK: "Succeeded", FAILED: "Failed", PENDING: "Pending"}

# the actions of the kinds that are not transitions
SAGE_PREFIX = "sage_"
SETTING_CHANGE, SYNC_RUN, MAIL_SENT, TOKEN_CREATE, TOKEN_REVOKE = (
    "setting_change", "sync", "mail", "token_create", "token_revoke")
ACTION_LABELS = {
    Action.SEND: "Sent to ERP", Action.RETRIEVE: "Retrieved", Action.ACCEPT: "Accepted",
    Action.EXPORT_OK: "Synced", Action.EXPORT_FAILED: "Failed to Export", Action.REJECT: "Rejected",
    Action.RESEND: "Sent to ERP again", Action.UNLINK: "Unlinked", Action.REQUEUE: "Retried",
    Action.RETRY_LATER: "Retry later", Action.LINK: "Linked", Action.PAYMENT: "Payment issued",
    SETTING_CHANGE: "Setting changed", SYNC_RUN: "Sync", MAIL_SENT: "Mail",
    TOKEN_CREATE: "API token created", TOKEN_REVOKE: "API token revoked",
    # what was last decided on a record read from Sage (Ready to Import): its status, prefixed
    **{SAGE_PREFIX + status: label for status, label in {
        ImportStatus.LINKED: "Sage record linked", ImportStatus.ADDED: "Added from Sage",
        ImportStatus.ARCHIVED: "Sage record archived",
        ImportStatus.PENDING: "Sage record back to Ready to Import"}.items()},
}
# a transition's outcome follows from its action (so the filter reads the action index)
TRANSITION_OUTCOME = {Action.EXPORT_FAILED: FAILED, Action.RETRY_LATER: PENDING}
FIXED_ACTION = {SETTING: SETTING_CHANGE, SYNC: SYNC_RUN, MAIL: MAIL_SENT}


@dataclass(frozen=True)
class Filters:
    """What the user asked for (all optional); `after` is the keyset of the page's previous row."""
    user: int | None = None
    type: str = ""        # an item type key, or one of KIND_LABELS
    action: str = ""
    project: int | None = None
    outcome: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    after: tuple[datetime, int, int] | None = None
    # the ERP items whose own record matches q, read once per page (None: not read yet)
    items: tuple[int, ...] | None = None
    tz: tzinfo = UTC      # the company's time zone: its days are the date range's, its clock the CSV's

    def args(self) -> dict[str, str]:
        """The filter as URL query arguments (empty ones left out), without the page's keyset."""
        values = {"user": self.user, "type": self.type, "action": self.action, "project": self.project,
                  "outcome": self.outcome, "from": self.date_from.isoformat() if self.date_from else "",
                  "to": self.date_to.isoformat() if self.date_to else "", "q": self.q}
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        return bool(self.args())


def _int(args: Mapping[str, str], name: str, label: str, errors: dict) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 10:
        errors[name] = f"{label} must be chosen from the list."
        return None
    return int(raw)


def _date(args: Mapping[str, str], name: str, label: str, errors: dict) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"{label} must be a date (YYYY-MM-DD)."
        return None


def encode_after(at: datetime, kind: str, entry_id: int) -> str:
    return f"{at.isoformat(timespec='microseconds')}~{KIND_ORDER[kind]}~{entry_id}"


def parse_filters(args: Mapping[str, str], tz: tzinfo = UTC) -> Filters:
    """The filters of the page's URL (its dates are days on the company's clock, `tz`); Invalid
    naming each field that cannot be read."""
    errors: dict[str, str] = {}
    kind = (args.get("type") or "").strip()
    if kind and kind not in REGISTRY and kind not in KIND_LABELS:
        errors["type"] = "Type must be chosen from the list."
    action = (args.get("action") or "").strip()
    if action and action not in ACTION_LABELS:
        errors["action"] = "Action must be chosen from the list."
    outcome = (args.get("outcome") or "").strip()
    if outcome and outcome not in OUTCOMES:
        errors["outcome"] = "Outcome must be chosen from the list."
    q = " ".join((args.get("q") or "").split())
    if len(q) > Q_MAX:
        errors["q"] = f"Search for at most {Q_MAX} characters."
    date_from, date_to = _date(args, "from", "From", errors), _date(args, "to", "To", errors)
    if date_from and date_to and date_to < date_from:
        errors["to"] = "To must not be before From."
    after = None
    raw = (args.get("after") or "").strip()
    if raw:
        try:
            at, order, entry_id = raw.split("~")
            after = (datetime.fromisoformat(at), int(order), int(entry_id))
            if after[1] not in ORDER_KIND or not 0 < after[2] < 2**31:
                raise ValueError(raw)
        except ValueError:
            errors["after"] = "The page link is not valid; start again from the first page."
    filters = Filters(user=_int(args, "user", "User", errors), type=kind, action=action,
                      project=_int(args, "project", "Project", errors), outcome=outcome,
                      date_from=date_from, date_to=date_to, q=q, after=after, tz=tz)
    if errors:
        raise Invalid("Please correct the filters: " + " ".join(errors.values()), fields=errors)
    return filters


# ---- the query ----------------------------------------------------------------------------

def _const(value: str | int | None, type_) -> ColumnElement:
    """A constant column, written into the SQL (PostgreSQL cannot type a bound parameter in a
    UNION's select list); only values of this module, never user input."""
    if value is None:
        return cast(null(), type_)
    return literal_column(repr(value) if isinstance(value, str) else str(int(value)), type_)


COLUMN_TYPES: dict[str, TypeEngine] = {
    "k": Integer(), "id": Integer(), "at": DateTime(), "actor_id": Integer(), "item_type": String(),
    "erp_item_id": Integer(), "project_id": Integer(), "action": String(), "outcome": String(),
    "subject": Text(), "detail": Text()}


def _arm(kind: str, entry_id, at, actor_id, item_type, erp_item_id, project_id, action, outcome,
         subject, detail) -> Select:
    return select(_const(KIND_ORDER[kind], Integer).label("k"), entry_id.label("id"), at.label("at"),
                  actor_id.label("actor_id"), item_type.label("item_type"), erp_item_id.label("erp_item_id"),
                  project_id.label("project_id"), action.label("action"), outcome.label("outcome"),
                  subject.label("subject"), detail.label("detail"))


def _keyset(kind: str, at, entry_id, after: tuple[datetime, int, int] | None) -> list[ColumnElement[bool]]:
    """Rows of this arm after the cursor in (at, kind, id) descending order."""
    if after is None:
        return []
    cursor_at, cursor_kind, cursor_id = after
    mine = KIND_ORDER[kind]
    if mine < cursor_kind:
        return [at <= cursor_at]
    if mine > cursor_kind:
        return [at < cursor_at]
    return [or_(at < cursor_at, and_(at == cursor_at, entry_id < cursor_id))]


def _dates(at, f: Filters) -> list[ColumnElement[bool]]:
    where = []
    if f.date_from:
        where.append(at >= _midnight(f.date_from, f.tz))
    if f.date_to:
        where.append(at < _midnight(f.date_to + timedelta(days=1), f.tz))
    return where


def _midnight(day: date, tz: tzinfo) -> datetime:
    """The start of a day on the company's clock, as the times are stored (naive UTC)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


ITEMS_READ_MAX = 1000   # more matching items than this: the arms ask the database themselves


def with_items(session: Session, f: Filters) -> Filters:
    """The filters with the ids of the items matching q, read once (not once per arm)."""
    if not f.q or f.items is not None:
        return f
    ids = session.scalars(matching_items(f.q).limit(ITEMS_READ_MAX + 1)).all()
    return f if len(ids) > ITEMS_READ_MAX else replace(f, items=tuple(ids))


def _items(f: Filters):
    return matching_items(f.q) if f.items is None else list(f.items)


def matching_items(q: str) -> CompoundSelect:
    """The ERP items whose own record matches q (its number, title, vendor, project...)."""
    return union_all(*[select(ErpItem.id).where(ErpItem.item_type == key, ErpItem.item_id.in_(t.search_ids(q)))
                       for key, t in REGISTRY.items()])


def _wanted(kind: str, f: Filters) -> bool:
    """Whether an arm can hold rows at all under the filters that name kinds, actions, users, projects."""
    if f.type and f.type != kind and not (f.type in REGISTRY and kind in (TRANSITION, MAIL)):
        return False
    if f.action:
        if kind == TRANSITION:
            fits = (f.action not in FIXED_ACTION.values() and f.action not in (TOKEN_CREATE, TOKEN_REVOKE)
                    and not f.action.startswith(SAGE_PREFIX))
        elif kind == SAGE:
            fits = f.action.startswith(SAGE_PREFIX)
        elif kind == TOKEN:
            fits = f.action in (TOKEN_CREATE, TOKEN_REVOKE)
        else:
            fits = FIXED_ACTION[kind] == f.action
        if not fits:
            return False
    if f.user is not None and kind == MAIL:
        return False
    if f.project is not None and kind in (SETTING, TOKEN, SAGE):
        return False
    if f.outcome and kind in (SETTING, TOKEN, SAGE) and f.outcome != OK:
        return False
    return True



def _transitions(f: Filters, limit: int, by_text: str | None = None) -> Select:
    """The transitions arm; with a search, the matching items' own rows (read by erp_item_id), or
    with by_text (an action) the rows of that action of other items whose reason or Sage message
    matches (read newest first from the action's index)."""
    outcome = case(*[(ErpAudit.action == a, _const(o, String)) for a, o in TRANSITION_OUTCOME.items()],
                   else_=_const(OK, String))
    arm = _arm(TRANSITION, ErpAudit.id, ErpAudit.at, ErpAudit.actor_id, ErpItem.item_type, ErpAudit.erp_item_id,
               ErpItem.project_id, ErpAudit.action, outcome, _const(None, Text), cast(ErpAudit.detail, Text)
               ).select_from(ErpAudit).join(ErpItem, ErpItem.id == ErpAudit.erp_item_id)
    where = _keyset(TRANSITION, ErpAudit.at, ErpAudit.id, f.after) + _dates(ErpAudit.at, f)
    if f.user is not None:
        where.append(ErpAudit.actor_id == f.user)
    if f.type in REGISTRY:
        where.append(ErpItem.item_type == f.type)
    if f.action:
        where.append(ErpAudit.action == f.action)
    if f.project is not None:
        where.append(ErpItem.project_id == f.project)
    if f.outcome == OK:
        where.append(ErpAudit.action.not_in(list(TRANSITION_OUTCOME)))
    elif f.outcome:
        where.append(ErpAudit.action.in_([a for a, o in TRANSITION_OUTCOME.items() if o == f.outcome]))
    if f.q and not by_text:
        where.append(ErpAudit.erp_item_id.in_(_items(f)))
    elif f.q:
        where += [ErpAudit.action == by_text, ErpAudit.erp_item_id.not_in(_items(f)),
                  ErpAudit.note.like(like_text(f.q), escape="\\")]  # note: lowercased, read from the index
    return arm.where(*where).order_by(ErpAudit.at.desc(), ErpAudit.id.desc()).limit(limit)


def _settings(f: Filters, limit: int) -> Select:
    arm = _arm(SETTING, SettingChange.id, SettingChange.at, SettingChange.actor_id, _const(None, String),
               _const(None, Integer), _const(None, Integer), _const(SETTING_CHANGE, String), _const(OK, String),
               SettingChange.key, cast(SettingChange.new, Text))
    where = _keyset(SETTING, SettingChange.at, SettingChange.id, f.after) + _dates(SettingChange.at, f)
    if f.user is not None:
        where.append(SettingChange.actor_id == f.user)
    if f.q:
        where.append(or_(like(SettingChange.key, f.q), like(cast(SettingChange.new, Text), f.q)))
    return arm.where(*where).order_by(SettingChange.at.desc(), SettingChange.id.desc()).limit(limit)


def _syncs(f: Filters, limit: int) -> Select:
    outcome = case((SyncRun.status == "failed", _const(FAILED, String)),
                   (SyncRun.status.in_(("queued", "running")), _const(PENDING, String)),
                   (SyncRun.errors > 0, _const(FAILED, String)), else_=_const(OK, String))
    project = case((SyncRun.scope.like("project:%"), cast(func.substr(SyncRun.scope, len("project:") + 1), Integer)),
                   else_=_const(None, Integer))
    arm = _arm(SYNC, SyncRun.id, SyncRun.created_at, SyncRun.requested_by_id, _const(None, String),
               _const(None, Integer), project, _const(SYNC_RUN, String), outcome, SyncRun.kind, SyncRun.message)
    where = _keyset(SYNC, SyncRun.created_at, SyncRun.id, f.after) + _dates(SyncRun.created_at, f)
    if f.user is not None:
        where.append(SyncRun.requested_by_id == f.user)
    if f.project is not None:
        where.append(SyncRun.scope == f"project:{f.project}")
    if f.outcome:
        where.append(outcome == f.outcome)
    if f.q:
        where.append(or_(like(SyncRun.kind, f.q), like(SyncRun.message, f.q)))
    return arm.where(*where).order_by(SyncRun.created_at.desc(), SyncRun.id.desc()).limit(limit)


def _mails(f: Filters, limit: int) -> Select:
    outcome = case((OutboxMail.status.in_(("sent", "kept")), _const(OK, String)),
                   (OutboxMail.status == "failed", _const(FAILED, String)), else_=_const(PENDING, String))
    arm = _arm(MAIL, OutboxMail.id, OutboxMail.created_at, _const(None, Integer), ErpItem.item_type,
               OutboxMail.erp_item_id, ErpItem.project_id, _const(MAIL_SENT, String), outcome,
               OutboxMail.subject, OutboxMail.recipients
               ).select_from(OutboxMail).outerjoin(ErpItem, ErpItem.id == OutboxMail.erp_item_id)
    where = _keyset(MAIL, OutboxMail.created_at, OutboxMail.id, f.after) + _dates(OutboxMail.created_at, f)
    if f.type in REGISTRY:
        where.append(ErpItem.item_type == f.type)
    if f.project is not None:
        where.append(ErpItem.project_id == f.project)
    if f.outcome:
        where.append(outcome == f.outcome)
    if f.q:
        where.append(or_(like(OutboxMail.subject, f.q), like(OutboxMail.recipients, f.q),
                         OutboxMail.erp_item_id.in_(_items(f))))
    return arm.where(*where).order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc()).limit(limit)


def _tokens(f: Filters, limit: int) -> Select:
    arm = _arm(TOKEN, ApiTokenAudit.id, ApiTokenAudit.at, ApiTokenAudit.actor_id, _const(None, String),
               _const(None, Integer), _const(None, Integer), _const("token_", String) + ApiTokenAudit.action,
               _const(OK, String), ApiToken.name, cast(ApiToken.user_id, Text)
               ).select_from(ApiTokenAudit).join(ApiToken, ApiToken.id == ApiTokenAudit.token_id)
    where = _keyset(TOKEN, ApiTokenAudit.at, ApiTokenAudit.id, f.after) + _dates(ApiTokenAudit.at, f)
    if f.user is not None:
        where.append(ApiTokenAudit.actor_id == f.user)
    if f.action:
        where.append(ApiTokenAudit.action == f.action.removeprefix("token_"))
    if f.q:
        where.append(like(ApiToken.name, f.q))
    return arm.where(*where).order_by(ApiTokenAudit.at.desc(), ApiTokenAudit.id.desc()).limit(limit)


def _sage_records(f: Filters, limit: int) -> Select:
    """The last decision on each record read from Sage (linked, added, archived, back to Ready to
    Import): the record keeps only its latest, so that is what the log shows."""
    at = SageRecord.decided_at
    arm = _arm(SAGE, SageRecord.id, at, SageRecord.decided_by_id, _const(None, String), _const(None, Integer),
               _const(None, Integer), _const(SAGE_PREFIX, String) + SageRecord.status, _const(OK, String),
               SageRecord.kind + _const(" ", String) + SageRecord.sage_key, SageRecord.name)
    where = [at.is_not(None)] + _keyset(SAGE, at, SageRecord.id, f.after) + _dates(at, f)
    if f.user is not None:
        where.append(SageRecord.decided_by_id == f.user)
    if f.action:
        where.append(SageRecord.status == f.action.removeprefix(SAGE_PREFIX))
    if f.q:
        where.append(or_(like(SageRecord.sage_key, f.q), like(SageRecord.name, f.q)))
    return arm.where(*where).order_by(at.desc(), SageRecord.id.desc()).limit(limit)


ARMS = {TRANSITION: _transitions, SETTING: _settings, SYNC: _syncs, MAIL: _mails, TOKEN: _tokens,
        SAGE: _sage_records}


def entries_query(f: Filters, limit: int) -> Select | None:
    """The newest `limit` entries under the filters (after f.after), or None when no arm can match.
    Each arm is wrapped as a subquery (SQLite takes ORDER BY ... LIMIT in a compound's arms only
    so) and selected by name: building SQLAlchemy's column proxies for five arms would cost more
    than the query itself."""
    arms: list[Select] = [select(literal_column("*")).select_from(fn(f, limit).subquery(f"arm_{kind}"))
            for kind, fn in ARMS.items() if _wanted(kind, f)]
    if f.q and _wanted(TRANSITION, f):
        arms += [select(literal_column("*")).select_from(
                     _transitions(f, limit, by_text=action).subquery(f"arm_{action}"))
                 for action in TEXT_ACTIONS if not f.action or f.action == action]
    if not arms:
        return None
    merged = union_all(*arms).subquery("entries")
    return (select(*[literal_column(name, type_) for name, type_ in COLUMN_TYPES.items()]).select_from(merged)
            .order_by(literal_column("at").desc(), literal_column("k").desc(), literal_column("id").desc())
            .limit(limit))


# ---- the rows as the page shows them ----------------------------------------------------------

SHOWN = ("reason", "message", "reference", "fields")   # the detail keys Entry.text words itself


@dataclass
class Entry:
    kind: str
    id: int
    at: datetime
    actor_id: int | None
    item_type: str | None
    erp_item_id: int | None
    project_id: int | None
    action: str
    outcome: str
    subject: str | None
    detail: str | None
    actor: str = ""
    project: str = ""
    item: str = ""
    link: tuple[str, dict] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def cursor(self) -> str:
        return encode_after(self.at, self.kind, self.id)

    @property
    def what(self) -> str:
        if self.kind in (TRANSITION, MAIL) and self.item_type in REGISTRY:
            return REGISTRY[self.item_type].label
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action.replace("_", " ").capitalize())

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.outcome, self.outcome)

    @property
    def text(self) -> str:
        """What happened, in words: the reason, Sage's message, the setting's new value..."""
        if self.kind == TRANSITION:
            detail = _json(self.detail)
            if not isinstance(detail, dict):
                return ""
            parts = []
            if detail.get("reason"):
                parts.append(f"Reason: {detail['reason']}")
            if detail.get("message"):
                parts.append(str(detail["message"]))
            if detail.get("reference"):
                parts.append(f"Sage reference {detail['reference']}")
            if isinstance(detail.get("fields"), dict):
                parts.append(", ".join(f"{k}: {v}" for k, v in detail["fields"].items() if v not in (None, "")))
            parts += [f"{k.replace('_', ' ')}: {v}" for k, v in detail.items()
                      if k not in SHOWN and v is not None and v != "" and v is not False]
            return " · ".join(p for p in parts if p)
        if self.kind == SETTING:
            return f"{self.subject}: {setting_value(_json(self.detail))}"
        if self.kind == SYNC:
            return f"{(self.subject or '').replace('_', ' ')}: {self.detail or ''}".strip(": ")
        if self.kind == MAIL:
            return f"{self.subject} (to {self.detail})"
        if self.kind == SAGE:
            return f"{self.subject}: {self.detail}" if self.detail else f"{self.subject}"
        if self.kind == TOKEN:
            return f"{self.subject}" + (f" of {self.extra['owner']}" if self.extra.get("owner") else "")
        return ""


def _json(raw: str | None):
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def _entries(session: Session, f: Filters, limit: int) -> list[Entry]:
    query = entries_query(with_items(session, f), limit)
    if query is None:
        return []
    return [Entry(ORDER_KIND[r.k], r.id, r.at, r.actor_id, r.item_type, r.erp_item_id, r.project_id, r.action,
                  r.outcome, r.subject, r.detail) for r in session.execute(query)]


def _describe(session: Session, entries: list[Entry]) -> None:
    """Names for a page of entries: a few queries per page, whatever its length."""
    user_ids = {e.actor_id for e in entries if e.actor_id}
    owners = {int(e.detail or 0) for e in entries if e.kind == TOKEN and (e.detail or "").isdigit()}
    names: dict[int, str] = dict((i, n) for i, n in session.execute(
        select(User.id, User.name).where(User.id.in_(user_ids | owners))).all()) if user_ids | owners else {}
    project_ids = {e.project_id for e in entries if e.project_id}
    projects = {pid: f"{number} {name}".strip() for pid, number, name in session.execute(
        select(Project.id, Project.number, Project.name).where(Project.id.in_(project_ids)))} if project_ids else {}
    erp_ids = {e.erp_item_id for e in entries if e.erp_item_id}
    erps = {erp.id: erp for erp in session.scalars(select(ErpItem).where(ErpItem.id.in_(erp_ids)))} if erp_ids else {}
    titles: dict[int, str] = {}
    by_type: dict[str, list[ErpItem]] = {}
    for erp in erps.values():
        if erp.item_type in REGISTRY:
            by_type.setdefault(erp.item_type, []).append(erp)
    for key, group in by_type.items():
        item_type = REGISTRY[key]
        # what a tab row loads names the item too: far less than an export's load
        items = item_type.load_many(session, [erp.item_id for erp in group], item_type.tab_options())
        for erp in group:
            item = items.get(erp.item_id)
            titles[erp.id] = item_type.summary(item).title if item is not None else f"{item_type.label} (deleted)"
    for e in entries:
        e.actor = names.get(e.actor_id, "") if e.actor_id else ("" if e.kind == MAIL else "System")
        e.project = projects.get(e.project_id, "") if e.project_id else ""
        if e.erp_item_id in erps:
            erp = erps[e.erp_item_id]
            e.item = titles.get(erp.id, "")
            if erp.item_type in REGISTRY:
                e.link = REGISTRY[erp.item_type].link(erp)
        if e.kind == TOKEN and (e.detail or "").isdigit():
            e.extra["owner"] = names.get(int(e.detail or 0), "")


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_after: str | None     # the keyset of the next page, None on the last one
    filters: Filters


def check(actor: User) -> None:
    if not policy.can(actor, policy.VIEW_AUDIT):
        raise PermissionDenied("The audit log is for ERP Admins and accounting approvers.")


def page(session: Session, actor: User, f: Filters, size: int = PAGE) -> Page:
    """One page of the log under the filters, newest first, with the next page's keyset."""
    check(actor)
    entries = _entries(session, f, size + 1)
    more = len(entries) > size
    entries = entries[:size]
    _describe(session, entries)
    session.rollback()  # a read: end the transaction
    return Page(entries, entries[-1].cursor if more and entries else None, f)


def options(session: Session) -> dict:
    """The choices of the filter form: users who acted, projects, types, actions, outcomes."""
    users = session.execute(select(User.id, User.name).order_by(User.name)).all()
    projects = session.execute(select(Project.id, Project.number, Project.name)
                               .order_by(Project.number, Project.name)).all()
    session.rollback()
    return {"users": users, "projects": projects,
            "types": [(k, t.label) for k, t in REGISTRY.items()] + list(KIND_LABELS.items()),
            "actions": list(ACTION_LABELS.items()), "outcomes": list(OUTCOMES.items()),
            "states": State.LABELS}


# ---- CSV --------------------------------------------------------------------------------------

CSV_HEADER = ["When", "User", "Type", "Item", "Project", "Action", "Outcome", "Details"]
CSV_CHUNK = 500


def csv_rows(session: Session, actor: User, f: Filters) -> Iterator[str]:
    """Every entry under the filters (not only one page), as CSV lines, read a chunk at a time
    by keyset."""
    check(actor)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    after = replace(f, after=None)
    while True:
        chunk = _entries(session, after, CSV_CHUNK)
        _describe(session, chunk)
        session.rollback()
        for e in chunk:
            writer.writerow([csv_cell(v) for v in (
                e.at.replace(tzinfo=UTC).astimezone(f.tz).strftime("%Y-%m-%d %H:%M:%S %Z"), e.actor, e.what,
                e.item, e.project, e.action_label, e.outcome_label, e.text)])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(chunk) < CSV_CHUNK:
            return
        last = chunk[-1]
        after = replace(after, after=(last.at, KIND_ORDER[last.kind], last.id))
