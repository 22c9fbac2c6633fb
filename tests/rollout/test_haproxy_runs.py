"""Through real HAProxy: after a weight change, the canary gets requests at the pace its weight implies, never
in bursts: the longest run of consecutive canary responses, from weight 0 (drained) and between stages.

HAProxy's round robin (lb_fwrr) hands out positions in windows of the backend's total effective weight (the
weights times 16: 1600 positions when they add up to 100), one position per request. A change lands at a phase
of that window, and a burst happens only at some phases (near a window's end), so each transition is made 16
times, 100 requests apart: the changes fall every 100 positions across a whole window. One sequential client on
loopback, so the order of the servers is exact; 100 requests after each change.
"""

from __future__ import annotations

import math

import pytest
from rollout_lab import Demo, HAProxy, free_port, runs_after_changes

from canary_lint.rollout.routers import make

TRANSITIONS = [(0, 5), (0, 20), (5, 20), (20, 50)]


@pytest.fixture(scope="module")
def haproxy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("haproxy-runs")
    stable, canary = free_port(), free_port()
    parts = [Demo(tmp, stable, "v1", latency_ms=0), Demo(tmp, canary, "v2", latency_ms=0)]
    try:
        parts.append(HAProxy(tmp, stable, canary))
        yield parts[-1]
    finally:
        for part in parts:
            part.stop()


def most_in_a_row(weight: int) -> int:
    """What interleaving by weight allows: ceil(w / (100 - w)) canary requests between two baseline ones, and
    one more where the change meets the old schedule."""
    return math.ceil(weight / (100 - weight)) + 1


@pytest.mark.parametrize("before, after", TRANSITIONS)
def test_the_canary_gets_requests_at_its_weights_pace_after_a_change(haproxy, before, after):
    runs, shares = runs_after_changes(make(haproxy.spec, "shop"), haproxy.port, before, after)
    assert max(runs) <= most_in_a_row(after), (runs, shares)
    assert all(abs(s - after / 100) <= 0.05 for s in shares), shares  # 100 requests: the weight +- 5


def test_lowering_the_baseline_first_bursts_at_some_phases(haproxy):
    """The order the router no longer uses when the canary goes up (`order: stable-first`): the same sweep finds
    its burst, which is what the sweep is for."""
    runs, _ = runs_after_changes(make({**haproxy.spec, "order": "stable-first"}, "shop"), haproxy.port, 0, 20)
    assert max(runs) > 10 * most_in_a_row(20), runs
