"""The Istio routing `rollout render` writes, run by a real Envoy (Istio's data plane): each step's
VirtualService becomes the RDS route configuration Istio would push (one route per `http` entry in order,
header matches exact or RE2 regex, subsets as clusters, weights as weighted clusters), and real requests on
loopback show what the manifests mean: the header and the cookie reach the canary, the rest follow the
weight, the rollback leaves nothing on the canary. No cluster is needed; the lab's Envoy is started and
stopped by PID (rollout_e2e.Lab), every load bounded in requests.
"""

from __future__ import annotations

import http.client
import json
import time

import yaml
from rollout_e2e import HEALTHY, lab_fixture

from canary_lint.rollout import plan as P
from canary_lint.rollout.k8s import cluster, render
from canary_lint.rollout.routers import Route, files, make
from canary_lint.rollout.routers.envoy import ROUTE_TYPE

lab = lab_fixture("envoy")

PLAN = """
service: shop
gate: {check: {paths: ["."]}}
router: {kind: command, set_weight: ["true"]}
metrics: {kind: prometheus, url: "http://127.0.0.1:9090", version_label: version, stable: v1, canary: v2}
kubernetes: {namespace: shop, port: 8080}
criteria:
  - {name: errors, kind: ratio, bad: 'sum(rate(e{version="$version"}[$window]))',
     total: 'sum(rate(r{version="$version"}[$window]))', max_increase: 10%}
steps:
  - {header: {name: X-Canary, value: internal}, hold: 1m}
  - {cookie: {name: beta, value: yes.1}, hold: 1m}
  - {weight: 20, hold: 1m}
  - {weight: 100}
"""


def rds_of(vs: dict, clusters: dict[str, str], name: str, version: str) -> str:
    """The route configuration of one VirtualService, as Istio translates it for the sidecar or gateway."""
    routes = []
    for entry in vs["spec"]["http"]:
        match: dict = {"prefix": "/"}
        headers = []
        for block in entry.get("match", []):
            for header, how in block.get("headers", {}).items():
                string_match = {"exact": how["exact"]} if "exact" in how else {"safe_regex": {"regex": how["regex"]}}
                headers.append({"name": header, "string_match": string_match})
        if headers:
            match["headers"] = headers
        dests = [(clusters[d["destination"]["subset"]], d.get("weight", 100)) for d in entry["route"]]
        action = {"cluster": dests[0][0]} if len(dests) == 1 else \
            {"weighted_clusters": {"clusters": [{"name": c, "weight": w} for c, w in dests]}}
        routes.append({"name": "split" if entry["name"] == render.PRIMARY else entry["name"], "match": match,
                       "route": action})
    config = {"@type": ROUTE_TYPE, "name": name, "validate_clusters": True,
              "virtual_hosts": [{"name": name, "domains": ["*"], "routes": routes}]}
    return json.dumps({"version_info": version, "resources": [config]}, indent=1) + "\n"


def _seen(route: Route) -> tuple:
    return round(route.canary), route.header and (route.header[0].lower(), route.header[1]), route.cookie


def answers(port: int, n: int, headers: dict | None = None) -> list[str]:
    out = []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/", headers=headers or {})
            out.append(conn.getresponse().read().decode().strip())
        finally:
            conn.close()
    return out


def test_the_rendered_virtual_services_route_real_requests_through_envoy(lab, tmp_path):
    v1, v2 = lab.start("istio-envoy", HEALTHY, HEALTHY, proxy="envoy")
    lab.load.stop()  # this scenario sends its own requests
    envoy = lab.proxies["envoy"]
    path = tmp_path / "rollout.yaml"
    path.write_text(PLAN)
    plan = P.load(path)
    layout = render.steps(plan, cluster.cluster(plan), "istio")
    clusters = {"stable": envoy.spec["stable_cluster"], "canary": envoy.spec["canary_cluster"]}
    reader = make(envoy.spec, "shop")
    wanted = [sr.route for sr in cluster.step_routes(plan)] + [Route()]
    assert [d for d, _, _ in layout] == ["01-header-x-canary", "02-cookie-beta", "03-weight-20", "04-weight-100",
                                         "rollback"]
    for (directory, _, objs), route in zip(layout, wanted):
        vs = next(o for o in objs if o["kind"] == "VirtualService")
        vs = yaml.safe_load(render.dump([vs], directory))  # what the file says, not the object in memory
        files.write(envoy.rds, rds_of(vs, clusters, "shop", f"step-{directory}"))
        deadline = time.monotonic() + 10
        while _seen(reader.current()) != _seen(route):  # Istio writes header names lower-cased
            assert time.monotonic() < deadline, f"{directory}: Envoy shows {reader.current().describe()}, " \
                                                f"not {route.describe()}"
            time.sleep(0.05)
        plain = answers(envoy.port, 300)
        share = plain.count(v2) / len(plain)
        assert abs(share - route.canary / 100) < 0.09, (directory, share)  # within 4 sd of the weight
        for sent, routed in (({"X-Canary": "internal"}, route.header),
                             ({"Cookie": "session=1; beta=yes.1; theme=dark"}, route.cookie)):
            got = set(answers(envoy.port, 30, sent))
            if routed:
                assert got == {v2}, (directory, sent)  # every such request reaches the canary
            elif route.canary == 0:
                assert got == {v1}, (directory, sent)  # no route for it: the weight, 0%, decides
        if route.cookie:
            near = answers(envoy.port, 100, {"Cookie": "beta=yes.10; xbeta=yes.1; beta=yesX1"})  # none is the cookie
            assert abs(near.count(v2) / len(near) - route.canary / 100) < 0.18, directory
    assert set(answers(envoy.port, 50)) == {v1}  # after the rollback manifests, nothing reaches the canary


def test_the_translation_reads_what_render_writes(tmp_path):
    path = tmp_path / "rollout.yaml"
    path.write_text(PLAN)
    plan = P.load(path)
    vs = render.virtual_service(cluster.cluster(plan), Route(20, ("X-Canary", "internal"), ("beta", "yes.1")))
    config = json.loads(rds_of(vs, {"stable": "s", "canary": "c"}, "shop", "1"))["resources"][0]
    routes = config["virtual_hosts"][0]["routes"]
    assert [r["name"] for r in routes] == ["canary-header", "canary-cookie", "split"]
    assert routes[1]["match"]["headers"][0]["string_match"]["safe_regex"]["regex"].startswith("^")
    assert routes[2]["route"]["weighted_clusters"]["clusters"] == [{"name": "s", "weight": 80},
                                                                    {"name": "c", "weight": 20}]
