"""Caches keyed on identity (CLS106): `functools.lru_cache`/`cache`, cachetools, aiocache (memory by default)
and async-lru decorators on functions that take a user, session, token or request."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.model import literal_text
from canary_lint.state.envs import dotted

IDENTITY_PARAMS = {
    "user", "user_id", "userid", "username", "uid", "current_user", "account", "account_id", "session",
    "session_id", "session_key", "sid", "request", "req", "principal", "auth_token", "access_token", "api_key",
    "api_token", "jwt", "bearer_token", "id_token", "refresh_token", "email", "login",
}
TOKEN_CONTEXT = ("auth", "user", "session", "jwt", "verify", "decode", "login", "token", "claims", "principal")


@dataclass
class CacheFinding:
    node: ast.AST
    func: str
    param: str
    decorator: str
    bound: str  # how long an entry lives: "until evicted (maxsize=128)", "for 300 s"


def _ttl(ttl: ast.AST) -> str:
    if isinstance(ttl, ast.Constant):
        return f"for {literal_text(ttl.value, 40)} s"
    return f"for {dotted(ttl) or 'the configured TTL'} seconds" if dotted(ttl) else "for the configured TTL"


PRIORITY = ("user", "account", "principal", "email", "login", "session", "sid", "token", "jwt", "api_key", "req")


def _rank(param: str) -> int:
    low = param.lower()
    return next((i for i, word in enumerate(PRIORITY) if word in low), len(PRIORITY))


def _decorator(dec: ast.AST, text: str) -> tuple[str, str] | None:
    """(decorator name, lifetime) for a per-process cache decorator, else None."""
    call = dec if isinstance(dec, ast.Call) else None
    name = dotted(call.func if call else dec)
    last = name.rsplit(".", 1)[-1]
    kwargs = {k.arg: k.value for k in call.keywords} if call else {}
    if last in ("lru_cache", "alru_cache") or name in ("functools.cache", "cache") and "functools" in text:
        if last == "cache" and "import cache" not in text and "functools.cache" not in name:
            return None
        size = kwargs.get("maxsize") or (call.args[0] if call and call.args else None)
        bound = f"maxsize={literal_text(size.value, 40)}" if isinstance(size, ast.Constant) else "maxsize=128" if last == "lru_cache" else "no size bound"
        ttl = kwargs.get("ttl")
        return name, _ttl(ttl) if ttl is not None else f"until evicted ({bound})"
    if last in ("ttl_cache", "lfu_cache", "mru_cache", "rr_cache", "fifo_cache") and "cachetools" in text:
        ttl = kwargs.get("ttl")
        return name, _ttl(ttl) if ttl is not None else "until evicted"
    if last == "cached" and call is not None:
        if "aiocache" in text:
            backend = dotted(kwargs["cache"]) if "cache" in kwargs else ""
            if backend and not backend.endswith(("MEMORY", "SimpleMemoryCache")):
                return None  # Redis/Memcached: shared by every version
            ttl = kwargs.get("ttl")
            return name, _ttl(ttl) if ttl is not None else "with no expiry (aiocache's memory default)"
        if "cachetools" in text:
            cache = kwargs.get("cache") or (call.args[0] if call.args else None)
            cls = dotted(cache.func).rsplit(".", 1)[-1] if isinstance(cache, ast.Call) else ""
            if cls and cls not in ("LRUCache", "TTLCache", "LFUCache", "Cache", "TLRUCache", "MRUCache", "RRCache", "FIFOCache"):
                return None
            ttl = next((k.value for k in cache.keywords if k.arg == "ttl"), None) if isinstance(cache, ast.Call) else None
            return name, _ttl(ttl) if ttl is not None else "until evicted"
    return None


def _non_flag_params(func) -> list[str]:
    """Parameter names, leaving out flags (`user: bool`, `user=False`): `user` there picks a mode, not a person."""
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
    out = []
    for arg, default in pairs:
        if isinstance(arg.annotation, ast.Name) and arg.annotation.id == "bool":
            continue
        if isinstance(default, ast.Constant) and isinstance(default.value, bool):
            continue
        out.append(arg.arg)
    return out


def iter_functions(tree: ast.AST):
    """Every function definition, visiting statements only (no expression nodes)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        for stmt in getattr(node, "body", ()):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield stmt
            if isinstance(stmt, ast.stmt):
                stack.append(stmt)
                for extra in ("orelse", "finalbody"):
                    for sub in getattr(stmt, extra, ()) or ():
                        stack.append(ast.Module(body=[sub], type_ignores=[]))
                for handler in getattr(stmt, "handlers", ()) or ():
                    stack.append(handler)


def identity_caches(tree: ast.Module, text: str) -> list[CacheFinding]:
    out: list[CacheFinding] = []
    for node in iter_functions(tree):
        if not node.decorator_list:
            continue
        for dec in node.decorator_list:
            found = _decorator(dec, text)
            if not found:
                continue
            params = _non_flag_params(node)
            hits = [p for p in params if p.lower() in IDENTITY_PARAMS
                    or (p.lower() == "token" and any(w in node.name.lower() for w in TOKEN_CONTEXT))]
            hit = min(hits, key=_rank) if hits else ""  # name the user rather than the request
            if hit:
                out.append(CacheFinding(dec, node.name, hit, found[0], found[1]))
            break
    return out
