"""Lexing shared by the SQL readers: statement splitting, tokens by one regular expression, names and types.

Nothing inside comments, quoted identifiers, string literals or dollar-quoted bodies is ever matched.
"""

from __future__ import annotations

import re

class SqlSyntaxError(Exception):
    def __init__(self, message: str, line: int, column: int = 1):
        super().__init__(message)
        self.line = line
        self.column = column


_COMMENT_OR_SPACE = re.compile(r"(?:\s+|--[^\n]*|#[^\n]*|/\*.*?\*/)*", re.S)


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


_CREATE_TABLE = re.compile(
    rf"CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"({_NAME})\s*\(", re.I)
