"""Telemetry analyzer: the look-alikes that must stay quiet, deployment facts, settings, the example."""

from __future__ import annotations

import textwrap

import pytest

from canary_lint.config import Config, ConfigError
from canary_lint.context import ReleaseContext
from canary_lint.discovery import discover
from canary_lint.engine import run_check
from canary_lint.registry import registry
from canary_lint.telemetry import analyzer, settings
from canary_lint.deploy import read as read_deploy
from conftest import ROOT


def check(tmp_path, files: dict, **config) -> list:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    report = run_check(["."], Config(root=tmp_path, **config), cwd=tmp_path)
    assert not [f for f in report.findings if f.rule in ("CL001", "CL005")], report.findings
    return [f for f in report.findings if f.family == "telemetry"]


def codes(findings) -> list[str]:
    return sorted(f.rule for f in findings)


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  template:
    metadata:
      labels: {app: shop, version: "2.0.0"}
    spec:
      containers:
        - name: shop
          image: shop:2.0.0
          env:
%s
"""


# ---- OpenTelemetry -------------------------------------------------------------------------------
OTEL_QUIET = {
    "attributes in a module-level variable": """
        from opentelemetry.sdk.resources import SERVICE_VERSION, Resource
        from app.settings import VERSION
        ATTRS = {"service.name": "shop", SERVICE_VERSION: VERSION}
        RESOURCE = Resource.create(ATTRS)
    """,
    "semantic-convention attribute": """
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.semconv.resource import ResourceAttributes
        RESOURCE = Resource.create({ResourceAttributes.SERVICE_VERSION: "2.0.0"})
    """,
    "attributes imported from elsewhere": """
        from opentelemetry.sdk.resources import Resource
        from app.settings import OTEL_ATTRIBUTES
        RESOURCE = Resource.create(OTEL_ATTRIBUTES)
    """,
    "a Resource class of another library": """
        from app.models import Resource
        Resource.create({"name": "shop"})
        Resource({"name": "shop"})
    """,
    "provider given a resource variable": """
        from opentelemetry.sdk.trace import TracerProvider
        from app.otel import RESOURCE
        provider = TracerProvider(resource=RESOURCE)
    """,
    "provider given the resource positionally": """
        from opentelemetry.sdk.metrics import MeterProvider
        from app.otel import READERS, RESOURCE
        provider = MeterProvider(READERS, RESOURCE)
    """,
    "constructor merged with one that reads the environment": """
        from opentelemetry.sdk.resources import Resource
        resource = Resource({"service.name": "shop"}).merge(Resource.create())
    """,
}


@pytest.mark.parametrize("source", OTEL_QUIET.values(), ids=OTEL_QUIET.keys())
def test_otel_look_alikes_are_quiet(tmp_path, source):
    assert check(tmp_path, {"app/otel.py": source}) == []


def test_sdk_version_is_not_the_service_version(tmp_path):
    found = check(tmp_path, {"app/otel.py": """
        from opentelemetry.sdk.resources import Resource
        a = Resource.create({"service.name": "shop", "telemetry.sdk.version": "1.2"})
        b = Resource({"service.name": "shop", "telemetry.sdk.version": "1.2"})
    """})
    assert codes(found) == ["CLT101", "CLT102"]
    assert found[0].severity.value == "warning" and found[1].severity.value == "error"
    assert "OTEL_RESOURCE_ATTRIBUTES" in found[0].fix


def test_aliased_imports_resolve(tmp_path):
    found = check(tmp_path, {"app/otel.py": """
        import opentelemetry.sdk.resources as res
        from opentelemetry.sdk import trace as sdktrace
        r = res.Resource.create({"service.name": "shop"})
        p = sdktrace.TracerProvider()
    """})
    assert codes(found) == ["CLT101", "CLT103"]


@pytest.mark.parametrize("deploy", {
    "k8s env": {"deploy/shop.yaml": DEPLOYMENT % "            - {name: OTEL_RESOURCE_ATTRIBUTES, value: 'service.version=2.0.0'}"},
    "k8s env from a field ref": {"deploy/shop.yaml": DEPLOYMENT % (
        "            - name: OTEL_RESOURCE_ATTRIBUTES\n              valueFrom: {configMapKeyRef: {name: otel, key: attrs}}")},
    "compose list": {"docker-compose.yml": "services:\n  shop:\n    environment:\n      - OTEL_RESOURCE_ATTRIBUTES=service.version=2.0.0\n"},
    "Dockerfile ENV with several pairs": {"Dockerfile": "FROM python:3.12\nENV A=1 \\\n    OTEL_RESOURCE_ATTRIBUTES=\"service.name=shop,service.version=2.0.0\"\n"},
    ".env": {".env": "# otel\nexport OTEL_RESOURCE_ATTRIBUTES=service.version=2.0.0\n"},
    "set by the code itself": {"app/boot.py": "import os\nos.environ.setdefault('OTEL_RESOURCE_ATTRIBUTES', 'service.version=2')\n"},
}.values(), ids=["k8s", "valueFrom", "compose", "dockerfile", "dotenv", "code"])
def test_otel_version_from_the_deployment(tmp_path, deploy):
    files = {"app/otel.py": """
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        a = Resource.create({"service.name": "shop"})
        p = TracerProvider()
    """, **deploy}
    assert codes(check(tmp_path, files)) == []


def test_otel_env_without_service_version_does_not_count(tmp_path):
    files = {"app/otel.py": "from opentelemetry.sdk.resources import Resource\nr = Resource.create({})\n",
             ".env": "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod\n"}
    assert codes(check(tmp_path, files)) == ["CLT101"]


def test_env_never_excuses_the_constructor(tmp_path):
    files = {"app/otel.py": "from opentelemetry.sdk.resources import Resource\nr = Resource({'service.name': 'x'})\n",
             ".env": "OTEL_RESOURCE_ATTRIBUTES=service.version=2.0.0\n"}
    assert codes(check(tmp_path, files)) == ["CLT102"]


# ---- Sentry --------------------------------------------------------------------------------------
def test_sentry(tmp_path):
    found = check(tmp_path, {
        "app/a.py": "from sentry_sdk import init\ninit(dsn='x', release=None)\n",
        "app/b.py": "import sentry_sdk as s\ns.init(dsn='x', release=VERSION)\n",
        "app/c.py": "import sentry_sdk\nsentry_sdk.init(**OPTIONS)\n",
        "app/d.py": "import rollbar\nrollbar.init('token')\n",
    })
    assert [(f.rule, f.path) for f in found] == [("CLT201", "app/a.py")]
    assert "SENTRY_RELEASE" in found[0].message and "release=" in found[0].fix


def test_sentry_release_from_the_deployment_or_the_platform(tmp_path):
    app = {"app/a.py": "import sentry_sdk\nsentry_sdk.init(dsn='x')\n"}
    assert check(tmp_path, {**app, "Dockerfile": "FROM x\nENV SENTRY_RELEASE shop@2.0.0\n"}) == []
    (tmp_path / "Dockerfile").unlink()
    assert codes(check(tmp_path, app)) == ["CLT201"]
    assert check(tmp_path, app, telemetry={"platform-env": ["SENTRY_RELEASE"]}) == []


# ---- Prometheus ----------------------------------------------------------------------------------
METRICS = """
from prometheus_client import Counter, Histogram
ORDERS = Counter("shop_orders_total", "orders", ["status"])
LATENCY = Histogram("shop_latency_seconds", "latency")
"""


def test_metrics_reported_once_per_release(tmp_path):
    found = check(tmp_path, {"app/m1.py": METRICS, "app/m2.py": METRICS.replace("shop_", "cart_")})
    assert codes(found) == ["CLT301"]
    assert found[0].path == "app/m1.py" and "3 other metrics" in found[0].message


@pytest.mark.parametrize("extra", {
    "Info anywhere": {"app/build.py": "from prometheus_client import Info\nInfo('shop_build', 'x').info({'version': V})\n"},
    "build_info gauge": {"app/build.py": "import prometheus_client as pc\npc.Gauge('shop_build_info', 'x', ['version'])\n"},
    "exporter default_labels": {"app/web.py": "from prometheus_flask_exporter import PrometheusMetrics\n"
                                              "m = PrometheusMetrics(app, default_labels={'version': VERSION})\n"},
    "exporter group_by": {"app/web.py": "from prometheus_flask_exporter import PrometheusMetrics\n"
                                        "m = PrometheusMetrics(app, group_by='app_version')\n"},
    "exporter info metric": {"app/web.py": "from prometheus_flask_exporter import PrometheusMetrics\n"
                                           "m = PrometheusMetrics(app)\nm.info('shop_app_info', 'x', version=VERSION)\n"},
    "PodMonitor target labels": {"deploy/monitor.yaml": "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\n"
                                                        "metadata: {name: shop}\nspec:\n  podTargetLabels: [app, version]\n"},
    "scrape relabelling": {"prometheus.yml": "scrape_configs:\n  - job_name: pods\n    relabel_configs:\n"
                                             "      - source_labels: [__meta_kubernetes_pod_label_version]\n"
                                             "        target_label: version\n"},
}.values(), ids=["info", "build_info", "default_labels", "group_by", "info-metric", "podmonitor", "relabel"])
def test_metrics_quiet_when_the_version_can_be_joined(tmp_path, extra):
    assert check(tmp_path, {"app/metrics.py": METRICS, **extra}) == []


def test_exporter_info_is_not_the_apps_version(tmp_path):
    files = {"app/metrics.py": METRICS,
             "app/web.py": "from prometheus_client import Info, Gauge\nInfo('flask_exporter', 'lib')\n"
                           "Gauge('starlette_exporter_info', 'lib', ['version'])\n"}
    assert codes(check(tmp_path, files)) == ["CLT301"]


def test_metric_with_its_own_version_label(tmp_path):
    src = "from prometheus_client import Counter\nC = Counter('x_total', 'x', labelnames=('status', 'app_version'))\n"
    assert check(tmp_path, {"app/m.py": src}) == []


def test_exporter_http_metrics_count_as_metrics(tmp_path):
    src = "from prometheus_fastapi_instrumentator import Instrumentator\nInstrumentator().instrument(app)\n"
    found = check(tmp_path, {"app/main.py": src})
    assert codes(found) == ["CLT301"] and "Instrumentator" in found[0].message


# ---- logs ----------------------------------------------------------------------------------------
LOG_QUIET = {
    "f-string with the version": "import logging\nfrom app import VERSION\nlogging.basicConfig(format=f'{VERSION} %(message)s')\n",
    "version variable": "import logging\nfrom app import APP_VERSION\n"
                        "logging.basicConfig(format='%(message)s ' + APP_VERSION)\n",
    "str.format with the version": "import logging\nlogging.basicConfig(format='{v} %(message)s'.format(v=VERSION))\n",
    "format from settings": "import logging\nfrom app.settings import FMT\nlogging.basicConfig(format=FMT)\n",
    "handlers carry their formatters": "import logging\nlogging.basicConfig(handlers=[HANDLER])\n",
    "library handler for its embedder": """
        import logging
        logger = logging.getLogger(__name__)
        logger.addHandler(logging.NullHandler())
        _h = logging.StreamHandler()
        _h.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    """,
    "a script's console set-up": """
        import logging
        def main():
            logging.basicConfig(level=logging.INFO)
        if __name__ == "__main__":
            main()
    """,
    "dictConfig with a custom formatter class": """
        import logging.config
        logging.config.dictConfig({"version": 1, "formatters": {"x": {"()": "app.logs.VersionedFormatter"}}})
    """,
    "dictConfig built elsewhere": "import logging.config\nfrom app.settings import LOG\nlogging.config.dictConfig(LOG)\n",
    "version written into the format": "import logging\nlogging.basicConfig(format='%(message)s version=1.4.0')\n",
    "labelnames from a module constant": "from prometheus_client import Counter\nLABELS = ['app_version']\n"
                                         "C = Counter('x_total', 'x', labelnames=LABELS)\n",
    "str.format-style field": "import logging\nlogging.basicConfig(format='{asctime} {app_version} {message}', style='{')\n",
}


@pytest.mark.parametrize("source", LOG_QUIET.values(), ids=LOG_QUIET.keys())
def test_log_look_alikes_are_quiet(tmp_path, source):
    assert check(tmp_path, {"app/logs.py": source}) == []


def test_a_commands_console_set_up_is_not_judged_but_its_explicit_format_is(tmp_path):
    files = {"app/__main__.py": "import logging\nlogging.basicConfig(level=logging.INFO)\n"}
    assert check(tmp_path, files) == []
    files = {"app/__main__.py": "import logging\nlogging.basicConfig(format='%(message)s')\n"}
    assert codes(check(tmp_path, files)) == ["CLT401"]


def test_dictconfig_schema_version_is_not_an_app_version(tmp_path):
    src = """
        import logging.config
        import logging as lg
        logging.config.dictConfig({"version": 1, "formatters": {"a": {"format": "%(message)s"}, "b": {"fmt": "%(name)s"}}})
        lg.basicConfig()
    """
    found = check(tmp_path, {"app/logs.py": src})
    assert codes(found) == ["CLT401", "CLT401"]
    assert "dictConfig formatters (a, b)" in found[0].message
    assert "%(levelname)s:%(name)s:%(message)s" in found[1].message


def test_fileconfig_ini(tmp_path):
    ini = "[formatters]\nkeys=plain\n\n[formatter_plain]\nformat=%(asctime)s %(message)s\n"
    src = "import logging.config\nlogging.config.fileConfig('logging.ini')\n"
    found = check(tmp_path, {"app/main.py": src, "app/logging.ini": ini})
    assert codes(found) == ["CLT401"] and "logging.ini" in found[0].message
    (tmp_path / "app/logging.ini").write_text(ini.replace("%(asctime)s", "%(asctime)s %(version)s"))
    assert check(tmp_path, {}) == []


def test_version_fields_setting(tmp_path):
    src = "import logging\nlogging.basicConfig(format='%(git_hash)s %(message)s')\n"
    assert codes(check(tmp_path, {"app/logs.py": src})) == ["CLT401"]
    assert check(tmp_path, {}, telemetry={"version-fields": ["git_hash"]}) == []


STRUCTLOG = """
import structlog
structlog.configure(processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()])
"""


@pytest.mark.parametrize("extra", {
    "bind_contextvars": {"app/boot.py": "import structlog\nstructlog.contextvars.bind_contextvars(version=V)\n"},
    "logger.bind": {"app/boot.py": "import structlog\nlog = structlog.get_logger().bind(app_version=V)\n"},
    "LoggerAdapter": {"app/boot.py": "import logging\nlog = logging.LoggerAdapter(logging.getLogger(), {'version': V})\n"},
    "extra=": {"app/boot.py": "import logging\nlogging.getLogger().info('up', extra={'release': V})\n"},
    "filter sets record.version": {"app/boot.py": "import logging\nclass F(logging.Filter):\n"
                                                  "    def filter(self, record):\n        record.version = V\n        return True\n"},
    "record factory": {"app/boot.py": "import logging\nlogging.setLogRecordFactory(make_record)\n"},
}.values(), ids=["bind_contextvars", "bind", "adapter", "extra", "filter", "factory"])
def test_structured_logs_quiet_when_the_app_attaches_a_version(tmp_path, extra):
    assert check(tmp_path, {"app/logs.py": STRUCTLOG, **extra}) == []


def test_structlog_processors(tmp_path):
    assert codes(check(tmp_path, {"app/logs.py": STRUCTLOG})) == ["CLT402"]
    local = STRUCTLOG.replace("processors=[", "processors=[add_version, ") + \
        "def add_version(logger, name, event_dict):\n    event_dict['service_version'] = V\n    return event_dict\n"
    assert check(tmp_path, {"app/logs.py": local}) == []
    local_without = local.replace("service_version", "service_name")
    assert codes(check(tmp_path, {"app/logs.py": local_without})) == ["CLT402"]
    imported = "from app.procs import add_meta\n" + STRUCTLOG.replace("processors=[", "processors=[add_meta, ")
    assert check(tmp_path, {"app/logs.py": imported}) == []


def test_json_formatter(tmp_path):
    src = "from pythonjsonlogger import jsonlogger\nf = jsonlogger.JsonFormatter('%(message)s')\n"
    assert codes(check(tmp_path, {"app/logs.py": src})) == ["CLT402"]
    static = src.replace("'%(message)s'", "'%(message)s', static_fields={'version': V}")
    assert check(tmp_path, {"app/logs.py": static}) == []


def test_test_files_are_not_the_app(tmp_path):
    files = {"tests/test_x.py": "import logging\nlogging.basicConfig()\n",
             "app/conftest.py": "import sentry_sdk\nsentry_sdk.init()\n"}
    assert check(tmp_path, files) == []


# ---- Datadog and pod labels ----------------------------------------------------------------------
def test_datadog(tmp_path):
    app = {"app/main.py": "import ddtrace.auto  # noqa\n", "app/other.py": "from ddtrace import tracer\n"}
    found = check(tmp_path, app)
    assert [(f.rule, f.path, f.line) for f in found] == [("CLT501", "app/main.py", 1)]
    assert check(tmp_path, {"Dockerfile": "FROM x\nENV DD_VERSION=2.0.0\n"}) == []


def test_ddtrace_run_launcher_without_version(tmp_path):
    found = check(tmp_path, {"Dockerfile": "FROM python:3.12\nCMD [\"ddtrace-run\", \"gunicorn\", \"app:app\"]\n"})
    assert [(f.rule, f.path, f.line) for f in found] == [("CLT501", "Dockerfile", 2)]
    pod = DEPLOYMENT.replace('version: "2.0.0"}', 'version: "2.0.0", tags.datadoghq.com/version: "2.0.0"}') % \
        "            - {name: A, value: b}"
    assert check(tmp_path, {"deploy/shop.yaml": pod}) == []


def test_pod_templates(tmp_path):
    manifests = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: x, image: x, env: [{name: SENTRY_RELEASE, value: "2"}]}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache}
spec:
  template:
    spec:
      containers: [{name: x, image: x}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: shop}
spec:
  template:
    metadata:
      labels: {app: shop, app.kubernetes.io/version: "2.0.0"}
---
apiVersion: v1
kind: Service
metadata: {name: shop, labels: {app: shop}}
"""
    found = check(tmp_path, {"deploy/all.yaml": manifests})
    assert [(f.rule, f.line) for f in found] == [("CLT601", 15)]  # a job is never compared side by side
    assert "StatefulSet cache" in found[0].message
    assert read_deploy([("all.yaml", manifests.lstrip())]).env["SENTRY_RELEASE"][0].line == 9


def test_helm_template_with_literal_labels_is_judged(tmp_path):
    tpl = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    metadata:
      labels:
        app: {{ .Chart.Name }}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image }}"
          env:
            - name: SENTRY_RELEASE
              value: {{ .Chart.AppVersion | quote }}
"""
    facts = read_deploy([("chart/templates/deploy.yaml", tpl)])
    assert [p.owner for p in facts.pod_templates] == ["Deployment __tpl__"]
    assert facts.pod_templates[0].labels == {"app": "__tpl__"}
    assert facts.env["SENTRY_RELEASE"][0].value is None  # templated: set, value unknown
    found = check(tmp_path, {"chart/templates/deploy.yaml": tpl})
    assert codes(found) == ["CLT601"]


def test_broken_yaml_is_not_a_crash(tmp_path):
    assert check(tmp_path, {"deploy/x.yaml": "apiVersion: v1\nkind: [unclosed\n"}) == []


# ---- settings, sharing, the example --------------------------------------------------------------
def test_settings_validate():
    settings.validate({"version-fields": ["git_sha"], "platform-env": ["DD_VERSION"]}, "pyproject.toml")
    with pytest.raises(ConfigError, match="unknown key `versions`"):
        settings.validate({"versions": []}, "pyproject.toml")
    with pytest.raises(ConfigError, match="list of non-empty strings"):
        settings.validate({"platform-env": "SENTRY_RELEASE"}, "pyproject.toml")


def test_files_without_telemetry_tokens_are_not_walked(tmp_path):
    (tmp_path / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "otel.py").write_text("from opentelemetry.sdk.trace import TracerProvider\nTracerProvider()\n")
    config = Config(root=tmp_path)
    ctx = ReleaseContext(config, discover(["."], config, tmp_path).files, registry(), cwd=tmp_path)
    found = list(analyzer.analyze(ctx))
    assert [f.rule for f in found] == ["CLT103"]
    assert set(ctx._ast) == {"otel.py"}
    cached = {k: id(v) for k, v in ctx._cache.items()}
    assert [f.rule for f in analyzer.analyze(ctx)] == ["CLT103"]  # a second run reuses the cached facts
    assert {k: id(v) for k, v in ctx._cache.items()} == cached


def test_example_release(tmp_path):
    v1 = check_tree(ROOT / "canary_lint" / "example" / "v1")
    assert v1 == []
    v2 = check_tree(ROOT / "canary_lint" / "example" / "v2")
    assert codes(v2) == ["CLT101", "CLT201", "CLT301", "CLT401", "CLT601"]


def check_tree(root):
    report = run_check(["."], Config(root=root), cwd=root)
    return [f for f in report.findings if f.family == "telemetry"]


def test_calls_nested_in_blocks_are_found(tmp_path):
    src = """
        import logging


        class App:
            def start(self, mode):
                try:
                    import sentry_sdk
                except ImportError:
                    from opentelemetry.sdk.trace import TracerProvider
                    TracerProvider()
                else:
                    with open("x"):
                        for _ in range(1):
                            sentry_sdk.init(dsn="x")
                finally:
                    match mode:
                        case "plain":
                            logging.basicConfig(format="%(message)s")
    """
    found = check(tmp_path, {"app/main.py": src})
    assert [(f.rule, f.line) for f in found] == [("CLT103", 10), ("CLT201", 14), ("CLT401", 18)]


def test_opentelemetry_instrument_launcher(tmp_path):
    docker = "FROM python:3.12\nCMD opentelemetry-instrument gunicorn app:app\n"
    found = check(tmp_path, {"Dockerfile": docker})
    assert [(f.rule, f.path, f.line) for f in found] == [("CLT103", "Dockerfile", 2)]
    fixed = docker + "ENV OTEL_RESOURCE_ATTRIBUTES=service.version=2.0.0\n"
    assert check(tmp_path, {"Dockerfile": fixed}) == []


def test_otel_operator_injection_supplies_the_version(tmp_path):
    pod = DEPLOYMENT.replace("    metadata:\n      labels:", "    metadata:\n      annotations: "
                             "{instrumentation.opentelemetry.io/inject-python: 'true'}\n      labels:") % \
        "            - {name: A, value: b}"
    files = {"deploy/shop.yaml": pod,
             "app/otel.py": "from opentelemetry.sdk.trace import TracerProvider\nTracerProvider()\n"}
    assert check(tmp_path, files) == []


def test_helm_values_may_set_the_env(tmp_path):
    files = {"app/errors.py": "import sentry_sdk\nsentry_sdk.init(dsn='x')\n",
             "chart/values.yaml": "env:\n  - name: SENTRY_RELEASE\n    value: shop@2.0.0\n"}
    assert check(tmp_path, files) == []


def test_kustomize_common_labels_reach_pod_templates(tmp_path):
    pod = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: s}\nspec:\n  template:\n" \
          "    metadata:\n      labels: {app: s}\n"
    assert codes(check(tmp_path, {"deploy/base/shop.yaml": pod})) == ["CLT601"]
    kust = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [shop.yaml]\n" \
           "labels:\n  - pairs: {app.kubernetes.io/version: '2.0.0'}\n    includeTemplates: true\n"
    assert check(tmp_path, {"deploy/base/kustomization.yaml": kust}) == []


def test_attributes_built_in_the_same_function(tmp_path):
    src = """
        from opentelemetry.sdk.resources import SERVICE_VERSION, Resource


        def without(run):
            attrs = {"service.name": "shop", "run.id": str(run.id)}
            if run.pool:
                attrs["pool"] = run.pool
            return Resource.create(attrs)


        def added_later(run, version):
            attrs: dict = {"service.name": "shop"}
            attrs[SERVICE_VERSION] = version
            return Resource.create(attrs)


        def updated(run, common):
            attrs = {"service.name": "shop"}
            attrs.update(common)
            return Resource.create(attrs)


        def parameter(attrs):
            return Resource.create(attrs)
    """
    found = check(tmp_path, {"app/otel.py": src})
    assert [(f.rule, f.line) for f in found] == [("CLT101", 8)]


def test_loguru(tmp_path):
    src = """
        import sys
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="INFO")
        logger.add("app.log", format="{time} {level} {message}")
        logger.add(sys.stdout, format="{time} {extra[version]} {message}")
        logger.add(sys.stdout, format=FORMAT)
        logger.configure(handlers=[{"sink": sys.stdout, "serialize": True}])
    """
    found = check(tmp_path, {"app/logs.py": src})
    assert [(f.rule, f.line) for f in found] == [("CLT401", 5), ("CLT401", 6), ("CLT402", 9)]
    bound = textwrap.dedent(src) + "logger.configure(extra={'version': VERSION})\n"
    assert [(f.rule, f.line) for f in check(tmp_path, {"app/logs.py": bound})] == [("CLT401", 5), ("CLT401", 6)]


def test_yaml_aliases_and_anchors(tmp_path):
    manifests = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
spec:
  template:
    metadata:
      labels: &labels {app: a, version: "2"}
    spec:
      containers:
        - &c {name: a, image: a, env: [{name: DD_VERSION, value: "2"}]}
        - *c
"""
    facts = read_deploy([("a.yaml", manifests)])
    assert [p.labels for p in facts.pod_templates] == [{"app": "a", "version": "2"}]
    assert len(facts.env["DD_VERSION"]) == 2


def test_formats_read_across_modules(tmp_path):
    """The log format and the logging table the app uses, read where they are defined."""
    files = {
        "app/__init__.py": "",
        "app/settings.py": ("import os\nPREFIX = os.environ.get('LOG_PREFIX', '')\n"
                            "LOG_FORMAT = os.environ.get('LOG_FORMAT', PREFIX + '[%(asctime)s] %(message)s')\n"),
        "app/log.py": ("import logging\nclass Masking(logging.Formatter):\n    def format(self, record):\n"
                       "        return super().format(record).replace('password', '***')\n"
                       "DEFAULT_LOGGING = {'version': 1, 'formatters': {'d': {'()': 'app.log.Masking', "
                       "'format': '%(levelname)s %(message)s'}}}\n"),
        "app/main.py": ("import logging\nfrom app import settings\n"
                        "def setup():\n    h = logging.StreamHandler()\n"
                        "    h.setFormatter(logging.Formatter(settings.LOG_FORMAT))\n"
                        "    logging.getLogger().addHandler(h)\n"),
    }
    found = check(tmp_path, files)
    assert sorted((f.rule, f.path, f.line) for f in found) == [
        ("CLT401", "app/log.py", 5), ("CLT401", "app/main.py", 5)]
    assert "'[%(asctime)s] %(message)s'" in next(f.message for f in found if f.path == "app/main.py")
    # the deployment sets the variable: the format it runs with is not the fallback, so it is not judged
    files["docker-compose.yml"] = "services:\n  web:\n    image: x\n    environment:\n      LOG_FORMAT: '%(version)s'\n"
    assert [f.path for f in check(tmp_path / "deployed", files)] == ["app/log.py"]


def test_one_logging_set_up_per_function_and_debug_branches_left_out(tmp_path):
    files = {"app/logs.py": """
        import logging
        DEBUG_FORMAT = "%(levelname)s:%(message)s:%(pathname)s"

        def configure(level):
            if level not in ("INFO", "ERROR"):
                logging.basicConfig(level="ERROR")
                return
            if level == "DEBUG":
                logging.basicConfig(level=level, format=DEBUG_FORMAT)
                return
            logging.basicConfig(level=level)


        class Runner:
            DEBUG_ENABLED = False

            def __init__(self):
                if self.DEBUG_ENABLED:
                    logging.basicConfig()
    """}
    found = check(tmp_path, files)
    assert [(f.rule, f.line) for f in found] == [("CLT401", 6)]


def test_a_one_off_cli_command_is_not_how_the_service_logs(tmp_path):
    files = {"app/cli.py": """
        import logging
        import click

        @click.group()
        def manager():
            pass

        @manager.command()
        def reencrypt():
            logging.basicConfig()

        @manager.command()
        def server():
            logging.basicConfig(format="%(message)s")
            app.run()
    """}
    assert [(f.rule, f.line) for f in check(tmp_path, files)] == [("CLT401", 14)]


def test_a_test_logging_table_the_code_names_is_still_not_the_service(tmp_path):
    table = '{"version": 1, "formatters": {"detailed": {"format": "%(levelname)s %(message)s"}}}'
    found = check(tmp_path, {
        "app/logs.py": (
            "import json, logging.config, os, pathlib\n"
            "here = pathlib.Path(__file__).parent\n"
            "name = 'logconf.test.json' if os.environ.get('TESTING') else 'logconf.prod.json'\n"
            "logging.config.dictConfig(json.loads((here / name).read_text()))\n"),
        "app/logconf.test.json": table,
        "app/logconf.prod.json": table,
    })
    assert [(f.rule, f.path) for f in found if f.rule == "CLT401"] == [("CLT401", "app/logconf.prod.json")]


def test_a_base_logging_config_the_production_settings_extend_is_still_judged(tmp_path):
    base = """
        INSTALLED_APPS = ["shop"]
        ROOT_URLCONF = "shop.urls"
        LOGGING = {
            "version": 1,
            "formatters": {"simple": {"format": "%(levelname)s %(message)s"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "simple"}},
        }
    """
    extends = "from .base import *  # noqa: F403\nLOGGING = {**LOGGING, 'disable_existing_loggers': False}\n"
    found = check(tmp_path, {"shop/settings/base.py": base, "shop/settings/production.py": extends})
    assert [(f.rule, f.path) for f in found if f.rule == "CLT401"] == [("CLT401", "shop/settings/base.py")]
    # replaced outright: the base's formatters never reach the service
    (tmp_path / "shop/settings/production.py").write_text(
        "from .base import *  # noqa: F403\nLOGGING = {'version': 1, 'handlers': {}}\n")
    assert [f for f in check(tmp_path, {}) if f.rule == "CLT401"] == []
