"""The database `--prove DSN` runs on: the DSN read, the driver loaded (sqlite3; psycopg or PyMySQL from the
`prove` extra), a throwaway namespace made and removed. A DSN whose database already holds tables is
refused unless `--prove-schema NAME` names an empty schema (PostgreSQL) or database (MySQL/MariaDB); a DSN
naming the database the app's own config uses is refused."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

CONNECT_TIMEOUT = 10
STATEMENT_TIMEOUT_MS = 15_000
LOCK_TIMEOUT_MS = 5_000
SCHEMES = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql", "mariadb": "mysql",
           "sqlite": "sqlite"}


class ProveRefused(Exception):
    """The DSN cannot be used (usage error, exit 2); the message says why and what to do."""


@dataclass(frozen=True)
class Dsn:
    dialect: str  # postgresql | mysql | sqlite
    host: str = ""
    port: int | None = None
    user: str = ""
    password: str = field(default="", repr=False)
    database: str = ""  # a file path for SQLite ("" : in memory)
    query: str = ""

    @property
    def shown(self) -> str:
        """The DSN without its password."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.database}" if self.database else "sqlite:// (in memory)"
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.dialect}://{who}{self.host}{port}/{self.database}"

    def same_database(self, other: "Dsn") -> bool:
        if self.dialect != other.dialect:
            return False
        if self.dialect == "sqlite":
            return bool(self.database) and Path(self.database).resolve() == Path(other.database).resolve()
        local = {"", "localhost", "127.0.0.1", "::1"}
        same_host = self.host == other.host or (self.host in local and other.host in local)
        default = {"postgresql": 5432, "mysql": 3306}[self.dialect]
        return same_host and (self.port or default) == (other.port or default) and self.database == other.database


def parse(text: str) -> Dsn:
    if not isinstance(text, str) or len(text) > 2000 or "\x00" in text or "\n" in text:
        raise ProveRefused("--prove takes a database URL (postgresql://, mysql://, mariadb://, sqlite:///PATH)")
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as exc:
        raise ProveRefused(f"--prove: the URL cannot be read ({exc})") from None
    scheme = parts.scheme.split("+", 1)[0].lower()
    dialect = SCHEMES.get(scheme)
    if dialect is None:
        raise ProveRefused(f"--prove: {scheme or 'no'} scheme; use postgresql://, mysql://, mariadb:// or sqlite:///PATH")
    if dialect == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        return Dsn("sqlite", database="" if path in ("", ":memory:") else path)
    return Dsn(dialect, parts.hostname or "", port, unquote(parts.username or ""), unquote(parts.password or ""),
               unquote(parts.path.lstrip("/")), parts.query)


def app_databases(root: Path, migration_dirs: list[Path]) -> list[tuple[str, Dsn]]:
    """The databases the app's own config names: `sqlalchemy.url` of each alembic.ini of the tree."""
    import configparser

    from canary_lint.discovery import read_regular

    seen, out = set(), []
    for folder in [root, *migration_dirs]:
        for parent in [folder, *folder.parents]:
            ini = parent / "alembic.ini"
            if not parent.is_relative_to(root) or ini in seen:
                continue
            seen.add(ini)
            data = read_regular(ini, 1 << 20, root) if ini.is_file() else None
            if data is None:
                continue
            cp = configparser.RawConfigParser(strict=False)
            try:
                cp.read_string(data.decode("utf-8", "replace"))
            except configparser.Error:
                continue
            for section in cp.sections():
                url = cp.get(section, "sqlalchemy.url", fallback="")
                try:
                    out.append((f"{ini.relative_to(root)} [{section}] sqlalchemy.url", parse(url)))
                except ProveRefused:
                    continue
    return out


class Database:
    """A connection in autocommit mode; transactions are opened by the statements themselves."""

    def __init__(self, dsn: Dsn):
        self.dsn = dsn
        self.dialect = dsn.dialect
        self.mark = "?" if dsn.dialect == "sqlite" else "%s"
        self.namespace = ""  # the schema (PostgreSQL) or database (MySQL) the proof runs in
        self._drop_namespace = False
        self._created_file = False
        self.conn = self._connect()
        self.version = self._version()

    # ---- connecting -------------------------------------------------------------------------------
    def _connect(self):
        d = self.dsn
        if d.dialect == "sqlite":
            import sqlite3

            if d.database:
                self._created_file = not os.path.lexists(d.database)
                if not Path(d.database).absolute().parent.is_dir():
                    raise ProveRefused(f"--prove: the directory of {d.database} does not exist")
            return sqlite3.connect(d.database or ":memory:", isolation_level=None, timeout=LOCK_TIMEOUT_MS / 1000)
        if d.dialect == "postgresql":
            try:
                import psycopg
            except ImportError:
                raise ProveRefused("--prove with a PostgreSQL URL needs psycopg: pip install 'canary-lint[prove]'") from None
            kw = {k: v for k, v in (("host", d.host), ("port", d.port), ("user", d.user), ("password", d.password),
                                    ("dbname", d.database)) if v}
            try:
                return psycopg.connect(autocommit=True, connect_timeout=CONNECT_TIMEOUT, **kw)
            except psycopg.Error as exc:
                raise ProveRefused(f"--prove: cannot connect to {d.shown}: {first_line(exc)}") from None
        try:
            import pymysql
        except ImportError:
            raise ProveRefused("--prove with a MySQL/MariaDB URL needs PyMySQL: pip install 'canary-lint[prove]'") from None
        try:
            return pymysql.connect(host=d.host or "localhost", port=d.port or 3306, user=d.user or None,
                                   password=d.password, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except pymysql.Error as exc:
            raise ProveRefused(f"--prove: cannot connect to {d.shown}: {first_line(exc)}") from None

    def _version(self) -> str:
        if self.dialect == "sqlite":
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        row = self.query("SELECT version()")[0][0]
        if self.dialect == "postgresql":
            return " ".join(str(row).split()[:2])
        return ("MariaDB " if "mariadb" in str(row).lower() else "MySQL ") + str(row).split("-")[0]

    # ---- running ----------------------------------------------------------------------------------
    def execute(self, sql: str, params: tuple | None = None) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params else cur.execute(sql)
        finally:
            cur.close()

    def query(self, sql: str, params: tuple | None = None) -> list[tuple]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params else cur.execute(sql)
            return [tuple(r) for r in cur.fetchmany(1000)]
        finally:
            cur.close()

    # ---- the namespace ----------------------------------------------------------------------------
    def open_namespace(self, wanted: str | None) -> None:
        """Refuse a database that holds tables (unless `wanted` names an empty namespace) and enter a
        throwaway one."""
        if self.dialect == "sqlite":
            if wanted:
                raise ProveRefused("--prove-schema: SQLite has no schemas; name a new database file instead")
            tables = [r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
            self._refuse_tables(tables, "--prove-schema is not available for SQLite: name a new file")
            return
        if self.dialect == "postgresql":
            self.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            self.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
            if wanted:
                self._enter_pg(_namespace_name(wanted), must_be_empty=True)
                return
            tables = [r[0] for r in self.query(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', "
                "'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1 LIMIT 6")]
            self._refuse_tables(tables, "name an empty schema with --prove-schema NAME")
            self._enter_pg("canary_lint_prove_" + secrets.token_hex(4), must_be_empty=True)
            return
        self.execute(f"SET SESSION lock_wait_timeout = {LOCK_TIMEOUT_MS // 1000}")
        self.execute(f"SET SESSION innodb_lock_wait_timeout = {LOCK_TIMEOUT_MS // 1000}")
        name = _namespace_name(wanted) if wanted else self.dsn.database
        if not name:
            name = "canary_lint_prove_" + secrets.token_hex(4)
        exists = self.query("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (name,))[0][0]
        if exists:
            tables = [r[0] for r in self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                               "%s ORDER BY 1 LIMIT 6", (name,))]
            self._refuse_tables(tables, "name an empty (or new) database with --prove-schema NAME", where=name)
        else:
            self.execute(f"CREATE DATABASE `{name}`")
            self._drop_namespace = True
        self.execute(f"USE `{name}`")
        self.namespace = name

    def _enter_pg(self, name: str, must_be_empty: bool) -> None:
        exists = self.query("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,))
        if exists:
            held = [r[0] for r in self.query(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "ORDER BY 1 LIMIT 6", (name,))]
            self._refuse_tables(held, "name an empty (or new) schema with --prove-schema NAME", where=name)
        else:
            self.execute(f'CREATE SCHEMA "{name}"')
            self._drop_namespace = True
        self.execute(f'SET search_path TO "{name}"')
        self.namespace = name

    def _refuse_tables(self, tables: list[str], advice: str, where: str = "") -> None:
        if tables:
            shown = ", ".join(tables[:5]) + (" and more" if len(tables) > 5 else "")
            place = f"{where} at {self.dsn.shown}" if where else self.dsn.shown
            raise ProveRefused(f"--prove: {place} already holds tables ({shown}); --prove runs only where nothing "
                               f"can be lost: {advice}")

    def close(self) -> list[str]:
        """Remove what the proof made; the problems met doing so, for the report."""
        problems = []
        try:
            if self.dialect == "postgresql" and self.namespace:
                self.execute("ROLLBACK") if self.conn.info.transaction_status else None
                if self._drop_namespace:
                    self.execute(f'DROP SCHEMA "{self.namespace}" CASCADE')
                else:
                    for (rel,) in self.query("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                                             "c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v')",
                                             (self.namespace,)):
                        self.execute(f'DROP TABLE IF EXISTS "{self.namespace}"."{rel}" CASCADE')
            elif self.dialect == "mysql" and self.namespace:
                if self._drop_namespace:
                    self.execute(f"DROP DATABASE `{self.namespace}`")
                else:
                    for (rel,) in self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                             "%s", (self.namespace,)):
                        self.execute(f"DROP TABLE IF EXISTS `{self.namespace}`.`{rel}`")
        except Exception as exc:  # noqa: BLE001 - a cleanup problem is reported, never raised over the result
            problems.append(f"could not remove {self.namespace}: {first_line(exc)}")
        finally:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass
        if self.dialect == "sqlite" and self._created_file and self.dsn.database:
            for suffix in ("", "-journal", "-wal", "-shm"):
                try:
                    os.unlink(self.dsn.database + suffix)
                except FileNotFoundError:
                    pass
        elif self.dialect == "sqlite" and self.dsn.database:
            problems.append(f"{self.dsn.database} was there before: its tables from the proof were left")
        return problems


def _namespace_name(name: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name or ""):
        raise ProveRefused(f"--prove-schema {name[:70]!r}: a schema name is letters, digits and _ (at most 63)")
    return name


def first_line(exc: BaseException) -> str:
    """The database's own words, first line, without the driver's wrapping."""
    args = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (1364, "Field ... doesn't have a default value")
        text = f"{args[0]}: {args[1]}"
    else:
        text = str(exc) or type(exc).__name__
    lines = text.strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]
