"""Flask-Caching backends that live in one process or on one host, and what the app keeps in them.

CLS108: per-user data (`cache.set` with a key naming a user, `@cache.memoize` on a function taking one or on a
method of a user model). CLS103: sessions, through a `SessionInterface` of the app's own that stores them in
the cache. The backend is `CACHE_TYPE`, read from config modules, config classes, `app.config[...]`,
`app.config.update(...)` and `Cache(config={...})`; an `if` the reader cannot decide keeps both branches, and a
local backend in one of them is reported naming the condition that selects the other ("safe when
`CACHE_REDIS_URL` holds"). Development and test configurations (a `DevConfig` class, an `if DEBUG:`) are not
what v1 and v2 serve with; a shared backend set unconditionally anywhere in the project means the local one
belongs to another configuration.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from canary_lint.pyast import all_nodes, source_of, where
from canary_lint.state import caches, memory, settingvalues
from canary_lint.state.envs import const_str, dotted

LOCAL = {"simple": "SimpleCache (per-process memory)", "simplecache": "SimpleCache (per-process memory)",
         "filesystem": "FileSystemCache (local files)", "filesystemcache": "FileSystemCache (local files)"}
SHARED_PREFIXES = ("redis", "memcached", "saslmemcached", "spreadsaslmemcached")
WRITES = {"set", "add", "set_many", "inc", "dec"}
SESSION_CALLS = {"set", "add", "get", "set_many", "get_many", "delete"}
DEV_CLASS = re.compile(r"(?i)^(?:test|testing|dev|develop|development|local|debug)")
DEV_TEST = re.compile(r"(?i)debug|testing|develop|\bdev\b|\btests?\b")
USER_MODELS = re.compile(r"(?i)^(?:\w*user|account|member|profile|customer|principal)$")
SESSION_FIX = ("configure a shared backend (CACHE_TYPE \"RedisCache\" or \"MemcachedCache\") for every version, or "
               "keep sessions in a store both share (Flask's signed cookie, Flask-Session on Redis or the database)")
USER_FIX = ("configure a shared backend (CACHE_TYPE \"RedisCache\" or \"MemcachedCache\") for both versions, "
            "or keep per-user data in the database or the session")


@dataclass
class Backend:
    path: str
    node: ast.AST  # where the local backend is set
    desc: str  # "FileSystemCache (local files)"
    safe: str  # "; safe when … selects a shared backend" or ""


def _kind(value) -> str:
    """'local', 'shared' or '' (unknown, a reference, Flask-Caching's NullCache)."""
    if not isinstance(value, str):
        return ""
    name = value.rsplit(".", 1)[-1].lower()
    if name in LOCAL:
        return "local"
    return "shared" if name.startswith(SHARED_PREFIXES) else ""


def _test_text(test: ast.AST) -> str:
    text = source_of(test, None)
    return text if len(text) <= 60 else text[:57] + "..."


def _outcomes(setting: settingvalues.Setting):
    """[(value, node, conditions)]: each value the setting can take and the `if` conditions that choose it."""
    value = setting.value
    if not isinstance(value, settingvalues.Branches):
        return [(value, setting.node, ())]
    out = []
    for side, cond in ((value.taken, f"`{_test_text(value.test)}`"), (value.other, f"not `{_test_text(value.test)}`")):
        if side is None:
            out.append((None, value.test, (cond,)))
        else:
            out.extend((v, node, (cond, *conds)) for v, node, conds in _outcomes(side))
    return out


def _settings(tree: ast.Module) -> list[tuple[str, settingvalues.Setting]]:
    """(scope, setting) of every CACHE_TYPE the module writes; scope is a class name, '' for the module."""
    found = [("", s) for s in settingvalues.module_settings(tree.body, {"CACHE_TYPE"}, branches=True).values()]
    for node in all_nodes(tree):
        if isinstance(node, ast.ClassDef):
            found.extend((node.name, s) for s in
                         settingvalues.module_settings(node.body, {"CACHE_TYPE"}, branches=True).values())
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Subscript) and dotted(t.value).endswith("config") and const_str(t.slice) == "CACHE_TYPE":
                    sw: list[str] = []
                    found.append(("", settingvalues.Setting(node, settingvalues.resolve(node.value, sw), tuple(sw))))
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if const_str(k) == "CACHE_TYPE":
                    sw = []
                    found.append(("", settingvalues.Setting(v, settingvalues.resolve(v, sw), tuple(sw))))
        elif isinstance(node, ast.Call) and dotted(node.func).endswith(("config.update", "config.from_mapping")):
            for kw in node.keywords:
                if kw.arg == "CACHE_TYPE":
                    sw = []
                    found.append(("", settingvalues.Setting(kw.value, settingvalues.resolve(kw.value, sw), tuple(sw))))
    return found


def _local_backend(path: str, setting: settingvalues.Setting) -> tuple[Backend | None, bool]:
    """(the local backend this setting can select, whether it selects a shared one in every case)."""
    outcomes = _outcomes(setting)
    kinds = [_kind(v) for v, _, _ in outcomes]
    if all(k == "shared" for k in kinds):
        return None, True
    for (value, node, conds), kind in zip(outcomes, kinds):
        if kind != "local" or any(DEV_TEST.search(c) for c in conds):
            continue
        switches = list(setting.switches)
        switches += [c for (_, _, c2), k in zip(outcomes, kinds) if k == "shared" for c in c2 if c not in conds]
        safe = f"; safe when {' or '.join(dict.fromkeys(switches))} selects a shared backend" if switches else ""
        return Backend(path, node, LOCAL[value.rsplit(".", 1)[-1].lower()], safe), False
    return None, False


def _cache_classes(trees) -> set[str]:
    """Cache and the project's subclasses of Flask-Caching's Cache (`class AppCache(Cache)`)."""
    names = {"Cache"}
    for _path, tree, text in trees:
        if "flask_caching" not in text:
            continue
        for node in all_nodes(tree):
            if isinstance(node, ast.ClassDef) and any(dotted(b).rsplit(".", 1)[-1] in names for b in node.bases):
                names.add(node.name)
    return names


def analyze(ctx, files):
    trees = []
    for file, text in files:
        if not any(t in text for t in ("CACHE_TYPE", "flask_caching", "SessionInterface", "session_interface")):
            continue
        tree = ctx.python_ast(file)
        if tree is not None:
            trees.append((file.path, tree, text))
    classes = _cache_classes(trees)
    local: list[Backend] = []
    names: set[str] = set()
    shared = False
    for path, tree, text in trees:
        for scope, setting in _settings(tree):
            if scope and DEV_CLASS.match(scope):
                continue
            backend, everywhere = _local_backend(path, setting)
            shared |= everywhere
            if backend:
                local.append(backend)
        if "flask_caching" in text or any(c in text for c in classes - {"Cache"}):
            names |= _bound_caches(tree, classes)
    if not local or not names or shared:
        return
    backend = local[0]
    for path, tree, text in trees:
        if "SessionInterface" in text:
            yield from _sessions(ctx, path, tree, names, backend, trees)
    for file, text in files:
        if not any(f"{n}." in text for n in names):
            continue
        tree = ctx.python_ast(file)
        if tree is not None:
            yield from _user_data(ctx, file.path, tree, names, backend)


def _bound_caches(tree: ast.Module, classes: set[str]) -> set[str]:
    out = set()
    for node in all_nodes(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and dotted(node.value.func).rsplit(".", 1)[-1] in classes:
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return out


def _configured(backend: Backend) -> str:
    return f"Flask-Caching's {backend.desc}, configured at {backend.path}:{backend.node.lineno}"


def _user_data(ctx, path, tree, names, backend):
    seen: set[int] = set()
    for node in all_nodes(tree):
        hits = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.value.id in names and node.func.attr in WRITES and node.args:
            ident = memory.key_words(node.args[0])
            if ident:
                hits.append((node, f"{node.func.value.id}.{node.func.attr}", f"its key names `{ident}`"))
        elif isinstance(node, ast.ClassDef) and USER_MODELS.match(node.name):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.args.args \
                        and item.args.args[0].arg == "self":
                    hits.extend((dec, f"@{name}.memoize on {node.name}.{item.name}()", f"it is keyed on the {node.name}")
                                for dec, name in _memoized(item, names))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = [a.arg for a in node.args.args if a.arg.lower() in caches.IDENTITY_PARAMS]
            if params:
                hits.extend((dec, f"@{name}.memoize on {node.name}()", f"it is keyed on `{params[0]}`")
                            for dec, name in _memoized(node, names))
        for at, what, why in hits:
            if id(at) in seen:
                continue
            seen.add(id(at))
            yield ctx.finding(
                "CLS108", path, **where(at), subject=what,
                message=(f"{what} keeps per-user data ({why}) in {_configured(backend)}: v1 and v2 each keep their "
                         f"own copy, so what a request on one version stores is missing or stale on the "
                         f"other{backend.safe}"),
                fix=USER_FIX)


def _memoized(func, names):
    for dec in func.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id in names \
                and target.attr == "memoize":
            yield dec, target.value.id


def _session_classes(tree: ast.Module, names: set[str]) -> dict[str, str]:
    """{class name: cache name} of SessionInterface subclasses that keep sessions in a Flask-Caching cache."""
    out = {}
    for node in all_nodes(tree):
        if not isinstance(node, ast.ClassDef) or not any(dotted(b).endswith("SessionInterface") for b in node.bases):
            continue
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                    and isinstance(call.func.value, ast.Name) and call.func.value.id in names \
                    and call.func.attr in SESSION_CALLS:
                out[node.name] = call.func.value.id
                break
    return out


def _sessions(ctx, path, tree, names, backend, trees):
    interfaces = _session_classes(tree, names)
    for cls, cache in interfaces.items():
        wired = [(p, node) for p, t, text in trees if "session_interface" in text for node in _wirings(t, cls)]
        at_path, at = wired[0] if wired else (path, next(n for n in all_nodes(tree)
                                                       if isinstance(n, ast.ClassDef) and n.name == cls))
        yield ctx.finding(
            "CLS103", at_path, **where(at), subject=f"{cls} sessions in {cache}",
            message=(f"{cls} keeps every session in `{cache}`, {_configured(backend)}: each version (and each host) "
                     f"has its own sessions, so a user whose next request reaches the other version is logged out "
                     f"there, cart and CSRF state gone{backend.safe}"),
            fix=SESSION_FIX)


def _wirings(tree: ast.Module, cls: str):
    for node in all_nodes(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and dotted(node.value.func).rsplit(".", 1)[-1] == cls \
                and any(isinstance(t, ast.Attribute) and t.attr == "session_interface" for t in node.targets):
            yield node
