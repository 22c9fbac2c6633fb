"""What a schema comparison yields (`Change`), its two directions, and how values read in its messages."""

from __future__ import annotations

from dataclasses import dataclass

from canary_lint.model import literal_text
from canary_lint.openapi.refs import Loc

REQ, RESP = "request", "response"


@dataclass(frozen=True)
class Change:
    code: str
    rel: tuple  # path segments below the compared schema ("name", "[]", "*", "oneOf[…]")
    side: str  # "base" (the location is in v1's spec) or "head"
    loc: Loc
    detail: str  # completes "<subject> …" (says what v1 clients suffer)
    severity: str | None = None  # None: the rule's default

    def under(self, seg: str) -> "Change":
        return Change(self.code, (seg, *self.rel), self.side, self.loc, self.detail, self.severity)


def fmt_types(types: frozenset | None) -> str:
    return "any" if types is None else "|".join(sorted(types)) or "nothing"


def count_items(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"at least {lo} item{'s' if lo != 1 else ''}"
    if not lo:
        return f"at most {hi} item{'s' if hi != 1 else ''}"
    return f"{lo} to {hi} items"


def show(value) -> str:
    """A bound or a multipleOf in a message; a decimal past float range (read as JSON readers read it) is said
    to be one, not shown as a bare `inf`."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return f"{show(value[0])}{' (exclusive)' if value[1] else ''}"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return f"{'-' if value < 0 else ''}inf (a number past float range)"
    return literal_text(value, 60)


def show_content(content: tuple) -> str:
    media, encoding = (x if x is None or isinstance(x, str) else literal_text(x, 60) for x in content)
    return " ".join(x for x in (media, f"({encoding})" if encoding else None) if x) or "plain"


def show_values(values) -> str:
    vals = list(values)
    shown = ", ".join(f"`{literal_text(v, 60)}`" for v in vals[:5])
    return shown + (f" and {len(vals) - 5} more" if len(vals) > 5 else "")
