"""Two approvers decide the same item at the same moment: the pairings, one trial of a pairing and
what went wrong in it. Shared by tests/web/test_races.py (a few trials, asserted) and
bench/races.py (many, counted).

Each request comes from its own thread with its own signed-in test client, so each has its own app
context and database session; the threads are released together by a barrier. One decision must be
recorded, the other request answered 409 with the row as it now is and who decided first (never a
500, never the form left open), and a rejection mailed once.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select

from portal.domain.lifecycle import State
from portal.domain.models import ErpAudit, OutboxMail, ToolLevel
from tests import items
from tests.factories import app_session
from tests.web.pages import HX, World, text

KEY = "subcontractor_invoice"   # unlinkable, and rejected with a mail
APPROVERS = ("approver", "second_approver")
# the users a trial needs: two accounting approvers, and the project admin who sends the items
ROLE_USERS = {"approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "second_approver": dict(erp_level=ToolLevel.STANDARD, push=True),
              "project_admin": {}}
REJECT = {"reason": "Wrong retainage"}


@dataclass(frozen=True)
class Pairing:
    """Two decisions (the ERP tab's routes: accept, reject, unlink) on an item in state `start`.
    Retry is the Accept form of a Failed to Export item."""
    name: str
    start: str
    actions: tuple[str, str]


PAIRINGS = [
    Pairing("accept vs reject", State.READY, ("accept", "reject")),
    Pairing("reject vs reject", State.READY, ("reject", "reject")),
    Pairing("retry vs retry", State.FAILED, ("accept", "accept")),
    Pairing("retry vs reject", State.FAILED, ("accept", "reject")),
    Pairing("unlink vs unlink", State.SYNCED, ("unlink", "unlink")),
]
BY_NAME = {p.name: p for p in PAIRINGS}


def at_once(clients, posts: list[tuple[str, str, dict]], spans: list | None = None) -> list:
    """POST each (role, url, form) from its own thread, released together; each thread's response
    (or the exception its request raised: the test client propagates a server error). `spans`, if
    given, gets each request's (start, end) on the perf_counter clock."""
    barrier = threading.Barrier(len(posts))
    got: list = [None] * len(posts)
    times: list = [None] * len(posts)

    def post(i: int, role: str, url: str, form: dict) -> None:
        try:
            barrier.wait(timeout=30)
            start = time.perf_counter()
            try:
                got[i] = clients[role].post(url, data=form, headers=HX)
            finally:
                times[i] = (start, time.perf_counter())
        except Exception as exc:  # noqa: BLE001 - reported by the trial
            got[i] = exc

    threads = [threading.Thread(target=post, args=(i, *p)) for i, p in enumerate(posts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if spans is not None:
        spans[:] = times
    return got


def decisions(app, erp_id: int, start: str) -> tuple[list[str], int]:
    """The transitions out of `start` recorded for the item, and its outbox mails."""
    with app_session(app) as s:
        moves = s.scalars(select(ErpAudit.action).where(ErpAudit.erp_item_id == erp_id,
                                                         ErpAudit.from_state == start)).all()
        mails = s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.erp_item_id == erp_id))
        return list(moves), mails or 0


def told(action: str, number: str, who: str) -> str:
    """How the loser's row starts to say what the winner did."""
    return {"accept": f"{number} is already Exporting (accepted by {who} at ",
            "reject": f"{number} was rejected by {who} at ",
            "unlink": f"{number} is now Draft (unlinked by {who} at "}[action]


@dataclass
class Trial:
    """One race: both answers (or exceptions), the decisions recorded and the mails it caused."""
    pairing: Pairing
    number: str
    got: list
    moves: list[str]
    mails: int
    names: dict = field(default_factory=dict)   # role -> user's name
    spans: list = field(default_factory=list)   # each request's (start, end)

    @property
    def overlapped(self) -> bool:
        """Both requests were in the app at once (else one finished before the other began)."""
        return len(self.spans) == 2 and None not in self.spans and \
            max(a for a, _ in self.spans) < min(b for _, b in self.spans)

    @property
    def server_errors(self) -> int:
        return sum(1 for g in self.got if isinstance(g, Exception) or g.status_code >= 500)

    @property
    def statuses(self) -> list:
        return [g if isinstance(g, Exception) else g.status_code for g in self.got]

    @property
    def conflicts(self) -> int:
        return sum(1 for g in self.got if not isinstance(g, Exception) and g.status_code == 409)

    @property
    def mails_expected(self) -> int:
        return 1 if self.moves == ["reject"] else 0

    def problems(self) -> list[str]:
        """What went wrong, one line each; empty for a race handled as it should be."""
        if self.server_errors:
            return [f"server error: {self.statuses}"]
        found = []
        if sorted(self.statuses) != [200, 409]:
            found.append(f"statuses {self.statuses}, not one 200 and one 409")
        if len(self.moves) != 1:
            found.append(f"{len(self.moves)} decisions recorded: {self.moves}")
        if self.mails != self.mails_expected:
            found.append(f"{self.mails} mails for {self.moves}")
        if found:
            return found
        won = 0 if self.got[0].status_code == 200 else 1
        loser = text(self.got[1 - won])
        message = told(self.pairing.actions[won], self.number, self.names[APPROVERS[won]])
        if message not in loser:
            found.append(f"the loser is not told {message!r}: {loser[:400]!r}")
        if 'name="reason"' in loser or 'name="erp_id"' in loser:
            found.append("the loser's form is left open")
        return found


def trial(app, sim, world: World, clients, people, pairing: Pairing) -> Trial:
    """A new item in the pairing's start state (for Unlink: Synced, then deleted in Sage), and its
    two decisions at once, by the two approvers."""
    inv = world.item(KEY, pairing.start)
    if pairing.start == State.SYNCED:
        assert items.builder(KEY).sage_delete(sim, inv), "the Sage record to unlink from was not deleted"
    before, mails_before = decisions(app, inv.erp, pairing.start)
    assert not before, before
    forms = {"accept": {"erp_id": inv.number, "accounting_date": "2026-10-31"}, "reject": REJECT, "unlink": {}}
    spans: list = []
    got = at_once(clients, [(role, items.tab_url(KEY, inv.erp, action), forms[action])
                            for role, action in zip(APPROVERS, pairing.actions, strict=True)], spans)
    moves, mails = decisions(app, inv.erp, pairing.start)
    return Trial(pairing, inv.number, got, moves, mails - mails_before,
                 names={role: people[role].name for role in APPROVERS}, spans=spans)
