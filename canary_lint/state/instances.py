"""CLS101 through an object: a container an instance keeps (`self.users = {}` in `__init__`), the instance
made once per process (`driver = Driver()` at module level, `app.key_manager = KeyManager()`), one handler
calling a method that writes the container and another handler calling a method that reads it back. The
object is as much per process as a module-level dict is; handlers reach it as `driver.connect()` or
`current_app.key_manager.get()`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.pyast import all_nodes, statements
from canary_lint.state import memory
from canary_lint.state.envs import dotted
from canary_lint.state.handlers import ModuleIndex, _resolve_from, module_name

WRITES = {"append", "add", "update", "setdefault", "extend", "insert", "appendleft", "__setitem__"}
READS = {"get", "items", "keys", "values", "__getitem__", "__contains__"}


@dataclass
class Singleton:
    name: str  # how handlers reach it: the module name or the attribute (`driver`, `key_manager`)
    cls: ast.ClassDef
    cls_path: str  # the file the class is in ("" : this module)
    node: ast.AST  # where it is made
    attrs: dict  # container attribute -> kind ("dict", "list", ...)
    defs: dict  # container attribute -> the `self.X = {}` statement


@dataclass
class InstanceFinding:
    single: Singleton
    attr: str
    writer: ast.Call
    writer_method: str
    reader: ast.Call
    reader_method: str
    writer_handler: object
    reader_handler: object
    identity: str




class ClassTable:
    """Classes of the project whose `__init__` keeps a container, by the dotted name an import uses."""

    def __init__(self):
        self.by_suffix: dict[str, list[tuple[ast.ClassDef, str]]] = {}

    def add_module(self, tree: ast.Module, path: str, text: str) -> None:
        if "__init__" not in text or "self." not in text:
            return
        parts = module_name(path).split(".")
        for cls in tree.body:
            if isinstance(cls, ast.ClassDef) and _containers(cls):
                for i in range(len(parts)):
                    self.by_suffix.setdefault(".".join([*parts[i:], cls.name]), []).append((cls, path))

    def get(self, dotted_name: str) -> tuple[ast.ClassDef, str] | None:
        found = self.by_suffix.get(dotted_name) or []
        return found[0] if len(found) == 1 else None


def _imported_classes(tree: ast.Module, path: str, table: ClassTable | None) -> dict[str, tuple[ast.ClassDef, str]]:
    if table is None or not table.by_suffix:
        return {}
    current, is_package = module_name(path), path.endswith("__init__.py")
    out: dict[str, ast.ClassDef] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            src = _resolve_from(node.module or "", node.level, current, is_package)
            for alias in node.names:
                cls = table.get(f"{src}.{alias.name}" if src else alias.name)
                if cls is not None:
                    out[alias.asname or alias.name] = cls
    return out


def singletons(tree: ast.Module, path: str = "", table: ClassTable | None = None) -> dict[str, Singleton]:
    """{name: Singleton}: instances of classes keeping containers (the module's own or imported from the
    project) made once per process: bound to a module-level name, or to an attribute (`app.key_manager =
    KeyManager()`, in `create_app()` too). A name bound inside a function is that call's own object."""
    classes = {c.name: (c, "") for c in tree.body if isinstance(c, ast.ClassDef) and _containers(c)}
    classes.update(_imported_classes(tree, path, table))
    out: dict[str, Singleton] = {}
    if not classes:
        return out
    top = {id(s) for s in tree.body}
    for stmt in statements(tree):
        if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
            continue
        cls, cls_path = classes.get(dotted(stmt.value.func) or "", (None, ""))
        defs = _containers(cls) if cls is not None else {}
        if not defs:
            continue
        attrs = {a: kind for a, (kind, _) in defs.items()}
        for t in stmt.targets:
            if isinstance(t, ast.Attribute) and not (isinstance(t.value, ast.Name) and t.value.id == "self"):
                name = t.attr
            elif isinstance(t, ast.Name) and id(stmt) in top:
                name = t.id
            else:
                continue
            out[name] = Singleton(name, cls, cls_path, stmt, attrs, {a: node for a, (_, node) in defs.items()})
    return out


def _containers(cls: ast.ClassDef) -> dict[str, tuple[str, ast.Assign]]:
    init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    out: dict[str, str] = {}
    for node in all_nodes(init) if init is not None else ():
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            t = node.targets[0]
            kind = memory._factory(node.value)
            if kind and isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                out[t.attr] = (kind, node)
    return out


def _self_attr(node: ast.AST, attrs) -> str:
    """The container attribute at the base of `self.users[...]` / `self.users.get(...)`."""
    while isinstance(node, ast.Subscript) or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        node = node.value if isinstance(node, ast.Subscript) else node.func.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
            and node.attr in attrs:
        return node.attr
    return ""


def _method_uses(cls: ast.ClassDef, attrs) -> dict[str, dict[str, tuple[bool, str]]]:
    """{method: {attr: (writes, identity of the key)}} for methods touching a container."""
    out: dict = {}
    for item in cls.body:
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) or item.name == "__init__":
            continue
        uses: dict = {}
        for node in all_nodes(item):
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    attr = _self_attr(t, attrs) if isinstance(t, ast.Subscript) else ""
                    if attr:
                        uses[attr] = (True, memory.key_words(_first_key(t)) or uses.get(attr, (0, ""))[1])
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                attr = _self_attr(node.func.value, attrs) if _is_self_container(node.func.value, attrs) else ""
                if attr and node.func.attr in WRITES:
                    key = node.args[0] if node.args and node.func.attr == "setdefault" else None
                    uses[attr] = (True, memory.key_words(key) or uses.get(attr, (0, ""))[1])
                elif attr and node.func.attr in READS:
                    uses.setdefault(attr, (False, ""))
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_self_container(node.value, attrs):
                uses.setdefault(_self_attr(node.value, attrs), (False, ""))
        if uses:
            out[item.name] = uses
    return out


def _is_self_container(node: ast.AST, attrs) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
        and node.attr in attrs


def _first_key(target: ast.Subscript) -> ast.AST | None:
    while isinstance(target.value, ast.Subscript):
        target = target.value
    return target.slice


def _receiver(call: ast.Call, names) -> str:
    """`driver.connect()` / `current_app.key_manager.get()` -> the singleton's name."""
    value = call.func.value if isinstance(call.func, ast.Attribute) else None
    if isinstance(value, ast.Name) and value.id in names:
        return value.id
    if isinstance(value, ast.Attribute) and value.attr in names:
        return value.attr
    return ""


def instance_state(tree: ast.Module, index: ModuleIndex, found: dict[str, Singleton]) -> list[InstanceFinding]:
    if not found or not index.reached_by:
        return []
    methods = {name: _method_uses(s.cls, s.attrs) for name, s in found.items()}
    writes: dict = {}  # (name, attr) -> [(call, method, handler, identity)]
    reads: dict = {}
    for func, handlers in index.reached_by.items():
        for call in ast.walk(func.node):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
                continue
            name = _receiver(call, found)
            for attr, (write, ident) in methods.get(name, {}).get(call.func.attr, {}).items():
                for h in handlers:
                    (writes if write else reads).setdefault((name, attr), []).append((call, call.func.attr, h, ident))
    out = []
    for key in sorted(writes):
        ws = sorted(writes[key], key=lambda w: w[0].lineno)
        writer_handlers = {w[2] for w in ws}
        rs = sorted((r for r in reads.get(key, ()) if r[2] not in writer_handlers), key=lambda r: r[0].lineno)
        if rs:
            w, r = ws[0], rs[0]
            ident = next((x[3] for x in ws if x[3]), "")
            out.append(InstanceFinding(found[key[0]], key[1], w[0], w[1], r[0], r[1], w[2], r[2], ident))
    return out
