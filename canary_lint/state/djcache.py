"""CLS101 for Django's default cache: with no `CACHES` setting Django uses LocMemCache, one per process, so
state one request keeps there (`cache.set("workflow:…")`) and another request reads back is missing whenever
the second request reaches the other version (or another worker).

A key is followed by its literal prefix (`"workflow:"` of `f"workflow:{pk}"`): a prefix written in one
function and read in another that never writes it is state, not a memo (a function that reads, computes and
writes the same key on a miss is a cache and is left alone).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

WRITES = {"set", "add", "set_many", "incr", "decr", "touch"}
READS = {"get", "get_many", "has_key"}
SETTINGS_MARKERS = ("INSTALLED_APPS", "MIDDLEWARE", "ROOT_URLCONF", "DATABASES")


@dataclass
class Use:
    path: str
    func: str
    node: ast.Call
    write: bool


def is_django_settings(text: str) -> bool:
    return sum(1 for m in SETTINGS_MARKERS if f"{m} =" in text or f"{m}=" in text) >= 2


def _cache_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names bound to `django.core.cache.cache` and to `django.core.cache.caches`."""
    cache, caches = set(), set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "django.core.cache":
            for alias in node.names:
                if alias.name == "cache":
                    cache.add(alias.asname or "cache")
                elif alias.name == "caches":
                    caches.add(alias.asname or "caches")
    return cache, caches


def _default(recv: ast.AST, cache: set[str], caches: set[str]) -> bool:
    if isinstance(recv, ast.Name):
        return recv.id in cache
    if isinstance(recv, ast.Subscript) and isinstance(recv.value, ast.Name) and recv.value.id in caches:
        key = recv.slice
        return isinstance(key, ast.Constant) and key.value == "default"
    return False


def prefix(node: ast.AST) -> str:
    """The literal start of a cache key (`""`: none we can read)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.split("%", 1)[0].split("{", 1)[0]
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return prefix(node.left)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return prefix(node.func.value)
    return ""


def uses(path: str, tree: ast.Module) -> dict[str, list[Use]]:
    """Key prefix -> the default cache's reads and writes of it in this module, by enclosing function."""
    cache, caches = _cache_names(tree)
    out: dict[str, list[Use]] = {}
    if not cache and not caches:
        return out
    funcs = [(n.name, n) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        funcs += [(f"{cls.name}.{m.name}", m) for m in cls.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for name, func in funcs:
        for node in ast.walk(func):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            method = node.func.attr
            if method not in WRITES | READS or not _default(node.func.value, cache, caches):
                continue
            key = prefix(node.args[0]) if method not in ("set_many", "get_many") else ""
            if len(key) >= 3:
                out.setdefault(key, []).append(Use(path, name, node, method in WRITES))
    return out


def state_in_default_cache(found: dict[str, list[Use]]) -> list[tuple[Use, Use, str]]:
    """(write, read, prefix): a prefix one function writes and another reads without ever writing it."""
    out = []
    for key, all_uses in sorted(found.items()):
        writers = {(u.path, u.func) for u in all_uses if u.write}
        write = next((u for u in all_uses if u.write), None)
        read = next((u for u in all_uses if not u.write and (u.path, u.func) not in writers), None)
        if write is not None and read is not None:
            out.append((write, read, key))
    return out
