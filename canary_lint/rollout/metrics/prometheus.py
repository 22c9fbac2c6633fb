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

from canary_lint.rollout.metrics import MetricsError, MetricsUnavailable


class Prometheus:
    def __init__(self, url: str, timeout: float = 5.0, retries: int = 2):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries

    def _get(self, path: str, params: dict) -> dict:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        last = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as resp:
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
        raise MetricsUnavailable(f"Prometheus at {self.url} did not answer after {self.retries + 1} tries: {last}")

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
