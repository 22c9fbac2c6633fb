"""The runner when Prometheus misbehaves: frozen samples after a restart, versions scraped at different times,
counter resets, a version's series gone stale, an outage; with a recording router and scripted metrics."""

import re
import time

import pytest
from rollout_fakes import FakeMetrics, FakeRouter, plan_dict, write_release

from canary_lint.rollout import plan as plan_mod
from canary_lint.rollout.journal import Journal
from canary_lint.rollout.metrics import MetricsUnavailable
from canary_lint.rollout.metrics.prometheus import Prometheus
from canary_lint.rollout.runner import Runner

_WINDOW = re.compile(r"\[(\d+)s\]")


class ScrapedMetrics(FakeMetrics):
    """Counts as Prometheus has them: every version has the sample times it was scraped at (by default, one at
    every look); a query at `at` over `[window]` counts a version's requests up to its latest sample <= at."""

    def __init__(self, router, **kw):
        super().__init__(router, **kw)
        self.looks = 0
        self.samples = {"v1": [], "v2": []}
        self.script = None  # called with (look number, now) at each look; returns {version: sample time}
        self.stale: set = set()  # versions whose scrapes fail: Prometheus marked their series stale

    def _version(self, text):
        return re.search(r'version="(\w+)"', text).group(1)

    def _reach(self, version, when):
        return max((t for t in self.samples[version] if t <= when), default=None)

    def latest(self, selector, at=None):
        if self.down:
            raise MetricsUnavailable("connection refused")
        if self._version(selector) == "v2" and at is not None and at >= max(self.samples["v2"], default=0):
            self.looks += 1  # the first question of a look: a scrape of each version happens before it
            scraped = self.script(self.looks, at) if self.script else {"v1": at, "v2": at}
            for v, t in scraped.items():
                self.samples[v].append(t)
        if self._version(selector) in self.stale:
            return None
        return self._reach(self._version(selector), at)

    def scalar(self, expr, at=None):
        """increase() as Prometheus computes it: up to the last sample in the window, extrapolated to the
        window's end when that sample is closer to it than 1.1 average sample intervals, else by half one."""
        full = super().scalar(expr, at)
        window = float(_WINDOW.search(expr).group(1))
        inside = [t for t in self.samples[self._version(expr)] if at - window <= t <= at]
        if not inside:
            return None
        avg = (inside[-1] - inside[0]) / (len(inside) - 1) if len(inside) > 1 else window
        gap = at - inside[-1]
        end = at if gap < 1.1 * avg else inside[-1] + avg / 2
        return full * max(0.0, end - (at - window)) / window


def _runner(tmp_path, metrics_cls=ScrapedMetrics, **over):
    over.setdefault("metrics", {**plan_dict()["metrics"], "down_limit": "2s"})  # room for a 10-look restart
    path = write_release(tmp_path, **over)
    plan = plan_mod.load(path)
    router = FakeRouter()
    metrics = metrics_cls(router)
    logged = []
    runner = Runner(plan, Journal(plan.journal_path), routers=[router], metrics=metrics, log=logged.append)
    return runner, router, metrics, logged


def _kinds(runner):
    return [e["kind"] for e in runner.journal.events(runner.rollout)]


STEPS = [{"weight": 20, "hold": {"min": "1.2s", "max": "10s"}}, {"weight": 100}]


def test_prometheus_restart_with_frozen_samples_and_skewed_first_scrapes_holds(tmp_path):
    """The issue's case: after a restart both versions' samples are frozen at the stop, then the canary's first
    scrape lands before the baseline's. Judged at now, the canary's window would cover the outage and the
    baseline's would not (a 20% canary read as ~40%); judged at the time both have data, it holds."""
    runner, router, metrics, logged = _runner(tmp_path, steps=STEPS)

    def script(look, now):
        if look <= 3 or look >= 17:
            return {"v1": now, "v2": now}
        if look < 14:
            return {}  # stopped, then restarting: the samples from before the stop only
        if look == 14:
            metrics.boot = now - 0.03  # Prometheus says it started just now
            return {"v2": now}  # the canary's first scrape lands first
        if look == 15:
            return {"v1": now - 0.01}  # then the baseline's, just before the look
        return {"v1": now - 0.01, "v2": now}

    metrics.script = script
    result = runner.run()
    assert result.state == "promoted", result.reason
    events = runner.journal.events(runner.rollout)
    stale = [e for e in events if e["kind"] == "metrics-stale"]
    assert len(stale) >= 10
    assert any("no new samples of v1 since Prometheus restarted" in e["data"]["error"] for e in stale)
    shares = [
        v["numbers"]["share"]
        for e in events
        if e["kind"] == "measurement"
        for v in e["data"]["verdicts"]
        if v["criterion"] == "traffic" and "share" in v["numbers"]
    ]
    assert shares and all(abs(s - 0.2) < 0.01 for s in shares)  # never a skewed share
    assert not [e for e in events if e["kind"] == "measurement" and e["data"]["outcome"] == "fail"]


def test_without_data_time_the_same_scrapes_would_fail_the_share(tmp_path):
    """The counter-factual of the test above: judging a skewed scrape at now reads the share far off."""
    runner, router, metrics, _ = _runner(tmp_path, steps=STEPS)
    router.route = router.route.__class__(20)
    now = time.time()
    before = [now - 20 + i for i in range(9)]  # scraped every second until the stop, 12 s ago
    metrics.samples = {"v1": before, "v2": before + [now]}  # after the restart only the canary is scraped yet
    verdicts = runner.measure(0, runner.plan.steps[0], now - 20, now, {"thresholds": {}})
    share = next(v for v in verdicts if v.criterion == "traffic")
    assert share.numbers["share"] > 0.3 and share.outcome == "fail"


def test_outage_limit_counts_from_the_last_look_with_new_data(tmp_path):
    steps = [{"weight": 20, "hold": {"min": "30s", "max": "60s"}}, {"weight": 100}]
    metrics_spec = {**plan_dict()["metrics"], "down_limit": "0.5s"}
    runner, router, metrics, logged = _runner(
        tmp_path, steps=steps, judge={"alpha": 0.01, "interval": "0.2s"}, metrics=metrics_spec
    )

    def script(look, now):
        if look == 3:
            metrics.down = True
        return {"v1": now, "v2": now}

    metrics.script = script
    result = runner.run()
    assert result.state == "rolled-back"
    assert "metrics provider unavailable" in result.reason and "since the last look with new data" in result.reason
    events = runner.journal.events(runner.rollout)
    last_good = [e["ts"] for e in events if e["kind"] == "measurement"][-1]
    decided = [e["ts"] for e in events if e["kind"] == "rollback-intent"][0]
    # counted from the first failed look it would be >= 0.2 s (one interval) + 0.5 s
    assert 0.45 <= decided - last_good < 0.65, decided - last_good
    assert router.route.canary == 0


def test_a_counter_reset_holds_and_the_window_starts_again_after_it(tmp_path):
    runner, router, metrics, _ = _runner(tmp_path, steps=STEPS)

    def script(look, now):
        if look == 5:
            metrics.reset_count = {"v2": 1}
        return {"v1": now, "v2": now}

    metrics.script = script
    result = runner.run()
    assert result.state == "promoted", result.reason
    events = runner.journal.events(runner.rollout)
    reset = [e for e in events if e["kind"] == "counter-reset"]
    assert len(reset) == 1 and "v2" in reset[0]["data"]["error"]
    after = [e for e in events if e["kind"] == "measurement" and e["id"] > reset[0]["id"]]
    assert after and after[0]["data"]["elapsed"] < 0.5  # the window restarted at the reset
    assert after[-1]["data"]["elapsed"] >= 1.2  # and the hold counts from there


def test_a_canary_whose_series_go_stale_mid_stage_holds_then_rolls_back(tmp_path):
    steps = [{"weight": 20, "hold": {"min": "30s", "max": "60s"}}, {"weight": 100}]
    runner, router, metrics, _ = _runner(tmp_path, steps=steps)

    def script(look, now):
        if look >= 4:
            metrics.stale = {"v2"}
        return {"v1": now, "v2": now}

    metrics.script = script
    result = runner.run()
    assert result.state == "rolled-back"
    assert "no fresh metrics" in result.reason and "series of v2 went stale" in result.reason


def test_prometheus_queries_stop_retrying_at_the_deadline():
    prom = Prometheus("http://127.0.0.1:9", timeout=5, retries=6)  # nothing listens on port 9
    prom.deadline = time.time() + 0.3
    t0 = time.monotonic()
    with pytest.raises(MetricsUnavailable):
        prom.scalar("1")
    assert time.monotonic() - t0 < 0.6  # without the deadline: 0.2 + 0.4 + 0.8 + 1.6 + 2 + 2 s of backoff
