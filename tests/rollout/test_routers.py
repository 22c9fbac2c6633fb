"""Routers without a load: the nginx file, the HAProxy command order, the command router."""

import json
import socketserver
import subprocess
import sys
import threading

import pytest

from canary_lint.rollout.routers import Route, RouterError, make


class FakeHAProxy:
    """A runtime-API socket that records commands and keeps server weights."""

    def __init__(self, path):
        self.commands: list[str] = []
        self.weights = {"shop/v1": 100, "shop/v2": 0}
        self.map: dict[str, str] = {}
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                out = "".join(outer.answer(cmd.strip()) for cmd in self.rfile.readline().decode().split(";"))
                self.wfile.write(out.encode())

        self.server = socketserver.UnixStreamServer(str(path), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, cmd: str) -> str:
        """One command of a line (HAProxy runs `a; b` one after the other and answers each)."""
        self.commands.append(cmd)
        parts = cmd.split()
        if cmd.startswith("set server") and parts[3] == "weight":
            self.weights[parts[2]] = int(parts[4])
        elif cmd.startswith("get weight"):
            return f"{self.weights[parts[2]]} (initial 1)\n"
        elif cmd.startswith("clear map"):
            self.map.clear()
        elif cmd.startswith("add map"):
            self.map[parts[3]] = parts[4]
        elif cmd.startswith("show map"):
            return "".join(f"0x1 {k} {v}\n" for k, v in self.map.items())
        return "\n"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def haproxy(tmp_path):
    fake = FakeHAProxy(tmp_path / "admin.sock")
    spec = {
        "kind": "haproxy",
        "socket": str(tmp_path / "admin.sock"),
        "backend": "shop",
        "stable": "v1",
        "canary": "v2",
        "header_map": "/etc/haproxy/canary.map",
        "canary_backend": "shop_canary",
    }
    yield fake, make(spec, "shop")
    fake.close()


def _weight_cmds(cmds):
    return [c for c in cmds if " weight " in c and c.startswith("set server")]


def test_haproxy_changes_the_weight_going_up_first_on_one_line(haproxy):
    fake, router = haproxy
    assert router.apply(Route(20), Route(0)) == Route(20)
    assert _weight_cmds(fake.commands) == ["set server shop/v2 weight 20", "set server shop/v1 weight 80"]
    assert fake.commands[:2] == ["set server shop/v2 state ready", "set server shop/v2 weight 20"]
    fake.commands.clear()
    assert router.apply(Route(0), Route(20)) == Route(0)  # a rollback: the baseline back to 100, then the canary 0
    assert fake.commands[:4] == ["set server shop/v1 state ready", "set server shop/v1 weight 100",
                                 "set server shop/v2 weight 0", "set server shop/v2 state drain"]
    fake.commands.clear()
    lowering = make({**router.spec, "order": "stable-first"}, "shop")
    lowering.apply(Route(5), Route(0))
    assert _weight_cmds(fake.commands) == ["set server shop/v1 weight 95", "set server shop/v2 weight 5"]


def test_haproxy_header_route_via_map(haproxy):
    fake, router = haproxy
    router.apply(Route(0, ("X-Canary", "internal")), Route())
    assert fake.map == {"internal": "shop_canary"}
    router.apply(Route(0), Route(0, ("X-Canary", "internal")))
    assert fake.map == {}


def test_haproxy_refusal_is_an_error(tmp_path):
    spec = {
        "kind": "haproxy",
        "socket": str(tmp_path / "missing.sock"),
        "backend": "shop",
        "stable": "v1",
        "canary": "v2",
    }
    with pytest.raises(RouterError, match="admin socket"):
        make(spec, "shop").apply(Route(5))


def test_nginx_file_is_valid_for_nginx(tmp_path):
    from canary_lint.rollout.routers.nginx import NginxRouter

    spec = {
        "kind": "nginx",
        "include_file": str(tmp_path / "split.conf"),
        "conf": str(tmp_path / "nginx.conf"),
        "stable": "127.0.0.1:8001",
        "canary": "127.0.0.1:8002",
        "status_listen": "127.0.0.1:8099",
    }
    r = NginxRouter(spec, "shop-api")
    for route in (Route(0), Route(5), Route(33.5, ("X-Canary", "internal")), Route(100)):
        text = r.render(route, "g1")
        (tmp_path / "split.conf").write_text(text)
        (tmp_path / "nginx.conf").write_text(
            f"pid {tmp_path}/n.pid; error_log {tmp_path}/e.log; events {{}}\n"
            f"http {{ include {tmp_path}/split.conf; server {{ listen 127.0.0.1:8098; "
            f"location / {{ proxy_pass http://$shop_api_upstream; }} }} }}\n"
        )
        out = subprocess.run(
            ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
    assert "server 127.0.0.1:8001 weight=6650;" in r.render(Route(33.5), "g")
    assert "server 127.0.0.1:8002 down;" in r.render(Route(0), "g")
    assert '"internal" shop_api_canary;' in r.render(Route(5, ("X-Canary", "internal")), "g")


def test_nginx_rejected_config_keeps_the_old_file(tmp_path):
    from canary_lint.rollout.routers.nginx import NginxRouter

    (tmp_path / "split.conf").write_text("# old\n")
    (tmp_path / "nginx.conf").write_text("this is not nginx config;\n")
    spec = {
        "kind": "nginx",
        "include_file": str(tmp_path / "split.conf"),
        "conf": str(tmp_path / "nginx.conf"),
        "prefix": str(tmp_path),
        "stable": "127.0.0.1:8001",
        "canary": "127.0.0.1:8002",
        "status_listen": "127.0.0.1:8099",
    }
    with pytest.raises(RouterError, match="nginx -t rejected"):
        NginxRouter(spec, "shop").apply(Route(5))
    assert (tmp_path / "split.conf").read_text() == "# old\n"


def test_command_router_substitutes_and_reads_back(tmp_path):
    state = tmp_path / "state.json"
    script = tmp_path / "lb.py"
    script.write_text(
        "import json, sys\n"
        f"p = {str(state)!r}\n"
        "cmd = sys.argv[1]\n"
        "try:\n    s = json.load(open(p))\nexcept OSError:\n    s = {'canary': 0, 'header': None}\n"
        "if cmd == 'weight':\n    s['canary'] = float(sys.argv[2]); assert float(sys.argv[3]) == 100 - s['canary']\n"
        "elif cmd == 'header':\n    s['header'] = [sys.argv[2], sys.argv[3]]\n"
        "elif cmd == 'clear':\n    s['header'] = None\n"
        "elif cmd == 'read':\n    print(json.dumps(s))\n"
        "json.dump(s, open(p, 'w'))\n"
    )
    py = sys.executable
    spec = {
        "kind": "command",
        "set_weight": [py, str(script), "weight", "{canary}", "{stable}"],
        "set_header": [py, str(script), "header", "{name}", "{value}"],
        "clear_header": [py, str(script), "clear"],
        "read": [py, str(script), "read"],
    }
    r = make(spec, "shop")
    assert r.apply(Route(5, ("X-Canary", "internal")), Route()) == Route(5, ("X-Canary", "internal"))
    assert r.apply(Route(0), Route(5, ("X-Canary", "internal"))) == Route(0)
    assert json.loads(state.read_text()) == {"canary": 0.0, "header": None}


def test_command_router_failure_is_an_error(tmp_path):
    r = make({"kind": "command", "set_weight": ["false"]}, "shop")
    with pytest.raises(RouterError, match="exited 1"):
        r.apply(Route(5))
