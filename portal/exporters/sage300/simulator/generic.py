"""The generic path: a batch whose kind has no importer of its own (say a twelfth item type's),
holding records that declare their Sage fields and key (records.GenericRecord).

Each record is checked like any other (blank and too long, Sage's texts), a key already in
Sage for that kind and record is refused ("An entity of type [AR Customer] already exists
with the specified id."), and each record is stored in SIM_GENERIC_RECORD (kind, record,
key, its fields as JSON, batch id). submit logs the batch like any other, so a replay
returns the stored result; the reference is the first record's key joined with "/".
find_generic (what held_by_sage asks) finds the records by the fields of a ref.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from ..records import Batch, field_text, record_key, record_table
from .rules import Refused, check_fields, record_exists
from .schema import KIND_LENGTH, REFERENCE_LENGTH, SimulatorBase, generic_record_t


def _encoded(key: tuple[str, ...]) -> str:
    # a JSON list: ("a/b", "c") and ("a", "b/c") stay two keys
    return json.dumps(list(key))


def _fields(record) -> dict[str, str]:
    """{attribute: text} of the record's declared fields and key, in declared order."""
    attrs = dict.fromkeys([f.attr for f in type(record).SAGE_FIELDS] + list(type(record).SAGE_KEY))
    return {attr: field_text(getattr(record, attr)) for attr in attrs}


class GenericMixin(SimulatorBase):
    """Import, find, list and delete records of kinds the simulator has no importer for."""

    def _import_generic(self, conn: Connection, batch: Batch, settings: dict, now: datetime) -> str:
        if not batch.kind or len(batch.kind) > KIND_LENGTH:
            raise ValueError(f"a batch kind has 1 to {KIND_LENGTH} characters: {batch.kind!r}")
        for record in batch.records:
            if not type(record).SAGE_KEY:
                raise ValueError(f"{type(record).__name__} declares no SAGE_KEY attributes")
        for record in batch.records:
            check_fields(record)
        reference = "/".join(record_key(batch.records[0]))
        if len(reference) > REFERENCE_LENGTH:
            raise ValueError(f"the reference {reference!r} (the first record's key) is longer than the "
                             f"import log's {REFERENCE_LENGTH} characters: declare a shorter SAGE_KEY")

        keyed = [(record_table(r), _encoded(record_key(r))) for r in batch.records]
        there = {tuple(row) for row in conn.execute(
            select(generic_record_t.c.Record, generic_record_t.c.Record_Key).where(
                generic_record_t.c.Kind == batch.kind,
                generic_record_t.c.Record_Key.in_(sorted({key for _, key in keyed}))))}
        seen: set[tuple[str, str]] = set()
        for table, key in keyed:
            if (table, key) in there or (table, key) in seen:
                raise Refused(record_exists(table))
            seen.add((table, key))

        conn.execute(insert(generic_record_t), [dict(
            Kind=batch.kind, Record=table, Record_Key=key, Fields=_fields(record), Batch_ID=batch.batch_id,
            Created_At=now) for (table, key), record in zip(keyed, batch.records, strict=True)])
        return reference

    def _generic_where(self, kind: str, ref: dict) -> list:
        fields = generic_record_t.c.Fields
        return [generic_record_t.c.Kind == kind,
                *(fields[name].as_string() == field_text(value) for name, value in ref.items())]

    def find_generic(self, kind: str, ref: dict) -> list[str]:
        """The records of a generic kind whose fields match every (attribute, value) of ref,
        as "<SAGE_TABLE> <key>" (empty when ref is empty or has a blank value)."""
        if not ref or not all(field_text(value) for value in ref.values()):
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(generic_record_t.c.Record, generic_record_t.c.Record_Key)
                                .where(*self._generic_where(kind, ref))
                                .order_by(generic_record_t.c.Record, generic_record_t.c.Record_Key)).all()
        return [f"{r.Record} {'/'.join(json.loads(r.Record_Key))}" for r in rows]

    def list_generic(self, kind: str) -> list[dict]:
        """The kind's SIM_GENERIC_RECORD rows (Record, Key as a tuple, Fields, Batch_ID, Created_At),
        by record and key."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(generic_record_t).where(generic_record_t.c.Kind == kind)
                                .order_by(generic_record_t.c.Record, generic_record_t.c.Record_Key)).mappings()
            return [dict(Record=r["Record"], Key=tuple(json.loads(r["Record_Key"])), Fields=r["Fields"],
                         Batch_ID=r["Batch_ID"], Created_At=r["Created_At"]) for r in rows]

    def delete_generic(self, kind: str, ref: dict) -> int:
        """Delete the records find_generic(kind, ref) describes (a Sage user's delete); returns how many."""
        if not ref or not all(field_text(value) for value in ref.values()):
            return 0
        with self.engine.begin() as conn:
            self._serialise(conn)
            return conn.execute(delete(generic_record_t).where(*self._generic_where(kind, ref))).rowcount
