"""What the readers of newer Python share: the `ast` nodes our Python lacks, a quiet `ast.parse`, literal
parts merged as `ast` merges them, offsets turned into `ast` positions (1-based lines, byte columns),
spans blanked in place, and what `pyscan` finds in a string expression."""

from __future__ import annotations

import ast
import bisect
import re
import warnings

NEWLINE = re.compile(r"\r\n|\r|\n")
_BLANKS = re.compile(r"[ \t\f]+")
TOKENIZE_BLANKS = 256


def stalls_tokenize(source: str) -> bool:
    """Would the `tokenize` module of our Python take quadratic time on `source`? Before a character no token
    starts with (or a quote it cannot close) it backtracks over the whole run of blanks, once per blank: 8,000
    spaces and a `!` took 37 s. No Python reads such a run outside a string; callers judge the source without
    the tokenizer (each run is matched once here)."""
    for m in _BLANKS.finditer(source):
        if m.end() - m.start() >= TOKENIZE_BLANKS:
            after = source[m.end():m.end() + 1]
            if after and not (after.isalnum() or after in "_\r\n#"):
                return True
    return False


def _node(name: str, fields: tuple, base):
    real = getattr(ast, name, None)
    if real is not None:
        return real
    return type(name, (base,), {"_fields": fields, "__doc__": f"`ast.{name}` of newer Pythons."})


TypeAlias = _node("TypeAlias", ("name", "type_params", "value"), ast.stmt)
TemplateStr = _node("TemplateStr", ("values",), ast.expr)
Interpolation = _node("Interpolation", ("value", "str", "conversion", "format_spec"), ast.expr)


# On a syntax error CPython reads the offending line from the file *named* `filename` (relative to the process's
# working directory, not the checked tree) before it falls back to the source string: a v1 file parsed under
# its path would read v2's file of that name, `check --example` a file of the user's directory. A name under
# /dev/null names no file, so the line always comes from `source`; SyntaxError.filename is the path again.
NO_FILE = "/dev/null/"


def ast_parse(source: str, path: str, mode: str = "exec"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source, filename=NO_FILE + path, mode=mode)
        except SyntaxError as exc:
            if isinstance(exc.filename, str) and exc.filename.startswith(NO_FILE):
                exc.filename = exc.filename[len(NO_FILE):]
            raise


def merge(values: list) -> list:
    """Adjacent literal parts joined and empty ones dropped, as `ast` does."""
    out = []
    for v in values:
        if isinstance(v, ast.Constant):
            if v.value == "":
                continue
            if out and isinstance(out[-1], ast.Constant):
                out[-1].value += v.value
                out[-1].end_lineno, out[-1].end_col_offset = v.end_lineno, v.end_col_offset
                continue
        out.append(v)
    return out


class Lines:
    """Offsets in `source` as `ast` positions. On a line that is not ASCII the byte column is counted
    on from the last one asked for on that line, so asking along a long line stays linear."""

    def __init__(self, source: str):
        self.source = source
        self.starts = [0] + [m.end() for m in NEWLINE.finditer(source)]
        self._last: dict = {}
        self._ascii = source.isascii()

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        start = self.starts[line - 1]
        if self._ascii:
            return line, offset - start
        last = self._last.get(line)
        if last is None:
            end = self.starts[line] if line < len(self.starts) else len(self.source)
            last = self._last[line] = (start, 0, self.source[start:end].isascii())
        at, col, ascii_ = last
        if ascii_:
            return line, offset - start
        if offset < at:
            at, col = start, 0
        col += len(self.source[at:offset].encode("utf-8"))
        self._last[line] = (offset, col, False)
        return line, col

    def locate(self, node, start: int, end: int):
        node.lineno, node.col_offset = self.position(start)
        node.end_lineno, node.end_col_offset = self.position(end)
        return node


def blank(text: str, continued: bool) -> str:
    """`text` blanked: same lines, same UTF-8 length per line; with `continued`, a backslash ends every
    line but the last (the span sits outside brackets)."""
    lines = NEWLINE.split(text)
    ends = NEWLINE.findall(text)
    out = []
    for i, line in enumerate(lines):
        spaces = " " * len(line.encode("utf-8"))
        if continued and i < len(ends):
            spaces = spaces[:-1] + "\\" if spaces else "\\"
        out.append(spaces + (ends[i] if i < len(ends) else ""))
    return "".join(out)


class Plain:
    __slots__ = ("end", "start")

    def __init__(self, start: int, end: int):
        self.start, self.end = start, end


class FString:
    """An f-string (or 3.14 t-string): `parts` are `(start, end)` literal spans and `Field`s."""

    __slots__ = ("end", "new", "parts", "quote", "raw", "start", "template")

    def __init__(self, start, quote, raw, template):
        self.start, self.end, self.quote, self.raw, self.template = start, start, quote, raw, template
        self.parts: list = []
        self.new = template


class Field:
    """`{expr=!c:spec}`: `start`/`end` include the braces; `spec` is a list of parts or None."""

    __slots__ = (
        "conversion",
        "debug",
        "debug_end",
        "end",
        "expr_end",
        "expr_start",
        "spec",
        "spec_start",
        "start",
        "units",
    )

    def __init__(self, start):
        self.start = start
        self.end = self.expr_start = self.expr_end = start + 1
        self.debug_end = self.debug = self.conversion = self.spec = self.spec_start = None
        self.units: list = []


class Unit:
    """One string expression: adjacent literals, plain and formatted."""

    __slots__ = ("end", "new", "pieces", "start")

    def __init__(self, pieces: list):
        self.pieces = pieces
        self.start, self.end = pieces[0].start, pieces[-1].end
        self.new = any(getattr(p, "new", False) for p in pieces)
