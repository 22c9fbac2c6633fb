"""End to end with real nginx, HAProxy and Prometheus, two versions of the demo service and loopback load.

One lab per module (rollout_e2e.Lab): Prometheus (1 s scrapes) watching the stable and canary ports, nginx and
HAProxy in front of them. Each scenario starts its own demo processes with scenario-specific version labels, so no scenario sees
another's samples, and runs `canary-lint rollout` as a subprocess, as an operator would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import browser
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
from rollout_fakes import RED
from rollout_lab import Prometheus

from canary_lint.rollout.journal import Journal
from canary_lint.rollout.routers import Route
from canary_lint.rollout.routers.haproxy import HAProxyRouter
from canary_lint.rollout.routers.nginx import NginxRouter

lab = lab_fixture("nginx", "haproxy")


def nginx_route(lab) -> Route:
    return NginxRouter(lab.nginx.spec, "shop").current()


def test_healthy_canary_is_promoted_through_nginx(lab, tmp_path):
    versions = lab.start("healthy", HEALTHY, HEALTHY)
    steps = [
        {"header": {"name": "X-Canary", "value": "internal"}, "hold": HOLD},
        {"weight": 20, "hold": HOLD},
        {"weight": 50, "hold": HOLD},
        {"weight": 100},
    ]
    plan = write_plan(tmp_path, lab, versions, steps)
    out = rollout(str(plan))
    assert out.returncode == 0, out.stderr
    assert "promoted" in out.stderr
    assert nginx_route(lab) == Route(100)
    j = journal_of(plan)
    r = j.latest("shop")
    assert r.state == "promoted"
    measured = j.events(r.id, "measurement")
    # every judged stage passed on numbers, with both criteria and the traffic share checked
    passed = [e for e in measured if e["data"]["outcome"] == "pass"]
    assert sorted({e["stage"] for e in passed}) == [0, 1, 2]
    names = {v["criterion"] for v in passed[-1]["data"]["verdicts"]}
    assert names == {"traffic", "errors", "latency p99"}
    lab.load.record = True
    time.sleep(1.0)
    assert {b for b in lab.load.bodies if b} == {versions[1]}  # all traffic on the canary now
    record("healthy canary, header then 20% and 50% (nginx)", expected="promote", observed="promoted",
           **figures(j, r.id))


def test_doubled_error_rate_is_rolled_back(lab, tmp_path):
    versions = lab.start("errors", HEALTHY, {"error_rate": 0.10, "latency_ms": 20})
    steps = [{"weight": 20, "hold": HOLD}, {"weight": 100}]
    plan = write_plan(tmp_path, lab, versions, steps)
    out = rollout(str(plan))
    assert out.returncode == 4, out.stderr
    assert "errors" in out.stderr and "higher than baseline" in out.stderr
    assert nginx_route(lab) == Route(0)
    j = journal_of(plan)
    r = j.latest("shop")
    assert r.state == "rolled-back"
    done = j.events(r.id, "rollback-done")
    assert done and done[0]["data"]["seconds"] >= 0
    record("doubled error rate, 5% -> 10% (nginx)", expected="roll back on errors", observed="rolled back: errors",
           **figures(j, r.id))


def test_p99_regression_is_rolled_back_although_most_requests_are_faster(lab, tmp_path):
    versions = lab.start(
        "p99", HEALTHY, {"error_rate": 0.05, "latency_ms": 10, "slow_fraction": 0.05, "slow_seconds": 2}
    )
    steps = [{"weight": 20, "hold": HOLD}, {"weight": 100}]
    plan = write_plan(tmp_path, lab, versions, steps)
    out = rollout(str(plan))
    assert out.returncode == 4, out.stderr
    assert "latency p99" in out.stderr
    assert nginx_route(lab) == Route(0)
    j = journal_of(plan)
    # what a reviewer reads of it: the decision in seconds, a chart per criterion, routing with its latency
    md = rollout("report", str(plan))
    assert md.returncode == 0, md.stderr
    decision = next(line for line in md.stdout.splitlines() if line.startswith("**Decision"))
    assert re.search(r"latency p99: canary p99 \\~[\d.]+ m?s vs baseline \\~[\d.]+ m?s", decision), decision
    assert md.stdout.count("xychart-beta") == 3  # traffic, errors, latency p99 of the one judged stage
    assert re.search(r"\| \d\d:\d\d:\d\d \| rollback \| canary 0% \| [\d,]+ ms \|", md.stdout)
    page = tmp_path / "report.html"
    html = rollout("report", str(plan), "--format", "html", "--output", str(page))
    assert html.returncode == 0, html.stderr
    dom, console = browser.load(page, tmp_path)
    assert console == [] and len(re.findall(r'<svg[^>]* class="chart"', dom)) == 3
    record("p99: 95% of requests faster, 5% 2 s slower (nginx)", expected="roll back on p99",
           observed="rolled back: latency p99", **figures(j, j.latest("shop").id))


def test_dead_canary_is_detected_behind_nginx_retries(lab, tmp_path):
    versions = lab.start("dead", HEALTHY, None)
    steps = [{"weight": 20, "hold": HOLD}, {"weight": 100}]
    plan = write_plan(tmp_path, lab, versions, steps)
    out = rollout(str(plan))
    assert out.returncode == 4, out.stderr
    assert "no canary requests" in out.stderr or "received no requests" in out.stderr
    assert nginx_route(lab) == Route(0)
    j = journal_of(plan)
    record("dead canary behind nginx retries", expected="roll back on the share check",
           observed="rolled back: no canary requests", **figures(j, j.latest("shop").id))


def start_rollout(plan: Path, looks: int) -> tuple[subprocess.Popen, Journal]:
    """Start the runner as an operator would and return once it has journaled `looks` measurements."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "canary_lint", "rollout", str(plan)], stderr=subprocess.PIPE, text=True
    )
    j = journal_of(plan)
    _wait_for(lambda: (r := j.latest("shop")) and len(j.events(r.id, "measurement")) >= looks, 60)
    return runner, j


def _own_prometheus(lab, tmp_path, version) -> Prometheus:
    prom = Prometheus(tmp_path, [lab.stable_port, lab.canary_port])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the new Prometheus has seen a few scrapes
        url = f"{prom.url}/api/v1/query?query=" + urllib.parse.quote(
            f'sum(increase(http_requests_total{{version="{version}"}}[3s]))'
        )
        with urllib.request.urlopen(url, timeout=2) as r:
            if json.loads(r.read())["data"]["result"]:
                return prom
        time.sleep(0.25)
    prom.stop(signal.SIGKILL)
    raise RuntimeError("the scenario's Prometheus has no samples after 20 s")


def test_prometheus_killed_mid_stage_holds_then_rolls_back_at_the_limit(lab, tmp_path):
    versions = lab.start("promkill", HEALTHY, HEALTHY)
    prom = _own_prometheus(lab, tmp_path, versions[0])
    try:
        steps = [{"weight": 20, "hold": {"min": "40s", "max": "60s"}}, {"weight": 100}]
        plan = write_plan(tmp_path, lab, versions, steps, prom_url=prom.url, metrics={"down_limit": "5s"})
        runner, j = start_rollout(plan, looks=2)
        prom.stop(signal.SIGKILL)
        killed = time.time()
        _, err = runner.communicate(timeout=60)
        assert runner.returncode == 4, err
        assert "metrics provider unavailable" in err and "since the last look with new data" in err
        r = j.latest("shop")
        assert j.events(r.id, "metrics-down")
        last_good = j.events(r.id, "measurement")[-1]["ts"]
        decided = j.events(r.id, "rollback-intent")[0]["ts"]
        # the 5 s limit counts from the last look that had data, which came before the kill: the canary is
        # never unobserved much longer than the limit (counting from the first failed look gave limit + ~6 s)
        assert 4.5 <= decided - last_good < 6.5, decided - last_good
        assert decided - killed < 6.5
        assert nginx_route(lab) == Route(0)
        record(
            "Prometheus killed mid-stage (down_limit 5s)",
            expected="hold, then roll back 5 s after the last look with data",
            observed=f"rolled back {decided - killed:.1f} s after the kill, {decided - last_good:.1f} s after the "
            "last look with data",
            **{**figures(j, r.id), "detect_s": round(decided - killed, 2)},
        )
    finally:
        prom.stop(signal.SIGKILL)


def test_prometheus_restarted_mid_stage_holds_and_the_healthy_canary_is_promoted(lab, tmp_path):
    """Stop a real Prometheus (SIGTERM) mid-stage and start it again on the same storage: for a few seconds it
    serves the samples from before the stop, then scrapes the two versions about half a second apart. The
    stage holds through both and the healthy canary is promoted, its share never misread."""
    versions = lab.start("promrestart", HEALTHY, HEALTHY)
    prom = _own_prometheus(lab, tmp_path, versions[0])
    try:
        steps = [{"weight": 20, "hold": {"min": "25s", "max": "90s"}}, {"weight": 100}]
        plan = write_plan(tmp_path, lab, versions, steps, prom_url=prom.url, metrics={"down_limit": "40s"})
        runner, j = start_rollout(plan, looks=3)
        prom.stop(signal.SIGTERM)
        stopped = time.time()
        time.sleep(3)
        prom.start()
        _, err = runner.communicate(timeout=150)
        assert runner.returncode == 0, err
        r = j.latest("shop")
        ev = j.events(r.id)
        kinds = {e["kind"] for e in ev}
        assert "metrics-down" in kinds  # while it was stopped
        stale = [e for e in ev if e["kind"] == "metrics-stale"]
        assert stale, "the frozen samples after the restart were not recognised"
        measured = [e for e in ev if e["kind"] == "measurement"]
        assert all(e["data"]["outcome"] != "fail" for e in measured)
        before = [e["ts"] for e in measured if e["ts"] < stopped][-1]
        after = next(e["ts"] for e in measured if e["ts"] > stopped)
        shares = [  # every look after the restart: the window holds thousands of requests by then
            v["numbers"]["share"]
            for e in measured
            if e["ts"] > stopped
            for v in e["data"]["verdicts"]
            if v["criterion"] == "traffic" and "share" in v["numbers"]
        ]
        # judged at now the first look after the restart read 5.6%..38% here (the issue saw 40.9%)
        assert shares and max(abs(x - 0.2) for x in shares) < 0.05, shares
        record(
            "Prometheus stopped 3 s and restarted mid-stage",
            expected="hold through the outage and the frozen samples; promote the healthy canary",
            observed=f"held {after - before:.1f} s ({len(stale)} looks on frozen samples); share after the "
            f"restart {min(shares):.1%}..{max(shares):.1%} at 20%; promoted",
            **figures(j, r.id),
        )
    finally:
        prom.stop(signal.SIGKILL)


def _wait_for(fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def test_runner_killed_mid_stage_then_resumed_from_the_journaled_start(lab, tmp_path):
    versions = lab.start("sigkill", HEALTHY, HEALTHY)
    steps = [{"weight": 20, "hold": {"min": "12s", "max": "60s"}}, {"weight": 50, "hold": HOLD}, {"weight": 100}]
    plan = write_plan(tmp_path, lab, versions, steps)
    runner, j = start_rollout(plan, looks=4)
    os.kill(runner.pid, signal.SIGKILL)
    runner.communicate(timeout=10)
    killed = time.time()
    assert nginx_route(lab) == Route(20)  # routing stays as journaled; nothing half-written
    status = json.loads(rollout("status", str(plan), "--format", "json").stdout)
    assert status["state"] == "running" and status["runner_pid"] is None and status["stage"] == 1
    r = j.latest("shop")
    before = j.events(r.id, "measurement")[-1]["data"]["elapsed"]
    time.sleep(2)  # dead a while; the canary keeps serving its 20%
    resumed_at = time.time()
    out = rollout("resume", str(plan))
    assert out.returncode == 0, out.stderr
    assert "judging goes on from its start" in out.stderr
    r = j.latest("shop")
    assert r.state == "promoted"
    resumed = j.events(r.id, "resumed")
    assert resumed[0]["data"]["observed"][0]["canary"] == 20
    starts = [e for e in j.events(r.id, "stage-start") if e["stage"] == 0]
    assert len(starts) == 2 and starts[1]["data"]["resumed"]
    assert starts[1]["data"]["start"] == starts[0]["data"]["start"]
    after = [e for e in j.events(r.id, "measurement") if e["stage"] == 0 and e["ts"] > resumed_at]
    assert after[0]["data"]["elapsed"] >= before + 2  # the window runs on through the time the runner was dead
    passed = after[-1]["ts"]
    assert passed - resumed_at < 11  # the 12 s hold was not started again from zero
    assert nginx_route(lab) == Route(100)
    record(
        "runner kill -9 mid-stage (12 s hold), resumed 2 s later",
        expected="resume continues the stage from its journaled start",
        observed=f"killed at {before:.0f}s of the stage; first look after resume at "
        f"{after[0]['data']['elapsed']:.0f}s; stage passed {passed - resumed_at:.1f}s after resume; promoted",
        **{**figures(j, r.id), "dead_s": round(resumed_at - killed, 1)},
    )


@pytest.mark.parametrize("proxy,command", [("nginx", "status"), ("haproxy", "abort")])
def test_runner_killed_between_deciding_and_applying_a_rollback(lab, tmp_path, proxy, command):
    """kill -9 right after the rollback decision is journaled: the canary is still routed; the next command
    that opens the journal applies the rollback first and records how long it stayed unapplied."""
    versions = lab.start(f"kill-rb-{proxy}", HEALTHY, {"error_rate": 0.10, "latency_ms": 20}, proxy=proxy)
    plan = write_plan(tmp_path, lab, versions, [{"weight": 20, "hold": HOLD}, {"weight": 100}], proxy=proxy)
    out = rollout_killed_at(plan, "rollback-intent")
    assert out.returncode == -signal.SIGKILL, out.stderr
    routed = nginx_route(lab).canary if proxy == "nginx" else haproxy_weights(lab)[1]
    assert routed == 20  # decided, journaled, not applied
    j = journal_of(plan)
    r = j.latest("shop")
    assert j.pending_rollback(r.id) and r.state == "running"
    time.sleep(1)
    after = rollout(command, str(plan)) if command != "status" else rollout("status", str(plan), "--format", "json")
    assert after.returncode == 0, after.stderr
    assert "was never applied" in after.stderr
    routed = nginx_route(lab) if proxy == "nginx" else Route(haproxy_weights(lab)[1])
    assert routed == Route(0)
    r = j.latest("shop")
    assert r.state == "rolled-back" and "errors" in r.reason
    done = j.events(r.id, "rollback-done")[0]["data"]
    assert done["applied_by"] == command and done["unapplied_for"] >= 1
    record(
        f"runner kill -9 after journaling a rollback ({proxy}), then `{command}`",
        expected=f"`{command}` applies the journaled rollback first",
        observed=f"canary kept 20% until `{command}`; applied {done['unapplied_for']:.1f}s after the decision",
        **figures(j, r.id),
    )


def test_runner_killed_between_route_intent_and_apply_restarts_that_stage(lab, tmp_path):
    versions = lab.start("kill-route", HEALTHY, HEALTHY)
    steps = [{"weight": 20, "hold": HOLD}, {"weight": 50, "hold": HOLD}, {"weight": 100}]
    plan = write_plan(tmp_path, lab, versions, steps)
    out = rollout_killed_at(plan, "route-intent:2")  # the 50% is journaled as intended, never sent
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert nginx_route(lab) == Route(20)
    out = rollout("resume", str(plan))
    assert out.returncode == 0, out.stderr
    j = journal_of(plan)
    r = j.latest("shop")
    starts = [e for e in j.events(r.id, "stage-start") if e["stage"] == 1]
    assert len(starts) == 1 and not starts[0]["data"]["resumed"]  # judged from the verified 50%, not before
    assert [e["data"]["route"]["canary"] for e in j.events(r.id, "route-verified")] == [20, 50, 100]
    record(
        "runner kill -9 between a route intent and its apply, resumed",
        expected="resume re-applies the stage's routing and judges it afresh",
        observed="50% applied by resume, stage judged from then; promoted",
        **figures(j, r.id),
    )


def test_red_gate_refuses_and_routes_nothing(lab, tmp_path):
    versions = lab.start("red", HEALTHY, HEALTHY)
    before = lab.nginx.include.read_text()
    plan = write_plan(tmp_path, lab, versions, [{"weight": 20, "hold": HOLD}, {"weight": 100}], findings=[RED])
    out = rollout(str(plan))
    assert out.returncode == 3, out.stderr
    assert "refused" in out.stderr and "drop-column-still-read-by-v1" in out.stderr
    assert lab.nginx.include.read_text() == before
    assert nginx_route(lab) == Route(0)
    record("red gate", expected="refuse, route nothing", observed="refused (exit 3), nginx file unchanged",
           state="refused", detect_s=None, rollback_ms=None)


def haproxy_weights(lab) -> tuple[int, int]:
    r = HAProxyRouter(lab.haproxy.spec, "shop")
    return r._weight("v1"), r._weight("v2")


def test_healthy_canary_is_promoted_through_haproxy(lab, tmp_path):
    versions = lab.start("haproxy", HEALTHY, HEALTHY, proxy="haproxy")
    steps = [
        {"header": {"name": "X-Canary", "value": "internal"}, "hold": HOLD},
        {"weight": 20, "hold": HOLD},
        {"weight": 100},
    ]
    plan = write_plan(tmp_path, lab, versions, steps, proxy="haproxy")
    out = rollout(str(plan))
    assert out.returncode == 0, out.stderr
    assert haproxy_weights(lab) == (0, 100)
    assert HAProxyRouter(lab.haproxy.spec, "shop").send(f"show map {lab.haproxy.map}").strip() == ""
    j = journal_of(plan)
    record("healthy canary, header then 20% (HAProxy)", expected="promote", observed="promoted",
           **figures(j, j.latest("shop").id))


def test_dead_canary_behind_haproxy_says_what_haproxy_saw(lab, tmp_path):
    versions = lab.start("deadhap", HEALTHY, None, proxy="haproxy")
    steps = [{"weight": 20, "hold": HOLD}, {"weight": 100}]
    plan = write_plan(tmp_path, lab, versions, steps, proxy="haproxy")
    out = rollout(str(plan))
    assert out.returncode == 4, out.stderr
    m = re.search(r"the haproxy router failed to reach the canary ([\d,]+) times since the stage began "
                  r"\(\d+ connection errors, \d+ response errors of server v2 in all\)", out.stderr)
    assert m and int(m.group(1).replace(",", "")) > 0, out.stderr
    assert haproxy_weights(lab) == (100, 0)
    j = journal_of(plan)
    record("dead canary behind HAProxy", expected="roll back on the share check, naming HAProxy's errors",
           observed="rolled back: no canary requests; HAProxy's connection errors named", **figures(j, j.latest("shop").id))


@pytest.mark.parametrize("proxy", ["nginx", "haproxy"])
def test_header_stage_then_weights_promote_a_healthy_canary_judged_on_weighted_requests(lab, tmp_path, proxy):
    """10% of the load carries the canary header. With the demo's route label named in the plan
    (metrics.header_routed), the 5% stage reads the canary's share of the weighted requests (~5%), where the
    header-routed ones made it 14.1% and rolled the healthy canary back."""
    versions = lab.start(f"hdr-{proxy}", HEALTHY, HEALTHY, proxy=proxy)
    plan = write_plan(tmp_path, lab, versions, HEADER_THEN_WEIGHTS, proxy=proxy, apart=True)
    out = rollout(str(plan))
    assert out.returncode == 0, out.stderr
    j = journal_of(plan)
    r = j.latest("shop")
    five = weight_shares(j, r.id, 1)
    assert five and abs(five[-1] - 0.05) < 0.015, five
    mixed = [
        v for e in j.events(r.id, "measurement") for v in e["data"]["verdicts"] if "samples" in v["numbers"]
    ]
    assert not mixed  # every verdict judged requests of one kind
    record(
        f"header stage, then 5% and 20% ({proxy}), header-routed requests told apart",
        expected="promote; weight-stage share on weighted requests",
        observed=f"promoted; 5% stage share {five[-1]:.1%} (header-routed requests excluded)",
        **figures(j, r.id),
    )


def test_header_stage_then_weights_without_the_route_label_promote_and_say_so(lab, tmp_path):
    """The issue's plan as it was (no header_routed): not rolled back any more; the share is checked as a lower
    bound and every weight-stage verdict says its canary samples include header-routed requests."""
    versions = lab.start("hdr-mixed", HEALTHY, HEALTHY)
    plan = write_plan(tmp_path, lab, versions, HEADER_THEN_WEIGHTS)
    out = rollout(str(plan))
    assert out.returncode == 0, out.stderr
    assert "do not tell header-routed requests apart" in out.stderr
    j = journal_of(plan)
    r = j.latest("shop")
    five = weight_shares(j, r.id, 1)
    assert five and five[-1] > 0.1  # 5% of the weighted requests plus the 10% that carry the header
    weighted = [e for e in j.events(r.id, "measurement") if e["stage"] in (1, 2)]
    assert all(
        v["numbers"].get("samples") == "weighted+header-routed" or v["numbers"].get("lower_only")
        for e in weighted
        for v in e["data"]["verdicts"]
    )
    record(
        "header stage, then 5% and 20% (nginx), no route label (the issue's plan)",
        expected="promote; share checked as a lower bound; verdicts say their samples are mixed",
        observed=f"promoted; 5% stage share {five[-1]:.1%} with header-routed requests (was a rollback)",
        **figures(j, r.id),
    )


def test_doubled_error_rate_is_rolled_back_through_haproxy(lab, tmp_path):
    versions = lab.start("haproxy-errors", HEALTHY, {"error_rate": 0.10, "latency_ms": 20}, proxy="haproxy")
    plan = write_plan(tmp_path, lab, versions, [{"weight": 20, "hold": HOLD}, {"weight": 100}], proxy="haproxy")
    out = rollout(str(plan))
    assert out.returncode == 4, out.stderr
    assert haproxy_weights(lab) == (100, 0)
    j = journal_of(plan)
    record("doubled error rate, 5% -> 10% (HAProxy)", expected="roll back on errors", observed="rolled back: errors",
           **figures(j, j.latest("shop").id))
