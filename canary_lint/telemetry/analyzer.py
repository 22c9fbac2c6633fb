"""Telemetry analyzer: every trace, metric, log line and error event must say whether v1 or v2 emitted it.

The Python side reads the shared `ast` trees (see `pyfacts`), skipping files without a telemetry token;
the deployment side reads Dockerfiles, compose files, Kubernetes/Helm YAML and `.env` (see `deploy`).
App-wide facts (a build_info metric anywhere, an env var set in any deployment file, a filter that puts
the version on log records) are computed once per run and cached on the context.
"""

from __future__ import annotations

from collections import Counter

from canary_lint import deploy as deploy_facts
from canary_lint.pyast import where
from canary_lint.resolver.app import AppValues
from canary_lint.telemetry import logfiles
from canary_lint.serving import serving
from canary_lint.telemetry.pyfacts import ATTACH_HIT_TOKENS, ENV_HIT_TOKENS, Scanner
from canary_lint.telemetry.pyvocab import Item, is_telemetry_file, may_attach_version, sets_telemetry_env

RULES = (
    "traces-without-service-version",
    "resource-constructor-drops-version",
    "provider-without-versioned-resource",
    "errors-without-sentry-release",
    "metrics-without-version",
    "log-format-without-version",
    "structured-logs-without-version",
    "datadog-without-dd-version",
    "pod-template-without-version-label",
)
# env vars the Sentry SDK reads a release from when `release=` is not given
SENTRY_RELEASE_VARS = ("SENTRY_RELEASE", "SOURCE_VERSION", "HEROKU_SLUG_COMMIT", "CODEBUILD_RESOLVED_SOURCE_VERSION",
                       "CIRCLE_SHA1", "GAE_DEPLOYMENT_ID", "HEROKU_BUILD_COMMIT")
# findings that a file without a telemetry set-up can still silence: an env var the code sets for its own
# process, a filter or binding that puts the version on log records
ENV_KINDS = {"resource-create", "provider", "sentry", "datadog"}
ATTACH_KINDS = {"log-json", "structlog"}
def _python_facts(ctx, extra: tuple, need: str = "setup") -> list:
    """Facts of the files with a telemetry set-up (`need="setup"`); or of the other files that set a
    telemetry env var for the process (`"env"`) or may put a version on log records (`"attach"`)."""
    dep = deploy_facts.facts(ctx)
    platform = set((ctx.config.telemetry or {}).get("platform-env", ()))

    def env_known(name: str) -> bool:  # may the deployment set it? then an env read is not its fallback
        return name in dep.env or name in platform

    if need == "setup":
        scanner, wanted = Scanner(extra), is_telemetry_file
    elif need == "env":
        scanner, wanted = Scanner(extra, ENV_HIT_TOKENS), sets_telemetry_env
    else:
        scanner, wanted = Scanner(extra, ATTACH_HIT_TOKENS), lambda text: may_attach_version(text, extra)
    out = []
    service = serving(ctx)
    for f in ctx.files_of("python"):
        if not service.serves(f.path):
            continue
        text = ctx.text(f)
        if not text or (need != "setup" and is_telemetry_file(text)) or not wanted(text):
            continue
        with ctx.guard(f.path, "telemetry"):
            tree = ctx.python_ast(f)
            if tree is not None:
                out.append(scanner.scan(f.path, tree, ctx.read_text, text,
                                        values=lambda tree, path=f.path: AppValues(ctx, path, tree, env_known)))
    return out


class _Env:
    """Is a variable set by the deployment, by the code itself, or declared as set by the platform?"""

    def __init__(self, dep, py, platform: set) -> None:
        self.dep, self.platform = dep, platform
        self.code = {}
        for facts in py:
            for k, line in facts.env_set.items():
                self.code.setdefault(k, (facts.path, line))

    def has(self, name: str, needle: str | None = None) -> bool:
        if name in self.platform or name in self.code:
            return True
        if needle is None:
            return name in self.dep.env
        return self.dep.env_value_has(name, needle)


def analyze(ctx):
    settings = ctx.config.telemetry or {}
    extra = tuple(settings.get("version-fields", ()))
    platform = set(settings.get("platform-env", ()))
    py = ctx.cached(("telemetry", "python", extra), lambda: _python_facts(ctx, extra))
    py = py + ctx.cached(("telemetry", "logfiles", extra), lambda: logfiles.facts(ctx, serving(ctx).serves, extra))
    dep = deploy_facts.facts(ctx)
    pending = {item.kind for facts in py for item in facts.items if item.verdict is False}
    for need, kinds in (("env", ENV_KINDS), ("attach", ATTACH_KINDS)):
        if pending & kinds:
            py = py + ctx.cached(("telemetry", need, extra), lambda need=need: _python_facts(ctx, extra, need))
    env = _Env(dep, py, platform)
    yield from _otel(ctx, py, env)
    yield from _sentry(ctx, py, env)
    yield from _metrics(ctx, py, dep)
    yield from _logs(ctx, py)
    yield from _datadog(ctx, py, dep, env)
    yield from _pods(ctx, dep)


def _subject(seen: Counter, *parts: str) -> str:
    key = ":".join(parts)
    seen[key] += 1
    return f"{key}#{seen[key]}" if seen[key] > 1 else key


def _otel(ctx, py, env: _Env):
    # the OpenTelemetry operator injects service.version (from app.kubernetes.io/version or the image tag)
    otel_env = env.has("OTEL_RESOURCE_ATTRIBUTES", "service.version") or bool(env.dep.otel_operator)
    seen: Counter = Counter()
    for path, line in [] if otel_env else env.dep.otel_launchers:
        yield ctx.finding(
            "provider-without-versioned-resource", path, line, subject=_subject(seen, path, "opentelemetry-instrument"),
            message="`opentelemetry-instrument` starts the SDK with the default resource, which has no "
                    "`service.version`, and no deployment file sets OTEL_RESOURCE_ATTRIBUTES; v1 and v2 "
                    "telemetry look the same",
            fix="set OTEL_RESOURCE_ATTRIBUTES=service.version=<version> in the container env")
    for facts in py:
        for item in facts.items:
            if item.verdict is not False:
                continue
            if item.kind == "resource-ctor":
                yield ctx.finding(
                    "resource-constructor-drops-version", facts.path, **where(item.node),
                    subject=_subject(seen, facts.path, "Resource"),
                    message="`Resource(...)` is built directly, without `service.version`; the constructor never "
                            "reads OTEL_RESOURCE_ATTRIBUTES, so no deployment setting can tell v1 spans and metrics "
                            "from v2",
                    fix="add `SERVICE_VERSION: <version>` to the attributes, or build it with `Resource.create(...)` "
                        "so OTEL_RESOURCE_ATTRIBUTES=service.version=<version> is read")
            elif item.kind == "resource-create" and not otel_env:
                yield ctx.finding(
                    "traces-without-service-version", facts.path, **where(item.node),
                    subject=_subject(seen, facts.path, "Resource.create"),
                    message="`Resource.create(...)` sets no `service.version` and no deployment file sets "
                            "OTEL_RESOURCE_ATTRIBUTES=service.version=…; v1 and v2 spans and metrics carry the same "
                            "resource, so the canary cannot be compared with v1",
                    fix="add `SERVICE_VERSION: <version>` to the attributes, or set "
                        "OTEL_RESOURCE_ATTRIBUTES=service.version=<version> in the container env")
            elif item.kind == "provider" and not otel_env:
                yield ctx.finding(
                    "provider-without-versioned-resource", facts.path, **where(item.node),
                    subject=_subject(seen, facts.path, item.what),
                    message=f"`{item.what}()` gets no `resource=`, so it uses the default resource without "
                            "`service.version`, and no deployment file sets OTEL_RESOURCE_ATTRIBUTES; v1 and v2 "
                            "telemetry from it look the same",
                    fix=f"pass `resource=Resource.create({{SERVICE_VERSION: <version>}})` to {item.what}, or set "
                        "OTEL_RESOURCE_ATTRIBUTES=service.version=<version> in the container env")


def _sentry(ctx, py, env: _Env):
    if any(env.has(v) for v in SENTRY_RELEASE_VARS):
        return
    seen: Counter = Counter()
    for facts in py:
        for item in facts.items:
            if item.kind == "sentry" and item.verdict is False:
                yield ctx.finding(
                    "errors-without-sentry-release", facts.path, **where(item.node),
                    subject=_subject(seen, facts.path, "sentry_sdk.init"),
                    message="`sentry_sdk.init(...)` passes no `release=` and no deployment file sets SENTRY_RELEASE; "
                            "v1 and v2 errors land in one release, so a canary regression hides among v1's events",
                    fix="pass `release=<version>` to sentry_sdk.init, or set SENTRY_RELEASE in the container env")


def _django_prometheus(ctx):
    """(path, Item) for django-prometheus middleware in the settings the service runs with: its django_http_*
    series carry no version label and it exports no build info."""
    from canary_lint import djsettings

    for chain in djsettings.chains(ctx):
        node = djsettings.listed(chain, "MIDDLEWARE", "django_prometheus.middleware.")
        if node is not None:
            return [(chain.path_of(node), Item("metric", node, "django_prometheus middleware", False))]
    return []


def _metrics(ctx, py, dep):
    if dep.scrape_adds_version or any(f.version_info for f in py):
        return
    bare = [(f.path, item) for f in py for item in f.items if item.kind == "metric" and item.verdict is False]
    bare += _django_prometheus(ctx)
    if not bare:
        return
    path, first = bare[0]
    others = len(bare) - 1
    more = f" and {others} other metric{'s' if others != 1 else ''}" if others else ""
    yield ctx.finding(
        "metrics-without-version", path, **where(first.node), subject=f"metrics:{first.what}",
        message=f"`{first.what}`{more} {'carry' if others else 'carries'} no version label and the app exposes no `*_build_info`/`Info` metric "
                "with its version, nor does any scrape config copy a pod `version` label; v1 and v2 series "
                "cannot be told apart in PromQL",
        fix="expose `Info('<app>_build', '...').info({'version': <version>})` and join on it, or add the version "
            "to the exporter's default_labels, or map the pod `version` label in the scrape config "
            "(PodMonitor podTargetLabels: [version])")


def _logs(ctx, py):
    from canary_lint import djsettings

    attached = [a for f in py for a in f.log_version_attached]
    seen: Counter = Counter()
    replaced = djsettings.overridden(ctx, "LOGGING")
    for facts in py:
        formats: set = set()
        scopes: set = set()
        for item in sorted(facts.items, key=lambda i: (getattr(i.node, "lineno", 0), getattr(i.node, "col_offset", 0))):
            if item.verdict is not False:
                continue
            line = getattr(item.node, "lineno", 0)
            if any(p == facts.path and a <= line <= b for p, a, b in replaced):
                continue  # a base module's LOGGING that the settings the service runs with replace
            if item.kind == "log-text" and ((item.detail and item.detail in formats) or (item.scope and item.scope in scopes)):
                continue  # one logging set-up (the branches of one function, or one format set twice): one finding
            if item.kind == "log-text":
                formats.add(item.detail)
                scopes.add(item.scope)
                what = f"log format {item.detail!r} of {item.what} prints no" if item.detail else \
                    f"none of the {item.what} prints a"
                yield ctx.finding(
                    "log-format-without-version", facts.path, **where(item.node),
                    subject=_subject(seen, facts.path, item.what),
                    message=f"{what} version field: v1 and v2 log lines look identical, so canary errors cannot "
                            "be told from v1's",
                    fix="add `%(version)s` to the format (set record.version in a logging.Filter or record "
                        "factory), or put the version itself in the format string")
            elif item.kind in ("log-json", "structlog") and not attached \
                    and not (item.scope and (item.kind, item.what, item.scope) in scopes):
                scopes.add((item.kind, item.what, item.scope))  # one JSON set-up per function: one finding
                what = "structlog processor chain" if item.kind == "structlog" else f"JSON log formatter ({item.what})"
                yield ctx.finding(
                    "structured-logs-without-version", facts.path, **where(item.node),
                    subject=_subject(seen, facts.path, item.what),
                    message=f"the {what} never adds a version field and nothing in the app puts one on log "
                            "records (no filter, LoggerAdapter, extra=, bind_contextvars(version=...)); v1 and v2 "
                            "events cannot be told apart",
                    fix="call `structlog.contextvars.bind_contextvars(version=<version>)` at start-up, add a "
                        "processor or logging.Filter that sets the version, or add it to the formatter's fields")


def _datadog(ctx, py, dep, env: _Env):
    uses = [(f.path, item.node) for f in py for item in f.items if item.kind == "datadog"]
    launchers = list(dep.ddtrace_run)
    if not uses and not launchers:
        return
    if env.has("DD_VERSION") or env.has("DD_TAGS", "version:") or deploy_facts.DD_VERSION_LABEL in dep.labels_seen \
            or any(f.dd_version_in_code for f in py):
        return
    if uses:
        path, node = uses[0]
        what, place = f"{path}:{node.lineno}", where(node)
    else:
        path, line = launchers[0]
        what, place = f"ddtrace-run in {path}:{line}", {"line": line}
    yield ctx.finding(
        "datadog-without-dd-version", path, **place, subject="datadog",
        message=f"Datadog is used ({what}) but DD_VERSION is set in no deployment file and no pod carries the "
                f"`{deploy_facts.DD_VERSION_LABEL}` label; APM and DogStatsD cannot split v1 from v2",
        fix="set DD_VERSION in the container env (e.g. from the pod label tags.datadoghq.com/version via the "
            "downward API)")


def _pods(ctx, dep):
    if dep.kustomize_version_label:
        return  # kustomize adds the label to every pod template it builds
    seen: Counter = Counter()
    for pod in dep.pod_templates:
        if pod.labels is None or pod.kind in deploy_facts.ONE_OFF \
                or any(k in pod.labels for k in deploy_facts.VERSION_LABELS):
            continue
        yield ctx.finding(
            "pod-template-without-version-label", pod.path, pod.line, pod.column,
            subject=_subject(seen, pod.owner),
            message=f"the pod template of {pod.owner} has no `version` or `app.kubernetes.io/version` label; "
                    "Istio subsets, Kiali graphs and pod-label relabelling see v1 and v2 pods as one workload",
            fix="add `version: <release>` and `app.kubernetes.io/version: <release>` to "
                "spec.template.metadata.labels")
