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
import re
from dataclasses import dataclass

from canary_lint.pyast import dotted, statements, where
from canary_lint.resolver.modules import ModuleScope, definition, tree_project
from canary_lint.state import instances, storage

MAX_DEPTH = 6  # helpers returning helpers, constructors wrapping constructors
# words of a shared store among the words of a class's names or of a call handed to it (`MongoClient` is
# mongo + client, `make_client`, `db.session`), and prefixes of such words (`redis`, `pymemcache`, `psycopg2`)
SHARED_WORDS = {"client", "db", "database", "sqlalchemy", "boto3", "dynamodb", "s3", "kv", "etcd", "consul"}
SHARED_PREFIXES = ("redis", "memcache", "pymemcache", "mongo", "pymongo", "psycopg", "aioredis", "valkey")
MAX_CHAIN = 50
_WORD = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z0-9]+|[A-Z]+")
WRITES = {"write", "dump", "dumps_to", "write_text", "write_bytes", "replace", "rename", "move", "copyfile"}
FIX = ("keep sessions in a store every version reads (Redis, Memcached, the database) or in a signed cookie; a "
       "per-process cache in front of it must not outlive a logout on the other version")


@dataclass
class Kept:
    cls: str
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


class Chain:
    """The classes of the tree a wiring constructs, and whether a store of another library (or one the reader
    cannot follow, named like a client) is handed to them: `CachingStore(redis.Redis(...))`."""

    def __init__(self, helpers: dict | None = None) -> None:
        self.classes: list = []  # (scope, ClassDef), each once, in the order built
        self.injected = ""  # the call that hands a shared client in
        self.helpers = {} if helpers is None else helpers  # id(helper) -> its Chain, shared by the run's wirings
        self._ids: set = set()
        self._assigned: dict = {}  # id(function) -> {name: [calls assigned to it]}

    def add(self, scope, cls) -> None:
        if id(cls) not in self._ids and len(self.classes) < MAX_CHAIN:
            self._ids.add(id(cls))
            self.classes.append((scope, cls))

    def merge(self, other: "Chain") -> None:
        for scope, cls in other.classes:
            self.add(scope, cls)
        self.injected = self.injected or other.injected

    def assigned(self, func) -> dict:
        if id(func) not in self._assigned:
            table: dict = {}
            for stmt in statements(func):
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
                    for t in stmt.targets:
                        if isinstance(t, ast.Name):
                            table.setdefault(t.id, []).append(stmt.value)
            self._assigned[id(func)] = table
        return self._assigned[id(func)]


def constructed(scope: ModuleScope, expr: ast.AST, chain: Chain | None = None, depth: int = 0,
                seen: set | None = None, func=None) -> Chain:
    """The classes of the tree the expression constructs, its arguments' classes included: both branches of
    a conditional, and a name the enclosing helper assigned a call to (each node read once)."""
    chain = Chain() if chain is None else chain
    seen = set() if seen is None else seen
    if depth > MAX_DEPTH or id(expr) in seen:
        return chain
    seen.add(id(expr))
    if isinstance(expr, ast.IfExp):
        for part in (expr.body, expr.orelse):
            constructed(scope, part, chain, depth + 1, seen, func)
        return chain
    if isinstance(expr, ast.Name) and func is not None:
        for call in chain.assigned(func).get(expr.id, ()):
            constructed(scope, call, chain, depth + 1, seen, func)
        return chain
    if not isinstance(expr, ast.Call):
        return chain
    found = _resolve(scope, expr.func)
    if found is not None:
        where_, node = found
        if isinstance(node, ast.ClassDef):
            chain.add(where_, node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if depth and not chain.injected and _shared({node.name}):
                chain.injected = node.name  # `make_client(url)` of the tree handed in
            chain.merge(_returned(where_, node, chain, depth))
    elif depth and not chain.injected and _shared(_names(expr)):
        chain.injected = dotted(expr.func) or "a client"  # `redis.Redis(...)`, `make_client(url)` handed in
    for arg in [*expr.args, *(k.value for k in expr.keywords)]:
        constructed(scope, arg, chain, depth + 1, seen, func)
    return chain


def _returned(scope, func, chain: Chain, depth: int) -> Chain:
    """What a helper's returns construct, read once per helper for every wiring of the run (`chain.helpers`)."""
    known = chain.helpers.get(id(func))
    if known is None:
        known = chain.helpers[id(func)] = Chain(chain.helpers)  # in progress: a recursive helper adds nothing
        seen: set = set()
        for stmt in statements(func):
            if isinstance(stmt, ast.Return) and stmt.value is not None:
                constructed(scope, stmt.value, known, depth + 1, seen, func)
    return known


def _names(node: ast.AST) -> set[str]:
    """The names and attribute names under `node` (never its strings: a docstring naming Redis is no client)."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            out.update(a.name for a in n.names)
            if isinstance(n, ast.ImportFrom) and n.module:
                out.add(n.module)
    return out


def _shared(names: set[str]) -> bool:
    for name in names:
        for word in _WORD.findall(name[:200]):
            word = word.lower()
            if word in SHARED_WORDS or word.startswith(SHARED_PREFIXES):
                return True
    return False


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
    """A container of the class written under a session's or user's key (`self._cache[session.sid] = …`):
    a cache of serializers or settings keyed on anything else keeps no session."""
    containers = instances._containers(cls)
    if not containers:
        return ""
    for method, uses in instances._method_uses(cls, containers).items():
        for attr, (write, ident) in uses.items():
            if write and ident:
                return f"{cls.name}.{method}() writes `self.{attr}`, its {containers[attr][0]}, keyed on `{ident}`"
    return ""


def kept(chain: Chain, memo: dict | None = None) -> list[Kept]:
    """Where the chain's classes keep sessions: [] when one of them talks to a shared store or is handed one
    (the rest is a cache in front of it), files only when a client the reader cannot follow is handed in;
    `memo` keeps each class's reading for the other wirings of the run."""
    memo = {} if memo is None else memo
    out: list[Kept] = []
    for _, cls in chain.classes:
        if id(cls) not in memo:
            memo[id(cls)] = (cls, _shared(_names(cls)), (("files on this host", _files(cls)),
                                                         ("process memory", _memory(cls))))
        _, shared, stores = memo[id(cls)]
        if shared:
            return []  # a cache in front of a shared store
        out += [Kept(cls.name, where_, how) for where_, how in stores if how]
    if chain.injected:
        out = [k for k in out if k.where != "process memory"]  # in front of the client handed in
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
    helpers: dict = {}
    reported = chain_classes(ctx)
    for node in wirings(tree):
        chain = constructed(scope, node.value, Chain(helpers))
        found = kept(chain, memo)
        if not found:
            continue
        reported.update((project.path_of(s.name) or path, cls.name) for s, cls in chain.classes)
        outer = chain.classes[0][1].name
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
