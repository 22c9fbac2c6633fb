"""Routing with real nginx, HAProxy, Envoy, Traefik and Apache httpd on loopback:
`python bench/rollout/bench_routing.py [--trials N] [--routers nginx,envoy]`.

1. Decision -> verified routing: how long `Router.apply()` takes to change the split and read it back in
   force (nginx: rewrite include, `nginx -t`, reload, status listener shows the new generation; HAProxy:
   runtime API, `get weight` read-back; Envoy: RDS file renamed in, admin /stats shows its version_text,
   /config_dump reads it back; Traefik: file provider, /api/http read-back; Apache: balancer-manager forms,
   its XML read back), under 200 req/s of load.
   Goal <= 0.2 s (Traefik: its file watch); the rollback (canary -> 0) is the figure that matters.
2. After a verified rollback, requests on new connections that still reach the canary (must be 0); and, for
   a change 0 -> 20% with one sequential client sending throughout, the longest run of consecutive canary
   responses and the highest canary share in any 50-request window.
3. HAProxy weight-change order: each transition made 16 times, 100 requests of one sequential client apart (16
   phases of the round-robin window, 1600 positions at weights adding up to 100), with the weight going up
   changed first (the router's order) or the baseline lowered first (`order: stable-first`); the longest run of
   consecutive canary responses and the range of the canary's share in the 100 requests after each change.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "rollout"))

from rollout_lab import (  # noqa: E402
    Demo, HAProxy, Load, Nginx, Seq, free_port, longest_run, max_window_share, runs_after_changes)
from rollout_lab_proxies import Apache, Envoy, Traefik  # noqa: E402

from canary_lint.rollout.routers import Route, make  # noqa: E402

PARTS = {"nginx": Nginx, "haproxy": HAProxy, "envoy": Envoy, "traefik": Traefik, "apache": Apache}


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def time_apply(router, trials: int, settle: float = 0.5) -> dict:
    """Raise to 20%, hold `settle` seconds (a stage is judged for seconds before a verdict), roll back."""
    times = {"up": [], "rollback": []}
    for _ in range(trials):
        for target, key in ((Route(20), "up"), (Route(0), "rollback")):
            time.sleep(settle)
            t0 = time.perf_counter()
            router.apply(target)
            times[key].append(time.perf_counter() - t0)
    return times


def fresh_requests(port: int, n: int) -> list[str]:
    out = []
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/")
        out.append(c.getresponse().read().decode().strip())
        c.close()
    return out


def leaks_after_rollback(router, port: int, trials: int) -> int:
    leaked = 0
    for _ in range(trials):
        router.apply(Route(50))
        router.apply(Route(0))
        leaked += sum(1 for b in fresh_requests(port, 20) if b == "v2")
    return leaked


def runs_during_change(router, port: int, trials: int, after: int = 300) -> tuple[int, float]:
    """0 -> 20% while one sequential client sends requests, until `after` requests past the verified change."""
    import threading

    worst_run, worst_share = 0, 0.0
    for _ in range(trials):
        router.apply(Route(0))
        seq, got, done = Seq(port), [], threading.Event()

        def client():
            while not done.is_set():
                got.extend(seq.get(1))

        t = threading.Thread(target=client)
        t.start()
        time.sleep(0.05)
        router.apply(Route(20))
        mark = len(got)
        while len(got) < mark + after:
            time.sleep(0.01)
        done.set()
        t.join()
        worst_run, worst_share = max(worst_run, longest_run(got)), max(worst_share, max_window_share(got))
    router.apply(Route(0))
    return worst_run, worst_share


def haproxy_order(hp: HAProxy, phases: int) -> dict:
    transitions = [(0, 5), (0, 20), (5, 20), (20, 50), (50, 20), (1, 20)]
    results = {}
    for order in ("canary-first", "stable-first"):
        router = make({**hp.spec, "order": order}, "shop")
        results[order] = [(a, b, *runs_after_changes(router, hp.port, a, b, phases)) for a, b in transitions]
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--routers", default="nginx,haproxy,envoy,traefik", help="comma-separated: " + ", ".join(PARTS))
    ap.add_argument("--only", choices=["timing", "order"], help="run one part only")
    ap.add_argument("--order-phases", type=int, default=16, help="changes per HAProxy transition and order")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    tmp = Path(tempfile.mkdtemp(prefix="canary-lint-bench-"))
    sp, cp = free_port(), free_port()
    demos = [Demo(tmp, sp, "v1", latency_ms=0), Demo(tmp, cp, "v2", latency_ms=0)]
    names = ["haproxy"] if args.only == "order" else args.routers.split(",")
    parts = {}
    try:
        for name in names:
            parts[name] = PARTS[name](tmp, sp, cp)
        for name, part in ({} if args.only == "order" else parts).items():
            router, port = make(part.spec, "shop"), part.port
            load = Load(port, rps=200, limit=600, header_share=0)
            try:
                t = time_apply(router, args.trials)
            finally:
                load.stop()
            rb = t["rollback"]
            if name == "nginx":
                print("nginx: last change: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in router.timings.items()))
            print(
                f"{name}: decision -> verified rollback p50 {pct(rb, 0.5) * 1000:.1f} ms, p95 {pct(rb, 0.95) * 1000:.1f} "
                f"ms, p99 {pct(rb, 0.99) * 1000:.1f} ms, max {max(rb) * 1000:.1f} ms over {len(rb)} "
                f"(goal 200 ms: max is {max(rb) / 0.2:.2f}x of it); raise to 20% median "
                f"{statistics.median(t['up']) * 1000:.1f} ms"
            )
            leaked = leaks_after_rollback(router, port, max(5, args.trials // 2))
            print(f"{name}: requests on new connections reaching the canary after a verified rollback: {leaked}")
            run, share = runs_during_change(router, port, max(5, args.trials // 5))
            print(f"{name}: 0 -> 20% with a sequential client: longest canary run {run}, highest canary share "
                  f"in a 50-request window {share:.0%}")
        if args.only == "timing" or "haproxy" not in parts:
            return
        for order, rows in haproxy_order(parts["haproxy"], args.order_phases).items():
            detail = ", ".join(f"{a}->{b}: run {max(runs)}, share {min(sh):.0%}..{max(sh):.0%}" for a, b, runs, sh in rows)
            print(f"haproxy {order}: longest canary run {max(max(r[2]) for r in rows)} | {detail}")
    finally:
        for part in parts.values():
            part.stop()
        for d in demos:
            d.stop()


if __name__ == "__main__":
    main()
