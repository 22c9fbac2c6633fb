"""The migration analyzer: read every Alembic revision and SQL migration into operations, replay the whole
history, and judge the revisions of this release against what v1 still uses.

The release: with `--base`, every migration added since the base (tables created anywhere in it are new);
without it, each migration on its own (a table is new only inside the migration that creates it), because
every revision may be deployed alone.
"""

from __future__ import annotations

import posixpath
import re

from canary_lint.migrations.checks import COMPAT_RULES, LOCK_RULES, META_RULES, Judge
from canary_lint.migrations.merge import one_finding_per_change
from canary_lint.migrations.ops import Migration
from canary_lint.migrations.dialects import dialect_of, postgres_driver
from canary_lint.migrations.readers import _sql_tool, project_of, read_alembic, read_sql_migration
from canary_lint.model import Severity

RELEASE_RULES = ("applied-migration-edited",)
RULES = COMPAT_RULES + LOCK_RULES + META_RULES + RELEASE_RULES

def _history_beside_named_files(ctx) -> tuple[list[Migration], list[Migration]]:
    """When files are named on the command line (pre-commit), the other migrations of their directories are
    read too, replayed for the schema history but not judged."""
    named = [f for f in ctx.files_of("alembic", "sql_migration") if f.explicit]
    if not named:
        return [], []  # a check of Django migrations alone never loads the Alembic reader
    from canary_lint.discovery import classify, display_path
    from canary_lint.migrations.alembic_reader import read_revision
    from canary_lint.migrations.history import sql_order
    if any("sql_migration" in f.kinds for f in named):
        from canary_lint.migrations.sql_reader import SqlSyntaxError, read_sql
    else:  # a pre-commit run on Python revisions never loads the SQL reader
        SqlSyntaxError, read_sql = ValueError, None
    from canary_lint.pysource import TemplateSource
    from canary_lint.pysource import parse as parse_python

    known = {f.abspath.resolve() for f in ctx.files}
    alembic, sql = [], []
    for folder in sorted({f.abspath.parent.resolve() for f in named}):
        want_py = any(f.abspath.parent.resolve() == folder and "alembic" in f.kinds for f in named)
        want_sql = any(f.abspath.parent.resolve() == folder and "sql_migration" in f.kinds for f in named)
        for path in sorted(folder.iterdir()):
            if path.resolve() in known or not path.is_file():
                continue
            rel = display_path(path, ctx.cwd)
            try:
                if want_py and path.suffix == ".py":
                    tree = parse_python(_read_sibling(path, ctx.cwd), rel)
                    m = read_revision(tree, rel, dialect_of(ctx, rel), project_of(ctx), postgres_driver(ctx))
                    if m is not None:
                        m.context = True
                        alembic.append(m)
                elif want_sql and path.suffix == ".sql" and "sql_migration" in classify(path, rel, False, set()):
                    tool, body, _ = _sql_tool(rel, _read_sibling(path, ctx.cwd))
                    alembic_or_sql = Migration(rel, "sql", tool, ops=read_sql(body, dialect_of(ctx, rel)),
                                               order=sql_order(rel), context=True)
                    sql.append(alembic_or_sql)
            except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError, SqlSyntaxError,
                    TemplateSource):
                continue  # not ours to report: only the named files are checked
    return alembic, sql


def _read_sibling(path, root) -> str:
    """A migration beside a named file: a regular file inside the checked tree, bounded like every read of
    the tree (OSError when it is not one: skipped)."""
    from canary_lint.context import MAX_BYTES
    from canary_lint.discovery import read_regular

    data = read_regular(path, MAX_BYTES, root)
    if data is None:
        raise OSError(f"{path}: not a regular file")
    return data.decode("utf-8")


def _defined_on_disk(ctx, path: str, revision: str) -> bool:
    """Is `revision` defined by a file beside `path` that was not part of this run (pre-commit passes only
    the changed files)?"""
    from canary_lint.context import MAX_BYTES
    from canary_lint.discovery import read_regular

    folder = (ctx.cwd / path).parent
    pattern = re.compile(rf"^revision\s*(?::[^=]*)?=\s*[rRbBuU]?['\"]{re.escape(revision)}['\"]", re.M)
    try:
        candidates = sorted(folder.glob("*.py"))
    except OSError:
        return False
    for cand in candidates:
        try:
            data = read_regular(cand, MAX_BYTES, ctx.cwd)
            if data is not None and pattern.search(data.decode("utf-8", "replace")):
                return True
        except OSError:
            continue
    return False


REVISION_LINE = re.compile(r"""^revision\s*(?::\s*str\s*)?=\s*['"]([^'"\n]{1,100})['"]""", re.M)


def _applied_under_another_name(ctx, alembic: list[Migration], base_paths: set[str]) -> None:
    """A revision v1 already applied is v1's, whatever its file is called now: a history squashed into a new
    initial file (`kilo_initial.py` carrying revision 'kilo' of v1's `kilo_release.py`) or a moved file."""
    fresh = [m for m in alembic if not m.in_base and m.revision]
    if not fresh:
        return
    folders = {posixpath.dirname(m.path) for m in alembic}
    names = {posixpath.basename(f) for f in folders} | {"versions", "migrations"}
    known: set[str] = set()
    for path in base_paths:
        # the same folders, or a folder of the same name elsewhere (a history moved: migrations/ -> app/migrations/)
        if path.endswith(".py") and (any(path.startswith(f + "/") for f in folders)
                                     or posixpath.basename(posixpath.dirname(path)) in names):
            text = ctx.base.read_text(path)
            if text and "revision" in text:
                known.update(REVISION_LINE.findall(text))
    for m in fresh:
        if m.revision in known:
            m.in_base = True


def _initial_of_a_new_history(ctx, alembic: list[Migration], base_paths: set[str]) -> None:
    """A project that moves to Alembic (glance from sqlalchemy-migrate) adds a root revision creating the
    schema v1 already has. When v1's code maps most of the tables that root creates, it is v1's schema, not
    new tables of this release (which would hide every change this release makes to them)."""
    from canary_lint.migrations import ops as K

    for m in alembic:
        if m.in_base or m.down or not m.revision:
            continue
        folder = posixpath.dirname(m.path)
        if any(p.startswith(folder + "/") for p in base_paths):
            continue  # v1 had this history: its root is new in the release for real
        tables = {op.table for op in m.ops if op.kind == K.CREATE_TABLE and op.table}
        if len(tables) < 2:
            continue
        index = ctx.cached(("migrations", "base-usage", frozenset(tables)), lambda: _base_index(ctx, set(tables)))
        mapped = [t for t in tables if index is not None and index.table_uses(t)]
        if 2 * len(mapped) >= len(tables):
            m.in_base = True


def _lock_severity(ctx) -> Severity | None:
    value = (ctx.config.migration or {}).get("lock-severity")
    return Severity.parse(value) if value else None


def analyze(ctx):
    alembic: list[Migration] = []
    sql: list[Migration] = []
    for file in ctx.files_of("alembic"):
        with ctx.guard(file.path, "migrations"):
            m = read_alembic(ctx, file)
            if m is not None:
                alembic.append(m)
    for file in ctx.files_of("sql_migration"):
        with ctx.guard(file.path, "migrations"):
            m = read_sql_migration(ctx, file)
            if m is not None:
                sql.append(m)
    django, django_problems = [], []
    if ctx.files_of("django"):  # an Alembic or SQL history never loads the Django reader
        from canary_lint.migrations.django_reader import read_django

        django, django_problems = read_django(ctx)
    if not alembic and not sql and not django:
        return []
    with ctx.guard(".", "migrations"):
        more_alembic, more_sql = _history_beside_named_files(ctx)
        alembic += more_alembic
        sql += more_sql

    from canary_lint.migrations.history import order_alembic
    from canary_lint.migrations.schema import Schema

    base = ctx.base
    if base is not None:
        base_paths = set(base.paths())
        for m in alembic + sql + django:
            m.in_base = m.path in base_paths
        _applied_under_another_name(ctx, alembic, base_paths)
        _initial_of_a_new_history(ctx, alembic, base_paths)
    ordered, problems = order_alembic(alembic, lambda m, rev: _defined_on_disk(ctx, m.path, rev))
    ordered += sorted(sql, key=lambda m: m.order)
    ordered += django
    problems += django_problems
    ctx.cached(("migrations", "replay"), lambda: (ordered, base is not None))  # for `check --prove`
    judge = Judge(ctx, ctx.config.dialect, ctx.config.postgres_version, _lock_severity(ctx))
    for p in problems:
        if not p.migration.in_base and not p.migration.context:
            op_line = p.migration.revision_line
            judge.findings.append(ctx.finding(
                "migration-history-broken", p.migration.path, op_line, 1, message=p.message, fix=p.fix,
                subject=p.subject))
    if base is not None:
        from canary_lint.migrations.edits import check_edits

        def edited(mig, at, message, fix, subject):
            judge.findings.append(ctx.finding("applied-migration-edited", mig.path, *at, message=message, fix=fix,
                                              subject=subject))
        check_edits(ctx, alembic + sql + django, edited)
    schema = Schema()
    release_tables: set = set()
    release_objects: set = set()
    for m in ordered:
        schema.origin = m.path
        with ctx.guard(m.path, "migrations"):
            if m.in_base or m.context:
                schema.applied_by_v1.add(m.path)
                for op in m.ops:
                    schema.apply(op)
                continue
            if base is None:  # each migration is its own release
                new_tables, new_objects = set(), set()
            else:
                new_tables, new_objects = release_tables, release_objects
            judge.judge(m, schema, new_tables, new_objects)
        if base is None:  # the next migration's release runs after this one was deployed
            schema.applied_by_v1.add(m.path)
    if judge.contracts:
        with ctx.guard(".", "migrations"):
            _resolve_contracts(ctx, judge)
    return one_finding_per_change(judge.findings, lambda code: ctx.registry.selected(code, ctx.config))


# ---- cross-version --------------------------------------------------------------------------------------
def _base_index(ctx, words: set):
    """v1's uses of the database, from the files of the base tree that mention one of `words` (the tables the
    release drops or renames): a large tree is read, but only those files are parsed."""
    from canary_lint.migrations import django_models
    from canary_lint.migrations.django_reader import label_of
    from canary_lint.migrations.usage import UsageIndex, finish, index_python, index_sql, is_code_path

    index = UsageIndex()
    excludes = ctx.config.all_excludes
    # a Django table `shop_order` is mapped by `class Order` in shop/models.py: look for the model name too
    words = words | {w.split("_", 1)[1] for w in words if "_" in w}
    # ... and the class name of a table named by a convention (`networks` -> class Network)
    words = words | {w[:-3] + "y" if w.endswith("ies") else w[:-1] for w in words if w.endswith("s") and len(w) > 3}
    # ... and every file that names a table indirectly: a model whose table no one can read blocks "v1 no
    # longer uses it" (SQLModel table=True, a __tablename__ derived by a base class, mixins)
    pattern = re.compile("|".join([re.escape(w) for w in sorted(words, key=len, reverse=True)]
                                  + [r"declared_attr|__tablename__|table\s*=\s*True|__abstract__"]), re.I)
    for path in ctx.base.paths():
        kind = is_code_path(path, excludes)
        if kind is None:
            continue
        text = ctx.base.read_text(path)
        if not text:
            continue
        index.files += 1
        if not pattern.search(text):
            continue
        index.files -= 1  # counted again by the indexer
        if kind == "python":
            tree = ctx.base_python_ast(path)
            if tree is not None:
                index_python(index, path, tree)
                if django_models.names_models(text):
                    django_models.index_django(index, path, tree,
                                               label_of(ctx, django_models.app_dir_of(path), "base"),
                                               ctx.config.dialect)
            else:
                index.files += 1
        else:
            index_sql(index, path, text)
    return finish(index)


def _head_index(ctx):
    from canary_lint.migrations import django_models
    from canary_lint.migrations.django_reader import label_of
    from canary_lint.migrations.usage import UsageIndex, finish, index_python, index_sql, is_code_path

    index = UsageIndex()
    excludes = ctx.config.all_excludes
    for file in ctx.files:
        kind = is_code_path(file.path, excludes)
        if kind == "python" and not file.kinds & {"alembic", "django"}:
            tree = ctx.python_ast(file)
            if tree is not None:
                index_python(index, file.path, tree)
                text = ctx.text(file) or ""
                if django_models.names_models(text):
                    django_models.index_django(index, file.path, tree,
                                               label_of(ctx, django_models.app_dir_of(file.path)),
                                               ctx.config.dialect)
        elif kind == "sql" and "sql_migration" not in file.kinds:
            text = ctx.text(file)
            if text:
                index_sql(index, file.path, text)
    return finish(index)


def _resolve_contracts(ctx, judge: Judge) -> None:
    from canary_lint.migrations.usage import describe

    words = ({c.table for c in judge.contracts if not c.op.computed}
             | {c.new_name for c in judge.contracts if c.new_name and not c.column and not c.op.computed})
    base_index = (ctx.cached(("migrations", "base-usage", frozenset(words)), lambda: _base_index(ctx, words))
                  if ctx.base is not None else None)
    head_index = ctx.cached(("migrations", "head-usage"), lambda: _head_index(ctx)) if ctx.base is not None else None
    for c in judge.contracts:
        obj = f"{c.table}.{c.column}" if c.column else c.table
        noun = "column" if c.column else "table"
        verb = "drops" if c.what == "drops" else "renames"
        target = f" to {c.new_name}" if c.new_name else ""
        if c.what == "drops":
            fix = (f"expand-contract: stop using {obj} in a release first; drop it in a later release, after no "
                   f"serving version reads it")
        else:
            new = f"{c.table}.{c.new_name}" if c.column else c.new_name
            fix = (f"expand-contract: add {new} beside {obj}, write both from v2 and backfill; switch reads; drop "
                   f"{obj} in a later release, after v1 is gone")
        severity = None
        if c.op.computed:  # which table or column cannot be read statically: nothing rules out v1's use
            subject = (f"column {c.column} of the tables computed by {c.op.computed}" if c.column and
                       c.table.startswith("<") else f"the {noun} computed by {c.op.computed}")
            if not c.table.startswith("<") and c.column and c.column.startswith("<"):
                subject = f"a column of {c.table} computed by {c.op.computed}"
            new = f" to {c.new_name}" if c.new_name and not c.new_name.startswith("<") else ""
            fix = ("name the tables and columns in the migration (a literal list) so each can be checked against "
                   "v1; expand-contract: stop using them in a release first, " + ("drop" if c.what == "drops" else
                   "rename") + " them in a later release, after no serving version reads them")
            judge.emit(c.rule, c.mig, c.op, f"{verb} {subject}{new}: v1 (still serving) may read it and its queries "
                       "fail once this migration runs; which tables and columns it changes cannot be read statically, "
                       "so v1's use could not be ruled out", fix, f"computed:{c.op.computed}:{c.column or ''}")
            continue
        if base_index is None:
            message = (f"{verb} {noun} {obj}{target} while v1 (still serving) may read it; its queries that name "
                       f"{obj} fail once this migration runs (run with --base to see where v1 uses it)")
        else:
            uses = base_index.column_uses(c.table, c.column) if c.column else base_index.table_uses(c.table)
            if uses:
                message = f"{verb} {noun} {obj}{target} while v1 still {describe(uses)}"
                now = head_index.column_uses(c.table, c.column) if c.column else head_index.table_uses(c.table)
                if c.what == "drops" and not now:
                    message += ("; v2 already stopped using it: ship that code change in this release and the drop "
                                "in a later one")
                elif c.what == "renames" and c.new_name:
                    renamed = (head_index.column_uses(c.table, c.new_name) if c.column
                               else head_index.table_uses(c.new_name))
                    if renamed and not now:
                        new = f"{c.table}.{c.new_name}" if c.column else c.new_name
                        message += (f"; v2 already uses {new} ({renamed[0]}), so no schema serves both versions: "
                                    "add the new name beside the old one instead")
            elif base_index.blockers(c.table, c.column):
                blockers = base_index.blockers(c.table, c.column)
                where = ", ".join(f"{b.name} ({b})" for b in blockers[:3]) + (
                    f" and {len(blockers) - 3} more" if len(blockers) > 3 else "")
                message = (f"{verb} {noun} {obj}{target}: no use found in v1's {base_index.files} code and query "
                           f"files, but v1's model{'s' if len(blockers) > 1 else ''} {where} could not be mapped "
                           f"to a table, so v1's use could not be ruled out")
            else:
                severity = Severity.WARNING
                message = (f"{verb} {noun} {obj}{target}: v1 no longer reads {obj} (no use found in its "
                           f"{base_index.files} code and query files); other consumers of the database might")
                fix = "a correct contract step if nothing else reads it; make sure no other service or job does"
        judge.emit(c.rule, c.mig, c.op, message, fix, obj, severity=severity)
