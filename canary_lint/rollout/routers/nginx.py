"""nginx: rewrite the include file atomically, `nginx -t`, reload, then verify through a status listener.

The include file (http context) defines, for a router named N (default: the service name):
  upstream N_stable, N_canary, N_split (weighted) and `map ... $N_upstream`, which picks N_canary for the
  header route and N_split otherwise; and a tiny status server on `status_listen` that answers with the
  generation and the route of the configuration that is loaded. Proxy with `proxy_pass http://$N_upstream;`.
Verification waits until the status server answers with the new generation: new workers are serving it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import urllib.request
import uuid
from pathlib import Path

from canary_lint.rollout.routers import Route, Router, RouterError


class NginxRouter(Router):
    kind = "nginx"

    def __init__(self, spec: dict, service: str):
        super().__init__(spec, service)
        self.name = spec.get("name") or re.sub(r"[^A-Za-z0-9_]", "_", service)
        self.include = Path(spec["include_file"])
        self.binary = spec.get("nginx", "nginx")
        self.status = spec["status_listen"]

    def _cmd(self, *extra: str) -> list[str]:
        cmd = [self.binary]
        if self.spec.get("prefix"):
            cmd += ["-p", self.spec["prefix"]]
        return cmd + ["-c", self.spec["conf"], *extra]

    def render(self, route: Route, generation: str) -> str:
        n, st, ca = self.name, self.spec["stable"], self.spec["canary"]
        w = max(0.0, min(100.0, route.canary))
        if w <= 0:
            split = f"    server {st};\n    server {ca} down;\n"
        elif w >= 100:
            split = f"    server {st} down;\n    server {ca};\n"
        else:
            # nginx weights are integers: percent * 100 keeps two decimals of precision
            split = f"    server {st} weight={round((100 - w) * 100)};\n    server {ca} weight={round(w * 100)};\n"
        if route.header:
            var = "$http_" + route.header[0].lower().replace("-", "_")
            value = route.header[1]
            mapping = f"map {var} ${n}_upstream {{\n    default {n}_split;\n    \"{value}\" {n}_canary;\n}}\n"
        else:
            mapping = f"map $host ${n}_upstream {{\n    default {n}_split;\n}}\n"
        status = json.dumps({"generation": generation, **route.to_dict()}).replace("'", "")
        return (f"# written by canary-lint rollout for {self.service}; every change replaces this file\n"
                f"upstream {n}_stable {{\n    server {st};\n}}\n"
                f"upstream {n}_canary {{\n    server {ca};\n}}\n"
                f"upstream {n}_split {{\n{split}}}\n"
                f"{mapping}"
                f"server {{\n    listen {self.status};\n    access_log off;\n"
                f"    location / {{\n        default_type application/json;\n        return 200 '{status}';\n    }}\n}}\n")

    def _set(self, target: Route, previous: Route | None) -> None:
        self._generation = uuid.uuid4().hex[:12]
        text = self.render(target, self._generation)
        old = self.include.read_text(encoding="utf-8") if self.include.exists() else None
        self._write(text)
        test = subprocess.run(self._cmd("-t", "-q"), capture_output=True, text=True, timeout=30)
        if test.returncode != 0:
            if old is not None:
                self._write(old)
            raise RouterError(f"nginx -t rejected the new routing ({target.describe()}); kept the old file: "
                              f"{test.stderr.strip()[-400:]}")
        reload = subprocess.run(self._cmd("-s", "reload"), capture_output=True, text=True, timeout=30)
        if reload.returncode != 0:
            raise RouterError(f"nginx reload failed: {reload.stderr.strip()[-400:]}")

    def _write(self, text: str) -> None:
        self.include.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.include.parent, prefix=".canary-lint-", suffix=".conf")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.include)

    def _status(self) -> dict:
        try:
            with urllib.request.urlopen(f"http://{self.status}/", timeout=1.0) as resp:
                return json.loads(resp.read().decode())
        except (OSError, ValueError) as exc:
            raise RouterError(f"nginx status listener {self.status} did not answer: {exc}") from None

    def current(self) -> Route:
        return Route.from_dict(self._status())

    def apply(self, target: Route, previous: Route | None = None, timeout: float = 5.0) -> Route:
        self._set(target, previous)
        import time

        deadline = time.monotonic() + timeout
        delay = 0.002
        seen = None
        while time.monotonic() < deadline:
            try:
                seen = self._status()
            except RouterError:
                seen = None
            if seen and seen.get("generation") == self._generation:
                return Route.from_dict(seen)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        raise RouterError(f"nginx did not load the new routing within {timeout:g}s "
                          f"(status listener shows {seen and Route.from_dict(seen).describe()})")
