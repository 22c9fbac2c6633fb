"""What a tree's code uses of the database: SQLAlchemy declarative models (`__tablename__` + `Column` /
`mapped_column` / `Mapped[...]`), `Table("name", metadata, Column(...))`, raw SQL in Python strings and
`.sql` query files. Built for v1 (the base tree) and for v2 (the head tree) only when a release drops or
renames something."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from canary_lint.migrations import models
from canary_lint.pyast import call_name, source_of

SQL_WORDS = re.compile(r"\b(select|insert\s+into|update|delete\s+from)\b", re.I)
_SQL_STRIP = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.S)
MIGRATION_DIRS = {"versions", "migrations", "migration", "alembic", "migrate"}
FLYWAY = re.compile(r"^[VRU]\d+(?:[._]\d+)*__.+\.sql$", re.I)


@dataclass(frozen=True)
class Use:
    """A place in the code that maps or reads a table or column."""

    path: str
    line: int
    how: str  # "maps" | "reads"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class UsageIndex:
    """Where the code of a tree uses each table and column."""

    tables: dict = field(default_factory=dict)  # table -> [Use]
    columns: dict = field(default_factory=dict)  # (table, column) -> [Use]
    sql: list = field(default_factory=list)  # (path, line, text without comments/strings)
    files: int = 0
    unresolved: list = field(default_factory=list)  # [Use] model classes whose table could not be read
    naming: dict = field(default_factory=dict)  # class name -> its `__tablename__` (expression or declared_attr)
    pending: list = field(default_factory=list)  # model-looking classes without a literal table, for finish()
    bases: dict = field(default_factory=dict)  # class name -> base class names

    def blockers(self, table: str, column: str | None) -> list:
        """v1's model classes that could map `table` (or `column` of it) but whose table could not be read."""
        if column is None:
            return [u for u in self.unresolved if u.mapped]
        return [u for u in self.unresolved if column.lower() in u.columns]

    def add_table(self, table: str, use: Use) -> None:
        self.tables.setdefault(table.lower(), []).append(use)

    def add_column(self, table: str, column: str, use: Use) -> None:
        self.columns.setdefault((table.lower(), column.lower()), []).append(use)

    def table_uses(self, table: str) -> list[Use]:
        out = list(self.tables.get(table.lower(), []))
        word = re.compile(rf"\b{re.escape(table)}\b", re.I)
        for path, line, text in self.sql:
            m = word.search(text)
            if m:
                out.append(Use(path, line + text.count("\n", 0, m.start()), "reads"))
        return _dedupe(out)

    def column_uses(self, table: str, column: str) -> list[Use]:
        out = list(self.columns.get((table.lower(), column.lower()), []))
        tword = re.compile(rf"\b{re.escape(table)}\b", re.I)
        cword = re.compile(rf"\b{re.escape(column)}\b", re.I)
        for path, line, text in self.sql:
            if tword.search(text):
                m = cword.search(text)
                if m:
                    out.append(Use(path, line + text.count("\n", 0, m.start()), "reads"))
        return _dedupe(out)


def _dedupe(uses: list[Use]) -> list[Use]:
    seen, out = set(), []
    for u in sorted(uses, key=lambda u: (u.how != "maps", u.path, u.line)):
        if (u.path, u.line) not in seen:
            seen.add((u.path, u.line))
            out.append(u)
    return out


def is_code_path(path: str, excludes: tuple[str, ...]) -> str | None:
    """'python' or 'sql' when `path` is application code or a query file (not a migration, test or vendored)."""
    p = PurePosixPath(path)
    parts = set(p.parts[:-1])
    if parts & set(excludes) or any(part.startswith(".") for part in p.parts[:-1]):
        return None
    if parts & {"tests", "test"} or p.name.startswith("test_") or p.name == "conftest.py":
        return None
    if p.suffix == ".py":
        if "versions" in parts or (p.parent.name == "migrations" and p.name[:4].isdigit()):
            return None  # Alembic revisions and Django migrations are not v1's queries
        return "python"
    if p.suffix == ".sql":
        if parts & MIGRATION_DIRS or FLYWAY.match(p.name) or p.name.endswith((".up.sql", ".down.sql")):
            return None
        return "sql"
    return None


def _str(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def index_python(index: UsageIndex, path: str, tree: ast.Module) -> None:
    index.files += 1
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            table = models.table_of(index, path, node)
            if table:
                index_columns(index, path, node, table)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            models.declarative_base(index, node)  # `BASEV2 = declarative_base(cls=NeutronBaseV2)`
        elif isinstance(node, ast.Call) and call_name(node) == "Table" and node.args and _str(node.args[0]):
            table = _str(node.args[0])
            index.add_table(table, Use(path, node.lineno, "maps"))
            for a in node.args[1:]:
                if isinstance(a, ast.Call) and call_name(a) == "Column" and a.args and _str(a.args[0]):
                    index.add_column(table, _str(a.args[0]), Use(path, a.lineno, "maps"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_WORDS.search(node.value):
            index.sql.append((path, node.lineno, queries_only(_SQL_STRIP.sub(
                lambda m: " " * len(m.group(0)) if "\n" not in m.group(0) else "\n" * m.group(0).count("\n"),
                node.value))))


def index_columns(index: UsageIndex, path: str, node: ast.ClassDef, table: str) -> None:
    """The mapped columns of a model class of `table` (`Column`, `mapped_column`, `Mapped[...]`, SQLModel
    `Field`s of a `table=True` class)."""
    index.add_table(table, Use(path, node.lineno, "maps"))
    sqlmodel = any(k.arg == "table" for k in node.keywords)
    for stmt in node.body:
        target, value, annotation = None, None, None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            target, value, annotation = stmt.target.id, stmt.value, stmt.annotation
        if target is None or target.startswith("__"):
            continue
        fname = call_name(value) if value is not None else ""
        mapped = annotation is not None and "Mapped" in source_of(annotation, None) and \
            (value is None or fname in ("mapped_column", "Column"))
        field_ = sqlmodel and annotation is not None and fname in ("", "Field") and \
            "Relationship" not in source_of(annotation, None)
        if fname in ("Column", "mapped_column") or mapped or field_:
            col = target
            if isinstance(value, ast.Call) and value.args and _str(value.args[0]):
                col = _str(value.args[0])
            index.add_column(table, col, Use(path, stmt.lineno, "maps"))


_STATEMENT_HEAD = re.compile(r"[\s(]*+(\w+)")  # one possessive run: linear on any blank run
QUERY_WORDS = frozenset({"select", "insert", "update", "delete", "with", "replace", "merge", "upsert", "values",
                         "copy", "call", "exec", "execute", "from"})


def finish(index: UsageIndex) -> UsageIndex:
    """After the last file: tables derived by base classes resolved, the classes left kept as unresolved."""
    models.finish(index, index_columns)
    index.pending = []
    return index


def queries_only(text: str) -> str:
    """`text` with every statement that is not a query blanked (lines kept): a `DROP TABLE IF EXISTS x` or a
    `CREATE TABLE x` in a script is no evidence that v1 reads x."""
    out = []
    for part in text.split(";"):
        m = _STATEMENT_HEAD.match(part)
        if m and m.group(1).lower() not in QUERY_WORDS:
            part = re.sub(r"[^\n]", " ", part)
        out.append(part)
    return ";".join(out)


def index_sql(index: UsageIndex, path: str, text: str) -> None:
    index.files += 1
    clean = _SQL_STRIP.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    index.sql.append((path, 1, queries_only(clean)))


def describe(uses: list[Use], limit: int = 3) -> str:
    maps = [u for u in uses if u.how == "maps"]
    reads = [u for u in uses if u.how != "maps"]
    parts = []
    if maps:
        parts.append("maps it in " + ", ".join(str(u) for u in maps[:limit]))
    if reads:
        parts.append(("reads it in " if not maps else "reads it in ") + ", ".join(str(u) for u in reads[:limit]))
    more = max(0, len(maps) - limit) + max(0, len(reads) - limit)
    return " and ".join(parts) + (f" (and {more} more)" if more else "")
