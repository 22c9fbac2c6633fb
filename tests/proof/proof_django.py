"""Django examples run for real: the example's tree as a scratch Django project (its apps, whose
`migrations/NNNN_*.py` the example holds, installed; nothing else), migrated with Django's own migration
executor in a worker process per database (django_worker.py), so the release's migration is timed without
Django's start-up.

v1's schema is the example's base migrations, migrated first; an example that shows only the release gets
its world's `django` operations (worlds.yaml) as a migration of v1's history (`0000_v1_world`, run before
the release's migrations of that app), as a real project's history would hold them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

from proof_apply import write_tree

HERE = Path(__file__).resolve().parent
_MIGRATION = re.compile(r"^(?:(.+)/)?migrations/(\d{4}_\w+)\.py$")
STUB = '''from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    run_before = {run_before!r}
    operations = [
{operations}
    ]
'''


def _database(engine: sa.Engine) -> dict:
    url = engine.url
    backend = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite3"}[engine.dialect.name]
    if backend == "sqlite3":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": url.database}
    return {"ENGINE": f"django.db.backends.{backend}", "NAME": url.database, "USER": url.username or "",
            "PASSWORD": url.password or "", "HOST": url.host or "", "PORT": str(url.port or "")}


class DjangoRelease:
    def __init__(self, case):
        self.tmp = Path(tempfile.mkdtemp(prefix="canary-lint-proof-django-"))
        self.tree = self.tmp / "tree"
        write_tree(case.head, self.tree)
        release = {p for p, _t in case.release}
        apps, v1 = {}, []
        for path in case.head:
            m = _MIGRATION.match(path)
            if m is None:
                continue
            app_dir = m.group(1) or "."
            label = app_dir.rsplit("/", 1)[-1]
            apps[label] = app_dir
            if path not in release:
                v1.append([label, m.group(2)])
        operations = (case.world.get("django") or "").strip()
        if operations:
            label = case.world.get("app", "shop")
            apps.setdefault(label, label)
            before = [[label, _MIGRATION.match(p).group(2)] for p in sorted(release)
                      if (_MIGRATION.match(p).group(1) or ".").rsplit("/", 1)[-1] == label]
            text = STUB.format(run_before=[tuple(b) for b in before],
                               operations="\n".join("        " + line for line in operations.splitlines()))
            write_tree({f"{apps[label]}/migrations/0000_v1_world.py": text}, self.tree)
            v1.append([label, "0000_v1_world"])
        for app_dir in apps.values():
            for pkg in (self.tree / app_dir, self.tree / app_dir / "migrations"):
                pkg.mkdir(parents=True, exist_ok=True)
                (pkg / "__init__.py").touch()
        self.apps = sorted(d.replace("/", ".") for d in apps.values())
        self.v1 = sorted(v1)
        self.workers: dict = {}
        self.unplanned: Exception | None = None

    def _worker(self, engine: sa.Engine) -> subprocess.Popen:
        key = str(engine.url)
        if key not in self.workers:
            spec = self.tmp / f"spec{len(self.workers)}.json"
            spec.write_text(json.dumps({"root": str(self.tree), "apps": self.apps, "v1": self.v1,
                                        "database": _database(engine)}), encoding="utf-8")
            self.workers[key] = subprocess.Popen([sys.executable, str(HERE / "django_worker.py"), str(spec)],
                                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                                 cwd=self.tmp)
        return self.workers[key]

    def _ask(self, engine: sa.Engine, command: str) -> dict:
        worker = self._worker(engine)
        worker.stdin.write(command + "\n")
        worker.stdin.flush()
        line = worker.stdout.readline()
        if not line:
            raise RuntimeError(f"the Django worker stopped (exit {worker.wait(10)}) on {command!r}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise RuntimeError(reply["error"])
        return reply

    def stamp_v1(self, engine: sa.Engine) -> None:
        """v1's migrations, then the release planned (loaded before the clock starts)."""
        from proof_apply import MigrationFailed

        try:
            self._ask(engine, "v1")
        except RuntimeError as exc:
            raise MigrationFailed(f"v1's world does not build: {exc}") from exc
        try:
            self._ask(engine, "plan")
        except RuntimeError as exc:  # the release cannot even be planned: its migration fails
            self.unplanned = exc

    def upgrade(self, engine: sa.Engine, target: str = "heads") -> None:
        if self.unplanned is not None:
            raise self.unplanned
        self._ask(engine, "go")

    def close(self) -> None:
        for worker in self.workers.values():
            if worker.poll() is None:
                worker.stdin.close()
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
