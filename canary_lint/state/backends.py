"""Configuration that keeps sessions, rate limits or socket.io rooms per process or per host.

Settings are resolved from module-level assignments (Django settings modules, Flask config modules and
classes), `app.config[...] = …`, `app.config.update(...)`, config dicts, and `os.getenv`/`os.environ.get`
defaults. An `if` on an environment variable is resolved for the case where the variable is unset, and the
variable is named in the finding ("safe when CACHE_URL is set"); the reading of values is `settingvalues`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from canary_lint.model import Severity
from canary_lint.pyast import all_nodes, where
from canary_lint.state.envs import const_str, dotted
from canary_lint.state.settingvalues import UNKNOWN, Setting, eval_test, module_settings, resolve

LOCAL_CACHE_BACKENDS = ("locmem", "filebased", "dummy")


@dataclass
class BackendFinding:
    rule: str
    node: ast.AST
    subject: str
    message: str
    fix: str
    severity: str | None = None  # overrides the rule's default for this case


def _named(switches) -> str:
    names = sorted(set(switches))
    return " or ".join(names)


def deployment_sets(switches, env_set) -> bool:
    """Does the deployment set every environment variable that switches this setting (so it is not the default)?"""
    return bool(switches) and all(n in env_set for n in switches)


def _dict_get(node: ast.AST, key: str):
    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values):
            if const_str(k) == key:
                return v
    return None


def emit(ctx, found: list[BackendFinding], env_set, path_of):
    """Findings of `found`, leaving out those whose "safe when X" switches the deployment sets."""
    for f in found:
        named = re.search(r"safe when ((?:[A-Z][A-Z0-9_]*)(?: or [A-Z][A-Z0-9_]*)*)", f.message)
        if named and deployment_sets(named.group(1).split(" or "), env_set):
            continue  # the deployment sets the switch
        yield ctx.finding(f.rule, path_of(f.node), **where(f.node), subject=f.subject, message=f.message, fix=f.fix,
                          severity=Severity(f.severity) if f.severity else None)


# ---- Flask config: Flask-Session, Flask-Limiter ------------------------------------------------------------
FLASK_KEYS = {"SESSION_TYPE", "SESSION_CACHELIB", "RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_URL"}


def flask_config(tree: ast.Module) -> dict[str, Setting]:
    """Flask config keys from `app.config[...] = …`, `.update(KEY=…)`, config dicts, classes and module level."""
    found = module_settings(tree.body, FLASK_KEYS)
    for node in all_nodes(tree):
        if isinstance(node, ast.ClassDef):
            for key, setting in module_settings(node.body, FLASK_KEYS).items():
                found.setdefault(key, setting)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Subscript) and dotted(t.value).endswith("config") and const_str(t.slice) in FLASK_KEYS:
                    sw: list[str] = []
                    found[const_str(t.slice)] = Setting(node, resolve(node.value, sw), tuple(sw))
        elif isinstance(node, ast.Call) and dotted(node.func).endswith(("config.update", "config.from_mapping")):
            for kw in node.keywords:
                if kw.arg in FLASK_KEYS:
                    sw = []
                    found[kw.arg] = Setting(kw.value, resolve(kw.value, sw), tuple(sw))
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                key = const_str(k)
                if key in FLASK_KEYS:
                    sw = []
                    found.setdefault(key, Setting(v, resolve(v, sw), tuple(sw)))
    return found


def flask_session(settings: dict[str, Setting]) -> list[BackendFinding]:
    st = settings.get("SESSION_TYPE")
    if st is None or not isinstance(st.value, str):
        return []
    kind = st.value.lower()
    if kind == "filesystem":
        reason = "keeps sessions in files on each host's disk"
    elif kind == "cachelib":
        lib = settings.get("SESSION_CACHELIB")
        if lib is None or not isinstance(lib.value, ast.Call):
            return []
        cls = dotted(lib.value.func).rsplit(".", 1)[-1]
        if cls not in ("SimpleCache", "FileSystemCache"):
            return []
        reason = f"keeps sessions in cachelib {cls} ({'per-process memory' if cls == 'SimpleCache' else 'local files'})"
    else:
        return []
    safe = f"; safe when {_named(st.switches)} selects a shared backend" if st.switches else ""
    return [BackendFinding(
        "CLS103", st.node, "SESSION_TYPE",
        f"Flask-Session SESSION_TYPE {st.value!r} {reason}: a user whose next request reaches the other version "
        f"has no session there (logged out, cart and CSRF state gone){safe}",
        "use SESSION_TYPE \"redis\", \"memcached\" or \"sqlalchemy\" shared by v1 and v2, or Flask's signed-cookie sessions",
    )]


def _is_memory_uri(value) -> bool:
    return isinstance(value, str) and value.startswith("memory://")


def _read_elsewhere(node: ast.AST, values, sw: list[str]):
    """A value `resolve` left as an expression (a config module's constant, a settings class attribute, a
    helper's result), read through the resolver: its fallback when every other choice is an env read (their
    names go to `sw`), else UNKNOWN."""
    from canary_lint.resolver.app import env_name, is_env

    if values is None or not isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
        return node
    choices = values.choices(node)
    concrete = [c for c in choices if not is_env(c)]
    envs = [env_name(c) for c in choices if is_env(c)]
    if len(concrete) != 1 or None in envs:
        return UNKNOWN
    sw.extend(envs)
    return concrete[0]


def limiters(tree: ast.Module, settings: dict[str, Setting], project_has_storage: bool,
             values=None) -> list[BackendFinding]:
    """`values`: the resolver's reader of this file (AppValues), for storage read from config elsewhere."""
    out: list[BackendFinding] = []
    fix = ("point the limiter at storage both versions share (`storage_uri=\"redis://…\"`, RATELIMIT_STORAGE_URI); "
           "until then each process allows the full limit on its own")
    for key in ("RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_URL"):
        st = settings.get(key)
        if st is not None and _is_memory_uri(st.value):
            safe = f"; safe when {_named(st.switches)} is set to a shared store" if st.switches else ""
            out.append(BackendFinding("CLS104", st.node, key,
                                      f"{key} is {st.value!r}: v1 and v2 (and every worker) count requests separately, "
                                      f"so a client gets the limit once per process{safe}", fix))
    for node in all_nodes(tree):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func).rsplit(".", 1)[-1]
        if name == "Limiter":
            uri = next((k.value for k in node.keywords if k.arg in ("storage_uri", "storage_url")), None)
            sw: list[str] = []
            if uri is None:
                if project_has_storage or any(k.arg is None for k in node.keywords):
                    continue
                message = ("Limiter has no storage_uri, so it counts in memory (`memory://`, the default): v1 and v2 "
                           "(and every worker) count requests separately, so a client gets the limit once per process")
            else:
                value = _read_elsewhere(resolve(uri, sw), values, sw)
                if not _is_memory_uri(value):
                    continue
                safe = f"; safe when {_named(sw)} is set to a shared store" if sw else ""
                message = (f"Limiter storage_uri is {value!r}: v1 and v2 (and every worker) count requests "
                           f"separately, so a client gets the limit once per process{safe}")
            out.append(BackendFinding("CLS104", node, "Limiter", message, fix))
        elif name in ("MemoryStorage", "storage_from_string"):
            if name == "storage_from_string":
                sw = []
                value = resolve(node.args[0], sw) if node.args else None
                if not _is_memory_uri(value):
                    continue
            out.append(BackendFinding("CLS104", node, name,
                                      f"`limits` {name} keeps the counters in this process: v1 and v2 count requests "
                                      "separately, so a client gets the limit once per process", fix))
    return out


# ---- socket.io -----------------------------------------------------------------------------------------------
def _branch_switches(tree: ast.Module) -> dict[int, str]:
    """id(call) -> "NAME=value" for calls in the branch of a module-level `if` taken when the condition fails."""
    from canary_lint.state.memory import _condition

    out: dict[int, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.If):
            cond = _condition(stmt.test)
            if not cond:
                continue
            off = stmt.orelse if cond[1] else stmt.body
            for sub in off:
                for node in ast.walk(sub):
                    if isinstance(node, ast.Call):
                        out[id(node)] = cond[0]
    return out


def socketio_servers(tree: ast.Module, text: str, project_has_queue: bool) -> list[BackendFinding]:
    if not any(tok in text for tok in ("enter_room", "join_room", "broadcast", "skip_sid", "room=")):
        return []  # no rooms and no broadcast: every emit answers the connection it came from
    out: list[BackendFinding] = []
    branch_switch = _branch_switches(tree)
    for node in all_nodes(tree):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        last = name.rsplit(".", 1)[-1]
        kwargs = {k.arg: k.value for k in node.keywords}
        if None in kwargs:
            continue
        if last in ("Server", "AsyncServer") and ("socketio" in name or "socketio" in text):
            option = "client_manager"
        elif last == "SocketIO":
            option = "message_queue"
        else:
            continue
        value = kwargs.get(option)
        switch = ""
        if value is not None:
            if not (isinstance(value, ast.Constant) and value.value is None):
                if isinstance(value, ast.IfExp):
                    sw: list[str] = []
                    truth = eval_test(value.test, sw)
                    chosen = value.orelse if truth is False else value.body if truth is True else None
                    if not (isinstance(chosen, ast.Constant) and chosen.value is None):
                        continue
                    switch = _named(sw)
                else:
                    sw = []
                    resolved = resolve(value, sw)
                    if resolved is not None:
                        continue
                    switch = _named(sw)
        elif id(node) in branch_switch:
            switch = branch_switch[id(node)]  # the other branch of a module-level `if` sets the queue
        elif project_has_queue:
            continue
        safe = (f"; safe when {switch}" if "=" in switch else f"; safe when {switch} is set") if switch else ""
        out.append(BackendFinding(
            "CLS105", node, f"{last}.{option}",
            f"{last}(...) has no {option}: rooms and broadcasts live in this process only, so an emit from v2 never "
            f"reaches users connected to v1 (and back){safe}",
            f"give the server a shared {option} (e.g. Redis) so every version sees every room",
        ))
    return out
