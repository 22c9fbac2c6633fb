r"""Apache httpd: mod_proxy_balancer's load factors through balancer-manager, a header route by a RewriteMap file.

The balancer (`balancer://<balancer>`) and its two members are the operator's config; the runner changes them at
run time through balancer-manager, which keeps them in shared memory: a change is in force in every child
process at once, no reload. Canary weight w: load factors w and 100 - w (Apache takes 1.00-100.00 in
hundredths, so a weight between 0 and 1% is 1%, one between 99 and 100% is 99%); weight 0 disables the member
(`status D`) instead, as 0 is no load factor. A change is a POST per member with the balancer's nonce (read from
the manager's page, again when Apache no longer takes it) and a Referer naming the manager's host, as the
manager ignores a form without them; it answers 200 either way, so the members read back from the manager's XML
(`?b=…&xml=1`) decide. The order keeps a member serving throughout and the canary's share between its old and
new weight while a change is half done: a member going to 0 is disabled first when the other one serves (a
rollback takes the canary out with the first POST), and enabled before the other is disabled when it does not;
otherwise the load factor going down changes first.

The header route is a RewriteMap txt file owned by the runner, one line `<value> canary` while a header route
is in force:
  RewriteMap shop_canary "txt:/etc/apache2/shop-canary.map"
  RewriteCond "${shop_canary:%{HTTP:X-Canary}|-}" "=canary"
  RewriteRule "^/(.*)$" "http://10.0.0.2:8000/$1" [P,L]
mod_rewrite stats the file on every lookup and drops its cache of the map when the mtime changes, so the file
renamed in is what the next request sees, on every connection, kept-alive ones too, without a reload. (An
`<If>` on the header in a generated include would need a graceful reload per change: a config parse, new
children, and old children serving their open connections under the old routing until those close; the
rollback would wait for them, as nginx's does.) The file's first line names the header, which the config
holds, so the route reads back from the file alone. A cookie route is a second file, `cookie_map`, read the same
way with the cookie's value taken from the Cookie header (`%1`, the group of the condition before):
  RewriteMap shop_cookie "txt:/etc/apache2/shop-cookie.map"
  RewriteCond "%{HTTP_COOKIE}" "(?:^|;\s*)beta=([^;]*)"
  RewriteCond "${shop_cookie:%1|-}" "=canary"
  RewriteRule "^/(.*)$" "http://10.0.0.2:8000/$1" [P,L]
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from canary_lint.rollout.routers import Route, Router, RouterError, files, same, values
from canary_lint.rollout.routers.values import ABS_PATH, HOST_PORT, require, under

MARK = "# written by canary-lint rollout"
MEMBER = re.compile(r"https?://" + HOST_PORT.pattern + r"(?:/[A-Za-z0-9_.~/-]{0,200})?")
BALANCER = re.compile(r"[A-Za-z0-9_.-]{1,100}")
PATH = re.compile(r"/[A-Za-z0-9_./-]{0,200}")
_NS = "{http://httpd.apache.org}"
_NAME_LINE = re.compile(rf"{re.escape(MARK)}: (header|cookie) (\S+)")
ROUTES = ("header", "cookie")


class ApacheRouter(Router):
    kind = "apache"

    def __init__(self, spec: dict, service: str):
        super().__init__(spec, service)
        require(self.kind, "manager", spec["manager"], HOST_PORT, "host:port of balancer-manager")
        self.path = require(self.kind, "manager_path", spec.get("manager_path", "/balancer-manager"), PATH,
                            "an absolute URL path")
        self.balancer = require(self.kind, "balancer", spec["balancer"], BALANCER, "letters, digits and '_.-'")
        self.members = {role: require(self.kind, role, spec[role], MEMBER, "a member URL, http(s)://host:port")
                        for role in ("stable", "canary")}
        self.maps: dict[str, Path] = {}  # "header" | "cookie" -> the RewriteMap file of that route
        for kind in ROUTES:
            key = f"{kind}_map"
            if key not in spec:
                continue
            require(self.kind, key, spec[key], ABS_PATH, "an absolute path without spaces")
            path = under(self.kind, key, spec[key], Path(spec.get("map_dir") or Path(spec[key]).parent), "map_dir",
                         "the RewriteMap reads from")
            text = files.read(path) if path.is_file() else None
            if (text and not text.startswith(MARK)) or (text is None and path.exists()):
                raise RouterError(f"{self.kind} router: `{key}` {str(path)!r:.120} exists and was not "
                                  "written by canary-lint; not replacing it (an empty file is taken)")
            self.maps[kind] = path
        if len(set(self.maps.values())) < len(self.maps):
            raise RouterError(f"{self.kind} router: `header_map` and `cookie_map` must be two files")
        self.map = self.maps.get("header")
        self.url = f"http://{spec['manager']}{self.path}"
        self.headers = {"Referer": self.url}  # the manager ignores (and logs) a request whose Referer is not its host
        self._nonce: str | None = None
        self.timings: dict[str, float] = {}

    # -- what is written --------------------------------------------------------------------------------

    def render_map(self, route: Route, kind: str = "header") -> str:
        """The RewriteMap txt file of the header or cookie route: the name in the first line, then the value that
        routes to the canary."""
        pair = route.header if kind == "header" else route.cookie
        if not pair:
            return f"{MARK} for {self.service}: no {kind} route\n"
        name, value = (values.header if kind == "header" else values.cookie)(self.kind, pair)
        return f"{MARK}: {kind} {name}\n{value} canary\n"

    @staticmethod
    def factors(canary: float) -> dict[str, float | None]:
        """The load factor of each member for a canary weight, None for a disabled member."""
        c = round(max(0.0, min(100.0, canary)), 2)
        if c <= 0:
            return {"stable": 100.0, "canary": None}
        if c >= 100:
            return {"stable": None, "canary": 100.0}
        c = min(99.0, max(1.0, c))
        return {"stable": round(100 - c, 2), "canary": c}

    def posts(self, seen: dict[str, float | None], target: float) -> list[dict[str, str]]:
        """The forms to POST, in order, from the factors `seen` (None: disabled) to those of `target`."""
        want = self.factors(target)

        def form(role: str) -> dict[str, str]:
            lf = want[role]
            extra = {"w_status_D": "1"} if lf is None else {"w_lf": f"{lf:.2f}", "w_status_D": "0"}
            return {"b": self.balancer, "w": self.members[role], **extra}

        changed = [r for r in ("canary", "stable") if seen.get(r, 0.0) != want[r]]
        off = [r for r in changed if want[r] is None]
        if off:
            other = "stable" if off[0] == "canary" else "canary"
            order = off + [other] if seen.get(other) is not None else [other] + off
        else:
            order = sorted(changed, key=lambda r: 0 if seen.get(r) is not None and want[r] < seen[r] else 1)
        return [form(r) for r in order if r in changed]

    # -- what is in force -------------------------------------------------------------------------------

    def loaded(self) -> dict[str, float | None]:
        """Each member's load factor as the manager shows it (None: disabled or stopped)."""
        body = files.get(f"{self.url}?b={self.balancer}&xml=1", "Apache balancer-manager", 2.0, headers=self.headers)
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise RouterError(f"Apache balancer-manager {self.url} answered no XML (is `manager_path` its "
                              f"Location, and does the manager's host take the Referer {self.url}?)") from None
        found: dict[str, float | None] = {}
        for bal in root.iter(f"{_NS}balancer"):
            if bal.findtext(f"{_NS}name") != f"balancer://{self.balancer}":
                continue
            for w in bal.iter(f"{_NS}worker"):
                status = (w.findtext(f"{_NS}status") or "").split()
                lf = float(w.findtext(f"{_NS}loadfactor") or 0)
                found[w.findtext(f"{_NS}name") or ""] = None if {"Dis", "Stop"} & set(status) else lf
        missing = [url for url in self.members.values() if url not in found]
        if missing:
            raise RouterError(f"Apache balancer://{self.balancer} has no member {', '.join(missing)}; it has "
                              f"{', '.join(sorted(found)) or 'none (is the balancer defined in the server the manager runs in?)'}")
        return {role: found[url] for role, url in self.members.items()}

    def _route(self, lf: dict[str, float | None]) -> Route:
        c, s = lf["canary"], lf["stable"]
        if c is None and s is None:
            raise RouterError(f"Apache balancer://{self.balancer}: both members are disabled")
        canary = 0.0 if c is None else 100.0 if s is None else 100.0 * c / (c + s)
        return Route(canary, self._routed("header"), self._routed("cookie"))

    def _routed(self, kind: str) -> tuple[str, str] | None:
        """The (name, value) the `kind` map file routes to the canary, None when it routes none."""
        text = files.read(self.maps[kind]) if kind in self.maps else None
        lines = (text or "").splitlines()
        m = _NAME_LINE.fullmatch(lines[0]) if lines else None
        routed = [ln.split()[0] for ln in lines[1:] if ln.strip() and ln.split()[1:] == ["canary"]]
        return (m.group(2), routed[0]) if m and m.group(1) == kind and routed else None

    def current(self) -> Route:
        return self._route(self.loaded())

    # -- a change -------------------------------------------------------------------------------------

    def nonce(self, fresh: bool = False) -> str:
        """The balancer's nonce from the manager's page (its links carry `b=<balancer>&nonce=…`)."""
        if self._nonce is None or fresh:
            page = files.get(self.url, "Apache balancer-manager", 2.0, headers=self.headers)
            page = page.decode("utf-8", errors="replace")
            m = re.search(rf"b={re.escape(self.balancer)}&(?:amp;)?nonce=([A-Za-z0-9-]+)", page)
            if not m:
                raise RouterError(f"Apache balancer-manager {self.url} shows no balancer://{self.balancer}")
            self._nonce = m.group(1)
        return self._nonce

    def _post(self, forms: list[dict[str, str]], nonce: str) -> None:
        for form in forms:
            files.get(self.url, "Apache balancer-manager", 2.0, headers=self.headers, form={**form, "nonce": nonce})

    def _set(self, target: Route, previous: Route | None) -> None:
        wanted = {"header": target.header, "cookie": target.cookie}
        for kind, pair in wanted.items():
            if pair and kind not in self.maps:
                raise RouterError(f"Apache router: a {kind} step needs `{kind}_map` (the RewriteMap file)")
            if kind in self.maps and not pair and self._routed(kind):
                files.write(self.maps[kind], self.render_map(target, kind), newer=True)  # a route removed goes first
        self._post(self.posts(self.loaded(), target.canary), self.nonce())
        for kind, pair in wanted.items():
            if pair and self._routed(kind) != pair:
                files.write(self.maps[kind], self.render_map(target, kind), newer=True)

    def apply(self, target: Route, previous: Route | None = None, timeout: float | None = None) -> Route:
        """Changed, then read back; the manager applies a form before it answers, so a read-back that differs
        means the form was ignored: a stale nonce (Apache restarted) gets one more try with a fresh one."""
        t0 = time.perf_counter()
        self._set(target, previous)
        seen = self.current()
        if not same(seen, target):
            self._post(self.posts(self.loaded(), target.canary), self.nonce(fresh=True))
            seen = self.current()
        if not same(seen, target):
            raise RouterError(f"Apache balancer-manager {self.url} shows {seen.describe()} after the change to "
                              f"{target.describe()} (does it take the Referer {self.url}?)")
        self.timings = {"verified": time.perf_counter() - t0}
        return seen
