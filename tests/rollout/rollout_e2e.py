"""What the end-to-end modules share: `Lab` (Prometheus and the proxies of a module, the scenario's demo
processes and load), the plan every scenario starts from, running `canary-lint rollout` as an operator would,
and the figures docs/rollout.md reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from rollout_fakes import git_release, report
from rollout_lab import Demo, HAProxy, Load, Nginx, Prometheus, free_port
from rollout_lab_proxies import Apache, Envoy, Traefik

from canary_lint.rollout.journal import Journal
from canary_lint.rollout.routers import Route, make


def lab_fixture(*proxies: str):
    """A module-scoped `lab` fixture with these proxies."""

    @pytest.fixture(scope="module")
    def lab(tmp_path_factory):
        lab = Lab(tmp_path_factory.mktemp("lab"), proxies)
        try:
            yield lab
        finally:
            lab.close()

    return lab


PROXIES = {"nginx": Nginx, "haproxy": HAProxy, "envoy": Envoy, "traefik": Traefik, "apache": Apache}


class Lab:
    """Prometheus (1 s scrapes) watching the stable and canary ports and the `proxies` in front of them, started
    once per module; each scenario starts its own demo processes and load."""

    def __init__(self, tmp: Path, proxies=("nginx", "haproxy")):
        self.tmp = tmp
        self.stable_port, self.canary_port = free_port(), free_port()
        self.proxies: dict = {}
        self.demos: list[Demo] = []
        self.load: Load | None = None
        self.prom = Prometheus(tmp, [self.stable_port, self.canary_port])
        try:
            for name in proxies:
                self.proxies[name] = PROXIES[name](tmp, self.stable_port, self.canary_port)
        except BaseException:
            self.close()
            raise

    def __getattr__(self, name: str):  # lab.nginx, lab.envoy, ...
        proxies = self.__dict__.get("proxies", {})
        if name in proxies:
            return proxies[name]
        raise AttributeError(name)

    def router(self, proxy: str):
        return make(self.proxies[proxy].spec, "shop")

    def start(
        self, name: str, stable: dict, canary: dict | None, proxy: str = "nginx", rps: float = 200,
        cookie_share: float = 0.0,
    ) -> tuple[str, str]:
        self.finish()
        for p in self.proxies:
            self.router(p).apply(Route())
        v1, v2 = f"v1-{name}", f"v2-{name}"
        jobs = "".join(part.scrape_job(v1, v2) for part in self.proxies.values() if hasattr(part, "scrape_job"))
        if jobs:  # the proxies' own counters, labelled with this scenario's versions
            self.prom.reload(jobs, expect=v2)
        self.demos = [Demo(self.tmp, self.stable_port, v1, **stable)]
        if canary is not None:
            self.demos.append(Demo(self.tmp, self.canary_port, v2, **canary))
        self.load = Load(self.proxies[proxy].port, rps=rps, limit=150, cookie_share=cookie_share)
        self._warm(v1)
        return v1, v2
    def _warm(self, version: str) -> None:
        """Wait until Prometheus has a few seconds of the baseline's counters."""
        q = f'sum(increase(http_requests_total{{version="{version}"}}[3s]))'
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            url = f"{self.prom.url}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            with urllib.request.urlopen(url, timeout=2) as r:
                res = json.loads(r.read())["data"]["result"]
            if res and float(res[0]["value"][1]) > 50:
                return
            time.sleep(0.25)
        raise RuntimeError("Prometheus has no baseline traffic after 30 s")

    def finish(self) -> None:
        if self.load:
            self.load.stop()
            self.load = None
        for d in self.demos:
            d.stop()
        self.demos = []

    def close(self) -> None:
        self.finish()
        for part in (*self.proxies.values(), self.prom):
            part.stop()


def record(scenario: str, **figures) -> None:
    """Figures of a scenario for docs/rollout.md, appended as JSON lines to $ROLLOUT_SCENARIO_LOG when set."""
    log = os.environ.get("ROLLOUT_SCENARIO_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"scenario": scenario, **figures}) + "\n")


def figures(j: Journal, rollout_id: int) -> dict:
    """Time to detect (first routing of the judged stage -> rollback decision) and rollback latency."""
    ev = j.events(rollout_id)
    first = next((e["ts"] for e in ev if e["kind"] == "route-verified"), None)
    intent = next((e["ts"] for e in ev if e["kind"] == "rollback-intent"), None)
    done = next((e for e in ev if e["kind"] == "rollback-done"), None)
    return {
        "detect_s": round(intent - first, 2) if intent and first else None,
        "rollback_ms": round(done["data"]["seconds"] * 1000, 1) if done else None,
        "state": j.get(rollout_id).state,
    }


def write_plan(
    tmp: Path,
    lab: Lab,
    versions,
    steps,
    proxy="nginx",
    prom_url=None,
    findings=(),
    metrics=None,
    apart=False,
    traffic=None,
    **extra,
) -> Path:
    """`apart`: the demo's `route` label tells header-routed requests apart (metrics.header_routed, $route);
    `traffic`: keys of the plan's `traffic` section (the share check's query)."""
    root = tmp / "release"
    commit = git_release(root)
    (root / "canary-lint.json").write_text(json.dumps(report(commit, findings)))
    router = lab.proxies[proxy].spec
    route = ",$route" if apart else ""
    total = f'sum(increase(http_requests_total{{version="$version"{route}}}[$window]))'
    if apart:
        metrics = {"header_routed": 'route="header"', **(metrics or {})}
    plan = {
        "service": "shop",
        "gate": {"report": "canary-lint.json"},
        "router": router,
        "metrics": {
            "kind": "prometheus",
            "url": prom_url or lab.prom.url,
            "stable": versions[0],
            "canary": versions[1],
            "timeout": "1s",
            "retries": 1,
            "down_limit": "3s",
            **(metrics or {}),
        },
        "traffic": {"grace": "5s", "tolerance": "50%", **(traffic or {})},
        "judge": {"alpha": 0.01, "power": 0.8, "interval": "1s"},
        "criteria": [
            {
                "name": "errors",
                "kind": "ratio",
                "total": total,
                "max_increase": "10%",
                "detect": "100%",
                "bad": f'sum(increase(http_requests_total{{version="$version",code=~"5.."{route}}}[$window]))',
            },
            {
                "name": "latency",
                "kind": "latency",
                "histogram": "http_request_duration_seconds",
                "quantiles": [0.99],
                "max_increase": "50ms",
            },
        ],
        "steps": steps,
        **extra,
    }
    path = root / "rollout.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def rollout(*args, timeout=150) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "canary_lint", "rollout", *args], capture_output=True, text=True, timeout=timeout
    )


def rollout_killed_at(plan: Path, transition: str, timeout=150) -> subprocess.CompletedProcess:
    """Run the plan with the runner SIGKILLing itself right after journaling `transition` (kind[:n])."""
    return subprocess.run(
        [sys.executable, "-m", "canary_lint", "rollout", str(plan)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CANARY_LINT_KILL_AFTER": transition},
    )


def journal_of(plan: Path) -> Journal:
    return Journal(plan.parent / ".canary-lint" / "rollout.sqlite")


HOLD = {"min": "3s", "max": "60s"}  # max: room for a loaded CI machine; a healthy stage passes in ~5-20 s
HEALTHY = {"error_rate": 0.05, "latency_ms": 20}


HEADER_THEN_WEIGHTS = [
    {"header": {"name": "X-Canary", "value": "internal"}, "hold": HOLD},
    # at 5% of 200 req/s the p99 test needs ~1,700 canary requests, ~3 min: a shorter hold.max is refused
    # before it starts (rollout/feasible.py); a healthy canary still passes it in seconds
    {"weight": 5, "hold": {"min": HOLD["min"], "max": "4m"}},
    {"weight": 20, "hold": HOLD},
    {"weight": 100},
]


def weight_shares(j, rollout_id, stage):
    return [
        v["numbers"]["share"]
        for e in j.events(rollout_id, "measurement")
        if e["stage"] == stage
        for v in e["data"]["verdicts"]
        if v["criterion"] == "traffic" and "share" in v["numbers"]
    ]
