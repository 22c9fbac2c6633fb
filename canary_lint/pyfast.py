"""Newer Python read without libcst: the scan's edits applied, then one `ast.parse` of the result.

`rewrite(source, path)` applies what `pyscan.scan` found (a `type` statement becomes an assignment, a
type-parameter list is blanked, an `except A, B:` tuple gains parentheses) and puts a placeholder name of
the same width in place of each string only a newer Python reads. After the parse, each placeholder is
replaced by the `JoinedStr`/`TemplateStr` a newer `ast` builds, its parts at their own positions, each
field's expression parsed at its place; assignments from `type` become `TypeAlias`, and the except tuple
spans its elements. A string the scan thought readable that our parser still refuses is put aside the
same way, a bounded number of times. Returns None when the scan cannot follow the source; raises
SyntaxError or ValueError when the rewrite does not parse (the caller then asks libcst).
"""

from __future__ import annotations

import ast
import re
import warnings

from canary_lint.pyscan import scan
from canary_lint.pysyntax import (
    NEWLINE,
    Field,
    FString,
    Interpolation,
    Lines,
    Plain,
    TemplateStr,
    TypeAlias,
    Unit,
    ast_parse,
    blank,
    merge,
)

MAX_RETRIES = 8
_ESCAPE_OR_QUOTE = re.compile(r'\\[\s\S]|"')
_TRAILING_BACKSLASHES = re.compile(r"\\+\Z")


def rewrite(source: str, path: str) -> ast.Module | None:
    found = scan(source)
    if found is None:
        return None
    return _Rewrite(source, path, found).module()


class _Rewrite:
    def __init__(self, source: str, path: str, found):
        self.src, self.path, self.found = source, path, found
        self.lines = Lines(source)

    # ---- the module --------------------------------------------------------------------------------
    def module(self) -> ast.Module:
        found = self.found
        blanked = sorted(found.blanked)
        units = [u for u in found.units if not _inside(u.start, blanked)]
        tree = self.parse_region(0, len(self.src), units, list(found.edits), "exec")
        if found.shifts:
            self.shift(tree, found.shifts)
        aliases = {self.lines.position(a): (b, c) for a, b, c in found.aliases}
        excepts = {self.lines.position(a) for a in found.excepts}
        for body, i, node in _statements(tree.body) if aliases or excepts else ():
            key = (node.lineno, node.col_offset)
            if isinstance(node, ast.Assign) and key in aliases and len(node.targets) == 1:
                body[i] = self.alias(node, *aliases.pop(key))
            elif isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple) and node.type.elts:
                t = node.type
                if (t.lineno, t.col_offset) in excepts:
                    _span(t, t.elts[0], t.elts[-1])
        if aliases:
            raise ValueError("type statement lost")
        return tree

    def parse_region(self, start: int, end: int, units: list, edits: list, mode: str):
        """source[start:end] parsed at its place, each string in `units` that needs it built apart."""
        candidates = [u for u in units if any(isinstance(p, FString) for p in u.pieces)]
        holes = [u for u in candidates if u.new]
        for _ in range(MAX_RETRIES):
            text = self.splice(start, end, edits + [self.placeholder(u) for u in holes])
            try:
                tree = self.parse_text(start, text, mode)
                break
            except SyntaxError as err:
                line = (err.lineno or 0) if mode == "exec" else (err.lineno or 0) + self.lines.line(start) - 1
                more = [u for u in candidates if u not in holes and
                        self.lines.line(u.start) <= line <= self.lines.line(u.end)]
                if not more:
                    raise
                holes.extend(more)
        else:
            raise SyntaxError("too many strings for this Python")
        root = tree if mode == "exec" else ast.Expression(body=tree)
        if holes:
            at = {}
            for u in holes:
                line, col = self.lines.position(u.start)
                at[(line, col + 1)] = u  # the name stands after the placeholder's `(`
            for parent, name, index, node in _nodes(root):
                if isinstance(node, ast.Name) and not node.id.strip("_"):
                    u = at.pop((node.lineno, node.col_offset), None)
                    if u is not None:
                        _put(parent, name, index, self.build(u))
            if at:
                raise ValueError("placeholder lost")
        return tree if mode == "exec" else root.body

    def parse_text(self, start: int, text: str, mode: str):
        if mode == "exec":
            return ast_parse(text, self.path)
        line, col = self.lines.position(start)
        node = ast_parse("(" + text + "\n)", self.path, "eval").body
        for n in ast.walk(node):  # from line 1, column 1 to where the text stands
            if "lineno" in n._attributes:
                if n.lineno == 1:
                    n.col_offset += col - 1
                if n.end_lineno == 1:
                    n.end_col_offset += col - 1
                n.lineno += line - 1
                n.end_lineno += line - 1
        if isinstance(node, ast.Tuple) and (node.lineno, node.col_offset) == (line, col - 1) and node.elts:
            _span(node, node.elts[0], node.elts[-1])  # our parenthesis is not the tuple's
        return node

    def splice(self, start: int, end: int, edits: list) -> str:
        out, at, src = [], start, self.src
        for a, b, new in sorted(edits, key=lambda e: (e[0], e[1])):
            if a < at:
                raise ValueError("overlapping rewrites")
            out.append(src[at:a])
            out.append(new)
            at = b
        out.append(src[at:end])
        return "".join(out)

    def placeholder(self, u: Unit) -> tuple:
        """`(___)` of the unit's width, line for line: the name stands where the string starts + 1."""
        text = self.src[u.start:u.end]
        lines = NEWLINE.split(text)
        if len(lines) == 1:
            width = len(text.encode("utf-8"))
            return u.start, u.end, "(" + "_" * (width - 2) + ")"
        first = len(lines[0].encode("utf-8"))
        rest = blank(text[len(lines[0]):], continued=False)
        return u.start, u.end, "(" + "_" * (first - 1) + rest[:-1] + ")"

    # ---- after the parse ---------------------------------------------------------------------------
    def alias(self, assign: ast.Assign, name_start: int, name_end: int) -> ast.stmt:
        name = self.lines.locate(ast.Name(id=assign.targets[0].id, ctx=ast.Store()), name_start, name_end)
        return ast.copy_location(TypeAlias(name=name, type_params=[], value=assign.value), assign)

    def shift(self, tree, shifts: list):
        """A character was inserted before each offset: what follows it on its line moves back."""
        by_line: dict = {}
        for offset, delta in shifts:
            line, col = self.lines.position(offset)
            by_line.setdefault(line, []).append((col, delta))
        for _, _, _, node in _nodes(tree):
            if "lineno" not in node._attributes:
                continue
            for col, delta in by_line.get(node.lineno, ()):
                if node.col_offset > col:
                    node.col_offset -= delta
            for col, delta in by_line.get(node.end_lineno, ()):
                if node.end_col_offset > col:
                    node.end_col_offset -= delta

    # ---- strings -----------------------------------------------------------------------------------
    def build(self, u: Unit) -> ast.expr:
        values, template = [], False
        for p in u.pieces:
            if isinstance(p, Plain):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    value = ast.literal_eval(self.src[p.start:p.end])
                if isinstance(value, bytes):
                    raise SyntaxError("cannot mix bytes and nonbytes literals")
                values.append(self.lines.locate(ast.Constant(value=value), p.start, p.end))
            else:
                template = template or p.template
                values.extend(self.parts(p, p.parts))
        node = (TemplateStr if template else ast.JoinedStr)(values=merge(values))
        return self.lines.locate(node, u.start, u.end)

    def parts(self, fs: FString, parts: list) -> list:
        values = []
        for part in parts:
            if not isinstance(part, Field):
                a, b = part
                values.append(self.lines.locate(ast.Constant(value=_literal(self.src[a:b], fs.raw)), a, b))
                continue
            f = part
            expr = self.parse_region(f.expr_start, f.expr_end, f.units, [], "eval")
            if f.conversion is not None and f.conversion not in ("r", "s", "a"):
                raise SyntaxError("f-string: invalid conversion character")
            conversion = ord(f.conversion) if f.conversion else -1
            if f.debug_end is not None:
                debug = ast.Constant(value=f.debug)
                values.append(self.lines.locate(debug, f.expr_start, f.debug_end))
                if conversion == -1 and f.spec is None:
                    conversion = ord("r")
            spec = None
            if f.spec is not None:
                spec = self.lines.locate(ast.JoinedStr(values=merge(self.parts(fs, f.spec))), f.spec_start, f.end - 1)
            if fs.template:
                text = self.src[f.expr_start:f.expr_end].strip()
                node = Interpolation(value=expr, str=text, conversion=conversion, format_spec=spec)
            else:
                node = ast.FormattedValue(value=expr, conversion=conversion, format_spec=spec)
            values.append(self.lines.locate(node, f.start, f.end))
        return values


def _literal(text: str, raw: bool) -> str:
    """The value of an f-string's literal part as written."""
    text = text.replace("{{", "{").replace("}}", "}")
    if "\r" in text:
        text = NEWLINE.sub("\n", text)
    if raw or "\\" not in text:
        return text
    tail = ""
    m = _TRAILING_BACKSLASHES.search(text)
    if m and len(m.group()) % 2:
        text, tail = text[:-1], "\\"  # a backslash before `{` stays a backslash
    quoted = _ESCAPE_OR_QUOTE.sub(lambda m: '\\"' if m.group() == '"' else m.group(), text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.literal_eval('"""' + quoted + '"""') + tail


def _inside(offset: int, spans: list) -> bool:
    return any(a <= offset < b for a, b in spans)


def _span(node, first, last):
    node.lineno, node.col_offset = first.lineno, first.col_offset
    node.end_lineno, node.end_col_offset = last.end_lineno, last.end_col_offset


def _statements(body: list):
    """(list, index, node) of every statement and except handler, nested ones too."""
    stack = [body]
    while stack:
        nodes = stack.pop()
        for i, node in enumerate(nodes):
            yield nodes, i, node
            for field in ("body", "orelse", "finalbody", "handlers"):
                sub = getattr(node, field, None)
                if isinstance(sub, list) and sub:
                    stack.append(sub)
            for case in getattr(node, "cases", ()):
                stack.append(case.body)


def _nodes(root):
    """(parent, field, index, node) of every node under `root`."""
    stack = [root]
    while stack:
        parent = stack.pop()
        for name, value in ast.iter_fields(parent):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        yield parent, name, i, item
                        stack.append(item)
            elif isinstance(value, ast.AST):
                yield parent, name, None, value
                stack.append(value)


def _put(parent, name: str, index, node):
    if index is None:
        setattr(parent, name, node)
    else:
        getattr(parent, name)[index] = node
