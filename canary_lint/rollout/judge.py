"""The judge: canary against baseline over the same window, one verdict per criterion.

- `ratio` (errors/total, conversions/total): a sequential probability ratio test (Wald) on how the events of
  the window split between canary and baseline, conditional on their request counts. Given the counts, each
  event is the canary's with probability pi = n_c*r / (n_c*r + n_b) where r is the canary/baseline rate
  ratio, so the test is exact at any count (no normal approximation) and needs no estimate of the baseline
  rate. The log-likelihood ratio of H1 (r = 1 + detect) against H0 (r = 1 + tolerance) is recomputed from the
  cumulative counts at every look, which is exactly Wald's SPRT observed at those times: the false-alarm
  rate stays under alpha however often the stage is looked at.
- `latency`: tail latency by exceedance. The threshold T is the histogram bucket bound at or above the
  baseline's quantile plus the tolerance; "canary's q-quantile <= T" is "at most (1-q) of canary requests
  exceed T", tested with a one-sample binomial SPRT on canary requests (H0: 1-q, H1: (1-q)*(1+detect)).
- `gauge`: Welch's t interval for the difference of the means of the two versions' samples, spending the
  criterion's alpha over the stage's maximum number of looks.
Outcomes: pass / fail / inconclusive / no-data. No data is never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist, fmean, variance

from canary_lint.rollout.stats import beta_ppf, t_ppf

PASS, FAIL, INCONCLUSIVE, NO_DATA = "pass", "fail", "inconclusive", "no-data"


@dataclass
class Verdict:
    criterion: str
    outcome: str
    message: str
    numbers: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"criterion": self.criterion, "outcome": self.outcome, "message": self.message, "numbers": self.numbers}


def sprt_bounds(alpha: float, beta: float) -> tuple[float, float]:
    """(upper, lower) log-likelihood-ratio boundaries: above upper -> H1 (fail), below lower -> H0 (pass)."""
    return math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))


def _z(p: float) -> float:
    return NormalDist().inv_cdf(p)


def clopper_pearson_upper(x: int, n: int, conf: float = 0.95) -> float:
    if n <= 0:
        return 1.0
    if x >= n:
        return 1.0
    return beta_ppf(conf, x + 1, n - x)


def fixed_sample_canary_n(p_base: float, ratio: float, share: float, alpha: float, beta: float) -> float:
    """Canary requests a one-shot two-proportion z test needs (one-sided alpha, power 1-beta) to tell
    p_canary = p_base*ratio from p_base when the canary gets `share` of the requests."""
    p0 = min(max(p_base, 1e-9), 1 - 1e-9)
    p1 = min(p0 * ratio, 1 - 1e-9)
    share = min(max(share, 1e-6), 1 - 1e-6)
    k = (1 - share) / share  # baseline requests per canary request
    pbar = (p1 + k * p0) / (1 + k)
    za, zb = _z(1 - alpha), _z(1 - beta)
    num = za * math.sqrt(pbar * (1 - pbar) * (1 + 1 / k)) + zb * math.sqrt(p1 * (1 - p1) + p0 * (1 - p0) / k)
    return (num / (p1 - p0)) ** 2


def ratio_llr(x_c: float, n_c: float, x_b: float, n_b: float, r0: float, r1: float) -> float:
    pi0 = n_c * r0 / (n_c * r0 + n_b)
    pi1 = n_c * r1 / (n_c * r1 + n_b)
    return x_c * math.log(pi1 / pi0) + x_b * math.log((1 - pi1) / (1 - pi0))


def judge_ratio(
    name: str,
    x_c: float | None,
    n_c: float | None,
    x_b: float | None,
    n_b: float | None,
    *,
    direction: str = "increase",
    tolerance: float = 0.0,
    detect: float = 1.0,
    alpha: float = 0.01,
    power: float = 0.8,
    negligible: float | None = None,
    detail: bool = True,
) -> Verdict:
    """Events x out of n requests for canary (c) and baseline (b). `direction="increase"` for bad events
    (errors), `"decrease"` for good events (conversions). `tolerance` and `detect` are relative changes."""
    if None in (x_c, n_c, x_b, n_b):
        return Verdict(
            name,
            NO_DATA,
            "no data for "
            + ", ".join(
                w
                for w, v in (
                    ("canary events", x_c),
                    ("canary requests", n_c),
                    ("baseline events", x_b),
                    ("baseline requests", n_b),
                )
                if v is None
            ),
        )
    x_c, n_c, x_b, n_b = (max(0, round(v)) for v in (x_c, n_c, x_b, n_b))
    x_c, x_b = min(x_c, n_c), min(x_b, n_b)
    if n_c == 0 or n_b == 0:
        who = "canary" if n_c == 0 else "baseline"
        return Verdict(name, NO_DATA, f"no {who} requests in the window", {"canary_n": n_c, "baseline_n": n_b})
    if direction == "increase":
        r0, r1 = 1 + tolerance, 1 + detect
    else:
        r0, r1 = 1 - tolerance, 1 - detect
    beta = 1 - power
    upper, lower = sprt_bounds(alpha, beta)
    llr = ratio_llr(x_c, n_c, x_b, n_b, r0, r1)
    rate_c, rate_b = x_c / n_c, x_b / n_b
    share = n_c / (n_c + n_b)
    nums = {
        "canary": [x_c, n_c],
        "baseline": [x_b, n_b],
        "canary_rate": rate_c,
        "baseline_rate": rate_b,
        "llr": round(llr, 4),
        "fail_at": round(upper, 4),
        "pass_at": round(lower, 4),
    }
    p_ref = rate_b if x_b > 0 else (1.0 / (n_b + 1))
    if detail and r1 > 0:
        needed = fixed_sample_canary_n(min(p_ref * r0, 0.999), r1 / r0, share, alpha, beta)
        nums["needed_canary_n"] = int(math.ceil(needed))
    what = f"canary {x_c}/{n_c} ({rate_c:.3%}) vs baseline {x_b}/{n_b} ({rate_b:.3%})"
    if llr >= upper:
        change = "higher" if direction == "increase" else "lower"
        return Verdict(
            name,
            FAIL,
            f"{what}: canary rate is {change} than baseline by more than "
            f"{tolerance:.0%} (sequential test, alpha {alpha:.2g})",
            nums,
        )
    if llr <= lower:
        return Verdict(name, PASS, f"{what}: within {tolerance:.0%} of baseline", nums)
    if negligible is not None and direction == "increase":
        ub = clopper_pearson_upper(x_c, n_c)
        nums["canary_upper_95"] = ub
        if ub <= negligible:
            return Verdict(name, PASS, f"{what}: canary rate below {negligible:.3%} at 95% confidence", nums)
    need = nums.get("needed_canary_n")
    hint = f"; ~{need} canary requests needed to decide" if need else ""
    return Verdict(
        name, INCONCLUSIVE, f"{what}: not decided yet (llr {llr:.2f} in ({lower:.2f}, {upper:.2f})){hint}", nums
    )


# --- latency -------------------------------------------------------------------------------------------


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Quantile from cumulative histogram buckets [(le, count)], interpolated like histogram_quantile()."""
    b = sorted(buckets)
    if not b or b[-1][1] <= 0:
        return None
    total = b[-1][1]
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in b:
        if c >= rank:
            if math.isinf(le):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return b[-1][0]


def threshold(
    baseline: list[tuple[float, float]], q: float, *, add: float = 0.0, scale: float = 1.0
) -> tuple[float | None, float | None]:
    """(T, baseline quantile): the smallest finite bucket bound >= baseline quantile * scale + add."""
    bq = quantile(baseline, q)
    if bq is None:
        return None, None
    target = bq * scale + add
    for le, _ in sorted(baseline):
        if not math.isinf(le) and le >= target - 1e-12:
            return le, bq
    return None, bq


def exceed(buckets: list[tuple[float, float]], t: float) -> tuple[float, float]:
    """(requests slower than t, all requests)."""
    b = dict(buckets)
    total = max(b.values()) if b else 0.0
    at = b.get(t)
    if at is None:
        at = max((c for le, c in b.items() if le <= t), default=0.0)
    return total - at, total


def judge_latency(
    name: str,
    q: float,
    t: float | None,
    canary: list[tuple[float, float]] | None,
    baseline: list[tuple[float, float]] | None,
    *,
    detect: float = 1.0,
    alpha: float = 0.01,
    power: float = 0.8,
    baseline_q: float | None = None,
) -> Verdict:
    label = f"{name} p{q * 100:g}"
    if not canary:
        return Verdict(label, NO_DATA, "no canary histogram data in the window")
    if not baseline:
        return Verdict(label, NO_DATA, "no baseline histogram data in the window")
    cq, bq_now = quantile(canary, q), quantile(baseline, q)
    nums = {"canary_quantile": cq, "baseline_quantile": bq_now}
    if t is None:
        return Verdict(
            label,
            INCONCLUSIVE,
            "threshold not fixed yet (waiting for enough baseline requests, "
            "or the histogram has no finite bucket above baseline + tolerance)",
            nums,
        )
    x, n = exceed(canary, t)
    x, n = round(x), round(n)
    if n == 0:
        return Verdict(label, NO_DATA, "no canary requests in the window", nums)
    p0 = 1 - q
    p1 = min(p0 * (1 + detect), 0.999)
    upper, lower = sprt_bounds(alpha, 1 - power)
    llr = x * math.log(p1 / p0) + (n - x) * math.log((1 - p1) / (1 - p0))
    nums.update(
        {
            "threshold": t,
            "baseline_quantile_at_start": baseline_q,
            "canary_over": [x, n],
            "canary_over_rate": x / n,
            "llr": round(llr, 4),
            "fail_at": round(upper, 4),
            "pass_at": round(lower, 4),
        }
    )
    ms = lambda v: "n/a" if v is None else f"{v * 1000:.0f}ms"  # noqa: E731
    what = (
        f"{x}/{n} canary requests ({x / n:.2%}) slower than {ms(t)} (baseline p{q * 100:g} {ms(baseline_q)} "
        f"+ tolerance); canary p{q * 100:g} ~{ms(cq)} vs baseline ~{ms(bq_now)}"
    )
    if llr >= upper:
        return Verdict(label, FAIL, f"{what}: more than {p0:.1%} exceed it (sequential test, alpha {alpha:.2g})", nums)
    if llr <= lower:
        return Verdict(label, PASS, what, nums)
    return Verdict(label, INCONCLUSIVE, f"{what}: not decided yet (llr {llr:.2f} in ({lower:.2f}, {upper:.2f}))", nums)


# --- gauges --------------------------------------------------------------------------------------------


def judge_gauge(
    name: str,
    canary: list[float] | None,
    baseline: list[float] | None,
    *,
    tolerance: float,
    alpha: float = 0.01,
    power: float = 0.8,
) -> Verdict:
    if not canary or len(canary) < 3:
        return Verdict(name, NO_DATA, "fewer than 3 canary samples in the window")
    if not baseline or len(baseline) < 3:
        return Verdict(name, NO_DATA, "fewer than 3 baseline samples in the window")
    mc, mb = fmean(canary), fmean(baseline)
    vc, vb = variance(canary) / len(canary), variance(baseline) / len(baseline)
    se = math.sqrt(vc + vb)
    allowed = tolerance * abs(mb)
    d = mc - mb
    nums = {
        "canary_mean": mc,
        "baseline_mean": mb,
        "allowed_increase": allowed,
        "samples": [len(canary), len(baseline)],
    }
    what = f"canary mean {mc:.4g} vs baseline {mb:.4g} (allowed +{tolerance:.0%})"
    if se == 0:
        return Verdict(name, FAIL if d > allowed else PASS, what, nums)
    df = (vc + vb) ** 2 / ((vc**2 / (len(canary) - 1)) + (vb**2 / (len(baseline) - 1)))
    lo = d - t_ppf(1 - alpha, df) * se
    hi = d + t_ppf(power, df) * se
    nums.update({"diff_low": lo, "diff_high": hi})
    if lo > allowed:
        return Verdict(name, FAIL, f"{what}: increase above tolerance (Welch, alpha {alpha:.2g})", nums)
    if hi <= allowed:
        return Verdict(name, PASS, what, nums)
    return Verdict(name, INCONCLUSIVE, f"{what}: not decided yet", nums)


def stage_outcome(verdicts: list[Verdict]) -> str:
    """fail if any criterion fails; pass only when every criterion passes; otherwise inconclusive."""
    if any(v.outcome == FAIL for v in verdicts):
        return FAIL
    if verdicts and all(v.outcome == PASS for v in verdicts):
        return PASS
    return INCONCLUSIVE
