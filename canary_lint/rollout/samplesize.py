"""How many canary samples a criterion needs to decide: the one place every part of the rollout asks (the judge's
"~N canary requests needed", the live view's progress, and the feasibility check before a stage starts).

- `rate_n`: a rate criterion (errors, checkout completion). The fixed-sample size of the one-sided two-proportion
  z test of H0 "canary rate = r0 x baseline rate" (the tolerance) against H1 "= r1 x baseline rate" (`detect`),
  at the criterion's alpha and power, with `share` of the requests on the canary. The statistic is the one of
  Farrington & Manning for a rate ratio, p_c - r0 p_b; its variance under H0 is taken at the rates H0 would fit
  to the data H1 gives (the baseline rate p~ = (p1 + k p_b) / (r0 + k), k baseline requests per canary
  request), under H1 at the H1 rates. At r0 = 1 that is Fleiss' formula for unequal groups (without continuity
  correction): n_c = (z_a sqrt(pbar qbar (1 + 1/k)) + z_b sqrt(p1 q1 + p0 q0 / k))^2 / (p1 - p0)^2.
- `exceedance_n`: a latency quantile. The judge tests the share of canary requests slower than the threshold
  (H0: 1 - q, H1: (1 - q)(1 + detect)), a one-sample binomial test: n = (z_a sqrt(p0 q0) + z_b sqrt(p1 q1))^2
  / (p1 - p0)^2.
- `negligible_n`: with no event in either version no rate ratio can be tested; `negligible` passes a canary
  whose 95% Clopper-Pearson upper bound is below it, which with no event takes ln(0.05) / ln(1 - negligible)
  requests (the "rule of three": ~3 / negligible).

The judge's tests are sequential: a canary far from both hypotheses decides sooner, one between them later.
The fixed-sample size is the scale of the stage: a hold that cannot reach it cannot give the plan's power.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_EDGE = 1e-9
NEVER_WITHOUT_NEGLIGIBLE = (
    "no event in either version, so no rate ratio can be tested and the criterion can never pass: set "
    "`negligible` (e.g. `negligible: 0.1%`) to pass a canary whose rate is surely below it"
)


def z(p: float) -> float:
    """The p-quantile of the standard normal distribution."""
    return NormalDist().inv_cdf(p)


def rate_n(p_base: float, r0: float, r1: float, share: float, alpha: float, power: float) -> float:
    """Canary requests to tell a canary rate r1 * p_base from r0 * p_base (one-sided alpha, power), the baseline's
    rate being p_base and the canary getting `share` of the requests. inf when no number of requests can."""
    if not 0 < p_base < 1 or r0 == r1:
        return math.inf
    share = min(max(share, 1e-6), 1 - 1e-6)
    k = (1 - share) / share  # baseline requests per canary request
    pb = p_base
    p0c, p1 = min(pb * r0, 1 - _EDGE), min(max(pb * r1, 0.0), 1 - _EDGE)
    if p0c <= 0 or (r1 > r0 and p0c >= 1 - _EDGE):
        return math.inf
    pt = min((p1 + k * pb) / (r0 + k), 1 - _EDGE)  # the baseline rate H0 fits to what H1 gives
    pc = min(r0 * pt, 1 - _EDGE)  # ... and the canary's
    var0 = pc * (1 - pc) + r0 * r0 * pt * (1 - pt) / k
    var1 = p1 * (1 - p1) + r0 * r0 * pb * (1 - pb) / k
    delta = abs(p1 - pb * r0)
    if delta <= 0:
        return math.inf
    return ((z(1 - alpha) * math.sqrt(var0) + z(power) * math.sqrt(var1)) / delta) ** 2


def exceedance_n(q: float, detect: float, alpha: float, power: float) -> float:
    """Canary requests to tell "1 - q of them slower than the threshold" from "(1 - q)(1 + detect)"."""
    p0 = 1 - q
    p1 = min(p0 * (1 + detect), 0.999)
    if p1 <= p0:
        return math.inf
    return ((z(1 - alpha) * math.sqrt(p0 * (1 - p0)) + z(power) * math.sqrt(p1 * (1 - p1))) / (p1 - p0)) ** 2


def negligible_n(negligible: float, conf: float = 0.95) -> float:
    """Canary requests without an event after which the `conf` upper bound of their rate is below `negligible`."""
    if not 0 < negligible < 1:
        return math.inf if negligible <= 0 else 1.0
    return math.log(1 - conf) / math.log1p(-negligible)


def ceil(n: float) -> int | None:
    """A sample size as a whole number of requests; None for "never"."""
    return None if not math.isfinite(n) else int(math.ceil(n - 1e-9))
