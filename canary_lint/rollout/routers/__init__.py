"""Routers: one small interface for every traffic splitter.

A router sets the canary's weight (0-100, the baseline gets the rest), an optional header route (requests
carrying `name: value` always reach the canary) and an optional cookie route (requests whose cookie `name` is
`value` always reach the canary), and reads back what is in force. `apply()` changes routing
and returns only once the change is verified in force (or raises `RouterError`). Kubernetes routers (Istio
VirtualService, Gateway API HTTPRoute, Argo Rollouts) implement the same three methods.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass


class RouterError(Exception):
    pass


@dataclass(frozen=True)
class Route:
    canary: float = 0.0  # percent of requests to the canary
    header: tuple[str, str] | None = None  # requests with this header always go to the canary
    cookie: tuple[str, str] | None = None  # requests with this cookie (name, value) always go to the canary

    def describe(self) -> str:
        h = f", header {self.header[0]}: {self.header[1]} -> canary" if self.header else ""
        k = f", cookie {self.cookie[0]}={self.cookie[1]} -> canary" if self.cookie else ""
        return f"canary {self.canary:g}%{h}{k}"

    def to_dict(self) -> dict:
        d = {"canary": self.canary, "header": list(self.header) if self.header else None}
        return {**d, "cookie": list(self.cookie)} if self.cookie else d  # a route without one reads as before

    @classmethod
    def from_dict(cls, d: dict) -> "Route":
        return cls(float(d.get("canary", 0)), tuple(d["header"]) if d.get("header") else None,
                   tuple(d["cookie"]) if d.get("cookie") else None)


class Router(abc.ABC):
    """A traffic router: subclasses say how to set a route (`_set`) and how to read it back (`current`)."""

    kind = "abstract"

    def __init__(self, spec: dict, service: str):
        self.spec = spec
        self.service = service
        self.region = spec.get("region", "")
        from canary_lint.rollout.plan import duration

        self.verify_timeout = duration(spec.get("verify_timeout", "5s"))

    @abc.abstractmethod
    def current(self) -> Route:
        """What is in force now, read from the router itself."""

    @abc.abstractmethod
    def _set(self, target: Route, previous: Route | None) -> None:
        """Send the change to the router (without waiting for it to take effect)."""

    def apply(self, target: Route, previous: Route | None = None, timeout: float | None = None) -> Route:
        """Change routing to `target` and wait until the router reports it in force."""
        self._set(target, previous)
        return self.verify(target, timeout)

    def verify(self, target: Route, timeout: float | None = None) -> Route:
        timeout = self.verify_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                seen = self.current()
            except RouterError:
                seen = None
            if seen is not None and same(seen, target):
                return seen
            if time.monotonic() >= deadline:
                raise RouterError(
                    f"{self.kind} router: expected {target.describe()} in force, "
                    f"read back {seen.describe() if seen else 'nothing'}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def describe(self) -> str:
        return f"{self.kind}{' ' + self.region if self.region else ''}"

    def check_cookie(self, pair: tuple[str, str]) -> None:
        """Raise RouterError when this router cannot route the cookie `pair` (checked when the plan is read)."""

    def failures(self) -> tuple[int, str] | None:
        """Requests for the canary the router could not get an answer to, so far (a counter since the router
        started) and what it counts; None when the router does not expose it (nginx open source)."""
        return None


def same(a: Route, b: Route) -> bool:
    """`a` is `b` as far as a router can tell (weights within half a percent)."""
    return abs(a.canary - b.canary) < 0.5 and a.header == b.header and a.cookie == b.cookie


# kind -> (module under canary_lint.rollout.routers, class); each module is imported only when its kind is used
KINDS = {
    "nginx": ("nginx", "NginxRouter"),
    "haproxy": ("haproxy", "HAProxyRouter"),
    "envoy": ("envoy", "EnvoyRouter"),
    "traefik": ("traefik", "TraefikRouter"),
    "apache": ("apache", "ApacheRouter"),
    "command": ("command", "CommandRouter"),
}


def make(spec: dict, service: str) -> Router:
    import importlib

    kind = spec["kind"]
    if kind not in KINDS:
        raise RouterError(f"unknown router kind {kind!r}")
    module, cls = KINDS[kind]
    return getattr(importlib.import_module(f"canary_lint.rollout.routers.{module}"), cls)(spec, service)
