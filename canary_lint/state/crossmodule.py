"""Module-level containers written and read by handlers in other modules (CLS101 across modules).

A state module (say `session.py`) keeps `SESSIONS = {}` and functions or classes that write and read it:
`register(...)`, `SessionStore.get(id)`, `Session.__init__` storing `self`. Handler modules import them and
call them from request, websocket and task handlers. For each module with containers this records which
container each exported function, class (constructor) and `Class.method` writes and reads (following calls
inside that module); for each handler module it resolves the imports, scans what each handler reaches for
calls to those exports (`register(`, `Session(`, `SessionStore.get(`, `mod.register(`) and for direct uses
of an imported container. The same judgement as in one module applies: a handler that reads the container
without writing it, while another handler writes it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from canary_lint.pyast import line_starts, mentions, walk_body
from canary_lint.state import handlers, memory

MAX_DEPTH = 2


@dataclass
class Access:
    writes: dict = field(default_factory=dict)  # container -> Use
    reads: dict = field(default_factory=dict)
    identity: set = field(default_factory=set)  # containers written or read with a user/session/token key


@dataclass
class StateModule:
    path: str
    dotted: str
    containers: dict
    exports: dict  # "func" | "Class" (constructor) | "Class.method" -> Access


def _closure(func, index, direct: dict, callees: dict) -> Access:
    acc = Access()
    seen = {func}
    frontier = [func]
    for _ in range(MAX_DEPTH + 1):
        nxt = []
        for f in frontier:
            for name, uses in direct.get(f, {}).items():
                for u in uses:
                    target = acc.writes if u.write else acc.reads
                    target.setdefault(name, u)
                    if memory.key_words(u.key):
                        acc.identity.add(name)
            for g in callees[f]:
                if g not in seen:
                    seen.add(g)
                    nxt.append(g)
        frontier = nxt
    return acc


class _LazyCallees(dict):
    """In-module callees of a function, found from its source text on first use."""

    def __init__(self, index, text, starts):
        super().__init__()
        self.index, self.text, self.starts = index, text, starts

    def __missing__(self, func):
        lo = self.starts[func.node.lineno - 1]
        end = func.node.end_lineno or func.node.lineno
        segment = self.text[lo:self.starts[end]] if end < len(self.starts) else self.text[lo:]
        self[func] = handlers._callees_from_text(func, self.index, segment)
        return self[func]


class _Exports(dict):
    """Export key ("func", "Class" for its constructor, "Class.method") -> Access, computed on first use."""

    def __init__(self, index, direct, callees):
        super().__init__()
        self.funcs = {}
        for func in index.funcs:
            if "." in func.qual and func.cls is None:
                continue  # nested function
            key = func.qual if func.cls is None else func.cls if func.name == "__init__" else f"{func.cls}.{func.name}"
            self.funcs[key] = func
        self.index, self.direct, self.callees = index, direct, callees

    def __contains__(self, key) -> bool:
        return key in self.funcs

    def __missing__(self, key):
        acc = _closure(self.funcs[key], self.index, self.direct, self.callees)
        self[key] = acc
        return acc

    def prefixed(self, name: str) -> bool:
        return any(k.startswith(name + ".") for k in self.funcs)


def state_module(tree: ast.Module, text: str, path: str, index: handlers.ModuleIndex | None = None) -> StateModule | None:
    containers = memory.module_containers(tree)
    if not containers:
        return None
    names = memory.written_in_text(text, containers)
    if not names:
        return StateModule(path, handlers.module_name(path), containers, {})  # imported containers may be written elsewhere
    if index is None:
        index = handlers.ModuleIndex()
        handlers._collect(tree, index)
    starts = line_starts(text)
    direct: dict = {}
    for func in index.funcs:
        if not mentions(text, starts, func.node, names):
            continue
        per: dict = {}
        for use in memory.function_uses(func, names):
            if use.write and (use.memo or memory._is_eviction(use)):
                continue
            if not use.write and use.len_only:
                continue
            per.setdefault(memory._name_of(use), []).append(use)
        if per:
            direct[func] = per
    if not direct:
        return StateModule(path, handlers.module_name(path), containers, {})
    callees = _LazyCallees(index, text, starts)
    exports = _Exports(index, direct, callees)
    return StateModule(path, handlers.module_name(path), containers, exports)


class ModuleTable:
    """Find a state module by the dotted name an import uses (the display path may carry a prefix)."""

    def __init__(self, modules: list[StateModule]):
        self.by_suffix: dict[str, list[StateModule]] = {}
        for m in modules:
            parts = m.dotted.split(".")
            for i in range(len(parts)):
                self.by_suffix.setdefault(".".join(parts[i:]), []).append(m)

    def get(self, dotted: str) -> StateModule | None:
        found = self.by_suffix.get(dotted) or []
        return found[0] if len(found) == 1 else None


def _imports(tree: ast.Module, path: str, table: ModuleTable, text: str | None = None, nodes=None) -> dict:
    """local name -> (StateModule, exported name or container name or None for the module itself)."""
    current = handlers.module_name(path)
    is_package = path.endswith("__init__.py")
    out: dict = {}

    def add_from(node: ast.ImportFrom):
        src = handlers._resolve_from(node.module or "", node.level, current, is_package)
        mod = table.get(src) if src else None
        for alias in node.names:
            local = alias.asname or alias.name
            sub = table.get(f"{src}.{alias.name}" if src else alias.name)
            if sub is not None:
                out[local] = (sub, None)
            elif mod is not None and (alias.name in mod.exports or alias.name in mod.containers
                                      or (isinstance(mod.exports, _Exports) and mod.exports.prefixed(alias.name))):
                out[local] = (mod, alias.name)

    for node in nodes if nodes is not None else _import_nodes(tree, text):
        if isinstance(node, ast.ImportFrom):
            add_from(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                mod = table.get(alias.name)
                if mod is not None and alias.asname:
                    out[alias.asname] = (mod, None)
    return out


def import_lines(text: str) -> list[int]:
    """Sorted numbers of the lines that start an `import …` or `from … import …` statement."""
    lines: list[int] = []
    line, pos = 1, 0
    idx = text.find("import")
    while idx >= 0:
        start = text.rfind("\n", 0, idx) + 1
        prefix = text[start:idx].strip()
        if not prefix or (prefix.startswith("from ") and " " not in prefix[5:].strip()):
            line += text.count("\n", pos, start)
            pos = start
            if not lines or lines[-1] != line:
                lines.append(line)
        idx = text.find("import", idx + 6)
    return lines


def _import_nodes(tree: ast.Module, text: str | None = None):
    """Imports at module level and inside functions (lazy imports in handlers); with the text, only the
    statements on lines that start with `import`/`from … import` are visited."""
    if text is not None:
        for stmt in handlers._statements_at(tree.body, import_lines(text)):
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                yield stmt
        return
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.Try, ast.With,
                               ast.AsyncWith)):
            stack.extend(node.body)
            stack.extend(getattr(node, "orelse", []) or [])
            for h in getattr(node, "handlers", []) or []:
                stack.extend(h.body)


@dataclass
class Site:
    handler: handlers.Func
    path: str
    line: int
    identity: bool = False


def _export_key(call: ast.Call, imported: dict):
    """(StateModule, export key) for `f(...)`, `Cls(...)`, `Cls.m(...)`, `mod.f(...)`, `mod.Cls.m(...)`."""
    f = call.func
    if isinstance(f, ast.Name):
        hit = imported.get(f.id)
        if hit and hit[1]:
            return hit[0], hit[1]
    elif isinstance(f, ast.Attribute):
        base = f.value
        if isinstance(base, ast.Name):
            hit = imported.get(base.id)
            if hit:
                return hit[0], (f.attr if hit[1] is None else f"{hit[1]}.{f.attr}")
        elif isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
            hit = imported.get(base.value.id)
            if hit and hit[1] is None:
                return hit[0], f"{base.attr}.{f.attr}"
    return None


def _alias_uses(func: handlers.Func, aliases: dict):
    """(container, write?, the `mod.CONTAINER` node, key) for `mod.CONTAINER[...] = …`, `mod.CONTAINER.get(k)`, …"""

    def ref(node):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr in aliases[node.value.id].containers):
            return node
        return None

    for node in walk_body(func.node):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Subscript) and ref(target.value):
                    yield target.value.attr, True, target.value, target.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and ref(node.func.value):
            r, method = node.func.value, node.func.attr
            key = node.args[0] if node.args else None
            if method in ("get", "__getitem__", "items", "values", "keys", "copy"):
                yield r.attr, False, r, key
            elif method in memory.WRITE_ONLY | memory.WRITE_READ and method not in (
                    "pop", "popitem", "discard", "remove", "clear", "popleft"):
                yield r.attr, True, r, key
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and ref(node.value):
            yield node.value.attr, False, node.value, node.slice


def handler_accesses(tree: ast.Module, text: str, path: str, table: ModuleTable, index: handlers.ModuleIndex,
                     imported: dict | None = None):
    """Yield (StateModule, container, write?, Site) for every access a handler of this module reaches."""
    imported = _imports(tree, path, table) if imported is None else imported
    if not imported:
        return
    starts = line_starts(text)
    locals_ = set(imported)
    direct = {local: hit for local, hit in imported.items() if hit[1] and hit[1] in hit[0].containers}
    aliases = {local: hit[0] for local, hit in imported.items() if hit[1] is None and hit[0].containers}
    for func, roots in index.reached_by.items():
        if not mentions(text, starts, func.node, locals_):
            continue
        for node in walk_body(func.node):
            if not isinstance(node, ast.Call):
                continue
            found = _export_key(node, imported)
            if not found or found[1] not in found[0].exports:
                continue
            mod, acc = found[0], found[0].exports[found[1]]
            for root in roots:
                for cname in acc.writes:
                    yield mod, cname, True, Site(root, path, node.lineno, cname in acc.identity)
                for cname in acc.reads:
                    yield mod, cname, False, Site(root, path, node.lineno, cname in acc.identity)
        if aliases:
            for cname, write, node, key in _alias_uses(func, aliases):
                mod = aliases[node.value.id] if isinstance(node, ast.Attribute) else None
                for root in roots:
                    yield mod, cname, write, Site(root, path, node.lineno, bool(memory.key_words(key)))
        if direct:
            for use in memory.function_uses(func, set(direct)):
                if use.write and (use.memo or memory._is_eviction(use)):
                    continue
                if not use.write and use.len_only:
                    continue
                mod, cname = direct[memory._name_of(use)]
                for root in roots:
                    yield mod, cname, use.write, Site(root, path, use.node.lineno, bool(memory.key_words(use.key)))
