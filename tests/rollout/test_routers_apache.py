"""The Apache router without Apache: the RewriteMap file it writes, the balancer-manager forms in the order it
posts them, the values and foreign files it refuses, the plan keys. Against real Apache: test_e2e_proxies.py."""

from __future__ import annotations

import pytest
import yaml
from rollout_fakes import plan_dict

from canary_lint.rollout import plan as P
from canary_lint.rollout.routers import Route, RouterError, make

STABLE, CANARY = "http://10.0.0.1:8000", "http://10.0.0.2:8000"


def spec(tmp_path, **over):
    s = {"kind": "apache", "manager": "127.0.0.1:8081", "balancer": "shop", "stable": STABLE, "canary": CANARY,
         "header_map": str(tmp_path / "shop-canary.map")}
    s.update(over)
    return s


def test_the_map_file_routes_the_header_value_to_the_canary_and_names_the_header(tmp_path):
    router = make(spec(tmp_path), "shop")
    text = router.render_map(Route(5, ("X-Canary", "internal")))
    assert text == "# written by canary-lint rollout: header X-Canary\ninternal canary\n"
    assert [ln for ln in router.render_map(Route(5)).splitlines() if not ln.startswith("#")] == []
    (tmp_path / "shop-canary.map").write_text(text)
    assert router._routed("header") == ("X-Canary", "internal")  # what it writes, it reads back


@pytest.mark.parametrize("canary, factors", [
    (0, {"stable": 100.0, "canary": None}),  # 0 is no load factor: the member is disabled
    (5, {"stable": 95.0, "canary": 5.0}),
    (33.5, {"stable": 66.5, "canary": 33.5}),
    (0.4, {"stable": 99.0, "canary": 1.0}),  # load factors start at 1
    (99.7, {"stable": 1.0, "canary": 99.0}),
    (100, {"stable": None, "canary": 100.0}),
])
def test_weights_become_load_factors_in_hundredths_and_zero_a_disabled_member(canary, factors):
    from canary_lint.rollout.routers.apache import ApacheRouter

    assert ApacheRouter.factors(canary) == factors


def _steps(forms):
    return [(f["w"], f.get("w_lf"), f["w_status_D"]) for f in forms]


def test_forms_keep_a_member_serving_and_the_canary_between_its_old_and_new_share(tmp_path):
    router = make(spec(tmp_path), "shop")
    drained = {"stable": 100.0, "canary": None}
    assert all(f["b"] == "shop" for f in router.posts(drained, 20))
    # up from 0: the baseline's factor first (the canary still disabled), then the canary enabled
    assert _steps(router.posts(drained, 20)) == [(STABLE, "80.00", "0"), (CANARY, "20.00", "0")]
    # a rollback: the canary disabled by the first form, then the baseline's factor
    assert _steps(router.posts({"stable": 80.0, "canary": 20.0}, 0)) == [(CANARY, None, "1"), (STABLE, "100.00", "0")]
    # between weights: the factor going down first
    assert _steps(router.posts({"stable": 80.0, "canary": 20.0}, 50)) == [(STABLE, "50.00", "0"), (CANARY, "50.00", "0")]
    assert _steps(router.posts({"stable": 50.0, "canary": 50.0}, 20)) == [(CANARY, "20.00", "0"), (STABLE, "80.00", "0")]
    # promotion and its rollback: the member that takes over is enabled before the other is disabled
    assert _steps(router.posts(drained, 100)) == [(CANARY, "100.00", "0"), (STABLE, None, "1")]
    assert _steps(router.posts({"stable": None, "canary": 100.0}, 0)) == [(STABLE, "100.00", "0"), (CANARY, None, "1")]
    assert router.posts({"stable": 80.0, "canary": 20.0}, 20) == []


@pytest.mark.parametrize("key, value", [
    ("manager", "127.0.0.1:8081/balancer-manager?b=x"),
    ("manager_path", "/balancer-manager?xml=1"),
    ("balancer", "shop&w=http://evil:1"),
    ("stable", "http://10.0.0.1:8000&w_status_D=1"),
    ("canary", "http://10.0.0.2:8000\nX"),
    ("canary", "ftp://10.0.0.2:21"),
    ("header_map", "relative.map"),
    ("header_map", "/etc/apache2/shop canary.map"),
])
def test_values_that_would_reach_another_member_or_endpoint_are_refused(tmp_path, key, value):
    with pytest.raises(RouterError, match=f"`{key}"):
        make(spec(tmp_path, **{key: value}), "shop")


def test_header_values_never_reach_the_map_unchecked(tmp_path):
    router = make(spec(tmp_path), "shop")
    for bad in (("X-Canary", "a canary\nb"), ("X-Canary", "a b"), ("X-Canary\n", "a")):
        with pytest.raises(RouterError, match="header"):
            router.render_map(Route(5, bad))


def test_a_map_file_the_router_did_not_write_is_never_replaced(tmp_path):
    mp = tmp_path / "shop-canary.map"
    mp.write_text("internal other_backend\n")
    with pytest.raises(RouterError, match="not written by canary-lint"):
        make(spec(tmp_path), "shop")
    mp.write_text("")  # the empty file an operator creates for RewriteMap to start
    make(spec(tmp_path), "shop")
    with pytest.raises(RouterError, match="set `map_dir`"):
        make(spec(tmp_path, header_map="/etc/apache2/shop.map", map_dir=str(tmp_path)), "shop")


def test_a_header_step_without_a_map_fails_before_any_form(tmp_path):
    s = spec(tmp_path)
    del s["header_map"]
    with pytest.raises(RouterError, match="needs `header_map`"):
        make(s, "shop").apply(Route(0, ("X-Canary", "internal")))


def test_plans_with_an_apache_router_validate_and_refuse_unknown_keys(tmp_path):
    path = tmp_path / "rollout.yaml"
    router = spec(tmp_path)
    path.write_text(yaml.safe_dump(plan_dict(router=router)))
    assert P.load(path).routers[0]["kind"] == "apache"
    path.write_text(yaml.safe_dump(plan_dict(router={**router, "nonce": "x"})))
    with pytest.raises(P.PlanError, match="at router: Additional properties are not allowed"):
        P.load(path)
    path.write_text(yaml.safe_dump(plan_dict(router={**router, "stable": "10.0.0.1:8000"})))
    with pytest.raises(P.PlanError, match="does not match"):
        P.load(path)
