"""The ports the domain talks through: the job queue and the Sage connector (RQ and the
Sage 300 CRE connectors in the app, fakes or real workers in tests)."""
from __future__ import annotations

from typing import Any, Protocol

from portal.exporters.sage300.records import Batch, DryRun, SageResult, SetupCheck


class ExportQueue(Protocol):
    def export_many(self, items: list[tuple[int, int, str]]) -> None:
        """Queue exports of (erp item id, attempt, job id) in one round trip; items that share
        a job id are exported one after another by that one job."""


class MailQueue(Protocol):
    def mail(self, mail_id: int, job_id: str) -> None: ...


class SyncQueue(Protocol):
    def sync(self, run_id: int, job_id: str) -> None: ...


class JobStatuses(Protocol):
    def statuses(self, job_ids: list[str]) -> dict[str, str | None]:
        """The queue's status of each job (None: unknown job; "unreachable": queue down)."""


class Connector(Protocol):
    reader: Any   # what syncs read Sage through (None: the connector cannot read Sage)

    def submit(self, batch: Batch) -> SageResult: ...

    def held_by_sage(self, kind: str, ref: dict) -> list[str]: ...

    def setup_checks(self) -> list[SetupCheck]: ...

    def commitment_figures(self, commitments: list[str]) -> dict[str, dict]:
        """Sage's side of these commitments in one call (SageUnreadable: it cannot read Sage)."""

    def job_figures(self, jobs: list[str]) -> dict[str, dict]:
        """Sage's side of these jobs in one call (SageUnreadable: it cannot read Sage)."""

    def dry_run(self, plans: list[list[Batch]]) -> list[DryRun]:
        """What Sage would answer to each item's batches (in order), nothing written: one
        call for a page of items. ConnectorUnavailable when Sage cannot be reached."""


class SageSetup(Protocol):
    def setup_checks(self) -> list[SetupCheck]:
        """Sage's setup prerequisites as they stand (raises ConnectorUnavailable when Sage is out of reach)."""
