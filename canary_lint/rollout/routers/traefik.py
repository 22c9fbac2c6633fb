"""Traefik: a weighted service, Header() and cookie rules through the file provider, verified through Traefik's API.

The runner owns one file of dynamic configuration (YAML) in the directory the file provider watches
(`providers.file.directory`, or the directory of `providers.file.filename`). For a router named N (default:
the service name) it defines the services N-stable and N-canary (one server each), N-split (weighted, weights
in hundredths of a percent), the router N (the base rule: `Host()` of `hosts`, else PathPrefix(`/`)) to
N-split, and while a header route is in force the router N-canary-header, `(base) && Header(name, value)`,
to N-canary; its rule is longer, so Traefik's default priority puts it first. While a cookie route is in force
the router N-canary-cookie, `(base) && HeaderRegexp(`Cookie`, regex)`, sends requests whose Cookie header
carries name=value to N-canary the same way (Traefik v3 rule syntax).
A change writes the file (atomic rename), then polls `/api/http/services` and `/api/http/routers`: in force
when the weights and the header router read back are the ones intended and every object is `enabled`. A file
Traefik loads with errors (the objects read back `disabled` with their error) puts the old file back and fails
the step. Traefik applies provider changes at most once per `providers.providersThrottleDuration` (default
2s): set it lower for faster changes, and `verify_timeout` above it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from canary_lint.rollout.routers import Route, Router, RouterError, files, same, values
from canary_lint.rollout.routers.values import HOST_PORT, NAME, require, under

TOTAL = 10_000
HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63}){0,20}")
_HEADER = re.compile(r"Header\(`([^`]*)`, `([^`]*)`\)")
_COOKIE = re.compile(r"HeaderRegexp\(`Cookie`, `([^`]*)`\)")
_SERVICE_REQUESTS = re.compile(r"traefik_service_requests_total\{([^{}\n]{0,2000})\}[ \t]+([0-9.eE+]{1,40})")
_LABEL = re.compile(r'([A-Za-z_]\w{0,60})="([^"\\\n]{0,300})"')
GATEWAY_CODES = ("502", "503", "504")  # Traefik's own answers when the server does not
MARK = "# written by canary-lint rollout"


class TraefikRouter(Router):
    kind = "traefik"

    def __init__(self, spec: dict, service: str):
        super().__init__(spec, service)
        for key in ("stable", "canary"):
            require(self.kind, key, spec[key], HOST_PORT, "host:port")
        require(self.kind, "api", spec["api"], HOST_PORT, "host:port of Traefik's API")
        self.name = spec.get("name") or re.sub(r"[^A-Za-z0-9_-]", "-", service)
        require(self.kind, "name", self.name, NAME, "letters, digits, '_' and '-'")
        self.provider = spec.get("provider", "file")
        require(self.kind, "provider", self.provider, NAME, "letters, digits, '_' and '-'")
        self.scheme = spec.get("scheme", "http")
        if self.scheme not in ("http", "https"):
            raise RouterError(f"{self.kind} router: `scheme` must be http or https, got {self.scheme!r:.40}")
        self.hosts = values.names(self.kind, "hosts", spec["hosts"], HOSTNAME, "a host name") \
            if "hosts" in spec else []
        self.entry_points = values.names(self.kind, "entry_points", spec["entry_points"], NAME,
                                         "letters, digits, '_' and '-'") if "entry_points" in spec else []
        path = Path(spec["dynamic_file"])
        if path.suffix not in (".yaml", ".yml"):
            raise RouterError(f"{self.kind} router: `dynamic_file` must end in .yaml or .yml, got {str(path)!r:.120}")
        self.file = under(self.kind, "dynamic_file", str(path), Path(spec.get("provider_dir") or path.parent),
                          "provider_dir", "Traefik's file provider watches")
        existing = files.read(self.file) if self.file.is_file() else None
        if (existing is not None and not existing.startswith(MARK)) or (existing is None and self.file.exists()):
            raise RouterError(f"{self.kind} router: `dynamic_file` {str(self.file)!r:.120} exists and was not "
                              "written by canary-lint; not replacing it")
        self.api = f"http://{spec['api']}/api/http"
        self.timings: dict[str, float] = {}

    # -- what is written --------------------------------------------------------------------------------

    def base_rule(self) -> str:
        return " || ".join(f"Host(`{h}`)" for h in self.hosts) if self.hosts else "PathPrefix(`/`)"

    def _matchers(self, route: Route) -> list[str]:
        """The terms the header router adds to the base rule, all of which must match."""
        name, value = values.header(self.kind, route.header)
        return [f"Header(`{name}`, `{value}`)"]

    def _cookie_matchers(self, route: Route) -> list[str]:
        """The terms the cookie router adds to the base rule: the Cookie header by a regular expression (it holds
        no backquote: a name and a value are letters, digits and '_.:-')."""
        return [f"HeaderRegexp(`Cookie`, `{values.cookie_regex(values.cookie(self.kind, route.cookie))}`)"]

    def render(self, route: Route) -> str:
        n = self.name
        c = int(round(max(0.0, min(100.0, route.canary)) * TOTAL / 100))
        entry = {"entryPoints": self.entry_points} if self.entry_points else {}
        routers = {n: {"rule": self.base_rule(), "service": f"{n}-split", **entry}}
        if route.header:
            rule = " && ".join([f"({self.base_rule()})", *self._matchers(route)])
            routers[f"{n}-canary-header"] = {"rule": rule, "service": f"{n}-canary", **entry}
        if route.cookie:
            rule = " && ".join([f"({self.base_rule()})", *self._cookie_matchers(route)])
            routers[f"{n}-canary-cookie"] = {"rule": rule, "service": f"{n}-canary", **entry}
        services = {
            f"{n}-split": {"weighted": {"services": [{"name": f"{n}-stable", "weight": TOTAL - c},
                                                     {"name": f"{n}-canary", "weight": c}]}},
            f"{n}-stable": {"loadBalancer": {"servers": [{"url": f"{self.scheme}://{self.spec['stable']}"}]}},
            f"{n}-canary": {"loadBalancer": {"servers": [{"url": f"{self.scheme}://{self.spec['canary']}"}]}},
        }
        body = json.dumps({"http": {"routers": routers, "services": services}}, indent=1)  # JSON is YAML
        return f"{MARK} for {self.service}; every change replaces this file\n{body}\n"

    # -- what is in force -------------------------------------------------------------------------------

    def _get(self, what: str, name: str) -> dict | None:
        return files.get_json(f"{self.api}/{what}/{name}@{self.provider}", "Traefik API", missing_ok=True)

    def loaded(self) -> tuple[Route, list[str]]:
        """The route Traefik's API shows, and the errors of the objects that make it up."""
        n, errors = self.name, []
        split = self._get("services", f"{n}-split")
        base = self._get("routers", n)
        if split is None or base is None:
            raise RouterError(f"Traefik {self.api} has no router {n}@{self.provider} and service "
                              f"{n}-split@{self.provider} (does its file provider watch `dynamic_file`?)")
        weights = {s.get("name"): int(s.get("weight", 0)) for s in split.get("weighted", {}).get("services", [])}
        c, s = weights.get(f"{n}-canary", 0), weights.get(f"{n}-stable", 0)
        header = None
        hdr = self._get("routers", f"{n}-canary-header")
        ck = self._get("routers", f"{n}-canary-cookie")
        for obj in (split, base, hdr, ck):
            if obj is not None and (obj.get("status") != "enabled" or obj.get("error")):
                errors.append(f"{obj.get('name')}: {obj.get('status')} {'; '.join(obj.get('error') or [])}".strip())
        if hdr is not None:
            m = _HEADER.search(hdr.get("rule", ""))
            header = (m.group(1), m.group(2)) if m else None
        cookie = None
        if ck is not None:
            m = _COOKIE.search(ck.get("rule", ""))
            cookie = values.cookie_of_regex(m.group(1)) if m else None
        return Route(0.0 if c + s == 0 else 100.0 * c / (c + s), header, cookie), errors

    def current(self) -> Route:
        route, errors = self.loaded()
        if errors:
            raise RouterError(f"Traefik serves {route.describe()} with errors: {' | '.join(errors)[:400]}")
        return route

    def failures(self) -> tuple[int, str] | None:
        """Requests for the canary's service answered 502/503/504 (Traefik's own answers when the server is down,
        and the canary's own such answers; its Prometheus metrics,
        `traefik_service_requests_total` on the API's entry point when `metrics.prometheus` is on, with its
        default service labels); None when Traefik serves no metrics there."""
        try:
            body = files.get(f"http://{self.spec['api']}/metrics", "Traefik metrics", missing_ok=True)
        except RouterError:
            return None
        if body is None:
            return None
        service = f"{self.name}-canary@{self.provider}"
        counts = {code: 0 for code in GATEWAY_CODES}  # no series yet: no request has reached the service
        for m in _SERVICE_REQUESTS.finditer(body.decode("utf-8", errors="replace")):
            labels = dict(_LABEL.findall(m.group(1)))
            if labels.get("service") == service and labels.get("code") in counts:
                try:
                    counts[labels["code"]] += int(float(m.group(2)))
                except (ValueError, OverflowError):  # `1e999`, `1.2.3`: no count
                    continue
        said = ", ".join(f"{n} HTTP {code}" for code, n in counts.items() if n) or "no HTTP 502/503/504"
        return sum(counts.values()), f"{said} of service {service}"

    # -- a change -------------------------------------------------------------------------------------

    def _set(self, target: Route, previous: Route | None) -> None:
        text = self.render(target)
        self._old = files.read(self.file)
        files.write(self.file, text)

    def apply(self, target: Route, previous: Route | None = None, timeout: float | None = None) -> Route:
        timeout = self.verify_timeout if timeout is None else timeout
        t0 = time.perf_counter()
        self._set(target, previous)
        deadline = time.monotonic() + timeout
        delay, last = 0.002, "nothing"
        while True:
            try:
                seen, errors = self.loaded()
                last = seen.describe() + (f" with errors: {' | '.join(errors)}" if errors else "")
            except RouterError as exc:
                seen, errors, last = None, [], str(exc)
            if seen is not None and same(seen, target):
                if errors:  # Traefik loaded the new file and cannot serve it
                    files.restore(self.file, self._old)
                    raise RouterError(f"Traefik loaded the new routing ({target.describe()}) with errors; the old "
                                      f"file is back: {' | '.join(errors)[:400]}")
                self.timings = {"verified": time.perf_counter() - t0}
                return seen
            if time.monotonic() >= deadline:
                raise RouterError(f"Traefik did not load the new routing ({target.describe()}) within "
                                  f"{timeout:g}s; its API shows {last}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
