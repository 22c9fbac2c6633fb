"""Plan values never reach a router's config, runtime API or argv unvalidated; a failed step restores."""

from __future__ import annotations

import shutil
import sys

import pytest

from canary_lint.rollout.routers import Route, RouterError, make


def nginx_spec(tmp_path, **over):
    spec = {"kind": "nginx", "include_file": str(tmp_path / "split.conf"), "conf": str(tmp_path / "nginx.conf"),
            "stable": "127.0.0.1:8001", "canary": "127.0.0.1:8002", "status_listen": "127.0.0.1:8099"}
    spec.update(over)
    return spec


@pytest.mark.parametrize("key, value", [
    ("stable", "127.0.0.1:8001;\n    include /etc/passwd"),
    ("stable", "127.0.0.1:8001\n"),
    ("canary", "127.0.0.1:8002 backup; include /etc/shadow;"),
    ("canary", "evil}\nserver{listen 80;}"),
    ("status_listen", "127.0.0.1:8099;\ninclude /etc/passwd"),
])
def test_nginx_refuses_values_that_would_add_directives(tmp_path, key, value):
    with pytest.raises(RouterError, match=f"`{key}` must be"):
        make(nginx_spec(tmp_path, **{key: value}), "shop")


@pytest.mark.parametrize("good", ["10.0.0.7:8080", "api-v1.internal.example:443", "[::1]:8001", "unix:/run/app.sock"])
def test_nginx_accepts_real_upstreams(tmp_path, good):
    make(nginx_spec(tmp_path, stable=good), "shop")


def test_nginx_include_file_must_live_under_the_include_dir(tmp_path):
    (tmp_path / "conf").mkdir()
    with pytest.raises(RouterError, match="is not inside"):
        make(nginx_spec(tmp_path, conf=str(tmp_path / "conf" / "nginx.conf"), include_file="/etc/passwd"), "shop")
    with pytest.raises(RouterError, match="is not inside"):
        make(nginx_spec(tmp_path, conf=str(tmp_path / "conf" / "nginx.conf"),
                        include_file=str(tmp_path / "conf" / ".." / "elsewhere.conf")), "shop")
    (tmp_path / "conf" / "link.conf").symlink_to("/etc/hostname")
    with pytest.raises(RouterError, match="is not inside"):
        make(nginx_spec(tmp_path, conf=str(tmp_path / "conf" / "nginx.conf"),
                        include_file=str(tmp_path / "conf" / "link.conf")), "shop")
    with pytest.raises(RouterError, match="main `conf`"):
        make(nginx_spec(tmp_path, include_file=str(tmp_path / "nginx.conf")), "shop")
    other = tmp_path / "sites"
    other.mkdir()
    router = make(nginx_spec(tmp_path, include_dir=str(other), include_file=str(other / "split.conf")), "shop")
    assert router.include == (other / "split.conf").resolve()


def test_nginx_missing_restores_the_previous_file(tmp_path):
    (tmp_path / "split.conf").write_text("# the routing nginx runs\n")
    router = make(nginx_spec(tmp_path, nginx=str(tmp_path / "no-such-nginx")), "shop")
    with pytest.raises(RouterError, match="could not run"):
        router.apply(Route(5))
    assert (tmp_path / "split.conf").read_text() == "# the routing nginx runs\n"
    (tmp_path / "split.conf").unlink()
    with pytest.raises(RouterError):
        router.apply(Route(5))
    assert not (tmp_path / "split.conf").exists()  # there was none: none is left behind


def test_nginx_rejected_reload_restores_the_previous_file(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    (tmp_path / "split.conf").write_text("# old\n")
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/n.pid; error_log {tmp_path}/e.log; events {{}}\n"
                                         f"http {{ include {tmp_path}/split.conf; }}\n")
    router = make(nginx_spec(tmp_path, nginx=nginx, prefix=str(tmp_path)), "shop")
    with pytest.raises(RouterError, match="reload failed"):
        router.apply(Route(5))  # the config is valid, but no nginx runs to reload
    assert (tmp_path / "split.conf").read_text() == "# old\n"


def test_header_values_never_reach_the_config_unchecked(tmp_path):
    router = make(nginx_spec(tmp_path), "shop")
    with pytest.raises(RouterError, match="header value"):
        router.render(Route(5, ("X-Canary", 'a" shop_canary; }\ninclude /etc/passwd; map $x $y {')), "g")


@pytest.mark.parametrize("key, value", [("stable", "web1 weight 0\nshutdown sessions"), ("backend", "be 1"),
                                        ("header_map", "/etc/haproxy/canary.map x"), ("header_map", "relative.map")])
def test_haproxy_refuses_values_that_would_add_commands(tmp_path, key, value):
    spec = {"kind": "haproxy", "socket": str(tmp_path / "admin.sock"), "backend": "shop", "stable": "web1",
            "canary": "web2", key: value}
    with pytest.raises(RouterError, match=f"`{key}` must be"):
        make(spec, "shop")


@pytest.mark.parametrize("template", ["echo {service.__class__.__mro__}", "echo {canary!r}", "echo {canary:>10}",
                                      "echo {0}", "echo {}", "echo {weight}", "echo {canary", "echo canary}"])
def test_command_router_refuses_undocumented_placeholders_before_traffic_moves(template):
    with pytest.raises(RouterError, match="only .* are expanded"):
        make({"kind": "command", "set_weight": template}, "shop")


def test_command_router_expands_only_documented_names(tmp_path):
    out = tmp_path / "out"
    script = f"import sys; open({str(out)!r}, 'a').write(' '.join(sys.argv[1:]) + chr(10))"
    router = make({"kind": "command", "set_weight": [sys.executable, "-c", script, "{canary}", "{stable}", "{{lit}}", "{service}"],
                   "set_header": [sys.executable, "-c", script, "{name}={value}"]}, "shop")
    router.apply(Route(5, ("X-Canary", "internal")))
    assert out.read_text().splitlines() == ["5 95 {lit} shop", "X-Canary=internal"]
    with pytest.raises(RouterError, match="only"):
        make({"kind": "command", "set_weight": "echo {canary}", "read": "cat {canary}"}, "shop")  # not read's
