"""Lifecycle services: every decision on an item goes through here and owns its transaction."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Callable, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.domain import policy, settings
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.itemtypes import ItemType, get_type, load_many
from portal.domain.lifecycle import Action, State, next_state
from portal.domain.models import (ErpAudit, ErpItem, MailStatus, OutboxMail, ProjectMember,
                                  ToolLevel, User, utcnow)
from portal.domain.notifications import rejection_mail
from portal.exporters.sage300.records import ConnectorUnavailable, SageResult

log = logging.getLogger(__name__)

REASON_MAX = 2000


class JobQueue(Protocol):
    """The port to the job queue (RQ in the app, a fake or a real worker in tests)."""

    def export(self, erp_item_id: int, attempt: int, job_id: str) -> None: ...
    def mail(self, mail_id: int, job_id: str) -> None: ...


def export_job_id(erp: ErpItem) -> str:
    return f"export-{erp.id}-{erp.attempt}"


def batch_id(erp: ErpItem) -> str:
    """The idempotency key Sage sees: one per accept attempt, the same on every re-run."""
    return f"{erp.item_type}-{erp.item_id}-a{erp.attempt}"


# ---- helpers ---------------------------------------------------------------------------

def project_level(session: Session, user: User, project_id: int | None) -> str:
    if project_id is None or user is None or not user.is_authenticated:
        return ToolLevel.NONE
    level = session.scalar(select(ProjectMember.level).where(
        ProjectMember.user_id == user.id, ProjectMember.project_id == project_id))
    return level or ToolLevel.NONE


def get_erp_item(session: Session, erp_item_id: int, item_type: str | None = None) -> ErpItem:
    erp = session.get(ErpItem, erp_item_id)
    if erp is None or (item_type and erp.item_type != item_type):
        raise NotFound("That item is not in ERP Integrations.")
    return erp


def find_erp_item(session: Session, item_type: str, item_id: int) -> ErpItem | None:
    return session.scalars(select(ErpItem).where(ErpItem.item_type == item_type,
                                                 ErpItem.item_id == item_id)).first()


def _require(user: User, action: str, message: str, **kwargs) -> None:
    if not policy.can(user, action, **kwargs):
        raise PermissionDenied(message)


def _transition(session: Session, erp: ErpItem, action: str, actor: User | None,
                detail: dict | None = None) -> None:
    target = next_state(action, erp.state)
    session.add(ErpAudit(erp_item_id=erp.id, actor_id=actor.id if actor else None, at=utcnow(),
                         action=action, from_state=erp.state, to_state=target, detail=detail))
    erp.state = target


def _commit(session: Session) -> None:
    try:
        session.commit()
    except (StaleDataError, IntegrityError):
        session.rollback()
        raise Conflict("Someone else changed this item at the same moment. "
                       "Reload the page to see where it is now.") from None


# ---- project side ----------------------------------------------------------------------

def send(session: Session, actor: User, item_type: str, item_id: int,
         queue: JobQueue | None = None) -> ErpItem:
    """Send (or resend after a rejection) an item to ERP Integrations for acceptance; with
    Direct Export on for its type, straight to export with its default export fields."""
    kind = get_type(item_type)
    item = kind.load(session, item_id)
    level = project_level(session, actor, kind.project_id(item))
    _require(actor, policy.SEND, "Sending to ERP needs Admin on the project's tool.",
             project_level=level)
    reasons = kind.prerequisites(session, item)
    if reasons:
        raise Invalid("This item cannot be sent to ERP yet: " + " ".join(reasons),
                      fields={"prerequisites": " ".join(reasons)})
    erp = find_erp_item(session, item_type, item_id)
    if erp is None:
        erp = ErpItem(item_type=item_type, item_id=item_id, project_id=kind.project_id(item),
                      state=State.DRAFT, attempt=0)
        session.add(erp)
        session.flush()
    action = Action.RESEND if erp.state == State.REJECTED else Action.SEND
    direct = queue is not None and settings.load(session).direct(kind.direct_export_setting)
    fields = None
    if direct:
        try:
            fields = kind.clean_export_fields(session, item, kind.export_defaults(item))
        except Invalid as exc:
            why = "; ".join(exc.fields.values()) or exc.message
            raise Invalid(f"Direct Export is on for {kind.plural.lower()}, but this one cannot be "
                          f"exported with its defaults: {why} An ERP Admin can turn Direct Export "
                          "off (or the contract-number setting on) in Settings.",
                          fields={"prerequisites": why}) from None
    _transition(session, erp, action, actor)
    erp.sent_by_id, erp.sent_at = actor.id, utcnow()
    erp.sage_message = None
    if direct:
        _mark_accepted(session, erp, actor, fields, detail={"fields": fields, "direct_export": True})
    _commit(session)
    if direct:
        enqueue_export(erp, queue)
    return erp


def retrieve(session: Session, actor: User, erp_item_id: int) -> ErpItem:
    """Take an item back from Ready to Export before accounting decides."""
    erp = get_erp_item(session, erp_item_id)
    level = project_level(session, actor, erp.project_id)
    _require(actor, policy.RETRIEVE, "Only the sender or a project admin can retrieve this item.",
             project_level=level, sent_by_id=erp.sent_by_id)
    _transition(session, erp, Action.RETRIEVE, actor)
    _commit(session)
    return erp


# ---- accounting side -----------------------------------------------------------------

def accept(session: Session, actor: User, erp_item_id: int, raw_fields: dict,
           queue: JobQueue) -> ErpItem:
    """Accept one item with its export fields and queue its export."""
    _require(actor, policy.DECIDE, "Only accounting approvers can accept items for export.")
    erp = get_erp_item(session, erp_item_id)
    kind = get_type(erp.item_type)
    item = kind.load(session, erp.item_id)
    next_state(Action.ACCEPT, erp.state)  # a clear Conflict before field errors
    fields = kind.clean_export_fields(session, item, raw_fields)
    _mark_accepted(session, erp, actor, fields)
    _commit(session)
    enqueue_export(erp, queue)
    return erp


def accept_many(session: Session, actor: User, erp_item_ids: list[int],
                queue: JobQueue) -> tuple[list[ErpItem], dict[int, str]]:
    """Accept several items with their default export fields; returns (accepted, errors by id)."""
    _require(actor, policy.DECIDE, "Only accounting approvers can accept items for export.")
    if not erp_item_ids:
        raise Invalid("Tick at least one item to export.")
    erps = session.scalars(select(ErpItem).where(ErpItem.id.in_(erp_item_ids))).all()
    errors: dict[int, str] = {i: "That item is not in ERP Integrations." for i in
                              set(erp_item_ids) - {e.id for e in erps}}
    accepted: list[ErpItem] = []
    by_type: dict[str, list[ErpItem]] = {}
    for erp in erps:
        by_type.setdefault(erp.item_type, []).append(erp)
    for type_key, group in by_type.items():
        kind = get_type(type_key)
        items = load_many(kind, session, [e.item_id for e in group])
        for erp in group:
            if erp.state not in (State.READY, State.FAILED):
                errors[erp.id] = f"It is {State.LABELS[erp.state]}."
                continue
            item = items[erp.item_id]
            try:
                fields = kind.clean_export_fields(session, item, kind.export_defaults(item))
            except Invalid as exc:
                errors[erp.id] = "Accept it on its own: " + "; ".join(exc.fields.values())
                continue
            _mark_accepted(session, erp, actor, fields)
            accepted.append(erp)
    _commit(session)
    enqueue_exports(accepted, queue)
    return accepted, errors


def _mark_accepted(session: Session, erp: ErpItem, actor: User, fields: dict,
                   detail: dict | None = None) -> None:
    _transition(session, erp, Action.ACCEPT, actor, detail=detail or {"fields": fields})
    erp.export_fields = fields
    erp.attempt = (erp.attempt or 0) + 1
    erp.decided_by_id, erp.decided_at = actor.id, utcnow()
    erp.queued_at = utcnow()
    erp.sage_message = None
    erp.job_id = export_job_id(erp)


def enqueue_export(erp: ErpItem, queue: JobQueue) -> bool:
    """Queue the export; when Redis is down the item stays Exporting and shows as stalled."""
    try:
        queue.export(erp.id, erp.attempt, erp.job_id or export_job_id(erp))
        return True
    except Exception:  # noqa: BLE001 - any queue failure must leave a recoverable state
        log.exception("could not queue export of erp item %s", erp.id)
        return False


def enqueue_exports(erps: list[ErpItem], queue: JobQueue) -> bool:
    """Queue many exports in one round trip when the queue can; stalled rows show otherwise."""
    if not erps:
        return True
    if not hasattr(queue, "export_many"):
        return all([enqueue_export(erp, queue) for erp in erps])
    try:
        queue.export_many([(erp.id, erp.attempt, erp.job_id or export_job_id(erp)) for erp in erps])
        return True
    except Exception:  # noqa: BLE001 - the items stay Exporting and show as stalled
        log.exception("could not queue %d exports", len(erps))
        return False


def requeue(session: Session, actor: User, erp_item_id: int, queue: JobQueue) -> ErpItem:
    """Put a stalled export back on the queue: same attempt, so Sage imports it at most once."""
    _require(actor, policy.DECIDE, "Only accounting approvers can retry exports.")
    erp = get_erp_item(session, erp_item_id)
    _transition(session, erp, Action.REQUEUE, actor, detail={"attempt": erp.attempt})
    erp.queued_at = utcnow()
    _commit(session)
    if not enqueue_export(erp, queue):
        raise Conflict("The job queue cannot be reached right now; the export is kept and can be "
                       "retried in a moment.")
    return erp


def reject(session: Session, actor: User, erp_item_id: int, reason: str, queue: JobQueue,
           company_name: str, link_for: Callable[[ErpItem], str]) -> ErpItem:
    """Reject with a reason; the notification is written to the outbox in the same transaction."""
    _require(actor, policy.DECIDE, "Only accounting approvers can reject items.")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("A reason is required to reject.", fields={"reason": "A reason is required."})
    if len(reason) > REASON_MAX:
        raise Invalid("The reason is too long.",
                      fields={"reason": f"Keep the reason under {REASON_MAX} characters."})
    erp = get_erp_item(session, erp_item_id)
    kind = get_type(erp.item_type)
    item = kind.load(session, erp.item_id)
    _transition(session, erp, Action.REJECT, actor, detail={"reason": reason})
    erp.reject_reason = reason
    erp.decided_by_id, erp.decided_at = actor.id, utcnow()
    mail = _rejection_outbox(session, kind, item, erp, actor, reason, company_name, link_for(erp))
    _commit(session)
    if mail is not None:
        enqueue_mail(mail, queue)
    return erp


def _rejection_outbox(session, kind: ItemType, item, erp: ErpItem, actor: User, reason: str,
                      company_name: str, link: str) -> OutboxMail | None:
    summary = kind.summary(item)
    ids = {i for i in (summary.creator_id, erp.sent_by_id) if i}
    users = session.scalars(select(User).where(User.id.in_(ids))).all() if ids else []
    recipients = sorted({u.email.strip().lower() for u in users if u.email and u.email.strip()})
    if not recipients:
        return None
    subject, text, html = rejection_mail(company_name, kind.label, summary, reason, actor.name, link)
    mail = OutboxMail(recipients=",".join(recipients), subject=subject, text_body=text,
                      html_body=html, status=MailStatus.PENDING, erp_item_id=erp.id)
    session.add(mail)
    return mail


def enqueue_mail(mail: OutboxMail, queue: JobQueue) -> bool:
    try:
        queue.mail(mail.id, f"mail-{mail.id}-{mail.attempts}")
        return True
    except Exception:  # noqa: BLE001 - the mail stays pending and can be retried from the Mail page
        log.exception("could not queue mail %s", mail.id)
        return False


# ---- the worker's side -----------------------------------------------------------------

def run_export(session: Session, erp_item_id: int, attempt: int, connector) -> str:
    """Map one accepted item to Sage records, submit them, and record Synced or Failed."""
    erp = session.get(ErpItem, erp_item_id)
    if erp is None or erp.state != State.EXPORTING or erp.attempt != attempt:
        session.rollback()
        return "skipped"
    kind = get_type(erp.item_type)
    try:
        item = kind.load(session, erp.item_id)
        batches = kind.build_batches(session, item, erp.export_fields or {}, batch_id(erp))
    except (NotFound, Invalid, KeyError, ValueError) as exc:
        result = SageResult(ok=False, message=f"The item could not be mapped for Sage: {exc}")
    else:
        session.commit()  # end the read transaction: never hold the database while Sage works
        result = _submit_all(connector, batches)
    return record_export_result(session, erp_item_id, attempt, result)


def _submit_all(connector, batches) -> SageResult:
    """Submit an item's import files in order; each has its own batch id, so a re-run
    replays the ones Sage already took. The first refusal stops the export."""
    result = SageResult(ok=False, message="Nothing to export.")
    for batch in batches:
        try:
            result = connector.submit(batch)
        except ConnectorUnavailable as exc:
            return SageResult(ok=False, message=f"Sage 300 CRE could not be reached: {exc}")
        if not result.ok:
            return result
    return result


def record_export_result(session: Session, erp_item_id: int, attempt: int,
                         result: SageResult) -> str:
    erp = session.get(ErpItem, erp_item_id, populate_existing=True)
    if erp is None or erp.state != State.EXPORTING or erp.attempt != attempt:
        session.rollback()
        return "skipped"
    if result.ok:
        _transition(session, erp, Action.EXPORT_OK, None,
                    detail={"reference": result.reference, "replayed": result.replayed})
        kind = get_type(erp.item_type)
        erp.erp_ref = kind.erp_ref(erp.export_fields or {}, result.reference)
        erp.synced_at = utcnow()
        if kind.writes_back_on_sync:
            kind.on_synced(session, kind.load(session, erp.item_id), erp.export_fields or {},
                           result.reference)
    else:
        _transition(session, erp, Action.EXPORT_FAILED, None, detail={"message": result.message})
        erp.sage_message = result.message
    state = erp.state
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        return "skipped"
    return state


def stalled_exports(session: Session, older_than: timedelta) -> list[ErpItem]:
    cutoff = utcnow() - older_than
    return list(session.scalars(select(ErpItem).where(ErpItem.state == State.EXPORTING,
                                                      ErpItem.queued_at < cutoff)))


def deliver_mail(session: Session, mail_id: int, transport, max_attempts: int) -> str:
    """Send one outbox mail; transport None keeps it in the portal (no SMTP configured)."""
    mail = session.get(OutboxMail, mail_id)
    if mail is None or mail.status in (MailStatus.SENT, MailStatus.KEPT):
        session.rollback()
        return mail.status if mail else "missing"
    if transport is None:
        mail.status = MailStatus.KEPT
        session.commit()
        return mail.status
    mail.attempts += 1
    try:
        transport(mail)
    except Exception as exc:  # noqa: BLE001 - every SMTP failure is recorded and retried
        mail.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        mail.status = MailStatus.FAILED if mail.attempts >= max_attempts else MailStatus.PENDING
        session.commit()
        raise
    mail.status, mail.sent_at, mail.last_error = MailStatus.SENT, utcnow(), None
    session.commit()
    return mail.status


def retry_mail(session: Session, actor: User, mail_id: int, queue: JobQueue) -> OutboxMail:
    _require(actor, policy.READ_MAIL, "Only site administrators can manage mail.")
    mail = session.get(OutboxMail, mail_id)
    if mail is None:
        raise NotFound("No such mail.")
    if mail.status == MailStatus.SENT:
        raise Conflict("That mail was already sent.")
    mail.status = MailStatus.PENDING
    session.commit()
    if not enqueue_mail(mail, queue):
        raise Conflict("The job queue cannot be reached right now; the mail is kept as pending.")
    return mail


def state_counts(session: Session, item_type: str) -> dict[str, int]:
    from portal.domain.tabs import state_counts as counts
    return counts(session, item_type)
