"""A tab's downloads: CSV and Excel of exactly what the tab filters (every page, in its order).

Text cells cannot run as formulas (CSV: values.csv_cell; Excel: written as strings, with
XlsxWriter's formula reading off); amounts are numbers. The rows are read a chunk at a time,
each chunk in the tab's few queries, never a statement per row.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.domain import policy
from portal.domain.errors import PermissionDenied
from portal.domain.grid import GridQuery, match_ids
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, User
from portal.domain.tabs import FILTERS, sort_of, sorted_erp_select
from portal.domain.types import get_type
from portal.domain.values import csv_cell, local_time

CHUNK = 500   # rows read per round (each round: the items and their row values, a query or two)
_MONEY = re.compile(r"(-?)\$([0-9,]+\.[0-9]{2})")
_COUNT = re.compile(r"[0-9]+")

Cell = str | Decimal | int


@dataclass(frozen=True)
class TabTable:
    """The rows of a download: headings, then each row's cells (text, an amount, a count)."""
    title: str          # the file's name, without its extension: "subcontractor_invoice-ready"
    headings: list[str]
    money: set[int]     # the columns holding amounts
    rows: list[list[Cell]]


def number(text: str) -> Cell:
    """A tab's numeric cell as a number: "$12,500.00" -> Decimal("12500.00"), "3" -> 3; else the text."""
    if match := _MONEY.fullmatch(text):
        return Decimal(match.group(1) + match.group(2).replace(",", ""))
    return int(text) if _COUNT.fullmatch(text) else text


def tab_table(session: Session, user: User, type_key: str, filter_key: str, query: GridQuery,
              sort: str, desc: bool, tz: ZoneInfo) -> TabTable:
    """Every row the tab shows under this filter, search and filters, across all its pages, in
    the tab's order (a column's, else newest sent first), times on the company's clock."""
    if not policy.can(user, policy.VIEW_ERP):
        raise PermissionDenied("You need access to the ERP Integrations tool.")
    item_type = get_type(type_key)
    filter_key = filter_key if filter_key in FILTERS else "ready"
    match = match_ids(item_type, query)
    by = sort_of(item_type, sort)
    if by is None:
        stmt = select(ErpItem).where(ErpItem.item_type == item_type.key, ErpItem.state.in_(FILTERS[filter_key][1]))
        if match is not None:
            stmt = stmt.where(ErpItem.item_id.in_(match))
        stmt = stmt.order_by(ErpItem.sent_at.desc(), ErpItem.id.desc())
    else:
        stmt = sorted_erp_select(item_type, FILTERS[filter_key][1], 0, None, match, by, desc)
    erps = list(session.scalars(stmt.options(joinedload(ErpItem.sent_by))))
    columns = item_type.columns
    numeric = [c.css == "num" for c in columns]
    headings = [c.label for c in columns] + ["Sent By", "Sent At", "Status", "ERP ID", "Sage's message"]
    rows: list[list[Cell]] = []
    for chunk in _chunks(erps):
        items = item_type.load_many(session, [e.item_id for e in chunk], item_type.tab_options())
        values = item_type.row_values_many(session, list(items.values()))
        for erp in chunk:
            if erp.item_id not in items:
                continue
            shown = values[erp.item_id]
            cells: list[Cell] = [number(str(shown.get(c.key, ""))) if num else str(shown.get(c.key, ""))
                                 for c, num in zip(columns, numeric, strict=True)]
            cells += [erp.sent_by.name if erp.sent_by else "", local_time(erp.sent_at, tz),
                      State.LABELS.get(erp.state, erp.state), erp.erp_ref or "",
                      erp.sage_message or "" if erp.state == State.FAILED else ""]
            rows.append(cells)
    money = {i for i, num in enumerate(numeric) if num and any(isinstance(r[i], Decimal) for r in rows)}
    return TabTable(f"{item_type.key}-{filter_key}", headings, money, rows)


def _chunks(erps: list[ErpItem]) -> Iterator[list[ErpItem]]:
    for start in range(0, len(erps), CHUNK):
        yield erps[start:start + CHUNK]


def as_csv(table: TabTable) -> str:
    """The table as CSV: text through csv_cell (no formulas), amounts as plain numbers (12500.00)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(h) for h in table.headings])
    for row in table.rows:
        writer.writerow([str(c) if isinstance(c, Decimal | int) else csv_cell(c) for c in row])
    return out.getvalue()


def as_xlsx(table: TabTable) -> bytes:
    """The table as an Excel workbook: text cells are strings (never formulas, whatever they start
    with), amounts numbers formatted as money, counts whole numbers; headings bold and frozen."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_numbers": False, "strings_to_urls": False})
    sheet = book.add_worksheet(table.title[:31])
    bold, money = book.add_format({"bold": True}), book.add_format({"num_format": "#,##0.00"})
    for col, heading in enumerate(table.headings):
        sheet.write_string(0, col, heading, bold)
        sheet.set_column(col, col, max(12, min(40, len(heading) + 2)))
    for r, row in enumerate(table.rows, start=1):
        for col, cell in enumerate(row):
            if isinstance(cell, Decimal):
                sheet.write_number(r, col, float(cell), money)
            elif isinstance(cell, int):
                sheet.write_number(r, col, cell)
            else:
                sheet.write_string(r, col, cell)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(1, len(table.rows)), len(table.headings) - 1)
    book.close()
    return out.getvalue()
