"""The tabs' grid filters: by project, vendor, billing period, a date range and an amount range,
with the search (which also matches amounts: "12,500" finds $12,500.00), all carried in the URL.

Each type declares what it can be filtered by (ItemType.filters: SQL expressions on its
model); a filter the type does not
declare is not offered, and naming it in a URL is refused like any bad value: Invalid naming the
filter (a 422), never a 500. The filters become one select of the type's item ids, which the
tab's counts, totals, pages and downloads all use (no statement per row).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from portal.domain.errors import Invalid
from portal.domain.models import Commitment, Project, Vendor
from portal.domain.types import ItemType
from portal.domain.values import parse_date, parse_id, parse_money, parse_search

# the URL's query parameter of each filter
PARAMS = {"q": "q", "project": "project", "vendor": "vendor", "period": "period",
          "date_from": "from", "date_to": "to", "amount_min": "min", "amount_max": "max"}
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True)
class GridQuery:
    """What a tab shows of its type: a search and its filters, as the URL carries them."""
    q: str = ""
    project: int | None = None
    vendor: int | None = None
    period: date | None = None        # the first day of a billing period's month
    date_from: date | None = None
    date_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None

    def args(self) -> dict[str, str]:
        """The URL's query parameters of this search and these filters (those set), for url_for."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == "":
                continue
            out[PARAMS[f.name]] = f"{value:%Y-%m}" if f.name == "period" else str(value)
        return out

    @property
    def filtered(self) -> bool:
        """Any filter set besides the search."""
        return any(getattr(self, f.name) is not None for f in fields(self) if f.name != "q")


ALL = GridQuery()   # no search, no filter


def offered(item_type: ItemType) -> dict[str, str]:
    """The filters a type's tab offers, by field name, with the label each is named by."""
    has = item_type.filters
    out = {}
    if has.project is not None:
        out["project"] = "Project"
    if has.vendor is not None:
        out["vendor"] = "Vendor"
    if has.period is not None:
        out["period"] = "Billing period"
    if has.dates is not None:
        out["date_from"] = f"{has.dates[0]} from"
        out["date_to"] = f"{has.dates[0]} to"
    if has.amount is not None:
        out["amount_min"] = f"{has.amount[0]} from"
        out["amount_max"] = f"{has.amount[0]} to"
    return out


def _refuse(param: str, label: str, what: str) -> Invalid:
    return Invalid(f"{label}: {what}", fields={param: f"{label}: {what}"})


def parse_grid(item_type: ItemType, args: Mapping[str, str]) -> GridQuery:
    """The search and filters a tab's URL names (empty ones ignored). A bad value, or a filter this
    type's tab does not offer, raises Invalid naming the filter ("Amount from: 'abc' is not an amount.")."""
    q = parse_search(args.get("q"), "q")
    labels = offered(item_type)
    values: dict[str, object] = {}
    for name, param in PARAMS.items():
        raw = (args.get(param) or "").strip() if name != "q" else ""
        if not raw:
            continue
        if name not in labels:
            raise _refuse(param, f"Filter '{param}'", f"the {item_type.plural} tab has no such filter.")
        label = labels[name]
        try:
            values[name] = _parse(name, raw, param)
        except Invalid as exc:
            raise _refuse(param, label, exc.fields.get(param) or exc.message) from None
    query = GridQuery(q=q, **values)  # type: ignore[arg-type]
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise _refuse("to", labels["date_to"], f"must be on or after {query.date_from:%m/%d/%Y}.")
    if query.amount_min is not None and query.amount_max is not None and query.amount_min > query.amount_max:
        raise _refuse("max", labels["amount_max"], f"must be at least {query.amount_min:,.2f}.")
    return query


def _parse(name: str, raw: str, param: str) -> object:
    if name in ("project", "vendor"):
        return parse_id(raw, param)
    if name == "period":
        month = _MONTH.fullmatch(raw)
        if not month or not 1 <= int(month.group(2)) <= 12 or not 1900 <= int(month.group(1)) <= 2999:
            raise Invalid("", fields={param: "Enter a month as YYYY-MM."})
        return date(int(month.group(1)), int(month.group(2)), 1)
    if name in ("date_from", "date_to"):
        if len(raw) > 10:
            raise Invalid("", fields={param: "Enter a date as MM/DD/YYYY."})
        return parse_date(raw, param)
    return parse_money(raw, param)


def typed_amount(q: str) -> Decimal | None:
    """The amount a search names ("12,500", "$12,500.00", "12500"), or None when it names none."""
    if not any(c.isdigit() for c in q):
        return None
    try:
        return parse_money(q, "q")
    except Invalid:
        return None


def match_ids(item_type: ItemType, query: GridQuery) -> Select | None:
    """A select of the ids of the type's items the search and filters keep; None: all of them."""
    model, has = item_type.model, item_type.filters
    keep = []
    # parse_grid let through only the filters the type has
    if query.project is not None:
        keep.append(has.project == query.project)
    if query.vendor is not None:
        keep.append(has.vendor == query.vendor)
    if query.period is not None:
        end = date(query.period.year + query.period.month // 12, query.period.month % 12 + 1, 1)
        keep += [has.period >= query.period, has.period < end]
    if has.dates is not None:
        if query.date_from is not None:
            keep.append(has.dates[1] >= query.date_from)
        if query.date_to is not None:
            keep.append(has.dates[1] <= query.date_to)
    if has.amount is not None:
        if query.amount_min is not None:
            keep.append(has.amount[1] >= query.amount_min)
        if query.amount_max is not None:
            keep.append(has.amount[1] <= query.amount_max)
    if not query.q:
        return select(model.id).where(*keep) if keep else None
    amount = typed_amount(query.q) if has.amounts else None
    if amount is None:   # the type's own search, narrowed by the filters (one select, as before them)
        return item_type.search_ids(query.q).where(*keep)
    return select(model.id).where(or_(model.id.in_(item_type.search_ids(query.q)),
                                      *[expr == amount for expr in has.amounts]), *keep)


@dataclass(frozen=True)
class Choices:
    """What the filter form offers to choose from: projects and vendors, (id, name) each."""
    projects: list[tuple[int, str]]
    vendors: list[tuple[int, str]]


def choices(session: Session, item_type: ItemType) -> Choices:
    """The projects and vendors the type's filters offer (one query each, only for the filters the
    type has): every project, and the vendors with a commitment."""
    projects: list[tuple[int, str]] = []
    vendors: list[tuple[int, str]] = []
    if item_type.filters.project is not None:
        projects = [(i, f"{number} {name}") for i, number, name in session.execute(
            select(Project.id, Project.number, Project.name).order_by(Project.number, Project.id))]
    if item_type.filters.vendor is not None:
        used = select(Commitment.vendor_id)
        vendors = [(i, name) for i, name in session.execute(
            select(Vendor.id, Vendor.name).where(Vendor.id.in_(used)).order_by(Vendor.name, Vendor.id))]
    return Choices(projects, vendors)
