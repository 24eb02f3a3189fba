"""One test per table: every row checked, one failure naming each row that failed and why."""
from __future__ import annotations

from collections.abc import Callable, Iterable


def check_rows(rows: dict | Iterable, check: Callable) -> None:
    """Call check(*row) (check(row) for a row that is not a tuple) for every row of the table (a dict:
    its values, named by their keys); assert once, naming every failing row with what went wrong."""
    named = rows.items() if isinstance(rows, dict) else ((row, row) for row in rows)
    failures = []
    for name, row in named:
        try:
            check(*row) if isinstance(row, tuple) else check(row)
        except AssertionError as exc:
            failures.append(f"{name}: {exc or 'assertion failed'}")
        except Exception as exc:  # noqa: BLE001 - an unexpected error is a failing row too
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} row(s) failed:\n  " + "\n  ".join(failures)
