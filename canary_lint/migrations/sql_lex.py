"""Lexing shared by the SQL readers: statement splitting, tokens by one regular expression, names and types.

Nothing inside comments, quoted identifiers, string literals or dollar-quoted bodies is ever matched.
"""

from __future__ import annotations

import re

from canary_lint.lazyre import lazy_compile


class SqlSyntaxError(Exception):
    def __init__(self, message: str, line: int, column: int = 1):
        super().__init__(message)
        self.line = line
        self.column = column


_COMMENT_OR_SPACE = re.compile(r"(?:\s+|--[^\n]*|#[^\n]*|/\*.*?\*/)*", re.S)


# A statement body: everything up to the next ';' that is not inside a comment, quoted identifier, string
# literal or dollar-quoted body. Possessive quantifiers: no backtracking, one C-level match per statement.
_BODY_PG = lazy_compile(
    r"(?:[^;'\"$/\-]++|(?<=[Ee])'(?:[^'\\]|\\.|'')*+'|'(?:[^']|'')*+'|\"(?:[^\"]|\"\")*+\"|--[^\n]*+"
    r"|/\*.*?\*/|/(?!\*)|-(?!-)|\$(?P<tag>[A-Za-z_]\w*+|)\$.*?\$(?P=tag)\$|\$(?!(?:[A-Za-z_]\w*)?\$))*+",
    re.S,
)


_BODY_MYSQL = lazy_compile(
    r"(?:[^;'\"`#/\-$]++|'(?:[^'\\]|\\.|'')*+'|\"(?:[^\"\\]|\\.|\"\")*+\"|`(?:[^`]|``)*+`|#[^\n]*+|--[^\n]*+"
    r"|/\*.*?\*/|/(?!\*)|-(?!-)|\$\$.*?\$\$|\$(?!\$))*+",
    re.S,
)
_DELIMITER = lazy_compile(r"^[ \t]*DELIMITER[ \t]+(\S{1,10})[ \t]*\r?$", re.I | re.M)
# words of a compound statement (trigger, routine, event bodies) outside strings, identifiers and comments:
# an opener is found by search, its end by an anchored match after it, and the scan goes on after that end,
# so every character is read once (an opener never closed ends the scan)
_OPENER = re.compile(r"[A-Za-z_]\w*+|'|\"|`|--|#|/\*|\$(?:[A-Za-z_]\w{0,30})?\$")
_CLOSER = {"'": re.compile(r"(?:[^'\\]|\\.)*+'", re.S), '"': re.compile(r'(?:[^"\\]|\\.)*+"', re.S),
           "`": re.compile(r"[^`]*+`"), "--": re.compile(r"[^\n]*+"), "#": re.compile(r"[^\n]*+")}
_COMPOUND_HEAD = lazy_compile(
    r"(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:AGGREGATE\s+)?"
    r"(?:TRIGGER|PROCEDURE|FUNCTION|EVENT)\b|BEGIN\s+NOT\s+ATOMIC\b)",
    re.I,
)
_OPENERS = {"BEGIN", "CASE", "IF", "LOOP", "WHILE", "REPEAT"}


def split(text: str, dialect: str = "postgresql") -> list[tuple[int, int]]:
    """(start, end) offsets of each statement (start at its first non-comment character, end before its
    delimiter). A trigger, routine or event body (`BEGIN … END`, `BEGIN ATOMIC … END`, dollar-quoted) is one
    statement with its inner semicolons, and a mysql-client `DELIMITER $$` block ends statements at `$$`,
    whatever the dialect.

    Raises SqlSyntaxError at an opening quote, comment or dollar quote that is never closed."""
    if "delimiter" in text[:1_000_000].lower() and _DELIMITER.search(text):
        return _split_delimited(text, dialect)
    return _compound(text, _split_plain(text, dialect, 0, len(text)))


def _split_delimited(text: str, dialect: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pos, delimiter = 0, ";"
    for m in [*_DELIMITER.finditer(text), None]:
        end = m.start() if m else len(text)
        if delimiter == ";":
            out += _compound(text, _split_plain(text, dialect, pos, end))
        else:
            start = pos
            while start < end:
                stop = text.find(delimiter, start, end)
                stop = end if stop < 0 else stop
                c = _COMMENT_OR_SPACE.match(text, start, stop)
                first = c.end() if c else start
                if first < stop:
                    out.append((first, stop))
                start = stop + len(delimiter)
        if m:
            pos, delimiter = m.end(), m.group(1)
    return out


def _compound(text: str, stmts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join the pieces of a compound statement that the split on ';' cut apart."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(stmts):
        s, e = stmts[i]
        i += 1
        if _COMPOUND_HEAD.match(text, s, e):
            depth, j, end = _depth(text, s, e), i, e
            while depth > 0 and j < len(stmts):
                end = stmts[j][1]
                depth += _depth(text, stmts[j][0], end)
                j += 1
            if depth <= 0:  # a body that never closes joins nothing: the statements after it stay visible
                i, e = j, end
        out.append((s, e))
    return out


def _words(text: str, s: int, e: int) -> list[tuple[str, int]]:
    """(upper-cased word, its end) of text[s:e] outside strings, quoted identifiers and comments."""
    out, pos = [], s
    while pos < e:
        m = _OPENER.search(text, pos, e)
        if m is None:
            break
        token = m.group(0)
        if token[0].isalpha() or token[0] == "_":
            out.append((token.upper(), m.end()))
            pos = m.end()
            continue
        if token in _CLOSER:
            close = _CLOSER[token].match(text, m.end(), e)
            pos = close.end() if close else e
        else:  # `/*` or a dollar quote: closed by `*/` or the same tag
            end = text.find("*/" if token == "/*" else token, m.end(), e)
            pos = e if end < 0 else end + (2 if token == "/*" else len(token))
    return out


def _depth(text: str, s: int, e: int) -> int:
    """Blocks opened minus blocks closed in text[s:e] (BEGIN/CASE/IF/LOOP/WHILE/REPEAT … END [IF|…])."""
    depth, prev = 0, ""
    words = _words(text, s, e)
    for i, (word, end) in enumerate(words):
        after = words[i + 1][0] if i + 1 < len(words) else ""
        if word == "END":
            depth -= 1
        elif word in _OPENERS and prev != "END":
            if word == "BEGIN" and after in ("TRANSACTION", "WORK"):
                pass
            elif word == "IF" and (after in ("EXISTS", "NOT") or text[end:end + 40].lstrip().startswith("(")):
                pass  # `IF NOT EXISTS`, MySQL's IF() function
            else:
                depth += 1
        prev = word
    return depth


def _split_plain(text: str, dialect: str, pos: int, n: int) -> list[tuple[int, int]]:
    body = _BODY_MYSQL if dialect == "mysql" else _BODY_PG
    out: list[tuple[int, int]] = []
    while pos < n:
        end = body.match(text, pos, n).end()
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


_RX_TOKEN = lazy_compile(
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


_CREATE_TABLE = lazy_compile(
    rf"CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"({_NAME})\s*\(", re.I)
