"""Sizing before traffic moves, end to end: real nginx and Prometheus, the demo service at 200 req/s. A plan
whose stage cannot decide within its hold.max at the request rate Prometheus shows is refused before any routing
change; one that can proceeds and is promoted."""

from __future__ import annotations

from rollout_e2e import HEALTHY, journal_of, lab_fixture, record, rollout, write_plan

from canary_lint.rollout.routers import Route
from canary_lint.rollout.routers.nginx import NginxRouter

lab = lab_fixture("nginx")


def _sized(j, rollout_id):
    return [e["data"] for e in j.events(rollout_id, "sized")]


def test_a_stage_that_cannot_decide_in_its_hold_is_refused_before_any_traffic_shift(lab, tmp_path):
    versions = lab.start("infeasible", HEALTHY, HEALTHY)
    steps = [{"weight": 5, "hold": {"min": "3s", "max": "5s"}}, {"weight": 100}]
    plan = write_plan(tmp_path, lab, versions, steps)
    out = rollout(str(plan))
    assert out.returncode == 3, out.stderr
    assert "refused, nothing routed: cannot decide in time: stage 1/2 weight 5%: errors +100% needs ~" in out.stderr
    assert "req/s that is" in out.stderr and "hold.max is 5 s" in out.stderr
    assert NginxRouter(lab.nginx.spec, "shop").current() == Route(0)
    j = journal_of(plan)
    r = j.latest("shop")
    assert r.state == "refused"
    assert not j.events(r.id, "route-intent")  # nothing was routed, not even for a moment
    (sized,) = _sized(j, r.id)
    # the demo's 200 req/s, read from Prometheus over a short window (scrape jitter on a loaded machine moves it)
    assert not sized["feasible"] and 100 < sized["rps"] < 500, sized
    assert {n["criterion"] for n in sized["needs"]} == {"errors +100%", "latency p99"}
    record("stage too short for its criteria (5% for 5 s at 200 req/s)", expected="refuse before routing",
           observed="refused, nothing routed", state=r.state)


def test_a_stage_that_can_decide_proceeds(lab, tmp_path):
    versions = lab.start("feasible", HEALTHY, HEALTHY)
    steps = [{"weight": 50, "hold": {"min": "3s", "max": "60s"}}, {"weight": 100}]
    plan = write_plan(tmp_path, lab, versions, steps)
    out = rollout(str(plan))
    assert out.returncode == 0, out.stderr
    j = journal_of(plan)
    r = j.latest("shop")
    assert r.state == "promoted"
    sized = _sized(j, r.id)
    assert sized and all(s["feasible"] for s in sized) and 100 < sized[0]["rps"] < 500, sized
    # an advisory need (no baseline event seen yet at the stage start, e.g. zero errors) has no duration
    assert all(n["seconds"] < 60 for n in sized[0]["needs"] if not n.get("advisory")), sized
