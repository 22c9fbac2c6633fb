"""Read an Alembic revision file statically (stdlib `ast`) into `Op`s. Nothing is executed.

Only `upgrade()` counts. The reader follows `op.*` calls, `batch_op.*` inside `op.batch_alter_table`,
`op.execute(str | sa.text(str))` (the SQL goes through the SQL reader), string concatenation, `%`,
`.format` and f-strings whose parts are literals or module constants, `for x in [literal, ...]` loops
(unrolled), helper functions of the same file called from `upgrade()`, `autocommit_block()`, and dialect
branches (`op.get_bind().dialect.name == "mysql"`, `!=`, `in (...)`, `context.get_context().dialect.name`),
which are evaluated against the configured dialect so other-dialect code is skipped. What cannot be folded
becomes a `dynamic` op (reported as info), never a guess.
"""

from __future__ import annotations

import ast

from canary_lint.migrations import ops as K
from canary_lint.migrations.alembic_ops import OpCalls
from canary_lint.migrations.alembic_values import BIND, CONTEXT, OP, UNKNOWN, _dotted, _known, _lit, _Marker, _span
from canary_lint.migrations.ops import Migration, Op

DATA_SESSION_METHODS = {"add", "add_all", "merge", "bulk_save_objects", "bulk_insert_mappings",
                        "bulk_update_mappings", "commit"}
MAX_DEPTH = 8
MAX_UNROLL = 1000


def module_info(tree: ast.Module) -> tuple[dict, dict, int]:
    """(constants, functions, revision line) of a module."""
    consts: dict = {}
    funcs: dict = {}
    rev_line = 1
    for node in tree.body:
        if isinstance(node, ast.Assign):
            value = _lit(node.value)
            for t in node.targets:
                if isinstance(t, ast.Name):
                    consts[t.id] = value
                    if t.id == "revision":
                        rev_line = node.lineno
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            consts[node.target.id] = _lit(node.value)
            if node.target.id == "revision":
                rev_line = node.lineno
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            funcs[node.name] = node
    return consts, funcs, rev_line


def is_revision(tree: ast.Module) -> bool:
    consts, funcs, _ = module_info(tree)
    return "revision" in consts and "upgrade" in funcs


class _Return(Exception):
    pass


class Reader(OpCalls):
    def __init__(self, tree: ast.Module, path: str, dialect: str):
        self.tree = tree
        self.path = path
        self.dialect = dialect
        self.consts, self.funcs, self.rev_line = module_info(tree)
        self.ops: list[Op] = []
        self.autocommit = 0
        self.stack: list[str] = []
        self.implicit_tx = dialect != "mysql"  # MySQL DDL commits implicitly
        # is a transaction open on the server? Alembic opens one around upgrade(); `op.execute("COMMIT")` ends it
        # (the driver still believes it is open, so it sends no new BEGIN) and later statements autocommit, until
        # an explicit BEGIN or the end of an autocommit_block(), after which Alembic begins a new one
        self.tx_open = self.implicit_tx
        self.tx_why = ""
        self.module_nodes: dict = {}
        self._evaluating: set = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and self.consts.get(node.targets[0].id, UNKNOWN) is UNKNOWN:
                self.module_nodes[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None \
                    and self.consts.get(node.target.id, UNKNOWN) is UNKNOWN:
                self.module_nodes[node.target.id] = node.value
            elif isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__tablename__"
                                                            for t in stmt.targets):
                        table = _lit(stmt.value)
                        if isinstance(table, str):
                            self.consts[node.name] = _Marker("model", table)

    # ---- entry ------------------------------------------------------------------------------------
    def read(self) -> Migration | None:
        rev = self.consts.get("revision")
        if "revision" not in self.consts or "upgrade" not in self.funcs:
            return None
        down = self.consts.get("down_revision", None)
        if isinstance(down, (list, tuple)):
            down_t = tuple(str(d) for d in down if d is not None)
        elif down is None or down is UNKNOWN:
            down_t = ()
        else:
            down_t = (str(down),)
        try:
            self.call_function(self.funcs["upgrade"], [], {}, {})
        except RecursionError:
            self.ops.append(Op(K.DYNAMIC, line=self.funcs["upgrade"].lineno, end_line=self.funcs["upgrade"].lineno,
                               detail="upgrade() nests too deeply to be read statically"))
        return Migration(self.path, "alembic", "alembic", str(rev) if rev is not UNKNOWN else None, down_t, self.ops,
                         revision_line=self.rev_line)

    def call_function(self, fn: ast.FunctionDef, args: list, kwargs: dict, outer: dict) -> None:
        if fn.name in self.stack or len(self.stack) >= MAX_DEPTH:
            return
        env: dict = {}
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
        defaults = fn.args.defaults
        for i, name in enumerate(params):
            if i < len(args):
                env[name] = args[i]
            elif name in kwargs:
                env[name] = kwargs[name]
            else:
                di = i - (len(params) - len(defaults))
                env[name] = self.ev(defaults[di], {}) if di >= 0 else UNKNOWN
        for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults):
            env[a.arg] = kwargs.get(a.arg, self.ev(d, {}) if d is not None else UNKNOWN)
        self.stack.append(fn.name)
        try:
            self.walk(fn.body, env)
        except _Return:
            pass
        finally:
            self.stack.pop()

    # ---- statements -------------------------------------------------------------------------------
    def walk(self, body: list, env: dict) -> None:
        for stmt in body:
            self.statement(stmt, env)

    def statement(self, stmt: ast.stmt, env: dict) -> None:
        if isinstance(stmt, ast.Expr):
            self.ev(stmt.value, env)
        elif isinstance(stmt, ast.Assign):
            value = self.ev(stmt.value, env)
            for t in stmt.targets:
                self.bind(t, value, env)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.bind(stmt.target, self.ev(stmt.value, env), env)
        elif isinstance(stmt, ast.AugAssign):
            cur = self.ev(stmt.target, env) if isinstance(stmt.target, ast.Name) else UNKNOWN
            add = self.ev(stmt.value, env)
            if isinstance(stmt.op, ast.Add) and isinstance(cur, str) and isinstance(add, str):
                self.bind(stmt.target, cur + add, env)
            else:
                self.bind(stmt.target, UNKNOWN, env)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            autocommit = 0
            for item in stmt.items:
                value = self.ev(item.context_expr, env)
                if isinstance(item.context_expr, ast.Call) and isinstance(item.context_expr.func, ast.Attribute) \
                        and item.context_expr.func.attr == "autocommit_block":
                    autocommit += 1
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, value, env)
            self.autocommit += autocommit
            if autocommit:
                self.tx_open, self.tx_why = False, ""  # autocommit_block() commits Alembic's transaction first
            try:
                self.walk(stmt.body, env)
            finally:
                self.autocommit -= autocommit
                if autocommit:
                    self.tx_open, self.tx_why = self.implicit_tx, ""  # ... and begins a new one at its end
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            items = self.ev(stmt.iter, env)
            if isinstance(items, (list, tuple)) and len(items) <= MAX_UNROLL:
                for item in items:
                    self.bind(stmt.target, item, env)
                    self.walk(stmt.body, env)
            elif isinstance(items, dict) and len(items) <= MAX_UNROLL:
                for item in items:
                    self.bind(stmt.target, item, env)
                    self.walk(stmt.body, env)
            else:
                self.bind(stmt.target, UNKNOWN, env)
                self.walk(stmt.body, env)
            self.walk(stmt.orelse, env)
        elif isinstance(stmt, ast.While):
            self.walk(stmt.body, env)
        elif isinstance(stmt, ast.If):
            cond = self.ev(stmt.test, env)
            if cond is UNKNOWN or isinstance(cond, _Marker):
                # either branch may run: a `return` inside one of them does not end the function for the other
                for branch in (stmt.body, stmt.orelse):
                    try:
                        self.walk(branch, env)
                    except _Return:
                        pass
            elif cond:
                self.walk(stmt.body, env)
            else:
                self.walk(stmt.orelse, env)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            self.walk(stmt.body, env)
            for h in stmt.handlers:
                self.walk(h.body, env)
            self.walk(stmt.orelse, env)
            self.walk(stmt.finalbody, env)
        elif isinstance(stmt, ast.Return):
            if stmt.value is not None:
                self.ev(stmt.value, env)
            raise _Return()
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            env[stmt.name] = _Marker("localfunc", stmt)
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                self.walk(case.body, env)

    def bind(self, target: ast.AST, value, env: dict) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (list, tuple)) and len(value) == len(target.elts):
                for t, v in zip(target.elts, value):
                    self.bind(t, v, env)
            else:
                for t in target.elts:
                    self.bind(t, UNKNOWN, env)

    # ---- expressions ------------------------------------------------------------------------------
    def lookup(self, name: str, env: dict):
        if name in env:
            return env[name]
        if name == "op":
            return OP
        if name == "context":
            return CONTEXT
        if name in self.funcs:
            return _Marker("func", self.funcs[name])
        value = self.consts.get(name, UNKNOWN)
        if value is UNKNOWN and name in self.module_nodes and name not in self._evaluating:
            self._evaluating.add(name)  # module-level `T = sa.table("t", ...)`, evaluated once, on first use
            try:
                value = self.ev(self.module_nodes[name], {})
            finally:
                self._evaluating.discard(name)
            self.consts[name] = value
        return value

    def ev(self, node: ast.AST, env: dict):  # noqa: C901 - one dispatch over expression kinds
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node.id, env)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(str(v.value))
                else:
                    x = self.ev(v.value, env)
                    if not isinstance(x, (str, int, float)) or isinstance(x, bool):
                        return UNKNOWN
                    parts.append(str(x))
            return "".join(parts)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            vals = [self.ev(e, env) for e in node.elts]
            return vals if isinstance(node, ast.List) else tuple(vals)
        if isinstance(node, ast.Dict):
            keys = [self.ev(k, env) if k is not None else UNKNOWN for k in node.keys]
            if all(isinstance(k, (str, int)) for k in keys):
                return dict(zip(keys, [self.ev(v, env) for v in node.values]))
            return UNKNOWN
        if isinstance(node, ast.BinOp):
            a, b = self.ev(node.left, env), self.ev(node.right, env)
            if isinstance(node.op, ast.Add) and isinstance(a, str) and isinstance(b, str):
                return a + b
            if isinstance(node.op, ast.Add) and isinstance(a, list) and isinstance(b, list):
                return a + b
            if isinstance(node.op, ast.Mod) and isinstance(a, str) and _known(b):
                try:
                    return a % (tuple(b) if isinstance(b, list) else b)
                except (TypeError, ValueError, KeyError):
                    return UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.Compare):
            left = self.ev(node.left, env)
            for cmp, right_node in zip(node.ops, node.comparators):
                right = self.ev(right_node, env)
                if not _known(left) or not _known(right):
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
        if isinstance(node, ast.BoolOp):
            vals = [self.ev(v, env) for v in node.values]
            if isinstance(node.op, ast.And):
                if any(v is not UNKNOWN and not isinstance(v, _Marker) and not v for v in vals):
                    return False
                return True if all(_known(v) and v for v in vals) else UNKNOWN
            if any(_known(v) and v for v in vals):
                return True
            return False if all(_known(v) for v in vals) else UNKNOWN
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            v = self.ev(node.operand, env)
            return (not v) if _known(v) else UNKNOWN
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self.ev(node.operand, env)
            return -v if isinstance(v, (int, float)) else UNKNOWN
        if isinstance(node, ast.Attribute):
            base = self.ev(node.value, env)
            if base in (BIND, CONTEXT) or (isinstance(base, _Marker) and base.kind == "dialect"):
                if node.attr in ("dialect", "engine"):
                    return _Marker("dialect")
            if isinstance(base, _Marker) and base.kind == "dialect" and node.attr == "name":
                return self.dialect
            if isinstance(base, _Marker) and base.kind == "dialect" and node.attr == "dialect":
                return base
            if base is CONTEXT and node.attr == "bind":
                return BIND
            if isinstance(base, _Marker) and base.kind in ("model", "table") and node.attr in ("__tablename__", "name"):
                return base.value
            if isinstance(base, _Marker) and base.kind in ("model", "table") and node.attr in ("__table__", "c", "columns"):
                return base if node.attr == "__table__" else UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.IfExp):
            cond = self.ev(node.test, env)
            if _known(cond):
                return self.ev(node.body if cond else node.orelse, env)
            return UNKNOWN
        if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)) and len(node.generators) == 1 \
                and not node.generators[0].ifs and isinstance(node.generators[0].target, ast.Name):
            gen = node.generators[0]
            items = self.ev(gen.iter, env)
            if isinstance(items, (list, tuple)) and len(items) <= MAX_UNROLL:
                out = []
                for item in items:
                    inner = dict(env)
                    inner[gen.target.id] = item
                    out.append(self.ev(node.elt, inner))
                return out
            return UNKNOWN
        if isinstance(node, ast.DictComp) and len(node.generators) == 1 and not node.generators[0].ifs:
            gen = node.generators[0]
            items = self.ev(gen.iter, env)
            if isinstance(items, (list, tuple)) and len(items) <= MAX_UNROLL:
                out = {}
                for item in items:
                    inner = dict(env)
                    self.bind(gen.target, item, inner)
                    key = self.ev(node.key, inner)
                    if not isinstance(key, (str, int)):
                        return UNKNOWN
                    out[key] = self.ev(node.value, inner)
                return out
            return UNKNOWN
        if isinstance(node, ast.Subscript):
            base = self.ev(node.value, env)
            idx = self.ev(node.slice, env)
            if isinstance(base, (list, tuple, dict, str)) and _known(idx):
                try:
                    return base[idx]
                except (IndexError, KeyError, TypeError):
                    return UNKNOWN
            return UNKNOWN
        return UNKNOWN

    def call(self, node: ast.Call, env: dict):  # noqa: C901
        func = node.func
        if isinstance(func, ast.Attribute):
            recv = self.ev(func.value, env)
            name = func.attr
            if recv is OP:
                return self.op_call(name, node, env, None)
            if isinstance(recv, _Marker) and recv.kind == "batch":
                return self.op_call(name, node, env, recv.value)
            if recv is CONTEXT and name in ("get_context", "get_bind"):
                return CONTEXT if name == "get_context" else BIND
            if recv in (BIND, CONTEXT) and name in ("execute", "exec_driver_sql"):
                return self.execute(node, env)
            if recv is BIND and name in ("connect", "begin"):
                return BIND
            if isinstance(recv, str) and name == "format":
                args = [self.ev(a, env) for a in node.args]
                kwargs = {k.arg: self.ev(k.value, env) for k in node.keywords if k.arg}
                if all(_known(a) for a in args) and all(_known(v) for v in kwargs.values()):
                    try:
                        return recv.format(*args, **kwargs)
                    except (IndexError, KeyError, ValueError):
                        return UNKNOWN
                return UNKNOWN
            if isinstance(recv, str) and name == "join":
                items = self.ev(node.args[0], env) if node.args else UNKNOWN
                if isinstance(items, (list, tuple)) and all(isinstance(i, str) for i in items):
                    return recv.join(items)
                return UNKNOWN
            if isinstance(recv, str) and name in ("params", "bindparams", "execution_options", "columns"):
                return recv  # sa.text("...").bindparams(...): the same SQL
            if isinstance(recv, _Marker) and recv.kind in ("sa_expr", "sa_select") and name in (
                    "values", "where", "filter", "filter_by", "returning", "from_select", "execution_options",
                    "params", "order_by", "limit", "join", "select_from", "group_by", "subquery", "cte", "scalar_subquery"):
                return recv
            if isinstance(recv, str) and name in ("strip", "lower", "upper"):
                return getattr(recv, name)()
            if isinstance(recv, dict) and name in ("items", "keys", "values") and not node.args:
                return [list(x) if isinstance(x, tuple) else x for x in getattr(recv, name)()]
            if name in ("text", "DDL") and node.args:  # sa.text("...") / sqlalchemy.sql.text / sa.DDL("...")
                return self.ev(node.args[0], env)
            if name in ("execute", "exec_driver_sql"):
                for a in node.args:
                    self.ev(a, env)
                return self.execute(node, env)
            if name in ("create_all", "drop_all") and _dotted(func.value).endswith("metadata"):
                return self.metadata_all(name, node, env)
            if name in ("update", "delete", "insert") and _dotted(func.value).split(".")[-1] in ("sa", "sqlalchemy", "sql", "expression"):
                return _Marker("sa_expr", self._table_of(node.args[0], env) if node.args else None)
            if name == "select" and (_dotted(func.value).split(".")[-1] in ("sa", "sqlalchemy", "sql", "expression")
                                     or (isinstance(recv, _Marker) and recv.kind in ("table", "model"))):
                return _Marker("sa_select")
            if name in ("update", "delete", "insert") and isinstance(recv, _Marker) and recv.kind in ("table", "model"):
                return _Marker("sa_expr", recv.value)
            if name in ("table", "Table") and node.args:
                t = self.ev(node.args[0], env)
                return _Marker("table", t) if isinstance(t, str) else UNKNOWN
            if name in DATA_SESSION_METHODS and recv not in (OP, BIND, CONTEXT):
                base_name = _dotted(func.value).lower()
                if "session" in base_name or name in ("bulk_save_objects", "bulk_insert_mappings", "bulk_update_mappings"):
                    self.add(Op(K.DATA, None, detail=f"{_dotted(func)}()"), node)
                return UNKNOWN
            if name in ("update", "delete") and isinstance(func.value, ast.Call) and "query" in _dotted(func.value):
                self.add(Op(K.DATA, None, detail=f"{_dotted(func)}()"), node)
                return UNKNOWN
            for a in node.args:
                self.ev(a, env)
            return UNKNOWN
        if isinstance(func, ast.Name):
            target = self.lookup(func.id, env)
            if isinstance(target, _Marker) and target.kind in ("func", "localfunc") and func.id not in ("downgrade",):
                args = [self.ev(a, env) for a in node.args]
                kwargs = {k.arg: self.ev(k.value, env) for k in node.keywords if k.arg}
                self.call_function(target.value, args, kwargs, env)
                return UNKNOWN
            if func.id in ("text", "DDL") and node.args:
                return self.ev(node.args[0], env)
            if func.id == "isinstance" and len(node.args) == 2:
                subject = self.ev(node.args[0], env)
                if isinstance(subject, _Marker) and subject.kind == "dialect":
                    return self._dialect_class(node.args[1])
            if func.id == "table" and node.args:
                t = self.ev(node.args[0], env)
                return _Marker("table", t) if isinstance(t, str) else UNKNOWN
            if func.id in ("update", "delete", "insert") and node.args:
                return _Marker("sa_expr", self._table_of(node.args[0], env))
            if func.id == "select":
                return _Marker("sa_select")
            if func.id in ("Table",) and node.args:
                t = self.ev(node.args[0], env)
                return _Marker("table", t) if isinstance(t, str) else UNKNOWN
            if func.id in ("str",) and node.args:
                v = self.ev(node.args[0], env)
                return str(v) if _known(v) else UNKNOWN
            for a in node.args:
                self.ev(a, env)
            return UNKNOWN
        return UNKNOWN

    def metadata_all(self, name: str, node: ast.Call, env: dict):
        """`Base.metadata.create_all(bind, tables=[Model.__table__, ...])` (and drop_all)."""
        tables = self._kw(node, env, "tables")
        names = [self._table_of_value(t) for t in tables] if isinstance(tables, (list, tuple)) else None
        if not names or any(n is None for n in names):
            self.add(Op(K.DYNAMIC, detail=f"{_dotted(node.func)}() over tables not named in the file"), node)
            return UNKNOWN
        kind = K.CREATE_TABLE if name == "create_all" else K.DROP_TABLE
        for n in names:
            self.add(Op(kind, n, detail=f"metadata.{name}"), node)
        return UNKNOWN

    @staticmethod
    def _table_of_value(v):
        if isinstance(v, _Marker) and v.kind in ("table", "model") and isinstance(v.value, str):
            return v.value
        return None

    def _dialect_class(self, node: ast.AST):
        """`isinstance(bind.dialect, MySQLDialect)` (or a tuple of dialect classes) against the configured dialect."""
        nodes = node.elts if isinstance(node, ast.Tuple) else [node]
        verdicts = []
        for n in nodes:
            name = _dotted(n).lower()
            which = next((d for key, d in (("postgres", "postgresql"), ("psycopg", "postgresql"), ("mysql", "mysql"),
                                           ("maria", "mysql"), ("sqlite", "sqlite")) if key in name), None)
            if which is None:
                return UNKNOWN
            verdicts.append(which == self.dialect)
        return any(verdicts)

    def _table_of(self, node: ast.AST, env: dict):
        v = self.ev(node, env)
        if isinstance(v, _Marker) and v.kind in ("table", "sa_expr", "model"):
            return v.value
        return None

    # ---- ops --------------------------------------------------------------------------------------
    def add(self, op: Op, node: ast.AST) -> Op:
        op.line, op.column_no, op.end_line, op.end_column = _span(node)
        op.in_transaction = self.tx_open
        op.tx = self.tx_why
        self.ops.append(op)
        return op

    def execute(self, node: ast.Call, env: dict):
        if not node.args:
            return UNKNOWN
        arg = node.args[0]
        value = self.ev(arg, env)
        if isinstance(value, _Marker) and value.kind == "sa_select":
            return UNKNOWN  # a read: nothing for v1 to suffer
        if isinstance(value, _Marker) and value.kind in ("sa_expr",):
            self.add(Op(K.DATA, value.value if isinstance(value.value, str) else None, detail="SQLAlchemy expression"), node)
            return UNKNOWN
        if not isinstance(value, str):
            self.add(Op(K.DYNAMIC, detail=f"{_dotted(node.func)}({ast.unparse(arg)[:60]})"), node)
            return UNKNOWN
        from canary_lint.migrations.sql_reader import SqlSyntaxError, read_sql

        literal = arg.args[0] if isinstance(arg, ast.Call) and arg.args else arg
        exact = isinstance(literal, ast.Constant) and isinstance(literal.value, str)
        span = _span(node)
        try:
            if exact and (literal.end_lineno or literal.lineno) - literal.lineno == value.count("\n"):
                # a literal whose lines map 1:1 onto the file (triple-quoted or single-line)
                sql_ops = read_sql(value, self.dialect, line=literal.lineno, column=literal.col_offset + 2)
                if literal.lineno == (literal.end_lineno or literal.lineno):
                    for o in sql_ops:
                        o.line, o.column_no, o.end_line, o.end_column = span
            else:
                sql_ops = read_sql(value, self.dialect, span=span)
        except SqlSyntaxError as exc:
            self.add(Op(K.DYNAMIC, detail=f"SQL that does not parse ({exc})"), node)
            return UNKNOWN
        # PostgreSQL runs the statements of one query string in one implicit transaction block, even after a
        # COMMIT among them: CONCURRENTLY and friends fail there
        several = self.dialect == "postgresql" and sum(1 for o in sql_ops if o.kind != K.OTHER or o.detail) > 1
        for o in sql_ops:
            if o.kind == K.COMMIT:
                self.tx_open, self.tx_why = False, ""
            elif o.kind == K.BEGIN and self.dialect != "mysql":  # MySQL DDL commits implicitly anyway
                self.tx_open, self.tx_why = True, f"the BEGIN on line {o.line} opens a transaction"
            o.in_transaction, o.tx = self.tx_open, self.tx_why
            if several and not self.tx_open and o.kind not in (K.COMMIT, K.OTHER):
                o.in_transaction = True
                o.tx = ("PostgreSQL runs the statements of one execute() string as one implicit transaction, even "
                        "after a COMMIT among them")
            self.ops.append(o)
        return UNKNOWN


def read_revision(tree: ast.Module, path: str, dialect: str) -> Migration | None:
    """The revision's Migration (ops of `upgrade()`), or None when the file is not a revision."""
    return Reader(tree, path, dialect).read()
