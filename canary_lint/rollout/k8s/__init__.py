"""Kubernetes: the same rollout plan on a cluster.

- `validate`: a manifest object against the CustomResourceDefinitions shipped in `crds/` (OpenAPI v3 schema
  with Kubernetes' structural-schema rules, list-map keys, object metadata, CEL `x-kubernetes-validations`).
- `render`: Istio VirtualService + DestinationRule or a Gateway API HTTPRoute for every step of a plan.
- `argo`, `flagger`: the plan as an Argo Rollouts `Rollout` + `AnalysisTemplate`s, or a Flagger `Canary` +
  `MetricTemplate`s, refusing (exit 2) a criterion the target cannot carry without weakening it.

CEL needs the `k8s` extra (`pip install 'canary-lint[k8s]'`, which brings cel-python).
"""

from __future__ import annotations


class K8sError(Exception):
    """A plan, option or object that cannot become a valid manifest (exit 2)."""
