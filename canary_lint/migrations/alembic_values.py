"""Values of the static Alembic reader: markers for `op`, the bind and the migration context, on top of
the shared resolver's values (`canary_lint.resolver`), and the span of a node."""

from __future__ import annotations

import ast

from canary_lint import resolver

UNKNOWN = resolver.UNKNOWN
_Marker = resolver.Marker  # kinds: op | bind | context | batch | table | sa_expr | session | dialect | model
_lit = resolver.literal
_dotted = resolver.dotted
_known = resolver.known


OP = _Marker("op")


BIND = _Marker("bind")


CONTEXT = _Marker("context")


def _span(node: ast.AST) -> tuple[int, int, int, int]:
    return (node.lineno, node.col_offset + 1, getattr(node, "end_lineno", None) or node.lineno,
            (getattr(node, "end_col_offset", None) or node.col_offset) + 1)
