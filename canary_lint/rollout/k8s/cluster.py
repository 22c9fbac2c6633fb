"""Where the plan's service lives on a cluster: the plan's optional `kubernetes:` section, with CLI options on
top, and defaults from the rest of the plan (`service`, `metrics.version_label`/`stable`/`canary`).

Also the route in force at every step, folded from the plan's steps the way the runner folds them
(`Runner.route_at`): a header or cookie route stays until the weight reaches 100.
"""

from __future__ import annotations

from dataclasses import dataclass

from canary_lint.rollout.k8s import K8sError
from canary_lint.rollout.k8s.validate import _dns_label, dns_subdomain, label_key
from canary_lint.rollout.plan import Plan, Step
from canary_lint.rollout.routers import Route


@dataclass(frozen=True)
class Cluster:
    namespace: str
    service: str  # the Kubernetes Service in front of both versions (Istio host, Argo/Flagger target name)
    port: int
    stable_service: str  # Services selecting only one version (Gateway API backends, Argo canary/stable)
    canary_service: str
    hosts: tuple[str, ...]
    gateways: tuple[str, ...]
    parent_refs: tuple[dict, ...]  # Gateway API parentRefs (default: the Service itself, GAMMA mesh routing)
    hostnames: tuple[str, ...]
    version_label: str  # the pod label that tells the versions apart
    stable_version: str
    canary_version: str
    workload_kind: str
    workload_name: str
    selector: tuple[tuple[str, str], ...]  # the workload's pod labels (Argo Rollouts spec.selector)
    ingress: str  # nginx Ingress (Argo Rollouts nginx traffic routing)
    prometheus: str  # Prometheus as the cluster reaches it (AnalysisTemplate / MetricTemplate address)
    gate_image: str
    repo: str

    @property
    def labels(self) -> dict:
        return {"app.kubernetes.io/name": self.service, "app.kubernetes.io/managed-by": "canary-lint"}

    def meta(self, name: str) -> dict:
        return {"name": name, "namespace": self.namespace, "labels": dict(self.labels)}


def cluster(plan: Plan, **overrides) -> Cluster:
    k = dict(plan.raw.get("kubernetes") or {})
    k.update({key: v for key, v in overrides.items() if v not in (None, (), [])})
    m = plan.metrics
    service = k.get("service", plan.service)
    _name("kubernetes.service (default: the plan's service)", service, label=True)
    namespace = k.get("namespace", "default")
    _name("kubernetes.namespace", namespace, label=True)
    stable = k.get("stable_service", f"{service}-stable")
    canary = k.get("canary_service", f"{service}-canary")
    for key, value in (("stable_service", stable), ("canary_service", canary)):
        _name(f"kubernetes.{key}", value, label=True)
    workload = k.get("workload") or {}
    version_label = k.get("version_label", m.get("version_label", "version"))
    if not label_key(version_label):
        raise K8sError(f"kubernetes.version_label {version_label!r} is not a label key")
    refs = tuple(dict(r) for r in k.get("parent_refs") or ())
    return Cluster(
        namespace=namespace,
        service=service,
        port=int(k.get("port", 80)),
        stable_service=stable,
        canary_service=canary,
        hosts=tuple(k.get("hosts") or (service,)),
        gateways=tuple(k.get("gateways") or ()),
        parent_refs=refs,
        hostnames=tuple(k.get("hostnames") or ()),
        version_label=version_label,
        stable_version=str(m["stable"]),
        canary_version=str(m["canary"]),
        workload_kind=workload.get("kind", "Deployment"),
        workload_name=workload.get("name", service),
        selector=tuple(sorted((k.get("selector") or {"app": service}).items())),
        ingress=k.get("ingress", service),
        prometheus=k.get("prometheus", m["url"]),
        gate_image=k.get("gate_image", "canary-lint:latest"),
        repo=k.get("repo", ""),
    )


def _name(what: str, value, label: bool = False) -> None:
    ok = isinstance(value, str) and (_dns_label(value) if label else dns_subdomain(value))
    if not ok:
        raise K8sError(f"{what} {value!r} is not a Kubernetes name (lower-case letters, digits and '-'); "
                       "set it in the plan's `kubernetes:` section")


@dataclass(frozen=True)
class StepRoute:
    index: int  # 0-based position in plan.steps
    step: Step
    route: Route

    @property
    def slug(self) -> str:
        s = self.step
        if s.kind == "header":
            what = f"header-{s.header[0].lower()}"
        elif s.kind == "cookie":
            what = f"cookie-{s.cookie[0].lower()}"
        elif s.kind == "pause":
            what = "pause"
        else:
            what = f"weight-{s.weight:g}".replace(".", "_")
        return f"{self.index + 1:02d}-{what}"


def step_routes(plan: Plan) -> list[StepRoute]:
    out, weight, header, cookie = [], 0.0, None, None
    for i, step in enumerate(plan.steps):
        if step.kind == "header":
            header = step.header
        elif step.kind == "cookie":
            cookie = step.cookie
        elif step.kind == "weight":
            weight = step.weight
        done = weight >= 100
        out.append(StepRoute(i, step, Route(weight, None if done else header, None if done else cookie)))
    return out


def integer_weights(plan: Plan, target: str) -> None:
    for sr in step_routes(plan):
        if sr.route.canary != int(sr.route.canary):
            raise K8sError(f"steps/{sr.index}: weight {sr.route.canary:g}% is not a whole percent, which {target} "
                           "needs (its route weights are integers that add up to 100)")
