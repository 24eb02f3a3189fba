"""The ERP Integrations tabs: Ready to Export, Synced, Failed to Export, with counts."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.domain import policy
from portal.domain.errors import PermissionDenied
from portal.domain.itemtypes import get_type
from portal.domain.lifecycle import State
from portal.domain.models import User

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


def tab_view(session: Session, user: User, type_key: str, filter_key: str, q: str,
             page: int, page_size: int) -> TabView:
    """One page of one tab: counts (1 query) and rows (1 query), searched or not."""
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
