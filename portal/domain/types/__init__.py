"""The item types, one module each, and their registry.

REGISTRY maps a type's key to its ItemType in tab order: the order below is the order of the
ERP Integrations tabs and of the project-side menus, whatever the order modules are imported
in. Adding a type: write its module (an ItemType subclass, see base.py and the README's
"Adding an item type"), its migration, and add it to TAB_ORDER below.
"""
from __future__ import annotations

from portal.domain.errors import NotFound
from portal.domain.types.base import Column, Field, ItemSummary, ItemType
from portal.domain.types.budget import BudgetType
from portal.domain.types.budget_change import BudgetChangeType
from portal.domain.types.cco import CCOType
from portal.domain.types.commitment import CommitmentType
from portal.domain.types.cost_code import CostCodeType
from portal.domain.types.job import JobType
from portal.domain.types.owner_invoice import OwnerInvoiceType
from portal.domain.types.pcco import PCCOType
from portal.domain.types.sub_job import SubJobType
from portal.domain.types.subcontractor_invoice import SubcontractorInvoiceType
from portal.domain.types.vendor import VendorType

__all__ = ["REGISTRY", "Column", "Field", "ItemSummary", "ItemType", "direct_export_keys", "get_type", "register",
           "unregister"]

TAB_ORDER: tuple[type[ItemType], ...] = (
    SubcontractorInvoiceType,
    VendorType,
    JobType,
    SubJobType,
    CostCodeType,
    CommitmentType,
    CCOType,
    BudgetType,
    BudgetChangeType,
    PCCOType,
    OwnerInvoiceType,
)

REGISTRY: dict[str, ItemType] = {}


def register(item_type: ItemType) -> ItemType:
    """Add a type after the others (its tab comes last); its key must be new."""
    if not item_type.key or item_type.key in REGISTRY:
        raise ValueError(f"item type key {item_type.key!r} is empty or already registered")
    REGISTRY[item_type.key] = item_type
    return item_type


def unregister(key: str) -> None:
    """Remove a type (a test's own type, once the test is done)."""
    REGISTRY.pop(key, None)


def direct_export_keys() -> list[str]:
    """The Direct Export settings the types declare (the Settings page's checkboxes), in tab order."""
    return [t.direct_export_setting for t in REGISTRY.values() if t.direct_export_setting]


def get_type(key: str) -> ItemType:
    try:
        return REGISTRY[key]
    except KeyError:
        raise NotFound(f"No such item type: {key}") from None


for _cls in TAB_ORDER:
    register(_cls())
