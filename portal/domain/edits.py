"""Edits are history: every change to an item after it was first sent to ERP (a field, a line's
field, a line added or removed; old -> new, who, when) is recorded in the same unit of work as
the edit, shown in the item's history, and summed up when the item is sent again after a
rejection ("Retainage $1,000.00 → $1,100.00 on line 2; Billing date 11/01/2026 → 11/03/2026").

What an edit may change is the type's to say (ItemType.edited_values); the rule here only
compares what it says before and after.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.lifecycle import Action
from portal.domain.models import ErpAudit, ErpEdit, ErpItem, User, utcnow
from portal.domain.types import ItemType
from portal.domain.types.base import EditedValues

SUMMARY_MAX = 1000   # characters of a resend's summary; the history keeps every change


@dataclass(frozen=True)
class Change:
    """One change an edit made: a field (line ""), a line's field, or a whole line added (old
    None) or removed (new None), whose value then lists its fields."""
    key: str            # what changed, stable across edits: "number", "line:7:retainage", "line:7"
    label: str          # "Retainage" ("" for a whole line)
    old: str | None
    new: str | None
    line: str = ""      # "line 2"

    @property
    def text(self) -> str:
        if self.old is None:
            return f"{self.line} added ({self.new})"
        if self.new is None:
            return f"{self.line} removed ({self.old})"
        where = f" on {self.line}" if self.line else ""
        return f"{self.label} {self.old or '(blank)'} → {self.new or '(blank)'}{where}"


def _line_text(parts: dict[str, tuple[str, str]]) -> str:
    return ", ".join(f"{label} {value}" for label, value in parts.values() if value) or "blank"


def diff(before: EditedValues, after: EditedValues) -> list[Change]:
    """What changed from `before` to `after`: fields in the order the type lists them, then lines."""
    changes = [Change(name, label, before.fields[name][1], value)
               for name, (label, value) in after.fields.items()
               if name in before.fields and before.fields[name][1] != value]
    for key, (line, parts) in after.lines.items():
        if key not in before.lines:
            changes.append(Change(f"line:{key}", "", None, _line_text(parts), line))
            continue
        old_parts = before.lines[key][1]
        changes += [Change(f"line:{key}:{name}", label, old_parts[name][1], value, line)
                    for name, (label, value) in parts.items()
                    if name in old_parts and old_parts[name][1] != value]
    changes += [Change(f"line:{key}", "", _line_text(parts), None, line)
                for key, (line, parts) in before.lines.items() if key not in after.lines]
    return changes


def record(session: Session, erp: ErpItem | None, actor: User, changes: list[Change]) -> ErpEdit | None:
    """Add the edit record of an item sent before (none for a draft never sent, or no change)."""
    if erp is None or not changes:
        return None
    edit = ErpEdit(erp_item_id=erp.id, actor_id=actor.id, at=utcnow(), changes=[asdict(c) for c in changes])
    session.add(edit)
    return edit


@contextmanager
def recording(session: Session, actor: User, item_type: ItemType, item: Any, erp: ErpItem | None) -> Iterator[None]:
    """Record what the edit inside the block changes of `item` (once it was sent): its values are
    read before and after, in the caller's unit of work, so the record commits with the edit."""
    before = item_type.edited_values(session, item) if erp is not None else None
    yield
    if before is not None:
        session.flush()
        session.expire(item)  # read back as stored: a type may add or delete children by themselves
        after = item_type.edited_values(session, item_type.load(session, item.id))
        record(session, erp, actor, diff(before, after))


def changes_of(edit: ErpEdit) -> list[Change]:
    return [Change(**c) for c in edit.changes]


def net(edits: list[ErpEdit]) -> list[Change]:
    """What several edits changed in all, in the order first changed: each value from before the
    first to after the last; a value changed and changed back is no change."""
    return net_changes(changes_of(edit) for edit in edits)


def net_changes(edits: Iterable[Iterable[Change]]) -> list[Change]:
    """net() of the changes of each edit, in order."""
    first: dict[str, Change] = {}
    for changes in edits:
        for change in changes:
            was = first.get(change.key)
            first[change.key] = change if was is None else Change(change.key, change.label, was.old,
                                                                   change.new, change.line or was.line)
    return [c for c in first.values() if c.old != c.new]


def summary(changes: list[Change]) -> str:
    """The changes in one line, as a resend's row shows them."""
    text = "; ".join(c.text for c in changes)
    if len(text) <= SUMMARY_MAX:
        return text
    return text[:SUMMARY_MAX].rsplit("; ", 1)[0] + f"; … ({len(changes)} changes in all, see its history)"


def since_rejection(session: Session, erp: ErpItem) -> list[Change] | None:
    """What was edited since the item was last rejected; None when it never was."""
    rejected_at = session.scalar(select(func.max(ErpAudit.at)).where(
        ErpAudit.erp_item_id == erp.id, ErpAudit.action == Action.REJECT))
    if rejected_at is None:
        return None
    return net(list(session.scalars(select(ErpEdit).where(ErpEdit.erp_item_id == erp.id, ErpEdit.at >= rejected_at)
                                    .order_by(ErpEdit.id))))


def note_resend(session: Session, erp: ErpItem) -> str | None:
    """On a send: the summary of what changed since the last rejection, kept on the item for its
    tab row (None, and nothing kept, for an item never rejected). Returns it for the audit row."""
    changes = since_rejection(session, erp)
    if changes is None:
        return None
    erp.resend_note = summary(changes)
    return erp.resend_note


@dataclass(frozen=True)
class HistoryRow:
    """One row of an item's history: a transition (from and to states) or an edit (changes)."""
    at: datetime
    actor: User | None
    action: str
    from_state: str | None = None
    to_state: str | None = None
    detail: dict = field(default_factory=dict)
    changes: tuple[Change, ...] = ()


EDIT = "edit"


def since_last_rejection(history: list[HistoryRow]) -> list[Change] | None:
    """since_rejection, read from an item's history (no query of its own)."""
    rejected_at = max((h.at for h in history if h.action == Action.REJECT), default=None)
    if rejected_at is None:
        return None
    return net_changes(h.changes for h in history if h.action == EDIT and h.at >= rejected_at)


def history(session: Session, erp: ErpItem | None) -> list[HistoryRow]:
    """An item's history, oldest first: its transitions and its edits (two queries), for the
    project side and the approver's item page."""
    if erp is None:
        return []
    audits = session.scalars(select(ErpAudit).where(ErpAudit.erp_item_id == erp.id)
                             .options(selectinload(ErpAudit.actor)).order_by(ErpAudit.id))
    edits = session.scalars(select(ErpEdit).where(ErpEdit.erp_item_id == erp.id)
                            .options(selectinload(ErpEdit.actor)).order_by(ErpEdit.id))
    rows = [(a.at, 0, a.id, HistoryRow(a.at, a.actor, a.action, a.from_state, a.to_state, a.detail or {}))
            for a in audits]
    rows += [(e.at, 1, e.id, HistoryRow(e.at, e.actor, EDIT, changes=tuple(changes_of(e)))) for e in edits]
    return [row for *_, row in sorted(rows, key=lambda r: r[:3])]
