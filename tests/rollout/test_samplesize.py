"""The sample sizes (canary_lint/rollout/samplesize.py) against textbook closed forms computed here from their
formulas, the exact binomial power of the latency test, and a simulation of the rate test they size."""

from __future__ import annotations

import math
import random
from statistics import NormalDist

import pytest

from canary_lint.rollout import judge as J
from canary_lint.rollout import samplesize as S
from canary_lint.rollout.stats import betainc

Z = NormalDist().inv_cdf


def fleiss(p0: float, p1: float, k: float, alpha: float, power: float) -> float:
    """Fleiss, Tytun & Ury (1980) without continuity correction: n of group 1 (rate p1), k * n in group 2 (p0)."""
    pbar = (p1 + k * p0) / (1 + k)
    num = Z(1 - alpha) * math.sqrt(pbar * (1 - pbar) * (1 + 1 / k)) + Z(power) * math.sqrt(p1 * (1 - p1) + p0 * (1 - p0) / k)
    return (num / (p1 - p0)) ** 2


def arcsine(p0: float, p1: float, k: float, alpha: float, power: float) -> float:
    """Cohen's h (the arcsine closed form statsmodels' NormalIndPower uses): n1 = ((z_a + z_b) / h)^2 (1 + 1/k)."""
    h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))
    return ((Z(1 - alpha) + Z(power)) / h) ** 2 * (1 + 1 / k)


def test_one_percent_to_two_percent_equal_groups_is_the_textbook_1826():
    # z_.95 = 1.6449, z_.80 = 0.8416, pbar = 0.015:
    # (1.6449 * sqrt(2 * .015 * .985) + 0.8416 * sqrt(.02 * .98 + .01 * .99))^2 / .01^2 = 42.73^2 = 1826
    assert S.rate_n(0.01, 1.0, 2.0, 0.5, 0.05, 0.8) == pytest.approx(1826, abs=1)


@pytest.mark.parametrize(
    "p0, ratio, share, alpha, power",
    [(0.01, 2.0, 0.5, 0.05, 0.8), (0.05, 1.5, 0.2, 0.01, 0.8), (0.6, 0.96, 0.05, 0.001, 0.9),
     (0.002, 1.5, 0.1, 0.0005, 0.8), (0.3, 0.8, 0.5, 0.01, 0.95)],
)
def test_no_tolerance_is_fleiss_and_near_the_arcsine_form(p0, ratio, share, alpha, power):
    k = (1 - share) / share
    n = S.rate_n(p0, 1.0, ratio, share, alpha, power)
    assert n == pytest.approx(fleiss(p0, p0 * ratio, k, alpha, power), rel=1e-12)
    assert n == pytest.approx(arcsine(p0, p0 * ratio, k, alpha, power), rel=0.12)


def test_a_tolerance_makes_the_test_harder_and_detect_easier():
    base = S.rate_n(0.05, 1.1, 2.0, 0.2, 0.01, 0.8)
    assert S.rate_n(0.05, 1.0, 2.0, 0.2, 0.01, 0.8) < base < S.rate_n(0.05, 1.5, 2.0, 0.2, 0.01, 0.8)
    assert S.rate_n(0.05, 1.1, 3.0, 0.2, 0.01, 0.8) < base
    # a smaller canary share needs more canary requests, fewer in all than equal groups never
    assert S.rate_n(0.05, 1.1, 2.0, 0.05, 0.01, 0.8) < S.rate_n(0.05, 1.1, 2.0, 0.5, 0.01, 0.8) * 2


def _rate_test_rejects(rng, n_c, n_b, pc, pb, r0, alpha, direction):
    x_c = sum(rng.random() < pc for _ in range(n_c))
    x_b = sum(rng.random() < pb for _ in range(n_b))
    k = n_b / n_c
    pt = (x_c + x_b) / (r0 * n_c + n_b)  # the baseline rate fitted under H0 (canary = r0 x baseline)
    pcr = r0 * pt
    var = (pcr * (1 - pcr) + r0 * r0 * pt * (1 - pt) / k) / n_c
    zstat = (x_c / n_c - r0 * x_b / n_b) / math.sqrt(var)
    return zstat > Z(1 - alpha) if direction == "increase" else zstat < -Z(1 - alpha)


@pytest.mark.parametrize("pb, r0, r1, direction", [(0.2, 1.1, 1.5, "increase"), (0.6, 0.95, 0.8, "decrease")])
def test_the_rate_test_so_sized_has_its_power_and_its_alpha(pb, r0, r1, direction):
    """2,000 simulated stages at the size: the z test of p_c - r0 p_b (variance at the rates H0 fits) rejects
    ~80% of canaries at `detect` and ~5% at the tolerance."""
    alpha, power, share = 0.05, 0.8, 0.4
    n_c = S.ceil(S.rate_n(pb, r0, r1, share, alpha, power))
    n_b = round(n_c * (1 - share) / share)
    rng = random.Random(7)
    reps = 2000
    hit = sum(_rate_test_rejects(rng, n_c, n_b, pb * r1, pb, r0, alpha, direction) for _ in range(reps)) / reps
    false = sum(_rate_test_rejects(rng, n_c, n_b, pb * r0, pb, r0, alpha, direction) for _ in range(reps)) / reps
    assert 0.75 <= hit <= 0.85, hit
    assert 0.03 <= false <= 0.07, false


def test_latency_exceedance_size_is_the_one_sample_formula_and_has_its_exact_power():
    # p0 = 1%, p1 = 2%, alpha 1%, power 80%: (2.3263 * sqrt(.0099) + 0.8416 * sqrt(.0196))^2 / .01^2 = 1,220
    n = S.exceedance_n(0.99, 1.0, 0.01, 0.8)
    assert n == pytest.approx(1220, abs=1)
    n = S.ceil(n)
    # the exact one-sided binomial test at that n: the smallest c with P(X >= c | 1%) <= 1%; being discrete its
    # size is below 1%, so its power at 2% is a little below the 80% of the normal form
    c = next(c for c in range(1, n) if betainc(c, n - c + 1, 0.01) <= 0.01)
    assert betainc(c - 1, n - c + 2, 0.01) > 0.01
    assert 0.70 <= betainc(c, n - c + 1, 0.02) <= 0.85


def test_no_event_on_either_side_never_decides_and_negligible_sizes_it():
    assert S.rate_n(0.0, 1.1, 2.0, 0.2, 0.01, 0.8) == math.inf
    n = S.ceil(S.negligible_n(0.001))
    assert n == 2995  # ln(0.05) / ln(0.999) = 2994.2: the rule of three, 3 / 0.1%
    assert J.clopper_pearson_upper(0, n) <= 0.001 < J.clopper_pearson_upper(0, n - 1)


def test_the_judge_says_never_instead_of_a_count_when_no_version_has_an_event():
    v = J.judge_ratio("errors", 0, 1000, 0, 20000, tolerance=0.1, detect=1.0, alpha=0.001)
    assert v.outcome == J.INCONCLUSIVE
    assert "never pass" in v.message and "negligible: 0.1%" in v.message
    assert "canary requests needed" not in v.message and "needed_canary_n" not in v.numbers
    v = J.judge_ratio("errors", 0, 1000, 0, 20000, tolerance=0.1, detect=1.0, alpha=0.001, negligible=0.001)
    assert v.numbers["needed_canary_n"] == 2995


def test_the_judge_sizes_with_the_same_module():
    v = J.judge_ratio("errors", 10, 2000, 400, 8000, tolerance=0.1, detect=1.0, alpha=0.001, power=0.8)
    assert v.numbers["needed_canary_n"] == S.ceil(S.rate_n(0.05, 1.1, 2.0, 0.2, 0.001, 0.8))
