"""End to end through real Envoy, Traefik and Apache httpd: the routers change what real requests reach, a change
the proxy refuses is put back (or fails naming why), and `canary-lint rollout` promotes a healthy canary, rolls
back a failing one, and a rollback journaled by a runner killed before applying it is applied by the next
command.

One lab per module (rollout_e2e.Lab): Prometheus (1 s scrapes) watching the two demo versions and Envoy's own
counters (`envoy_cluster_upstream_rq_total`, its cluster names relabelled to the scenario's versions), Envoy,
Traefik and Apache in front of the same stable and canary ports.
"""

from __future__ import annotations

import http.client
import signal
import time

import pytest
from rollout_e2e import (
    HEADER_THEN_WEIGHTS,
    HEALTHY,
    HOLD,
    figures,
    journal_of,
    lab_fixture,
    record,
    rollout,
    rollout_killed_at,
    weight_shares,
    write_plan,
)

from canary_lint.rollout.routers import Route, RouterError, files, make

lab = lab_fixture("envoy", "traefik", "apache")
PROXIES = ["envoy", "traefik", "apache"]
HEADER = ("X-Canary", "internal")


def answers(port: int, n: int, header: bool = False, fresh: bool = False) -> list[str]:
    """The version that answered each of `n` requests (one keep-alive connection, or a new one each time)."""
    out, conn = [], None
    for _ in range(n):
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/", headers=dict([HEADER]) if header else {})
        out.append(conn.getresponse().read().decode().strip())  # the demo's errors name their version too
        if fresh:
            conn.close()
            conn = None
    return out


@pytest.mark.parametrize("proxy", PROXIES)
def test_weights_and_the_header_route_move_real_requests_and_a_verified_rollback_leaves_none_on_the_canary(
    lab, proxy
):
    v1, v2 = lab.start(f"routing-{proxy}", HEALTHY, HEALTHY, proxy=proxy)
    router, port = lab.router(proxy), lab.proxies[proxy].port
    for weight in (20, 50):
        assert router.apply(Route(weight)) == Route(weight)
        got = answers(port, 400)
        share = got.count(v2) / len(got)
        assert set(got) == {v1, v2} and abs(share - weight / 100) < 0.1, (weight, share)  # ±4 sd of 400 requests
    assert router.apply(Route(0, HEADER)) == Route(0, HEADER)
    assert set(answers(port, 50, header=True)) == {v2}  # every header-routed request reaches the canary
    assert set(answers(port, 200)) == {v1}  # and no other request
    router.apply(Route(50, HEADER))
    t0 = time.perf_counter()
    assert router.apply(Route(0)) == Route(0)
    rollback_ms = (time.perf_counter() - t0) * 1000
    assert make(lab.proxies[proxy].spec, "shop").current() == Route(0)  # read back by a fresh router, as resume does
    after = answers(port, 100, fresh=True) + answers(port, 50, header=True, fresh=True)
    assert set(after) == {v1}, after.count(v2)  # new connections, with the header or not: none reach the canary
    record(f"routing through {proxy}: 20%, 50%, header route, rollback", rollback_ms=round(rollback_ms, 1))


def test_an_rds_update_envoy_rejects_is_put_back_and_fails_the_step(lab):
    lab.start("envoy-rejected", HEALTHY, HEALTHY, proxy="envoy")
    router = lab.router("envoy")
    router.apply(Route(20))
    before = files.read(router.file)
    unknown = make({**lab.envoy.spec, "canary_cluster": "shop_nonexistent"}, "shop")
    with pytest.raises(RouterError, match="Envoy rejected the new routing .* the old RDS file is back"):
        unknown.apply(Route(50))
    assert files.read(router.file) == before
    assert router.current() == Route(20)  # Envoy kept serving the routing it had
    assert router.apply(Route(0)) == Route(0)  # and takes the next good change


def test_a_dynamic_file_traefik_cannot_serve_is_put_back_and_fails_the_step(lab):
    lab.start("traefik-rejected", HEALTHY, HEALTHY, proxy="traefik")
    router = lab.router("traefik")
    router.apply(Route(20))
    before = files.read(router.file)
    unknown = make({**lab.traefik.spec, "entry_points": ["nonexistent"]}, "shop")
    with pytest.raises(RouterError, match="with errors; the old file is back: .*nonexistent"):
        unknown.apply(Route(50))
    assert files.read(router.file) == before
    assert router.apply(Route(0)) == Route(0)


def test_a_member_apache_does_not_have_fails_the_step_naming_its_members(lab):
    lab.start("apache-unknown", HEALTHY, HEALTHY, proxy="apache")
    router = lab.router("apache")
    router.apply(Route(20))
    unknown = make({**lab.apache.spec, "canary": "http://127.0.0.1:9"}, "shop")
    with pytest.raises(RouterError, match="has no member http://127.0.0.1:9; it has http://127.0.0.1:"):
        unknown.apply(Route(50))
    assert router.current() == Route(20)  # nothing was posted
    assert router.apply(Route(0)) == Route(0)


def test_apache_restarted_between_changes_takes_the_next_one_with_a_fresh_nonce(lab):
    v1, v2 = lab.start("apache-restart", HEALTHY, HEALTHY, proxy="apache")
    router = lab.router("apache")
    router.apply(Route(20))
    stale = router.nonce()
    lab.apache.restart()  # a new nonce; the members as configured: the canary disabled
    assert router.current() == Route(0)
    assert router.apply(Route(50)) == Route(50)  # the form with the old nonce is ignored, the fresh one taken
    assert router.nonce() != stale
    got = answers(lab.apache.port, 200)
    assert abs(got.count(v2) / len(got) - 0.5) < 0.1, got.count(v2)
    assert router.apply(Route(0)) == Route(0)


def _plan(tmp_path, lab, versions, steps, proxy):
    """The lab's plan; through Envoy the share check counts Envoy's own requests per cluster, the header route's
    cluster apart from the weighted canary's."""
    traffic = None
    if proxy == "envoy":
        traffic = {"query": 'sum(increase(envoy_cluster_upstream_rq_total{version="$version",$route}[$window]))'}
    return write_plan(tmp_path, lab, versions, steps, proxy=proxy, apart=True, traffic=traffic)


@pytest.mark.parametrize("proxy", PROXIES)
def test_healthy_canary_is_promoted_through_header_then_weight_stages(lab, tmp_path, proxy):
    versions = lab.start(f"healthy-{proxy}", HEALTHY, HEALTHY, proxy=proxy)
    plan = _plan(tmp_path, lab, versions, HEADER_THEN_WEIGHTS, proxy)
    out = rollout(str(plan))
    assert out.returncode == 0, out.stderr
    assert lab.router(proxy).current() == Route(100)
    j = journal_of(plan)
    r = j.latest("shop")
    passed = [e for e in j.events(r.id, "measurement") if e["data"]["outcome"] == "pass"]
    assert sorted({e["stage"] for e in passed}) == [0, 1, 2]
    five = weight_shares(j, r.id, 1)
    assert five and abs(five[-1] - 0.05) < 0.015, five  # the weighted requests' share, header-routed ones apart
    assert set(answers(lab.proxies[proxy].port, 50, fresh=True)) == {versions[1]}
    record(f"header stage, then 5% and 20% ({proxy})", expected="promote", state=r.state,
           observed=f"promoted; 5% stage share {five[-1]:.1%}" + (" (Envoy's counters)" if proxy == "envoy" else ""),
           **{k: v for k, v in figures(j, r.id).items() if k != "state"})


@pytest.mark.parametrize("counters", ["app", "envoy"])
def test_dead_canary_behind_envoy_says_what_envoy_saw(lab, tmp_path, counters):
    """With the app's own request counters, or with Envoy's per cluster (which count the requests Envoy tried
    to send the canary, not the ones it answered)."""
    versions = lab.start(f"dead-envoy-{counters}", HEALTHY, None, proxy="envoy")
    steps = [{"weight": 20, "hold": HOLD}, {"weight": 100}]
    plan = _plan(tmp_path, lab, versions, steps, "envoy") if counters == "envoy" else \
        write_plan(tmp_path, lab, versions, steps, proxy="envoy")
    out = rollout(str(plan))
    assert out.returncode == 4, out.stderr
    assert "the envoy router failed to reach the canary" in out.stderr and "connection failures" in out.stderr, \
        out.stderr
    assert lab.router("envoy").current() == Route(0)


def test_dead_canary_behind_traefik_says_what_traefik_saw(lab, tmp_path):
    """Traefik's service metrics count the 502s it answered for the canary's service."""
    versions = lab.start("dead-traefik", HEALTHY, None, proxy="traefik")
    plan = write_plan(tmp_path, lab, versions, [{"weight": 20, "hold": HOLD}, {"weight": 100}], proxy="traefik")
    out = rollout(str(plan))
    assert out.returncode == 4, out.stderr
    assert "the traefik router failed to reach the canary" in out.stderr and "HTTP 502" in out.stderr, out.stderr
    assert lab.router("traefik").current() == Route(0)
    j = journal_of(plan)
    record("dead canary behind Traefik", expected="roll back on the share check, naming Traefik's 502s",
           observed="rolled back: no canary requests; Traefik's 502s named", **figures(j, j.latest("shop").id))


@pytest.mark.parametrize("proxy", PROXIES)
def test_doubled_error_rate_is_rolled_back(lab, tmp_path, proxy):
    versions = lab.start(f"errors-{proxy}", HEALTHY, {"error_rate": 0.10, "latency_ms": 20}, proxy=proxy)
    plan = _plan(tmp_path, lab, versions, [{"weight": 20, "hold": HOLD}, {"weight": 100}], proxy)
    out = rollout(str(plan))
    assert out.returncode == 4, out.stderr
    assert "errors" in out.stderr and "higher than baseline" in out.stderr
    assert lab.router(proxy).current() == Route(0)
    assert set(answers(lab.proxies[proxy].port, 50, fresh=True)) == {versions[0]}
    j = journal_of(plan)
    record(f"doubled error rate, 5% -> 10% ({proxy})", expected="roll back on errors",
           observed="rolled back: errors", **figures(j, j.latest("shop").id))


@pytest.mark.parametrize("proxy", PROXIES)
def test_runner_killed_after_deciding_a_rollback_then_status_applies_it(lab, tmp_path, proxy):
    versions = lab.start(f"kill-rb-{proxy}", HEALTHY, {"error_rate": 0.10, "latency_ms": 20}, proxy=proxy)
    plan = _plan(tmp_path, lab, versions, [{"weight": 20, "hold": HOLD}, {"weight": 100}], proxy)
    out = rollout_killed_at(plan, "rollback-intent")
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert lab.router(proxy).current() == Route(20)  # decided, journaled, not applied
    after = rollout("status", str(plan), "--format", "json")
    assert after.returncode == 0, after.stderr
    assert "was never applied" in after.stderr
    assert lab.router(proxy).current() == Route(0)
    j = journal_of(plan)
    r = j.latest("shop")
    assert r.state == "rolled-back" and "errors" in r.reason
    done = j.events(r.id, "rollback-done")[0]["data"]
    record(f"runner kill -9 after journaling a rollback ({proxy}), then `status`",
           expected="`status` applies the journaled rollback first",
           observed=f"canary kept 20% until `status`; applied {done['unapplied_for']:.1f}s after the decision",
           **figures(j, r.id))
