"""Cookie steps: parsed and refused at plan load, folded into the route like the header route (kept until 100%,
removed at rollback), and judged like it: a cookie stage on the canary's cookie-routed requests, the weight
stages after it on the requests the weight applies to (metrics.cookie_routed) or saying that they cannot."""

import pytest
from rollout_fakes import FakeMetrics, FakeRouter, plan_dict, write_release

from canary_lint.rollout import plan as plan_mod
from canary_lint.rollout import status as status_mod
from canary_lint.rollout.journal import Journal
from canary_lint.rollout.plan import PlanError, Step
from canary_lint.rollout.routers import Route
from canary_lint.rollout.runner import Runner

HOLD = {"min": "0.1s", "max": "5s"}
HEADER = ("X-Canary", "internal")
COOKIE = ("beta", "yes")
STEPS = [
    {"header": {"name": HEADER[0], "value": HEADER[1]}, "hold": HOLD},
    {"cookie": {"name": COOKIE[0], "value": COOKIE[1]}, "hold": HOLD},
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
BOTH = {"header_routed": 'route="header"', "cookie_routed": 'route="cookie"'}


def _load(tmp_path, **over):
    return plan_mod.load(write_release(tmp_path, **over))


# -- the plan ---------------------------------------------------------------------------------------------


def test_a_cookie_step_is_a_judged_stage_that_names_its_cookie(tmp_path):
    plan = _load(tmp_path, steps=STEPS)
    step = plan.steps[1]
    assert step == Step("cookie", cookie=COOKIE, hold_min=0.1, hold_max=5.0)
    assert step.judged and step.describe() == "cookie beta=yes"
    assert plan.judged_stages == 4  # header, cookie, 5%, 20%


def test_the_cookie_route_stays_with_the_header_route_until_the_promotion(tmp_path):
    plan = _load(tmp_path, steps=STEPS)
    runner = Runner(plan, Journal(plan.journal_path), routers=[FakeRouter()], metrics=None)
    assert [runner.route_at(i) for i in range(len(STEPS))] == [
        Route(0, HEADER),
        Route(0, HEADER, COOKIE),
        Route(5, HEADER, COOKIE),
        Route(20, HEADER, COOKIE),
        Route(100),  # promoted: neither route is left
    ]
    later = _load(tmp_path / "b", steps=[STEPS[1], {"cookie": {"name": "beta", "value": "2"}, "hold": HOLD},
                                         {"weight": 100}])
    assert Runner(later, Journal(later.journal_path), routers=[FakeRouter()]).route_at(1) == \
        Route(0, None, ("beta", "2"))  # a second cookie step replaces the first


@pytest.mark.parametrize("name", ["be ta", "beta;x", "beta=1", "a$b", "a{b}", "a`b", 'a"b', "a'b", "a\nb",
                                  "a\\b", "x" * 101, ""])
def test_a_cookie_name_a_router_cannot_match_safely_is_refused_in_one_line_naming_the_step(tmp_path, name):
    steps = [STEPS[0], {"cookie": {"name": name, "value": "yes"}, "hold": HOLD}, {"weight": 100}]
    with pytest.raises(PlanError) as exc:
        _load(tmp_path, steps=steps)
    message = str(exc.value)
    assert "\n" not in message and "steps/1: cookie name" in message and "RFC 6265 token" in message


@pytest.mark.parametrize("value", ["y es", "yes;other=1", 'y"', "y'", "y`", "y}", "y\n", "y$x", "y\\", "y" * 201, ""])
def test_a_cookie_value_that_could_reach_router_config_is_refused_in_one_line(tmp_path, value):
    steps = [{"cookie": {"name": "beta", "value": value}, "hold": HOLD}, {"weight": 100}]
    with pytest.raises(PlanError) as exc:
        _load(tmp_path, steps=steps)
    message = str(exc.value)
    assert "\n" not in message and "steps/0: cookie beta: value" in message


@pytest.mark.parametrize("name", ["beta", "beta-user", "Beta_2", "app.beta"])
def test_token_names_routers_can_match_are_taken(tmp_path, name):
    plan = _load(tmp_path, steps=[{"cookie": {"name": name, "value": "v1.2:x-y_z"}, "hold": HOLD}, {"weight": 100}])
    assert plan.steps[0].cookie == (name, "v1.2:x-y_z")


def test_a_cookie_step_needs_a_hold_and_no_other_keys(tmp_path):
    with pytest.raises(PlanError, match="steps/0"):
        _load(tmp_path / "a", steps=[{"cookie": {"name": "beta", "value": "yes"}}, {"weight": 100}])
    with pytest.raises(PlanError, match="steps/0"):
        _load(tmp_path / "b", steps=[{"cookie": {"name": "beta", "value": "yes", "path": "/"}, "hold": HOLD},
                                     {"weight": 100}])


def test_each_routed_kind_needs_its_own_matcher_once_routes_are_told_apart(tmp_path):
    metrics = plan_dict()["metrics"]
    with pytest.raises(PlanError, match=r"steps/1: cookie beta=yes: set metrics.cookie_routed too"):
        _load(tmp_path / "a", steps=STEPS, criteria=APART, metrics={**metrics, "header_routed": 'route="header"'})
    with pytest.raises(PlanError, match=r"steps/0: header X-Canary: internal: set metrics.header_routed too"):
        _load(tmp_path / "b", steps=STEPS, criteria=APART, metrics={**metrics, "cookie_routed": 'route="cookie"'})
    with pytest.raises(PlanError, match=r"must place \$route \(metrics.header_routed and metrics.cookie_routed are"):
        _load(tmp_path / "c", steps=STEPS, metrics={**metrics, **BOTH})
    with pytest.raises(PlanError, match="at metrics/cookie_routed"):
        _load(tmp_path / "d", steps=STEPS, criteria=APART, metrics={**metrics, **BOTH, "cookie_routed": "route"})
    plan = _load(tmp_path / "e", steps=STEPS, criteria=APART, metrics={**metrics, **BOTH})
    assert plan.cookie_routed == ("route", "=", "cookie") and plan.routed("header") == ("route", "=", "header")
    only_cookie = [STEPS[1], STEPS[-1]]
    plan = _load(tmp_path / "f", steps=only_cookie, criteria=APART, metrics={**metrics, "cookie_routed": 'route="c"'})
    assert plan.header_routed is None and plan.cookie_routed == ("route", "=", "c")


# -- the runner -------------------------------------------------------------------------------------------


class RecordingMetrics(FakeMetrics):
    def __init__(self, router, **kw):
        super().__init__(router, **kw)
        self.seen = []

    def scalar(self, expr, at=None):
        self.seen.append((self.router.route, expr))
        return super().scalar(expr, at)


def _run(tmp_path, apart=True, steps=STEPS, weight_broken=False, p_canary=0.05):
    metrics_spec = dict(plan_dict()["metrics"])
    over = {"steps": steps}
    if apart:
        metrics_spec.update(BOTH)
        over["criteria"] = APART
    plan = plan_mod.load(write_release(tmp_path, metrics=metrics_spec, **over))
    router = FakeRouter()
    metrics = RecordingMetrics(router, p_canary=p_canary)
    metrics.header_rps = metrics.cookie_rps = 2000 / 8  # 10% of all requests carry the header, 10% the cookie
    if weight_broken:
        metrics.canary_alive = False  # the weighted requests never reach the canary; routed ones do
    logged = []
    runner = Runner(plan, Journal(plan.journal_path), routers=[router], metrics=metrics, log=logged.append)
    return runner.run(), runner, router, metrics, logged


def _verdicts(runner, stage, criterion):
    return [v for e in runner.journal.events(runner.rollout, "measurement") if e["stage"] == stage
            for v in e["data"]["verdicts"] if v["criterion"] == criterion]


def test_header_cookie_then_weights_judge_each_stage_on_its_own_requests(tmp_path):
    result, runner, router, metrics, _ = _run(tmp_path)
    assert result.state == "promoted", result.reason
    assert router.history[:3] == [Route(0, HEADER), Route(0, HEADER, COOKIE), Route(5, HEADER, COOKIE)]
    assert router.route == Route(100)  # the promotion removed both routes
    selected = {(route.canary, route.cookie is not None, expr.split("{")[1].split("}")[0])
                for route, expr in metrics.seen}
    # the cookie stage: the canary's cookie-routed requests against the baseline
    assert (0.0, True, 'version="v2",route="cookie"') in selected
    assert (0.0, True, 'version="v1",route!="cookie"') in selected
    # the weight stages: the requests the weight applies to, on both sides, neither routed kind
    assert (5.0, True, 'version="v2",route!="header",route!="cookie"') in selected
    assert (5.0, True, 'version="v1",route!="header",route!="cookie"') in selected
    shares = [v["numbers"]["share"] for v in _verdicts(runner, 2, "traffic")]
    assert shares and all(abs(s - 0.05) < 1e-9 for s in shares)  # 5%, not the 24% both routes add
    assert "cookie-routed requests" in _verdicts(runner, 1, "traffic")[-1]["message"]
    assert not any("not told apart" in v["message"] for s in (1, 2, 3) for v in _verdicts(runner, s, "errors"))


def test_without_the_route_labels_the_share_is_a_lower_bound_and_every_verdict_says_so(tmp_path):
    result, runner, router, _, logged = _run(tmp_path, apart=False)
    assert result.state == "promoted", result.reason
    share = _verdicts(runner, 2, "traffic")[-1]
    assert share["numbers"]["lower_only"]
    assert "header-routed and cookie-routed ones included" in share["message"]
    assert "set metrics.header_routed and metrics.cookie_routed" in share["message"]
    errors = _verdicts(runner, 2, "errors")[-1]
    assert errors["numbers"]["samples"] == "weighted+header-routed+cookie-routed"
    assert "weighted, header-routed and cookie-routed requests, not told apart" in errors["message"]
    assert any("the header and cookie routes are still in force" in line for line in logged)


def test_a_cookie_stage_whose_route_reaches_no_canary_request_fails_naming_the_cookie_route(tmp_path):
    steps = [{"cookie": {"name": "beta", "value": "yes"}, "hold": {"min": "0.1s", "max": "1s"}}, {"weight": 100}]
    plan = plan_mod.load(write_release(tmp_path, steps=steps))
    router = FakeRouter()
    metrics = FakeMetrics(router)  # no request carries the cookie
    result = Runner(plan, Journal(plan.journal_path), routers=[router], metrics=metrics, log=lambda _: None).run()
    assert result.state == "rolled-back"
    assert "does the cookie route reach it?" in result.reason
    assert router.route == Route()


def test_a_failing_canary_is_rolled_back_at_the_cookie_stage_and_the_cookie_route_removed(tmp_path):
    steps = [STEPS[1], STEPS[2], STEPS[-1]]
    result, runner, router, _, _ = _run(tmp_path, steps=steps, p_canary=0.5, apart=False)
    assert result.state == "rolled-back"
    assert "stage 1/3 cookie beta=yes" in result.reason, result.reason
    assert router.history == [Route(0, None, COOKIE), Route()]  # the rollback took the cookie route out
    intents = [e["data"]["route"] for e in runner.journal.events(runner.rollout, "route-intent")]
    assert intents == [{"canary": 0.0, "header": None, "cookie": list(COOKIE)}]  # journaled as it was applied
    r = runner.journal.get(runner.rollout)
    lines = status_mod.text(status_mod.collect(runner.journal, r, runner.plan, "rollout.yaml", None))
    assert any("route-verified (stage 1): canary 0%, cookie beta" in line for line in lines), lines
    assert any("stage 1/3 cookie beta=yes" in line for line in lines), lines
