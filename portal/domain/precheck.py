"""Pre-check before Accept ("Will Sage accept this?"): an item's import files put to the
connector's dry run, so the approver learns before Export what Sage would refuse.

The connector answers with the same rules its submit applies, nothing written (the
simulator: its importers in a rolled-back transaction; the file drop: what it can check
without Sage, and what it cannot). A page of a tab is checked in one connector call, so the
cost follows the page size, never the number of items (bench/bench_tab.py). The simulator's
connector keeps its answers by (Sage's change mark, the item's import files): an unchanged row
on an unchanged Sage costs one statement on Sage's side, and a Sage-side change (a vendor made
inactive, a job closed on the simulator's page) or a change of what the item would send shows
on the next load, never a kept answer (connectors.DryRunAnswers).

The export fields an approver types at Accept are not known before it: a row is checked
with its last accepted fields (a Failed to Export row) or the type's defaults, a required
field still blank given a stand-in (PLACEHOLDER) and named in a warning; the Accept form
checks again with what is typed (check_fields).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from portal.domain import policy, settings
from portal.domain.errors import Invalid, NotFound, PermissionDenied
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, User
from portal.domain.ports import Connector
from portal.domain.services import REASON_MAX
from portal.domain.types import ItemType, get_type
from portal.exporters.sage300.records import ConnectorUnavailable, DryRun
from portal.exporters.sage300.troubleshooting import explain

CHECKED_STATES = (State.READY, State.FAILED)   # the states Accept (or Retry) starts from
PLACEHOLDER = "PRECHECK"   # a required export field not known before Accept (cut to its length)


@dataclass(frozen=True)
class Problem:
    """A refusal Sage would give: its text, and the troubleshooting table's cause and solution."""
    message: str
    cause: str = ""
    solution: str = ""
    project_team: bool = False   # the project team can fix it: Reject back to them

    @property
    def reason(self) -> str:
        """The rejection reason suggested by "Reject with this reason"."""
        text = f"Sage 300 CRE would refuse this item: {self.message}"
        if self.cause:
            text += f" Cause: {self.cause}"
        if self.solution:
            text += f" Solution: {self.solution}"
        return text[:REASON_MAX]


@dataclass(frozen=True)
class Precheck:
    """The pre-check of one item: blocking problems (Export disabled) and warnings."""
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return bool(self.problems)


def problem(message: str) -> Problem:
    why = explain(message)
    if why is None:
        return Problem(message)
    return Problem(message, why.cause, why.solution, why.project_team)


def from_dry_run(answer: DryRun, guessed: Sequence[str] = ()) -> Precheck:
    """A connector's answer as the approver reads it."""
    warnings = list(answer.warnings)
    if guessed:
        warnings.append(f"Checked with a stand-in for {', '.join(guessed)}: typed at Accept, checked there.")
    if answer.unchecked:
        warnings.append("This connection cannot check " + ", ".join(answer.unchecked) + ".")
    if answer.ok is None:
        warnings.append(answer.message or "Not checked.")
    problems = (problem(answer.message),) if answer.ok is False else ()
    return Precheck(problems, tuple(warnings))


def unavailable(exc: Exception) -> Precheck:
    return Precheck(warnings=(f"Not checked: Sage 300 CRE could not be reached ({exc}).",))


def known_fields(item_type: ItemType, item: Any, erp: ErpItem) -> tuple[dict, list[str]]:
    """The export fields as far as they are known before Accept, and the labels of the
    required ones given a stand-in."""
    fields = dict(erp.export_fields or item_type.export_defaults(item))
    guessed = []
    for spec in item_type.accept_fields(item):
        if spec.required and spec.widget in ("text", "number") and not str(fields.get(spec.name) or "").strip():
            fields[spec.name] = PLACEHOLDER[:spec.maxlength] if spec.maxlength else PLACEHOLDER
            guessed.append(spec.label)
    return fields, guessed


def batch_id(erp: ErpItem) -> str:
    return f"precheck-{erp.id}"


def check_page(session: Session, item_type: ItemType, rows: Sequence[tuple[ErpItem, Any]],
               connector: Connector | None) -> dict[int, Precheck]:
    """Pre-checks of a page's Ready and Failed rows ((erp item, item) pairs) by erp item id:
    the items mapped in one go (export_batches_many) and put to one dry-run call."""
    todo = [(erp, item) for erp, item in rows if erp.state in CHECKED_STATES]
    if connector is None or not todo:
        return {}
    with settings.remembered(session):  # defaults and mappings may read a setting: once per page
        known = [known_fields(item_type, item, erp) for erp, item in todo]
        mapped = item_type.export_batches_many(session, [(erp.item_id, fields, batch_id(erp)) for (erp, _), (fields, _)
                                                         in zip(todo, known, strict=True)])
    out: dict[int, Precheck] = {}
    plans, planned = [], []
    for (erp, _), (_, guessed), batches in zip(todo, known, mapped, strict=True):
        if isinstance(batches, NotFound | Invalid | KeyError | ValueError):
            out[erp.id] = Precheck(warnings=(f"Not checked: the item could not be mapped for Sage ({batches}).",))
        elif isinstance(batches, Exception):
            raise batches
        else:
            plans.append(batches)
            planned.append((erp.id, guessed))
    if plans:
        try:
            answers = connector.dry_run(plans)
        except ConnectorUnavailable as exc:
            return {**out, **{erp_id: unavailable(exc) for erp_id, _ in planned}}
        for (erp_id, guessed), answer in zip(planned, answers, strict=True):
            out[erp_id] = from_dry_run(answer, guessed)
    return out


def check_fields(session: Session, item_type: ItemType, erp: ErpItem, item: Any, raw: dict,
                 connector: Connector) -> tuple[Precheck, dict]:
    """The Accept form's pre-check of what the approver typed: the field errors the Accept
    would give (then nothing is put to Sage), else Sage's dry run of the export."""
    try:
        fields = item_type.parse_export_fields(session, item, raw)
    except Invalid as exc:
        return Precheck(), exc.fields
    try:
        [batches] = item_type.export_batches_many(session, [(erp.item_id, fields, batch_id(erp))])
        if isinstance(batches, Exception):
            raise batches
        [answer] = connector.dry_run([batches])
    except ConnectorUnavailable as exc:
        return unavailable(exc), {}
    except (NotFound, Invalid, KeyError, ValueError) as exc:
        return Precheck(warnings=(f"Not checked: the item could not be mapped for Sage ({exc}).",)), {}
    return from_dry_run(answer), {}


def accept_check(session: Session, actor: User, type_key: str, erp_item_id: int, raw: dict,
                 connector: Connector) -> tuple[Precheck, dict]:
    """The Accept form's pre-check as the approver types (an approver only; reads, writes nothing)."""
    if not policy.can(actor, policy.DECIDE):
        raise PermissionDenied("Only an accounting approver can accept items.")
    erp = session.get(ErpItem, erp_item_id)
    if erp is None or erp.item_type != type_key:
        raise NotFound("That item is not in ERP Integrations.")
    item_type = get_type(type_key)
    return check_fields(session, item_type, erp, item_type.load(session, erp.item_id), raw, connector)
