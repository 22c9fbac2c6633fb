"""Small readers of stdlib `ast` nodes shared by the Python analyzers."""

from __future__ import annotations

import ast
import bisect
import copy
import functools
import itertools
import weakref
from collections import deque

from canary_lint.model import hex_long_ints


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def call_name(node: ast.AST) -> str:
    """The last name of what is called (`models.CharField(...)` -> "CharField"), or of a Name/Attribute."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def const_str(node: ast.AST | None) -> str | None:
    """The value of a string literal, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def source_of(node: ast.AST, limit: int | None = 60) -> str:
    """`ast.unparse(node)` (its first `limit` characters) for a message, or "…" for what it cannot print: a
    nesting deeper than its recursion (`- - - … x`, which our parser still reads) or an int past Python's
    4,300-digit printing limit."""
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError, MemoryError):
        return "…"
    return text if limit is None else text[:limit]


def per_node(question):
    """`question(node)` answered once per node while its tree lives (a tree read again, e.g. a helper's body for
    each revision that calls it, asks again). The memo holds no tree alive as long as an answer holds no
    reference to its node (children are fine: they do not point back)."""
    memo: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @functools.wraps(question)
    def ask(node: ast.AST):
        try:
            return memo[node]
        except KeyError:
            answer = memo[node] = question(node)
            return answer
    return ask


@per_node
def brief_source(node: ast.AST) -> str:
    """The source of `node` for a message: at most 60 characters, "..." ending a longer one."""
    text = source_of(node, None)
    return text if len(text) <= 60 else text[:57] + "..."


def dump_of(node: ast.AST) -> str:
    """`ast.dump(node)`, to compare two expressions, for any node the parser gives: an int constant past
    Python's 4,300-digit printing limit is dumped as its hex text, a nesting deeper than `ast.dump`'s recursion
    as "…"."""
    try:
        return ast.dump(node)
    except ValueError:
        node = copy.deepcopy(node)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant):
                sub.value = hex_long_ints(sub.value)
        return ast.dump(node)
    except (RecursionError, MemoryError):
        return "…"


def where(node: ast.AST) -> dict:
    """A node's place as the keywords of ReleaseContext.finding (1-based columns)."""
    line = getattr(node, "lineno", 1)
    col = getattr(node, "col_offset", 0)
    end_col = getattr(node, "end_col_offset", None)
    return dict(line=line, column=col + 1, end_line=getattr(node, "end_lineno", None) or line,
                end_column=(end_col if end_col is not None else col) + 1)


_SKIP = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_LEAVES = (ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.operator, ast.cmpop, ast.boolop, ast.unaryop)


def _push_children(node: ast.AST, push, skip: tuple = ()) -> None:
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for child in value:
                if isinstance(child, ast.AST) and not isinstance(child, skip):
                    push(child)
        elif isinstance(value, ast.AST) and not isinstance(value, skip):
            push(value)


def all_nodes(node: ast.AST):
    """`ast.walk(node)`, listed once per node (for the methods and modules several readers walk)."""
    return itertools.chain((node,), _below(node))


@per_node
def _below(node: ast.AST) -> tuple:
    walk = ast.walk(node)
    next(walk)  # the node itself: an answer that held it would keep its tree alive in the weak memo
    return tuple(walk)


def walk_body(func: ast.AST):
    """ast.walk over a function body without entering nested functions or classes (the nodes are listed once
    per function: the handler, disk, memory and websocket readers each walk the same bodies)."""
    return iter(_body_nodes(func) if isinstance(getattr(func, "body", None), list) else _nodes_from([func]))


@per_node
def _body_nodes(func: ast.AST) -> tuple:
    return _nodes_from(list(func.body))  # the body's nodes, not `func`: see per_node


def _nodes_from(stack: list) -> tuple:
    out = []
    pop, push, keep = stack.pop, stack.append, out.append
    while stack:
        node = pop()
        keep(node)
        if not isinstance(node, _LEAVES):
            _push_children(node, push, _SKIP)
    return tuple(out)


def on_lines(node: ast.AST, lines: list[int]) -> bool:
    """Do the lines of `node` include one of `lines` (sorted)? A node without a position: yes."""
    first = getattr(node, "lineno", None)
    if first is None:
        return True
    i = bisect.bisect_left(lines, first)
    return i < len(lines) and lines[i] <= (getattr(node, "end_lineno", None) or first)


def walk_lines(tree: ast.AST, lines: list[int]):
    """The nodes of `tree` whose lines include one of `lines` (sorted), entering only such nodes: a text search
    names the lines, and the walk skips the rest of the file."""
    stack = [tree]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if not on_lines(node, lines):
            continue
        yield node
        if not isinstance(node, _LEAVES):
            _push_children(node, push)


def match_lines(text: str, matches) -> list[int]:
    """The line numbers (sorted) of regex matches of `text`, found in one pass."""
    out, line, at = [], 1, 0
    for m in matches:
        line += text.count("\n", at, m.start())
        at = m.start()
        out.append(line)
    return out


@functools.lru_cache(maxsize=4096)
def line_starts(text: str) -> list[int]:
    """Offset of the first character of each line of `text` (cached: one table per text)."""
    starts = [0]
    find = text.find
    pos = find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)
    return starts


def mentions(text: str, starts: list[int], node: ast.AST, names) -> bool:
    """Does the source of `node` contain one of `names`? (a substring test that skips most functions)"""
    lo = starts[node.lineno - 1] if node.lineno - 1 < len(starts) else 0
    end = node.end_lineno or node.lineno
    hi = starts[end] if end < len(starts) else len(text)
    segment = text[lo:hi]
    return any(n in segment for n in names)


# the fields of a node that hold statements; statements sit nowhere else (never inside an expression)
_BODY_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_STATEMENT_FIELDS: dict = {}


def _statement_fields(kind: type) -> tuple:
    fields = _STATEMENT_FIELDS.get(kind)
    if fields is None:
        is_block = issubclass(kind, (ast.stmt, ast.Module, ast.excepthandler, ast.match_case))
        fields = _STATEMENT_FIELDS[kind] = tuple(f for f in kind._fields if f in _BODY_FIELDS) if is_block else ()
    return fields


def statements(node: ast.AST):
    """`ast.walk(node)` without the expressions: the statements under `node` in the same (breadth-first) order
    (except handlers and match cases included), at a fraction of the nodes; listed once per node."""
    return itertools.chain((node,), _statements_below(node))


@per_node
def _statements_below(root: ast.AST) -> tuple:
    out = []
    todo = deque([root])
    pop, extend, keep = todo.popleft, todo.extend, out.append
    while todo:
        node = pop()
        for field in _statement_fields(type(node)):
            block = getattr(node, field, None)
            if block:
                extend(block)
        if node is not root:  # not kept: see per_node
            keep(node)
    return tuple(out)
