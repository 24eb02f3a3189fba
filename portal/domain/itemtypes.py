"""The item-type registry: what each type adds to the one lifecycle.

A type brings its prerequisites, its export (Accept) fields, its Sage mapping, its tab
columns, its project-side form and the words of its emails. Everything else (states,
permissions, audit, queue, mail, the tab and the project pages) is shared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.domain.models import ErpItem
from portal.exporters.sage300.records import Batch


@dataclass(frozen=True)
class ItemSummary:
    """What emails and audit pages say about an item."""
    project: str
    title: str          # e.g. "Invoice #INV-001"
    vendor: str
    amount: str
    creator_id: int | None


@dataclass(frozen=True)
class Field:
    """One input of an Accept form or a project-side form."""
    name: str
    label: str
    kind: str = "text"            # text | date | select | checkbox | textarea | number
    maxlength: int | None = None
    required: bool = False
    choices: tuple = ()           # ((value, label), ...) for select
    help: str = ""


@dataclass(frozen=True)
class Column:
    """One column of a tab or a project-side list: its label and the key in row values."""
    label: str
    key: str
    css: str = ""


@dataclass
class TabRow:
    erp: ErpItem
    item: Any
    values: dict = field(default_factory=dict)


class ItemType:
    key: str = ""
    label: str = ""            # "Subcontractor Invoice"
    plural: str = ""           # "Subcontractor Invoices"
    noun: str = ""             # how a row names it: "invoice INV-001"
    scope: str = "project"     # "project": lives in a project; "company": company level
    model: Any = None
    direct_export_setting: str | None = None
    columns: tuple[Column, ...] = ()          # the tab's item columns
    bulk_note: str = "Ticked items are exported with their default export fields."
    # Types whose Sage ID is written back when synced (vendors, jobs...) set this and
    # override on_synced; the others are not loaded again after the export.
    writes_back_on_sync = False
    # Project-side pages: edited through form_fields/save (None: the type has its own pages).
    generic_pages = True
    editable_after_create = True   # budget changes: never edited once created

    # ---- loading ---------------------------------------------------------------------
    def load_options(self) -> tuple:
        return ()

    def load(self, session: Session, item_id: int) -> Any:
        from portal.domain.errors import NotFound
        item = session.scalars(select(self.model).where(self.model.id == item_id)
                               .options(*self.load_options())).first()
        if item is None:
            raise NotFound(f"That {self.label.lower()} does not exist.")
        return item

    def tab_options(self) -> tuple:
        """What a tab row needs (often less than an export): many-to-one joined, so a page
        costs the same few queries at 10 rows and at 10,000."""
        return self.load_options()

    def load_many(self, session: Session, item_ids: list[int], options: tuple | None = None) -> dict[int, Any]:
        if not item_ids:
            return {}
        items = session.scalars(select(self.model).where(self.model.id.in_(item_ids))
                                .options(*(self.load_options() if options is None else options))
                                ).unique().all()
        return {item.id: item for item in items}

    def project_id(self, item: Any) -> int | None:
        """The project whose tool level decides who may send it (None: company admins)."""
        return getattr(item, "project_id", None)

    # ---- the lifecycle's type-specific parts ------------------------------------------
    def prerequisites(self, session: Session, item: Any) -> list[str]:
        """Reasons the item cannot be sent yet; empty when it can."""
        return []

    def accept_fields(self, item: Any) -> list[Field]:
        return []

    def accept_details(self, item: Any) -> list[tuple[str, ...]] | None:
        """Rows shown above the Accept form (e.g. a budget's lines); None for none."""
        return None

    def export_defaults(self, item: Any) -> dict:
        return {}

    def clean_export_fields(self, session: Session, item: Any, raw: dict) -> dict:
        """Validate the Accept form; raise Invalid(fields=...) on bad input."""
        return {}

    def build_batch(self, session: Session, item: Any, fields: dict, batch_id: str) -> Batch:
        raise NotImplementedError

    def build_batches(self, session: Session, item: Any, fields: dict, batch_id: str) -> list[Batch]:
        """The import files of one export, in order (a CCO's new commitment item before the
        CCO, a budget's new cost codes before the budget). Most types have one."""
        return [self.build_batch(session, item, fields, batch_id)]

    def summary(self, item: Any) -> ItemSummary:
        raise NotImplementedError

    def on_synced(self, session: Session, item: Any, fields: dict, reference: str) -> None:
        """Write the Sage ID back to the item (vendors, jobs...)."""

    def on_unlinked(self, session: Session, item: Any) -> None:
        """Clear what on_synced wrote (the item's Sage ID) once the item is unlinked from Sage."""

    def erp_ref(self, fields: dict, reference: str) -> str:
        """The Sage ID shown on Synced rows."""
        return reference

    # ---- the tab -------------------------------------------------------------------
    def row_values(self, item: Any) -> dict:
        return {}

    def row_values_many(self, session: Session, items: list) -> dict[int, dict]:
        """Row values of a page of items; types whose values need more data override this
        to fetch it in one query for the page."""
        return {item.id: self.row_values(item) for item in items}

    def search_ids(self, q: str):
        """A select of the ids of items matching q."""
        raise NotImplementedError

    def tab_page(self, session: Session, states: tuple[str, ...], q: str, offset: int,
                 limit: int) -> list[TabRow]:
        """One page of the tab: the page's erp rows in one query, then the items in a few."""
        from portal.domain.tabs import page_erp_select
        match = self.search_ids(q) if q else None
        erps = session.scalars(page_erp_select(self.key, states, offset, limit, match)
                               .options(joinedload(ErpItem.sent_by))).all()
        return self._rows(session, erps)

    def tab_counts(self, session: Session, q: str) -> dict[str, int]:
        from portal.domain.tabs import state_counts
        return state_counts(session, self.key, self.search_ids(q) if q else None)

    def tab_row(self, session: Session, erp_item_id: int) -> TabRow:
        from portal.domain.errors import NotFound
        erp = session.scalars(select(ErpItem).where(ErpItem.id == erp_item_id,
                                                    ErpItem.item_type == self.key)
                              .options(selectinload(ErpItem.sent_by))).first()
        rows = self._rows(session, [erp] if erp else [])
        if not rows:
            raise NotFound("That item is not in ERP Integrations.")
        return rows[0]

    def _rows(self, session: Session, erps) -> list[TabRow]:
        items = self.load_many(session, [e.item_id for e in erps], self.tab_options())
        values = self.row_values_many(session, list(items.values()))
        return [TabRow(e, items[e.item_id], values[e.item_id]) for e in erps if e.item_id in items]

    # ---- project side (generic pages) ------------------------------------------------
    list_columns: tuple[Column, ...] = ()     # the project-side list

    def list_items(self, session: Session, project_id: int | None) -> list:
        raise NotImplementedError

    def form_fields(self, session: Session, project_id: int | None, item: Any | None) -> list[Field]:
        return []

    def form_values(self, item: Any) -> dict:
        return {}

    def save(self, session: Session, actor, project_id: int | None, item: Any | None,
             form: dict) -> Any:
        """Create (item None) or update an item from the form; raise Invalid on bad input.
        Adds to the session without committing: the caller commits."""
        raise NotImplementedError

    def linked_ref(self, item: Any) -> str | None:
        """The Sage ID of an item linked to Sage without going through the gate (imported,
        or set up before the integration); such an item counts as Synced."""
        return None

    def link(self, erp: ErpItem) -> tuple[str, dict]:
        """Where the item lives on the project side (emails link there)."""
        if self.scope == "company":
            return "items.company_index", {"type_key": self.key}
        return "items.index", {"project_id": erp.project_id, "type_key": self.key}

    def creator_id(self, item: Any) -> int | None:
        return getattr(item, "created_by_id", None)


REGISTRY: dict[str, ItemType] = {}


def register(item_type: ItemType) -> ItemType:
    item_type.noun = item_type.noun or item_type.label.lower()
    REGISTRY[item_type.key] = item_type
    return item_type


def get_type(key: str) -> ItemType:
    from portal.domain.errors import NotFound
    try:
        return REGISTRY[key]
    except KeyError:
        raise NotFound(f"No such item type: {key}") from None


def load_many(item_type: ItemType, session: Session, item_ids: list[int]) -> dict[int, Any]:
    return item_type.load_many(session, item_ids)


def invalid_if(errors: dict) -> None:
    """Raise one Invalid naming every bad field, when there are any."""
    if errors:
        from portal.domain.errors import Invalid
        raise Invalid("Please correct the highlighted fields.", fields=errors)


def check_length(errors: dict, fields: dict, name: str, label: str, limit: int,
                 required: bool = False) -> str:
    """Strip a form value and record a clear error when it is missing or too long."""
    value = (fields.get(name) or "").strip()
    if required and not value:
        errors[name] = f"{label} is required."
    elif len(value) > limit:
        errors[name] = f"{label} must be {limit} characters or less (Sage's limit)."
    return value


def exporting_with(session: Session, item_type: str, field_name: str, value: str, item_id: int,
                   project_id: int | None = None, states: tuple[str, ...] = ("exporting",)) -> bool:
    """True when another item of the type is being exported right now (or is in one of
    `states`) with the same Sage ID, case-insensitive: not synced yet, but the ID is taken as
    surely as if it were."""
    query = select(ErpItem.export_fields).where(ErpItem.item_type == item_type, ErpItem.item_id != item_id,
                                                ErpItem.state.in_(states))
    if project_id is not None:
        query = query.where(ErpItem.project_id == project_id)
    wanted = value.strip().upper()
    return any(str((fields or {}).get(field_name) or "").strip().upper() == wanted
               for fields in session.scalars(query))
