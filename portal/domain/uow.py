"""The one owner of a service's transaction (cosmicpython's unit of work, on a SQLAlchemy session).

A service runs its work inside `unit_of_work(session)`: whatever goes wrong (a domain error,
a database error, a bug) rolls back everything it did, so no caller ever calls rollback().
The service says when its work is done with `commit(session)`, which turns a lost race (a
stale version, a unique key taken meanwhile) into a Conflict the user can read. A stale
version can also surface before the commit, in a flush (an autoflush before a query the
service runs after changing a row): the unit of work turns that into the same Conflict.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.domain.errors import Conflict, RaceLost

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Roll back on any error; the work inside commits with commit(session) when it is done.
    A row changed by someone else meanwhile (a stale version found by any flush, not only the
    commit's) is a lost race: a Conflict, never a server error."""
    try:
        yield session
    except StaleDataError:
        session.rollback()
        raise RaceLost() from None
    except BaseException:
        session.rollback()
        raise


def commit(session: Session, conflict: str | None = None) -> None:
    """Commit; a concurrent change that won the race becomes RaceLost (and is rolled back), or
    Conflict(conflict) when the caller says what a refused commit means instead."""
    try:
        session.commit()
    except (StaleDataError, IntegrityError):
        session.rollback()
        raise (RaceLost() if conflict is None else Conflict(conflict)) from None


def transactional(service: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """Run a service (session first) inside unit_of_work(session)."""
    @wraps(service)
    def run(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with unit_of_work(session):
            return service(session, *args, **kwargs)
    return run
