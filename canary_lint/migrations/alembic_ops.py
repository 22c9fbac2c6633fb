"""`op.*` and `batch_op.*` calls of an Alembic revision turned into `Op`s (a mixin of the reader)."""

from __future__ import annotations

import ast
from dataclasses import replace

from canary_lint.migrations import ops as K
from canary_lint.migrations.alembic_values import BIND, CONTEXT, UNKNOWN, _dotted, _known, _Marker
from canary_lint.migrations.ops import ColumnSpec, Op, not_null_column, null_only_columns
from canary_lint.model import literal_text
from canary_lint import resolver
from canary_lint.resolver import OneOf

HARMLESS_OPS = {
    "f", "get_bind", "get_context", "inline_literal", "create_table_comment", "drop_table_comment",
    "batch_alter_table", "implementation_for", "invoke", "run_async", "register_operation", "create_sequence",
}
SA_TYPES = {
    "STRING": "VARCHAR", "VARCHAR": "VARCHAR", "UNICODE": "VARCHAR", "NVARCHAR": "VARCHAR", "TEXT": "TEXT",
    "UNICODETEXT": "TEXT", "INTEGER": "INTEGER", "INT": "INTEGER", "BIGINTEGER": "BIGINT", "BIGINT": "BIGINT",
    "SMALLINTEGER": "SMALLINT", "SMALLINT": "SMALLINT", "NUMERIC": "NUMERIC", "DECIMAL": "NUMERIC",
    "FLOAT": "FLOAT", "DOUBLE": "DOUBLE PRECISION", "DOUBLE_PRECISION": "DOUBLE PRECISION", "REAL": "REAL",
    "BOOLEAN": "BOOLEAN", "DATETIME": "TIMESTAMP", "TIMESTAMP": "TIMESTAMP", "DATE": "DATE", "TIME": "TIME",
    "LARGEBINARY": "BYTEA", "BYTEA": "BYTEA", "BLOB": "BLOB", "JSON": "JSON", "JSONB": "JSONB", "UUID": "UUID",
    "UUIDTYPE": "UUID", "CHAR": "CHAR", "ENUM": "ENUM", "INTERVAL": "INTERVAL", "MEDIUMTEXT": "MEDIUMTEXT",
    "LONGTEXT": "LONGTEXT", "TINYINT": "TINYINT", "ARRAY": "ARRAY",
}


NAME_KEYWORDS = {"table_name", "column_name", "new_column_name", "old_table_name", "new_table_name",
                 "source_table", "referent_table", "column"}
NAMED_TABLE = frozenset({K.ADD_COLUMN, K.DROP_COLUMN, K.RENAME_COLUMN, K.ALTER_TYPE, K.SET_NOT_NULL, K.DROP_NOT_NULL,
                         K.SET_DEFAULT, K.CREATE_TABLE, K.DROP_TABLE, K.RENAME_TABLE, K.CREATE_INDEX, K.ADD_CONSTRAINT,
                         K.DROP_CONSTRAINT})
MAX_VARIANTS = 16
LITERAL_NODES = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set)


def _plain(value) -> bool:
    return value is None or isinstance(value, str)


def _variants(op: Op) -> list[Op]:
    """One op per combination of the choices of its names (`"a" if x else "b"`: either may be changed)."""
    out = [op]
    for f in ("table", "column", "new_name"):
        value = getattr(op, f)
        if isinstance(value, OneOf) and all(isinstance(c, str) for c in value.choices):
            out = [replace(o, **{f: c}) for o in out for c in value.choices][:MAX_VARIANTS]
    return out


class OpCalls:
    """Needs `ev`, `add`, `execute`, `_table_of` from the reader."""

    def op_call(self, name: str, node: ast.Call, env: dict, batch_table):  # noqa: C901
        if name == "batch_alter_table":
            t = self._arg(node, env, 0, "table_name")
            return _Marker("batch", t if isinstance(t, str) else UNKNOWN)
        if name == "get_bind":
            return BIND
        if name == "get_context":
            return CONTEXT
        if name == "execute":
            return self.execute(node, env)
        if name in HARMLESS_OPS:
            return UNKNOWN
        shift = 0 if batch_table is None else -1  # batch ops take no table argument

        def table(i: int = 0, kw: str = "table_name"):
            if batch_table is not None:
                return batch_table
            return self._arg(node, env, i, kw)

        ops: list[Op] = []
        detail = f"{'batch_op' if batch_table is not None else 'op'}.{name}"
        if name == "add_column":
            t = table(0)
            col = self._arg(node, env, 1 + shift, "column")
            spec = col if isinstance(col, ColumnSpec) else None
            if spec is None:
                spec = self.column_spec(self._argnode(node, 1 + shift, "column"), env)
            ops.append(Op(K.ADD_COLUMN, t, column=spec.name if spec else UNKNOWN, spec=spec, detail=detail))
        elif name == "drop_column":
            ops.append(Op(K.DROP_COLUMN, table(0), column=self._arg(node, env, 1 + shift, "column_name"), detail=detail))
        elif name == "alter_column":
            t = table(0)
            col = self._arg(node, env, 1 + shift, "column_name")
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            existing_type = self.type_of(kw["existing_type"], env) if "existing_type" in kw else None
            existing_nullable = self.ev(kw["existing_nullable"], env) if "existing_nullable" in kw else None
            common = dict(existing_type=existing_type, detail=detail,
                          existing_nullable=existing_nullable if isinstance(existing_nullable, bool) else None)
            if "type_" in kw:
                ops.append(Op(K.ALTER_TYPE, t, column=col, type=self.type_of(kw["type_"], env), **common))
            if "server_default" in kw:
                d = self.default_of(kw["server_default"], env)
                if d is not None:
                    ops.append(Op(K.SET_DEFAULT, t, column=col, default=d, **common))
            if "nullable" in kw:
                n = self.ev(kw["nullable"], env)
                if n is False:
                    ops.append(Op(K.SET_NOT_NULL, t, column=col, **common))
                elif n is True:
                    ops.append(Op(K.DROP_NOT_NULL, t, column=col, **common))
            if "new_column_name" in kw:
                ops.append(Op(K.RENAME_COLUMN, t, column=col, new_name=self.ev(kw["new_column_name"], env), **common))
            if not ops:
                ops.append(Op(K.OTHER, t, column=col, detail=detail))
        elif name == "create_table":
            t = self._arg(node, env, 0, "table_name")
            cols = []
            for a in node.args[1:]:
                spec = self.column_spec(a, env)
                if spec is not None:
                    cols.append(spec)
            ops.append(Op(K.CREATE_TABLE, t, columns=tuple(cols), detail=detail))
            self._emit(ops, node, env)
            return _Marker("table", t) if isinstance(t, str) else UNKNOWN
        elif name == "drop_table":
            ops.append(Op(K.DROP_TABLE, self._arg(node, env, 0, "table_name"), detail=detail))
        elif name == "rename_table":
            ops.append(Op(K.RENAME_TABLE, self._arg(node, env, 0, "old_table_name"),
                          new_name=self._arg(node, env, 1, "new_table_name"), detail=detail))
        elif name == "create_index":
            t = table(1, "table_name")
            cols = self._arg(node, env, 2 + shift, "columns")
            conc = self._kw(node, env, "postgresql_concurrently") is True
            where = self._kw(node, env, "postgresql_where") or self._kw(node, env, "sqlite_where")
            ops.append(Op(K.CREATE_INDEX, t, name=self._arg(node, env, 0, "index_name"),
                          columns=tuple(c for c in cols if isinstance(c, str)) if isinstance(cols, (list, tuple)) else (),
                          unique=self._kw(node, env, "unique") is True, concurrently=conc, detail=detail,
                          only_null=null_only_columns(where) if isinstance(where, str) else ()))
        elif name == "drop_index":
            t = table(1, "table_name") if batch_table is not None or len(node.args) > 1 or self._kw(node, env, "table_name") is not None else None
            ops.append(Op(K.DROP_INDEX, t if isinstance(t, str) else None, name=self._arg(node, env, 0, "index_name"),
                          concurrently=self._kw(node, env, "postgresql_concurrently") is True, detail=detail))
        elif name in ("create_unique_constraint", "create_primary_key", "create_foreign_key",
                      "create_check_constraint", "create_exclude_constraint"):
            kind = {"create_unique_constraint": "unique", "create_primary_key": "primary_key",
                    "create_foreign_key": "foreign_key", "create_check_constraint": "check",
                    "create_exclude_constraint": "exclude"}[name]
            kwname = "source_table" if kind == "foreign_key" else "table_name"
            t = table(1, kwname)
            nv = self._kw(node, env, "postgresql_not_valid") is True
            if kind == "foreign_key":
                cols = self._arg(node, env, 3 + shift, "local_cols")
            elif kind in ("unique", "primary_key"):
                cols = self._arg(node, env, 2 + shift, "columns")
            else:
                cols = None
            condition = self._arg(node, env, 2 + shift, "condition") if kind == "check" else None
            refs: tuple = ()
            if kind == "foreign_key":
                ref_table, ref_cols = self._arg(node, env, 2 + shift, "referent_table"), self._arg(node, env, 4 + shift, "remote_cols")
                if isinstance(ref_table, str) and isinstance(ref_cols, (list, tuple)) and all(isinstance(c, str) for c in ref_cols):
                    refs = (ref_table.lower(), *(c.lower() for c in ref_cols))
            ops.append(Op(K.ADD_CONSTRAINT, t, name=self._arg(node, env, 0, "constraint_name"), constraint=kind,
                          not_valid=nv, detail=detail, references=refs,
                          proves_not_null=not_null_column(condition) if isinstance(condition, str) else None,
                          columns=tuple(c for c in cols if isinstance(c, str)) if isinstance(cols, (list, tuple)) else ()))
        elif name == "drop_constraint":
            ops.append(Op(K.DROP_CONSTRAINT, table(1), name=self._arg(node, env, 0, "constraint_name"), detail=detail))
        elif name == "bulk_insert":
            t = self._table_of(node.args[0], env) if node.args else None
            ops.append(Op(K.DATA, t if isinstance(t, str) else None, detail=detail))
        elif name in ("drop_sequence",):
            n = self._arg(node, env, 0, "sequence_name")
            ops.append(Op(K.DROP_OBJECT, n, name=n, object_kind="sequence", detail=detail))
        else:
            ops.append(Op(K.UNKNOWN, batch_table if isinstance(batch_table, str) else None, detail=detail))
        self._emit(ops, node, env)
        return UNKNOWN

    def _emit(self, ops: list[Op], node: ast.Call, env: dict) -> None:
        for op in ops:
            for variant in _variants(op):
                self._emit_one(variant, node, env)

    def _emit_one(self, op: Op, node: ast.Call, env: dict) -> None:
        """Add `op`; a table or column computed at run time stays the operation it is, its subject named by
        the expression that computes it (the rules keep their severity: nothing proves it harmless)."""
        unknown = [f for f in ("table", "column", "new_name") if not _plain(getattr(op, f))]
        if op.table is None and op.kind in (K.DROP_INDEX, K.DATA, K.UNKNOWN, K.OTHER):
            unknown = [f for f in unknown if f != "table"]
        if unknown:
            what = self._computing(node, env)
            op.computed = what
            for f in unknown:
                if f == "table" and op.table is None and op.kind not in NAMED_TABLE:
                    continue
                setattr(op, f, f"<{'table' if f == 'table' else 'column'} computed by {what}>")
        if op.name is not None and not isinstance(op.name, str):
            op.name = None
        if isinstance(op.table, str) and not op.computed:
            op.table = op.table.split(".")[-1].lower() if op.table == op.table.lower() else op.table.split(".")[-1]
        self.add(op, node)

    def _computing(self, node: ast.Call, env: dict) -> str:
        """The non-literal name arguments of `node`, described (never evaluated again: no side effects)."""
        args = [*node.args, *(k.value for k in node.keywords if k.arg in NAME_KEYWORDS)]
        parts = [self.describe(a, env) for a in args if not isinstance(a, LITERAL_NODES) and not (
            isinstance(a, ast.Call) and _dotted(a.func).split(".")[-1] in ("Column", "mapped_column"))][:2]
        return "; ".join(parts) if parts else f"{_dotted(node.func)}() arguments"

    # ---- argument helpers -------------------------------------------------------------------------
    def _argnode(self, node: ast.Call, i: int, kw: str):
        for k in node.keywords:
            if k.arg == kw:
                return k.value
        if 0 <= i < len(node.args) and not isinstance(node.args[i], ast.Starred):
            return node.args[i]
        return None

    def _arg(self, node: ast.Call, env: dict, i: int, kw: str, default=None):
        n = self._argnode(node, i, kw)
        return default if n is None else self.ev(n, env)

    def _kw(self, node: ast.Call, env: dict, kw: str):
        for k in node.keywords:
            if k.arg == kw:
                return self.ev(k.value, env)
        return None

    def column_spec(self, node, env: dict) -> ColumnSpec | None:
        if not isinstance(node, ast.Call):
            return None
        fname = _dotted(node.func).split(".")[-1]
        if fname not in ("Column", "mapped_column"):
            return None
        args = list(node.args)
        name = None
        if args and isinstance(self.ev(args[0], env), str):
            name = self.ev(args.pop(0), env)
        typ = None
        for a in args:
            inner = _dotted(a.func if isinstance(a, ast.Call) else a).split(".")[-1]
            if typ is None and inner not in ("ForeignKey", "Sequence", "Identity", "Computed", "CheckConstraint"):
                typ = self.type_of(a, env)
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        if "type_" in kw:
            typ = self.type_of(kw["type_"], env)
        pk = self.ev(kw["primary_key"], env) is True if "primary_key" in kw else False
        nullable = self.ev(kw["nullable"], env) if "nullable" in kw else (not pk)
        spec = ColumnSpec(name if isinstance(name, str) else "?", typ, nullable=bool(nullable) if _known(nullable) else True,
                          default=self.default_of(kw["server_default"], env) if "server_default" in kw else None,
                          primary_key=pk, unique=self.ev(kw["unique"], env) is True if "unique" in kw else False)
        if pk and typ in ("INTEGER", "BIGINT", "SMALLINT") and spec.default is None:
            spec.default = "nextval()"  # autoincrement
        return spec

    def default_of(self, node: ast.AST, env: dict) -> str | None:
        v = self.ev(node, env)
        if v is None:
            return None
        if isinstance(node, ast.Call) and _dotted(node.func).split(".")[-1] == "text" and isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        if isinstance(v, (int, float)):
            return literal_text(v)
        if isinstance(node, ast.Call):
            d = _dotted(node.func)
            if ".func." in f".{d}" or d.startswith("func."):
                return d.split("func.", 1)[1] + "()"
            return d.split(".")[-1] + "()"
        return "?"

    def decorated_impl(self, node: ast.AST, env: dict) -> str | None:
        """The SQL type of a TypeDecorator subclass of the project (`class PseudoJSON(TypeDecorator): impl =
        db.Text`), None for anything else."""
        if not isinstance(node, (ast.Name, ast.Attribute)) or ("impl", id(node)) in self._evaluating:
            return None
        target = self.ev(node, env)
        if not (isinstance(target, _Marker) and target.kind == "class"):
            return None
        scope, cls = target.value
        for stmt in cls.body:
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "impl" for t in stmt.targets):
                self._evaluating.add(("impl", id(node)))
                try:
                    return self.type_of(stmt.value, {resolver.SCOPE: scope})
                finally:
                    self._evaluating.discard(("impl", id(node)))
        return None

    def type_of(self, node: ast.AST, env: dict) -> str | None:
        if node is None:
            return None
        if isinstance(node, ast.Call):
            base = _dotted(node.func).split(".")[-1]
            args = [self.ev(a, env) for a in node.args]
            kw = {k.arg: self.ev(k.value, env) for k in node.keywords if k.arg}
        elif isinstance(node, ast.Name) and node.id not in env and node.id in self.scope_of(env).nodes and \
                ("type", node.id) not in self._evaluating:
            self._evaluating.add(("type", node.id))  # `_STRING_TYPE = sa.String(1500)` at module level
            try:
                return self.type_of(self.scope_of(env).nodes[node.id], env)
            finally:
                self._evaluating.discard(("type", node.id))
        elif isinstance(node, (ast.Attribute, ast.Name)):
            base = _dotted(node).split(".")[-1]
            args, kw = [], {}
        else:
            return None
        if base == "with_variant" and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return self.type_of(node.func.value, env)
        if base == "as_mutable" and isinstance(node, ast.Call) and node.args:  # MutableDict.as_mutable(JSON)
            return self.type_of(node.args[0], env)
        impl = self.decorated_impl(node.func if isinstance(node, ast.Call) else node, env)
        if impl is not None:  # a TypeDecorator of the project: the database sees its `impl`
            return impl
        sql = SA_TYPES.get(base.upper(), base.upper())
        if sql == "VARCHAR" or sql == "CHAR":
            n = args[0] if args and isinstance(args[0], int) else kw.get("length")
            return f"{sql}({literal_text(n)})" if isinstance(n, int) else sql
        if sql == "NUMERIC":
            p = args[0] if args and isinstance(args[0], int) else kw.get("precision")
            s = args[1] if len(args) > 1 and isinstance(args[1], int) else kw.get("scale")
            if isinstance(p, int):
                return f"NUMERIC({literal_text(p)},{literal_text(s) if isinstance(s, int) else 0})"
            return "NUMERIC"
        if sql == "TIMESTAMP" and kw.get("timezone") is True:
            return "TIMESTAMP WITH TIME ZONE"
        return sql
