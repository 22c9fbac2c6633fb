"""`rollout render` and `rollout export`: every object written validates against its CRD (read back from the
files, not taken from memory), the steps follow the plan, and what cannot be carried is refused with exit 2
naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from canary_lint.rollout import plan as P
from canary_lint.rollout.k8s import K8sError
from canary_lint.rollout.k8s import argo, cluster, render
from canary_lint.rollout.k8s.validate import validate
from canary_lint.rollout.runner import Runner

PLAN = """
service: shop
gate: {check: {paths: ["."], base: origin/main, fail_on: warning}}
router: {kind: command, set_weight: ["true"]}
metrics: {kind: prometheus, url: "http://127.0.0.1:9090", version_label: version, stable: v1, canary: v2}
kubernetes:
  namespace: shop
  port: 8080
  prometheus: http://prometheus.monitoring:9090
  parent_refs: [{name: public, namespace: infra, sectionName: https}]
  hostnames: [shop.example.com]
criteria:
  - {name: errors, kind: ratio, bad: 'sum(increase(http_requests_total{version="$version",code=~"5.."}[$window]))',
     total: 'sum(increase(http_requests_total{version="$version"}[$window]))', max_increase: 10%, negligible: 0.1%}
  - {name: checkout, kind: ratio, good: 'sum(increase(checkouts_total{version="$version"}[$window]))',
     total: 'sum(increase(http_requests_total{version="$version"}[$window]))', max_decrease: 2%}
steps:
  - {header: {name: X-Canary, value: internal}, hold: 10m}
  - {weight: 5, hold: {min: 30m, max: 1h}}
  - {weight: 20, hold: 15m}
  - {pause: "check the dashboards"}
  - {weight: 50, hold: 15m}
  - {weight: 100}
"""

LATENCY = {"name": "latency", "kind": "latency", "histogram": "http_request_duration_seconds", "max_increase": "50ms"}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   check=True, capture_output=True)


def _plan(tmp_path: Path, edit=None) -> Path:
    data = yaml.safe_load(PLAN)
    if edit:
        edit(data)
    root = tmp_path / "release"
    root.mkdir(exist_ok=True)
    path = root / "rollout.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if not (root / ".git").exists():
        _git(root, "init", "-q")
        _git(root, "remote", "add", "origin", "https://git.example.com/shop.git")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "release")
    return path


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "canary_lint", "rollout", *args], capture_output=True, text=True,
                          timeout=120)


def _read(directory: Path) -> list[tuple[Path, dict]]:
    out = []
    for path in sorted(directory.rglob("*.yaml")):
        text = path.read_text()
        assert "kubectl apply --server-side --dry-run=server" in text
        out += [(path, doc) for doc in yaml.safe_load_all(text) if doc]
    return out


def _all_valid(objs) -> None:
    bad = [f"{p}: {r.describe()}" for p, r in ((p, validate(o)) for p, o in objs) if not r.ok or r.problems]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("edit", [None, lambda d: _with_cookie(d)])
def test_step_routes_fold_like_the_runner(tmp_path, edit):
    plan = P.load(_plan(tmp_path, edit))
    runner = SimpleNamespace(plan=plan)
    assert [sr.route for sr in cluster.step_routes(plan)] == [Runner.route_at(runner, i) for i in range(len(plan.steps))]


@pytest.mark.parametrize("target", ["istio", "gateway-api"])
def test_render_writes_every_step_and_the_rollback_all_valid(tmp_path, target):
    out = tmp_path / "out"
    proc = _cli("render", str(_plan(tmp_path)), "--to", target, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    dirs = sorted(p.name for p in out.iterdir())
    assert dirs == ["01-header-x-canary", "02-weight-5", "03-weight-20", "04-pause", "05-weight-50", "06-weight-100",
                    "rollback"]
    objs = _read(out)
    _all_valid(objs)
    by_dir = {p.parent.name: o for p, o in objs if o["kind"] in ("VirtualService", "HTTPRoute")}
    for d, canary, header in [("01-header-x-canary", 0, True), ("02-weight-5", 5, True), ("04-pause", 20, True),
                              ("06-weight-100", 100, False), ("rollback", 0, False)]:
        obj = by_dir[d]
        if target == "istio":
            rules = {r["name"]: r for r in obj["spec"]["http"]}
            weights = {dst["destination"]["subset"]: dst["weight"] for dst in rules["primary"]["route"]}
            assert weights == {"stable": 100 - canary, "canary": canary}
            assert ("canary-header" in rules) is header
            if header:
                assert rules["canary-header"]["match"] == [{"headers": {"x-canary": {"exact": "internal"}}}]
                assert list(rules) == ["canary-header", "primary"]
        else:
            rules = {r["name"]: r for r in obj["spec"]["rules"]}
            weights = {b["name"]: b["weight"] for b in rules["primary"]["backendRefs"]}
            assert weights == {"shop-stable": 100 - canary, "shop-canary": canary}
            assert ("canary-header" in rules) is header
            assert obj["spec"]["parentRefs"] == [{"name": "public", "namespace": "infra", "sectionName": "https"}]
    if target == "istio":
        dr = next(o for p, o in objs if o["kind"] == "DestinationRule")
        assert dr["spec"]["subsets"] == [{"name": "stable", "labels": {"version": "v1"}},
                                         {"name": "canary", "labels": {"version": "v2"}}]


def test_render_fractional_weights(tmp_path):
    def edit(d):
        d["steps"][1]["weight"] = 2.5

    path = _plan(tmp_path, edit)
    plan = P.load(path)
    c = cluster.cluster(plan)
    route = render.steps(plan, c, "gateway-api")[1][2][0]
    assert [b["weight"] for b in route["spec"]["rules"][1]["backendRefs"]] == [975, 25]
    with pytest.raises(K8sError, match="steps/1: weight 2.5% is not a whole percent"):
        render.steps(plan, c, "istio")


def test_render_gamma_mesh_when_no_gateway(tmp_path):
    plan = P.load(_plan(tmp_path, lambda d: d["kubernetes"].pop("parent_refs")))
    route = render.http_route(cluster.cluster(plan), plan_route := render.Route(20.0))  # noqa: F841
    assert route["spec"]["parentRefs"] == [{"group": "", "kind": "Service", "name": "shop", "port": 8080}]
    assert validate(route).ok


@pytest.mark.parametrize("traffic", ["istio", "gateway-api", "nginx"])
def test_argo_export_validates_and_follows_the_plan(tmp_path, traffic):
    out = tmp_path / "argo"
    proc = _cli("export", str(_plan(tmp_path)), "--to", "argo-rollouts", "--traffic", traffic, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    objs = _read(out)
    _all_valid(objs)
    kinds = sorted(o["kind"] for _, o in objs)
    extra = {"istio": ["DestinationRule", "VirtualService"], "gateway-api": ["HTTPRoute"], "nginx": []}[traffic]
    assert kinds == sorted(["Rollout"] + ["AnalysisTemplate"] * 5 + extra)
    rollout = next(o for _, o in objs if o["kind"] == "Rollout")
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    shape = [next(iter(s)) for s in steps]
    assert shape[0] == "analysis" and steps[0]["analysis"]["templates"] == [{"templateName": "shop-gate"}]
    weights = [s["setWeight"] for s in steps if "setWeight" in s]
    assert weights == [5, 20, 50, 100]
    assert {"pause": {}} in steps
    if traffic != "nginx":
        name = "x-canary" if traffic == "istio" else "X-Canary"  # Istio matches keys written in lower case
        assert shape[1] == "setHeaderRoute" and steps[1]["setHeaderRoute"]["match"][0]["headerName"] == name
        assert steps[-2] == {"setHeaderRoute": {"name": "canary-header"}}  # removed before promotion
    else:
        ann = rollout["spec"]["strategy"]["canary"]["trafficRouting"]["nginx"]["additionalIngressAnnotations"]
        assert ann == {"canary-by-header": "X-Canary", "canary-by-header-value": "internal"}
    # every judged step is followed by its analysis
    for i, s in enumerate(steps[:-1]):
        if "setWeight" in s and s["setWeight"] < 100:
            assert steps[i + 1]["analysis"]["templates"][0]["templateName"].startswith("shop-stage-")
    gate = next(o for _, o in objs if o["metadata"]["name"] == "shop-gate")
    cmd = gate["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "canary-lint check . --base origin/main --fail-on warning" in cmd[2]
    assert "https://git.example.com/shop.git" in cmd[2]


def test_argo_stage_metrics_guard_no_data_and_carry_the_test(tmp_path):
    plan = P.load(_plan(tmp_path))
    c = cluster.cluster(plan)
    tmpl, note = argo.stage_template(plan, c, 1, plan.steps[1])
    metrics = {m["name"]: m for m in tmpl["spec"]["metrics"]}
    assert set(metrics) == {"traffic", "errors", "errors-deadline", "checkout", "checkout-deadline"}
    k, every = argo.looks(plan.steps[1], plan.interval)
    assert k == 20 and every == pytest.approx(1800 / 19)
    e = metrics["errors"]
    assert e["initialDelay"] == "1800s" and e["count"] == k and e["failureLimit"] == 0
    assert e["inconclusiveLimit"] == k and e["consecutiveSuccessLimit"] == 1
    for m in metrics.values():
        assert m["successCondition"].startswith("len(result) > 0 && !isNaN(result[0])")
    assert metrics["errors-deadline"]["failureLimit"] == k - 1 and "failureCondition" not in metrics["errors-deadline"]
    assert "[1800s]" in e["provider"]["prometheus"]["query"]
    assert "errors.negligible" in note and "Bonferroni" in note


def _latency(d):
    d["criteria"].append(dict(LATENCY))


def _gauge(d):
    d["criteria"].append({"name": "memory", "kind": "gauge", "max_increase": "10%",
                          "query": 'avg(process_resident_memory_bytes{version="$version"})'})


@pytest.mark.parametrize("target", ["argo-rollouts", "flagger"])
@pytest.mark.parametrize("edit, named", [(_latency, "criterion latency (latency)"), (_gauge, "criterion memory (gauge)")])
def test_export_refuses_what_it_would_weaken(tmp_path, target, edit, named):
    proc = _cli("export", str(_plan(tmp_path, edit)), "--to", target)
    assert proc.returncode == 2
    assert named in proc.stderr and "without weakening" in proc.stderr
    assert proc.stdout == ""


def test_flagger_refuses_header_and_mid_plan_pause(tmp_path):
    proc = _cli("export", str(_plan(tmp_path)), "--to", "flagger")
    assert proc.returncode == 2 and "steps/0: header X-Canary" in proc.stderr

    def no_header(d):
        d["steps"] = d["steps"][1:]

    proc = _cli("export", str(_plan(tmp_path, no_header)), "--to", "flagger")
    assert proc.returncode == 2 and "steps/2: pause" in proc.stderr


@pytest.mark.parametrize("traffic", ["istio", "gateway-api", "nginx"])
def test_flagger_export_validates(tmp_path, traffic):
    def edit(d):
        d["steps"] = [s for s in d["steps"] if "header" not in s and "pause" not in s]
        d["steps"].insert(-1, {"pause": "promote by hand"})

    out = tmp_path / "flagger"
    proc = _cli("export", str(_plan(tmp_path, edit)), "--to", "flagger", "--traffic", traffic, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    objs = _read(out)
    _all_valid(objs)
    canary = next(o for _, o in objs if o["kind"] == "Canary")
    a = canary["spec"]["analysis"]
    assert a["stepWeights"] == [5, 20, 50] and a["interval"] == "1800s" and a["threshold"] == 1
    assert [w["type"] for w in a["webhooks"]] == ["pre-rollout", "confirm-promotion"]
    assert "canary-lint check" in a["webhooks"][0]["metadata"]["cmd"]
    lower = next(m for m in a["metrics"] if m["name"] == "errors")["thresholdRange"]["max"]
    assert lower < 0
    templates = {o["metadata"]["name"]: o for _, o in objs if o["kind"] == "MetricTemplate"}
    assert set(templates) == {"shop-traffic", "shop-errors", "shop-checkout"}
    assert "[{{ interval }}]" in templates["shop-errors"]["spec"]["query"]


def test_export_to_stdout_and_the_validate_command(tmp_path):
    proc = _cli("export", str(_plan(tmp_path)), "--to", "argo-rollouts")
    assert proc.returncode == 0, proc.stderr
    f = tmp_path / "all.yaml"
    f.write_text(proc.stdout)
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert len(docs) == 8
    ok = _cli("validate", str(f))
    assert ok.returncode == 0 and ok.stdout.count(": valid") == 8
    docs[0]["spec"]["strategy"]["canary"]["steps"][1]["setWieght"] = 5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    proc = _cli("validate", str(bad))
    assert proc.returncode == 1 and 'spec.strategy.canary.steps[1].setWieght: unknown field' in proc.stdout
    assert _cli("validate", str(tmp_path / "missing.yaml")).returncode == 2


def test_kubernetes_names_are_checked(tmp_path):
    plan = P.load(_plan(tmp_path, lambda d: d.update(service="Shop_API")))
    with pytest.raises(K8sError, match="kubernetes.service"):
        cluster.cluster(plan)
    assert cluster.cluster(plan, service="shop-api").service == "shop-api"


def _with_cookie(d):
    d["steps"].insert(1, {"cookie": {"name": "beta", "value": "yes.1"}, "hold": d["steps"][0]["hold"]})


BETA = r"^(?:.*;\s*)?beta=yes\.1(?:;.*)?$"


@pytest.mark.parametrize("target", ["istio", "gateway-api"])
def test_render_a_cookie_step_routes_the_cookie_until_promotion(tmp_path, target):
    out = tmp_path / "out"
    proc = _cli("render", str(_plan(tmp_path, _with_cookie)), "--to", target, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    objs = _read(out)
    _all_valid(objs)
    by_dir = {p.parent.name: o for p, o in objs if o["kind"] in ("VirtualService", "HTTPRoute")}
    assert "02-cookie-beta" in by_dir
    for d, cookie in [("01-header-x-canary", False), ("02-cookie-beta", True), ("03-weight-5", True),
                      ("07-weight-100", False), ("rollback", False)]:
        obj = by_dir[d]
        rules = obj["spec"]["http"] if target == "istio" else obj["spec"]["rules"]
        names = [r["name"] for r in rules]
        assert ("canary-cookie" in names) is cookie, (d, names)
        if cookie:
            assert names == ["canary-header", "canary-cookie", "primary"]
            rule = rules[1]
            if target == "istio":
                assert rule["match"] == [{"headers": {"cookie": {"regex": BETA}}}]
                assert rule["route"][0]["destination"]["subset"] == "canary"
            else:
                assert rule["matches"][0]["headers"] == [{"type": "RegularExpression", "name": "Cookie", "value": BETA}]
                assert rule["backendRefs"][0]["name"] == "shop-canary"


def test_the_cookie_expression_matches_the_cookie_wherever_it_sits():
    import re

    rx = re.compile(BETA)
    for header in ("beta=yes.1", "a=1; beta=yes.1", "beta=yes.1; b=2", "a=1;beta=yes.1;b=2"):
        assert rx.fullmatch(header), header
    for header in ("beta=yes.10", "xbeta=yes.1", "beta=yesx1", "a=beta=yes.1", ""):
        assert not rx.fullmatch(header), header


@pytest.mark.parametrize("traffic", ["istio", "gateway-api"])
def test_argo_export_carries_a_cookie_step_as_a_managed_header_route(tmp_path, traffic):
    out = tmp_path / "argo"
    proc = _cli("export", str(_plan(tmp_path, _with_cookie)), "--to", "argo-rollouts", "--traffic", traffic,
                "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    objs = _read(out)
    _all_valid(objs)
    rollout = next(o for _, o in objs if o["kind"] == "Rollout")
    canary = rollout["spec"]["strategy"]["canary"]
    assert canary["trafficRouting"]["managedRoutes"] == [{"name": "canary-header"}, {"name": "canary-cookie"}]
    steps = canary["steps"]
    cookie = [s["setHeaderRoute"] for s in steps if "setHeaderRoute" in s and s["setHeaderRoute"]["name"] == "canary-cookie"]
    header = "cookie" if traffic == "istio" else "Cookie"
    assert cookie == [{"name": "canary-cookie", "match": [{"headerName": header, "headerValue": {"regex": BETA}}]},
                      {"name": "canary-cookie"}]  # set at its step, removed before the weight reaches 100
    assert steps.index({"setHeaderRoute": {"name": "canary-cookie"}}) < steps.index({"setWeight": 100})
    # the cookie stage is judged on canary requests, like a header stage
    stage = next(o for _, o in objs if o["metadata"]["name"] == "shop-stage-02")
    assert stage["spec"]["metrics"][0]["name"] == "traffic"
    assert "> 0.0" in stage["spec"]["metrics"][0]["successCondition"]


@pytest.mark.parametrize("args, named", [(["--to", "flagger"], "cannot be exported to Flagger"),
                                         (["--to", "argo-rollouts", "--traffic", "nginx"], "canary-by-cookie")])
def test_a_cookie_step_is_refused_where_it_cannot_be_carried(tmp_path, args, named):
    def cookie_first(d):  # in place of the header step, which Flagger refuses too
        d["steps"][0] = {"cookie": {"name": "beta", "value": "yes.1"}, "hold": d["steps"][0]["hold"]}

    proc = _cli("export", str(_plan(tmp_path, cookie_first)), *args)
    assert proc.returncode == 2 and "steps/0: cookie beta=yes.1" in proc.stderr and named in proc.stderr, proc.stderr
