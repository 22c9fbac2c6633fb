"""CLS104 for Django REST framework throttles and django-ratelimit: a throttle counts requests in a Django cache (the default one,
or the alias its `cache = caches[...]` names); when the settings the service runs with make that cache a
LocMemCache or FileBasedCache, every process of v1 and v2 counts on its own.

Throttles are the tree's subclasses of DRF's rate throttles, DRF's own throttles listed in `throttle_classes`
(attribute or decorator) and `REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint import djsettings
from canary_lint.pyast import where
from canary_lint.state.backends import _named, deployment_sets
from canary_lint.state.djrules import DEFAULT_CACHE, CacheBackend
from canary_lint.state.envs import const_str, dotted
from canary_lint.state.settingvalues import module_settings, resolve

DRF_THROTTLES = ("SimpleRateThrottle", "UserRateThrottle", "AnonRateThrottle", "ScopedRateThrottle")
MAX_DEPTH = 4


@dataclass
class Throttle:
    path: str
    node: ast.AST
    name: str
    alias: ast.AST | None  # the `caches[...]` subscript, None: the default cache
    alias_setting: str = ""  # a setting naming the alias, "default" when unset (django-ratelimit)


class SettingsView:
    """Values of the settings one settings module runs with, names followed (`BACKEND: USER_CACHE_BACKEND`)."""

    def __init__(self, chain: djsettings.SettingsChain):
        self.chain = chain
        self._settings: dict = {}

    def setting(self, name: str):
        if name not in self._settings:
            self._settings[name] = module_settings(self.chain.body, {name}).get(name)
        return self._settings[name]

    def const(self, node, switches: list[str], depth: int = 0):
        value = resolve(node, switches) if isinstance(node, ast.AST) else node
        name = value.id if isinstance(value, ast.Name) else \
            dotted(value)[len("settings."):] if isinstance(value, ast.Attribute) and dotted(value).startswith("settings.") else None
        if name and depth < MAX_DEPTH:
            found = self.setting(name)
            if found is None:
                return None
            switches.extend(found.switches)
            return self.const(found.value, switches, depth + 1)
        return value

    def backend(self, alias: str, switches: list[str]) -> CacheBackend | None:
        """Cache `alias` as the settings give it (Django's LocMemCache when there is no CACHES); None when the
        backend cannot be read."""
        caches = self.setting("CACHES")
        if caches is None:
            return CacheBackend(alias, DEFAULT_CACHE, None, ()) if alias == "default" else None
        if not isinstance(caches.value, ast.Dict):
            return None
        switches.extend(caches.switches)
        for key, entry in zip(caches.value.keys, caches.value.values):
            if key is not None and self.const(key, []) == alias and isinstance(entry, ast.Dict):
                for k, v in zip(entry.keys, entry.values):
                    if const_str(k) == "BACKEND":
                        value = self.const(v, switches)
                        return CacheBackend(alias, value, v, tuple(switches)) if isinstance(value, str) else None
        return None


def throttles(tree: ast.Module, path: str, text: str) -> list[Throttle]:
    if "rest_framework" not in text or "hrottle" not in text:
        return _ratelimits(tree, path, text)
    out: list[Throttle] = []
    drf_names = _drf_imports(tree)
    mine: dict[str, ast.AST | None] = {}  # throttle class of this module -> its cache alias (inherited)
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        bases = [dotted(b) or "" for b in cls.bases]
        if any(b.rsplit(".", 1)[-1] in DRF_THROTTLES and (b in drf_names or "." in b) for b in bases) \
                or any(b in mine for b in bases):
            alias = _cache_alias(cls)
            if alias is None:
                alias = next((mine[b] for b in bases if b in mine and mine[b] is not None), None)
            mine[cls.name] = alias
            out.append(Throttle(path, cls, cls.name, alias))
    for node in ast.walk(tree):
        listed = None
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "throttle_classes" for t in node.targets):
            listed = node.value
        elif isinstance(node, ast.Call) and dotted(node.func).endswith("throttle_classes") and node.args:
            listed = node.args[0]
        if isinstance(listed, (ast.List, ast.Tuple)):
            for item in listed.elts:
                name = dotted(item) or ""
                if name in drf_names and name.rsplit(".", 1)[-1] in DRF_THROTTLES:
                    out.append(Throttle(path, item, name.rsplit(".", 1)[-1], None))
    return out + _ratelimits(tree, path, text)


def _ratelimits(tree: ast.Module, path: str, text: str) -> list[Throttle]:
    """django-ratelimit's `@ratelimit(...)`: counted in the cache RATELIMIT_USE_CACHE names."""
    if "ratelimit" not in text:
        return []
    names = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom)
             and n.module in ("django_ratelimit.decorators", "ratelimit.decorators") for a in n.names if a.name == "ratelimit"}
    for node in ast.walk(tree) if names else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for dec in node.decorator_list:
                func = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(func, ast.Name) and func.id in names:
                    return [Throttle(path, dec, "django-ratelimit @ratelimit", None, "RATELIMIT_USE_CACHE")]
    return []


def _drf_imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "rest_framework.throttling":
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "rest_framework":
            names |= {f"{a.asname or a.name}.{t}" for a in node.names if a.name == "throttling" for t in DRF_THROTTLES}
    return names


def _cache_alias(cls: ast.ClassDef) -> ast.AST | None:
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "cache" for t in stmt.targets) \
                and isinstance(stmt.value, ast.Subscript) and dotted(stmt.value.value).endswith("caches"):
            return stmt.value.slice
    return None


def default_throttles(chain: djsettings.SettingsChain) -> list[Throttle]:
    """DRF's own throttles named in REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] of the settings."""
    out = []
    for stmt in chain.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values):
                    if const_str(k) == "DEFAULT_THROTTLE_CLASSES" and isinstance(v, (ast.List, ast.Tuple)):
                        out += [Throttle(chain.path_of(e), e, const_str(e).rsplit(".", 1)[-1], None) for e in v.elts
                                if (const_str(e) or "").startswith("rest_framework.throttling.")]
    return out


def findings(ctx, files, env_set):
    found: list[Throttle] = []
    for file, text in files:
        if ("hrottle" in text and "rest_framework" in text) or "ratelimit" in text:
            tree = ctx.python_ast(file)
            if tree is not None:
                found += throttles(tree, file.path, text)
    for chain in djsettings.chains(ctx):
        local = []
        view = SettingsView(chain)
        for t in found + default_throttles(chain):
            switches: list[str] = []
            if t.alias_setting:
                alias = view.const(ast.Name(id=t.alias_setting), switches) if view.setting(t.alias_setting) else "default"
            else:
                alias = "default" if t.alias is None else view.const(t.alias, switches)
            if not isinstance(alias, str):
                continue  # an alias we cannot read: not judged
            cache = view.backend(alias, switches)
            if cache is not None and cache.stores and not deployment_sets(switches, env_set):
                local.append((t, cache, switches))
        if not local:
            continue
        t, cache, switches = local[0]
        more = f" and {len(local) - 1} more" if len(local) > 1 else ""
        where_cache = f" ({chain.path_of(cache.node)}:{cache.node.lineno})" if cache.node is not None else \
            " (no CACHES setting)"
        safe = f"; safe when {_named(switches)} points it at a shared cache" if switches else ""
        yield ctx.finding(
            "CLS104", t.path, **where(t.node), subject=f"drf-throttle:{t.name}",
            message=(f"{'' if t.alias_setting else 'DRF throttle '}`{t.name}`{more} counts requests in the `{cache.alias}` cache, "
                     f"{cache.name} ({cache.kind}){where_cache}: v1 and v2 (and every worker) count "
                     f"separately, so a client gets the rate once per process and the limit moves with the canary "
                     f"weight{safe}"),
            fix="give the throttle's cache a backend every version shares (Redis, Memcached or the database cache)",
        )
        return
