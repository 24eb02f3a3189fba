"""The ERP Integrations tabs: Ready to Export, Synced, Failed to Export, with counts."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from portal.domain import policy
from portal.domain.errors import PermissionDenied
from portal.domain.itemtypes import get_type
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, User

FILTERS = {
    "ready": ("Ready to Export", (State.READY, State.EXPORTING)),
    "synced": ("Synced", (State.SYNCED,)),
    "failed": ("Failed to Export", (State.FAILED,)),
}


@dataclass
class TabView:
    item_type: object
    filter: str
    q: str
    page: int
    pages: int
    total: int
    counts: dict[str, int]
    rows: list


def page_erp_select(type_key: str, states, offset: int, limit: int, match=None):
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
    stmt = select(ErpItem.state, func.count()).where(ErpItem.item_type == type_key)
    if match is not None:
        stmt = stmt.where(ErpItem.item_id.in_(match))
    return {state: n for state, n in session.execute(stmt.group_by(ErpItem.state)).all()}


def tab_view(session: Session, user: User, type_key: str, filter_key: str, q: str,
             page: int, page_size: int) -> TabView:
    """One page of one tab: counts (1 query), the page's rows (1 query) and their items."""
    if not policy.can(user, policy.VIEW_ERP):
        raise PermissionDenied("You need access to the ERP Integrations tool.")
    kind = get_type(type_key)
    filter_key = filter_key if filter_key in FILTERS else "ready"
    q = (q or "").strip()[:100]
    by_state = kind.tab_counts(session, q)
    counts = {key: sum(by_state.get(s, 0) for s in states) for key, (_, states) in FILTERS.items()}
    page = max(1, page)
    rows = kind.tab_page(session, FILTERS[filter_key][1], q, (page - 1) * page_size, page_size)
    total = counts[filter_key]
    pages = max(1, -(-total // page_size))
    return TabView(kind, filter_key, q, page, pages, total, counts, rows)


def like_text(q: str) -> str:
    """A LIKE pattern for q where % and _ typed by the user are literal."""
    text = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{text}%"


def like(column, q: str):
    return func.lower(column).like(like_text(q), escape="\\")
