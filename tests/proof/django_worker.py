"""One scratch Django project on one database, driven line by line from stdin (tests/proof/proof_django.py).

    python3 django_worker.py SPEC.json

SPEC: {"root": tree, "apps": [module paths], "database": Django DATABASES["default"], "v1": [[app, name]]}.
Commands, one per line, each answered by one JSON line ({"ok": true, "ms": ...} or {"ok": false, "error": ...}):
  v1     migrate to v1's migrations (the leaves among SPEC's v1 nodes) with Django's migration executor
  plan   load the migrations again and plan the release (everything up to the leaves), without running it
  go     run the planned release: "ms" is the executor's own time, load and plan excluded
Django's `migrate` command does the same through the same executor; its system checks and signals are not
the migrations' work."""

from __future__ import annotations

import json
import sys
import time


def _setup(spec: dict) -> None:
    sys.path.insert(0, spec["root"])
    if spec["database"]["ENGINE"].endswith(".mysql"):
        import pymysql

        pymysql.install_as_MySQLdb()  # the harness's MariaDB driver; Django's backend speaks to it as MySQLdb
    import django
    from django.conf import settings

    settings.configure(INSTALLED_APPS=spec["apps"], DATABASES={"default": spec["database"]}, USE_TZ=True,
                       SECRET_KEY="proof", DEFAULT_AUTO_FIELD="django.db.models.BigAutoField")
    django.setup()


def _executor():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    return MigrationExecutor(connection)


def _v1_targets(executor, nodes: list) -> list:
    graph = executor.loader.graph
    mine = {tuple(n) for n in nodes}
    return [n for n in mine if not any(c.key in mine for c in graph.node_map[n].children)]


def main() -> int:
    spec = json.loads(open(sys.argv[1], encoding="utf-8").read())
    _setup(spec)
    planned = None
    for line in sys.stdin:
        cmd = line.strip()
        try:
            if cmd == "v1":
                executor = _executor()
                targets = _v1_targets(executor, spec["v1"])
                t0 = time.monotonic()
                if targets:
                    executor.migrate(targets)
                reply = {"ok": True, "ms": (time.monotonic() - t0) * 1000}
            elif cmd == "plan":
                executor = _executor()
                targets = executor.loader.graph.leaf_nodes()
                planned = (executor, targets, executor.migration_plan(targets))
                reply = {"ok": True}
            elif cmd == "go":
                executor, targets, plan = planned
                t0 = time.monotonic()
                executor.migrate(targets, plan=plan)
                reply = {"ok": True, "ms": (time.monotonic() - t0) * 1000}
            else:
                reply = {"ok": False, "error": f"unknown command {cmd!r}"}
        except Exception as exc:  # noqa: BLE001 - the migration's failure is the observation
            cause = exc.__cause__ or exc
            text = (str(cause) or type(cause).__name__).strip().splitlines()[0]
            reply = {"ok": False, "error": text[:300]}
        from django.db import connection

        connection.close()  # v1's sessions and the harness see the database as the migration left it
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
