"""The item-type registry, as the tests reach it: from here and nowhere else.

Tests never name a type module or its constants (VENDORS, INVOICES, ...): they take the keys
from REGISTRY, in tab order, and a type object from get_type(key). The registry is portal.domain.types
(its TAB_ORDER registers the types at import).
"""
from __future__ import annotations

from portal.domain.types import REGISTRY, direct_export_keys, get_type

__all__ = ["REGISTRY", "direct_export_keys", "get_type", "type_keys"]


def type_keys() -> list[str]:
    """Every registered type's key, in tab order."""
    return list(REGISTRY)
