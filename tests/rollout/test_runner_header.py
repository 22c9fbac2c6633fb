"""A header stage followed by weight stages: the header route stays in force, so the canary also gets every
header-routed request. The weight stages judge the requests the weight applies to (metrics.header_routed),
or say that they cannot and check only what still holds."""

import pytest
from rollout_fakes import FakeMetrics, FakeRouter, plan_dict, write_release

from canary_lint.rollout import plan as plan_mod
from canary_lint.rollout.journal import Journal
from canary_lint.rollout.plan import PlanError
from canary_lint.rollout.routers import Route
from canary_lint.rollout.runner import Runner

HOLD = {"min": "0.1s", "max": "6s"}  # the 5% stage needs ~3.1 s of requests to decide (rollout/feasible.py)
STEPS = [
    {"header": {"name": "X-Canary", "value": "internal"}, "hold": HOLD},
    {"weight": 5, "hold": HOLD},
    {"weight": 20, "hold": HOLD},
    {"weight": 100},
]
APART = [
    {
        "name": "errors",
        "kind": "ratio",
        "bad": 'errors{version="$version",$route}[$window]',
        "total": 'requests{version="$version",$route}[$window]',
        "max_increase": "0%",
    }
]


class RecordingMetrics(FakeMetrics):
    def __init__(self, router, **kw):
        super().__init__(router, **kw)
        self.seen = []

    def scalar(self, expr, at=None):
        self.seen.append((self.router.route, expr))
        return super().scalar(expr, at)


def _run(tmp_path, apart=True, steps=STEPS, labelled=True, weight_broken=False):
    metrics_spec = dict(plan_dict()["metrics"])
    over = {"steps": steps}
    if apart:
        metrics_spec["header_routed"] = 'route="header"'
        over["criteria"] = APART
    path = write_release(tmp_path, metrics=metrics_spec, **over)
    plan = plan_mod.load(path)
    router = FakeRouter()
    metrics = RecordingMetrics(router)
    metrics.header_rps = 2000 / 9  # 10% of all requests carry the header, as in the issue
    metrics.labelled = labelled
    if weight_broken:
        metrics.canary_alive = False  # the weighted requests never reach the canary; header-routed ones do
    logged = []
    runner = Runner(plan, Journal(plan.journal_path), routers=[router], metrics=metrics, log=logged.append)
    return runner.run(), runner, router, metrics, logged


def _verdicts(runner, stage, criterion):
    return [
        v
        for e in runner.journal.events(runner.rollout, "measurement")
        if e["stage"] == stage
        for v in e["data"]["verdicts"]
        if v["criterion"] == criterion
    ]


def test_header_then_weights_judge_the_share_on_the_weighted_requests(tmp_path):
    result, runner, router, metrics, _ = _run(tmp_path)
    assert result.state == "promoted", result.reason
    assert router.history[1] == Route(5, ("X-Canary", "internal"))
    shares = [v["numbers"]["share"] for v in _verdicts(runner, 1, "traffic")]
    assert shares and all(abs(s - 0.05) < 1e-9 for s in shares)  # 5%, not the 14.5% header routing adds
    # what $route selected in each stage
    by_stage = {}
    for route, expr in metrics.seen:
        by_stage.setdefault((route.canary, expr.split("{")[1].split("}")[0]), 0)
    assert (0.0, 'version="v2",route="header"') in by_stage  # header stage: the canary's header-routed requests
    assert (0.0, 'version="v1",route!="header"') in by_stage
    assert (5.0, 'version="v2",route!="header"') in by_stage  # weight stages: the weighted requests, both sides
    assert (5.0, 'version="v1",route!="header"') in by_stage
    assert not any("not told apart" in v["message"] for v in _verdicts(runner, 1, "errors"))


def test_the_issue_plan_is_promoted_and_says_what_it_could_not_check(tmp_path):
    """Without header_routed the canary's counts include header-routed requests (14.5% at a 5% weight):
    the share is checked only for being at least the target, and every verdict says its samples are mixed."""
    result, runner, router, _, logged = _run(tmp_path, apart=False)
    assert result.state == "promoted", result.reason
    share = _verdicts(runner, 1, "traffic")[-1]
    assert share["numbers"]["share"] == pytest.approx(0.145, abs=0.001)
    assert share["numbers"]["lower_only"] and "header-routed ones included" in share["message"]
    errors = _verdicts(runner, 1, "errors")[-1]
    assert errors["numbers"]["samples"] == "weighted+header-routed" and "not told apart" in errors["message"]
    assert any("do not tell header-routed requests apart" in line for line in logged)
    # the header stage itself has no weighted requests: nothing is mixed there
    assert "samples" not in _verdicts(runner, 0, "errors")[-1]["numbers"]


def test_lower_bound_still_fails_a_canary_the_weight_does_not_reach(tmp_path):
    steps = [STEPS[0], {"weight": 50, "hold": HOLD}, {"weight": 100}]
    result, runner, router, _, _ = _run(tmp_path, apart=False, steps=steps, weight_broken=True)
    assert result.state == "rolled-back"
    assert "traffic" in result.reason and "target at least 50%" in result.reason
    assert router.route == Route()


def test_with_header_routed_a_canary_the_weight_does_not_reach_fails_at_any_weight(tmp_path):
    result, runner, router, _, _ = _run(tmp_path, weight_broken=True)
    assert result.state == "rolled-back"
    assert "no canary requests" in result.reason or "received no requests" in result.reason


def _load(tmp_path, **over):
    return plan_mod.load(write_release(tmp_path, **over))


def test_plan_rules_for_route(tmp_path):
    with_route = {**plan_dict()["metrics"], "header_routed": 'route="header"'}
    with pytest.raises(PlanError, match=r"criterion errors: bad must place \$route"):
        _load(tmp_path / "a", metrics=with_route)  # the default criteria do not place $route
    with pytest.raises(PlanError, match=r"uses \$route but metrics.header_routed is not set"):
        _load(tmp_path / "b", criteria=APART)
    with pytest.raises(PlanError, match="header_routed"):
        _load(tmp_path / "c", metrics={**with_route, "header_routed": "route=header"}, criteria=APART)
    plan = _load(tmp_path / "d", metrics={**with_route, "header_routed": 'via =~ "x-canary.*"'}, criteria=APART)
    assert plan.header_routed == ("via", "=~", "x-canary.*")
