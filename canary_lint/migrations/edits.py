"""Migrations v1's release already applied, edited in this one.

A migration tool runs a revision (or a versioned SQL file) once per database and records it. Databases that v1's
release migrated never run the edited file again, while fresh databases (CI, new environments, a restore) run
the new text: the two end up with different schemas. The comparison is made on normalized operations, so a
comment, a docstring or a reformatted statement is not an edit.
"""

from __future__ import annotations

import dataclasses
import re

from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import Migration, Op
from canary_lint.model import literal_text

# what an operation does, not where it is written or how the reader saw it
_PLACE = frozenset({"line", "column_no", "end_line", "end_column", "in_transaction", "tx", "sql", "foreign"})
# the reader's note is the only content of operations whose effect it does not model
_KEEP_DETAIL = frozenset({K.DYNAMIC, K.UNKNOWN, K.DATA})


def _value(v):
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return tuple(sorted((f.name, _value(getattr(v, f.name))) for f in dataclasses.fields(v)))
    if isinstance(v, (list, tuple)) or hasattr(v, "resolve"):  # LazyColumns of a CREATE TABLE
        return tuple(_value(x) for x in v)
    if isinstance(v, str) and " at line " in v:  # the reader's "computed by get_data() at line 121": not content
        return _AT_LINE.sub("", v)
    return v


_AT_LINE = re.compile(r" at line \d+")


def _detail_is_content(op: Op) -> bool:
    """A statement the reader does not model, or SQL that changes data: its text is what it does. The call a
    Python data step makes (`db.session.add()`, a helper of the application) is only the reader's wording:
    the helper's own code changes from release to release while the schema stays the same."""
    return op.kind in (K.DYNAMIC, K.UNKNOWN) or (op.kind == K.DATA and op.sql)


def signature(op: Op) -> tuple:
    """The normalized content of an operation, without its position or the reader's wording."""
    out = []
    for f in dataclasses.fields(op):
        if f.name in _PLACE or (f.name == "detail" and not _detail_is_content(op)):
            continue
        out.append((f.name, _value(getattr(op, f.name))))
    return tuple(out)


def effective(ops: list) -> list:
    """The operations that change something (comments, SET, transaction control dropped). What an
    application helper in another module does to data, or does in a way the reader cannot model, is that
    helper's code of the day, not the revision's: its schema changes count, the rest does not."""
    return [o for o in ops if o.kind not in (K.OTHER, K.BEGIN, K.COMMIT)
            and not (o.foreign and o.kind in (K.DATA, K.DYNAMIC, K.UNKNOWN))]


def describe(op: Op) -> str:
    what = op.kind.replace("_", " ")
    if op.kind in _KEEP_DETAIL and op.detail:
        what = op.detail if op.kind != K.DATA else f"{op.detail} (data change)"
    target = op.table or op.name or ""
    column = op.column or (op.spec.name if op.spec else None)
    if op.table and column:
        target = f"{op.table}.{column}"
    elif op.table and op.name and op.kind not in (K.DATA,):
        target = f"{op.name} on {op.table}"
    elif op.table and op.kind in _NAMED:
        target = f"on {op.table} (its name computed at run time)"
    return f"{what} {target}".strip()


_NAMED = frozenset({K.CREATE_INDEX, K.DROP_INDEX, K.ADD_CONSTRAINT, K.DROP_CONSTRAINT, K.VALIDATE_CONSTRAINT})


def _flat(sig: tuple, prefix: str = "") -> dict:
    out = {}
    for key, value in sig:
        if isinstance(value, tuple) and value and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str)
                                                      for x in value):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def changed_fields(was: Op, now: Op) -> str:
    """`type TEXT -> VARCHAR(16)`, ... for two operations of the same kind on the same object."""
    a, b = _flat(signature(was)), _flat(signature(now))
    parts = []
    for key in a:
        if a[key] != b.get(key):
            label = key.removeprefix("spec.").replace("_", " ")
            parts.append(f"{label} {_show(a[key])} -> {_show(b.get(key))}")
    return ", ".join(parts[:3])


def _show(v) -> str:
    if v is None:
        return "none"
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    return literal_text(v)


def first_difference(base_ops: list, head_ops: list) -> tuple[int, Op | None, Op | None] | None:
    """(index, base op, head op) of the first operation that differs, or None when both do the same."""
    a, b = effective(base_ops), effective(head_ops)
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x is None or y is None or signature(x) != signature(y):
            return i, x, y
    return None


def read_base(ctx, mig: Migration, text: str) -> Migration | None:
    """v1's version (`text`) of `mig` read with the same reader, or None (unreadable: nothing to compare)."""
    if mig.source == "django":
        from canary_lint.migrations.django_reader import read_alone

        return read_alone(text, mig.path, mig.revision.split(".", 1)[0] if mig.revision else "", ctx.config.dialect)
    if mig.source == "alembic":
        from canary_lint.migrations.alembic_reader import read_revision

        from canary_lint.pysource import TemplateSource, parse

        try:
            tree = parse(text, mig.path)
        except (SyntaxError, ValueError, RecursionError, TemplateSource):
            return None
        from canary_lint.migrations.dialects import postgres_driver
        from canary_lint.migrations.readers import project_of

        return read_revision(tree, mig.path, mig.dialect or ctx.config.dialect, project_of(ctx, "base"),
                             postgres_driver(ctx))
    from canary_lint.migrations.readers import _sql_tool
    from canary_lint.migrations.sql_reader import SqlSyntaxError, read_sql

    tool, body, _ = _sql_tool(mig.path, text)
    try:
        return Migration(mig.path, "sql", tool, ops=read_sql(body, mig.dialect or ctx.config.dialect))
    except (SqlSyntaxError, ValueError, RecursionError):
        return None


def _flyway_lines(text: str) -> list:
    """What Flyway's checksum covers: every line, without its line ending (and without a BOM)."""
    return text.lstrip("\ufeff").splitlines()


def _first_changed_line(old: list, new: list) -> int:
    for n, (a, b) in enumerate(zip(old, new), 1):
        if a != b:
            return n
    return min(len(old), len(new)) + 1 if len(new) > len(old) else max(len(new), 1)


def check_edits(ctx, migrations: list, emit) -> None:
    """Report every migration present at the base whose upgrade operations changed since, and every versioned
    Flyway migration whose text changed (Flyway refuses to migrate over a checksum mismatch)."""
    files = {f.path: f for f in ctx.files_of("alembic", "sql_migration", "django")}
    for mig in migrations:
        if not mig.in_base or mig.context:
            continue
        with ctx.guard(mig.path, "migrations"):
            file = files.get(mig.path)
            head_text = ctx.text(file) if file is not None else None
            base_text = ctx.base.read_text(mig.path)
            if base_text is None or head_text is None or base_text == head_text:
                continue
            basename = mig.path.rsplit("/", 1)[-1]
            if mig.tool == "flyway" and basename[:1] in "RrUu":
                continue  # repeatable migrations are re-run when they change; undo scripts are not upgrades
            checksum = mig.tool == "flyway" and _flyway_lines(base_text) != _flyway_lines(head_text)
            old = read_base(ctx, mig, base_text)
            if old is None:
                continue
            if mig.source == "alembic" and old.revision and mig.revision and old.revision != mig.revision:
                if not any(m.revision == old.revision for m in migrations if m.source == "alembic"):
                    message = (f"replaces revision {old.revision}, which v1's release already applied, by revision "
                               f"{mig.revision} in {mig.path}: databases v1 migrated record {old.revision} (or a "
                               f"later revision built on it) in alembic_version, and `alembic upgrade` on them stops "
                               f"with \"Can't locate revision identified by '{old.revision}'\"")
                    fix = (f"keep revision {old.revision} as v1 shipped it and add {mig.revision} as a new revision "
                           f"whose down_revision is the current head")
                    line = mig.revision_line
                    emit(mig, (line, 1, line, 1), message, fix, f"edited:{mig.path}")
                continue
            ops = mig.ops
            if mig.source == "django":  # both versions read alone, so history does not colour the comparison
                alone = read_base(ctx, mig, head_text)
                ops = alone.ops if alone is not None else ops
            diff = first_difference(old.ops, ops)
            if diff is None and not checksum:
                continue
            name = (f"revision {mig.revision}" if mig.source == "alembic" and mig.revision else
                    f"migration {mig.revision}" if mig.source == "django" and mig.revision else mig.path)
            flyway = ("Flyway validates the checksum of every applied migration before it migrates (validateOnMigrate, "
                      "on by default), so `flyway migrate` stops with a checksum mismatch on every database v1 migrated")
            if diff is None:
                line = _first_changed_line(_flyway_lines(base_text), _flyway_lines(head_text))
                message = (f"edits {name}, which v1's release already applied: its operations are unchanged, but "
                           f"{flyway}")
                fix = ("restore the file exactly as v1 shipped it, comments included; put any change in a new "
                       "versioned migration")
                emit(mig, (line, 1, line, 1), message, fix, f"edited:{mig.path}")
                continue
            _, was, now = diff
            if now is None:
                change = f"no longer runs {describe(was)}"
                at = (mig.revision_line, 1, mig.revision_line, 1) if mig.source in ("alembic", "django") else (1, 1, 1, 1)
            else:
                if was is None:
                    change = f"now also runs {describe(now)}"
                elif describe(was) == describe(now):
                    change = f"changes {describe(now)}: {changed_fields(was, now)}"
                else:
                    change = f"now runs {describe(now)} where it ran {describe(was)}"
                at = now.where
            message = (f"edits {name}, which v1's release already applied: it {change}. Databases v1 migrated have "
                       "it recorded as done and never run the new text, so their schema differs from databases "
                       "migrated from scratch" + (f"; and {flyway}" if checksum else ""))
            fix = ("restore the migration exactly as v1 shipped it and put the change in a new migration after the "
                   "current head")
            emit(mig, at, message, fix, f"edited:{mig.path}")
