"""The health checks (portal.domain.health) without an app: a fake queue probe and Sage connector, a
plain session on an in-memory database, and a fixed clock. What the page and /healthz make of them
is in tests/web/test_health.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import create_engine

from portal.domain import health
from portal.domain.health import AMBER, GREEN, RED, Limits, QueueFacts, WorkerInfo
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, MailStatus, OutboxMail, utcnow
from portal.domain.sage_models import SyncRun, SyncStatus
from tests.rows import check_rows

NOW = datetime(2026, 3, 2, 12, 0, 0)
LIMITS = Limits(export_stall=timedelta(seconds=60), reap_every=timedelta(seconds=30),
                sync_stall=timedelta(seconds=600))


@dataclass
class FakeProbe:
    """The queue probe and worker counter; `down` makes every call raise like a Redis that is gone."""
    workers_: list = field(default_factory=list)
    facts: QueueFacts = QueueFacts(0, None, 0)
    tick: datetime | None = NOW - timedelta(seconds=5)
    down: bool = False
    calls: list = field(default_factory=list)

    def _call(self, name):
        self.calls.append(name)
        if self.down:
            raise ConnectionError("Error 111 connecting to redis-host:6379. Connection refused.")

    def ping(self):
        self._call("ping")

    def workers(self):
        self._call("workers")
        return self.workers_

    def queue_facts(self):
        self._call("queue_facts")
        return self.facts

    def last_tick(self):
        self._call("last_tick")
        return self.tick

    def live_workers(self):
        self._call("live_workers")
        return len(self.workers_)


class Sage:
    def __init__(self, error: Exception | None = None):
        self.error = error

    def ping(self):
        if self.error:
            raise self.error
        return "the simulator's database answers"

    def setup_checks(self):
        if self.error:
            raise self.error
        return []


WORKER = WorkerInfo("w1", "busy", "export-7-1", NOW - timedelta(seconds=3), NOW - timedelta(hours=2))


def run(session, probe=None, sage=None) -> dict[str, health.Check]:
    made = health.report(session, probe or FakeProbe([WORKER]), lambda: sage or Sage(), LIMITS, now=NOW)
    assert [c.name for c in made.checks] == list(health.CHECKS)
    return {c.name: c for c in made.checks}


def test_all_is_green_when_everything_answers_and_moves(session):
    checks = run(session)
    assert {n: c.status for n, c in checks.items() if c.status != GREEN} == {}
    assert checks["workers"].reason == "1 worker running, 1 busy."
    assert checks["workers"].table.rows == (("w1", "busy", "export-7-1", "3 s ago", "2 h 0 min"),)
    assert checks["sage"].reason == "Sage 300 CRE can be reached: the simulator's database answers."


def test_the_overall_status_is_the_worst_check():
    def check(statuses, expected):
        made = health.Report(tuple(health.Check(n, s, "") for n, s in zip(health.CHECKS, statuses, strict=False)), NOW)
        assert made.status == expected
    check_rows({"all green": ((GREEN, GREEN), GREEN), "one amber": ((GREEN, AMBER), AMBER),
                "amber and red": ((AMBER, RED, GREEN), RED), "none": ((), GREEN)}, check)


def test_redis_down_is_red_with_its_error_and_is_asked_once(session):
    probe = FakeProbe([WORKER], down=True)
    checks = run(session, probe)
    assert probe.calls == ["ping"]   # no timeout per check
    assert checks["redis"].status == RED and "Connection refused" in checks["redis"].reason
    assert (checks["workers"].status, checks["workers"].reason) == (RED, health.QUEUE_DOWN)
    assert checks["queue"].status == checks["scheduler"].status == RED
    assert checks["database"].status == GREEN


def test_no_worker_is_red_with_the_notice_text(session):
    checks = run(session, FakeProbe([]))
    assert (checks["workers"].status, checks["workers"].reason) == (RED, health.NO_WORKER)


def test_sage_unreachable_is_red_with_the_connectors_reason(session):
    checks = run(session, sage=Sage(OSError("cannot write to /mnt/sage-drop")))
    assert (checks["sage"].status, checks["sage"].reason) == (
        RED, "Sage 300 CRE cannot be reached: cannot write to /mnt/sage-drop")


def test_a_check_that_raises_is_a_red_line_not_an_error(session):
    class Broken(FakeProbe):
        def queue_facts(self):
            raise RuntimeError("unexpected reply\nwith a traceback")
    checks = run(session, Broken([WORKER]))
    assert (checks["queue"].status, checks["queue"].reason) == (RED, "Job queue could not be checked: unexpected reply")
    assert checks["workers"].status == GREEN


def test_the_database_down_is_red_and_so_are_the_checks_that_read_it(session, tmp_path):
    session.close()
    session.bind = create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'portal.db'}")
    checks = run(session)
    assert {n for n, c in checks.items() if c.status == RED} == {"database", "exports", "mails", "syncs"}
    assert checks["database"].reason.startswith("The database cannot be reached: ")


QUEUE = {
    "empty": (QueueFacts(0, None, 2), GREEN, "Nothing is waiting; 2 job(s) running."),
    "just queued": (QueueFacts(3, NOW - timedelta(seconds=20), 1), GREEN, "3 job(s) queued, the oldest for 20 s."),
    "at the amber line": (QueueFacts(1, NOW - health.QUEUE_AMBER, 0), GREEN, "1 job(s) queued, the oldest for 60 s."),
    "behind": (QueueFacts(9, NOW - timedelta(seconds=61), 1), AMBER,
               "The oldest queued job has waited 61 s: the workers are behind (amber after 60 s)."),
    "nobody takes jobs": (QueueFacts(9, NOW - timedelta(minutes=11), 0), RED,
                          "The oldest queued job has waited 11 min: no worker is taking jobs (red after 10 min)."),
}


def test_the_queue_is_amber_then_red_as_its_oldest_job_waits():
    def check(facts, status, reason):
        made = health.queue_check(facts, NOW)
        assert (made.status, made.reason) == (status, reason)
        assert dict(made.facts)["Queued jobs"] == str(facts.depth)
    check_rows(QUEUE, check)


SCHEDULER = {
    "never": (None, AMBER, "The scheduler has not ticked yet."),
    "just now": (NOW - timedelta(seconds=30), GREEN, "The scheduler ticked 30 s ago."),
    "three ticks": (NOW - timedelta(seconds=90), GREEN, "The scheduler ticked 90 s ago."),
    "missed three": (NOW - timedelta(seconds=91), AMBER, "The scheduler last ticked 91 s ago (3 ticks missed)."),
    "missed ten": (NOW - timedelta(seconds=301), RED, "The scheduler last ticked 5 min ago (10 ticks missed): "
                                                      "is `flask scheduler` running?"),
}


def test_the_scheduler_is_amber_after_three_missed_ticks_and_red_after_ten():
    def check(tick, status, reason):
        made = health.scheduler_check(tick, NOW, LIMITS.reap_every)
        assert (made.status, made.reason) == (status, reason)
    check_rows(SCHEDULER, check)


def test_exports_are_amber_once_the_oldest_waits_past_the_stall_time(session):
    assert run(session)["exports"].reason == "Nothing is Exporting."
    for n, waited in enumerate((10, 45)):
        session.add(ErpItem(item_type="vendor", item_id=n + 1, state=State.EXPORTING,
                            queued_at=NOW - timedelta(seconds=waited)))
    session.add(ErpItem(item_type="vendor", item_id=9, state=State.FAILED, queued_at=NOW - timedelta(hours=1)))
    session.commit()
    made = run(session)["exports"]
    assert (made.status, made.reason) == (GREEN, "2 item(s) Exporting, the oldest for 45 s.")
    session.add(ErpItem(item_type="vendor", item_id=3, state=State.EXPORTING, queued_at=NOW - timedelta(seconds=61)))
    session.commit()
    made = run(session)["exports"]
    assert made.status == AMBER
    assert made.reason.startswith("3 item(s) Exporting, the oldest for 61 s (stalled after 60 s)")


def mail(session, status, age: timedelta) -> None:
    session.add(OutboxMail(recipients="a@example.com", subject="s", text_body="t", html_body="h", status=status,
                           created_at=NOW - age))
    session.commit()


def test_mail_is_amber_when_one_is_stuck_pending_or_failed_lately(session):
    mail(session, MailStatus.SENT, timedelta(hours=2))
    mail(session, MailStatus.FAILED, timedelta(hours=25))   # failed before the window
    mail(session, MailStatus.PENDING, timedelta(minutes=29))
    made = run(session)["mails"]
    assert (made.status, made.reason) == (GREEN, "1 mail(s) pending.")
    mail(session, MailStatus.PENDING, timedelta(minutes=31))
    made = run(session)["mails"]
    assert (made.status, made.reason) == (AMBER, "2 mail(s) pending, the oldest for 31 min: can the SMTP server be "
                                                 "reached?")
    mail(session, MailStatus.FAILED, timedelta(hours=1))
    made = run(session)["mails"]
    assert made.status == AMBER and made.reason.endswith(
        "1 mail(s) failed in the last 24 hours: retry them on the Mail page.")
    assert dict(made.facts) == {"Pending": "2", "Oldest pending": "31 min ago", "Failed in the last 24 h": "1"}


def test_syncs_show_each_kinds_last_run_and_are_amber_when_it_failed_or_stalled(session):
    assert run(session)["syncs"].reason == "No sync has run yet."
    session.add_all([
        SyncRun(kind="vendors", status=SyncStatus.FAILED, message="The sync stopped: Sage is busy."),
        SyncRun(kind="vendors", status=SyncStatus.DONE, message="1 added", finished_at=NOW),   # the last vendors run
        SyncRun(kind="jobs", status=SyncStatus.DONE, message="0 added", finished_at=NOW),
    ])
    session.commit()
    made = run(session)["syncs"]
    assert made.status == GREEN and [r[:2] for r in made.table.rows] == [("Vendors", "done"), ("Jobs", "done")]
    session.add_all([SyncRun(kind="jobs", status=SyncStatus.FAILED, message="The sync stopped: Sage is busy."),
                     # is_stalled reads the real clock
                     SyncRun(kind="cost_codes", status=SyncStatus.RUNNING, heartbeat_at=utcnow() - timedelta(hours=1))])
    session.commit()
    made = run(session)["syncs"]
    assert made.status == AMBER
    assert "The last Jobs sync failed: The sync stopped: Sage is busy." in made.reason
    assert "The Cost Codes sync has shown no progress for over 10 min." in made.reason


def test_the_worker_notice_asks_the_queue_only_for_a_page_with_exporting_rows():
    def check(states, probe, expected, asked):
        assert health.worker_notice(iter(states), probe) == expected
        assert probe.calls == (["live_workers"] if asked else [])
    check_rows({
        "nothing exporting": ((State.READY, State.SYNCED), FakeProbe([]), None, False),
        "nothing exporting, Redis down": ((State.FAILED,), FakeProbe([], down=True), None, False),
        "exporting, no worker": ((State.READY, State.EXPORTING), FakeProbe([]), health.NO_WORKER, True),
        "exporting, a worker": ((State.EXPORTING,), FakeProbe([WORKER]), None, True),
        "exporting, Redis down": ((State.EXPORTING,), FakeProbe([], down=True), health.QUEUE_DOWN, True),
    }, check)


def test_ages_read_as_people_say_them():
    def check(seconds, expected):
        assert health.ago(timedelta(seconds=seconds)) == expected
    check_rows({"now": (0, "0 s"), "a clock ahead": (-4, "0 s"), "under two minutes": (119, "119 s"),
                "minutes": (7199, "119 min"), "hours": (3 * 3600 + 300, "3 h 5 min"), "days": (3 * 86400, "3 days")},
               check)
