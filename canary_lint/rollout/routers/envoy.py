"""Envoy: routes by file-based RDS, written by atomic rename, verified through the admin endpoint.

The runner owns one RDS file: a DiscoveryResponse with the RouteConfiguration `route_config` (default: the
service name), one virtual host, and two routes:
  `canary-header`  requests matching the header route go to `header_cluster` (default: the canary's cluster);
                   present only while a header route is in force
  `canary-cookie`  requests whose Cookie header carries the cookie route's name=value (a regular expression on
                   the whole header) go to `cookie_cluster` (default: the canary's cluster); only while a
                   cookie route is in force
  `split`          weighted_clusters: the stable and canary clusters, weights in hundredths of a percent
The clusters are the operator's (bootstrap `static_resources` or CDS); `validate_clusters` makes Envoy reject
a route naming a cluster it does not know. The HTTP connection manager reads the file with
  rds: {route_config_name: shop, config_source: {resource_api_version: V3,
        path_config_source: {path: /etc/envoy/rds/shop.json, watched_directory: {path: /etc/envoy/rds}}}}
A change writes the file with a fresh `version_info`, then polls the admin endpoint: the change is in force
when every RDS subscription of the route configuration shows that version as its `version_text` in `/stats`
(Envoy has read and accepted the file), and the routes read back from `/config_dump` are the ones intended. An update Envoy rejects or cannot read
(`update_rejected` or `update_failure` going up) puts the old file back and fails the step at once; Envoy keeps
serving the previous routes and its log says why.
"""

from __future__ import annotations

import re
import time
import urllib.parse
import uuid
from pathlib import Path

from canary_lint.rollout.routers import Route, Router, RouterError, files, same, values
from canary_lint.rollout.routers.values import DOMAIN, ENVOY_NAME, HOST_PORT, NAME, require, under

ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
TOTAL = 10_000  # weights in hundredths of a percent
_COUNTERS = ("update_rejected", "update_failure")
RE2_OVERHEAD = 17  # of the cookie expression's program, besides one unit per character of name=value


class EnvoyRouter(Router):
    kind = "envoy"

    def __init__(self, spec: dict, service: str):
        super().__init__(spec, service)
        require(self.kind, "admin", spec["admin"], HOST_PORT, "host:port of Envoy's admin endpoint")
        for key in ("stable_cluster", "canary_cluster", "header_cluster", "cookie_cluster"):
            if key in spec:
                require(self.kind, key, spec[key], ENVOY_NAME, "letters, digits and '_.:-'")
        self.route_config = spec.get("route_config") or re.sub(r"[^A-Za-z0-9_-]", "_", service)
        require(self.kind, "route_config", self.route_config, NAME, "letters, digits, '_' and '-'")
        self.domains = values.names(self.kind, "domains", spec.get("domains", ["*"]), DOMAIN,
                                    "a host name, *.domain or *")
        path = Path(spec["rds_file"])
        if path.suffix not in (".json", ".yaml", ".yml"):
            raise RouterError(f"{self.kind} router: `rds_file` must end in .json, .yaml or .yml (Envoy reads the "
                              f"format from the name), got {str(path)!r:.120}")
        self.file = under(self.kind, "rds_file", str(path), Path(spec.get("rds_dir") or path.parent),
                          "rds_dir", "Envoy's path_config_source watches")
        self._refuse_foreign_file()
        self.admin = f"http://{spec['admin']}"
        self.re2_max_program_size = int(spec.get("re2_max_program_size", 100))  # Envoy's runtime default
        self.header_cluster = spec.get("header_cluster", spec["canary_cluster"])
        self.cookie_cluster = spec.get("cookie_cluster", spec["canary_cluster"])
        self.timings: dict[str, float] = {}

    def _refuse_foreign_file(self) -> None:
        """The file is replaced on every step: only when it is this route configuration's RDS file (or absent)."""
        text = files.read(self.file) if self.file.is_file() else None
        if text is None and not self.file.exists():
            return
        try:
            import yaml

            doc = yaml.safe_load(text or "")
            resources = doc["resources"]
            ours = all(r["@type"] == ROUTE_TYPE and r["name"] == self.route_config for r in resources)
        except Exception:  # noqa: BLE001 - anything unreadable is not ours
            ours = False
        if not ours:
            raise RouterError(f"{self.kind} router: `rds_file` {str(self.file)!r:.120} exists and is not the RDS "
                              f"file of route configuration {self.route_config!r}; not replacing it")

    # -- what is written --------------------------------------------------------------------------------

    def _matchers(self, route: Route) -> list[dict]:
        """The header matchers of the `canary-header` route: every one must match."""
        name, value = values.header(self.kind, route.header)
        return [{"name": name, "string_match": {"exact": value}}]

    def check_cookie(self, pair: tuple[str, str]) -> None:
        """Envoy compiles the cookie route's expression with RE2 and rejects one whose program is larger than its
        runtime's `re2.max_program_size.error_level` (100 unless raised): measured on Envoy, name and value may
        hold 83 characters together at 100, one more per unit of the limit."""
        name, value = values.cookie(self.kind, pair)
        room = self.re2_max_program_size - RE2_OVERHEAD
        if len(name) + len(value) > room:
            raise RouterError(
                f"{self.kind} router: cookie {name}={value[:40]}{'…' if len(value) > 40 else ''}: Envoy would reject "
                f"its match (name and value {len(name) + len(value)} characters; at most {room} with "
                f"re2.max_program_size.error_level {self.re2_max_program_size}): use a shorter cookie, or raise "
                "that runtime key in Envoy and set the router's `re2_max_program_size` to it")

    def _cookie_matchers(self, route: Route) -> list[dict]:
        """The header matchers of the `canary-cookie` route: the whole `cookie` header by a regular expression
        (Envoy's route match has no cookie matcher; its safe_regex matches the whole value)."""
        regex = values.cookie_regex(values.cookie(self.kind, route.cookie))
        return [{"name": "cookie", "string_match": {"safe_regex": {"regex": regex}}}]

    def render(self, route: Route, version: str) -> str:
        import json

        c = int(round(max(0.0, min(100.0, route.canary)) * TOTAL / 100))
        routes = []
        if route.header:
            routes.append({"name": "canary-header", "match": {"prefix": "/", "headers": self._matchers(route)},
                           "route": {"cluster": self.header_cluster}})
        if route.cookie:
            routes.append({"name": "canary-cookie", "match": {"prefix": "/", "headers": self._cookie_matchers(route)},
                           "route": {"cluster": self.cookie_cluster}})
        routes.append({"name": "split", "match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
            {"name": self.spec["stable_cluster"], "weight": TOTAL - c},
            {"name": self.spec["canary_cluster"], "weight": c}]}}})
        config = {"@type": ROUTE_TYPE, "name": self.route_config, "validate_clusters": True,
                  "virtual_hosts": [{"name": self.route_config, "domains": self.domains, "routes": routes}]}
        return json.dumps({"version_info": version, "resources": [config]}, indent=1) + "\n"

    # -- what is in force -------------------------------------------------------------------------------

    def _stats(self) -> dict[str, dict[str, str]]:
        """`version_text`, `update_rejected`, `update_failure` of each RDS subscription of the route
        configuration (one per HTTP connection manager stat prefix), from the admin `/stats`."""
        pattern = rf"\.rds\.{self.route_config}\.({'|'.join(('version_text',) + _COUNTERS)})$"
        url = f"{self.admin}/stats?" + urllib.parse.urlencode({"filter": pattern})
        text = files.get(url, "Envoy admin").decode("utf-8", errors="replace")
        found: dict[str, dict[str, str]] = {}
        for line in text.splitlines():
            key, _, value = line.partition(": ")
            m = re.fullmatch(rf"(.+)\.rds\.{self.route_config}\.(\w+)", key)
            if m:
                found.setdefault(m.group(1), {})[m.group(2)] = value.strip().strip('"')
        if not found:
            raise RouterError(f"Envoy {self.admin} has no RDS subscription of route configuration "
                              f"{self.route_config!r} (does its HTTP connection manager read `rds_file`?)")
        return found

    def _problems(self) -> int:
        return sum(int(s.get(k, 0)) for s in self._stats().values() for k in _COUNTERS)

    def loaded(self) -> tuple[Route, str]:
        """The route and `version_info` of the route configuration Envoy has loaded (/config_dump)."""
        dump = files.get_json(f"{self.admin}/config_dump?resource=dynamic_route_configs", "Envoy admin", 2.0)
        for entry in dump.get("configs", []) if isinstance(dump, dict) else []:
            config = entry.get("route_config") or {}
            if config.get("name") == self.route_config:
                return self._route_of(config), str(entry.get("version_info", ""))
        raise RouterError(f"Envoy {self.admin} has not loaded route configuration {self.route_config!r}")

    def _route_of(self, config: dict) -> Route:
        hosts = [v for v in config.get("virtual_hosts", []) if v.get("name") == self.route_config]
        routes = {r.get("name"): r for r in hosts[0].get("routes", [])} if hosts else {}
        if "split" not in routes:
            raise RouterError(f"Envoy route configuration {self.route_config!r} has no `split` route: "
                              "not written by canary-lint")
        weights = {c["name"]: int(c.get("weight", 0))
                   for c in routes["split"]["route"]["weighted_clusters"]["clusters"]}
        c, s = weights.get(self.spec["canary_cluster"], 0), weights.get(self.spec["stable_cluster"], 0)
        header = None
        if "canary-header" in routes:
            for m in routes["canary-header"]["match"].get("headers", []):
                exact = m.get("string_match", {}).get("exact")
                if exact is not None:
                    header = (m["name"], exact)
        cookie = None
        if "canary-cookie" in routes:
            for m in routes["canary-cookie"]["match"].get("headers", []):
                regex = m.get("string_match", {}).get("safe_regex", {}).get("regex")
                if m.get("name", "").lower() == "cookie" and regex:
                    cookie = values.cookie_of_regex(regex)
        return Route(0.0 if c + s == 0 else 100.0 * c / (c + s), header, cookie)

    def current(self) -> Route:
        return self.loaded()[0]

    # -- a change -------------------------------------------------------------------------------------

    def _set(self, target: Route, previous: Route | None) -> None:
        self._version = f"canary-lint-{uuid.uuid4().hex[:12]}"
        text = self.render(target, self._version)
        self._old = files.read(self.file)
        try:
            self._problems_before = self._problems()
        except RouterError:
            self._problems_before = None  # Envoy not answering: the verification says so
        files.write(self.file, text)

    def apply(self, target: Route, previous: Route | None = None, timeout: float | None = None) -> Route:
        timeout = self.verify_timeout if timeout is None else timeout
        t0 = time.perf_counter()
        self._set(target, previous)
        self.timings = {"write": time.perf_counter() - t0}
        deadline = time.monotonic() + timeout
        delay, last = 0.001, "nothing"
        while True:
            try:
                stats = self._stats()
            except RouterError as exc:
                stats, last = None, str(exc)
            if stats is not None:
                problems = sum(int(s.get(k, 0)) for s in stats.values() for k in _COUNTERS)
                if self._problems_before is not None and problems > self._problems_before:
                    files.restore(self.file, self._old)
                    raise RouterError(
                        f"Envoy rejected the new routing ({target.describe()}): update_rejected + update_failure "
                        f"went from {self._problems_before} to {problems}; the old RDS file is back (Envoy's log "
                        "says why)")
                versions = {s.get("version_text") for s in stats.values()}
                if versions == {self._version}:
                    # /config_dump keeps the older version_info when the new file's routes hash the same (Envoy
                    # skips an update that changes nothing), so the routes decide, not the version
                    seen, version = self.loaded()
                    if same(seen, target):
                        self.timings["verified"] = time.perf_counter() - t0
                        return seen
                    raise RouterError(f"Envoy loaded version {version} as {seen.describe()}, "
                                      f"not {target.describe()}")
                last = "version " + ", ".join(sorted(str(v) for v in versions))
            if time.monotonic() >= deadline:
                raise RouterError(f"Envoy did not load the new routing ({target.describe()}) within {timeout:g}s; "
                                  f"its admin endpoint shows {last}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def failures(self) -> tuple[int, str] | None:
        """Connection failures and timeouts of the canary's clusters (admin `/stats`): each is a request Envoy
        answered 503/504 itself."""
        clusters = sorted({self.spec["canary_cluster"], self.header_cluster, self.cookie_cluster})
        names = "|".join(re.escape(c) for c in clusters)
        url = f"{self.admin}/stats?" + urllib.parse.urlencode(
            {"filter": rf"^cluster\.({names})\.(upstream_cx_connect_fail|upstream_rq_timeout)$"})
        try:
            text = files.get(url, "Envoy admin").decode("utf-8", errors="replace")
        except RouterError:
            return None
        counts = {"upstream_cx_connect_fail": 0, "upstream_rq_timeout": 0}
        for line in text.splitlines():
            key, _, value = line.partition(": ")
            stat = key.rsplit(".", 1)[-1]
            if stat in counts and value.strip().isdigit():
                counts[stat] += int(value.strip())
        fails, timeouts = counts["upstream_cx_connect_fail"], counts["upstream_rq_timeout"]
        return fails + timeouts, f"{fails} connection failures, {timeouts} timeouts of {', '.join(clusters)}"
