"""The cookie route in each router's rendered config, read back from what was written, and never written from a
value that could add config."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml
from test_routers import FakeHAProxy
from test_routers_envoy_traefik import envoy_spec, traefik_spec

from canary_lint.rollout.routers import Route, RouterError, make, values

HEADER, COOKIE = ("X-Canary", "internal"), ("beta", "yes")
BAD = [("beta", "yes;x=1"), ("be ta", "yes"), ("beta", "y`es"), ("beta", 'y"'), ("a$b", "1"), ("beta", "y\n}")]


@pytest.mark.parametrize("cookie", [COOKIE, ("beta-user.v2", "v1.2:x")])
def test_the_cookie_regex_matches_the_cookie_and_nothing_like_it(cookie):
    rx = values.cookie_regex(cookie)
    name, value = cookie
    for header in (f"{name}={value}", f"a=1; {name}={value}", f"{name}={value}; b=2", f"a=1;{name}={value};b=2"):
        assert re.fullmatch(rx, header) and re.search(rx, header), header
    for header in (f"x{name}={value}", f"{name}={value}x", f"{name}=", f"a={name}={value}x", "", f"{name}x={value}"):
        assert not re.fullmatch(rx, header) and not re.search(rx, header), header
    assert values.cookie_of_regex(rx) == cookie
    assert values.cookie_of_regex(rx.replace("^", "")) is None


def _nginx(tmp_path):
    spec = {"kind": "nginx", "include_file": str(tmp_path / "split.conf"), "conf": str(tmp_path / "nginx.conf"),
            "stable": "127.0.0.1:8001", "canary": "127.0.0.1:8002", "status_listen": "127.0.0.1:8099"}
    return make(spec, "shop-api")


def test_nginx_maps_the_cookie_variable_and_chains_it_after_the_header_and_nginx_takes_it(tmp_path):
    r = _nginx(tmp_path)
    both = r.render(Route(5, HEADER, COOKIE), "g")
    assert 'map $cookie_beta $shop_api_cookie_upstream {\n    default shop_api_split;\n    "yes" shop_api_canary;\n}' \
        in both
    assert 'map $http_x_canary $shop_api_upstream {\n    default $shop_api_cookie_upstream;\n' in both
    alone = r.render(Route(5, None, COOKIE), "g")
    assert 'map $cookie_beta $shop_api_upstream {\n    default shop_api_split;\n    "yes" shop_api_canary;' in alone
    dashed = r.render(Route(5, None, ("beta-user.x", "v1.2")), "g")  # no nginx variable holds '-' or '.'
    assert 'map $http_cookie $shop_api_upstream {' in dashed
    assert r'"~(?:^|;\s*)beta\-user\.x=v1\.2(?:;|$)" shop_api_canary;' in dashed
    status = json.loads(re.search(r"return 200 '(.*)';", both).group(1))
    assert Route.from_dict(status) == Route(5, HEADER, COOKIE)  # what the status listener reads back
    for route in (Route(5, HEADER, COOKIE), Route(0, None, COOKIE), Route(50, None, ("beta-user.x", "v1.2"))):
        (tmp_path / "split.conf").write_text(r.render(route, "g1"))
        (tmp_path / "nginx.conf").write_text(
            f"pid {tmp_path}/n.pid; error_log {tmp_path}/e.log; events {{}}\n"
            f"http {{ include {tmp_path}/split.conf; server {{ listen 127.0.0.1:8098; "
            f"location / {{ proxy_pass http://$shop_api_upstream; }} }} }}\n")
        out = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr


class FakeMaps(FakeHAProxy):
    """The fake runtime API with one map per file."""

    def __init__(self, path):
        super().__init__(path)
        self.maps: dict[str, dict[str, str]] = {}

    def answer(self, cmd):
        parts = cmd.split()
        if cmd.startswith(("clear map", "add map", "show map")):
            self.commands.append(cmd)
            m = self.maps.setdefault(parts[2], {})
            if parts[0] == "clear":
                m.clear()
            elif parts[0] == "add":
                m[parts[3]] = parts[4]
            else:
                return "".join(f"0x1 {k} {v}\n" for k, v in m.items())
            return "\n"
        return super().answer(cmd)


def test_haproxy_cookie_route_is_its_own_map_added_after_and_removed_before_the_weights(tmp_path):
    fake = FakeMaps(tmp_path / "admin.sock")
    try:
        spec = {"kind": "haproxy", "socket": str(tmp_path / "admin.sock"), "backend": "shop", "stable": "v1",
                "canary": "v2", "header_map": "/etc/haproxy/canary.map", "cookie_map": "/etc/haproxy/cookie.map",
                "canary_backend": "shop_canary"}
        router = make(spec, "shop")
        assert router.apply(Route(0, HEADER, COOKIE), Route()) == Route(0, HEADER, COOKIE)
        assert fake.maps == {"/etc/haproxy/canary.map": {"internal": "shop_canary"},
                             "/etc/haproxy/cookie.map": {"yes": "shop_canary"}}
        fake.commands.clear()
        assert router.apply(Route(20, HEADER, COOKIE), Route(0, HEADER, COOKIE)) == Route(20, HEADER, COOKIE)
        assert not [c for c in fake.commands if c.startswith(("clear map", "add map"))]  # unchanged routes stay
        fake.commands.clear()
        assert router.apply(Route(0), Route(20, HEADER, COOKIE)) == Route(0)  # the rollback
        first_weight = next(i for i, c in enumerate(fake.commands) if c.startswith("set server"))
        assert "clear map /etc/haproxy/cookie.map" in fake.commands[:first_weight]
        assert fake.maps["/etc/haproxy/cookie.map"] == {}
        without = make({k: v for k, v in spec.items() if k != "cookie_map"}, "shop")
        with pytest.raises(RouterError, match="a cookie step needs `cookie_map`"):
            without.apply(Route(0, None, COOKIE), Route())
    finally:
        fake.close()


def test_apache_cookie_map_names_the_cookie_and_reads_back_apart_from_the_header_map(tmp_path):
    spec = {"kind": "apache", "manager": "127.0.0.1:8081", "balancer": "shop", "stable": "http://10.0.0.1:8000",
            "canary": "http://10.0.0.2:8000", "header_map": str(tmp_path / "shop-canary.map"),
            "cookie_map": str(tmp_path / "shop-cookie.map")}
    router = make(spec, "shop")
    text = router.render_map(Route(5, HEADER, COOKIE), "cookie")
    assert text == "# written by canary-lint rollout: cookie beta\nyes canary\n"
    (tmp_path / "shop-cookie.map").write_text(text)
    assert router._routed("cookie") == COOKIE and router._routed("header") is None
    (tmp_path / "shop-canary.map").write_text(text)  # a cookie file is no header route
    assert router._routed("header") is None
    with pytest.raises(RouterError, match="two files"):
        make({**spec, "cookie_map": spec["header_map"]}, "shop")
    with pytest.raises(RouterError, match="a cookie step needs `cookie_map`"):
        make({k: v for k, v in spec.items() if k != "cookie_map"}, "shop")._set(Route(0, None, COOKIE), None)


def test_envoy_cookie_route_matches_the_whole_cookie_header_by_regex_after_the_header_route(tmp_path):
    router = make(envoy_spec(tmp_path, cookie_cluster="shop_v2_cookie"), "shop")
    doc = json.loads(router.render(Route(20, HEADER, COOKIE), "g"))
    routes = {r["name"]: r for r in doc["resources"][0]["virtual_hosts"][0]["routes"]}
    assert list(routes) == ["canary-header", "canary-cookie", "split"]
    assert routes["canary-cookie"]["match"] == {"prefix": "/", "headers": [
        {"name": "cookie", "string_match": {"safe_regex": {"regex": r"^(?:.*;\s*)?beta=yes(?:;.*)?$"}}}]}
    assert routes["canary-cookie"]["route"] == {"cluster": "shop_v2_cookie"}
    assert router._route_of(doc["resources"][0]) == Route(20, HEADER, COOKIE)
    promoted = json.loads(router.render(Route(100), "g"))["resources"][0]["virtual_hosts"][0]["routes"]
    assert [r["name"] for r in promoted] == ["split"]


def test_traefik_cookie_router_is_a_header_regexp_on_cookie_to_the_canary(tmp_path):
    router = make(traefik_spec(tmp_path, hosts=["shop.example.com"]), "shop")
    doc = yaml.safe_load(router.render(Route(20, HEADER, COOKIE)))["http"]
    rule = doc["routers"]["shop-canary-cookie"]["rule"]
    assert rule == r"(Host(`shop.example.com`)) && HeaderRegexp(`Cookie`, `^(?:.*;\s*)?beta=yes(?:;.*)?$`)"
    assert doc["routers"]["shop-canary-cookie"]["service"] == "shop-canary"
    assert "shop-canary-cookie" not in yaml.safe_load(router.render(Route(100)))["http"]["routers"]
    from canary_lint.rollout.routers.traefik import _COOKIE

    assert values.cookie_of_regex(_COOKIE.search(rule).group(1)) == COOKIE


def test_command_router_sets_and_clears_the_cookie_route(tmp_path):
    log = tmp_path / "calls"
    script = f"import sys; open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + chr(10))"
    spec = {"kind": "command", "set_weight": [sys.executable, "-c", script, "weight", "{canary}"],
            "set_cookie": [sys.executable, "-c", script, "set", "{name}", "{value}"],
            "clear_cookie": [sys.executable, "-c", script, "clear", "{name}"]}
    router = make(spec, "shop")
    router.apply(Route(0, None, COOKIE), Route())
    router.apply(Route(0), Route(0, None, COOKIE))
    assert log.read_text().splitlines() == ["weight 0", "set beta yes", "clear beta", "weight 0"]


@pytest.mark.parametrize("kind", ["nginx", "envoy", "traefik", "apache"])
@pytest.mark.parametrize("cookie", BAD)
def test_cookie_values_never_reach_a_file_unchecked(tmp_path, kind, cookie):
    if kind == "nginx":
        router, render = _nginx(tmp_path), lambda r, route: r.render(route, "g")
    elif kind == "envoy":
        router, render = make(envoy_spec(tmp_path), "shop"), lambda r, route: r.render(route, "g")
    elif kind == "traefik":
        router, render = make(traefik_spec(tmp_path), "shop"), lambda r, route: r.render(route)
    else:
        router = make({"kind": "apache", "manager": "127.0.0.1:8081", "balancer": "shop",
                       "stable": "http://10.0.0.1:8000", "canary": "http://10.0.0.2:8000",
                       "cookie_map": str(tmp_path / "c.map")}, "shop")
        render = lambda r, route: r.render_map(route, "cookie")  # noqa: E731
    with pytest.raises(RouterError, match="cookie"):
        render(router, Route(5, None, cookie))
