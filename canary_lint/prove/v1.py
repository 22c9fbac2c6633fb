"""v1's statements, derived from v1's schema as canary-lint replayed it: for each table, the INSERTs its
models make (the widest values its types allow, the smallest and negative ones, a row with only the required
columns, a repeat of the first row's values under a new key), the SELECT of each row it wrote and the
UPDATE of each, every statement naming v1's columns, as an ORM does."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal

from canary_lint.prove.render import ident, sql_type

TEXT_LEN = 100
INT_TOP = {"SMALLINT": 2**15 - 1, "TINYINT": 2**7 - 1, "MEDIUMINT": 2**23 - 1, "BIGINT": 2**63 - 1,
           "BIGSERIAL": 2**63 - 1}
MAX_TABLES = 200


@dataclass
class Statement:
    table: str  # v1's name of the table
    text: str  # what a finding shows
    sql: str
    params: tuple
    reads: bool = False  # a SELECT: its rows are compared with what v1's own schema gave
    insert: int | None = None  # the INSERT (index) whose row this statement reads or updates
    columns: tuple = ()  # a SELECT: the columns it reads


def value(col, edge: str, k: int, dialect: str):
    """What v1 writes into `col` for row k; edge is 'max' or 'min'."""
    typ = sql_type(col.type, dialect)
    base = (col.type or "").upper().split("(")[0].strip()
    kind = typ.kind
    if kind == "int":
        top = INT_TOP.get(base, 2**31 - 1)
        return top if edge == "max" else -top - 1
    if kind == "numeric":
        p, s = typ.precision or 12, typ.scale or 0
        top = Decimal(10) ** (p - s) - Decimal(1).scaleb(-s)
        return top if edge == "max" else -top
    if kind == "float":
        return 1.5e9 if edge == "max" else -1.5e9
    if kind == "bool":
        return edge == "max"
    if kind == "timestamp":
        return dt.datetime(2037, 12, 31, 23, 59, 59) if edge == "max" else dt.datetime(1971, 1, 2)
    if kind == "timestamptz":
        moment = dt.datetime(2037, 12, 31, 23, 59, 59) if edge == "max" else dt.datetime(1971, 1, 2)
        return moment.replace(tzinfo=dt.timezone.utc) if dialect == "postgresql" else moment
    if kind == "date":
        return dt.date(2037, 12, 31) if edge == "max" else dt.date(1971, 1, 2)
    if kind == "time":
        return dt.time(23, 59, 59) if edge == "max" else dt.time(0, 0)
    if kind == "json":
        return json.dumps({"v1": [k, "x"]})
    if kind == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"v1-{k}"))
    if kind == "bytes":
        return b"v1" if edge == "max" else b""
    if kind in ("inet", "macaddr", "interval", "xml"):
        return {"inet": "127.0.0.1", "macaddr": "08:00:2b:01:02:03", "interval": "1 day", "xml": "<v1/>"}[kind]
    n = typ.length or TEXT_LEN
    if edge != "max":
        return ""
    if n >= 12:  # JSON text, as much of v1's text is: a JSON type change then shows what v1 reads back
        return '{"v1":"' + (f"row {k} " + "x" * n)[:n - 9] + '"}'
    return (f"v{k}" + "x" * n)[:n]


def key(col, k: int, dialect: str):
    kind = sql_type(col.type, dialect).kind
    if kind == "int":
        return k
    if kind == "text":
        return f"v1-{k}"
    return value(col, "max", k, dialect)


# the four INSERTs: (which values, only the required columns)
ROWS = (("max", False), ("min", False), ("max", True), ("repeat", False))


def table_statements(name: str, columns: list, dialect: str, mark: str) -> list[Statement]:
    """v1's statements on one table (columns: v1's ColumnSpecs)."""
    q = lambda n: ident(n, dialect)  # noqa: E731
    pk = [c for c in columns if c.primary_key]
    out: list[Statement] = []
    written = []
    for k, (edge, sparse) in enumerate(ROWS, start=1):
        row = {}
        for col in columns:
            required = col.primary_key or (not col.nullable and col.default is None)
            if sparse and not required:
                continue
            if col.primary_key:
                row[col.name] = key(col, k, dialect)
            elif edge == "repeat":
                row[col.name] = written[0][col.name] if col.name in written[0] else value(col, "max", 1, dialect)
            else:
                row[col.name] = value(col, edge, k, dialect)
        written.append(row)
        row = {c: adapt(v, dialect) for c, v in row.items()}
        cols = list(row)
        text = f"INSERT INTO {name} ({', '.join(cols)})" + (" (only the columns v1 requires)" if sparse else
                                                             " (a repeat of the first row's values)" if edge == "repeat"
                                                             else " (the least values v1 may write)"
                                                             if edge == "min" else "")
        sql = (f"INSERT INTO {q(name)} ({', '.join(q(c) for c in cols)}) VALUES ({', '.join([mark] * len(cols))})"
               if cols else f"INSERT INTO {q(name)} DEFAULT VALUES")
        out.append(Statement(name, text, sql, tuple(row.values())))
    inserts = list(range(len(out)))
    names = [c.name for c in columns]
    select = ", ".join(q(c) for c in names)
    for at, row in zip(inserts, written):
        if not pk or any(c.name not in row for c in pk):
            continue
        where = " AND ".join(f"{q(c.name)} = {mark}" for c in pk)
        keys = tuple(adapt(row[c.name], dialect) for c in pk)
        out.append(Statement(name, f"SELECT {', '.join(names)} FROM {name} WHERE {' AND '.join(c.name + ' = ?' for c in pk)}",
                             f"SELECT {select} FROM {q(name)} WHERE {where}", keys, reads=True, insert=at,
                             columns=tuple(names)))
        values = {c: adapt(v, dialect) for c, v in row.items() if c not in {p.name for p in pk}}
        if values:
            sets = ", ".join(f"{q(c)} = {mark}" for c in values)
            out.append(Statement(name, f"UPDATE {name} SET {', '.join(values)} WHERE ...",
                                 f"UPDATE {q(name)} SET {sets} WHERE {where}", tuple(values.values()) + keys,
                                 insert=at))
    if not pk:
        out.append(Statement(name, f"SELECT {', '.join(names)} FROM {name}", f"SELECT {select} FROM {q(name)}", (),
                             reads=True, columns=tuple(names)))
    return out


def adapt(v, dialect: str):
    """A value as the driver takes it: the sqlite3 module binds no Decimal, and its date adapters are
    deprecated (text is what SQLite stores)."""
    if dialect != "sqlite":
        return v
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dt.datetime):
        return v.isoformat(" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return v


def same(a, b) -> bool:
    """Values read back by v1 before and after the migration, compared as v1's code would see them."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    nums = (int, float, Decimal)
    if isinstance(a, nums) and isinstance(b, nums) and not isinstance(a, bool) and not isinstance(b, bool):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def _pairs(st: Statement, before: list, after: list) -> list[tuple]:
    """Rows read before and after, paired: by position when v1 reads one row by its key; a read of a keyless
    table has no order (a rebuilt table returns its rows in another), so each row read before meets the row
    read after that agrees with it on the most columns."""
    if st.insert is not None:
        return list(zip(before, after))
    rest, out = list(after), []
    for row in before:
        if not rest:
            break
        best = max(range(len(rest)), key=lambda i: sum(same(a, b) for a, b in zip(row, rest[i])))
        out.append((row, rest.pop(best)))
    return out


def same_rows(st: Statement, before: list, after: list) -> bool:
    return len(before) == len(after) and all(same(a, b) for a, b in _pairs(st, before, after))


def difference(st: Statement, before: list, after: list) -> str:
    """Where v1's read differs: the first column of the first row, with the Python types v1's code gets."""
    if len(before) != len(after):
        return f"{len(after)} rows where v1's schema gave {len(before)}"
    for row0, row1 in _pairs(st, before, after):
        for i, (a, b) in enumerate(zip(row0, row1)):
            if not same(a, b):
                col = st.columns[i] if i < len(st.columns) else f"column {i + 1}"
                return (f"{col} as {brief(b)} ({type(b).__name__}) where v1's schema gave {brief(a)} "
                        f"({type(a).__name__})")
    return "other rows than v1's schema gave"


def brief(value_) -> str:
    text = repr(value_)
    return text if len(text) <= 60 else text[:57] + "..."
