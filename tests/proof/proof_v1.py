"""v1's statements, derived from v1's schema: SQLAlchemy reflects the tables and views v1 serves, and v1
issues what its models would — INSERTs of rows at the edges of each column's type (the widest values
its types allow, the smallest and negative ones, a row with only the required columns, a repeat of the
first row's values), the SELECT of each row it wrote, the UPDATE of each, a SELECT of each view, and the
raw queries its world names. Run first on v1's schema alone (the control: a statement v1's own schema
refuses is not v1's to issue), then after the release's migration, where a statement that now fails, or
reads back other values than the control did, is what v1 suffers."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from proof_apply import error_text, raw_sql

SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
IGNORED_TABLES = {"alembic_version", "django_migrations"}  # the migration tools' own
TEXT_LEN = 100
INT_EDGES = {"BIGINT": 2**63 - 1, "SMALLINT": 2**15 - 1, "TINYINT": 2**7 - 1, "MEDIUMINT": 2**23 - 1}


def reflect_v1(engine: sa.Engine) -> tuple[list[sa.Table], list[sa.Table]]:
    """(tables in dependency order, views) of every user schema."""
    md = sa.MetaData()
    insp = sa.inspect(engine)
    default = insp.default_schema_name
    views: list[tuple] = []
    with engine.connect() as conn:
        for schema in insp.get_schema_names():
            if schema in SYSTEM_SCHEMAS or schema.startswith("pg_"):
                continue
            if engine.dialect.name in ("mysql", "mariadb") and schema != default:
                continue
            name = None if schema == default else schema
            md.reflect(conn, schema=name, views=True)
            views += [(name, v) for v in insp.get_view_names(schema=name)]
    view_keys = {f"{s}.{v}" if s else v for s, v in views}
    tables = [t for t in md.sorted_tables if t.key not in view_keys and t.name not in IGNORED_TABLES]
    return tables, [md.tables[k] for k in sorted(view_keys) if k in md.tables]


def _type_name(col: sa.Column) -> str:
    return type(col.type).__name__.upper()


def edge_value(col: sa.Column, edge: str, k: int):
    """The value v1 writes into `col` for row k: edge is 'max' or 'min'."""
    t = col.type
    name = _type_name(col)
    if isinstance(t, sa.Enum) and t.enums:
        return t.enums[-1] if edge == "max" else t.enums[0]
    if isinstance(t, sa.Boolean):
        return edge == "max"
    if isinstance(t, sa.Integer):
        top = INT_EDGES.get(name, 2**31 - 1)
        return top if edge == "max" else -top - 1
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        p, s = t.precision or 12, t.scale or 0
        top = Decimal(10) ** (p - s) - Decimal(1).scaleb(-s)
        return top if edge == "max" else -top
    if isinstance(t, sa.Float):
        return 1.5e9 if edge == "max" else -1.5e9
    if isinstance(t, sa.DateTime):
        return dt.datetime(2037, 12, 31, 23, 59, 59) if edge == "max" else dt.datetime(1971, 1, 2)
    if isinstance(t, sa.Date):
        return dt.date(2037, 12, 31) if edge == "max" else dt.date(1971, 1, 2)
    if isinstance(t, sa.Time):
        return dt.time(23, 59, 59) if edge == "max" else dt.time(0, 0)
    if isinstance(t, sa.JSON):
        return {"v1": [k, "x"]}
    if isinstance(t, sa.Uuid):
        return uuid.uuid5(uuid.NAMESPACE_URL, f"v1-{k}")
    if isinstance(t, sa.String):
        n = t.length or TEXT_LEN
        return (f"v1 row {k} " + "x" * n)[:n] if edge == "max" else ""
    return None  # a type v1's models cannot name (NullType): left for the server


def key_value(col: sa.Column, k: int):
    if isinstance(col.type, sa.Integer):
        return k
    if isinstance(col.type, sa.String):
        return f"v1-{k}"
    return edge_value(col, "max", k)


def v1_rows(table: sa.Table, written: dict) -> list[dict]:
    """The rows v1 inserts (keys of the rows it wrote to referenced tables are reused for foreign keys)."""
    def row(k: int, edge: str, sparse: bool) -> dict:
        out = {}
        for col in table.columns:
            required = col.primary_key or (not col.nullable and col.server_default is None)
            if sparse and not required:
                continue
            fk = next(iter(col.foreign_keys), None)
            ref = written.get(fk.column.table.key) if fk is not None else None
            if col.primary_key:
                value = key_value(col, k)
            elif ref:
                value = ref[(k - 1) % len(ref)].get(fk.column.name)
            else:
                value = edge_value(col, edge, k)
            if value is not None:
                out[col.name] = value
        return out
    rows = [row(1, "max", False), row(2, "min", False), row(3, "max", True), row(4, "max", False)]
    pk = [c.name for c in table.primary_key.columns]
    rows[3] = {**rows[0], **{c: rows[3][c] for c in pk if c in rows[3]}}  # the first row's values again
    return rows


@dataclass
class Statement:
    text: str  # what the table shows
    run: object  # callable(conn) -> value read back, or None
    insert: int | None = None  # the INSERT (index) whose row this statement reads or updates


def _show(stmt) -> str:
    return " ".join(str(stmt).split())


def v1_statements(tables: list[sa.Table], views: list[sa.Table], queries: list[str]) -> list[Statement]:
    out: list[Statement] = []
    written: dict = {}
    for table in tables:
        rows = v1_rows(table, written)
        written[table.key] = rows
        pk = list(table.primary_key.columns)
        inserts = []
        for row in rows:
            ins = table.insert().values(**row)
            inserts.append(len(out))
            out.append(Statement(_show(ins), lambda c, s=ins: c.execute(s) and None))
        for at, row in zip(inserts, rows):
            if not pk or any(c.name not in row for c in pk):
                continue
            where = sa.and_(*[c == row[c.name] for c in pk])
            sel = sa.select(table).where(where)
            out.append(Statement(_show(sel), lambda c, s=sel: [tuple(r) for r in c.execute(s)], at))
            values = {k: v for k, v in row.items() if k not in {c.name for c in pk}}
            if values:
                upd = table.update().where(where).values(**values)
                out.append(Statement(_show(upd), lambda c, s=upd: c.execute(s).rowcount, at))
        if not pk:
            sel = sa.select(table).limit(5)
            out.append(Statement(_show(sel), lambda c, s=sel: sorted(map(repr, c.execute(s)))))
    for view in views:
        sel = sa.select(view)
        out.append(Statement(_show(sel), lambda c, s=sel: sorted(map(repr, c.execute(s)))))
    for q in queries:
        out.append(Statement(q, lambda c, q=q: [tuple(r) for r in raw_sql(c, q) or []]))
    return out


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    nums = (int, float, Decimal)
    if isinstance(a, nums) and isinstance(b, nums) and not isinstance(a, bool) and not isinstance(b, bool):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def run_statements(engine: sa.Engine, stmts: list[Statement]) -> list[tuple[bool, object]]:
    """(ok, value read back | error text) for each statement, each in its own transaction."""
    results = []
    for st in stmts:
        try:
            with engine.begin() as conn:
                results.append((True, st.run(conn)))
        except Exception as exc:  # noqa: BLE001 - every database error is an observation
            results.append((False, error_text(exc)))
    return results


def compare(stmts: list[Statement], control: list, after: list) -> tuple[list[dict], int]:
    """(what v1 suffers: [{statement, observed}], statements v1's own schema refuses)."""
    failures, refused = [], 0
    for st, (ok0, v0), (ok1, v1) in zip(stmts, control, after):
        if st.insert is not None and not after[st.insert][0]:
            continue  # the row was never written: its INSERT's failure is what v1 saw
        if not ok0:
            refused += 1
        elif not ok1:
            failures.append({"statement": st.text, "observed": v1})
        elif v0 is not None and not _same(v0, v1):
            failures.append({"statement": st.text, "observed": f"reads back {_brief(v1)} where v1's schema gave {_brief(v0)}"})
    return failures, refused


def _brief(value) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."
