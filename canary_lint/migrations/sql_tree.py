"""Read one DDL statement through sqlglot into `Op`s: the statements `sql_reader`'s fast paths do not read.
Where sqlglot falls back to an opaque `Command` or cannot parse, the statement is classified from sqlglot's
tokens (`sql_tokens`), with sqlglot's warnings kept off the terminal. sqlglot is imported on first use.
"""

from __future__ import annotations

import contextlib

from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import ColumnSpec, Op
from canary_lint.migrations.sql_lex import normalize_type
from canary_lint.migrations.sql_tokens import _from_tokens

SQLGLOT_DIALECT = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


@contextlib.contextmanager
def quiet_sqlglot():
    """Keep sqlglot's "falling back to parsing as a Command" warnings off the user's terminal."""
    import logging  # sqlglot imports it anyway; a run that needs no sqlglot never does

    logger = logging.getLogger("sqlglot")
    old_level, old_prop = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(old_level)
        logger.propagate = old_prop


def parse_ddl(stmt: str, dialect: str, head: list[str]) -> list[Op]:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    d = SQLGLOT_DIALECT.get(dialect, "postgres")
    try:
        with quiet_sqlglot():
            tree = sqlglot.parse_one(stmt, read=d)
    except (ParseError, TokenError, ValueError, RecursionError):
        tree = None
    if tree is None or isinstance(tree, exp.Command):
        return _from_tokens(stmt, d, head)
    try:
        ops = _from_tree(tree, exp, d)
    except (AttributeError, TypeError, ValueError):
        ops = None
    return ops if ops is not None else _from_tokens(stmt, d, head)


# ---- sqlglot trees ------------------------------------------------------------------------------------
def _ident(node) -> str | None:
    if node is None:
        return None
    name = getattr(node, "name", None)
    if not name and hasattr(node, "this"):
        name = getattr(node.this, "name", None) or (node.this if isinstance(node.this, str) else None)
    if not name:
        return None
    quoted = bool(getattr(node, "args", {}).get("quoted")) or bool(getattr(getattr(node, "this", None), "args", {}).get("quoted"))
    return name if quoted else name.lower()


def type_sql(dtype, d: str = "postgres") -> str | None:
    """The normalized type; built from the node for plain types (sqlglot's generator is slow)."""
    if dtype is None:
        return None
    kind = getattr(dtype.this, "value", None)
    params = dtype.expressions
    if kind and kind not in ("ARRAY", "USER-DEFINED", "STRUCT", "MAP") and not dtype.args.get("values") and \
            all(type(p).__name__ == "DataTypeParam" and type(p.this).__name__ == "Literal" for p in params):
        args = ",".join(str(p.this.this) for p in params)
        return normalize_type(f"{kind}({args})" if args else kind)
    return normalize_type(dtype.sql(dialect=d))


def _column_spec(cdef, exp, d: str) -> ColumnSpec:
    spec = ColumnSpec(name=_ident(cdef.this) or "?", type=type_sql(cdef.args.get("kind"), d))
    for c in cdef.args.get("constraints") or []:
        kind = c.args.get("kind") if isinstance(c, exp.ColumnConstraint) else c
        if isinstance(kind, exp.NotNullColumnConstraint):
            spec.nullable = bool(kind.args.get("allow_null"))
        elif isinstance(kind, exp.DefaultColumnConstraint):
            spec.default = kind.this.sql(dialect=d) if kind.this is not None else None
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            spec.primary_key, spec.nullable = True, False
        elif isinstance(kind, exp.UniqueColumnConstraint):
            spec.unique = True
    if spec.type and spec.type.split("(")[0] in ("SERIAL", "BIGSERIAL") and spec.default is None:
        spec.default = "nextval()"
    raw_kind = cdef.args.get("kind")
    if raw_kind is not None and raw_kind.sql(dialect=d).upper() in ("SERIAL", "BIGSERIAL", "SMALLSERIAL"):
        spec.default = "nextval()"
    return spec


def _constraint_kind(node, exp) -> str | None:
    for cls, kind in ((exp.ForeignKey, "foreign_key"), (exp.CheckColumnConstraint, "check"),
                      (exp.UniqueColumnConstraint, "unique"), (exp.PrimaryKey, "primary_key"),
                      (exp.PrimaryKeyColumnConstraint, "primary_key")):
        if isinstance(node, cls):
            return kind
    if isinstance(node, exp.Constraint):
        for inner in node.expressions:
            k = _constraint_kind(inner, exp)
            if k:
                return k
        return None
    if isinstance(node, exp.ColumnConstraint):
        return _constraint_kind(node.args.get("kind"), exp)
    if type(node).__name__ in ("Reference",):
        return "foreign_key"
    return None


def _from_tree(tree, exp, d: str) -> list[Op] | None:
    if isinstance(tree, exp.Alter):
        kind = (tree.args.get("kind") or "").upper()
        target = _ident(tree.this)
        if kind != "TABLE":
            for action in tree.args.get("actions") or []:
                if isinstance(action, exp.AlterRename):
                    return [Op(K.RENAME_OBJECT, target, name=target, new_name=_ident(action.this),
                               object_kind=kind.lower(), detail=f"ALTER {kind}")]
            return [Op(K.OTHER, target, detail=f"ALTER {kind}")]
        out = []
        not_valid = bool(tree.args.get("not_valid"))
        for action in tree.args.get("actions") or []:
            op = _alter_action(action, target, not_valid, exp, d)
            if op is None:
                return None
            out.append(op)
        return out
    if isinstance(tree, exp.Create):
        kind = (tree.args.get("kind") or "").upper()
        if kind == "INDEX":
            index = tree.this
            table = _ident(index.args.get("table"))
            params = index.args.get("params")
            cols = tuple(c.name.lower() for c in (params.args.get("columns") or [])) if params else ()
            return [Op(K.CREATE_INDEX, table, name=_ident(index), columns=cols,
                       unique=bool(tree.args.get("unique")), concurrently=bool(tree.args.get("concurrently")),
                       detail="CREATE INDEX")]
        if kind == "TABLE":
            schema = tree.this
            table = _ident(schema.this if isinstance(schema, exp.Schema) else schema)
            cols = []
            constraints = []
            if isinstance(schema, exp.Schema):
                for e in schema.expressions:
                    if isinstance(e, exp.ColumnDef):
                        cols.append(_column_spec(e, exp, d))
                    else:
                        constraints.append(e)
            ops = [Op(K.CREATE_TABLE, table, columns=tuple(cols), detail="CREATE TABLE")]
            if tree.args.get("expression") is not None:
                ops.append(Op(K.DATA, table, detail="CREATE TABLE AS"))
            return ops
        return [Op(K.CREATE_OBJECT, _ident(tree.this), name=_ident(tree.this), object_kind=kind.lower(),
                   detail=f"CREATE {kind}")]
    if isinstance(tree, exp.Drop):
        kind = (tree.args.get("kind") or "").upper()
        names = [_ident(t) for t in tree.args.get("tables") or [tree.this] if t is not None]
        if kind == "TABLE":
            return [Op(K.DROP_TABLE, n, detail="DROP TABLE") for n in names]
        if kind == "INDEX":
            return [Op(K.DROP_INDEX, None, name=n, concurrently=bool(tree.args.get("concurrently")), detail="DROP INDEX")
                    for n in names]
        okind = "materialized view" if kind == "VIEW" and tree.args.get("materialized") else kind.lower()
        return [Op(K.DROP_OBJECT, n, name=n, object_kind=okind, detail=f"DROP {kind}") for n in names]
    if isinstance(tree, (exp.Transaction,)):
        return [Op(K.BEGIN, detail="BEGIN")]
    if isinstance(tree, (exp.Commit, exp.Rollback)):
        return [Op(K.COMMIT, detail="COMMIT")]
    return [Op(K.OTHER, detail=type(tree).__name__)]


def _alter_action(action, table, not_valid, exp, d) -> Op | None:
    if isinstance(action, exp.ColumnDef):
        spec = _column_spec(action, exp, d)
        return Op(K.ADD_COLUMN, table, column=spec.name, spec=spec, detail="ADD COLUMN")
    if isinstance(action, exp.AlterColumn):
        col = _ident(action.this)
        if action.args.get("dtype") is not None:
            return Op(K.ALTER_TYPE, table, column=col, type=type_sql(action.args["dtype"], d),
                      detail="ALTER COLUMN TYPE" + (" USING" if action.args.get("using") else ""))
        if action.args.get("allow_null") is False:
            return Op(K.SET_NOT_NULL, table, column=col, detail="SET NOT NULL")
        if action.args.get("allow_null") is True:
            return Op(K.DROP_NOT_NULL, table, column=col, detail="DROP NOT NULL")
        if action.args.get("default") is not None:
            return Op(K.SET_DEFAULT, table, column=col, default=action.args["default"].sql(dialect=d), detail="SET DEFAULT")
        return Op(K.OTHER, table, column=col, detail="ALTER COLUMN")
    if isinstance(action, exp.Drop):
        kind = (action.args.get("kind") or "").upper()
        names = [_ident(t) for t in action.args.get("tables") or []]
        if kind == "CONSTRAINT":
            return Op(K.DROP_CONSTRAINT, table, name=names[0] if names else None, detail="DROP CONSTRAINT")
        if kind in ("COLUMN", "") and len(names) == 1:
            return Op(K.DROP_COLUMN, table, column=names[0], detail="DROP COLUMN")
        return None
    if isinstance(action, exp.RenameColumn):
        return Op(K.RENAME_COLUMN, table, column=_ident(action.this), new_name=_ident(action.args.get("to")),
                  detail="RENAME COLUMN")
    if isinstance(action, exp.AlterRename):
        return Op(K.RENAME_TABLE, table, new_name=_ident(action.this), detail="RENAME TO")
    if isinstance(action, exp.AddConstraint):
        exprs = action.expressions
        if len(exprs) != 1:
            return None
        c = exprs[0]
        kind = _constraint_kind(c, exp)
        if kind is None:
            return None
        name = _ident(c.this) if isinstance(c, exp.Constraint) else None
        return Op(K.ADD_CONSTRAINT, table, name=name, constraint=kind, not_valid=not_valid,
                  detail=f"ADD {kind.replace('_', ' ').upper()}")
    if type(action).__name__ == "ModifyColumn":  # MySQL MODIFY / CHANGE
        cdef = action.this
        spec = _column_spec(cdef, exp, d)
        old = _ident(action.args.get("rename_from"))
        if old and old != spec.name:
            return Op(K.RENAME_COLUMN, table, column=old, new_name=spec.name, type=spec.type, detail="CHANGE COLUMN")
        return Op(K.ALTER_TYPE, table, column=spec.name, type=spec.type, spec=spec, detail="MODIFY COLUMN")
    return None
