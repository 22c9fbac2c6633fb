"""Speed on real projects: both tools, whole process, on the same installed apps' migrations.

    python3 bench/django/run.py --real [--repeat N]

The anchor's venv (bench/.work/django/venv) gets popular Django packages with their dependencies from PyPI;
each project set is a scratch settings module (bench/.work/django/real/<set>/) with those apps in
INSTALLED_APPS, as their install guides ask, and the PostgreSQL database. Then, best of N each, in the same run:
`manage.py lintmigrations --no-cache` (django-migration-linter reads every migration Django's loader finds,
minus its pruned Django apps) and `canary-lint check <the directories of those same migrations> --select CLM`
cold, canary-lint installed by `pip install` of this tree into a venv of its own (byte-compiled, as pip
leaves the anchor and Django). Wall time is the parent's clock around the process; CPU is the process's user +
system time (the PostgreSQL server's own time is not in it).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from installed import install_ours  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "bench" / ".work" / "django" / "real"

PACKAGES = ["wagtail==8.0.1", "django-cms==5.1.3", "django-filer==3.6.0", "django-allauth==65.22.1",
            "django-oauth-toolkit==3.4.1", "django-celery-beat==2.9.0", "django-celery-results==2.6.0",
            "djangorestframework==3.18.3", "packaging"]  # django-cms 5.1.3 imports packaging without requiring it

CONTRIB = ["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
           "django.contrib.messages", "django.contrib.staticfiles"]
PROJECTS = {
    # wagtail's own project template (wagtail start), its optional contrib apps with migrations added
    "wagtail": {"apps": ["wagtail.contrib.forms", "wagtail.contrib.redirects", "wagtail.contrib.search_promotions",
                         "wagtail.contrib.simple_translation", "wagtail.contrib.settings", "wagtail.locales",
                         "wagtail.embeds", "wagtail.sites", "wagtail.users", "wagtail.snippets", "wagtail.documents",
                         "wagtail.images", "wagtail.search", "wagtail.admin", "wagtail", "modelcluster", "taggit",
                         "django_filters", *CONTRIB],
                "middleware": ["wagtail.contrib.redirects.middleware.RedirectMiddleware"],
                "extra": 'WAGTAIL_SITE_NAME = "bench"\nWAGTAILADMIN_BASE_URL = "http://localhost"\n'},
    # django-cms 5 with django-filer, as their install guides list them
    "cms": {"apps": [*CONTRIB, "django.contrib.sites", "cms", "menus", "treebeard", "sekizai", "filer",
                     "easy_thumbnails"],
            "middleware": ["django.middleware.locale.LocaleMiddleware", "cms.middleware.user.CurrentUserMiddleware",
                           "cms.middleware.page.CurrentPageMiddleware", "cms.middleware.toolbar.ToolbarMiddleware",
                           "cms.middleware.language.LanguageCookieMiddleware"],
            # The anchor cannot start on cms: it asks `sqlmigrate cms 0001_initial`, which Django reads as a
            # prefix that 0001_initial_squashed_0022_... also matches (CommandError, whole run stops).
            "exclude": ["cms"],
            "context": ["sekizai.context_processors.sekizai", "cms.context_processors.cms_settings",
                        "django.template.context_processors.i18n"],
            "extra": 'SITE_ID = 1\nLANGUAGES = [("en", "English")]\nCMS_CONFIRM_VERSION4 = True\n'
                     'CMS_TEMPLATES = [("base.html", "Base")]\nTHUMBNAIL_HIGH_RESOLUTION = True\n'},
    # accounts, OAuth, API tokens and celery's database-backed beat and results: an API backend's apps
    "api": {"apps": [*CONTRIB, "allauth", "allauth.account", "allauth.socialaccount", "allauth.mfa",
                     "allauth.usersessions", "allauth.idp.oidc", "oauth2_provider", "rest_framework",
                     "rest_framework.authtoken", "django_celery_beat", "django_celery_results"],
            "middleware": ["allauth.account.middleware.AccountMiddleware",
                           "allauth.usersessions.middleware.UserSessionsMiddleware"],
            "extra": 'IDP_OIDC_PRIVATE_KEY = ""\n'},
}

SETTINGS = '''SECRET_KEY = "bench"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django_migration_linter", {apps}]
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "django.contrib.sessions.middleware.SessionMiddleware",
              "django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware",
              "django.middleware.clickjacking.XFrameOptionsMiddleware", {middleware}]
ROOT_URLCONF = "urls"
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
              "OPTIONS": {{"context_processors": ["django.template.context_processors.debug",
                          "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
                          "django.contrib.messages.context_processors.messages", {context}]}}}}]
DATABASES = {{"default": {db}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "/static/"
MEDIA_URL = "/media/"
{extra}'''

MANAGE = ("import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n"
          "from django.core.management import execute_from_command_line\nexecute_from_command_line(sys.argv)\n")

# Run in the project with the anchor's python: the migrations Django's loader finds on disk, minus the apps the
# anchor prunes (django_migration_linter.constants.DJANGO_APPS_WITH_MIGRATIONS), with their files.
LIST_MIGRATIONS = '''import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
sys.path.insert(0, ".")
import django
django.setup()
from django.db.migrations.loader import MigrationLoader
from django_migration_linter.constants import DJANGO_APPS_WITH_MIGRATIONS
loader = MigrationLoader(None, ignore_no_migrations=True)
print(json.dumps(sorted([app, name, sys.modules[type(m).__module__].__file__]
                        for (app, name), m in loader.disk_migrations.items()
                        if app not in DJANGO_APPS_WITH_MIGRATIONS)))
'''


def install(python: Path) -> None:
    """The packages with their dependencies into the anchor's venv, Django held at 5.2."""
    subprocess.run([str(python), "-m", "pip", "install", "-q", "django>=5.2,<5.3", *PACKAGES], check=True,
                   capture_output=True, text=True)


def write_project(name: str, spec: dict, db: str) -> Path:
    project = WORK / name
    shutil.rmtree(project, ignore_errors=True)
    (project / "templates").mkdir(parents=True)
    join = lambda xs: ", ".join(repr(x) for x in xs)  # noqa: E731
    (project / "settings.py").write_text(SETTINGS.format(
        apps=join(spec["apps"]), middleware=join(spec.get("middleware", [])), context=join(spec.get("context", [])),
        db=db, extra=spec.get("extra", "")))
    (project / "urls.py").write_text("urlpatterns = []\n")
    (project / "manage.py").write_text(MANAGE)
    (project / "templates" / "base.html").write_text("{% load cms_tags sekizai_tags %}{% render_block 'css' %}\n")
    return project


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float, float]:
    """The process, its wall time and its CPU time (user + system of it and the children it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, wall, cpu


def anchor_read(proc: subprocess.CompletedProcess) -> dict:
    """What lintmigrations reported: migrations by verdict, those it linted with no SQL because `sqlmigrate`
    raised, and the line it stopped on when it stopped before its summary."""
    verdicts: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"\((\S+), (\S+)\)\.\.\. (\S+)", line)
        if m:
            verdicts[m.group(3)] = verdicts.get(m.group(3), 0) + 1
    no_sql = re.findall(r"Error while executing sqlmigrate on \((\S+), (\S+)\) with exception: (.*?)\.? Continuing",
                        proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    stopped = None if "*** Summary" in proc.stdout else (lines[-1][:300] if lines else f"exit {proc.returncode}")
    return {"read": sum(verdicts.values()) - verdicts.get("IGNORE", 0), "verdicts": verdicts,
            "no_sql": [f"{a}.{n}: {why}" for a, n, why in no_sql], "stopped": stopped}


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import django, pathlib; print(pathlib.Path(django.__file__).parent.parent)"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def canary(dirs: list[str], site: Path, command: Path) -> tuple:
    """canary-lint as a user runs it (its console script) on these migration directories (cwd: the anchor's
    site-packages, where they are installed), with no cache."""
    return timed([str(command), "check", *dirs, "--select", "CLM", "--format", "json",
                  "--exit-zero"], site, {"CANARY_LINT_CACHE_DIR": ""})


def best(runs: list[tuple]) -> tuple:
    return min(runs, key=lambda r: r[1])


def measure_set(name: str, spec: dict, python: Path, db: str, site: Path, repeat: int, canary_python: Path) -> dict:
    project = write_project(name, spec, db)
    listed = subprocess.run([str(python), "-c", LIST_MIGRATIONS], cwd=project, capture_output=True, text=True)
    if listed.returncode:
        raise SystemExit(f"{name}: Django would not load the project:\n{listed.stderr[-2000:]}")
    found = json.loads(listed.stdout)
    # As its users run it first: where it stops (untimed).
    plain = anchor_read(timed([str(python), "manage.py", "lintmigrations", "--no-cache"], project)[0])
    # Timed: its own switch to go on past a migration `sqlmigrate` cannot render, and without the apps it
    # cannot start on at all (spec["exclude"]); canary-lint gets the same migrations.
    exclude = spec.get("exclude", [])
    migrations = [m for m in found if m[0] not in exclude]
    dirs = sorted({Path(f).parent.relative_to(site).as_posix() for _, _, f in migrations})
    anchor_cmd = [str(python), "manage.py", "lintmigrations", "--no-cache", "--ignore-sqlmigrate-errors"]
    anchor_cmd += ["--exclude-apps", *exclude] if exclude else []
    ours, theirs = [], []
    for _ in range(repeat):  # interleaved, so load on the machine falls on both alike
        theirs.append(timed(anchor_cmd, project))
        ours.append(canary(dirs, site, canary_python))
    a_proc, a_wall, a_cpu = best(theirs)
    c_proc, c_wall, c_cpu = best(ours)
    (WORK / f"{name}.anchor.log").write_text(a_proc.stdout + "\n--- stderr ---\n" + a_proc.stderr)
    report = json.loads(c_proc.stdout)
    inits = sum(1 for d in dirs if (site / d / "__init__.py").exists())
    whole = None
    if exclude:  # canary-lint on the whole set too, the apps the anchor cannot start on included
        all_dirs = sorted({Path(f).parent.relative_to(site).as_posix() for _, _, f in found})
        w_proc, w_wall, w_cpu = best([canary(all_dirs, site, canary_python) for _ in range(repeat)])
        whole = {"migrations": len(found), "wall_s": round(w_wall, 2), "cpu_s": round(w_cpu, 2),
                 "findings": len(json.loads(w_proc.stdout)["findings"])}
    return {
        "set": name, "apps": [a for a in spec["apps"] if not a.startswith("django.contrib.")],
        "migrations_found": len(found), "excluded": exclude, "migrations": len(migrations),
        "anchor_plain": plain,
        "anchor": {"wall_s": round(a_wall, 2), "cpu_s": round(a_cpu, 2), **anchor_read(a_proc),
                   "walls": [round(r[1], 2) for r in theirs]},
        "canary-lint": {"wall_s": round(c_wall, 2), "cpu_s": round(c_cpu, 2),
                        "read": report["summary"]["files"] - inits, "findings": len(report["findings"]),
                        "walls": [round(r[1], 2) for r in ours]},
        "canary-lint_whole_set": whole, "ratio": round(c_wall / a_wall, 3)}


def run(python: Path, dsn: dict, repeat: int) -> int:
    install(python)
    canary_python = install_ours(WORK.parent / "canary-venv")
    site = site_packages(python)
    db = repr({"ENGINE": "django.db.backends.postgresql", **dsn})
    load_before = os.getloadavg()
    rows = [measure_set(name, spec, python, db, site, repeat, canary_python) for name, spec in PROJECTS.items()]
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
           "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
           "repeat": repeat, "django-migration-linter": "6.0.0", "sets": rows,
           "migrations": sum(r["migrations"] for r in rows),
           "anchor_wall_s": round(sum(r["anchor"]["wall_s"] for r in rows), 2),
           "canary_wall_s": round(sum(r["canary-lint"]["wall_s"] for r in rows), 2)}
    out["ratio"] = round(out["canary_wall_s"] / out["anchor_wall_s"], 3)
    (WORK / "result.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0
