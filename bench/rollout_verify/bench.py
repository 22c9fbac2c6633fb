"""nginx rollback verification on a busy host: `python bench/rollout_verify/bench.py [--runs 30] [--sockets 20000]`.

Real nginx on 127.0.0.1 (tests/rollout/rollout_lab.py's), two demo versions behind it and 100 req/s of bounded
keep-alive load, while two helper processes hold `--sockets` idle loopback TCP sockets open (half connected
ends, half accepted ends, on a listener of their own: nothing reaches nginx). Each run raises the canary to 20%
(untimed), waits 0.3 s, and times the rollback (`Router.apply(Route(0))`: rewrite, `nginx -t`, reload,
verification) with the old verification (the listening-socket check, which reads /proc/net/tcp) and the new
one (status listener generation + old workers' exit by PID), alternating which goes first. Prints a Markdown
table: p50 / p99 / max per method and the old/new ratios; and how long one read of /proc/net/tcp takes.
Every socket is closed and every server stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "rollout"))

from rollout_lab import Demo, Load, Nginx, free_port  # noqa: E402

from canary_lint.rollout.routers import Route, RouterError  # noqa: E402
from canary_lint.rollout.routers.nginx import NginxRouter, _workers  # noqa: E402


def raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


# --- the verification before (kept here to measure it against the new one) --------------------------------
def _listening_inodes() -> set[str]:
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A":  # LISTEN
                inodes.add(parts[9])
    return inodes


def _still_listening(pids, listening: set[str]) -> bool:
    if not pids or not listening:
        return False
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in listening:
                return True
    return False


class OldVerification(NginxRouter):
    """The router as it was: /proc/net/tcp read while `nginx -t` runs, then the status listener's generation and
    no old worker holding a listening socket; QUIT to the old workers once the new generation answers."""

    def _cmd(self, *extra: str) -> list[str]:
        cmd = super()._cmd(*extra)
        if extra[:1] == ("-t",):  # the socket table is read while `nginx -t` runs, in a thread, as before
            self._reader = threading.Thread(target=lambda: self._found.append(_listening_inodes()), daemon=True)
            self._found: list[set[str]] = []
            self._reader.start()
        return cmd

    def apply(self, target: Route, previous: Route | None = None, timeout: float | None = None) -> Route:
        timeout = self.verify_timeout if timeout is None else timeout
        self._set(target, previous)
        self._reader.join(5)
        listening = self._found[0] if self._found else set()
        old = set(self._old_workers)
        deadline = time.monotonic() + timeout
        delay, quit_sent, seen = 0.002, False, None
        while time.monotonic() < deadline:
            try:
                seen = self._status()
            except RouterError:
                seen = None
            if seen and seen.get("generation") == self._generation:
                if not _still_listening(old, listening):
                    return Route.from_dict(seen)
                if not quit_sent:
                    for pid in old:
                        try:
                            os.kill(pid, signal.SIGQUIT)
                        except OSError:
                            pass
                    quit_sent = True
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        raise RouterError("old verification timed out")


# --- idle sockets ----------------------------------------------------------------------------------------
HOLDER = r"""
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
role, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
if role == "server":
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(4096)
    print("listening", flush=True)
    ls.settimeout(60)
    while len(held) < n:
        held.append(ls.accept()[0])
else:
    for _ in range(n):
        held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
print("ready", len(held), flush=True)
sys.stdin.read()  # until the bench closes our stdin
for s in held:
    s.close()
"""


class IdleSockets:
    def __init__(self, total: int):
        half = total // 2
        port = free_port()
        self.procs = []
        server = subprocess.Popen([sys.executable, "-c", HOLDER, "server", str(port), str(half)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.procs.append(server)
        assert server.stdout.readline().startswith("listening")
        client = subprocess.Popen([sys.executable, "-c", HOLDER, "client", str(port), str(half)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.procs.append(client)
        for p in self.procs:
            line = p.stdout.readline()
            if not line.startswith("ready"):
                self.close()
                raise RuntimeError(f"socket holder failed: {line!r}")

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.stdin.close()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def tcp_entries() -> int:
    return sum(max(0, len(Path(n).read_text().splitlines()) - 1) for n in ("/proc/net/tcp", "/proc/net/tcp6"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--sockets", type=int, default=20000)
    ap.add_argument("--settle", type=float, default=0.3)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise_nofile(4096)
    tmp = Path(tempfile.mkdtemp(prefix="canary-lint-verify-"))
    sp, cp = free_port(), free_port()
    demos = [Demo(tmp, sp, "v1", latency_ms=0), Demo(tmp, cp, "v2", latency_ms=0)]
    nginx = load = idle = None
    try:
        nginx = Nginx(tmp, sp, cp)
        routers = {"old": OldVerification(nginx.spec, "shop"), "new": NginxRouter(nginx.spec, "shop")}
        master = int((nginx.dir / "nginx.pid").read_text())
        idle = IdleSockets(args.sockets) if args.sockets else None
        entries = tcp_entries()
        scans = []
        for _ in range(10):
            t0 = time.perf_counter()
            _listening_inodes()
            scans.append(time.perf_counter() - t0)
        load = Load(nginx.port, rps=100, threads=6, limit=3600, max_requests=10**6, header_share=0)
        times: dict[str, list[float]] = {"old": [], "new": []}
        for i in range(args.runs):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            for name in order:
                r = routers[name]
                r.apply(Route(20))
                time.sleep(args.settle)
                t0 = time.perf_counter()
                r.apply(Route(0))
                times[name].append(time.perf_counter() - t0)
                if name == "new" and len(_workers(master)) != 1:
                    raise RuntimeError("an old worker outlived a verified rollback")
        load.stop()
        codes = dict(load.codes)
    finally:
        for part in (load,):
            if part is not None:
                part.stop()
        if idle is not None:
            idle.close()
        if nginx is not None:
            nginx.stop()
        for d in demos:
            d.stop()
    ms = {k: [x * 1000 for x in v] for k, v in times.items()}
    print(f"TCP sockets on the host while measuring: {entries}; one read of /proc/net/tcp: "
          f"median {statistics.median(scans) * 1000:.0f} ms, max {max(scans) * 1000:.0f} ms (10 reads)")
    print(f"load: {sum(codes.values())} requests, status codes {codes}\n")
    print(f"| rollback (routing change + verification), {args.runs} runs | p50 | p99 | max |")
    print("|---|---|---|---|")
    for name, label in (("old", "before: listening sockets via /proc/net/tcp"),
                        ("new", "after: generation + old workers exited, by PID")):
        v = ms[name]
        print(f"| {label} | {pct(v, .5):.0f} ms | {pct(v, .99):.0f} ms | {max(v):.0f} ms |")
    print(f"| ratio before / after | {pct(ms['old'], .5) / pct(ms['new'], .5):.1f}x "
          f"| {pct(ms['old'], .99) / pct(ms['new'], .99):.1f}x | {max(ms['old']) / max(ms['new']):.1f}x |")


if __name__ == "__main__":
    main()
