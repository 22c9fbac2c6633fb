"""The plan as Flagger objects: a `Canary` whose `stepWeights` are the plan's weight stages and one
`MetricTemplate` per ratio criterion (the runner's test as a log likelihood ratio, promql.llr_expr), with
the gate as a pre-rollout webhook (the load tester runs `canary-lint check` on the release commit).

Flagger's model is coarser than the plan's, and the export says where (the Canary's comment):
- one analysis interval for every step: each step holds the longest minimum hold of the plan, and every
  check reads the last `interval` of counts (`{{ interval }}`), all inside the step;
- a check passes only at `llr <= lower` (thresholdRange.max); anything else, a failing test, no data or NaN,
  is a failed check, and `threshold` failed checks roll back: a failing canary is rolled back after
  `threshold` checks, not at once, and every check gets 1/threshold of the alpha and beta (Bonferroni);
- the share check becomes "the canary receives requests" (Flagger sets the weight itself; a per-step target
  cannot be written into one template).
Refused (exit 2): header and cookie steps (Flagger's header match is A/B testing, which excludes weight steps), a
pause that is not right before the promotion (that one becomes a confirm-promotion gate), latency and gauge
criteria (promql.refuse).
"""

from __future__ import annotations

import math

from canary_lint.rollout.k8s import K8sError
from canary_lint.rollout.k8s import promql as Q
from canary_lint.rollout.k8s.cluster import Cluster, integer_weights
from canary_lint.rollout.plan import Plan, fmt_duration

API = "flagger.app/v1beta1"
PROVIDERS = {"istio": "istio", "gateway-api": "gatewayapi:v1", "nginx": "nginx"}


def export(plan: Plan, c: Cluster, *, traffic: str = "istio", repo: str | None = None,
           revision: str | None = None, gate_url: str | None = None) -> list[tuple[dict, str]]:
    from canary_lint.rollout.k8s import gatejob

    if traffic not in PROVIDERS:
        raise K8sError(f"unknown traffic router {traffic!r} for Flagger; one of: {', '.join(PROVIDERS)}")
    Q.refuse(plan, "flagger")
    integer_weights(plan, "Flagger")
    steps = plan.steps
    webhooks = []
    for i, s in enumerate(steps):
        if s.kind in ("header", "cookie"):
            raise K8sError(f"steps/{i}: {s.describe()} cannot be exported to Flagger: its header and cookie "
                           "matches are A/B testing, which runs instead of weight steps, not before them; "
                           "export to argo-rollouts, or drop the step")
        if s.kind == "pause":
            rest = [t for t in steps[i + 1:] if t.kind != "pause"]
            if not (len(rest) == 1 and rest[0].weight >= 100):
                raise K8sError(f"steps/{i}: pause ({s.reason or 'manual'}) between weight steps cannot be "
                               "exported to Flagger (it gates every weight increase or only the promotion)")
    judged = [s for s in steps if s.judged]
    if not judged:
        raise K8sError("the plan has no judged weight step for Flagger to analyse")
    interval = max(s.hold_min for s in judged)
    checks = max(1, min(1 + int(math.floor((s.hold_max - s.hold_min) / interval + 1e-9)) for s in judged))
    alpha, beta = plan.alpha_per_test / checks, (1 - plan.power) / checks
    upper, lower = Q.bounds(alpha, beta)
    window = Q.prom_duration(interval)
    subst = Q.Subst(window="{{ interval }}", stable=c.stable_version, canary=c.canary_version,
                    service=plan.service, region=plan.routers[0].get("region", ""))
    out: list[tuple[dict, str]] = []
    metrics = []
    req = Q.canary_requests_expr(plan, subst)
    if req:
        out.append((_template(c, "traffic", req), "canary requests in the check's window (Flagger sets the weight; "
                                                   "the runner's share tolerance has no per-step form here)"))
        metrics.append({"name": "traffic", "templateRef": {"name": f"{c.service}-traffic", "namespace": c.namespace},
                        "thresholdRange": {"min": 1}, "interval": window})
    dropped = []
    for crit in plan.criteria:
        t = Q.ratio_test(crit)
        dropped += [f"{t.name}.{d}" for d in t.dropped]
        out.append((_template(c, t.name, Q.llr_expr(plan, t, subst)),
                    f"{t.name}: the runner's sequential test as the log likelihood ratio of the check's window; "
                    f"the Canary passes a check at <= {lower:.4f} (a fail is >= {upper:.4f})"))
        metrics.append({"name": t.name, "templateRef": {"name": f"{c.service}-{t.name}", "namespace": c.namespace},
                        "thresholdRange": {"max": lower}, "interval": window})
    repo, revision = gatejob.release(plan, repo or c.repo, revision)
    url = gate_url or f"http://flagger-loadtester.{c.namespace}/"
    webhooks.append({"name": "canary-lint-gate", "type": "pre-rollout", "url": url, "timeout": "15m",
                     "metadata": {"type": "bash", "cmd": gatejob.script(plan, repo, revision)}})
    if any(s.kind == "pause" for s in steps):
        webhooks.append({"name": "manual-promotion", "type": "confirm-promotion", "url": url.rstrip("/") + "/gate/check"})
    canary = {"apiVersion": API, "kind": "Canary", "metadata": c.meta(c.service), "spec": {
        "provider": PROVIDERS[traffic],
        "targetRef": {"apiVersion": "apps/v1", "kind": c.workload_kind, "name": c.workload_name},
        "service": _service(c, traffic),
        "analysis": {"interval": window, "threshold": checks,
                     "stepWeights": [int(s.weight) for s in judged], "metrics": metrics, "webhooks": webhooks},
    }}
    if traffic == "nginx":
        canary["spec"]["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": c.ingress}
    out.insert(0, (canary, _note(plan, interval, checks, dropped)))
    return out


def _service(c: Cluster, traffic: str) -> dict:
    svc = {"port": c.port}
    if traffic == "istio":
        svc["hosts"] = list(c.hosts)
        if c.gateways:
            svc["gateways"] = list(c.gateways)
    elif traffic == "gateway-api":
        refs = [{"name": r["name"], **({"namespace": r["namespace"]} if r.get("namespace") else {})}
                for r in c.parent_refs]
        if not refs:
            raise K8sError("Flagger's Gateway API router needs a Gateway: set kubernetes.parent_refs")
        svc["gatewayRefs"] = refs
        if c.hostnames:
            svc["hosts"] = list(c.hostnames)
    return svc


def _template(c: Cluster, name: str, query: str) -> dict:
    return {"apiVersion": API, "kind": "MetricTemplate", "metadata": c.meta(f"{c.service}-{name}"),
            "spec": {"provider": {"type": "prometheus", "address": c.prometheus}, "query": query}}


def _note(plan: Plan, interval: float, checks: int, dropped: list[str]) -> str:
    holds = ", ".join(f"{s.describe()} {fmt_duration(s.hold_min)}" for s in plan.steps if s.judged)
    lines = [
        f"steps of {plan.path.name}; plan holds: {holds}.",
        "Not expressible in Flagger, done more strictly here:",
        f"- one interval ({fmt_duration(interval)}, the longest minimum hold) for every step; each check reads that",
        "  window, all inside the step;",
        f"- a check passes only when the runner's test passes; any other check counts toward threshold {checks},",
        f"  which rolls back: a failing canary is rolled back after {checks} check(s), not at its first look;",
        f"  every check gets 1/{checks} of the alpha and beta (Bonferroni);",
        "- the share check is 'the canary receives requests'; no values and NaN fail a check.",
    ]
    if dropped:
        lines.append(f"- not carried (each only ever let the runner pass earlier): {', '.join(dropped)}")
    lines += ["Gate: the pre-rollout webhook runs canary-lint check in the load tester (an image with git and",
              "canary-lint installed); a red release fails it before any traffic moves."]
    return "\n".join(lines)
