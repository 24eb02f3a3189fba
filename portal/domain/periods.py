"""Billing periods: a project's setup (automatic: monthly from a start day, due on a due day,
created ahead by the scheduler; or manual: each period entered by the invoice administrator),
at most one open period per project (here, with a clear message, and in the database: a partial
unique index), and closing (by hand, or by the scheduler once the due date has passed).

`open_period(session, project_id)` is what invoicing asks: the period an invoice bills for.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.billing_models import BillingMode, BillingPeriod, BillingSetup, PeriodStatus
from portal.domain.contact_accounts import admin_project
from portal.domain.errors import Conflict, Invalid, NotFound
from portal.domain.models import User, utcnow
from portal.domain.uow import commit, transactional
from portal.domain.values import mmddyyyy, parse_date

log = logging.getLogger(__name__)
LAST_DAY = 28   # a day every month has
FIELDS = {"start_date": "Start date", "end_date": "End date", "billing_date": "Billing date", "due_date": "Due date"}


def open_period(session: Session, project_id: int) -> BillingPeriod | None:
    """The project's open billing period, if any (there is at most one)."""
    return session.scalars(select(BillingPeriod).where(BillingPeriod.project_id == project_id,
                                                       BillingPeriod.status == PeriodStatus.OPEN)).first()


def get_period(session: Session, project_id: int, period_id: int) -> BillingPeriod:
    """One of the project's periods (an invoice names the one it bills for); NotFound otherwise."""
    period = session.get(BillingPeriod, period_id)
    if period is None or period.project_id != project_id:
        raise NotFound("No such billing period on this project.")
    return period


def periods_of(session: Session, project_id: int) -> list[BillingPeriod]:
    """A project's periods, newest first."""
    return list(session.scalars(select(BillingPeriod).where(BillingPeriod.project_id == project_id)
                                .order_by(BillingPeriod.start_date.desc(), BillingPeriod.id.desc())))


def setup_of(session: Session, project_id: int) -> BillingSetup:
    """The project's billing setup (manual, days 1 and 25, until it is saved)."""
    return session.get(BillingSetup, project_id) or BillingSetup(project_id=project_id, mode=BillingMode.MANUAL,
                                                                 start_day=1, due_day=25)


def one_open_message(period: BillingPeriod) -> str:
    return (f"Only one billing period can be open at a time: {period.label} is open "
            f"(due {mmddyyyy(period.due_date)}). Close it before opening another.")


# ---- automatic periods ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Dates:
    start_date: date
    end_date: date
    billing_date: date
    due_date: date


def _add_month(year: int, month: int, n: int = 1) -> tuple[int, int]:
    index = year * 12 + month - 1 + n
    return index // 12, index % 12 + 1


def month_period(start_day: int, due_day: int, year: int, month: int) -> Dates:
    """The automatic period starting on `start_day` of the month: it ends the day before the next
    month's start day, bills on its last day, and is due on the first `due_day` on or after its start."""
    start = date(year, month, start_day)
    end = date(*_add_month(year, month), start_day) - timedelta(days=1)
    due = date(year, month, due_day) if due_day >= start_day else date(*_add_month(year, month), due_day)
    return Dates(start, end, end, due)


def current_month(start_day: int, today: date) -> tuple[int, int]:
    """The (year, month) whose automatic period holds `today`."""
    return (today.year, today.month) if today.day >= start_day else _add_month(today.year, today.month, -1)


def _day(value: object, field: str, label: str) -> int:
    text = str(value or "").strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= LAST_DAY:
        raise Invalid("Please correct the highlighted fields.",
                      fields={field: f"{label} must be a whole number from 1 to {LAST_DAY}."})
    return int(text)


@transactional
def save_setup(session: Session, actor: User, project_id: int, form: dict, today: date) -> BillingSetup:
    """Set how the project's periods come; turning automatic on creates the current and the next
    month's periods at once (the current one opens when no other period is open)."""
    admin_project(session, actor, project_id)
    mode = form.get("mode") or ""
    if mode not in BillingMode.ALL:
        raise Invalid("Please correct the highlighted fields.", fields={"mode": "Choose automatic or manual."})
    start_day, due_day = _day(form.get("start_day"), "start_day", "Start day"), \
        _day(form.get("due_day"), "due_day", "Due day")
    setup = session.get(BillingSetup, project_id)
    if setup is None:
        setup = BillingSetup(project_id=project_id)
        session.add(setup)
    setup.mode, setup.start_day, setup.due_day = mode, start_day, due_day
    setup.updated_by_id, setup.updated_at = actor.id, utcnow()
    if mode == BillingMode.MANUAL:  # the automatic periods made ahead go (the open one stays until closed)
        for period in session.scalars(select(BillingPeriod).where(BillingPeriod.project_id == project_id,
                                                                  BillingPeriod.status == PeriodStatus.SCHEDULED)):
            session.delete(period)
    commit(session, "The billing setup was changed by someone else at the same moment; reload and try again.")
    if mode == BillingMode.AUTOMATIC:
        _create_ahead(session, setup, today)
        _open_due(session, today, project_id)
    return setup


def _create_ahead(session: Session, setup: BillingSetup, today: date) -> int:
    """The automatic periods of this month and the next one, when missing (scheduled until they start)."""
    made = 0
    year, month = current_month(setup.start_day, today)
    for n in (0, 1):
        dates = month_period(setup.start_day, setup.due_day, *_add_month(year, month, n))
        exists = session.scalar(select(BillingPeriod.id).where(
            BillingPeriod.project_id == setup.project_id, BillingPeriod.start_date <= dates.end_date,
            BillingPeriod.end_date >= dates.start_date))
        if exists is None:
            session.add(BillingPeriod(project_id=setup.project_id, automatic=True, status=PeriodStatus.SCHEDULED,
                                      **vars(dates)))
            try:
                commit(session)
                made += 1
            except Conflict:
                pass  # another scheduler made it meanwhile
    return made


def _open_due(session: Session, today: date, project_id: int | None = None) -> int:
    """Open each scheduled period that has started, one per project, when none is open; a
    scheduled period already past its due date closes without opening."""
    automatic = select(BillingSetup.project_id).where(BillingSetup.mode == BillingMode.AUTOMATIC)
    query = select(BillingPeriod).where(BillingPeriod.status == PeriodStatus.SCHEDULED,
                                        BillingPeriod.project_id.in_(automatic),
                                        BillingPeriod.start_date <= today).order_by(BillingPeriod.start_date)
    if project_id is not None:
        query = query.where(BillingPeriod.project_id == project_id)
    opened = 0
    for period in session.scalars(query).all():
        if period.due_date < today:
            period.status, period.closed_at = PeriodStatus.CLOSED, utcnow()
        elif open_period(session, period.project_id) is None:
            period.status = PeriodStatus.OPEN
        else:
            continue
        now_open = period.status == PeriodStatus.OPEN
        try:
            commit(session)
        except Conflict:
            continue  # another scheduler (or a manual period) opened one meanwhile
        opened += now_open
    return opened


def _close_past_due(session: Session, today: date) -> int:
    closed = 0
    for period in session.scalars(select(BillingPeriod).where(BillingPeriod.status == PeriodStatus.OPEN,
                                                              BillingPeriod.due_date < today)).all():
        period.status, period.closed_at = PeriodStatus.CLOSED, utcnow()
        closed += 1
    session.commit()
    return closed


@dataclass(frozen=True)
class Tick:
    closed: int
    created: int
    opened: int

    def __str__(self) -> str:
        return f"{self.closed} closed, {self.created} created, {self.opened} opened"


def tick(session: Session, today: date) -> Tick:
    """The scheduler's look at every project's periods: close the open ones past their due date,
    create the automatic ones ahead, open those that have started. Safe to run twice, and on
    several schedulers at once (a period made or opened meanwhile is left as the other made it)."""
    try:
        closed = _close_past_due(session, today)
        created = sum(_create_ahead(session, setup, today) for setup in session.scalars(
            select(BillingSetup).where(BillingSetup.mode == BillingMode.AUTOMATIC)).all())
        return Tick(closed, created, _open_due(session, today))
    except BaseException:
        session.rollback()
        raise


# ---- manual periods and closing --------------------------------------------------------------------

@transactional
def add_period(session: Session, actor: User, project_id: int, form: dict) -> BillingPeriod:
    """A manual period (start, end, billing date, due date), open at once: refused while another is open."""
    admin_project(session, actor, project_id)
    if setup_of(session, project_id).mode == BillingMode.AUTOMATIC:
        raise Conflict("Billing periods are automatic on this project: choose Manual to enter one yourself.")
    values, errors = {}, {}
    for field in FIELDS:
        try:
            values[field] = parse_date(form.get(field), field)
        except Invalid as exc:
            errors[field] = f"{FIELDS[field]}: {exc.fields[field]}"
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    dates = Dates(**values)
    if dates.end_date < dates.start_date:
        errors["end_date"] = "End date must be on or after the start date."
    if dates.billing_date < dates.start_date:
        errors["billing_date"] = "Billing date must be on or after the start date."
    if dates.due_date < dates.start_date:
        errors["due_date"] = "Due date must be on or after the start date."
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    current = open_period(session, project_id)
    if current is not None:
        raise Conflict(one_open_message(current))
    overlap = session.scalars(select(BillingPeriod).where(
        BillingPeriod.project_id == project_id, BillingPeriod.status != PeriodStatus.SCHEDULED,
        BillingPeriod.start_date <= dates.end_date, BillingPeriod.end_date >= dates.start_date)).first()
    if overlap is not None:
        raise Invalid("Please correct the highlighted fields.", fields={
            "start_date": f"The period overlaps {overlap.label}, which was already billed."})
    period = BillingPeriod(project_id=project_id, status=PeriodStatus.OPEN, automatic=False,
                           created_by_id=actor.id, **vars(dates))
    session.add(period)
    commit(session, "Only one billing period can be open at a time: another was opened at the same moment.")
    return period


@transactional
def close_period(session: Session, actor: User, project_id: int, period_id: int) -> BillingPeriod:
    """Close the project's open period by hand; its invitations expire with it."""
    admin_project(session, actor, project_id)
    period = get_period(session, project_id, period_id)
    if period.status != PeriodStatus.OPEN:
        raise Conflict(f"The period {period.label} is not open.")
    period.status, period.closed_at, period.closed_by_id = PeriodStatus.CLOSED, utcnow(), actor.id
    session.commit()
    return period
