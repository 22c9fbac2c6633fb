"""command: user-given commands for any other splitter (ALB, API gateways, service meshes).

`set_weight` gets {canary} and {stable} (percent); `set_header` gets {name} and {value}; `clear_header`
removes the header route; `set_cookie` and `clear_cookie` do the same for the cookie route; `read` prints what is
in force, as JSON {"canary": N, "header": [name, value], "cookie": [name, value]} or just the canary percent. Without `read`, a zero exit status is taken as verification.
"""

from __future__ import annotations

import json
import shlex
import subprocess

from canary_lint.rollout.plan import duration
from canary_lint.rollout.routers import Route, Router, RouterError
from canary_lint.rollout.routers.values import expand, placeholders

COMMON = frozenset({"service", "region"})
PLACEHOLDERS = {"set_weight": COMMON | {"canary", "stable"}, "set_header": COMMON | {"name", "value"},
                "clear_header": COMMON | {"name", "value"}, "set_cookie": COMMON | {"name", "value"},
                "clear_cookie": COMMON | {"name", "value"}, "read": COMMON}


class CommandRouter(Router):
    kind = "command"

    def __init__(self, spec: dict, service: str):
        super().__init__(spec, service)
        self.timeout = duration(spec.get("timeout", "30s"))
        self._assumed = Route()
        self._argv: dict[str, list[str]] = {}
        for key, allowed in PLACEHOLDERS.items():  # refused now, before any traffic moves
            if key not in spec:
                continue
            cmd = spec[key]
            try:
                argv = shlex.split(cmd) if isinstance(cmd, str) else [str(a) for a in cmd]
            except ValueError as exc:
                raise RouterError(f"command router: `{key}` cannot be split into arguments: {exc}") from None
            if not argv:
                raise RouterError(f"command router: `{key}` is empty")
            for arg in argv:
                placeholders(self.kind, key, arg, allowed)
            self._argv[key] = argv

    def _run(self, key: str, **values) -> str:
        values = {**values, "service": self.service, "region": self.region}
        argv = [expand(a, values) for a in self._argv[key]]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RouterError(f"command router: {key} {argv[0]}: {exc}") from None
        if done.returncode != 0:
            raise RouterError(f"command router: {key} exited {done.returncode}: {done.stderr.strip()[-300:]}")
        return done.stdout

    def _set(self, target: Route, previous: Route | None) -> None:
        routes = {"header": (previous.header if previous else None, target.header),
                  "cookie": (previous.cookie if previous else None, target.cookie)}
        for kind, (before, after) in routes.items():  # a route removed goes before the weight changes
            if before and after != before and f"clear_{kind}" in self.spec:
                self._run(f"clear_{kind}", name=before[0], value=before[1])
        c = max(0.0, min(100.0, target.canary))
        self._run("set_weight", canary=f"{c:g}", stable=f"{100 - c:g}")
        for kind, (before, after) in routes.items():
            if after and after != before:
                if f"set_{kind}" not in self.spec:
                    raise RouterError(f"command router: a {kind} step needs `set_{kind}`")
                self._run(f"set_{kind}", name=after[0], value=after[1])
        self._assumed = target

    def current(self) -> Route:
        if "read" not in self.spec:
            return self._assumed
        out = self._run("read").strip()
        try:
            data = json.loads(out)
        except ValueError:
            raise RouterError(f"command router: read printed {out[:100]!r}, not JSON or a number") from None
        if isinstance(data, (int, float)):
            return Route(float(data), self._assumed.header, self._assumed.cookie)
        return Route.from_dict(data)
