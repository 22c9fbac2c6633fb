"""Validate a manifest object against the CRD of its kind, in the API server's order: prune nulls and apply
defaults, then the OpenAPI schema (unknown fields rejected as with `kubectl --validate=strict`), object
metadata, `x-kubernetes-list-type` map/set uniqueness, CEL `x-kubernetes-validations`, and, for Argo Rollouts
analysis metrics, what the controller checks when it starts an AnalysisRun (a value the API server accepts
but the rollout would fail on, or silently read as 0).

Every problem names the key path (`spec.http[1].route[0].weight`) and its layer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from canary_lint.model import literal_repr, literal_text
from canary_lint.rollout.k8s import schema as S

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    layer: str  # kind | schema | unknown-field | metadata | list-map | cel | controller
    severity: str = ERROR

    def __str__(self) -> str:
        return f"{self.path or '(object)'}: {self.message} [{self.layer}]"


@dataclass
class Result:
    kind: str
    name: str
    problems: list[Problem] = field(default_factory=list)
    defaulted: dict | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    def describe(self) -> str:
        head = f"{self.kind}/{self.name or '?'}"
        if not self.problems:
            return f"{head}: valid"
        return "\n".join(f"{head}: {p}" for p in self.problems)


def dotted(path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + literal_text(part)
    return out


def validate(obj, *, cel: bool = True) -> Result:
    if not isinstance(obj, dict):
        return Result("?", "", [Problem("", "a manifest object is a mapping", "kind")])
    kind, api = obj.get("kind"), obj.get("apiVersion")
    name = (obj.get("metadata") or {}).get("name", "") if isinstance(obj.get("metadata"), dict) else ""
    result = Result(literal_text(kind, 80), literal_text(name, 80))
    if not isinstance(kind, str) or not isinstance(api, str):
        result.problems.append(Problem("", "apiVersion and kind must be strings", "kind"))
        return result
    try:
        ks = S.kind_schema(api, kind)
    except S.UnknownKind as exc:
        result.problems.append(Problem("apiVersion", str(exc), "kind"))
        return result
    numbers = _not_json_numbers(obj)
    if numbers:  # the API server refuses the object before any other layer looks at it
        result.problems += numbers
        return result
    value = copy.deepcopy(obj)
    for path, note in S.prune_and_default(ks.structural, value):
        result.problems.append(Problem(dotted(path), note, "schema", WARNING))
    result.defaulted = value
    result.problems += _schema_problems(ks.json_schema, value)
    result.problems += metadata(value.get("metadata"))
    result.problems += _list_maps(ks.structural, value, ())
    if cel:
        from canary_lint.rollout.k8s import cel as C

        result.problems += [Problem(dotted(f.path), f.message, "cel") for f in C.check(ks.structural, value)]
    if ks.group == "argoproj.io" and kind in ("AnalysisTemplate", "AnalysisRun"):
        from canary_lint.rollout.k8s.argo_checks import analysis_problems

        result.problems += [Problem(p, m, "controller") for p, m in analysis_problems(value)]
    return result


def validate_all(objects, *, cel: bool = True) -> list[Result]:
    return [validate(o, cel=cel) for o in objects]


def _schema_problems(json_schema: dict, value) -> list[Problem]:
    import jsonschema

    validator = jsonschema.Draft4Validator(json_schema)
    out = []
    for err in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        out.extend(_explain(err))
    return out


def _explain(err) -> list[Problem]:
    path = list(err.absolute_path)
    v = err.validator
    if v == "additionalProperties" and isinstance(err.instance, dict):
        known = set((err.schema.get("properties") or {}))
        return [Problem(dotted(path + [k]), f'unknown field "{k}"', "unknown-field")
                for k in sorted(err.instance) if k not in known]
    if v == "required":
        missing = err.message.split("'")[1] if err.message.count("'") >= 2 else "?"
        return [Problem(dotted(path + [missing]), "required field is missing", "schema")]
    if v == "type":
        want = err.validator_value if isinstance(err.validator_value, str) else " or ".join(err.validator_value)
        return [Problem(dotted(path), f"must be {want}, got {_json_type(err.instance)} {_short(err.instance)}",
                        "schema")]
    if v == "anyOf" and err.schema.get("anyOf") == [{"type": "integer"}, {"type": "string"}]:
        return [Problem(dotted(path), f"must be an integer or a string, got {_json_type(err.instance)}", "schema")]
    if v in ("anyOf", "oneOf") and err.context:
        best = min(err.context, key=lambda e: (len(e.absolute_path), len(e.message)))
        return [Problem(dotted(path), best.message, "schema")]
    return [Problem(dotted(path), err.message, "schema")]


def _not_json_numbers(obj) -> list[Problem]:
    """Numbers the API server cannot decode: integers outside int64 (a YAML `0x` + 5,000 digits), inf, nan."""
    out = []
    stack = [(obj, ())]
    while stack and len(out) < 5:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend(reversed([(v, path + (k,)) for k, v in node.items()]))  # in document order
        elif isinstance(node, list):
            stack.extend(reversed([(v, path + (i,)) for i, v in enumerate(node)]))
        elif isinstance(node, int) and not isinstance(node, bool) and not -2 ** 63 <= node < 2 ** 63:
            out.append(Problem(dotted(path), f"{literal_text(node, 40)} is not a 64-bit integer", "schema"))
        elif isinstance(node, float) and not abs(node) < float("inf"):
            out.append(Problem(dotted(path), f"{node} is not a JSON number", "schema"))
    return out


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__)


def _short(value) -> str:
    return literal_repr(value, 60)


# --- metadata -------------------------------------------------------------------------------------------


def _dns_label(s: str, limit: int = 63) -> bool:
    if not 0 < len(s) <= limit:
        return False
    ok = all(c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in s)
    return ok and s[0] != "-" and s[-1] != "-"


def dns_subdomain(s: str) -> bool:
    return isinstance(s, str) and 0 < len(s) <= 253 and all(_dns_label(p) for p in s.split("."))


def _label_name(s: str) -> bool:
    if not 0 < len(s) <= 63 or not (s[0].isascii() and s[0].isalnum() and s[-1].isascii() and s[-1].isalnum()):
        return False
    return all(c.isascii() and (c.isalnum() or c in "-_.") for c in s)


def label_key(k: str) -> bool:
    prefix, _, name = k.rpartition("/")
    return (not prefix or dns_subdomain(prefix)) and _label_name(name)


def metadata(meta) -> list[Problem]:
    if meta is None:
        return [Problem("metadata", "required (name and, for namespaced kinds, namespace)", "metadata")]
    if not isinstance(meta, dict):
        return [Problem("metadata", f"must be an object, got {_json_type(meta)}", "metadata")]
    out = []
    name = meta.get("name")
    if name is None and not meta.get("generateName"):
        out.append(Problem("metadata.name", "required field is missing", "metadata"))
    elif name is not None and not dns_subdomain(name):
        out.append(Problem("metadata.name", f"{_short(name)} is not a DNS subdomain (lower-case letters, digits, "
                           "'-' and '.', starting and ending alphanumeric, at most 253 characters)", "metadata"))
    ns = meta.get("namespace")
    if ns is not None and not (isinstance(ns, str) and _dns_label(ns)):
        out.append(Problem("metadata.namespace", f"{_short(ns)} is not a DNS label", "metadata"))
    for key in ("labels", "annotations"):
        m = meta.get(key)
        if m is None:
            continue
        if not isinstance(m, dict):
            out.append(Problem(f"metadata.{key}", "must be a map of strings", "metadata"))
            continue
        for k, v in m.items():
            where = f"metadata.{key}[{literal_repr(k, 80)}]"
            if not isinstance(k, str) or not label_key(k):
                out.append(Problem(where, "key is not a qualified name ([prefix/]name)", "metadata"))
            if not isinstance(v, str):
                out.append(Problem(where, f"value must be a string, got {_json_type(v)}", "metadata"))
            elif key == "labels" and v and not _label_name(v):
                out.append(Problem(where, f"{_short(v)} is not a valid label value", "metadata"))
    return out


# --- x-kubernetes-list-type ----------------------------------------------------------------------------


def _list_maps(schema, value, path: tuple) -> list[Problem]:
    out: list[Problem] = []
    if not isinstance(schema, dict):
        return out
    if isinstance(value, list):
        kind = schema.get("x-kubernetes-list-type")
        if kind == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen: dict = {}
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    continue
                ident = tuple(literal_repr(item.get(k)) for k in keys)
                if ident in seen:
                    shown = ", ".join(f"{k}={literal_repr(item.get(k), 60)}" for k in keys)
                    out.append(Problem(dotted(path), f"duplicate entries for map keys {keys} ({shown}): items "
                                       f"{seen[ident]} and {i}", "list-map"))
                seen.setdefault(ident, i)
        elif kind == "set":
            reprs = [literal_repr(v) for v in value]
            dup = sorted({r for r in reprs if reprs.count(r) > 1})
            if dup:
                out.append(Problem(dotted(path), f"duplicate entries in a set: {', '.join(dup)[:120]}", "list-map"))
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                out += _list_maps(schema["items"], item, path + (i,))
    elif isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else None
        for k, v in value.items():
            sub = props[k] if k in props else extra
            if sub is not None:
                out += _list_maps(sub, v, path + (k,))
    return out
