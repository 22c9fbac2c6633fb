"""The two distribution quantiles the judge needs, in pure Python (no scipy, no numpy).

- `beta_ppf(p, a, b)`: the inverse of the regularized incomplete beta function I_x(a, b) (the Clopper-Pearson
  bound is `beta_ppf(conf, x + 1, n - x)`).
- `t_ppf(p, df)`: Student's t quantile for any real df > 0 (Welch's degrees of freedom are fractional), from
  the same function: for T ~ t(df), df / (df + T^2) ~ Beta(df/2, 1/2).

I_x(a, b) is evaluated with the continued fraction of Numerical Recipes (modified Lentz), on whichever of
x and 1 - x it converges fast for; its inverse by Newton's method kept inside a bisection bracket. Checked
against scipy.stats in tests/rollout/test_stats.py (relative error below 1e-9 over the judge's range).
"""

from __future__ import annotations

import math

_TINY = 1e-300
_EPS = 1e-15


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2))."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    limit = 1000 + int(20 * math.sqrt(max(a, b)))
    for m in range(1, limit + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta: no convergence for a={a:g}, b={b:g}, x={x:g}")


def _stirling_delta(x: float) -> float:
    """lgamma(x) - ((x - 0.5) log x - x + log(2 pi) / 2), for x >= 10 (error below 1e-14)."""
    r = 1.0 / (x * x)
    return (1 / 12 - r * (1 / 360 - r * (1 / 1260 - r * (1 / 1680 - r / 1188)))) / x


def lbeta(a: float, b: float) -> float:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), without the cancellation of that sum when a or b
    is large (a canary with a million requests): Stirling's series for the large arguments."""
    a, b = min(a, b), max(a, b)
    if b < 10:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    s = a + b
    corr = _stirling_delta(b) - _stirling_delta(s)
    if a < 10:  # lgamma(b) - lgamma(a + b) by the series
        return math.lgamma(a) - (b - 0.5) * math.log1p(a / b) - a * math.log(s) + a + corr
    return (
        0.5 * math.log(2 * math.pi)
        - 0.5 * math.log(s)
        + (a - 0.5) * math.log(a / s)
        + (b - 0.5) * math.log1p(-a / s)
        + _stirling_delta(a)
        + corr
    )


def _log_front(a: float, b: float, x: float) -> float:
    """log(x^a (1-x)^b / B(a, b))"""
    return a * math.log(x) + b * math.log1p(-x) - lbeta(a, b)


def _ibeta(a: float, b: float, x: float, y: float) -> float:
    """I_x(a, b) with y = 1 - x given as well (exact when the caller has it, as t's tail does)."""
    # log x and log(1 - x) from whichever of x and y is small, so a or b in the millions costs no digits
    log_x, log_y = (math.log(x), math.log1p(-x)) if x < 0.5 else (math.log1p(-y), math.log(y))
    front = math.exp(a * log_x + b * log_y - lbeta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, y) / b


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), a, b > 0."""
    if a <= 0 or b <= 0:
        raise ValueError("betainc needs a > 0 and b > 0")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return _ibeta(a, b, x, 1.0 - x)


def beta_ppf(p: float, a: float, b: float) -> float:
    """x such that I_x(a, b) = p: the p-quantile of Beta(a, b)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError("beta_ppf needs 0 <= p <= 1")
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    x = a / (a + b)  # the mean: a start inside the bulk
    for _ in range(300):
        f = betainc(a, b, x) - p
        if f == 0.0:
            return x
        if f < 0:
            lo = x
        else:
            hi = x
        # Newton step with the density; bisect whenever it would leave the bracket
        dens = math.exp(_log_front(a, b, x) - math.log(x) - math.log1p(-x))
        nxt = x - f / dens if dens > 0 and math.isfinite(dens) else -1.0
        if not lo < nxt < hi:
            nxt = math.sqrt(lo * hi) if lo > 0 and hi > 4 * lo else 0.5 * (lo + hi)
        if abs(nxt - x) <= 4e-16 * x or hi - lo <= 4e-16 * hi:
            return nxt
        x = nxt
    return x


def t_ppf(p: float, df: float) -> float:
    """The p-quantile of Student's t distribution with df > 0 degrees of freedom (df need not be whole)."""
    if df <= 0:
        raise ValueError("t_ppf needs df > 0")
    if not 0.0 < p < 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        raise ValueError("t_ppf needs 0 <= p <= 1")
    if p == 0.5:
        return 0.0
    sign = 1.0 if p > 0.5 else -1.0
    tail = min(p, 1.0 - p)  # P(T > |t|); 1 - p is exact for p >= 0.5, p itself below
    # a start from the beta quantile, then Newton on t itself: z = df / (df + t^2) and 1 - z are both
    # computed from t, so neither loses digits to the other (1 - z is tiny when df is large)
    z = beta_ppf(2.0 * tail, df / 2.0, 0.5)
    t = math.sqrt(df * (1.0 - z) / z) if z > 0 else math.inf
    if not math.isfinite(t):
        return sign * t
    log_norm = 0.5 * math.log(df) + lbeta(df / 2.0, 0.5)
    for _ in range(50):
        t2 = t * t
        sf = 0.5 * _ibeta(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2)) if t > 0 else 0.5
        dens = math.exp(-(df + 1.0) / 2.0 * math.log1p(t2 / df) - log_norm)
        step = (sf - tail) / dens
        t += step
        if abs(step) <= 1e-15 * abs(t):
            break
    return sign * t
