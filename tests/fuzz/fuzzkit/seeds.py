"""Real seed trees for each front: the rule pages' examples, the rule fixtures, the bundled example release,
the OpenAPI pairs of fixtures/oasdiff, the rollout plans of docs/rollout.md and a small deployment tree.

A seed is a tree (head files, and v1's files when the case runs with --base) and the one file of it that
inputs mutate (`target`); the front is what canary-lint's own discovery makes of that file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[3]
FRONTS = ("sql", "alembic", "django", "openapi", "python", "deploy", "rollout")


@dataclass(frozen=True)
class Seed:
    front: str
    name: str
    target: str  # the file inputs mutate (a head path)
    head: tuple  # ((path, bytes), ...)
    base: tuple | None = None  # v1's tree, committed and passed as --base; None: no --base
    config: tuple = ()  # Config keyword overrides (dialect, postgres_version)

    def head_files(self) -> dict:
        return dict(self.head)

    def base_files(self) -> dict:
        return dict(self.base or ())

    @property
    def data(self) -> bytes:
        return self.head_files()[self.target]


def front_of(path: str, data: bytes) -> str | None:
    """The front a file belongs to, by canary-lint's own classification of it."""
    from canary_lint.discovery import classify

    kinds = classify(ROOT / path, path, False, set(), sniff=lambda _p: data[:65536])
    for kind, front in (("django", "django"), ("alembic", "alembic"), ("sql_migration", "sql"), ("sql", "sql"),
                        ("openapi", "openapi"), ("deploy", "deploy"), ("entry", "deploy"), ("python", "python")):
        if kind in kinds:
            return front
    return None


def _enc(files: dict) -> tuple:
    return tuple(sorted((p, t.encode("utf-8") if isinstance(t, str) else t) for p, t in files.items()))


def _tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def _case_seeds() -> list[Seed]:
    from canary_lint import examples
    from canary_lint.registry import registry

    cases = []
    for rule in registry().rules:
        cases += examples.page_cases(rule.code, rule.page)
    cases += examples.fixture_cases(ROOT / "fixtures" / "rules")
    out = []
    for case in cases:
        head, base = _enc(case.head), _enc(case.base) if case.base else None
        config = tuple(sorted(case.config.items()))
        for path, data in head:
            front = front_of(path, data)
            if front:
                out.append(Seed(front, f"{case.ident}:{path}", path, head, base, config))
    return out


def _example_seeds() -> list[Seed]:
    root = ROOT / "canary_lint" / "example"
    head, base = _enc(_tree(root / "v2")), _enc(_tree(root / "v1"))
    return [Seed(front, f"example:{path}", path, head, base) for path, data in head
            if (front := front_of(path, data))]


def _openapi_seeds() -> list[Seed]:
    """fixtures/oasdiff pairs (`*base*` / `*revision*`) as v1 and v2 of `openapi.yaml`."""
    root = ROOT / "fixtures" / "oasdiff" / "specs"
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "base" not in path.name:
            continue
        other = path.with_name(path.name.replace("base", "revision"))
        if not other.is_file():
            continue
        name = "openapi.json" if path.suffix == ".json" else "openapi.yaml"
        head = ((name, other.read_bytes()),)
        if front_of(name, head[0][1]) == "openapi":
            out.append(Seed("openapi", f"oasdiff:{other.relative_to(root).as_posix()}", name, head,
                            ((name, path.read_bytes()),)))
    return out


DEPLOY_TREE = {
    "app/__init__.py": "",
    "app/main.py": (
        "import os\nfrom flask import Flask\nfrom prometheus_client import Counter\n\n"
        "app = Flask(__name__)\nREQUESTS = Counter('http_requests_total', 'requests', ['code'])\n"
        "VERSION = os.environ.get('APP_VERSION', 'dev')\n\n\n@app.get('/health')\ndef health():\n"
        "    REQUESTS.labels(code='200').inc()\n    return {'version': VERSION}\n"
    ),
    "Procfile": "web: gunicorn app.main:app --bind 0.0.0.0:$PORT\nworker: celery -A app.tasks worker\n",
    "docker-compose.yml": (
        "services:\n  web:\n    build: .\n    command: gunicorn app.main:app\n    environment:\n"
        "      APP_VERSION: ${VERSION:-dev}\n      OTEL_RESOURCE_ATTRIBUTES: service.version=${VERSION}\n"
        "    labels:\n      version: v2\n    ports: ['8000:8000']\n"
    ),
    ".env": "APP_VERSION=v2\nSENTRY_RELEASE=shop@2.0.0\nexport DD_VERSION=\"2.0.0\"\n",
    "docker/entrypoint.sh": "#!/bin/sh\nset -e\nexec gunicorn app.main:app --workers \"${WORKERS:-2}\" \"$@\"\n",
    "deploy/shop.service": "[Service]\nExecStart=/usr/bin/gunicorn app.main:app\nEnvironment=APP_VERSION=v2\n",
}


def _deploy_seeds() -> list[Seed]:
    head = _enc(DEPLOY_TREE)
    return [Seed("deploy", f"deploy-tree:{path}", path, head) for path, data in head if front_of(path, data) == "deploy"]


PLAN = """\
service: shop
gate: {report: canary-lint.json}
router: {kind: command, set_weight: ["true", "{canary}", "{stable}"]}
metrics: {kind: prometheus, url: "http://127.0.0.1:9", stable: v1, canary: v2, down_limit: 0.3s, retries: 0,
          timeout: 0.2s}
traffic: {grace: 0.2s}
judge: {alpha: 0.01, interval: 0.05s}
criteria:
  - {name: errors, kind: ratio, bad: 'errors{version="$version"}[$window]',
     total: 'requests{version="$version"}[$window]', max_increase: 0%}
steps:
  - {weight: 20, hold: {min: 0.1s, max: 3s}}
  - {weight: 50, hold: {min: 0.1s, max: 3s}}
  - {weight: 100}
"""
FENCE = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


def _rollout_seeds() -> list[Seed]:
    plans = [("fuzzkit:plan", PLAN), ("fuzzkit:regions", PLAN.replace(
        "router: {kind: command, set_weight: [\"true\", \"{canary}\", \"{stable}\"]}",
        "routers:\n  - {kind: haproxy, region: eu, socket: /run/haproxy.sock, backend: shop, stable: s1, canary: c1,\n"
        "     header_map: /etc/haproxy/canary.map}\n"
        "  - {kind: nginx, region: us, conf: /etc/nginx/nginx.conf, include_file: /etc/nginx/conf.d/split.conf,\n"
        "     stable: \"127.0.0.1:8001\", canary: \"127.0.0.1:8002\", status_listen: \"127.0.0.1:8099\"}"))]
    for doc in ("docs/rollout.md", "README.md"):
        for i, m in enumerate(FENCE.finditer((ROOT / doc).read_text(encoding="utf-8"))):
            if re.search(r"^steps:", m.group(1), re.M):
                plans.append((f"{doc}#{i}", m.group(1)))
    for doc in ("docs/rollout.md",):  # the router examples, each in the page's main plan
        text = (ROOT / doc).read_text(encoding="utf-8")
        main = next((p for n, p in plans if n.startswith(doc)), None)
        for i, m in enumerate(FENCE.finditer(text)):
            block = m.group(1)
            if main and block.startswith(("router:", "routers:")):
                plans.append((f"{doc}#{i}+router", re.sub(r"^router:.*\n(?:  .*\n)+", lambda _m: block, main, count=1, flags=re.M)))
    return [Seed("rollout", name, "rollout.yaml", (("rollout.yaml", text.encode("utf-8")),)) for name, text in plans]


@lru_cache(maxsize=None)
def _all() -> dict:
    by_front: dict = {f: [] for f in FRONTS}
    seen = set()
    for seed in _case_seeds() + _example_seeds() + _openapi_seeds() + _deploy_seeds() + _rollout_seeds():
        key = (seed.front, seed.head, seed.base, seed.target)
        if key not in seen:
            seen.add(key)
            by_front[seed.front].append(seed)
    return {f: tuple(v) for f, v in by_front.items()}


def seeds(front: str) -> tuple:
    """The seeds of `front`, in a fixed order (inputs are reproducible by their draws)."""
    return _all()[front]


def donors(front: str) -> tuple:
    """Bytes of every seed target of `front`: material to splice into another seed."""
    return tuple(s.data for s in seeds(front))


def is_test_path(path: str) -> bool:
    return any(p in ("tests", "test") for p in PurePosixPath(path).parts[:-1])
