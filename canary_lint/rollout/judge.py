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
Outcomes: pass / fail / worse / inconclusive / no-data. No data is never a pass. *worse*: not decided at the
rollout's alpha (or accepted by the sequential test alone), but beyond the tolerance at 95% confidence (a
one-look interval): never a pass nor "inconclusive". Messages say their numbers in human units (units.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import fmean, variance

from canary_lint.rollout import samplesize as S
from canary_lint.rollout import units as U
from canary_lint.rollout.stats import beta_ppf, t_ppf

PASS, FAIL, WORSE, INCONCLUSIVE, NO_DATA = "pass", "fail", "worse", "inconclusive", "no-data"
CONFIDENCE = 0.95  # of the one-look interval that says a canary not yet failed is already worse


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


def clopper_pearson_upper(x: int, n: int, conf: float = 0.95) -> float:
    if n <= 0:
        return 1.0
    if x >= n:
        return 1.0
    return beta_ppf(conf, x + 1, n - x)


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
        names = ("canary events", "canary requests", "baseline events", "baseline requests")
        missing = [w for w, v in zip(names, (x_c, n_c, x_b, n_b)) if v is None]
        return Verdict(name, NO_DATA, "no data for " + ", ".join(missing))
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
        "tolerance": tolerance,
    }
    if detail:
        if x_c + x_b == 0:  # no rate to size a ratio test on: only `negligible` can pass such a canary
            needed = S.negligible_n(negligible) if negligible is not None and direction == "increase" else None
        else:
            p_ref = rate_b if x_b > 0 else (x_c + x_b) / (n_c + n_b)
            needed = S.rate_n(p_ref, r0, r1, share, alpha, power)
        if needed is not None and S.ceil(needed) is not None:
            nums["needed_canary_n"] = S.ceil(needed)
    sign = "+" if direction == "increase" else "-"
    rel = U.change(rate_c, rate_b)
    what = (
        f"canary {x_c:,}/{n_c:,} ({U.percent(rate_c)}) vs baseline {x_b:,}/{n_b:,} ({U.percent(rate_b)}) "
        f"({rel + ', ' if rel else ''}tolerance {sign}{U.percent(tolerance)})"
    )
    if llr >= upper:
        change = "higher" if direction == "increase" else "lower"
        return Verdict(
            name,
            FAIL,
            f"{what}: canary rate is {change} than baseline by more than "
            f"{U.percent(tolerance)} (sequential test, alpha {alpha:.2g})",
            nums,
        )
    beyond = rate_c > rate_b * r0 if direction == "increase" else rate_c < rate_b * r0
    lo, hi = rate_ratio_interval(x_c, n_c, x_b, n_b) if beyond else (None, None)  # else its bound is within
    if lo is not None:
        nums["rate_ratio_95"] = [lo, hi]
    bound = lo if direction == "increase" else hi
    worse = bound is not None and (bound > r0 if direction == "increase" else bound < r0)
    if llr <= lower and not worse:  # a canary between the tolerance and `detect` is accepted by Wald's test alone
        return Verdict(name, PASS, f"{what}: within {U.percent(tolerance)} of baseline", nums)
    if negligible is not None and direction == "increase" and not worse:
        ub = clopper_pearson_upper(x_c, n_c)
        nums["canary_upper_95"] = ub
        if ub <= negligible:
            return Verdict(name, PASS, f"{what}: canary rate below {U.percent(negligible)} at 95% confidence", nums)
    need = nums.get("needed_canary_n")
    hint = f"; ~{need:,} canary requests needed to decide" if need else ""
    if worse:
        return Verdict(
            name,
            WORSE,
            f"{what}: worse than the tolerance at {CONFIDENCE:.0%} confidence (canary rate "
            f"{'at least' if direction == 'increase' else 'at most'} {U.change(bound, 1.0)} against baseline), "
            f"not yet a fail at alpha {alpha:.2g}" + ("" if llr > lower else "; not passed, although the sequential "
                                                        "test alone would accept it") + hint,
            nums,
        )
    if x_c + x_b == 0 and negligible is None:
        hint = "; " + S.NEVER_WITHOUT_NEGLIGIBLE
    return Verdict(
        name, INCONCLUSIVE, f"{what}: not decided yet (llr {llr:.2f} in ({lower:.2f}, {upper:.2f})){hint}", nums
    )


def rate_ratio_interval(x_c: int, n_c: int, x_b: int, n_b: int, conf: float = CONFIDENCE):
    """One-sided `conf` bounds (low, high) of the canary/baseline rate ratio: given x = x_c + x_b events, x_c
    is Binomial(x, n_c*r / (n_c*r + n_b)); Clopper-Pearson bounds on that share, mapped back to r."""
    x = x_c + x_b
    if x == 0 or n_c <= 0 or n_b <= 0:
        return None, None
    lo = beta_ppf(1 - conf, x_c, x - x_c + 1) if x_c > 0 else 0.0
    hi = beta_ppf(conf, x_c + 1, x - x_c) if x_c < x else 1.0

    def ratio(pi):
        return math.inf if pi >= 1 else pi * n_b / (n_c * (1 - pi))

    return ratio(lo), ratio(hi)


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
    provisional: float | None = None,
) -> Verdict:
    """`provisional`: the threshold the current baseline would give, while `t` is not fixed yet (too few
    baseline requests); only used to say that a canary is already worse, never to pass or fail it."""
    label = f"{name} p{q * 100:g}"
    if not canary:
        return Verdict(label, NO_DATA, "no canary histogram data in the window")
    if not baseline:
        return Verdict(label, NO_DATA, "no baseline histogram data in the window")
    cq, bq_now = quantile(canary, q), quantile(baseline, q)
    nums = {"canary_quantile": cq, "baseline_quantile": bq_now}
    qn = f"p{q * 100:g}"
    c_txt, b_txt = U.pair(cq, bq_now, "seconds")
    p0 = 1 - q
    if t is None:
        what = f"canary {qn} ~{c_txt} vs baseline ~{b_txt}"
        x, n = exceed(canary, provisional) if provisional is not None else (0, 0)
        if n and _over(round(x), round(n), p0):
            nums["provisional_threshold"] = provisional
            return Verdict(
                label,
                WORSE,
                f"{what}: {round(x):,}/{round(n):,} canary requests slower than {U.value(provisional, 'seconds')} "
                f"(the current baseline {qn} + tolerance), more than {U.percent(p0)} at {CONFIDENCE:.0%} "
                "confidence; the threshold is fixed once the baseline has enough requests",
                nums,
            )
        return Verdict(
            label,
            INCONCLUSIVE,
            f"{what}: threshold not fixed yet (waiting for enough baseline requests, "
            "or the histogram has no finite bucket above baseline + tolerance)",
            nums,
        )
    x, n = exceed(canary, t)
    x, n = round(x), round(n)
    if n == 0:
        return Verdict(label, NO_DATA, "no canary requests in the window", nums)
    p1 = min(p0 * (1 + detect), 0.999)
    upper, lower = sprt_bounds(alpha, 1 - power)
    llr = x * math.log(p1 / p0) + (n - x) * math.log((1 - p1) / (1 - p0))
    needed = S.exceedance_n(q, detect, alpha, power)
    nums.update(
        {
            "threshold": t,
            "baseline_quantile_at_start": baseline_q,
            "canary_over": [x, n],
            "canary_over_rate": x / n,
            "allowed_over_rate": p0,
            "needed_canary_n": S.ceil(needed),
            "llr": round(llr, 4),
            "fail_at": round(upper, 4),
            "pass_at": round(lower, 4),
        }
    )
    what = (
        f"canary {qn} ~{c_txt} vs baseline ~{b_txt}; {x:,}/{n:,} canary requests ({U.percent(x / n)}) slower than "
        f"{U.value(t, 'seconds')} (baseline {qn} {U.value(baseline_q, 'seconds')} + tolerance; "
        f"{U.percent(p0)} allowed)"
    )
    if llr >= upper:
        return Verdict(label, FAIL, f"{what}: more than {U.percent(p0)} exceed it (sequential test, alpha {alpha:.2g})",
                       nums)
    worse = _over(x, n, p0)
    if llr <= lower and not worse:
        return Verdict(label, PASS, what, nums)
    need = nums["needed_canary_n"]
    hint = f"; ~{need:,} canary requests needed to decide" if need else ""
    if worse:
        return Verdict(
            label,
            WORSE,
            f"{what}: more than {U.percent(p0)} exceed it at {CONFIDENCE:.0%} confidence, not yet a fail at alpha "
            f"{alpha:.2g}{hint}",
            nums,
        )
    return Verdict(
        label, INCONCLUSIVE, f"{what}: not decided yet (llr {llr:.2f} in ({lower:.2f}, {upper:.2f})){hint}", nums
    )


def _over(x: int, n: int, p0: float) -> bool:
    """More than p0 of n exceed, at CONFIDENCE (Clopper-Pearson lower bound)."""
    return x > 0 and n > 0 and beta_ppf(1 - CONFIDENCE, x, n - x + 1) > p0


# --- gauges --------------------------------------------------------------------------------------------


def judge_gauge(
    name: str,
    canary: list[float] | None,
    baseline: list[float] | None,
    *,
    tolerance: float,
    alpha: float = 0.01,
    power: float = 0.8,
    unit: str = "",
) -> Verdict:
    """`unit`: bytes, seconds, ratio or '' (see units.unit_of), for the message only."""
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
        "tolerance": tolerance,
        "unit": unit,
        "samples": [len(canary), len(baseline)],
    }
    c_txt, b_txt = U.pair(mc, mb, unit)
    rel = U.change(mc, mb)
    what = f"canary {name} {c_txt} vs baseline {b_txt} ({rel + ', ' if rel else ''}tolerance +{U.percent(tolerance)})"
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
    if d - t_ppf(CONFIDENCE, df) * se > allowed:
        return Verdict(
            name,
            WORSE,
            f"{what}: increase above tolerance at {CONFIDENCE:.0%} confidence, not yet a fail at alpha {alpha:.2g}",
            nums,
        )
    return Verdict(name, INCONCLUSIVE, f"{what}: not decided yet", nums)


def stage_outcome(verdicts: list[Verdict]) -> str:
    """fail if any criterion fails; else worse if any is worse; pass only when every criterion passes;
    otherwise inconclusive."""
    if any(v.outcome == FAIL for v in verdicts):
        return FAIL
    if any(v.outcome == WORSE for v in verdicts):
        return WORSE
    if verdicts and all(v.outcome == PASS for v in verdicts):
        return PASS
    return INCONCLUSIVE
