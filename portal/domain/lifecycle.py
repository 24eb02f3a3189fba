"""One lifecycle for every item type: states, actions and the allowed transitions."""
from __future__ import annotations

from portal.domain.errors import Conflict


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
}

# States in which the project side may edit the item.
EDITABLE = frozenset({State.DRAFT, State.REJECTED})


def allowed(action: str, current: str) -> bool:
    return current in TRANSITIONS[action][0]


def next_state(action: str, current: str, *, direct_export: bool = False) -> str:
    """The state `action` leads to from `current`; Conflict when not allowed."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise Conflict(f"Cannot {action.replace('_', ' ')} an item that is "
                       f"{State.LABELS.get(current, current)}.")
    if direct_export and action in (Action.SEND, Action.RESEND):
        return State.EXPORTING
    return target
