"""The schedule of values of a subcontractor invoice: one line per commitment line, with what
earlier invoices billed, this period's work (an amount, a percent complete, or a quantity at the
unit cost), materials stored, retainage on each (the commitment's percent unless typed) and
retainage released on a release invoice. Pure arithmetic on what the caller loaded; no session.

A form names a line's fields `line-<commitment line id>-<part>`; every error names that field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from portal.domain.errors import Invalid
from portal.domain.models import CommitmentLine, InvoiceLine
from portal.domain.values import money, parse_money

ZERO = Decimal("0")
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
# what a line's form holds; `percent_complete` and `quantity` are other ways to say the work
PARTS = ("work_completed", "percent_complete", "quantity", "materials_stored", "work_retainage",
         "materials_retainage", "retainage_released", "description")
DESCRIPTION_MAX = 120   # InvoiceLine.description
CONFIRM = "confirm_over_balance"
LABELS = {"work_completed": "Work completed this period", "percent_complete": "Percent complete",
          "quantity": "Quantity this period", "materials_stored": "Materials presently stored",
          "work_retainage": "Work retainage", "materials_retainage": "Materials retainage",
          "retainage_released": "Retainage released", "description": "Description"}


def key(line_id: int, part: str) -> str:
    return f"line-{line_id}-{part}"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Previous:
    """What earlier submitted invoices billed on one commitment line."""
    work: Decimal = ZERO
    stored: Decimal = ZERO
    retainage: Decimal = ZERO   # held to date (net of releases)


@dataclass
class Line:
    """One line of the invoice as its pages show it, with its running figures."""
    source: CommitmentLine
    previous: Previous
    work: Decimal = ZERO
    stored: Decimal = ZERO
    work_retainage: Decimal = ZERO
    materials_retainage: Decimal = ZERO
    released: Decimal = ZERO
    quantity: Decimal | None = None
    description: str = ""
    review: str | None = None
    review_comment: str = ""
    locked: bool = False          # kept as it is (an approved line of an invoice under revision)
    changed: Decimal = ZERO       # approved commitment change orders on the line

    @property
    def id(self) -> int:
        return self.source.id

    @property
    def scheduled(self) -> Decimal:
        """The line's revised scheduled value: its amount and its approved change orders."""
        return (self.source.amount or ZERO) + self.changed

    @property
    def amount(self) -> Decimal:
        return self.work + self.stored

    @property
    def retainage(self) -> Decimal:
        return self.work_retainage + self.materials_retainage - self.released

    @property
    def previous_billed(self) -> Decimal:
        return self.previous.work + self.previous.stored

    @property
    def remaining(self) -> Decimal:
        """The balance left before this invoice."""
        return self.scheduled - self.previous_billed

    @property
    def to_date(self) -> Decimal:
        return self.previous_billed + self.amount

    @property
    def percent(self) -> Decimal:
        return (self.to_date / self.scheduled * HUNDRED).quantize(CENT) if self.scheduled else ZERO

    @property
    def balance(self) -> Decimal:
        return self.scheduled - self.to_date

    def default_retainage(self, pct: Decimal) -> tuple[Decimal, Decimal]:
        """The retainage the commitment's percent holds on this period's work and materials."""
        return cents(self.work * pct / HUNDRED), cents(self.stored * pct / HUNDRED)

    @property
    def over(self) -> Decimal:
        """How far this period's billing goes over the remaining balance (0: within it)."""
        return max(ZERO, self.amount - max(self.remaining, ZERO)) if self.amount > 0 else ZERO


@dataclass
class Totals:
    scheduled: Decimal = ZERO
    previous: Decimal = ZERO
    work: Decimal = ZERO
    stored: Decimal = ZERO
    amount: Decimal = ZERO
    work_retainage: Decimal = ZERO
    materials_retainage: Decimal = ZERO
    released: Decimal = ZERO
    retainage: Decimal = ZERO
    balance: Decimal = ZERO

    @property
    def payment_due(self) -> Decimal:
        return self.amount - self.retainage


def totals(lines: list[Line]) -> Totals:
    t = Totals()
    for ln in lines:
        t.scheduled += ln.scheduled
        t.previous += ln.previous_billed
        t.work += ln.work
        t.stored += ln.stored
        t.amount += ln.amount
        t.work_retainage += ln.work_retainage
        t.materials_retainage += ln.materials_retainage
        t.released += ln.released
        t.retainage += ln.retainage
        t.balance += ln.balance
    return t


def from_saved(source: CommitmentLine, previous: Previous, saved: InvoiceLine | None,
               changed: Decimal = ZERO) -> Line:
    """A line as stored (or an empty one for a new invoice)."""
    if saved is None:
        return Line(source, previous, changed=changed)
    # the net retainage is what Sage receives; a line written with it alone (the project's edit page,
    # the demo) holds the rest of it on the work
    work_retainage = saved.retainage - saved.materials_retainage + saved.retainage_released
    return Line(source, previous, work=saved.work_completed, stored=saved.materials_stored,
                work_retainage=work_retainage, materials_retainage=saved.materials_retainage,
                released=saved.retainage_released, quantity=saved.quantity, description=saved.description,
                review=saved.review, review_comment=saved.review_comment, changed=changed)


@dataclass
class Parsed:
    lines: list[Line]
    errors: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)


def _amount(errors: dict, form: dict, name: str, places: str = "0.01") -> Decimal | None:
    """The typed amount (None: left blank), or None with the error recorded."""
    raw = form.get(name)
    if raw is None or not str(raw).strip():
        return None
    try:
        return parse_money(raw, name, places)
    except Invalid as exc:
        errors.update(exc.fields)
        return None


def parse_line(line: Line, form: dict, retainage_pct: Decimal, unit_based: bool, release: bool,
               errors: dict) -> Line:
    """This period's figures of one line from the form, checked; errors name the field."""
    if line.locked:
        return line
    k = lambda part: key(line.id, part)  # noqa: E731 - a field name of this line
    n = line.source.line_no
    description = str(form.get(k("description")) or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors[k("description")] = f"Description must be {DESCRIPTION_MAX} characters or less."
    quantity = _amount(errors, form, k("quantity"), "0.0001") if unit_based else None
    percent = _amount(errors, form, k("percent_complete"))
    typed_work = _amount(errors, form, k("work_completed"))
    work = typed_work or ZERO
    if quantity is not None:
        cost = line.source.unit_cost
        if cost is None:
            errors[k("quantity")] = f"Line {n} has no unit cost: bill it by amount."
        else:
            work = cents(quantity * cost)
    elif percent is not None:
        if percent < 0:
            errors[k("percent_complete")] = "Percent complete cannot be negative."
        work = cents(line.scheduled * percent / HUNDRED) - line.previous.work
    if line.previous.work + work < 0:
        field_name = k("quantity") if quantity is not None else k("work_completed")
        errors.setdefault(field_name, f"A correction cannot take line {n}'s work completed to date below "
                                      f"zero ({money(line.previous.work)} billed before).")
    stored = _amount(errors, form, k("materials_stored")) or ZERO
    if line.previous.stored + stored < 0:
        errors[k("materials_stored")] = (f"Materials stored to date on line {n} cannot go below zero "
                                         f"({money(line.previous.stored)} stored before).")
    rates = {}
    for part, base in (("work_retainage", work), ("materials_retainage", stored)):
        typed = _amount(errors, form, k(part))
        value = cents(base * retainage_pct / HUNDRED) if typed is None else typed
        if value < 0 <= base:
            errors[k(part)] = (f"{LABELS[part]} cannot be negative; release retainage on a retainage "
                               "release invoice.")
        elif abs(value) > abs(base) or (value > 0 > base):
            errors[k(part)] = f"{LABELS[part]} cannot be more than the amount it is held on ({money(base)})."
        rates[part] = value
    released = _amount(errors, form, k("retainage_released")) or ZERO
    if released and not release:
        errors[k("retainage_released")] = ("Retainage released: only a retainage release invoice "
                                           "releases retainage (tick 'Retainage release invoice').")
    elif released < 0:
        errors[k("retainage_released")] = "Retainage released cannot be negative."
    elif released > line.previous.retainage:
        errors[k("retainage_released")] = (f"Only {money(line.previous.retainage)} of retainage is held "
                                           f"on line {n}.")
    return Line(line.source, line.previous, work=work, stored=stored, work_retainage=rates["work_retainage"],
                materials_retainage=rates["materials_retainage"], released=released,
                quantity=quantity, description=description, review=line.review,
                review_comment=line.review_comment, changed=line.changed)


def parse_lines(lines: list[Line], form: dict, retainage_pct: Decimal, unit_based: bool,
                release: bool) -> Parsed:
    """Every line from the form, with errors (refused) and warnings (over the balance: saved only
    when the form confirms it)."""
    errors: dict[str, str] = {}
    parsed = [parse_line(ln, form, retainage_pct, unit_based, release, errors) for ln in lines]
    warnings = {key(ln.id, "work_completed"):
                f"Line {ln.source.line_no}: {money(ln.amount)} this period is {money(ln.over)} over "
                f"the remaining balance of {money(ln.remaining)}."
                for ln in parsed if ln.over > 0 and not ln.locked}
    return Parsed(parsed, errors, warnings)


def store(line: Line, saved: InvoiceLine) -> None:
    """Write a parsed line's figures onto its row; `retainage` (what Sage receives) is the net."""
    saved.work_completed, saved.materials_stored = line.work, line.stored
    saved.work_retainage, saved.materials_retainage = line.work_retainage, line.materials_retainage
    saved.retainage_released, saved.retainage = line.released, line.retainage
    saved.quantity = line.quantity
    saved.description = line.description or line.source.description[:DESCRIPTION_MAX]
