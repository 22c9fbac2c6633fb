"""Expressions for the resolver's `Evaluator` (a mixin): containers, operators, f-strings, comprehensions,
attributes and the methods of plain values."""

from __future__ import annotations

import ast

from canary_lint.resolver.values import MAX_CHOICES, UNKNOWN, Marker, OneOf, TooLarge, known, wide_format

FUNC_KINDS = ("func", "localfunc")
# methods that return a value and change nothing: on one of several values, each choice answers
PURE_METHODS = frozenset({"format", "join", "strip", "lower", "upper", "lstrip", "rstrip", "items", "keys", "values",
                          "get"})


class Expressions:
    # ---- expressions --------------------------------------------------------------------------------
    def ev(self, node: ast.AST, env: dict):
        """The possible values of `node`; a value that would outgrow the size bound is unknown."""
        try:
            return self._ev(node, env)
        except TooLarge:
            return UNKNOWN

    def _ev(self, node: ast.AST, env: dict):  # noqa: C901 - one dispatch over expression kinds (commonest first)
        self.budget.tick()
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node.id, env)
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, self.ev(node.value, env), env)
        if isinstance(node, ast.JoinedStr):
            return self.fstring(node, env)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            vals: list = []
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    inner = self.ev(e.value, env)
                    if not isinstance(inner, (list, tuple)):
                        return UNKNOWN
                    vals.extend(inner)
                else:
                    vals.append(self.ev(e, env))
            self.budget.sized(vals)
            return vals if isinstance(node, ast.List) else tuple(vals)
        if isinstance(node, ast.Dict):
            out: dict = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    inner = self.ev(v, env)
                    if not isinstance(inner, dict):
                        return UNKNOWN
                    out.update(inner)
                    continue
                key = self.ev(k, env)
                if not isinstance(key, (str, int)):
                    return UNKNOWN
                out[key] = self.ev(v, env)
            return out
        if isinstance(node, ast.BinOp):
            return self.lift(lambda a, b: self.binop(node.op, a, b), self.ev(node.left, env), self.ev(node.right, env))
        if isinstance(node, ast.Compare):
            return self.compare(node, env)
        if isinstance(node, ast.BoolOp):
            vals = [self.ev(v, env) for v in node.values]
            if isinstance(node.op, ast.And):
                if any(known(v) and not v for v in vals):
                    return False
                return True if all(known(v) and v for v in vals) else UNKNOWN
            if any(known(v) and v for v in vals):
                return True
            return False if all(known(v) for v in vals) else UNKNOWN
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            v = self.ev(node.operand, env)
            return (not v) if known(v) else UNKNOWN
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self.ev(node.operand, env)
            return -v if isinstance(v, (int, float)) and not isinstance(v, bool) else UNKNOWN
        if isinstance(node, ast.IfExp):
            cond = self.ev(node.test, env)
            if known(cond):
                return self.ev(node.body if cond else node.orelse, env)
            return OneOf.of([self.ev(node.body, env), self.ev(node.orelse, env)])
        if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
            return self.comprehension(node, env)
        if isinstance(node, ast.Subscript):
            base, idx = self.ev(node.value, env), self.ev(node.slice, env)
            if isinstance(base, (list, tuple, dict, str)) and known(idx):
                try:
                    return base[idx]
                except (IndexError, KeyError, TypeError):
                    return UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.Slice):
            parts = [self.ev(p, env) if p is not None else None for p in (node.lower, node.upper, node.step)]
            return slice(*parts) if all(p is None or isinstance(p, int) for p in parts) else UNKNOWN
        if isinstance(node, ast.NamedExpr):
            value = self.ev(node.value, env)
            self.bind(node.target, value, env, node.value)
            return value
        return UNKNOWN

    def fstring(self, node: ast.JoinedStr, env: dict):
        parts: list = [""]
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts = [p + str(v.value) for p in parts]
                continue
            x = self.ev(v.value, env)
            choices = x.choices if isinstance(x, OneOf) else (x,)
            if not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in choices):
                return UNKNOWN
            spec = self.ev(v.format_spec, env) if v.format_spec is not None else ""
            if not isinstance(spec, str):
                return UNKNOWN
            try:
                parts = [self.budget.sized(p + format(c, spec)) for p in parts for c in choices]
            except (ValueError, TypeError):
                return UNKNOWN
            if len(parts) > MAX_CHOICES:
                return UNKNOWN
        return OneOf.of(parts)

    def lift(self, fn, *values):
        """Apply `fn` to every combination of the choices of `values` (a OneOf branches the result)."""
        if not any(isinstance(v, OneOf) for v in values):
            return fn(*values)
        combos: list = [()]
        for v in values:
            combos = [c + (x,) for c in combos for x in (v.choices if isinstance(v, OneOf) else (v,))]
            if len(combos) > MAX_CHOICES:
                return UNKNOWN
        return OneOf.of([fn(*c) for c in combos])

    def binop(self, op: ast.operator, a, b):
        if isinstance(op, ast.Add) and ((isinstance(a, str) and isinstance(b, str)) or
                                        (isinstance(a, list) and isinstance(b, list)) or
                                        (isinstance(a, tuple) and isinstance(b, tuple))):
            return self.budget.sized(a + b)
        if isinstance(op, ast.Mod) and isinstance(a, str) and known(b):
            if isinstance(b, (int, float)) or (isinstance(b, (tuple, list)) and any(isinstance(x, (int, float)) for x in b)):
                if "%" in a and wide_format(a):
                    raise TooLarge("a %-format wider than the string bound")
            try:
                return self.budget.sized(a % (tuple(b) if isinstance(b, list) else b))
            except (TypeError, ValueError, KeyError, OverflowError):
                return UNKNOWN
        if isinstance(op, ast.Mult) and isinstance(a, (str, list)) and isinstance(b, int) and not isinstance(b, bool):
            if len(a) * max(b, 0) > self.budget.max_str:
                raise TooLarge(f"a repeated value over {self.budget.max_str:,} items")
            return a * b
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
            try:
                if isinstance(op, ast.Add):
                    return a + b
                if isinstance(op, ast.Sub):
                    return a - b
                if isinstance(op, ast.Mult) and abs(a) < 1e12 and abs(b) < 1e12:
                    return a * b
            except OverflowError:
                return UNKNOWN
        return UNKNOWN

    def compare(self, node: ast.Compare, env: dict):
        left = self.ev(node.left, env)
        for cmp, right_node in zip(node.ops, node.comparators):
            right = self.ev(right_node, env)
            if not known(left) or not known(right):
                return UNKNOWN
            try:
                ok = {ast.Eq: lambda: left == right, ast.NotEq: lambda: left != right,
                      ast.In: lambda: left in right, ast.NotIn: lambda: left not in right,
                      ast.Is: lambda: left is right, ast.IsNot: lambda: left is not right}[type(cmp)]()
            except (KeyError, TypeError):
                return UNKNOWN
            if not ok:
                return False
            left = right
        return True

    def comprehension(self, node, env: dict, first=None):
        """Comprehensions over known lists; a filter that cannot be decided keeps the item; over one of
        several lists, one of the results."""
        results: list = []
        envs = [dict(env)]
        for depth, gen in enumerate(node.generators):
            nxt = []
            for inner in envs:
                items = first if depth == 0 and first is not None else self.ev(gen.iter, inner)
                if depth == 0 and first is None and isinstance(items, OneOf):
                    return OneOf.of([self.comprehension(node, env, first=c) for c in items.choices])
                if isinstance(items, dict):
                    items = list(items)
                if not isinstance(items, (list, tuple)) or len(items) > self.MAX_UNROLL:
                    return UNKNOWN
                for item in items:
                    e = dict(inner)
                    self.bind(gen.target, item, e)
                    if all(self.ev(cond, e) is not False for cond in gen.ifs):
                        nxt.append(e)
                if len(nxt) > self.budget.max_items:
                    raise TooLarge(f"a comprehension over {self.budget.max_items:,} items")
            envs = nxt
        if isinstance(node, ast.DictComp):
            out = {}
            for e in envs:
                key = self.ev(node.key, e)
                if not isinstance(key, (str, int)):
                    return UNKNOWN
                out[key] = self.ev(node.value, e)
            return out
        for e in envs:
            results.append(self.ev(node.elt, e))
        return results

    def dict_method(self, recv: dict, name: str, node: ast.Call, env: dict):
        """`d.update(...)`, `d.setdefault(k, v)`, `d.pop(k)`, `d.clear()` on a known dict; when the keys they
        touch cannot be known, the dict itself is no longer known."""
        args, kwargs = self.call_args(node, env)
        if name == "update" and len(args) <= 1 and (not args or isinstance(args[0], dict)) \
                and len(kwargs) == sum(1 for k in node.keywords if k.arg):
            recv.update(*args, **kwargs)
            return None
        if name == "setdefault" and args and isinstance(args[0], (str, int)) and not kwargs:
            return recv.setdefault(args[0], args[1] if len(args) > 1 else None)
        if name == "pop" and args and isinstance(args[0], (str, int)):
            return recv.pop(args[0], args[1] if len(args) > 1 else UNKNOWN)
        if name == "clear" and not args:
            recv.clear()
            return None
        self.forget(node.func.value, env)
        return UNKNOWN

    def forget(self, node: ast.AST, env: dict) -> None:
        """A value changed in a way that cannot be followed: the name holding it is unknown from here on."""
        if isinstance(node, ast.Name) and node.id in env:
            env[node.id] = UNKNOWN

    def attribute(self, node: ast.Attribute, base, env: dict):
        if isinstance(base, Marker) and base.kind == "class":
            return self.class_attr(*base.value, node.attr)
        if isinstance(base, Marker) and base.kind == "module":
            project = self.scope_of(env).project
            other = project.scope(base.value) if project is not None else None
            if other is not None:
                return self.module_value(other, node.attr)
        return UNKNOWN

    def call(self, node: ast.Call, env: dict):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("OrderedDict", "defaultdict") \
                and isinstance(func.value, ast.Name) and func.value.id == "collections":
            return self.dict_call(node, env, skip=1 if func.attr == "defaultdict" else 0)
        if isinstance(func, ast.Attribute):
            recv = self.ev(func.value, env)
            name = func.attr
            if isinstance(recv, OneOf) and name in PURE_METHODS:  # a method that changes nothing, per choice
                return OneOf.of([self.method(choice, name, node, env) for choice in recv.choices])
            return self.method(recv, name, node, env)
        return self.plain_call(func, node, env)

    def method(self, recv, name: str, node: ast.Call, env: dict):  # noqa: C901 - methods of plain values
        func = node.func
        if isinstance(recv, list) and name in ("append", "extend", "insert") and node.args:
            args, _ = self.call_args(node, env)
            if name == "append" and len(args) == 1:
                recv.append(args[0])
            elif name == "extend" and len(args) == 1 and isinstance(args[0], (list, tuple)):
                recv.extend(args[0])
            elif name == "insert" and len(args) == 2 and isinstance(args[0], int):
                recv.insert(args[0], args[1])
            else:
                recv.append(UNKNOWN)
            self.budget.sized(recv)
            return None
        if isinstance(recv, str) and name == "format":
            args, kwargs = self.call_args(node, env)
            if all(known(a) for a in args) and all(known(v) for v in kwargs.values()):
                if wide_format(recv):
                    raise TooLarge("a .format() wider than the string bound")
                try:
                    return self.budget.sized(recv.format(*args, **kwargs))
                except (IndexError, KeyError, ValueError, AttributeError, TypeError):
                    return UNKNOWN
            return UNKNOWN
        if isinstance(recv, str) and name == "join":
            def join(items):
                if isinstance(items, (list, tuple)) and all(isinstance(i, str) for i in items):
                    return self.budget.sized(recv.join(items))
                return UNKNOWN
            return self.lift(join, self.ev(node.args[0], env) if node.args else UNKNOWN)
        if isinstance(recv, str) and name in ("strip", "lower", "upper", "lstrip", "rstrip") and not node.args:
            return getattr(recv, name)()
        if isinstance(recv, dict) and name in ("update", "setdefault", "pop", "clear"):
            return self.dict_method(recv, name, node, env)
        if isinstance(recv, dict) and name in ("items", "keys", "values") and not node.args:
            return [list(x) if isinstance(x, tuple) else x for x in getattr(recv, name)()]
        if isinstance(recv, dict) and name == "get" and node.args:
            key = self.ev(node.args[0], env)
            default = self.ev(node.args[1], env) if len(node.args) > 1 else None
            return recv.get(key, default) if isinstance(key, (str, int)) else UNKNOWN
        if isinstance(recv, Marker) and recv.kind in ("class", "module"):
            target = self.attribute(func, recv, env)
            if isinstance(target, Marker) and target.kind in FUNC_KINDS:
                args, kwargs = self.call_args(node, env)
                return self.call_function(target.value, args, kwargs, env)
        for a in node.args:
            self.ev(a, env)
        return UNKNOWN

    def dict_call(self, node: ast.Call, env: dict, skip: int = 0):
        """`dict(a=1, **base)`, `dict(pairs)`, `OrderedDict(...)`, `defaultdict(factory, ...)` as a dict."""
        args = node.args[skip:]
        if len(args) > 1 or any(isinstance(a, ast.Starred) for a in args):
            return UNKNOWN
        out: dict = {}
        if args:
            v = self.ev(args[0], env)
            if isinstance(v, dict):
                out.update(v)
            elif isinstance(v, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2
                                                      and isinstance(p[0], (str, int)) for p in v):
                out.update((p[0], p[1]) for p in v)
            else:
                return UNKNOWN
        for kw in node.keywords:
            if kw.arg is None:
                inner = self.ev(kw.value, env)
                if not isinstance(inner, dict):
                    return UNKNOWN
                out.update(inner)
            else:
                out[kw.arg] = self.ev(kw.value, env)
        return self.budget.sized(out)

    def plain_call(self, func: ast.AST, node: ast.Call, env: dict):
        if isinstance(func, ast.Name):
            target = self.lookup(func.id, env)
            if isinstance(target, Marker) and target.kind in FUNC_KINDS:
                args, kwargs = self.call_args(node, env)
                return self.call_function(target.value, args, kwargs, env)
            if func.id in ("str",) and node.args:
                v = self.ev(node.args[0], env)
                try:
                    return str(v) if known(v) and isinstance(v, (str, int, float, bool)) else UNKNOWN
                except ValueError:  # an integer over Python's 4300-digit limit for str()
                    return UNKNOWN
            if func.id in ("dict", "OrderedDict", "defaultdict"):
                return self.dict_call(node, env, skip=1 if func.id == "defaultdict" else 0)
            if func.id in ("list", "tuple", "sorted", "set") and len(node.args) == 1:
                v = self.ev(node.args[0], env)
                if isinstance(v, dict):
                    v = list(v)
                if isinstance(v, (list, tuple)):
                    return tuple(v) if func.id == "tuple" else list(v)
                return UNKNOWN
            for a in node.args:
                self.ev(a, env)
        return UNKNOWN


