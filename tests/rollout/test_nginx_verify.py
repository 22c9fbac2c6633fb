"""nginx verification through a real nginx on 127.0.0.1: a change is verified only once the status listener
answers with the new generation and every worker of the previous one has exited; it fails, saying what nginx
still serves, when the reload does not happen or an old worker lingers."""

from __future__ import annotations

import re
import socket
import time

import pytest
from rollout_lab import Nginx, free_port

from canary_lint.rollout.routers import Route, RouterError
from canary_lint.rollout.routers.nginx import NginxRouter, _workers


def _start(tmp_path, **conf) -> tuple[Nginx, NginxRouter]:
    nginx = Nginx(tmp_path, free_port(), free_port(), **conf)
    return nginx, NginxRouter(nginx.spec, "shop")


def _ask(conn: socket.socket) -> bytes:
    """One request on a connection opened earlier: what came back (b"" when nginx closed it)."""
    conn.settimeout(5)
    try:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := conn.recv(4096):
            out += chunk
        return out
    except (ConnectionResetError, BrokenPipeError):
        return b""


def test_a_reload_nginx_cannot_carry_out_fails_verification_with_what_it_still_serves(tmp_path):
    extra = tmp_path / "extra.conf"
    extra.write_text("")
    nginx, router = _start(tmp_path, http=f"include {extra};")
    busy = socket.socket()
    try:
        router.apply(Route(20))
        # `nginx -t` passes (it ignores a port in use), but the master cannot bind it: the reload fails and the
        # workers of the 20% file keep serving
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        extra.write_text(f"server {{ listen 127.0.0.1:{busy.getsockname()[1]}; return 204; }}\n")
        t0 = time.monotonic()
        with pytest.raises(RouterError, match=r"did not load the new routing \(canary 0%\) within 4s: .*shows "
                                              r"canary 20% \(generation [0-9a-f]{12}\)"):
            router.apply(Route(0), timeout=4)
        assert 3.9 < time.monotonic() - t0 < 8
        assert router.current() == Route(20)
    finally:
        busy.close()
        nginx.stop()


def test_an_old_worker_still_holding_a_connection_fails_verification_naming_it(tmp_path):
    nginx, router = _start(tmp_path)  # no worker_shutdown_timeout: an old worker waits for its connections
    try:
        master = int((nginx.dir / "nginx.pid").read_text())
        (old,) = _workers(master)
        early = socket.create_connection(("127.0.0.1", nginx.status_port))  # accepted, no request yet
        time.sleep(0.2)
        with pytest.raises(RouterError, match=rf"new routing \(canary 20%\) on new connections, but old worker "
                                              rf"process\(es\) {old} still run 1.5s after"):
            router.apply(Route(20), timeout=1.5)
        assert router.current() == Route(20)
        # what the check is for: the old worker serves that connection with the previous generation
        assert b'"generation": "initial"' in _ask(early)
        early.close()
    finally:
        nginx.stop()


def test_with_worker_shutdown_timeout_no_connection_gets_the_old_split_after_a_verified_change(tmp_path):
    nginx, router = _start(tmp_path, main="worker_shutdown_timeout 1s;")
    try:
        early = socket.create_connection(("127.0.0.1", nginx.status_port))
        time.sleep(0.2)
        t0 = time.monotonic()
        assert router.apply(Route(20), timeout=5) == Route(20)
        assert time.monotonic() - t0 >= 0.9  # waited for the old worker to close that connection and exit
        answer = _ask(early)
        assert b'"generation": "initial"' not in answer
        assert answer == b"" or re.search(rb'"canary": 20\.0', answer)
        early.close()
    finally:
        nginx.stop()


def test_a_change_is_verified_once_the_old_workers_exited(tmp_path):
    nginx, router = _start(tmp_path)
    try:
        master = int((nginx.dir / "nginx.pid").read_text())
        for target in (Route(20), Route(0), Route(50, ("X-Canary", "internal"))):
            before = set(_workers(master))
            assert router.apply(target) == target
            after = set(_workers(master))
            assert after and not (before & after), (before, after)
            assert router.timings["old_workers_exited"] >= router.timings["new_workers_serving"]
    finally:
        nginx.stop()
