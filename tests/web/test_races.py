"""Two approvers decide the same item at the same moment (threads, each with its own signed-in test
client, so each request has its own app context and database session): one decision is recorded,
the other answers 409 with the row as it now is and who decided first, never a server error.

SQLite serialises the writers (the loser's UPDATE waits, then finds the version moved on);
PostgreSQL's loser finds the same through ErpItem's version counter. Either way the loss may show
in a flush before the commit (the rejection mail's recipients are read after the transition).
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portal.domain.lifecycle import State
from portal.domain.models import ErpAudit, OutboxMail, ToolLevel
from tests.factories import app_session as dbs
from tests.items import tab_url
from tests.web.pages import HX, World, text

KEY = "subcontractor_invoice"
TRIALS = 10  # per pairing; more finds rarer interleavings, slower

ROLE_USERS = {"approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "second_approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "project_admin": {}}


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def at_once(clients, posts: list[tuple[str, str, dict]]) -> list:
    """POST each (role, url, form) from its own thread, released together; each thread's response
    (or the exception its request raised: the test client propagates a server error)."""
    barrier = threading.Barrier(len(posts))
    got: list = [None] * len(posts)

    def post(i: int, role: str, url: str, form: dict) -> None:
        try:
            barrier.wait(timeout=30)
            got[i] = clients[role].post(url, data=form, headers=HX)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            got[i] = exc

    threads = [threading.Thread(target=post, args=(i, *p)) for i, p in enumerate(posts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return got


def decisions(app, erp_id: int) -> tuple[list[str], int]:
    """The transitions out of Ready to Export recorded for the item, and its outbox mails."""
    with dbs(app) as s:
        moves = s.scalars(select(ErpAudit.action).where(ErpAudit.erp_item_id == erp_id,
                                                         ErpAudit.from_state == State.READY)).all()
        mails = s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp_id))
        return list(moves), mails or 0


@pytest.mark.parametrize("pairing", ["accept vs reject", "reject vs reject"])
def test_two_decisions_at_once_record_one_and_the_other_is_told_409(app, clients, people, world, drain, pairing):
    reject = {"reason": "Wrong retainage"}
    for _ in range(TRIALS):
        inv = world.item(KEY, State.READY)
        accept = {"erp_id": inv.number, "accounting_date": "2026-10-31"}
        first = ("accept", accept) if pairing == "accept vs reject" else ("reject", reject)
        got = at_once(clients, [("approver", tab_url(KEY, inv.erp, first[0]), first[1]),
                                ("second_approver", tab_url(KEY, inv.erp, "reject"), reject)])
        errors = [g for g in got if isinstance(g, Exception)]
        assert not errors, errors
        assert all(r.status_code < 500 for r in got), [r.status_code for r in got]
        assert sorted(r.status_code for r in got) == [200, 409], [r.status_code for r in got]

        moves, mails = decisions(app, inv.erp)
        assert len(moves) == 1, moves
        assert mails == (1 if moves == ["reject"] else 0)
        winner = got[0] if got[0].status_code == 200 else got[1]
        loser = got[1] if winner is got[0] else got[0]
        who = people["approver" if winner is got[0] else "second_approver"].name
        told = (f"{inv.number} was rejected by {who} at " if moves == ["reject"]
                else f"{inv.number} is already Exporting (accepted by {who} at ")
        assert told in text(loser), text(loser)[:800]
        assert 'name="reason"' not in text(loser)  # the form is not left open
    drain()
