"""The judge on simulated samples."""

import math
import random

import pytest

from canary_lint.rollout import judge as J


def _stream(
    p_c, p_b, share, alpha, looks=40, per_look=400, seed=0, tolerance=0.0, detect=1.0, power=0.8, direction="increase"
):
    """Cumulative counts looked at `looks` times; returns the first decisive verdict or the last one."""
    rng = random.Random(seed)
    x_c = n_c = x_b = n_b = 0
    v = None
    for _ in range(looks):
        for _ in range(per_look):
            if rng.random() < share:
                n_c += 1
                x_c += rng.random() < p_c
            else:
                n_b += 1
                x_b += rng.random() < p_b
        v = J.judge_ratio(
            "errors",
            x_c,
            n_c,
            x_b,
            n_b,
            tolerance=tolerance,
            detect=detect,
            alpha=alpha,
            power=power,
            detail=False,
            direction=direction,
        )
        if v.outcome in (J.PASS, J.FAIL):
            return v
    return v


def test_doubled_error_rate_fails():
    v = _stream(0.10, 0.05, 0.2, alpha=0.001, seed=1)
    assert v.outcome == J.FAIL
    assert v.numbers["canary_rate"] > v.numbers["baseline_rate"]


def test_same_error_rate_passes():
    v = _stream(0.05, 0.05, 0.2, alpha=0.001, seed=2)
    assert v.outcome == J.PASS


def test_aa_false_fail_rate_is_below_alpha_under_repeated_looks():
    alpha = 0.05
    fails = sum(
        _stream(0.02, 0.02, 0.1, alpha=alpha, looks=30, per_look=300, seed=s).outcome == J.FAIL for s in range(300)
    )
    assert fails / 300 <= alpha


def test_no_data_is_never_a_pass():
    assert J.judge_ratio("e", None, 100, 1, 100).outcome == J.NO_DATA
    assert J.judge_ratio("e", 0, 0, 3, 100).outcome == J.NO_DATA
    assert J.judge_ratio("e", 0, 100, None, 100).outcome == J.NO_DATA


def test_zero_events_stay_inconclusive_unless_negligible():
    v = J.judge_ratio("e", 0, 5000, 0, 95000)
    assert v.outcome == J.INCONCLUSIVE
    v = J.judge_ratio("e", 0, 5000, 0, 95000, negligible=0.001)
    assert v.outcome == J.PASS
    assert v.numbers["canary_upper_95"] < 0.001


def test_decrease_direction_for_conversions():
    v = _stream(0.10, 0.20, 0.3, alpha=0.001, seed=3, tolerance=0.02, detect=0.3, direction="decrease")
    assert v.outcome == J.FAIL
    v = _stream(0.20, 0.20, 0.3, alpha=0.001, seed=4, tolerance=0.02, detect=0.3, direction="decrease")
    assert v.outcome != J.FAIL


def test_low_counts_are_exact_and_undecided():
    # 1 canary error in 20 requests vs 10 in 400: nothing can be concluded from so few events
    v = J.judge_ratio("e", 1, 20, 10, 400, alpha=0.001)
    assert v.outcome == J.INCONCLUSIVE
    assert "canary requests needed" in v.message


def _hist(latencies, bounds):
    return [(b, float(sum(1 for x in latencies if x <= b))) for b in bounds] + [(math.inf, float(len(latencies)))]


BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]


def test_quantile_interpolates_like_histogram_quantile():
    buckets = [(0.1, 50.0), (0.2, 100.0), (math.inf, 100.0)]
    assert J.quantile(buckets, 0.5) == pytest.approx(0.1)
    assert J.quantile(buckets, 0.75) == pytest.approx(0.15)
    assert J.quantile([], 0.5) is None


def test_p99_case_fails_although_the_mean_improves():
    rng = random.Random(5)
    base = [rng.uniform(0.015, 0.03) for _ in range(20000)]
    canary = [rng.uniform(0.005, 0.02) if rng.random() < 0.95 else 2.0 + rng.uniform(0.0, 0.1) for _ in range(1000)]
    assert sum(canary) / len(canary) > sum(base) / len(base)  # the mean does get worse here, the median better
    assert sorted(canary)[500] < sorted(base)[10000]
    bb, cb = _hist(base, BOUNDS), _hist(canary, BOUNDS)
    t, bq = J.threshold(bb, 0.99, add=0.05)
    assert t == 0.1 and 0.025 < bq <= 0.05
    v = J.judge_latency("latency", 0.99, t, cb, bb, alpha=0.001, baseline_q=bq)
    assert v.outcome == J.FAIL
    assert v.numbers["canary_over_rate"] > 0.04


def test_same_latency_passes():
    rng = random.Random(6)
    base = [rng.expovariate(50) for _ in range(20000)]
    canary = [rng.expovariate(50) for _ in range(2000)]
    bb, cb = _hist(base, BOUNDS), _hist(canary, BOUNDS)
    t, bq = J.threshold(bb, 0.99, add=0.02)
    v = J.judge_latency("latency", 0.99, t, cb, bb, alpha=0.001, baseline_q=bq)
    assert v.outcome == J.PASS


def test_latency_without_threshold_or_data_never_passes():
    assert J.judge_latency("l", 0.99, None, [(1.0, 5.0)], [(1.0, 5.0)]).outcome == J.INCONCLUSIVE
    assert J.judge_latency("l", 0.99, 0.1, None, [(1.0, 5.0)]).outcome == J.NO_DATA


def test_gauge_increase():
    rng = random.Random(7)
    base = [rng.gauss(100, 5) for _ in range(60)]
    worse = [rng.gauss(140, 5) for _ in range(60)]
    same = [rng.gauss(100, 5) for _ in range(60)]
    assert J.judge_gauge("mem", worse, base, tolerance=0.1, alpha=0.001).outcome == J.FAIL
    assert J.judge_gauge("mem", same, base, tolerance=0.1, alpha=0.001).outcome == J.PASS
    assert J.judge_gauge("mem", [1.0], base, tolerance=0.1).outcome == J.NO_DATA


def test_stage_outcome():
    p, f, i = (J.Verdict("a", o, "") for o in (J.PASS, J.FAIL, J.INCONCLUSIVE))
    assert J.stage_outcome([p, p]) == J.PASS
    assert J.stage_outcome([p, i]) == J.INCONCLUSIVE
    assert J.stage_outcome([p, i, f]) == J.FAIL
    assert J.stage_outcome([]) == J.INCONCLUSIVE


def test_a_canary_measurably_worse_is_never_called_inconclusive():
    # +60% errors with a +10% tolerance and a 100% detect: the sequential test has not decided, but at 95%
    # the rate ratio is above 1.1: "worse", with the numbers, not "inconclusive"
    v = J.judge_ratio("errors", 128, 1600, 320, 6400, tolerance=0.1, detect=1.0, alpha=0.0017)
    assert v.outcome == J.WORSE
    assert "worse than the tolerance at 95% confidence" in v.message and "(+60%, tolerance +10%)" in v.message
    assert v.numbers["rate_ratio_95"][0] > 1.1
    for x_c, n_c, x_b, n_b in [(10, 1000, 100, 10000), (12, 1000, 100, 10000), (30, 1000, 100, 10000),
                               (5, 100, 20, 1000), (40, 400, 200, 4000), (0, 1000, 3, 10000)]:
        v = J.judge_ratio("e", x_c, n_c, x_b, n_b, tolerance=0.1, detect=1.0, alpha=0.0001)
        lo, _ = J.rate_ratio_interval(x_c, n_c, x_b, n_b)
        if lo is not None and lo > 1.1:
            assert v.outcome in (J.FAIL, J.WORSE), (x_c, n_c, x_b, n_b, v.message)
        else:
            assert v.outcome != J.WORSE
    assert J.stage_outcome([J.Verdict("a", J.PASS, ""), J.Verdict("b", J.WORSE, "")]) == J.WORSE


def test_latency_and_gauge_say_worse_in_human_units():
    canary = [(0.1, 900.0), (0.25, 930.0), (2.5, 1000.0), (math.inf, 1000.0)]
    base = [(0.1, 9900.0), (0.25, 9990.0), (2.5, 10000.0), (math.inf, 10000.0)]
    t, bq = J.threshold(base, 0.99, add=0.05)
    early = J.judge_latency("latency", 0.99, None, canary, base, provisional=t)
    assert early.outcome == J.WORSE and early.message.startswith("canary p99 ~2.2 s vs baseline ~0.10 s")
    assert J.judge_latency("latency", 0.99, None, base, base, provisional=t).outcome == J.INCONCLUSIVE
    v = J.judge_gauge("memory", [152e6, 151e6, 153e6], [107e6, 106e6, 108e6], tolerance=0.1, unit="bytes")
    assert v.message.startswith("canary memory 152 MB vs baseline 107 MB (+42%, tolerance +10%)")
    rng = random.Random(8)
    worse = [rng.gauss(115, 8) for _ in range(30)]
    same = [rng.gauss(100, 8) for _ in range(30)]
    v = J.judge_gauge("memory", worse, same, tolerance=0.05, alpha=1e-6)
    assert v.outcome in (J.WORSE, J.FAIL) and "inconclusive" not in v.message


def test_units():
    from canary_lint.rollout import units as U

    assert U.pair(2.1, 0.11, "seconds") == ("2.1 s", "0.11 s")
    assert U.pair(0.25, 0.02, "seconds") == ("250 ms", "20 ms")
    assert U.pair(152e6, 107e6, "bytes") == ("152 MB", "107 MB")
    assert U.percent(0.0123) == "1.2%" and U.change(152, 107) == "+42%"
    assert U.unit_of('avg(process_resident_memory_bytes{version="$version"})') == "bytes"
    assert U.unit_of("sum(rate(cpu_seconds_total{x=\"y\"}[1m]))") == "seconds"
    assert U.unit_of('queue_depth{version="$version"}') == ""


def test_a_share_without_canary_requests_names_the_routers_failures():
    from canary_lint.rollout import share

    class Router:
        kind = "haproxy"

        def __init__(self, count):
            self.count = count

        def failures(self):
            return self.count, f"{self.count} connection errors, 0 response errors of server v2"

    none = J.Verdict("traffic", J.FAIL, "no canary requests in 6 s: the canary is down or not routed",
                     {"canary_requests": 0})
    told = share.with_router_failures(none, Router(260), (15, "15 connection errors, 0 response errors of server v2"))
    assert told.outcome == J.FAIL and told.numbers["router_failures"] == 245
    assert told.message.endswith("; the haproxy router failed to reach the canary 245 times since the stage began "
                                 "(260 connection errors, 0 response errors of server v2 in all)")
    assert share.with_router_failures(none, Router(15), (15, "")) is none  # nothing new since the stage began
    some = J.Verdict("traffic", J.FAIL, "canary share 1% of 400 requests", {"canary_requests": 4})
    assert share.with_router_failures(some, Router(260), (15, "")) is some  # it does get requests: not the story
