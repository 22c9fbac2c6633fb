"""Real parts for end-to-end rollout tests and benchmarks: nginx, HAProxy, Prometheus and the demo service,
each started with its own config in a temporary directory, bound to 127.0.0.1, stopped by PID; and a
bounded load generator on loopback. Envoy and Traefik: rollout_lab_proxies.py."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def have(binary: str) -> bool:
    return shutil.which(binary) is not None or Path(f"/usr/sbin/{binary}").exists()


class Proc:
    def __init__(self, argv: list[str], log: Path, cwd: Path | None = None, **popen):
        """`popen`: more Popen arguments (`user`, `group`, `extra_groups` for a server that must not run as root)."""
        self.log = log
        self.f = open(log, "wb")
        self.p = subprocess.Popen(argv, stdout=self.f, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                                  **popen)

    @property
    def pid(self) -> int:
        return self.p.pid

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(5)
        self.f.close()


class Demo:
    def __init__(self, tmp: Path, port: int, version: str, **behaviour):
        argv = [sys.executable, str(HERE / "demo_service.py"), "--port", str(port), "--version", version]
        for k, v in behaviour.items():
            argv += [f"--{k.replace('_', '-')}", str(v)]
        self.port = port
        self.proc = Proc(argv, tmp / f"demo-{version}-{port}.log")
        wait_port(port, proc=self.proc.p)

    def stop(self) -> None:
        self.proc.stop(signal.SIGKILL)


class Prometheus:
    def __init__(self, tmp: Path, targets: list[int], interval: str = "1s", jobs: str = ""):
        self.port = free_port()
        self.dir = tmp / f"prom-{self.port}"
        self.dir.mkdir()
        self.cfg = self.dir / "prometheus.yml"
        self.targets, self.interval = targets, interval
        self._write(jobs)
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self.argv = [
            binary,
            f"--config.file={self.cfg}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts = 0
        self.start()

    def _write(self, jobs: str) -> None:
        """The demo job scraping `targets`, then `jobs` (more scrape_configs entries, YAML text)."""
        tl = ", ".join(f'"127.0.0.1:{p}"' for p in self.targets)
        i = self.interval
        self.cfg.write_text(
            f"global:\n  scrape_interval: {i}\n  evaluation_interval: {i}\n"
            f"scrape_configs:\n  - job_name: demo\n    scrape_interval: {i}\n"
            f"    scrape_timeout: {i}\n    static_configs:\n      - targets: [{tl}]\n{jobs}"
        )

    def reload(self, jobs: str, expect: str) -> None:
        """Scrape `jobs` besides the demo job from now on (SIGHUP); returns once the config Prometheus shows as
        loaded contains `expect`."""
        import json

        self._write(jobs)
        os.kill(self.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with urllib.request.urlopen(self.url + "/api/v1/status/config", timeout=2) as r:
                if expect in json.loads(r.read())["data"]["yaml"]:
                    return
            time.sleep(0.1)
        raise RuntimeError("Prometheus did not load the new scrape jobs")

    def start(self) -> None:
        """Start (again: same port, same storage, so the samples from before are replayed from its WAL)."""
        self.starts += 1
        self.proc = Proc(self.argv, self.dir / f"log.{self.starts}")
        wait_port(self.port, 30, self.proc.p)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("Prometheus did not become ready")

    def stop(self, sig=signal.SIGTERM) -> None:
        self.proc.stop(sig)


class Nginx:
    def __init__(self, tmp: Path, stable: int, canary: int, service: str = "shop", main: str = "", http: str = ""):
        """`main`, `http`: more directives for the main and the http context."""
        from canary_lint.rollout.routers import Route
        from canary_lint.rollout.routers.nginx import NginxRouter

        self.port, self.status_port = free_port(), free_port()
        self.dir = tmp / f"nginx-{self.port}"
        (self.dir / "logs").mkdir(parents=True)
        self.conf = self.dir / "nginx.conf"
        self.include = self.dir / "split.conf"
        self.spec = {
            "kind": "nginx",
            "include_file": str(self.include),
            "conf": str(self.conf),
            "prefix": str(self.dir),
            "stable": f"127.0.0.1:{stable}",
            "canary": f"127.0.0.1:{canary}",
            "status_listen": f"127.0.0.1:{self.status_port}",
            "name": service,
        }
        d = self.dir
        self.conf.write_text(f"""
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 1024; }}
{main}
http {{
    access_log off;
    {http}
    client_body_temp_path {d}/tmp_body; proxy_temp_path {d}/tmp_proxy; fastcgi_temp_path {d}/tmp_fcgi;
    uwsgi_temp_path {d}/tmp_uwsgi; scgi_temp_path {d}/tmp_scgi;
    include {self.include};
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://${service}_upstream;
            proxy_next_upstream error timeout;
            proxy_connect_timeout 1s;
            proxy_read_timeout 10s;
        }}
    }}
}}
""")
        router = NginxRouter(self.spec, service)
        router._write(router.render(Route(), "initial"))
        self.proc = Proc(["nginx", "-p", str(d), "-c", str(self.conf)], d / "logs" / "stdout.log")
        wait_port(self.port, proc=self.proc.p)
        wait_port(self.status_port, proc=self.proc.p)

    def stop(self) -> None:
        self.proc.stop(signal.SIGQUIT)


class HAProxy:
    def __init__(self, tmp: Path, stable: int, canary: int, backend: str = "shop"):
        self.port = free_port()
        self.dir = tmp / f"haproxy-{self.port}"
        self.dir.mkdir()
        self.socket = str(self.dir / "admin.sock")
        self.map = str(self.dir / "canary.map")
        self.cookie_map = str(self.dir / "cookie.map")
        Path(self.map).write_text("")
        Path(self.cookie_map).write_text("")
        self.backend = backend
        self.spec = {
            "kind": "haproxy",
            "socket": self.socket,
            "backend": backend,
            "stable": "v1",
            "canary": "v2",
            "header_map": self.map,
            "cookie_map": self.cookie_map,
            "canary_backend": f"{backend}_canary",
        }
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(f"""
global
    stats socket {self.socket} mode 600 level admin
    maxconn 2048
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{self.port}
    use_backend %[req.hdr(X-Canary),map({self.map},{backend})] if {{ req.hdr(X-Canary) -m found }}
    use_backend %[req.cook(beta),map({self.cookie_map},{backend})] if {{ req.cook(beta) -m found }}
    default_backend {backend}
backend {backend}
    balance roundrobin
    server v1 127.0.0.1:{stable} weight 100
    server v2 127.0.0.1:{canary} weight 0
backend {backend}_canary
    server v2 127.0.0.1:{canary}
""")
        self.proc = Proc(["haproxy", "-db", "-f", str(cfg)], self.dir / "log")
        wait_port(self.port, proc=self.proc.p)
        deadline = time.monotonic() + 10
        while not Path(self.socket).exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.stop(signal.SIGTERM)


class Load:
    """`rps` requests/s to 127.0.0.1:port from `threads` keep-alive clients, for at most `limit` seconds and
    `max_requests` requests. `header_share` of the requests carry the canary header, `cookie_share` others the
    canary cookie."""

    def __init__(
        self,
        port: int,
        rps: float = 200,
        threads: int = 12,
        limit: float = 180.0,
        max_requests: int = 100_000,
        header: tuple[str, str] = ("X-Canary", "internal"),
        header_share: float = 0.1,
        cookie: tuple[str, str] = ("beta", "yes"),
        cookie_share: float = 0.0,
    ):
        self.port, self.rps, self.limit, self.max = port, rps, limit, max_requests
        self.header, self.header_share = header, header_share
        self.cookie, self.cookie_share = cookie, cookie_share
        self.stop_event = threading.Event()
        self.sent = 0
        self.codes: dict[int, int] = {}
        self.bodies: list[str] = []
        self.record = False
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i, threads), daemon=True) for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, i: int, n: int) -> None:
        per = self.rps / n
        start = time.monotonic()
        k = 0
        conn = None
        every = int(round(1 / self.header_share)) if self.header_share else 0
        every_cookie = int(round(1 / self.cookie_share)) if self.cookie_share else 0
        while not self.stop_event.is_set() and time.monotonic() - start < self.limit:
            with self.lock:
                if self.sent >= self.max:
                    return
                self.sent += 1
                seq = self.sent
            headers = {self.header[0]: self.header[1]} if every and seq % every == 0 else {}
            if every_cookie and seq % every_cookie == every_cookie // 2 and not headers:
                headers = {"Cookie": f"session=1; {self.cookie[0]}={self.cookie[1]}"}
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/", headers=headers)
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace").strip()
                code = resp.status
            except (OSError, http.client.HTTPException):
                code, body = 0, ""
                if conn is not None:
                    conn.close()
                conn = None
            with self.lock:
                self.codes[code] = self.codes.get(code, 0) + 1
                if self.record:
                    self.bodies.append(body)
            k += 1
            delay = start + k / per - time.monotonic()
            if delay > 0:
                self.stop_event.wait(delay)

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(15)


class Seq:
    """One keep-alive client; returns the version that answered each request (a new connection when a reload
    closed the old one)."""

    def __init__(self, port: int):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def get(self, n: int) -> list[str]:
        out = []
        while len(out) < n:
            try:
                self.c.request("GET", "/")
                out.append(self.c.getresponse().read().decode().strip())
            except (OSError, http.client.HTTPException):
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        return out


def longest_run(seq: list[str], who: str = "v2") -> int:
    best = cur = 0
    for s in seq:
        cur = cur + 1 if s == who else 0
        best = max(best, cur)
    return best


def max_window_share(seq: list[str], w: int = 50) -> float:
    if len(seq) < w:
        return 0.0
    c = sum(1 for s in seq[:w] if s == "v2")
    best = c
    for i in range(w, len(seq)):
        c += (seq[i] == "v2") - (seq[i - w] == "v2")
        best = max(best, c)
    return best / w


def runs_after_changes(router, port: int, before: float, after: float, phases: int = 16,
                       n: int = 100) -> tuple[list[int], list[float]]:
    """The longest canary run and the canary's share in the `n` requests of one sequential client after each of
    `phases` changes `before` -> `after` percent, made `n` requests apart (so they land at `phases` phases of a
    round-robin schedule `phases * n` requests long)."""
    from canary_lint.rollout.routers import Route

    client = Seq(port)
    runs, shares = [], []
    for _ in range(phases):
        router.apply(Route(before))
        router.apply(Route(after))
        got = client.get(n)
        runs.append(longest_run(got))
        shares.append(got.count("v2") / len(got))
    router.apply(Route(0))
    return runs, shares
