"""Statements, names and helper calls for the resolver: the `Evaluator` readers subclass."""

from __future__ import annotations

import ast

from canary_lint.model import literal_text
from canary_lint.pyast import brief_source, per_node, statements
from canary_lint.resolver.expressions import Expressions
from canary_lint.resolver.modules import ModuleScope
from canary_lint.resolver.values import ORIGIN, SCOPE, UNKNOWN, Budget, Marker, OneOf, TooLarge, known


class _Return(Exception):
    def __init__(self, value=UNKNOWN):
        self.value = value


class _Loop(Exception):
    """`break` / `continue`: what follows in the same body does not run for this item."""

    def __init__(self, kind: str):
        self.kind = kind


class Evaluator(Expressions):
    """Statements and expressions of one module, with concrete values. Readers subclass it and override
    `statement`, `attribute` and `call` for their own objects, falling back to these for plain values."""

    MAX_DEPTH = 8
    MAX_UNROLL = 1000

    def __init__(self, scope: ModuleScope, budget: Budget | None = None):
        self.scope = scope
        self.budget = budget or Budget()
        self.stack: list = []
        self._evaluating: set = set()

    # ---- names --------------------------------------------------------------------------------------
    def scope_of(self, env: dict) -> ModuleScope:
        return env.get(SCOPE) or self.scope

    def lookup(self, name: str, env: dict):
        if name in env:
            return env[name]
        return self.module_value(self.scope_of(env), name)

    def module_value(self, scope: ModuleScope, name: str, depth: int = 0):
        if name in scope.branched and scope.lines.get(name, 0) < scope.branched[name][-1].lineno:
            value = self.branched_value(scope, name)
            if value is not UNKNOWN:
                return value
        if scope.consts.get(name, UNKNOWN) is not UNKNOWN:
            return scope.consts[name]
        if name in scope.funcs:
            return Marker("func", (scope, scope.funcs[name]))
        if name in scope.classes:
            return Marker("class", (scope, scope.classes[name]))
        value = UNKNOWN
        key = (id(scope), name)
        # each kind of reader has its own markers: a value one kind computed is cached for that kind only
        cache = scope.evaluated.setdefault(type(self), {})
        if name in cache:
            value = cache[name]
        elif name in scope.nodes and key not in self._evaluating:
            self._evaluating.add(key)  # `T = sa.table("t", ...)` / `TABLES = base + ["x"]`: once, on first use
            try:
                value = self.ev(scope.nodes[name], {SCOPE: scope})
            finally:
                self._evaluating.discard(key)
            cache[name] = value
        imported = scope.imports.get(name) or (scope.local_imports.get(name) if value is UNKNOWN and
                                                name not in scope.nodes else None)
        if value is UNKNOWN and imported and scope.project is not None and depth < self.MAX_DEPTH:
            module, attr = imported
            if attr is None:
                return Marker("module", module)
            other = scope.project.scope(module)
            if other is not None and other is not scope and _defines(other, attr):
                return self.module_value(other, attr, depth + 1)
            sub = scope.project.scope(f"{module}.{attr}")  # `from pkg import module`
            if sub is not None:
                return Marker("module", f"{module}.{attr}")
            if other is not None and other is not scope:
                return self.module_value(other, attr, depth + 1)
        if value is UNKNOWN and not imported and name not in scope.nodes and scope.stars \
                and scope.project is not None and depth < self.MAX_DEPTH:
            for module in reversed(scope.stars):  # `from .base import *`: the last star import that defines it
                other = scope.project.scope(module)
                if other is not None and other is not scope and _defines(other, name, depth):
                    return self.module_value(other, name, depth + 1)
        return value

    def class_attr(self, scope: ModuleScope, cls: ast.ClassDef, name: str, depth: int = 0):
        nested = False
        for stmt in cls.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return self.ev(stmt.value, {SCOPE: scope})
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
                return Marker("func", (scope, stmt))
            nested = nested or (isinstance(stmt, (ast.If, ast.Try, ast.With)) and name in _names_of(stmt)[0])
        if nested:  # `if REDIS_URL: CACHE_TYPE = ...` in the class body: run the body once, as Python does
            body = self.class_body(scope, cls)
            if body.get(name, UNKNOWN) is not UNKNOWN:
                return body[name]
        for base in cls.bases:  # inherited: a base class of the same tree
            if depth >= self.MAX_DEPTH:
                break
            b = self.ev(base, {SCOPE: scope})
            if isinstance(b, Marker) and b.kind == "class":
                value = self.class_attr(*b.value, name, depth + 1)
                if value is not UNKNOWN:
                    return value
        return UNKNOWN

    def branched_value(self, scope: ModuleScope, name: str):
        """A module name (re)bound inside top-level `if`/`try` blocks: its value before them, then the blocks
        run in order (an `if` that cannot be decided leaves one of its branches' values)."""
        cache = scope.evaluated.setdefault((type(self), "branched"), {})
        key = (id(scope), name)
        if name in scope.imports:
            return UNKNOWN  # `try: from x import y` / `except ImportError: y = None`: the import decides
        if name in cache or key in self._evaluating:
            return cache.get(name, UNKNOWN)
        self._evaluating.add(key)
        try:
            env: dict = {SCOPE: scope}
            if name in scope.lines and scope.lines[name] < scope.branched[name][0].lineno:
                if scope.consts.get(name, UNKNOWN) is not UNKNOWN:
                    env[name] = scope.consts[name]
                elif name in scope.nodes:
                    env[name] = self.ev(scope.nodes[name], {SCOPE: scope})
            for stmt in scope.branched[name]:
                try:
                    self.statement(stmt, env)
                except (_Return, _Loop):
                    pass
            cache[name] = env.get(name, UNKNOWN)
        finally:
            self._evaluating.discard(key)
        return cache[name]

    def class_body(self, scope: ModuleScope, cls: ast.ClassDef) -> dict:
        """The names a class body binds, its statements run in order (cached per class and reader)."""
        cache = scope.evaluated.setdefault((type(self), "class"), {})
        if id(cls) not in cache:
            cache[id(cls)] = {}  # a body that reads its own class while running sees nothing yet
            env: dict = {SCOPE: scope}
            try:
                self.walk(cls.body, env)
            except (_Return, _Loop):
                pass
            cache[id(cls)] = env
        return cache[id(cls)]

    # ---- functions ----------------------------------------------------------------------------------
    def call_function(self, target, args: list, kwargs: dict, outer: dict):
        """Run a helper's body with its arguments bound; the value of its `return` (UNKNOWN when none)."""
        scope, fn = target if isinstance(target, tuple) else (self.scope_of(outer), target)
        if fn in self.stack or len(self.stack) >= self.MAX_DEPTH:
            return UNKNOWN
        self.budget.call()
        env: dict = {SCOPE: scope}
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
        defaults = fn.args.defaults
        for i, name in enumerate(params):
            if i < len(args):
                env[name] = args[i]
            elif name in kwargs:
                env[name] = kwargs[name]
            else:
                di = i - (len(params) - len(defaults))
                env[name] = self.ev(defaults[di], {SCOPE: scope}) if di >= 0 else UNKNOWN
        for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults):
            env[a.arg] = kwargs.get(a.arg, self.ev(d, {SCOPE: scope}) if d is not None else UNKNOWN)
        if fn.args.kwarg is not None:
            env[fn.args.kwarg.arg] = {k: v for k, v in kwargs.items() if k not in params}
        self.stack.append(fn)
        try:
            self.walk(fn.body, env)
        except _Return as ret:
            return ret.value
        except _Loop:
            pass
        finally:
            self.stack.pop()
        return None if not any(isinstance(n, ast.Return) for n in statements(fn)) else UNKNOWN

    def call_args(self, node: ast.Call, env: dict) -> tuple[list, dict]:
        args: list = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                v = self.ev(a.value, env)
                if isinstance(v, (list, tuple)):
                    args.extend(v)
                else:
                    args.append(UNKNOWN)
            else:
                args.append(self.ev(a, env))
        kwargs: dict = {}
        for k in node.keywords:
            if k.arg:
                kwargs[k.arg] = self.ev(k.value, env)
            else:  # **options: a dict literal (or one built in the same scope) passes its keys
                v = self.ev(k.value, env)
                if isinstance(v, dict):
                    kwargs.update({literal_text(key): val for key, val in v.items()})
        return args, kwargs

    # ---- statements ---------------------------------------------------------------------------------
    def walk(self, body: list, env: dict) -> None:
        for stmt in body:
            self.budget.tick()
            self.statement(stmt, env)

    def statement(self, stmt: ast.stmt, env: dict) -> None:  # noqa: C901 - one dispatch over statement kinds
        if isinstance(stmt, ast.Expr):
            self.ev(stmt.value, env)
        elif isinstance(stmt, ast.Assign):
            value = self.ev(stmt.value, env)
            for t in stmt.targets:
                self.bind(t, value, env, stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.bind(stmt.target, self.ev(stmt.value, env), env, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            cur = self.ev(stmt.target, env) if isinstance(stmt.target, ast.Name) else UNKNOWN
            add = self.ev(stmt.value, env)
            try:
                if isinstance(stmt.op, ast.Add) and isinstance(cur, str) and isinstance(add, str):
                    self.bind(stmt.target, self.budget.sized(cur + add), env)
                elif isinstance(stmt.op, ast.Add) and isinstance(cur, list) and isinstance(add, (list, tuple)):
                    cur.extend(add)
                    self.budget.sized(cur)
                else:
                    self.bind(stmt.target, UNKNOWN, env, stmt.value)
            except TooLarge as big:
                self.bind(stmt.target, UNKNOWN, env, None, origin=f"{big} at line {stmt.lineno}")
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                value = self.ev(item.context_expr, env)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, value, env, item.context_expr)
            self.walk(stmt.body, env)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self.loop(stmt, env)
        elif isinstance(stmt, ast.While):
            try:
                self.walk(stmt.body, env)
            except _Loop:
                pass
        elif isinstance(stmt, ast.If):
            cond = self.ev(stmt.test, env)
            if known(cond):
                self.walk(stmt.body if cond else stmt.orelse, env)
            else:
                self.either([stmt.body, stmt.orelse], env)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            # after the body (read once: readers record what it does), its `else` or one of the handlers ran
            self.walk(stmt.body, env)
            self.either([stmt.orelse, *[h.body for h in stmt.handlers]], env)
            self.walk(stmt.finalbody, env)
        elif isinstance(stmt, ast.Return):
            raise _Return(self.ev(stmt.value, env) if stmt.value is not None else None)
        elif isinstance(stmt, (ast.Break, ast.Continue)):
            raise _Loop("break" if isinstance(stmt, ast.Break) else "continue")
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            env[stmt.name] = Marker("localfunc", (self.scope_of(env), stmt))
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                self.walk(case.body, env)

    def either(self, branches: list[list], env: dict) -> None:
        """Blocks of which one runs (an `if` whose test is unknown, a `try` and its handlers): each runs on
        its own copy of the names, and a name they bind differently is one of their values afterwards. A
        block that ends in `return`, `break` or `continue` does not reach what follows, so its names do not
        either (unless all end)."""
        before = dict(env)
        ran: list[tuple[dict, bool]] = []
        for branch in branches:
            branch_env = dict(before)
            try:
                self.walk(branch, branch_env)
                ran.append((branch_env, False))
            except (_Return, _Loop):
                ran.append((branch_env, True))
        live = [e for e, ended in ran if not ended] or [e for e, _ in ran]
        merged: dict = {}
        for name in dict.fromkeys(k for e in live for k in e):
            values = [e[name] for e in live if name in e]
            if isinstance(name, str) and name.startswith(ORIGIN):
                merged[name] = values[0]
            elif all(v is values[0] for v in values):
                merged[name] = values[0]
            else:
                merged[name] = OneOf.of(values)
        env.clear()
        env.update(merged)

    def loop(self, stmt: ast.For, env: dict) -> None:
        items = self.ev(stmt.iter, env)
        if isinstance(items, dict):
            items = list(items)
        if isinstance(items, OneOf):
            merged: list = []
            for choice in items.choices:
                merged.extend(x for x in (choice if isinstance(choice, (list, tuple)) else ()) if x not in merged)
            items = merged
        if isinstance(items, (list, tuple)) and len(items) <= self.MAX_UNROLL:
            for item in list(items):
                self.bind(stmt.target, item, env)
                try:
                    self.walk(stmt.body, env)
                except _Loop as jump:
                    if jump.kind == "break":
                        break
        else:
            self.bind(stmt.target, UNKNOWN, env, None, origin=f"each item of {self.describe(stmt.iter, env)}")
            # the body runs an unknown number of times: a name it reads and rebinds carries a value from one
            # pass to the next (`s += s`), unknown after the first; one it rebinds is unknown after the loop
            stored, loaded = _names_of(stmt)
            before = {name: env[name] for name in stored if name in env}
            why = f"a value changed on each pass of the loop at line {stmt.lineno}"
            for name in stored & loaded:
                if name in env:
                    self.bind(ast.Name(id=name, ctx=ast.Store()), UNKNOWN, env, None, origin=why)
            try:
                self.walk(stmt.body, env)
            except _Loop:
                pass
            for name, old in before.items():
                if env.get(name, UNKNOWN) is not old:
                    self.bind(ast.Name(id=name, ctx=ast.Store()), UNKNOWN, env, None, origin=why)
        self.walk(stmt.orelse, env)

    def bind(self, target: ast.AST, value, env: dict, source: ast.AST | None = None, origin: str | None = None) -> None:
        if isinstance(target, ast.Subscript):  # `opts["release"] = ...`: the dict gains the key
            holder = self.ev(target.value, env)
            key = self.ev(target.slice, env)
            if isinstance(holder, OneOf) and all(isinstance(c, dict) for c in holder.choices):
                holders = holder.choices  # whichever branch's dict it is, it gains the key
            else:
                holders = (holder,)
            if all(isinstance(h, dict) for h in holders) and isinstance(key, (str, int)) and not isinstance(key, bool):
                for h in holders:
                    h[key] = value
            elif isinstance(holder, (dict, list)):
                self.forget(target.value, env)
            return
        if isinstance(target, ast.Name):
            env[target.id] = value
            if value is UNKNOWN and (origin or source is not None):
                env[ORIGIN + target.id] = origin or self.describe(source, env)
            else:
                env.pop(ORIGIN + target.id, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (list, tuple)) and len(value) == len(target.elts):
                for t, v in zip(target.elts, value):
                    self.bind(t, v, env)
            else:
                for t in target.elts:
                    self.bind(t, UNKNOWN, env, source, origin)

    def describe(self, node: ast.AST | None, env: dict) -> str:
        """What computed an unknown value, for a message: `get_data() at line 121`."""
        if node is None:
            return "a value computed at run time"
        if isinstance(node, ast.Name) and ORIGIN + node.id in env:
            return env[ORIGIN + node.id]
        text = brief_source(node)
        scope = self.scope_of(env)
        where = f" of {scope.name.replace('.', '/')}.py" if scope is not self.scope and scope.name else ""
        return f"{text} at line {node.lineno}{where}"  # a helper's line names its module


@per_node
def _names_of(stmt: ast.stmt) -> tuple[frozenset, frozenset]:
    """Names a statement (a loop: its body) rebinds (assignment targets) and names it reads."""
    stored: set = set()
    loaded: set = set()
    for part in (stmt.body if isinstance(stmt, (ast.For, ast.AsyncFor)) else [stmt]):
        for node in ast.walk(part):
            if isinstance(node, ast.Name):
                (stored if isinstance(node.ctx, ast.Store) else loaded).add(node.id)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                loaded.add(node.target.id)
    return frozenset(stored), frozenset(loaded)


def _defines(scope: ModuleScope, name: str, depth: int = 0) -> bool:
    if name in scope.consts or name in scope.funcs or name in scope.classes or name in scope.imports:
        return True
    if depth >= 8 or scope.project is None or name.startswith("_"):
        return False  # `import *` leaves out underscore names
    return any(other is not None and other is not scope and _defines(other, name, depth + 1)
               for other in map(scope.project.scope, scope.stars))
