"""The exported PromQL against a real Prometheus (started like the rollout lab's, 1 s scrapes of a counter
server on 127.0.0.1): at the same instant, the exported log likelihood ratio equals the runner's own
judge.ratio_llr of the runner's own four queries, the share expression equals the runner's share check
arithmetic, and a version without series gives an empty result (no data), never a number."""

from __future__ import annotations

import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from rollout_lab import Prometheus, have

from canary_lint.rollout import judge as J
from canary_lint.rollout import plan as P
from canary_lint.rollout.k8s import promql as Q
from canary_lint.rollout.metrics.prometheus import Prometheus as Client

# `python3 scripts/dev.py test` installs Prometheus; without it these tests fail, never skip
assert have("prometheus"), "needs the prometheus binary (python3 scripts/dev.py test installs it)"

START = time.time()
RATES = {("v1", "200"): 99.0, ("v1", "500"): 1.0, ("v2", "200"): 17.0, ("v2", "500"): 3.0}
PLAN = {
    "service": "shop", "gate": {"report": "r.json"}, "router": {"kind": "command", "set_weight": ["true"]},
    "metrics": {"kind": "prometheus", "url": "http://127.0.0.1:9", "stable": "v1", "canary": "v2"},
    "criteria": [
        {"name": "errors", "kind": "ratio", "max_increase": "10%",
         "bad": 'sum(increase(http_requests_total{version="$version",code=~"5.."}[$window]))',
         "total": 'sum(increase(http_requests_total{version="$version"}[$window]))'},
        {"name": "ok", "kind": "ratio", "max_decrease": "2%",
         "good": 'sum(increase(http_requests_total{version="$version",code="200"}[$window]))',
         "total": 'sum(increase(http_requests_total{version="$version"}[$window]))'}],
    "steps": [{"weight": 20, "hold": "1m"}, {"weight": 100}],
}


class Counters(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        t = time.time() - START
        body = "".join(f'http_requests_total{{version="{v}",code="{c}"}} {rate * t:.3f}\n'
                       for (v, c), rate in RATES.items()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counters)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    p = Prometheus(tmp_path_factory.mktemp("prom"), [server.server_address[1]])
    client = Client(p.url, timeout=5, retries=2)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:  # enough samples for an 8 s window
        if (client.scalar('count_over_time(http_requests_total{version="v1",code="200"}[20s])') or 0) >= 10:
            break
        time.sleep(0.5)
    yield client
    p.stop()
    server.shutdown()


@pytest.fixture
def plan(tmp_path):
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(PLAN))
    return P.load(path)


def _runner_query(expr: str, version: str, window: str) -> str:
    return expr.replace("$version", version).replace("$window", window)


@pytest.mark.parametrize("name", ["errors", "ok"])
def test_exported_llr_is_the_runners_llr(prom, plan, name):
    crit = next(c for c in plan.criteria if c.name == name)
    t = Q.ratio_test(crit)
    at, window = time.time() - 1.5, "8s"
    x_c, n_c, x_b, n_b = (prom.scalar(_runner_query(q, v, window), at=at)
                          for q, v in ((t.events, "v2"), (t.total, "v2"), (t.events, "v1"), (t.total, "v1")))
    assert n_c and n_b and n_c > 50
    x_c, n_c, x_b, n_b = (max(0, round(v)) for v in (x_c, n_c, x_b, n_b))  # as judge_ratio rounds
    want = J.ratio_llr(x_c, n_c, x_b, n_b, t.r0, t.r1)
    s = Q.Subst(window=window, stable="v1", canary="v2", service="shop")
    got = prom.query(Q.llr_expr(plan, t, s), at=at)
    assert len(got) == 1
    assert got[0][1] == pytest.approx(want, rel=1e-9, abs=1e-9)
    upper, lower = Q.bounds(plan.alpha_per_test, 1 - plan.power)
    verdict = J.judge_ratio(name, x_c, n_c, x_b, n_b, direction=t.direction, tolerance=t.r0 - 1 if t.direction ==
                            "increase" else 1 - t.r0, detect=abs(t.r1 - 1), alpha=plan.alpha_per_test,
                            power=plan.power, detail=False)
    assert verdict.numbers["llr"] == pytest.approx(want, abs=1e-4)
    exported = "fail" if got[0][1] >= upper else "pass" if got[0][1] <= lower else "inconclusive"
    assert exported == verdict.outcome


def test_exported_share_is_the_runners_share_check(prom, plan):
    at, window = time.time() - 1.5, "8s"
    total = plan.criteria[0].raw["total"]
    n_c = prom.scalar(_runner_query(total, "v2", window), at=at)
    n_b = prom.scalar(_runner_query(total, "v1", window), at=at)
    target = 0.2
    slack = plan.traffic_tolerance * target + 3 * math.sqrt(target * (1 - target) / (n_c + n_b))
    want = abs(n_c / (n_c + n_b) - target) - slack
    s = Q.Subst(window=window, stable="v1", canary="v2", service="shop")
    got = prom.query(Q.share_expr(plan, s, repr(target)), at=at)
    assert got[0][1] == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert got[0][1] <= 0  # 20 of 120 req/s is within the runner's slack of 20%


def test_no_data_is_an_empty_result_never_a_number(prom, plan):
    t = Q.ratio_test(plan.criteria[0])
    s = Q.Subst(window="8s", stable="v1", canary="v9", service="shop")
    assert prom.query(Q.llr_expr(plan, t, s)) == []
    assert prom.query(Q.share_expr(plan, s, "0.2")) == []
