"""Unlink a synced item from Sage 300 CRE: once Sage no longer holds its record, the item goes
back to draft (editable, sendable again) and the old link stays in its audit history."""
from __future__ import annotations

from typing import Callable

from sqlalchemy.orm import Session

from portal.domain import policy
from portal.domain.errors import Conflict, DomainError, Invalid
from portal.domain.itemtypes import get_type
from portal.domain.lifecycle import Action, next_state
from portal.domain.models import ErpItem, User
from portal.domain.services import _commit, _require, _transition, get_erp_item
from portal.exporters.sage300.records import ConnectorUnavailable, SageUnreadable


def _fields(erp: ErpItem) -> dict:
    return erp.export_fields or {}


def _vendor(erp, vendor) -> dict:
    return {"vendor": vendor.erp_vendor_id or _fields(erp).get("erp_vendor_id") or erp.erp_ref or ""}


def _commitment(erp, commitment) -> dict:
    return {"commitment": commitment.erp_commitment_id or _fields(erp).get("sage_id") or erp.erp_ref or ""}


def _cco(erp, cco) -> dict:
    # the commitment may have been unlinked first: Sage is then asked for the CCO ID alone
    return {"commitment": cco.commitment.erp_commitment_id or "",
            "cco": _fields(erp).get("cco_id") or erp.erp_ref or ""}


def _invoice(erp, invoice) -> dict:
    return {"vendor": invoice.commitment.vendor.erp_vendor_id or "",
            "invoice": _fields(erp).get("erp_id") or erp.erp_ref or ""}


def _pcco(erp, pcco) -> dict:
    # a synced PCCO cannot be edited, so its number is still the Chg Mgmt Ref 1 it was sent with
    return {"job": pcco.project.sage_job_id or "", "ref_1": pcco.number}


def _owner_invoice(erp, invoice) -> dict:
    return {"invoice": _fields(erp).get("erp_id") or erp.erp_ref or ""}


# item type -> (the Sage record kind the connector is asked about, what identifies the record)
UNLINKABLE: dict[str, tuple[str, Callable]] = {
    "commitment": ("jc_commitment", _commitment),
    "cco": ("jc_commitment_co", _cco),
    "pcco": ("jc_pcco", _pcco),
    "subcontractor_invoice": ("ap_invoice", _invoice),
    "owner_invoice": ("ar_invoice", _owner_invoice),
    "vendor": ("ap_vendor", _vendor),
}


def _listed(texts: list[str]) -> str:
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


def unlink(session: Session, actor: User, erp_item_id: int, connector) -> ErpItem:
    """Unlink a synced item whose Sage record is gone: back to draft, the old link audited."""
    _require(actor, policy.DECIDE, "Only accounting approvers can unlink items from Sage 300 CRE.")
    erp = get_erp_item(session, erp_item_id)
    if erp.item_type not in UNLINKABLE:
        kinds = ", ".join(get_type(k).plural.lower() for k in UNLINKABLE)
        raise Invalid(f"{get_type(erp.item_type).plural} cannot be unlinked from Sage 300 CRE; "
                      f"only {kinds} can.", fields={"item_type": "This item type cannot be unlinked."})
    next_state(Action.UNLINK, erp.state)  # Conflict unless Synced
    kind = get_type(erp.item_type)
    item = kind.load(session, erp.item_id)
    sage_kind, identify = UNLINKABLE[erp.item_type]
    try:
        held = connector.held_by_sage(sage_kind, identify(erp, item))
    except ConnectorUnavailable as exc:
        raise Conflict(f"Sage 300 CRE could not be reached, so nothing was unlinked: {exc}") from None
    except SageUnreadable as exc:
        raise Conflict(str(exc)) from None
    if held:
        raise Conflict(f"Sage 300 CRE still holds {_listed(held)}: delete "
                       f"{'it' if len(held) == 1 else 'them'} in Sage first.")
    try:
        kind.on_unlinked(session, item)
    except DomainError:
        session.rollback()
        raise
    _transition(session, erp, Action.UNLINK, actor,
                detail={"erp_ref": erp.erp_ref, "export_fields": erp.export_fields})
    erp.erp_ref = None
    erp.synced_at = None
    _commit(session)
    return erp
