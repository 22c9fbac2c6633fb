"""The schema operations canary-lint read, as SQL of its own for one database: quoted identifiers, types
from a known list, defaults from a literal grammar. Nothing the tree wrote is run as written: a type or a
default outside those lists is replaced by a stand-in of the same kind, and an operation that cannot be
rendered says why (`NotRendered`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import ColumnSpec, Op
from canary_lint.migrations.schema import _parse

MAX_IDENT = 63  # PostgreSQL's limit; MySQL's is 64


class NotRendered(Exception):
    """An operation canary-lint cannot run as SQL of its own; the message says why."""


def ident(name: str, dialect: str) -> str:
    if not name or len(name) > MAX_IDENT or "\x00" in name:
        raise NotRendered(f"the name {name[:40]!r} is not one a database takes")
    if dialect in ("mysql", "sqlite"):  # SQLite reads an unknown "name" as a string literal, never `name`
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


# ---- types ------------------------------------------------------------------------------------------------
INTS = {"SMALLINT", "INTEGER", "BIGINT", "TINYINT", "MEDIUMINT", "SERIAL", "BIGSERIAL", "INT"}
TEXTS = {"TEXT", "MEDIUMTEXT", "LONGTEXT", "TINYTEXT", "CITEXT"}
_PG = {"DATETIME": "TIMESTAMP", "TINYINT": "SMALLINT", "MEDIUMINT": "INTEGER", "BLOB": "BYTEA", "LONGBLOB": "BYTEA",
       "MEDIUMBLOB": "BYTEA", "VARBINARY": "BYTEA", "BINARY": "BYTEA", "MEDIUMTEXT": "TEXT", "LONGTEXT": "TEXT",
       "TINYTEXT": "TEXT", "CITEXT": "TEXT", "DOUBLE": "DOUBLE PRECISION", "FLOAT": "DOUBLE PRECISION", "YEAR": "SMALLINT",
       "INT": "INTEGER", "ENUM": "TEXT"}
_MYSQL = {"TIMESTAMP WITH TIME ZONE": "DATETIME", "TIMESTAMP": "DATETIME", "JSONB": "JSON", "UUID": "CHAR(36)",
          "BYTEA": "BLOB", "DOUBLE PRECISION": "DOUBLE", "CITEXT": "TEXT", "INET": "VARCHAR(45)", "CIDR": "VARCHAR(45)",
          "MACADDR": "VARCHAR(17)", "INTERVAL": "VARCHAR(64)", "XML": "TEXT", "MONEY": "DECIMAL(19,2)",
          "SERIAL": "INTEGER", "BIGSERIAL": "BIGINT", "TIME WITH TIME ZONE": "TIME", "BIT VARYING": "VARBINARY(64)",
          "ENUM": "VARCHAR(64)", "BOOLEAN": "BOOLEAN", "VARCHAR": "VARCHAR(255)", "BIT": "BIT(1)"}
_KNOWN = {"VARCHAR", "CHAR", "NUMERIC", "DECIMAL", "REAL", "DOUBLE PRECISION", "BOOLEAN", "DATE", "TIME", "JSON",
          "JSONB", "UUID", "BYTEA", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIME WITH TIME ZONE", "INTERVAL",
          "INET", "CIDR", "MACADDR", "XML", "MONEY", "BIT", "BIT VARYING", "BLOB"} | INTS | TEXTS | set(_PG) | set(_MYSQL)


@dataclass(frozen=True)
class SqlType:
    """A column type as rendered: the text and its kind (for values and stand-in defaults)."""

    text: str
    kind: str  # int, numeric, float, bool, text, timestamp, timestamptz, date, time, json, uuid, bytes, other
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    stand_in: str = ""  # the tree's type, when another one stands for it


def sql_type(declared: str | None, dialect: str) -> SqlType:
    base, n, s = _parse((declared or "").upper().strip())
    base = "NUMERIC" if base == "DECIMAL" else base
    known = base in _KNOWN
    if not known:
        base, n, s = "TEXT", None, None
    kind = _kind(base)
    if base in ("VARCHAR", "CHAR", "NUMERIC", "BIT", "VARBINARY", "BINARY") and n is not None:
        text = f"{base}({n},{s})" if s is not None else f"{base}({n})"
    elif dialect == "postgresql":
        text = _PG.get(base, base)
    elif dialect == "mysql":
        text = _MYSQL.get(base, base)
    else:
        text = base
    if dialect == "postgresql" and base in _PG and n is None:
        text = _PG[base]
    if dialect == "mysql" and base == "NUMERIC" and n is None:
        text = "DECIMAL(30,10)"
    stand_in = "" if known else (declared or "no type")
    return SqlType(text, kind, n if kind == "text" else None, n if kind == "numeric" else None,
                   s if kind == "numeric" else None, stand_in)


def _kind(base: str) -> str:
    if base in INTS or base == "YEAR":
        return "int"
    if base in ("NUMERIC", "MONEY"):
        return "numeric"
    if base in ("REAL", "DOUBLE PRECISION", "FLOAT", "DOUBLE"):
        return "float"
    if base == "BOOLEAN":
        return "bool"
    if base in ("TIMESTAMP", "DATETIME"):
        return "timestamp"
    if base == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    if base in ("DATE", "TIME", "JSON", "JSONB", "UUID", "INET", "CIDR", "MACADDR", "INTERVAL", "XML"):
        return {"JSONB": "json", "CIDR": "inet"}.get(base, base.lower())
    if base in ("BYTEA", "BLOB", "LONGBLOB", "MEDIUMBLOB", "VARBINARY", "BINARY", "BIT", "BIT VARYING"):
        return "bytes"
    return "text"


# ---- defaults ---------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"-?\d{1,30}(?:\.\d{1,30})?")
_STRING = re.compile(r"'(?:[^'\\\x00]|''){0,200}'")
_CAST = re.compile(r"\(?('(?:[^'\\\x00]|''){0,200}')\)?::[\w ]{1,40}(?:\(\d{1,4}\))?")
_NOW = {"now()", "current_timestamp", "current_timestamp()", "localtimestamp", "clock_timestamp()",
        "statement_timestamp()", "transaction_timestamp()", "getdate()", "sysdate()", "utc_timestamp()", "utcnow()"}
_STAND_IN = {"int": "0", "numeric": "0", "float": "0", "bool": "false", "text": "''", "date": "CURRENT_DATE",
             "timestamp": "CURRENT_TIMESTAMP", "timestamptz": "CURRENT_TIMESTAMP", "time": "CURRENT_TIME",
             "json": "'{}'", "uuid": "'00000000-0000-0000-0000-000000000000'", "bytes": "''", "inet": "'127.0.0.1'",
             "macaddr": "'08:00:2b:01:02:03'", "interval": "'1 day'", "xml": "'<v1/>'"}


def sql_default(default: str | None, typ: SqlType, dialect: str) -> str | None:
    """A literal default as written; anything else (a function, an expression) by a stand-in literal of the
    column's kind: the column keeps a default, which is what v1's INSERTs depend on."""
    if default is None:
        return None
    text = default.strip()
    low = text.lower()
    if low == "null":
        return None
    if _NUMBER.fullmatch(text) or _STRING.fullmatch(text):
        out = text
    elif low in ("true", "false"):
        out = low
    elif _CAST.fullmatch(text):
        out = _CAST.fullmatch(text).group(1)
    elif low in _NOW or low.rstrip("()") == "current_timestamp":
        out = "CURRENT_TIMESTAMP"
    else:
        out = _STAND_IN.get(typ.kind, "''")
    if dialect == "sqlite" and out in ("true", "false"):
        out = "1" if out == "true" else "0"
    if dialect == "mysql" and out == "CURRENT_DATE":
        out = "(CURRENT_DATE)"
    if dialect == "mysql" and out.startswith("'") and typ.kind in ("json", "text") and typ.length is None:
        out = f"({out})"  # MySQL 8 takes a TEXT/JSON default only as an expression; MariaDB takes both
    if dialect == "mysql" and out == "CURRENT_TIMESTAMP" and typ.kind not in ("timestamp", "timestamptz"):
        out = _STAND_IN.get(typ.kind, "''") if typ.kind != "date" else "(CURRENT_DATE)"
    return out


def column_def(col: ColumnSpec, dialect: str, *, with_pk: bool = False) -> str:
    typ = sql_type(col.type, dialect)
    parts = [ident(col.name, dialect), typ.text]
    default = sql_default(col.default, typ, dialect)
    if default is not None:
        parts.append(f"DEFAULT {default}")
    if not col.nullable:
        parts.append("NOT NULL")
    if with_pk:
        parts.append("PRIMARY KEY")
    return " ".join(parts)


# ---- the tables as the prover built them -------------------------------------------------------------------
@dataclass
class Built:
    """A table as created on the database: its columns and the constraints canary-lint rendered on it."""

    name: str
    columns: dict  # name -> ColumnSpec
    uniques: dict = field(default_factory=dict)  # constraint or index name -> (columns, only_null)
    checks: dict = field(default_factory=dict)  # constraint name -> column it proves NOT NULL
    indexes: set = field(default_factory=set)  # plain indexes


def create_table(t: Built, dialect: str) -> list[str]:
    cols = list(t.columns.values())
    if not cols:
        raise NotRendered(f"no column of {t.name} is known")
    pk = [c.name for c in cols if c.primary_key]
    defs = [column_def(c, dialect) for c in cols]
    if pk:
        defs.append("PRIMARY KEY (" + ", ".join(ident(c, dialect) for c in pk) + ")")
    if dialect == "sqlite":
        defs += [f"CONSTRAINT {ident(n, dialect)} CHECK ({ident(c, dialect)} IS NOT NULL)" for n, c in t.checks.items()]
    out = [f"CREATE TABLE {ident(t.name, dialect)} ({', '.join(defs)})"]
    if dialect == "sqlite":
        out += [_unique_index(t.name, n, cols_, only_null, dialect) for n, (cols_, only_null) in t.uniques.items()]
    return out


def _unique_index(table: str, name: str, cols: tuple, only_null: tuple, dialect: str) -> str:
    where = " WHERE " + " AND ".join(f"{ident(c, dialect)} IS NULL" for c in only_null) if only_null else ""
    return (f"CREATE UNIQUE INDEX {ident(name, dialect)} ON {ident(table, dialect)} "
            f"({', '.join(ident(c, dialect) for c in cols)}){where}")


def plain_columns(cols) -> tuple:
    """The index or constraint columns when every one is a plain name (an expression is not rendered)."""
    names = tuple(c for c in cols or () if isinstance(c, str))
    if not names or len(names) != len(tuple(cols)) or not all(re.fullmatch(r"[\w$]{1,63}", c) for c in names):
        raise NotRendered("its columns are expressions or unknown")
    return tuple(c.lower() for c in names)


def check_op(op: Op) -> None:
    """Refuse what no dialect renders."""
    for name in (op.table, op.column, op.new_name):
        if name and (name.startswith("<") or op.computed):
            raise NotRendered(f"its table or column is computed at run time ({op.computed or name})")
    if op.kind in (K.DYNAMIC, K.UNKNOWN):
        raise NotRendered("canary-lint could not read it")
    if op.kind in (K.DROP_OBJECT, K.RENAME_OBJECT, K.CREATE_OBJECT):
        kind = op.object_kind or "database object"
        raise NotRendered(f"v1's statements read tables only, not {'an' if kind[0] in 'aeiou' else 'a'} {kind}")
