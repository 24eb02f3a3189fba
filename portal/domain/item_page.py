"""The approver's item page: one item of an ERP tab with everything needed to decide on it.

Its header and lines (the type's detail hook), the Sage import records it produced once
exported (read back from Sage's import log through the connector) or would produce (the type's
mapping run as the export job runs it, nothing written), its full history (transitions, edits,
mails), and for an item rejected before the reasons and what changed since the last rejection.
A page costs the same queries whatever the item's size: the item and its children in the
type's load, the history in two, the mails in one, the changes since the rejection in two.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import edits
from portal.domain.edits import Change, HistoryRow
from portal.domain.errors import Invalid, NotFound
from portal.domain.exports import ExportWatch
from portal.domain.lifecycle import Action, State
from portal.domain.models import ErpItem, OutboxMail
from portal.domain.ports import Connector
from portal.domain.services import batch_id
from portal.domain.tabs import TabRow, tab_row
from portal.domain.types import ItemType, get_type
from portal.domain.types.base import Attachment, Detail
from portal.exporters.sage300.records import Batch, field_text, record_table


class ImportLog(Protocol):
    """What reads Sage's import log back (the simulator); a connector without one has reader None."""
    def import_log(self, batch_id: str) -> dict | None: ...


@dataclass(frozen=True)
class RecordTable:
    """The records of one kind in a batch, as a table: Sage's record name, its columns, its rows."""
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class BatchView:
    """One import file of the item: its kind, its id (what Sage's import log is keyed by), its
    records, and Sage's log row once imported (None: not imported, or Sage cannot be read)."""
    kind: str
    batch_id: str
    tables: tuple[RecordTable, ...]
    log: dict | None = None


@dataclass(frozen=True)
class SageView:
    produced: bool                  # the records Sage imported (else a preview of what it would)
    batches: tuple[BatchView, ...] = ()
    problem: str = ""               # why there is no preview (the export fields it still needs)
    readable: bool = True           # the connector can read Sage's import log back


@dataclass(frozen=True)
class ItemPage:
    row: TabRow
    item_type: ItemType
    detail: Detail
    history: list[HistoryRow]
    mails: list[OutboxMail]
    rejections: list[HistoryRow]    # every rejection, oldest first, with its reason
    since_rejection: list[Change] | None   # edits since the last rejection (None: never rejected)
    sage: SageView
    attachments: list[Attachment]   # files that came with the item (an invoice's PDF)


def record_tables(batch: Batch) -> tuple[RecordTable, ...]:
    """A batch's records grouped by record kind, in the order they first appear, each as a table."""
    groups: dict[type, list[Any]] = {}
    for record in batch.records:
        groups.setdefault(type(record), []).append(record)
    tables = []
    for kind, records in groups.items():
        names = tuple(f.name for f in fields(kind))
        tables.append(RecordTable(record_table(records[0]), tuple(n.replace("_", " ").title() for n in names),
                                  tuple(tuple(field_text(getattr(r, n)) for n in names) for r in records)))
    return tuple(tables)


def sage_view(session: Session, item_type: ItemType, erp: ErpItem, item: Any, log: ImportLog | None) -> SageView:
    """The import records of the item: as exported (its export fields and attempt's batch id, with
    Sage's log row of each) or, before it is accepted, as its default export fields would map it."""
    exported = erp.attempt > 0 and erp.state in (State.EXPORTING, State.SYNCED, State.FAILED)
    values = (erp.export_fields or {}) if exported else item_type.export_defaults(item)
    produced = erp.state == State.SYNCED
    try:
        fields_ = values if exported else item_type.parse_export_fields(session, item, values)
        batches = item_type.export_batches(session, item.id, fields_, batch_id(erp))  # as the export job maps it
    except (Invalid, NotFound, KeyError, ValueError) as exc:
        problem = "; ".join(f"{v}" for v in exc.fields.values()) if isinstance(exc, Invalid) and exc.fields \
            else str(exc)
        return SageView(produced, problem=problem or "The item cannot be mapped for Sage yet.")
    read = log is not None and exported
    return SageView(produced, tuple(BatchView(b.kind, b.batch_id, record_tables(b),
                                              log.import_log(b.batch_id) if read and log else None)
                                    for b in batches), readable=log is not None)


def item_page(session: Session, type_key: str, erp_item_id: int, watch: ExportWatch,
              log: ImportLog | None, connector: Connector | None = None) -> ItemPage:
    """Everything the approver's page shows of one item; NotFound for an id not in the tab. Its row
    is the tab's (tabs.tab_row: the insurance gate and, given a connector, the pre-check too)."""
    item_type = get_type(type_key)
    row = tab_row(session, type_key, erp_item_id, watch, connector)
    # the detail reads relations the tab's row does not load (tab_options): the item in full
    erp, item, values = row.erp, item_type.load(session, row.erp.item_id), row.values
    history = edits.history(session, erp)
    mails = list(session.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id).order_by(OutboxMail.id)))
    return ItemPage(row, item_type, item_type.detail(item, values), history, mails,
                    [h for h in history if h.action == Action.REJECT], edits.since_last_rejection(history),
                    sage_view(session, item_type, erp, item, log), item_type.attachments(session, item))
