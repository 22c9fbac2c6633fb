"""Build v1's database and run the release's migration for real: v1's world (worlds.yaml statements, or
v1's own SQLAlchemy models), v1's applied SQL history, then the release — Alembic revisions through
`alembic upgrade` (a stub revision stands for v1's missing history), SQL files as a migration tool runs
them (one transaction per file on PostgreSQL and SQLite unless a statement cannot run in one; MariaDB
commits each DDL statement)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

from canary_lint.migrations.sql_lex import split

ENV_PY = '''
from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()
'''
STUB = '''revision = {rev!r}
down_revision = None


def upgrade():
    pass  # v1's history: its schema is the world the harness built
'''
_DOWN = re.compile(r"^down_revision\s*(?::[^=]+)?=\s*['\"]([^'\"]+)['\"]", re.M)
_REV = re.compile(r"^revision\s*(?::[^=]+)?=\s*['\"]([^'\"]+)['\"]", re.M)
_NON_TX = re.compile(r"\bCONCURRENTLY\b|^\s*VACUUM\b", re.I | re.M)


class MigrationFailed(Exception):
    """The release's migration (or v1's world) did not run; the message is what the database said."""


def error_text(exc: BaseException) -> str:
    """The database's own words, first line, without the driver's wrapping."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (1364, "Field ... doesn't have a default value")
        text = f"{args[0]}: {args[1]}"
    else:
        text = str(orig) or type(orig).__name__
    text = re.sub(r"\bproof_\d+\.", "", text.strip().splitlines()[0])  # the scratch database's name
    return text[:300]


def statements(text: str, dialect: str) -> list[str]:
    lex = "mysql" if dialect == "mysql" else "postgresql"
    return [text[s:e] for s, e in split(text, lex) if text[s:e].strip()]


def raw_sql(conn: sa.Connection, sql: str):
    """Run SQL text as written (no parameters, so no driver reads `%` as a placeholder)."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else None
    finally:
        cursor.close()


def run_sql_file(engine: sa.Engine, text: str, dialect: str) -> None:
    stmts = statements(text, dialect)
    if dialect == "mysql" or any(_NON_TX.search(s) for s in stmts):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for s in stmts:
                raw_sql(conn, s)
        return
    with engine.begin() as conn:
        for s in stmts:
            raw_sql(conn, s)


def write_tree(files: dict, where: Path) -> None:
    for rel, text in files.items():
        p = where / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def _models_metadata(base: dict, path: str) -> sa.MetaData:
    tmp = Path(tempfile.mkdtemp(prefix="canary-lint-proof-models-"))
    try:
        write_tree(base, tmp)
        spec = importlib.util.spec_from_file_location(f"_proof_v1_models_{abs(hash(path))}", tmp / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for value in vars(module).values():
        md = getattr(value, "metadata", None)
        if isinstance(md, sa.MetaData) and md.tables:
            return md
    raise MigrationFailed(f"{path} defines no SQLAlchemy metadata with tables")


def build_v1(engine: sa.Engine, case, dialect: str) -> None:
    """v1's world and v1's applied SQL history."""
    from proof_cases import world_statements

    try:
        if "models" in case.world:
            with engine.begin() as conn:
                _models_metadata(case.base, case.world["models"]).create_all(conn)
        stmts = world_statements(case.world, dialect) or []
        if stmts:
            run_sql_file(engine, ";\n".join(stmts) + ";", dialect)
        for _path, text in case.history:
            run_sql_file(engine, text, dialect)
    except Exception as exc:  # noqa: BLE001 - any failure here is a broken world, said as such
        raise MigrationFailed(f"v1's world does not build: {error_text(exc)}") from exc


class AlembicRelease:
    """The example's revisions in a scratch Alembic environment; v1 is stamped at the revision the
    release's first revision names as its parent."""

    def __init__(self, case):
        self.tmp = Path(tempfile.mkdtemp(prefix="canary-lint-proof-alembic-"))
        self.tree = self.tmp / "tree"
        write_tree(case.head, self.tree)
        (self.tmp / "env").mkdir()
        (self.tmp / "env" / "env.py").write_text(ENV_PY)
        stubs = self.tmp / "stubs"
        stubs.mkdir()
        present = {m.group(1) for _p, t in case.release for m in [_REV.search(t)] if m}
        missing = sorted({m.group(1) for _p, t in case.release for m in [_DOWN.search(t)] if m} - present)
        for rev in missing:
            (stubs / f"{rev}_v1.py").write_text(STUB.format(rev=rev))
        self.stamp = missing
        dirs = sorted({str((self.tree / p).parent) for p, _t in case.release}) + [str(stubs)]
        self.dirs = dirs
        self.packages = {p.split("/", 1)[0] for p in case.head if p.endswith(".py") and "/" in p}

    def _config(self, conn):
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(self.tmp / "env"))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", ":".join(self.dirs))
        cfg.attributes["connection"] = conn
        return cfg

    def _purge(self) -> None:
        for name in list(sys.modules):
            if name.split(".", 1)[0] in self.packages:
                del sys.modules[name]

    def upgrade(self, engine: sa.Engine, target: str) -> None:
        from alembic import command

        sys.path.insert(0, str(self.tree))
        self._purge()
        try:
            with engine.connect() as conn:
                command.upgrade(self._config(conn), target)
                if conn.in_transaction():
                    conn.commit()
        finally:
            sys.path.remove(str(self.tree))
            self._purge()

    def stamp_v1(self, engine: sa.Engine) -> None:
        for rev in self.stamp:
            self.upgrade(engine, rev)

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class SqlRelease:
    def __init__(self, case):
        self.files = case.release

    def stamp_v1(self, engine: sa.Engine) -> None:
        pass

    def upgrade(self, engine: sa.Engine, target: str = "heads") -> None:
        for _path, text in self.files:
            run_sql_file(engine, text, engine.dialect.name if engine.dialect.name != "mariadb" else "mysql")

    def close(self) -> None:
        pass


def release_of(case):
    if case.tool == "django":
        from proof_django import DjangoRelease

        return DjangoRelease(case)
    return AlembicRelease(case) if case.tool == "alembic" else SqlRelease(case)


def migrate(engine: sa.Engine, release) -> None:
    try:
        release.upgrade(engine, "heads")
    except Exception as exc:  # noqa: BLE001 - the migration's own failure is an observation
        raise MigrationFailed(error_text(exc)) from exc
