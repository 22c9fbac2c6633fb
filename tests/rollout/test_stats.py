"""The judge's pure-Python quantiles against scipy.stats (a test dependency only: `pip install .[test]`)."""

import ast
import itertools
import math
from pathlib import Path

import pytest
from scipy import special
from scipy import stats as scipy_stats

from canary_lint.rollout import judge as J
from canary_lint.rollout import stats as S

# scipy's own relative accuracy at the far corners of these grids is about 1e-9 (its betaln loses digits for
# a million requests; the pure-Python one matches a 40-digit reference to 1e-14 there), so 1e-8 is the bar.
RTOL = 1e-8

# the judge's range: Clopper-Pearson bounds x + 1, n - x for counts up to a few million; Welch's df from 2 up
SHAPES = [0.5, 1, 1.5, 2, 3, 10, 51, 300, 5001, 1e5, 1e6]
OTHER = [0.5, 1, 2.5, 10, 99, 1000, 1e4, 1e6, 3e6]
PROBS = [1e-6, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999, 1 - 1e-6]
DFS = [1, 1.3, 2, 2.7, 5, 10, 33.3, 100, 478.2, 1000, 1e5]
T_PROBS = [1e-9, 1e-5, 0.001, 0.2, 0.4, 0.5001, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999, 1 - 1e-5, 1 - 1e-7]


@pytest.mark.parametrize("a", SHAPES)
def test_beta_ppf_matches_scipy(a):
    for b, p in itertools.product(OTHER, PROBS):
        assert S.beta_ppf(p, a, b) == pytest.approx(scipy_stats.beta.ppf(p, a, b), rel=RTOL), (a, b, p)


def test_betainc_matches_scipy_and_inverts():
    for a, b in itertools.product([0.5, 1, 2, 10, 300, 5001, 1e5], [0.5, 1, 2.5, 99, 1e4, 1e6]):
        for x in (1e-12, 1e-6, 1e-3, 0.1, 0.5, 0.9, 0.999):
            ref = special.betainc(a, b, x)
            if ref > 1e-300:
                assert S.betainc(a, b, x) == pytest.approx(ref, rel=RTOL, abs=1e-300), (a, b, x)
        for p in (0.01, 0.5, 0.95):
            # x near 1 carries fewer digits of 1 - x, so the round trip is held to 1e-10, not 1e-16
            assert S.betainc(a, b, S.beta_ppf(p, a, b)) == pytest.approx(p, rel=1e-10), (a, b, p)


@pytest.mark.parametrize("df", DFS)
def test_t_ppf_matches_scipy(df):
    for p in T_PROBS:
        assert S.t_ppf(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=RTOL), (df, p)


def test_t_ppf_closed_forms_and_edges():
    for p in (1e-9, 0.3, 0.8, 1 - 1e-7):  # df = 2: t = (2p - 1) / sqrt(2p(1 - p))
        assert S.t_ppf(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-13)
    assert S.t_ppf(0.5, 7.5) == 0.0
    z, nu = 1.959963984540054, 1e6  # large df: the Cornish-Fisher expansion around the normal quantile
    expansion = z + (z**3 + z) / (4 * nu) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * nu**2)
    assert S.t_ppf(0.975, nu) == pytest.approx(expansion, rel=1e-10)
    assert S.t_ppf(0.0, 3) == -math.inf and S.t_ppf(1.0, 3) == math.inf
    assert S.beta_ppf(0.0, 2, 3) == 0.0 and S.beta_ppf(1.0, 2, 3) == 1.0
    with pytest.raises(ValueError):
        S.t_ppf(0.5, 0)
    with pytest.raises(ValueError):
        S.beta_ppf(1.5, 1, 1)


def test_the_judges_uses_agree_with_scipy():
    # Clopper-Pearson upper bounds as judge_ratio computes them, 0 events in a million requests included
    for x, n in [(0, 5000), (0, 1_000_000), (3, 20), (12, 40_000), (4999, 5000)]:
        ref = scipy_stats.beta.ppf(0.95, x + 1, n - x)
        assert J.clopper_pearson_upper(x, n) == pytest.approx(ref, rel=RTOL)
    assert J.clopper_pearson_upper(0, 1_000_000) == pytest.approx(1 - 0.05 ** (1 / 1_000_000), rel=1e-12)
    # Welch's interval: alpha spread over many looks, fractional df
    for alpha, df in [(0.01 / 6 / 60, 4.7), (0.001, 118.3), (0.2, 2.0)]:
        assert S.t_ppf(1 - alpha, df) == pytest.approx(scipy_stats.t.ppf(1 - alpha, df), rel=RTOL)


def test_the_judge_imports_what_it_needs_when_loaded():
    """Everything the verdicts need is imported with the module (before the first stage), none at a verdict."""
    for name in ("judge.py", "stats.py"):
        tree = ast.parse((Path(J.__file__).parent / name).read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
                assert not inner, f"{name}: {fn.name} imports at call time"


def test_rollout_judges_without_scipy_or_numpy():
    """`pip install canary-lint` has neither: every kind of verdict is given with both imports blocked."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "sys.modules['scipy'] = sys.modules['numpy'] = None\n"
        "from canary_lint.rollout import judge as J, runner\n"
        "v = J.judge_ratio('e', 0, 5000, 0, 95000, negligible=0.001)\n"
        "g = J.judge_gauge('m', [1.0, 1.1, 0.9, 1.0], [1.0, 1.05, 0.95, 1.0], tolerance=0.5)\n"
        "print(v.outcome, g.outcome)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["pass", "pass"]
