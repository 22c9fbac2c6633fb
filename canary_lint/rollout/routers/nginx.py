"""nginx: rewrite the include file atomically, `nginx -t`, reload, then verify through a status listener.

The include file (http context) defines, for a router named N (default: the service name):
  upstream N_stable, N_canary, N_split (weighted) and `map ... $N_upstream`, which picks N_canary for the
  header route and the cookie route and N_split otherwise (a cookie route is a `map` on `$cookie_<name>`, or
  on `$http_cookie` by a regular expression for a name with '-' or '.', which no nginx variable name holds;
  `$cookie_<name>` finds the name in any letter case); and a tiny status server on `status_listen` that answers with the
  generation and the route of the configuration that is loaded. Proxy with `proxy_pass http://$N_upstream;`.
Reload: `nginx -t` first, then SIGHUP to the master (pid from `pid_file`, else the `pid` directive of
`conf`; `nginx -s reload` when neither is readable). Verification proves two things, reading no socket table:
1. the status server answers with the new generation (new workers serve the new file);
2. every worker of the previous generation, by the PIDs and start times read from the master's children just
   before the reload, has exited. A worker told to stop closes its listening sockets and its idle keep-alive
   connections at once, but it still serves, with the old split, a connection it accepted before and that
   had not sent its request yet (a browser's preconnect), and it finishes its requests in flight: only its
   exit proves that no request is routed by the old weights any more. Those workers get the graceful QUIT as
   soon as the master has forked the new ones, instead of after the master's fixed 100 ms wait. A worker
   kept up by a long request or an idle connection that never sends one lingers up to nginx's
   `worker_shutdown_timeout` (none by default): set it below `verify_timeout`, or verification fails naming
   the workers still running. Without a readable pid file only the generation is checked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
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
        self._old_workers: dict[int, str] = {}  # pid -> start time, the workers serving before the reload
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
            try:
                test = subprocess.run(self._cmd("-t", "-q"), capture_output=True, text=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise RouterError(f"nginx -t could not run ({exc}); kept the old file") from None
            if test.returncode != 0:
                raise RouterError(
                    f"nginx -t rejected the new routing ({target.describe()}); kept the old file: "
                    f"{test.stderr.strip()[-400:]}"
                )
        except BaseException:
            self._restore(old)
            raise
        master = self._master()
        self._master_pid = master
        self._old_workers = _workers(master) if master else {}
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
        serving = quit_sent = False
        old = dict(self._old_workers)
        while True:
            if not quit_sent and old and self._master_pid and set(_workers(self._master_pid)) - set(old):
                # The master forked the new generation's workers (it does so only once the new file loaded):
                # tell the old ones to stop accepting now, as the master itself does after a fixed 100 ms
                # (a graceful QUIT). Connections waiting in the shared listening queues go to the new workers.
                self.timings["new_workers_started"] = time.perf_counter() - t1
                _quit(old)
                quit_sent = True
            if not serving:
                try:
                    seen = self._status()
                except RouterError:
                    seen = None
                if seen and seen.get("generation") == self._generation:
                    serving = True
                    self.timings["new_workers_serving"] = time.perf_counter() - t1
                    if not quit_sent:
                        _quit(old)
                        quit_sent = True
            if serving:
                old = {pid: start for pid, start in old.items() if _alive(pid, start)}
                if not old:
                    self.timings["old_workers_exited"] = time.perf_counter() - t1
                    return Route.from_dict(seen)
            if time.monotonic() >= deadline:
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 0.01 if quit_sent else 0.05)
        if not serving:
            shown = f"{Route.from_dict(seen).describe()} (generation {seen.get('generation')})" if seen else "nothing"
            raise RouterError(
                f"nginx did not load the new routing ({target.describe()}) within {timeout:g}s: its status "
                f"listener on {self.status} shows {shown}; the reload failed or is still running "
                "(nginx's error log says why)"
            )
        pids = ", ".join(str(p) for p in sorted(old))
        raise RouterError(
            f"nginx serves the new routing ({target.describe()}) on new connections, but old worker process(es) "
            f"{pids} still run {timeout:g}s after the reload: a connection one of them accepted before (a request "
            "in flight, or one not sent yet) can still be routed by the previous split; set nginx's "
            f"`worker_shutdown_timeout` below verify_timeout ({timeout:g}s) to bound how long they finish"
        )


def _quit(workers: dict[int, str]) -> None:
    for pid, start in workers.items():
        if _alive(pid, start):
            try:
                os.kill(pid, signal.SIGQUIT)
            except OSError:
                pass


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (state first), None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _workers(master: int) -> dict[int, str]:
    """The master's worker processes (not its cache manager or loader) by pid -> start time; Linux /proc,
    empty elsewhere. Reads the master's own children lists, and /proc/<pid>/stat of each child only."""
    kids: set[int] = set()
    try:
        for task in Path(f"/proc/{master}/task").iterdir():
            kids.update(int(x) for x in (task / "children").read_text().split())
    except OSError:  # a kernel without the children lists: the process table's parent pids
        kids = set()
        for d in Path("/proc").iterdir():
            st = _stat(int(d.name)) if d.name.isdigit() else None
            if st and len(st) > 1 and st[1] == str(master):
                kids.add(int(d.name))
    workers = {}
    for pid in kids:
        st = _stat(pid)
        if st is None or len(st) < 20 or st[0] in "ZX":
            continue
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            title = b""
        if b"nginx: cache " in title:  # cache manager / cache loader: they serve no request
            continue
        workers[pid] = st[19]  # field 22, the start time: a reused pid is another process
    return workers


def _alive(pid: int, start: str) -> bool:
    """The process `pid` that started at `start` still runs (not exited, not a zombie waiting for its master)."""
    st = _stat(pid)
    return st is not None and len(st) > 19 and st[0] not in "ZX" and st[19] == start
