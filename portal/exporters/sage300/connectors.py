"""Connectors: where a Batch goes. Both are idempotent per batch_id.

SimulatorConnector  -> the embedded Sage 300 CRE simulator (its own database).
FileDropConnector   -> an import file per batch (any kind) in a folder Sage imports from.
make_connector(config) picks one from SAGE_* config keys.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from .dropfolder import write_import_file
from .fileformat import UnwritableCharacter, encoding_problem, import_file
from .records import TAX_GROUPS, Batch, ConnectorUnavailable, DryRun, SageResult, SageUnreadable, SetupCheck
from .simulator import Sage300Simulator, make_engine
from .simulator.rules import field_error
from .simulator.sage_setup import AP_USAGES, TAX_GROUPS_LABEL

# what the file drop cannot read, and what to make sure of in Sage instead
UNCHECKED = "not checked (the file-drop connector only writes import files and cannot read Sage)"
UNCHECKED_FIX = {key: "make sure it is Not Required or Not Used in Sage AP Settings (Invoice Settings)"
                 for key in AP_USAGES}
UNCHECKED_FIX[TAX_GROUPS] = "make sure hh2's Tax Group Sync is off: invoices cannot be exported while it is on"


class DryRunAnswers:
    """Sage's dry-run answers by (the simulator's change mark, the item's import files): an
    answer is reused only while neither Sage's side (any write to the simulator moves its mark)
    nor what the portal would send (the files are the key) has changed, so none is stale.
    Thread-safe; the least recently used are dropped past `size`."""

    def __init__(self, size: int = 20_000):
        self.size = size
        self._answers: OrderedDict[tuple[str, str], DryRun] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(mark: str, plan: list[Batch]) -> tuple[str, str] | None:
        """None for a plan whose repr is not its content (a record that is no dataclass)."""
        # records are frozen dataclasses: their repr is every field, Decimals and dates exact
        text = repr(tuple(plan))
        if " object at 0x" in text:
            return None
        return mark, hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], DryRun]:
        with self._lock:
            found = {k: self._answers[k] for k in keys if k in self._answers}
            for k in found:
                self._answers.move_to_end(k)
        return found

    def put(self, answers: dict[tuple[str, str], DryRun]) -> None:
        with self._lock:
            self._answers.update(answers)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)


class SimulatorConnector:
    """Submits to a Sage300Simulator; a database that cannot be reached is ConnectorUnavailable.

    `reader` is what reads Sage back (the simulator: list_vendors, job_costs, ...); `sim` is
    the same object under its older name. `answers`: the dry-run answers kept between calls
    (make_connector shares one per simulator database), None to ask the simulator every time."""

    def __init__(self, sim: Sage300Simulator, answers: DryRunAnswers | None = None):
        self.sim = sim
        self.reader: Sage300Simulator | None = sim
        self.answers = answers

    def held(self) -> AbstractContextManager[None]:
        """Inside this block every submit uses one database connection (a job of many exports)."""
        return self.sim.holding_connection()

    def ping(self) -> str:
        """A trivial query on the simulator's database (the health page); ConnectorUnavailable if it fails."""
        try:
            with self.sim.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise ConnectorUnavailable(f"Sage 300 CRE simulator unavailable: {exc.orig}") from exc
        return "the simulator's database answers"

    def submit(self, batch: Batch) -> SageResult:
        try:
            return self.sim.submit(batch)
        except OperationalError as exc:  # nothing was imported: the transaction rolled back
            raise ConnectorUnavailable(f"Sage 300 CRE simulator unavailable: {exc.orig}") from exc
        except OSError as exc:  # the drop folder failed before the commit, so likewise
            raise ConnectorUnavailable(f"cannot write the import file: {exc}") from exc

    def setup_checks(self) -> list[SetupCheck]:
        """Sage's setup prerequisites (AP Settings, Tax Group Sync) as the simulator holds them."""
        try:
            return self.sim.setup_checks()
        except OperationalError as exc:
            raise ConnectorUnavailable(f"Sage 300 CRE simulator unavailable: {exc.orig}") from exc

    def dry_run(self, plans: list[list[Batch]]) -> list[DryRun]:
        """Sage's answer to each item's batches, nothing imported (the simulator's rules in a
        rolled-back transaction): one call for a page of items. Answers kept since Sage's side
        last changed are reused (one statement reads its change mark); only the rest are run."""
        try:
            mark = self.sim.change_mark() if self.answers is not None and plans else None
            if mark is None or self.answers is None:
                return self.sim.dry_run(plans)
            keys = [self.answers.key(mark, plan) for plan in plans]
            found = self.answers.get([k for k in keys if k is not None])
            answers = [None if k is None else found.get(k) for k in keys]
            todo = [i for i, answer in enumerate(answers) if answer is None]
            if todo:
                fresh: dict[tuple[str, str], DryRun] = {}
                for i, answer in zip(todo, self.sim.dry_run([plans[i] for i in todo]), strict=True):
                    answers[i] = answer
                    key = keys[i]
                    if key is not None:
                        fresh[key] = answer
                self.answers.put(fresh)
            return [answer for answer in answers if answer is not None]  # every one answered by now
        except OperationalError as exc:
            raise ConnectorUnavailable(f"Sage 300 CRE simulator unavailable: {exc.orig}") from exc

    # what identifies an item's record, by Sage record kind: the simulator's find_* method
    FINDERS = {"ap_vendor": "find_vendor", "jc_commitment": "find_commitment", "jc_commitment_co": "find_cco",
               "ap_invoice": "find_invoice", "ar_invoice": "find_ar_invoice", "jc_pcco": "find_change_transactions"}

    def held_by_sage(self, kind: str, ref: dict) -> list[str]:
        """Descriptions of the Sage records still there for an item (empty: free to unlink); a
        kind with no finder of its own is a generic kind, its records found by ref's fields."""
        try:
            finder = self.FINDERS.get(kind)
            if finder is None:
                return self.sim.find_generic(kind, ref)
            return getattr(self.sim, finder)(**ref)
        except OperationalError as exc:
            raise ConnectorUnavailable(f"Sage 300 CRE simulator unavailable: {exc.orig}") from exc

    def commitment_figures(self, commitments: list[str]) -> dict[str, dict]:
        """Sage's side of these commitments (see the simulator's commitment_figures), one call."""
        try:
            return self.sim.commitment_figures(commitments)
        except OperationalError as exc:
            raise ConnectorUnavailable(f"Sage 300 CRE simulator unavailable: {exc.orig}") from exc

    def job_figures(self, jobs: list[str]) -> dict[str, dict]:
        """Sage's side of these jobs (see the simulator's job_figures), one call."""
        try:
            return self.sim.job_figures(jobs)
        except OperationalError as exc:
            raise ConnectorUnavailable(f"Sage 300 CRE simulator unavailable: {exc.orig}") from exc

    def invoice_payments(self, vendor: str | None = None, invoice: str | None = None) -> dict[tuple[str, str], dict]:
        """What Sage paid per AP invoice, {(vendor, invoice): {"paid": Decimal, "payments": [{check_number,
        check_date, amount}]}}: every paid invoice, a vendor's, or one (the reconciliation page's read)."""
        try:
            rows = self.sim.list_ap_payments(vendor, invoice)
        except OperationalError as exc:
            raise ConnectorUnavailable(f"Sage 300 CRE simulator unavailable: {exc.orig}") from exc
        out: dict[tuple[str, str], dict] = {}
        for r in rows:
            entry = out.setdefault((r["Vendor"], r["Invoice"]), {"paid": Decimal("0"), "payments": []})
            entry["paid"] += Decimal(r["Amount"])
            entry["payments"].append({"check_number": r["Check_Number"], "check_date": r["Check_Date"],
                                      "amount": Decimal(r["Amount"])})
        return out


FILE_DROP_CANNOT_READ = ("Reconciliation needs a connection that can read Sage 300 CRE (the simulator); the "
                         "file-drop connector only writes import files, so Sage's figures cannot be shown.")


class FileDropConnector:
    """Writes the batch's import file into a folder; the same batch_id overwrites the same file.
    It cannot read Sage back: `reader` is None."""

    def __init__(self, folder: str):
        self.folder = folder
        self.reader: Sage300Simulator | None = None

    def held(self) -> AbstractContextManager[None]:
        return nullcontext()

    def ping(self) -> str:
        """The folder can be written (or made: the first file creates it); ConnectorUnavailable if not."""
        folder = existing = os.path.abspath(self.folder)
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
            raise ConnectorUnavailable(f"cannot write to {folder}")
        return f"the drop folder {folder} can be written"

    def submit(self, batch: Batch) -> SageResult:
        try:
            name = write_import_file(self.folder, batch.batch_id, import_file(batch))
        except UnwritableCharacter as exc:  # a refusal of the data, as Sage's own: Failed to Export
            return SageResult(ok=False, message=str(exc))
        except OSError as exc:
            raise ConnectorUnavailable(f"cannot write to {self.folder}: {exc}") from exc
        return SageResult(ok=True, reference=name)

    def setup_checks(self) -> list[SetupCheck]:
        """What the file drop cannot check (ok None): each prerequisite with what to make sure of."""
        labels = {key: label for key, (_setting, label) in AP_USAGES.items()} | {TAX_GROUPS: TAX_GROUPS_LABEL}
        return [SetupCheck(key, label, None, UNCHECKED, UNCHECKED_FIX[key]) for key, label in labels.items()]

    # what a file drop cannot know, since it cannot read Sage: said on every pre-check
    UNCHECKED = ("whether the vendor is active", "whether the job is open", "cost codes and categories in Sage",
                 "duplicate numbers", "closed GL periods", "amounts over the commitment")

    def dry_run(self, plans: list[list[Batch]]) -> list[DryRun]:
        """What can be known without Sage: each record's required fields and lengths (Sage's
        own texts and rules, simulator/rules.py) and the characters its import file can carry."""
        return [self._dry_run_one(plan) for plan in plans]

    def _dry_run_one(self, plan: list[Batch]) -> DryRun:
        for batch in plan:
            for record in batch.records:
                message = field_error(record) if hasattr(type(record), "SAGE_FIELDS") else None
                if message:
                    return DryRun(ok=False, message=message, unchecked=self.UNCHECKED)
            try:
                problem = encoding_problem(import_file(batch))
            except ValueError as exc:
                return DryRun(ok=None, message=f"The import files could not be checked: {exc}")
            if problem:
                return DryRun(ok=False, message=problem, unchecked=self.UNCHECKED)
        return DryRun(ok=True, unchecked=self.UNCHECKED)

    def held_by_sage(self, kind: str, ref: dict) -> list[str]:
        """Import files cannot be read back: SageUnreadable, so nothing is unlinked unchecked."""
        raise SageUnreadable("Unlinking needs a connection that can read Sage 300 CRE (the simulator); "
                             "the file-drop connector only writes import files, so nothing was unlinked.")

    def commitment_figures(self, commitments: list[str]) -> dict[str, dict]:
        """Import files cannot be read back: SageUnreadable."""
        raise SageUnreadable(FILE_DROP_CANNOT_READ)

    def job_figures(self, jobs: list[str]) -> dict[str, dict]:
        """Import files cannot be read back: SageUnreadable."""
        raise SageUnreadable(FILE_DROP_CANNOT_READ)

    def invoice_payments(self, vendor: str | None = None, invoice: str | None = None) -> dict[tuple[str, str], dict]:
        """Payments cannot be read from import files: SageUnreadable."""
        raise SageUnreadable("Reading payments needs a connection that can read Sage 300 CRE (the simulator); "
                             "the file-drop connector only writes import files.")


# Engines are process-wide, thread-safe and own a connection pool, so one per (url, schema)
# is shared by every request and worker thread; creating one per call would leak pools
# (and for PostgreSQL, connections). Only the engine is cached: the simulator object is
# cheap and takes its drop folder and setting defaults from each call's config. The lock
# only guards creating the engine (and the tables) once. A forked child (an RQ
# work-horse) must not use the parent's pooled connections, so the cache is per pid.
_engines: dict = {}
_answers: dict = {}   # (url, schema) -> DryRunAnswers: the pre-check's answers, kept with the engine
_engines_lock = threading.Lock()
_engines_pid = os.getpid()


def _periods(value) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else (value or ())
    return tuple(p.strip() for p in items if p.strip())


def make_connector(config: dict):  # SimulatorConnector | FileDropConnector; unannotated while callers read .sim
    """The connector named by config["SAGE_CONNECTOR"] ("simulator" by default, or "filedrop")."""
    kind = (config.get("SAGE_CONNECTOR") or "simulator").lower()
    if kind == "filedrop":
        folder = config.get("SAGE_DROP_FOLDER")
        if not folder:
            raise ValueError("SAGE_CONNECTOR=filedrop needs SAGE_DROP_FOLDER")
        return FileDropConnector(folder)
    if kind != "simulator":
        raise ValueError(f"unknown SAGE_CONNECTOR {kind!r}")

    global _engines_pid
    url = config.get("SAGE_SIM_DATABASE_URL") or "sqlite:///sage300_sim.db"
    schema = config.get("SAGE_SIM_SCHEMA") or None

    def simulator(engine: Engine) -> Sage300Simulator:
        # the drop folder and setting defaults come from this call's config; the engine is shared
        return Sage300Simulator(
            url, schema=schema, engine=engine, drop_folder=config.get("SAGE_DROP_FOLDER") or None,
            closed_periods=_periods(config.get("SAGE_SIM_CLOSED_PERIODS")),
            tolerance_pct=Decimal(str(config.get("SAGE_SIM_TOLERANCE_PCT") or "0")),
            hourly_limit=int(config.get("SAGE_SIM_HOURLY_LIMIT") or 0),
            rate_window_seconds=int(config.get("SAGE_SIM_RATE_WINDOW_SECONDS") or 3600))

    with _engines_lock:
        if _engines_pid != os.getpid():
            for engine in _engines.values():
                engine.dispose(close=False)  # leave the parent's connections to the parent
            _engines.clear()
            _answers.clear()
            _engines_pid = os.getpid()
        engine = _engines.get((url, schema))
        if engine is None:
            engine = make_engine(url, schema)
            try:
                simulator(engine).create_all()
            except OperationalError as exc:
                engine.dispose()
                raise ConnectorUnavailable(f"Sage 300 CRE simulator unavailable: {exc.orig}") from exc
            _engines[(url, schema)] = engine
            _answers[(url, schema)] = DryRunAnswers()
        answers = _answers[(url, schema)]
    return SimulatorConnector(simulator(engine), answers)
