"""The rules. Each reads normalized `Op`s, the replayed schema before the op and the release it belongs to,
and says what v1 (still serving, on the new schema) will suffer. `Judge.judge` replays one migration and
dispatches op by op; the rules on new constraints and indexes are in `constraint_checks`."""

from __future__ import annotations

from dataclasses import dataclass, field

from canary_lint.migrations import ops as K
from canary_lint.migrations.constraint_checks import PG, ConstraintRules
from canary_lint.migrations.ops import Migration, Op
from canary_lint.migrations.schema import Schema, type_change, volatile_default
from canary_lint.model import Severity

COMPAT_RULES = (
    "drop-column-still-read-by-v1", "drop-table-still-read-by-v1", "rename-column-breaks-v1",
    "rename-table-breaks-v1", "type-change-breaks-v1", "not-null-column-breaks-v1-inserts",
    "set-not-null-breaks-v1-inserts", "table-swap-drops-v1-table", "expand-and-contract-in-one-revision",
    "drop-object-still-used-by-v1", "new-constraint-rejects-v1-writes",
)
LOCK_RULES = (
    "index-build-blocks-v1-writes", "concurrent-index-in-transaction-fails", "constraint-validation-blocks-v1-writes",
    "unique-constraint-build-blocks-v1-writes", "volatile-default-rewrites-table", "type-change-rewrites-table",
    "backfill-holds-ddl-lock",
)
META_RULES = ("dynamic-sql-not-checked", "migration-history-broken", "unknown-migration-operation")
# tables a migration tool keeps for itself (Alembic, Django, Flyway, dbmate/golang-migrate/Rails, Liquibase)
TOOL_TABLES = frozenset({"alembic_version", "django_migrations", "flyway_schema_history", "schema_migrations",
                         "databasechangelog", "databasechangeloglock"})
TABLE_BOUND = ("trigger", "rule", "policy")  # objects created ON a table: creating one locks the table


def _locked(op: Op) -> tuple[str, str]:
    """How a DDL op is named in a message, and whose queries wait while its lock is held: a table's, or the
    object's own (an extension, a view, a sequence is no table)."""
    if not op.object_kind:
        return f"{op.detail} on {op.table}", f"v1's queries on {op.table}"
    verb = (op.detail or "ALTER").split(" ", 1)[0]
    what = f"{verb} {op.object_kind.upper()} {op.name}"
    if op.object_kind in TABLE_BOUND:
        return what, "v1's writes to the table it is defined on"
    return what, f"v1's queries that use {op.object_kind} {op.name}"


@dataclass
class Contract:
    """A drop or rename that v1's code may still depend on; resolved against the base tree later."""

    rule: str
    mig: Migration
    op: Op
    what: str  # "drops" | "renames"
    table: str
    column: str | None
    new_name: str | None = None


@dataclass
class Judge(ConstraintRules):
    """Judges each migration on the schema replayed before it: what v1 will suffer, as findings."""

    ctx: object
    dialect: str
    pg_version: int | None
    lock_severity: Severity | None
    findings: list = field(default_factory=list)
    contracts: list = field(default_factory=list)
    _fresh: set = field(default_factory=set)
    _schema: Schema | None = None
    configured: str = ""

    def __post_init__(self) -> None:
        self.configured = self.dialect
    _new_objects: set = field(default_factory=set)

    # ---- helpers ------------------------------------------------------------------------------------
    def emit(self, rule: str, mig: Migration, op: Op, message: str, fix: str, subject: str,
             severity: Severity | None = None) -> None:
        if severity is None and rule in LOCK_RULES and rule != "concurrent-index-in-transaction-fails":
            severity = self.lock_severity
        self.findings.append(self.ctx.finding(
            rule, mig.path, op.line, op.column_no, op.end_line, op.end_column, message=message, fix=fix,
            subject=subject, severity=severity))

    # ---- one migration -----------------------------------------------------------------------------
    def judge(self, mig: Migration, schema: Schema, new_tables: set, new_objects: set) -> None:
        """Replay `mig` on `schema` (mutated) and report. `new_tables`: tables created in this release."""
        ops = mig.ops
        self.dialect = mig.dialect or self.configured  # a history kept for one database is judged in it
        self._schema, self._new_objects = schema, new_objects
        swap_skip = self._table_swaps(mig, schema, new_tables)
        expand_contract = self._expand_contract(mig, schema, new_tables)
        ddl_existing = [o for o in ops if o.kind in K.DDL_KINDS and o.kind != K.CREATE_TABLE
                        and o.table and o.table not in new_tables
                        and not (o.kind == K.CREATE_OBJECT and o.object_kind not in TABLE_BOUND)]
        position = {id(o): n for n, o in enumerate(ops)}
        # columns this migration adds, nullable and without a default: v1 leaves them NULL, which no UNIQUE or
        # FOREIGN KEY on them rejects
        self._fresh = {(o.table, o.spec.name) for o in ops
                       if o.kind == K.ADD_COLUMN and o.spec and o.spec.nullable and not o.spec.default}
        backfill_reported = False
        added_not_valid: dict = {}
        dropped: dict = {}  # (table, column) -> ColumnSpec before this migration dropped it
        for i, op in enumerate(ops):
            if op.kind == K.DROP_COLUMN and op.table:
                dropped[(op.table, op.column)] = schema.column(op.table, op.column)
            t = op.table
            if t in TOOL_TABLES:
                continue  # the migration tool's own bookkeeping: v1's code never reads or writes it
            existing = bool(t) and t not in new_tables
            k = op.kind
            if k == K.DYNAMIC:
                # a read the budget cut short may hide any break after it: that keeps the gate red
                self.emit("dynamic-sql-not-checked", mig, op,
                          f"{op.detail}: SQL that cannot be read statically was not checked"
                          + ("; the operations after it could not be judged, so this is an error" if op.stopped else ""),
                          "write the statement as a literal string (module constants and literal loops are fine), "
                          "or review it by hand and suppress this with a reason", f"dynamic:{op.line}",
                          severity=Severity.ERROR if op.stopped else None)
            elif k == K.UNKNOWN:
                self.emit("unknown-migration-operation", mig, op,
                          f"`{op.detail}` is not an operation canary-lint understands; its effect on v1 was not checked",
                          "review it by hand; if it is safe for v1, suppress this with a reason",
                          f"unknown:{op.detail}:{op.line}")
            elif i in swap_skip:
                pass
            elif k == K.RENAME_COLUMN and ("column", (t, op.column)) in new_objects and (t, op.new_name) in dropped:
                self._column_swap(mig, op, dropped[(t, op.new_name)], schema.column(t, op.column))
            elif k in (K.DROP_COLUMN, K.RENAME_COLUMN, K.ALTER_TYPE) and ("column", (t, op.column)) in new_objects:
                if k == K.ALTER_TYPE:
                    self._type_change(mig, op, schema, compat=False)  # v1 never wrote it; the rewrite still locks
            elif k == K.DROP_COLUMN and existing:
                self.contracts.append(Contract("drop-column-still-read-by-v1", mig, op, "drops", t, op.column))
            elif k == K.DROP_TABLE and existing:
                self.contracts.append(Contract("drop-table-still-read-by-v1", mig, op, "drops", t, None))
            elif k == K.RENAME_COLUMN and existing and op.new_name and op.new_name != op.column:
                self.contracts.append(Contract("rename-column-breaks-v1", mig, op, "renames", t, op.column, op.new_name))
            elif k == K.RENAME_TABLE and existing and op.new_name and op.new_name != t:
                self.contracts.append(Contract("rename-table-breaks-v1", mig, op, "renames", t, None, op.new_name))
            elif k == K.ALTER_TYPE and existing:
                self._type_change(mig, op, schema)
            elif k == K.ADD_COLUMN and existing and op.spec:
                self._add_column(mig, op)
            elif k == K.SET_NOT_NULL and existing:
                cur = schema.column(t, op.column)
                already = op.existing_nullable is False or (cur is not None and not cur.nullable)
                checks = schema.not_null_checks(t, op.column)
                # a CHECK (col IS NOT NULL) v1's databases already have (even NOT VALID) rejects v1's NULLs already
                v1_lives_with_it = any(c.origin in schema.applied_by_v1 for c in checks)
                if not already and self.dialect == PG:
                    self._set_not_null_scan(mig, op, checks)
                if v1_lives_with_it:
                    pass
                elif (t, op.column) in expand_contract:
                    self.emit("expand-and-contract-in-one-revision", mig, op,
                              f"adds {t}.{op.column}, backfills it and sets it NOT NULL in one revision: v1 does not "
                              f"know {op.column} and its INSERTs into {t} fail as soon as this migration has run",
                              f"ship {op.column} nullable (or with a server default) now; make v2 write it; set NOT NULL "
                              "in a later release, after v1 is gone", f"{t}.{op.column}")
                elif not already and not (cur is not None and cur.default and mig.source != "django"):
                    # Django's ORM sends every field of the model, NULL included: a server default never applies
                    fresh = ("column", (t, op.column)) in new_objects
                    why = (f"v1 does not know {op.column} (this release adds it), so its INSERTs leave it NULL and fail"
                           if fresh else
                           f"v1's model still has {op.column} nullable and its ORM sends NULL explicitly when it is "
                           "unset, so those INSERTs and UPDATEs fail" if mig.source == "django" else
                           f"v1's INSERTs that leave {op.column} empty fail")
                    self.emit("set-not-null-breaks-v1-inserts", mig, op,
                              f"sets {t}.{op.column} NOT NULL: {why} from the moment this migration runs",
                              f"give {op.column} a server default first, or set NOT NULL in a release after every "
                              "serving version writes it", f"{t}.{op.column}")
            elif k in (K.DROP_OBJECT, K.RENAME_OBJECT) and op.object_kind in (
                    "view", "materialized view", "function", "procedure", "type", "domain", "sequence", "enum value",
                    "extension", "schema"):
                if (op.object_kind, op.name) not in new_objects and not (
                        k == K.RENAME_OBJECT and op.object_kind == "sequence" and mig.source == "django"):
                    # a column's sequence is bound to its default by OID, and Django's ORM never names one
                    self._object(mig, op)
            elif k == K.ADD_CONSTRAINT and existing:
                self._constraint(mig, op, ops, i, added_not_valid)
            elif k == K.VALIDATE_CONSTRAINT and existing and self.dialect == PG:
                if op.name in added_not_valid and op.in_transaction and added_not_valid[op.name]:
                    self.emit("constraint-validation-blocks-v1-writes", mig, op,
                              f"validates {op.name} on {t} in the same transaction that added it NOT VALID: the "
                              "ACCESS EXCLUSIVE lock of the ADD is held while the whole table is scanned, and v1's "
                              "reads and writes on it wait", "run VALIDATE CONSTRAINT in a separate transaction "
                              "(a later migration, or after COMMIT)", f"validate:{t}.{op.name}")
            elif k == K.CREATE_INDEX and existing:
                self._create_index(mig, op)
            elif k == K.DROP_INDEX:
                table = t or schema.indexes.get(op.name)
                if table and table not in new_tables:
                    self._drop_index(mig, op, table)
            elif k == K.DATA and not backfill_reported and self.dialect == PG and op.in_transaction \
                    and (t is None or existing) and ddl_existing:
                # a lock taken by DDL earlier in the same transaction is held while this data change runs
                other = next((d for d in ddl_existing if d.in_transaction and position[id(d)] < i), None)
                if other is not None:
                    backfill_reported = True
                    what = f"{op.detail} on {t}" if t else op.detail
                    ddl, waits_on = _locked(other)
                    self.emit("backfill-holds-ddl-lock", mig, op,
                              f"{what} runs in the same transaction as {ddl} (line {other.line}): the DDL lock is "
                              f"held for the whole backfill and {waits_on} wait",
                              "move the backfill to its own migration (batched, outside the DDL transaction), run "
                              "after the schema change is deployed", f"backfill:{t}")
            # replay
            if k == K.CREATE_TABLE and t:
                new_tables.add(t)
            elif k == K.RENAME_TABLE and t in new_tables and op.new_name:
                new_tables.add(op.new_name)
            elif k == K.CREATE_OBJECT and op.name:
                new_objects.add((op.object_kind, op.name))
            elif k == K.ADD_COLUMN and op.spec and existing:
                new_objects.add(("column", (t, op.spec.name)))  # a column of this release: v1 never knew it
            elif k == K.RENAME_COLUMN and ("column", (t, op.column)) in new_objects and op.new_name:
                new_objects.add(("column", (t, op.new_name)))
            elif k in (K.DROP_NOT_NULL, K.SET_NOT_NULL) and existing and ("nullability", (t, op.column)) not in new_objects:
                new_objects.add(("nullability", (t, op.column)))  # what v1's schema said, before the release changed it
                spec = schema.column(t, op.column)
                if spec is not None and not spec.nullable:
                    new_objects.add(("v1-not-null", (t, op.column)))
            schema.apply(op)

    # ---- rules ------------------------------------------------------------------------------------
    def _type_change(self, mig: Migration, op: Op, schema: Schema, compat: bool = True) -> None:
        t, c = op.table, op.column
        cur = schema.column(t, c)
        old = op.existing_type or (cur.type if cur else None)
        v = type_change(old, op.type, self.dialect)
        if v.same:
            return
        if compat and v.compatible is False:
            self.emit("type-change-breaks-v1", mig, op,
                      f"changes {t}.{c} from {old} to {op.type}: {v.why}",
                      f"expand-contract: add a new column of type {op.type}, write both from v2, backfill, switch reads, "
                      f"and drop {c} in a later release", f"{t}.{c}")
        elif compat and v.compatible is None:
            self.emit("type-change-breaks-v1", mig, op,
                      f"changes {t}.{c} to {op.type} but {v.why}, so it cannot be shown safe for v1's values",
                      "pass existing_type= (Alembic) or keep the history that creates the column in the checked tree; "
                      "if the change is a widening, suppress this with a reason", f"{t}.{c}",
                      severity=Severity.WARNING)
        if self.dialect == "sqlite":
            self.emit("type-change-rewrites-table", mig, op,
                      f"changing {t}.{c} to {op.type} on SQLite recreates {t} (batch mode: create a copy, copy every "
                      "row, drop, rename) while holding the database write lock: v1's writes wait or fail with "
                      "SQLITE_BUSY until it finishes", "add a new column instead and backfill it in small "
                      "transactions; or run it in a maintenance window", f"{t}.{c}")
        elif v.rewrite and (self.dialect == PG or (self.dialect == "mysql" and not op.online)):
            lock = "ACCESS EXCLUSIVE lock" if self.dialect == PG else "table copy (ALGORITHM=COPY) that blocks writes"
            self.emit("type-change-rewrites-table", mig, op,
                      f"changing {t}.{c} to {op.type} rewrites {t} and its indexes under an {lock}: v1's queries "
                      f"on {t} wait until it finishes", "add a new column, backfill it in batches, and swap reads in "
                      "a later release; or run it in a maintenance window", f"{t}.{c}")

    def _set_not_null_scan(self, mig: Migration, op: Op, checks: list) -> None:
        """PostgreSQL proves a column free of NULLs by scanning the table under ACCESS EXCLUSIVE, unless (12+) a
        validated CHECK (col IS NOT NULL) already proves it."""
        t, c = op.table, op.column
        validated = [x for x in checks if x.validated]
        if validated and (self.pg_version is None or self.pg_version >= 12):
            return
        if validated:
            why = (f"PostgreSQL {self.pg_version} does not use the validated CHECK ({c} IS NOT NULL) for this (12 and "
                   "later do), so it scans")
            fix = "upgrade to PostgreSQL 12 or later first, or run it in a maintenance window"
        else:
            why = "PostgreSQL scans"
            fix = (f"ADD CONSTRAINT {t}_{c}_not_null CHECK ({c} IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT it in a "
                   "separate transaction (a later migration); then SET NOT NULL, which uses the check instead of a "
                   "scan (PostgreSQL 12+), and drop the check")
        self.emit("constraint-validation-blocks-v1-writes", mig, op,
                  f"sets {t}.{c} NOT NULL: {why} the whole of {t} for NULLs while holding an ACCESS EXCLUSIVE lock, "
                  f"and v1's reads and writes on {t} wait", fix, f"not-null:{t}.{c}")

    def _column_swap(self, mig: Migration, op: Op, old, new) -> None:
        """add `tmp`, copy, drop `c`, rename `tmp` to `c`: for v1, `c` changed type (and lost its data while
        the copy ran)."""
        t, c = op.table, op.new_name
        old_type = old.type if old is not None else None
        new_type = new.type if new is not None else None
        v = type_change(old_type, new_type, self.dialect)
        if v.same:
            return
        shape = f"from {old_type} to {new_type}" if old_type and new_type else "to a new column"
        self.emit("type-change-breaks-v1", mig, op,
                  f"replaces {t}.{c} by the new column {op.column} (dropped, then renamed into its place): for v1 "
                  f"{c} changes {shape}" + (f"; {v.why}" if v.compatible is False else "")
                  + f", and rows v1 writes to {c} while the migration copies them are lost",
                  f"expand-contract: keep {c}, let v2 write both {c} and {op.column}, backfill, switch reads to "
                  f"{op.column}, and drop {c} in a later release", f"{t}.{c}",
                  severity=None if v.compatible is not True else Severity.WARNING)

    def _add_column(self, mig: Migration, op: Op) -> None:
        s, t = op.spec, op.table
        if s.unique and not s.primary_key and s.default and not volatile_default(s.default) \
                and "nextval" not in s.default:
            self.emit("new-constraint-rejects-v1-writes", mig, op,
                      f"adds {t}.{s.name} UNIQUE with the server default {s.default}: v1 does not know {s.name}, so "
                      f"every row it inserts gets {s.default} and v1's second INSERT into {t} violates it (on a table "
                      "with two rows or more the migration itself fails)",
                      f"add {s.name} without a constant default (NULLs never collide), let v2 give each row its own "
                      "value, and add the UNIQUE constraint in a later release", f"unique:{t}.{s.name}",
                      severity=Severity.ERROR)
        if not s.nullable and not s.default and not s.primary_key:
            tail = (f" ({op.backfilled}, so the migration itself succeeds)" if op.backfilled
                    else " (and the migration fails on a non-empty table)")
            self.emit("not-null-column-breaks-v1-inserts", mig, op,
                      f"adds {t}.{s.name} NOT NULL without a server default: v1 does not know {s.name}, so every "
                      f"INSERT v1 makes into {t} fails{tail}",
                      f"add {s.name} nullable or with a server default; set NOT NULL in a later release, after v1 is gone",
                      f"{t}.{s.name}")
        if self.dialect == PG and s.default:
            if volatile_default(s.default):
                self.emit("volatile-default-rewrites-table", mig, op,
                          f"adds {t}.{s.name} with the volatile default {s.default}: PostgreSQL rewrites {t} under an "
                          f"ACCESS EXCLUSIVE lock and v1's queries on {t} wait",
                          f"add {s.name} without a default (or with a constant one), set the default afterwards, and "
                          "backfill existing rows in batches", f"{t}.{s.name}")
            elif self.pg_version is not None and self.pg_version < 11:
                self.emit("volatile-default-rewrites-table", mig, op,
                          f"adds {t}.{s.name} with a default on PostgreSQL {self.pg_version}: before PostgreSQL 11 "
                          f"any default rewrites {t} under an ACCESS EXCLUSIVE lock and v1's queries wait",
                          f"add {s.name} without a default, then SET DEFAULT, then backfill in batches", f"{t}.{s.name}")

    def _object(self, mig: Migration, op: Op) -> None:
        kind, name = op.object_kind, op.name
        if op.kind == K.DROP_OBJECT and kind == "extension":
            msg = (f"drops extension {name}: v1's columns of its types and v1's queries that call its functions or "
                   "operators fail")
        elif op.kind == K.DROP_OBJECT and kind == "schema":
            msg = f"drops schema {name}: v1's queries on any table, view or function in it fail"
        elif op.kind == K.DROP_OBJECT:
            msg = f"drops {kind} {name}: v1's queries that use it fail"
        elif kind == "enum value":
            msg = f"renames value {op.column!r} of enum {name} to {op.new_name!r}: v1 still writes {op.column!r} and those INSERTs fail"
        else:
            msg = f"renames {kind} {name} to {op.new_name}: v1's queries that use {name} fail"
        if kind == "enum value":
            fix = (f"ADD VALUE {op.new_name!r} beside {op.column!r}, make v2 write the new value and migrate rows; "
                   f"retire {op.column!r} in a later release, after v1 is gone")
        else:
            fix = f"keep {name} (add the new {kind} beside it) and remove the old one in a later release, after v1 is gone"
        self.emit("drop-object-still-used-by-v1", mig, op, msg, fix, f"{kind}:{name}")

    # ---- patterns across ops ------------------------------------------------------------------------
    def _table_swaps(self, mig: Migration, schema: Schema, new_tables: set) -> set:
        """Create copy -> (copy rows) -> drop old -> rename copy: one finding naming what it removes."""
        ops = mig.ops
        skip: set = set()
        created = {o.table: idx for idx, o in enumerate(ops) if o.kind == K.CREATE_TABLE}
        for idx, o in enumerate(ops):
            if o.kind != K.RENAME_TABLE or o.table not in created or not o.new_name:
                continue
            target = o.new_name
            drop = next((j for j in range(idx) if ops[j].table == target and
                         (ops[j].kind == K.DROP_TABLE or (ops[j].kind == K.RENAME_TABLE))), None)
            if drop is None or target in new_tables:
                continue
            old = schema.table(target)
            copy = ops[created[o.table]]
            old_cols = set(old.columns) if old else set()
            new_cols = {c.name for c in copy.columns}
            removed = sorted(old_cols - new_cols)
            lost = f"it removes {', '.join(f'{target}.{c}' for c in removed)}, which v1 still reads and writes, and " \
                if removed else ""
            self.emit("table-swap-drops-v1-table", mig, o,
                      f"replaces table {target} by a copy ({o.table}): {lost}rows v1 writes to {target} between the "
                      "copy and the swap are lost", "change the table in place with expand-contract steps (add columns, "
                      "backfill in batches, drop in a later release)", f"swap:{target}")
            skip.update({idx, drop})
        return skip

    def _expand_contract(self, mig: Migration, schema: Schema, new_tables: set) -> set:
        added = {(o.table, o.column) for o in mig.ops if o.kind == K.ADD_COLUMN}
        out = set()
        for i, o in enumerate(mig.ops):
            if o.kind == K.SET_NOT_NULL and (o.table, o.column) in added and o.table not in new_tables:
                if any(d.kind == K.DATA and d.table in (o.table, None) for d in mig.ops[:i]):
                    out.add((o.table, o.column))
        return out
