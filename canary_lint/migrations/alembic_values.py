"""Values of the static Alembic reader: the unknown, markers for `op`, the bind, dialects, tables and
SQLAlchemy expressions, and small AST helpers."""

from __future__ import annotations

import ast
from dataclasses import dataclass

class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class _Marker:
    kind: str  # op | bind | context | batch | table | sa_expr | session
    value: object = None


OP = _Marker("op")


BIND = _Marker("bind")


CONTEXT = _Marker("context")


def _lit(node: ast.AST):
    """Literal value of a module-level constant expression, or UNKNOWN."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN


def _span(node: ast.AST) -> tuple[int, int, int, int]:
    return (node.lineno, node.col_offset + 1, getattr(node, "end_lineno", None) or node.lineno,
            (getattr(node, "end_col_offset", None) or node.col_offset) + 1)


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    return ".".join(reversed(parts))


def _known(v) -> bool:
    if v is UNKNOWN or isinstance(v, _Marker):
        return False
    if isinstance(v, (list, tuple)):
        return all(_known(x) for x in v)
    return True
