"""Unlink a synced item from Sage 300 CRE: once Sage no longer holds its record, the item goes
back to draft (editable, sendable again) and the old link stays in its audit history."""
from __future__ import annotations

from sqlalchemy.orm import Session

from portal.domain import policy
from portal.domain.errors import Conflict, Invalid
from portal.domain.lifecycle import Action, next_state, transition
from portal.domain.models import ErpItem, User
from portal.domain.ports import Connector
from portal.domain.services import get_erp_item, require
from portal.domain.types import REGISTRY, get_type
from portal.domain.uow import commit, transactional
from portal.exporters.sage300.records import ConnectorUnavailable, SageUnreadable


def _listed(texts: list[str]) -> str:
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


@transactional
def unlink(session: Session, actor: User, erp_item_id: int, connector: Connector) -> ErpItem:
    """Unlink a synced item whose Sage record is gone: back to draft, the old link audited."""
    require(actor, policy.DECIDE, "Only accounting approvers can unlink items from Sage 300 CRE.")
    erp = get_erp_item(session, erp_item_id)
    item_type = get_type(erp.item_type)
    if not item_type.unlinkable:
        names = _listed([t.plural.lower() for t in REGISTRY.values() if t.unlinkable])
        raise Invalid(f"{item_type.plural} cannot be unlinked from Sage 300 CRE; only {names} can.",
                      fields={"item_type": "This item type cannot be unlinked."})
    next_state(Action.UNLINK, erp.state)  # Conflict unless Synced
    item = item_type.load(session, erp.item_id)
    try:
        held = connector.held_by_sage(item_type.sage_record_kind or "", item_type.unlink_reference(erp, item))
    except SageUnreadable as exc:
        raise Conflict(str(exc)) from None
    except ConnectorUnavailable as exc:
        raise Conflict(f"Sage 300 CRE could not be reached, so nothing was unlinked: {exc}") from None
    if held:
        raise Conflict(f"Sage 300 CRE still holds {_listed(held)}: delete "
                       f"{'it' if len(held) == 1 else 'them'} in Sage first.")
    item_type.on_unlinked(session, item)
    transition(session, erp, Action.UNLINK, actor.id,
               detail={"erp_ref": erp.erp_ref, "export_fields": erp.export_fields})
    erp.erp_ref = None
    erp.synced_at = None
    commit(session)
    return erp
