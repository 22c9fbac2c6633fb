"""Trace and metric set-ups read from Python code: OpenTelemetry resources (and the local dict built for one)
and providers, prometheus_client metrics and `*_info` version metrics, and HTTP-metrics exporters."""

from __future__ import annotations

import ast

from canary_lint.telemetry.pyvocab import (
    FileFacts, Item, Module, has_star_kwargs, is_service_version_key, is_version_word, kw_arg, mentions_version,
    str_const,
)

METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary", "Enum"}
EXPORTER_MODULES = ("prometheus_flask_exporter", "starlette_exporter", "prometheus_fastapi_instrumentator",
                    "aioprometheus", "starlette_prometheus")
EXPORTER_LABEL_KWARGS = {"default_labels", "labels", "group_by", "custom_labels", "const_labels", "static_labels"}
PROVIDERS = {
    "opentelemetry.sdk.trace.TracerProvider": "TracerProvider",
    "opentelemetry.sdk.metrics.MeterProvider": "MeterProvider",
    "opentelemetry.sdk._logs.LoggerProvider": "LoggerProvider",
}
# the positional index of `resource` in each provider's signature
PROVIDER_RESOURCE_POS = {"TracerProvider": 1, "MeterProvider": 1, "LoggerProvider": 0}


class TraceMetricSetups:
    """Mixed into `pyfacts.Scanner`, which provides `extra`, `_enclosing` and `_mod`."""

    def _otel(self, call: ast.Call, q: str, mod: Module, facts: FileFacts, merged: set) -> None:
        if q.endswith("Resource.create") or q.endswith("resources.Resource"):
            kind = "resource-create" if q.endswith(".create") else "resource-ctor"
            attrs = call.args[0] if call.args else kw_arg(call, "attributes")
            if id(call) in merged:
                return
            if has_star_kwargs(call):
                verdict = None
            elif attrs is None:
                verdict = False
            else:
                resolved = mod.resolve(attrs)
                if isinstance(attrs, ast.Name) and not isinstance(resolved, ast.Dict):
                    func = self._enclosing.get(id(call))
                    memo = self.__dict__.setdefault("_local_dict_memo", {})  # one walk per function and name
                    key = (func, attrs.id)  # the node itself, not its id: ids of freed trees are reused
                    if key not in memo:
                        memo[key] = self._local_dict_verdict(attrs.id, func)
                    verdict = memo[key]
                else:
                    verdict = self._resource_attrs(resolved)
            facts.items.append(Item(kind, call, "Resource.create" if kind == "resource-create" else "Resource", verdict))
            return
        cls = PROVIDERS.get(q)
        if cls is None:
            return
        pos = PROVIDER_RESOURCE_POS[cls]
        has = kw_arg(call, "resource") is not None or len(call.args) > pos or has_star_kwargs(call)
        facts.items.append(Item("provider", call, cls, None if has else False))

    def _local_dict_verdict(self, name: str, func: ast.AST | None) -> bool | None:
        """`attrs = {...}; attrs["k"] = v; Resource.create(attrs)` inside one function: judge the keys
        written there. Anything else done to the name (update, |=, passing it on) makes it unknown."""
        if func is None:
            return None
        literal, keys = None, []
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                if literal is not None or not isinstance(node.value, ast.Dict):
                    return None
                literal = node.value
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name) \
                    and node.target.id == name:
                if isinstance(node, ast.AugAssign) or literal is not None or not isinstance(node.value, ast.Dict):
                    return None
                literal = node.value
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == name \
                    and isinstance(node.ctx, ast.Store):
                keys.append(node.slice)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == name \
                    and node.attr in ("update", "setdefault", "__setitem__", "__ior__"):
                return None
        if literal is None:
            return None
        verdict = self._resource_attrs(literal)
        if verdict is not False:
            return verdict
        judged = [is_service_version_key(k) for k in keys]
        if any(v is True for v in judged):
            return True
        return None if any(v is None for v in judged) else False

    def _resource_attrs(self, node: ast.AST | None) -> bool | None:
        if not isinstance(node, ast.Dict):
            return None
        verdicts = []
        for k, v in zip(node.keys, node.values):
            if k is None:  # **other
                verdicts.append(None)
                continue
            verdicts.append(is_service_version_key(k))
        if any(v is True for v in verdicts):
            return True
        return None if any(v is None for v in verdicts) else False

    def _prometheus(self, call: ast.Call, q: str, facts: FileFacts) -> None:
        cls = q.rsplit(".", 1)[-1]
        if cls not in METRIC_TYPES and cls != "Info":
            return
        name = str_const(call.args[0]) if call.args else str_const(kw_arg(call, "name"))
        prefix = "_".join(p for p in (str_const(kw_arg(call, "namespace")), str_const(kw_arg(call, "subsystem"))) if p)
        full = f"{prefix}_{name}" if prefix and name else name or "<dynamic name>"
        labels = self._mod.resolve(kw_arg(call, "labelnames") or (call.args[2] if len(call.args) > 2 else None))
        has_version_label = isinstance(labels, (ast.List, ast.Tuple)) and any(
            is_version_word(str_const(e) or "", self.extra) for e in labels.elts)
        lowered = full.lower()
        if "exporter" in lowered:
            return  # an exporter's own *_exporter_info carries the library's version, not the app's
        if cls == "Info" or (lowered.endswith("_info") and ("build" in lowered or "version" in lowered or has_version_label)):
            facts.version_info.append((call.lineno, f"{full} ({cls})"))
            return
        unknown = labels is not None and not isinstance(labels, (ast.List, ast.Tuple))
        facts.items.append(Item("metric", call, full, True if has_version_label else (None if unknown else False), cls))

    def _exporter(self, call: ast.Call, q: str, facts: FileFacts) -> None:
        for k in call.keywords:
            if k.arg in EXPORTER_LABEL_KWARGS and mentions_version(k.value, self.extra):
                facts.version_info.append((call.lineno, f"{q.rsplit('.', 1)[-1]}({k.arg}=...version...)"))
                return
        cls = q.rsplit(".", 1)[-1]
        if cls[:1].isupper() and not cls.endswith(("Metric", "Error", "Exception")):
            facts.items.append(Item("metric", call, f"{cls} (HTTP metrics)", None if has_star_kwargs(call) else False, cls))
