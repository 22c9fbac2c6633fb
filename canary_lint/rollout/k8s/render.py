"""Traffic routing manifests for every step of a plan (GitOps): Istio VirtualService + DestinationRule, or a
Gateway API HTTPRoute.

- Istio: one DestinationRule with a subset per version (`stable`, `canary`, selected by the version label),
  and a VirtualService whose `primary` route splits by weight between the subsets; while a header step is
  in force, a `canary-header` route before it sends requests carrying the header to the canary subset.
  Istio matches header names in lower case, so the name is written lower-cased. A cookie step adds a
  `canary-cookie` route after it, a regular expression (RE2) on the whole `cookie` header that matches the
  cookie's name=value wherever it sits.
- Gateway API: an HTTPRoute whose `primary` rule has weighted backendRefs to the stable and canary Services
  (the API has no subsets: each version has its own Service); a header step adds a `canary-header` rule
  with an Exact header match (more matches win, so it takes precedence over `primary`), a cookie step a
  `canary-cookie` rule with a RegularExpression match on the Cookie header (the same expression; support for
  RegularExpression is implementation-specific in Gateway API: check your gateway's). Without
  `parent_refs`, the route is attached to the Service itself (GAMMA mesh routing).
`write` lays out DIR/NN-<step>/ (every object a step needs, so `kubectl apply -f DIR/03-weight-20/` is the
step) and DIR/rollback/ (weight 0, no header or cookie route).
"""

from __future__ import annotations

from pathlib import Path

from canary_lint.rollout.k8s import K8sError
from canary_lint.rollout.k8s.cluster import Cluster, integer_weights, step_routes
from canary_lint.rollout.plan import Plan
from canary_lint.rollout.routers import Route
from canary_lint.rollout.routers.values import cookie_regex

ISTIO = "networking.istio.io/v1"
GATEWAY = "gateway.networking.k8s.io/v1"
TARGETS = ("istio", "gateway-api")
HEADER_ROUTE = "canary-header"
COOKIE_ROUTE = "canary-cookie"
PRIMARY = "primary"


def destination_rule(c: Cluster, by_version: bool = True) -> dict:
    """Subsets by the version label; Argo Rollouts writes its own pod-template-hash labels instead
    (`by_version=False`)."""
    subsets = []
    for name, version in (("stable", c.stable_version), ("canary", c.canary_version)):
        subsets.append({"name": name, "labels": {c.version_label: version}} if by_version else {"name": name})
    return {"apiVersion": ISTIO, "kind": "DestinationRule", "metadata": c.meta(c.service),
            "spec": {"host": c.service, "subsets": subsets}}


def _istio_dest(c: Cluster, subset: str, weight: int) -> dict:
    dest = {"host": c.service, "subset": subset}
    if c.port:
        dest["port"] = {"number": c.port}
    return {"destination": dest, "weight": weight}


def virtual_service(c: Cluster, route: Route) -> dict:
    w = int(route.canary)
    http = []
    if route.header:
        name, value = route.header
        http.append({"name": HEADER_ROUTE, "match": [{"headers": {name.lower(): {"exact": value}}}],
                     "route": [_istio_dest(c, "canary", 100)]})
    if route.cookie:
        http.append({"name": COOKIE_ROUTE, "match": [{"headers": {"cookie": {"regex": cookie_regex(route.cookie)}}}],
                     "route": [_istio_dest(c, "canary", 100)]})
    http.append({"name": PRIMARY, "route": [_istio_dest(c, "stable", 100 - w), _istio_dest(c, "canary", w)]})
    spec = {"hosts": list(c.hosts)}
    if c.gateways:
        spec["gateways"] = list(c.gateways)
    spec["http"] = http
    return {"apiVersion": ISTIO, "kind": "VirtualService", "metadata": c.meta(c.service), "spec": spec}


def _scale(plan: Plan) -> int:
    """The smallest power of ten that makes every weight of the plan a whole number of backendRef weight."""
    for scale in (100, 1000, 10000):
        if all((s.route.canary * scale / 100).is_integer() for s in step_routes(plan)):
            return scale
    raise K8sError("weights need more than two decimals; Gateway API backendRef weights are whole numbers")


def _parent_refs(c: Cluster) -> list[dict]:
    if c.parent_refs:
        return [dict(r) for r in c.parent_refs]
    return [{"group": "", "kind": "Service", "name": c.service, "port": c.port}]


def http_route(c: Cluster, route: Route, scale: int = 100) -> dict:
    canary = round(route.canary * scale / 100)
    prefix = {"path": {"type": "PathPrefix", "value": "/"}}
    rules = []
    if route.header:
        name, value = route.header
        rules.append({"name": HEADER_ROUTE,
                      "matches": [{**prefix, "headers": [{"type": "Exact", "name": name, "value": value}]}],
                      "backendRefs": [_backend(c.canary_service, c.port, 1)]})
    if route.cookie:
        regex = {"type": "RegularExpression", "name": "Cookie", "value": cookie_regex(route.cookie)}
        rules.append({"name": COOKIE_ROUTE, "matches": [{**prefix, "headers": [regex]}],
                      "backendRefs": [_backend(c.canary_service, c.port, 1)]})
    rules.append({"name": PRIMARY, "matches": [dict(prefix)],
                  "backendRefs": [_backend(c.stable_service, c.port, scale - canary),
                                  _backend(c.canary_service, c.port, canary)]})
    spec = {"parentRefs": _parent_refs(c)}
    if c.hostnames:
        spec["hostnames"] = list(c.hostnames)
    spec["rules"] = rules
    return {"apiVersion": GATEWAY, "kind": "HTTPRoute", "metadata": c.meta(c.service), "spec": spec}


def _backend(name: str, port: int, weight: int) -> dict:
    return {"group": "", "kind": "Service", "name": name, "port": port, "weight": weight}


def objects(plan: Plan, c: Cluster, target: str, route: Route) -> list[dict]:
    if target == "istio":
        return [destination_rule(c), virtual_service(c, route)]
    if target == "gateway-api":
        return [http_route(c, route, _scale(plan))]
    raise K8sError(f"unknown render target {target!r}; one of: {', '.join(TARGETS)}")


def steps(plan: Plan, c: Cluster, target: str) -> list[tuple[str, str, list[dict]]]:
    """[(directory name, what the step is, objects)] for every step, then the rollback."""
    if target == "istio":
        integer_weights(plan, "Istio")
    out = []
    for sr in step_routes(plan):
        note = f"step {sr.index + 1}/{len(plan.steps)}: {sr.step.describe()} -> {sr.route.describe()}"
        out.append((sr.slug, note, objects(plan, c, target, sr.route)))
    out.append(("rollback", "rollback: canary 0%, no header or cookie route", objects(plan, c, target, Route())))
    return out


def dump(objs: list[dict], comment: str) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):  # no &anchors: every manifest reads on its own
        def ignore_aliases(self, data):
            return True

    def text(dumper, data):  # a multi-line query reads as written
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, text)

    head = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    body = "---\n".join(yaml.dump(o, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=110)
                        for o in objs)
    return head + body


def file_name(obj: dict) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def write(out_dir: Path, layout: list[tuple[str, str, list[dict]]], header: str) -> list[Path]:
    written = []
    for directory, note, objs in layout:
        d = out_dir / directory
        d.mkdir(parents=True, exist_ok=True)
        for obj in objs:
            path = d / file_name(obj)
            path.write_text(dump([obj], f"{header}\n{note}"), encoding="utf-8")
            written.append(path)
    return written
