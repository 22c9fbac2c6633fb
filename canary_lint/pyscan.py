"""A bounded scan of Python 3.12-3.14 source for the constructs our `ast` (3.11) cannot read.

`scan(source)` walks the source once, the way the tokenizer of a newer Python would (strings, f-strings
nested as PEP 701 allows, comments, brackets), and returns where the source must change for our `ast`:

- `edits`: `(start, end, text)` replacements that keep every line and the byte columns of what follows
  (`type X[T] = V` → `X = V`, a type-parameter list blanked, `except A, B:` → `except(A, B):`);
- `aliases`: `(type_start, name_start, name_end)` of each `type` statement;
- `excepts`: the offset of each parenthesis put around an `except` tuple (the tuple spans its elements);
- `shifts`: `(offset, delta)` where a rewrite had to move the rest of its line;
- `units`: every string expression outside the blanked spans (adjacent literals are one unit), each with
  its f-string parts and whether only a newer Python reads it (`new`).

Every step is a regular expression without nested quantifiers over one character class, or a loop that
moves forward; nesting is capped. Source the scan cannot follow raises nothing: `scan` returns None.
"""

from __future__ import annotations

import keyword
import re

from canary_lint.pysyntax import NEWLINE as _NEWLINE
from canary_lint.pysyntax import Field, FString, Plain, Unit, blank

MAX_NESTING = 32
PREFIXES = frozenset({"", "r", "u", "b", "br", "rb", "f", "fr", "rf", "t", "tr", "rt"})
_RUN = re.compile(r"[^'\"#\\]+")
_COMMENT = re.compile(r"#[^\r\n]*")
_BODY = {
    "'": re.compile(r"[^'\\\r\n]*(?:\\(?:\r\n|[\s\S])[^'\\\r\n]*)*'"),
    '"': re.compile(r'[^"\\\r\n]*(?:\\(?:\r\n|[\s\S])[^"\\\r\n]*)*"'),
    "'''": re.compile(r"[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*'''"),
    '"""': re.compile(r'[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*"""'),
}
_LITERAL = {q: re.compile("[^{}\\\\" + q[0] + ("\\r\\n" if len(q) == 1 else "") + "]+") for q in _BODY}
_TOKEN = re.compile(r"[ \t\f]+|\r\n|[\r\n]|\w+|#[^\r\n]*|\*\*=?|//=?|>>=?|<<=?|->|\.\.\.|[=!<>+\-*/%&|^@:]=|[\s\S]")
_GAP_FLAT = re.compile(r"[ \t\f]*(?:\\(?:\r\n|\r|\n)[ \t\f]*)*")
_GAP_NESTED = re.compile(r"(?:[ \t\f\r\n]+|#[^\r\n]*|\\(?:\r\n|\r|\n))*")
_STRING_START = re.compile(r"([A-Za-z]{0,2})(?:'|\")")
_KEY = re.compile(r"\b(?:def|class|except|type)\b")
_TYPE = re.compile(r"type[ \t]+(\w+)[ \t]*(\[|=(?!=))")
_DEF = re.compile(r"(?:def|class)[ \t]+\w+[ \t]*\[")
_EXCEPT = re.compile(r"except(?:[ \t]*\*)?")
_BLANK = re.compile(r"[ \t\f]*")
_LINE_ENDS = re.compile(r"[ \t\f]*(?:#|\r|\n|\Z)")
_WORD = re.compile(r"\w+")
_OPEN, _CLOSE = "([{", ")]}"


class Unreadable(Exception):
    """Source the scan cannot follow (the parse that comes next would fail too)."""


class Scan:
    __slots__ = ("aliases", "blanked", "edits", "excepts", "shifts", "units")

    def __init__(self):
        self.edits, self.aliases, self.excepts, self.shifts, self.units, self.blanked = [], [], [], [], [], []


def scan(source: str) -> Scan | None:
    try:
        return _Scanner(source).run()
    except (Unreadable, RecursionError):
        return None


class _Scanner:
    def __init__(self, source: str):
        self.src, self.n = source, len(source)
        self.out = Scan()
        self.nesting = 0
        self.seen = self.line_start = 0

    # ---- the module: runs of code between strings, comments and backslashes ----------------------
    def run(self) -> Scan:
        src, n, out = self.src, self.n, self.out
        depth, i = 0, 0
        while i < n:
            c = src[i]
            if c == "#":
                i = _COMMENT.match(src, i).end()
            elif c == "\\":
                m = _NEWLINE.match(src, i + 1)
                i = m.end() if m else i + 1
            elif c in "'\"":
                start = i
                while start > 0 and i - start < 2 and src[start - 1].isalpha():
                    start -= 1
                if src[start:i].lower() not in PREFIXES or (
                        start > 0 and (src[start - 1].isalnum() or src[start - 1] == "_")):
                    start = i  # the letters belong to a longer name: invalid, left to the parser
                unit = self.unit(start, nested=depth > 0)
                out.units.append(unit)
                i = unit.end
            else:
                j = _RUN.match(src, i).end()
                while i < j:
                    m = _KEY.search(src, i, j)
                    stop = m.start() if m else j
                    seg = src[i:stop]
                    depth += seg.count("(") + seg.count("[") + seg.count("{") - seg.count(")") - \
                        seg.count("]") - seg.count("}")
                    if m is None:
                        i = j
                        break
                    i = self.keyword(m.group(), m.start(), depth)
                    if i > j:  # the construct ran past this run (strings or comments inside it)
                        j = i
                        break
                i = j
        return out

    def keyword(self, word: str, at: int, depth: int) -> int:
        """Handle a `def`/`class`/`except`/`type` at `at`; the offset to go on from."""
        src = self.src
        if word in ("def", "class"):
            m = _DEF.match(src, at)
            if m is None:
                return at + len(word)
            a = m.end() - 1
            b = self.balanced(a)
            self.out.edits.append((a, b, blank(src[a:b], continued=True)))
            self.out.blanked.append((a, b))
            return b
        if word == "except":
            return self.except_clause(at, _EXCEPT.match(src, at).end())
        m = _TYPE.match(src, at)
        if m is None or depth or keyword.iskeyword(m.group(1)) or not self.statement_start(at):
            return at + len(word)
        name, name_start = m.group(1), m.start(1)
        end = m.end(2) - 1 if m.group(2) == "[" else m.start(2)
        if m.group(2) == "[":
            end = self.balanced(end)
            end = _BLANK.match(src, end).end()
            if not src.startswith("=", end) or src.startswith("==", end):
                raise Unreadable("type statement without =")
        shaped = blank(src[at:end], continued=True)
        width = len(name.encode("utf-8"))
        if len(shaped) < width or "\\" in shaped[:width]:
            raise Unreadable("type statement split over lines")
        self.out.edits.append((at, end, name + shaped[width:]))
        self.out.blanked.append((at, end))
        self.out.aliases.append((at, name_start, name_start + len(name)))
        return end

    def statement_start(self, at: int) -> bool:
        """Only blanks before `at` on its line, and that line does not continue the one before. Offsets
        asked for only grow, so the line start is found once per line (never a scan back per call)."""
        src, seen = self.src, self.seen
        line = max(src.rfind("\n", seen, at), src.rfind("\r", seen, at)) + 1
        self.line_start = line if line else self.line_start
        self.seen = at
        line = self.line_start
        if at - line > 200 or src[line:at].strip(" \t\f"):
            return False
        end = line - 1
        if end > 0 and src[end] == "\n" and src[end - 1] == "\r":
            end -= 1
        return not (end > 0 and src[end - 1] == "\\")

    def except_clause(self, at: int, i: int) -> int:
        """`except A, B:` (PEP 758): parenthesize the tuple, keeping columns. Only a header on one line
        is read (a parenthesized one needs nothing); the offset to go on from."""
        src = self.src
        if not self.statement_start(at):
            return i
        depth, comma, named, first, last, units = 0, False, False, None, None, []
        for kind, a, b in self.tokens(i, units, nested=False):
            if kind == "op":
                c = src[a]
                if c in _OPEN:
                    depth += 1
                elif c in _CLOSE:
                    depth -= 1
                elif depth == 0 and c == ":" and b == a + 1:
                    break
                elif depth == 0 and c == ",":
                    comma = True
            elif kind in ("nl", "com", "bs"):
                return i  # a bare `except`, or a header over several lines: nothing to do
            elif kind == "name" and depth == 0 and src[a:b] == "as":
                named = True
            if kind != "ws":
                first = a if first is None else first
                last = b
        else:
            return i
        if not comma or named or first is None or depth:
            return i
        self.out.units.extend(units)
        colon = a
        edits = self.out.edits
        if src[first - 1] in " \t":
            edits.append((first - 1, first, "("))
            self.out.excepts.append(first - 1)
        else:
            edits.append((first, first, "("))
            self.out.excepts.append(first)
            self.out.shifts.append((first, 1))
        after = src[colon + 1:colon + 2]
        if src[last] in " \t":
            edits.append((last, last + 1, ")"))
        elif last == colon and after in (" ", "\t"):
            edits.append((last, colon + 2, "):"))  # `B: pass` → `B):pass`: `pass` keeps its column
        else:
            edits.append((last, last, ")"))
            if not _LINE_ENDS.match(src, colon + 1):  # code follows on this line: it moved
                self.out.shifts.append((last, 1))
        return colon + 1

    def balanced(self, i: int) -> int:
        """The offset after the bracket that closes the one at `i`."""
        depth = 0
        for kind, a, b in self.tokens(i, self.out.units, nested=True):
            if kind == "op":
                c = self.src[a]
                if c in _OPEN:
                    depth += 1
                elif c in _CLOSE:
                    depth -= 1
                    if depth == 0:
                        return b
        raise Unreadable("unclosed bracket")

    # ---- tokens, for the few places that need them ---------------------------------------------------
    def tokens(self, i: int, units: list, nested: bool):
        """(kind, start, end) of each token from `i`: ws, nl, name, com, bs, op, str (a whole unit)."""
        src, n = self.src, self.n
        while i < n:
            c = src[i]
            if c in "'\"":
                unit = self.unit(i, nested)
                units.append(unit)
                yield "str", i, unit.end
                i = unit.end
                continue
            j = _TOKEN.match(src, i).end()
            if c.isalnum() or c == "_":
                if j < n and src[j] in "'\"" and src[i:j].lower() in PREFIXES:
                    unit = self.unit(i, nested)
                    units.append(unit)
                    yield "str", i, unit.end
                    i = unit.end
                    continue
                kind = "name"
            elif c in " \t\f":
                kind = "ws"
            elif c in "\r\n":
                kind = "nl"
            elif c == "#":
                kind = "com"
            elif c == "\\":
                kind = "bs"
            else:
                kind = "op"
            yield kind, i, j
            i = j

    # ---- strings ---------------------------------------------------------------------------------------
    def unit(self, start: int, nested: bool) -> Unit:
        src, gap = self.src, _GAP_NESTED if nested else _GAP_FLAT
        pieces = [self.piece(start)]
        while True:
            g = gap.match(src, pieces[-1].end).end()
            m = _STRING_START.match(src, g)
            if m is None or m.group(1).lower() not in PREFIXES:
                return Unit(pieces)
            pieces.append(self.piece(g))

    def piece(self, start: int):
        src = self.src
        q = start
        while src[q] not in "'\"":
            q += 1
        prefix = src[start:q].lower()
        quote = src[q] * 3 if src.startswith(src[q] * 3, q) else src[q]
        body = q + len(quote)
        if "f" not in prefix and "t" not in prefix:
            m = _BODY[quote].match(src, body)
            if m is None:
                raise Unreadable("unterminated string")
            return Plain(start, m.end())
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise Unreadable("f-strings nested too deeply")
        fs = FString(start, quote, "r" in prefix, "t" in prefix)
        end = self.fparts(fs, fs.parts, body, 0)
        fs.end = end + len(quote)
        self.nesting -= 1
        return fs

    def fparts(self, fs: FString, parts: list, i: int, spec: int) -> int:
        """Literal spans and fields from `i` up to the closing quote (or, in a format spec, the `}`)."""
        src, n, quote = self.src, self.n, fs.quote
        literal = _LITERAL[quote]
        lit = i
        while True:
            m = literal.match(src, i)
            if m:
                i = m.end()
            if i >= n:
                raise Unreadable("unterminated f-string")
            c = src[i]
            if c == "\\":
                nxt = src[i + 1:i + 2]
                if not fs.raw and nxt == "N" and src.startswith("{", i + 2):
                    close = src.find("}", i + 3, i + 200)
                    if close < 0:
                        raise Unreadable("bad \\N escape")
                    i = close + 1
                elif nxt in ("{", "}"):
                    i += 1
                elif nxt == "\r" and src.startswith("\n", i + 2):
                    i += 3
                else:
                    i += 2
            elif c == "{" and src.startswith("{", i + 1):
                i += 2
            elif c == "{":
                if i > lit:
                    parts.append((lit, i))
                i = self.field(fs, parts, i, spec)
                lit = i
            elif c == "}":
                if spec:
                    break
                if not src.startswith("}", i + 1):
                    raise Unreadable("single } in f-string")
                i += 2
            elif src.startswith(quote, i):
                if spec:
                    raise Unreadable("f-string ends inside a format spec")
                break
            elif c in "\r\n":
                raise Unreadable("newline in a single-quoted f-string")
            else:
                i += 1  # one quote character of a triple-quoted string
        if i > lit:
            parts.append((lit, i))
        return i

    def field(self, fs: FString, parts: list, i: int, spec: int) -> int:
        src, f = self.src, Field(i)
        parts.append(f)
        depth, stop, comments = 0, None, []
        for kind, a, b in self.tokens(i + 1, f.units, nested=True):
            if kind == "com":
                comments.append((a, b))
            elif kind == "op":
                c = src[a]
                if c in _OPEN:
                    depth += 1
                elif c in _CLOSE:
                    if depth == 0:
                        if c == "}":
                            stop = (c, a, b)
                            break
                        raise Unreadable("unbalanced field")
                    depth -= 1
                elif depth == 0 and c in "!:=" and (b == a + 1 or c == ":"):
                    stop = (c, a, a + 1)
                    break
        if stop is None:
            raise Unreadable("unterminated field")
        c, a, b = stop
        f.expr_end = a
        if c == "=":
            f.debug_end = _GAP_NESTED.match(src, b).end()
            comments.extend(m.span() for m in _COMMENT.finditer(src, b, f.debug_end))
            text, at = [], f.expr_start
            for x, y in comments:  # the text shown by `=` is the source without its comments
                text.append(src[at:x])
                at = y
            text.append(src[at:f.debug_end])
            f.debug = _NEWLINE.sub("\n", "".join(text))
            c, a = src[f.debug_end:f.debug_end + 1], f.debug_end
            b = a + 1
        if c == "!":
            m = _WORD.match(src, b)
            if m is None:
                raise Unreadable("bad conversion")
            f.conversion = m.group()
            a = _BLANK.match(src, m.end()).end()
            c, b = src[a:a + 1], a + 1
        if c == ":":
            f.spec, f.spec_start = [], a
            b = self.fparts(fs, f.spec, b, spec + 1)
            c = src[b:b + 1]
            b += 1
        if c != "}":
            raise Unreadable("field not closed")
        f.end = b
        text = src[f.expr_start:f.expr_end]
        if not fs.new and (spec > 1 or "\\" in text or "#" in text or fs.quote in text
                           or (len(fs.quote) == 1 and ("\n" in text or "\r" in text))
                           or any(u.new for u in f.units)):
            fs.new = True
        return b
