"""Fakes for unit tests of the runner: a router that records every change and a metrics provider that
serves deterministic request and error counts for the weight in force."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from canary_lint.rollout.metrics import MetricsUnavailable
from canary_lint.rollout.routers import Route, Router

_Q = re.compile(r'^(\w+)\{version="(\w+)"((?:,route(?:=|!=|=~|!~)"[^"]*")*)\}\[(\d+)s\]$')
_ROUTE = re.compile(r',route(=|!=|=~|!~)"([^"]*)"')


class FakeRouter(Router):
    kind = "fake"

    def __init__(self, region: str = ""):
        super().__init__({"kind": "fake", "region": region}, "shop")
        self.route = Route()
        self.history: list[Route] = []

    def current(self) -> Route:
        return self.route

    def _set(self, target, previous):
        self.route = target
        self.history.append(target)


class FakeMetrics:
    """requests/s = rps; errors = p * requests for each version; share = canary weight of the router; and
    `header_rps` requests/s that carry the canary header, which reach the canary while the router has a header
    route (labelled route="header" when `labelled`), and `cookie_rps` that carry the canary cookie, the same
    with the cookie route (route="cookie")."""

    def __init__(self, router: FakeRouter, p_stable=0.05, p_canary=0.05, rps=2000.0, canary_alive=True):
        self.router, self.p = router, {"v1": p_stable, "v2": p_canary}
        self.rps, self.canary_alive, self.down = rps, canary_alive, False
        self.queries = 0
        self.header_rps, self.cookie_rps, self.labelled = 0.0, 0.0, True
        self.reset_count: dict = {}  # version -> counter resets in any window
        self.boot = None  # when Prometheus (re)started, if it says

    def latest(self, selector, at=None):
        self.queries += 1
        if self.down:
            raise MetricsUnavailable("connection refused")
        version = re.search(r'version="(\w+)"', selector).group(1)
        if version == "v2" and not self.canary_alive:
            return None
        return at  # every look finds a fresh sample of both versions

    def started(self):
        return self.boot

    def oldest(self, selector, window, at=None):
        return None  # the counters are older than any window

    def resets(self, selector, window, at=None):
        return self.reset_count.get(re.search(r'version="(\w+)"', selector).group(1), 0)

    def scalar(self, expr, at=None):
        self.queries += 1
        if self.down:
            raise MetricsUnavailable("connection refused")
        m = _Q.match(expr)
        assert m, expr
        metric, version, window = m.group(1), m.group(2), float(m.group(4))
        share = self.router.route.canary / 100.0
        if version == "v2":
            share = share if self.canary_alive else 0.0
        else:
            share = 1 - share if self.canary_alive else 1.0
        counts = {"weight": self.rps * window * share, "header": 0.0, "cookie": 0.0}
        for kind, rps in (("header", self.header_rps), ("cookie", self.cookie_rps)):
            if getattr(self.router.route, kind):  # routed: every such request reaches the canary
                counts[kind] = rps * window if version == "v2" else 0.0
            else:  # no such route: they are split by weight too
                counts["weight"] += rps * window * share
        kept = counts
        if self.labelled:
            for op, value in _ROUTE.findall(m.group(3)):
                hit = {"=": lambda k: k == value, "!=": lambda k: k != value,
                       "=~": lambda k: re.fullmatch(value, k) is not None,
                       "!~": lambda k: re.fullmatch(value, k) is None}[op]
                kept = {k: n for k, n in kept.items() if hit(k)}
        n = sum(kept.values())
        return n if metric == "requests" else n * self.p[version]


def git_release(root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text("print('v2')\n")
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    for cmd in (["git", "init", "-q"], ["git", "add", "app.py"], ["git", "commit", "-q", "-m", "v2"]):
        subprocess.run(cmd, cwd=root, check=True, env=env)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


def report(commit: str | None, findings=(), schema: int = 1) -> dict:
    return {
        "schema": schema,
        "tool": {"name": "canary-lint", "version": "0.1.0"},
        "base": "v1",
        "commit": commit,
        "summary": {
            "files": 1,
            "errors": sum(1 for f in findings if f["severity"] == "error"),
            "warnings": 0,
            "infos": 0,
            "suppressed": 0,
        },
        "findings": list(findings),
        "errors": [],
    }


RED = {
    "rule": "CLM101",
    "name": "drop-column-still-read-by-v1",
    "family": "migration",
    "severity": "error",
    "path": "migrations/0002.py",
    "line": 3,
    "column": 1,
    "end_line": 3,
    "end_column": 9,
    "message": "drops users.nickname while v1 still maps it",
    "fix": None,
    "operation": None,
    "pointer": None,
    "fingerprint": "x",
}


def plan_dict(**over) -> dict:
    d = {
        "service": "shop",
        "gate": {"report": "canary-lint.json"},
        "router": {"kind": "command", "set_weight": ["true"]},
        "metrics": {
            "kind": "prometheus",
            "url": "http://127.0.0.1:9",
            "stable": "v1",
            "canary": "v2",
            "down_limit": "0.3s",
            "retries": 0,
            "timeout": "0.2s",
        },
        "traffic": {"grace": "0.2s"},
        "judge": {"alpha": 0.01, "interval": "0.05s"},
        "criteria": [
            {
                "name": "errors",
                "kind": "ratio",
                "bad": 'errors{version="$version"}[$window]',
                "total": 'requests{version="$version"}[$window]',
                "max_increase": "0%",
            }
        ],
        "steps": [
            {"weight": 20, "hold": {"min": "0.1s", "max": "3s"}},
            {"weight": 50, "hold": {"min": "0.1s", "max": "3s"}},
            {"weight": 100},
        ],
    }
    d.update(over)
    return d


def write_release(tmp: Path, findings=(), commit_override: str | None = None, **over) -> Path:
    root = tmp / "release"
    commit = git_release(root)
    (root / "canary-lint.json").write_text(json.dumps(report(commit_override or commit, findings)))
    path = root / "rollout.yaml"
    path.write_text(yaml.safe_dump(plan_dict(**over)))
    return path
