"""Metrics providers. A provider answers instant queries (a number per label set) and range queries."""

from __future__ import annotations


class MetricsError(Exception):
    """The query itself is wrong (bad PromQL): a plan error, never retried."""


class MetricsUnavailable(Exception):
    """The provider did not answer (down, timeout, 5xx): the stage holds, and rolls back past the limit."""


def make(spec: dict, timeout: float, retries: int):
    if spec["kind"] == "prometheus":
        from canary_lint.rollout.metrics.prometheus import Prometheus

        return Prometheus(spec["url"], timeout=timeout, retries=retries)
    raise MetricsError(f"unknown metrics provider {spec['kind']!r}")
