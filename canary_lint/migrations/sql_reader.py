"""Read SQL text (a migration file or the string of `op.execute`) into `Op`s.

Statements are split by `sql_lex.split` (comments, quoted identifiers, string literals and dollar-quoted
bodies are stepped over, every statement keeps its exact line). Then, per statement:
- data statements (INSERT/UPDATE/DELETE/COPY/MERGE/TRUNCATE) and harmless ones (SELECT, SET, GRANT, ...) are
  classified from their first words;
- the common DDL shapes (CREATE [UNIQUE] INDEX, CREATE TABLE, DROP ..., ALTER TABLE actions) are read by
  regular expressions and tokens (`sql_tokens`); CREATE TABLE column lists only when a rule needs them;
- everything else goes through sqlglot (`sql_tree`). Where sqlglot falls back to an opaque `Command` or cannot
  parse, the statement is classified from sqlglot's tokens (never dropped), with sqlglot's warnings kept off the
  terminal. sqlglot is imported on the first statement that needs it.
"""

from __future__ import annotations

import re

from canary_lint.lazyre import lazy_compile
from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import Op, not_null_column, null_only_columns
from canary_lint.migrations.sql_lex import (
    _CREATE_TABLE, _NAME, SqlSyntaxError, _name, _rx_tokens, split,
)
from canary_lint.migrations.sql_tokens import _columns_from_tokens, _from_tokens
from canary_lint.migrations.sql_tree import parse_ddl

__all__ = ["LazyColumns", "SqlSyntaxError", "read_sql", "split", "statement_ops"]


_WORDS = re.compile(r"[A-Za-z_][A-Za-z_0-9$]*|\"[^\"]*\"|`[^`]*`|\(")


_DATA_TABLE = lazy_compile(
    r"^\s*(?:WITH\b.*?\)\s*)?(?:UPDATE\s+(?:ONLY\s+)?|INSERT\s+(?:IGNORE\s+)?INTO\s+|DELETE\s+FROM\s+(?:ONLY\s+)?|"
    r"COPY\s+|REPLACE\s+INTO\s+|MERGE\s+INTO\s+)([\w.\"`]+)",
    re.I | re.S,
)


DDL_VERBS = {"ALTER", "CREATE", "DROP", "RENAME", "TRUNCATE"}


DATA_VERBS = {"INSERT", "UPDATE", "DELETE", "COPY", "REPLACE", "MERGE"}


QUIET_VERBS = {"SELECT", "SET", "RESET", "GRANT", "REVOKE", "COMMENT", "ANALYZE", "VACUUM", "SHOW", "LOCK",
               "PRAGMA", "USE", "DECLARE", "EXPLAIN", "VALUES", "DELIMITER", "CALL", "EXECUTE", "PREPARE",
               "DEALLOCATE", "NOTIFY", "LISTEN", "SAVEPOINT", "RELEASE", "CHECKPOINT", "DISCARD", "SECURITY",
               "REFRESH", "CLUSTER", "REINDEX", "IMPORT", "LOAD", "FLUSH", "OPTIMIZE"}


BEGIN_HEADS = {"BEGIN", "START"}


COMMIT_HEADS = {"COMMIT", "END", "ROLLBACK", "ABORT"}


class _Lines:
    """Offset -> (line, column), incremental for the forward walk over a big file."""

    def __init__(self, text: str, line: int = 1, column: int = 1):
        self.text = text
        self.base_line = line
        self.base_col = column
        self._off = 0
        self._line = 0
        self._line_start = 0

    def at(self, off: int) -> tuple[int, int]:
        if off < self._off:
            self._off, self._line, self._line_start = 0, 0, 0
        self._line += self.text.count("\n", self._off, off)
        nl = self.text.rfind("\n", self._off, off)
        if nl >= 0:
            self._line_start = nl + 1
        self._off = off
        col = off - self._line_start + 1
        if self._line == 0:
            col += self.base_col - 1
        return self.base_line + self._line, col


def read_sql(text: str, dialect: str = "postgresql", *, line: int = 1, column: int = 1,
             span: tuple[int, int, int, int] | None = None) -> list[Op]:
    """Ops of every statement in `text`. `line`/`column` place the text in its file; with `span`, every op
    gets that location instead (SQL folded from Python string parts)."""
    stmts = split(text, dialect)
    lines = _Lines(text, line, column)
    out: list[Op] = []
    for s, e in stmts:
        stmt = text[s:e]
        l1, c1 = lines.at(s)
        l2, c2 = lines.at(e)
        ops = statement_ops(stmt, dialect)
        checks = [o for o in ops if o.kind == K.ADD_CONSTRAINT and o.constraint == "check"]
        if len(checks) == 1:
            checks[0].proves_not_null = _check_not_null(stmt)
        for op in ops:
            if span is not None:
                op.line, op.column_no, op.end_line, op.end_column = span
            else:
                op.line, op.column_no, op.end_line, op.end_column = l1, c1, l2, max(c2, 1)
            op.sql = True
            out.append(op)
    return out


_CHECK_BODY = lazy_compile(r"\bCHECK\s*\(", re.I)


def _check_not_null(stmt: str) -> str | None:
    """The column of `... CHECK (col IS NOT NULL) [NOT VALID]`, when that is the whole condition."""
    m = _CHECK_BODY.search(stmt)
    if not m:
        return None
    depth, i = 1, m.end()
    while i < len(stmt) and depth:
        depth += {"(": 1, ")": -1}.get(stmt[i], 0)
        i += 1
    return not_null_column(stmt[m.end():i - 1]) if depth == 0 else None


def _head(stmt: str) -> list[str]:
    words = []
    for m in _WORDS.finditer(stmt, 0, min(len(stmt), 400)):
        word = m.group(0)
        words.append(word if word[:1] in "\"`[" else word.upper())  # a quoted name keeps its case
        if len(words) >= 6:
            break
    return words


def statement_ops(stmt: str, dialect: str) -> list[Op]:
    head = _head(stmt)
    verb = head[0] if head else ""
    if verb in DATA_VERBS or (verb == "WITH" and re.search(r"\b(UPDATE|INSERT|DELETE)\b", stmt, re.I)):
        m = _DATA_TABLE.match(stmt)
        return [Op(K.DATA, _name(m.group(1)) if m else None, detail=verb if verb != "WITH" else "WITH ... UPDATE")]
    if verb in BEGIN_HEADS and (len(head) == 1 or head[1] in ("TRANSACTION", "WORK", "ISOLATION", "READ")):
        return [Op(K.BEGIN, detail=verb)]
    if verb in COMMIT_HEADS and (len(head) == 1 or head[1] in ("TRANSACTION", "WORK", "AND")):
        return [Op(K.COMMIT, detail=verb)]
    if verb == "DO":
        return [Op(K.DYNAMIC, detail="DO block")]
    if verb in QUIET_VERBS or verb == "":
        return [Op(K.OTHER, detail=verb)]
    if verb == "TRUNCATE":
        m = re.match(r"\s*TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?([\w.\"`]+)", stmt, re.I)
        return [Op(K.DATA, _name(m.group(1)) if m else None, detail="TRUNCATE")]
    if verb not in DDL_VERBS:
        return [Op(K.UNKNOWN, detail=" ".join(head[:3]))]
    fast = _fast_ddl(stmt, dialect, head)
    return fast if fast is not None else parse_ddl(stmt, dialect, head)


_CREATE_INDEX = lazy_compile(
    rf"CREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:({_NAME})\s+)?ON\s+(?:ONLY\s+)?"
    rf"({_NAME})\s*(?:USING\s+\w+\s*)?\(", re.I)


_DROP = lazy_compile(
    rf"DROP\s+(TABLE|INDEX|VIEW|MATERIALIZED\s+VIEW|SEQUENCE|TYPE|DOMAIN|EXTENSION|SCHEMA)\s+(CONCURRENTLY\s+)?"
    rf"(?:IF\s+EXISTS\s+)?"
    # the names atomic: each ends where its list does (a mandatory ',' between them), and nothing after the list
    # may be re-read as a name; matched on stmt.rstrip(), so no whitespace run ends the pattern
    rf"((?>{_NAME}(?:\s*,\s*{_NAME})*))(?:\s+(?:CASCADE|RESTRICT))?$", re.I)


_DROP_ON = lazy_compile(rf"DROP\s+(TRIGGER|RULE|POLICY)\s+(?:IF\s+EXISTS\s+)?({_NAME})\s+ON\s+({_NAME})", re.I)


# MySQL's and SQLite's `DROP TRIGGER name` (no ON table), read as sqlglot reads it: the name stands for the table
_DROP_TRIGGER = lazy_compile(rf"DROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?({_NAME})\s*$", re.I)


_DROP_ROUTINE = lazy_compile(rf"DROP\s+(FUNCTION|PROCEDURE|AGGREGATE)\s+(?:IF\s+EXISTS\s+)?({_NAME})\s*(?:\(|$|CASCADE|RESTRICT)",
                           re.I)


_CREATE_OBJECT = lazy_compile(
    rf"CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:TEMP|TEMPORARY|RECURSIVE)\s+)?"
    rf"(VIEW|MATERIALIZED\s+VIEW|SEQUENCE|TRIGGER|FUNCTION|PROCEDURE|TYPE|DOMAIN|EXTENSION|SCHEMA|AGGREGATE|RULE|"
    rf"POLICY)\s+"
    rf"(?:IF\s+NOT\s+EXISTS\s+)?({_NAME})", re.I)


_CREATE_TABLE_AS = lazy_compile(
    rf"CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"({_NAME})\s+(?:\([^()]*\)\s*)?AS\s", re.I)


class LazyColumns:
    """The columns of a CREATE TABLE, parsed by sqlglot only when a rule needs them."""

    __slots__ = ("stmt", "dialect", "_cols")

    def __init__(self, stmt: str, dialect: str):
        self.stmt, self.dialect, self._cols = stmt, dialect, None

    def resolve(self) -> tuple:
        if self._cols is None:
            cols = _columns_from_tokens(self.stmt)
            if cols is None:  # something the token reader does not know: sqlglot parses it
                ops = parse_ddl(self.stmt, self.dialect, ["CREATE", "TABLE"])
                cols = next((o.columns for o in ops if o.kind == K.CREATE_TABLE and isinstance(o.columns, tuple)), ())
            self._cols = cols
        return self._cols

    def __iter__(self):
        return iter(self.resolve())

    def __len__(self) -> int:
        return len(self.resolve())


def _fast_ddl(stmt: str, dialect: str, head: list[str]) -> list[Op] | None:
    verb = head[0]
    if verb == "CREATE":
        if "INDEX" in head[:4]:
            m = _CREATE_INDEX.match(stmt)
            if m:
                return [Op(K.CREATE_INDEX, _name(m.group(4)), name=_name(m.group(3)), unique=bool(m.group(1)),
                           concurrently=bool(m.group(2)), columns=_index_columns(stmt, m.end()), detail="CREATE INDEX",
                           only_null=_index_null_only(stmt) if m.group(1) else ())]
            return None
        if "TABLE" in head[:4]:
            m = _CREATE_TABLE.match(stmt)
            if m and not re.search(r"\)\s*(?:WITH\s*\([^)]*\)\s*)?AS\b", stmt[-200:], re.I):
                return [Op(K.CREATE_TABLE, _name(m.group(1)), columns=LazyColumns(stmt, dialect), detail="CREATE TABLE")]
            m = _CREATE_TABLE_AS.match(stmt)
            if m:
                table = _name(m.group(1))
                return [Op(K.CREATE_TABLE, table, detail="CREATE TABLE AS"), Op(K.DATA, table, detail="CREATE TABLE AS")]
            return None
        m = _CREATE_OBJECT.match(stmt)
        if m:
            kind = " ".join(m.group(1).lower().split())
            return [Op(K.CREATE_OBJECT, _name(m.group(2)), name=_name(m.group(2)), object_kind=kind,
                       detail=f"CREATE {kind.upper()}")]
        return None
    if verb == "ALTER" and len(head) > 1 and head[1] in ("TABLE", "TYPE", "VIEW", "SEQUENCE", "INDEX", "DOMAIN",
                                                          "MATERIALIZED"):
        ops = _from_tokens(stmt, "", head, _rx_tokens(stmt))
        if all(o.kind != K.UNKNOWN for o in ops):
            return ops
        return None  # sqlglot decides
    if verb == "DROP":
        m = _DROP.match(stmt.rstrip())
        if not m:
            m = _DROP_ON.match(stmt)
            if m:
                kind = m.group(1).lower()
                return [Op(K.DROP_OBJECT, _name(m.group(3)), name=_name(m.group(2)), object_kind=kind,
                           detail=f"DROP {kind.upper()}")]
            m = _DROP_TRIGGER.match(stmt.rstrip())
            if m and not (dialect == "postgresql" and "`" in m.group(1)):
                name = _name(m.group(1))
                return [Op(K.DROP_OBJECT, name, name=name, object_kind="trigger", detail="DROP TRIGGER")]
            m = _DROP_ROUTINE.match(stmt)
            if m:
                kind = m.group(1).lower()
                return [Op(K.DROP_OBJECT, _name(m.group(2)), name=_name(m.group(2)), object_kind=kind,
                           detail=f"DROP {kind.upper()}")]
            return None
        kind = " ".join(m.group(1).upper().split())
        names = [_name(n) for n in re.findall(_NAME, m.group(3))]
        if kind == "TABLE":
            return [Op(K.DROP_TABLE, n, detail="DROP TABLE") for n in names]
        if kind == "INDEX":
            return [Op(K.DROP_INDEX, None, name=n, concurrently=bool(m.group(2)), detail="DROP INDEX") for n in names]
        return [Op(K.DROP_OBJECT, n, name=n, object_kind=kind.lower(), detail=f"DROP {kind}") for n in names]
    return None


def _index_null_only(stmt: str) -> tuple:
    """`CREATE UNIQUE INDEX ... WHERE event IS NULL` -> ("event",)."""
    at = stmt.upper().rfind(" WHERE ")
    return null_only_columns(stmt[at + 7:].rstrip("; \n\t")) if at > 0 else ()


def _index_columns(stmt: str, start: int) -> tuple:
    depth, cur, cols = 1, [], []
    for ch in stmt[start:start + 2000]:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                break
        if ch == "," and depth == 1:
            cols.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    cols.append("".join(cur))
    out = []
    for c in cols:
        word = c.strip().split()
        if word and re.fullmatch(r'"[^"]+"|[A-Za-z_][\w$]*', word[0]):
            out.append(_name(word[0]))
    return tuple(out)
