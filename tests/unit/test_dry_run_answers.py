"""The simulator connector's kept dry-run answers (connectors.DryRunAnswers), against a stand-in
simulator: answers come back in the plans' order whichever were kept; a new change mark, another
plan or no mark at all asks the simulator; a plan whose repr is not its content is never kept."""
from __future__ import annotations

from portal.exporters.sage300.connectors import DryRunAnswers, SimulatorConnector
from portal.exporters.sage300.records import Batch, DryRun


class StandIn:
    """change_mark() as set; dry_run answers ok with each plan's batch id as its message."""

    def __init__(self):
        self.mark: str | None = "1"
        self.asked: list[list[str]] = []

    def change_mark(self):
        return self.mark

    def dry_run(self, plans):
        self.asked.append([plan[0].batch_id for plan in plans])
        return [DryRun(ok=True, message=plan[0].batch_id) for plan in plans]


class Opaque:
    """A record that is no dataclass: its repr is its address, not its content."""


def plan(name: str, *records) -> list[Batch]:
    return [Batch(name, "ap_invoice", tuple(records))]


def test_kept_answers_come_back_in_order_and_only_the_rest_are_asked():
    sim, answers = StandIn(), DryRunAnswers()
    connector = SimulatorConnector(sim, answers)
    assert [a.message for a in connector.dry_run([plan("a"), plan("b")])] == ["a", "b"]
    assert [a.message for a in connector.dry_run([plan("c"), plan("a"), plan("b")])] == ["c", "a", "b"]
    assert sim.asked == [["a", "b"], ["c"]]
    sim.mark = "2"  # Sage's side changed: nothing kept applies
    connector.dry_run([plan("a")])
    sim.mark = None  # the hourly limit is on: nothing is kept or reused
    connector.dry_run([plan("a")])
    connector.dry_run([plan("a")])
    assert sim.asked == [["a", "b"], ["c"], ["a"], ["a"], ["a"]]


def test_a_plan_whose_repr_is_no_content_is_never_kept_and_the_oldest_answers_go_first():
    sim, answers = StandIn(), DryRunAnswers(size=2)
    connector = SimulatorConnector(sim, answers)
    opaque = plan("o", Opaque())
    assert [a.message for a in connector.dry_run([opaque, plan("a")])] == ["o", "a"]
    connector.dry_run([opaque, plan("a")])
    assert sim.asked == [["o", "a"], ["o"]]
    connector.dry_run([plan("b"), plan("c")])  # two more: "a" is dropped
    connector.dry_run([plan("a"), plan("c")])
    assert sim.asked[-1] == ["a"]
