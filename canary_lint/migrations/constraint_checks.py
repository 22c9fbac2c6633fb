"""Rules for new constraints and indexes: what v1's writes hit (a UNIQUE, FOREIGN KEY or CHECK v1 was never
written to respect) and what they wait for (an index build, a validation scan, CONCURRENTLY in a transaction)."""

from __future__ import annotations

from canary_lint.migrations.ops import Migration, Op
from canary_lint.migrations.schema import volatile_default
from canary_lint.model import Severity

PG = "postgresql"
DJANGO_INDEX_FIX = ("AddIndexConcurrently (django.contrib.postgres.operations) in a migration with atomic = False; "
                    "for a ForeignKey, add it with db_index=False and build its index that way")
DJANGO_FK_FIX = ("add the field with db_constraint=False, then add the constraint NOT VALID with RunSQL and "
                 "VALIDATE CONSTRAINT it in a later migration")


class ConstraintRules:
    """Mixed into `checks.Judge`, which provides `emit`, `dialect`, `_schema`, `_fresh` and `_new_objects`."""

    def _constraint(self, mig: Migration, op: Op, ops: list, i: int, added_not_valid: dict) -> None:
        t, kind = op.table, op.constraint or "constraint"
        label = {"foreign_key": "foreign key", "check": "CHECK constraint", "unique": "UNIQUE constraint",
                 "primary_key": "primary key", "exclude": "EXCLUDE constraint"}.get(kind, kind)
        name = op.name or label
        v1_writes_null = kind in ("unique", "foreign_key") and op.columns and all(
            self._v1_leaves_null(t, c) for c in op.columns)
        violated = self._v1_violates(op, kind)
        if violated:
            self.emit("new-constraint-rejects-v1-writes", mig, op,
                      f"adds {label} {op.name or ''} on {t}: {violated}".replace("  ", " "),
                      "let v2 write the column first (or give each row its own value), then add the constraint in a "
                      "later release, after v1 is gone", f"{t}.{name}", severity=Severity.ERROR)
        elif not v1_writes_null and not op.restates and not self._v1_already_unique(t, op):
            self.emit("new-constraint-rejects-v1-writes", mig, op,
                      f"adds {label} {op.name or ''} on {t}: rows v1 writes that break it are rejected, and v1 was "
                      "never written to respect it".replace("  ", " "),
                      "make sure v1's code already satisfies it (ship the code first), then add the constraint in a "
                      "later release", f"{t}.{name}")
        if self.dialect == "mysql" and kind == "foreign_key" and not op.online:
            self.emit("constraint-validation-blocks-v1-writes", mig, op,
                      f"adds foreign key {name} on {t}: with foreign_key_checks on, MySQL builds it with "
                      f"ALGORITHM=COPY, copying {t} while v1's writes on it wait",
                      "SET foreign_key_checks = 0 for the session and add it with ALGORITHM=INPLACE, LOCK=NONE (or use "
                      "an online schema change tool)", f"{t}.{name}")
        if self.dialect != PG:
            return
        if kind in ("foreign_key", "check"):
            if op.not_valid:
                added_not_valid[op.name] = op.in_transaction
            elif op.with_null_column and kind == "foreign_key":
                pass  # added with its column, NULL in every row: PostgreSQL has nothing to check and does not scan
            else:
                self.emit("constraint-validation-blocks-v1-writes", mig, op,
                          f"adds {label} {name} on {t} without NOT VALID: PostgreSQL scans the whole table while "
                          f"holding a lock that blocks v1's writes on {t}"
                          + (" and on the referenced table" if kind == "foreign_key" else ""),
                          DJANGO_FK_FIX if mig.source == "django" and kind == "foreign_key" else
                          "add it NOT VALID, then VALIDATE CONSTRAINT in a separate transaction", f"{t}.{name}")
        elif kind in ("unique", "primary_key") and not op.using_index:
            self.emit("unique-constraint-build-blocks-v1-writes", mig, op,
                      f"adds {label} {name} on {t} with ALTER TABLE: the unique index is built under an ACCESS "
                      f"EXCLUSIVE lock and v1's reads and writes on {t} wait",
                      "CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE ... ADD CONSTRAINT ... USING INDEX",
                      f"{t}.{name}")

    def _v1_leaves_null(self, t: str, c: str) -> bool:
        """Does every row v1 writes leave `t.c` NULL? A column of this release (v1 does not know it) with no
        server default. NULL neither duplicates nor dangles; a NOT NULL on it is its own finding."""
        if (t, c) in self._fresh:
            return True
        if ("column", (t, c)) not in self._new_objects or self._schema is None:
            return False
        spec = self._schema.column(t, c)
        return spec is not None and not spec.default

    def _v1_not_null(self, t: str, c: str) -> bool:
        """Is `t.c` NOT NULL in v1's schema? Then no row v1 writes meets a partial index's `c IS NULL`."""
        if ("v1-not-null", (t, c)) in self._new_objects:
            return True
        if ("nullability", (t, c)) in self._new_objects or ("column", (t, c)) in self._new_objects:
            return False
        spec = self._schema.column(t, c) if self._schema is not None else None
        return spec is not None and not spec.nullable

    def _v1_already_unique(self, t: str, op: Op) -> bool:
        """A UNIQUE / PRIMARY KEY over columns that include all of v1's primary key (widened, as (port_id) to
        (port_id, host)): rows unique on the part are unique on the whole, so nothing v1 writes is rejected;
        a new primary key column must be one v1 already fills (NOT NULL, not added in this release)."""
        table = self._schema.table(t) if self._schema is not None and op.columns else None
        if table is None or op.constraint not in ("unique", "primary_key"):
            return False
        columns = table.columns
        key = {name for name, spec in columns.items() if spec.primary_key}
        if not key or not key <= set(op.columns):
            return False
        if op.constraint == "primary_key":
            return all(c in key or (c in columns and not columns[c].nullable and ("column", (t, c)) not in
                                    self._new_objects) for c in op.columns)
        return True

    def _v1_violates(self, op: Op, kind: str) -> str | None:
        """Why every v1 write breaks the new constraint, when that is certain: v1 cannot fill a column of this
        release, so each of its rows gets the same constant server default (a UNIQUE / PRIMARY KEY sees a
        duplicate at v1's second INSERT), or NULL (a CHECK ... IS NOT NULL refuses it)."""
        t = op.table
        if kind in ("unique", "primary_key") and op.columns:
            own = [c for c in op.columns if ("column", (t, c)) in self._new_objects]
            if not own:
                return None
            specs = [self._schema.column(t, c) if self._schema else None for c in own]
            if all(s is not None and s.default and not volatile_default(s.default) and "nextval" not in s.default
                   for s in specs):
                defaults = ", ".join(f"{c} = {s.default}" for c, s in zip(own, specs))
                theirs = [c for c in op.columns if c not in own]
                if not theirs:
                    return (f"v1 does not know {', '.join(own)}, so every row it inserts gets the server default "
                            f"({defaults}) and v1's second INSERT into {t} violates it")
                known = [self._schema.column(t, c) if self._schema else None for c in theirs]
                if any(k is None or k.primary_key or k.unique for k in known):
                    return None  # v1's own columns may already tell its rows apart
                return (f"v1 does not know {', '.join(own)}, so every row it inserts gets the server default "
                        f"({defaults}): two rows v1 writes with the same {', '.join(theirs)} violate it")
        if kind == "check" and op.proves_not_null and (t, op.proves_not_null) in self._fresh:
            return (f"v1 does not know {op.proves_not_null}, so every row it inserts leaves it NULL, which the "
                    f"check refuses")
        return None

    def _create_index(self, mig: Migration, op: Op) -> None:
        t = op.table
        violated = self._v1_violates(op, "unique") if op.unique else None
        if violated:
            self.emit("new-constraint-rejects-v1-writes", mig, op,
                      f"creates unique index {op.name} on {t}: {violated}",
                      "let v2 write the column first (or give each row its own value), then add the unique index in "
                      "a later release, after v1 is gone", f"{t}.{op.name}", severity=Severity.ERROR)
        elif op.unique and not (op.columns and all(self._v1_leaves_null(t, c) for c in op.columns)) \
                and not any(self._v1_not_null(t, c) for c in op.only_null):
            self.emit("new-constraint-rejects-v1-writes", mig, op,
                      f"creates unique index {op.name} on {t}: rows v1 writes with duplicate "
                      f"{', '.join(op.columns) or 'keys'} are rejected", "make sure v1 never writes duplicates (ship "
                      "the code first), then add the unique index in a later release", f"{t}.{op.name}")
        if self.dialect != PG:
            return
        if op.concurrently:
            self._concurrent_in_tx(mig, op, "CREATE INDEX CONCURRENTLY")
        else:
            self.emit("index-build-blocks-v1-writes", mig, op,
                      f"creates index {op.name or ''} on {t} without CONCURRENTLY: v1's INSERT, UPDATE and DELETE on "
                      f"{t} wait for the whole build".replace("  ", " "),
                      DJANGO_INDEX_FIX if mig.source == "django" else
                      "CREATE INDEX CONCURRENTLY (Alembic: postgresql_concurrently=True inside "
                      "op.get_context().autocommit_block())", f"{t}.{op.name}")

    def _drop_index(self, mig: Migration, op: Op, table: str) -> None:
        if self.dialect != PG:
            return
        if op.concurrently:
            self._concurrent_in_tx(mig, op, "DROP INDEX CONCURRENTLY")
        else:
            self.emit("index-build-blocks-v1-writes", mig, op,
                      f"drops index {op.name or '(named at run time)'} on {table} without CONCURRENTLY: the ACCESS "
                      "EXCLUSIVE lock blocks "
                      f"v1's reads and writes on {table} (and queues behind any long query)",
                      "RemoveIndexConcurrently (django.contrib.postgres.operations) in a migration with atomic = "
                      "False" if mig.source == "django" else
                      "DROP INDEX CONCURRENTLY (Alembic: postgresql_concurrently=True inside autocommit_block())",
                      f"{table}.{op.name}")

    def _concurrent_in_tx(self, mig: Migration, op: Op, what: str) -> None:
        if not op.in_transaction:
            return
        if mig.source == "alembic" and op.tx.startswith("PostgreSQL runs"):
            why = op.tx
            how = ("run it in an op.execute() call of its own (after `op.execute(\"COMMIT\")`), or wrap it in "
                   "`with op.get_context().autocommit_block():`")
        elif mig.source == "alembic":
            why = op.tx or "Alembic runs upgrade() in a transaction"
            how = "wrap it in `with op.get_context().autocommit_block():`"
        elif mig.source == "django":
            why = op.tx or "Django runs the migration in a transaction"
            how = "set `atomic = False` on the Migration class and keep the operation in a migration of its own"
        else:
            why = op.tx or "it runs in a transaction"
            how = ("put it in its own migration that runs without a transaction (no BEGIN; dbmate: "
                   "`-- migrate:up transaction:false`; golang-migrate: one statement per file)")
        self.emit("concurrent-index-in-transaction-fails", mig, op,
                  f"{what} {op.name or ''} cannot run inside a transaction block and {why}: the migration fails "
                  "and the release stops".replace("  ", " "), how, f"{op.table}.{op.name}")
