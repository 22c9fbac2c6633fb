"""One schema operation of the release as the SQL each database runs for it, on the tables the prover built.
SQLite alters few things in place: a type, a NOT NULL, a default or a constraint is changed by rebuilding
the table (create the new shape, copy the rows, drop, rename), as Alembic's batch mode does."""

from __future__ import annotations

import copy

from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import ColumnSpec, Op
from canary_lint.prove.render import (Built, NotRendered, _unique_index, check_op, column_def, create_table, ident,
                                      plain_columns, sql_default, sql_type)

NOTHING = ()  # understood; nothing on the database changes what v1's statements see


def change(op: Op, tables: dict, dialect: str) -> tuple[list[str], dict]:
    """(the SQL to run, the tables after it). Raises NotRendered."""
    check_op(op)
    k = op.kind
    after = {name: copy.deepcopy(t) for name, t in tables.items()}
    if k in (K.DATA, K.BEGIN, K.COMMIT, K.OTHER):
        return [], after
    if k == K.CREATE_TABLE:
        cols = {c.name.lower(): ColumnSpec(**{**vars(c), "name": c.name.lower()}) for c in op.columns
                if isinstance(c, ColumnSpec)}
        if op.table in after:
            raise NotRendered(f"{op.table} exists already")
        after[op.table] = Built(op.table, cols)
        return create_table(after[op.table], dialect), after
    t = after.get(op.table)
    if t is None:
        raise NotRendered(f"the table {op.table} is not one canary-lint knows from the history or v1's models")
    q = lambda name: ident(name, dialect)  # noqa: E731
    table = q(t.name)
    if k == K.DROP_TABLE:
        del after[op.table]
        return [f"DROP TABLE {table}"], after
    if k == K.RENAME_TABLE:
        if not op.new_name or op.new_name in after:
            raise NotRendered("the new name is unknown or taken")
        t = after.pop(op.table)
        t.name = op.new_name
        after[op.new_name] = t
        return [f"ALTER TABLE {table} RENAME TO {q(op.new_name)}"], after
    if k in (K.CREATE_INDEX, K.DROP_INDEX):
        return _index(op, t, dialect), after
    if k in (K.ADD_CONSTRAINT, K.DROP_CONSTRAINT, K.VALIDATE_CONSTRAINT):
        return _constraint(op, t, tables[op.table], dialect, after), after
    if k == K.ADD_COLUMN:
        spec = op.spec
        if spec is None:
            raise NotRendered("the new column's definition is unknown")
        col = ColumnSpec(**{**vars(spec), "name": spec.name.lower()})
        if col.name in t.columns:
            raise NotRendered(f"{t.name}.{col.name} exists already")
        t.columns[col.name] = col
        if dialect == "sqlite" and (col.primary_key or col.unique):
            return _rebuild(tables[op.table], t, dialect), after
        extra = " UNIQUE" if col.unique else ""
        return [f"ALTER TABLE {table} ADD COLUMN {column_def(col, dialect)}{extra}"], after
    col = t.columns.get(op.column)
    if col is None:
        raise NotRendered(f"the column {op.table}.{op.column} is not one canary-lint knows from the history or v1's models")
    if k == K.DROP_COLUMN:
        del t.columns[op.column]
        for name, (cols, _) in list(t.uniques.items()):
            if op.column in cols:
                del t.uniques[name]
        t.checks = {n: c for n, c in t.checks.items() if c != op.column}
        if dialect == "sqlite" and (col.primary_key or col.unique or tables[op.table].uniques != t.uniques):
            return _rebuild(tables[op.table], t, dialect), after
        return [f"ALTER TABLE {table} DROP COLUMN {q(op.column)}"], after
    if k == K.RENAME_COLUMN:
        if not op.new_name or op.new_name in t.columns:
            raise NotRendered("the new name is unknown or taken")
        del t.columns[op.column]
        col.name = op.new_name
        t.columns[op.new_name] = col
        t.uniques = {n: (tuple(op.new_name if c == op.column else c for c in cols), tuple(
            op.new_name if c == op.column else c for c in nulls)) for n, (cols, nulls) in t.uniques.items()}
        t.checks = {n: op.new_name if c == op.column else c for n, c in t.checks.items()}
        return [f"ALTER TABLE {table} RENAME COLUMN {q(op.column)} TO {q(op.new_name)}"], after
    if k == K.ALTER_TYPE:
        if not op.type:
            raise NotRendered("the new type is unknown")
        col.type = op.type
    elif k == K.SET_NOT_NULL:
        col.nullable = False
    elif k == K.DROP_NOT_NULL:
        col.nullable = True
    elif k == K.SET_DEFAULT:
        col.default = op.default
    else:
        raise NotRendered(f"canary-lint does not run a {k.replace('_', ' ')}")
    if dialect == "sqlite":
        return _rebuild(tables[op.table], t, dialect), after
    if dialect == "mysql":
        return [f"ALTER TABLE {table} MODIFY COLUMN {column_def(col, dialect)}"], after
    column = q(col.name)
    if k == K.ALTER_TYPE:
        typ = sql_type(col.type, dialect)
        alter_type = f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {typ.text} USING {column}::{typ.text}"
        default = sql_default(col.default, typ, dialect)
        if default is None:
            return [alter_type], after
        # PostgreSQL casts the default with the column and refuses one it cannot cast: the default goes first and
        # comes back in the new type, as a migration that works has to do it
        return [f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT", alter_type,
                f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default}"], after
    if k == K.SET_NOT_NULL:
        return [f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL"], after
    if k == K.DROP_NOT_NULL:
        return [f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL"], after
    default = sql_default(col.default, sql_type(col.type, dialect), dialect)
    return [f"ALTER TABLE {table} ALTER COLUMN {column} " + (f"SET DEFAULT {default}" if default is not None
                                                             else "DROP DEFAULT")], after


def _index(op: Op, t: Built, dialect: str) -> list[str]:
    if op.kind == K.DROP_INDEX:
        if op.name in t.uniques:
            del t.uniques[op.name]
        elif op.name in t.indexes:
            t.indexes.discard(op.name)
        else:
            return []  # an index of v1's the prover did not build: dropping it changes no v1 statement
        return [f"DROP INDEX {ident(op.name, dialect)}" + (f" ON {ident(t.name, dialect)}" if dialect == "mysql" else "")]
    if not op.name:
        raise NotRendered("the index has no name")
    cols = plain_columns(op.columns)
    if any(c not in t.columns for c in cols):
        raise NotRendered(f"a column of the index is not one of {t.name}'s known columns")
    if op.unique:
        if dialect == "mysql" and op.only_null:
            raise NotRendered("MySQL has no partial index")
        t.uniques[op.name] = (cols, op.only_null)
        return [_unique_index(t.name, op.name, cols, op.only_null, dialect)]
    t.indexes.add(op.name)
    return [f"CREATE INDEX {ident(op.name, dialect)} ON {ident(t.name, dialect)} "
            f"({', '.join(ident(c, dialect) for c in cols)})"]


def _constraint(op: Op, t: Built, before: Built, dialect: str, tables: dict) -> list[str]:
    table = ident(t.name, dialect)
    name = op.name or (f"canary_lint_{op.constraint}_{t.name}_" + "_".join(op.columns))[:63]  # unnamed: one of ours
    if op.kind == K.VALIDATE_CONSTRAINT:
        return [f"ALTER TABLE {table} VALIDATE CONSTRAINT {ident(name, dialect)}"] if (
            dialect == "postgresql" and name in t.checks) else []
    if op.kind == K.DROP_CONSTRAINT:
        if name in t.uniques:
            del t.uniques[name]
            if dialect == "sqlite":
                return [f"DROP INDEX {ident(name, dialect)}"]
            return [f"ALTER TABLE {table} DROP " + ("INDEX " if dialect == "mysql" else "CONSTRAINT ") + ident(name, dialect)]
        if name in t.checks:
            del t.checks[name]
            if dialect == "sqlite":
                return _rebuild(before, t, dialect)
            return [f"ALTER TABLE {table} DROP CONSTRAINT {ident(name, dialect)}"]
        return []  # a constraint of v1's the prover did not build: dropping it makes no v1 statement fail
    if op.constraint == "unique":
        cols = plain_columns(op.columns)
        if any(c not in t.columns for c in cols):
            raise NotRendered(f"a column of the constraint is not one of {t.name}'s known columns")
        t.uniques[name] = (cols, ())
        if dialect == "sqlite":
            return [_unique_index(t.name, name, cols, (), dialect)]
        return [f"ALTER TABLE {table} ADD CONSTRAINT {ident(name, dialect)} UNIQUE "
                f"({', '.join(ident(c, dialect) for c in cols)})"]
    if op.constraint == "check" and op.proves_not_null and op.proves_not_null in t.columns:
        t.checks[name] = op.proves_not_null
        if dialect == "sqlite":
            return _rebuild(before, t, dialect)
        valid = " NOT VALID" if op.not_valid and dialect == "postgresql" else ""
        return [f"ALTER TABLE {table} ADD CONSTRAINT {ident(name, dialect)} CHECK "
                f"({ident(op.proves_not_null, dialect)} IS NOT NULL){valid}"]
    if op.constraint == "foreign_key" and op.references:
        cols = plain_columns(op.columns)
        ref = tables.get(op.references[0].lower())
        ref_cols = plain_columns(op.references[1:])
        if ref is None or any(c not in ref.columns for c in ref_cols) or any(c not in t.columns for c in cols):
            raise NotRendered("the foreign key's tables or columns are not all known from the history")
        if dialect == "sqlite":
            raise NotRendered("SQLite adds a foreign key only by rebuilding the table, and enforces it only with "
                              "PRAGMA foreign_keys")
        valid = " NOT VALID" if op.not_valid and dialect == "postgresql" else ""
        return [f"ALTER TABLE {table} ADD CONSTRAINT {ident(name, dialect)} FOREIGN KEY "
                f"({', '.join(ident(c, dialect) for c in cols)}) REFERENCES {ident(ref.name, dialect)} "
                f"({', '.join(ident(c, dialect) for c in ref_cols)}){valid}"]
    what = {"foreign_key": "a foreign key (its referenced table and columns were not read)",
            "check": "a CHECK other than IS NOT NULL (the reader keeps no condition)",
            "primary_key": "a primary key change", "exclude": "an exclusion constraint"}
    raise NotRendered(f"canary-lint does not run {what.get(op.constraint, 'this constraint')}")


def _rebuild(before: Built, after: Built, dialect: str) -> list[str]:
    """SQLite: the table in its new shape, under a new name, the rows copied, the old one dropped."""
    temp = Built("_canary_lint_new_" + after.name, after.columns, after.uniques, after.checks)
    shared = [c for c in after.columns if c in before.columns]
    copy_cols = ", ".join(ident(c, dialect) for c in shared)
    create = create_table(temp, dialect)
    out = [create[0]]
    if shared:
        out.append(f"INSERT INTO {ident(temp.name, dialect)} ({copy_cols}) SELECT {copy_cols} "
                   f"FROM {ident(before.name, dialect)}")
    out += [f"DROP TABLE {ident(before.name, dialect)}",
            f"ALTER TABLE {ident(temp.name, dialect)} RENAME TO {ident(after.name, dialect)}"]
    out += [_unique_index(after.name, n, cols, nulls, dialect) for n, (cols, nulls) in after.uniques.items()]
    return out
