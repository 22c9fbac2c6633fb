"""Static schema replay: the tables, columns, types, nullability, defaults, indexes and constraints known
before each operation, and what a type change means for v1 and for locks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import ColumnSpec, Op
from canary_lint.model import number


class Table:
    """A replayed table. Columns of a CREATE TABLE read by the SQL fast path are parsed on first use; column
    changes made before that are kept and replayed on top."""

    __slots__ = ("name", "_columns", "_source", "_pending", "constraints", "not_null_checks")

    def __init__(self, name: str, source=None):
        self.name = name
        self._columns: dict | None = None if source is not None else {}
        self._source = source
        self._pending: list = []
        self.constraints: dict = {}  # name -> kind
        self.not_null_checks: dict = {}  # name -> NotNullCheck: CHECK (col IS NOT NULL)

    @property
    def columns(self) -> dict:  # name -> ColumnSpec
        if self._columns is None:
            self._columns = {c.name: ColumnSpec(**vars(c)) for c in self._source}
            self._source = None
            pending, self._pending = self._pending, []
            for op in pending:
                self.change(op)
        return self._columns

    def change(self, op: Op) -> None:
        """Apply a column operation (lazily when the columns are not parsed yet)."""
        if self._columns is None:
            self._pending.append(op)
            return
        k, cols = op.kind, self._columns
        if k == K.ADD_COLUMN and op.spec:
            cols[op.spec.name] = ColumnSpec(**vars(op.spec))
        elif k == K.DROP_COLUMN:
            cols.pop(op.column, None)
        elif k == K.RENAME_COLUMN:
            if op.column in cols and op.new_name:
                c = cols.pop(op.column)
                c.name = op.new_name
                cols[op.new_name] = c
        else:
            c = cols.setdefault(op.column, ColumnSpec(op.column or "?", op.existing_type,
                                                      op.existing_nullable if op.existing_nullable is not None else True))
            if k == K.ALTER_TYPE:
                c.type = op.type
            elif k == K.SET_NOT_NULL:
                c.nullable = False
            elif k == K.DROP_NOT_NULL:
                c.nullable = True
            elif k == K.SET_DEFAULT:
                c.default = op.default


@dataclass
class NotNullCheck:
    """A CHECK (column IS NOT NULL) constraint on a table."""

    column: str
    validated: bool
    origin: str  # path of the migration that added it


@dataclass
class Schema:
    """The schema the history has built so far: tables, indexes, other objects."""

    tables: dict = field(default_factory=dict)  # lower name -> Table
    indexes: dict = field(default_factory=dict)  # index name -> table
    objects: set = field(default_factory=set)  # (kind, name)
    origin: str = ""  # the migration being replayed
    applied_by_v1: set = field(default_factory=set)  # paths of the migrations v1's databases already ran

    def not_null_checks(self, table: str | None, column: str | None) -> list:
        """The CHECK (column IS NOT NULL) constraints known on `table`."""
        t = self.table(table)
        return [c for c in t.not_null_checks.values() if c.column == column] if t and column else []

    def table(self, name: str | None) -> Table | None:
        return self.tables.get(name) if name else None

    def column(self, table: str | None, column: str | None) -> ColumnSpec | None:
        t = self.table(table)
        return t.columns.get(column) if t and column else None

    def apply(self, op: Op) -> None:
        k = op.kind
        if k == K.CREATE_TABLE and op.table:
            self.tables[op.table] = Table(op.table, source=op.columns)
        elif k == K.DROP_TABLE:
            self.tables.pop(op.table, None)
        elif k == K.RENAME_TABLE and op.table in self.tables and op.new_name:
            t = self.tables.pop(op.table)
            t.name = op.new_name
            self.tables[op.new_name] = t
            for ix, tab in list(self.indexes.items()):
                if tab == op.table:
                    self.indexes[ix] = op.new_name
        elif op.table and k in (K.ADD_COLUMN, K.DROP_COLUMN, K.RENAME_COLUMN, K.ALTER_TYPE, K.SET_NOT_NULL,
                                K.DROP_NOT_NULL, K.SET_DEFAULT, K.ADD_CONSTRAINT, K.DROP_CONSTRAINT,
                                K.VALIDATE_CONSTRAINT):
            t = self.tables.get(op.table)
            if t is None:
                t = self.tables[op.table] = Table(op.table)
            checks = t.not_null_checks
            if k == K.ADD_CONSTRAINT:
                if op.name:
                    t.constraints[op.name] = op.constraint
                if op.proves_not_null:
                    checks[op.name or f"#{len(checks)}"] = NotNullCheck(op.proves_not_null, not op.not_valid,
                                                                         self.origin)
            elif k == K.DROP_CONSTRAINT:
                if op.name:
                    t.constraints.pop(op.name, None)
                    checks.pop(op.name, None)
            elif k == K.VALIDATE_CONSTRAINT:
                if op.name in checks:
                    checks[op.name].validated = True
            else:
                if k == K.DROP_COLUMN:
                    for name in [n for n, c in checks.items() if c.column == op.column]:
                        del checks[name]
                elif k == K.RENAME_COLUMN and op.new_name:
                    for c in checks.values():
                        if c.column == op.column:
                            c.column = op.new_name
                t.change(op)
        elif k == K.CREATE_INDEX and op.name:
            self.indexes[op.name] = op.table
        elif k == K.DROP_INDEX and op.name:
            self.indexes.pop(op.name, None)
        elif k == K.CREATE_OBJECT and op.name:
            self.objects.add((op.object_kind, op.name))
        elif k == K.DROP_OBJECT and op.name:
            self.objects.discard((op.object_kind, op.name))


# ---- types ---------------------------------------------------------------------------------------------
_T = re.compile(r"^([A-Z][A-Z0-9_ ]*?)\s*(?:\((\d+)(?:,(\d+))?\))?(\[\])?$")
INT_RANK = {"SMALLINT": 1, "INTEGER": 2, "BIGINT": 3}
FLOAT_RANK = {"REAL": 1, "FLOAT": 2, "DOUBLE PRECISION": 2}
TEXTUAL = {"VARCHAR", "TEXT", "CHAR", "CITEXT", "MEDIUMTEXT", "LONGTEXT"}
KNOWN_TYPES = TEXTUAL | set(INT_RANK) | set(FLOAT_RANK) | {
    "NUMERIC", "BOOLEAN", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "DATE", "TIME", "TIME WITH TIME ZONE", "JSON",
    "JSONB", "UUID", "BYTEA", "BLOB", "LONGBLOB", "MEDIUMBLOB", "ENUM", "INTERVAL", "TINYINT", "MEDIUMINT",
    "TINYTEXT", "VARBINARY", "BINARY", "INET", "CIDR", "MACADDR", "XML", "MONEY", "BIT", "BIT VARYING", "YEAR",
    "DATETIME", "SERIAL", "BIGSERIAL"}


def _parse(t: str):
    t = re.sub(r"\s+(UNSIGNED|SIGNED|ZEROFILL)\b", "", t or "")
    m = _T.match(t)
    if not m:
        return t, None, None
    return m.group(1).strip(), number(m.group(2)) if m.group(2) else None, number(m.group(3)) if m.group(3) else None


def _same_family(a: str, b: str) -> bool:
    """Text to text, integer or NUMERIC to integer or NUMERIC (SQLite's INTEGER and NUMERIC affinities store
    alike: 12.5 stays 12.5 in an INTEGER column), float to float: values are kept as they are."""
    return any(a in f and b in f for f in (TEXTUAL | {"TINYTEXT"}, set(INT_RANK) | {"TINYINT", "MEDIUMINT", "NUMERIC"},
                                            set(FLOAT_RANK)))


@dataclass(frozen=True)
class TypeVerdict:
    """What a column type change means for v1 and for the table's lock."""

    same: bool  # a restatement of the current type
    compatible: bool | None  # every value v1 writes still fits (None: the old type is unknown)
    rewrite: bool  # the change rewrites the table (and its indexes) under an exclusive lock
    why: str


def type_change(old: str | None, new: str | None, dialect: str) -> TypeVerdict:
    if not new:
        return TypeVerdict(False, None, True, "the new type is not known")
    if not old:
        return TypeVerdict(False, None, True, "the current type is not known from the migration history")
    if old == new:
        return TypeVerdict(True, True, False, "same type")
    ob, on, os_ = _parse(old)
    nb, nn, ns = _parse(new)
    for base, raw in ((ob, old), (nb, new)):
        if base not in KNOWN_TYPES:
            return TypeVerdict(False, None, True, f"{raw} is a custom type canary-lint cannot compare")
    pg = dialect == "postgresql"
    if dialect == "sqlite" and _same_family(ob, nb):
        return TypeVerdict(False, True, True, "SQLite enforces no length, precision, scale or integer size (type "
                                              "affinity): every value v1 writes is kept as written")
    if ob in ("VARCHAR", "CHAR") and nb in ("VARCHAR", "TEXT", "CITEXT"):
        if nb == "VARCHAR" and nn is not None and (on is None or nn < on):
            what = f"values v1 writes up to {on} characters" if on else "text of any length v1 writes"
            return TypeVerdict(False, False, True, f"{what} no longer fit {new}" if on else f"{what} may not fit {new}")
        meta = pg and ob == "VARCHAR" and nb in ("VARCHAR", "TEXT")
        return TypeVerdict(False, True, not meta, "widening" if meta else "widening that rewrites the table")
    if ob in ("TEXT", "CITEXT") and nb == "VARCHAR" and nn is None:
        return TypeVerdict(False, True, not pg, "TEXT to unbounded VARCHAR")
    if ob in ("TEXT", "CITEXT", "MEDIUMTEXT", "LONGTEXT") and nb in ("VARCHAR", "CHAR"):
        return TypeVerdict(False, False, True, f"text v1 writes may be longer than {new} allows")
    if ob == "NUMERIC" and nb == "NUMERIC":
        if nn is None:
            return TypeVerdict(False, True, not pg, "unconstrained NUMERIC holds every value")
        if on is None:
            return TypeVerdict(False, False, True, f"unconstrained NUMERIC values may not fit {new}")
        os_, ns = os_ or 0, ns or 0
        if ns == os_ and nn >= on:
            return TypeVerdict(False, True, not pg, "precision increase")
        if ns >= os_ and nn - ns >= on - os_:
            return TypeVerdict(False, True, True, "wider precision and scale (rewrites)")
        return TypeVerdict(False, False, True, f"values v1 writes as {old} lose digits or overflow as {new}")
    if ob == "NUMERIC" and nb in INT_RANK:
        scale = f"the {os_} decimal places" if os_ else "the fractions"
        return TypeVerdict(False, False, True, f"{new} rounds away {scale} v1 writes and reads")
    if ob in INT_RANK and nb in INT_RANK:
        if INT_RANK[nb] >= INT_RANK[ob]:
            return TypeVerdict(False, True, True, "integer widening (rewrites the table)")
        return TypeVerdict(False, False, True, f"{old} values v1 writes may overflow {new}")
    if ob in INT_RANK and nb == "NUMERIC":
        digits = {1: 5, 2: 10, 3: 19}[INT_RANK[ob]]
        if nn is None or nn - (ns or 0) >= digits:
            return TypeVerdict(False, True, True, "integer to wide enough NUMERIC (rewrites)")
        return TypeVerdict(False, False, True, f"{old} values may overflow {new}")
    if ob in FLOAT_RANK and nb in FLOAT_RANK:
        ok = FLOAT_RANK[nb] >= FLOAT_RANK[ob]
        return TypeVerdict(False, ok, True, "float widening" if ok else f"{old} values lose precision as {new}")
    if ob == "TIMESTAMP" and nb == "TIMESTAMP WITH TIME ZONE":
        return TypeVerdict(False, True, True, "timestamps gain a time zone (rewrites the table)")
    if ob == "JSON" and nb == "JSONB":
        return TypeVerdict(False, True, True, "JSON to JSONB (rewrites the table)")
    if ob == "ENUM" and nb in ("TEXT", "VARCHAR", "CITEXT") and nn is None:
        return TypeVerdict(False, True, True, "enum labels are text (the cast rewrites the table)")
    if nb in ("TEXT", "VARCHAR") and nn is None and ob not in TEXTUAL:
        return TypeVerdict(False, False, True, f"v1 reads {old} values but gets text back")
    return TypeVerdict(False, False, True, f"v1 writes and reads it as {old}; as {new} its writes fail or its "
                                           "reads change shape")


VOLATILE = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v[14]|uuid_generate_v1mc|clock_timestamp|timeofday|nextval|"
    r"txid_current|statement_timestamp|uuid)\s*\(",
    re.I,
)


def volatile_default(default: str | None) -> bool:
    return bool(default) and bool(VOLATILE.search(default))  # "nextval()" also stands for serial/autoincrement
