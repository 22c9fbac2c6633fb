#!/usr/bin/env python3
"""canary-lint against django-migration-linter 6.0.0 on the same labelled Django migrations.

    python3 bench/django/run.py                 # scenarios (accuracy) + wheels (speed)
    python3 bench/django/run.py --no-wheels     # scenarios only
    python3 bench/django/run.py --real          # speed: both tools on installed projects' migrations (real.py)

Accuracy: bench/django/scenarios.py writes one app per scenario into a scratch Django project
(bench/.work/django/), v1's migrations and models committed first, the release's migrations second.
canary-lint runs as a user would (`check --base HEAD~1`); django-migration-linter runs as its README
says (`manage.py lintmigrations`, the app in INSTALLED_APPS, a PostgreSQL database configured: a throwaway
local cluster started and stopped by the bench, or the server `--pg` names). A migration counts as flagged by canary-lint when it has a finding
of severity warning or error, by the anchor when it is ERR or WARNING. Speed: whole-process wall time of
canary-lint on the migrations of real Django apps' wheels (`pip download --no-deps`), cold (no cache); of both
tools on installed projects with `--real` (real.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "bench" / ".work" / "django"
sys.path.insert(0, str(HERE))
from scenarios import SCENARIOS, models_py  # noqa: E402

WHEELS = ["wagtail==8.0.1", "django-cms==5.1.3", "django-allauth==65.22.1", "django-oauth-toolkit==3.4.1",
          "django-celery-results==2.6.0", "django-celery-beat==2.9.0", "django-filer==3.6.0"]
GIT = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@localhost", "GIT_COMMITTER_NAME": "bench",
       "GIT_COMMITTER_EMAIL": "b@localhost"}


def sh(cmd, cwd=None, env=None, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          check=check)


def venv() -> Path:
    """A virtualenv with Django 5.2 and django-migration-linter 6.0.0 (the anchor)."""
    path = WORK / "venv"
    if not (path / "bin" / "python").exists():
        sh([sys.executable, "-m", "venv", str(path)])
        sh([str(path / "bin" / "pip"), "install", "-q", "django-migration-linter==6.0.0", "django>=5.2,<5.3",
            "psycopg2-binary>=2.9,<3"])
    return path / "bin" / "python"


SETTINGS = '''SECRET_KEY = "bench"
INSTALLED_APPS = ["django_migration_linter", {apps}]
DATABASES = {{"default": {db}}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
'''


def write_project(project: Path, db: str) -> None:
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    apps = ", ".join(repr(a) for a in SCENARIOS)
    (project / "settings.py").write_text(SETTINGS.format(apps=apps, db=db))
    (project / "manage.py").write_text("import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n"
                                       "from django.core.management import execute_from_command_line\n"
                                       "execute_from_command_line(sys.argv)\n")
    for app, sc in SCENARIOS.items():
        mig = project / app / "migrations"
        mig.mkdir(parents=True)
        (project / app / "__init__.py").write_text("")
        (mig / "__init__.py").write_text("")
        (project / app / "apps.py").write_text(
            f"from django.apps import AppConfig\n\n\nclass Config(AppConfig):\n    name = {app!r}\n")
        (project / app / "models.py").write_text(models_py(app))
        for name, text in sc["base"].items():
            (mig / name).write_text(text)
    sh(["git", "init", "-q"], cwd=project)
    sh(["git", "add", "-A"], cwd=project)
    sh(["git", "commit", "-qm", "v1"], cwd=project, env=GIT)
    for app, sc in SCENARIOS.items():
        for name, (text, _, _) in sc["head"].items():
            (project / app / "migrations" / name).write_text(text)
    sh(["git", "add", "-A"], cwd=project)
    sh(["git", "commit", "-qm", "v2"], cwd=project, env=GIT)


def canary(project: Path) -> tuple[dict, float]:
    env = {"PYTHONPATH": str(ROOT), "CANARY_LINT_CACHE_DIR": ""}
    t = time.perf_counter()
    proc = sh([sys.executable, "-m", "canary_lint", "check", ".", "--base", "HEAD~1", "--select", "CLM",
               "--format", "json", "--exit-zero"], cwd=project, env=env, check=False)
    wall = time.perf_counter() - t
    report = json.loads(proc.stdout)
    flagged: dict = {}
    for f in report["findings"]:
        if f["severity"] in ("error", "warning"):
            parts = f["path"].split("/")
            flagged.setdefault((parts[0], parts[-1][:-3]), []).append(f["rule"])
    return flagged, wall


def anchor(project: Path, python: Path, apps: list[str] | None = None) -> tuple[dict, float, str]:
    """The anchor's verdicts: one run over the whole project (its wall time), then one run per app whose
    migrations it did not reach (a migration `sqlmigrate` cannot render stops its whole run)."""
    t = time.perf_counter()
    proc = sh([str(python), "manage.py", "lintmigrations", "--no-cache"], cwd=project, check=False)
    wall = time.perf_counter() - t
    flagged, seen = _verdicts(proc.stdout)
    log = proc.stdout + proc.stderr
    for app in apps or []:
        if not any(k[0] == app for k in seen):
            more = sh([str(python), "manage.py", "lintmigrations", "--no-cache", "--include-apps", app], cwd=project,
                      check=False)
            got, done = _verdicts(more.stdout)
            flagged.update(got)
            if not done:  # it crashed on this app: count every migration of it as not flagged
                log += f"\n--- {app}: crashed ---\n" + more.stderr[-400:]
    return flagged, wall, log


def _verdicts(stdout: str) -> tuple[dict, set]:
    flagged: dict = {}
    seen: set = set()
    for line in stdout.splitlines():
        if line.startswith("(") and ")... " in line:
            key, verdict = line[1:].split(")... ", 1)
            app, name = [p.strip() for p in key.split(",", 1)]
            seen.add((app, name))
            if verdict.startswith(("ERR", "WARNING")):
                flagged[(app, name)] = verdict
    return flagged, seen


class LocalPostgres:
    """A throwaway PostgreSQL cluster on a Unix socket under bench/.work (Debian's server binaries), started
    and stopped by PID; as root it runs as the `postgres` user."""

    def __init__(self):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
        if not bins:
            raise SystemExit("no PostgreSQL server here (apt-get install postgresql) and no --pg DSN given")
        self.bin = bins[-1].parent
        self.dir = Path("/tmp/canary-lint-bench-pg")
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.proc = None

    def __enter__(self) -> dict:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        if self.prefix:
            shutil.chown(self.dir, "postgres")
        sh([*self.prefix, str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "bench"])
        self.proc = subprocess.Popen([*self.prefix, str(self.bin / "postgres"), "-D", str(self.dir / "data"), "-k",
                                      str(self.dir), "-c", "listen_addresses=", "-c", "fsync=off"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if (self.dir / ".s.PGSQL.5432").exists():
                break
            time.sleep(0.1)
        return {"NAME": "postgres", "USER": "bench", "HOST": str(self.dir), "PORT": "5432"}

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def score(labels: dict, flagged: dict) -> dict:
    tp = sum(1 for k, v in labels.items() if v == "unsafe" and k in flagged)
    fn = sum(1 for k, v in labels.items() if v == "unsafe" and k not in flagged)
    fp = sum(1 for k, v in labels.items() if v == "safe" and k in flagged)
    return {"tp": tp, "fn": fn, "fp": fp, "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0}


def wheels(python: Path) -> list[dict]:
    src = WORK / "wheels"
    src.mkdir(parents=True, exist_ok=True)
    sh([str(python), "-m", "pip", "download", "-q", "--no-deps", "-d", str(src), *WHEELS])
    rows = []
    for whl in sorted(src.glob("*.whl")):
        tree = WORK / "wheel-trees" / whl.name.split("-")[0]
        if not tree.exists():
            with zipfile.ZipFile(whl) as z:
                z.extractall(tree)
        migs = [p for p in tree.rglob("migrations/[0-9]*.py")]
        dirs = sorted({p.parent.relative_to(tree).as_posix() for p in migs})
        t = time.perf_counter()
        proc = sh([sys.executable, "-m", "canary_lint", "check", *dirs, "--select", "CLM", "--format", "json",
                   "--exit-zero"], cwd=tree, env={"PYTHONPATH": str(ROOT), "CANARY_LINT_CACHE_DIR": ""}, check=False)
        wall = time.perf_counter() - t
        findings = len(json.loads(proc.stdout)["findings"]) if proc.stdout.strip().startswith("{") else None
        rows.append({"wheel": whl.name, "migrations": len(migs), "canary_s": round(wall, 2), "findings": findings})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-wheels", action="store_true")
    ap.add_argument("--real", action="store_true", help="speed on real projects instead (real.py): both tools "
                    "on the migrations of installed Django packages")
    ap.add_argument("--repeat", type=int, default=3, help="--real: best of N runs of each tool (default 3)")
    ap.add_argument("--pg", metavar="HOST:PORT:USER:DB", help="a PostgreSQL server for the anchor (default: a "
                    "throwaway local cluster)")
    args = ap.parse_args()
    python = venv()
    if args.real:
        import real
        job = lambda dsn: real.run(python, dsn, args.repeat)  # noqa: E731
    else:
        job = lambda dsn: measure(args, python, dsn)  # noqa: E731
    if args.pg:
        host, port, user, name = args.pg.split(":", 3)
        return job({"NAME": name, "USER": user, "HOST": host, "PORT": port})
    with LocalPostgres() as dsn:
        return job(dsn)


def measure(args, python: Path, settings: dict) -> int:
    db = repr({"ENGINE": "django.db.backends.postgresql", **settings})
    project = WORK / "project"
    write_project(project, db)
    labels = {(app, name[:-3]): verdict for app, sc in SCENARIOS.items() for name, (_, verdict, _) in sc["head"].items()}
    ours, our_wall = canary(project)
    theirs, their_wall, log = anchor(project, python, list(SCENARIOS))
    (WORK / "anchor.log").write_text(log)
    out = {"cases": len(labels), "unsafe": sum(v == "unsafe" for v in labels.values()),
           "canary-lint": {**score(labels, ours), "wall_s": round(our_wall, 2)},
           "django-migration-linter": {**score(labels, {k: v for k, v in theirs.items() if k in labels}),
                                       "wall_s": round(their_wall, 2)},
           "per_case": [{"app": a, "migration": n, "label": v, "canary-lint": ",".join(sorted(set(ours.get((a, n), [])))),
                         "django-migration-linter": theirs.get((a, n), "")} for (a, n), v in sorted(labels.items())]}
    if not args.no_wheels:
        out["wheels"] = wheels(python)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
