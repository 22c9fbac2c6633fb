"""The values the resolver deals in: the unknown, several choices, markers, and the budget."""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass, field

from canary_lint import pyast

class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()
SCOPE = "\0scope"  # env key: the module a function body is evaluated in
ORIGIN = "\0origin:"  # env key prefix: what computed an unknown local
MAX_CHOICES = 16


@dataclass(frozen=True)
class OneOf:
    """One of several known values (the branches of a conditional)."""

    choices: tuple

    @staticmethod
    def of(values) -> object:
        out: list = []
        for v in values:
            for c in (v.choices if isinstance(v, OneOf) else (v,)):
                if c is UNKNOWN:
                    return UNKNOWN
                if c not in out:
                    out.append(c)
        if len(out) > MAX_CHOICES:
            return UNKNOWN
        return out[0] if len(out) == 1 else OneOf(tuple(out))


class Bound(Exception):
    """An evaluation budget ran out; the message names the bound."""


class TooLarge(Bound):
    """One value would outgrow the size bound (`'%1500000000d' % 1`, `s += s` in a loop): that value is
    unknown, the rest of the code is still read."""


@dataclass
class Budget:
    """The work one evaluation may do (steps, helper calls, seconds, sizes); past it the evaluation stops (Bound)."""

    steps: int = 300_000
    calls: int = 3_000
    seconds: float = 3.0
    max_str: int = 1_000_000
    max_items: int = 20_000
    used_steps: int = 0
    used_calls: int = 0
    started: float = field(default_factory=time.monotonic)

    def tick(self) -> None:
        self.used_steps += 1
        if self.used_steps > self.steps:
            raise Bound(f"more than {self.steps:,} evaluation steps")
        if not self.used_steps & 1023 and time.monotonic() - self.started > self.seconds:
            raise Bound(f"more than {self.seconds:g} s of evaluation")

    def call(self) -> None:
        self.used_calls += 1
        if self.used_calls > self.calls:
            raise Bound(f"more than {self.calls:,} helper calls")

    def sized(self, value):
        """`value` when within the size bounds, else Bound (a `'%1500000000d'` or `s += s` loop)."""
        if isinstance(value, str) and len(value) > self.max_str:
            raise TooLarge(f"a string over {self.max_str:,} characters")
        if isinstance(value, (list, tuple, dict)) and len(value) > self.max_items:
            raise TooLarge(f"a collection over {self.max_items:,} items")
        return value


def literal(node: ast.AST):
    """The literal value of a constant expression, or UNKNOWN (bounded: no 4300-digit integers)."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN


def known(v) -> bool:
    if v is UNKNOWN or isinstance(v, (OneOf, Marker)):
        return False
    if isinstance(v, (list, tuple)):
        return all(known(x) for x in v)
    return True


@dataclass(frozen=True)
class Marker:
    """A value that is not data: a function, a class, a module, or a reader's own object (`op`, a table)."""

    kind: str
    value: object = None


def dotted(node: ast.AST) -> str:
    """`a.b.c`; a call in the chain as `f()` (`op.get_bind().dialect`); "" for anything else."""
    plain = pyast.dotted(node)
    if plain is not None:
        return plain
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    if isinstance(node, ast.Call):
        return dotted(node.func) + "()"
    return ""


_WIDE = re.compile(r"%[-+ #0]{0,5}[0-9]{7}|\{[^{}:]{0,100}:[^{}0-9]{0,10}[0-9]{7}")


def wide_format(template: str) -> bool:
    """Does a %- or {}-format ask for a field width beyond any real SQL (`'%1500000000d'`)?"""
    return _WIDE.search(template) is not None
