"""Django's model state, replayed statically: models with their table and fields, and the small readers of
migration-call arguments the operation converter uses."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from canary_lint.migrations.django_fields import literal


@dataclass
class Model:
    app: str
    name: str
    db_table: str | None = None
    fields: dict = field(default_factory=dict)  # attribute name -> Field
    unique_together: set = field(default_factory=set)
    index_together: set = field(default_factory=set)
    managed: bool = True
    proxy: bool = False

    @property
    def table(self) -> str:
        return (self.db_table or f"{self.app}_{self.name.lower()}").lower()

    def pk_type(self) -> str | None:
        for f in self.fields.values():
            if f.primary_key:
                return f.type
        return "BIGINT"  # Django adds `id` (BigAutoField since 3.2 projects; AutoField before)


@dataclass
class State:
    models: dict = field(default_factory=dict)  # (app, model lower) -> Model

    def model(self, app: str, name: str) -> Model:
        key = (app, name.lower())
        if key not in self.models:
            self.models[key] = Model(app, name)
        return self.models[key]

    def resolve(self, app: str, target: str | None) -> Model | None:
        if not target or target.startswith("setting:"):
            return None
        if target == "self":
            return None
        app2, _, name = target.rpartition(".")
        return self.models.get(((app2 or app), name.lower()))


def kw(call: ast.Call, name: str, pos: int | None = None):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    if pos is not None and len(call.args) > pos:
        return call.args[pos]
    return None


def str_arg(call: ast.Call, name: str, pos: int | None = None) -> str | None:
    v = literal(kw(call, name, pos))
    return v if isinstance(v, str) else None


def span(node: ast.AST) -> tuple[int, int, int, int]:
    return (node.lineno, node.col_offset + 1, getattr(node, "end_lineno", None) or node.lineno,
            (getattr(node, "end_col_offset", None) or node.col_offset) + 1)


def elements(node: ast.AST | None) -> list:
    if isinstance(node, (ast.List, ast.Tuple)):
        return list(node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return elements(node.left) + elements(node.right)
    return []


def field_pairs(node: ast.AST | None) -> list[tuple[str, ast.AST]]:
    out = []
    for elt in elements(node):
        if isinstance(elt, ast.Tuple) and len(elt.elts) == 2:
            name = literal(elt.elts[0])
            if isinstance(name, str):
                out.append((name, elt.elts[1]))
    return out


def together(node: ast.AST | None) -> set:
    value = literal(node)
    if not value:
        return set()
    if isinstance(value, (list, tuple, set)) and value and all(isinstance(v, str) for v in value):
        return {tuple(value)}
    # a group is field names; one holding anything else (a name the reader cannot know, a number) is not read
    return {tuple(v) for v in value if isinstance(v, (list, tuple)) and all(isinstance(c, str) for c in v)}
