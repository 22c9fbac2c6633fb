"""HAProxy: the runtime API over the admin socket; no reload.

Weights use HAProxy's 0-256 range as percent: canary = w, baseline = 100 - w. A server at weight 0 is also
put in `drain` (no new requests, open connections finish); a server that should take traffic is made
`ready` first. Of the two weights, the one going up changes first and the one going down second, both on one
admin-socket line (microseconds apart). The reason is HAProxy's round robin (lb_fwrr): it hands out positions
in windows as long as the backend's total effective weight was when the window began; a weight lowered while
the total is below that window's total can push the lowered server into the next window when the current one
is near its end, and the servers left in the current window then get every request until it ends. Lowering
the baseline first did that in about a fifth of the round-robin phases (HAProxy 2.6): 57 canary requests in a
row from weight 0 to 20%, 239 from 20% to 50%. Raising first keeps the total at or above the window's while
the change is half done, and the canary's share under the higher of its old and new weight.
`order: stable-first` lowers the baseline first when the canary goes up.
A header route uses a map file named in the config:
  use_backend %[req.hdr(X-Canary),map(/etc/haproxy/canary.map,shop)] if { req.hdr(X-Canary) -m found }
  default_backend shop
where `header_map` is that file and `canary_backend` the backend serving only the canary. A cookie route is the
same with `cookie_map` and `req.cook()` (before the default backend, after or before the header line):
  use_backend %[req.cook(beta),map(/etc/haproxy/canary-cookie.map,shop)] if { req.cook(beta) -m found }
The config names the header and the cookie; the map files hold the value that routes to the canary.
"""

from __future__ import annotations

import re
import socket

from canary_lint.rollout.routers import Route, Router, RouterError, values
from canary_lint.rollout.routers.values import ABS_PATH, HAPROXY_NAME, require


class HAProxyRouter(Router):
    kind = "haproxy"

    def __init__(self, spec: dict, service: str):
        super().__init__(spec, service)
        self.socket = spec["socket"]
        for key in ("backend", "stable", "canary", "canary_backend"):
            if key in spec:  # runtime-API arguments: a space or newline would add arguments or commands
                require(self.kind, key, spec[key], HAPROXY_NAME, "letters, digits and '_.:-'")
        for key in ("header_map", "cookie_map"):
            if key in spec:
                require(self.kind, key, spec[key], ABS_PATH, "an absolute path without spaces")
        self.backend = spec["backend"]
        self.order = spec.get("order", "canary-first")

    def send(self, command: str) -> str:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2.0)
                s.connect(self.socket)
                s.sendall(command.encode() + b"\n")
                chunks = []
                while True:
                    data = s.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
        except OSError as exc:
            raise RouterError(f"HAProxy admin socket {self.socket}: {exc}") from None
        return b"".join(chunks).decode(errors="replace")

    def _check(self, command: str) -> None:
        """Run one admin-socket line (commands joined by `; ` run one after the other); any answer but an
        empty one or `Done` is a refusal (HAProxy answers an empty line on success for `set server`)."""
        refused = [line for line in self.send(command).splitlines() if line.strip() and not line.startswith("Done")]
        if refused:
            raise RouterError(f"HAProxy refused `{command}`: {' | '.join(refused)[:300]}")

    def _weight_cmds(self, server: str, weight: int) -> list[str]:
        path = f"{self.backend}/{server}"
        if weight <= 0:
            return [f"set server {path} weight 0", f"set server {path} state drain"]
        return [f"set server {path} state ready", f"set server {path} weight {weight}"]

    def _set(self, target: Route, previous: Route | None) -> None:
        if previous is None:
            try:
                previous = self.current()
            except RouterError:
                previous = Route()
        if target.header != previous.header and not target.header:
            self._map("header", None)  # a route removed goes before any weight change
        if target.cookie != previous.cookie and not target.cookie:
            self._map("cookie", None)
        c = int(round(max(0.0, min(100.0, target.canary))))
        s = 100 - c
        canary_cmds = self._weight_cmds(self.spec["canary"], c)
        stable_cmds = self._weight_cmds(self.spec["stable"], s)
        # the weight going up first (see the module's docstring); `order: stable-first` reverses a raise
        canary_first = self.order != "stable-first" if c > previous.canary else False
        self._check("; ".join((canary_cmds + stable_cmds) if canary_first else (stable_cmds + canary_cmds)))
        if target.header and target.header != previous.header:
            self._map("header", target.header)
        if target.cookie and target.cookie != previous.cookie:
            self._map("cookie", target.cookie)

    def _map(self, kind: str, pair: tuple[str, str] | None) -> None:
        """The map file of the header (`kind` "header") or cookie route: emptied, then the value that routes."""
        mp = self.spec.get(f"{kind}_map")
        if not mp:
            if pair:
                raise RouterError(f"HAProxy router: a {kind} step needs `{kind}_map` and `canary_backend`")
            return
        self._check(f"clear map {mp}")
        if pair:
            value = (values.header if kind == "header" else values.cookie)(self.kind, pair)[1]
            self._check(f"add map {mp} {value} {self.spec['canary_backend']}")

    def _routed(self, kind: str) -> str | None:
        """The value the `kind` map file routes to the canary backend, None when none does."""
        mp = self.spec.get(f"{kind}_map")
        value = None
        if mp:
            for line in self.send(f"show map {mp}").splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[2] == self.spec.get("canary_backend"):
                    value = parts[1]
        return value

    def _weight(self, server: str) -> int:
        out = self.send(f"get weight {self.backend}/{server}").strip()
        m = re.match(r"(\d+)", out)
        if not m:
            raise RouterError(f"HAProxy: cannot read the weight of {self.backend}/{server}: {out[:200]}")
        return int(m.group(1))

    def current(self) -> Route:
        c, s = self._weight(self.spec["canary"]), self._weight(self.spec["stable"])
        canary = 0.0 if c + s == 0 else 100.0 * c / (c + s)
        header, cookie = self._routed("header"), self._routed("cookie")
        # the names are in HAProxy's config, not in the maps: the ones last applied
        return Route(canary, (self._header_name or "", header) if header else None,
                     (self._cookie_name or "", cookie) if cookie else None)

    _header_name: str | None = None
    _cookie_name: str | None = None

    def apply(self, target: Route, previous: Route | None = None, timeout: float | None = None) -> Route:
        if target.header:
            self._header_name = target.header[0]
        if target.cookie:
            self._cookie_name = target.cookie[0]
        return super().apply(target, previous, timeout)

    def failures(self) -> tuple[int, str] | None:
        """Connection and response errors of the canary server (`show stat` econ + eresp), in the weighted
        backend and in the header/cookie backend: each is a request HAProxy answered 503/502 itself (or retried
        elsewhere, when the config says so)."""
        try:
            lines = self.send("show stat").splitlines()
        except RouterError:
            return None
        if not lines or not lines[0].startswith("#"):
            return None
        header = lines[0].lstrip("# ").split(",")
        backends = {self.backend, self.spec.get("canary_backend")}
        econ = eresp = 0
        found = False
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") in backends and row.get("svname") == self.spec["canary"]:
                found = True
                econ += int(row.get("econ") or 0)
                eresp += int(row.get("eresp") or 0)
        if not found:
            return None
        return econ + eresp, f"{econ} connection errors, {eresp} response errors of server {self.spec['canary']}"
