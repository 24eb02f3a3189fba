"""The ERP Integrations tabs: Ready to Export, Synced, Failed to Export, with counts and pages.

A page costs the same few queries at 10 items and at 10,000: the page's erp rows in one
query (one ordered index range per state, merged), then its items with the type's tab
options, then the row values the type needs for the page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, union_all
from sqlalchemy.orm import Session, joinedload

from portal.domain import compliance, policy
from portal.domain.errors import NotFound, PermissionDenied
from portal.domain.exports import ExportWatch
from portal.domain.grid import ALL, GridQuery, match_ids
from portal.domain.lifecycle import Action, State
from portal.domain.models import ErpAudit, ErpItem, User, utcnow
from portal.domain.ports import Connector
from portal.domain.precheck import Precheck, check_page
from portal.domain.types import ItemType, get_type
from portal.domain.values import local_time

FILTERS = {
    "ready": ("Ready to Export", (State.READY, State.EXPORTING)),
    "synced": ("Synced", (State.SYNCED,)),
    "failed": ("Failed to Export", (State.FAILED,)),
}


@dataclass
class TabRow:
    """One row of a tab: the item's place in the gate, the item, its column values."""
    erp: ErpItem
    item: Any
    values: dict = field(default_factory=dict)
    stalled: bool = False      # Exporting, but its job will not finish: offer Retry
    gate: compliance.Gate | None = None  # the insurance gate (types with one, setting not Not Required)
    precheck: Precheck | None = None   # Ready or Failed: what Sage would answer (precheck.py)

    @property
    def title(self) -> str:
        """What people call the item in its tab: its number, else its name, else its id."""
        return str(self.values.get("number") or self.values.get("name") or self.erp.item_id)


@dataclass
class TabView:
    item_type: ItemType
    filter: str
    grid: GridQuery               # the search and the filters (grid.py), as the URL carries them
    page: int
    pages: int
    total: int
    counts: dict[str, int]
    rows: list[TabRow]
    asks: tuple[str, ...] = ()    # the Accept fields a bulk export asks of each row (none: the defaults do)
    sort: str = ""                # a column's key, or "" for the default: newest sent first
    desc: bool = True
    totals: dict[str, Decimal] = field(default_factory=dict)   # column key -> sum over what is filtered

    @property
    def q(self) -> str:
        return self.grid.q

    def url_args(self, **changes) -> dict:
        """The tab's URL arguments as they are (filter, search, filters, sort), with `changes`
        (page=2, sort=...): every link of the tab keeps what the approver filtered."""
        args: dict = {"type_key": self.item_type.key, "filter": self.filter, **self.grid.args()}
        if self.sort:
            args.update(sort=self.sort, dir="desc" if self.desc else "asc")
        args.update(changes)
        return {key: value for key, value in args.items() if value is not None}


@dataclass(frozen=True)
class Tally:
    """Where the items of one bulk export are now: a bulk result panel polls it until settled."""
    synced: int
    failed: int
    exporting: int
    stalled: int
    other: int      # moved on since (rejected, unlinked...)

    @property
    def settled(self) -> bool:
        return self.exporting == 0

    @property
    def total(self) -> int:
        return self.synced + self.failed + self.exporting + self.stalled + self.other


def page_erp_select(type_key: str, states, offset: int, limit: int, match=None) -> Select:
    """The erp_item rows of one page, newest first. One ordered index range per state is
    merged, so the cost follows the page size, not the number of items of the type."""
    order = (ErpItem.sent_at.desc(), ErpItem.id.desc())
    parts = []
    for state in states:
        part = select(ErpItem.id, ErpItem.sent_at).where(ErpItem.item_type == type_key,
                                                         ErpItem.state == state)
        if match is not None:
            part = part.where(ErpItem.item_id.in_(match))
        parts.append(part.order_by(*order).limit(offset + limit).subquery())
    merged = union_all(*(select(p.c.id, p.c.sent_at) for p in parts)).subquery()
    page_ids = (select(merged.c.id).order_by(merged.c.sent_at.desc(), merged.c.id.desc())
                .offset(offset).limit(limit))
    return select(ErpItem).where(ErpItem.id.in_(page_ids.scalar_subquery())).order_by(*order)


def state_counts(session: Session, type_key: str, match=None) -> dict[str, int]:
    """Items per lifecycle state (among the matching item ids when given)."""
    return {state: n for state, (n, _) in state_figures(session, get_type(type_key), match, totals=False).items()}


def state_figures(session: Session, item_type: ItemType, match=None,
                  totals: bool = True) -> dict[str, tuple[int, list]]:
    """Per lifecycle state: how many items, and the sums of the type's total columns. One
    statement (the sums join the type's table only when it has total columns)."""
    sums = [func.coalesce(func.sum(c.total), 0) for c in item_type.columns if c.total is not None and totals]
    stmt = select(ErpItem.state, func.count(ErpItem.id), *sums).where(ErpItem.item_type == item_type.key)
    if sums:
        stmt = stmt.join(item_type.model, item_type.model.id == ErpItem.item_id)
    if match is not None:
        stmt = stmt.where(ErpItem.item_id.in_(match))
    return {state: (n, list(rest)) for state, n, *rest in session.execute(stmt.group_by(ErpItem.state)).all()}


def sorted_erp_select(item_type: ItemType, states, offset: int, limit: int | None, match, by,
                      desc: bool) -> Select:
    """The erp_item rows of one page in a column's order (ties by id): one statement, a sort of
    the filtered rows."""
    order = (by.desc(), ErpItem.id.desc()) if desc else (by.asc(), ErpItem.id.asc())
    stmt = (select(ErpItem).join(item_type.model, item_type.model.id == ErpItem.item_id)
            .where(ErpItem.item_type == item_type.key, ErpItem.state.in_(states)))
    if match is not None:
        stmt = stmt.where(ErpItem.item_id.in_(match))
    return stmt.order_by(*order).offset(offset).limit(limit)


def sort_of(item_type: ItemType, sort: str):
    """What a sort key orders by: a sortable column's expression, or Sent At; None for the default."""
    if sort == "sent_at":
        return ErpItem.sent_at
    return next((c.sort for c in item_type.columns if c.key == sort and c.sort is not None), None)


def rows_of(session: Session, item_type: ItemType, erps: list[ErpItem], watch: ExportWatch,
            connector: Connector | None = None) -> list[TabRow]:
    """Tab rows for these erp items: their items, values, whether their export stalled and,
    given a connector, their pre-check (one dry-run call for them all)."""
    items = item_type.load_many(session, [e.item_id for e in erps], item_type.tab_options())
    values = item_type.row_values_many(session, list(items.values()))
    stalled = watch.stalled(erps)
    deciding = [items[e.item_id] for e in erps if e.item_id in items and e.state in (State.READY, State.FAILED)]
    gates = compliance.gates(session, item_type, deciding)
    checks = check_page(session, item_type, [(e, items[e.item_id]) for e in erps if e.item_id in items], connector)
    return [TabRow(e, items[e.item_id], values[e.item_id], e.id in stalled, gates.get(e.item_id), checks.get(e.id))
            for e in erps if e.item_id in items]


def tab_view(session: Session, user: User, type_key: str, filter_key: str, query: GridQuery,
             page: int, page_size: int, watch: ExportWatch, sort: str = "", desc: bool = True,
             connector: Connector | None = None) -> TabView:
    """One page of one tab: counts and totals (1 query), the page's rows (1 query) and their items
    (with their pre-check when given a connector: one dry-run call), among the items the search and
    filters keep (grid.py). Sorted by a column when asked (an unknown sort is the default: newest
    sent first)."""
    if not policy.can(user, policy.VIEW_ERP):
        raise PermissionDenied("You need access to the ERP Integrations tool.")
    item_type = get_type(type_key)
    filter_key = filter_key if filter_key in FILTERS else "ready"
    match = match_ids(item_type, query)
    counts, totals = filter_figures(session, item_type, query, filter_key)
    page = max(1, page)
    by = sort_of(item_type, sort)
    if by is None or (sort == "sent_at" and desc):   # the default order, from its index
        sort, desc = "", True
        stmt = page_erp_select(item_type.key, FILTERS[filter_key][1], (page - 1) * page_size, page_size, match)
    else:
        stmt = sorted_erp_select(item_type, FILTERS[filter_key][1], (page - 1) * page_size, page_size, match, by, desc)
    erps = list(session.scalars(stmt.options(joinedload(ErpItem.sent_by))))
    total = counts[filter_key]
    pages = max(1, -(-total // page_size))
    return TabView(item_type, filter_key, query, page, pages, total, counts,
                   rows_of(session, item_type, erps, watch, connector), item_type.bulk_asks(session), sort, desc,
                   totals)


def filter_figures(session: Session, item_type: ItemType, query: GridQuery = ALL,
                   filter_key: str = "ready") -> tuple[dict[str, int], dict[str, Decimal]]:
    """The tab's filter counts (Ready · Synced · Failed) and the totals row of one filter, among
    the items the search and filters keep: one statement, whatever the number of rows. Every row
    response sends them again out of band."""
    figures = state_figures(session, item_type, match_ids(item_type, query))
    counts = {key: sum(figures[s][0] for s in states if s in figures) for key, (_, states) in FILTERS.items()}
    summed = [c.key for c in item_type.columns if c.total is not None]
    states = FILTERS.get(filter_key, FILTERS["ready"])[1]
    totals = {key: sum((Decimal(figures[s][1][i]) for s in states if s in figures), Decimal(0))
              for i, key in enumerate(summed)}
    return counts, totals


def bulk_tally(session: Session, type_key: str, erp_item_ids: list[int], watch: ExportWatch) -> Tally:
    """Where the items of a bulk export are now: one query, and one call to the queue while some
    still export (an export whose job will not finish counts as stalled, so the tally settles)."""
    erps = list(session.scalars(select(ErpItem).where(ErpItem.id.in_(erp_item_ids),
                                                     ErpItem.item_type == type_key)))
    states = [e.state for e in erps]
    exporting = [e for e in erps if e.state == State.EXPORTING]
    stalled = len(watch.stalled(exporting)) if exporting else 0
    return Tally(synced=states.count(State.SYNCED), failed=states.count(State.FAILED),
                 exporting=len(exporting) - stalled, stalled=stalled,
                 other=len(states) - len(exporting) - states.count(State.SYNCED) - states.count(State.FAILED))


def ask_rows(session: Session, type_key: str, erp_item_ids: list[int], watch: ExportWatch) -> list[TabRow]:
    """The ticked rows a bulk form asks each export field of (those still to decide), in tick order."""
    item_type = get_type(type_key)
    erps = list(session.scalars(select(ErpItem).where(ErpItem.id.in_(erp_item_ids), ErpItem.item_type == item_type.key,
                                                     ErpItem.state.in_((State.READY, State.FAILED)))))
    place = {erp_id: n for n, erp_id in enumerate(erp_item_ids)}
    return rows_of(session, item_type, sorted(erps, key=lambda e: place[e.id]), watch)


def tab_row(session: Session, type_key: str, erp_item_id: int, watch: ExportWatch,
            connector: Connector | None = None) -> TabRow:
    """One row of a tab, as it is now (a form opened on it, its export's progress)."""
    item_type = get_type(type_key)
    erp = session.scalars(select(ErpItem).where(ErpItem.id == erp_item_id, ErpItem.item_type == item_type.key)
                          .options(joinedload(ErpItem.sent_by))).first()
    rows = rows_of(session, item_type, [erp] if erp else [], watch, connector)
    if not rows:
        raise NotFound("That item is not in ERP Integrations.")
    return rows[0]


# How the move that put an item where it is reads in a sentence ("accepted by Avery at 10:41").
DONE_BY = {
    Action.ACCEPT: "accepted", Action.REJECT: "rejected", Action.RETRIEVE: "taken back",
    Action.SEND: "sent", Action.RESEND: "sent again", Action.EXPORT_OK: "synced",
    Action.EXPORT_FAILED: "refused by Sage", Action.UNLINK: "unlinked", Action.LINK: "linked to Sage",
    Action.PAYMENT: "paid in Sage",
}


def said_when(at: datetime, tz: tzinfo = UTC) -> str:
    """When something happened, as a message says it, on the company's clock: "at 3:04 PM EST"
    today, else "on 10/05/2026 at 3:04 PM EST"."""
    day, time = local_time(at, tz).split(" ", 1)
    return f"at {time}" if day == local_time(utcnow(), tz).split(" ", 1)[0] else f"on {day} at {time}"


def item_happened(session: Session, type_key: str, item_id: int) -> str | None:
    """what_happened to an item that lost a race outside its tab (a Link on a Ready to Import
    list); None when the item was never in the gate."""
    erp = session.scalars(select(ErpItem).where(ErpItem.item_type == type_key, ErpItem.item_id == item_id)).first()
    if erp is None:
        return None
    item_type = get_type(type_key)
    item = item_type.load(session, item_id)
    return what_happened(session, TabRow(erp, item, item_type.row_values(item)))


def what_happened(session: Session, row: TabRow, tz: tzinfo = UTC) -> str:
    """For a decision that lost the race (or came too late): the item as it now is, and who
    moved it there and when, from its latest audit row into its current state. E.g.
    "INV-1002 is already Exporting (accepted by Avery Approver at 10:41 AM EST)." """
    erp = row.erp
    label = State.LABELS.get(erp.state, erp.state)
    last = session.scalars(
        select(ErpAudit).where(ErpAudit.erp_item_id == erp.id, ErpAudit.to_state == erp.state,
                               ErpAudit.from_state != ErpAudit.to_state)
        .options(joinedload(ErpAudit.actor)).order_by(ErpAudit.id.desc()).limit(1)).first()
    if last is None:
        return f"{row.title} is {label}."
    done = DONE_BY.get(last.action, last.action.replace("_", " "))
    by = f" by {last.actor.name}" if last.actor else ""
    when = said_when(last.at, tz)
    if erp.state == State.REJECTED:
        return f"{row.title} was rejected{by} {when}."
    already = "now" if erp.state in (State.DRAFT, State.READY) else "already"
    return f"{row.title} is {already} {label} ({done}{by} {when})."
