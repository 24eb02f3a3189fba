"""Search boxes: a case-insensitive LIKE where what the user types is literal."""
from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement


def like_text(q: str) -> str:
    """A LIKE pattern for q where % and _ typed by the user are literal."""
    text = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{text}%"


def like(column, q: str) -> ColumnElement[bool]:
    return func.lower(column).like(like_text(q), escape="\\")
