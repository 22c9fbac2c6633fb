"""The judge on simulated traffic (no servers): run with `python bench/rollout/bench_judge.py [--runs N]`.

1. A/A: identical versions through a whole rollout (5% -> 20% -> 50%, errors + p99 latency, 200 req/s,
   a look every 10 s, hold 1 min..30 min): how often does any stage fail? Goal < 1%.
2. 1% -> 2% errors at 5% of 200 req/s: canary requests the sequential test needs to fail the canary, as a
   ratio to the fixed-sample two-proportion minimum at the same alpha and power. Goal <= 1.3x.
3. The p99 case at 5% of 200 req/s (canary 10 ms faster for 95% of requests, 2 s slower for 5%): seconds
   from the stage start to the fail verdict.
Prints one line per figure, with the goal and the ratio to it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from canary_lint.rollout import judge as J  # noqa: E402

BOUNDS = np.array([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
ALPHA_ROLLOUT, POWER = 0.01, 0.8
STAGES = (5, 20, 50)
TESTS = 2  # errors + latency p99
ALPHA = ALPHA_ROLLOUT / (len(STAGES) * TESTS)


def hist(samples: np.ndarray) -> np.ndarray:
    """Cumulative counts per bound, plus +Inf."""
    counts = np.searchsorted(np.sort(samples), BOUNDS, side="right")
    return np.append(counts, len(samples)).astype(float)


def as_buckets(cum: np.ndarray) -> list[tuple[float, float]]:
    return list(zip([*BOUNDS.tolist(), float("inf")], cum.tolist()))


def baseline_latency(rng, n):
    return rng.lognormal(np.log(0.02), 0.35, n)


def p99_canary_latency(rng, n):
    lat = baseline_latency(rng, n) - 0.01
    slow = rng.random(n) < 0.05
    lat[slow] += 2.0 + 0.01
    return np.maximum(lat, 0.001)


def run_stage(
    rng,
    share,
    rps=200.0,
    look=10.0,
    hold_min=60.0,
    hold_max=1800.0,
    p_b=0.01,
    p_c=0.01,
    canary_latency=baseline_latency,
    criteria=("errors", "latency"),
):
    """One stage; returns (outcome, seconds, canary requests) at the decision."""
    n_c = n_b = x_c = x_b = 0
    hc = np.zeros(len(BOUNDS) + 1)
    hb = np.zeros(len(BOUNDS) + 1)
    threshold = None
    t = 0.0
    while True:
        t += look
        k = rng.poisson(rps * look)
        kc = rng.binomial(k, share)
        kb = k - kc
        n_c += kc
        n_b += kb
        x_c += rng.binomial(kc, p_c)
        x_b += rng.binomial(kb, p_b)
        verdicts = []
        if "errors" in criteria:
            verdicts.append(
                J.judge_ratio(
                    "errors", x_c, n_c, x_b, n_b, tolerance=0.0, detect=1.0, alpha=ALPHA, power=POWER, detail=False
                )
            )
        if "latency" in criteria:
            hc += hist(canary_latency(rng, kc))
            hb += hist(baseline_latency(rng, kb))
            if threshold is None and hb[-1] >= 20 / 0.01:
                threshold, bq = J.threshold(as_buckets(hb), 0.99, add=0.05)
            verdicts.append(
                J.judge_latency("latency", 0.99, threshold, as_buckets(hc), as_buckets(hb), alpha=ALPHA, power=POWER)
            )
        outcome = J.stage_outcome(verdicts)
        if outcome == J.FAIL:
            return J.FAIL, t, n_c
        if outcome == J.PASS and t >= hold_min:
            return J.PASS, t, n_c
        if t >= hold_max:
            return J.INCONCLUSIVE, t, n_c


def aa(runs: int, rng) -> tuple[float, int, float]:
    fails = inconclusive = 0
    durations = []
    for _ in range(runs):
        total = 0.0
        for share in STAGES:
            outcome, t, _ = run_stage(rng, share / 100)
            total += t
            if outcome != J.PASS:
                fails += outcome == J.FAIL
                inconclusive += outcome == J.INCONCLUSIVE
                break
        durations.append(total)
    return fails / runs, inconclusive, statistics.median(durations)


def errors_1_to_2(runs: int, rng, share=0.05) -> tuple[float, float, float, float, float]:
    needed, decided = [], []
    caught = 0
    for _ in range(runs):
        outcome, _, n_c = run_stage(
            rng, share, look=1.0, hold_min=0, hold_max=36000, p_b=0.01, p_c=0.02, criteria=("errors",)
        )
        decided.append(n_c)
        if outcome == J.FAIL:
            caught += 1
            needed.append(n_c)
    fixed = J.fixed_sample_canary_n(0.01, 2.0, share, ALPHA, 1 - POWER)
    return statistics.mean(needed), statistics.median(needed), fixed, caught / runs, statistics.mean(decided)


def errors_1_to_2_rollout(runs: int, rng) -> float:
    """A canary with 1% -> 2% errors walked through the whole plan: how often is it stopped before 100%?"""
    stopped = 0
    for _ in range(runs):
        for share in STAGES:
            outcome, _, _ = run_stage(rng, share / 100, p_b=0.01, p_c=0.02)
            if outcome != J.PASS:
                stopped += 1
                break
    return stopped / runs


def p99_case(runs: int, rng, share=0.05, look=5.0) -> tuple[float, float, float]:
    times = []
    caught = 0
    for _ in range(runs):
        outcome, t, _ = run_stage(
            rng, share, look=look, hold_min=0, hold_max=600, canary_latency=p99_canary_latency, criteria=("latency",)
        )
        if outcome == J.FAIL:
            caught += 1
            times.append(t)
    return statistics.median(times), float(np.percentile(times, 95)), caught / runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2000, help="simulated A/A rollouts")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"judge: alpha {ALPHA_ROLLOUT} per rollout -> {ALPHA:.2g} per test ({len(STAGES)} stages x {TESTS} tests), "
        f"power {POWER}"
    )
    t0 = time.perf_counter()
    rate, inc, med = aa(args.runs, rng)
    print(
        f"A/A false-fail rate over a whole rollout: {rate:.2%} of {args.runs} runs (goal < 1%: ratio "
        f"{rate / 0.01:.2f}x of the limit); {inc} inconclusive; median rollout {med / 60:.1f} min "
        f"[{time.perf_counter() - t0:.0f}s]"
    )
    t0 = time.perf_counter()
    mean_n, med_n, fixed, power, asn = errors_1_to_2(max(200, args.runs // 4), rng)
    print(
        f"1% -> 2% errors at 5% canary share: {mean_n:.0f} canary requests on average to the fail verdict "
        f"(median {med_n:.0f}) vs {fixed:.0f} for the fixed-sample two-proportion test at the same alpha/power: "
        f"{mean_n / fixed:.2f}x (goal <= 1.3x); failed at this one stage in {power:.1%} of runs (design power "
        f"{POWER:.0%}); {asn:.0f} requests on average to either verdict ({asn / fixed:.2f}x) "
        f"[{time.perf_counter() - t0:.0f}s]"
    )
    t0 = time.perf_counter()
    stopped = errors_1_to_2_rollout(max(200, args.runs // 4), rng)
    print(
        f"1% -> 2% errors through the whole plan (5/20/50%, errors + p99): stopped before 100% in {stopped:.1%} "
        f"of runs [{time.perf_counter() - t0:.0f}s]"
    )
    t0 = time.perf_counter()
    med_t, p95_t, power = p99_case(max(200, args.runs // 4), rng)
    print(
        f"p99 case at 5% of 200 req/s (looks every 5 s): caught after {med_t:.0f} s median, {p95_t:.0f} s p95, "
        f"in {power:.1%} of runs [{time.perf_counter() - t0:.0f}s]"
    )


if __name__ == "__main__":
    main()
