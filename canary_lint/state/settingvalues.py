"""The effective value of a setting written in Python, with the environment unset.

Module-level and class-level assignments, and `os.getenv`/`os.environ.get` defaults, are resolved; an `if` on
an environment variable is decided for the case where the variable is unset, and the variables that would
change the value are kept (`Setting.switches`) so a finding can name them ("safe when CACHE_URL is set").
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.state.envs import const_str, dotted, env_read

UNKNOWN = object()


@dataclass
class Setting:
    node: ast.AST  # where the effective value is written
    value: object  # Python constant, an ast node (dict literal, call) or UNKNOWN
    switches: tuple[str, ...] = ()  # env variables that change it


@dataclass
class Branches:
    """The value of a setting an `if` the reader cannot decide writes in one branch or both: the setting
    when the test holds and when it does not (None: not set on that side)."""
    test: ast.AST
    taken: "Setting | None"
    other: "Setting | None"


def eval_test(test: ast.AST, switches: list[str]):
    """Truth of an `if` test with every environment variable unset; UNKNOWN when it depends on anything else."""
    read = env_read(test)
    if read:
        switches.append(read[0])
        default = read[1]
        if default is None:
            return False
        return bool(default.value) if isinstance(default, ast.Constant) else UNKNOWN
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = eval_test(test.operand, switches)
        return UNKNOWN if inner is UNKNOWN else not inner
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, right = test.ops[0], test.comparators[0]
        if isinstance(op, (ast.In, ast.NotIn)) and dotted(right) in ("os.environ", "environ"):
            name = const_str(test.left)
            if name:
                switches.append(name)
                return isinstance(op, ast.NotIn)
        left = env_read(test.left)
        if left and isinstance(right, ast.Constant) and isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)):
            switches.append(left[0])
            value = left[1].value if isinstance(left[1], ast.Constant) else None if left[1] is None else UNKNOWN
            if value is UNKNOWN:
                return UNKNOWN
            same = value == right.value
            return same if isinstance(op, (ast.Eq, ast.Is)) else not same
    if isinstance(test, ast.BoolOp):
        values = [eval_test(v, switches) for v in test.values]
        if any(v is UNKNOWN for v in values):
            return UNKNOWN
        return all(values) if isinstance(test.op, ast.And) else any(values)
    return UNKNOWN


def resolve(value: ast.AST, switches: list[str]):
    """A constant for a constant or an env read with a constant default; the node itself otherwise."""
    if isinstance(value, ast.Constant):
        return value.value
    read = env_read(value)
    if read:
        switches.append(read[0])
        return resolve(read[1], switches) if read[1] is not None else None
    if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or):
        for v in value.values:
            r = resolve(v, switches)
            if r is UNKNOWN:
                return UNKNOWN
            if r:
                return r
        return None
    if isinstance(value, (ast.Dict, ast.Call, ast.Name, ast.Attribute)):
        return value
    return UNKNOWN


def module_settings(body: list[ast.stmt], keys: set[str], branches: bool = False,
                    untaken: dict | None = None) -> dict[str, Setting]:
    """The effective value of each module-level (or class-level) `KEY = …` with the environment unset.

    An `if` that cannot be decided makes the values it writes UNKNOWN, or, with `branches`, a Branches of
    the value on each side. A key an `if` on an environment variable writes only in the branch not taken gets
    that variable among its switches (in `untaken` when the key is not set at all)."""
    found: dict[str, Setting] = {}

    def visit(stmts, switches, certain):
        for stmt in stmts:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t in targets:
                    if isinstance(t, ast.Name) and t.id in keys:
                        sw = list(switches)
                        value = resolve(stmt.value, sw) if certain else UNKNOWN
                        found[t.id] = Setting(stmt, value, tuple(sw))
            elif isinstance(stmt, ast.If):
                sw = list(switches)
                truth = eval_test(stmt.test, sw)
                if truth is UNKNOWN and branches and certain:
                    both(stmt, sw)
                elif truth is UNKNOWN:
                    visit(stmt.body, sw, False)
                    visit(stmt.orelse, sw, False)
                else:
                    visit(stmt.body if truth else stmt.orelse, sw, certain)  # the branch taken with no env set
                    extra = tuple(n for n in sw if n not in switches)
                    for key in _written(stmt.orelse if truth else stmt.body, keys) if extra else ():
                        if key in found:
                            f = found[key]
                            found[key] = Setting(f.node, f.value, tuple(dict.fromkeys((*f.switches, *extra))))
                        elif untaken is not None:
                            untaken[key] = tuple(dict.fromkeys((*untaken.get(key, ()), *extra)))
            elif isinstance(stmt, ast.Try):
                visit(stmt.body, switches, certain)
                for handler in stmt.handlers:
                    visit(handler.body, switches, False)
                visit(stmt.orelse, switches, certain)
                visit(stmt.finalbody, switches, certain)

    def both(stmt: ast.If, switches):
        before = dict(found)
        visit(stmt.body, switches, True)
        taken = dict(found)
        found.clear()
        found.update(before)
        visit(stmt.orelse, switches, True)
        for key in set(taken) | set(found):
            a, b = taken.get(key), found.get(key)
            if a is not b:
                node = (a or b).node
                found[key] = Setting(node, Branches(stmt.test, a, b), tuple(switches))

    visit(body, [], True)
    return found


def _written(stmts: list[ast.stmt], keys: set[str]) -> set[str]:
    """Keys a block assigns at its own level or in nested `if`/`try` blocks."""
    out: set[str] = set()
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                out.update(t.id for t in targets if isinstance(t, ast.Name) and t.id in keys)
    return out
