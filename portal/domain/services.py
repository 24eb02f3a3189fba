"""Lifecycle services: every decision on an item goes through here, inside its own unit of work.

Each service takes the session and the actor, checks permission, moves the item through the
transitions table (lifecycle.transition writes the audit row), commits, and only then hands
work to the queue, so a job never sees an uncommitted decision.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from portal.domain import compliance, edits, notifications, outbox, policy, settings, setup, values
from portal.domain.backoff import EXPORT_RETRY, Backoff
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.exports import stalled_exports
from portal.domain.lifecycle import Action, State, new_erp_item, next_state, transition
from portal.domain.models import ErpItem, ProjectMember, ToolLevel, User, utcnow
from portal.domain.notifications import Notices
from portal.domain.ports import ExportQueue, MailQueue, SageSetup
from portal.domain.types import REGISTRY, get_type
from portal.domain.types.base import Mapped
from portal.domain.uow import commit, transactional, unit_of_work
from portal.exporters.sage300.records import Batch, ConnectorUnavailable, SageResult, is_transient

log = logging.getLogger(__name__)

REASON_MAX = 2000
NOT_IN_TAB = "That item is not in this tab."
# Exports accepted together run up to this many in a row in one job: a bulk accept pays the
# queue's own round trip (about as long as an export) once per group, not once per item.
EXPORT_JOB_SIZE = 20


def export_job_id(erp: ErpItem) -> str:
    """One job id per accept attempt, and per retry of it after a passing Sage fault."""
    return f"export-{erp.id}-{erp.attempt}" + (f"-r{erp.retries}" if erp.retries else "")


def share_export_jobs(erps: list[ErpItem]) -> None:
    """Group exports into jobs of up to EXPORT_JOB_SIZE: each group takes the job id of its
    first item, so the queue runs it as one job and the stall rule asks after that job."""
    for start in range(0, len(erps), EXPORT_JOB_SIZE):
        group = erps[start:start + EXPORT_JOB_SIZE]
        for erp in group:
            erp.job_id = export_job_id(group[0])


def batch_id(erp: ErpItem) -> str:
    """The idempotency key Sage sees: one per accept attempt, the same on every re-run."""
    return f"{erp.item_type}-{erp.item_id}-a{erp.attempt}"


# ---- lookups and checks other modules share ----------------------------------------------

def project_level(session: Session, user: User, project_id: int | None) -> str:
    """The user's level on a project's financial tools (None when there is no project)."""
    if project_id is None or user is None or not user.is_authenticated:
        return ToolLevel.NONE
    level = session.scalar(select(ProjectMember.level).where(
        ProjectMember.user_id == user.id, ProjectMember.project_id == project_id))
    return level or ToolLevel.NONE


def get_erp_item(session: Session, erp_item_id: int, type_key: str | None = None) -> ErpItem:
    erp = session.get(ErpItem, erp_item_id)
    if erp is None or (type_key and erp.item_type != type_key):
        raise NotFound("That item is not in ERP Integrations.")
    return erp


def find_erp_item(session: Session, type_key: str, item_id: int) -> ErpItem | None:
    return session.scalars(select(ErpItem).where(ErpItem.item_type == type_key,
                                                 ErpItem.item_id == item_id)).first()


def require(user: User, action: str, message: str, **kwargs) -> None:
    """PermissionDenied(message) unless policy allows `action`."""
    if not policy.can(user, action, **kwargs):
        raise PermissionDenied(message)


# ---- project side ----------------------------------------------------------------------

@transactional
def send(session: Session, actor: User, type_key: str, item_id: int,
         queue: ExportQueue | None = None, notices: Notices | None = None) -> ErpItem:
    """Send (or resend after a rejection) an item to ERP Integrations for acceptance; with
    Direct Export on for its type, straight to export with its default export fields. A resend
    tells the approvers (notifications.resent: a mail, or a line in their daily summary)."""
    item_type = get_type(type_key)
    item = item_type.load(session, item_id)
    level = project_level(session, actor, item_type.project_id(item))
    require(actor, policy.SEND, "Sending to ERP needs Admin on the project's tool.", project_level=level)
    reasons = item_type.prerequisites(session, item)
    if reasons:
        raise Invalid("This item cannot be sent to ERP yet: " + " ".join(reasons),
                      fields={"prerequisites": " ".join(reasons)})
    erp = find_erp_item(session, type_key, item_id)
    if erp is None:
        erp = new_erp_item(session, type_key, item_id, item_type.project_id(item))
    action = Action.RESEND if erp.state == State.REJECTED else Action.SEND
    direct = queue is not None and settings.load(session).direct(item_type.direct_export_setting)
    fields: dict | None = None
    gate: compliance.Gate | None = None
    if direct:
        try:
            fields = item_type.parse_export_fields(session, item, item_type.export_defaults(item))
        except Invalid as exc:
            why = "; ".join(exc.fields.values()) or exc.message
            raise Invalid(f"Direct Export is on for {item_type.plural.lower()}, but this one cannot be "
                          f"exported with its defaults: {why} An ERP Admin can turn Direct Export "
                          "off (or the contract-number setting on) in Settings.",
                          fields={"prerequisites": why}) from None
        try:
            fields, gate = compliance.checked_fields(session, item_type, item, fields)
        except Invalid:
            fields = gate = None  # the insurance gate blocks it: it waits in Ready to Export, saying why
    changed = edits.note_resend(session, erp)
    transition(session, erp, action, actor.id, detail=None if changed is None else {"changes": changed})
    erp.sent_by_id, erp.sent_at = actor.id, utcnow()
    erp.sage_message = None
    notes = []
    if action == Action.RESEND:
        notes = notifications.resent(session, erp, item_type.label, item_type.summary(item), actor,
                                     erp.reject_reason, notices or Notices())
    if fields is not None:
        mark_accepted(session, erp, actor, fields, detail={**accept_detail(fields, gate), "direct_export": True})
    commit(session)
    notifications.deliver_after_commit(notes, notices)
    if fields is not None and queue is not None:
        enqueue_exports([erp], queue)
    return erp


@transactional
def retrieve(session: Session, actor: User, erp_item_id: int) -> ErpItem:
    """Take an item back from Ready to Export before accounting decides."""
    erp = get_erp_item(session, erp_item_id)
    level = project_level(session, actor, erp.project_id)
    require(actor, policy.RETRIEVE, "Only the sender or a project admin can retrieve this item.",
            project_level=level, sent_by_id=erp.sent_by_id)
    transition(session, erp, Action.RETRIEVE, actor.id)
    commit(session)
    return erp


# ---- accounting side -----------------------------------------------------------------

@transactional
def accept(session: Session, actor: User, erp_item_id: int, raw_fields: dict,
           queue: ExportQueue, sage: SageSetup | None = None) -> ErpItem:
    """Accept one item with its export fields and queue its export. With `sage` (the connector),
    refused while a setup prerequisite of its type fails; and the insurance gate decides."""
    require(actor, policy.DECIDE, "Only accounting approvers can accept items for export.")
    erp = get_erp_item(session, erp_item_id)
    item_type = get_type(erp.item_type)
    item = item_type.load(session, erp.item_id)
    next_state(Action.ACCEPT, erp.state)  # a clear Conflict before field errors
    setup.refuse_unless_ready(item_type, sage)
    values.refuse_unstorable(raw_fields)
    fields = item_type.parse_export_fields(session, item, raw_fields)
    fields, gate = compliance.checked_fields(session, item_type, item, fields)
    mark_accepted(session, erp, actor, fields, accept_detail(fields, gate))
    commit(session)
    enqueue_exports([erp], queue)
    return erp


@dataclass
class BulkOutcome:
    """What a bulk export did: the items accepted, and why each other one was not, named as
    people name it (its number, never a database id)."""
    accepted: list[ErpItem]
    errors: dict[int, str]                    # erp item id -> why it was not accepted
    names: dict[int, str]                     # erp item id -> "INV-1002", "Acme Supply"
    fields: dict[int, dict[str, str]]         # erp item id -> the typed fields it refused, by field

    def refusals(self) -> list[str]:
        """Each refusal as a sentence: "INV-1002: It is Synced." (in the order of the names)."""
        unnamed = [i for i in self.errors if i not in self.names]
        said = [f"{self.names[i]}: {self.errors[i]}" for i in self.names if i in self.errors]
        if unnamed:
            said.append(f"{len(unnamed)} ticked item(s) are no longer in ERP Integrations.")
        return said


def accept_many(session: Session, actor: User, type_key: str, erp_item_ids: list[int],
                queue: ExportQueue, sage: SageSetup | None = None) -> tuple[list[ErpItem], dict[int, str]]:
    """Accept several items of one tab's type with their default export fields; returns
    (accepted, errors by id). An item of another type is reported, never accepted."""
    outcome = export_ticked(session, actor, type_key, erp_item_ids, queue, sage=sage)
    return outcome.accepted, outcome.errors


@transactional
def export_ticked(session: Session, actor: User, type_key: str, erp_item_ids: list[int],
                  queue: ExportQueue, typed: dict[int, dict] | None = None,
                  sage: SageSetup | None = None) -> BulkOutcome:
    """Accept the ticked items of one tab's type with their default export fields, over which
    go the fields typed for each (`typed`: erp item id -> {field: value}, the Sage IDs a bulk
    form asks of each row); queue their exports. Each item not accepted is named with why."""
    require(actor, policy.DECIDE, "Only accounting approvers can accept items for export.")
    item_type = get_type(type_key)
    typed = typed or {}
    if not erp_item_ids:
        raise Invalid("Tick at least one item to export.")
    erps = session.scalars(select(ErpItem).where(ErpItem.id.in_(erp_item_ids))).all()
    out = BulkOutcome([], {i: "That item is not in ERP Integrations." for i in
                           set(erp_item_ids) - {e.id for e in erps}}, {}, {})
    out.errors.update((e.id, NOT_IN_TAB) for e in erps if e.item_type != item_type.key)
    out.names.update(_names(session, [e for e in erps if e.item_type != item_type.key]))
    place = {erp_id: n for n, erp_id in enumerate(erp_item_ids)}
    group = sorted((e for e in erps if e.item_type == item_type.key), key=lambda e: place[e.id])
    try:
        setup.refuse_unless_ready(item_type, sage)
    except Invalid as exc:
        out.errors.update((e.id, exc.message) for e in group)
        out.names.update(_names(session, group))
        group = []
    if group:
        items = item_type.load_many(session, [e.item_id for e in group])
        gates = compliance.gates(session, item_type, items.values())
        for erp in group:
            item = items[erp.item_id]
            out.names[erp.id] = item_type.item_name(item)
            if erp.state not in (State.READY, State.FAILED):
                out.errors[erp.id] = f"It is {State.LABELS[erp.state]}."
                continue
            own = typed.get(erp.id) or {}
            try:
                fields = item_type.parse_export_fields(session, item, {**item_type.export_defaults(item), **own})
            except Invalid as exc:
                said = "; ".join(exc.fields.values()) or exc.message
                out.errors[erp.id] = said if own else "Accept it on its own: " + said
                out.fields[erp.id] = exc.fields
                continue
            gate = gates.get(item.id)
            try:
                fields = compliance.decide(item_type, gate, fields)
            except Invalid as exc:
                out.errors[erp.id] = exc.message
                continue
            mark_accepted(session, erp, actor, fields, accept_detail(fields, gate))
            out.accepted.append(erp)
    share_export_jobs(out.accepted)
    commit(session)
    enqueue_exports(out.accepted, queue)
    return out


def _names(session: Session, erps: list[ErpItem]) -> dict[int, str]:
    """What people call these items (of any types), by erp item id: a few queries per type."""
    names: dict[int, str] = {}
    for key in {e.item_type for e in erps}:
        of_type = [e for e in erps if e.item_type == key]
        item_type = REGISTRY.get(key)
        items = item_type.load_many(session, [e.item_id for e in of_type]) if item_type else {}
        names.update((e.id, item_type.item_name(items[e.item_id])) for e in of_type
                     if item_type and e.item_id in items)
    return names


def accept_detail(fields: dict, gate: compliance.Gate | None) -> dict:
    """The audit row's detail of an acceptance: the fields, and the certificates the gate showed."""
    if gate is None or not gate.shown:
        return {"fields": fields}
    return {"fields": fields, "insurance": list(gate.problems)}


def mark_accepted(session: Session, erp: ErpItem, actor: User, fields: dict,
                  detail: dict | None = None) -> None:
    """Accepted with these export fields: a new attempt, and its export job's id."""
    transition(session, erp, Action.ACCEPT, actor.id, detail=detail or {"fields": fields})
    erp.export_fields = fields
    erp.attempt = (erp.attempt or 0) + 1
    erp.decided_by_id, erp.decided_at = actor.id, utcnow()
    erp.queued_at = utcnow()
    erp.sage_message = None
    erp.retries, erp.retry_at = 0, None
    erp.job_id = export_job_id(erp)


def enqueue_exports(erps: list[ErpItem], queue: ExportQueue) -> bool:
    """Queue the exports in one round trip (items that share a job id run in one job); when the
    queue cannot be reached the items stay Exporting and show as stalled, to be retried."""
    if not erps:
        return True
    try:
        queue.export_many([(erp.id, erp.attempt, erp.job_id or export_job_id(erp)) for erp in erps])
        return True
    except Exception:  # noqa: BLE001 - any queue failure must leave a recoverable state
        log.exception("could not queue %d export(s)", len(erps))
        return False


@transactional
def requeue(session: Session, actor: User, erp_item_id: int, queue: ExportQueue) -> ErpItem:
    """Put a stalled export back on the queue: same attempt, so Sage imports it at most once."""
    require(actor, policy.DECIDE, "Only accounting approvers can retry exports.")
    erp = get_erp_item(session, erp_item_id)
    transition(session, erp, Action.REQUEUE, actor.id, detail={"attempt": erp.attempt})
    erp.queued_at, erp.retry_at = utcnow(), None
    erp.job_id = export_job_id(erp)  # a job of its own, also when it was queued with others
    commit(session)
    if not enqueue_exports([erp], queue):
        raise Conflict("The job queue cannot be reached right now; the export is kept and can be "
                       "retried in a moment.")
    return erp


@transactional
def requeue_stalled(session: Session, older_than: timedelta, queue: ExportQueue) -> int:
    """Put every export Exporting for longer than `older_than` back on the queue (the
    operator's `flask exports requeue-stalled`): same attempts, audited like a Retry."""
    stuck = stalled_exports(session, older_than)
    for erp in stuck:
        transition(session, erp, Action.REQUEUE, None, detail={"attempt": erp.attempt, "stalled": True})
        erp.queued_at, erp.retry_at = utcnow(), None
    commit(session)
    enqueue_exports(stuck, queue)
    return len(stuck)


@dataclass(frozen=True)
class Rejected:
    erp: ErpItem
    # the notification: "queued", "later" (the queue was down: the reaper queues it once it
    # is back) or "none" (neither the creator nor the sender has an email address)
    mail: str

    @property
    def notice(self) -> str:
        return {"queued": "Rejected: returned to the project team and emailed.",
                "later": "Rejected: returned to the project team. The job queue cannot be reached right now; "
                         "the email will follow as soon as it is back.",
                "none": "Rejected: returned to the project team (no email: neither the creator nor the "
                        "sender has an email address)."}[self.mail]


@transactional
def reject(session: Session, actor: User, erp_item_id: int, reason: str, queue: MailQueue,
           company_name: str, link_for: Callable[[ErpItem], str], base_url: str = "") -> Rejected:
    """Reject with a reason; the notification is written to the outbox in the same transaction
    and queued after the commit (or by the reaper, when the queue is down). The type may add its
    own mail (on_rejected: an invoice's contact is told it is being corrected)."""
    require(actor, policy.DECIDE, "Only accounting approvers can reject items.")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("A reason is required to reject.", fields={"reason": "A reason is required."})
    if len(reason) > REASON_MAX:
        raise Invalid("The reason is too long.",
                      fields={"reason": f"Keep the reason under {REASON_MAX} characters."})
    erp = get_erp_item(session, erp_item_id)
    item_type = get_type(erp.item_type)
    item = item_type.load(session, erp.item_id)
    transition(session, erp, Action.REJECT, actor.id, detail={"reason": reason})
    erp.reject_reason = reason
    erp.decided_by_id, erp.decided_at = actor.id, utcnow()
    mail = outbox.rejection(session, item_type.label, item_type.summary(item), erp, actor, reason,
                            company_name, link_for(erp))
    others = item_type.on_rejected(session, item, erp, company_name, base_url)
    commit(session)
    for other in others:
        outbox.enqueue(other, queue)   # not queued now: the reaper sends it
    if mail is None:
        return Rejected(erp, "none")
    return Rejected(erp, "queued" if outbox.enqueue(mail, queue) else "later")


# ---- the worker's side -----------------------------------------------------------------

def run_exports(session: Session, items: list[tuple[int, int]], connector,
                backoff: Backoff = EXPORT_RETRY) -> dict[int, str]:
    """Export accepted items ((erp item id, attempt) each), in order. Returns each item's
    outcome: its new state, or "skipped" when that attempt is no longer the current one.

    Items are read together, submitted to Sage one by one (each its own import) and recorded
    together (see export_segments). An unexpected error in one item (a bug, a value a database
    refuses: not Sage's answer) fails that item with a plain message (see unexpected); only a
    database that cannot be reached leaves items Exporting, for the reaper to queue again.
    Sage turning an item away for a passing reason (its rate limit, out of reach) keeps it
    Exporting until its next try is due, `backoff` apart; then Failed to Export."""
    outcomes: dict[int, str] = {}
    for segment in export_segments(session, items):
        outcomes.update(export_segment(session, segment, connector, backoff))
    return outcomes


def unexpected(erp_item_id: int, exc: BaseException) -> SageResult:
    """Failed to Export with a plain message for an error that is not Sage's answer; the
    traceback is in the log under the reference the message gives."""
    ref = secrets.token_hex(4)
    log.error("export of erp item %s failed unexpectedly (#%s)", erp_item_id, ref, exc_info=exc)
    detail = " ".join("".join(c if c.isprintable() else " " for c in f"{type(exc).__name__}: {exc}").split())
    if len(detail) > 200:
        detail = detail[:199] + "…"
    return SageResult(ok=False, message=f"The portal could not export this item: {detail}; it was logged as #{ref}.")


def export_segments(session: Session, items: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """The runs of items that may be read before any of them is recorded: an item whose type
    writes back on sync runs alone, since an item after it may be mapped from what it writes
    (a change order's new commitment line is in Sage once the one before it is synced)."""
    if len(items) < 2:
        return [items]
    with unit_of_work(session):
        type_of = {erp_item_id: key for erp_item_id, key in session.execute(
            select(ErpItem.id, ErpItem.item_type).where(ErpItem.id.in_([i for i, _ in items])))}
        session.commit()
    segments: list[list[tuple[int, int]]] = [[]]
    for item in items:
        key = type_of.get(item[0])
        if key in REGISTRY and REGISTRY[key].writes_back_on_sync:
            segments += [[item], []]
        else:
            segments[-1].append(item)
    return [segment for segment in segments if segment]


@transactional
def export_segment(session: Session, items: list[tuple[int, int]], connector,
                   backoff: Backoff = EXPORT_RETRY) -> dict[int, str]:
    """Read the items in one transaction, submit each to Sage in turn, record every result in
    one transaction (each on its own when that fails)."""
    erps = {erp.id: erp for erp in session.scalars(select(ErpItem).where(ErpItem.id.in_([i for i, _ in items])))}
    outcomes = {erp_item_id: "skipped" for erp_item_id, _ in items}
    current = [erps[i] for i, attempt in items
               if i in erps and erps[i].state == State.EXPORTING and erps[i].attempt == attempt]
    mapped: dict[int, Mapped] = {}
    by_type: dict[str, list[ErpItem]] = {}
    for erp in current:
        by_type.setdefault(erp.item_type, []).append(erp)
    for key, group in by_type.items():
        try:
            item_type = get_type(key)
        except NotFound as exc:
            mapped.update((erp.id, exc) for erp in group)
            continue
        mapped.update(zip([erp.id for erp in group], item_type.export_batches_many(
            session, [(erp.item_id, erp.export_fields or {}, batch_id(erp)) for erp in group]), strict=True))
    unready = setup_failures(connector, by_type)
    planned: list[tuple[ErpItem, list[Batch] | SageResult]] = []
    for erp in current:
        batches = mapped[erp.id]
        if erp.item_type in unready:
            planned.append((erp, SageResult(ok=False, message=unready[erp.item_type])))
        elif isinstance(batches, NotFound | Invalid | KeyError | ValueError):
            planned.append((erp, SageResult(ok=False, message=f"The item could not be mapped for Sage: {batches}")))
        elif isinstance(batches, Exception):  # a bug, not the item's data
            planned.append((erp, unexpected(erp.id, batches)))
        else:
            planned.append((erp, batches))
    # Keep the rows as read (the commit would expire them): each one's version decides, when
    # the result is recorded, whether anyone changed it meanwhile.
    for erp in erps.values():
        session.expunge(erp)
    session.commit()  # end the read transaction: never hold the database while Sage works
    results: list[tuple[ErpItem, SageResult]] = []
    for erp, plan in planned:
        try:
            results.append((erp, plan if isinstance(plan, SageResult) else submit_all(connector, plan)))
        except Exception as exc:  # noqa: BLE001 - Sage's side rolled back: nothing was imported
            results.append((erp, unexpected(erp.id, exc)))
    for erp, result in results:
        session.add(erp)
        apply_export_result(session, erp, result, backoff)
        outcomes[erp.id] = erp.state
    try:
        commit(session)
    except (Conflict, DBAPIError) as exc:
        # One changed while Sage worked (a retry queued it again), or the database refused a
        # value: decide each on its own, as it is now. A database that cannot be reached
        # raises (the items stay Exporting, for the reaper).
        session.rollback()
        if unreachable(exc):
            raise
        attempts = dict(items)
        for erp_item_id, result in [(erp.id, result) for erp, result in results]:
            outcomes[erp_item_id] = record_alone(session, erp_item_id, attempts[erp_item_id], result, backoff)
    return outcomes


def setup_failures(connector: SageSetup, type_keys) -> dict[str, str]:
    """The failing setup prerequisites' messages of these types (by key): an export queued
    before a prerequisite failed fails with it. Read once, only for types that have any."""
    types = [REGISTRY[key] for key in type_keys if key in REGISTRY and REGISTRY[key].setup_prerequisites]
    if not types:
        return {}
    checks, _ = setup.read_checks(connector)
    return {t.key: " ".join(failed) for t in types if (failed := setup.failures(t, checks))}


def record_alone(session: Session, erp_item_id: int, attempt: int, result: SageResult,
                 backoff: Backoff = EXPORT_RETRY) -> str:
    """record_export_result; a result the database refuses (a NUL byte in Sage's text...)
    is recorded as a plain failure instead, so the item never stays Exporting for it."""
    try:
        return record_export_result(session, erp_item_id, attempt, result, backoff)
    except DBAPIError as exc:
        if unreachable(exc):
            raise
        return record_export_result(session, erp_item_id, attempt, unexpected(erp_item_id, exc))


def unreachable(exc: Exception) -> bool:
    """The database could not be reached (rather than refusing a value): retrying later is all
    that helps, so the items are left Exporting for the reaper."""
    return isinstance(exc, OperationalError)


def run_export(session: Session, erp_item_id: int, attempt: int, connector,
               backoff: Backoff = EXPORT_RETRY) -> str:
    """Map one accepted item to Sage records, submit them, and record Synced or Failed."""
    return run_exports(session, [(erp_item_id, attempt)], connector, backoff)[erp_item_id]


def submit_all(connector, batches: list[Batch]) -> SageResult:
    """Submit an item's import files in order; each has its own batch id, so a re-run
    replays the ones Sage already took. The first refusal stops the export."""
    result = SageResult(ok=False, message="Nothing to export.")
    for batch in batches:
        try:
            result = connector.submit(batch)
        except ConnectorUnavailable as exc:
            return SageResult(ok=False, message=f"Sage 300 CRE could not be reached: {exc}", transient=True)
        if not result.ok:
            return result
    return result


@transactional
def record_export_result(session: Session, erp_item_id: int, attempt: int, result: SageResult,
                         backoff: Backoff = EXPORT_RETRY) -> str:
    """Synced (the Sage ID written back) or Failed to Export with Sage's message; a result for
    an attempt that is no longer current is dropped."""
    erp = session.get(ErpItem, erp_item_id, populate_existing=True)
    if erp is None or erp.state != State.EXPORTING or erp.attempt != attempt:
        session.rollback()
        return "skipped"
    apply_export_result(session, erp, result, backoff)
    state = erp.state
    try:
        commit(session)
    except Conflict:
        return "skipped"
    return state


def apply_export_result(session: Session, erp: ErpItem, result: SageResult,
                        backoff: Backoff = EXPORT_RETRY) -> None:
    """Move an Exporting item to Synced (its Sage ID written back) or Failed to Export, or
    keep it Exporting until its next try when Sage turned it away for a passing reason."""
    wait = backoff.after(erp.retries + 1) if is_transient(result) else None
    erp.retry_at = None
    if wait is not None:
        erp.retries += 1
        erp.retry_at = utcnow() + wait
        transition(session, erp, Action.RETRY_LATER, None, detail={
            "message": result.message, "try": erp.retries, "of": backoff.attempts,
            "retry_at": erp.retry_at.isoformat(timespec="seconds")})
        erp.sage_message = (f"Retrying at {erp.retry_at:%H:%M} (attempt {erp.retries + 1} of {backoff.attempts}): "
                            f"{result.message}")
    elif result.ok:
        transition(session, erp, Action.EXPORT_OK, None,
                   detail={"reference": result.reference, "replayed": result.replayed})
        item_type = get_type(erp.item_type)
        erp.erp_ref = item_type.erp_ref(erp.export_fields or {}, result.reference)
        erp.synced_at = utcnow()
        if item_type.writes_back_on_sync:
            item_type.on_synced(session, item_type.load(session, erp.item_id), erp.export_fields or {},
                                result.reference)
    else:
        detail: dict = {"message": result.message}
        if erp.retries:
            detail["tries"] = erp.retries + 1
        transition(session, erp, Action.EXPORT_FAILED, None, detail=detail)
        erp.sage_message = result.message
