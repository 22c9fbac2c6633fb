"""Read an Alembic revision file statically (stdlib `ast`) into `Op`s. Nothing is executed.

Only `upgrade()` counts. Values are read by the shared resolver (`canary_lint.resolver`): constants,
concatenation, `%`, `.format`, f-strings, lists built with `append`/`extend`/`+=`, loops and comprehensions
(unrolled; a filter that cannot be decided keeps the item), helper functions of the same file or of other
modules of the tree with their arguments bound, both branches of a conditional. On top, the reader follows
`op.*` calls, `batch_op.*` inside `op.batch_alter_table`, `op.execute(str | sa.text(str))` (the SQL goes
through the SQL reader), `autocommit_block()`, and dialect branches (`op.get_bind().dialect.name ==
"mysql"`, `!=`, `in (...)`, `context.get_context().dialect.name`), evaluated against the configured dialect so
other-dialect code is skipped. An operation whose table or column is computed at run time is still the
operation it is (reported at its rule's severity, naming the expression); SQL text that cannot be read at
all becomes a `dynamic` op (reported as info), never a guess.
"""

from __future__ import annotations

import ast

from canary_lint.pyast import source_of
from canary_lint.migrations import ops as K
from canary_lint.migrations.alembic_ops import OpCalls
from canary_lint.migrations.alembic_values import BIND, CONTEXT, OP, UNKNOWN, _dotted, _lit, _Marker, _span
from canary_lint.migrations.ops import Migration, Op
from canary_lint.model import literal_text
from canary_lint.resolver import ORIGIN, SCOPE, Bound, Budget, Evaluator, ModuleScope, Project
from canary_lint.resolver.modules import module_name

DATA_SESSION_METHODS = {"add", "add_all", "merge", "bulk_save_objects", "bulk_insert_mappings",
                        "bulk_update_mappings", "commit"}


class Reader(OpCalls, Evaluator):
    def __init__(self, tree: ast.Module, path: str, dialect: str, project: Project | None = None, driver: str = ""):
        # a scope of its own: the reader writes model markers into its consts and its evaluations fill the
        # scope's cache with this revision's ops (the shared `project.scope_of_path` is read-only for readers)
        scope = ModuleScope(tree, module_name(path), project, path.endswith("__init__.py")) \
            if project is not None else ModuleScope(tree, "")
        Evaluator.__init__(self, scope, Budget())
        self.tree = tree
        self.path = path
        self.dialect = dialect
        self.driver = driver  # the PostgreSQL driver the tree names ("" when it names none)
        self.rev_line = scope.lines.get("revision", 1)
        self.consts, self.funcs = scope.consts, scope.funcs
        self.ops: list[Op] = []
        self.autocommit = 0
        self.implicit_tx = dialect != "mysql"  # MySQL DDL commits implicitly
        # is a transaction open on the server? Alembic opens one around upgrade(); `op.execute("COMMIT")` ends it
        # (the driver still believes it is open, so it sends no new BEGIN) and later statements autocommit, until
        # an explicit BEGIN or the end of an autocommit_block(), after which Alembic begins a new one
        self.tx_open = self.implicit_tx
        self.tx_why = ""
        self._sites: list[ast.Call] = []  # calls made in the revision's own code: where a helper's ops are reported
        self._foreign = 0  # inside a helper of another module
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
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
            down_t = tuple(literal_text(d) for d in down if d is not None)
        elif down is None or down is UNKNOWN:
            down_t = ()
        else:
            down_t = (literal_text(down),)
        deps = self.consts.get("depends_on", None)
        deps = (deps,) if isinstance(deps, str) else tuple(literal_text(d) for d in deps if d) if isinstance(deps, (list, tuple)) else ()
        upgrade = self.funcs["upgrade"]
        try:
            params = {a.arg for a in upgrade.args.posonlyargs + upgrade.args.args + upgrade.args.kwonlyargs}
            # plugin migrations take the operations object as an argument: `def upgrade(op=None)`
            self.call_function((self.scope, upgrade), [], {"op": OP} if "op" in params else {}, {})
        except RecursionError:
            self.ops.append(Op(K.DYNAMIC, line=upgrade.lineno, end_line=upgrade.lineno,
                               detail="upgrade() nests too deeply to be read statically"))
        except Bound as bound:
            last = self.ops[-1].line if self.ops else upgrade.lineno
            self.ops.append(Op(K.DYNAMIC, line=last, end_line=last, stopped=True,
                               detail=f"upgrade() was read only up to line {last}: the reader stopped at {bound}"))
        return Migration(self.path, "alembic", "alembic", literal_text(rev) if rev is not UNKNOWN else None, down_t, self.ops,
                         dialect=self.dialect, depends=deps,
                         revision_line=self.rev_line)

    def call_function(self, target, args: list, kwargs: dict, outer: dict):
        foreign = isinstance(target, tuple) and target[0] is not self.scope
        self._foreign += foreign
        try:
            return Evaluator.call_function(self, target, args, kwargs, outer)
        finally:
            self._foreign -= foreign

    def add(self, op: Op, node: ast.AST) -> Op:
        """An op of a helper in another module is reported where the revision calls into it."""
        at = self._sites[-1] if self._foreign and self._sites else node
        op.foreign = bool(self._foreign and self._sites)
        op.line, op.column_no, op.end_line, op.end_column = _span(at)
        op.in_transaction = self.tx_open
        op.tx = self.tx_why
        self.ops.append(op)
        return op

    # ---- statements -------------------------------------------------------------------------------
    def statement(self, stmt: ast.stmt, env: dict) -> None:
        if not isinstance(stmt, (ast.With, ast.AsyncWith)):
            return Evaluator.statement(self, stmt, env)
        autocommit = 0
        for item in stmt.items:
            value = self.ev(item.context_expr, env)
            if isinstance(item.context_expr, ast.Call) and isinstance(item.context_expr.func, ast.Attribute) \
                    and item.context_expr.func.attr == "autocommit_block":
                autocommit += 1
            if item.optional_vars is not None:
                self.bind(item.optional_vars, value, env, item.context_expr)
        self.autocommit += autocommit
        if autocommit:
            self.tx_open, self.tx_why = False, ""  # autocommit_block() commits Alembic's transaction first
        try:
            self.walk(stmt.body, env)
        finally:
            self.autocommit -= autocommit
            if autocommit:
                self.tx_open, self.tx_why = self.implicit_tx, ""  # ... and begins a new one at its end

    # ---- expressions ------------------------------------------------------------------------------
    def lookup(self, name: str, env: dict):
        if name in env:
            return env[name]
        if env.get(SCOPE, self.scope) is self.scope:
            if name == "op":
                return OP
            if name == "context":
                return CONTEXT
        elif name == "op" and "op" not in self.scope_of(env).consts:
            return OP  # a helper module of the tree doing `from alembic import op`
        return self.module_value(self.scope_of(env), name)

    def attribute(self, node: ast.Attribute, base, env: dict):
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
        return Evaluator.attribute(self, node, base, env)

    def call(self, node: ast.Call, env: dict):
        own = env.get(SCOPE, self.scope) is self.scope
        if own:
            self._sites.append(node)
        try:
            return self._call(node, env)
        finally:
            if own:
                self._sites.pop()

    def _call(self, node: ast.Call, env: dict):  # noqa: C901
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
            if isinstance(recv, str) and name in ("params", "bindparams", "execution_options", "columns"):
                return recv  # sa.text("...").bindparams(...): the same SQL
            if isinstance(recv, _Marker) and recv.kind in ("sa_expr", "sa_select") and name in (
                    "values", "where", "filter", "filter_by", "returning", "from_select", "execution_options",
                    "params", "order_by", "limit", "join", "select_from", "group_by", "subquery", "cte", "scalar_subquery"):
                return recv
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
            if name in DATA_SESSION_METHODS and recv not in (OP, BIND, CONTEXT) and not isinstance(recv, list):
                base_name = _dotted(func.value).lower()
                if "session" in base_name or name in ("bulk_save_objects", "bulk_insert_mappings", "bulk_update_mappings"):
                    self.add(Op(K.DATA, None, detail=f"{_dotted(func)}()"), node)
                return UNKNOWN
            if name in ("update", "delete") and isinstance(func.value, ast.Call) and "query" in _dotted(func.value):
                self.add(Op(K.DATA, None, detail=f"{_dotted(func)}()"), node)
                return UNKNOWN
            return Evaluator.call(self, node, env)
        if isinstance(func, ast.Name):
            if func.id == "downgrade":
                return UNKNOWN
            if func.id in ("text", "DDL") and node.args and func.id not in env:
                return self.ev(node.args[0], env)
            if func.id == "isinstance" and len(node.args) == 2:
                subject = self.ev(node.args[0], env)
                if isinstance(subject, _Marker) and subject.kind == "dialect":
                    return self._dialect_class(node.args[1])
            if func.id in ("table", "Table") and node.args:
                t = self.ev(node.args[0], env)
                return _Marker("table", t) if isinstance(t, str) else UNKNOWN
            if func.id in ("update", "delete", "insert") and node.args:
                return _Marker("sa_expr", self._table_of(node.args[0], env))
            if func.id == "select":
                return _Marker("sa_select")
        return Evaluator.call(self, node, env)

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
            what = f"{_dotted(node.func)}({source_of(arg)})"
            if isinstance(arg, ast.Name) and value is UNKNOWN and ORIGIN + arg.id in env:
                what += f" ({arg.id} is {env[ORIGIN + arg.id]})"  # what computed it, or the bound it hit
            self.add(Op(K.DYNAMIC, detail=what), node)
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
        if self._foreign and self._sites:  # SQL run by a helper of another module: reported at the call
            for o in sql_ops:
                o.line, o.column_no, o.end_line, o.end_column = _span(self._sites[-1])
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
        commit = next((o for o in sql_ops if o.kind == K.COMMIT), None)
        if commit is not None and not self.tx_open and not self.autocommit and self.dialect == "postgresql" \
                and self.driver != "psycopg2":
            # psycopg2 sends no BEGIN after a raw COMMIT (it believes its transaction still open); psycopg 3 and
            # asyncpg ask the server, find it idle and begin a new transaction before the next execute()
            who = {"psycopg": "psycopg 3", "asyncpg": "asyncpg"}.get(self.driver, "the driver (unless it is psycopg2)")
            self.tx_open, self.tx_why = True, (f"after the COMMIT on line {commit.line}, {who} begins a new "
                                               "transaction for the next statement")
        return UNKNOWN


def read_revision(tree: ast.Module, path: str, dialect: str, project: Project | None = None,
                  driver: str = "") -> Migration | None:
    """The revision's Migration (ops of `upgrade()`), or None when the file is not a revision. With a
    `project`, helpers and constants imported from other modules of the tree are followed too; `driver` is the
    PostgreSQL driver the tree names (what a raw `COMMIT` leaves open depends on it)."""
    return Reader(tree, path, dialect, project, driver).read()
