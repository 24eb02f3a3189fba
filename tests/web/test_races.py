"""Two approvers decide the same item at the same moment (tests/races.py: threads, each with its own
signed-in test client): one decision is recorded, the other answers 409 with the row as it now is
and who decided first, never a server error; a rejection is mailed once.

SQLite serialises the writers (the loser's UPDATE waits, then finds the version moved on);
PostgreSQL's loser finds the same through ErpItem's version counter. Either way the loss may show
in a flush before the commit (the rejection mail's recipients are read after the transition).
bench/races.py runs the same trials by the fifty and counts what happened.
"""
from __future__ import annotations

import pytest

from tests.races import PAIRINGS, ROLE_USERS, trial  # noqa: F401 - ROLE_USERS: the people fixture's
from tests.web.pages import World

TRIALS = 10  # per pairing; more finds rarer interleavings, slower (bench/races.py runs 50)


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


@pytest.mark.parametrize("pairing", PAIRINGS, ids=lambda p: p.name)
def test_two_decisions_at_once_record_one_and_the_other_is_told_409(app, sim, clients, people, world, drain,
                                                                     pairing):
    problems = []
    for n in range(TRIALS):
        found = trial(app, sim, world, clients, people, pairing).problems()
        problems += [f"trial {n + 1}: {p}" for p in found]
    drain()
    assert not problems, "\n".join(problems)
