"""Which Python files serve traffic: the code the app rules (state, telemetry) judge.

Scripts, tests, docs, examples, generated SDKs and fixtures run beside the service, not as it: a one-off
script that logs nothing has no log format v1 and v2 must tell apart. The service is found from its entry
points, read statically:

- server commands in Dockerfile `CMD`/`ENTRYPOINT`, compose and Kubernetes `command`/`args`, Procfiles and
  entrypoint shell scripts (`gunicorn pkg.wsgi:app`, `uvicorn app.main:app`, `celery -A proj worker`,
  `python -m pkg`, `flask --app pkg run`);
- modules that create a WSGI/ASGI application (`Flask(...)`, `FastAPI(...)`, `Starlette(...)`,
  `get_wsgi_application()`, ...) and Django's `wsgi.py`/`asgi.py`;
- `[project.scripts]` of pyproject.toml when nothing above is found (a CLI is then the product).

The service is the import closure of those modules — imports anywhere in a module (an app factory imports
its blueprints inside a function), and dotted module paths written as strings (`INSTALLED_APPS`,
`ROOT_URLCONF`, Celery `include=`, plugin lists) — minus test code. When no entry point is found, every
file counts except tests, scripts, docs, examples, fixtures and tooling, by path. `--verbose` says which.
"""

from __future__ import annotations

import ast
import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from canary_lint import pyast
from canary_lint.discovery import is_test_path
from canary_lint.resolver.modules import absolute, module_name, tree_project
from canary_lint.textmemo import word_matches

NON_SERVING_DIRS = frozenset({
    "tests", "test", "testing", "fixtures", "testdata", "test_data", "scripts", "script", "docs", "doc",
    "examples", "example", "samples", "sample", "demo", "demos", "dev", "tools", "tooling", "benchmarks", "bench",
    "e2e", "integration_tests", "hack", "ci", ".github", "contrib", "sdk", "sdks", "generated", "migrations",
    "alembic", "versions", "node_modules", "site-packages",
})
NON_SERVING_FILES = frozenset({"setup.py", "noxfile.py", "tasks.py", "fabfile.py", "conftest.py", "conf.py",
                               "manage.py"})
APP_CALLS = frozenset({"Flask", "FastAPI", "Starlette", "Quart", "Sanic", "Litestar", "APIFlask", "Bottle",
                       "get_wsgi_application", "get_asgi_application", "App", "Application", "Celery",
                       "Configurator"})
APP_MODULES = ("flask", "fastapi", "starlette", "quart", "sanic", "litestar", "apiflask", "bottle", "django",
               "falcon", "aiohttp", "tornado", "celery", "pyramid", "cherrypy")
APP_DOTTED = frozenset({"bottle.app", "bottle.default_app", "cherrypy.quickstart", "cherrypy.tree.mount",
                        "cherrypy.tree.graft", "config.make_wsgi_app", "configurator.make_wsgi_app"})
SERVER = re.compile(
    r"\b(?:gunicorn|uvicorn|hypercorn|daphne|waitress-serve|granian|uwsgi|celery|dramatiq|rq|huey_consumer|arq"
    r"|python[0-9.]*\s+-m|flask)\b([^\n;&|]{0,400})"
)
TARGET = re.compile(r"(?:^|[\s=\"'])(?P<flag>-A\s*|--app[= ]\s*|--module[= ]\s*|-m\s+)?"
                    r"(?P<name>[A-Za-z_]\w*(?:\.\w+)*)(?P<attr>:[A-Za-z_][\w.()]*)?(?=$|[\s\"',\]])")
# a call of one of the names `_creates_app` looks for, in the text: only such files are walked (at a word
# boundary: textmemo.word_matches)
APP_CALL_TEXT = re.compile(r"(?:" + "|".join(sorted(APP_CALLS | {d.rsplit(".", 1)[-1] for d in APP_DOTTED}))
                           + r")[ \t]{0,20}\(")
# a quoted dotted path in the text (`"shop.plugins.audit"`, `"shop.wsgi:app"`), outside whole-line comments
DOTTED_STRING = re.compile(r"""(['"])([A-Za-z_][\w:]{0,60}\.[\w.:]{1,190})\1""")  # candidates: the tree decides
DOTTED = re.compile(r"[A-Za-z_]\w{0,60}(?:\.[A-Za-z_]\w{0,60}){1,8}(?::[A-Za-z_]\w{0,60})?")
MAX_CLOSURE = 20_000


@functools.lru_cache(maxsize=65536)  # asked of the same paths by every reader of the service
def non_serving_path(path: str) -> bool:
    """Tests, scripts, docs, examples, fixtures, tooling and migrations, by path: never the service."""
    parts = PurePosixPath(path).parts
    if not parts:
        return False
    return (is_test_path(path) or parts[-1] in NON_SERVING_FILES
            or any(p.lower() in NON_SERVING_DIRS for p in parts[:-1]))


@dataclass
class Serving:
    files: frozenset | None  # the service's files; None: no entry point found, judged by path
    roots: list = field(default_factory=list)  # [(path, why)]

    def serves(self, path: str) -> bool:
        if self.files is None:
            return not non_serving_path(path)
        return path in self.files

    def describe(self) -> list[str]:
        if self.files is None:
            return ["serving code: no entry point found; every Python file except tests, scripts, docs, examples, "
                    "fixtures and tooling (by path)"]
        lines = [f"serving code: {len(self.files)} Python files imported from {len(self.roots)} entry points"]
        lines += [f"  {path}: {why}" for path, why in self.roots[:20]]
        if len(self.roots) > 20:
            lines.append(f"  ... and {len(self.roots) - 20} more")
        return lines


def serving(ctx) -> Serving:
    """What serves in the checked tree (cached for the run)."""
    return ctx.cached(("serving",), lambda: _find(ctx))


def _find(ctx) -> Serving:
    by_path = {f.path: f for f in ctx.files_of("python")}
    project = tree_project(ctx)
    roots: dict[str, str] = {}
    for f in ctx.files:
        if "entry" in f.kinds or "deploy" in f.kinds:
            if non_serving_path(f.path):
                continue
            text = ctx.text(f) or ""
            for module in _command_targets(text):
                path = _module_path(project, module)
                if path and path not in roots:
                    roots[path] = f"named by a server command in {f.path}"
    for path, f in by_path.items():
        if path in roots or non_serving_path(path):
            continue
        name = path.rsplit("/", 1)[-1]
        text = ctx.text(f) or ""
        if name in ("wsgi.py", "asgi.py"):
            roots[path] = f"defines the {name[:-3].upper()} application"
        elif any(m in text for m in APP_MODULES) and (lines := _app_call_lines(text)) \
                and _creates_app(ctx.python_ast(f), lines):
            roots[path] = "creates the web or worker application"
    for module, why in _plugin_entry_points(ctx):  # plugins the service loads by name at run time
        path = _module_path(project, module)
        if path and path not in roots:
            roots[path] = why
    if not roots:
        for module, why in _project_scripts(ctx):
            path = _module_path(project, module)
            if path:
                roots[path] = why
    if not roots:
        return Serving(None)
    return Serving(frozenset(_closure(project, list(roots), by_path, ctx)), sorted(roots.items()))


def _command_targets(text: str) -> list[str]:
    """Modules a server command runs: `pkg.wsgi:app`, `-A proj`, `--app pkg`, `python -m pkg`."""
    out = []
    for m in SERVER.finditer(text[:1_000_000]):
        first = m.group(0).startswith("python")
        for t in TARGET.finditer(m.group(1)):
            if t.group("flag") or t.group("attr") or first or "." in t.group("name"):
                out.append(t.group("name"))
            first = False
    return out


MAX_MODULE_PARTS = 32  # deeper dotted names are no module of a real tree (and each try joins the prefix)


def _module_path(project, module: str) -> str | None:
    parts = module.split(".", MAX_MODULE_PARTS)[:MAX_MODULE_PARTS]
    for n in range(len(parts), 0, -1):  # `pkg.wsgi:app` -> pkg.wsgi; `proj.celery.app` -> proj.celery
        path = project.path_of(".".join(parts[:n]))
        if path:
            return path
    return None


def _app_call_lines(text: str) -> list[int]:
    """The lines (sorted) where the text calls one of the names `_creates_app` looks for (`Flask(`, not
    `MyFlask(`)."""
    hits = list(word_matches(APP_CALL_TEXT, text))
    return pyast.match_lines(text, hits) if hits else []


def _creates_app(tree: ast.Module | None, lines: list[int]) -> bool:
    """Does one of the calls on `lines` make a web or worker application? (only those lines are walked)"""
    if tree is None:
        return False
    for node in pyast.walk_lines(tree, lines):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in APP_CALLS and (name not in ("App", "Application") or isinstance(func, ast.Attribute)):
                return True
            if isinstance(func, ast.Attribute) and pyast.dotted(func) in APP_DOTTED:
                return True
    return False


def _project_table(ctx) -> dict:
    """The `[project]` table of the checked tree's pyproject.toml (read once, bounded; {} when none); v1's
    own when the run judges v1's tree."""
    def read() -> dict:
        text = ctx.read_text("pyproject.toml")
        try:
            table = tomllib.loads(text).get("project", {}) if text else {}
        except (tomllib.TOMLDecodeError, AttributeError):
            return {}
        return table if isinstance(table, dict) else {}
    return ctx.cached(("serving", "pyproject"), read)


def _project_scripts(ctx) -> list[tuple[str, str]]:
    scripts = _project_table(ctx).get("scripts", {})
    return [(v.split(":")[0], f"[project.scripts] {k}") for k, v in scripts.items()
            if isinstance(v, str)][:50] if isinstance(scripts, dict) else []


def _plugin_entry_points(ctx) -> list[tuple[str, str]]:
    """`module:attr` strings of setup.py `entry_points` and pyproject `[project.entry-points.*]` (not
    `console_scripts`): plugins a serving process loads by name."""
    out: list[tuple[str, str]] = []
    setup = next((f for f in ctx.files_of("python") if f.path == "setup.py"), None)
    tree = ctx.python_ast(setup) if setup is not None and "entry_points" in (ctx.text(setup) or "") else None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                group = key.value if isinstance(key, ast.Constant) else None
                if not isinstance(group, str) or group in ("console_scripts", "gui_scripts"):
                    continue
                for item in ast.walk(value):
                    if isinstance(item, ast.Constant) and isinstance(item.value, str) and "=" in item.value:
                        target = item.value.split("=", 1)[1].strip()
                        if DOTTED.fullmatch(target):
                            out.append((target.split(":")[0], f"plugin entry point ({group}) in setup.py"))
    groups = _project_table(ctx).get("entry-points", {})
    for group, entries in (groups.items() if isinstance(groups, dict) else ()):
        for target in (entries.values() if isinstance(entries, dict) else ()):
            if isinstance(target, str) and DOTTED.fullmatch(target.strip()):
                out.append((target.strip().split(":")[0], f"plugin entry point ({group}) in pyproject.toml"))
    return out[:500]


def _closure(project, roots: list[str], by_path: dict, ctx) -> set[str]:
    """Files reachable from `roots` by imports (anywhere in a module) and dotted module strings."""
    seen: set[str] = set()
    where: dict[str, str | None] = {}  # module -> its file unless a test (most files name the same few)

    def new_file(module: str) -> str | None:
        """The file of `module` when it is one of the tree's, not a test and not yet seen."""
        if module in where:
            target = where[module]
        else:
            target = _module_path(project, module)
            target = where[module] = target if target and not is_test_path(target) else None
        return target if target and target not in seen else None

    todo = list(roots)
    while todo and len(seen) < MAX_CLOSURE:
        path = todo.pop()
        if path in seen or path not in by_path:
            continue
        seen.add(path)
        for parent in _packages(path):  # importing pkg.mod runs pkg/__init__.py
            if parent in by_path and parent not in seen:
                todo.append(parent)
        tree = ctx.python_ast(by_path[path])
        if tree is None:
            continue
        text = ctx.text(by_path[path]) or ""
        for module in _referenced(tree, module_name(path), path.endswith("__init__.py"), text, new_file):
            target = new_file(module)
            if target:
                todo.append(target)
    return {p for p in seen if not is_test_path(p)}


def _packages(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i] + ["__init__.py"]) for i in range(1, len(parts) + 1)]


def _referenced(tree: ast.Module, name: str, package: bool = False, text: str = "", wanted=None) -> list[str]:
    """Modules a file names: its imports (at any depth of its statements) and its string literals that are
    dotted paths. Imports are found by a walk of statements only, literals by a walk of the nodes on the lines
    whose text holds a quoted dotted path (a walk of every node cost more than the rest of the closure), and
    with `wanted` (module -> anything true when the caller would use it) only the lines of quoted paths it
    wants are walked."""
    out: list[str] = []
    for node in pyast.statements(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = absolute(name, node.module or "", node.level, package)
            out.append(base)
            out += [f"{base}.{a.name}" if base else a.name for a in node.names if a.name != "*"]
    if not text:
        nodes = ast.walk(tree)
    else:
        hits = [m for m in DOTTED_STRING.finditer(text[:2_000_000])
                if m.group(2) and "." in m.group(2) and DOTTED.fullmatch(m.group(2))
                and (wanted is None or wanted(m.group(2).split(":")[0]))]
        if not hits:
            return out  # no quoted dotted path in the text: no string literal to look at
        nodes = pyast.walk_lines(tree, pyast.match_lines(text, hits))
    for node in nodes:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and 3 < len(node.value) < 200 \
                and "." in node.value and DOTTED.fullmatch(node.value):
            out.append(node.value.split(":")[0])
    return out
