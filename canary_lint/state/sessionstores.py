"""CLS103 for the session libraries of other frameworks than Django and Flask-Session: server-side sessions
kept in the process's memory or in files on the host.

    Beaker          `SessionMiddleware(app, {"session.type": "file" | "memory" | "dbm"})` (Bottle, CherryPy,
                    Pyramid through Python), and no `session.type` at all: Beaker's default is memory
    CherryPy        a config dict with `tools.sessions.on` and the default `RamSession`, or `FileSession`
                    (`tools.sessions.storage_class` / `storage_type`)
    sanic-session   `InMemorySessionInterface()`
    starsessions    `InMemoryStore()`
    fastapi-sessions `InMemoryBackend()`
    Flask-KVSession `KVSessionExtension(DictStore() | FilesystemStore(...), app)`
    secure-cookie / Werkzeug `FilesystemSessionStore()`

Names count only when imported from the library (a class of the app's own called `InMemoryStore` is not
judged). Option dicts are read through the resolver (a module-level dict, another module's, or a dict
assigned in the same function); an environment variable that picks the type keeps the finding and is named.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.pyast import dotted, walk_body, where
from canary_lint.resolver.app import AppValues, env_name, is_env
from canary_lint.resolver.modules import tree_project
from canary_lint.resolver.values import OneOf

SESSION_FIX = ("keep sessions in a store every version reads (Redis, Memcached, the database) or in a signed "
               "cookie")
TOKENS = ("beaker", "tools.sessions", "InMemorySessionInterface", "InMemoryStore", "InMemoryBackend",
          "KVSessionExtension", "FilesystemSessionStore")
# constructor -> (library modules it must come from, library, where the sessions are)
CONSTRUCTORS = {
    "InMemorySessionInterface": (("sanic_session",), "sanic-session", "process memory"),
    "InMemoryStore": (("starsessions",), "starsessions", "process memory"),
    "InMemoryBackend": (("fastapi_sessions",), "fastapi-sessions", "process memory"),
    "FilesystemSessionStore": (("secure_cookie", "werkzeug"), "secure-cookie", "files on this host"),
}
KV_STORES = {"DictStore": "process memory", "MemoryStore": "process memory", "FilesystemStore": "files on this host"}
BEAKER_LOCAL = {"memory": "process memory", "file": "files on this host", "dbm": "a dbm file on this host"}
CHERRYPY_LOCAL = {"RamSession": "process memory", "FileSession": "files on this host", "ram": "process memory",
                  "file": "files on this host"}


@dataclass
class LocalSessions:
    node: ast.AST
    library: str
    where: str
    how: str  # what the code says, e.g. "session.type 'file'"
    switch: str = ""  # an environment variable that selects the type


def local_session_stores(ctx, path: str, tree: ast.Module, text: str) -> list[LocalSessions]:
    if not any(t in text for t in TOKENS):
        return []
    scope = tree_project(ctx).scope_of_path(path, tree)
    origin = {local: f"{module}.{attr}" if attr else module for local, (module, attr) in scope.imports.items()}
    values = AppValues(ctx, path, tree)
    out: list[LocalSessions] = []
    for func, node in _calls(tree):
        name, source = _callee(node, origin)
        if name in CONSTRUCTORS:
            modules, library, where = CONSTRUCTORS[name]
            if source.startswith(modules):
                out.append(LocalSessions(node, library, where, f"{name}()"))
        elif name == "KVSessionExtension" and source.startswith("flask_kvsession") and node.args:
            store, store_source = _callee(node.args[0], origin) if isinstance(node.args[0], ast.Call) else ("", "")
            if store in KV_STORES and store_source.startswith("simplekv"):
                out.append(LocalSessions(node, "Flask-KVSession", KV_STORES[store], f"{store}()"))
        elif name == "SessionMiddleware" and "beaker" in source:
            found = _beaker(node, func, values)
            if found is not None:
                out.append(found)
    if "tools.sessions" in text:
        out.extend(_cherrypy(tree))
    return out


def _calls(tree: ast.Module):
    """(enclosing function or None, call) for every call of the module."""
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = set()
    for f in funcs:
        for n in walk_body(f):
            if isinstance(n, ast.Call):
                inside.add(id(n))
                yield f, n
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and id(n) not in inside:
            yield None, n


def _callee(node: ast.Call, origin: dict) -> tuple[str, str]:
    """(the called name's last part, the dotted name it is imported as): `InMemoryBackend[UUID, Data]()` too."""
    func = node.func.value if isinstance(node.func, ast.Subscript) else node.func
    name = dotted(func) or ""
    head, _, rest = name.partition(".")
    full = f"{origin[head]}.{rest}" if head in origin and rest else origin.get(head, name)
    return name.rsplit(".", 1)[-1], full


def _beaker(node: ast.Call, func, values: AppValues) -> LocalSessions | None:
    options = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "config"), None)
    value = _local_dict(options, func, values) if options is not None else {}
    if not isinstance(value, dict):
        return None  # options we cannot read: nothing to say
    kind = next((value[k] for k in ("session.type", "beaker.session.type", "type") if k in value), None)
    typed = next((k.value for k in node.keywords if k.arg == "type"), None)  # SessionMiddleware(app, type="file")
    if kind is None and typed is not None:
        kind = values.value(typed)
    if kind is None:
        return LocalSessions(node, "Beaker", BEAKER_LOCAL["memory"], "no session.type: Beaker's default is memory")
    choices = list(kind.choices) if isinstance(kind, OneOf) else [kind]
    local = [c for c in choices if isinstance(c, str) and c in BEAKER_LOCAL]
    if not local or any(not is_env(c) and not (isinstance(c, str) and c in BEAKER_LOCAL) for c in choices):
        return None  # a shared type (ext:redis, ext:database, cookie) or one we cannot read: not a finding
    switch = next((env_name(c) or "" for c in choices if is_env(c)), "")
    return LocalSessions(node, "Beaker", BEAKER_LOCAL[local[0]], f"session.type {local[0]!r}", switch)


def _local_dict(node: ast.AST, func, values: AppValues):
    """The options dict: a Name assigned a dict in the same function, else what the resolver makes of it."""
    if isinstance(node, ast.Name) and func is not None:
        for n in walk_body(func):
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets) \
                    and isinstance(n.value, ast.Dict):
                return values.value(n.value)
    return values.value(node)


def _cherrypy(tree: ast.Module) -> list[LocalSessions]:
    """Config dicts that turn sessions on; the storage is the dict's own, else the one other dicts of the module
    set (`conf.update({"tools.sessions.on": True})` after a dict naming `storage_class`), else `RamSession`."""
    ons, storages = [], []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        entries = {k.value: v for k, v in zip(node.keys, node.values)
                   if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        storage = entries.get("tools.sessions.storage_class") or entries.get("tools.sessions.storage_type")
        if storage is not None:
            storages.append(storage)
        on = entries.get("tools.sessions.on")
        if isinstance(on, ast.Constant) and on.value is True:
            ons.append((on, storage))
    out = []
    for on, storage in ons:
        storage = storage if storage is not None else (storages[0] if len(storages) == 1 else None)
        if storage is None:
            out.append(LocalSessions(on, "CherryPy", "process memory", "tools.sessions.on with the default RamSession"))
            continue
        label = storage.value if isinstance(storage, ast.Constant) and isinstance(storage.value, str) \
            else (dotted(storage) or "").rsplit(".", 1)[-1]
        if label in CHERRYPY_LOCAL:
            out.append(LocalSessions(on, "CherryPy", CHERRYPY_LOCAL[label],
                                     f"tools.sessions storage {label}, line {storage.lineno}"))
    return out


def findings(ctx, path, tree, text, env_set):
    for s in local_session_stores(ctx, path, tree, text):
        if s.switch and s.switch in env_set:
            continue  # the deployment sets the variable that picks the store
        each = "process" if s.where == "process memory" else "host"
        yield ctx.finding(
            "CLS103", path, **where(s.node), subject=f"{s.library} sessions",
            message=(f"{s.library} keeps sessions in {s.where} ({s.how}): each {each} has its own, so a user "
                     f"whose next request reaches the other version has no session there (logged out, cart "
                     f"and form state lost){f'; safe when {s.switch} selects a shared store' if s.switch else ''}"),
            fix=SESSION_FIX,
        )
