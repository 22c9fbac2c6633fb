"""A runner that dies (kill -9) mid-stage or between deciding a rollback and applying it: resume goes on from the
journaled window, and whatever opens the journal next applies the pending rollback first."""

import json
import os
import subprocess
import sys
import time

import pytest
from rollout_fakes import FakeMetrics, FakeRouter, plan_dict, write_release

from canary_lint.rollout import plan as plan_mod
from canary_lint.rollout.journal import Journal
from canary_lint.rollout.routers import Route
from canary_lint.rollout.runner import Runner


class Died(BaseException):
    """The runner process is gone: nothing after this point runs (no rollback, no journal update)."""


def _dying_sleep(after_looks: int):
    calls = {"n": 0}

    def sleep(seconds):
        calls["n"] += 1
        if calls["n"] > after_looks:
            raise Died()
        time.sleep(seconds)

    return sleep


STEPS = [{"weight": 20, "hold": {"min": "1.5s", "max": "10s"}}, {"weight": 100}]


def _plan(tmp_path, **over):
    over.setdefault("steps", STEPS)
    return plan_mod.load(write_release(tmp_path, **over))


def test_resume_goes_on_from_the_journaled_start_of_the_stage(tmp_path):
    plan = _plan(tmp_path)
    router = FakeRouter()
    journal = Journal(plan.journal_path)
    first = Runner(plan, journal, routers=[router], metrics=FakeMetrics(router), log=lambda m: None,
                   sleep=_dying_sleep(12))
    with pytest.raises(Died):
        first.run()
    rid = first.rollout
    before = journal.events(rid, "measurement")
    assert before and journal.get(rid).state == "running"
    started = journal.events(rid, "stage-start")[0]["data"]["start"]
    time.sleep(0.3)  # the runner stays dead a while; the canary keeps its 20%
    resumed = Runner(plan_mod.from_journal(journal.get(rid).plan), journal, routers=[router],
                     metrics=FakeMetrics(router), log=lambda m: None)
    result = resumed.resume(rid)
    assert result.state == "promoted", result.reason
    starts = journal.events(rid, "stage-start")
    assert starts[1]["data"] == {**starts[0]["data"], "resumed": True} and starts[1]["data"]["start"] == started
    after = [e for e in journal.events(rid, "measurement") if e["id"] > starts[1]["id"]]
    # the first look after resuming already covers the time before the kill and the time the runner was dead
    assert after[0]["data"]["elapsed"] > before[-1]["data"]["elapsed"] + 0.3
    assert [r.canary for r in router.history] == [20, 100]  # the 20% in force was not re-applied


def test_resume_starts_the_stage_afresh_when_its_routing_is_not_in_force(tmp_path):
    plan = _plan(tmp_path)
    router = FakeRouter()
    journal = Journal(plan.journal_path)
    rid = journal.start("shop", plan.to_json(), "abc", False)
    t0 = time.time() - 30
    journal.event(rid, "route-intent", {"route": {"canary": 20, "header": None}}, region=0, stage=0)
    journal.event(rid, "stage-start", {"start": t0, "route": {"canary": 20, "header": None}, "resumed": False},
                  region=0, stage=0)
    router.route = Route(0)  # someone (or a router restart) set the canary back: the journaled window is void
    result = Runner(plan, journal, routers=[router], metrics=FakeMetrics(router), log=lambda m: None).resume(rid)
    assert result.state == "promoted"
    starts = journal.events(rid, "stage-start")
    assert starts[-1]["data"]["resumed"] is False and starts[-1]["data"]["start"] > t0 + 29
    assert [r.canary for r in router.history] == [20, 100]


def test_the_failing_look_and_the_rollback_decision_are_journaled_together(tmp_path):
    plan = _plan(tmp_path)
    router = FakeRouter()
    journal = Journal(plan.journal_path)
    real = journal.event

    def event(rollout, kind, data=None, **kw):
        if kind == "rollback-intent":
            raise Died()  # killed between the two writes
        return real(rollout, kind, data, **kw)

    journal.event = event
    runner = Runner(plan, journal, routers=[router], metrics=FakeMetrics(router, p_canary=0.2), log=lambda m: None)
    with pytest.raises(Died):
        runner.run()
    journal.event = real
    ev = journal.events(runner.rollout)
    assert not [e for e in ev if e["kind"] == "measurement" and e["data"]["outcome"] == "fail"]


def test_apply_pending_records_how_long_the_rollback_stayed_unapplied(tmp_path):
    plan = _plan(tmp_path)
    router = FakeRouter()
    router.route = Route(20)
    journal = Journal(plan.journal_path)
    rid = journal.start("shop", plan.to_json(), "abc", False)
    journal.event(rid, "rollback-intent", {"reason": "errors: canary worse"}, region=0)
    time.sleep(0.2)
    result = Runner(plan, journal, routers=[router], metrics=FakeMetrics(router), log=lambda m: None).apply_pending(
        rid, "status"
    )
    assert result.state == "rolled-back" and router.route == Route()
    done = journal.events(rid, "rollback-done")[0]["data"]
    assert done["applied_by"] == "status" and done["unapplied_for"] >= 0.2
    assert len(journal.events(rid, "rollback-intent")) == 1  # the decision as it was made, not a new one
    again = Runner(plan, journal, routers=[router], metrics=FakeMetrics(router), log=lambda m: None)
    assert again.apply_pending(rid, "status") is None  # nothing pending any more


def _cli(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "canary_lint", "rollout", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("command", ["status", "abort", "resume"])
def test_a_rollback_journaled_before_kill_9_is_applied_by_the_next_command(tmp_path, command):
    marker = tmp_path / "weights.log"
    router = {"kind": "command", "set_weight": ["sh", "-c", f"echo {{canary}} >> {marker}"]}
    steps = [{"weight": 20, "hold": {"min": "1s", "max": "5s"}}, {"weight": 100}]
    plan = write_release(tmp_path, router=router, steps=steps, metrics=plan_dict()["metrics"])
    # nothing answers on the plan's Prometheus: the stage holds, then decides to roll back past down_limit,
    # and the runner is killed right after journaling that decision
    out = _cli(str(plan), env={"CANARY_LINT_KILL_AFTER": "rollback-intent"})
    assert out.returncode == -9, out.stderr
    assert marker.read_text().split() == ["20"]  # decided, not applied: the canary still gets its 20%
    time.sleep(0.3)
    after = _cli(command, str(plan)) if command != "status" else _cli("status", str(plan), "--format", "json")
    assert marker.read_text().split() == ["20", "0"], after.stderr
    assert "was never applied" in after.stderr
    assert after.returncode == {"status": 0, "abort": 0, "resume": 4}[command], after.stderr
    j = Journal(plan.parent / ".canary-lint" / "rollout.sqlite")
    r = j.latest("shop")
    assert r.state == "rolled-back" and "metrics provider unavailable" in r.reason
    done = j.events(r.id, "rollback-done")[0]["data"]
    assert done["applied_by"] == command and done["unapplied_for"] >= 0.3
    if command == "status":
        assert json.loads(after.stdout)["state"] == "rolled-back"


def test_a_journal_opened_while_another_process_writes_its_first_lines_waits_for_it(tmp_path):
    """Switching a new journal to WAL needs the file to itself, and SQLite refuses at once (no busy wait)
    while another connection writes: the runner starting while `status` created the journal died with
    "database is locked"."""
    import sqlite3
    import threading

    path = tmp_path / "journal.sqlite"
    other = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE IF NOT EXISTS scratch (a)")
    done = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    done.start()
    try:
        journal = Journal(path)
    finally:
        done.join()
        other.close()
    assert journal.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
