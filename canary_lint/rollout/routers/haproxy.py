"""HAProxy: the runtime API over the admin socket; no reload.

Weights use HAProxy's 0-256 range as percent: canary = w, baseline = 100 - w. A server at weight 0 is also
put in `drain` (no new requests, open connections finish); a server that should take traffic is made
`ready` first. The two weight changes are ordered so the canary never gets more than its target while the
change is half done. Measured with HAProxy 2.6 round-robin (bench/rollout/bench_routing.py): when the
canary's share goes up, lowering the baseline first and raising the canary second never gave the canary
more than one request in a row, while the other order gave runs of consecutive canary requests and a canary
share above target in the requests that followed. So: going up, the baseline first (`order: stable-first`,
the default); going down, always the canary first.
A header route uses a map file named in the config:
  use_backend %[req.hdr(X-Canary),map(/etc/haproxy/canary.map,shop)] if { req.hdr(X-Canary) -m found }
  default_backend shop
where `header_map` is that file and `canary_backend` the backend serving only the canary.
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
        if "header_map" in spec:
            require(self.kind, "header_map", spec["header_map"], ABS_PATH, "an absolute path without spaces")
        self.backend = spec["backend"]
        self.order = spec.get("order", "stable-first")

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
        out = self.send(command).strip()
        if out and not out.startswith("Done"):
            # HAProxy answers an empty line on success for `set server`
            raise RouterError(f"HAProxy refused `{command}`: {out[:300]}")

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
            self._header(None)  # the header route goes before any weight change
        c = int(round(max(0.0, min(100.0, target.canary))))
        s = 100 - c
        canary_cmds = self._weight_cmds(self.spec["canary"], c)
        stable_cmds = self._weight_cmds(self.spec["stable"], s)
        # going up: the baseline first unless configured (measured in bench/rollout); going down: the canary first
        canary_first = self.order == "canary-first" if c > previous.canary else True
        for cmd in (canary_cmds + stable_cmds) if canary_first else (stable_cmds + canary_cmds):
            self._check(cmd)
        if target.header and target.header != previous.header:
            self._header(target.header)

    def _header(self, header: tuple[str, str] | None) -> None:
        mp = self.spec.get("header_map")
        if not mp:
            if header:
                raise RouterError("HAProxy router: a header step needs `header_map` and `canary_backend`")
            return
        self._check(f"clear map {mp}")
        if header:
            value = values.header(self.kind, header)[1]
            self._check(f"add map {mp} {value} {self.spec['canary_backend']}")

    def _weight(self, server: str) -> int:
        out = self.send(f"get weight {self.backend}/{server}").strip()
        m = re.match(r"(\d+)", out)
        if not m:
            raise RouterError(f"HAProxy: cannot read the weight of {self.backend}/{server}: {out[:200]}")
        return int(m.group(1))

    def current(self) -> Route:
        c, s = self._weight(self.spec["canary"]), self._weight(self.spec["stable"])
        canary = 0.0 if c + s == 0 else 100.0 * c / (c + s)
        header = None
        name = None
        mp = self.spec.get("header_map")
        if mp:
            for line in self.send(f"show map {mp}").splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[2] == self.spec.get("canary_backend"):
                    name = parts[1]
            if name:
                header = (self._header_name or "", name)
        return Route(canary, header)

    _header_name: str | None = None

    def apply(self, target: Route, previous: Route | None = None, timeout: float | None = None) -> Route:
        if target.header:
            self._header_name = target.header[0]
        return super().apply(target, previous, timeout)
