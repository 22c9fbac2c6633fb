"""`check --prove DSN`: each migration finding checked on a real database. v1's schema, as the history
replays it, is made in a throwaway namespace; the release's operations run one by one, as canary-lint read
them; after each, v1's statements on the table it changed run again (in a transaction rolled back). A
statement that ran on v1's own schema and fails now, or reads back other values, proves the finding at the
operation's line; one that still runs is "not reproduced" (the severity stays: v1's statements here are
derived from its schema, not taken from its code). Nothing the tree wrote is executed: the SQL is
canary-lint's own (`render.py`, `alter.py`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from canary_lint.prove import alter
from canary_lint.prove.db import Database, ProveRefused, app_databases, first_line, parse
from canary_lint.prove.render import Built, NotRendered, create_table, ident
from canary_lint.prove.v1 import MAX_TABLES, Statement, difference, same_rows, table_statements

TOOL_TABLES = frozenset({"alembic_version", "django_migrations", "flyway_schema_history", "schema_migrations",
                         "databasechangelog", "databasechangeloglock"})
MAX_OPS = 2000


@dataclass
class OpResult:
    status: str  # proven | not reproduced | not run | migration failed
    detail: str = ""


class Broken(Exception):
    """The connection stopped answering: the proof ends, nothing more is judged."""


def attach(ctx, findings: list, dsn_text: str, schema: str | None) -> list:
    """The findings, each migration-rule finding with its proof; a note on what ran where."""
    from canary_lint.migrations.checks import COMPAT_RULES

    replay = ctx._cache.get(("migrations", "replay"))
    wanted = [f for f in findings if f.name in COMPAT_RULES]
    if not replay or not wanted:
        ctx.note("--prove: no finding of a migration rule that v1's statements can show; nothing was run")
        return findings
    ordered, with_base = replay
    dsn = parse(dsn_text)
    root = ctx.cwd
    dirs = sorted({(root / m.path).parent for m in ordered})
    for where, configured in app_databases(root, dirs):
        if dsn.same_database(configured):
            raise ProveRefused(f"--prove: {dsn.shown} is the database the app's own config names ({where}); "
                               "--prove runs only against a throwaway database")
    db = Database(dsn)
    results: dict = {}
    try:
        db.open_namespace(schema)
        for v1_migrations, release in _groups(ordered, with_base, {f.path for f in wanted}):
            _prove_group(ctx, db, v1_migrations, release, results)
    except Broken as exc:
        ctx.note(f"--prove stopped: the database stopped answering ({exc}); the findings after it were not proven")
    finally:
        problems = db.close()
    out, counts = [], {"proven": 0, "not reproduced": 0, "not run": 0, "migration failed": 0}
    for f in findings:
        if f.name not in COMPAT_RULES:
            out.append(f)
            continue
        status, text = _verdict(_of_finding(f, results.get((f.path, f.line), [])), db.version)
        counts[status] += 1
        out.append(replace(f, message=f"{f.message}; {text}", proof=status))
    place = f"{db.dsn.shown}" + (f", {'schema' if db.dialect == 'postgresql' else 'database'} {db.namespace}"
                                 if db.namespace else "")
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    ctx.note(f"--prove on {db.version} ({place}, removed after): {summary}")
    for p in problems:
        ctx.note(f"--prove: {p}")
    return out


def _groups(ordered: list, with_base: bool, paths: set):
    """(v1's migrations, the release's) pairs: one release with --base; else each migration with findings is
    a release of its own, after everything before it."""
    if with_base:
        yield [m for m in ordered if m.in_base or m.context], [m for m in ordered if not (m.in_base or m.context)]
        return
    for i, m in enumerate(ordered):
        if m.path in paths and not m.context:
            yield ordered[:i], [m]


def _v1_schema(v1_migrations: list):
    from canary_lint.migrations.schema import Schema

    schema = Schema()
    for m in v1_migrations:
        for op in m.ops:
            schema.apply(op)
    built = {}
    for name, t in list(schema.tables.items())[:MAX_TABLES]:
        if name in TOOL_TABLES or name.startswith("<"):
            continue
        cols = {c.lower(): copy.deepcopy(spec) for c, spec in t.columns.items() if c and not c.startswith("<")}
        for c, spec in cols.items():
            spec.name = c
        if cols:
            built[name] = Built(name, cols)
    return built


def _prove_group(ctx, db: Database, v1_migrations: list, release: list, results: dict) -> None:
    """Each operation alone on v1's schema, then all of them in order (an operation on what an earlier one
    of the release made runs only there)."""
    from canary_lint.prove.models import v1_model_tables

    v1 = _v1_schema(v1_migrations)
    made = {op.table for m in release for op in m.ops if op.kind == "create_table"}
    # a table the history only alters (made by the models' create_all before the first revision) is partial
    created = {op.new_name if op.kind == "rename_table" else op.table for m in v1_migrations for op in m.ops
               if op.kind in ("create_table", "rename_table")}
    missing = {op.table for m in release for op in m.ops if op.table and op.table not in made
               and not op.table.startswith("<") and (op.table not in v1 or op.table not in created)}
    mapped = v1_model_tables(ctx, missing)
    for name, (table, _path) in mapped.items():
        if name in v1:  # what the history added is kept as it ran, with its constraints
            v1[name].columns = {**copy.deepcopy(table.columns), **v1[name].columns}
        else:
            v1[name] = copy.deepcopy(table)
    for name in list(v1):
        if not _make(db, v1[name]):
            del v1[name]  # a v1 table the database refuses is left out of v1's statements
    statements = {name: table_statements(name, list(t.columns.values()), db.dialect, db.mark) for name, t in v1.items()}
    control = {name: _run(db, stmts) for name, stmts in statements.items()}
    ops = [(m, op) for m in release for op in m.ops][:MAX_OPS]
    alone: dict = {}
    for m, op in ops:
        if op.table in v1 and op.kind != "create_table":
            alone[id(op)] = _alone(db, op, v1, statements, control)
    tables = {name: copy.deepcopy(t) for name, t in v1.items()}
    state = {name: list(r) for name, r in control.items()}
    for m, op in ops:
        result = _apply(db, op, tables)
        if isinstance(result, OpResult):
            found = result
        else:
            tables = result
            # v1's statements name v1's tables: those the operation changes, or whose name it takes (a swap)
            hit = [n for n in dict.fromkeys((op.table, op.new_name if op.kind == "rename_table" else None))
                   if n in statements]
            found = OpResult("not run", f"--prove does not run v1's statements for line {op.line}: {op.table} is "
                             "not a table v1 has (the release makes or renames it)")
            for name in hit:
                now = _run(db, statements[name])
                judged = _judge(statements[name], control[name], state[name], now)
                state[name] = now
                if found.status != "proven":
                    found = judged
        first = alone.get(id(op))
        chosen = first if first is not None and (first.status == "proven" or found.status != "proven") else found
        if op.table in mapped and chosen.status in ("proven", "not reproduced"):
            chosen = OpResult(chosen.status, f"{chosen.detail} (v1's {op.table} as its models in "
                              f"{mapped[op.table][1]} map it: the history never creates it)")
        results.setdefault((m.path, op.line), []).append((op.table, chosen))
    for name in tables:
        _drop(db, name)


def _make(db: Database, table: Built) -> bool:
    try:
        for sql in create_table(table, db.dialect):
            db.execute(sql)
        return True
    except Exception:  # noqa: BLE001 - the database refuses v1's table as canary-lint read it
        return False


def _drop(db: Database, name: str) -> None:
    try:
        db.execute(f"DROP TABLE {ident(name, db.dialect)}")
    except Exception:  # noqa: BLE001 - left for the namespace's removal
        pass


def _alone(db: Database, op, v1: dict, statements: dict, control: dict) -> OpResult:
    """The operation alone on v1's table; the table is made again as v1 has it afterwards."""
    result = _apply(db, op, {name: copy.deepcopy(t) for name, t in v1.items()})
    if isinstance(result, OpResult):
        return result
    try:
        return _judge(statements[op.table], control[op.table], control[op.table], _run(db, statements[op.table]))
    finally:
        changed = {op.table} | ({op.new_name} if op.kind == "rename_table" and op.new_name else set())
        for name in changed:
            _drop(db, name)
        _make(db, v1[op.table])


def _apply(db: Database, op, tables: dict):
    try:
        sqls, after = alter.change(op, tables, db.dialect)
    except NotRendered as exc:
        return OpResult("not run", f"--prove does not run line {op.line}'s {op.kind.replace('_', ' ')}: {exc}")
    if not sqls:
        return after
    begin = "START TRANSACTION" if db.dialect == "mysql" else "BEGIN"
    try:
        db.execute(begin)
        for sql in sqls:
            db.execute(sql)
        db.execute("COMMIT")
    except Exception as exc:  # noqa: BLE001 - the database's refusal is the observation
        _quiet(db, "ROLLBACK")
        return OpResult("migration failed", first_line(exc))
    return after


def _run(db: Database, stmts: list[Statement]) -> list[tuple]:
    """(ok, rows read | rows changed | error) per statement, in one transaction rolled back."""
    out: list[tuple] = []
    db.execute("START TRANSACTION" if db.dialect == "mysql" else "BEGIN")
    try:
        for st in stmts:
            if st.insert is not None and not out[st.insert][0]:
                out.append((None, "its row was not written"))
                continue
            db.execute("SAVEPOINT canary_lint_v1")
            try:
                if st.reads:
                    got = db.query(st.sql, st.params or None)
                else:
                    db.execute(st.sql, st.params or None)
                    got = None
                db.execute("RELEASE SAVEPOINT canary_lint_v1")
                out.append((True, got))
            except Exception as exc:  # noqa: BLE001 - every database error is an observation
                try:
                    db.execute("ROLLBACK TO SAVEPOINT canary_lint_v1")
                except Exception as lost:  # noqa: BLE001
                    raise Broken(first_line(lost)) from None
                out.append((False, first_line(exc)))
    finally:
        _quiet(db, "ROLLBACK")
    return out


def _judge(stmts: list[Statement], control: list, before: list, now: list) -> OpResult:
    """Proven by the first statement that now fails, or better by one that reads back other values than
    v1's schema gave (every row v1 reads sees that, not only a row at the edge of a type)."""
    failed = None
    for st, (ok0, v0), (ok_before, v_before), (ok1, v1) in zip(stmts, control, before, now):
        if not ok0 or ok1 is None:
            continue  # v1's own schema refuses it, or its row was never written
        if ok_before and ok1 and st.reads and same_rows(st, v0, v_before) and not same_rows(st, v0, v1):
            if len(v0) == len(v1):
                return OpResult("proven", f"v1's {st.text} reads back {difference(st, v0, v1)}")
            if failed is None:  # a row v1 could not write is missing: the write's failure says more
                failed = OpResult("proven", f"v1's {st.text} reads back {difference(st, v0, v1)}")
        if failed is None and ok_before and not ok1:
            failed = OpResult("proven", f"v1's {st.text} failed: {v1}")
        if failed is None and ok_before is False and not ok1 and v1 != v_before:  # failing since an earlier one
            failed = OpResult("proven", f"v1's {st.text} now fails with: {v1}")
    if failed is not None:
        return failed
    ran = sum(1 for ok, _ in now if ok)
    masked = sum(1 for (ok0, _), (ok, _v) in zip(control, before) if ok0 and not ok)
    if masked:
        return OpResult("not reproduced", f"{masked} of v1's statements on {stmts[0].table} already fail after an "
                        "earlier operation of the release")
    return OpResult("not reproduced", f"v1's {ran} statements on {stmts[0].table} still run after it" if stmts
                    else "no statement of v1's")


def _of_finding(f, found: list) -> list[OpResult]:
    """The results of the operations at the finding's line that are about its table (a loop of renames at one
    line is one finding per table)."""
    def about(table: str | None) -> bool:
        return bool(table) and (f.subject == table or f.subject.startswith(table + ".")
                                or f" {table}." in f.message or f" {table} " in f.message)
    mine = [r for table, r in found if about(table)]
    return mine or [r for _, r in found]


def _verdict(found: list, version: str) -> tuple[str, str]:
    for wanted in ("proven", "migration failed", "not reproduced", "not run"):
        hit = next((r for r in found if r.status == wanted), None)
        if hit is None:
            continue
        if wanted == "proven":
            return "proven", f"proven on {version} (--prove): {hit.detail}"
        if wanted == "migration failed":
            return wanted, f"on {version} (--prove) the operation, as canary-lint ran it, failed: {hit.detail}"
        if wanted == "not reproduced":
            return wanted, f"not reproduced on {version} (--prove): {hit.detail}"
        return wanted, hit.detail
    return "not run", "--prove found no operation of the release at this line"


def _quiet(db: Database, sql: str) -> None:
    try:
        db.execute(sql)
    except Exception:  # noqa: BLE001 - nothing open to end
        pass
