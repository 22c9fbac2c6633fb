"""What to analyze: walk the given paths and tag each file with the kinds of content it holds.

Kinds (a file may have several):
  python         any *.py
  alembic        a *.py inside an Alembic `versions/` directory (or a configured migration location)
  django         <app>/migrations/NNNN_*.py defining `class Migration(migrations.Migration)`
  sql_migration  Flyway V*__*.sql, golang-migrate *.up.sql, dbmate files, migrations/**.sql, or a .sql
                 named on the command line
  sql            any other .sql (queries v1 may still run)
  openapi        YAML/JSON with a top-level `openapi:` or `swagger:` key
  deploy         Dockerfile, docker-compose, Kubernetes/Helm YAML, .env, Prometheus config
  entry          Procfile, shell entrypoints, systemd units, supervisor config (server commands)
  yaml, json     everything else of those types
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath

from canary_lint.config import Config
from canary_lint.lazyre import lazy_compile

OPENAPI_YAML = re.compile(rb"^(openapi|swagger)\s*:", re.M)
OPENAPI_JSON = re.compile(rb'"(openapi|swagger)"\s*:\s*"')
# a description written with sorted keys (`components`, `info` first, `openapi` after them): its marker can lie
# past the sniffed head, so a file whose first key is an OpenAPI top-level key is read whole (bounded) for it
_TOP_KEYS = (rb"components|definitions|externalDocs|info|jsonSchemaDialect|paths|servers|security|"
             rb"securityDefinitions|tags|webhooks|basePath|consumes|host|parameters|produces|responses|schemes")
OPENAPI_JSON_FIRST_KEY = lazy_compile(rb'\A\s{0,200}\{\s{0,200}"(?:' + _TOP_KEYS + rb')"\s{0,20}:')
OPENAPI_YAML_FIRST_KEY = lazy_compile(rb"\A(?:[ \t]{0,200}(?:#[^\n]{0,2000})?\r?\n|---[^\n]{0,200}\n){0,100}(?:"
                                    + _TOP_KEYS + rb")[ \t]{0,20}:")
MAX_LATE_MARKER = 16 * 1024 * 1024
K8S_YAML = re.compile(rb"^\s*apiVersion\s*:", re.M)
DBMATE = re.compile(rb"^--\s*migrate:up", re.M)
FLYWAY = re.compile(r"^[VR]\d+(?:[._]\d+)*__.+\.sql$", re.I)
DJANGO_NAME = re.compile(r"^\d{4}_\w+\.py$")
DJANGO = re.compile(rb"class Migration\(")
ALEMBIC = re.compile(rb"^down_revision\s*(?::[^=\n]*)?=", re.M)
TEST_DATA = frozenset({"tests", "test", "testdata", "test_data", "fixtures"})
SNIFF = 65536


@dataclass
class SourceFile:
    """A file of the checked tree and the kinds of content it holds."""

    path: str  # display path: POSIX, relative to the current directory when under it
    abspath: Path
    kinds: set = field(default_factory=set)
    explicit: bool = False  # named on the command line

    def __hash__(self) -> int:
        return hash(self.path)


@dataclass
class Discovered:
    """What discovery found: the files, and the paths it could not read."""

    files: list[SourceFile]
    problems: list[tuple[str, str]]  # (path, message): unreadable paths found while walking


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.absolute().relative_to(cwd).as_posix()
    except ValueError:
        return path.absolute().as_posix()


@lru_cache(maxsize=65536)  # asked of the same paths by every analyzer
def is_test_path(path: str) -> bool:
    """Test code (tests/ directories, test_*.py, *_test.py, conftest.py): never serving traffic."""
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else path
    return (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
            or any(p in ("tests", "test", "testing") for p in parts[:-1]))


@lru_cache(maxsize=32)
def _exclude_matchers(patterns: tuple[str, ...]):
    """One compiled regex for the names and one for the paths an exclude list matches (fnmatch rules)."""
    if not patterns:
        return frozenset(), None, None
    names = re.compile("|".join(fnmatch.translate(p) for p in patterns))
    paths = re.compile("|".join(fnmatch.translate(p) + "|" + fnmatch.translate(p.rstrip("/") + "/*") for p in patterns))
    return frozenset(patterns), names, paths


def excluded(rel: str, name: str, patterns: tuple[str, ...]) -> bool:
    """Does an exclude pattern match the path `rel` (display path) or its last component `name`?"""
    literal, names, paths = _exclude_matchers(tuple(patterns))
    if names is None:
        return False
    return name in literal or names.match(name) is not None or paths.match(rel) is not None


def inside(path: Path, root: Path) -> bool:
    """Does `path`, symlinks resolved, stay inside `root` (itself resolved)? A committed symlink to /etc/…
    or to the runner's files must never be read."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # ValueError: a NUL byte in a path the tree's code names
        return False
    return real == root or root in real.parents


def read_regular(path: Path, limit: int, root: Path | None = None) -> bytes | None:
    """At most `limit` bytes of `path` when it is a regular file (inside `root` when given), else None.
    Opened without blocking, so a FIFO, socket or device in the tree never stalls the run or fills memory."""
    if root is not None and not inside(path, root):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            # a buffer of the file's size (+1 to see it grew), not of `limit`: `read(n)` allocates n bytes first
            want = min(limit, info.st_size + 1)
            data = fh.read(want)
            return data + fh.read(limit - want) if len(data) == want < limit else data
    except OSError:
        return None
    finally:
        os.close(fd)


def _sniff(path: Path, limit: int = SNIFF) -> bytes:
    return read_regular(path, limit) or b""  # discover() has refused symlinks that leave the tree


OUTSIDE = "symlink points outside the checked tree; not read"


def _ini_text(ini: Path) -> str | None:
    data = read_regular(ini, SNIFF)
    return None if data is None else data.decode("utf-8", "replace")


def _alembic_dirs(roots: list[Path], config: Config, read_ini=_ini_text) -> set[Path]:
    """`script_location`/versions of every alembic.ini under the roots, plus configured locations.
    `read_ini(path) -> str | None` reads an alembic.ini of the checked tree (the work tree by default)."""
    dirs: set[Path] = set()
    for loc in config.migrations:
        p = (config.root / loc).resolve()
        dirs.add(p)
    for root in roots:
        ini = root / "alembic.ini"
        text = read_ini(ini)
        if text is None:
            continue
        import configparser  # only beside an alembic.ini

        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
            loc = parser.get("alembic", "script_location", fallback=None)
        except configparser.Error:
            loc = None
        if loc and "\0" not in loc:  # a NUL byte names no directory (and the OS refuses the path)
            loc = loc.replace("%(here)s", str(ini.parent))
            try:
                dirs.add((ini.parent / loc / "versions").resolve())
            except (OSError, RuntimeError, ValueError):
                continue
    return dirs


def _test_data(parts: tuple) -> bool:
    return any(p.lower() in TEST_DATA for p in parts[:-1])


# a logging table shipped as a template (`logging.yaml.sample`): the telemetry analyzer reads it only when the
# service's code names it (its default when no other file is configured)
SAMPLE_LOG_CONFIG = re.compile(r"^log(?:ging)?[\w.-]{0,60}\.(?:json|ya?ml)\.(?:sample|example|dist|default|tmpl|template)$")

# directories of message catalogues (Home Assistant keeps 47,000 translation files): not opened to sniff
LOCALE_DIRS = frozenset({"translations", "locale", "locales", "i18n", "l10n"})


def classify(path: Path, rel: str, explicit: bool, alembic_dirs: set[Path], sniff=_sniff) -> set[str]:
    """The kinds of one file; `sniff(path) -> bytes` gives its first bytes (from the work tree by default)."""
    name = path.name
    lower = name.lower()
    kinds: set[str] = set()
    parts = PurePosixPath(rel).parts
    fixture = not explicit and _test_data(parts)  # a migration under tests/ or in a fixture is not the history
    if lower.endswith(".py"):
        kinds.add("python")
        parent = path.parent.resolve() if alembic_dirs else None
        if fixture:
            pass
        elif "versions" in parts[:-1] or (parent is not None and any(parent == d or d in parent.parents for d in alembic_dirs)):
            kinds.add("alembic")
        elif len(parts) >= 2 and parts[-2] == "migrations" and DJANGO_NAME.match(name) and DJANGO.search(sniff(path)):
            kinds.add("django")
        elif "migrations" in parts[:-1] and ALEMBIC.search(sniff(path)):
            kinds.add("alembic")  # an Alembic script directory without versions/ (plugin migrations)
    elif lower.endswith(".sql"):
        if lower.endswith(".down.sql"):
            return kinds if not explicit else {"sql"}
        head = sniff(path)
        if fixture:
            kinds.add("sql")
        elif (
            explicit
            or FLYWAY.match(name)
            or lower.endswith(".up.sql")
            or DBMATE.search(head)
            or "migrations" in parts[:-1]
            or "migration" in parts[:-1]
            or ("db" in parts[:-1] and "migrate" in parts[:-1])
        ):
            kinds.add("sql_migration")
        else:
            kinds.add("sql")
    elif lower.endswith((".yaml", ".yml", ".json")):
        is_json = lower.endswith(".json")
        if not explicit and any(p.lower() in LOCALE_DIRS for p in parts[:-1]):
            kinds.add("json" if is_json else "yaml")  # message catalogues: never an API description or a deployment
            return kinds
        head = sniff(path)
        marker = OPENAPI_JSON if is_json else OPENAPI_YAML
        if marker.search(head) or (len(head) >= SNIFF and (OPENAPI_JSON_FIRST_KEY if is_json else OPENAPI_YAML_FIRST_KEY)
                                   .match(head) and marker.search(sniff(path, MAX_LATE_MARKER))):
            kinds.add("openapi")
        elif not is_json and (
            K8S_YAML.search(head)
            or lower.startswith(("docker-compose", "compose."))
            or "templates" in parts[:-1]
            or lower.startswith("prometheus")
        ):
            kinds.add("deploy")
        kinds.add("json" if is_json else "yaml")
    elif SAMPLE_LOG_CONFIG.match(lower):
        kinds.add("json" if ".json." in lower else "yaml")  # `logging.yaml.sample`: the default a service may load
    elif lower.startswith("dockerfile") or lower.endswith(".dockerfile") or lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        kinds.add("deploy")
    elif lower == "alembic.ini":
        kinds.add("alembic_ini")
    elif lower == "procfile" or lower.startswith("procfile.") or lower.endswith((".sh", ".service")) \
            or "entrypoint" in lower or ("supervisor" in lower and lower.endswith(".conf")):
        kinds.add("entry")  # commands that start the service: where serving code is found
    return kinds


def _boundary(root: Path, cwd: Path) -> Path:
    """What a walk from `root` may read: the current directory, or a directory named outside it on the
    command line (the user's choice) — never where a committed symlink leads."""
    absolute = Path(os.path.abspath(root))
    if absolute == cwd or cwd in absolute.parents:
        return cwd
    return absolute.resolve() if absolute.is_dir() and not absolute.is_symlink() else absolute.parent.resolve()


def discover(paths: list[str], config: Config, cwd: Path | None = None) -> Discovered:
    cwd = (cwd or Path.cwd()).resolve()
    roots = [cwd / p for p in paths] or [cwd]
    excludes = config.all_excludes
    alembic_dirs = _alembic_dirs([r for r in roots if r.is_dir()], config)
    seen: set[str] = set()
    files: list[SourceFile] = []
    problems: list[tuple[str, str]] = []

    def add(path: Path, explicit: bool) -> None:
        rel = display_path(path, cwd)
        if rel in seen:
            return
        seen.add(rel)
        kinds = classify(path, rel, explicit, alembic_dirs)
        if kinds or explicit:
            files.append(SourceFile(rel, path.absolute(), kinds, explicit))

    for root in roots:
        if root.is_symlink() and not root.exists():
            problems.append((display_path(root, cwd), "broken symlink or symlink loop; not checked"))
            continue
        boundary = _boundary(root, cwd)
        if not inside(root, boundary):
            problems.append((display_path(root, cwd), OUTSIDE))
            continue
        if root.is_file():
            add(root, True)
            continue
        if not root.is_dir():
            continue  # the CLI has already rejected paths that do not exist
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            base = Path(dirpath)
            dirnames[:] = sorted(
                d for d in dirnames if not excluded(display_path(base / d, cwd), d, excludes)
            )
            for fname in sorted(filenames):
                p = base / fname
                rel = display_path(p, cwd)
                if excluded(rel, fname, excludes):
                    continue
                if p.is_symlink():
                    try:
                        p.resolve(strict=True)
                    except (OSError, RuntimeError):
                        if classify(p, rel, False, set()):
                            problems.append((rel, "broken symlink or symlink loop; not checked"))
                        continue
                    if not inside(p, boundary):
                        problems.append((rel, OUTSIDE))
                        continue
                    if not p.is_file():
                        continue
                add(p, False)
    files.sort(key=lambda f: f.path)
    return Discovered(files, problems)


def discover_listing(paths: list[str], config: Config, cwd: Path, listing, read) -> Discovered:
    """`discover` over a tree that is not on disk (v1's, read from git): the same scope, excludes and kinds.

    `listing` holds the tree's regular files as paths relative to `cwd`; `read(path, limit) -> bytes | None`
    reads one of them. Symlinks and submodules are not in a listing, so they are never followed."""
    excludes = config.all_excludes
    roots: list[tuple[str, bool]] = []  # (path relative to cwd, "" for cwd; named as a file?)
    names = set(listing)
    for p in paths or ["."]:
        rel = display_path(cwd / p, cwd)
        if rel.startswith("/"):
            continue  # outside the tree that is read
        rel = "" if rel == "." else rel
        roots.append((rel, rel in names))

    def sniff(path: Path, limit: int = SNIFF) -> bytes:
        return read(display_path(path, cwd), limit) or b""

    def ini_text(ini: Path) -> str | None:
        data = read(display_path(ini, cwd), SNIFF)
        return None if data is None else data.decode("utf-8", "replace")

    dirs = [cwd / rel for rel, is_file in roots if not is_file]
    alembic_dirs = _alembic_dirs(dirs, config, ini_text)
    files: dict[str, SourceFile] = {}
    for root, is_file in roots:
        if is_file:
            files.setdefault(root, SourceFile(root, cwd / root, classify(cwd / root, root, True, alembic_dirs, sniff),
                                              True))
            continue
        prefix = root + "/" if root else ""
        for rel in sorted(n for n in names if n.startswith(prefix)):
            parts = rel[len(prefix):].split("/")
            if any(excluded(prefix + "/".join(parts[: i + 1]), parts[i], excludes) for i in range(len(parts))):
                continue
            kinds = classify(cwd / rel, rel, False, alembic_dirs, sniff)
            if kinds and rel not in files:
                files[rel] = SourceFile(rel, cwd / rel, kinds)
    return Discovered(sorted(files.values(), key=lambda f: f.path), [])
