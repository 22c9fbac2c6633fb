"""CLS101 for Django's default cache: with no `CACHES` setting Django uses LocMemCache, one per process, so
state one request keeps there (`cache.set("workflow:…")`) and another request reads back is missing whenever
the second request reaches the other version (or another worker).

A key is followed by its literal prefix (`"workflow:"` of `f"workflow:{pk}"`, also when a helper of the tree
builds it: `cache_keys.plan(pk)` whose `return f"plan-{pk}"`): a prefix written in one function and read in
another that never writes it is state, not a memo (a function that reads, computes and writes the same key on
a miss is a cache and is left alone, unless another function deletes the key when the data changes: that
invalidation reaches only the process that made the change).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.resolver.modules import definition

WRITES = {"set", "add", "set_many", "incr", "decr", "touch"}
READS = {"get", "get_many", "has_key"}
DELETES = {"delete", "delete_many"}


@dataclass
class Use:
    path: str
    func: str
    node: ast.Call
    write: bool
    delete: bool = False


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


def prefix(node: ast.AST, helper=None) -> str:
    """The literal start of a cache key (`""`: none we can read). `helper(call)`: the prefix a function of the
    tree returns for a call of it."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.split("%", 1)[0].split("{", 1)[0]
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return prefix(node.left, helper)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return prefix(node.func.value, helper)
    if isinstance(node, ast.Call) and helper is not None:
        return helper(node)
    return ""


def uses(path: str, tree: ast.Module, helper=None) -> dict[str, list[Use]]:
    """Key prefix -> the default cache's reads, writes and deletes of it in this module, by enclosing function."""
    cache, caches = _cache_names(tree)
    out: dict[str, list[Use]] = {}
    if not cache and not caches:
        return out
    funcs = [(n.name, n) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        funcs += [(f"{cls.name}.{m.name}", m) for m in cls.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for name, func in funcs:
        local = _single_assignments(func)
        for node in ast.walk(func):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            method = node.func.attr
            if method not in WRITES | READS | DELETES or not _default(node.func.value, cache, caches):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Name) and arg.id in local:  # `key = keys.plan(pk)` then `cache.get(key)`
                arg = local[arg.id]
            key = prefix(arg, helper) if method not in ("set_many", "get_many", "delete_many") else ""
            if len(key) >= 3:
                out.setdefault(key, []).append(Use(path, name, node, method in WRITES, method in DELETES))
    return out


def state_in_default_cache(found: dict[str, list[Use]]) -> list[tuple[Use, Use, str]]:
    """(write, read, prefix): a prefix one function writes and another reads without ever writing it."""
    out = []
    for key, all_uses in sorted(found.items()):
        writers = {(u.path, u.func) for u in all_uses if u.write}
        write = next((u for u in all_uses if u.write), None)
        read = next((u for u in all_uses if not u.write and not u.delete and (u.path, u.func) not in writers), None)
        if write is not None and read is not None:
            out.append((write, read, key))
    return out


def invalidated_memos(found: dict[str, list[Use]]) -> list[tuple[Use, Use, str]]:
    """(write, delete, prefix): a memo (read and written by one function) that another function deletes."""
    out = []
    for key, all_uses in sorted(found.items()):
        readers = {(u.path, u.func) for u in all_uses if not u.write and not u.delete}
        memo = next((u for u in all_uses if u.write and (u.path, u.func) in readers), None)
        drop = next((u for u in all_uses if u.delete and memo is not None and (u.path, u.func) != (memo.path, memo.func)),
                    None)
        if memo is not None and drop is not None:
            out.append((memo, drop, key))
    return out


class Helpers:
    """The literal prefix a function or method of the tree returns, for calls like `keys.plan(pk)`, `plan_key(pk)`
    or `mapper.get_plan_key(pk)` (`mapper = KeyMapper()` in the module or imported from another)."""

    def __init__(self, project, path: str, tree: ast.Module):
        self.scope = project.scope_of_path(path, tree)

    def __call__(self, call: ast.Call) -> str:
        func = self._target(call.func)
        if func is None:
            return ""
        found = {prefix(r.value) for r in _returns(func)}
        return found.pop() if len(found) == 1 else ""

    def _target(self, func: ast.AST):
        if isinstance(func, ast.Name):
            found = definition(self.scope, func.id)
            return found[1] if found and isinstance(found[1], (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return None
        found = definition(self.scope, func.value.id)
        if found is None:
            return None
        owner, node = found
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):  # an instance: `mapper = KeyMapper()`
            found = definition(owner, node.func.id)
            node = found[1] if found else None
        if not isinstance(node, ast.ClassDef):
            return None
        return next((m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and m.name == func.attr), None)


def _returns(func: ast.AST):
    todo = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return) and node.value is not None:
            yield node
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _single_assignments(func: ast.AST) -> dict[str, ast.AST]:
    """Names a function assigns exactly once (`key = …`), with the value."""
    seen: dict[str, ast.AST | None] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            seen[name] = None if name in seen else node.value
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.With, ast.NamedExpr)):
            for t in ast.walk(node.target if hasattr(node, "target") else node):
                if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store):
                    seen[t.id] = None
    return {k: v for k, v in seen.items() if v is not None}
