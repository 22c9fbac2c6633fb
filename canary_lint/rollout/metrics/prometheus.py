"""Prometheus HTTP API: /api/v1/query and /api/v1/query_range, with timeouts and retries.

An empty result is *no data* (None), never zero.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

from canary_lint.rollout.metrics import MetricsError, MetricsUnavailable


class Prometheus:
    def __init__(self, url: str, timeout: float = 5.0, retries: int = 2):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.deadline: float | None = None  # wall-clock time no retry or timeout may run past (one try always)

    def _get(self, path: str, params: dict) -> dict:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        last = None
        tries = 0
        for attempt in range(self.retries + 1):
            if attempt:
                pause = min(0.2 * 2 ** (attempt - 1), 2.0)
                if self.deadline is not None and time.time() + pause >= self.deadline:
                    break
                time.sleep(pause)
            timeout = self.timeout
            if self.deadline is not None:
                timeout = max(0.2, min(timeout, self.deadline - time.time()))
            tries += 1
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    body = json.loads(resp.read().decode())
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500:
                    try:
                        detail = json.loads(exc.read().decode()).get("error", "")
                    except ValueError:
                        detail = ""
                    raise MetricsError(f"Prometheus rejected the query ({exc.code}): {detail}") from None
                last = f"HTTP {exc.code}"
                continue
            except (OSError, ValueError) as exc:
                last = str(getattr(exc, "reason", exc))
                continue
            if body.get("status") != "success":
                raise MetricsError(f"Prometheus: {body.get('errorType')}: {body.get('error')}")
            return body["data"]
        raise MetricsUnavailable(f"Prometheus at {self.url} did not answer after {tries} tries: {last}")

    def query(self, expr: str, at: float | None = None) -> list[tuple[dict, float]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        out = []
        for item in data["result"]:
            value = float(item["value"][1])
            if not math.isnan(value):
                out.append((item["metric"], value))
        return out

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        """Sum of the result; None when the result is empty (no data)."""
        result = self.query(expr, at)
        return sum(v for _, v in result) if result else None

    def latest(self, series: str, at: float | None = None) -> float | None:
        """The time of the latest sample of the laggiest of `series` (a selector of one metric: how far the
        data of a version reaches); None when none is live (never scraped, or gone stale)."""
        return self.scalar(f"min(timestamp({series}))", at)

    def resets(self, series: str, window: float, at: float | None = None) -> float | None:
        """Counter resets of `series` (a selector of one counter) over the `window` seconds before `at`."""
        return self.scalar(f"sum(resets({series}[{max(1, math.ceil(window))}s]))", at)

    def oldest(self, series: str, window: float, at: float | None = None) -> float | None:
        """When `series` has its first sample within the `window` before `at` (to 1/300 of the window, at least
        1 s): how much of a window a rate over it really covers, for a service scraped for less time than that."""
        w = max(1, math.ceil(window))
        step = max(1, math.ceil(w / 300))
        return self.scalar(f"min(min_over_time(timestamp({series})[{w}s:{step}s]))", at)

    def started(self) -> float | None:
        """When this Prometheus process started (/api/v1/status/runtimeinfo); None when the server does not say
        (an API-compatible store without that endpoint). Samples from before it come from the previous run."""
        try:
            data = self._get("/api/v1/status/runtimeinfo", {})
        except MetricsError:
            return None
        try:
            return datetime.fromisoformat(data["startTime"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return None

    def range(self, expr: str, start: float, end: float, step: float) -> list[float]:
        data = self._get(
            "/api/v1/query_range",
            {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 0.001):g}"},
        )
        values = []
        for item in data["result"]:
            values.extend(float(v) for _, v in item["values"] if v not in ("NaN", "+Inf", "-Inf"))
        return values

    def up(self) -> bool:
        try:
            self._get("/api/v1/query", {"query": "1"})
            return True
        except (MetricsUnavailable, MetricsError):
            return False
