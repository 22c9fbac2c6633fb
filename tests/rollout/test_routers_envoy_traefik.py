"""Envoy and Traefik routers without the binaries: the files they write, the values they refuse, the plan keys.
The same routers against real Envoy and Traefik: test_e2e_proxies.py."""

from __future__ import annotations

import json

import pytest
import yaml
from rollout_fakes import plan_dict

from canary_lint.rollout import plan as P
from canary_lint.rollout.routers import Route, RouterError, make


def envoy_spec(tmp_path, **over):
    spec = {"kind": "envoy", "admin": "127.0.0.1:9901", "rds_file": str(tmp_path / "rds" / "shop.json"),
            "stable_cluster": "shop_v1", "canary_cluster": "shop_v2"}
    spec.update(over)
    return spec


def traefik_spec(tmp_path, **over):
    spec = {"kind": "traefik", "dynamic_file": str(tmp_path / "dynamic" / "shop.yaml"), "api": "127.0.0.1:8080",
            "stable": "127.0.0.1:8001", "canary": "127.0.0.1:8002"}
    spec.update(over)
    return spec


def _routes(text: str) -> dict:
    doc = json.loads(text)
    (config,) = doc["resources"]
    assert config["@type"] == "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
    assert config["validate_clusters"] is True  # a cluster Envoy does not know is a rejected update
    (host,) = config["virtual_hosts"]
    return {r["name"]: r for r in host["routes"]}, doc["version_info"], host


def test_envoy_rds_file_weighs_clusters_in_hundredths_and_puts_the_header_route_first(tmp_path):
    router = make(envoy_spec(tmp_path, header_cluster="shop_v2_header", domains=["shop.example.com", "*"]), "shop")
    routes, version, host = _routes(router.render(Route(33.5, ("X-Canary", "internal")), "g7"))
    assert version == "g7" and host["domains"] == ["shop.example.com", "*"]
    assert list(routes) == ["canary-header", "split"]  # Envoy takes the first route that matches
    assert routes["canary-header"]["match"] == {
        "prefix": "/", "headers": [{"name": "X-Canary", "string_match": {"exact": "internal"}}]}
    assert routes["canary-header"]["route"] == {"cluster": "shop_v2_header"}
    assert routes["split"]["route"]["weighted_clusters"]["clusters"] == [
        {"name": "shop_v1", "weight": 6650}, {"name": "shop_v2", "weight": 3350}]
    routes, _, _ = _routes(router.render(Route(0), "g8"))
    assert list(routes) == ["split"]
    assert [c["weight"] for c in routes["split"]["route"]["weighted_clusters"]["clusters"]] == [10000, 0]
    assert router._route_of(json.loads(router.render(Route(5, ("X-Canary", "a")), "g"))["resources"][0]) == \
        Route(5, ("X-Canary", "a"))  # what it writes, it reads back


def test_traefik_dynamic_file_is_yaml_with_a_weighted_service_and_a_longer_header_rule(tmp_path):
    router = make(traefik_spec(tmp_path, hosts=["shop.example.com"], entry_points=["web"]), "shop")
    text = router.render(Route(20, ("X-Canary", "internal")))
    assert text.startswith("# written by canary-lint rollout for shop")
    doc = yaml.safe_load(text)["http"]
    assert doc["routers"]["shop"] == {"rule": "Host(`shop.example.com`)", "service": "shop-split",
                                      "entryPoints": ["web"]}
    header = doc["routers"]["shop-canary-header"]
    assert header["rule"] == "(Host(`shop.example.com`)) && Header(`X-Canary`, `internal`)"
    assert header["service"] == "shop-canary"
    assert len(header["rule"]) > len(doc["routers"]["shop"]["rule"])  # Traefik's default priority: the longer rule
    assert doc["services"]["shop-split"]["weighted"]["services"] == [
        {"name": "shop-stable", "weight": 8000}, {"name": "shop-canary", "weight": 2000}]
    assert doc["services"]["shop-canary"]["loadBalancer"]["servers"] == [{"url": "http://127.0.0.1:8002"}]
    doc = yaml.safe_load(router.render(Route(0)))["http"]
    assert list(doc["routers"]) == ["shop"] and doc["routers"]["shop"]["rule"] == "Host(`shop.example.com`)"
    plain = make(traefik_spec(tmp_path), "shop")
    assert yaml.safe_load(plain.render(Route(0)))["http"]["routers"]["shop"] == {
        "rule": "PathPrefix(`/`)", "service": "shop-split"}


@pytest.mark.parametrize("key, value", [
    ("stable_cluster", 'shop_v1"}, {"name": "evil'),
    ("canary_cluster", "shop_v2\n"),
    ("admin", "127.0.0.1:9901/quitquitquit?"),
    ("route_config", "shop.\\.*"),
    ("domains", ['shop"]}, "routes": []']),
    ("domains", []),
    ("rds_file", "/etc/envoy/rds/shop.pb"),
])
def test_envoy_refuses_values_that_would_add_config_or_reach_another_endpoint(tmp_path, key, value):
    with pytest.raises(RouterError, match=f"`{key}"):
        make(envoy_spec(tmp_path, **{key: value}), "shop")


@pytest.mark.parametrize("key, value", [
    ("stable", "127.0.0.1:8001/`) || Host(`evil"),
    ("api", "127.0.0.1:8080/api/http/routers/x?"),
    ("name", "shop`"),
    ("hosts", ["shop.example.com`) || PathPrefix(`/"]),
    ("entry_points", ["web", "web secure"]),
    ("scheme", "gopher"),
    ("dynamic_file", "/etc/traefik/dynamic/shop.toml"),
])
def test_traefik_refuses_values_that_would_change_the_rule_or_the_config(tmp_path, key, value):
    with pytest.raises(RouterError, match=f"`{key}"):
        make(traefik_spec(tmp_path, **{key: value}), "shop")


@pytest.mark.parametrize("spec", [envoy_spec, traefik_spec])
def test_header_values_never_reach_the_file_unchecked(tmp_path, spec):
    router = make(spec(tmp_path), "shop")
    for bad in (("X-Canary", "a`) || PathPrefix(`/"), ("X-Canary", 'a"}]'), ("X-Canary\n", "a")):
        with pytest.raises(RouterError, match="header"):
            router.render(Route(5, bad), "g") if spec is envoy_spec else router.render(Route(5, bad))


def test_a_file_the_router_did_not_write_is_never_replaced(tmp_path):
    (tmp_path / "rds").mkdir()
    (tmp_path / "dynamic").mkdir()
    foreign = {"rds/shop.json": "root:x:0:0:root:/root:/bin/bash\n",
               "dynamic/shop.yaml": "http:\n  routers:\n    billing: {rule: PathPrefix(`/`), service: billing}\n"}
    for name, text in foreign.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(RouterError, match="not the RDS file of route configuration 'shop'"):
        make(envoy_spec(tmp_path), "shop")
    with pytest.raises(RouterError, match="not written by canary-lint"):
        make(traefik_spec(tmp_path), "shop")
    other = make(envoy_spec(tmp_path, rds_file=str(tmp_path / "rds" / "other.json")), "shop")
    (tmp_path / "rds" / "shop.json").write_text(other.render(Route(5), "g"))
    make(envoy_spec(tmp_path), "shop")  # an RDS file of this route configuration is the router's to replace
    with pytest.raises(RouterError, match="route configuration 'billing'"):
        make(envoy_spec(tmp_path, route_config="billing"), "shop")


def test_the_owned_file_stays_inside_its_directory(tmp_path):
    (tmp_path / "rds").mkdir()
    (tmp_path / "rds" / "shop.json").symlink_to("/etc/hostname")
    with pytest.raises(RouterError, match="is not inside"):
        make(envoy_spec(tmp_path), "shop")
    with pytest.raises(RouterError, match="set `provider_dir`"):
        make(traefik_spec(tmp_path, dynamic_file="/etc/traefik/shop.yaml", provider_dir=str(tmp_path)), "shop")


@pytest.mark.parametrize("spec", [envoy_spec, traefik_spec])
def test_plans_with_envoy_and_traefik_routers_validate_and_refuse_unknown_keys(tmp_path, spec):
    path = tmp_path / "rollout.yaml"
    router = spec(tmp_path)
    path.write_text(yaml.safe_dump(plan_dict(router=router)))
    assert P.load(path).routers[0]["kind"] == router["kind"]
    path.write_text(yaml.safe_dump(plan_dict(router={**router, "upstream_file": "/etc/x"})))
    with pytest.raises(P.PlanError, match="at router: Additional properties are not allowed"):
        P.load(path)
    path.write_text(yaml.safe_dump(plan_dict(router={**router, "admin" if "admin" in router else "api": "9901"})))
    with pytest.raises(P.PlanError, match="does not match"):
        P.load(path)


def test_traefik_counts_the_gateway_answers_of_the_canary_service_and_skips_what_is_no_count(tmp_path):
    """A metrics endpoint on loopback (a stand-in for Traefik's, which the e2e tests read for real)."""
    import http.server
    import threading

    body = "\n".join([
        '# TYPE traefik_service_requests_total counter',
        'traefik_service_requests_total{code="502",method="GET",protocol="http",service="shop-canary@file"} 7',
        'traefik_service_requests_total{code="504",method="GET",protocol="http",service="shop-canary@file"} 2',
        'traefik_service_requests_total{code="200",method="GET",protocol="http",service="shop-canary@file"} 90',
        'traefik_service_requests_total{code="502",method="GET",protocol="http",service="shop-stable@file"} 5',
        'traefik_service_requests_total{code="503",method="GET",protocol="http",service="shop-canary@file"} 1e999',
        'traefik_service_requests_total{code="503",method="POST",protocol="http",service="shop-canary@file"} 1.2.3',
    ]).encode()

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            found = self.path == "/metrics"
            self.send_response(200 if found else 404)
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = f"127.0.0.1:{server.server_address[1]}"
        n, said = make(traefik_spec(tmp_path, api=api), "shop").failures()
        assert n == 9 and said == "7 HTTP 502, 2 HTTP 504 of service shop-canary@file", said
    finally:
        server.shutdown()
        server.server_close()


def test_a_cookie_longer_than_envoys_regex_limit_is_refused_when_the_plan_is_read(tmp_path):
    """83 characters of name and value are what Envoy takes at its default RE2 limit (measured on the real
    binary: 84 are rejected as update_rejected, mid-rollout); a limit the operator raised is honoured."""
    path = tmp_path / "rollout.yaml"

    def plan(value, **router):
        steps = [{"cookie": {"name": "beta", "value": value}, "hold": "1m"}, {"weight": 100}]
        path.write_text(yaml.safe_dump(plan_dict(router=envoy_spec(tmp_path, **router), steps=steps)))
        return P.load(path)

    assert plan("v" * 79).steps[0].cookie == ("beta", "v" * 79)
    with pytest.raises(P.PlanError, match=r"steps/0: envoy router: cookie beta=v+…: Envoy would reject its match "
                                          r"\(name and value 84 characters; at most 83"):
        plan("v" * 80)
    assert plan("v" * 150, re2_max_program_size=200).steps[0].cookie == ("beta", "v" * 150)
