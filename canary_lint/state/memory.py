"""Module-level containers that handlers write and other handlers read back (CLS101). Files on a local disk
are `localdisk.py` (CLS107)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from canary_lint.pyast import dump_of, line_starts, mentions, walk_body
from canary_lint.state.envs import const_str, dotted
from canary_lint.state.handlers import Func, ModuleIndex

FACTORIES = {
    "dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque", "LRUCache", "TTLCache", "LFUCache",
    "MRUCache", "RRCache", "TLRUCache", "Cache", "ExpiringDict",
}
WRITE_ONLY = {"update", "append", "extend", "insert", "add", "discard", "remove", "clear", "appendleft",
              "extendleft", "difference_update", "intersection_update", "symmetric_difference_update",
              "__setitem__", "__delitem__"}
WRITE_READ = {"setdefault", "pop", "popitem", "popleft"}
IDENTITY_WORDS = ("user", "session", "sid", "token", "account", "login", "email", "cart", "client_id",
                  "principal", "member", "customer", "auth")


@dataclass
class Container:
    name: str
    kind: str
    node: ast.stmt
    switch: str = ""  # bound in the branch taken unless this holds ("WEBSOCKET_MANAGER=redis")


@dataclass
class Use:
    func: Func
    node: ast.AST
    write: bool
    key: ast.AST | None = None
    memo: bool = False  # `G[k] = v` in a function that looks `k` up first: a cache of derivable data
    len_only: bool = False  # bookkeeping read (`len(G)`, a membership test before evicting)
    in_test: bool = False


def _factory(value: ast.AST | None) -> str:
    if isinstance(value, ast.Dict):
        return "dict"
    if isinstance(value, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(value, (ast.Set, ast.SetComp)):
        return "set"
    if isinstance(value, ast.DictComp):
        return "dict"
    if isinstance(value, ast.Call):
        name = dotted(value.func).rsplit(".", 1)[-1]
        if name in FACTORIES:
            return name
    return ""


def _condition(test: ast.AST) -> tuple[str, bool] | None:
    """("NAME=value", True) for `NAME == "value"` (False for `!=`); ("NAME is set", True) for `if NAME:`."""
    from canary_lint.state.envs import env_read

    def name_of(node):
        read = env_read(node)
        return read[0] if read else dotted(node).rsplit(".", 1)[-1]

    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.NotEq)):
        left, right = test.left, test.comparators[0]
        value = const_str(right) if const_str(right) is not None else const_str(left)
        name = name_of(left if const_str(right) is not None else right)
        if name and value is not None:
            return f"{name}={value}", isinstance(test.ops[0], ast.Eq)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _condition(test.operand)
        return (inner[0], not inner[1]) if inner else None
    name = name_of(test)
    if name and name.isupper():
        return f"{name} is set", True
    return None


def module_containers(tree: ast.Module) -> dict[str, Container]:
    """Module-level names bound to a mutable container, also inside module-level if/else/try/with."""
    out: dict[str, Container] = {}
    rebound: set[str] = set()

    def visit(body, switch=""):
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                kind = _factory(stmt.value)
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        if kind:
                            out.setdefault(target.id, Container(target.id, kind, stmt, switch))
                        else:
                            rebound.add(target.id)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                kind = _factory(stmt.value)
                if kind:
                    out.setdefault(stmt.target.id, Container(stmt.target.id, kind, stmt, switch))
                elif stmt.value is not None:
                    rebound.add(stmt.target.id)
            elif isinstance(stmt, ast.If):
                cond = _condition(stmt.test)
                visit(stmt.body, cond[0] if cond and not cond[1] else switch)
                visit(stmt.orelse, cond[0] if cond and cond[1] else switch)
            elif isinstance(stmt, (ast.Try, ast.With, ast.AsyncWith)):
                for sub in ("body", "orelse", "finalbody"):
                    visit(getattr(stmt, sub, []) or [], switch)
                for handler in getattr(stmt, "handlers", []) or []:
                    visit(handler.body, switch)

    visit(tree.body)
    for name in rebound:  # bound to something else too (e.g. `X = None` then `X = {}`): not sure, stay quiet
        if name in out and not _factory(getattr(out[name].node, "value", None)):
            if out[name].switch:
                continue  # a shared store in the other branch (`RedisDict(...)`): the switch is named
            del out[name]
    return out


_MUTATORS = ("append|add|update|setdefault|pop|extend|insert|clear|remove|discard|appendleft|popitem|popleft|"
             "extendleft|difference_update|intersection_update|symmetric_difference_update|__setitem__|__delitem__")


_WRITE_AFTER = re.compile(rf"\s*(?:\[[^\n]*?\]\s*(?:[-+|&*]?=(?!=)|\.\w+\()|\.(?:{_MUTATORS})\()")


def written_in_text(text: str, names) -> set[str]:
    """Containers whose name the text shows being written (`G[k] = `, `G.append(`, `del G[`, `global G`):
    a cheap filter before any function is walked."""
    out: set[str] = set()
    for name in names:
        idx = text.find(name)
        while idx >= 0:
            end = idx + len(name)
            before = text[idx - 1] if idx else " "
            after = text[end] if end < len(text) else " "
            if not (before.isalnum() or before in "_.") and not (after.isalnum() or after == "_"):
                if _WRITE_AFTER.match(text, end):
                    out.add(name)
                    break
                prefix = text[text.rfind("\n", 0, idx) + 1:idx].lstrip()
                if prefix.startswith(("del ", "global ")):
                    out.add(name)
                    break
            idx = text.find(name, end)
    return out


def _locals(func: ast.AST, nodes=None) -> tuple[set[str], set[str]]:
    """(names bound locally, names declared global) in a function, not descending into nested functions."""
    bound: set[str] = set()
    declared: set[str] = set()
    args = func.args
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if a is not None:
            bound.add(a.arg)
    for node in nodes if nodes is not None else walk_body(func):
        if isinstance(node, ast.Global):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    return bound - declared, declared


def _base_name(node: ast.AST) -> str:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def function_uses(func: Func, names: set[str]) -> list[Use]:
    """Reads and writes of the module containers `names` inside one function."""
    nodes = list(walk_body(func.node))
    local, declared = _locals(func.node, nodes)
    watched = (names - local) | (names & declared)
    if not watched:
        return []
    uses: list[Use] = []
    consumed: set[int] = set()  # Name nodes that are the base of a pure write
    read_keys: dict[str, set[str]] = {}
    len_calls: set[int] = set()
    name_keys: dict[int, ast.AST] = {}  # id(Name read) -> the key it is read with
    in_tests: set[int] = set()  # Name reads that are only `k in G`
    discarded = {id(n.value) for n in nodes if isinstance(n, ast.Expr)}  # calls whose result is unused
    for node in nodes:
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, ast.Subscript) and _base_name(target) in watched:
                    base = target
                    while isinstance(base, (ast.Subscript, ast.Attribute)):
                        base = base.value
                    if not isinstance(node, ast.AugAssign):
                        consumed.add(id(base))
                    key = target.slice if isinstance(target.value, ast.Name) else None
                    uses.append(Use(func, node, True, key))
                elif isinstance(target, ast.Name) and target.id in watched and target.id in declared:
                    uses.append(Use(func, node, True))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            method = node.func.attr
            if isinstance(receiver, ast.Name) and receiver.id in watched:
                if method in WRITE_ONLY or method in WRITE_READ:
                    uses.append(Use(func, node, True, node.args[0] if node.args and method in ("setdefault", "pop") else None))
                    if method in WRITE_ONLY or id(node) in discarded:
                        consumed.add(id(receiver))
                elif method == "get" and node.args:
                    read_keys.setdefault(receiver.id, set()).add(dump_of(node.args[0]))
                    name_keys[id(receiver)] = node.args[0]
            elif _base_name(receiver) in watched and method in WRITE_ONLY | WRITE_READ:
                uses.append(Use(func, node, True))
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            for comp in node.comparators:
                if isinstance(comp, ast.Name) and comp.id in watched:
                    read_keys.setdefault(comp.id, set()).add(dump_of(node.left))
                    name_keys[id(comp)] = node.left
                    in_tests.add(id(comp))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name):
            if node.value.id in watched:
                read_keys.setdefault(node.value.id, set()).add(dump_of(node.slice))
                name_keys[id(node.value)] = node.slice
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" and len(node.args) == 1:
            if isinstance(node.args[0], ast.Name):
                len_calls.add(id(node.args[0]))
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in watched and id(node) not in consumed:
            uses.append(Use(func, node, False, key=name_keys.get(id(node)), len_only=id(node) in len_calls,
                            in_test=id(node) in in_tests))
    for name in {_name_of(u) for u in uses}:
        mine = [u for u in uses if _name_of(u) == name]
        writes = [u for u in mine if u.write]
        if writes and all(_is_eviction(u) for u in writes) and all(u.in_test for u in mine if not u.write):
            for u in mine:
                if not u.write:
                    u.len_only = True  # `if k in G: G.pop(k)`: clean-up, not a read-back
    for use in uses:
        if use.write and isinstance(use.node, ast.Assign) and use.key is not None:
            name = _base_name(use.node.targets[0])
            mentions_self = any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(use.node.value))
            use.memo = not mentions_self and dump_of(use.key) in read_keys.get(name, ())
    return uses


def _name_of(use: Use) -> str:
    node = use.node
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, (ast.Assign, ast.Delete)):
        return _base_name(node.targets[0])
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return _base_name(node.target)
    if isinstance(node, ast.Call):
        return _base_name(node.func)
    return ""


CONNECTION_KEYS = {"sid", "socket_id", "sock_id", "connection_id", "conn_id", "ws_id"}


def connection_key(key: ast.AST | None) -> bool:
    """Is the key the socket.io connection's own id (`sid`)?"""
    if key is None:
        return False
    return any((isinstance(n, ast.Name) and n.id in CONNECTION_KEYS) or
               (isinstance(n, ast.Attribute) and n.attr in CONNECTION_KEYS) for n in ast.walk(key))


def key_words(key: ast.AST | None) -> str:
    """The identity a key expression names (`user`, `session_id`, …) or ""."""
    if key is None:
        return ""
    for node in ast.walk(key):
        text = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else const_str(node) or ""
        if text and any(w in text.lower() for w in IDENTITY_WORDS):
            return text
    return ""


@dataclass
class MemoryFinding:
    container: Container
    writer: Use
    reader: Use
    writer_handler: Func
    reader_handler: Func
    identity: str = ""
    extra_writers: list = field(default_factory=list)


def memory_state(index: ModuleIndex, containers: dict[str, Container], text: str = "") -> list[MemoryFinding]:
    if not containers or not index.reached_by:
        return []
    names = set(containers)
    starts = line_starts(text) if text else None
    by_name: dict[str, list[Use]] = {}
    for func in index.reached_by:
        if starts is not None and not mentions(text, starts, func.node, names):
            continue
        for use in function_uses(func, names):
            by_name.setdefault(_name_of(use), []).append(use)
    out: list[MemoryFinding] = []
    for name, uses in sorted(by_name.items()):
        if name not in containers:
            continue
        writes = [u for u in uses if u.write and not u.memo and not _is_eviction(u)]
        if not writes:
            continue  # never written, only evicted, or a get-or-compute cache of derivable data
        reads = [u for u in uses if not u.write and not u.len_only]
        pair = _pair(index, writes, reads)
        if pair is None:
            continue
        writer, reader, wh, rh = pair
        identity = next((key_words(u.key) for u in writes if key_words(u.key)), "")
        out.append(MemoryFinding(containers[name], writer, reader, wh, rh, identity))
    return out


def _is_eviction(use: Use) -> bool:
    node = use.node
    if isinstance(node, ast.Delete):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
        "pop", "popitem", "discard", "remove", "clear", "popleft")


def _pair(index: ModuleIndex, writes: list[Use], reads: list[Use]):
    """A read reached from a handler that never writes the container (another request reading back what one
    request left behind), and the first write, reached from a different handler. A container that every
    handler reading it also writes (a per-connection read-modify-write in one flow) is not reported."""
    writers: dict = {}
    for w in writes:
        for wh in index.reached_by.get(w.func, ()):
            writers.setdefault(wh, w)
    if not writers:
        return None
    best = None
    wh, w = min(writers.items(), key=lambda item: (item[1].node.lineno, item[0].node.lineno))  # once, not per read
    for r in reads:
        for rh in index.reached_by.get(r.func, ()):
            if rh in writers:
                continue
            if rh.handler == "socket.io event" and connection_key(r.key):
                continue  # keyed on the socket's own id: events of one connection all reach the same process
            rank = (w.node.lineno, r.node.lineno, rh.node.lineno)  # handlers are a set: the first by line
            if best is None or rank < best[0]:
                best = (rank, (w, r, wh, rh))
    return best[1] if best else None
