"""CRD schemas: find the `openAPIV3Schema` of a kind's version, and turn Kubernetes' structural schema into
plain JSON Schema (draft 4, which OpenAPI v3.0 follows) that rejects what the API server rejects.

What changes in the conversion, and why:
- an object schema with `properties` and no `additionalProperties` gets `additionalProperties: false`
  (JSON Schema allows unknown fields; the API server prunes them, or rejects them with kubectl's default
  `--validate=strict`), except under `x-kubernetes-preserve-unknown-fields` and inside `anyOf`/`allOf`/
  `oneOf`/`not` (value validations that only restate fields);
- the root and every `x-kubernetes-embedded-resource` accept `apiVersion`, `kind` and `metadata`
  (Istio's root lists only `spec` and `status`); ObjectMeta itself is checked by `validate.metadata`;
- `nullable: true` admits `null`; a null in a field that is not nullable is pruned by the API server
  before defaulting (`prune_and_default` does the same and says so);
- `x-kubernetes-int-or-string` without an `anyOf` becomes integer-or-string;
- `default`s are applied to the object before it is validated, as the API server does.
The CRD files are the upstream ones, unchanged (crds/README.md); they are package data, read with the C YAML
loader when it is there.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CRDS = Path(__file__).with_name("crds")

# (API group, kind) -> CRD file under crds/
KINDS = {
    ("argoproj.io", "Rollout"): "argo-rollouts/rollout-crd.yaml",
    ("argoproj.io", "AnalysisTemplate"): "argo-rollouts/analysis-template-crd.yaml",
    ("argoproj.io", "AnalysisRun"): "argo-rollouts/analysis-run-crd.yaml",
    ("networking.istio.io", "VirtualService"): "istio/virtualservices.networking.istio.io.yaml",
    ("networking.istio.io", "DestinationRule"): "istio/destinationrules.networking.istio.io.yaml",
    ("gateway.networking.k8s.io", "HTTPRoute"): "gateway-api/gateway.networking.k8s.io_httproutes.yaml",
    ("flagger.app", "Canary"): "flagger/crd.yaml",
    ("flagger.app", "MetricTemplate"): "flagger/crd.yaml",
    ("flagger.app", "AlertProvider"): "flagger/crd.yaml",
}

_KEYWORDS_DROPPED = {"description", "default", "nullable", "example", "externalDocs"}


class UnknownKind(Exception):
    pass


@dataclass(frozen=True)
class KindSchema:
    group: str
    version: str
    kind: str
    crd_file: str
    structural: dict  # the CRD's openAPIV3Schema as written
    json_schema: dict  # converted for jsonschema


@lru_cache(maxsize=None)
def _documents(rel: str) -> tuple[dict, ...]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(CRDS / rel, encoding="utf-8") as f:
        return tuple(d for d in yaml.load_all(f, Loader=loader) if isinstance(d, dict))


def crd(group: str, kind: str) -> dict:
    rel = KINDS.get((group, kind))
    if rel is None:
        known = ", ".join(f"{k} ({g})" for g, k in sorted(KINDS, key=lambda gk: gk[1]))
        raise UnknownKind(f"no CRD here for kind {kind} of group {group or '(core)'}; known: {known}")
    for doc in _documents(rel):
        spec = doc.get("spec") or {}
        if spec.get("group") == group and (spec.get("names") or {}).get("kind") == kind:
            return doc
    raise UnknownKind(f"{rel} does not define {kind}")


@lru_cache(maxsize=None)
def kind_schema(api_version: str, kind: str) -> KindSchema:
    group, _, version = api_version.rpartition("/")
    doc = crd(group, kind)
    versions = doc["spec"]["versions"]
    for v in versions:
        if v["name"] == version:
            if not v.get("served", True):
                raise UnknownKind(f"{kind} {api_version} is not served by this CRD")
            structural = v["schema"]["openAPIV3Schema"]
            return KindSchema(group, version, kind, KINDS[(group, kind)], structural, convert(structural, root=True))
    served = ", ".join(f"{group}/{v['name']}" for v in versions if v.get("served", True))
    raise UnknownKind(f"{kind} has no version {api_version!r}; served: {served}")


def storage_version(group: str, kind: str) -> str:
    for v in crd(group, kind)["spec"]["versions"]:
        if v.get("storage"):
            return f"{group}/{v['name']}"
    raise UnknownKind(f"{kind} has no storage version")


def convert(node, root: bool = False, structural: bool = True):
    """A structural-schema node -> a JSON Schema node (see the module docstring)."""
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _KEYWORDS_DROPPED or key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {k: convert(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = convert(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [convert(v, structural=False) for v in value]
        elif key == "not":
            out[key] = convert(value, structural=False)
        else:
            out[key] = copy.deepcopy(value)
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if root or node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = {"type": "object"}
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if structural and "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if node.get("nullable"):
        out = _nullable(out)
    return out


def _nullable(out: dict) -> dict:
    if any(k in out for k in ("anyOf", "allOf", "oneOf", "not")):
        return {"anyOf": [{"type": "null"}, out]}
    if "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def prune_and_default(schema: dict, value, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Apply the API server's decoding steps in place: drop nulls of fields that are not nullable, then set
    `default`s of missing fields (recursing into what is present). Returns (path, note) of every pruned null."""
    notes: list[tuple[tuple, str]] = []
    _walk_defaults(schema, value, path, notes)
    return notes


def _walk_defaults(schema: dict, value, path: tuple, notes: list) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties")
        if props:
            for key in list(value):
                sub = props.get(key)
                if value[key] is None and sub is not None and not sub.get("nullable"):
                    del value[key]
                    notes.append((path + (key,), "null dropped (the field is not nullable; the API server prunes it)"))
            for key, sub in props.items():
                if key not in value and isinstance(sub, dict) and "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
            for key, item in value.items():
                if key in props:
                    _walk_defaults(props[key], item, path + (key,), notes)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not props:
            for key, item in value.items():
                _walk_defaults(extra, item, path + (key,), notes)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk_defaults(schema["items"], item, path + (i,), notes)


def node_at(schema: dict, path: tuple) -> dict | None:
    """The structural-schema node describing the value at `path` (None when the schema does not say)."""
    node = schema
    for part in path:
        if not isinstance(node, dict):
            return None
        if isinstance(part, int):
            node = node.get("items")
        elif part in (node.get("properties") or {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node if isinstance(node, dict) else None
