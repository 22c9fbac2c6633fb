"""The plan as Argo Rollouts objects: a `Rollout` whose canary steps are the plan's steps, one
`AnalysisTemplate` per judged stage (Prometheus provider, the runner's criteria), a gate template (Job
provider: `canary-lint check` on the release commit) run as the first step, and the routing objects the
chosen traffic router needs (Istio VirtualService + DestinationRule, or a Gateway API HTTPRoute for the
argoproj-labs/gatewayAPI plugin; nginx uses your stable Ingress).

How a judged stage maps (the manifest's comment repeats it for each template):
- the stage is `setWeight` / `setHeaderRoute` (a cookie step: a header route on `Cookie` by a regular
  expression that finds name=value in it), then an inline `analysis` step; measurements start at the
  stage's minimum hold and repeat every `interval` until its maximum hold (K looks);
- each ratio criterion is the runner's sequential test as a log likelihood ratio of the last `hold.min` of
  counts (promql.llr_expr); pass at `<= lower`, fail at `>= upper` (failureLimit 0: the first failing look
  aborts, which rolls back), otherwise inconclusive; `consecutiveSuccessLimit: 1` passes at the first pass;
- the window slides (Argo Rollouts has no "since the step started"), so every look's alpha and beta are the
  runner's divided by K (Bonferroni): the error rates of the runner hold over all K looks;
- `judge.on_inconclusive: rollback` adds a `-deadline` metric per criterion that fails the stage when no
  look passed (Argo Rollouts would otherwise pause on an inconclusive analysis); `pause` leaves it out;
- the share check is a metric too; no data and NaN never pass.
"""

from __future__ import annotations

import math

from canary_lint.rollout.k8s import K8sError
from canary_lint.rollout.k8s import promql as Q
from canary_lint.rollout.k8s import render as R
from canary_lint.rollout.k8s.cluster import Cluster, integer_weights, step_routes
from canary_lint.rollout.plan import Plan, Step, fmt_duration
from canary_lint.rollout.routers.values import cookie_regex

API = "argoproj.io/v1alpha1"
TRAFFIC = ("istio", "gateway-api", "nginx")
MAX_LOOKS = 20
PLUGIN = "argoproj-labs/gatewayAPI"


def looks(step: Step, interval: float) -> tuple[int, float]:
    """(K, seconds between looks) from the stage's minimum to its maximum hold, at most MAX_LOOKS."""
    span = step.hold_max - step.hold_min
    if span <= 0:
        return 1, max(1.0, interval)
    every = max(1.0, interval, span / (MAX_LOOKS - 1))
    return 1 + int(math.floor(span / every + 1e-9)), every


def export(plan: Plan, c: Cluster, *, traffic: str = "istio", repo: str | None = None,
           revision: str | None = None) -> list[tuple[dict, str]]:
    from canary_lint.rollout.k8s import gatejob

    if traffic not in TRAFFIC:
        raise K8sError(f"unknown traffic router {traffic!r} for Argo Rollouts; one of: {', '.join(TRAFFIC)}")
    Q.refuse(plan, "argo-rollouts")
    integer_weights(plan, "Argo Rollouts")
    if len(plan.routers) > 1:
        raise K8sError("a plan with regions (routers:) walks one cluster after another; export it once per "
                       "cluster from a plan with one router")
    repo, revision = gatejob.release(plan, repo or c.repo, revision)
    out: list[tuple[dict, str]] = []
    gate = {"apiVersion": API, "kind": "AnalysisTemplate", "metadata": c.meta(f"{c.service}-gate"),
            "spec": {"metrics": [{"name": "canary-lint-check", "provider": {
                "job": {"spec": gatejob.job_spec(plan, c.gate_image, repo, revision)}}}]}}
    out.append((gate, f"the gate: `{' '.join(gatejob.check_argv(plan))}` on {revision[:12]}; red (exit 1) fails "
                      "the first step, before any traffic moves"))
    steps: list[dict] = [{"analysis": {"templates": [{"templateName": f"{c.service}-gate"}]}}]
    header_on = cookie_on = False
    for sr in step_routes(plan):
        s = sr.step
        if s.kind == "pause":
            steps.append({"pause": {}})
            continue
        if s.kind == "header":
            if traffic == "nginx":
                _nginx_header_first(plan, sr.index)
            else:
                name, value = s.header
                steps.append({"setHeaderRoute": {"name": R.HEADER_ROUTE, "match": [
                    {"headerName": _header_name(name, traffic), "headerValue": {"exact": value}}]}})
            header_on = True
        elif s.kind == "cookie":
            if traffic == "nginx":
                raise K8sError(f"steps/{sr.index}: {s.describe()} cannot be exported with nginx traffic routing: "
                               "ingress-nginx's canary-by-cookie routes only the values 'always' and 'never'; "
                               "export with --traffic istio or gateway-api, or drop the cookie step")
            steps.append({"setHeaderRoute": {"name": R.COOKIE_ROUTE, "match": [
                {"headerName": _header_name("Cookie", traffic), "headerValue": {"regex": cookie_regex(s.cookie)}}]}})
            cookie_on = True
        else:
            if s.weight >= 100 and header_on and traffic != "nginx":
                steps.append({"setHeaderRoute": {"name": R.HEADER_ROUTE}})
            if s.weight >= 100 and cookie_on:
                steps.append({"setHeaderRoute": {"name": R.COOKIE_ROUTE}})
            steps.append({"setWeight": int(s.weight)})
        if s.judged:
            template, note = stage_template(plan, c, sr.index, s)
            out.append((template, note))
            steps.append({"analysis": {"templates": [{"templateName": template["metadata"]["name"]}]}})
    rollout = {"apiVersion": API, "kind": "Rollout", "metadata": c.meta(c.service), "spec": {
        "selector": {"matchLabels": dict(c.selector)},
        "workloadRef": {"apiVersion": "apps/v1", "kind": c.workload_kind, "name": c.workload_name,
                        "scaleDown": "progressively"},
        "strategy": {"canary": {**_routing(plan, c, traffic), "steps": steps}},
    }}
    out.insert(0, (rollout, f"steps of {plan.path.name}; the workload's pods carry {c.version_label}="
                            f"{c.stable_version} (stable) / {c.canary_version} (canary), which the analysis selects"))
    out += [(o, "routing the Rollout manages (weights and header routes are written by Argo Rollouts)")
            for o in _routing_objects(c, traffic)]
    return out


def _header_name(name: str, traffic: str) -> str:
    """Argo Rollouts writes the name into the VirtualService as given, and Istio matches header keys written in
    lower case; Gateway API matches names case-insensitively."""
    return name.lower() if traffic == "istio" else name


def _nginx_header_first(plan: Plan, index: int) -> None:
    if any(s.kind == "weight" and s.weight > 0 for s in plan.steps[:index]):
        raise K8sError(f"steps/{index}: with nginx, Argo Rollouts routes the header (canary-by-header) from the "
                       "first step on; a header step after a weight step cannot be expressed")


def _routing(plan: Plan, c: Cluster, traffic: str) -> dict:
    routes = [{"name": name} for name, kind in ((R.HEADER_ROUTE, "header"), (R.COOKIE_ROUTE, "cookie"))
              if any(s.kind == kind for s in plan.steps)]
    managed = {"managedRoutes": routes} if routes else {}
    if traffic == "istio":
        return {"trafficRouting": {**managed, "istio": {
            "virtualService": {"name": c.service, "routes": [R.PRIMARY]},
            "destinationRule": {"name": c.service, "canarySubsetName": "canary", "stableSubsetName": "stable"}}}}
    services = {"canaryService": c.canary_service, "stableService": c.stable_service}
    if traffic == "gateway-api":
        return {**services, "trafficRouting": {**managed, "plugins": {PLUGIN: {
            "httpRoutes": [{"name": c.service, "useHeaderRoutes": True}], "namespace": c.namespace}}}}
    nginx = {"stableIngress": c.ingress}
    hdr = next((s.header for s in plan.steps if s.kind == "header"), None)
    if hdr:
        nginx["additionalIngressAnnotations"] = {"canary-by-header": hdr[0], "canary-by-header-value": hdr[1]}
    return {**services, "trafficRouting": {"nginx": nginx}}


def _routing_objects(c: Cluster, traffic: str) -> list[dict]:
    from canary_lint.rollout.routers import Route

    if traffic == "istio":
        return [R.virtual_service(c, Route()), R.destination_rule(c, by_version=False)]
    if traffic == "gateway-api":
        route = R.http_route(c, Route())
        route["spec"]["rules"] = [r for r in route["spec"]["rules"] if r["name"] == R.PRIMARY]
        return [route]
    return []


def stage_template(plan: Plan, c: Cluster, index: int, step: Step) -> tuple[dict, str]:
    k, every = looks(step, plan.interval)
    alpha, beta = plan.alpha_per_test / k, (1 - plan.power) / k
    upper, lower = Q.bounds(alpha, beta)
    window = Q.prom_duration(step.hold_min)
    s = Q.Subst(window=window, stable=c.stable_version, canary=c.canary_version, service=plan.service,
                region=plan.routers[0].get("region", ""))
    timing = {"initialDelay": window, "interval": Q.prom_duration(every), "count": k}
    prom = lambda q: {"prometheus": {"address": c.prometheus, "query": q}}  # noqa: E731
    metrics = []
    if step.kind in ("header", "cookie"):
        req = Q.canary_requests_expr(plan, s)
        if req:
            metrics.append({"name": "traffic", **timing, "successCondition": Q.guarded(">", 0.0),
                            "failureLimit": 0, "consecutiveSuccessLimit": 1, "provider": prom(req)})
    else:
        share = Q.share_expr(plan, s, repr(step.weight / 100))
        if share:
            metrics.append({"name": "traffic", **timing, "successCondition": Q.guarded("<=", 0.0),
                            "failureCondition": "len(result) == 0 || isNaN(result[0]) || result[0] > 0",
                            "failureLimit": 0, "consecutiveSuccessLimit": 1, "inconclusiveLimit": k,
                            "provider": prom(share)})
    dropped = []
    for crit in plan.criteria:
        t = Q.ratio_test(crit)
        dropped += [f"{t.name}.{d}" for d in t.dropped]
        query = Q.llr_expr(plan, t, s)
        metrics.append({"name": t.name, **timing, "successCondition": Q.guarded("<=", lower),
                        "failureCondition": Q.guarded(">=", upper), "failureLimit": 0,
                        "inconclusiveLimit": k, "consecutiveSuccessLimit": 1, "provider": prom(query)})
        if plan.on_inconclusive == "rollback":
            metrics.append({"name": f"{t.name}-deadline", **timing, "successCondition": Q.guarded("<=", lower),
                            "failureLimit": k - 1, "consecutiveSuccessLimit": 1, "provider": prom(query)})
    name = f"{c.service}-stage-{index + 1:02d}"
    tmpl = {"apiVersion": API, "kind": "AnalysisTemplate", "metadata": c.meta(name), "spec": {"metrics": metrics}}
    return tmpl, note(plan, index, step, k, every, lower, upper, dropped)


def note(plan: Plan, index: int, step: Step, k: int, every: float, lower: float, upper: float,
         dropped: list[str]) -> str:
    hold = fmt_duration(step.hold_min) + (f"..{fmt_duration(step.hold_max)}" if step.hold_max > step.hold_min else "")
    lines = [
        f"stage {index + 1}/{len(plan.steps)} {step.describe()}, hold {hold}: the runner's sequential test per ratio",
        f"criterion as the log likelihood ratio of the window's counts; pass at <= {lower:.4f}, fail at >= {upper:.4f}",
        "(the runner's alpha and power split over the rollout's stages and tests, then over this stage's looks).",
        "Not expressible in Argo Rollouts, done more strictly here:",
        f"- the window is the last {fmt_duration(step.hold_min)} at each look, not the time since the stage "
        f"started, so looks start at {fmt_duration(step.hold_min)}: a failing canary is stopped then at the",
        "  earliest (the runner stops it at its first look);",
        f"- {k} look(s) every {fmt_duration(every)}; each look gets 1/{k} of the stage's alpha and beta (Bonferroni),",
        "  so overlapping windows keep the runner's error rates;",
        "- each criterion stops at its own first pass (consecutiveSuccessLimit 1); the runner waits until all pass",
        "  at one look; no data and NaN are never a pass.",
    ]
    if plan.on_inconclusive == "rollback":
        lines.append("- on_inconclusive rollback: the -deadline metrics fail the stage when no look passed.")
    else:
        lines.append("- on_inconclusive pause: an inconclusive analysis pauses the Rollout (promote or abort it).")
    if dropped:
        lines.append(f"- not carried (each only ever let the runner pass earlier): {', '.join(dropped)} "
                     "(a Clopper-Pearson bound has no PromQL form)")
    return "\n".join(lines)
