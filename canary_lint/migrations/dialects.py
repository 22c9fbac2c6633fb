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
