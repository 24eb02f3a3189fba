"""The one lifecycle, checked against the table in design.md: every (action, state) pair, each table one
test that names every row that fails (tests/rows.py). No app."""
from __future__ import annotations

import itertools

import pytest

from portal.domain.errors import Conflict
from portal.domain.lifecycle import EDITABLE, TRANSITIONS, Action, State, allowed, next_state
from tests.rows import check_rows

STATES = [State.DRAFT, State.READY, State.EXPORTING, State.SYNCED, State.FAILED, State.REJECTED]
ACTIONS = [Action.SEND, Action.RETRIEVE, Action.ACCEPT, Action.EXPORT_OK, Action.EXPORT_FAILED,
           Action.REJECT, Action.RESEND, Action.UNLINK, Action.REQUEUE, Action.LINK,
           Action.RETRY_LATER, Action.PAYMENT]

# design.md, "One lifecycle for every item type": (from, action) -> to. Everything else is refused.
TABLE = {
    (State.DRAFT, Action.SEND): State.READY,
    (State.READY, Action.RETRIEVE): State.DRAFT,
    (State.READY, Action.ACCEPT): State.EXPORTING,
    (State.FAILED, Action.ACCEPT): State.EXPORTING,
    (State.EXPORTING, Action.EXPORT_OK): State.SYNCED,
    (State.EXPORTING, Action.EXPORT_FAILED): State.FAILED,
    (State.READY, Action.REJECT): State.REJECTED,
    (State.FAILED, Action.REJECT): State.REJECTED,
    (State.REJECTED, Action.RESEND): State.READY,
    (State.SYNCED, Action.UNLINK): State.DRAFT,
    # not in the design table: a stalled export goes back on the queue in the same state
    (State.EXPORTING, Action.REQUEUE): State.EXPORTING,
    # Sage turned it away for a passing reason: it waits in Exporting for its next try
    (State.EXPORTING, Action.RETRY_LATER): State.EXPORTING,
    # an item already in Sage (linked, added from Sage, or exported with its job) is Synced
    (State.DRAFT, Action.LINK): State.SYNCED,
    (State.REJECTED, Action.LINK): State.SYNCED,
    # Sage paid a synced invoice (the Paid Invoices sync): it stays Synced, the check in its history
    (State.SYNCED, Action.PAYMENT): State.SYNCED,
}
PAIRS = list(itertools.product(STATES, ACTIONS))


def pair_id(pair):
    return f"{pair[1]}-from-{pair[0]}"


def test_the_module_knows_exactly_these_states_and_actions():
    assert set(State.LABELS) == set(STATES)
    assert set(TRANSITIONS) == set(ACTIONS)


def test_labels_use_the_words_of_the_domain():
    assert [State.LABELS[s] for s in STATES] == ["Draft", "Ready to Export", "Exporting", "Synced",
                                                  "Failed to Export", "Rejected"]


def test_allowed_transitions():
    def check(state, action):
        assert allowed(action, state), "not allowed"
        assert next_state(action, state) == TABLE[state, action]
    check_rows({pair_id(p): p for p in PAIRS if p in TABLE}, check)


def test_forbidden_transitions_are_a_conflict_naming_the_state():
    def check(state, action):
        assert not allowed(action, state), "allowed"
        with pytest.raises(Conflict) as info:
            next_state(action, state)
        assert info.value.status == 409
        assert State.LABELS[state] in info.value.message
        assert "_" not in info.value.message.split(" an item")[0]  # "export ok", not "export_ok"
    check_rows({pair_id(p): p for p in PAIRS if p not in TABLE}, check)


def test_direct_export_is_send_then_accept_through_the_table():
    """With Direct Export on, Send to ERP takes two rows of the table: to Ready, then accepted."""
    for action, start in ((Action.SEND, State.DRAFT), (Action.RESEND, State.REJECTED)):
        assert next_state(Action.ACCEPT, next_state(action, start)) == State.EXPORTING, action


def test_only_draft_and_rejected_items_are_editable_by_the_project():
    assert EDITABLE == {State.DRAFT, State.REJECTED}


def test_every_state_can_be_left_except_by_the_worker_alone():
    """No dead ends: each state has a way out that a person can take (exporting: requeue)."""
    for state in STATES:
        assert any((state, a) in TABLE for a in ACTIONS if a not in (Action.EXPORT_OK, Action.EXPORT_FAILED)), state


def test_unknown_action_is_a_programming_error():
    with pytest.raises(KeyError):
        next_state("approve", State.READY)
