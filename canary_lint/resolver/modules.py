"""Modules of the checked tree for the resolver: top-level names of one module, and the tree by dotted name."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Callable

from canary_lint.pyast import statements
from canary_lint.resolver.values import UNKNOWN, literal


def module_name(path: str) -> str:
    """`src/shop/views.py` -> "src.shop.views"; a package's `__init__.py` is the package."""
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def absolute(name: str, module: str, level: int, package: bool = False) -> str:
    """The module a `from {'.' * level}{module} import ...` in module `name` means (`package`: `name` is a
    package's `__init__.py`, whose `.` is the package itself)."""
    if not level:
        return module
    parts = name.split(".") if name else []
    drop = level - 1 if package else level
    package = parts[:len(parts) - drop] if len(parts) >= drop else []
    return ".".join([*package, module] if module else package)


class ModuleScope:
    """The top level of one module: constants, other assignments (evaluated on first use), functions,
    classes and imports."""

    def __init__(self, tree: ast.Module, name: str = "", project: "Project | None" = None, package: bool = False):
        self.tree = tree
        self.name = name
        self.package = package
        self.project = project
        self.consts: dict = {}
        self.nodes: dict = {}
        self.funcs: dict = {}
        self.classes: dict = {}
        self.imports: dict = {}  # local name -> (module, attribute or None)
        self.lines: dict = {}  # top-level name -> line of its (last) assignment
        self.evaluated: dict = {}  # reader class -> {name: value} of `nodes` evaluated on first use
        self.branched: dict = {}  # name -> the top-level `if`/`try` statements that (re)bind it
        self.stars: list[str] = []  # modules of top-level `from X import *`, in order
        for node in tree.body:
            self._top(node)
        self.local_imports: dict = {}  # `def create_app(): import config`: names imported inside functions
        todo = deque(tree.body)  # each outermost function once (its walk reaches the nested ones)
        while todo:
            node = todo.popleft()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in statements(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        self._local_import(inner)
            elif not isinstance(node, (ast.Import, ast.ImportFrom)):
                for field in ("body", "handlers", "orelse", "finalbody", "cases"):
                    todo.extend(getattr(node, field, None) or ())

    def _top(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            value = literal(node.value)
            for t in node.targets:
                if isinstance(t, ast.Name):
                    self.consts[t.id] = value
                    self.lines[t.id] = node.lineno
                    if value is UNKNOWN and len(node.targets) == 1:
                        self.nodes[t.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            self.consts[node.target.id] = value = literal(node.value)
            self.lines[node.target.id] = node.lineno
            if value is UNKNOWN:
                self.nodes[node.target.id] = node.value
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.funcs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            self.classes[node.name] = node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.imports[alias.asname] = (alias.name, None)
                else:
                    self.imports[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
        elif isinstance(node, ast.ImportFrom):
            base = self._absolute(node.module or "", node.level)
            for alias in node.names:
                if alias.name != "*":
                    self.imports[alias.asname or alias.name] = (base, alias.name)
                elif node in self.tree.body and base not in self.stars:
                    self.stars.append(base)  # `from .base import *` (split Django settings, config packages)
        elif isinstance(node, (ast.If, ast.Try)):  # `try: from x import y` / `if TYPE_CHECKING:`
            for part in (node.body, getattr(node, "orelse", []), *[h.body for h in getattr(node, "handlers", [])]):
                for inner in part:
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        self._top(inner)
            for name in _bound(node):
                self.branched.setdefault(name, []).append(node)

    def _local_import(self, node: ast.Import | ast.ImportFrom) -> None:
        """Read as if at module level, unless the module binds the name itself (then scoping decides)."""
        top = self.imports, self.local_imports
        self.imports = {}
        try:
            self._top(node)
            found = self.imports
        finally:
            self.imports, self.local_imports = top
        for name, target in found.items():
            if name not in self.imports and name not in self.consts and name not in self.funcs \
                    and name not in self.classes:
                self.local_imports.setdefault(name, target)

    def _absolute(self, module: str, level: int) -> str:
        return absolute(self.name, module, level, self.package)


class Project:
    """The Python modules of the checked tree, by dotted name, parsed on first use through `load(path)`.

    A module is found by its full dotted path from the tree's root or, for `src/` layouts and projects
    checked from a sub-directory, by the unique path that ends with the dotted name."""

    def __init__(self, paths: list[str], load: Callable[[str], ast.Module | None]):
        self._load = load
        self._by_name: dict[str, list[str]] = {}
        for path in paths:
            if not path.endswith(".py"):
                continue
            parts = module_name(path).split(".")
            for i in range(len(parts)):
                self._by_name.setdefault(".".join(parts[i:]), []).append(path)
        self._scopes: dict[str, ModuleScope | None] = {}
        self._path_scopes: dict[str, ModuleScope] = {}

    def path_of(self, module: str) -> str | None:
        found = self._by_name.get(module, [])
        return found[0] if len(found) == 1 else None

    def scope(self, module: str) -> ModuleScope | None:
        if module not in self._scopes:
            path = self.path_of(module)
            tree = self._load(path) if path else None
            self._scopes[module] = (ModuleScope(tree, module, self, path.endswith("__init__.py"))
                                    if tree is not None else None)
        return self._scopes[module]

    def scope_of_path(self, path: str, tree: ast.Module) -> ModuleScope:
        """The scope of the module at `path` read from `tree`: one per file and tree, shared by every reader, so
        read-only for them (a reader that writes into a scope makes its own `ModuleScope`)."""
        name = module_name(path)
        for known in (self._scopes.get(name), self._path_scopes.get(path)):
            if known is not None and known.tree is tree:
                return known
        scope = self._path_scopes[path] = ModuleScope(tree, name, self, path.endswith("__init__.py"))
        return scope




def definition(scope: ModuleScope | None, name: str, depth: int = 0) -> tuple[ModuleScope, ast.AST] | None:
    """Where a top-level name of `scope` is defined, imports and star imports followed: (the defining module,
    its `def`, `class` or the expression assigned to it). None for constants (`scope.consts`), modules and names
    defined nowhere in the tree. The raw statement, for readers that need a function's `return` or a call's
    shape rather than a value."""
    if scope is None or depth > 8:
        return None
    for table in (scope.funcs, scope.classes, scope.nodes):
        if name in table:
            return scope, table[name]
    target = scope.imports.get(name) or scope.local_imports.get(name)
    if target is not None:
        module, attr = target
        if attr is None or scope.project is None:
            return None
        return definition(scope.project.scope(module), attr, depth + 1)
    if scope.project is not None and not name.startswith("_"):
        for module in reversed(scope.stars):
            found = definition(scope.project.scope(module), name, depth + 1)
            if found is not None:
                return found
    return None


def tree_project(ctx, side: str = "head") -> Project:
    """The Python modules of one version's tree, parsed through the run's context (each file once, shared by
    every reader): the checked tree, or v1's (`side="base"`)."""
    def build() -> Project:
        if side == "base":
            return Project([p for p in ctx.base.paths() if p.endswith(".py")], ctx.base_python_ast)
        by_path = {f.path: f for f in ctx.files_of("python")}
        return Project(list(by_path), lambda path: ctx.python_ast(by_path[path]) if path in by_path else None)
    return ctx.cached(("resolver", "project", side), build)


def _bound(stmt: ast.stmt) -> set[str]:
    """Names a statement assigns, outside the functions and classes it defines."""
    out: set[str] = set()
    todo = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return out
