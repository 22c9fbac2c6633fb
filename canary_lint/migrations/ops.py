"""The normalized operation model: both readers produce `Op`s, the rules read only these."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Op kinds
ADD_COLUMN = "add_column"
DROP_COLUMN = "drop_column"
RENAME_COLUMN = "rename_column"
ALTER_TYPE = "alter_type"
SET_NOT_NULL = "set_not_null"
DROP_NOT_NULL = "drop_not_null"
SET_DEFAULT = "set_default"
CREATE_TABLE = "create_table"
DROP_TABLE = "drop_table"
RENAME_TABLE = "rename_table"
CREATE_INDEX = "create_index"
DROP_INDEX = "drop_index"
ADD_CONSTRAINT = "add_constraint"
DROP_CONSTRAINT = "drop_constraint"
VALIDATE_CONSTRAINT = "validate_constraint"
DROP_OBJECT = "drop_object"  # view, function, type, sequence, materialized view, trigger
RENAME_OBJECT = "rename_object"  # ... and enum values (object_kind="enum value")
CREATE_OBJECT = "create_object"
DATA = "data"  # UPDATE / INSERT / DELETE / ORM work: a backfill
BEGIN = "begin"
COMMIT = "commit"
DYNAMIC = "dynamic"  # SQL that cannot be folded to a literal
UNKNOWN = "unknown"  # an operation the readers do not understand
OTHER = "other"  # understood and harmless (comments, grants, SET, SELECT, ...)

DDL_KINDS = frozenset({
    ADD_COLUMN, DROP_COLUMN, RENAME_COLUMN, ALTER_TYPE, SET_NOT_NULL, DROP_NOT_NULL, SET_DEFAULT, CREATE_TABLE,
    DROP_TABLE, RENAME_TABLE, CREATE_INDEX, DROP_INDEX, ADD_CONSTRAINT, DROP_CONSTRAINT, VALIDATE_CONSTRAINT,
    DROP_OBJECT, RENAME_OBJECT, CREATE_OBJECT,
})


_NOT_NULL_CHECK = re.compile(r'^[\s(]*(?:[`"]?[\w$]+[`"]?\s*\.\s*)?[`"]?([\w$]+)[`"]?\s+IS\s+NOT\s+NULL[\s)]*$', re.I)


_IS_NULL = re.compile(r'^[\s(]*(?:[`"]?[\w$]+[`"]?\s*\.\s*)?[`"]?([\w$]+)[`"]?\s+IS\s+NULL[\s)]*$', re.I)


def null_only_columns(condition: str) -> tuple:
    """The columns a partial index's condition requires to be NULL: `deleted_at IS NULL AND event IS NULL` ->
    ("deleted_at", "event"); () when any part is something else (an OR, a comparison)."""
    if not condition or len(condition) > 2000 or condition.count("(") != condition.count(")"):
        return ()
    parts = re.split(r"\s+AND\s+", condition.strip(), flags=re.I)
    found = [_IS_NULL.match(part) for part in parts]
    return tuple(m.group(1).lower() for m in found) if all(found) else ()


def not_null_column(condition: str) -> str | None:
    """`phone IS NOT NULL` (the whole CHECK condition) -> "phone"."""
    m = _NOT_NULL_CHECK.match(condition or "")
    if not m or condition.count("(") != condition.count(")"):
        return None
    return m.group(1).lower()


@dataclass
class ColumnSpec:
    """A column as a migration declares it."""

    name: str
    type: str | None = None  # normalized, upper case: "VARCHAR(64)", "NUMERIC(10,2)", "INTEGER"
    nullable: bool = True
    default: str | None = None  # server-side default as SQL text
    primary_key: bool = False
    unique: bool = False


@dataclass
class Op:
    """One schema or data operation of a migration, normalized from Alembic, Django or SQL."""

    kind: str
    table: str | None = None  # lower-case, without schema
    line: int = 1
    column_no: int = 1
    end_line: int = 1
    end_column: int = 1
    column: str | None = None
    name: str | None = None  # index / constraint / object name
    new_name: str | None = None  # renames
    spec: ColumnSpec | None = None  # add_column
    columns: tuple = ()  # create_table: ColumnSpec...; create_index: column names
    type: str | None = None  # alter_type: the new type
    existing_type: str | None = None  # Alembic's existing_type
    existing_nullable: bool | None = None
    default: str | None = None  # set_default
    constraint: str | None = None  # foreign_key | check | unique | primary_key | exclude
    not_valid: bool = False
    proves_not_null: str | None = None  # a CHECK (col IS NOT NULL): the column it proves free of NULLs
    using_index: bool = False
    concurrently: bool = False
    unique: bool = False
    object_kind: str | None = None  # view / function / type / sequence / enum value / ...
    in_transaction: bool = True  # set by the reader: does the statement run inside a transaction?
    online: bool = False  # MySQL ALGORITHM=INPLACE/INSTANT or LOCK=NONE: online, or refused, never a copy
    tx: str = ""  # why it does (for messages): "the BEGIN on line 3 opens a transaction", "dbmate runs ..."
    detail: str = ""  # what the reader saw (statement head, call name) for messages
    sql: bool = False  # came from SQL text (a file or op.execute)
    backfilled: str = ""  # add_column: how existing rows get a value although no server default stays (Django)
    computed: str = ""  # the table or column is computed at run time: what computes it ("get_data() at line 121")
    stopped: bool = False  # dynamic: the reader hit its budget here; what follows in the file was not read
    foreign: bool = False  # done by a helper in another module of the tree (reported at the revision's call)
    only_null: tuple = ()  # a partial unique index: the columns its condition requires to be NULL
    references: tuple = ()  # add_constraint foreign_key: (referenced table, its columns...) when read
    restates: str = ""  # add_constraint: the uniqueness v1 already has that it restates (unique_together -> constraint)
    # add_constraint: made by the ADD COLUMN of its own new column, which every existing row leaves NULL (Django's
    # AddField of a ForeignKey with no default, on PostgreSQL): nothing to check, PostgreSQL does not scan
    with_null_column: bool = False

    @property
    def where(self) -> tuple[int, int, int, int]:
        return self.line, self.column_no, self.end_line, self.end_column


@dataclass
class Migration:
    """One migration file (an Alembic revision, a SQL file, a Django migration) and its operations."""

    path: str
    source: str  # "alembic" | "sql" | "django"
    tool: str = ""  # alembic | flyway | golang-migrate | dbmate | sql
    revision: str | None = None
    down: tuple = ()  # down_revision(s)
    ops: list = field(default_factory=list)
    order: tuple = ()  # sort key for SQL files
    in_base: bool = False  # already applied by v1's release
    revision_line: int = 1
    branch_labels: bool = False  # Alembic branch labels: several heads are intended
    context: bool = False  # a sibling of a file named on the command line: replayed for history, not judged
    dialect: str = ""  # the database its history runs on, when it is not the configured one
    depends: tuple = ()  # Alembic depends_on: revisions (of other branches) that run before this one
