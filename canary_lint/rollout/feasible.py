"""Can each criterion decide within its stage's hold? Before a stage starts (and at plan load when the plan gives
an expected request rate), the canary requests each criterion needs (samplesize.py) are turned into time at the
stage's weight and compared with `hold.max`:

    checkout −4% needs ~9,700 canary requests; at 5% of 40 req/s that is 81 min, hold.max is 2 min

A stage that cannot decide in time ends inconclusive and is rolled back, a healthy canary too; and a criterion
whose baseline has no events at all can never pass (without `negligible`). `judge.on_infeasible` says what the
runner does about it: `refuse` (default: nothing is routed, or the rollout rolls back at that stage) or `warn`.

Gauges are not sized: their samples come from the range query's step, not from requests. A header stage is not
sized either: the share of requests carrying the header is not known before it is routed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from canary_lint.rollout import samplesize as S
from canary_lint.rollout import units as U
from canary_lint.rollout.units import fraction as percent


def ratio_params(raw: dict) -> tuple[str, float, float, float | None]:
    """(direction, tolerance, detect, negligible) of a ratio criterion, with the plan's defaults."""
    direction = "increase" if "bad" in raw else "decrease"
    tol = percent(raw["max_increase"] if "bad" in raw else raw["max_decrease"])
    default_detect = max(1.0, 2 * tol) if direction == "increase" else min(0.5, max(0.2, 2 * tol))
    detect = percent(raw["detect"]) if "detect" in raw else default_detect
    neg = percent(raw["negligible"]) if "negligible" in raw else None
    return direction, tol, detect, neg


def latency_detect(raw: dict) -> float:
    return percent(raw["detect"]) if "detect" in raw else 1.0


@dataclass(frozen=True)
class Need:
    criterion: str  # as the message names it: "checkout −4%", "latency p99"
    stage: int  # the step's index
    requests: int | None  # canary requests to decide; None: never
    seconds: float | None  # at the stage's canary request rate; None: never (or no rate)
    hold_max: float
    message: str
    advisory: bool = False  # said, never a refusal: what the baseline has not shown yet is no proof

    @property
    def ok(self) -> bool:
        return self.seconds is not None and self.seconds <= self.hold_max

    def to_dict(self) -> dict:
        return {"criterion": self.criterion, "stage": self.stage + 1, "requests": self.requests,
                "seconds": None if self.seconds is None else round(self.seconds, 1), "hold_max": self.hold_max,
                "ok": self.ok, "message": self.message, "advisory": self.advisory}


def _num(x: float) -> str:
    """Two significant digits without trailing zeros: 3, 7.5, 0.1, 2,000."""
    t = U.sig(x)
    return t.rstrip("0").rstrip(".") if "." in t else t


def _pct(p: float) -> str:
    return _num(p * 100) + "%"


def duration(seconds: float) -> str:
    """45 s, 2 min, 81 min, 2.5 h, 3.1 days."""
    if seconds < 90:
        return f"{_num(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{_num(seconds / 3600)} h"
    return f"{_num(seconds / 86400)} days"


def stage_needs(plan, index: int, rps: float | None, baseline: dict, where: str = "") -> list[Need]:
    """What each criterion of weight stage `index` needs at `rps` requests/s (both versions). `baseline`: per ratio
    criterion name, the baseline's (events, requests) or its expected rate as (rate, None); a criterion without
    one is not sized. `where`: how the baseline rates were read ("over the last 5m"), for the messages."""
    step = plan.steps[index]
    share = step.weight / 100.0
    canary_rps = rps * share if rps else 0.0
    alpha, power = plan.alpha_per_test, plan.power
    at = f"at {step.weight:g}% of {_num(rps)} req/s" if rps else "with no requests observed"
    out: list[Need] = []

    def need(label: str, n: float, extra_seconds: float = 0.0, why: str = "", advisory: bool = False) -> None:
        req = S.ceil(n)
        if req is None:
            out.append(Need(label, index, None, None, step.hold_max, f"{label}: {why}", advisory))
            return
        secs = max(req / canary_rps, extra_seconds) if canary_rps > 0 else None
        if secs is None:
            msg = f"{label} needs ~{req:,} canary requests; no requests observed, so it cannot decide"
        else:
            msg = (f"{label} needs ~{req:,} canary requests; {at} that is {duration(secs)}, hold.max is "
                   f"{duration(step.hold_max)}")
            if secs > step.hold_max:
                msg += " (raise hold.max or the weight, or size for a larger change: `detect`)"
        out.append(Need(label, index, req, secs, step.hold_max, msg))

    for c in plan.criteria:
        raw = c.raw
        if c.kind == "ratio":
            seen = baseline.get(c.name)
            if seen is None:
                continue
            direction, tol, detect, neg = ratio_params(raw)
            label = f"{c.name} {'+' if direction == 'increase' else '−'}{_pct(detect)}"
            events, total = seen
            p_b = events if total is None else (events / total if total else None)
            if p_b is None:
                continue
            if p_b <= 0:
                counted = f" ({U.count(total)} baseline requests {where})" if total else ""
                if direction == "increase" and neg is not None:
                    need(f"{c.name} (negligible {_pct(neg)})", S.negligible_n(neg))
                elif direction == "increase":
                    # observed: none yet in a short or quiet window is no proof there will be none in the stage
                    need(label, math.inf, why=f"no {c.name} events in the baseline{counted}: {S.NEVER_WITHOUT_NEGLIGIBLE}",
                         advisory=total is not None)
                else:
                    need(label, math.inf, why=f"no {c.name} events in the baseline{counted}: the criterion can never "
                         "decide; check its `good` query", advisory=total is not None)
                continue
            r0, r1 = (1 + tol, 1 + detect) if direction == "increase" else (1 - tol, 1 - detect)
            need(label, S.rate_n(p_b, r0, r1, share, alpha, power),
                 why="no number of requests can tell its tolerance from `detect` at this rate")
        elif c.kind == "latency":
            detect = latency_detect(raw)
            for q in raw.get("quantiles", [0.99]):
                # the threshold is fixed once the baseline has 20 / (1 - q) requests
                fix = 20 / (1 - q) / (rps * (1 - share)) if rps else 0.0
                need(f"{c.name} p{q * 100:g}", S.exceedance_n(q, detect, alpha, power), fix,
                     why="`detect` too small for this quantile")
    return out


def plan_needs(plan) -> list[Need]:
    """At plan load, from `traffic.expected_rps` and each ratio criterion's `expected` baseline rate."""
    if not plan.expected_rps:
        return []
    expected = {c.name: (percent(c.raw["expected"]), None) for c in plan.criteria if "expected" in c.raw}
    return [n for i, s in enumerate(plan.steps) if s.kind == "weight" and s.judged
            for n in stage_needs(plan, i, plan.expected_rps, expected)]


def refusal(plan, needs: list[Need], describe=None) -> str | None:
    """One line naming every criterion that cannot decide in its stage's hold, or None."""
    bad = [n for n in needs if not n.ok and not n.advisory and (n.seconds is not None or n.requests is None)]
    if not bad:
        return None
    describe = describe or (lambda i: f"stage {i + 1}/{len(plan.steps)} {plan.steps[i].describe()}")
    parts = [f"{describe(n.stage)}: {n.message}" for n in bad]
    return "cannot decide in time: " + "; ".join(parts)


def observe(scalar, plan, traffic: str | None, window: float, span: float) -> tuple[float | None, dict]:
    """(requests/s of both versions, {ratio criterion: baseline (events, requests)}) over the last `window`,
    `span` of which has samples. `scalar(expr, version)` evaluates a plan query over that window."""
    m = plan.metrics
    rps = None
    if traffic:
        counts = [scalar(traffic, v) for v in (m["canary"], m["stable"])]
        if counts[1] is not None:
            rps = sum(x or 0.0 for x in counts) / max(span, 1e-9)
    rates = {}
    for c in plan.criteria:
        if c.kind != "ratio":
            continue
        events = scalar(c.raw.get("bad") or c.raw.get("good"), m["stable"])
        total = scalar(c.raw["total"], m["stable"])
        if total:
            rates[c.name] = (max(0.0, events or 0.0), total)
    return rps, rates
