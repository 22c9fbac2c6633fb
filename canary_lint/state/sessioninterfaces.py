"""CLS103 for a session interface of the app's own: `app.session_interface = ...` (Flask, and any framework
that takes the attribute) whose classes keep the sessions in files of the host or in the process's memory.

The value is followed as Python would build it: a constructor of a class of the tree, the classes its
arguments construct (`ManagedSessionInterface(CachingSessionManager(FileBackedSessionManager(path, ...)))`),
and the `return` of a helper function that builds it, in this module or imported from another one. Each class
is read for where it keeps sessions:

    files    a directory attribute (`self.path = path`, `self.session_dir = config[...]`) that a method joins
             a name onto (`safe_join(self.path, sid)`, `os.path.join`, `Path /`) and writes there
             (`.write(`, `pickle.dump`, `open(..., "wb")`, `os.replace`)
    memory   a container made in `__init__` (`self._cache = OrderedDict()`) that a method writes

A class of the chain that talks to a shared store (Redis, Memcached, a database session, object storage) makes
it a cache in front of that store: not reported. Nothing here runs the code; a name the reader cannot follow
leaves the wiring unjudged.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.pyast import dotted, statements, where
from canary_lint.resolver.modules import ModuleScope, definition, tree_project
from canary_lint.state import instances, storage

MAX_DEPTH = 6  # helpers returning helpers, constructors wrapping constructors
SHARED = ("redis", "Redis", "memcache", "Memcache", "pymemcache", "db.session", "sqlalchemy", "boto3", "psycopg",
          "pymongo", "Mongo", "dynamodb", "DynamoDB")
WRITES = {"write", "dump", "dumps_to", "write_text", "write_bytes", "replace", "rename", "move", "copyfile"}
FIX = ("keep sessions in a store every version reads (Redis, Memcached, the database) or in a signed cookie; a "
       "per-process cache in front of it must not outlive a logout on the other version")


@dataclass
class Kept:
    cls: str
    module: str
    where: str  # "files on this host" / "process memory"
    how: str  # "FileBackedSessionManager.put() writes under `self.path`"


def _resolve(scope: ModuleScope, func: ast.AST):
    """(defining scope, def or class) of a called name: `Name`, or `module.name` through an import."""
    if isinstance(func, ast.Name):
        return definition(scope, func.id)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and scope.project is not None:
        target = scope.imports.get(func.value.id)
        if target is not None:
            module = f"{target[0]}.{target[1]}" if target[1] else target[0]
            return definition(scope.project.scope(module), func.attr)
    return None


def constructed(scope: ModuleScope, expr: ast.AST, depth: int = 0, seen: set | None = None, func=None) -> list:
    """(scope, class) of every class of the tree the expression constructs, its arguments' classes included:
    both branches of a conditional, and a name the enclosing helper assigned a call to."""
    seen = set() if seen is None else seen
    if depth > MAX_DEPTH or id(expr) in seen:
        return []
    seen.add(id(expr))
    if isinstance(expr, ast.IfExp):
        return [*constructed(scope, expr.body, depth + 1, seen, func), *constructed(scope, expr.orelse, depth + 1, seen, func)]
    if isinstance(expr, ast.Name) and func is not None:
        return [c for stmt in statements(func) if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
                and any(isinstance(t, ast.Name) and t.id == expr.id for t in stmt.targets)
                for c in constructed(scope, stmt.value, depth + 1, seen, func)]
    if not isinstance(expr, ast.Call):
        return []
    found = _resolve(scope, expr.func)
    out: list = []
    if found is not None:
        where_, node = found
        if isinstance(node, ast.ClassDef):
            out.append((where_, node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for stmt in statements(node):
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    out += constructed(where_, stmt.value, depth + 1, seen, node)
    for arg in [*expr.args, *(k.value for k in expr.keywords)]:
        out += constructed(scope, arg, depth + 1, seen, func)
    return out


def _files(cls: ast.ClassDef) -> str:
    dirs = storage._dirs(cls)
    if not dirs:
        return ""
    attrs = set(dirs)
    for item in cls.body:
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) or item.name == "__init__":
            continue
        derived = storage._derived(item, attrs, {})
        under = bool(derived) or any(isinstance(n, ast.Call) and storage._under(n, attrs, set()) for n in ast.walk(item))
        writes = any(isinstance(n, ast.Call) and _writes(n) for n in ast.walk(item))
        if under and writes:
            attr = next(iter(derived.values()), None) or next(iter(dirs))
            return f"{cls.name}.{item.name}() writes under `self.{attr}`"
    return ""


def _writes(call: ast.Call) -> bool:
    name = (dotted(call.func) or "").rsplit(".", 1)[-1]
    if name in WRITES:
        return True
    if name == "open":
        mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
        return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and mode.value.startswith(storage.WRITE_MODES)
    return False


def _memory(cls: ast.ClassDef) -> str:
    containers = instances._containers(cls)
    if not containers:
        return ""
    for method, uses in instances._method_uses(cls, containers).items():
        for attr, (write, _) in uses.items():
            if write:
                return f"{cls.name}.{method}() writes `self.{attr}`, its {containers[attr][0]}"
    return ""


def kept(chain: list, memo: dict | None = None) -> list[Kept]:
    """Where the chain's classes keep sessions ([] when one of them talks to a shared store); `memo` keeps
    each class's reading for the other wirings of the run."""
    memo = {} if memo is None else memo
    out: list[Kept] = []
    for scope, cls in chain:
        if id(cls) not in memo:
            shared = any(s in ast.unparse(cls) for s in SHARED)
            memo[id(cls)] = (cls, shared, (("files on this host", _files(cls)), ("process memory", _memory(cls))))
        _, shared, stores = memo[id(cls)]
        if shared:
            return []  # a cache in front of a shared store
        out += [Kept(cls.name, scope.name, where_, how) for where_, how in stores if how]
    return out


def wirings(tree: ast.Module):
    """`X.session_interface = value` anywhere, and `session_interface = value` in a class body."""
    for node in statements(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if any(isinstance(t, ast.Attribute) and t.attr == "session_interface" for t in node.targets):
                yield node
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) \
                        and any(isinstance(t, ast.Name) and t.id == "session_interface" for t in stmt.targets):
                    yield stmt


def chain_classes(ctx) -> set:
    """(path, class name) of every class of a session store CLS103 reported: its files are those sessions,
    already said (a CLS107 round trip of the same class would say it twice)."""
    return ctx.cached(("state", "session-chain"), set)


def findings(ctx, path: str, tree: ast.Module, text: str):
    if "session_interface" not in text:
        return
    project = tree_project(ctx)
    scope = project.scope_of_path(path, tree)
    memo: dict = {}
    reported = chain_classes(ctx)
    for node in wirings(tree):
        chain = constructed(scope, node.value)
        found = kept(chain, memo)
        if not found:
            continue
        reported.update((project.path_of(s.name) or path, cls.name) for s, cls in chain)
        outer = chain[0][1].name
        found.sort(key=lambda k: k.where)  # files first: the store; then the caches in front of it
        places = list(dict.fromkeys(k.where for k in found))
        hows = "; ".join(k.how for k in found)
        each = "host" if "files on this host" in places else "process"
        yield ctx.finding(
            "CLS103", path, **where(node), subject=f"{outer} sessions",
            message=(f"the session interface is {outer}, which keeps sessions in {' and in '.join(places)} ({hows}): "
                     f"each {each} has its own, so a user whose next request reaches the other version has no "
                     f"session there (logged out, cart and form state lost)"),
            fix=FIX)
