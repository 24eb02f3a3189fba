"""The item-type registry, as the tests reach it: from here and nowhere else.

Tests never name a type module or its constants (VENDORS, INVOICES, ...): they take the keys
from REGISTRY, in tab order, and a type object from get_type(key). When the registry moves
(portal.domain.types), the two statements below are the only lines to change.
"""
from __future__ import annotations

# create_app imports the type modules, in this order (the tabs' order), and so registers them;
# collection needs them before any app exists.
from portal.domain import (subcontractor_invoices, setup_items, commitments, change_orders,  # noqa: F401
                           budgets, prime_contracts)
from portal.domain.itemtypes import REGISTRY, get_type

__all__ = ["REGISTRY", "get_type", "type_keys"]


def type_keys() -> list[str]:
    """Every registered type's key, in tab order."""
    return list(REGISTRY)
