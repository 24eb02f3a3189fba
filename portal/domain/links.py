"""Items that reach Sage without an export of their own (linked to a Sage record, imported
from Sage, or carried by their job's export) go to Synced by the LINK transition."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.errors import Conflict
from portal.domain.lifecycle import Action, State, allowed, new_erp_item, transition
from portal.domain.models import CostCode, ErpItem, utcnow


def link_synced(session: Session, type_key: str, item_id: int, project_id: int | None, sage_id: str,
                actor_id: int | None, how: str, *, strict: bool = True) -> ErpItem | None:
    """Put the item in Synced with its Sage ID. strict: an item waiting in the gate or synced
    already is a Conflict; otherwise it is left as it is (and None returned)."""
    erp = session.scalars(select(ErpItem).where(ErpItem.item_type == type_key, ErpItem.item_id == item_id)).first()
    return _link(session, erp, type_key, item_id, project_id, sage_id, actor_id, how, strict)


def _link(session: Session, erp: ErpItem | None, type_key: str, item_id: int, project_id: int | None,
          sage_id: str, actor_id: int | None, how: str, strict: bool) -> ErpItem | None:
    if erp is None:
        erp = new_erp_item(session, type_key, item_id, project_id)
    elif not allowed(Action.LINK, erp.state):
        if not strict:
            return None
        if erp.state == State.SYNCED:
            raise Conflict(f"It is already synced with Sage as {erp.erp_ref}.")
        raise Conflict(f"It is {State.LABELS[erp.state]} in ERP Integrations: reject or retrieve it "
                       "before linking it to Sage, so it is not created twice.")
    transition(session, erp, Action.LINK, actor_id, detail={"sage_id": sage_id, "how": how})
    now = utcnow()
    erp.erp_ref, erp.synced_at = sage_id, now
    erp.decided_by_id, erp.decided_at = actor_id, now
    return erp


def link_cost_codes(session: Session, codes: Iterable[CostCode], job: str, extra: str, actor_id: int | None,
                    how: str) -> int:
    """Cost codes that are in Sage now (exported with their job or extra, or read from Sage):
    Synced, unless one is waiting in the gate of its own; returns how many were linked. Their
    ERP items are read in one query, so a sync over many projects costs one per job."""
    codes = list(codes)
    if not codes:
        return 0
    erps = {e.item_id: e for e in session.scalars(select(ErpItem).where(
        ErpItem.item_type == "cost_code", ErpItem.item_id.in_([c.id for c in codes])))}
    linked = 0
    for code in codes:
        ref = "/".join(p for p in (job, extra, code.code) if p)
        if _link(session, erps.get(code.id), "cost_code", code.id, code.project_id, ref, actor_id, how, False):
            linked += 1
    return linked
