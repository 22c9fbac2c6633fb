"""The cookie route end to end through real nginx and HAProxy (and a real Prometheus for the rollouts): a request
carrying the cookie reaches the canary whatever the weight, one without follows the weight, and once the
rollout is promoted or rolled back the cookie routes nothing any more.

One lab per module (rollout_e2e.Lab), loopback only; every load is bounded in requests and seconds.
"""

from __future__ import annotations

import http.client

import pytest
from rollout_e2e import HEALTHY, HOLD, figures, journal_of, lab_fixture, record, rollout, weight_shares, write_plan

from canary_lint.rollout import EXIT_ROLLED_BACK
from canary_lint.rollout.routers import Route, make

lab = lab_fixture("nginx", "haproxy")
COOKIE = ("beta", "yes")
HEADER = ("X-Canary", "internal")


def answers(port: int, n: int, cookie: str | None = None) -> list[str]:
    """The version that answered each of `n` requests, each on a new connection (so none rides a connection
    an older routing accepted), with the Cookie header `cookie` when given."""
    out = []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/", headers={"Cookie": cookie} if cookie else {})
            out.append(conn.getresponse().read().decode().strip())
        finally:
            conn.close()
    return out


@pytest.mark.parametrize("proxy", ["nginx", "haproxy"])
def test_the_cookie_routes_to_the_canary_the_rest_follow_the_weight_and_rollback_or_promotion_remove_it(lab, proxy):
    v1, v2 = lab.start(f"cookie-routing-{proxy}", HEALTHY, HEALTHY, proxy=proxy)
    lab.load.stop()  # this scenario sends its own requests
    router, port = lab.router(proxy), lab.proxies[proxy].port
    assert router.apply(Route(20, None, COOKIE)) == Route(20, None, COOKIE)
    assert set(answers(port, 40, "beta=yes")) == {v2}  # every request with the cookie reaches the canary
    assert set(answers(port, 40, "session=1; beta=yes; theme=dark")) == {v2}  # among other cookies too
    others = answers(port, 400) + answers(port, 100, "beta=no") + answers(port, 100, "xbeta=yes")
    share = others.count(v2) / len(others)
    assert set(others) == {v1, v2} and abs(share - 0.20) < 0.08, share  # the rest follow the weight (±4 sd)
    assert make(lab.proxies[proxy].spec, "shop").current().canary == pytest.approx(20, abs=0.5)

    assert router.apply(Route(0)) == Route(0)  # the rollback
    assert set(answers(port, 40, "beta=yes")) == {v1}, "the cookie still routes after the rollback"
    fresh = make(lab.proxies[proxy].spec, "shop").current()
    assert fresh.cookie is None and fresh.canary == 0

    router.apply(Route(20, HEADER, COOKIE))
    assert router.apply(Route(100)) == Route(100)  # the promotion
    assert make(lab.proxies[proxy].spec, "shop").current() == Route(100)  # no cookie or header route left
    router.apply(Route(0))
    assert set(answers(port, 40, "beta=yes")) == {v1}, "a cookie route survived the promotion"
    record(f"cookie route through {proxy}: cookie -> canary at 20%, rollback and promotion remove it",
           expected="cookie requests on the canary; none after rollback", observed=f"others' share {share:.1%}")


COOKIE_THEN_WEIGHTS = [
    {"header": {"name": HEADER[0], "value": HEADER[1]}, "hold": HOLD},
    {"cookie": {"name": COOKIE[0], "value": COOKIE[1]}, "hold": HOLD},
    {"weight": 5, "hold": {"min": HOLD["min"], "max": "4m"}},  # the p99 needs ~2 min of requests at 5% on a loaded machine
    {"weight": 100},
]


def test_header_then_cookie_then_weights_promote_a_healthy_canary_judged_on_each_kind_of_request(lab, tmp_path):
    """10% of the load carries the header, 10% the cookie. The cookie stage judges the canary's cookie-routed
    requests, the 5% stage the weighted ones alone (~5%, where both routes together put 24% on the canary)."""
    versions = lab.start("cookie-promote", HEALTHY, HEALTHY, proxy="nginx", cookie_share=0.1)
    plan = write_plan(tmp_path, lab, versions, COOKIE_THEN_WEIGHTS, proxy="nginx", apart=True,
                      metrics={"cookie_routed": 'route="cookie"'})
    out = rollout(str(plan))
    assert out.returncode == 0, out.stderr
    j = journal_of(plan)
    r = j.latest("shop")
    five = weight_shares(j, r.id, 2)
    assert five and abs(five[-1] - 0.05) < 0.015, five
    cookie_stage = [v for e in j.events(r.id, "measurement") if e["stage"] == 1 for v in e["data"]["verdicts"]
                    if v["criterion"] == "traffic"]
    assert cookie_stage and "cookie-routed requests" in cookie_stage[-1]["message"]
    assert not [v for e in j.events(r.id, "measurement") for v in e["data"]["verdicts"] if "samples" in v["numbers"]]
    assert make(lab.nginx.spec, "shop").current() == Route(100)  # promoted: the routes are gone
    record("header, cookie, then 5% (nginx), routed requests told apart", expected="promote",
           observed=f"promoted; 5% stage share {five[-1]:.1%}", **figures(j, r.id))


def test_a_canary_failing_its_cookie_stage_is_rolled_back_and_the_cookie_routes_nothing(lab, tmp_path):
    versions = lab.start("cookie-rollback", HEALTHY, {"error_rate": 0.5, "latency_ms": 20}, proxy="haproxy",
                         cookie_share=0.2)
    steps = [COOKIE_THEN_WEIGHTS[1], {"weight": 20, "hold": HOLD}, {"weight": 100}]
    plan = write_plan(tmp_path, lab, versions, steps, proxy="haproxy", apart=True,
                      metrics={"header_routed": 'route="header"', "cookie_routed": 'route="cookie"'})
    out = rollout(str(plan))
    assert out.returncode == EXIT_ROLLED_BACK, (out.returncode, out.stderr[-2000:])
    j = journal_of(plan)
    r = j.latest("shop")
    assert r.state == "rolled-back" and "cookie beta=yes" in r.reason, r.reason
    seen = make(lab.haproxy.spec, "shop").current()
    assert seen == Route(0) and seen.cookie is None
    assert set(answers(lab.haproxy.port, 40, "beta=yes")) == {versions[0]}
    record("canary failing its cookie stage (HAProxy)", expected="rollback at the cookie stage",
           observed=r.state, **figures(j, r.id))
