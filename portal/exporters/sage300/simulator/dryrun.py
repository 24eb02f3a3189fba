"""The dry run: Sage's answer to items' import files without importing anything.

Each item's batches go through the very code submit runs (ImportersMixin._import: the
encoding check, then the kind's importer, its checks and inserts) inside a savepoint that
is rolled back, all of a page's items in one transaction that is rolled back too, so no
rule is written twice and nothing is left behind. The import log is not consulted (a
dry run asks whether Sage would take the records, not whether it took them already) and the
hourly request limit is not used up; its state is a warning.
"""
from __future__ import annotations

from sqlalchemy import func, select

from ..records import Batch, DryRun
from .importers import ImportersMixin
from .rules import RATE_LIMITED
from .schema import naive_utc, request_log_t

HOURLY_LIMIT_REACHED = ("Sage's hourly request limit is reached: the export waits until it resets "
                        f"(Sage says: {RATE_LIMITED})")


class DryRunMixin(ImportersMixin):
    """dry_run(plans): one rolled-back transaction for a page of items."""

    def dry_run(self, plans: list[list[Batch]]) -> list[DryRun]:
        """What Sage would answer to each plan (one item's batches, in order): its first
        refusal, or ok. One connection and one transaction for all of them, rolled back; each
        plan in a savepoint of its own, so one item's records never meet another's."""
        if not plans:
            return []
        out: list[DryRun] = []
        with self.engine.connect() as conn, conn.begin() as outer:
            # the same lock as submit: the checks see what the imports before them committed
            self._serialise(conn)
            _, settings = self._log_and_settings(conn, "", "")
            now = naive_utc(self.clock())
            warnings: tuple[str, ...] = ()
            if settings["hourly_limit"] > 0 and conn.scalar(
                    select(func.count()).select_from(request_log_t)
                    .where(request_log_t.c.Requested_At > now - self.rate_window)) >= settings["hourly_limit"]:
                warnings = (HOURLY_LIMIT_REACHED,)
            for plan in plans:
                out.append(self._dry_run_one(conn, plan, settings, now, warnings))
            outer.rollback()
        return out

    def _dry_run_one(self, conn, plan: list[Batch], settings: dict, now, warnings: tuple[str, ...]) -> DryRun:
        savepoint = conn.begin_nested()
        try:
            for batch in plan:
                result, _ = self._import(self._importer(batch), conn, batch, settings, now)
                if not result.ok:
                    return DryRun(ok=False, message=result.message, warnings=warnings)
            return DryRun(ok=True, warnings=warnings)
        except ValueError as exc:  # a malformed batch: the export would fail the same way
            return DryRun(ok=None, message=f"The import files could not be checked: {exc}")
        finally:
            savepoint.rollback()
