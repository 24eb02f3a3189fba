"""Reading what a batch refers to, one query per table: the rows an importer checks are
read up front (every job, extra, category, ... the batch names), then checked in Python in
Sage's order, so a document with many lines costs as many statements as one with a line."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, bindparam, select
from sqlalchemy.engine import Connection

from ..mapping import ORIGINAL_ESTIMATE
from .rules import JOB_CLOSED, NO_CATEGORY, NOT_FOUND, Refused
from .schema import (
    category_t,
    contract_item_t,
    cost_code_t,
    extra_t,
    job_t,
    transaction_t,
)


class Present:
    """Which keys (a value per column) have a row: one statement, built once, with an expanding
    IN list per column (so the primary key's index serves it on SQLite and PostgreSQL alike);
    only the exact keys asked for are kept from what it returns."""

    def __init__(self, *columns: Column, where: tuple = ()):
        self.names = tuple(f"in_{n}" for n in range(len(columns)))
        self.statement = select(*columns).where(
            *(column.in_(bindparam(name, expanding=True)) for column, name in zip(columns, self.names, strict=True)),
            *where)

    def __call__(self, conn: Connection, keys: Iterable[tuple]) -> set[tuple]:
        wanted = set(keys)
        if not wanted:
            return set()
        values = {name: sorted({key[n] for key in wanted}) for n, name in enumerate(self.names)}
        return {tuple(r) for r in conn.execute(self.statement, values)} & wanted


# Statements are built once: building and hashing a statement costs more than running it here.
JOBS = select(job_t.c.Job, job_t.c.Status).where(job_t.c.Job.in_(bindparam("jobs", expanding=True)))
EXTRAS = select(extra_t.c.Job, extra_t.c.Extra, extra_t.c.Status).where(
    extra_t.c.Job.in_(bindparam("jobs", expanding=True)), extra_t.c.Extra.in_(bindparam("extras", expanding=True)))
CATEGORIES = Present(category_t.c.Job, category_t.c.Extra, category_t.c.Cost_Code, category_t.c.Category)
COST_CODES = Present(cost_code_t.c.Job, cost_code_t.c.Extra, cost_code_t.c.Cost_Code)
CONTRACT_ITEMS = Present(contract_item_t.c.Contract, contract_item_t.c.Item)
ESTIMATES = Present(transaction_t.c.Job, transaction_t.c.Extra, transaction_t.c.Cost_Code, transaction_t.c.Category,
                    where=(transaction_t.c.Transaction_Type == ORIGINAL_ESTIMATE,))


class Codings:
    """The jobs, extras and categories a batch's codings name, read in one query per table
    (load), then checked in the batch's order (open_job, check, has_category)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.jobs: dict[str, str | None] = {}        # job -> Status (None: not in Sage)
        self.extras: dict[tuple[str, str], str] = {}  # (job, extra) -> Status, of those in Sage
        self.categories: set[tuple[str, str, str, str]] = set()

    def known_job(self, job: str, status: str | None) -> None:
        self.jobs[job] = status

    def load(self, codings: Iterable[tuple], jobs: Iterable[str] = ()) -> Codings:
        """Read the jobs, extras and categories of these (job, extra, cost code, category) codings."""
        keys = {(job, extra or "", cost_code, category) for job, extra, cost_code, category in codings}
        asked = ({k[0] for k in keys} | set(jobs)) - set(self.jobs)
        if asked:
            found = dict(self.conn.execute(JOBS, {"jobs": sorted(asked)}).all())
            self.jobs.update({job: found.get(job) for job in asked})
        pairs = {(k[0], k[1]) for k in keys if k[1]} - set(self.extras)
        if pairs:
            self.extras.update({(r.Job, r.Extra): r.Status for r in self.conn.execute(
                EXTRAS, {"jobs": sorted({p[0] for p in pairs}), "extras": sorted({p[1] for p in pairs})})})
        self.categories |= CATEGORIES(self.conn, keys - self.categories)
        return self

    def open_job(self, job: str) -> None:
        """The job is in Sage and not closed."""
        if job not in self.jobs:
            self.load((), jobs=[job])
        status = self.jobs[job]
        if status is None:
            raise Refused(NOT_FOUND)
        if status == "Closed":
            raise Refused(JOB_CLOSED)

    def has_category(self, job: str, extra: str, cost_code: str, category: str) -> bool:
        return (job, extra or "", cost_code, category) in self.categories

    def check(self, job: str, extra: str, cost_code: str, category: str) -> None:
        """The job is there and open, the extra (when given) not closed, the category on the job's
        (or extra's) cost code."""
        self.open_job(job)
        if extra and self.extras.get((job, extra)) == "Closed":
            raise Refused(JOB_CLOSED)
        if not self.has_category(job, extra, cost_code, category):
            raise Refused(NO_CATEGORY)


def open_job(conn: Connection, job: str) -> None:
    """The job is in Sage and not closed (else Refused)."""
    Codings(conn).open_job(job)
