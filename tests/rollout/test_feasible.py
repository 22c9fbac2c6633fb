"""Sizing a stage before it starts (canary_lint/rollout/feasible.py): at plan load from traffic.expected_rps, and
in the runner from the request rate the metrics show, with judge.on_infeasible refuse or warn."""

import math

import pytest
from rollout_fakes import FakeMetrics, FakeRouter, write_release

from canary_lint.rollout import feasible as F
from canary_lint.rollout import plan as plan_mod
from canary_lint.rollout import samplesize as S
from canary_lint.rollout.journal import Journal
from canary_lint.rollout.plan import PlanError
from canary_lint.rollout.routers import Route
from canary_lint.rollout.runner import Runner

CHECKOUT = {
    "name": "checkout",
    "kind": "ratio",
    "good": 'checkouts{version="$version"}[$window]',
    "total": 'requests{version="$version"}[$window]',
    "max_decrease": "1%",
    "detect": "4%",
    "expected": "60%",
}
LATENCY = {"name": "latency", "kind": "latency", "histogram": "h", "max_increase": "50ms"}


def _load(tmp_path, **over):
    return plan_mod.load(write_release(tmp_path, **over))


def test_the_message_says_requests_time_and_hold_in_human_units(tmp_path):
    plan = _load(tmp_path, criteria=[CHECKOUT], steps=[{"weight": 5, "hold": {"min": "1m", "max": "2m"}},
                                                       {"weight": 100}])
    (need,) = F.stage_needs(plan, 0, 40.0, {"checkout": (0.6, None)})
    n = S.ceil(S.rate_n(0.6, 0.99, 0.96, 0.05, plan.alpha_per_test, plan.power))
    assert need.requests == n and not need.ok
    assert need.seconds == pytest.approx(n / 2.0)
    assert need.message.startswith(f"checkout −4% needs ~{n:,} canary requests; at 5% of 40 req/s that is ")
    assert f"that is {round(n / 2.0 / 60)} min, hold.max is 2 min" in need.message


def test_no_baseline_events_never_passes_and_says_how_to_fix_it(tmp_path):
    errors = {"name": "errors", "kind": "ratio", "bad": 'errors{version="$version"}[$window]',
              "total": 'requests{version="$version"}[$window]', "max_increase": "10%"}
    plan = _load(tmp_path, criteria=[errors])
    (need,) = F.stage_needs(plan, 0, 2000.0, {"errors": (0.0, 120000.0)}, "over the last 5m")
    assert need.requests is None and need.seconds is None and not need.ok
    assert "can never pass" in need.message and "negligible: 0.1%" in need.message
    assert "120,000 baseline requests over the last 5m" in need.message
    # none seen yet is said, not refused: a short or quiet window proves nothing about the stage
    assert need.advisory and F.refusal(plan, [need]) is None
    (expected,) = F.stage_needs(plan, 0, 2000.0, {"errors": (0.0, None)})  # `expected: 0%`: taken at its word
    assert not expected.advisory and F.refusal(plan, [expected]).startswith("cannot decide in time: stage 1/3")
    plan = _load(tmp_path / "neg", criteria=[{**errors, "negligible": "0.1%"}])
    (need,) = F.stage_needs(plan, 0, 2000.0, {"errors": (0.0, 120000.0)})
    # with `negligible`, an event-free canary passes after 2,995 requests: at 20% of 2,000 req/s 7.5 s, over 3 s
    assert need.requests == 2995 and need.seconds == pytest.approx(2995 / 400) and not need.ok
    assert "errors (negligible 0.1%) needs ~2,995 canary requests; at 20% of 2,000 req/s that is 7.5 s" in need.message


def test_plan_load_refuses_a_stage_that_cannot_decide_at_the_expected_rate(tmp_path):
    steps = [{"weight": 5, "hold": {"min": "1m", "max": "2m"}}, {"weight": 100}]
    with pytest.raises(PlanError) as err:
        _load(tmp_path, criteria=[CHECKOUT], steps=steps, traffic={"grace": "0.2s", "expected_rps": 40})
    msg = str(err.value)
    assert "at traffic.expected_rps 40: cannot decide in time: steps/0 (weight 5%): checkout −4% needs ~" in msg
    assert "hold.max is 2 min" in msg and "judge.on_infeasible: warn" in msg
    # warn: loaded, with the same words as a note; a plan that can decide loads without one
    plan = _load(tmp_path / "warn", criteria=[CHECKOUT], steps=steps, traffic={"grace": "0.2s", "expected_rps": 40},
                 judge={"alpha": 0.01, "on_infeasible": "warn"})
    assert len(plan.notes) == 1 and "checkout −4% needs ~" in plan.notes[0]
    fast = [{"weight": 50, "hold": {"min": "1m", "max": "2h"}}, {"weight": 100}]
    assert _load(tmp_path / "ok", criteria=[CHECKOUT], steps=fast, traffic={"expected_rps": 400}).notes == ()


def test_latency_needs_its_threshold_fixed_too(tmp_path):
    plan = _load(tmp_path, criteria=[LATENCY])
    (need,) = F.stage_needs(plan, 0, 100.0, {})
    n = S.ceil(S.exceedance_n(0.99, 1.0, plan.alpha_per_test, plan.power))
    assert need.requests == n and need.criterion == "latency p99"
    assert need.seconds == pytest.approx(max(n / 20.0, 2000 / 80.0))
    assert math.isfinite(need.seconds)


def _runner(tmp_path, rps, **over):
    plan = _load(tmp_path, **over)
    router = FakeRouter()
    metrics = FakeMetrics(router, rps=rps)
    logged = []
    return Runner(plan, Journal(plan.journal_path), routers=[router], metrics=metrics, log=logged.append), router, \
        logged


def test_the_runner_refuses_before_routing_when_a_stage_cannot_decide(tmp_path):
    # errors 5% vs 5%, tolerance 0%: ~300 canary requests at 20%; at 50 req/s that is 30 s, hold.max 3 s
    runner, router, logged = _runner(tmp_path, rps=50.0)
    result = runner.run()
    assert result.state == "refused" and result.exit_code == 3
    assert router.history == []  # nothing was ever routed
    assert "stage 1/3 weight 20%: errors +100% needs ~" in result.reason
    assert "at 20% of 50 req/s that is" in result.reason and "hold.max is 3 s" in result.reason
    sized = runner.journal.events(runner.rollout, "sized")
    assert sized and sized[0]["data"]["feasible"] is False and sized[0]["data"]["rps"] == 50.0
    assert {n["stage"] for n in sized[0]["data"]["needs"]} == {1, 2}
    assert runner.journal.get(runner.rollout).state == "refused"


def test_warn_goes_on_and_says_why(tmp_path):
    runner, router, logged = _runner(tmp_path, rps=50.0, judge={"alpha": 0.01, "interval": "0.05s",
                                                                "on_infeasible": "warn"})
    result = runner.run()
    assert any(m.startswith("[shop] warning: cannot decide in time") for m in logged)
    assert router.history and router.history[0] == Route(20)
    assert result.state in ("promoted", "rolled-back")  # judged as before: the hold decides


def test_a_feasible_plan_proceeds(tmp_path):
    runner, router, _ = _runner(tmp_path, rps=2000.0)
    result = runner.run()
    assert result.state == "promoted", result.reason
    assert all(e["data"]["feasible"] for e in runner.journal.events(runner.rollout, "sized"))
