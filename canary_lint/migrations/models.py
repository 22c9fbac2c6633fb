"""Which table a SQLAlchemy / SQLModel model class maps, and which classes could not be read.

A literal `__tablename__`; a SQLModel `table=True` class (its lower-cased name unless it says otherwise); a
`__tablename__` derived from the class name by a base class (`@declared_attr def __tablename__(cls): return
cls.__name__.lower()`), read by the value resolver. A model-looking class whose table cannot be read, and a
mixin or abstract base whose columns land in tables no one names, are kept as *unresolved*: while one of them
could be the table or column a release drops, "v1 no longer uses it" is not proven."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.pyast import call_name, source_of
from canary_lint.resolver import SCOPE, Evaluator, Marker, ModuleScope

COLUMN_CALLS = frozenset({"Column", "mapped_column", "relationship", "Field", "column_property", "synonym"})
MAX_BASES = 8


@dataclass(frozen=True)
class Unresolved:
    """A mapped class whose table could not be read statically."""

    path: str
    line: int
    name: str
    columns: frozenset  # the columns it maps
    mapped: bool  # a mapped class of an unknown table (False: a mixin / abstract base)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def _literal(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _columns(node: ast.ClassDef) -> frozenset:
    out = set()
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value, annotation = stmt.targets[0].id, stmt.value, None
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name, value, annotation = stmt.target.id, stmt.value, stmt.annotation
        else:
            continue
        if name.startswith("__"):
            continue
        if (value is not None and call_name(value) in COLUMN_CALLS) or (
                annotation is not None and "Mapped" in source_of(annotation, None)):
            out.add(_literal(value.args[0]) if isinstance(value, ast.Call) and value.args and _literal(value.args[0])
                    else name)
    return frozenset(c.lower() for c in out)


def table_of(index, path: str, node: ast.ClassDef) -> str | None:
    """The table `node` maps, when it can be read now; else the class is kept for `finish()`."""
    literal, naming, abstract = None, None, False
    for stmt in node.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        names = {t.id for t in targets if isinstance(t, ast.Name)}
        if "__tablename__" in names and stmt.value is not None:
            literal = _literal(stmt.value)
            naming = None if literal else stmt.value
        elif "__abstract__" in names and isinstance(stmt.value, ast.Constant) and stmt.value.value is True:
            abstract = True
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == "__tablename__":
            naming = stmt
    bases = [call_name(b) for b in node.bases if call_name(b)]
    index.bases[node.name] = bases
    if naming is not None:
        index.naming[node.name] = naming
    if literal:
        return literal
    if any(k.arg == "table" and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords):
        return node.name.lower()  # SQLModel's default __tablename__
    columns = _columns(node)
    if columns or naming is not None or any(k.arg == "table" for k in node.keywords):
        index.pending.append((path, node, abstract, columns))
    return None


BASE_FACTORIES = frozenset({"declarative_base", "generate_base", "as_declarative_base"})


def declarative_base(index, node: ast.Assign) -> None:
    """`Base = declarative_base(cls=NamingBase)`: classes deriving from `Base` take `NamingBase`'s naming."""
    if call_name(node.value) not in BASE_FACTORIES:
        return
    cls = next((k.value for k in node.value.keywords if k.arg == "cls"), None)
    names = [call_name(cls)] if cls is not None and call_name(cls) else []
    for target in node.targets:
        if isinstance(target, ast.Name):
            index.bases[target.id] = names


def finish(index, index_columns) -> None:
    """Resolve the classes `table_of` kept, now that every indexed file is known (`index_columns(index, path,
    node, table)` records a resolved one); the rest are unresolved."""
    for path, node, abstract, columns in index.pending:
        table = None if abstract else _derived(index, node)
        if table:
            index_columns(index, path, node, table)
            continue
        mapped = not abstract and bool(columns) and (_inherits_naming(index, node.name) or not _looks_like_mixin(node))
        index.unresolved.append(Unresolved(path, node.lineno, node.name, columns, mapped))


def _looks_like_mixin(node: ast.ClassDef) -> bool:
    return node.name.endswith(("Mixin", "Base", "Model")) or not node.bases


def _inherits_naming(index, name: str, depth: int = 0) -> bool:
    if depth > MAX_BASES:
        return False
    return any(b in index.naming or _inherits_naming(index, b, depth + 1) for b in index.bases.get(name, ()))


def _naming_of(index, name: str, depth: int = 0):
    if name in index.naming:
        return index.naming[name]
    if depth > MAX_BASES:
        return None
    for base in index.bases.get(name, ()):
        found = _naming_of(index, base, depth + 1)
        if found is not None:
            return found
    return None


class _ClassName(Evaluator):
    """An Evaluator where `cls.__name__` is the name of the class being mapped."""

    def attribute(self, attr, base, env):
        if isinstance(base, Marker) and base.kind == "cls" and attr.attr == "__name__":
            return base.value
        return Evaluator.attribute(self, attr, base, env)


def _derived(index, node: ast.ClassDef) -> str | None:
    """A `__tablename__` computed from the class name (`cls.__name__.lower()`, f-strings of it)."""
    naming = _naming_of(index, node.name)
    if naming is None:
        return None
    scope = ModuleScope(ast.Module(body=[], type_ignores=[]))
    evaluator = _ClassName(scope)
    env = {SCOPE: scope, "cls": Marker("cls", node.name), "self": Marker("cls", node.name)}
    try:
        if isinstance(naming, (ast.FunctionDef, ast.AsyncFunctionDef)):
            value = evaluator.call_function((scope, naming), [Marker("cls", node.name)], {}, env)
        else:
            value = evaluator.ev(naming, env)
    except Exception:  # noqa: BLE001 - a naming scheme we cannot read leaves the class unresolved
        return None
    return value if isinstance(value, str) and value else None
