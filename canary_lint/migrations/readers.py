"""One migration file into a `Migration`: SQL files (Flyway, golang-migrate, dbmate, plain) and Alembic
revisions, each read with its version's Python modules for the resolver."""

from __future__ import annotations

import ast
import re

from canary_lint.migrations import ops as K
from canary_lint.migrations.dialects import dialect_of, postgres_driver
from canary_lint.migrations.ops import Migration

DBMATE_UP = re.compile(r"^--\s*migrate:up\b(.*)$", re.M)
DBMATE_DOWN = re.compile(r"^--\s*migrate:down\b", re.M)
FLYWAY = re.compile(r"^[VRU]\d+(?:[._]\d+)*__.+\.sql$|^R__.+\.sql$", re.I)


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


def _sql_tool(path: str, text: str) -> tuple[str, str, bool | None]:
    """(tool, text to read, implicit transaction or None for 'decided by the statements')."""
    name = path.rsplit("/", 1)[-1]
    up = DBMATE_UP.search(text)
    if up:
        down = DBMATE_DOWN.search(text, up.end())
        start, end = up.end(), down.start() if down else len(text)
        body = _blank(text[:start]) + text[start:end] + _blank(text[end:])
        return "dbmate", body, "transaction:false" not in up.group(1).replace(" ", "")
    if FLYWAY.match(name):
        return "flyway", text, None
    if name.lower().endswith(".up.sql"):
        return "golang-migrate", text, None
    return "sql", text, False


def read_sql_migration(ctx, file) -> Migration | None:
    from canary_lint.migrations.history import sql_order
    from canary_lint.migrations.sql_reader import SqlSyntaxError, read_sql

    text = ctx.text(file)
    if text is None:
        return None
    tool, body, implicit = _sql_tool(file.path, text)
    dialect = dialect_of(ctx, file.path)
    try:
        ops = read_sql(body, dialect)
    except SqlSyntaxError as exc:
        ctx.file_error(file.path, str(exc), line=exc.line, column=exc.column)
        return None
    if implicit is None:
        if tool == "flyway":  # Flyway runs a script without a transaction when it holds CONCURRENTLY
            implicit = not any(o.concurrently for o in ops)
        else:  # golang-migrate sends the file as one multi-statement query: an implicit transaction
            implicit = sum(1 for o in ops if o.kind != K.OTHER) > 1
    in_tx = implicit and dialect != "mysql"
    why = f"{tool} runs the file in one transaction" if in_tx else ""
    # golang-migrate sends the file as one query string: PostgreSQL groups its statements in an implicit
    # transaction block again after every COMMIT among them
    grouped = tool == "golang-migrate" and in_tx and dialect == "postgresql"
    for o in ops:
        if o.kind == K.BEGIN:
            in_tx, why = True, f"the BEGIN on line {o.line} opens a transaction"
        elif o.kind == K.COMMIT and grouped:
            in_tx, why = True, ("golang-migrate sends the file as one query and PostgreSQL runs its statements as one "
                                "implicit transaction, even after a COMMIT among them")
        elif o.kind == K.COMMIT:
            in_tx, why = False, ""
        o.in_transaction = in_tx
        o.tx = why
    if tool == "flyway" and dialect == "postgresql" and any(o.concurrently for o in ops) and \
            any(not o.concurrently and o.kind not in (K.OTHER, K.BEGIN, K.COMMIT) for o in ops):
        for o in ops:  # Flyway refuses a script that mixes both kinds (unless flyway.mixed=true)
            if o.concurrently and not o.in_transaction:
                o.in_transaction = True
                o.tx = ("Flyway refuses a script that mixes it with transactional statements (unless "
                        "flyway.mixed=true)")
    return Migration(file.path, "sql", tool, ops=ops, order=sql_order(file.path), dialect=dialect)


def project_of(ctx, side: str = "head"):
    """One version's modules for the resolver (helpers and constants imported by revisions), so both versions
    of a revision are read with their own helpers."""
    from canary_lint.resolver.modules import tree_project

    return tree_project(ctx, side)


def read_alembic(ctx, file) -> Migration | None:
    from canary_lint.migrations.alembic_reader import read_revision

    tree = ctx.python_ast(file)
    if tree is None:
        return None
    mig = read_revision(tree, file.path, dialect_of(ctx, file.path), project_of(ctx), postgres_driver(ctx))
    if mig is not None:
        mig.branch_labels = any(
            isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "branch_labels" for t in n.targets)
            and not (isinstance(n.value, ast.Constant) and n.value.value is None) for n in tree.body)
    return mig


