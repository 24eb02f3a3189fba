"""The item-type registry: what each type adds to the one lifecycle.

A type brings its prerequisites, its export (Accept) fields, its Sage mapping and
the words of its emails. Everything else (states, permissions, audit, queue, mail)
is shared and lives in services.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from portal.exporters.sage300.records import Batch


@dataclass(frozen=True)
class ItemSummary:
    """What emails and audit pages say about an item."""
    project: str
    title: str          # e.g. "Invoice #INV-001"
    vendor: str
    amount: str
    creator_id: int | None


class ItemType:
    key: str = ""
    label: str = ""            # "Subcontractor Invoice"
    plural: str = ""           # "Subcontractor Invoices"
    direct_export_setting: str | None = None
    tab_template: str = ""     # the ERP Integrations tab's page template
    row_template: str = ""     # the partial for one row (a <tbody>), swapped by htmx
    link_endpoint: tuple[str, str] = ("", "")  # project page of one item: (endpoint, id arg)

    def tab_page(self, session: Session, states: tuple[str, ...], q: str, offset: int,
                 limit: int) -> list:
        """Rows of one tab page (matching the search q when given)."""
        raise NotImplementedError

    def tab_counts(self, session: Session, q: str) -> dict[str, int]:
        """Items per lifecycle state (matching the search q when given)."""
        raise NotImplementedError

    def tab_row(self, session: Session, erp_item_id: int):
        raise NotImplementedError

    def load(self, session: Session, item_id: int) -> Any:
        raise NotImplementedError

    def project_id(self, item: Any) -> int | None:
        return getattr(item, "project_id", None)

    def prerequisites(self, session: Session, item: Any) -> list[str]:
        """Reasons the item cannot be sent yet; empty when it can."""
        return []

    def export_defaults(self, item: Any) -> dict:
        return {}

    def clean_export_fields(self, item: Any, raw: dict) -> dict:
        """Validate the Accept form; raise Invalid(fields=...) on bad input."""
        return {}

    def build_batch(self, session: Session, item: Any, fields: dict, batch_id: str) -> Batch:
        raise NotImplementedError

    def summary(self, item: Any) -> ItemSummary:
        raise NotImplementedError

    # Types whose Sage ID is written back when synced (vendors, jobs...) set this and
    # override on_synced; the others are not loaded again after the export.
    writes_back_on_sync = False

    def on_synced(self, session: Session, item: Any, fields: dict, reference: str) -> None:
        """Write the Sage ID back to the item (vendors, jobs...)."""


REGISTRY: dict[str, ItemType] = {}


def register(item_type: ItemType) -> ItemType:
    REGISTRY[item_type.key] = item_type
    return item_type


def get_type(key: str) -> ItemType:
    from portal.domain.errors import NotFound
    try:
        return REGISTRY[key]
    except KeyError:
        raise NotFound(f"No such item type: {key}") from None


def load_many(item_type: ItemType, session: Session, item_ids: list[int]) -> dict[int, Any]:
    """Items by id; types override load_many on the class for one query instead of N."""
    loader = getattr(item_type, "load_many", None)
    if loader is not None:
        return loader(session, item_ids)
    return {i: item_type.load(session, i) for i in item_ids}
