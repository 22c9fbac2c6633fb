"""v1's tables from v1's SQLAlchemy models, for `--prove`, when the migration history never creates a table
the release changes (a schema made by `metadata.create_all` before the first revision): the class with that
`__tablename__` (or `Table("name", ...)`) in v1's tree, its `Column`/`mapped_column` types, nullability,
primary keys and server defaults, read with `ast` (nothing imported)."""

from __future__ import annotations

import ast
import re

from canary_lint.migrations.alembic_ops import SA_TYPES
from canary_lint.migrations.ops import ColumnSpec
from canary_lint.prove.render import Built

MAX_FILES = 400
NOT_TYPES = {"FOREIGNKEY", "SEQUENCE", "IDENTITY", "COMPUTED", "CHECKCONSTRAINT"}


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _const(node):
    return node.value if isinstance(node, ast.Constant) else None


def _type(node) -> str | None:
    call = node if isinstance(node, ast.Call) else None
    base = _dotted(call.func if call else node).split(".")[-1].upper()
    if base in NOT_TYPES or base not in SA_TYPES:
        return None
    sql = SA_TYPES[base]
    args = [_const(a) for a in call.args] if call else []
    kw = {k.arg: _const(k.value) for k in call.keywords if k.arg} if call else {}
    if sql in ("VARCHAR", "CHAR"):
        n = args[0] if args and isinstance(args[0], int) else kw.get("length")
        return f"{sql}({n})" if isinstance(n, int) and not isinstance(n, bool) else sql
    if sql == "NUMERIC":
        p = args[0] if args and isinstance(args[0], int) else kw.get("precision")
        s = args[1] if len(args) > 1 and isinstance(args[1], int) else kw.get("scale")
        if isinstance(p, int):
            return f"NUMERIC({p},{s})" if isinstance(s, int) else f"NUMERIC({p})"
    return sql


def _column(call: ast.Call, attr: str | None) -> ColumnSpec | None:
    args = list(call.args)
    name = attr
    if args and isinstance(_const(args[0]), str):
        name = _const(args.pop(0))
    if not name:
        return None
    typ = next((t for t in map(_type, args) if t), None)
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    if typ is None and "type_" in kw:
        typ = _type(kw["type_"])
    pk = _const(kw.get("primary_key")) is True
    nullable = _const(kw["nullable"]) if "nullable" in kw else not pk
    default = None
    if "server_default" in kw:
        d = kw["server_default"]
        if isinstance(d, ast.Call) and d.args and isinstance(_const(d.args[0]), str):
            default = _const(d.args[0])  # sa.text("now()")
        elif isinstance(_const(d), str):
            default = "'" + _const(d).replace("'", "''") + "'"
        else:
            default = "?"
    if pk and typ in ("INTEGER", "BIGINT", "SMALLINT") and default is None:
        default = "nextval()"
    return ColumnSpec(name.lower(), typ, nullable=nullable is not False, default=default, primary_key=pk,
                      unique=_const(kw.get("unique")) is True)


def _class_columns(node: ast.ClassDef) -> dict:
    cols = {}
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            attr, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            attr, value = stmt.target.id, stmt.value
        else:
            continue
        if isinstance(value, ast.Call) and _dotted(value.func).split(".")[-1] in ("Column", "mapped_column"):
            col = _column(value, attr)
            if col is not None:
                cols[col.name] = col
    return cols


def v1_model_tables(ctx, wanted: set) -> dict:
    """{table: Built} for the tables of `wanted` that v1's models map (v1's tree, needs --base)."""
    if ctx.base is None or not wanted:
        return {}
    pattern = re.compile("|".join(re.escape(w) for w in sorted(wanted, key=len, reverse=True)), re.I)
    found: dict = {}
    files = 0
    for path in ctx.base.paths():
        if not path.endswith(".py") or files >= MAX_FILES or len(found) == len(wanted):
            continue
        text = ctx.base.read_text(path)
        if not text or "Column" not in text and "mapped_column" not in text or not pattern.search(text):
            continue
        files += 1
        tree = ctx.base_python_ast(path)
        if tree is None:
            continue
        for node in ast.walk(tree):
            table, cols = None, {}
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__tablename__"
                                                            for t in stmt.targets):
                        table = _const(stmt.value)
                if isinstance(table, str):
                    cols = _class_columns(node)
            elif isinstance(node, ast.Call) and _dotted(node.func).split(".")[-1] == "Table" and node.args:
                table = _const(node.args[0])
                if isinstance(table, str):
                    cols = {c.name: c for c in (_column(a, None) for a in node.args[1:] if isinstance(a, ast.Call)
                            and _dotted(a.func).split(".")[-1] == "Column") if c}
            if isinstance(table, str) and table.lower() in wanted and cols and table.lower() not in found:
                found[table.lower()] = (Built(table.lower(), cols), path)
    return found
