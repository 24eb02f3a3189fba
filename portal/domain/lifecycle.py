"""One lifecycle for every item type: states, actions, the allowed transitions, and the one
function that moves an item and writes its audit row."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain.errors import Conflict, RaceLost
from portal.domain.models import ErpAudit, ErpItem, utcnow


class State:
    DRAFT = "draft"
    READY = "ready"
    EXPORTING = "exporting"
    SYNCED = "synced"
    FAILED = "failed"
    REJECTED = "rejected"
    LABELS = {
        DRAFT: "Draft", READY: "Ready to Export", EXPORTING: "Exporting",
        SYNCED: "Synced", FAILED: "Failed to Export", REJECTED: "Rejected",
    }


class Action:
    SEND = "send"
    RETRIEVE = "retrieve"
    ACCEPT = "accept"
    EXPORT_OK = "export_ok"
    EXPORT_FAILED = "export_failed"
    REJECT = "reject"
    RESEND = "resend"
    UNLINK = "unlink"
    REQUEUE = "requeue"
    RETRY_LATER = "retry_later"
    LINK = "link"
    PAYMENT = "payment"


# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    Action.SEND: (frozenset({State.DRAFT}), State.READY),
    Action.RETRIEVE: (frozenset({State.READY}), State.DRAFT),
    Action.ACCEPT: (frozenset({State.READY, State.FAILED}), State.EXPORTING),
    Action.EXPORT_OK: (frozenset({State.EXPORTING}), State.SYNCED),
    Action.EXPORT_FAILED: (frozenset({State.EXPORTING}), State.FAILED),
    Action.REJECT: (frozenset({State.READY, State.FAILED}), State.REJECTED),
    Action.RESEND: (frozenset({State.REJECTED}), State.READY),
    Action.UNLINK: (frozenset({State.SYNCED}), State.DRAFT),
    # Put a stalled export back on the queue (worker died, Redis was down): same state.
    Action.REQUEUE: (frozenset({State.EXPORTING}), State.EXPORTING),
    # Sage turned the export away for a passing reason (rate limit, out of reach): it waits in
    # Exporting until its next try is due (the reaper queues it then).
    Action.RETRY_LATER: (frozenset({State.EXPORTING}), State.EXPORTING),
    # The item is already in Sage (linked to a Sage record, added from Sage, or carried by
    # its job's export): Synced without an export of its own.
    Action.LINK: (frozenset({State.DRAFT, State.REJECTED}), State.SYNCED),
    # Sage paid a synced invoice (a check, in part or in full; the Paid Invoices sync): it stays
    # Synced, and its history shows the check.
    Action.PAYMENT: (frozenset({State.SYNCED}), State.SYNCED),
}

# States in which the project side may edit the item.
EDITABLE = frozenset({State.DRAFT, State.REJECTED})
# States in which the item waits in the gate or is on its way to Sage.
IN_GATE = frozenset({State.READY, State.EXPORTING, State.FAILED})


def allowed(action: str, current: str) -> bool:
    return current in TRANSITIONS[action][0]


def next_state(action: str, current: str) -> str:
    """The state `action` leads to from `current`; Conflict when not allowed."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise Conflict(f"Cannot {action.replace('_', ' ')} an item that is "
                       f"{State.LABELS.get(current, current)}.")
    return target


def new_erp_item(session: Session, type_key: str, item_id: int, project_id: int | None) -> ErpItem:
    """The item's place in the gate, made (Draft) on its first Send or Link; RaceLost when
    someone else made it at the same moment (one row per item: the second insert is refused)."""
    erp = ErpItem(item_type=type_key, item_id=item_id, project_id=project_id, state=State.DRAFT, attempt=0)
    session.add(erp)
    try:
        session.flush()
    except IntegrityError:
        raise RaceLost() from None
    return erp


def transition(session: Session, erp: ErpItem, action: str, actor_id: int | None,
               detail: dict | None = None) -> None:
    """Move the item by `action` (Conflict when the table does not allow it) and write the
    audit row: who, when, from, to, and the reason or fields."""
    target = next_state(action, erp.state)
    session.add(ErpAudit(erp_item_id=erp.id, actor_id=actor_id, at=utcnow(), action=action,
                         from_state=erp.state, to_state=target, detail=detail, note=search_note(action, detail)))
    erp.state = target


# the transitions whose detail holds words the audit log's search looks for: reasons, Sage's messages
TEXT_ACTIONS = (Action.REJECT, Action.EXPORT_FAILED)
# characters of those words kept searchable: within a database index entry (PostgreSQL's is ~2,700 bytes)
NOTE_MAX = 500


def search_note(action: str, detail: dict | None) -> str | None:
    """The words of a transition's detail that the audit log's search looks through, lowercased
    (the rows of TEXT_ACTIONS only: each text or number of its detail, e.g. reason, message)."""
    if action not in TEXT_ACTIONS or not isinstance(detail, dict):
        return None
    words = [str(v) for v in detail.values() if isinstance(v, str | int | float) and not isinstance(v, bool)]
    return " · ".join(w for w in words if w).lower()[:NOTE_MAX] or None
