"""The importers' shared checks and writes: cost codes and categories for the setup kinds,
job cost transactions, units and commitment items for the financial kinds (importers.py's helpers)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    insert,
    select,
)
from sqlalchemy.engine import Connection

from ..records import (
    Batch,
    JCCategory,
    JCCommitmentItem,
    JCCostCode,
    JCTransaction,
)
from .lookups import (
    CATEGORIES,
    COST_CODES,
    Codings,
)
from .rules import (
    NOT_FOUND,
    UNITS_TIMES_COST,
    Refused,
    check_fields,
    dec,
    off_by_more_than_a_cent,
    units_mismatch,
)
from .schema import (
    category_t,
    commitment_item_t,
    cost_code_t,
    transaction_t,
)

# ---- setup kinds' helpers ---------------------------------------------------------------------

class Coded:
    """The batch's cost codes and categories already in Sage: (job, extra, cost code[, category]) keys."""

    def __init__(self, codes: set[tuple], categories: set[tuple]):
        self.codes, self.categories = codes, categories


def _single(batch: Batch, header_type, other_types: tuple):
    """The batch's one header record (first), checking every other record's type."""
    records = batch.records
    if not records or not isinstance(records[0], header_type) or \
            not all(isinstance(r, other_types) for r in records[1:]):
        names = ", ".join(t.__name__ for t in other_types)
        raise ValueError(f"a {batch.kind} batch holds one {header_type.__name__} first"
                         + (f", then {names} records" if names else ""))
    return records[0]


def _codes_of(batch: Batch, job: str, extra: str) -> tuple[list, list]:
    """The batch's cost codes and categories, which must all be on this job and extra."""
    codes = [r for r in batch.records if isinstance(r, JCCostCode)]
    categories = [r for r in batch.records if isinstance(r, JCCategory)]
    for r in codes + categories:
        if r.job != job or (r.extra or "") != extra:
            raise ValueError(f"a {batch.kind} batch's cost codes and categories are all on "
                             f"job {job!r}, extra {extra!r}")
    return codes, categories


def _check_codes(codes: list, categories: list) -> None:
    for record in [*codes, *categories]:
        check_fields(record)


def _coded(conn: Connection, codes: list, categories: list) -> Coded:
    """Which of the batch's cost codes (and its categories' cost codes) and categories Sage has."""
    code_keys = {(r.job, r.extra or "", r.cost_code) for r in [*codes, *categories]}
    category_keys = {(r.job, r.extra or "", r.cost_code, r.category) for r in categories}
    return Coded(
        COST_CODES(conn, code_keys), CATEGORIES(conn, category_keys))


def _check_category_codes(codes: list, categories: list, there: Coded) -> None:
    """Each category's cost code must come in the batch or already be in Sage (checked before
    anything is inserted: a refusal creates nothing)."""
    in_batch = {(r.job, r.extra or "", r.cost_code) for r in codes}
    for r in categories:
        key = (r.job, r.extra or "", r.cost_code)
        if key not in in_batch and key not in there.codes:
            raise Refused(NOT_FOUND)


def _add_codes(conn: Connection, codes: list, categories: list, there: Coded) -> int:
    """Insert the cost codes and categories not there yet; those that exist (or repeat in the
    batch) are left as they are. Returns how many rows were added (cost codes + categories)."""
    new_codes: dict[tuple, dict] = {}
    for r in codes:
        key = (r.job, r.extra or "", r.cost_code)
        if key not in there.codes and key not in new_codes:
            new_codes[key] = dict(Job=key[0], Extra=key[1], Cost_Code=key[2], Description=r.description or "")
    new_categories: dict[tuple, dict] = {}
    for r in categories:
        coding = (r.job, r.extra or "", r.cost_code, r.category)
        if coding not in there.categories and coding not in new_categories:
            new_categories[coding] = dict(Job=coding[0], Extra=coding[1], Cost_Code=coding[2], Category=coding[3],
                                          Description=r.description or "")
    for table, rows in ((cost_code_t, new_codes), (category_t, new_categories)):
        if rows:
            conn.execute(insert(table), list(rows.values()))
    return len(new_codes) + len(new_categories)


# ---- financial kinds' helpers -------------------------------------------------------------

def _transactions(batch: Batch, types: tuple) -> list:
    """The batch's JC transactions: at least one, all JCTransaction of these types, on one job."""
    txns = list(batch.records)
    if not txns or not all(isinstance(t, JCTransaction) for t in txns) or \
            any(t.transaction_type not in types for t in txns) or len({t.job for t in txns}) != 1:
        raise ValueError(f"a {batch.kind} batch holds JCTransactions ({', '.join(types)}), at least one, "
                         "all on one job")
    return txns


def _check_transactions(conn: Connection, txns: list) -> None:
    for t in txns:
        check_fields(t)
    codings = Codings(conn).load(((t.job, t.extra, t.cost_code, t.category) for t in txns), jobs=[txns[0].job])
    codings.open_job(txns[0].job)
    for t in txns:
        codings.check(t.job, t.extra, t.cost_code, t.category)


def _row(**values) -> dict:
    """A JCT_CURRENT__TRANSACTION row with every column the importers write (one executemany)."""
    return dict(dict.fromkeys(("Ref_1", "Ref_2", "Commitment", "Commitment_Item", "Commitment_CO", "Contract",
                               "Contract_Item"), ""), **values)


def _transaction_row(t: JCTransaction, posted: bool, batch_id: str, now: datetime) -> dict:
    return _row(Job=t.job, Extra=t.extra or "", Cost_Code=t.cost_code or "", Category=t.category or "",
                Transaction_Type=t.transaction_type, Date=t.date, Description=t.description or "",
                Amount=Decimal(t.amount), Ref_1=t.ref_1 or "", Ref_2=t.ref_2 or "", Contract=t.contract or "",
                Contract_Item=t.contract_item or "", Posted=posted, Batch_ID=batch_id, Created_At=now)


def _item_transaction(item: JCCommitmentItem, transaction_type: str, on, description: str, amount,
                      batch_id: str, now: datetime) -> dict:
    """A posted commitment transaction for a commitment item."""
    return _row(Job=item.job, Extra=item.extra or "", Cost_Code=item.cost_code, Category=item.category,
                Transaction_Type=transaction_type, Date=on, Description=description or "",
                Amount=Decimal(amount), Commitment=item.commitment, Commitment_Item=item.item,
                Posted=True, Batch_ID=batch_id, Created_At=now)


def _insert_transactions(conn: Connection, rows: list[dict]) -> None:
    # one executemany: rows go in list order, so Transaction_ID follows the batch's order
    if rows:
        conn.execute(insert(transaction_t), rows)


def _check_units(records) -> None:
    """A commitment (or change order) item with units and a unit cost: its amount is their
    product, within a cent."""
    for r in records:
        if r.units is not None and r.unit_cost is not None and \
                off_by_more_than_a_cent(r.units, r.unit_cost, r.amount):
            raise Refused(UNITS_TIMES_COST)


def _check_invoiced_units(conn: Connection, dists) -> None:
    """A distribution invoicing units of a Unit/Qty commitment item (one with a unit cost): its
    amount is the units times the item's unit cost, within a cent."""
    billed = [d for d in dists if d.units is not None and d.commitment]
    if not billed:
        return
    costs = {(r.Commitment, r.Item): r.Unit_Cost for r in conn.execute(
        select(commitment_item_t.c.Commitment, commitment_item_t.c.Item, commitment_item_t.c.Unit_Cost)
        .where(commitment_item_t.c.Commitment.in_(sorted({d.commitment for d in billed}))))}
    for d in billed:
        cost = costs.get((d.commitment, d.commitment_item))
        if cost is not None and off_by_more_than_a_cent(d.units, cost, d.amount):
            raise Refused(units_mismatch(d.commitment, d.commitment_item))


def _add_commitment_items(conn: Connection, items) -> None:
    if items:
        conn.execute(insert(commitment_item_t), [dict(
            Commitment=i.commitment, Item=i.item, Description=i.description or "", Job=i.job, Extra=i.extra or "",
            Cost_Code=i.cost_code, Category=i.category, Units=dec(i.units), Unit_Cost=dec(i.unit_cost),
            Unit_Description=i.unit_description or "", Amount=Decimal(i.amount)) for i in items])
