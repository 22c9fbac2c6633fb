"""A tiny service for rollout tests: answers GET /, exposes version-labelled Prometheus metrics on /metrics.

  python demo_service.py --port 18001 --version v1 [--error-rate 0.05] [--latency-ms 20]
                         [--slow-fraction 0.05 --slow-seconds 2]
Errors and slow requests are spread evenly (every 1/rate-th request of each route), so a rate is exact, not
random, among the requests of each route as among all.
Every series has a `route` label: "header" for requests that carry the canary header (X-Canary; the router
sends those to the canary whatever the weight), "cookie" for requests that carry the canary cookie (`beta`),
"weight" for the others.
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


ROUTES = ("weight", "header", "cookie")


def _route(headers) -> str:
    if headers.get("X-Canary"):
        return "header"
    cookies = [c.strip().partition("=")[0] for h in headers.get_all("Cookie") or [] for c in h.split(";")]
    return "cookie" if "beta" in cookies else "weight"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = dict.fromkeys(ROUTES, 0)  # counted per route, so each route's error rate is exact
        self.codes: dict[tuple[int, str], int] = {}
        self.buckets = {r: [0] * len(BUCKETS) for r in ROUTES}
        self.count = dict.fromkeys(ROUTES, 0)
        self.total = dict.fromkeys(ROUTES, 0.0)

    def next(self, route: str) -> int:
        with self.lock:
            self.n[route] += 1
            return self.n[route]

    def observe(self, code: int, seconds: float, route: str) -> None:
        with self.lock:
            self.codes[code, route] = self.codes.get((code, route), 0) + 1
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    self.buckets[route][i] += 1
            self.count[route] += 1
            self.total[route] += seconds

    def render(self, version: str) -> str:
        with self.lock:
            lines = ["# TYPE http_requests_total counter"]
            for (code, route), n in sorted(self.codes.items()):
                lines.append(f'http_requests_total{{version="{version}",code="{code}",route="{route}"}} {n}')
            lines.append("# TYPE http_request_duration_seconds histogram")
            for r in ROUTES:
                lbl = f'version="{version}",route="{r}"'
                for b, n in zip(BUCKETS, self.buckets[r]):
                    lines.append(f'http_request_duration_seconds_bucket{{{lbl},le="{b}"}} {n}')
                lines.append(f'http_request_duration_seconds_bucket{{{lbl},le="+Inf"}} {self.count[r]}')
                lines.append(f"http_request_duration_seconds_count{{{lbl}}} {self.count[r]}")
                lines.append(f"http_request_duration_seconds_sum{{{lbl}}} {self.total[r]}")
        return "\n".join(lines) + "\n"


def _every(i: int, rate: float, offset: float = 0.0) -> bool:
    return rate > 0 and int(i * rate + offset) != int((i - 1) * rate + offset)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--slow-fraction", type=float, default=0.0)
    ap.add_argument("--slow-seconds", type=float, default=2.0)
    args = ap.parse_args(argv)
    stats = Stats()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 65536  # one write per response (flushed by handle_one_request)
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def _send(self, code: int, body: bytes, ctype="text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/metrics":
                self._send(200, stats.render(args.version).encode(), "text/plain; version=0.0.4")
                return
            t0 = time.perf_counter()
            route = _route(self.headers)
            i = stats.next(route)
            delay = args.latency_ms / 1000.0
            if _every(i, args.slow_fraction, 0.5):
                delay += args.slow_seconds
            time.sleep(delay)
            code = 500 if _every(i, args.error_rate) else 200
            self._send(code, f"{args.version}\n".encode())
            stats.observe(code, time.perf_counter() - t0, route)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    server = Server(("127.0.0.1", args.port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
