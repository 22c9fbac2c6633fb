"""What a stage is judged on: which requests `$route` selects for each version, and the canary's share.

A header or cookie route sends the requests that match it to the canary whatever the weight. With
metrics.header_routed / metrics.cookie_routed the metrics tell those requests apart: a routed stage judges the
canary's routed requests, a weight stage the requests the weight applies to. Without them the canary's counts
include the routed requests, which only ever add to its share.
"""

from __future__ import annotations

import math

from canary_lint.rollout import judge as J
from canary_lint.rollout.plan import Plan, Step, fmt_duration
from canary_lint.rollout.routed import ROUTED


def route_matcher(plan: Plan, step: Step, version: str, in_force: list[str]) -> str:
    """What `$route` selects for `version` in this stage (metrics.header_routed and metrics.cookie_routed
    name the requests each route sent): a header or cookie stage judges the canary's requests that route
    sent against the baseline; a weight stage with routes still in force (`in_force`: "header", "cookie")
    judges the requests the weight applies to, both versions' without the routed ones; with no route in
    force, every request."""
    matchers = {k: plan.routed(k) for k in ROUTED}
    if not any(matchers.values()):
        return ""
    negated = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}
    if step.kind in ROUTED and matchers[step.kind]:
        label, op, value = matchers[step.kind]
        return f'{label}{op if version == plan.metrics["canary"] else negated[op]}"{value}"'
    excluded = [f'{m[0]}{negated[m[1]]}"{m[2]}"' for m in (matchers[k] for k in in_force) if m]
    if excluded:
        return ",".join(excluded)
    return f'{next(m for m in matchers.values() if m)[0]}=~".*"'


def share_verdict(
    plan: Plan, step: Step, n_c, n_b, window: float, weight: float | None, lower_only: bool = False,
    routed: list[str] = ("header",),
) -> J.Verdict:
    """The canary's share of requests against the weight. `lower_only`: the counts include requests a header
    or cookie route (`routed`) sent, which the weight does not apply to (and that metrics cannot tell apart),
    which only ever add to the canary's share, so only "at least the target" can be checked."""
    grace = window < plan.traffic_grace
    nums = {"canary_requests": n_c, "baseline_requests": n_b}
    if step.kind in ROUTED:
        if n_c and n_c > 0:
            return J.Verdict("traffic", J.PASS, f"canary serves {step.kind}-routed requests ({n_c:.0f})", nums)
        if grace:
            return J.Verdict("traffic", J.INCONCLUSIVE, "no canary requests yet", nums)
        return J.Verdict(
            "traffic",
            J.FAIL,
            f"the canary received no requests in {fmt_duration(window)} "
            f"(is it up? does the {step.kind} route reach it?)",
            nums,
        )
    if weight is None or weight <= 0:  # dry run with an unreadable router: the canary must get requests
        if n_c and n_c > 0:
            return J.Verdict("traffic", J.PASS, f"canary serves requests ({n_c:.0f})", nums)
        return J.Verdict(
            "traffic",
            J.INCONCLUSIVE if grace else J.FAIL,
            f"the canary received no requests in {fmt_duration(window)}",
            nums,
        )
    target = weight / 100.0
    if n_c is None or n_b is None or (n_c or 0) + (n_b or 0) <= 0:
        if grace:
            return J.Verdict("traffic", J.NO_DATA, "no request counts yet", nums)
        if n_c is None or not n_c:
            return J.Verdict(
                "traffic",
                J.FAIL,
                f"no canary requests in {fmt_duration(window)}: the canary is down or not routed",
                nums,
            )
        return J.Verdict("traffic", J.NO_DATA, "no request counts", nums)
    total = n_c + n_b
    share = n_c / total
    slack = plan.traffic_tolerance * target + 3 * math.sqrt(target * (1 - target) / total)
    nums.update({"share": share, "target": target, "slack": slack})
    msg = f"canary share {share:.1%} of {total:.0f} requests, target {target:.0%} ± {slack:.1%}"
    if n_c <= 0:
        ok = False
        msg = f"the canary received no requests out of {total:.0f}: it is down or not routed"
    elif lower_only:
        ok = share >= target - slack
        nums["lower_only"] = True
        msg = (
            f"canary share {share:.1%} of {total:.0f} requests, {routed_names(routed)} ones included, target at "
            f"least {target:.0%} - {slack:.1%} (set {' and '.join(f'metrics.{k}_routed' for k in routed)} to "
            "judge the weighted requests alone)"
        )
    else:
        ok = abs(share - target) <= slack
    if ok:
        return J.Verdict("traffic", J.PASS, msg, nums)
    return J.Verdict("traffic", J.INCONCLUSIVE if grace else J.FAIL, msg, nums)


def routed_names(kinds: list[str]) -> str:
    """["header", "cookie"] -> "header-routed and cookie-routed"; "weighted" stays as it is."""
    names = [k if k == "weighted" else f"{k}-routed" for k in kinds]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def with_router_failures(verdict: J.Verdict, router, since: tuple[int, str] | None) -> J.Verdict:
    """A share verdict without canary requests, told what the router saw when it tried to reach the canary
    (`since`: the router's count when the stage began): "the canary is down" becomes a fact, not a guess."""
    if since is None or verdict.outcome == J.PASS or (verdict.numbers.get("canary_requests") or 0) > 0:
        return verdict
    try:
        now = router.failures()
    except Exception:  # noqa: BLE001 - a reading for the message only: the verdict stands without it
        now = None
    if now is None or now[0] <= since[0]:
        return verdict
    n = now[0] - since[0]
    return J.Verdict(verdict.criterion, verdict.outcome,
                     f"{verdict.message}; the {router.kind} router failed to reach the canary {n:,} times since the "
                     f"stage began ({now[1]} in all)", {**verdict.numbers, "router_failures": n})
