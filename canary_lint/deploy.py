"""Facts from deployment files, shared by the analyzers: the environment each container gets, pod-template
labels, scrape configs that copy a pod's version label, and `ddtrace-run` launchers.

Read once per run: `facts(ctx)` caches the result on the release context. Dockerfile `ENV`, `.env`, docker-compose
`environment`, Kubernetes/Helm container `env` and ConfigMap `data` all count as "set in the
deployment". Helm templates are read with their `{{ … }}` actions replaced by a placeholder; a value that
comes from a template or `valueFrom` counts as set (we cannot see it, so we do not claim it is missing).
YAML is loaded line-aware and de-templated by `deploy_yaml`; this module says what it means.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from canary_lint.deploy_yaml import TPL, Map, detemplate, load_yaml_docs

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Rollout", "DeploymentConfig",
             "Pod"}
VERSION_LABELS = ("version", "app.kubernetes.io/version")
ONE_OFF = {"Job", "CronJob"}  # run to completion: never routed to or compared side by side
DD_VERSION_LABEL = "tags.datadoghq.com/version"
# relabelling that copies a pod's version label onto every scraped series
SCRAPE_VERSION = re.compile(
    r"__meta_kubernetes_pod_label_(?:app_kubernetes_io_)?version\b|"
    r"labelmap[\s\S]{0,200}?__meta_kubernetes_pod_label_\(\.\+\)"
)
# ServiceMonitor/PodMonitor `podTargetLabels:`/`targetLabels:` naming the version label, flow or block list
TARGET_LABELS = re.compile(r"\b(?:podTargetLabels|targetLabels)[ \t]*:")
TARGET_LABEL_ITEM = re.compile(r"[ \t]*-[ \t]*['\"]?([^\s'\"#]+)")
VERSION_LABEL_NAMES = ("version", "app.kubernetes.io/version")


@dataclass
class EnvVar:
    name: str
    value: str | None  # None: set, but from a secret, field ref or template we cannot read
    path: str
    line: int


@dataclass
class PodTemplate:
    path: str
    line: int
    column: int
    owner: str  # "Deployment shop-v2"
    labels: dict | None  # None: templated, cannot tell
    kind: str = ""


@dataclass
class DeployFacts:
    env: dict = field(default_factory=dict)  # name -> [EnvVar]
    pod_templates: list = field(default_factory=list)
    labels_seen: dict = field(default_factory=dict)  # label key -> (path, line), anywhere
    scrape_adds_version: list = field(default_factory=list)  # (path, line)
    ddtrace_run: list = field(default_factory=list)  # (path, line)
    otel_launchers: list = field(default_factory=list)  # (path, line): opentelemetry-instrument
    otel_operator: list = field(default_factory=list)  # (path, line): OTel operator injection annotation
    kustomize_version_label: list = field(default_factory=list)  # (path, line): commonLabels/labels with version
    unread: list = field(default_factory=list)  # (path, line, why): refused by the YAML limits (alias bomb, depth)

    def add_env(self, name: str, value, path: str, line: int) -> None:
        if not isinstance(name, str) or not name:
            return
        text = None if value is None or TPL in str(value) else str(value)
        self.env.setdefault(name, []).append(EnvVar(name, text, path, line))

    def env_value_has(self, name: str, needle: str) -> bool:
        """`name` is set somewhere whose value contains `needle` (or a value we cannot read)."""
        return any(v.value is None or needle in v.value for v in self.env.get(name, ()))


def read_dockerfile(text: str, path: str, facts: DeployFacts) -> None:
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not buf:
            start = no
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append((start, buf + line))
        buf = ""
    if buf:
        logical.append((start, buf))
    for no, line in logical:
        instr, _, rest = line.strip().partition(" ")
        instr = instr.upper()
        if instr == "ENV":
            rest = rest.strip()
            try:
                words = shlex.split(rest, posix=True)
            except ValueError:
                words = rest.split()
            if words and "=" not in words[0]:
                facts.add_env(words[0], " ".join(words[1:]), path, no)
            else:
                for w in words:
                    k, _, v = w.partition("=")
                    facts.add_env(k, v, path, no)
        elif instr in ("CMD", "ENTRYPOINT"):
            if "ddtrace-run" in rest:
                facts.ddtrace_run.append((path, no))
            if "opentelemetry-instrument" in rest:
                facts.otel_launchers.append((path, no))
        elif instr == "LABEL":
            for m in re.finditer(r"([\w.\-/]+)=", rest):
                facts.labels_seen.setdefault(m.group(1), (path, no))


def read_dotenv(text: str, path: str, facts: DeployFacts) -> None:
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[7:].strip()
        k, _, v = line.partition("=")
        facts.add_env(k.strip(), v.strip().strip("'\""), path, no)


def _target_labels_name_version(text: str) -> int:
    """Offset of a `podTargetLabels`/`targetLabels` list that names the version label (-1: none)."""
    for m in TARGET_LABELS.finditer(text):
        rest_end = text.find("\n", m.end())
        rest = text[m.end(): rest_end if rest_end >= 0 else len(text)].strip()
        if rest.startswith("["):
            close = rest.find("]")
            items = rest[1: close if close >= 0 else len(rest)].split(",")
            if any(i.strip().strip("'\"") in VERSION_LABEL_NAMES for i in items):
                return m.start()
            continue
        if rest and not rest.startswith("#"):
            continue
        at = rest_end
        while at >= 0:
            nxt = text.find("\n", at + 1)
            line = text[at + 1: nxt if nxt >= 0 else len(text)]
            if not line.strip():
                at = nxt
                continue
            item = TARGET_LABEL_ITEM.match(line)
            if not item:
                break
            if item.group(1) in VERSION_LABEL_NAMES:
                return m.start()
            at = nxt
    return -1


def read_yaml(text: str, path: str, facts: DeployFacts) -> None:
    templated = "{{" in text
    if templated:
        text = detemplate(text)
    m = SCRAPE_VERSION.search(text)
    at = m.start() if m else _target_labels_name_version(text)
    if at >= 0:
        facts.scrape_adds_version.append((path, text.count("\n", 0, at) + 1))
    for needle, where in (("ddtrace-run", facts.ddtrace_run), ("opentelemetry-instrument", facts.otel_launchers),
                          ("instrumentation.opentelemetry.io/inject-", facts.otel_operator)):
        if needle in text:
            where.append((path, text.count("\n", 0, text.index(needle)) + 1))
    for doc in load_yaml_docs(text, path, facts.unread):
        if not isinstance(doc, Map):
            continue
        _collect_labels(doc, path, facts)
        kind = doc.get("kind")
        if kind == "Kustomization":
            _kustomization(doc, path, facts)
        elif isinstance(kind, str) and isinstance(doc.get("apiVersion"), str):
            _k8s(doc, kind, path, facts)
        elif isinstance(doc.get("services"), dict):
            _compose(doc["services"], path, facts)


def _kustomization(doc: Map, path: str, facts: DeployFacts) -> None:
    """`commonLabels` (and `labels` with `includeTemplates: true`) reach every pod template kustomize builds."""
    common = doc.get("commonLabels")
    if isinstance(common, Map) and any(k in common for k in VERSION_LABELS):
        facts.kustomize_version_label.append((path, _line(doc, "commonLabels")))
    for entry in doc.get("labels") or ():
        if isinstance(entry, Map) and entry.get("includeTemplates") is not None \
                and str(entry.get("includeTemplates")).lower() == "true" \
                and isinstance(entry.get("pairs"), Map) and any(k in entry["pairs"] for k in VERSION_LABELS):
            facts.kustomize_version_label.append((path, entry.line))


def _line(m: Map, key: str) -> int:
    return m.key_lines.get(key, (m.line, 1))[0] if isinstance(m, Map) else 1


def _collect_labels(node, path: str, facts: DeployFacts, depth: int = 0) -> None:
    if depth > 12:
        return
    if isinstance(node, Map):
        for k, v in node.items():
            if k in ("labels", "commonLabels") and isinstance(v, Map):
                for lk in v:
                    facts.labels_seen.setdefault(lk, (path, _line(v, lk)))
            elif isinstance(v, (Map, list)):
                _collect_labels(v, path, facts, depth + 1)
    elif isinstance(node, list):
        for v in node:
            _collect_labels(v, path, facts, depth + 1)


def _pod_template(doc: Map, kind: str) -> tuple[Map | None, Map | None]:
    """(the mapping holding `template`, the pod template)."""
    spec = doc.get("spec")
    if kind == "Pod":
        return None, doc
    if not isinstance(spec, Map):
        return None, None
    if kind == "CronJob":
        job = spec.get("jobTemplate")
        spec = job.get("spec") if isinstance(job, Map) else None
        if not isinstance(spec, Map):
            return None, None
    tpl = spec.get("template")
    return (spec, tpl) if isinstance(tpl, Map) else (None, None)


def _k8s(doc: Map, kind: str, path: str, facts: DeployFacts) -> None:
    if kind == "ConfigMap" and isinstance(doc.get("data"), Map):
        data = doc["data"]
        for k, v in data.items():
            facts.add_env(k, v, path, _line(data, k))
        return
    if kind not in WORKLOADS:
        return
    holder, tpl = _pod_template(doc, kind)
    if tpl is None:
        return
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), Map) else Map()
    owner = f"{kind} {meta.get('name') or '<unnamed>'}"
    tmeta = tpl.get("metadata")
    labels = tmeta.get("labels") if isinstance(tmeta, Map) else None
    if isinstance(tmeta, Map) and any(k.startswith(TPL) for k in tmeta):
        labels_known = None
    elif labels is None:
        labels_known = {}
    elif isinstance(labels, Map) and not any(k.startswith(TPL) for k in labels):
        labels_known = dict(labels)
    else:
        labels_known = None
    if isinstance(labels, Map):
        where = (_line(tmeta, "labels"), tmeta.key_lines.get("labels", (0, 1))[1])
    elif isinstance(tmeta, Map):
        where = (_line(tpl, "metadata"), tpl.key_lines.get("metadata", (0, 1))[1])
    else:
        where = (_line(holder, "template") if holder is not None else doc.line, 1)
    facts.pod_templates.append(PodTemplate(path, where[0], where[1], owner, labels_known, kind))
    pspec = tpl.get("spec")
    if not isinstance(pspec, Map):
        return
    for key in ("containers", "initContainers"):
        for c in pspec.get(key) or ():
            if not isinstance(c, Map):
                continue
            env = c.get("env")
            if isinstance(env, list):
                for e in env:
                    if isinstance(e, Map) and isinstance(e.get("name"), str):
                        facts.add_env(e["name"], e.get("value") if "value" in e else None, path, e.line)
                    elif isinstance(e, Map) and any(k.startswith(TPL) for k in e):
                        continue


def _compose(services: Map, path: str, facts: DeployFacts) -> None:
    for svc in services.values():
        if not isinstance(svc, Map):
            continue
        env = svc.get("environment")
        if isinstance(env, Map):
            for k, v in env.items():
                facts.add_env(k, v, path, _line(env, k))
        elif isinstance(env, list):
            line = _line(svc, "environment")
            for item in env:
                if isinstance(item, str):
                    k, sep, v = item.partition("=")
                    facts.add_env(k, v if sep else None, path, line)
        for key in ("command", "entrypoint"):
            cmd = svc.get(key)
            text = " ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or "")
            if "ddtrace-run" in text:
                facts.ddtrace_run.append((path, _line(svc, key)))


def read_helm_values(text: str, path: str, facts: DeployFacts, names: tuple) -> None:
    """A chart's values may hold the container env; a variable named there counts as set (value unknown)."""
    for name in names:
        at = text.find(name)
        if at >= 0:
            facts.add_env(name, None, path, text.count("\n", 0, at) + 1)


def read(files: list[tuple[str, str]], facts: DeployFacts | None = None) -> DeployFacts:
    """`files`: (display path, text) of deploy files; facts accumulate into `facts` when given."""
    facts = facts if facts is not None else DeployFacts()
    for path, text in files:
        name = path.rsplit("/", 1)[-1].lower()
        if name.startswith("dockerfile") or name.endswith(".dockerfile"):
            read_dockerfile(text, path, facts)
        elif name == ".env" or name.startswith(".env.") or name.endswith(".env"):
            read_dotenv(text, path, facts)
        elif name.endswith((".yaml", ".yml")):
            read_yaml(text, path, facts)
    return facts


# Helm `values*.yaml` that name one of these count as setting it (the chart passes values into the env).
HELM_VALUE_ENV = ("OTEL_RESOURCE_ATTRIBUTES", "SENTRY_RELEASE", "DD_VERSION")


def facts(ctx) -> DeployFacts:
    """Every deployment file of the release read once (Kubernetes, Helm, compose, Dockerfile, .env)."""

    def compute() -> DeployFacts:
        from canary_lint.serving import non_serving_path

        found = DeployFacts()
        for f in ctx.files_of("deploy"):
            if non_serving_path(f.path):
                continue  # test fixtures, examples, docs: not how the service is deployed
            text = ctx.text(f)
            if text is not None:
                with ctx.guard(f.path, "deployment-file"):
                    read([(f.path, text)], found)
                for path, line, why in found.unread:
                    ctx.file_error(path, f"{why}: this deployment file is not read", line)
                found.unread.clear()
        for f in ctx.files_of("yaml"):
            name = f.path.rsplit("/", 1)[-1]
            if name.startswith("values") and "deploy" not in f.kinds:
                text = ctx.text(f)
                if text is not None:
                    read_helm_values(text, f.path, found, HELM_VALUE_ENV)
        return found

    return ctx.cached(("deploy", "facts"), compute)
