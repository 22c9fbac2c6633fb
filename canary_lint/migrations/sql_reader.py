"""Read SQL text (a migration file or the string of `op.execute`) into `Op`s.

Statements are split by one regular-expression scan that steps over comments, quoted identifiers, string
literals and dollar-quoted bodies, so nothing inside them is ever matched and every statement keeps its exact
line. Data statements (INSERT/UPDATE/DELETE/COPY) and other non-DDL are classified from their first words
without a full parse; DDL goes through sqlglot. Where sqlglot falls back to an opaque `Command` or cannot parse
a statement, the statement is classified from sqlglot's tokens (never dropped), and sqlglot's fallback
warnings are kept off the terminal. sqlglot is imported on the first statement that needs it.
"""

from __future__ import annotations

import contextlib
import logging
import re

from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import ColumnSpec, Op

SQLGLOT_DIALECT = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}

_COMMENT_OR_SPACE = re.compile(r"(?:\s+|--[^\n]*|#[^\n]*|/\*.*?\*/)*", re.S)
_WORDS = re.compile(r"[A-Za-z_][A-Za-z_0-9$]*|\"[^\"]*\"|`[^`]*`|\(")
_DATA_TABLE = re.compile(
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
OBJECT_KINDS = {"VIEW": "view", "FUNCTION": "function", "PROCEDURE": "procedure", "TYPE": "type",
                "SEQUENCE": "sequence", "TRIGGER": "trigger", "DOMAIN": "domain", "SCHEMA": "schema",
                "EXTENSION": "extension", "AGGREGATE": "aggregate"}


class SqlSyntaxError(Exception):
    def __init__(self, message: str, line: int, column: int = 1):
        super().__init__(message)
        self.line = line
        self.column = column


@contextlib.contextmanager
def quiet_sqlglot():
    """Keep sqlglot's "falling back to parsing as a Command" warnings off the user's terminal."""
    logger = logging.getLogger("sqlglot")
    old_level, old_prop = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(old_level)
        logger.propagate = old_prop


# A statement body: everything up to the next ';' that is not inside a comment, quoted identifier, string
# literal or dollar-quoted body. Possessive quantifiers: no backtracking, one C-level match per statement.
_BODY_PG = re.compile(
    r"(?:[^;'\"$/\-]++|(?<=[Ee])'(?:[^'\\]|\\.|'')*+'|'(?:[^']|'')*+'|\"(?:[^\"]|\"\")*+\"|--[^\n]*+"
    r"|/\*.*?\*/|/(?!\*)|-(?!-)|\$(?P<tag>[A-Za-z_]\w*+|)\$.*?\$(?P=tag)\$|\$(?!(?:[A-Za-z_]\w*)?\$))*+",
    re.S,
)
_BODY_MYSQL = re.compile(
    r"(?:[^;'\"`#/\-]++|'(?:[^'\\]|\\.|'')*+'|\"(?:[^\"\\]|\\.|\"\")*+\"|`(?:[^`]|``)*+`|#[^\n]*+|--[^\n]*+"
    r"|/\*.*?\*/|/(?!\*)|-(?!-))*+",
    re.S,
)


def split(text: str, dialect: str = "postgresql") -> list[tuple[int, int]]:
    """(start, end) offsets of each statement (start at its first non-comment character, end before ';').

    Raises SqlSyntaxError at an opening quote, comment or dollar quote that is never closed."""
    body = _BODY_MYSQL if dialect == "mysql" else _BODY_PG
    out: list[tuple[int, int]] = []
    pos, n = 0, len(text)
    while pos < n:
        end = body.match(text, pos).end()
        if end >= n:
            out.append((pos, n))
            break
        if text[end] != ";":
            ch = text[end]
            what = ("comment" if text.startswith("/*", end) else "quoted identifier" if ch in "\"`"
                    else "dollar-quoted string" if ch == "$" else "string literal")
            line = text.count("\n", 0, end) + 1
            raise SqlSyntaxError(f"SQL syntax error: unterminated {what} starting here", line,
                                 end - text.rfind("\n", 0, end))
        out.append((pos, end))
        pos = end + 1
    result = []
    for s, e in out:
        m = _COMMENT_OR_SPACE.match(text, s, e)
        s2 = m.end() if m else s
        if s2 < e and not text[s2:e].isspace():
            result.append((s2, e))
    return result


def _name(raw: str | None) -> str | None:
    if raw is None:
        return None
    raw = raw.strip()
    last = raw.split(".")[-1]
    if last[:1] in "\"`" and last[-1:] in "\"`":
        return last[1:-1]
    return last.lower()


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
        for op in statement_ops(stmt, dialect):
            if span is not None:
                op.line, op.column_no, op.end_line, op.end_column = span
            else:
                op.line, op.column_no, op.end_line, op.end_column = l1, c1, l2, max(c2, 1)
            op.sql = True
            out.append(op)
    return out


def _head(stmt: str) -> list[str]:
    words = []
    for m in _WORDS.finditer(stmt, 0, min(len(stmt), 400)):
        words.append(m.group(0).upper())
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
    return fast if fast is not None else _parse_ddl(stmt, dialect, head)


_RX_TOKEN = re.compile(
    r"(?P<s>[Ee]?'(?:[^'\\]|\\.|'')*'|\$(?P<tag>[A-Za-z_]\w*|)\$.*?\$(?P=tag)\$)|(?P<q>\"(?:[^\"]|\"\")*\"|`[^`]*`)"
    r"|(?P<w>[A-Za-z_][\w$]*|\d+(?:\.\d+)?)|(?P<p>[(),.])|--[^\n]*|/\*.*?\*/|\S",
    re.S,
)


def _rx_tokens(stmt: str) -> list[tuple[str, str]]:
    """The same (KIND, TEXT) tokens as `_tokens`, read by one regular expression (no sqlglot)."""
    out = []
    for m in _RX_TOKEN.finditer(stmt):
        kind = m.lastgroup
        if kind == "tag":
            kind = "s"
        if kind == "s":
            text = m.group(0)
            if text[:1] in "Ee" and text[1:2] == "'":
                text = text[1:]
            out.append(("S", text[1:-1].replace("''", "'") if text[:1] == "'" else text))
        elif kind == "q":
            out.append(("W", m.group(0) if m.group(0)[0] == '"' else '"' + m.group(0)[1:-1] + '"'))
        elif kind == "w":
            out.append(("W", m.group(0)))
        elif kind == "p":
            out.append(("P", m.group(0)))
        elif not m.group(0).startswith(("--", "/*")):
            out.append(("W", m.group(0)))
    return out


# ---- fast paths: statements whose facts a regular expression reads exactly --------------------------------
_NAME = r'(?:"[^"]+"|`[^`]+`|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|`[^`]+`|[A-Za-z_][\w$]*))*'
_CREATE_INDEX = re.compile(
    rf"CREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:({_NAME})\s+)?ON\s+(?:ONLY\s+)?"
    rf"({_NAME})\s*(?:USING\s+\w+\s*)?\(", re.I)
_CREATE_TABLE = re.compile(
    rf"CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"({_NAME})\s*\(", re.I)
_DROP = re.compile(
    rf"DROP\s+(TABLE|INDEX|VIEW|MATERIALIZED\s+VIEW|SEQUENCE|TYPE|DOMAIN)\s+(CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?"
    rf"({_NAME}(?:\s*,\s*{_NAME})*)\s*(?:CASCADE|RESTRICT)?\s*$", re.I)
_DROP_ON = re.compile(rf"DROP\s+(TRIGGER|RULE|POLICY)\s+(?:IF\s+EXISTS\s+)?({_NAME})\s+ON\s+({_NAME})", re.I)
_DROP_ROUTINE = re.compile(rf"DROP\s+(FUNCTION|PROCEDURE|AGGREGATE)\s+(?:IF\s+EXISTS\s+)?({_NAME})\s*(?:\(|$|CASCADE|RESTRICT)",
                           re.I)
_CREATE_OBJECT = re.compile(
    rf"CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:TEMP|TEMPORARY|RECURSIVE)\s+)?"
    rf"(VIEW|MATERIALIZED\s+VIEW|SEQUENCE|TRIGGER|FUNCTION|PROCEDURE|TYPE|DOMAIN|EXTENSION|SCHEMA|AGGREGATE|RULE|"
    rf"POLICY)\s+"
    rf"(?:IF\s+NOT\s+EXISTS\s+)?({_NAME})", re.I)


_CREATE_TABLE_AS = re.compile(
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
                ops = _parse_ddl(self.stmt, self.dialect, ["CREATE", "TABLE"])
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
                           concurrently=bool(m.group(2)), columns=_index_columns(stmt, m.end()), detail="CREATE INDEX")]
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


TABLE_CONSTRAINT_HEADS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "LIKE", "INDEX", "KEY",
                          "FULLTEXT", "SPATIAL", "PERIOD"}


def _columns_from_tokens(stmt: str) -> tuple | None:
    """Column specs of `CREATE TABLE t (...)` from tokens; None when an element is not a plain column."""
    m = _CREATE_TABLE.match(stmt)
    if not m:
        return None
    toks = _rx_tokens(stmt[m.end():])
    elements, cur, depth = [], [], 0
    for kind, text in toks:
        if kind == "P" and text == "(":
            depth += 1
        elif kind == "P" and text == ")":
            if depth == 0:
                elements.append(cur)
                break
            depth -= 1
        if kind == "P" and text == "," and depth == 0:
            elements.append(cur)
            cur = []
            continue
        cur.append((kind, text))
    else:
        return None
    cols = []
    for el in elements:
        words = [t for k, t in el if k != "S"]
        if not words:
            return None
        if words[0].upper() in TABLE_CONSTRAINT_HEADS:
            continue
        up = [w.upper() for w in words]
        op = _token_action(["ADD", "COLUMN", *up], ["ADD", "COLUMN", *words], None, "CREATE TABLE")
        if op.kind != K.ADD_COLUMN or op.spec is None or not op.spec.type:
            return None
        if "PRIMARY" in up:
            op.spec.primary_key, op.spec.nullable = True, False
        if "UNIQUE" in up:
            op.spec.unique = True
        if {"SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL4", "SERIAL8", "AUTO_INCREMENT", "AUTOINCREMENT"} & set(up):
            op.spec.default = op.spec.default or "nextval()"
        cols.append(op.spec)
    return tuple(cols)


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


def _parse_ddl(stmt: str, dialect: str, head: list[str]) -> list[Op]:
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


_TYPE_ALIASES = {
    "INT": "INTEGER", "INT4": "INTEGER", "INT8": "BIGINT", "INT2": "SMALLINT", "SERIAL": "INTEGER",
    "BIGSERIAL": "BIGINT", "SMALLSERIAL": "SMALLINT", "DECIMAL": "NUMERIC", "CHARACTER VARYING": "VARCHAR",
    "BOOL": "BOOLEAN", "FLOAT8": "DOUBLE PRECISION", "DOUBLE": "DOUBLE PRECISION", "FLOAT4": "REAL",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "STRING": "TEXT", "CHARACTER": "CHAR",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP", "DATETIME": "TIMESTAMP", "UBIGINT": "BIGINT", "BPCHAR": "CHAR",
}


def normalize_type(raw: str | None) -> str | None:
    if not raw:
        return None
    t = " ".join(raw.upper().split())
    t = re.sub(r"\s*([(),])\s*", r"\1", t)
    base, paren, rest = t.partition("(")
    base = _TYPE_ALIASES.get(base.strip(), base.strip())
    return base + (paren + rest if paren else "")


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


# ---- token fallback --------------------------------------------------------------------------------
def _tokens(stmt: str, d: str) -> list[tuple[str, str]]:
    """(KIND, TEXT) where KIND is W (word/identifier), S (string), P (punctuation)."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    try:
        toks = Dialect.get_or_raise(d).tokenize(stmt)
    except Exception:  # noqa: BLE001 - sqlglot raises several types; fall back to words
        return [("W", w) for w in re.findall(r"[A-Za-z_][\w$.]*|[(),]", stmt)]
    out = []
    for t in toks:
        if t.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.HEREDOC_STRING,
                            TokenType.BIT_STRING, TokenType.HEX_STRING, TokenType.BYTE_STRING):
            out.append(("S", t.text))
        elif t.token_type in (TokenType.L_PAREN, TokenType.R_PAREN, TokenType.COMMA, TokenType.DOT):
            out.append(("P", t.text))
        else:
            if t.token_type == TokenType.IDENTIFIER:
                out.append(("W", f'"{t.text}"'))
            else:
                out.extend(("W", w) for w in t.text.split())
    return out


def _actions(words: list[tuple[str, str]]) -> list[list[str]]:
    """Split ALTER TABLE actions on top-level commas; string literals dropped."""
    out, cur, depth = [], [], 0
    for kind, text in words:
        if kind == "P" and text == "(":
            depth += 1
        elif kind == "P" and text == ")":
            depth -= 1
        if kind == "P" and text == "," and depth == 0:
            out.append(cur)
            cur = []
            continue
        if kind == "S":
            continue
        cur.append(text)
    if cur:
        out.append(cur)
    return out


def _from_tokens(stmt: str, d: str, head: list[str], toks: list | None = None) -> list[Op]:
    toks = _tokens(stmt, d) if toks is None else toks
    up = [t.upper() if k == "W" else t for k, t in toks]
    words = [t for (k, t) in toks]
    if len(up) < 2:
        return [Op(K.UNKNOWN, detail=" ".join(head[:3]))]
    if up[0] == "ALTER" and up[1] == "TABLE":
        i = 2
        while i < len(up) and up[i] in ("ONLY", "IF", "EXISTS"):
            i += 1
        table, i = _qualified(words, up, i)
        ops = []
        for action in _actions(toks[i:]):
            ops.append(_token_action([a.upper() for a in action], action, table, " ".join(head[:3])))
        return ops or [Op(K.UNKNOWN, table, detail="ALTER TABLE")]
    if up[0] == "ALTER" and up[1] in ("TYPE", "VIEW", "SEQUENCE", "FUNCTION", "PROCEDURE", "MATERIALIZED", "DOMAIN",
                                      "INDEX"):
        kind = "materialized view" if up[1] == "MATERIALIZED" else up[1].lower()
        i = 3 if up[1] == "MATERIALIZED" else 2
        while i < len(up) and up[i] in ("IF", "EXISTS"):
            i += 1
        name, i = _qualified(words, up, i)
        rest = up[i:]
        if up[1] == "TYPE" and rest[:2] == ["RENAME", "VALUE"]:
            return [Op(K.RENAME_OBJECT, name, name=name, object_kind="enum value", detail="RENAME VALUE",
                       new_name=" ".join(_strings(toks)[1:2]) or None, column=(_strings(toks)[:1] or [None])[0])]
        if "RENAME" in rest and "TO" in rest and "COLUMN" not in rest:
            j = rest.index("TO")
            return [Op(K.RENAME_OBJECT, name, name=name, new_name=_name(words[i + j + 1]) if i + j + 1 < len(words) else None,
                       object_kind=kind, detail=f"ALTER {up[1]} RENAME")]
        return [Op(K.OTHER, name, detail=f"ALTER {up[1]}")]
    if up[0] == "CREATE" and ("INDEX" in up[:4]):
        j = up.index("INDEX")
        conc = j + 1 < len(up) and up[j + 1] == "CONCURRENTLY"
        table = None
        if "ON" in up:
            k = up.index("ON") + 1
            if k < len(up) and up[k] == "ONLY":
                k += 1
            table, _ = _qualified(words, up, k)
        name_i = j + 1 + (1 if conc else 0)
        while name_i < len(up) and up[name_i] in ("IF", "NOT", "EXISTS"):
            name_i += 1
        name = _name(words[name_i]) if name_i < len(up) and up[name_i] != "ON" else None
        return [Op(K.CREATE_INDEX, table, name=name, unique="UNIQUE" in up[:j], concurrently=conc, detail="CREATE INDEX")]
    if up[0] == "DROP" and up[1] == "INDEX":
        conc = len(up) > 2 and up[2] == "CONCURRENTLY"
        i = 3 if conc else 2
        while i < len(up) and up[i] in ("IF", "EXISTS"):
            i += 1
        name, _ = _qualified(words, up, i)
        return [Op(K.DROP_INDEX, None, name=name, concurrently=conc, detail="DROP INDEX")]
    if up[0] == "DROP" and up[1] == "TABLE":
        i = 2
        while i < len(up) and up[i] in ("IF", "EXISTS"):
            i += 1
        name, _ = _qualified(words, up, i)
        return [Op(K.DROP_TABLE, name, detail="DROP TABLE")]
    if up[0] == "DROP":
        kind = "materialized view" if up[1] == "MATERIALIZED" else OBJECT_KINDS.get(up[1])
        if kind:
            i = 3 if up[1] == "MATERIALIZED" else 2
            while i < len(up) and up[i] in ("IF", "EXISTS"):
                i += 1
            name, _ = _qualified(words, up, i)
            return [Op(K.DROP_OBJECT, name, name=name, object_kind=kind, detail=f"DROP {up[1]}")]
    if up[0] == "CREATE":
        return [Op(K.CREATE_OBJECT, detail=" ".join(head[:3]))]
    if up[0] == "RENAME" and up[1] == "TABLE":  # MySQL
        return [Op(K.RENAME_TABLE, _name(words[2]) if len(words) > 2 else None,
                   new_name=_name(words[4]) if len(words) > 4 else None, detail="RENAME TABLE")]
    return [Op(K.UNKNOWN, detail=" ".join(head[:3]))]


def _strings(toks) -> list[str]:
    return [t for k, t in toks if k == "S"]


def _qualified(words: list[str], up: list[str], i: int) -> tuple[str | None, int]:
    """Read `a.b.c` starting at i; returns (last part normalized, next index)."""
    if i >= len(words):
        return None, i
    name = words[i]
    i += 1
    while i + 1 < len(words) and words[i] == ".":
        name = words[i + 1]
        i += 2
    return _name(name) if name not in ("(", ")", ",") else None, i


def _token_action(up: list[str], raw: list[str], table: str | None, detail: str) -> Op:
    def after(word: str) -> str | None:
        if word in up:
            j = up.index(word) + 1
            if j < len(raw):
                return _name(raw[j])
        return None

    if not up:
        return Op(K.UNKNOWN, table, detail=detail)
    verb = up[0]
    if verb == "ADD":
        rest = up[1:]
        if rest[:1] and rest[0] in ("INDEX", "KEY", "FULLTEXT", "SPATIAL", "PARTITION", "CONSTRAINT") and \
                not any(w in rest for w in ("CHECK", "FOREIGN", "UNIQUE", "PRIMARY", "EXCLUDE")):
            return Op(K.UNKNOWN, table, detail=f"ALTER TABLE ... ADD {rest[0]}")
        name = after("CONSTRAINT")
        if "CHECK" in rest or "FOREIGN" in rest or "UNIQUE" in rest or "PRIMARY" in rest or "EXCLUDE" in rest:
            first = next(w for w in rest if w in ("CHECK", "FOREIGN", "UNIQUE", "PRIMARY", "EXCLUDE"))
            if not (rest[0] in ("CONSTRAINT", "CHECK", "FOREIGN", "UNIQUE", "PRIMARY", "EXCLUDE")):
                first = None  # ADD COLUMN c int UNIQUE -> a column
            if first:
                kind = {"CHECK": "check", "FOREIGN": "foreign_key", "UNIQUE": "unique", "PRIMARY": "primary_key",
                        "EXCLUDE": "exclude"}[first]
                nv = any(up[k] == "NOT" and k + 1 < len(up) and up[k + 1] == "VALID" for k in range(len(up)))
                using = any(up[k] == "USING" and k + 1 < len(up) and up[k + 1] == "INDEX" for k in range(len(up)))
                return Op(K.ADD_CONSTRAINT, table, name=name, constraint=kind, not_valid=nv, using_index=using,
                          detail=f"ADD {first}")
        k = 2 if len(up) > 1 and up[1] == "COLUMN" else 1
        while k < len(up) and up[k] in ("IF", "NOT", "EXISTS"):
            k += 1
        if k < len(raw):
            col = _name(raw[k])
            type_words = []
            for w in up[k + 1:]:
                if w in ("NOT", "NULL", "DEFAULT", "PRIMARY", "UNIQUE", "REFERENCES", "CHECK", "CONSTRAINT",
                         "COLLATE", "GENERATED", "AUTOINCREMENT", "AUTO_INCREMENT", "COMMENT", "ON", "CHARACTER",
                         "AS", "IDENTITY", "FIRST", "AFTER"):
                    break
                type_words.append(w)
            notnull = any(up[j] == "NOT" and j + 1 < len(up) and up[j + 1] == "NULL" for j in range(len(up)))
            default = None
            if "DEFAULT" in up:
                j = up.index("DEFAULT") + 1
                default = re.sub(r"\s*([(),])\s*", r"\1", " ".join(raw[j:j + 3])) or "?"
            spec = ColumnSpec(col, normalize_type(" ".join(type_words)),
                              nullable=not notnull, default=default)
            return Op(K.ADD_COLUMN, table, column=col, spec=spec, detail="ADD COLUMN")
    if verb in ("MODIFY", "CHANGE"):  # MySQL
        k = 2 if len(up) > 1 and up[1] == "COLUMN" else 1
        if verb == "CHANGE" and k + 1 < len(raw):
            old, new = _name(raw[k]), _name(raw[k + 1])
            k += 1
        elif k < len(raw):
            old = new = _name(raw[k])
        else:
            return Op(K.UNKNOWN, table, detail=f"ALTER TABLE ... {verb}")
        type_words = []
        for w in raw[k + 1:]:
            if w.upper() in ("NOT", "NULL", "DEFAULT", "PRIMARY", "UNIQUE", "COMMENT", "AFTER", "FIRST", "COLLATE",
                             "CHARACTER", "AUTO_INCREMENT", "REFERENCES", "CHECK"):
                break
            type_words.append(w)
        typ = normalize_type(" ".join(type_words))
        if old != new:
            return Op(K.RENAME_COLUMN, table, column=old, new_name=new, type=typ, detail="CHANGE COLUMN")
        return Op(K.ALTER_TYPE, table, column=old, type=typ, detail=f"{verb} COLUMN")
    if verb == "VALIDATE":
        return Op(K.VALIDATE_CONSTRAINT, table, name=after("CONSTRAINT"), detail="VALIDATE CONSTRAINT")
    if verb == "DROP":
        if len(up) > 1 and up[1] == "CONSTRAINT":
            k = 2
            while k < len(up) and up[k] in ("IF", "EXISTS"):
                k += 1
            return Op(K.DROP_CONSTRAINT, table, name=_name(raw[k]) if k < len(raw) else None, detail="DROP CONSTRAINT")
        if len(up) > 1 and up[1] in ("DEFAULT", "INDEX", "KEY", "PRIMARY", "FOREIGN", "CHECK"):
            return Op(K.OTHER, table, detail=f"DROP {up[1]}")
        k = 2 if len(up) > 1 and up[1] == "COLUMN" else 1
        while k < len(up) and up[k] in ("IF", "EXISTS"):
            k += 1
        if k < len(raw):
            return Op(K.DROP_COLUMN, table, column=_name(raw[k]), detail="DROP COLUMN")
    if verb == "RENAME":
        if len(up) > 1 and up[1] in ("TO", "AS"):
            return Op(K.RENAME_TABLE, table, new_name=_name(raw[2]) if len(raw) > 2 else None, detail="RENAME TO")
        if "TO" in up:
            k = 2 if up[1] == "COLUMN" else 1
            if up[1] == "CONSTRAINT":
                return Op(K.OTHER, table, detail="RENAME CONSTRAINT")
            return Op(K.RENAME_COLUMN, table, column=_name(raw[k]), new_name=after("TO"), detail="RENAME COLUMN")
    if verb == "ALTER":
        k = 2 if len(up) > 1 and up[1] == "COLUMN" else 1
        col = _name(raw[k]) if k < len(raw) else None
        rest = up[k + 1:]
        if rest[:1] == ["TYPE"] or rest[:3] == ["SET", "DATA", "TYPE"]:
            start = k + 2 if rest[:1] == ["TYPE"] else k + 4
            tw = []
            for w in raw[start:]:
                if w.upper() in ("USING", "COLLATE"):
                    break
                tw.append(w)
            return Op(K.ALTER_TYPE, table, column=col, type=normalize_type(" ".join(tw)),
                      detail="ALTER COLUMN TYPE")
        if rest[:3] == ["SET", "NOT", "NULL"]:
            return Op(K.SET_NOT_NULL, table, column=col, detail="SET NOT NULL")
        if rest[:3] == ["DROP", "NOT", "NULL"]:
            return Op(K.DROP_NOT_NULL, table, column=col, detail="DROP NOT NULL")
        if rest[:2] == ["SET", "DEFAULT"]:
            return Op(K.SET_DEFAULT, table, column=col, default=" ".join(raw[k + 3:]), detail="SET DEFAULT")
        return Op(K.OTHER, table, column=col, detail="ALTER COLUMN")
    if verb in ("SET", "RESET", "OWNER", "ENABLE", "DISABLE", "CLUSTER", "REPLICA", "INHERIT", "NO", "OF", "NOT",
                "FORCE", "ALGORITHM", "LOCK", "ENGINE", "COMMENT", "CONVERT", "AUTO_INCREMENT"):
        return Op(K.OTHER, table, detail=" ".join(up[:3]))
    return Op(K.UNKNOWN, table, detail=f"ALTER TABLE ... {' '.join(up[:3])}")
