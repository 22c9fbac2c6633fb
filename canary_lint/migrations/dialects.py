"""The dialect of one migration history: a project that keeps a history per database (`sqlite/`, `mysql/`
directories; an `alembic.ini` or `env.py` whose URL names the database) has each judged in its own dialect,
so a SQLite history gets no PostgreSQL lock advice. Without such evidence the configured dialect applies."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from canary_lint.discovery import read_regular

NAMES = {"sqlite": "sqlite", "sqlite3": "sqlite", "mysql": "mysql", "mariadb": "mysql", "postgres": "postgresql",
         "postgresql": "postgresql", "pg": "postgresql", "psql": "postgresql"}
URL = re.compile(r"""(?:sqlalchemy\.url\s*=\s*|["'])(sqlite|mysql|mariadb|postgres(?:ql)?)(?:\+\w+)?://""", re.I)
LIMIT = 256 * 1024


def dialect_of(ctx, path: str) -> str:
    """The dialect the migration file at `path` (display path) runs on."""
    directory = str(PurePosixPath(path).parent)
    return ctx.cached(("migrations", "dialect", directory), lambda: _find(ctx, directory) or ctx.config.dialect)


def _find(ctx, directory: str) -> str | None:
    parts = PurePosixPath(directory).parts
    for part in reversed(parts):  # migrations/sqlite/versions, db/mysql
        if part.lower() in NAMES:
            return NAMES[part.lower()]
    root = Path(ctx.cwd)
    here = root / directory
    for folder in [here, *here.parents][:4]:  # versions/ -> the script location -> the project
        if folder != root and root not in folder.parents:
            break
        for name in ("env.py", "alembic.ini"):
            data = read_regular(folder / name, LIMIT, root)
            if data:
                found = {NAMES[m.group(1).lower()] for m in URL.finditer(data.decode("utf-8", "replace"))}
                if len(found) == 1:  # one database named: that is the history's (several: no evidence)
                    return found.pop()
    return None


# the PostgreSQL driver the tree depends on, by its dependency files and database URLs: psycopg2 sends no BEGIN
# after a raw `COMMIT` (its own idea of the transaction is still open), psycopg 3 and asyncpg ask the server
# and begin a new transaction before the next statement
DRIVER_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "requirements.txt", "requirements/base.txt",
                "requirements/prod.txt", "requirements/production.txt", "alembic.ini")
_DRIVERS = re.compile(r"\b(psycopg2|psycopg(?![\w-]*2)|asyncpg)\b", re.I)


def postgres_driver(ctx) -> str:
    """"psycopg2", "psycopg" (3), "asyncpg", or "" when the tree names none or more than one."""
    def find() -> str:
        names = set()
        paths = list(DRIVER_FILES) + [f.path for f in ctx.files if f.path.endswith(("env.py", "alembic.ini"))][:20]
        for path in paths:
            text = ctx.read_text(path) or ""
            names |= {m.group(1).lower() for m in _DRIVERS.finditer(text[:LIMIT])}
        return names.pop() if len(names) == 1 else ""
    return ctx.cached(("migrations", "postgres-driver"), find)
