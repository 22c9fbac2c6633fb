"""Django migration operations to schema operations, replaying Django's model state statically.

Each `migrations.AddField(...)` / `RunSQL(...)` / ... call becomes the `Op`s the schema editor would run,
with Django's own SQL semantics: table `<app_label>_<model>` unless `db_table`, foreign keys as `<name>_id`
with an index and a constraint, `unique=True` / `db_index=True` as indexes, many-to-many through tables, a
Python `default` that never reaches the database, `db_default` as a server default, and `AlterField` that
changes only Python-side attributes as a no-op. `SeparateDatabaseAndState` runs its database operations
against a scratch copy of the state and its state operations against the real one.
"""

from __future__ import annotations

import ast
import copy

from canary_lint.migrations import ops as K
from canary_lint.migrations.django_fields import Field, field_info, literal, null_only
from canary_lint.migrations.django_state import (Model, State, elements, field_pairs, kw, span, str_arg,
                                                 together)
from canary_lint.migrations.ops import ColumnSpec, Op
from canary_lint.pyast import call_name, source_of

EXTENSIONS = {"CreateExtension", "HStoreExtension", "TrigramExtension", "BtreeGinExtension", "BtreeGistExtension",
              "CITextExtension", "CryptoExtension", "UnaccentExtension", "BloomExtension", "CreateCollation",
              "RemoveCollation"}
# no SQL: AlterConstraint (Django 5.2) changes only a constraint's non-database attributes (its error message)
STATE_ONLY = {"AlterModelOptions", "AlterModelManagers", "AlterModelTableComment", "RenameIndex", "AlterConstraint"}


class Converter:
    """Turns the operations of one migration into `Op`s, updating `state`."""

    def __init__(self, state: State, app: str, dialect: str, atomic: bool, path: str):
        self.state, self.app, self.dialect, self.atomic, self.path = state, app, dialect, atomic, path
        self.ops: list[Op] = []
        self.dropped_unique: dict = {}  # table -> field sets whose unique_together this migration removed

    # ---- helpers ------------------------------------------------------------------------------------
    def add(self, op: Op, node: ast.AST, atomic: bool | None = None) -> Op:
        op.line, op.column_no, op.end_line, op.end_column = span(node)
        in_tx = (self.atomic if atomic is None else atomic) and self.dialect != "mysql"
        op.in_transaction = in_tx
        op.tx = "Django runs the migration in one transaction (atomic = True)" if in_tx else ""
        self.ops.append(op)
        return op

    def _field(self, model: Model, name: str, node: ast.AST) -> Field | None:
        f = field_info(name, node, self.dialect)
        if f is not None:
            self._resolve_type(model, f)
        return f

    def _resolve_type(self, model: Model, f: Field) -> str | None:
        """A relation's column type is its target's primary key type (resolved as late as possible: the
        target may be created after the field that points at it)."""
        if f.type is None and not f.m2m and f.target is not None:
            if f.target == "setting:AUTH_USER_MODEL" or f.target.lower().startswith("auth."):
                f.type = "INTEGER"  # django.contrib.auth's models keep AutoField keys
            else:
                target = self.state.resolve(model.app, f.target) if f.target != "self" else model
                f.type = target.pk_type() if target is not None else None
        return f.type

    def _spec(self, f: Field) -> ColumnSpec:
        return ColumnSpec(f.column, f.type, nullable=f.null, default=f.db_default, primary_key=f.primary_key,
                          unique=f.unique)

    def _through(self, model: Model, f: Field) -> str:
        return f"{model.table}_{f.name}".lower()

    def _field_ops(self, model: Model, f: Field, node: ast.AST) -> None:
        """What adding `f` to an existing table runs: the column, then its constraints and indexes."""
        t = model.table
        if f.m2m:
            if not f.through:
                cols = (ColumnSpec("id", "BIGINT", nullable=False, primary_key=True),
                        ColumnSpec(f"{model.name.lower()}_id", model.pk_type(), nullable=False),
                        ColumnSpec(f"{(f.target or 'target').rpartition('.')[2].lower()}_id", None, nullable=False))
                self.add(Op(K.CREATE_TABLE, self._through(model, f), columns=cols, detail="ManyToManyField"), node)
            return
        op = self.add(Op(K.ADD_COLUMN, t, column=f.column, spec=self._spec(f), detail="AddField"), node)
        if not f.null and not f.db_default and f.has_default:
            op.backfilled = "Django fills existing rows with the Python default and then drops it from the column"
        if f.unique and not f.primary_key:
            self.add(Op(K.ADD_CONSTRAINT, t, name=f"{t}_{f.column}_uniq", constraint="unique", columns=(f.column,),
                        detail="unique=True"), node)
        if f.target is not None and f.db_constraint and not f.m2m:
            # PostgreSQL: Django writes the constraint into the ADD COLUMN (CONSTRAINT ... REFERENCES ...); a default
            # (kept or only for the ADD) fills every existing row, which the constraint then checks
            self.add(Op(K.ADD_CONSTRAINT, t, name=f"{t}_{f.column}_fk", constraint="foreign_key",
                        columns=(f.column,), detail="ForeignKey",
                        with_null_column=not f.has_default and not f.db_default), node)
        if f.db_index and not f.unique:
            self.add(Op(K.CREATE_INDEX, t, name=f"{t}_{f.column}_idx", columns=(f.column,),
                        detail="db_index" if f.target is None else "ForeignKey index"), node)

    # ---- one operation -----------------------------------------------------------------------------
    def operation(self, node: ast.AST, atomic: bool | None = None) -> None:  # noqa: C901 - one dispatch
        if not isinstance(node, ast.Call):
            self.add(Op(K.UNKNOWN, detail=source_of(node)), node)
            return
        name = call_name(node)
        st = self.state
        if name == "CreateModel":
            model_name = str_arg(node, "name", 0) or "?"
            m = Model(self.app, model_name)
            opts_node = kw(node, "options", 2)
            if isinstance(opts_node, ast.Dict):
                for k, v in zip(opts_node.keys, opts_node.values):
                    key = literal(k)
                    if key == "db_table" and isinstance(literal(v), str):
                        m.db_table = literal(v)
                    elif key == "managed":
                        m.managed = literal(v) is not False
                    elif key == "proxy":
                        m.proxy = literal(v) is True
                    elif key == "unique_together":
                        m.unique_together = together(v)
                    elif key == "index_together":
                        m.index_together = together(v)
            for fname, fnode in field_pairs(kw(node, "fields", 1)):
                f = self._field(m, fname, fnode)
                if f is not None:
                    m.fields[fname] = f
            if not any(f.primary_key for f in m.fields.values()) and not m.proxy:
                m.fields.setdefault("id", Field("id", "BigAutoField", "id", "BIGINT", primary_key=True, unique=True))
            st.models[(self.app, model_name.lower())] = m
            if m.managed and not m.proxy:
                cols = tuple(self._spec(f) for f in m.fields.values() if not f.m2m)
                self.add(Op(K.CREATE_TABLE, m.table, columns=cols, detail="CreateModel"), node)
                for f in m.fields.values():
                    if f.m2m and not f.through:
                        self._field_ops(m, f, node)
            return
        if name == "RenameModel":
            model_name = str_arg(node, "old_name", 0) or "?"
        else:
            model_name = str_arg(node, "model_name", 0) or str_arg(node, "name", 0) or "?"
        m = st.model(self.app, model_name)
        silent = not m.managed or m.proxy
        t = m.table
        if name == "DeleteModel":
            st.models.pop((self.app, model_name.lower()), None)
            if not silent:
                self.add(Op(K.DROP_TABLE, t, detail="DeleteModel"), node)
                for f in m.fields.values():
                    if f.m2m and not f.through:
                        self.add(Op(K.DROP_TABLE, self._through(m, f), detail="ManyToManyField"), node)
        elif name == "RenameModel":
            old, new = str_arg(node, "old_name", 0), str_arg(node, "new_name", 1)
            if old and new:
                st.models.pop((self.app, old.lower()), None)
                m.name = new
                st.models[(self.app, new.lower())] = m
                if not silent and m.db_table is None and m.table != t:
                    self.add(Op(K.RENAME_TABLE, t, new_name=m.table, detail="RenameModel"), node)
        elif name == "AlterModelTable":
            table = str_arg(node, "table", 1)
            m.db_table = table
            if not silent and m.table != t:
                self.add(Op(K.RENAME_TABLE, t, new_name=m.table, detail="AlterModelTable"), node)
        elif name == "AddField":
            fname = str_arg(node, "name", 1)
            f = self._field(m, fname, kw(node, "field", 2)) if fname else None
            if f is None:
                self.add(Op(K.UNKNOWN, detail="AddField with a field that cannot be read"), node)
                return
            m.fields[fname] = f
            if not silent:
                self._field_ops(m, f, node)
        elif name == "RemoveField":
            fname = str_arg(node, "name", 1)
            f = m.fields.pop(fname, None) if fname else None
            if silent or not fname:
                return
            if f is not None and f.m2m:
                if not f.through:
                    self.add(Op(K.DROP_TABLE, self._through(m, f), detail="ManyToManyField"), node)
            else:
                column = f.column if f is not None else fname
                self.add(Op(K.DROP_COLUMN, t, column=column, detail="RemoveField"), node)
        elif name == "AlterField":
            fname = str_arg(node, "name", 1)
            new = self._field(m, fname, kw(node, "field", 2)) if fname else None
            old = m.fields.get(fname) if fname else None
            if new is None:
                self.add(Op(K.UNKNOWN, detail="AlterField with a field that cannot be read"), node)
                return
            m.fields[fname] = new
            if not silent:
                self._alter_field(m, old, new, node)
        elif name == "RenameField":
            old_name, new_name = str_arg(node, "old_name", 1), str_arg(node, "new_name", 2)
            f = m.fields.pop(old_name, None) if old_name else None
            if not old_name or not new_name:
                return
            if f is None:
                f = Field(old_name, "?", old_name, None)
            renamed = copy.copy(f)
            renamed.name = new_name
            if "db_column" not in f.kwargs:
                renamed.column = f"{new_name}_id" if f.column == f"{old_name}_id" else new_name
            m.fields[new_name] = renamed
            if not silent and not f.m2m and renamed.column != f.column:
                self.add(Op(K.RENAME_COLUMN, t, column=f.column, new_name=renamed.column, detail="RenameField"), node)
            elif not silent and f.m2m and not f.through and "db_table" not in f.kwargs \
                    and self._through(m, f) != self._through(m, renamed):
                # the join table Django made for the field is named after it: the rename renames the table
                self.add(Op(K.RENAME_TABLE, self._through(m, f), new_name=self._through(m, renamed),
                            detail="RenameField of a ManyToManyField"), node)
        elif name in ("AddIndex", "AddIndexConcurrently"):
            self._add_index(m, node, concurrently=name.endswith("Concurrently"), silent=silent)
        elif name in ("RemoveIndex", "RemoveIndexConcurrently"):
            if not silent:
                self.add(Op(K.DROP_INDEX, t, name=str_arg(node, "name", 1), concurrently=name.endswith("Concurrently"),
                            detail=name), node)
        elif name == "AddConstraint":
            self._add_constraint(m, node, silent)
        elif name == "RemoveConstraint":
            if not silent:
                self.add(Op(K.DROP_CONSTRAINT, t, name=str_arg(node, "name", 1), detail="RemoveConstraint"), node)
        elif name in ("AlterUniqueTogether", "AlterIndexTogether"):
            unique = name == "AlterUniqueTogether"
            new = together(kw(node, "unique_together" if unique else "index_together", 1))
            old = m.unique_together if unique else m.index_together
            if not silent:
                for cols in sorted(new - old):
                    columns = tuple(m.fields[c].column if c in m.fields else c for c in cols)
                    cname = f"{t}_{'_'.join(columns)}_{'uniq' if unique else 'idx'}"
                    kind = Op(K.ADD_CONSTRAINT, t, name=cname, constraint="unique", columns=columns) if unique else \
                        Op(K.CREATE_INDEX, t, name=cname, columns=columns)
                    kind.detail = name
                    self.add(kind, node)
                for cols in sorted(old - new):
                    if unique:  # the uniqueness v1 has: a UniqueConstraint of the same fields only restates it
                        self.dropped_unique.setdefault(t, set()).add(frozenset(cols))
                    cname = f"{t}_{'_'.join(cols)}_{'uniq' if unique else 'idx'}"
                    self.add(Op(K.DROP_CONSTRAINT if unique else K.DROP_INDEX, t, name=cname, detail=name), node)
            if unique:
                m.unique_together = new
            else:
                m.index_together = new
        elif name == "AlterOrderWithRespectTo":
            if kw(node, "order_with_respect_to", 1) is not None and literal(kw(node, "order_with_respect_to", 1)):
                m.fields["_order"] = Field("_order", "IntegerField", "_order", "INTEGER", has_default=True)
                if not silent:
                    op = self.add(Op(K.ADD_COLUMN, t, column="_order", spec=ColumnSpec("_order", "INTEGER", False),
                                     detail="AlterOrderWithRespectTo"), node)
                    op.backfilled = "Django fills existing rows with 0 and then drops the default"
            elif "_order" in m.fields:
                m.fields.pop("_order")
                if not silent:
                    self.add(Op(K.DROP_COLUMN, t, column="_order", detail="AlterOrderWithRespectTo"), node)
        elif name == "RunSQL":
            self._run_sql(node, atomic)
        elif name == "RunPython":
            code = kw(node, "code", 0)
            if code is None or (isinstance(code, ast.Attribute) and code.attr == "noop"):
                return
            own = literal(kw(node, "atomic"))
            label = source_of(code)
            self.add(Op(K.DATA, None, detail=f"RunPython({label})"), node,
                     atomic=(own if isinstance(own, bool) else atomic))
        elif name == "SeparateDatabaseAndState":
            scratch = Converter(copy.deepcopy(self.state), self.app, self.dialect, self.atomic, self.path)
            for sub in elements(kw(node, "database_operations", 0)):
                scratch.operation(sub, atomic)
            self.ops.extend(scratch.ops)
            self._state_only(elements(kw(node, "state_operations", 1)))
        elif name in STATE_ONLY:
            return
        elif name in EXTENSIONS:
            self.add(Op(K.CREATE_OBJECT if name.startswith("Create") or name.endswith("Extension") else K.OTHER,
                        name=str_arg(node, "name", 0) or name, object_kind="extension", detail=name), node)
        else:
            self.add(Op(K.UNKNOWN, detail=source_of(node.func, None)), node)

    def _state_only(self, nodes: list) -> None:
        scratch = Converter(self.state, self.app, self.dialect, self.atomic, self.path)
        for sub in nodes:
            scratch.operation(sub)

    def _alter_field(self, m: Model, old: Field | None, new: Field, node: ast.AST) -> None:
        t = m.table
        if old is not None and old.signature == new.signature:
            return  # only Python-side attributes changed (choices, help_text, default, ...)
        if new.m2m or (old is not None and old.m2m):
            return
        old_col = old.column if old is not None else new.column
        if old is not None and old.column != new.column:
            self.add(Op(K.RENAME_COLUMN, t, column=old.column, new_name=new.column, detail="AlterField db_column"), node)
        col = new.column
        # a field class whose SQL type is not known (a custom field) is compared by its class
        old_type = self._resolve_type(m, old) or (old.kind if old.target is None else None) if old is not None else None
        new_type = self._resolve_type(m, new) or (new.kind if new.target is None else None)
        if old_type != new_type:
            self.add(Op(K.ALTER_TYPE, t, column=col, type=new_type, existing_type=old_type,
                        existing_nullable=old.null if old else None, detail="AlterField"), node)
        if old is not None and old.null and not new.null:
            if new.has_default and not new.db_default:
                self.add(Op(K.DATA, t, detail=f"UPDATE {t} SET {col} = <default> WHERE {col} IS NULL"), node)
            self.add(Op(K.SET_NOT_NULL, t, column=col, existing_nullable=True, detail="AlterField null=False"), node)
        elif old is not None and not old.null and new.null:
            self.add(Op(K.DROP_NOT_NULL, t, column=col, detail="AlterField null=True"), node)
        if (old.db_default if old else None) != new.db_default:
            self.add(Op(K.SET_DEFAULT, t, column=col, default=new.db_default, detail="db_default"), node)
        if new.unique and not (old and old.unique) and not new.primary_key:
            self.add(Op(K.ADD_CONSTRAINT, t, name=f"{t}_{col}_uniq", constraint="unique", columns=(col,),
                        detail="unique=True"), node)
        elif old is not None and old.unique and not new.unique:
            self.add(Op(K.DROP_CONSTRAINT, t, name=f"{t}_{old_col}_uniq", detail="unique=False"), node)
        if new.target is not None and new.db_constraint and (old is None or old.target != new.target
                                                             or not old.db_constraint):
            self.add(Op(K.ADD_CONSTRAINT, t, name=f"{t}_{col}_fk", constraint="foreign_key", columns=(col,),
                        detail="ForeignKey"), node)
        if new.db_index and not new.unique and not (old and old.db_index and not old.unique):
            self.add(Op(K.CREATE_INDEX, t, name=f"{t}_{col}_idx", columns=(col,), detail="db_index"), node)
        elif old is not None and old.db_index and not new.db_index:
            self.add(Op(K.DROP_INDEX, t, name=f"{t}_{old_col}_idx", detail="db_index=False"), node)

    def _columns(self, m: Model, names) -> tuple:
        out = []
        for n in names if isinstance(names, (list, tuple)) else ():
            if isinstance(n, str):
                n = n.lstrip("-")
                out.append(m.fields[n].column if n in m.fields else n)
        return tuple(out)

    def _add_index(self, m: Model, node: ast.Call, *, concurrently: bool, silent: bool) -> None:
        index = kw(node, "index", 1)
        if silent:
            return
        if not isinstance(index, ast.Call):
            self.add(Op(K.CREATE_INDEX, m.table, concurrently=concurrently, detail="AddIndex"), node)
            return
        cols = self._columns(m, literal(kw(index, "fields")))
        self.add(Op(K.CREATE_INDEX, m.table, name=str_arg(index, "name"), columns=cols, concurrently=concurrently,
                    detail=call_name(node)), node)

    def _add_constraint(self, m: Model, node: ast.Call, silent: bool) -> None:
        c = kw(node, "constraint", 1)
        if silent or not isinstance(c, ast.Call):
            return
        kind = call_name(c)
        cname = str_arg(c, "name")
        t = m.table
        if kind == "UniqueConstraint":
            cols = self._columns(m, literal(kw(c, "fields")))
            partial = kw(c, "condition") is not None or (c.args and not cols)
            if partial:  # Django builds a unique index for conditional / expression constraints
                self.add(Op(K.CREATE_INDEX, t, name=cname, columns=cols, unique=True, detail="UniqueConstraint",
                            only_null=null_only(kw(c, "condition"), lambda f: self._columns(m, f))), node)
            else:
                op = self.add(Op(K.ADD_CONSTRAINT, t, name=cname, constraint="unique", columns=cols,
                                 detail="UniqueConstraint"), node)
                fields = frozenset(literal(kw(c, "fields")) or ())
                if fields and (fields in self.dropped_unique.get(t, set())
                               or fields in {frozenset(u) for u in m.unique_together}):
                    op.restates = f"unique_together ({', '.join(sorted(fields))})"
        elif kind == "CheckConstraint":
            cond = kw(c, "condition") or kw(c, "check")
            op = self.add(Op(K.ADD_CONSTRAINT, t, name=cname, constraint="check", detail="CheckConstraint"), node)
            if isinstance(cond, ast.Call) and call_name(cond) == "Q" and len(cond.keywords) == 1:
                keyword = cond.keywords[0]
                if keyword.arg and keyword.arg.endswith("__isnull") and literal(keyword.value) is False:
                    op.proves_not_null = self._columns(m, [keyword.arg[:-len("__isnull")]])[0]
        elif kind == "ExclusionConstraint":
            self.add(Op(K.ADD_CONSTRAINT, t, name=cname, constraint="exclude", detail="ExclusionConstraint"), node)
        else:
            self.add(Op(K.UNKNOWN, detail=f"AddConstraint({kind})"), node)

    def _run_sql(self, node: ast.Call, atomic: bool | None) -> None:
        from canary_lint.migrations.sql_reader import SqlSyntaxError, read_sql

        sql = kw(node, "sql", 0)
        if sql is None or (isinstance(sql, ast.Attribute) and sql.attr == "noop"):
            pass
        else:
            parts = elements(sql) if isinstance(sql, (ast.List, ast.Tuple)) else [sql]
            for part in parts:
                if isinstance(part, ast.Tuple) and part.elts:  # (sql, params)
                    part = part.elts[0]
                text = literal(part)
                if not isinstance(text, str):
                    self.add(Op(K.DYNAMIC, detail=f"RunSQL({source_of(part)})"), node, atomic)
                    continue
                try:
                    found = read_sql(text, self.dialect, span=span(node))
                except SqlSyntaxError as exc:
                    self.add(Op(K.DYNAMIC, detail=f"RunSQL with SQL that does not parse ({exc})"), node, atomic)
                    continue
                for o in found:
                    in_tx = (self.atomic if atomic is None else atomic) and self.dialect != "mysql"
                    if o.kind == K.COMMIT:
                        in_tx = False
                    o.in_transaction = in_tx
                    o.tx = "Django runs the migration in one transaction (atomic = True)" if in_tx else ""
                    self.ops.append(o)
        self._state_only(elements(kw(node, "state_operations")))
