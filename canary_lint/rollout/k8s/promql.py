"""The runner's criteria as single PromQL expressions a controller can threshold (Argo Rollouts, Flagger).

A ratio criterion is the runner's own test, not an approximation of it: given the window's counts, the log
likelihood ratio of the split of events between canary and baseline (judge.ratio_llr) is

    llr = x_c * ln(r1/r0) + (x_c + x_b) * ln((n_c*r0 + n_b) / (n_c*r1 + n_b))

which is linear in the event counts, so one PromQL expression computes it from the plan's own `bad`/`good`
and `total` queries (counts rounded like the runner). The stage passes at `llr <= lower` and fails at
`llr >= upper`. An empty vector (no data) stays empty through the arithmetic, and no requests at all give
NaN: both are guarded so they are never a pass.

The share check (the runner's `traffic` verdict) becomes `|share - target| - slack`, with the runner's slack
(relative tolerance plus three binomial standard deviations); a header stage needs canary requests > 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from canary_lint.rollout.k8s import K8sError
from canary_lint.rollout.plan import Criterion, Plan, percent


@dataclass(frozen=True)
class RatioTest:
    name: str
    events: str  # the plan's bad/good query
    total: str
    r0: float  # rate ratio canary/baseline under H0 (the tolerance)
    r1: float  # under H1 (the detectable change)
    direction: str
    dropped: tuple[str, ...] = ()  # parts of the runner's verdict not carried (e.g. `negligible`)


def ratio_test(c: Criterion) -> RatioTest:
    """The parameters the runner derives for a ratio criterion (runner.Runner.measure)."""
    raw = c.raw
    direction = "increase" if "bad" in raw else "decrease"
    tol = percent(raw["max_increase"] if direction == "increase" else raw["max_decrease"])
    default = max(1.0, 2 * tol) if direction == "increase" else min(0.5, max(0.2, 2 * tol))
    detect = percent(raw["detect"]) if "detect" in raw else default
    r0, r1 = (1 + tol, 1 + detect) if direction == "increase" else (1 - tol, 1 - detect)
    if r0 <= 0 or r1 <= 0 or r1 == r0:
        raise K8sError(f"criterion {c.name}: tolerance {tol:.0%} / detect {detect:.0%} give rate ratios {r0:g} and "
                       f"{r1:g}; the test needs two different positive ratios")
    dropped = ("negligible",) if "negligible" in raw and direction == "increase" else ()
    return RatioTest(c.name, raw.get("bad") or raw["good"], raw["total"], r0, r1, direction, dropped)


def bounds(alpha: float, beta: float) -> tuple[float, float]:
    """(upper, lower): fail at llr >= upper, pass at llr <= lower (judge.sprt_bounds)."""
    return math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))


@dataclass(frozen=True)
class Subst:
    """How the plan's placeholders are written for a controller's query template."""

    window: str  # e.g. "{{args.window}}" (Argo) or "{{ interval }}" (Flagger)
    stable: str  # the stable version value or a placeholder for it
    canary: str
    service: str
    region: str = ""


def fill(plan: Plan, expr: str, version: str, s: Subst) -> str:
    if "{{" in expr or "}}" in expr:
        raise K8sError(f"query {expr[:60]!r} holds '{{{{' or '}}}}', which the controller's templating would "
                       "read as its own placeholders")
    m = plan.metrics
    sel = f'{m.get("version_label", "version")}="{version}"' + (f",{m['selector']}" if m.get("selector") else "")
    return (expr.replace("$selector", sel).replace("$version", version).replace("$window", s.window)
            .replace("$region", s.region).replace("$service", s.service))


def _r(expr: str) -> str:
    return f"round({expr.strip()})"


def llr_expr(plan: Plan, t: RatioTest, s: Subst) -> str:
    xc, nc = _r(fill(plan, t.events, s.canary, s)), _r(fill(plan, t.total, s.canary, s))
    xb, nb = _r(fill(plan, t.events, s.stable, s)), _r(fill(plan, t.total, s.stable, s))
    return (f"({xc}) * {math.log(t.r1 / t.r0)!r}\n+ (({xc}) + ({xb}))\n"
            f"  * ln((({nc}) * {t.r0!r} + ({nb})) / (({nc}) * {t.r1!r} + ({nb})))")


def traffic_expr(plan: Plan) -> str | None:
    """The request count the share check uses (runner.Runner._traffic_expr)."""
    if plan.traffic_query:
        return plan.traffic_query
    for c in plan.criteria:
        if c.kind == "ratio":
            return c.raw["total"]
    for c in plan.criteria:
        if c.kind == "latency":
            return f"sum(increase({c.raw['histogram']}_count{{$selector}}[$window]))"
    return None


def share_expr(plan: Plan, s: Subst, target: str) -> str | None:
    """<= 0 when the canary's share is within the runner's slack of `target` (a fraction, or a placeholder)."""
    base = traffic_expr(plan)
    if base is None:
        return None
    nc, nb = f"({fill(plan, base, s.canary, s).strip()})", f"({fill(plan, base, s.stable, s).strip()})"
    tol = plan.traffic_tolerance
    return (f"abs({nc} / ({nc} + {nb}) - {target})\n"
            f"- ({tol!r} * {target} + 3 * sqrt({target} * (1 - {target}) / ({nc} + {nb})))")


def canary_requests_expr(plan: Plan, s: Subst) -> str | None:
    base = traffic_expr(plan)
    return None if base is None else fill(plan, base, s.canary, s).strip()


def guarded(op: str, bound: float) -> str:
    """An Argo Rollouts condition on result[0] that is false for an empty result and for NaN."""
    return f"len(result) > 0 && !isNaN(result[0]) && result[0] {op} {bound!r}"


def prom_duration(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


def refuse(plan: Plan, target: str, carried: set[str] | None = None) -> None:
    """Exit 2 naming every criterion the target cannot carry without weakening it."""
    carried = carried or {"ratio"}
    reasons = []
    for c in plan.criteria:
        if c.kind in carried:
            continue
        if c.kind == "latency":
            reasons.append(f"criterion {c.name} (latency): its threshold is a histogram bucket bound chosen from "
                           "the baseline's quantile, which PromQL cannot select from classic buckets without "
                           "knowing their bounds; a quantile-to-quantile threshold would pass canaries the "
                           "runner fails")
        elif c.kind == "gauge":
            reasons.append(f"criterion {c.name} (gauge): Welch's t interval over range samples has no faithful "
                           "single-query form; a mean-to-mean threshold would pass canaries the runner fails")
    if reasons:
        raise K8sError(f"cannot export to {target} without weakening the plan:\n  " + "\n  ".join(reasons)
                       + "\nrun these stages with `canary-lint rollout`, or drop the criteria from the plan")
