"""Setup checks: Sage's setup each item type's export needs (its setup_prerequisites), read
through the connector, with the state of each and what to do.

The Setup page and the health page list them; Accept refuses, and a queued export fails, an
item of a type whose prerequisite fails, with the check's message ("Sage AP setting Date
Received Usage is Required: set it to Not Required in Sage AP Settings (Invoice Settings).").
A prerequisite the connector cannot read (the file drop: ok None) is shown as not checked
and refuses nothing. Nothing here imports Flask.
"""
from __future__ import annotations

from dataclasses import dataclass

from portal.domain.errors import Invalid
from portal.domain.ports import SageSetup
from portal.domain.types import REGISTRY, ItemType
from portal.exporters.sage300.records import ConnectorUnavailable, SetupCheck

MET, FAILS, UNCHECKED = "met", "fails", "not checked"


@dataclass(frozen=True)
class SetupRow:
    """One prerequisite of one item type, as the Setup page shows it."""
    item_type: ItemType
    key: str
    label: str
    status: str        # MET, FAILS or UNCHECKED
    state: str         # Sage's value ("Required"), or why it was not checked
    todo: str          # what to do ("" when met)


def read_checks(sage: SageSetup) -> tuple[dict[str, SetupCheck], str | None]:
    """The connector's checks by key, and why none could be read (Sage out of reach) or None."""
    try:
        return {c.key: c for c in sage.setup_checks()}, None
    except ConnectorUnavailable as exc:
        return {}, str(exc)


def rows(checks: dict[str, SetupCheck], unreachable: str | None = None) -> list[SetupRow]:
    """Every prerequisite of every registered type, in tab order."""
    out = []
    for item_type in REGISTRY.values():
        for key in item_type.setup_prerequisites:
            check = checks.get(key)
            if check is None:
                out.append(SetupRow(item_type, key, key.replace("_", " "), UNCHECKED,
                                    unreachable or "not reported by this connector", ""))
            else:
                status = UNCHECKED if check.ok is None else MET if check.ok else FAILS
                out.append(SetupRow(item_type, key, check.label, status, check.state,
                                    "" if check.ok else check.fix))
    return out


def failures(item_type: ItemType, checks: dict[str, SetupCheck]) -> list[str]:
    """The messages of the type's prerequisites that fail (not those that could not be checked)."""
    return [checks[key].message for key in item_type.setup_prerequisites
            if key in checks and checks[key].ok is False]


def refuse_unless_ready(item_type: ItemType, sage: SageSetup | None) -> None:
    """Invalid with the failing prerequisites' messages (Accept's answer); nothing to check when
    the type has none or no connector is given. Sage out of reach refuses nothing here: the
    export itself then waits for Sage."""
    if sage is None or not item_type.setup_prerequisites:
        return
    checks, _ = read_checks(sage)
    failed = failures(item_type, checks)
    if failed:
        raise Invalid(" ".join(failed), fields={"_": " ".join(failed)})
