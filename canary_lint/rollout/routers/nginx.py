"""nginx: rewrite the include file atomically, `nginx -t`, reload, then verify through a status listener.

The include file (http context) defines, for a router named N (default: the service name):
  upstream N_stable, N_canary, N_split (weighted) and `map ... $N_upstream`, which picks N_canary for the
  header route and the cookie route and N_split otherwise (a cookie route is a `map` on `$cookie_<name>`, or
  on `$http_cookie` by a regular expression for a name with '-' or '.', which no nginx variable name holds;
  `$cookie_<name>` finds the name in any letter case); and a tiny status server on `status_listen` that answers with the
  generation and the route of the configuration that is loaded. Proxy with `proxy_pass http://$N_upstream;`.
Reload: `nginx -t` first, then SIGHUP to the master (pid from `pid_file`, else the `pid` directive of
`conf`; `nginx -s reload` when neither is readable). Verification waits until the status server answers
with the new generation (new workers serve it) and, on Linux, until every worker of the previous
generation has closed its listening sockets (so no new connection can reach the old split); those workers
get the graceful QUIT as soon as the new ones answer, instead of after the master's fixed 100 ms wait.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import uuid
from pathlib import Path

from canary_lint.rollout.routers import Route, Router, RouterError, files
from canary_lint.rollout.routers.values import UPSTREAM, cookie, header, require, under

STATUS = re.compile(r"[0-9.]{7,15}:[0-9]{1,5}")


class NginxRouter(Router):
    kind = "nginx"

    def __init__(self, spec: dict, service: str):
        super().__init__(spec, service)
        self.name = spec.get("name") or re.sub(r"[^A-Za-z0-9_]", "_", service)
        for key in ("stable", "canary"):
            require(self.kind, key, spec[key], UPSTREAM, "host:port, [ipv6]:port or unix:/path")
        require(self.kind, "status_listen", spec["status_listen"], STATUS, "an IPv4 address:port")
        # the include file is replaced on every step: only inside the directory nginx includes it from
        include_dir = Path(spec.get("include_dir") or spec.get("prefix") or Path(spec["conf"]).parent)
        self.include = under(self.kind, "include_file", spec["include_file"], include_dir)
        if self.include == Path(spec["conf"]).resolve():
            raise RouterError(f"{self.kind} router: `include_file` is nginx's main `conf`; give the split its own file")
        self.binary = spec.get("nginx", "nginx")
        self.status = spec["status_listen"]
        self._old_workers: set[int] = set()
        self._listening: set[str] = set()
        self.timings: dict[str, float] = {}

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
        mapping = self._mapping(route)
        status = json.dumps({"generation": generation, **route.to_dict()}).replace("'", "")
        return (
            f"# written by canary-lint rollout for {self.service}; every change replaces this file\n"
            f"upstream {n}_stable {{\n    server {st};\n}}\n"
            f"upstream {n}_canary {{\n    server {ca};\n}}\n"
            f"upstream {n}_split {{\n{split}}}\n"
            f"{mapping}"
            f"server {{\n    listen {self.status};\n    access_log off;\n"
            f"    location / {{\n        default_type application/json;\n        return 200 '{status}';\n    }}\n}}\n"
        )

    def _mapping(self, route: Route) -> str:
        """`map`s that set $N_upstream: N_canary for a request the header or the cookie route matches, N_split
        for the others (the cookie's map, when both are in force, is the header map's default)."""
        n = self.name
        maps, default = [], f"{n}_split"
        if route.cookie:
            name, value = cookie(self.kind, route.cookie)
            if re.fullmatch(r"[A-Za-z0-9_]+", name):
                var, key = f"$cookie_{name}", f'"{value}"'
            else:  # the name and value hold letters, digits and '_.:-': only '.' needs escaping in the regex
                var, key = "$http_cookie", f'"~(?:^|;\\s*){re.escape(name)}={re.escape(value)}(?:;|$)"'
            out = f"${n}_upstream" if not route.header else f"${n}_cookie_upstream"
            maps.append(f"map {var} {out} {{\n    default {default};\n    {key} {n}_canary;\n}}\n")
            default = out
        if route.header:
            name, value = header(self.kind, route.header)
            var = "$http_" + name.lower().replace("-", "_")
            maps.append(f'map {var} ${n}_upstream {{\n    default {default};\n    "{value}" {n}_canary;\n}}\n')
        if not maps:
            maps.append(f"map $host ${n}_upstream {{\n    default {n}_split;\n}}\n")
        return "".join(maps)

    def _set(self, target: Route, previous: Route | None) -> None:
        self._generation = uuid.uuid4().hex[:12]
        text = self.render(target, self._generation)
        old = files.read(self.include)
        try:
            self._write(text)
            # the listening sockets the old workers hold, read while `nginx -t` runs (/proc/net/tcp is slow to read)
            found: list[set[str]] = []
            reader = threading.Thread(target=lambda: found.append(_listening_inodes()), daemon=True)
            reader.start()
            try:
                test = subprocess.run(self._cmd("-t", "-q"), capture_output=True, text=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise RouterError(f"nginx -t could not run ({exc}); kept the old file") from None
            finally:
                reader.join(5)
            self._listening = found[0] if found else set()
            if test.returncode != 0:
                raise RouterError(
                    f"nginx -t rejected the new routing ({target.describe()}); kept the old file: "
                    f"{test.stderr.strip()[-400:]}"
                )
        except BaseException:
            self._restore(old)
            raise
        master = self._master()
        self._old_workers = _children(master) if master else set()
        if master:
            try:
                os.kill(master, signal.SIGHUP)
                return
            except OSError:
                pass
        try:
            reload = subprocess.run(self._cmd("-s", "reload"), capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            reload = subprocess.CompletedProcess([], 1, "", str(exc))
        if reload.returncode != 0:
            self._restore(old)  # nginx still runs the old file: keep the file saying so
            raise RouterError(f"nginx reload failed (kept the old file): {reload.stderr.strip()[-400:]}")

    def _pid_file(self) -> Path | None:
        if self.spec.get("pid_file"):
            return Path(self.spec["pid_file"])
        try:
            conf = Path(self.spec["conf"]).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        m = re.search(r"^[ \t]*pid[ \t]+([^;\s]+)[ \t]*;", conf, re.M)
        if not m:
            return Path("/run/nginx.pid")
        p = Path(m.group(1))
        if not p.is_absolute():
            p = Path(self.spec.get("prefix") or "/usr/share/nginx") / p
        return p

    def _master(self) -> int | None:
        pf = self._pid_file()
        try:
            pid = int(pf.read_text().strip()) if pf else 0
        except (OSError, ValueError):
            return None
        return pid if pid > 0 and Path(f"/proc/{pid}").exists() else None

    def _restore(self, old: str | None) -> None:
        files.restore(self.include, old)

    def _write(self, text: str) -> None:
        files.write(self.include, text)

    def _status(self) -> dict:
        return files.get_json(f"http://{self.status}/", "nginx status listener")

    def current(self) -> Route:
        return Route.from_dict(self._status())

    def apply(self, target: Route, previous: Route | None = None, timeout: float | None = None) -> Route:
        import time

        timeout = self.verify_timeout if timeout is None else timeout
        t0 = time.perf_counter()
        self._set(target, previous)
        t1 = time.perf_counter()
        self.timings = {"test_and_signal": t1 - t0}
        deadline = time.monotonic() + timeout
        delay = 0.002
        seen = None
        quit_sent = False
        while time.monotonic() < deadline:
            try:
                seen = self._status()
            except RouterError:
                seen = None
            if seen and seen.get("generation") == self._generation:
                self.timings.setdefault("new_workers_serving", time.perf_counter() - t1)
                if not _still_listening(self._old_workers, self._listening):
                    self.timings["old_workers_closed"] = time.perf_counter() - t1
                    return Route.from_dict(seen)
                if not quit_sent:
                    # New workers serve the new split: tell the old ones to stop accepting now rather than after
                    # the master's fixed 100 ms grace (a graceful QUIT, as the master itself sends).
                    for pid in self._old_workers:
                        try:
                            os.kill(pid, signal.SIGQUIT)
                        except OSError:
                            pass
                    quit_sent = True
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        raise RouterError(
            f"nginx did not load the new routing within {timeout:g}s "
            f"(status listener shows {seen and Route.from_dict(seen).describe()})"
        )


def _children(pid: int) -> set[int]:
    """Child pids of `pid` (Linux /proc); empty elsewhere."""
    kids = set()
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            kids.update(int(x) for x in text.split())
    except OSError:
        pass
    return kids


def _listening_inodes() -> set[str]:
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A":  # LISTEN
                inodes.add(parts[9])
    return inodes


def _still_listening(pids: set[int], listening: set[str]) -> bool:
    """True while any of `pids` (old workers) still holds one of the `listening` socket inodes."""
    if not pids or not listening:
        return False
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue  # exited
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in listening:
                return True
    return False
